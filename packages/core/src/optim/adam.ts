import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import { getBackend } from "../engine.ts";
import { Tensor } from "../tensor.ts";
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
