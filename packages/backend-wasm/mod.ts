/**
 * rnnkit backend on TensorFlow.js's WebAssembly kernels (SIMD; multi-threaded in a
 * cross-origin isolated web page, one thread elsewhere).
 *
 * Under Deno the `.wasm` binaries are read from the installed npm package, never fetched, so
 * it needs `--allow-read` (for that folder) and nothing else. In a browser they are fetched:
 * by default from the folder of the bundle that holds this module, so serve the files named
 * in `WASM_FILES` next to it (`wasmFolder()` says where Deno has them), or pass `wasmPaths`.
 * @module
 */
import { env } from "@tensorflow/tfjs-core";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "@rnnkit/backend-tfjs";

/**
 * The binaries tfjs picks from: plain, SIMD, and SIMD with threads (loaded where the page is
 * cross-origin isolated). A page serves them all; it fetches one.
 */
export const WASM_FILES: readonly string[] = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
];

/** Options of the wasm backend. */
export interface WasmBackendOptions {
  /**
   * Where the `.wasm` binaries are: a folder URL ending in "/" (absolute, or relative to the
   * page) that holds them under their names (`WASM_FILES`), or a map from each of those
   * names to its URL. Default: under Deno, the npm package's folder (`wasmFolder()`); in a
   * browser, the folder of the script this module was bundled into.
   */
  wasmPaths?: string | Readonly<Record<string, string>>;
  /**
   * Threads for the matrix kernels (XNNPACK). Threads need a cross-origin isolated page
   * (served with `Cross-Origin-Opener-Policy: same-origin` and
   * `Cross-Origin-Embedder-Policy: require-corp`); elsewhere, and under Deno, the backend
   * runs on one thread whatever this says. More than one loads tfjs's threaded binary, which
   * caps the count at half the logical cores (`navigator.hardwareConcurrency / 2`: it assumes
   * two hardware threads per core) and at 8; 1 loads the one-thread binary, which on one
   * thread is the faster of the two. `description` says what runs. Default: tfjs's cap,
   * so the threaded binary with 4 or more logical cores, the one-thread binary below.
   */
  numThreads?: number;
}

/** The folder URL of the `.wasm` binaries in the installed npm package (Deno only). */
export function wasmFolder(): URL {
  // The package's dist folder holds the .wasm files next to its entry point.
  return new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm"));
}

/**
 * The "wasm" backend; `description` says whether SIMD is on and how many threads run.
 * Fails loudly if tfjs cannot initialise it (in a browser: naming the binary's URL).
 */
export async function createBackend(options: WasmBackendOptions = {}): Promise<Backend> {
  const inDeno = "Deno" in globalThis;
  const paths = options.wasmPaths ?? (inDeno ? denoFolder() : new URL(".", import.meta.url).href);
  checkPaths(paths);
  const { numThreads } = options;
  if (numThreads !== undefined) {
    if (!Number.isInteger(numThreads) || numThreads < 1) {
      throw new Error(
        `rnnkit: backend "wasm": numThreads must be an integer >= 1, got ${numThreads}`,
      );
    }
    setThreadsCount(numThreads);
  }
  // tfjs loads its threaded binary wherever threads work, even to run one thread, which the
  // one-thread binary does faster (RNN h128 in Chromium: 29k against 24k chars/s).
  const threads = numThreads ?? Math.min(8, Math.floor(navigator.hardwareConcurrency / 2));
  if (threads <= 1) env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  setWasmPaths(paths as string | Record<string, string>);
  const backend = await activate("wasm", "wasm", {
    materializeTransposes: true,
    sumByMatmul: true,
    hostMemory: true,
  }).catch(async (e: Error) => {
    if (inDeno) throw e;
    throw new Error(`${e.message}; check that ${await binaryUrl(paths)} is served`);
  });
  const running = getThreadsCount();
  const simd = env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD";
  const binary = env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "threaded" : "one-thread";
  const count = `${running} thread${running === 1 ? "" : "s"}`;
  return Object.assign(backend, {
    description: `tfjs-backend-wasm, ${simd}, ${count} (${binary} binary)`,
  });
}

/** The package's folder, after checking that Deno may read it. */
function denoFolder(): string {
  const dist = wasmFolder();
  // Without read access tfjs only reports that the backend is unavailable; say why.
  if (
    dist.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: dist }).state !== "granted"
  ) {
    throw new Error(
      `rnnkit: backend "wasm" needs --allow-read (to load its .wasm files from ${dist.pathname})`,
    );
  }
  return dist.href;
}

function checkPaths(paths: string | Readonly<Record<string, string>>): void {
  if (typeof paths === "string") {
    if (!paths.endsWith("/")) {
      throw new Error(
        `rnnkit: backend "wasm": wasmPaths must be a folder URL ending in "/", got "${paths}"`,
      );
    }
    return;
  }
  const missing = WASM_FILES.filter((name) => typeof paths[name] !== "string");
  if (missing.length) {
    throw new Error(`rnnkit: backend "wasm": wasmPaths has no URL for ${missing.join(", ")}`);
  }
}

/** The URL of the binary tfjs fetches here, for the error message. */
async function binaryUrl(paths: string | Readonly<Record<string, string>>): Promise<string> {
  const [simd, threads] = await Promise.all([
    env().getAsync("WASM_HAS_SIMD_SUPPORT"),
    env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
  ]);
  const name = WASM_FILES[simd ? (threads ? 2 : 1) : 0];
  return typeof paths === "string" ? new URL(paths + name, location.href).href : paths[name];
}
