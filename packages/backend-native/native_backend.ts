/**
 * The op interface on host memory. TypeScript does the bookkeeping and moves data
 * (reshape shares a buffer; split, concat, transpose and gather copy rows); the arithmetic
 * runs in native kernels (kernels.c) and matrix products in OpenBLAS. An op costs well
 * under a microsecond plus its arithmetic; the recurrent time loop and the Adam update
 * are fused (recurrent_kernels.ts, FusedOps.adamStep).
 */
import {
  type AdamArgs,
  type Backend,
  broadcastShapes,
  type DType,
  type FusedOps,
  type Handle,
} from "@rnnkit/core/backend";
import type { Blas } from "./openblas.ts";
import { F, H, HostMemory, type HostTensor, sizeOf, stridesOf, T } from "./host_tensor.ts";
import { BINARY, type Kernels, REDUCE, UNARY } from "./kernels.ts";
import {
  type Product,
  recurrentBackward,
  recurrentForward,
  recurrentStackStep,
} from "./recurrent_kernels.ts";

/** Whether `b` broadcast to `out` is b's values repeated: b's shape, 1s aside, is a suffix. */
function repeatsAlongRows(
  b: readonly number[],
  out: readonly number[],
): boolean {
  const dims = b.slice(b.findIndex((d) => d !== 1));
  return sizeOf(b) === 1 ||
    dims.every((d, i) => d === out[out.length - dims.length + i]);
}

/**
 * The "native" backend: host-memory tensors, C kernels and OpenBLAS. Make one with
 * `createBackend()`, which builds and loads the kernels first.
 */
export class NativeBackend implements Backend {
  readonly name = "native";
  readonly description: string;
  readonly fused: FusedOps;
  readonly #mem = new HostMemory();
  readonly #blas: Blas;
  readonly #kernels: Kernels;
  readonly #threads: number;
  /** Working space lent to the fused ops, grown as needed and kept. */
  #scratch = new Float32Array(0);

