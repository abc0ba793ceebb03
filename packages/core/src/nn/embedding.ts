import { gather, intTensor, reshape } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { checkSize, Module } from "./module.ts";

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  /**
   * This row starts at zero and receives no gradient (e.g. a padding token); negative
   * counts from the end. Default: none.
   */
  paddingIdx?: number;
  /** Generator of the initial weights. Default: the global generator. */
  rng?: Random;
}

/** A lookup table of dense vectors, `weight` [numEmbeddings, embeddingDim] ~ N(0, 1). */
export class Embedding extends Module {
  /** [numEmbeddings, embeddingDim], initially N(0, 1) (the padding row zero). */
  readonly weight: Tensor;
  /** The padding row, made non-negative; null when there is none. */
  readonly paddingIdx: number | null;

  /** A table of `numEmbeddings` vectors of `embeddingDim` values (positive integers). */
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    checkSize("Embedding", { numEmbeddings, embeddingDim });
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new Error(
          `rnnkit: Embedding: paddingIdx ${pad} out of range for ${numEmbeddings} embeddings`,
        );
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    const values = (options.rng ?? globalRandom()).normal(numEmbeddings * embeddingDim);
    if (pad !== null) values.fill(0, pad * embeddingDim, (pad + 1) * embeddingDim);
    this.weight = this.registerParameter("weight", values, [numEmbeddings, embeddingDim]);
  }

  /** int32 indices of any shape -> [...indices.shape, embeddingDim]. */
  forward(indices: Tensor): Tensor {
    const name = `Embedding(${this.numEmbeddings}, ${this.embeddingDim})`;
    if (indices.dtype !== "int32" || !indices.hostInts) {
      throw new Error(`rnnkit: ${name}: indices must be an int32 tensor made with intTensor()`);
    }
    const bad = indices.hostInts.find((i) => i < 0 || i >= this.numEmbeddings);
    if (bad !== undefined) {
      throw new Error(`rnnkit: ${name}: index ${bad} out of range [0, ${this.numEmbeddings})`);
    }
    // The padding row gets no gradient: its index is hidden from the backward pass.
    const gradIndices = this.paddingIdx === null
      ? indices
      : intTensor(indices.hostInts.map((i) => (i === this.paddingIdx ? -1 : i)), indices.shape);
    const rows = gather(this.weight, reshape(indices, [-1]), reshape(gradIndices, [-1]));
    return reshape(rows, [...indices.shape, this.embeddingDim]);
  }
}
