/**
 * Multi-layer recurrent networks over whole sequences: RNN, LSTM and GRU, with PyTorch's
 * arguments, shapes and state-dict keys (`weight_ih_l0`, `bias_hh_l1_reverse`, ...).
 *
 * Shapes (L layers, D = 2 if bidirectional else 1, H = hidden, or projSize for an LSTM with
 * a projection, the width of h):
 * input [seq, batch, input] ([batch, seq, input] with batchFirst; [seq, input] unbatched);
 * h0/hN [L*D, batch, H] and c0/cN [L*D, batch, hidden] whatever batchFirst says, as in
 * PyTorch; output [seq, batch, D*H] (batch first with batchFirst).
 * A `PackedSequence` input (data [sum(lengths), input]) gives a PackedSequence output (data
 * [sum(lengths), D*H], same batch sizes and order); hN/cN are then each sequence's state
 * at its own last step, in the caller's order.
 */
import { concat, reshape, stack, transpose, unbind, zeros } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { checkProbability, dropout } from "./dropout.ts";
import { checkSize, Module, uniformInit } from "./module.ts";
import { GATES, type State, type Weights } from "./recurrence.ts";
import type { RecurrentMode } from "../backend.ts";
import { packedRecurrentLayer, recurrentLayer } from "./recurrent_layer.ts";
import { fusedStackStep } from "./stack_step.ts";
import { gatherRows, PackedSequence } from "./packed_sequence.ts";

/** Options of `RNN`, `LSTM` and `GRU`, with PyTorch's defaults. */
export interface RNNBaseOptions {
  /** Recurrent layers stacked, each reading the previous one's output. Default 1. */
  numLayers?: number;
  /** Use the biases b_ih and b_hh. Default true. */
  bias?: boolean;
  /**
   * Input and output are [batch, seq, feature] instead of [seq, batch, feature]. Default
   * false. No effect on a `PackedSequence`, which is time-major (pack with `batchFirst`).
   */
  batchFirst?: boolean;
  /**
   * Dropout probability, in [0, 1), on the outputs of every layer but the last, in training
   * mode. Default 0.
   */
  dropout?: number;
  /** Run a second direction over the reversed sequence and concatenate. Default false. */
  bidirectional?: boolean;
  /**
   * Generator of the initial weights, U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), and of the
   * dropout masks. Default: the global generator.
   */
  rng?: Random;
}

/** Options of `LSTM`. */
export interface LSTMOptions extends RNNBaseOptions {
  /**
   * Width of a projected h, in [1, hiddenSize), as PyTorch's proj_size: after each step
   * h = (o * tanh(c)) W_hr^T with `weight_hr_l{k}` [projSize, hiddenSize], so h0/hN and the
   * output have projSize features while c0/cN keep hiddenSize. Default 0: no projection.
   */
  projSize?: number;
}

/** Options of `RNN`. */
export interface RNNOptions extends RNNBaseOptions {
  /** The activation, "tanh" or "relu". Default "tanh". */
  nonlinearity?: "tanh" | "relu";
}

/**
 * The base of RNN, LSTM and GRU (PyTorch's `RNNBase`): the weights of every layer and
 * direction, and the run over a sequence.
 */
export abstract class RNNBase extends Module {
  /** Recurrent layers stacked. */
  readonly numLayers: number;
  /** Whether the layers have biases. */
  readonly bias: boolean;
  /** Whether input and output are batch first. */
  readonly batchFirst: boolean;
  /** Dropout probability between layers, in training mode. */
  readonly dropout: number;
  /** Whether every layer also runs backwards. */
  readonly bidirectional: boolean;
  /** Width of the LSTM's projected h; 0 without a projection (always, for RNN and GRU). */
  readonly projSize: number;
  readonly #weights: Weights[] = [];
  readonly #rng: Random;

