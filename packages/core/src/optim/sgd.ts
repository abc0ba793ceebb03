import { keep } from "../engine.ts";
import { add, scale, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { type Hyperparameter, Optimizer, type ParamState } from "./optimizer.ts";

/** SGD's options; PyTorch's defaults. */
export interface SGDOptions {
  /** Learning rate. Default 1e-3 (PyTorch requires one). */
  lr?: number;
  /** Momentum factor. Default 0 (none). */
  momentum?: number;
  /** Dampening of the momentum. Default 0. */
  dampening?: number;
  /** L2 penalty. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with PyTorch's momentum, dampening and Nesterov rules. State
 * per parameter (with momentum): `momentum_buffer`.
 */
export class SGD extends Optimizer {
  /** Momentum factor. */
  momentum!: number;
  /** Dampening of the momentum. */
  dampening!: number;
  /** L2 penalty. */
  weightDecay!: number;
  /** Nesterov momentum. */
  nesterov!: boolean;
  /** None: `momentum_buffer` exists only with momentum, and no `step` is saved. */
  protected readonly requiredState: readonly string[] = [];
  /** SGD's only buffer (PyTorch saves no step count for SGD). */
  protected readonly stateNames: readonly string[] = ["momentum_buffer"];

  /** SGD over `params`; see `SGDOptions` for the defaults. */
  constructor(params: Iterable<Tensor>, options: SGDOptions = {}) {
    super(params);
    this.configure({
      lr: options.lr ?? 1e-3,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weight_decay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
    });
  }

  /** `{ lr, momentum, dampening, weight_decay, nesterov }`, as in PyTorch's param group. */
  hyperparameters(): Record<string, Hyperparameter> {
    const { lr, momentum, dampening, weightDecay, nesterov } = this;
    return { lr, momentum, dampening, weight_decay: weightDecay, nesterov };
  }

  /** Checks and sets `{ lr, momentum, dampening, weight_decay, nesterov }`. */
  protected configure(group: Record<string, Hyperparameter>): void {
    this.checkRange("lr", group.lr, 0, Infinity);
    this.checkRange("momentum", group.momentum, 0, Infinity);
    this.checkRange("dampening", group.dampening, -Infinity, Infinity);
    this.checkRange("weightDecay", group.weight_decay, 0, Infinity);
    const nesterov = group.nesterov;
    if (typeof nesterov !== "boolean") {
      throw new Error(`rnnkit: SGD: nesterov must be true or false, got ${nesterov}`);
    }
    if (nesterov && ((group.momentum as number) <= 0 || group.dampening !== 0)) {
      throw new Error("rnnkit: SGD: nesterov needs momentum > 0 and dampening 0");
    }
    this.lr = group.lr as number;
    this.momentum = group.momentum as number;
    this.dampening = group.dampening as number;
    this.weightDecay = group.weight_decay as number;
    this.nesterov = nesterov;
  }

  /** One SGD step for `p`, as `torch.optim.SGD` (momentum_buffer starts undamped). */
  protected update(p: Tensor, grad: Tensor, s: ParamState): void {
    let d = this.weightDecay ? add(grad, scale(p, this.weightDecay)) : grad;
    if (this.momentum) {
      const prev = s.buffers.momentum_buffer;
      // PyTorch starts the buffer at the first gradient, undamped.
      const next = prev ? add(scale(prev, this.momentum), scale(d, 1 - this.dampening)) : d.clone();
      if (prev) prev.assign(next);
      else s.buffers.momentum_buffer = keep(next);
      const buf = s.buffers.momentum_buffer;
      d = this.nesterov ? add(d, scale(buf, this.momentum)) : buf;
    }
    p.assign(sub(p, scale(d, this.lr)));
  }
}
