/**
 * rnnkit backend on TensorFlow.js's WebAssembly kernels (SIMD, single-threaded under
 * Deno). The `.wasm` binaries are read from the installed npm package, never fetched.
 * @module
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Backend } from "@rnnkit/core";
import { activate } from "@rnnkit/backend-tfjs";

/** The "wasm" backend. Fails loudly if tfjs cannot initialise it. */
export function createBackend(): Promise<Backend> {
  // The package's dist folder holds the .wasm files next to its entry point.
  setWasmPaths(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href);
  return activate("wasm", "wasm", {
    materializeTransposes: true,
    sumByMatmul: true,
    hostMemory: true,
  });
}
