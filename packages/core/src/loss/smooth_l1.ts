/** Smooth L1 loss (PyTorch's `SmoothL1Loss`). @module */
import { abs, div, mul, scale, sub, where } from "../ops.ts";
import { stepMask } from "../grad.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/** Options of `SmoothL1Loss`, with PyTorch's defaults. */
export interface SmoothL1LossOptions extends LossOptions {
  /** Where the loss turns from quadratic to linear, >= 0 (0: L1 loss). Default 1.0. */
  beta?: number;
}

/**
 * For d = |input - target|: 0.5 d^2 / beta where d < beta, else d - 0.5 beta, reduced, as
 * PyTorch's `SmoothL1Loss`; beta 0 is the L1 loss. `target` has the input's shape.
 * Options: `beta` (default 1.0), `reduction` (default "mean").
 */
export class SmoothL1Loss extends Loss {
  /** The threshold between the quadratic and the linear part. */
  readonly beta: number;

  /** A loss with the given options; see `SmoothL1LossOptions` for the defaults. */
  constructor(options: SmoothL1LossOptions = {}) {
    super(options);
    this.beta = options.beta ?? 1.0;
    if (!(this.beta >= 0 && Number.isFinite(this.beta))) {
      this.fail(`beta must be a finite number >= 0, got ${this.beta}`);
    }
  }

  /** input and target of one shape -> the loss (a scalar, or that shape for "none"). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    const d = abs(sub(input, target));
    if (this.beta === 0) return this.reduce(d);
    const quadratic = div(mul(scale(d, 0.5), d), this.beta);
    const linear = sub(d, 0.5 * this.beta);
    return this.reduce(where(stepMask(sub(this.beta, d)), quadratic, linear));
  }
}