  /**
   * Registers, for every layer l and direction, `weight_ih_l{l}` [gates*hiddenSize, in],
   * `weight_hh_l{l}` [gates*hiddenSize, H], with biases `bias_ih_l{l}` and `bias_hh_l{l}`
   * [gates*hiddenSize], and with a projection `weight_hr_l{l}` [projSize, hiddenSize]
   * (suffix `_reverse` for the backward direction), where H is projSize if set, else
   * hiddenSize, and `in` is `inputSize` for layer 0 and numDirections*H above it. Sizes are
   * positive integers; projSize (LSTM only) is 0 or in [1, hiddenSize).
   */
  constructor(
    readonly mode: RecurrentMode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    options: LSTMOptions,
  ) {
    super();
    this.numLayers = options.numLayers ?? 1;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = options.dropout ?? 0;
    this.bidirectional = options.bidirectional ?? false;
    this.projSize = options.projSize ?? 0;
    this.#rng = options.rng ?? globalRandom();
    const name = this.constructor.name;
    checkSize(name, { inputSize, hiddenSize, numLayers: this.numLayers });
    checkProbability(name, this.dropout);
    checkProjSize(name, mode, this.projSize, hiddenSize);
    // Every parameter, W_hr included, is drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) in
    // registration order, as PyTorch's reset_parameters.
    const bound = 1 / Math.sqrt(hiddenSize);
    const rows = GATES[mode] * hiddenSize;
    const hSize = this.#hSize;
    const param = (name: string, shape: number[]) =>
      this.registerParameter(name, uniformInit(this.#rng, shape, bound), shape);
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = `_l${l}${d ? "_reverse" : ""}`;
        const inSize = l === 0 ? inputSize : hSize * this.numDirections;
        this.#weights.push({
          wIh: param(`weight_ih${sfx}`, [rows, inSize]),
          wHh: param(`weight_hh${sfx}`, [rows, hSize]),
          bIh: this.bias ? param(`bias_ih${sfx}`, [rows]) : null,
          bHh: this.bias ? param(`bias_hh${sfx}`, [rows]) : null,
          wHr: this.projSize ? param(`weight_hr${sfx}`, [this.projSize, hiddenSize]) : undefined,
        });
      }
    }
  }

  /** The width of h: projSize with a projection, else hiddenSize. */
  get #hSize(): number {
    return this.projSize || this.hiddenSize;
  }

  /** 2 if bidirectional, else 1. */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  #describe(): string {
    const proj = this.projSize ? `, projSize=${this.projSize}` : "";
    return `${this.constructor.name}(${this.inputSize}, ${this.hiddenSize}, numLayers=${this.numLayers}${proj})`;
  }

  /**
   * Checks a given h0 against [L*D, batch, H], c0 against [L*D, batch, hidden] (no batch
   * axis when unbatched); zeros when not given. Returns it as [L*D, batch, width].
   */
  #initial(
    given: Tensor | undefined,
    batch: number,
    batched: boolean,
    what: "h0" | "c0",
  ): Tensor {
    const n = this.numLayers * this.numDirections;
    const size = what === "h0" ? this.#hSize : this.hiddenSize;
    const shape = batched ? [n, batch, size] : [n, size];
    if (given && given.shape.join() !== shape.join()) {
      throw new Error(
        `rnnkit: ${this.#describe()}: expected ${what} of shape [${shape.join(", ")}], ` +
          `got [${given.shape.join(", ")}]`,
      );
    }
    return given ? reshape(given, [n, batch, size]) : zeros([n, batch, size]);
  }

  /** Runs every layer and direction; returns output and final states in PyTorch's shapes. */
  protected run(input: Tensor, h0?: Tensor, c0?: Tensor): { output: Tensor; h: Tensor; c?: Tensor };
  /** Runs every layer and direction over a packed batch. */
  protected run(
    input: PackedSequence,
    h0?: Tensor,
    c0?: Tensor,
  ): { output: PackedSequence; h: Tensor; c?: Tensor };
  /** Runs every layer and direction over a padded or a packed batch. */
  protected run(
    input: Tensor | PackedSequence,
    h0?: Tensor,
    c0?: Tensor,
  ): { output: Tensor | PackedSequence; h: Tensor; c?: Tensor };
  protected run(
    input: Tensor | PackedSequence,
    h0?: Tensor,
    c0?: Tensor,
  ): { output: Tensor | PackedSequence; h: Tensor; c?: Tensor } {
    if (input instanceof PackedSequence) return this.#runPacked(input, h0, c0);
    const rank = input.shape.length;
    const layout = this.batchFirst ? "[batch, seq, input]" : "[seq, batch, input]";
    if ((rank !== 2 && rank !== 3) || input.shape.at(-1) !== this.inputSize) {
      throw new Error(
        `rnnkit: ${this.#describe()}: expected input ${layout} or [seq, input] with input = ` +
          `${this.inputSize}, got [${input.shape.join(", ")}]`,
      );
    }
    if (input.dtype !== "float32") {
      throw new Error(
        `rnnkit: ${this.#describe()}: expected a float32 input, got ${input.dtype} ` +
          "(for token indices, put an Embedding first)",
      );
    }
    const batched = rank === 3;
    const [seqLen, batchSize] = !batched
      ? [input.shape[0], 1]
      : this.batchFirst
      ? [input.shape[1], input.shape[0]]
      : [input.shape[0], input.shape[1]];
    if (seqLen === 0 || batchSize === 0) {
      throw new Error(
        `rnnkit: ${this.#describe()}: input [${input.shape.join(", ")}] has ` +
          `${seqLen === 0 ? "no time steps" : "an empty batch"}; sequences need at least one ` +
          "step and batches one sequence",
      );
    }
    // One step batch first is already [1, batch, input] in memory: a reshape, not a copy.
    let x = !batched
      ? reshape(input, [input.shape[0], 1, this.inputSize])
      : this.batchFirst
      ? seqLen === 1 ? reshape(input, [1, batchSize, this.inputSize]) : transpose(input, [1, 0, 2])
      : input;
    const batch = x.shape[1];
    const h0s = this.#initial(h0, batch, batched, "h0");
    const c0s = this.mode === "LSTM" ? this.#initial(c0, batch, batched, "c0") : undefined;
    const unbatched = (t: Tensor) => batched ? t : reshape(t, [t.shape[0], t.shape[2]]);
    // Dropout between layers and a second direction are not in the fused stack step.
    const dropping = this.training && this.dropout > 0 && this.numLayers > 1;
    const stacked = this.numDirections === 1 && !dropping &&
      fusedStackStep(this.mode, x, h0s, c0s, this.#weights);
    if (stacked) {
      const { output: y, h, c } = stacked;
      const output = reshape(
        y,
        batched ? this.batchFirst ? [batch, 1, -1] : [1, batch, -1] : [1, -1],
      );
      return { output, h: unbatched(h), c: c && unbatched(c) };
    }
    const hs = unbind(h0s);
    const cs = c0s ? unbind(c0s) : null;
    const finals: State[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < this.numDirections; d++) {
        const k = l * this.numDirections + d;
        const res = recurrentLayer(
          this.mode,
          x,
          { h: hs[k], c: cs?.[k] },
          this.#weights[k],
          d === 1,
        );
        outs.push(res.output);
        finals.push(res.state);
      }
      x = outs.length === 1 ? outs[0] : concat(outs, 2);
      if (this.training && this.dropout > 0 && l < this.numLayers - 1) {
        x = dropout(x, this.dropout, this.#rng);
      }
    }
    const hidden = (key: "h" | "c") => unbatched(stack(finals.map((s) => s[key]!)));
    const output = !batched
      ? reshape(x, [x.shape[0], -1])
      : this.batchFirst
      ? seqLen === 1 ? reshape(x, [batchSize, 1, x.shape[2]]) : transpose(x, [1, 0, 2])
      : x;
    return { output, h: hidden("h"), c: cs ? hidden("c") : undefined };
  }

  /**
   * The run over a packed batch: every layer and direction over the sorted batch, only the
   * sequences still running at each step (`packedRecurrentLayer`: the composite loop where
   * lengths differ, as no fused op takes lengths). Layers pass packed data to each other, so
   * dropout acts on it as in PyTorch. h0/c0 and hN/cN are in the caller's order, permuted
   * here by the sequence's indices.
   */
  #runPacked(
    input: PackedSequence,
    h0?: Tensor,
    c0?: Tensor,
  ): { output: PackedSequence; h: Tensor; c?: Tensor } {
    const data = input.data;
    if (data.shape.length !== 2 || data.shape[1] !== this.inputSize) {
      throw new Error(
        `rnnkit: ${this.#describe()}: expected packed data [sum(lengths), input] with ` +
          `input = ${this.inputSize}, got [${data.shape.join(", ")}]`,
      );
    }
    if (data.dtype !== "float32") {
      throw new Error(
        `rnnkit: ${this.#describe()}: expected float32 packed data, got ${data.dtype} ` +
          "(for token indices, embed them before packing)",
      );
    }
    const { batchSizes, sortedIndices, unsortedIndices } = input;
    const batch = batchSizes[0];
    const sort = (given: Tensor | undefined, what: "h0" | "c0") => {
      const states = unbind(this.#initial(given, batch, true, what));
      return given && sortedIndices ? states.map((s) => gatherRows(s, sortedIndices)) : states;
    };
    const hs = sort(h0, "h0");
    const cs = this.mode === "LSTM" ? sort(c0, "c0") : null;
    const finals: State[] = [];
    let x = data;
    for (let l = 0; l < this.numLayers; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < this.numDirections; d++) {
        const k = l * this.numDirections + d;
        const res = packedRecurrentLayer(
          this.mode,
          x,
          batchSizes,
          { h: hs[k], c: cs?.[k] },
          this.#weights[k],
          d === 1,
        );
        outs.push(res.output);
        finals.push(res.state);
      }
      x = outs.length === 1 ? outs[0] : concat(outs, 1);
      if (this.training && this.dropout > 0 && l < this.numLayers - 1) {
        x = dropout(x, this.dropout, this.#rng);
      }
    }
    const hidden = (key: "h" | "c") =>
      stack(finals.map((s) => unsortedIndices ? gatherRows(s[key]!, unsortedIndices) : s[key]!));
    return {
      output: new PackedSequence(x, batchSizes, sortedIndices, unsortedIndices),
      h: hidden("h"),
      c: cs ? hidden("c") : undefined,
    };
  }
}

/** Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu), stacked numLayers deep. */
export class RNN extends RNNBase {
  /** The activation, "tanh" or "relu". */
  readonly nonlinearity: "tanh" | "relu";

  /** An RNN from `inputSize` features to `hiddenSize`; see `RNNOptions` for the defaults. */
  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const nl = options.nonlinearity ?? "tanh";
    if (nl !== "tanh" && nl !== "relu") {
      throw new Error(`rnnkit: RNN: nonlinearity must be "tanh" or "relu", got "${nl}"`);
    }
    super(nl === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, options);
    this.nonlinearity = nl;
  }

  /** Returns [output, hN]. */
  forward(input: Tensor, h0?: Tensor): [Tensor, Tensor];
  /**
   * Over a packed batch: returns [packed output, hN], hN at each sequence's own last step;
   * h0 and hN in the caller's order.
   */
  forward(input: PackedSequence, h0?: Tensor): [PackedSequence, Tensor];
  /** Returns [output, hN], the output packed if the input is. */
  forward(input: Tensor | PackedSequence, h0?: Tensor): [Tensor | PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, h0?: Tensor): [Tensor | PackedSequence, Tensor] {
    const { output, h } = this.run(input, h0);
    return [output, h];
  }
}

/**
 * Long short-term memory with PyTorch's gate order (i, f, g, o), optionally with a
 * projection of h (`projSize`).
 */
