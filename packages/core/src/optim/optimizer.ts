/**
 * Optimizer: holds parameters and their per-parameter state, applies `update` to every
 * parameter that has a gradient. State tensors are kept across steps and updated in place
 * (`assign`), so parameters keep their identity and nothing leaks between steps.
 */
import { keep, tidy } from "../engine.ts";
import { zeros } from "../ops.ts";
import { noGrad, type Tensor } from "../tensor.ts";

/** One parameter's optimizer state: its step count and named buffers (moments, momentum). */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  readonly state: Map<Tensor, ParamState> = new Map();
  #lr = 0;

  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    if (this.params.length === 0) {
      throw new Error(`rnnkit: ${this.constructor.name}: no parameters given`);
    }
    this.lr = lr;
  }

  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    if (!(value >= 0 && Number.isFinite(value))) {
      throw new Error(
        `rnnkit: ${this.constructor.name}: lr must be a finite number >= 0, got ${value}`,
      );
    }
    this.#lr = value;
  }

  /** Drops every parameter's gradient (PyTorch's default `set_to_none=True`). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the gradients and all optimizer state (the parameters stay). */
  dispose(): void {
    this.zeroGrad();
    for (const s of this.state.values()) for (const b of Object.values(s.buffers)) b.dispose();
    this.state.clear();
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const p of this.params) {
          if (!p.grad) continue;
          let s = this.state.get(p);
          if (!s) this.state.set(p, s = { step: 0, buffers: {} });
          s.step++;
          this.update(p, p.grad, s);
        }
      })
    );
  }

  /** A zero buffer for `p`, created once and kept across steps. */
  protected buffer(s: ParamState, name: string, p: Tensor): Tensor {
    return s.buffers[name] ??= keep(zeros(p.shape));
  }

  /** Computes the new value of `p` from its gradient and state; assigns it. */
  protected abstract update(p: Tensor, grad: Tensor, s: ParamState): void;

  /** Options that define the update, for checkpoints. */
  abstract options(): Record<string, unknown>;
}

/** Checks that optimizer hyperparameters lie in their ranges, naming the bad one. */
export function checkRange(
  optimizer: string,
  name: string,
  value: number,
  low: number,
  high: number,
) {
  if (!(value >= low && value <= high)) {
    throw new Error(`rnnkit: ${optimizer}: ${name} must be in [${low}, ${high}], got ${value}`);
  }
}
