/**
 * The bench's runs inside headless Chromium: which pages there are (`BROWSER_RUNS`, chosen
 * with `deno task bench --browser`), how each is served and started (`runPage`), and what
 * the page (run_browser.ts) is told (`PageOptions`). Each run is a fresh Chromium with one
 * page that measures rnnkit and then, on the same tfjs backend, tfjs-layers.
 */
import { runInChromium } from "@rnnkit/backend-webgl/chromium";
import { WASM_FILES, wasmFolder } from "@rnnkit/backend-wasm";

/** The rnnkit backends a page can create. */
export type PageBackend = "wasm" | "webgl" | "webgpu";

/** One measuring page. */
export interface BrowserRun {
  /** The run's name in the results and the tables. */
  key: string;
  /** The rnnkit backend the page measures (and whose tfjs backend tfjs-layers runs on). */
  backend: PageBackend;
  /**
   * wasm only: 1 (the one-thread binary) or "cores" (the threaded binary, on as many
   * threads as the page has logical cores, at least 2).
   */
  threads?: 1 | "cores";
  /** Served cross-origin isolated: what wasm threads need (SharedArrayBuffer). */
  isolated: boolean;
  /** More Chromium flags. */
  flags: string[];
}

/**
 * The pages, by their `--browser` names. webgl keeps the plain key "webgl" of `--backends
 * webgl` (the same run): it exists only in a browser.
 */
export const BROWSER_RUNS: Record<string, BrowserRun> = {
  "wasm-1t": {
    key: "wasm (Chromium, 1 thread)",
    backend: "wasm",
    threads: 1,
    isolated: false,
    flags: [],
  },
  "wasm-threads": {
    key: "wasm (Chromium, threads)",
    backend: "wasm",
    threads: "cores",
    isolated: true,
    flags: [],
  },
  webgl: { key: "webgl", backend: "webgl", isolated: false, flags: [] },
  // Headless Chromium exposes WebGPU only behind this flag (here on SwiftShader's Vulkan).
  webgpu: {
    key: "webgpu (Chromium)",
    backend: "webgpu",
    isolated: false,
    flags: ["--enable-unsafe-webgpu"],
  },
};
/** The `--browser` names, in the order `all` runs them. */
export const BROWSER_NAMES = Object.keys(BROWSER_RUNS);

/** What the page measures: run_browser.ts's first argument, as JSON. */
export interface PageOptions {
  /** As `BrowserRun`'s. */
  backend: PageBackend;
  /** As `BrowserRun`'s. */
  threads?: 1 | "cores";
  /** The training configs (configs.ts) to measure. */
  configs: string[];
  /** The --quick schedule instead of the full one. */
  quick: boolean;
  /** Also measure tfjs-layers in the page, after rnnkit. */
  layers: boolean;
}

/** What a page run gave: its exit code and its JSON line, if it printed one. */
export interface PageResult {
  code: number;
  json?: string;
}

/** A whole browser run, bundling included; generous, but a hung page must not hang the bench. */
const TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Runs run_browser.ts for `run` in headless Chromium: its JSON line (the same as
 * run_backend.ts prints, plus `tfjsLayers`) comes back from the page's stdout; every other
 * line goes to `onLine`. Throws when Chromium cannot run (no --allow-net, a failed bundle).
 */
export async function runPage(
  run: BrowserRun,
  options: Omit<PageOptions, "backend" | "threads">,
  textFile: string,
  onLine: (line: string) => void,
): Promise<PageResult> {
  const page: PageOptions = { ...options, backend: run.backend, threads: run.threads };
  // The wasm backend fetches its binaries from the bundle's folder: serve them there.
  const files = run.backend === "wasm"
    ? Object.fromEntries(WASM_FILES.map((f) => [`/${f}`, new URL(f, wasmFolder())]))
    : {};
  let json: string | undefined;
  const code = await runInChromium({
    entry: new URL("run_browser.ts", import.meta.url).href,
    // The page cannot read files: the corpus goes along whole, as one argument.
    args: [JSON.stringify(page), await Deno.readTextFile(textFile)],
    onLine: (stream, line) => {
      if (stream === "stdout" && line.startsWith("{")) json = line;
      else onLine(line);
    },
    timeoutMs: TIMEOUT_MS,
    crossOriginIsolated: run.isolated,
    files,
    chromiumFlags: run.flags,
  });
  return { code, json };
}
