/**
 * rnnkit's native CPU backend: tensors in host memory, arithmetic in C kernels compiled on
 * first use with the system's C compiler (kernels.c, build.ts), matrix products in the
 * system's OpenBLAS, both through Deno's FFI (`--allow-ffi`; the first build also needs
 * `--allow-run` and `--allow-write` for its cache). The recurrent time loop and Adam are
 * fused. The fastest backend on a CPU where a C compiler and OpenBLAS are installed.
 * @module
 */
import type { Backend } from "@rnnkit/core";
import { NativeBackend } from "./native_backend.ts";
import { loadKernels } from "./kernels.ts";
import { openBlas } from "./openblas.ts";

export { NativeBackend } from "./native_backend.ts";

/** The "native" backend. Throws, saying what to install, when it cannot be built or loaded. */
export async function createBackend(): Promise<Backend> {
  const blas = openBlas();
  const { path, kernels } = await loadKernels();
  return new NativeBackend(blas, kernels, path);
}
