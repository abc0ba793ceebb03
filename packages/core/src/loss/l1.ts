/** Mean absolute error (PyTorch's `L1Loss`). @module */
import { abs, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/**
 * Absolute error |input - target|, reduced, as PyTorch's `L1Loss` (gradient sign(d), 0 at
 * 0). `target` has the input's shape. Options: `reduction` (default "mean").
 */
export class L1Loss extends Loss {
  /** A loss with the given options; see `LossOptions` for the defaults. */
  constructor(options: LossOptions = {}) {
    super(options);
  }

  /** input and target of one shape -> the loss (a scalar, or that shape for "none"). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    return this.reduce(abs(sub(input, target)));
  }
}
