import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { checkRange, Optimizer, type ParamState } from "./optimizer.ts";

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

/** RMSprop with PyTorch's centered and momentum variants. */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(params: Iterable<Tensor>, options: RMSpropOptions = {}) {
    super(params, options.lr ?? 1e-2);
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.momentum = options.momentum ?? 0;
    this.centered = options.centered ?? false;
    checkRange("RMSprop", "alpha", this.alpha, 0, Infinity);
    checkRange("RMSprop", "eps", this.eps, 0, Infinity);
    checkRange("RMSprop", "momentum", this.momentum, 0, Infinity);
    checkRange("RMSprop", "weightDecay", this.weightDecay, 0, Infinity);
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    const a = this.alpha;
    const g = this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
    const sq = this.buffer(s, "squareAvg", p);
    sq.assign(add(scale(sq, a), scale(mul(g, g), 1 - a)));
    let avg = sq;
    if (this.centered) {
      const ga = this.buffer(s, "gradAvg", p);
      ga.assign(add(scale(ga, a), scale(g, 1 - a)));
      avg = sub(sq, mul(ga, ga));
    }
    const denom = add(sqrt(avg), full([], this.eps));
    if (this.momentum > 0) {
      const buf = this.buffer(s, "momentumBuffer", p);
      buf.assign(add(scale(buf, this.momentum), div(g, denom)));
      p.assign(sub(p, scale(buf, this.lr)));
    } else {
      p.assign(sub(p, scale(div(g, denom), this.lr)));
    }
  }

  options(): Record<string, unknown> {
    const { lr, alpha, eps, weightDecay, momentum, centered } = this;
    return { lr, alpha, eps, weightDecay, momentum, centered };
  }
}
