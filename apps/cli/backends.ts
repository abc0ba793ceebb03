/**
 * The backends the CLI can run on, loaded on demand so that choosing one never
 * initialises another.
 */
import type { Backend } from "@rnnkit/core";

/** Backends that run inside Deno. */
export const DENO_BACKENDS = ["tfjs", "wasm", "native", "webgpu"] as const;
export type BackendName = typeof DENO_BACKENDS[number];
/** Every backend the CLI offers: webgl runs in headless Chromium. */
export const BACKEND_NAMES = [...DENO_BACKENDS, "webgl"] as const;

const loaders: Record<BackendName, () => Promise<Backend>> = {
  tfjs: async () => (await import("@rnnkit/backend-tfjs")).createBackend(),
  wasm: async () => (await import("@rnnkit/backend-wasm")).createBackend(),
  webgpu: async () => (await import("@rnnkit/backend-webgpu")).createBackend(),
  native: async () => (await import("@rnnkit/backend-native")).createBackend(),
};

/**
 * The default: the fastest backend that works in Deno, as measured by `deno task bench` on a
 * 2-core machine without GPU (seed model 1.16 ms/epoch on wasm vs 1.52 on tfjs; 4-14x faster
 * for real text).
 */
export const DEFAULT_BACKEND: BackendName = "wasm";

export function isBackendName(name: string): name is BackendName {
  return (DENO_BACKENDS as readonly string[]).includes(name);
}

export function loadBackend(name: BackendName): Promise<Backend> {
  return loaders[name]();
}
