/**
 * rnnkit backend on TensorFlow.js's WebGPU kernels, using Deno's native `navigator.gpu`.
 * On a machine with a GPU this runs on it; otherwise on a software adapter if one is
 * installed (e.g. Mesa's llvmpipe), slowly but correctly. The recurrent time loop and the
 * Adam update are its own WGSL kernels (one dispatch per time step, one per parameter),
 * since per-dispatch cost, not arithmetic, bounds tfjs's composite ops there.
 * @module
 */
import "@tensorflow/tfjs-backend-webgpu";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "@rnnkit/backend-tfjs";
import { KernelRunner } from "./kernel_runner.ts";
import { recurrentBackward, recurrentForward } from "./recurrent.ts";
import { adamStep } from "./adam_wgsl.ts";

/** The webgpu backend: rnnkit's `Backend` plus its adapter and a dispatch counter. */
export interface WebGPUBackend extends Backend {
  /** The adapter in use, from `describeAdapter`. */
  readonly description: string;
  /**
   * Compute dispatches (GPU kernel launches) since the backend was created: tfjs's kernels
   * and rnnkit's own. Per training step, the difference of two readings around it.
   */
  dispatches(): number;
}

/** Describes the WebGPU adapter, or says why there is none. */
export async function describeAdapter(): Promise<string> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return "no navigator.gpu in this runtime";
  const adapter = await gpu.requestAdapter() as { info?: Record<string, unknown> } | null;
  if (!adapter) {
    return "no WebGPU adapter (on Linux without a GPU: apt-get install -y mesa-vulkan-drivers)";
  }
  // Deno reports vendor/device as PCI ids and a readable description; Chromium may leave
  // the description and device empty, but names the architecture (e.g. "swiftshader").
  const info = adapter.info ?? {};
  const device = info.device || info.architecture;
  const name = String(info.description || `vendor ${info.vendor}, device ${device}`);
  return `${name}${info.isFallbackAdapter ? " (software fallback adapter)" : ""}`;
}

/** The "webgpu" backend; `description` names the adapter in use. */
export async function createBackend(): Promise<WebGPUBackend> {
  const description = await describeAdapter();
  const backend = await activate("webgpu", "webgpu").catch((e) => {
    throw new Error(`${(e as Error).message}; adapter: ${description}`);
  });
  const runner = new KernelRunner();
  return Object.assign(backend, {
    description,
    dispatches: () => runner.dispatches,
    fused: {
      recurrentForward: recurrentForward.bind(null, runner),
      recurrentBackward: recurrentBackward.bind(null, runner),
      adamStep: adamStep.bind(null, runner),
    },
  });
}
