/** Mean squared error (PyTorch's `MSELoss`). @module */
import { mul, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/**
 * Squared error (input - target)^2, reduced, as PyTorch's `MSELoss`. `target` has the
 * input's shape (PyTorch broadcasts other shapes with a warning; rnnkit refuses them).
 * Options: `reduction` (default "mean").
 */
export class MSELoss extends Loss {
  /** A loss with the given options; see `LossOptions` for the defaults. */
  constructor(options: LossOptions = {}) {
    super(options);
  }

  /** input and target of one shape -> the loss (a scalar, or that shape for "none"). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    const d = sub(input, target);
    return this.reduce(mul(d, d));
  }
}
