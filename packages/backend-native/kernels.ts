/**
 * The native kernels (kernels.c) through Deno's FFI, behind a checking layer: the C loops
 * trust their arguments, so every call first checks, in TypeScript, that each array the
 * kernel reads or writes is there (not null) and holds at least the elements its size
 * arguments make it touch, that sizes are whole int32s >= 0, op codes exist and ranks fit
 * the C limit. A violation throws an Error naming the kernel and the argument (e.g.
 * "rnnkit: native: rk_copy_strided: rank 40 exceeds 32") instead of corrupting memory. A
 * check is a few comparisons per call (gather: one pass over the row indices).
 *
 * Arrays are typed arrays (or subarrays: the pointer includes the offset); sizes count
 * elements of the kernel's type (4-byte float32/int32 words, doubles for rk_reduce_cols's
 * scratch) and are checked against byteLength, so any typed array is measured right.
 * `null` stands for an absent bias (and an unused array).
 */
import { buildKernels, damaged } from "./build.ts";

const F = "buffer" as const;
const I = "i32" as const;
const R = "f32" as const;

const SYMBOLS = {
  rk_unary: { parameters: [I, F, F, I], result: "void" },
  rk_scale: { parameters: [F, R, F, I], result: "void" },
  rk_where: { parameters: [F, I, F, I, F, I, F, I], result: "void" },
  rk_argmax: { parameters: [F, I, I, I, F], result: "void" },
  rk_binary: { parameters: [I, F, F, F, I, I, I, I], result: "void" },
  rk_reduce_rows: { parameters: [I, F, I, I, F], result: "void" },
  rk_reduce_cols: { parameters: [I, F, I, I, F, F], result: "void" },
  rk_use_blas: { parameters: [F], result: I },
  rk_sgemm: { parameters: [I, I, I, I, I, F, F, F, R, I], result: I },
  rk_cross_entropy: { parameters: [F, F, I, I, F, F], result: "void" },
  rk_cross_entropy_backward: { parameters: [F, F, F, I, I, F], result: "void" },
  rk_adam: {
    parameters: [F, F, F, F, F, F, F, I, R, R, R, R, R],
    result: "void",
  },
  rk_recurrent_forward_loop: {
    parameters: [I, I, I, I, I, I, F, F, F, F, F, F, F],
    result: I,
  },
  rk_recurrent_backward_loop: {
    parameters: [I, I, I, I, I, I, F, F, F, F, F, F, F, F, F, F],
    result: I,
  },
  rk_recurrent_cell_step: {
    parameters: [I, I, I, I, I, F, F, F, F, F, F, F, F, F, F],
    result: "void",
  },
  rk_copy_strided: { parameters: [F, F, I, F, F], result: "void" },
  rk_gather_rows: { parameters: [F, I, F, I, F], result: "void" },
  rk_scatter_add_rows: { parameters: [F, I, F, I, I, F], result: "void" },
} as const;

/** The library's symbols as Deno's FFI gives them: unchecked. */
export type RawKernels = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** An array argument: any typed array (its bytes are what is measured), or null. */
type Arr = ArrayBufferView | null;

