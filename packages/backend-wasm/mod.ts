/**
 * rnnkit backend on TensorFlow.js's WebAssembly kernels (SIMD, single-threaded under
 * Deno). The `.wasm` binaries are read from the installed npm package, never fetched, so
 * under Deno it needs `--allow-read` (for that folder) and nothing else.
 * @module
 */
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "@rnnkit/backend-tfjs";

/** The "wasm" backend. Fails loudly if tfjs cannot initialise it. */
export function createBackend(): Promise<Backend> {
  // The package's dist folder holds the .wasm files next to its entry point.
  const dist = new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm"));
  // Without read access tfjs only reports that the backend is unavailable; say why.
  if (
    dist.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: dist }).state !== "granted"
  ) {
    throw new Error(
      `rnnkit: backend "wasm" needs --allow-read (to load its .wasm files from ${dist.pathname})`,
    );
  }
  setWasmPaths(dist.href);
  return activate("wasm", "wasm", {
    materializeTransposes: true,
    sumByMatmul: true,
    hostMemory: true,
  });
}
