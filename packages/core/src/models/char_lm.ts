/**
 * A character-level language model: Embedding -> RNN | LSTM | GRU -> Linear, with
 * PyTorch's submodule names `emb`, `rnn`, `fc`, so its state dict is exactly that of the
 * same three PyTorch modules.
 */
import { intTensor, reshape, transpose } from "../ops.ts";
import { CrossEntropyLoss } from "../loss/cross_entropy.ts";
import type { Batch } from "../data/text.ts";
import type { Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { Embedding } from "../nn/embedding.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { GRU, LSTM, RNN } from "../nn/rnn.ts";

/** The recurrent layer of a CharLM. */
export type Cell = "rnn" | "lstm" | "gru";

/** The sizes of a CharLM: Embedding(vocabSize, embeddingSize) -> cell(embeddingSize, hiddenSize, numLayers) -> Linear(hiddenSize, vocabSize). */
export interface CharLMConfig {
  /** Distinct characters. */
  vocabSize: number;
  /** The recurrent layer: RNN, LSTM or GRU. */
  cell: Cell;
  /** Embedding dimension. */
  embeddingSize: number;
  /** Hidden size of the recurrent layers. */
  hiddenSize: number;
  /** Recurrent layers. */
  numLayers: number;
  /** The RNN's nonlinearity (cell "rnn" only). Default "tanh". */
  nonlinearity?: "tanh" | "relu";
  /** Dropout between recurrent layers, in training mode. Default 0. */
  dropout?: number;
  /** Generator of the initial weights and of dropout. Default: the global generator. */
  rng?: Random;
}

/** Recurrent state: h, or [h, c] for an LSTM; each [numLayers, batch, hidden]. */
export type RecurrentState = Tensor | [Tensor, Tensor];

/**
 * A character language model: Embedding -> RNN | LSTM | GRU -> Linear, batch first
 * outside. Inside it runs time-major: it transposes the indices on the host, not the
 * embeddings, and only the logits back (at batch 32 x 64, h128 that moves 1 MB a training
 * step instead of 3).
 */
export class CharLM extends Module {
  /** Character embeddings. */
  readonly emb: Embedding;
  /** The recurrent layers, time-major (batchFirst false): input [seq, batch, embedding]. */
  readonly rnn: RNN | LSTM | GRU;
  /** Hidden state to next-character logits. */
  readonly fc: Linear;
  readonly #ce = new CrossEntropyLoss();

  /** Builds the model; initial weights are PyTorch's for the same seed and order. */
  constructor(readonly config: CharLMConfig) {
    super();
    const { vocabSize, cell, embeddingSize, hiddenSize, numLayers, rng } = config;
    const options = { numLayers, batchFirst: false, dropout: config.dropout ?? 0, rng };
    this.emb = this.registerModule("emb", new Embedding(vocabSize, embeddingSize, { rng }));
    this.rnn = this.registerModule(
      "rnn",
      cell === "lstm"
        ? new LSTM(embeddingSize, hiddenSize, options)
        : cell === "gru"
        ? new GRU(embeddingSize, hiddenSize, options)
        : new RNN(embeddingSize, hiddenSize, { ...options, nonlinearity: config.nonlinearity }),
    );
    this.fc = this.registerModule("fc", new Linear(hiddenSize, vocabSize, { rng }));
  }

  /**
   * indices [batch, seq] (int32) -> logits [batch, seq, vocab] and the final state, which
   * can be passed back in to continue the sequence (truncated BPTT, generation).
   */
  forward(indices: Tensor, state?: RecurrentState): [Tensor, RecurrentState] {
    const [batch, seq] = indices.shape;
    // [batch, seq] -> [seq, batch] on the host (Embedding checks the rest: int32, range);
    // unbatched [seq] runs as it is.
    const host = indices.hostInts;
    const timeMajor = indices.shape.length === 2 && host
      ? intTensor(
        Int32Array.from({ length: host.length }, (_, i) =>
          host[(i % batch) * seq + Math.floor(i / batch)]),
        [seq, batch],
      )
      : indices;
    const x = this.emb.forward(timeMajor);
    const [out, next] = this.rnn instanceof LSTM
      ? this.rnn.forward(x, state as [Tensor, Tensor] | undefined)
      : (this.rnn as RNN | GRU).forward(x, state as Tensor | undefined);
    const logits = this.fc.forward(out);
    if (timeMajor === indices) {
      return [reshape(logits, [...indices.shape, this.config.vocabSize]), next];
    }
    return [
      seq === 1 ? reshape(logits, [batch, 1, this.config.vocabSize]) : transpose(logits, [1, 0, 2]),
      next,
    ];
  }

  /**
   * The mean cross-entropy of predicting every next character of `batch` (its input
   * [batch, seq] and target [batch * seq]), and the final state.
   */
  loss(batch: Batch, state?: RecurrentState): [Tensor, RecurrentState] {
    const [logits, next] = this.forward(batch.input, state);
    return [this.#ce.forward(reshape(logits, [-1, this.config.vocabSize]), batch.target), next];
  }
}
