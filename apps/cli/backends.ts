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
 * The default: the fastest backend that needs nothing installed, as measured by
 * `deno task bench` on a 2-core machine without GPU (real text: 6-8x faster than tfjs).
 * `native` is 5-6x faster still (1.4-1.7x PyTorch on one thread) but needs OpenBLAS and a C
 * compiler, so it is chosen by name.
 */
export const DEFAULT_BACKEND: BackendName = "wasm";

export function isBackendName(name: string): name is BackendName {
  return (DENO_BACKENDS as readonly string[]).includes(name);
}

export function loadBackend(name: BackendName): Promise<Backend> {
  return loaders[name]();
}
