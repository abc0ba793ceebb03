/**
 * rnnkit backend on TensorFlow.js's WebGPU kernels, using Deno's native `navigator.gpu`.
 * On a machine with a GPU this runs on it; otherwise on a software adapter if one is
 * installed (e.g. Mesa's llvmpipe), slowly but correctly.
 * @module
 */
import "@tensorflow/tfjs-backend-webgpu";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "@rnnkit/backend-tfjs";

/** Describes the WebGPU adapter, or says why there is none. */
export async function describeAdapter(): Promise<string> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return "no navigator.gpu in this runtime";
  const adapter = await gpu.requestAdapter() as { info?: Record<string, unknown> } | null;
  if (!adapter) {
    return "no WebGPU adapter (on Linux without a GPU: apt-get install -y mesa-vulkan-drivers)";
  }
  // Deno reports vendor/device as PCI ids; the description is the readable name.
  const info = adapter.info ?? {};
  const name = String(info.description || `vendor ${info.vendor}, device ${info.device}`);
  return `${name}${info.isFallbackAdapter ? " (software fallback adapter)" : ""}`;
}

/** The "webgpu" backend; `description` names the adapter in use. */
export async function createBackend(): Promise<Backend> {
  const description = await describeAdapter();
  const backend = await activate("webgpu", "webgpu").catch((e) => {
    throw new Error(`${(e as Error).message}; adapter: ${description}`);
  });
  return Object.assign(backend, { description });
}