/** The kernels, each checking its arguments first (see the module doc). */
export interface Kernels {
  /** o[i] = op(x[i]) for i < n. */
  rk_unary(op: number, x: Arr, o: Arr, n: number): void;
  /** o[i] = x[i] * s for i < n. */
  rk_scale(x: Arr, s: number, o: Arr, n: number): void;
  /** o[i] = c[i] != 0 ? a[i] : b[i] for i < n; a step of 0 broadcasts one value. */
  rk_where(
    c: Arr,
    cStep: number,
    a: Arr,
    aStep: number,
    b: Arr,
    bStep: number,
    o: Arr,
    n: number,
  ): void;
  /** out[r, j] (int32) = first index of the maximum of x[r, :, j], x [outer, n, inner]. */
  rk_argmax(x: Arr, outer: number, n: number, inner: number, out: Arr): void;
  /** o = a op b over n elements in rows of `cols` (see kernels.c for b's layouts). */
  rk_binary(
    op: number,
    a: Arr,
    b: Arr,
    o: Arr,
    n: number,
    cols: number,
    bRow: number,
    bCol: number,
  ): void;
  /** o[r] = sum or max of x[r, :], x [rows, width]. */
  rk_reduce_rows(op: number, x: Arr, rows: number, width: number, o: Arr): void;
  /** o[c] = sum or max of x[:, c], x [rows, cols]; acc: cols doubles of scratch. */
  rk_reduce_cols(op: number, x: Arr, rows: number, cols: number, acc: Arr, o: Arr): void;
  /**
   * Makes rk_sgemm call the cblas_sgemm of the OpenBLAS at `path` (loaded, and set to one
   * thread, by the caller); throws if that library has none.
   */
  rk_use_blas(path: string): void;
  /**
   * c[m, n] = op(a) @ op(b) + beta * c (row-major, op transposes where its flag is 1), k >= 1,
   * on up to `threads` threads.
   */
  rk_sgemm(
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    a: Arr,
    b: Arr,
    c: Arr,
    beta: number,
    threads: number,
  ): void;
  /**
   * Cross-entropy of the rows of x [rows, classes] against int32 targets t [rows]: the
   * losses [rows] and the softmax [rows, classes].
   */
  rk_cross_entropy(x: Arr, t: Arr, rows: number, classes: number, loss: Arr, softmax: Arr): void;
  /** Its gradient for upstream g [rows]: dx [rows, classes]. */
  rk_cross_entropy_backward(
    softmax: Arr,
    t: Arr,
    g: Arr,
    rows: number,
    classes: number,
    dx: Arr,
  ): void;
  /** One Adam step over n elements. */
  rk_adam(
    p: Arr,
    g: Arr,
    m: Arr,
    v: Arr,
    pOut: Arr,
    mOut: Arr,
    vOut: Arr,
    n: number,
    beta1: number,
    beta2: number,
    eps: number,
    stepSize: number,
    invBias2Sqrt: number,
  ): void;
  /**
   * A layer's forward time loop on `threads` threads (kernels.c documents the arrays);
   * throws if its working space cannot be had.
   */
  rk_recurrent_forward_loop(
    mode: number,
    seq: number,
    batch: number,
    n: number,
    reverse: number,
    threads: number,
    xp: Arr,
    wHh: Arr,
    bHh: Arr,
    h0: Arr,
    c: Arr,
    saved: Arr,
    out: Arr,
  ): void;
  /** A layer's backward time loop, as the forward one. */
  rk_recurrent_backward_loop(
    mode: number,
    seq: number,
    batch: number,
    n: number,
    reverse: number,
    threads: number,
    wHh: Arr,
    out: Arr,
    saved: Arr,
    gOut: Arr,
    h0: Arr,
    c0: Arr,
    dh: Arr,
    dc: Arr,
    dxp: Arr,
    dhp: Arr,
  ): void;
  /**
   * One step of one layer without gradient, products included: x [batch, input], h, c
   * [batch, n] -> hOut, cOut [batch, n]; scratch: batch * (2 * gates + saved) * n floats;
   * on up to `threads` threads.
   */
  rk_recurrent_cell_step(
    mode: number,
    batch: number,
    input: number,
    n: number,
    threads: number,
    x: Arr,
    wIh: Arr,
    bIh: Arr,
    wHh: Arr,
    bHh: Arr,
    h: Arr,
    c: Arr,
    scratch: Arr,
    hOut: Arr,
    cOut: Arr,
  ): void;
  /** dst (contiguous) = src viewed with `shape` and element `strides` (int32 arrays). */
  rk_copy_strided(src: Arr, dst: Arr, rank: number, shape: Arr, strides: Arr): void;
  /** out[i, :] = table[rows[i], :] for i < n. */
  rk_gather_rows(table: Arr, width: number, rows: Arr, n: number, out: Arr): void;
  /** out[rows[i], :] += grad[i, :] into a zeroed out [numRows, width]. */
  rk_scatter_add_rows(
    grad: Arr,
    width: number,
    rows: Arr,
    n: number,
    numRows: number,
    out: Arr,
  ): void;
}

/** Op codes, in the order of kernels.c's enums. */
export const UNARY = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  sigmoid: 5,
  relu: 6,
  step: 7,
  erf: 8,
};
export const BINARY = { add: 0, sub: 1, mul: 2, div: 3 };
export const REDUCE = { sum: 0, max: 1 };
export const MODE = { RNN_TANH: 0, RNN_RELU: 1, LSTM: 2, GRU: 3 };

/** rk_copy_strided's odometer: `int index[32]` in kernels.c. */
export const MAX_RANK = 32;

