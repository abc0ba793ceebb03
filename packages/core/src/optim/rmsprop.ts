import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import {
  type Hyperparameter,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
} from "./optimizer.ts";

/** RMSprop's options, for every group that does not set its own; PyTorch's defaults. */
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

/** One parameter group of RMSprop: PyTorch's `param_groups[i]` in camelCase. */
export interface RMSpropParamGroup extends ParamGroup {
  /** Smoothing constant. */
  alpha: number;
  /** Added to the denominator for stability. */
  eps: number;
  /** L2 penalty. */
  weightDecay: number;
  /** Momentum factor (OneCycleLR cycles it). */
  momentum: number;
  /** Centered RMSprop. */
  centered: boolean;
}

/**
 * RMSprop with PyTorch's centered and momentum variants. State per parameter: `step`,
 * `square_avg`, plus `momentum_buffer` (momentum > 0) and `grad_avg` (centered).
 */
export class RMSprop extends Optimizer<RMSpropParamGroup> {
  /** The squared-gradient average; the other buffers depend on momentum and centered. */
  protected readonly requiredState: readonly string[] = ["square_avg"];
  /** The step count and every buffer RMSprop may keep. */
  protected readonly stateNames: readonly string[] = [
    "step",
    "square_avg",
    "momentum_buffer",
    "grad_avg",
  ];

  /**
   * RMSprop over `params`: a list of tensors, or of groups (`{ params, lr?, alpha?, ... }`)
   * whose values override `options`; see `RMSpropOptions` for the defaults.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<RMSpropParamGroup>>,
    options: RMSpropOptions = {},
  ) {
    super(params, {
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
    });
  }

  /** The first group's smoothing constant; setting it sets every group's. */
  get alpha(): number {
    return this.paramGroups[0].alpha;
  }

  set alpha(value: number) {
    this.setEveryGroup("alpha", value);
  }

  /** The first group's eps; setting it sets every group's. */
  get eps(): number {
    return this.paramGroups[0].eps;
  }

  set eps(value: number) {
    this.setEveryGroup("eps", value);
  }

  /** The first group's weight decay; setting it sets every group's. */
  get weightDecay(): number {
    return this.paramGroups[0].weightDecay;
  }

  set weightDecay(value: number) {
    this.setEveryGroup("weightDecay", value);
  }

  /** The first group's momentum; setting it sets every group's. */
  get momentum(): number {
    return this.paramGroups[0].momentum;
  }

  set momentum(value: number) {
    this.setEveryGroup("momentum", value);
  }

  /** The first group's centered flag; setting it sets every group's. */
  get centered(): boolean {
    return this.paramGroups[0].centered;
  }

  set centered(value: boolean) {
    this.setEveryGroup("centered", value);
  }

  /** Checks `{ lr, alpha, eps, weightDecay, momentum, centered }`. */
  protected checkGroup(group: Record<string, Hyperparameter>): void {
    this.checkLr(group.lr);
    this.checkRange("alpha", group.alpha, 0, Infinity);
    this.checkRange("eps", group.eps, 0, Infinity);
    this.checkRange("momentum", group.momentum, 0, Infinity);
    this.checkRange("weightDecay", group.weightDecay, 0, Infinity);
    if (typeof group.centered !== "boolean") {
      throw new Error(`rnnkit: RMSprop: centered must be true or false, got ${group.centered}`);
    }
  }

  /** One RMSprop step for `p`, as `torch.optim.RMSprop`. */
  protected update(p: Tensor, grad: Tensor, s: ParamState, group: RMSpropParamGroup): void {
    const { lr, alpha: a, eps, weightDecay, momentum, centered } = group;
    const g = weightDecay ? add(grad, scale(p, weightDecay)) : grad;
    const sq = this.buffer(s, "square_avg", p);
    sq.assign(add(scale(sq, a), scale(mul(g, g), 1 - a)));
    let avg = sq;
    if (centered) {
      const ga = this.buffer(s, "grad_avg", p);
      ga.assign(add(scale(ga, a), scale(g, 1 - a)));
      avg = sub(sq, mul(ga, ga));
    }
    const denom = add(sqrt(avg), full([], eps));
    if (momentum > 0) {
      const buf = this.buffer(s, "momentum_buffer", p);
      buf.assign(add(scale(buf, momentum), div(g, denom)));
      p.assign(sub(p, scale(buf, lr)));
    } else {
      p.assign(sub(p, scale(div(g, denom), lr)));
    }
  }
}
