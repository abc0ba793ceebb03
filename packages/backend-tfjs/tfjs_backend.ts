/**
 * The op interface over TensorFlow.js. Every tfjs-based backend (cpu, wasm, webgl, webgpu)
 * shares this class and differs only in which tfjs backend it activates: a handle is a
 * `tf.Tensor` of the active tfjs backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Backend, DType, FusedOps, Handle } from "@rnnkit/core/backend";
import { hostMatmul, hostMatmulRowsByRows, hostTranspose } from "./host_matmul.ts";

const T = (h: Handle) => h as unknown as tf.Tensor;
const H = (t: tf.Tensor) => t as unknown as Handle;

/** How a tfjs-based backend differs from the plain one: workarounds for slow tfjs kernels. */
export interface TfjsOptions {
  /** Transpose matmul operands explicitly instead of passing transpose flags. Default false. */
  materializeTransposes?: boolean;
  /** Reduce leading axes as ones @ x. Default false. */
  sumByMatmul?: boolean;
  /**
   * Tensors live in host memory: split, gather rows and scatter-add them (the fused
   * Embedding gradient) by plain loops there. Default false.
   */
  hostMemory?: boolean;
  /** Matrix products by host_matmul.ts (tensors must live in host memory). Default false. */
  hostMatmul?: boolean;
}

/**
 * rnnkit's `Backend` over TensorFlow.js, shared by every tfjs-based backend: a handle is a
 * `tf.Tensor` of the active tfjs backend.
 */
export class TfjsBackend implements Backend {
  /** `scatterAddRows` with `hostMemory`; none otherwise. */
  readonly fused?: FusedOps;

  /**
   * A backend on the tfjs backend `tfName`; `activate` makes one after activating it.
   *
   * @param name rnnkit's name for the backend ("tfjs", "wasm", ...).
   * @param tfName the tfjs backend it runs on ("cpu", "wasm", ...), which must be active.
   * @param options the workarounds to use; default none.
   */
  constructor(
    readonly name: string,
    readonly tfName: string,
    readonly options: TfjsOptions = {},
  ) {
    if (options.hostMemory) this.fused = { scatterAddRows: hostScatterAddRows };
  }

  fromArray(values: Float32Array | Int32Array, shape: readonly number[], dtype: DType): Handle {
    return H(tf.tensor(values, [...shape], dtype));
  }

  async read(x: Handle): Promise<Float32Array | Int32Array> {
    const t = T(x);
    const data = await t.data();
    // tfjs-webgpu can hand back a cast tensor's values in its source dtype's array type.
    if (t.dtype === "int32") return data instanceof Int32Array ? data : Int32Array.from(data);
    return data instanceof Float32Array ? data : Float32Array.from(data);
  }

  dispose(x: Handle): void {
    T(x).dispose();
    this.#transposes.get(T(x))?.dispose();
    this.#transposes.delete(T(x));
  }

  memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  fill(shape: readonly number[], value: number): Handle {
    return H(tf.fill([...shape], value, "float32"));
  }

  oneHot(indices: Handle, depth: number): Handle {
    // Cast rather than ask for float32: tfjs-wasm's OneHot ignores the dtype argument.
    return H(tf.tidy(() => tf.cast(tf.oneHot(T(indices) as tf.Tensor1D, depth), "float32")));
  }

  add(a: Handle, b: Handle): Handle {
    return H(tf.add(T(a), T(b)));
  }

  sub(a: Handle, b: Handle): Handle {
    return H(tf.sub(T(a), T(b)));
  }

  mul(a: Handle, b: Handle): Handle {
    return H(tf.mul(T(a), T(b)));
  }

  div(a: Handle, b: Handle): Handle {
    return H(tf.div(T(a), T(b)));
  }

  scale(a: Handle, s: number): Handle {
    return H(tf.tidy(() => tf.mul(T(a), tf.scalar(s))));
  }

  neg(x: Handle): Handle {
    return H(tf.neg(T(x)));
  }

  exp(x: Handle): Handle {
    return H(tf.exp(T(x)));
  }

  log(x: Handle): Handle {
    return H(tf.log(T(x)));
  }

  sqrt(x: Handle): Handle {
    return H(tf.sqrt(T(x)));
  }

  tanh(x: Handle): Handle {
    return H(tf.tanh(T(x)));
  }

  sigmoid(x: Handle): Handle {
    return H(tf.sigmoid(T(x)));
  }

  relu(x: Handle): Handle {
    return H(tf.relu(T(x)));
  }

  step(x: Handle): Handle {
    // Not tf.step: the wasm backend has no Step kernel (tfjs#4325).
    return H(tf.tidy(() => tf.cast(tf.greater(T(x), 0), "float32")));
  }

