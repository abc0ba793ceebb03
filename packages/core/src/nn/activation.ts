/** Activation functions as modules, for `Sequential` (PyTorch's `nn.Tanh`, `nn.ReLU`, ...). */
import { add, gelu, logSoftmax, mul, pow, relu, scale, sigmoid, softmax, tanh } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** tanh, elementwise (PyTorch's `nn.Tanh`). */
export class Tanh extends Module {
  /** tanh(x). */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** max(x, 0), elementwise (PyTorch's `nn.ReLU`). */
export class ReLU extends Module {
  /** relu(x). */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** 1 / (1 + e^-x), elementwise (PyTorch's `nn.Sigmoid`). */
export class Sigmoid extends Module {
  /** sigmoid(x). */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Options of `GELU`, with PyTorch's default. */
export interface GELUOptions {
  /** "none": x Φ(x) with the exact normal CDF; "tanh": PyTorch's tanh approximation. Default "none". */
  approximate?: "none" | "tanh";
}

/** x Φ(x), elementwise (PyTorch's `nn.GELU`); options: `approximate` (default "none"). */
export class GELU extends Module {
  /** "none" (exact) or "tanh". */
  readonly approximate: "none" | "tanh";

  /** A GELU; see `GELUOptions` for the default. */
  constructor(options: GELUOptions = {}) {
    super();
    this.approximate = options.approximate ?? "none";
    if (this.approximate !== "none" && this.approximate !== "tanh") {
      throw new Error(
        `rnnkit: GELU: approximate must be "none" or "tanh", got ${
          JSON.stringify(this.approximate)
        }`,
      );
    }
  }

  /** gelu(x), or 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x^3))) with "tanh". */
  forward(x: Tensor): Tensor {
    if (this.approximate === "none") return gelu(x);
    const inner = scale(add(x, scale(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(scale(x, 0.5), add(tanh(inner), 1));
  }
}

/** Checks a softmax module's dimension. */
function checkDim(module: string, dim: number): number {
  if (!Number.isInteger(dim)) {
    // PyTorch's dim=None picks one by the input's rank and warns; rnnkit asks for it.
    throw new Error(`rnnkit: ${module}: dim must be an integer (e.g. -1), got ${dim}`);
  }
  return dim;
}

/** Softmax along `dim` (PyTorch's `nn.Softmax(dim)`; the dimension is required). */
export class Softmax extends Module {
  /** The dimension whose values sum to 1. */
  readonly dim: number;

  /** A softmax over dimension `dim` (negative counts from the end). */
  constructor(dim: number) {
    super();
    this.dim = checkDim("Softmax", dim);
  }

  /** softmax(x, dim). */
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
}

/** Log-softmax along `dim` (PyTorch's `nn.LogSoftmax(dim)`; the dimension is required). */
export class LogSoftmax extends Module {
  /** The dimension normalised over. */
  readonly dim: number;

  /** A log-softmax over dimension `dim` (negative counts from the end). */
  constructor(dim: number) {
    super();
    this.dim = checkDim("LogSoftmax", dim);
  }

  /** logSoftmax(x, dim). */
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
}