/** Per mode (MODE's order): gates per hidden unit and saved columns per hidden unit. */
const GATES = [1, 1, 4, 3];
const SAVED = [0, 0, 6, 4];
const [LSTM, GRU] = [MODE.LSTM, MODE.GRU];

function fail(kernel: string, what: string): never {
  throw new Error(`rnnkit: native: ${kernel}: ${what}`);
}

/** `value` is a whole int32 >= 0 (what C's `int` size arguments need). */
function size(kernel: string, arg: string, value: number): void {
  if (!((value | 0) === value && value >= 0)) {
    fail(kernel, `${arg} must be a whole number in [0, 2^31), got ${value}`);
  }
}

/** `value` is an op code in [0, count). */
function code(kernel: string, arg: string, value: number, count: number): void {
  if (!((value | 0) === value && value >= 0 && value < count)) {
    fail(kernel, `${arg} ${value} is not one of its ${count} codes`);
  }
}

/** `buf` is an array of at least `count` elements of `bytes` bytes. */
function holds(kernel: string, arg: string, buf: Arr, count: number, bytes = 4): void {
  if (buf === null || buf === undefined) {
    fail(kernel, `${arg} is null, but the kernel touches ${count} elements of it`);
  }
  if (!(buf.byteLength >= count * bytes)) {
    const has = Math.floor(buf.byteLength / bytes);
    fail(kernel, `${arg} holds ${has} elements, but the kernel touches ${count}`);
  }
}

/** Like `holds` where the kernel touches nothing (count 0): then null is fine too. */
function holdsOrNull(kernel: string, arg: string, buf: Arr, count: number, bytes = 4): void {
  if (count > 0 || buf !== null) holds(kernel, arg, buf, count, bytes);
}

/** `buf` is an Int32Array of at least `count` elements (values the check itself reads). */
function ints(kernel: string, arg: string, buf: Arr, count: number): Int32Array {
  if (!(buf instanceof Int32Array)) {
    fail(
      kernel,
      `${arg} must be an Int32Array, got ${buf === null ? "null" : buf.constructor.name}`,
    );
  }
  holds(kernel, arg, buf, count);
  return buf;
}

/** The sizes and flags of a time loop. */
function loopSizes(
  kernel: string,
  mode: number,
  seq: number,
  batch: number,
  n: number,
  reverse: number,
  threads: number,
): void {
  code(kernel, "mode", mode, 4);
  size(kernel, "seq", seq);
  size(kernel, "batch", batch);
  size(kernel, "n", n);
  if (reverse !== 0 && reverse !== 1) fail(kernel, `reverse must be 0 or 1, got ${reverse}`);
  checkThreads(kernel, threads);
}

/** The most threads a kernel splits its work over (the pool's size in kernels.c). */
function checkThreads(kernel: string, threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    fail(kernel, `threads must be an integer in [1, 64], got ${threads}`);
  }
}

/** A time loop's status: -1, no memory for its working space. */
function ran(kernel: string, status: number): void {
  if (status !== 0) fail(kernel, "out of memory for the loop's working space");
}

