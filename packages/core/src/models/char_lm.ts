/**
 * A character-level language model: Embedding -> RNN | LSTM | GRU (batchFirst) -> Linear,
 * with PyTorch's submodule names `emb`, `rnn`, `fc`, so its state dict is exactly that of
 * the same three PyTorch modules.
 */
import { reshape } from "../ops.ts";
import type { Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { Embedding } from "../nn/embedding.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { GRU, LSTM, RNN } from "../nn/rnn.ts";

export type Cell = "rnn" | "lstm" | "gru";

export interface CharLMConfig {
  vocabSize: number;
  cell: Cell;
  embeddingSize: number;
  hiddenSize: number;
  numLayers: number;
  /** RNN only. */
  nonlinearity?: "tanh" | "relu";
  dropout?: number;
  rng?: Random;
}

/** Recurrent state: h, or [h, c] for an LSTM; each [numLayers, batch, hidden]. */
export type RecurrentState = Tensor | [Tensor, Tensor];

export class CharLM extends Module {
  readonly emb: Embedding;
  readonly rnn: RNN | LSTM | GRU;
  readonly fc: Linear;

  constructor(readonly config: CharLMConfig) {
    super();
    const { vocabSize, cell, embeddingSize, hiddenSize, numLayers, rng } = config;
    const options = { numLayers, batchFirst: true, dropout: config.dropout ?? 0, rng };
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
    const x = this.emb.forward(indices);
    const [out, next] = this.rnn instanceof LSTM
      ? this.rnn.forward(x, state as [Tensor, Tensor] | undefined)
      : (this.rnn as RNN | GRU).forward(x, state as Tensor | undefined);
    const logits = this.fc.forward(out);
    return [reshape(logits, [...indices.shape, this.config.vocabSize]), next];
  }
}
