/**
 * The one list of rnnkit's compute backends: load one by name, or let `createBestBackend`
 * pick the fastest that runs here (native, else wasm). The CLI, the benchmarks and the test
 * runner all read this list, so a new backend is one package plus one entry here.
 *
 * ```ts
 * import { setBackend } from "@rnnkit/core";
 * import { createBestBackend } from "@rnnkit/backends";
 * setBackend(await createBestBackend());
 * ```
 *
 * Each backend package is imported only when it is loaded, so choosing one never
 * initialises another.
 * @module
 */
import type { Backend } from "@rnnkit/core";

/** One backend of the registry. */
export interface BackendEntry {
  /** Its name: `loadBackend(name)`, the CLI's `--backend`, `RNNKIT_BACKEND` in the tests. */
  readonly name: string;
  /** "deno": created by `loadBackend`; "browser": only inside a web page (WebGL). */
  readonly runsIn: "deno" | "browser";
  /** What it runs on and what it needs, in one line. */
  readonly summary: string;
  /**
   * What must be installed for it to run, if anything: where that is missing it cannot
   * be created (and the test command skips it, saying why). Without `needs` it runs
   * wherever Deno does. Default: nothing.
   */
  readonly needs?: string;
  /**
   * Says what of `needs` is not installed here, without creating the backend (undefined:
   * all there). Where the dependencies are present the backend must load: a failure then
   * is a bug, never a reason to skip it. Default: nothing is ever missing.
   */
  readonly missing?: () => Promise<string | undefined>;
  /** Creates it; throws, saying what is missing, where it cannot run. */
  readonly create: () => Promise<Backend>;
}

/** Every backend, in the order the CLI lists them. */
export const BACKENDS: readonly BackendEntry[] = [
  {
    name: "tfjs",
    runsIn: "deno",
    summary: "TensorFlow.js pure-JS CPU kernels; needs nothing",
    create: async () => (await import("@rnnkit/backend-tfjs")).createBackend(),
  },
  {
    name: "wasm",
    runsIn: "deno",
    summary: "TensorFlow.js WebAssembly (SIMD, one thread); needs nothing installed",
    create: async () => (await import("@rnnkit/backend-wasm")).createBackend(),
  },
  {
    name: "native",
    runsIn: "deno",
    summary: "C kernels + OpenBLAS through FFI, the fastest on a CPU; needs OpenBLAS and cc",
    needs: "OpenBLAS and a C compiler (apt-get install -y libopenblas0-pthread gcc)",
    missing: async () => (await import("@rnnkit/backend-native")).missingDependencies(),
    create: async () => (await import("@rnnkit/backend-native")).createBackend(),
  },
  {
    name: "webgpu",
    runsIn: "deno",
    summary: "TensorFlow.js WebGPU through Deno's navigator.gpu; needs a WebGPU adapter",
    needs: "a WebGPU adapter (without a GPU: apt-get install -y mesa-vulkan-drivers)",
    missing: async () => {
      const adapter = await (await import("@rnnkit/backend-webgpu")).describeAdapter();
      return adapter.startsWith("no ") ? adapter : undefined;
    },
    create: async () => (await import("@rnnkit/backend-webgpu")).createBackend(),
  },
  {
    name: "webgl",
    runsIn: "browser",
    summary: "TensorFlow.js WebGL, in a browser page only (the CLI drives headless Chromium)",
    needs: "a browser; from Deno, Chromium (apt-get install -y chromium)",
    missing: async () =>
      "document" in globalThis ||
        (await import("@rnnkit/backend-webgl/chromium")).chromiumPath() !== null
        ? undefined
        : "Chromium not found",
    create: async () => (await import("@rnnkit/backend-webgl")).createBackend(),
  },
];

/** The names of every backend. */
export const BACKEND_NAMES: readonly string[] = BACKENDS.map((b) => b.name);

/** The names of the backends that run in Deno. */
export const DENO_BACKEND_NAMES: readonly string[] = BACKENDS
  .filter((b) => b.runsIn === "deno").map((b) => b.name);

/** What `createBestBackend` tries, fastest first (`deno task bench` on a CPU). */
export const AUTO_ORDER: readonly string[] = ["native", "wasm"];

/** Whether `name` is a registered backend. */
export function isBackendName(name: string): boolean {
  return BACKEND_NAMES.includes(name);
}

/**
 * Creates the backend called `name`, or with "auto" the best one (`createBestBackend`).
 * A browser-only backend (webgl) is an error outside a browser page.
 */
export async function loadBackend(name: string): Promise<Backend> {
  if (name === "auto") return await createBestBackend();
  const entry = BACKENDS.find((b) => b.name === name);
  if (!entry) {
    throw new Error(`rnnkit: no backend "${name}"; the backends are ${BACKEND_NAMES.join(", ")}`);
  }
  if (entry.runsIn === "browser" && !("document" in globalThis)) {
    throw new Error(`rnnkit: backend "${name}" runs only in a browser page`);
  }
  return await entry.create();
}

/** Options of `createBestBackend`. */
export interface BestBackendOptions {
  /** Called for each backend passed over, with the reason it could not be used. Default: none. */
  onSkip?: (name: string, reason: string) => void;
}

/**
 * The fastest backend that runs here: native where OpenBLAS, its built kernels and the
 * permissions it needs are present, else wasm (which needs nothing installed).
 */
export async function createBestBackend(options: BestBackendOptions = {}): Promise<Backend> {
  const reasons: string[] = [];
  for (const name of AUTO_ORDER) {
    try {
      return await loadBackend(name);
    } catch (e) {
      const reason = (e as Error).message.replace(/^rnnkit: /, "");
      reasons.push(`${name}: ${reason}`);
      options.onSkip?.(name, reason);
    }
  }
  throw new Error(`rnnkit: no backend could be created (${reasons.join("; ")})`);
}
