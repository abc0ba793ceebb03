import { logSoftmax, mul, neg, oneHot, scale, sub, sum, tensor } from "../ops.ts";
import type { Tensor } from "../tensor.ts";

export type Reduction = "mean" | "sum" | "none";

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Targets equal to this contribute no loss and no gradient. */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution by this amount. */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits [N, C] and int32 class targets [N], as PyTorch's
 * `CrossEntropyLoss`: log-softmax, then negative log-likelihood of the target class.
 */
export class CrossEntropyLoss {
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;

  constructor(options: CrossEntropyOptions = {}) {
    this.reduction = options.reduction ?? "mean";
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
    if (!["mean", "sum", "none"].includes(this.reduction)) {
      throw new Error(
        `rnnkit: CrossEntropyLoss: reduction must be mean, sum or none, got "${this.reduction}"`,
      );
    }
    if (!(this.labelSmoothing >= 0 && this.labelSmoothing <= 1)) {
      throw new Error(
        `rnnkit: CrossEntropyLoss: labelSmoothing must be in [0, 1], got ${this.labelSmoothing}`,
      );
    }
  }

  forward(input: Tensor, target: Tensor): Tensor {
    const [n, c] = input.shape;
    if (input.shape.length !== 2 || target.shape.length !== 1 || target.shape[0] !== n) {
      throw new Error(
        `rnnkit: CrossEntropyLoss: expected input [N, C] and target [N], got input ` +
          `[${input.shape.join(", ")}] and target [${target.shape.join(", ")}]`,
      );
    }
    if (target.dtype !== "int32" || !target.hostInts) {
      throw new Error(
        "rnnkit: CrossEntropyLoss: target must be an int32 tensor made with intTensor()",
      );
    }
    const targets = target.hostInts;
    const bad = targets.find((t) => t !== this.ignoreIndex && (t < 0 || t >= c));
    if (bad !== undefined) {
      throw new Error(`rnnkit: CrossEntropyLoss: target ${bad} out of range [0, ${c})`);
    }
    const valid = targets.map((t) => (t === this.ignoreIndex ? 0 : 1));
    const count = valid.reduce((a, b) => a + b, 0);

    const logp = logSoftmax(input, 1);
    const eps = this.labelSmoothing;
    // The ignore index may be a real class, so mask ignored rows rather than trusting oneHot.
    let picked = sum(mul(logp, oneHot(target, c)), 1);
    if (eps > 0) picked = scale(picked, 1 - eps);
    let losses = neg(picked);
    if (eps > 0) losses = sub(losses, scale(sum(logp, 1), eps / c));
    if (count < n) losses = mul(losses, tensor(valid, [n]));

    if (this.reduction === "none") return losses;
    const total = sum(losses);
    return this.reduction === "sum" ? total : scale(total, 1 / count);
  }
}
