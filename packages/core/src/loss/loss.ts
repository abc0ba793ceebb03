/**
 * The base of every loss (PyTorch's `_Loss`): a Module with a `reduction` and the checks
 * the losses share.
 * @module
 */
import { mean, sum } from "../ops.ts";
import { formatShape as fmt } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "../nn/module.ts";

/**
 * How per-element losses are combined: their mean ("mean"; for the class losses with a
 * `weight`, the weighted mean over the non-ignored targets), their sum, or none (the
 * losses themselves, of the input's shape).
 */
export type Reduction = "mean" | "sum" | "none";

/** The option every loss has. */
export interface LossOptions {
  /** How the per-element losses are combined. Default "mean". */
  reduction?: Reduction;
}

/**
 * A loss: `forward(input, target)` gives a scalar, or with reduction "none" the
 * per-element losses. Errors name the loss and the shapes it expected and got.
 */
export abstract class Loss extends Module {
  /** How the per-element losses are combined. */
  readonly reduction: Reduction;

  /** A loss with the given reduction (default "mean"), checked. */
  constructor(options: LossOptions = {}) {
    super();
    this.reduction = options.reduction ?? "mean";
    if (!["mean", "sum", "none"].includes(this.reduction)) {
      throw new Error(
        `rnnkit: ${this.constructor.name}: reduction must be mean, sum or none, got ` +
          `"${this.reduction}"`,
      );
    }
  }

  /** The loss of `input` against `target`. */
  abstract forward(input: Tensor, target: Tensor): Tensor;

  /** The per-element `losses` reduced by `reduction` (mean over every element). */
  protected reduce(losses: Tensor): Tensor {
    if (this.reduction === "none") return losses;
    return this.reduction === "sum" ? sum(losses) : mean(losses);
  }

  /** An error naming this loss, unless `target` is a float32 tensor of input's shape. */
  protected expectSameShape(input: Tensor, target: Tensor): void {
    if (target.shape.join() !== input.shape.join()) {
      this.fail(
        `expected target of the input's shape ${fmt(input.shape)}, got ${fmt(target.shape)}`,
      );
    }
    if (input.dtype !== "float32" || target.dtype !== "float32") {
      this.fail(`expected float32 input and target, got ${input.dtype} and ${target.dtype}`);
    }
  }

  /** An error naming this loss, unless `t` (named `what`) broadcasts to `shape`. */
  protected expectBroadcast(what: string, t: Tensor, shape: readonly number[]): void {
    const fits = t.shape.length <= shape.length &&
      t.shape.every((d, i) => d === 1 || d === shape[shape.length - t.shape.length + i]);
    if (!fits) {
      this.fail(`${what} ${fmt(t.shape)} does not broadcast to the input's shape ${fmt(shape)}`);
    }
  }

  /** Throws "rnnkit: <Loss>: why". */
  protected fail(why: string): never {
    throw new Error(`rnnkit: ${this.constructor.name}: ${why}`);
  }
}
