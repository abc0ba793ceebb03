/**
 * The backend contract: the only thing a compute backend implements.
 *
 * Core (tensors, autograd, modules, optimizers) is written against this interface alone.
 * Every op takes and returns opaque handles owned by the backend; core tracks shapes and
 * dtypes itself, so a backend never needs to report them. Gradients are not a backend's
 * business: they are written once, in core, in terms of these ops.
 *
 * Conventions for every op:
 * - Float ops take and return float32 handles; `indices` arguments are int32 handles.
 * - Binary elementwise ops broadcast like NumPy/PyTorch.
 * - Ops never modify their inputs and always return a new handle (even `reshape`), so
 *   core can dispose inputs and outputs independently.
 */

/** An opaque reference to backend-owned storage (a tfjs tensor, a GPU buffer, ...). */
export type Handle = { readonly __handle: unique symbol };

/** Element type of a tensor: float32 for values, int32 for indices and class labels. */
export type DType = "float32" | "int32";

/**
 * A compute backend: storage and the primitive ops core builds everything else from;
 * `setBackend` makes one current. Float ops take and return float32 handles, `indices` are
 * int32; binary ops broadcast; no op modifies its inputs, and each returns a new handle.
 */
export interface Backend {
  /** Short name used by the CLI and in error messages, e.g. "tfjs", "wasm". */
  readonly name: string;
  /** Optional details printed at start-up, e.g. which GPU adapter is in use. */
  readonly description?: string;

  // --- Storage -------------------------------------------------------------------------
  /** Uploads host values (row-major) as a new tensor of the given shape and dtype. */
  fromArray(values: Float32Array | Int32Array, shape: readonly number[], dtype: DType): Handle;
  /** Downloads a tensor's values (row-major). Async because GPU backends must wait. */
  read(x: Handle): Promise<Float32Array | Int32Array>;
  /** Frees a tensor. Core calls it exactly once per handle. */
  dispose(x: Handle): void;
  /** Live tensors and bytes held by the backend, for leak tests and benchmarks. */
  memory(): { numTensors: number; numBytes: number };

  // --- Creation ------------------------------------------------------------------------
  /** A float32 tensor of the given shape filled with `value`. */
  fill(shape: readonly number[], value: number): Handle;
  /** One-hot rows: [n] int32 -> [n, depth] float32; an index outside [0, depth) gives zeros. */
  oneHot(indices: Handle, depth: number): Handle;

  // --- Elementwise ---------------------------------------------------------------------
  /** a + b, broadcasting. */
  add(a: Handle, b: Handle): Handle;
  /** a - b, broadcasting. */
  sub(a: Handle, b: Handle): Handle;
  /** a * b elementwise, broadcasting. */
  mul(a: Handle, b: Handle): Handle;
  /** a / b elementwise, broadcasting. */
  div(a: Handle, b: Handle): Handle;
  /** a * s, for a host scalar s (saves uploading a scalar tensor on hot paths). */
  scale(a: Handle, s: number): Handle;
  /** -x. */
  neg(x: Handle): Handle;
  /** e^x. */
  exp(x: Handle): Handle;
  /** Natural logarithm. */
  log(x: Handle): Handle;
  /** Square root. */
  sqrt(x: Handle): Handle;
  /** Hyperbolic tangent. */
  tanh(x: Handle): Handle;
  /** 1 / (1 + e^-x). */
  sigmoid(x: Handle): Handle;
  /** max(x, 0). */
  relu(x: Handle): Handle;
  /** 1 where x > 0, else 0 (float32). The derivative of relu. */
  step(x: Handle): Handle;
  /**
   * The error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt, elementwise, to within
   * 1.5e-7 absolute (tfjs's approximation; native uses libm's erff). Exact GELU needs it.
   */
  erf(x: Handle): Handle;
  /**
   * Elementwise selection: `a` where `cond` != 0, else `b`; the three broadcast together.
   * `cond` is float32 (core's masks hold 0 and 1). Unlike cond * a + (1 - cond) * b, an
   * infinity or NaN in the branch not taken never reaches the result.
   */
  where(cond: Handle, a: Handle, b: Handle): Handle;

  // --- Linear algebra and reductions ---------------------------------------------------
  /** 2-D matrix product op(a) @ op(b), where op transposes when the flag is set. */
  matmul(a: Handle, b: Handle, transposeA: boolean, transposeB: boolean): Handle;
  /** Sum over `axes`; the reduced axes are dropped unless keepDims. */
  sum(x: Handle, axes: readonly number[], keepDims: boolean): Handle;
  /** Maximum over `axes` (no gradient is ever needed: core uses it only for stability). */
  max(x: Handle, axes: readonly number[], keepDims: boolean): Handle;
  /**
   * Index (int32) of the maximum along `axis`, which is dropped: [.., n, ..] -> [.., ..].
   * Ties give the first index and a NaN counts as the maximum (the first NaN wins), as
   * PyTorch's `argmax`. `n` is at least 1.
   */
  argMax(x: Handle, axis: number): Handle;

