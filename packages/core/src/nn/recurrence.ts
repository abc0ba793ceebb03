/**
 * The recurrent math shared by the cells and the sequence layers, composite over core ops.
 * Gate layouts follow PyTorch: LSTM rows are (i, f, g, o), GRU rows are (r, z, n) with the
 * reset gate applied to the hidden projection including its bias.
 */
import { add, matmul, mul, relu, sigmoid, split, sub, tanh } from "../ops.ts";
import type { Tensor } from "../tensor.ts";
import { RECURRENT_GATES, type RecurrentMode } from "../backend.ts";

/** Rows of weight_ih / weight_hh per hidden unit. */
export const GATES = RECURRENT_GATES;

/**
 * Hidden state (and LSTM cell state), each [batch, hidden]; h is [batch, projSize] for an
 * LSTM with a projection.
 */
export interface State {
  h: Tensor;
  c?: Tensor;
}

/** One layer's (or cell's) weights, PyTorch's `weight_ih`, `weight_hh`, `bias_*`, `weight_hr`. */
export interface Weights {
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor | null;
  bHh: Tensor | null;
  /** LSTM with projSize only: [projSize, hidden], h = (o * tanh(c)) W_hr^T after each step. */
  wHr?: Tensor;
}

function affine(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const y = matmul(x, w, false, true);
  return b ? add(y, b) : y;
}

/**
 * One time step from the projections xp = x W_ih^T + b_ih and hp = h W_hh^T + b_hh, both
 * [batch, gates*hidden]. Differentiable when gradients are recorded (the cells); also
 * returns the activations the sequence layer's hand-written backward pass needs. The LSTM's
 * h is o * tanh(c), before any projection (the sequence layer applies W_hr).
 */
export function stepForward(
  mode: RecurrentMode,
  xp: Tensor,
  hp: Tensor,
  h: Tensor,
  c: Tensor | undefined,
) {
  // From the gates, not h: an LSTM's projected h is narrower than its cell.
  const size = xp.shape[1] / GATES[mode];
  switch (mode) {
    case "RNN_TANH":
    case "RNN_RELU": {
      const next = mode === "RNN_TANH" ? tanh(add(xp, hp)) : relu(add(xp, hp));
      return { h: next, c: undefined, acts: [next] };
    }
    case "LSTM": {
      const [i, f, g, o] = split(add(xp, hp), [size, size, size, size], 1);
      const [si, sf, tg, so] = [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)];
      const next = add(mul(sf, c!), mul(si, tg));
      const tc = tanh(next);
      return { h: mul(so, tc), c: next, acts: [si, sf, tg, so, tc] };
    }
    case "GRU": {
      const [xr, xz, xn] = split(xp, [size, size, size], 1);
      const [hr, hz, hn] = split(hp, [size, size, size], 1);
      const r = sigmoid(add(xr, hr));
      const z = sigmoid(add(xz, hz));
      const n = tanh(add(xn, mul(r, hn)));
      // (1 - z) * n + z * h, written with one fewer op.
      return { h: add(n, mul(z, sub(h, n))), c: undefined, acts: [r, z, n, hn] };
    }
  }
}

/** One cell step from the raw input x [batch, input]. */
export function cell(mode: RecurrentMode, x: Tensor, state: State, w: Weights): State {
  const { h, c } = stepForward(
    mode,
    affine(x, w.wIh, w.bIh),
    affine(state.h, w.wHh, w.bHh),
    state.h,
    state.c,
  );
  return { h, c };
}