  erf(x: Handle): Handle {
    return H(tf.erf(T(x)));
  }

  where(cond: Handle, a: Handle, b: Handle): Handle {
    // tf.where broadcasts the three itself; its condition is a bool tensor.
    return H(tf.tidy(() => tf.where(tf.notEqual(T(cond), 0), T(a), T(b))));
  }

  matmul(a: Handle, b: Handle, transposeA: boolean, transposeB: boolean): Handle {
    if (this.options.hostMatmul) return H(hostProduct(T(a), T(b), transposeA, transposeB));
    if (!this.options.materializeTransposes || (!transposeA && !transposeB)) {
      return H(tf.matMul(T(a), T(b), transposeA, transposeB));
    }
    // One row times a transposed weight (generation: x W^T) reuses W^T, made once per W:
    // tfjs-wasm takes 112 us for the product through the transposed result, 22 us with W^T.
    if (!transposeA && transposeB && T(a).shape[0] === 1) {
      return H(tf.matMul(T(a), this.#transposed(T(b))));
    }
    // tfjs-wasm's fast (XNNPACK) matmul handles only untransposed operands; with a flag set
    // it falls back to a scalar loop 10-40x slower than transposing first. A transpose
    // costs time in proportion to its size, so with one flag also consider transposing the
    // other operand and the (small) result: a^T b = (b^T a)^T, a b^T = (b a^T)^T.
    return H(tf.tidy(() => {
      const [x, y] = [T(a), T(b)];
      const t = (m: tf.Tensor) => tf.transpose(m);
      if (transposeA && transposeB) return tf.matMul(t(x), t(y));
      const [xr, xc] = x.shape as [number, number];
      const [yr, yc] = y.shape as [number, number];
      const outSize = (transposeA ? xc : xr) * (transposeB ? yr : yc);
      const [flagged, other] = transposeA ? [x, y] : [y, x];
      if (flagged.size <= other.size + outSize) {
        return transposeA ? tf.matMul(t(x), y) : tf.matMul(x, t(y));
      }
      return t(transposeA ? tf.matMul(t(y), x) : tf.matMul(y, t(x)));
    }));
  }

  /** Transposes made by matmul, freed with their source (handles are immutable). */
  readonly #transposes = new Map<tf.Tensor, tf.Tensor>();

  #transposed(m: tf.Tensor): tf.Tensor {
    let t = this.#transposes.get(m);
    if (!t) this.#transposes.set(m, t = tf.transpose(m));
    return t;
  }

  sum(x: Handle, axes: readonly number[], keepDims: boolean): Handle {
    const t = T(x);
    const leading = axes.length < t.rank && axes.every((a, i) => a === i);
    if (!this.options.sumByMatmul || !leading) return H(tf.sum(t, [...axes], keepDims));
    // tfjs (cpu, wasm) reduces a leading axis by transposing first; ones @ x is faster (25x on wasm).
    return H(tf.tidy(() => {
      const rows = t.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
      const rest = t.shape.slice(axes.length);
      const s = tf.matMul(tf.ones([1, rows]), tf.reshape(t, [rows, -1]));
      return tf.reshape(s, keepDims ? [...axes.map(() => 1), ...rest] : rest);
    }));
  }

  max(x: Handle, axes: readonly number[], keepDims: boolean): Handle {
    return H(tf.max(T(x), [...axes], keepDims));
  }

  argMax(x: Handle, axis: number): Handle {
    // tf.argMax alone differs by backend on ties (webgpu's tree reduction over 32+ values
    // and webgl's packed one may pick a later index) and on NaN. So it runs on a key with
    // one maximum: 2n - i at a NaN, n - i where x equals its maximum, 0 elsewhere, which
    // puts the first NaN, else the first maximum, on top, as PyTorch. (Casting float
    // indices to int32 instead gives wrong int32 tensors on tfjs-webgpu 4.22.)
    return H(tf.tidy(() => {
      const t = T(x);
      const n = t.shape[axis];
      const iota = tf.reshape(
        tf.range(0, n, 1, "float32"),
        t.shape.map((d, i) => (i === axis ? d : 1)),
      );
      const atMax = tf.where(tf.equal(t, tf.max(t, axis, true)), tf.sub(n, iota), tf.scalar(0));
      return tf.argMax(tf.where(tf.isNaN(t), tf.sub(2 * n, iota), atMax), axis);
    }));
  }

  reshape(x: Handle, shape: readonly number[]): Handle {
    return H(tf.reshape(T(x), [...shape]));
  }

  transpose(x: Handle, perm: readonly number[]): Handle {
    // The identity as a reshape: on tfjs-webgpu 4.22 an identity transpose of a oneHot
    // result zeroed other live tensors.
    if (perm.every((p, i) => p === i)) return H(tf.reshape(T(x), T(x).shape));
    return H(tf.transpose(T(x), [...perm]));
  }

  broadcastTo(x: Handle, shape: readonly number[]): Handle {
    // A broadcasting add: tfjs's Tile (behind broadcastTo) is 10-40x slower on cpu and wasm.
    return H(tf.tidy(() => tf.add(tf.zeros([...shape]), T(x))));
  }

  split(x: Handle, sizes: readonly number[], axis: number): Handle[] {
    const t = T(x);
    if (!this.options.hostMemory) return tf.split(t, [...sizes], axis).map(H);
    // tfjs's Slice is slow on cpu and wasm (on wasm it costs time proportional to its
    // whole input, so cutting a sequence into T steps is O(T^2)); their memory is host
    // memory, so cut it there instead: rows of `inner` values, `outer` times.
    const values = t.dataSync() as Float32Array | Int32Array;
    const outer = t.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = t.size / outer / t.shape[axis];
    const width = t.shape[axis] * inner;
    let offset = 0;
    return sizes.map((n) => {
      const piece = new (values.constructor as Float32ArrayConstructor)(outer * n * inner);
      for (let r = 0; r < outer; r++) {
        const from = r * width + offset * inner;
        piece.set(values.subarray(from, from + n * inner), r * n * inner);
      }
      offset += n;
      return H(tf.tensor(piece, t.shape.map((d, i) => (i === axis ? n : d)), t.dtype as DType));
    });
  }

  concat(xs: readonly Handle[], axis: number): Handle {
    return H(tf.concat(xs.map(T), axis));
  }

  gather(x: Handle, indices: Handle): Handle {
    const [t, idx] = [T(x), T(indices)];
    if (!this.options.hostMemory) return H(tf.gather(t, idx, 0));
    // tfjs-wasm's Gather is slow for many indices; its memory is host memory anyway.
    const table = t.dataSync() as Float32Array;
    const width = t.size / t.shape[0];
    const rows = idx.dataSync();
    const out = new Float32Array(rows.length * width);
    rows.forEach((r, i) => out.set(table.subarray(r * width, (r + 1) * width), i * width));
    return H(tf.tensor(out, [rows.length, ...t.shape.slice(1)]));
  }
}

/**
 * Activates tfjs backend `tfName` and returns rnnkit's backend over it. tfjs resolves
 * `setBackend` to false (and keeps the previous backend) when initialisation fails; that
 * becomes an error here rather than a run on the wrong backend.
 */
export async function activate(
  name: string,
  tfName: string,
  options: TfjsOptions = {},
): Promise<TfjsBackend> {
  tf.enableProdMode();
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend(tfName);
  } catch (e) {
    cause = e;
  }
  if (!ok || tf.getBackend() !== tfName) {
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    throw new Error(
      `rnnkit: backend "${name}" failed to initialise (tfjs backend "${tfName}" unavailable${why})`,
    );
  }
  return new TfjsBackend(name, tfName, options);
}