  // --- Movement ------------------------------------------------------------------------
  /** The same values (row-major) with a new shape of the same size; a new handle. */
  reshape(x: Handle, shape: readonly number[]): Handle;
  /** Axes permuted: output axis i is input axis perm[i] (`torch.permute`). */
  transpose(x: Handle, perm: readonly number[]): Handle;
  /** `x` repeated to `shape` by NumPy broadcasting (a copy, even when shapes agree). */
  broadcastTo(x: Handle, shape: readonly number[]): Handle;
  /** Splits `x` along `axis` into consecutive pieces of the given sizes. */
  split(x: Handle, sizes: readonly number[], axis: number): Handle[];
  /** Joins two or more tensors along `axis`; the other axes agree. */
  concat(xs: readonly Handle[], axis: number): Handle;
  /** Rows of `x` picked by `indices` along axis 0: [n] int32 -> [n, ...x.shape[1:]]. */
  gather(x: Handle, indices: Handle): Handle;

  // --- Optional fused ops ----------------------------------------------------------------
  /**
   * Optional fused kernels. Core has a composite fallback for each, built from the other
   * ops; a backend provides one only where it is faster and passes the same parity tests.
   */
  fused?: FusedOps;
}

/** Fused ops a backend may provide; core falls back to a composite where each is used. */
export interface FusedOps {
  /**
   * Gradient of a row gather: scatter-adds the rows of `grad` [n, d] into a zeroed
   * [numRows, d] tensor at `indices` [n]; rows whose index is outside [0, numRows) are
   * dropped. The fallback is oneHot(indices)^T @ grad.
   */
  scatterAddRows?(grad: Handle, indices: Handle, numRows: number): Handle;
  /**
   * The time loop of one recurrent layer (the cuDNN split: core does the input projection
   * and the weight gradients as single matmuls, the backend only the per-step work).
   * Runs `args.mode` over the steps in order (backwards if `reverse`) with
   * hp = h W_hh^T + b_hh and PyTorch's gate math (recurrence.ts's `stepForward`).
   * Returns `output` [seq*batch, hidden] (h of every step, in time order), the final h
   * and c [batch, hidden] and `saved` [seq*batch, RECURRENT_SAVED[mode]*hidden], whatever
   * the backend needs for `recurrentBackward`. The fallback is the composite loop in
   * recurrent_layer.ts.
   */
  recurrentForward?(args: RecurrentArgs): { output: Handle; h: Handle; c?: Handle; saved: Handle };
  /**
   * Backward of `recurrentForward` through time, given the gradients of its outputs.
   * Returns the gradients of the pre-activations of every step, [seq*batch, gates*hidden]:
   * `dxp` for the input projection and `dhp` for the hidden one (GRU only: for RNN and
   * LSTM they are the same), and of the initial state. Optionally also `dWhh`, wHh's
   * gradient [gates*hidden, hidden]: dhp^T times the state each step started from (h0,
   * then the previous step's output); without it, core concatenates those states and
   * multiplies.
   */
  recurrentBackward?(
    args: RecurrentArgs & {
      output: Handle;
      saved: Handle;
      gOut: Handle;
      gH: Handle;
      gC?: Handle;
    },
  ): { dxp: Handle; dhp?: Handle; dh0: Handle; dc0?: Handle; dWhh?: Handle };
  /**
   * One time step of a stack of unidirectional recurrent layers, with no gradient (e.g.
   * generation, one token at a time): layer 0 reads `args.x`, each later layer the new h
   * of the one below, and each runs `args.mode`'s cell on x W_ih^T + b_ih and
   * h W_hh^T + b_hh (recurrence.ts's `stepForward`). Returns the new h (and c, LSTM) of
   * every layer, [layers, batch, hidden] as PyTorch's hN. The fallback: `recurrentLayer`
   * per layer.
   */
  recurrentStackStep?(args: RecurrentStackStepArgs): { h: Handle; c?: Handle };
  /**
   * Cross-entropy of each row of `logits` [rows, classes] against int32 `targets` [rows]:
   * losses[i] = log(sum_j e^logits[i, j]) - logits[i, targets[i]], computed stably (shifted
   * by the row's maximum), and 0 where targets[i] is outside [0, classes). Returns the
   * losses [rows] and softmax(logits) [rows, classes], which `crossEntropyBackward` takes.
   * The fallback: log-softmax and a one-hot pick (loss/cross_entropy.ts, ~25 ops with the
   * gradient's).
   */
  crossEntropy?(logits: Handle, targets: Handle): { losses: Handle; softmax: Handle };
  /**
   * The gradient of `crossEntropy`'s losses for upstream `g` [rows]: [rows, classes], row i
   * g[i] * (softmax[i] - onehot(targets[i])), and zeros where targets[i] is outside
   * [0, classes).
   */
  crossEntropyBackward?(softmax: Handle, targets: Handle, g: Handle): Handle;
  /** One Adam update (`AdamArgs`) in one pass; returns the new p, m and v. The fallback is
   * a dozen elementwise ops in adam.ts. */
  adamStep?(args: AdamArgs): { p: Handle; m: Handle; v: Handle };
}

