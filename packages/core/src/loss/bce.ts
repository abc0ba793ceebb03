/** Binary cross-entropy losses (PyTorch's `BCELoss` and `BCEWithLogitsLoss`). @module */
import { add, binaryCrossEntropy, exp, log, mul, neg, relu, sub } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/** Options of `BCELoss`, with PyTorch's defaults. */
export interface BCELossOptions extends LossOptions {
  /**
   * A rescaling weight per element, broadcast to the input's shape (the caller's tensor,
   * not copied). Default none (all 1).
   */
  weight?: Tensor | null;
}

/**
 * Binary cross-entropy between probabilities `input` in [0, 1] and `target` (the same
 * shape), as PyTorch's `BCELoss`: -w (y log x + (1 - y) log(1 - x)) with each log clamped
 * to >= -100 (so x = 0 or 1 gives a finite loss and gradient), reduced. Options: `weight`
 * (default none), `reduction` (default "mean"). For logits, `BCEWithLogitsLoss` is stabler.
 */
export class BCELoss extends Loss {
  /** The per-element weight, or null. */
  readonly weight: Tensor | null;

  /** A loss with the given options; see `BCELossOptions` for the defaults. */
  constructor(options: BCELossOptions = {}) {
    super(options);
    this.weight = options.weight ?? null;
  }

  /** Probabilities and targets of one shape -> the loss (a scalar, or that shape). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    if (this.weight) this.expectBroadcast("weight", this.weight, input.shape);
    return this.reduce(binaryCrossEntropy(input, target, this.weight));
  }
}

/** Options of `BCEWithLogitsLoss`, with PyTorch's defaults. */
export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /**
   * The weight of positive examples, per class: broadcast along the input's last axis
   * (shape [C] for input [N, C]; the caller's tensor). Default none (all 1).
   */
  posWeight?: Tensor | null;
}

/**
 * Sigmoid and binary cross-entropy in one, from logits `input` and `target` (the same
 * shape), as PyTorch's `BCEWithLogitsLoss`, in its numerically stable form: with
 * m = max(-x, 0), l = (1 - y) x + m + log(e^-m + e^(-x-m)); with `posWeight` p,
 * l = (1 - y) x + (1 + (p - 1) y) (log(e^-m + e^(-x-m)) + m); times `weight`, reduced.
 * Options: `weight`, `posWeight` (default none), `reduction` (default "mean").
 */
export class BCEWithLogitsLoss extends Loss {
  /** The per-element weight, or null. */
  readonly weight: Tensor | null;
  /** The per-class weight of positive examples, or null. */
  readonly posWeight: Tensor | null;

  /** A loss with the given options; see `BCEWithLogitsLossOptions` for the defaults. */
  constructor(options: BCEWithLogitsLossOptions = {}) {
    super(options);
    this.weight = options.weight ?? null;
    this.posWeight = options.posWeight ?? null;
  }

  /** Logits and targets of one shape -> the loss (a scalar, or that shape for "none"). */
  forward(input: Tensor, target: Tensor): Tensor {
    this.expectSameShape(input, target);
    if (this.weight) this.expectBroadcast("weight", this.weight, input.shape);
    if (this.posWeight) this.expectBroadcast("posWeight", this.posWeight, input.shape);
    const m = relu(neg(input));
    // log(e^-m + e^(-x-m)) + m = log(1 + e^-x), without overflow for either sign of x.
    const softplus = log(add(exp(neg(m)), exp(sub(neg(input), m))));
    const linear = mul(sub(1, target), input);
    let losses = this.posWeight
      ? add(linear, mul(add(mul(sub(this.posWeight, 1), target), 1), add(softplus, m)))
      : add(add(linear, m), softplus);
    if (this.weight) losses = mul(losses, this.weight);
    return this.reduce(losses);
  }
}
