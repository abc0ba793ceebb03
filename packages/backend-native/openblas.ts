/**
 * The system's OpenBLAS through Deno's FFI: `cblas_sgemm`, `cblas_sgemv` and the thread
 * count. Debian: `apt-get install libopenblas0-pthread`. `RNNKIT_BLAS_LIB` names another
 * library file exporting the same symbols; `RNNKIT_BLAS_THREADS` sets the number of
 * threads (default: OpenBLAS's own, one per core or OPENBLAS_NUM_THREADS).
 *
 * The native backend sets OpenBLAS to one thread and shares products out over its own
 * threads (kernels.c's rk_sgemm); the bench measures OpenBLAS's own threading here.
 * Before it first loads the library, this sets OPENBLAS_THREAD_TIMEOUT=20 unless it is
 * set: OpenBLAS's idle threads spin (yielding) for 2^N cycles after each product before
 * they sleep, by default 2^28 (~70 ms), and would take the cores from the backend's
 * threads after a measurement; at 2^20 it is ~0.3 ms.
 */

const [I, P, R] = ["i32", "buffer", "f32"] as const;

const SYMBOLS = {
  // order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
  cblas_sgemm: { parameters: [I, I, I, I, I, I, R, P, I, P, I, R, P, I], result: "void" },
  // order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy
  cblas_sgemv: { parameters: [I, I, I, I, R, P, I, P, I, R, P, I], result: "void" },
  openblas_set_num_threads: { parameters: [I], result: "void" },
  openblas_get_num_threads: { parameters: [], result: I },
} as const;

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** The largest one-row product (elements of b) that sgemm runs on one thread. */
const ONE_THREAD_SGEMV = 1 << 20;

/** OpenBLAS's thread count when first opened: later opens may find it set to one. */
let firstThreads: number | undefined;

/** Library files tried in order when RNNKIT_BLAS_LIB is unset. */
const CANDIDATES = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"];

export interface Blas {
  /** Which library file was loaded. */
  readonly path: string;
  /** OpenBLAS's thread count now (it is process-wide: every handle on the library shares it). */
  readonly threads: number;
  /**
   * The threads to use: RNNKIT_BLAS_THREADS, else OpenBLAS's own count when this process
   * first opened it (one per core, or OPENBLAS_NUM_THREADS).
   */
  readonly defaultThreads: number;
  /** Sets OpenBLAS's process-wide thread count. */
  setThreads(threads: number): void;
  /**
   * c[m, n] = op(a) @ op(b) for row-major a and b, where op transposes when the flag is
   * set; `k` is the shared dimension.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    beta?: number,
  ): void;
}

/** The library files to try: RNNKIT_BLAS_LIB, else CANDIDATES. Read before any load, so
 * it also sets the thread timeout (see the module doc). */
function wantedPaths(): string[] {
  if (Deno.env.get("OPENBLAS_THREAD_TIMEOUT") === undefined) {
    Deno.env.set("OPENBLAS_THREAD_TIMEOUT", "20");
  }
  const wanted = Deno.env.get("RNNKIT_BLAS_LIB");
  return wanted ? [wanted] : CANDIDATES;
}

/**
 * Which OpenBLAS would load, without keeping it open: `{ path }`, or `{ tried }` (the
 * files tried) where none loads or has the symbols. Throws NotCapable without
 * --allow-ffi or --allow-env.
 */
export function probeOpenBlas(): { path: string } | { tried: string[] } {
  const tried = wantedPaths();
  for (const path of tried) {
    try {
      Deno.dlopen(path, SYMBOLS).close();
      return { path };
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
    }
  }
  return { tried };
}

/** Opens OpenBLAS, or throws an error that says what to install. */
export function openBlas(): Blas {
  const errors: string[] = [];
  for (const path of wantedPaths()) {
    try {
      const lib = Deno.dlopen(path, SYMBOLS).symbols;
      const wanted = Number(Deno.env.get("RNNKIT_BLAS_THREADS") ?? 0);
      firstThreads ??= lib.openblas_get_num_threads();
      const defaultThreads = wanted > 0 ? wanted : firstThreads;
      return {
        path,
        get threads() {
          return lib.openblas_get_num_threads();
        },
        defaultThreads,
        setThreads: (threads) => lib.openblas_set_num_threads(threads),
        sgemm(transA, transB, m, n, k, a, b, c, beta = 0) {
          // A single row (generation, batch 1) is a matrix-vector product: sgemv reads b
          // in place where sgemm would first copy (pack) all of it, 5-7x slower here.
          if (m === 1) {
            const [rows, cols] = transB ? [n, k] : [k, n];
            // Multi-threaded, each sgemv wakes OpenBLAS's threads: 5-60 us here for a
            // [65, 256] product, against 2 us on one thread; a small one runs on one.
            const threads = rows * cols <= ONE_THREAD_SGEMV ? lib.openblas_get_num_threads() : 1;
            if (threads > 1) lib.openblas_set_num_threads(1);
            lib.cblas_sgemv(
              ROW_MAJOR,
              transB ? NO_TRANS : TRANS,
              rows,
              cols,
              1,
              b,
              cols,
              a,
              1,
              beta,
              c,
              1,
            );
            if (threads > 1) lib.openblas_set_num_threads(threads);
            return;
          }
          lib.cblas_sgemm(
            ROW_MAJOR,
            transA ? TRANS : NO_TRANS,
            transB ? TRANS : NO_TRANS,
            m,
            n,
            k,
            1,
            a,
            transA ? m : k,
            b,
            transB ? k : n,
            beta,
            c,
            n,
          );
        },
      };
    } catch (e) {
      // A missing --allow-ffi (or --allow-env) is not a missing OpenBLAS: mod.ts names it.
      if (e instanceof Deno.errors.NotCapable) throw e;
      errors.push(`${path}: ${e instanceof Error ? e.message : e}`);
    }
  }
  throw new Error(
    `rnnkit: backend "native" needs OpenBLAS (Debian: apt-get install libopenblas0-pthread; ` +
      `or set RNNKIT_BLAS_LIB to the library file). Tried ${errors.join("; ")}`,
  );
}
