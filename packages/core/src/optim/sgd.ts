import { keep } from "../engine.ts";
import { add, scale, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import {
  type Hyperparameter,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
} from "./optimizer.ts";

/** SGD's options, for every group that does not set its own; PyTorch's defaults. */
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

/** One parameter group of SGD: PyTorch's `param_groups[i]` in camelCase. */
export interface SGDParamGroup extends ParamGroup {
  /** Momentum factor (OneCycleLR cycles it). */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** L2 penalty. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
}

/**
 * Stochastic gradient descent with PyTorch's momentum, dampening and Nesterov rules. State
 * per parameter (with momentum): `momentum_buffer`.
 */
export class SGD extends Optimizer<SGDParamGroup> {
  /** None: `momentum_buffer` exists only with momentum, and no `step` is saved. */
  protected readonly requiredState: readonly string[] = [];
  /** SGD's only buffer (PyTorch saves no step count for SGD). */
  protected readonly stateNames: readonly string[] = ["momentum_buffer"];

  /**
   * SGD over `params`: a list of tensors, or of groups (`{ params, lr?, momentum?, ... }`)
   * whose values override `options`; see `SGDOptions` for the defaults.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDParamGroup>>,
    options: SGDOptions = {},
  ) {
    super(params, {
      lr: options.lr ?? 1e-3,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
    });
  }

  /** The first group's momentum; setting it sets every group's. */
  get momentum(): number {
    return this.paramGroups[0].momentum;
  }

  set momentum(value: number) {
    this.setEveryGroup("momentum", value);
  }

  /** The first group's dampening; setting it sets every group's. */
  get dampening(): number {
    return this.paramGroups[0].dampening;
  }

  set dampening(value: number) {
    this.setEveryGroup("dampening", value);
  }

  /** The first group's weight decay; setting it sets every group's. */
  get weightDecay(): number {
    return this.paramGroups[0].weightDecay;
  }

  set weightDecay(value: number) {
    this.setEveryGroup("weightDecay", value);
  }

  /** The first group's Nesterov flag; setting it sets every group's. */
  get nesterov(): boolean {
    return this.paramGroups[0].nesterov;
  }

  set nesterov(value: boolean) {
    this.setEveryGroup("nesterov", value);
  }

  /** Checks `{ lr, momentum, dampening, weightDecay, nesterov }`. */
  protected checkGroup(group: Record<string, Hyperparameter>): void {
    this.checkLr(group.lr);
    this.checkRange("momentum", group.momentum, 0, Infinity);
    this.checkRange("dampening", group.dampening, -Infinity, Infinity);
    this.checkRange("weightDecay", group.weightDecay, 0, Infinity);
    const nesterov = group.nesterov;
    if (typeof nesterov !== "boolean") {
      throw new Error(`rnnkit: SGD: nesterov must be true or false, got ${nesterov}`);
    }
    if (nesterov && ((group.momentum as number) <= 0 || group.dampening !== 0)) {
      throw new Error("rnnkit: SGD: nesterov needs momentum > 0 and dampening 0");
    }
  }

  /** One SGD step for `p`, as `torch.optim.SGD` (momentum_buffer starts undamped). */
  protected update(p: Tensor, grad: Tensor, s: ParamState, group: SGDParamGroup): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    let d = weightDecay ? add(grad, scale(p, weightDecay)) : grad;
    if (momentum) {
      const prev = s.buffers.momentum_buffer;
      // PyTorch starts the buffer at the first gradient, undamped.
      const next = prev ? add(scale(prev, momentum), scale(d, 1 - dampening)) : d.clone();
      if (prev) prev.assign(next);
      else s.buffers.momentum_buffer = keep(next);
      const buf = s.buffers.momentum_buffer;
      d = nesterov ? add(d, scale(buf, momentum)) : buf;
    }
    p.assign(sub(p, scale(d, lr)));
  }
}
