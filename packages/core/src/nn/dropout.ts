import { mul, tensor } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** Zeroes each element with probability p and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, rng: Random): Tensor {
  if (p === 0) return x;
  const keep = 1 / (1 - p);
  const mask = rng.uniform(x.size, 0, 1).map((u) => (u < p ? 0 : keep));
  return mul(x, tensor(mask, x.shape));
}

/** Checks a dropout probability, naming the module. */
export function checkProbability(module: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`rnnkit: ${module}: dropout must be in [0, 1), got ${p}`);
}

/**
 * PyTorch's `nn.Dropout`: in training mode, zeroes each element with probability `p` and
 * scales the rest by 1/(1-p); in evaluation mode, passes the input through.
 */
export class Dropout extends Module {
  readonly #rng: Random;

  /**
   * `p` in [0, 1): the probability of zeroing an element, default 0.5. `rng` draws the
   * masks; default: the global generator.
   */
  constructor(readonly p = 0.5, rng?: Random) {
    super();
    checkProbability("Dropout", p);
    this.#rng = rng ?? globalRandom();
  }

  /** `x` with dropout applied in training mode; `x` itself in evaluation mode. */
  forward(x: Tensor): Tensor {
    return this.training ? dropout(x, this.p, this.#rng) : x;
  }
}