export class LSTM extends RNNBase {
  /** An LSTM from `inputSize` features to `hiddenSize`; see `LSTMOptions` for the defaults. */
  constructor(inputSize: number, hiddenSize: number, options: LSTMOptions = {}) {
    super("LSTM", inputSize, hiddenSize, options);
  }

  /** Returns [output, [hN, cN]]. */
  forward(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]];
  /**
   * Over a packed batch: returns [packed output, [hN, cN]], at each sequence's own last step;
   * hx and the result in the caller's order.
   */
  forward(input: PackedSequence, hx?: [Tensor, Tensor]): [PackedSequence, [Tensor, Tensor]];
  /** Returns [output, [hN, cN]], the output packed if the input is. */
  forward(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor],
  ): [Tensor | PackedSequence, [Tensor, Tensor]];
  forward(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor],
  ): [Tensor | PackedSequence, [Tensor, Tensor]] {
    const { output, h, c } = this.run(input, hx?.[0], hx?.[1]);
    return [output, [h, c!]];
  }
}

/** Gated recurrent unit, PyTorch's variant (reset gate applied after the hidden matmul). */
export class GRU extends RNNBase {
  /** A GRU from `inputSize` features to `hiddenSize`; see `RNNBaseOptions` for the defaults. */
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super("GRU", inputSize, hiddenSize, options);
  }

  /** Returns [output, hN]. */
  forward(input: Tensor, h0?: Tensor): [Tensor, Tensor];
  /**
   * Over a packed batch: returns [packed output, hN], hN at each sequence's own last step;
   * h0 and hN in the caller's order.
   */
  forward(input: PackedSequence, h0?: Tensor): [PackedSequence, Tensor];
  /** Returns [output, hN], the output packed if the input is. */
  forward(input: Tensor | PackedSequence, h0?: Tensor): [Tensor | PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, h0?: Tensor): [Tensor | PackedSequence, Tensor] {
    const { output, h } = this.run(input, h0);
    return [output, h];
  }
}

/**
 * PyTorch's proj_size rules: LSTM only (0 elsewhere), an integer >= 0 and < hiddenSize,
 * each broken rule named with the value.
 */
function checkProjSize(module: string, mode: RecurrentMode, projSize: number, hidden: number) {
  if (projSize !== 0 && mode !== "LSTM") {
    throw new Error(`rnnkit: ${module}: projSize is only supported by LSTM, got ${projSize}`);
  }
  if (!Number.isInteger(projSize) || projSize < 0) {
    throw new Error(
      `rnnkit: ${module}: projSize must be a non-negative integer (0: no projection), ` +
        `got ${projSize}`,
    );
  }
  if (projSize >= hidden) {
    throw new Error(
      `rnnkit: ${module}: projSize must be smaller than hiddenSize = ${hidden}, got ${projSize}`,
    );
  }
}