/** op(x) @ op(y) by host_matmul.ts; a flagged operand is transposed first. */
function hostProduct(x: tf.Tensor, y: tf.Tensor, transposeX: boolean, transposeY: boolean) {
  const [xr, xc] = x.shape as [number, number];
  const [yr, yc] = y.shape as [number, number];
  const [xv, yv] = [x.dataSync() as Float32Array, y.dataSync() as Float32Array];
  const [m, k] = transposeX ? [xc, xr] : [xr, xc];
  const n = transposeY ? yr : yc;
  const out = new Float32Array(m * n);
  // Few rows (generation): dot products beat transposing y first.
  if (transposeY && !transposeX && m < 4) {
    hostMatmulRowsByRows(xv, yv, out, m, n, k);
    return tf.tensor(out, [m, n]);
  }
  hostMatmul(
    transposeX ? hostTranspose(xv, xr, xc) : xv,
    transposeY ? hostTranspose(yv, yr, yc) : yv,
    out,
    m,
    n,
    k,
  );
  return tf.tensor(out, [m, n]);
}

/** FusedOps.scatterAddRows for host-memory backends: one pass over the rows. */
function hostScatterAddRows(grad: Handle, indices: Handle, numRows: number): Handle {
  const g = T(grad);
  const width = g.shape[1]!;
  const values = g.dataSync() as Float32Array;
  const rows = T(indices).dataSync();
  const out = new Float32Array(numRows * width);
  rows.forEach((r, i) => {
    if (r < 0 || r >= numRows) return;
    for (let j = 0; j < width; j++) out[r * width + j] += values[i * width + j];
  });
  return H(tf.tensor(out, [numRows, width]));
}