/** Wraps the raw symbols in the checks of the module doc. */
export function checkedKernels(raw: RawKernels): Kernels {
  return {
    rk_unary(op, x, o, n) {
      const k = "rk_unary";
      code(k, "op", op, 9);
      size(k, "n", n);
      holdsOrNull(k, "x", x, n);
      holdsOrNull(k, "o", o, n);
      raw.rk_unary(op, x, o, n);
    },
    rk_scale(x, s, o, n) {
      const k = "rk_scale";
      size(k, "n", n);
      holdsOrNull(k, "x", x, n);
      holdsOrNull(k, "o", o, n);
      raw.rk_scale(x, s, o, n);
    },
    rk_where(c, cStep, a, aStep, b, bStep, o, n) {
      const k = "rk_where";
      size(k, "n", n);
      for (const [arg, buf, step] of [["c", c, cStep], ["a", a, aStep], ["b", b, bStep]] as const) {
        if (step !== 0 && step !== 1) fail(k, `${arg}Step must be 0 or 1, got ${step}`);
        holdsOrNull(k, arg, buf, n === 0 ? 0 : step === 0 ? 1 : n);
      }
      holdsOrNull(k, "o", o, n);
      raw.rk_where(c, cStep, a, aStep, b, bStep, o, n);
    },
    rk_argmax(x, outer, n, inner, out) {
      const k = "rk_argmax";
      size(k, "outer", outer);
      size(k, "n", n);
      size(k, "inner", inner);
      const rows = outer * inner;
      if (rows > 0 && n === 0) fail(k, `n is 0: an empty axis has no maximum`);
      if (!(rows * n <= 2 ** 31 - 1)) fail(k, `outer * n * inner ${rows * n} exceeds 2^31 - 1`);
      holdsOrNull(k, "x", x, rows * n);
      if (out !== null && !(out instanceof Int32Array)) {
        fail(k, `out must be an Int32Array, got ${out.constructor.name}`);
      }
      holdsOrNull(k, "out", out, rows);
      raw.rk_argmax(x, outer, n, inner, out);
    },
    rk_binary(op, a, b, o, n, cols, bRow, bCol) {
      const k = "rk_binary";
      code(k, "op", op, 4);
      size(k, "n", n);
      size(k, "cols", cols);
      size(k, "bRow", bRow);
      size(k, "bCol", bCol);
      // The row loops step by cols up to n: n must be whole rows (cols 0 would never end).
      if (n > 0 && (cols === 0 || n % cols !== 0)) {
        fail(k, `n ${n} is not a whole number of rows of cols ${cols}`);
      }
      holdsOrNull(k, "a", a, n);
      holdsOrNull(k, "o", o, n);
      // b: the same size, repeated along rows (cols values) or one value per row.
      const bSize = bRow === cols && bCol === 1 ? n : bRow === 0 ? cols : n / cols;
      holdsOrNull(k, "b", b, n > 0 ? bSize : 0);
      raw.rk_binary(op, a, b, o, n, cols, bRow, bCol);
    },
    rk_reduce_rows(op, x, rows, width, o) {
      const k = "rk_reduce_rows";
      code(k, "op", op, 2);
      size(k, "rows", rows);
      size(k, "width", width);
      holdsOrNull(k, "x", x, rows * width);
      holdsOrNull(k, "o", o, rows);
      raw.rk_reduce_rows(op, x, rows, width, o);
    },
    rk_reduce_cols(op, x, rows, cols, acc, o) {
      const k = "rk_reduce_cols";
      code(k, "op", op, 2);
      size(k, "rows", rows);
      size(k, "cols", cols);
      holdsOrNull(k, "x", x, rows * cols);
      holdsOrNull(k, "acc", acc, cols, 8);
      holdsOrNull(k, "o", o, cols);
      raw.rk_reduce_cols(op, x, rows, cols, acc, o);
    },
    rk_use_blas(path) {
      if (raw.rk_use_blas(new TextEncoder().encode(`${path}\0`)) !== 0) {
        fail("rk_use_blas", `${path} has no cblas_sgemm`);
      }
    },
    rk_sgemm(transA, transB, m, n, k, a, b, c, beta, threads) {
      const name = "rk_sgemm";
      for (const [arg, flag] of [["transA", transA], ["transB", transB]] as const) {
        if (flag !== 0 && flag !== 1) fail(name, `${arg} must be 0 or 1, got ${flag}`);
      }
      size(name, "m", m);
      size(name, "n", n);
      size(name, "k", k);
      if (k < 1) fail(name, "k must be at least 1");
      checkThreads(name, threads);
      holds(name, "a", a, m * k);
      holds(name, "b", b, k * n);
      holds(name, "c", c, m * n);
      if (raw.rk_sgemm(transA, transB, m, n, k, a, b, c, beta, threads) !== 0) {
        fail(name, "rk_use_blas has not been called");
      }
    },
    rk_cross_entropy(x, t, rows, classes, loss, softmax) {
      const k = "rk_cross_entropy";
      size(k, "rows", rows);
      size(k, "classes", classes);
      holdsOrNull(k, "x", x, rows * classes);
      holdsOrNull(k, "t", t, rows);
      holdsOrNull(k, "loss", loss, rows);
      holdsOrNull(k, "softmax", softmax, rows * classes);
      raw.rk_cross_entropy(x, t, rows, classes, loss, softmax);
    },
    rk_cross_entropy_backward(softmax, t, g, rows, classes, dx) {
      const k = "rk_cross_entropy_backward";
      size(k, "rows", rows);
      size(k, "classes", classes);
      holdsOrNull(k, "softmax", softmax, rows * classes);
      holdsOrNull(k, "t", t, rows);
      holdsOrNull(k, "g", g, rows);
      holdsOrNull(k, "dx", dx, rows * classes);
      raw.rk_cross_entropy_backward(softmax, t, g, rows, classes, dx);
    },
    rk_adam(p, g, m, v, pOut, mOut, vOut, n, beta1, beta2, eps, stepSize, invBias2Sqrt) {
      const k = "rk_adam";
      size(k, "n", n);
      holdsOrNull(k, "p", p, n);
      holdsOrNull(k, "g", g, n);
      holdsOrNull(k, "m", m, n);
      holdsOrNull(k, "v", v, n);
      holdsOrNull(k, "pOut", pOut, n);
      holdsOrNull(k, "mOut", mOut, n);
      holdsOrNull(k, "vOut", vOut, n);
      raw.rk_adam(p, g, m, v, pOut, mOut, vOut, n, beta1, beta2, eps, stepSize, invBias2Sqrt);
    },
    rk_recurrent_forward_loop(
      mode,
      seq,
      batch,
      n,
      reverse,
      threads,
      xp,
      wHh,
      bHh,
      h0,
      c,
      saved,
      out,
    ) {
      const k = "rk_recurrent_forward_loop";
      loopSizes(k, mode, seq, batch, n, reverse, threads);
      const [cells, gates, steps] = [batch * n, GATES[mode] * n, seq * batch];
      holdsOrNull(k, "xp", xp, steps * gates);
      holdsOrNull(k, "wHh", wHh, gates * n);
      if (bHh !== null && cells > 0) holds(k, "bHh", bHh, gates);
      holdsOrNull(k, "h0", h0, cells);
      if (mode === LSTM && c === null && cells > 0) {
        fail(k, `c is null, but LSTM reads and writes its cell state (${cells} elements)`);
      }
      holdsOrNull(k, "c", c, mode === LSTM ? cells : 0);
      holdsOrNull(k, "saved", saved, steps * SAVED[mode] * n);
      holdsOrNull(k, "out", out, steps * n);
      ran(
        k,
        raw.rk_recurrent_forward_loop(
          mode,
          seq,
          batch,
          n,
          reverse,
          threads,
          xp,
          wHh,
          bHh,
          h0,
          c,
          saved,
          out,
        ),
      );
    },
    rk_recurrent_backward_loop(
      mode,
      seq,
      batch,
      n,
      reverse,
      threads,
      wHh,
      out,
      saved,
      gOut,
      h0,
      c0,
      dh,
      dc,
      dxp,
      dhp,
    ) {
      const k = "rk_recurrent_backward_loop";
      loopSizes(k, mode, seq, batch, n, reverse, threads);
      const [cells, gates, steps] = [batch * n, GATES[mode] * n, seq * batch];
      const [lstm, gru] = [mode === LSTM, mode === GRU];
      holdsOrNull(k, "wHh", wHh, gates * n);
      holdsOrNull(k, "out", out, steps * n);
      holdsOrNull(k, "saved", saved, steps * SAVED[mode] * n);
      holdsOrNull(k, "gOut", gOut, steps * n);
      holdsOrNull(k, "h0", h0, cells);
      if (lstm && cells > 0) {
        if (c0 === null) fail(k, `c0 is null, but LSTM reads the initial cell state`);
        if (dc === null) fail(k, `dc is null, but LSTM reads and writes the cell state's gradient`);
      }
      holdsOrNull(k, "c0", c0, lstm ? cells : 0);
      holdsOrNull(k, "dc", dc, lstm ? cells : 0);
      holdsOrNull(k, "dh", dh, cells);
      holdsOrNull(k, "dxp", dxp, steps * gates);
      holdsOrNull(k, "dhp", dhp, gru ? steps * gates : 0);
      ran(
        k,
        raw.rk_recurrent_backward_loop(
          mode,
          seq,
          batch,
          n,
          reverse,
          threads,
          wHh,
          out,
          saved,
          gOut,
          h0,
          c0,
          dh,
          dc,
          dxp,
          dhp,
        ),
      );
    },
    rk_recurrent_cell_step(
      mode,
      batch,
      input,
      n,
      threads,
      x,
      wIh,
      bIh,
      wHh,
      bHh,
      h,
      c,
      scratch,
      hOut,
      cOut,
    ) {
      const k = "rk_recurrent_cell_step";
      code(k, "mode", mode, 4);
      size(k, "batch", batch);
      size(k, "input", input);
      size(k, "n", n);
      checkThreads(k, threads);
      const cells = batch * n;
      const gates = GATES[mode] * n;
      holdsOrNull(k, "x", x, batch * input);
      holdsOrNull(k, "wIh", wIh, gates * input);
      if (bIh !== null) holds(k, "bIh", bIh, gates);
      holdsOrNull(k, "wHh", wHh, gates * n);
      if (bHh !== null && cells > 0) holds(k, "bHh", bHh, gates);
      holdsOrNull(k, "h", h, cells);
      if (mode === LSTM && (c === null || cOut === null) && cells > 0) {
        fail(k, `c and cOut must be given: LSTM reads and writes its cell state`);
      }
      holdsOrNull(k, "c", c, mode === LSTM ? cells : 0);
      holdsOrNull(k, "cOut", cOut, mode === LSTM ? cells : 0);
      holdsOrNull(k, "scratch", scratch, batch * (2 * gates + SAVED[mode] * n));
      holdsOrNull(k, "hOut", hOut, cells);
      raw.rk_recurrent_cell_step(
        mode,
        batch,
        input,
        n,
        threads,
        x,
        wIh,
        bIh,
        wHh,
        bHh,
        h,
        c,
        scratch,
        hOut,
        cOut,
      );
    },
    rk_copy_strided(src, dst, rank, shape, strides) {
      const k = "rk_copy_strided";
      size(k, "rank", rank);
      if (rank > MAX_RANK) fail(k, `rank ${rank} exceeds ${MAX_RANK}`);
      const dims = ints(k, "shape", shape, rank);
      const steps = ints(k, "strides", strides, rank);
      // The elements read: from the sum of the negative (d - 1) * stride to the positive.
      let count = 1;
      let lo = 0;
      let hi = 0;
      for (let a = 0; a < rank; a++) {
        if (dims[a] < 0) fail(k, `shape[${a}] is ${dims[a]}`);
        count *= dims[a];
        const reach = (dims[a] - 1) * steps[a];
        if (reach < 0) lo += reach;
        else hi += reach;
      }
      holds(k, "dst", dst, count);
      if (count > 0) {
        if (lo < 0) fail(k, `strides reach ${-lo} elements before src`);
        holds(k, "src", src, hi + 1);
      }
      raw.rk_copy_strided(src, dst, rank, shape, strides);
    },
    rk_gather_rows(table, width, rows, n, out) {
      const k = "rk_gather_rows";
      size(k, "width", width);
      size(k, "n", n);
      const idx = ints(k, "rows", rows, n);
      holdsOrNull(k, "out", out, n * width);
      if (n > 0 && width > 0) {
        if (table === null) fail(k, `table is null, but the kernel reads rows of it`);
        const tableRows = Math.floor(table.byteLength / 4 / width);
        for (let i = 0; i < n; i++) {
          const r = idx[i];
          if (!(r >= 0 && r < tableRows)) {
            fail(k, `rows[${i}] is ${r}, outside the table's [0, ${tableRows})`);
          }
        }
      }
      raw.rk_gather_rows(table, width, rows, n, out);
    },
    rk_scatter_add_rows(grad, width, rows, n, numRows, out) {
      const k = "rk_scatter_add_rows";
      size(k, "width", width);
      size(k, "n", n);
      size(k, "numRows", numRows);
      holdsOrNull(k, "grad", grad, n * width);
      holdsOrNull(k, "rows", rows, n);
      holdsOrNull(k, "out", out, numRows * width);
      raw.rk_scatter_add_rows(grad, width, rows, n, numRows, out);
    },
  };
}

/** Opens the library, or says why it does not (a NotCapable is thrown, not returned). */
async function open(path: string): Promise<RawKernels | string> {
  const bad = await damaged(path);
  if (bad) return bad;
  try {
    return Deno.dlopen(path, SYMBOLS).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
}

/**
 * Builds (first time only) and loads the kernels, checked. A cached library that does not
 * load (truncated, corrupt, missing a symbol) is deleted and built again, once; that needs
 * --allow-run and --allow-write, as the first build does.
 */
export async function loadKernels(): Promise<
  { path: string; kernels: Kernels }
> {
  let path = await buildKernels();
  let raw = await open(path);
  if (typeof raw === "string") {
    path = await buildKernels({ rebuild: raw });
    raw = await open(path);
    if (typeof raw === "string") {
      throw new Error(
        `rnnkit: backend "native": its kernels (${path}) do not load even rebuilt: ${raw}`,
      );
    }
  }
  return { path, kernels: checkedKernels(raw) };
}
