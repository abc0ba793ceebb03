/**
 * rnnkit backend on TensorFlow.js's pure-JavaScript CPU kernels: runs anywhere, needs no
 * native code. Also exports the shared tfjs op implementation the other tfjs backends use.
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "./tfjs_backend.ts";

export { activate, TfjsBackend, type TfjsOptions } from "./tfjs_backend.ts";
/** The "tfjs" backend (tfjs's "cpu"). */
export function createBackend(): Promise<Backend> {
  return activate("tfjs", "cpu", { hostMemory: true, sumByMatmul: true, hostMatmul: true });
}