  /**
   * A backend on loaded OpenBLAS and kernels; `kernelsPath` names the kernels' library file.
   * Sets OpenBLAS to one thread: the kernels share products out over their own threads.
   */
  constructor(blas: Blas, kernels: Kernels, kernelsPath: string) {
    this.#blas = blas;
    this.#kernels = kernels;
    const threads = this.#threads = blas.defaultThreads;
    kernels.rk_use_blas(blas.path);
    blas.setThreads(1);
    this.description = `kernels ${kernelsPath}; OpenBLAS ${blas.path}; ${threads} thread(s)`;
    this.fused = {
      scatterAddRows: (grad, indices, numRows) => this.#scatterAddRows(grad, indices, numRows),
      // The products, time loops and stack step share one thread count and one pool.
      recurrentForward: (args) => recurrentForward(this.#mem, kernels, threads, args),
      recurrentBackward: (args) =>
        recurrentBackward(this.#mem, kernels, this.#product, threads, args),
      recurrentStackStep: (args) =>
        recurrentStackStep(this.#mem, kernels, this.#scratchOf, threads, args),
      adamStep: (args) => this.#adamStep(args),
      crossEntropy: (logits, targets) => this.#crossEntropy(logits, targets),
      crossEntropyBackward: (softmax, targets, g) =>
        this.#crossEntropyBackward(softmax, targets, g),
    };
  }

  fromArray(
    values: Float32Array | Int32Array,
    shape: readonly number[],
    dtype: DType,
  ): Handle {
    // The constructors copy a typed array in one pass (`from` iterates: ~15 ns a value).
    const data = dtype === "int32" ? new Int32Array(values) : new Float32Array(values);
    return H(this.#mem.adopt(data, [...shape], dtype));
  }

  read(x: Handle): Promise<Float32Array | Int32Array> {
    return Promise.resolve(T(x).store.data.slice());
  }

  dispose(x: Handle): void {
    this.#mem.dispose(T(x));
  }

  memory(): { numTensors: number; numBytes: number } {
    return this.#mem.memory();
  }

  fill(shape: readonly number[], value: number): Handle {
    const out = this.#mem.float([...shape]);
    out.store.data.fill(value);
    return H(out);
  }

  oneHot(indices: Handle, depth: number): Handle {
    const idx = T(indices).store.data;
    const out = this.#mem.float([idx.length, depth]);
    const o = out.store.data.fill(0);
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] >= 0 && idx[i] < depth) o[i * depth + idx[i]] = 1;
    }
    return H(out);
  }

  add(a: Handle, b: Handle): Handle {
    return this.#binary(BINARY.add, a, b);
  }

  sub(a: Handle, b: Handle): Handle {
    return this.#binary(BINARY.sub, a, b);
  }

  mul(a: Handle, b: Handle): Handle {
    return this.#binary(BINARY.mul, a, b);
  }

  div(a: Handle, b: Handle): Handle {
    return this.#binary(BINARY.div, a, b);
  }

  scale(a: Handle, s: number): Handle {
    const out = this.#mem.float(T(a).shape);
    this.#kernels.rk_scale(F(a), s, out.store.data, out.store.data.length);
    return H(out);
  }

  neg(x: Handle): Handle {
    return this.#unary(UNARY.neg, x);
  }

  exp(x: Handle): Handle {
    return this.#unary(UNARY.exp, x);
  }

  log(x: Handle): Handle {
    return this.#unary(UNARY.log, x);
  }

  sqrt(x: Handle): Handle {
    return this.#unary(UNARY.sqrt, x);
  }

  tanh(x: Handle): Handle {
    return this.#unary(UNARY.tanh, x);
  }

  sigmoid(x: Handle): Handle {
    return this.#unary(UNARY.sigmoid, x);
  }

  relu(x: Handle): Handle {
    return this.#unary(UNARY.relu, x);
  }

  step(x: Handle): Handle {
    return this.#unary(UNARY.step, x);
  }

  erf(x: Handle): Handle {
    return this.#unary(UNARY.erf, x);
  }

  where(cond: Handle, a: Handle, b: Handle): Handle {
    const ts = [T(cond), T(a), T(b)];
    const shape = ts.reduce<readonly number[]>((s, t) => broadcastShapes(s, t.shape, "where"), []);
    const n = sizeOf(shape);
    // An operand of n values or of one is read in place (step 1 or 0); others are expanded.
    const xs = ts.map((
      t,
    ) => (sizeOf(t.shape) === n || sizeOf(t.shape) === 1 ? t : this.#expand(t, shape)));
    const steps = xs.map((t) => (sizeOf(t.shape) === n ? 1 : 0));
    const out = this.#mem.float(shape);
    const [c, x, y] = xs.map((t) => t.store.data as Float32Array);
    this.#kernels.rk_where(c, steps[0], x, steps[1], y, steps[2], out.store.data, n);
    xs.forEach((t, i) => t !== ts[i] && this.#mem.dispose(t));
    return H(out);
  }

  matmul(
    a: Handle,
    b: Handle,
    transposeA: boolean,
    transposeB: boolean,
  ): Handle {
    const [ar, ac] = T(a).shape;
    const [br, bc] = T(b).shape;
    const [m, k] = transposeA ? [ac, ar] : [ar, ac];
    const n = transposeB ? br : bc;
    const out = this.#mem.float([m, n]);
    if (k === 0) out.store.data.fill(0);
    else this.#product(transposeA, transposeB, m, n, k, F(a), F(b), out.store.data);
    return H(out);
  }

  /** c = op(a) @ op(b) + beta c, k >= 1: one row is OpenBLAS's sgemv (reads b in place). */
  #product: Product = (transA, transB, m, n, k, a, b, c, beta = 0) => {
    if (m === 1) this.#blas.sgemm(transA, transB, m, n, k, a, b, c, beta);
    else this.#kernels.rk_sgemm(+transA, +transB, m, n, k, a, b, c, beta, this.#threads);
  };

  sum(x: Handle, axes: readonly number[], keepDims: boolean): Handle {
    return this.#reduce(x, axes, keepDims, "sum");
  }

  max(x: Handle, axes: readonly number[], keepDims: boolean): Handle {
    return this.#reduce(x, axes, keepDims, "max");
  }

  argMax(x: Handle, axis: number): Handle {
    const t = T(x);
    const out = this.#alloc(t.shape.filter((_, i) => i !== axis), "int32");
    const [outer, inner] = [sizeOf(t.shape.slice(0, axis)), sizeOf(t.shape.slice(axis + 1))];
    this.#kernels.rk_argmax(F(x), outer, t.shape[axis], inner, out.store.data);
    return H(out);
  }

  reshape(x: Handle, shape: readonly number[]): Handle {
    return H(this.#mem.view(T(x), [...shape]));
  }

  transpose(x: Handle, perm: readonly number[]): Handle {
    const t = T(x);
    const strides = stridesOf(t.shape);
    return H(
      this.#strided(
        t,
        perm.map((p) => t.shape[p]),
        perm.map((p) => strides[p]),
      ),
    );
  }

  broadcastTo(x: Handle, shape: readonly number[]): Handle {
    return H(this.#expand(T(x), shape));
  }

  split(x: Handle, sizes: readonly number[], axis: number): Handle[] {
    const t = T(x);
    const src = t.store.data;
    const outer = sizeOf(t.shape.slice(0, axis));
    const inner = sizeOf(t.shape.slice(axis + 1));
    const width = t.shape[axis] * inner;
    let offset = 0;
    return sizes.map((n) => {
      const shape = t.shape.map((d, i) => (i === axis ? n : d));
      const piece = this.#alloc(shape, t.dtype);
      const dst = piece.store.data;
      const len = n * inner;
      for (let r = 0; r < outer; r++) {
        dst.set(
          src.subarray(r * width + offset, r * width + offset + len),
          r * len,
        );
      }
      offset += len;
      return H(piece);
    });
  }

  concat(xs: readonly Handle[], axis: number): Handle {
    const ts = xs.map(T);
    const first = ts[0];
    const total = ts.reduce((s, t) => s + t.shape[axis], 0);
    const out = this.#alloc(
      first.shape.map((d, i) => (i === axis ? total : d)),
      first.dtype,
    );
    const dst = out.store.data;
    const outer = sizeOf(first.shape.slice(0, axis));
    const inner = sizeOf(first.shape.slice(axis + 1));
    const width = total * inner;
    let offset = 0;
    for (const t of ts) {
      const len = t.shape[axis] * inner;
      const src = t.store.data;
      for (let r = 0; r < outer; r++) {
        dst.set(src.subarray(r * len, (r + 1) * len), r * width + offset);
      }
      offset += len;
    }
    return H(out);
  }

  gather(x: Handle, indices: Handle): Handle {
    const t = T(x);
    const rows = T(indices).store.data as Int32Array;
    const bad = rows.find((r) => r < 0 || r >= t.shape[0]);
    if (bad !== undefined) {
      throw new RangeError(`rnnkit native: gather index ${bad} outside [0, ${t.shape[0]})`);
    }
    const width = sizeOf(t.shape.slice(1));
    const out = this.#alloc([rows.length, ...t.shape.slice(1)], t.dtype);
    this.#kernels.rk_gather_rows(t.store.data, width, rows, rows.length, out.store.data);
    return H(out);
  }

  /** Lends the fused ops n floats of working space. */
  readonly #scratchOf = (n: number): Float32Array => {
    if (this.#scratch.length < n) this.#scratch = new Float32Array(n);
    return this.#scratch;
  };

  #scatterAddRows(grad: Handle, indices: Handle, numRows: number): Handle {
    const rows = T(indices).store.data as Int32Array;
    const width = T(grad).shape[1];
    const out = this.#mem.float([numRows, width]);
    this.#kernels.rk_scatter_add_rows(F(grad), width, rows, rows.length, numRows, out.store.data);
    return H(out);
  }

  #crossEntropy(logits: Handle, targets: Handle): { losses: Handle; softmax: Handle } {
    const [rows, classes] = T(logits).shape;
    const [losses, softmax] = [this.#mem.float([rows]), this.#mem.float([rows, classes])];
    const t = T(targets).store.data as Int32Array;
    this.#kernels.rk_cross_entropy(
      F(logits),
      t,
      rows,
      classes,
      losses.store.data,
      softmax.store.data,
    );
    return { losses: H(losses), softmax: H(softmax) };
  }

  #crossEntropyBackward(softmax: Handle, targets: Handle, g: Handle): Handle {
    const [rows, classes] = T(softmax).shape;
    const dx = this.#mem.float([rows, classes]);
    const t = T(targets).store.data as Int32Array;
    this.#kernels.rk_cross_entropy_backward(F(softmax), t, F(g), rows, classes, dx.store.data);
    return H(dx);
  }

