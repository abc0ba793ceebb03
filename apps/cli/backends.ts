/**
 * The backends the CLI can run on, loaded on demand so that choosing one never
 * initialises another.
 */
import type { Backend } from "@rnnkit/core";

export const BACKEND_NAMES = ["tfjs", "wasm", "webgpu"] as const;
export type BackendName = typeof BACKEND_NAMES[number];

const loaders: Record<BackendName, () => Promise<Backend>> = {
  tfjs: async () => (await import("@rnnkit/backend-tfjs")).createBackend(),
  wasm: async () => (await import("@rnnkit/backend-wasm")).createBackend(),
  webgpu: async () => (await import("@rnnkit/backend-webgpu")).createBackend(),
};

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

export function loadBackend(name: BackendName): Promise<Backend> {
  return loaders[name]();
}
