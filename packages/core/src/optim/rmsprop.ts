import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { type Hyperparameter, Optimizer, type ParamState } from "./optimizer.ts";

/** RMSprop's options; PyTorch's defaults. */
export interface RMSpropOptions {
  /** Learning rate. Default 1e-2. */
  lr?: number;
  /** Smoothing constant of the squared-gradient average. Default 0.99. */
  alpha?: number;
  /** Added to the denominator for stability. Default 1e-8. */
  eps?: number;
  /** L2 penalty. Default 0. */
  weightDecay?: number;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Normalise by the variance estimate (centered RMSprop). Default false. */
  centered?: boolean;
}

/**
 * RMSprop with PyTorch's centered and momentum variants. State per parameter: `step`,
 * `square_avg`, plus `momentum_buffer` (momentum > 0) and `grad_avg` (centered).
 */
export class RMSprop extends Optimizer {
  /** Smoothing constant. */
  alpha!: number;
  /** Added to the denominator for stability. */
  eps!: number;
  /** L2 penalty. */
  weightDecay!: number;
  /** Momentum factor. */
  momentum!: number;
  /** Centered RMSprop. */
  centered!: boolean;
  /** The squared-gradient average; the other buffers depend on momentum and centered. */
  protected readonly requiredState: readonly string[] = ["square_avg"];
  /** The step count and every buffer RMSprop may keep. */
  protected readonly stateNames: readonly string[] = [
    "step",
    "square_avg",
    "momentum_buffer",
    "grad_avg",
  ];

  /** RMSprop over `params`; see `RMSpropOptions` for the defaults. */
  constructor(params: Iterable<Tensor>, options: RMSpropOptions = {}) {
    super(params);
    this.configure({
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weight_decay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
    });
  }

  /** `{ lr, alpha, eps, weight_decay, momentum, centered }`, as in PyTorch's param group. */
  hyperparameters(): Record<string, Hyperparameter> {
    const { lr, alpha, eps, weightDecay, momentum, centered } = this;
    return { lr, alpha, eps, weight_decay: weightDecay, momentum, centered };
  }

  /** Checks and sets `{ lr, alpha, eps, weight_decay, momentum, centered }`. */
  protected configure(group: Record<string, Hyperparameter>): void {
    this.checkRange("lr", group.lr, 0, Infinity);
    this.checkRange("alpha", group.alpha, 0, Infinity);
    this.checkRange("eps", group.eps, 0, Infinity);
    this.checkRange("momentum", group.momentum, 0, Infinity);
    this.checkRange("weightDecay", group.weight_decay, 0, Infinity);
    if (typeof group.centered !== "boolean") {
      throw new Error(`rnnkit: RMSprop: centered must be true or false, got ${group.centered}`);
    }
    this.lr = group.lr as number;
    this.alpha = group.alpha as number;
    this.eps = group.eps as number;
    this.weightDecay = group.weight_decay as number;
    this.momentum = group.momentum as number;
    this.centered = group.centered;
  }

  /** One RMSprop step for `p`, as `torch.optim.RMSprop`. */
  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    const a = this.alpha;
    const g = this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
    const sq = this.buffer(s, "square_avg", p);
    sq.assign(add(scale(sq, a), scale(mul(g, g), 1 - a)));
    let avg = sq;
    if (this.centered) {
      const ga = this.buffer(s, "grad_avg", p);
      ga.assign(add(scale(ga, a), scale(g, 1 - a)));
      avg = sub(sq, mul(ga, ga));
    }
    const denom = add(sqrt(avg), full([], this.eps));
    if (this.momentum > 0) {
      const buf = this.buffer(s, "momentum_buffer", p);
      buf.assign(add(scale(buf, this.momentum), div(g, denom)));
      p.assign(sub(p, scale(buf, this.lr)));
    } else {
      p.assign(sub(p, scale(div(g, denom), this.lr)));
    }
  }
}
