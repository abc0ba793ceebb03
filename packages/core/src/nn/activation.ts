/** Activation functions as modules, for `Sequential` (PyTorch's `nn.Tanh`, `nn.ReLU`, ...). */
import { relu, sigmoid, tanh } from "../ops.ts";
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
