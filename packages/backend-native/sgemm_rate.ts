/**
 * The speed of the native backend's matrix products: OpenBLAS's sgemm (sgemv for one row),
 * called as the backend calls it, timed at a given shape and thread count. The bench
 * measures the machine's limit with it (the roofline: bench/roofline.ts).
 */
import { type Blas, openBlas } from "./openblas.ts";

/** One matrix product: c[m, n] = op(a) @ op(b), `k` shared, op transposes when its flag is set. */
export interface SgemmShape {
  /** Rows of c (and of op(a)). */
  m: number;
  /** Columns of c (and of op(b)). */
  n: number;
  /** The shared dimension: columns of op(a), rows of op(b). */
  k: number;
  /** a is stored [k, m] and used transposed. Default false. */
  transA?: boolean;
  /** b is stored [n, k] and used transposed. Default false. */
  transB?: boolean;
}

/** How `sgemmGflops` measures. */
export interface SgemmRateOptions {
  /**
   * OpenBLAS threads during the measurement (OpenBLAS's own threading, not the native
   * backend's); the count before is restored after it (the count is process-wide). Default:
   * the backend's count (RNNKIT_BLAS_THREADS, else OpenBLAS's own: one per core, or
   * OPENBLAS_NUM_THREADS).
   */
  threads?: number;
  /** Time spent in timed calls, at least, in milliseconds. Default 100. */
  minMs?: number;
}

/** Timed blocks per measurement: the fastest counts, the others absorb other processes' noise. */
const BLOCKS = 5;

let shared: Blas | undefined;

/**
 * Billions of floating-point operations per second (2mnk per product) of sgemm at `shape`:
 * the fastest of 5 timed blocks of repeated calls on the same operands (in cache, as a
 * recurrent step's weights are). Needs what the backend needs (OpenBLAS, `--allow-ffi`,
 * `--allow-env`); throws what `createBackend` would.
 *
 * ```ts
 * import { sgemmGflops } from "@rnnkit/backend-native";
 * const square = { m: 1024, n: 1024, k: 1024 };
 * console.log(sgemmGflops(square, { threads: 1 }), sgemmGflops(square, { threads: 2 }));
 * ```
 */
export function sgemmGflops(shape: SgemmShape, options: SgemmRateOptions = {}): number {
  const { m, n, k, transA = false, transB = false } = shape;
  if (![m, n, k].every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`rnnkit: sgemmGflops: m, n, k must be integers >= 1, got ${m}, ${n}, ${k}`);
  }
  const blas = shared ??= openBlas();
  const before = blas.threads;
  const threads = options.threads ?? blas.defaultThreads;
  const minMs = options.minMs ?? 100;
  // Values of order 1 with no zeros or denormals, whose products stay finite.
  const a = Float32Array.from({ length: m * k }, (_, i) => 1 + (i % 7) / 8);
  const b = Float32Array.from({ length: k * n }, (_, i) => 1 - (i % 5) / 8);
  const c = new Float32Array(m * n);
  const call = () => blas.sgemm(transA, transB, m, n, k, a, b, c);
  blas.setThreads(threads);
  try {
    call(); // warm-up: thread start, first touch of the operands
    let t0 = performance.now();
    call();
    // Calls per block from a second call's time: each block lasts about minMs / BLOCKS.
    const once = Math.max(performance.now() - t0, 1e-3);
    const calls = Math.max(1, Math.ceil(minMs / BLOCKS / once));
    let best = Infinity;
    for (let r = 0; r < BLOCKS; r++) {
      t0 = performance.now();
      for (let i = 0; i < calls; i++) call();
      best = Math.min(best, (performance.now() - t0) / calls);
    }
    return 2 * m * n * k / (best * 1e6);
  } finally {
    blas.setThreads(before);
  }
}
