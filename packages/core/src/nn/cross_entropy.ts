import { logSoftmax, mul, neg, oneHot, scale, sub, sum, tensor } from "../ops.ts";
import type { Tensor } from "../tensor.ts";

/**
 * How per-sample losses are combined: their mean over the non-ignored targets, their sum,
 * or none (the [N] losses, 0 at ignored targets).
 */
export type Reduction = "mean" | "sum" | "none";

/** Options of `CrossEntropyLoss`, with PyTorch's defaults. */
export interface CrossEntropyOptions {
  /** How the per-sample losses are combined. Default "mean". */
  reduction?: Reduction;
  /** Targets equal to this contribute no loss and no gradient. Default -100. */
  ignoreIndex?: number;
  /**
   * Mixes the one-hot target with the uniform distribution over the C classes by this
   * amount, in [0, 1]. Default 0.
   */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits [N, C] and int32 class targets [N], as PyTorch's
 * `CrossEntropyLoss`: log-softmax, then negative log-likelihood of the target class.
 */
export class CrossEntropyLoss {
  /** How the per-sample losses are combined. */
  readonly reduction: Reduction;
  /** The target value that contributes nothing. */
  readonly ignoreIndex: number;
  /** The label smoothing amount, in [0, 1]. */
  readonly labelSmoothing: number;

  /** A loss with the given options; see `CrossEntropyOptions` for the defaults. */
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

  /**
   * Logits `input` [N, C] and int32 class indices `target` [N] (from `intTensor`) -> the
   * loss: a scalar, or [N] with reduction "none".
   */
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