/**
 * One Adam step for one parameter, element by element as in PyTorch:
 * m' = b1 m + (1 - b1) g; v' = b2 v + (1 - b2) g^2;
 * p' = p - stepSize * m' / (sqrt(v') * invBias2Sqrt + eps).
 */
export interface AdamArgs {
  /** The parameter. */
  p: Handle;
  /** The gradient, weight decay already applied. */
  g: Handle;
  /** The first moment estimate (`exp_avg`). */
  m: Handle;
  /** The second moment estimate (`exp_avg_sq`). */
  v: Handle;
  /** Decay rate of m. */
  beta1: number;
  /** Decay rate of v. */
  beta2: number;
  /** Added to the denominator. */
  eps: number;
  /** lr / (1 - beta1^step) */
  stepSize: number;
  /** 1 / sqrt(1 - beta2^step) */
  invBias2Sqrt: number;
}

/** A recurrent layer's kind, named as in cuDNN and PyTorch: Elman RNN (tanh or relu), LSTM, GRU. */
export type RecurrentMode = "RNN_TANH" | "RNN_RELU" | "LSTM" | "GRU";

/** Gates per hidden unit: the rows of weight_ih / weight_hh are gates*hidden. */
export const RECURRENT_GATES: Record<RecurrentMode, number> = {
  RNN_TANH: 1,
  RNN_RELU: 1,
  LSTM: 4,
  GRU: 3,
};

/** Columns per hidden unit of `recurrentForward`'s `saved`. */
export const RECURRENT_SAVED: Record<RecurrentMode, number> = {
  RNN_TANH: 0,
  RNN_RELU: 0,
  LSTM: 6,
  GRU: 4,
};

/** One step of a stack of layers: see `FusedOps.recurrentStackStep`. */
export interface RecurrentStackStepArgs {
  /** Which cell every layer runs. */
  mode: RecurrentMode;
  /** Sequences in the step. */
  batch: number;
  /** Hidden size of every layer. */
  hidden: number;
  /** Layer 0's input, [batch, input]. */
  x: Handle;
  /** Every layer's state before the step, [layers, batch, hidden] (PyTorch's h0). */
  h: Handle;
  /** Every layer's cell state before the step, [layers, batch, hidden]; LSTM only. */
  c?: Handle;
  /** Each layer's weights, bottom first, in PyTorch's layout. */
  layers: RecurrentStackLayer[];
}

/** One layer's weights in `RecurrentStackStepArgs`. */
export interface RecurrentStackLayer {
  /** [gates*hidden, input], where input is x's width for layer 0 and hidden above it. */
  wIh: Handle;
  /** [gates*hidden, hidden] */
  wHh: Handle;
  /** [gates*hidden], or null without biases. */
  bIh: Handle | null;
  /** [gates*hidden], or null without biases. */
  bHh: Handle | null;
}

/** One recurrent layer's time loop: see `FusedOps.recurrentForward`. */
export interface RecurrentArgs {
  /** Which cell runs at every step. */
  mode: RecurrentMode;
  /** Number of time steps. */
  seq: number;
  /** Sequences per step. */
  batch: number;
  /** Hidden size. */
  hidden: number;
  /** Run the steps from last to first (the backward direction of a bidirectional layer). */
  reverse: boolean;
  /** x W_ih^T + b_ih for every step, [seq*batch, gates*hidden], in time order. */
  xp: Handle;
  /** [gates*hidden, hidden] */
  wHh: Handle;
  /** [gates*hidden], or null without biases. */
  bHh: Handle | null;
  /** Initial hidden state, [batch, hidden]. */
  h0: Handle;
  /** Initial cell state, [batch, hidden]; LSTM only. */
  c0?: Handle;
}
