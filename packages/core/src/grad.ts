/**
 * Derivative formulas shared by the ops' backward closures (ops.ts) and the recurrent
 * layer's hand-written backward pass; not part of the public API.
 */
import { getBackend } from "./engine.ts";
import { mul, sub } from "./ops.ts";
import { Tensor } from "./tensor.ts";

/** g * tanh'(x) given y = tanh(x): g (1 - y^2). */
export function tanhGrad(g: Tensor, y: Tensor): Tensor {
  return sub(g, mul(g, mul(y, y)));
}

/** g * sigmoid'(x) given y = sigmoid(x): g y (1 - y). */
export function sigmoidGrad(g: Tensor, y: Tensor): Tensor {
  return mul(g, sub(y, mul(y, y)));
}

/** 1 where x > 0, else 0; not differentiable (relu's derivative). */
export function stepMask(x: Tensor): Tensor {
  return new Tensor(getBackend().step(x.handle), x.shape);
}
