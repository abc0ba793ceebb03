/** Huber loss (PyTorch's `HuberLoss`). @module */
import { abs, mul, scale, sub, where } from "../ops.ts";
import { stepMask } from "../grad.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/** Options of `HuberLoss`, with PyTorch's defaults. */
export interface HuberLossOptions extends LossOptions {
  /** Where the loss turns from quadratic to linear, > 0. Default 1.0. */
  delta?: number;
}

/**
 * For d = |input - target|: 0.5 d^2 where d < delta, else delta (d - 0.5 delta), reduced,
 * as PyTorch's `HuberLoss` (SmoothL1Loss scaled by delta). `target` has the input's shape.
 * Options: `delta` (default 1.0), `reduction` (default "mean").
 */
export class HuberLoss extends Loss {
  /** The threshold between the quadratic and the linear part. */
  readonly delta: number;

  /** A loss with the given options; see `HuberLossOptions` for the defaults. */
  constructor(options: HuberLossOptions = {}) {
    super(options);
    this.delta = options.delta ?? 1.0;
    if (!(this.delta > 0 && Number.isFinite(this.delta))) {
      this.fail(`delta must be a finite number > 0, got ${this.delta}`);
    }
  }

  /** input and target of one shape -> the loss (a scalar, or that shape for "none"). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    const d = abs(sub(input, target));
    const quadratic = mul(scale(d, 0.5), d);
    const linear = scale(sub(d, 0.5 * this.delta), this.delta);
    return this.reduce(where(stepMask(sub(this.delta, d)), quadratic, linear));
  }
}
