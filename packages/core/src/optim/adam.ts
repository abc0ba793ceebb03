import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { checkRange, Optimizer, type ParamState } from "./optimizer.ts";

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam, with PyTorch's update rule and bias corrections, step for step. */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, defaultWeightDecay = 0) {
    super(params, options.lr ?? 1e-3);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    const name = this.constructor.name;
    checkRange(name, "betas[0]", this.betas[0], 0, 1 - Number.EPSILON);
    checkRange(name, "betas[1]", this.betas[1], 0, 1 - Number.EPSILON);
    checkRange(name, "eps", this.eps, 0, Infinity);
    checkRange(name, "weightDecay", this.weightDecay, 0, Infinity);
  }

  /** Adam folds weight decay into the gradient (L2); AdamW overrides this. */
  protected decay(p: Tensor, grad: Tensor): Tensor {
    return this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    const [b1, b2] = this.betas;
    const g = this.decay(p, grad);
    const m = this.buffer(s, "expAvg", p);
    const v = this.buffer(s, "expAvgSq", p);
    m.assign(add(scale(m, b1), scale(g, 1 - b1)));
    v.assign(add(scale(v, b2), scale(mul(g, g), 1 - b2)));
    const stepSize = this.lr / (1 - b1 ** s.step);
    const denom = add(scale(sqrt(v), 1 / Math.sqrt(1 - b2 ** s.step)), full([], this.eps));
    p.assign(sub(p, scale(div(m, denom), stepSize)));
  }

  options(): Record<string, unknown> {
    const { lr, betas, eps, weightDecay } = this;
    return { lr, betas, eps, weightDecay };
  }
}

/** AdamW: Adam with decoupled weight decay (p *= 1 - lr * wd before the Adam step). */
export class AdamW extends Adam {
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, 1e-2);
  }

  protected override decay(p: Tensor, grad: Tensor): Tensor {
    if (this.weightDecay) p.assign(scale(p, 1 - this.lr * this.weightDecay));
    return grad;
  }
}