  #alloc(shape: readonly number[], dtype: DType): HostTensor {
    return dtype === "float32"
      ? this.#mem.float(shape)
      : this.#mem.adopt(new Int32Array(sizeOf(shape)), shape, dtype);
  }

  #strided(
    t: HostTensor,
    shape: readonly number[],
    strides: number[],
  ): HostTensor {
    const out = this.#alloc(shape, t.dtype);
    const dims = Int32Array.from(shape);
    this.#kernels.rk_copy_strided(
      t.store.data,
      out.store.data,
      dims.length,
      dims,
      Int32Array.from(strides),
    );
    return out;
  }

  /** `t` broadcast to `shape` (a copy even when the shapes agree: ops never alias). */
  #expand(t: HostTensor, shape: readonly number[]): HostTensor {
    const lead = shape.length - t.shape.length;
    const own = stridesOf(t.shape);
    const strides = shape.map((
      _,
      i,
    ) => (i < lead || t.shape[i - lead] === 1 ? 0 : own[i - lead]));
    return this.#strided(t, shape, strides);
  }

  #unary(op: number, x: Handle): Handle {
    const out = this.#mem.float(T(x).shape);
    this.#kernels.rk_unary(op, F(x), out.store.data, out.store.data.length);
    return H(out);
  }

  #binary(op: number, a: Handle, b: Handle): Handle {
    const [ta, tb] = [T(a), T(b)];
    const shape = broadcastShapes(ta.shape, tb.shape, "native");
    const n = sizeOf(shape);
    const cols = shape.at(-1) ?? 1;
    // b the same size, repeated along rows (a bias, a scalar) or one value per row (a
    // keepDims reduction) needs no copy; any other broadcast expands the operand first.
    const xa = sizeOf(ta.shape) === n ? ta : this.#expand(ta, shape);
    const perRow = sizeOf(tb.shape) === n / cols && tb.shape.at(-1) === 1;
    const xb = sizeOf(tb.shape) === n || perRow || repeatsAlongRows(tb.shape, shape)
      ? tb
      : this.#expand(tb, shape);
    // Rows of `width` values: the whole tensor (same shape), b's length (repeated) or the
    // last axis (one b value per row); see rk_binary.
    const bSize = sizeOf(xb.shape);
    const [width, bRow, bCol] = bSize === n ? [n, n, 1] : perRow ? [cols, 1, 0] : [bSize, 0, 1];
    const out = this.#mem.float(shape);
    if (n > 0) {
      const [xaData, xbData] = [xa.store.data as Float32Array, xb.store.data as Float32Array];
      this.#kernels.rk_binary(op, xaData, xbData, out.store.data, n, width, bRow, bCol);
    }
    if (xa !== ta) this.#mem.dispose(xa);
    if (xb !== tb) this.#mem.dispose(xb);
    return H(out);
  }

  /** Sum or max over `axes`: over trailing or leading axes directly, else moved last. */
  #reduce(x: Handle, axes: readonly number[], keepDims: boolean, op: "sum" | "max"): Handle {
    const t = T(x);
    const rank = t.shape.length;
    const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    const kept = [...t.shape.keys()].filter((a) => !reduced.has(a));
    const outShape = keepDims
      ? t.shape.map((d, i) => (reduced.has(i) ? 1 : d))
      : kept.map((a) => t.shape[a]);
    const out = this.#mem.float(outShape);
    const o = out.store.data;
    const rows = o.length;
    const width = rows === 0 ? 0 : sizeOf(t.shape) / rows;
    const code = REDUCE[op];
    if (rows === 1 || [...reduced].every((a) => a >= kept.length)) {
      this.#kernels.rk_reduce_rows(code, F(x), rows, width, o);
    } else if ([...reduced].every((a) => a < reduced.size)) {
      this.#kernels.rk_reduce_cols(code, F(x), width, rows, new Float64Array(rows), o);
    } else {
      const strides = stridesOf(t.shape);
      const order = [...kept, ...reduced];
      const moved = this.#strided(t, order.map((a) => t.shape[a]), order.map((a) => strides[a]));
      this.#kernels.rk_reduce_rows(code, moved.store.data as Float32Array, rows, width, o);
      this.#mem.dispose(moved);
    }
    return H(out);
  }

  #adamStep(a: AdamArgs) {
    const shape = T(a.p).shape;
    const [p, m, v] = [this.#mem.float(shape), this.#mem.float(shape), this.#mem.float(shape)];
    this.#kernels.rk_adam(
      F(a.p),
      F(a.g),
      F(a.m),
      F(a.v),
      p.store.data,
      m.store.data,
      v.store.data,
      p.store.data.length,
      a.beta1,
      a.beta2,
      a.eps,
      a.stepSize,
      a.invBias2Sqrt,
    );
    return { p: H(p), m: H(m), v: H(v) };
  }
}
