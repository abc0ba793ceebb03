/**
 * rnnkit backend on host memory with the system's OpenBLAS (through Deno's FFI, so it
 * needs `--allow-ffi`): TypeScript loops for elementwise ops, sgemm for matrix products
 * and a fused recurrent time loop. The fastest backend on a CPU when OpenBLAS is there.
 * @module
 */
import type { Backend } from "@rnnkit/core";
import { BlasBackend } from "./blas_backend.ts";
import { openBlas } from "./openblas.ts";

export { BlasBackend } from "./blas_backend.ts";

/** The "blas" backend. Throws, saying what to install, when OpenBLAS cannot be loaded. */
export function createBackend(): Promise<Backend> {
  return Promise.resolve(new BlasBackend(openBlas()));
}
