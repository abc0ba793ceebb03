import { keep } from "../engine.ts";
import { add, scale, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { checkRange, Optimizer, type ParamState } from "./optimizer.ts";

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with PyTorch's momentum, dampening and Nesterov rules. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Iterable<Tensor>, options: SGDOptions = {}) {
    super(params, options.lr ?? 1e-3);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    checkRange("SGD", "momentum", this.momentum, 0, Infinity);
    checkRange("SGD", "weightDecay", this.weightDecay, 0, Infinity);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("rnnkit: SGD: nesterov needs momentum > 0 and dampening 0");
    }
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    let d = this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
    if (this.momentum) {
      const prev = s.buffers.momentum;
      // PyTorch starts the buffer at the first gradient, undamped.
      const next = prev ? add(scale(prev, this.momentum), scale(d, 1 - this.dampening)) : d.clone();
      if (prev) prev.assign(next);
      else s.buffers.momentum = keep(next);
      const buf = s.buffers.momentum;
      d = this.nesterov ? add(d, scale(buf, this.momentum)) : buf;
    }
    p.assign(sub(p, scale(d, this.lr)));
  }

  options(): Record<string, unknown> {
    const { lr, momentum, dampening, weightDecay, nesterov } = this;
    return { lr, momentum, dampening, weightDecay, nesterov };
  }
}
