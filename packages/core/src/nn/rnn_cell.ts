/**
 * Single-step cells: RNNCell, LSTMCell, GRUCell, with PyTorch's keys `weight_ih`,
 * `weight_hh`, `bias_ih`, `bias_hh`. Input [batch, input] or [input]; state likewise.
 */
import { reshape, zeros } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { checkSize, Module, uniformInit } from "./module.ts";
import { cell, GATES, type Weights } from "./recurrence.ts";
import type { RecurrentMode } from "../backend.ts";

/** Options of every cell. */
export interface RNNCellBaseOptions {
  /** Use the biases b_ih and b_hh. Default true. */
  bias?: boolean;
  /**
   * Generator of the initial weights and biases, U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)).
   * Default: the global generator.
   */
  rng?: Random;
}

/** Options of `RNNCell`. */
export interface RNNCellOptions extends RNNCellBaseOptions {
  /** "tanh" or "relu". Default "tanh". */
  nonlinearity?: "tanh" | "relu";
}

/** The base of RNNCell, LSTMCell and GRUCell (PyTorch's `RNNCellBase`): weights and one step. */
export abstract class RNNCellBase extends Module {
  readonly #w: Weights;

  /**
   * The weights of a `mode` cell from `inputSize` features to `hiddenSize` (positive
   * integers): `weight_ih` [gates*hiddenSize, inputSize], `weight_hh` [gates*hiddenSize,
   * hiddenSize] and, with biases, `bias_ih` and `bias_hh` [gates*hiddenSize].
   */
  constructor(
    readonly mode: RecurrentMode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    options: RNNCellBaseOptions,
  ) {
    super();
    checkSize(this.constructor.name, { inputSize, hiddenSize });
    const rng = options.rng ?? globalRandom();
    const bound = 1 / Math.sqrt(hiddenSize);
    const rows = GATES[mode] * hiddenSize;
    const param = (name: string, shape: number[]) =>
      this.registerParameter(name, uniformInit(rng, shape, bound), shape);
    this.#w = {
      wIh: param("weight_ih", [rows, inputSize]),
      wHh: param("weight_hh", [rows, hiddenSize]),
      bIh: options.bias === false ? null : param("bias_ih", [rows]),
      bHh: options.bias === false ? null : param("bias_hh", [rows]),
    };
  }

  /**
   * One step: input [batch, inputSize] or [inputSize], state of the matching shape
   * ([batch, hiddenSize] or [hiddenSize]; default zeros; c for LSTM only) -> the new state.
   */
  protected step(input: Tensor, h?: Tensor, c?: Tensor): { h: Tensor; c?: Tensor } {
    const name = `${this.constructor.name}(${this.inputSize}, ${this.hiddenSize})`;
    const rank = input.shape.length;
    if ((rank !== 1 && rank !== 2) || input.shape.at(-1) !== this.inputSize) {
      throw new Error(
        `rnnkit: ${name}: expected input [batch, ${this.inputSize}] or [${this.inputSize}], ` +
          `got [${input.shape.join(", ")}]`,
      );
    }
    if (input.dtype !== "float32") {
      throw new Error(`rnnkit: ${name}: expected a float32 input, got ${input.dtype}`);
    }
    const batch = rank === 2 ? input.shape[0] : 1;
    if (batch === 0) {
      throw new Error(`rnnkit: ${name}: input [0, ${this.inputSize}] is an empty batch`);
    }
    const stateShape = rank === 2 ? [batch, this.hiddenSize] : [this.hiddenSize];
    const prepare = (s: Tensor | undefined, what: string) => {
      if (s && s.shape.join() !== stateShape.join()) {
        throw new Error(
          `rnnkit: ${name}: expected ${what} of shape [${stateShape.join(", ")}], got [${
            s.shape.join(", ")
          }]`,
        );
      }
      return s ? reshape(s, [batch, this.hiddenSize]) : zeros([batch, this.hiddenSize]);
    };
    const state = cell(
      this.mode,
      reshape(input, [batch, this.inputSize]),
      {
        h: prepare(h, "hidden state"),
        c: this.mode === "LSTM" ? prepare(c, "cell state") : undefined,
      },
      this.#w,
    );
    return {
      h: reshape(state.h, stateShape),
      c: state.c && reshape(state.c, stateShape),
    };
  }
}

/** h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu). */
export class RNNCell extends RNNCellBase {
  /** A cell from `inputSize` features to `hiddenSize`. */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    const nl = options.nonlinearity ?? "tanh";
    if (nl !== "tanh" && nl !== "relu") {
      throw new Error(`rnnkit: RNNCell: nonlinearity must be "tanh" or "relu", got "${nl}"`);
    }
    super(nl === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, options);
  }

  /** input [batch, input] (or [input]) and h [batch, hidden] (default zeros) -> h'. */
  forward(input: Tensor, hx?: Tensor): Tensor {
    return this.step(input, hx).h;
  }
}

/** An LSTM cell with PyTorch's gate order (i, f, g, o). */
export class LSTMCell extends RNNCellBase {
  /** A cell from `inputSize` features to `hiddenSize`. */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellBaseOptions = {}) {
    super("LSTM", inputSize, hiddenSize, options);
  }

  /** input [batch, input] (or [input]) and [h, c] [batch, hidden] (default zeros) -> [h', c']. */
  forward(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, Tensor] {
    const { h, c } = this.step(input, hx?.[0], hx?.[1]);
    return [h, c!];
  }
}

/** A GRU cell, PyTorch's variant (reset gate applied after the hidden matmul). */
export class GRUCell extends RNNCellBase {
  /** A cell from `inputSize` features to `hiddenSize`. */
  constructor(inputSize: number, hiddenSize: number, options: RNNCellBaseOptions = {}) {
    super("GRU", inputSize, hiddenSize, options);
  }

  /** input [batch, input] (or [input]) and h [batch, hidden] (default zeros) -> h'. */
  forward(input: Tensor, hx?: Tensor): Tensor {
    return this.step(input, hx).h;
  }
}
