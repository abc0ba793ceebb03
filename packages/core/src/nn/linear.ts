import { add, matmul, reshape } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { checkSize, expectLastDim, Module, uniformInit } from "./module.ts";

/** Options of `Linear`. */
export interface LinearOptions {
  /** Learn an additive bias `b`. Default true. */
  bias?: boolean;
  /** Generator of the initial weights and bias. Default: the global generator. */
  rng?: Random;
}

/** y = x W^T + b over the last axis, with PyTorch's keys `weight` [out, in] and `bias`. */
export class Linear extends Module {
  /** [outFeatures, inFeatures], initially U(-1/sqrt(inFeatures), 1/sqrt(inFeatures)). */
  readonly weight: Tensor;
  /** [outFeatures], initialised like `weight`; null with `bias: false`. */
  readonly bias: Tensor | null;

  /** A layer from `inFeatures` to `outFeatures` (positive integers). */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    checkSize("Linear", { inFeatures, outFeatures });
    const rng = options.rng ?? globalRandom();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter(
      "weight",
      uniformInit(rng, [outFeatures, inFeatures], bound),
      [
        outFeatures,
        inFeatures,
      ],
    );
    this.bias = options.bias === false
      ? null
      : this.registerParameter("bias", uniformInit(rng, [outFeatures], bound), [outFeatures]);
  }

  /** x [..., inFeatures] -> [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    expectLastDim(`Linear(${this.inFeatures}, ${this.outFeatures})`, x, this.inFeatures);
    const y = matmul(reshape(x, [-1, this.inFeatures]), this.weight, false, true);
    const out = this.bias ? add(y, this.bias) : y;
    return reshape(out, [...x.shape.slice(0, -1), this.outFeatures]);
  }
}
