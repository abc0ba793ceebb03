/**
 * rnnkit's native CPU backend: tensors in host memory, arithmetic in C kernels compiled on
 * first use with the system's C compiler (kernels.c, build.ts), matrix products in the
 * system's OpenBLAS, both through Deno's FFI. The recurrent time loop and Adam are fused.
 * The fastest backend on a CPU where a C compiler and OpenBLAS are installed.
 *
 * Threads: `RNNKIT_BLAS_THREADS`, else as many as OpenBLAS would use (one per core, or
 * `OPENBLAS_NUM_THREADS`), for the products, the time loops and the stack step alike: the
 * kernels' own pool, whose threads spin briefly between jobs. OpenBLAS itself is set to one
 * thread (process-wide), and each product runs as one-thread sgemm calls on blocks of rows
 * over the pool. Before loading OpenBLAS it sets `OPENBLAS_THREAD_TIMEOUT=20` in the
 * process's environment unless it is set (where OpenBLAS does run threads, e.g. the
 * bench's sgemm measurement, its idle threads would otherwise spin ~70 ms afterwards,
 * taking the cores from the pool's); child processes inherit it.
 *
 * Permissions: always `--allow-ffi --allow-read --allow-env`; the first build of the
 * kernels (once per machine and version of kernels.c) also `--allow-run --allow-write`.
 * Imported from JSR (or any `https:` URL), the first build also fetches kernels.c from
 * there, so it needs `--allow-net` for that host (`--allow-net=jsr.io`); later runs load
 * the built library without it.
 *
 * `missingDependencies()` says, without building or loading anything of the backend,
 * whether what it needs is installed.
 *
 * Every call into the kernels checks its sizes, ranks and pointers first, in TypeScript,
 * and throws an Error naming the kernel and the argument rather than let C write out of
 * bounds. exp, tanh and sigmoid are computed in double and rounded once, so they are within
 * half an ulp, bounded and monotone: kernels.c states the measured error bounds.
 * @module
 */
import type { Backend } from "@rnnkit/core/backend";
import { NativeBackend } from "./native_backend.ts";
import { loadKernels } from "./kernels.ts";
import { openBlas, probeOpenBlas } from "./openblas.ts";
import { cachedKernels, compilerName } from "./build.ts";

export { NativeBackend } from "./native_backend.ts";
export { sgemmGflops, type SgemmRateOptions, type SgemmShape } from "./sgemm_rate.ts";
/** What each always-needed permission is for. */
const NEEDS: Record<string, string> = {
  ffi: "to load OpenBLAS and its kernels",
  read: "to read kernels.c and its build cache",
  env:
    "to read RNNKIT_BLAS_LIB, RNNKIT_BLAS_THREADS, CC, PATH, XDG_CACHE_HOME and HOME, and set OPENBLAS_THREAD_TIMEOUT",
};

/** Deno 2's NotCapable ends "run again with the --allow-ffi flag": name it, and why. */
function namePermission(e: unknown): unknown {
  const flag = e instanceof Deno.errors.NotCapable && e.message.match(/--allow-(\w+)/)?.[1];
  return flag && flag in NEEDS
    ? new Error(`rnnkit: backend "native" needs --allow-${flag} (${NEEDS[flag]})`)
    : e;
}

/**
 * The "native" backend. Throws, saying what to install or which permission to grant, when
 * it cannot be built or loaded.
 */
export async function createBackend(): Promise<Backend> {
  try {
    const blas = openBlas();
    const { path, kernels } = await loadKernels();
    return new NativeBackend(blas, kernels, path);
  } catch (e) {
    throw namePermission(e);
  }
}

/** Whether `cc` names an executable file: a path as it is, a bare name on PATH. */
function onPath(cc: string): boolean {
  const isExecutable = (path: string) => {
    try {
      const info = Deno.statSync(path);
      return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
      return false;
    }
  };
  if (cc.includes("/")) return isExecutable(cc);
  const dirs = (Deno.env.get("PATH") ?? "").split(Deno.build.os === "windows" ? ";" : ":");
  return dirs.some((dir) => dir !== "" && isExecutable(`${dir}/${cc}`));
}

/**
 * What the "native" backend needs that is not installed here, in one line, or undefined
 * when nothing is missing: a C compiler (`$CC`, else `cc`, found on PATH; not run) or
 * kernels already built for this kernels.c, compiler and CPU in the build cache; and an
 * OpenBLAS library that loads (`RNNKIT_BLAS_LIB`, else libopenblas.so.0 and the like; it
 * is opened and closed again). It builds nothing and loads no kernels, so it is cheap and
 * says nothing about whether they would compile: undefined means `createBackend` should
 * work, and if it then fails, that is a bug to report, not a missing dependency.
 *
 * Throws, as `createBackend` does, naming the permission, without `--allow-ffi`,
 * `--allow-read` or `--allow-env` (a missing permission is not a missing install).
 *
 * ```ts
 * import { createBackend, missingDependencies } from "@rnnkit/backend-native";
 * const missing = await missingDependencies();
 * if (missing) console.log(`native: skipped (${missing})`);
 * else console.log((await createBackend()).description);
 * ```
 */
export async function missingDependencies(): Promise<string | undefined> {
  try {
    const reasons: string[] = [];
    const cc = compilerName();
    if (!onPath(cc) && await cachedKernels() === undefined) {
      reasons.push(`no C compiler (${cc}) on PATH`);
    }
    const blas = probeOpenBlas();
    if ("tried" in blas) reasons.push(`no OpenBLAS (${blas.tried.join(", ")})`);
    return reasons.length ? reasons.join("; ") : undefined;
  } catch (e) {
    throw namePermission(e);
  }
}
