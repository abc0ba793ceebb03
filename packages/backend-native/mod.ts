/**
 * rnnkit's native CPU backend: tensors in host memory, arithmetic in C kernels compiled on
 * first use with the system's C compiler (kernels.c, build.ts), matrix products in the
 * system's OpenBLAS, both through Deno's FFI. The recurrent time loop and Adam are fused.
 * The fastest backend on a CPU where a C compiler and OpenBLAS are installed.
 *
 * Permissions: always `--allow-ffi --allow-read --allow-env`; the first build of the
 * kernels (once per machine and version of kernels.c) also `--allow-run --allow-write`.
 * @module
 */
import type { Backend } from "@rnnkit/core/backend";
import { NativeBackend } from "./native_backend.ts";
import { loadKernels } from "./kernels.ts";
import { openBlas } from "./openblas.ts";

export { NativeBackend } from "./native_backend.ts";
/** What each always-needed permission is for. */
const NEEDS: Record<string, string> = {
  ffi: "to load OpenBLAS and its kernels",
  read: "to read kernels.c and its build cache",
  env: "to read RNNKIT_BLAS_LIB, RNNKIT_BLAS_THREADS, CC, XDG_CACHE_HOME and HOME",
};

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
    // Deno 2's NotCapable ends "run again with the --allow-ffi flag": name it, and why.
    const flag = e instanceof Deno.errors.NotCapable && e.message.match(/--allow-(\w+)/)?.[1];
    if (flag && flag in NEEDS) {
      throw new Error(`rnnkit: backend "native" needs --allow-${flag} (${NEEDS[flag]})`);
    }
    throw e;
  }
}
