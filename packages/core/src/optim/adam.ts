/** Adam and AdamW (`adam.ts`: AdamW is Adam with a different weight-decay step). */
import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import { getBackend } from "../engine.ts";
import { Tensor } from "../tensor.ts";
import { type Hyperparameter, Optimizer, type ParamState } from "./optimizer.ts";

/** Adam's options; PyTorch's defaults. */
export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment estimates. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps?: number;
  /** L2 penalty (Adam) or decoupled weight decay (AdamW). Default 0 (Adam), 1e-2 (AdamW). */
  weightDecay?: number;
}

/**
 * Adam, with PyTorch's update rule and bias corrections, step for step. State per
 * parameter: `step`, `exp_avg`, `exp_avg_sq`.
 */
export class Adam extends Optimizer {
  /** Decay rates of the moment estimates. */
  betas!: [number, number];
  /** Added to the denominator for stability. */
  eps!: number;
  /** L2 penalty folded into the gradient. */
  weightDecay!: number;
  /** Both moment estimates. */
  protected readonly requiredState: readonly string[] = ["exp_avg", "exp_avg_sq"];
  /** The step count and both moment estimates. */
  protected readonly stateNames: readonly string[] = ["step", "exp_avg", "exp_avg_sq"];

  /** Adam over `params`; see `AdamOptions` for the defaults. */
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params);
    this.configure({
      lr: options.lr ?? 1e-3,
      betas: options.betas ?? [0.9, 0.999],
      eps: options.eps ?? 1e-8,
      weight_decay: options.weightDecay ?? (this instanceof AdamW ? 1e-2 : 0),
    });
  }

  /** `{ lr, betas, eps, weight_decay }`, as in PyTorch's param group. */
  hyperparameters(): Record<string, Hyperparameter> {
    return { lr: this.lr, betas: this.betas, eps: this.eps, weight_decay: this.weightDecay };
  }

  /** Checks and sets `{ lr, betas, eps, weight_decay }`. */
  protected configure(group: Record<string, Hyperparameter>): void {
    const betas = group.betas as number[];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new Error(
        `rnnkit: ${this.constructor.name}: betas must be a pair, got ${JSON.stringify(betas)}`,
      );
    }
    this.checkRange("lr", group.lr, 0, Infinity);
    this.checkRange("betas[0]", betas[0], 0, 1 - Number.EPSILON);
    this.checkRange("betas[1]", betas[1], 0, 1 - Number.EPSILON);
    this.checkRange("eps", group.eps, 0, Infinity);
    this.checkRange("weightDecay", group.weight_decay, 0, Infinity);
    this.lr = group.lr as number;
    this.betas = [betas[0], betas[1]];
    this.eps = group.eps as number;
    this.weightDecay = group.weight_decay as number;
  }

  /** Adam folds weight decay into the gradient (L2); AdamW overrides this. */
  protected decay(p: Tensor, grad: Tensor): Tensor {
    return this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
  }

  /** One Adam step for `p`, fused when the backend has `adamStep`. */
  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    const [b1, b2] = this.betas;
    const g = this.decay(p, grad);
    const m = this.buffer(s, "exp_avg", p);
    const v = this.buffer(s, "exp_avg_sq", p);
    const stepSize = this.lr / (1 - b1 ** s.step);
    const invBias2Sqrt = 1 / Math.sqrt(1 - b2 ** s.step);
    const fused = getBackend().fused;
    if (fused?.adamStep) {
      const r = fused.adamStep({
        p: p.handle,
        g: g.handle,
        m: m.handle,
        v: v.handle,
        beta1: b1,
        beta2: b2,
        eps: this.eps,
        stepSize,
        invBias2Sqrt,
      });
      m.assign(new Tensor(r.m, m.shape));
      v.assign(new Tensor(r.v, v.shape));
      p.assign(new Tensor(r.p, p.shape));
      return;
    }
    m.assign(add(scale(m, b1), scale(g, 1 - b1)));
    v.assign(add(scale(v, b2), scale(mul(g, g), 1 - b2)));
    const denom = add(scale(sqrt(v), invBias2Sqrt), full([], this.eps));
    p.assign(sub(p, scale(div(m, denom), stepSize)));
  }
}

/**
 * AdamW: Adam with decoupled weight decay (p *= 1 - lr * wd before the Adam step), as
 * PyTorch's; `weightDecay` defaults to 1e-2.
 */
export class AdamW extends Adam {
  /** Decoupled decay: scales `p` by 1 - lr * weightDecay and leaves the gradient as it is. */
  protected override decay(p: Tensor, grad: Tensor): Tensor {
    if (this.weightDecay) p.assign(scale(p, 1 - this.lr * this.weightDecay));
    return grad;
  }
}
