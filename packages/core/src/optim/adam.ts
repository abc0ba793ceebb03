/** Adam and AdamW (`adam.ts`: AdamW is Adam with a different weight-decay step). */
import { add, div, full, mul, scale, sqrt, sub } from "../ops.ts";
import { getBackend } from "../engine.ts";
import { Tensor } from "../tensor.ts";
import {
  type Hyperparameter,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
} from "./optimizer.ts";

/** Adam's options, for every group that does not set its own; PyTorch's defaults. */
export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment estimates. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps?: number;
  /** L2 penalty (Adam) or decoupled weight decay (AdamW). Default 0 (Adam), 1e-2 (AdamW). */
  weightDecay?: number;
}

/** One parameter group of Adam or AdamW: PyTorch's `param_groups[i]` in camelCase. */
export interface AdamParamGroup extends ParamGroup {
  /** Decay rates of the moment estimates (OneCycleLR cycles beta1). */
  betas: readonly [number, number];
  /** Added to the denominator for stability. */
  eps: number;
  /** L2 penalty (Adam) or decoupled weight decay (AdamW). */
  weightDecay: number;
}

/**
 * Adam, with PyTorch's update rule and bias corrections, step for step. State per
 * parameter: `step`, `exp_avg`, `exp_avg_sq`.
 */
export class Adam extends Optimizer<AdamParamGroup> {
  /** Both moment estimates. */
  protected readonly requiredState: readonly string[] = ["exp_avg", "exp_avg_sq"];
  /** The step count and both moment estimates. */
  protected readonly stateNames: readonly string[] = ["step", "exp_avg", "exp_avg_sq"];

  /**
   * Adam over `params`: a list of tensors, or of groups (`{ params, lr?, betas?, eps?,
   * weightDecay? }`) whose values override `options`; see `AdamOptions` for the defaults.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamParamGroup>>,
    options: AdamOptions = {},
  ) {
    super(params, {
      lr: options.lr ?? 1e-3,
      betas: options.betas ?? [0.9, 0.999],
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? (new.target === AdamW ? 1e-2 : 0),
    });
  }

  /** The first group's betas; setting them sets every group's. */
  get betas(): readonly [number, number] {
    return this.paramGroups[0].betas;
  }

  set betas(value: readonly [number, number]) {
    this.setEveryGroup("betas", value);
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

  /** Checks `{ lr, betas, eps, weightDecay }`. */
  protected checkGroup(group: Record<string, Hyperparameter>): void {
    const betas = group.betas as number[];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new Error(
        `rnnkit: ${this.constructor.name}: betas must be a pair, got ${JSON.stringify(betas)}`,
      );
    }
    this.checkLr(group.lr);
    this.checkRange("betas[0]", betas[0], 0, 1 - Number.EPSILON);
    this.checkRange("betas[1]", betas[1], 0, 1 - Number.EPSILON);
    this.checkRange("eps", group.eps, 0, Infinity);
    this.checkRange("weightDecay", group.weightDecay, 0, Infinity);
  }

  /** Adam folds weight decay into the gradient (L2); AdamW overrides this. */
  protected decay(p: Tensor, grad: Tensor, group: AdamParamGroup): Tensor {
    return group.weightDecay ? add(grad, scale(p, group.weightDecay)) : grad;
  }

  /** One Adam step for `p` with its group's hyperparameters, fused when the backend has `adamStep`. */
  protected update(p: Tensor, grad: Tensor, s: ParamState, group: AdamParamGroup): void {
    const [b1, b2] = group.betas;
    const { lr, eps } = group;
    const g = this.decay(p, grad, group);
    const m = this.buffer(s, "exp_avg", p);
    const v = this.buffer(s, "exp_avg_sq", p);
    const stepSize = lr / (1 - b1 ** s.step);
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
        eps,
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
    const denom = add(scale(sqrt(v), invBias2Sqrt), full([], eps));
    p.assign(sub(p, scale(div(m, denom), stepSize)));
  }
}

/**
 * AdamW: Adam with decoupled weight decay (p *= 1 - lr * wd before the Adam step), as
 * PyTorch's; `weightDecay` defaults to 1e-2.
 */
export class AdamW extends Adam {
  /** Decoupled decay: scales `p` by 1 - lr * weightDecay and leaves the gradient as it is. */
  protected override decay(p: Tensor, grad: Tensor, group: AdamParamGroup): Tensor {
    if (group.weightDecay) p.assign(scale(p, 1 - group.lr * group.weightDecay));
    return grad;
  }
}
