/**
 * The recurrent math shared by the cells and the sequence layers, composite over core ops.
 * Gate layouts follow PyTorch: LSTM rows are (i, f, g, o), GRU rows are (r, z, n) with the
 * reset gate applied to the hidden projection including its bias.
 */
import {
  add,
  matmul,
  mul,
  relu,
  reshape,
  sigmoid,
  split,
  stack,
  sub,
  tanh,
  unstack,
} from "../ops.ts";
import type { Tensor } from "../tensor.ts";

export type Mode = "RNN_TANH" | "RNN_RELU" | "LSTM" | "GRU";

/** Rows of weight_ih / weight_hh per hidden unit. */
export const GATES: Record<Mode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

/** Hidden state (and LSTM cell state), each [batch, hidden]. */
export interface State {
  h: Tensor;
  c?: Tensor;
}

export interface Weights {
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor | null;
  bHh: Tensor | null;
}

function affine(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const y = matmul(x, w, false, true);
  return b ? add(y, b) : y;
}

/** One time step given the input projection xp = x W_ih^T + b_ih [batch, gates*hidden]. */
export function cellStep(mode: Mode, xp: Tensor, state: State, w: Weights): State {
  const hp = affine(state.h, w.wHh, w.bHh);
  const size = state.h.shape[1];
  switch (mode) {
    case "RNN_TANH":
      return { h: tanh(add(xp, hp)) };
    case "RNN_RELU":
      return { h: relu(add(xp, hp)) };
    case "LSTM": {
      const [i, f, g, o] = split(add(xp, hp), [size, size, size, size], 1);
      const c = add(mul(sigmoid(f), state.c!), mul(sigmoid(i), tanh(g)));
      return { h: mul(sigmoid(o), tanh(c)), c };
    }
    case "GRU": {
      const [xr, xz, xn] = split(xp, [size, size, size], 1);
      const [hr, hz, hn] = split(hp, [size, size, size], 1);
      const r = sigmoid(add(xr, hr));
      const z = sigmoid(add(xz, hz));
      const n = tanh(add(xn, mul(r, hn)));
      // (1 - z) * n + z * h, written with one fewer op.
      return { h: add(n, mul(z, sub(state.h, n))) };
    }
  }
}

/** One cell step from the raw input x [batch, input]. */
export function cell(mode: Mode, x: Tensor, state: State, w: Weights): State {
  return cellStep(mode, affine(x, w.wIh, w.bIh), state, w);
}

/**
 * One layer, one direction, over a whole sequence x [seq, batch, input]. The input
 * projection of every step is one matmul; only the recurrent matmul stays in the loop.
 * Returns the outputs [seq, batch, hidden] and the final state.
 */
export function layer(mode: Mode, x: Tensor, state: State, w: Weights, reverse: boolean) {
  const [seq, batch, input] = x.shape;
  const xp = affine(reshape(x, [seq * batch, input]), w.wIh, w.bIh);
  const steps = unstack(reshape(xp, [seq, batch, -1]));
  const outputs: Tensor[] = new Array(seq);
  for (let k = 0; k < seq; k++) {
    const t = reverse ? seq - 1 - k : k;
    state = cellStep(mode, steps[t], state, w);
    outputs[t] = state.h;
  }
  return { output: stack(outputs), state };
}
