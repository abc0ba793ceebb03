/**
 * The webgl backend's share of the benchmark: the page side, which bench.ts runs in headless
 * Chromium through runInChromium. Measures the same things as run_backend.ts (measure.ts)
 * and prints the same single JSON line.
 *
 * args(): [options as JSON `{"configs": [...], "quick": bool}`, the corpus text]. The page
 * cannot read files, so the corpus (about 1 MB for tinyshakespeare) travels as an argument.
 */
import { args, err, exit, out } from "@rnnkit/backend-webgl/page";
import { createBackend } from "@rnnkit/backend-webgl";
import { FULL, QUICK } from "./configs.ts";
import { measure, type MemoryProbe } from "./measure.ts";

/** Chromium's non-standard heap figure: what this page's JS holds, not the process's RSS. */
function jsHeap(): MemoryProbe | undefined {
  const memory = (performance as { memory?: { usedJSHeapSize: number } }).memory;
  return memory && { key: "peakJsHeapMB", bytes: () => memory.usedJSHeapSize };
}

try {
  const [options, text] = args();
  const { configs, quick } = JSON.parse(options) as { configs: string[]; quick: boolean };
  const result = await measure({
    backend: "webgl",
    load: createBackend,
    text,
    configs,
    schedule: quick ? QUICK : FULL,
    log: (msg) => err(`bench [webgl] ${msg}`),
    memory: jsHeap(),
  });
  out(JSON.stringify({ ...result, peakRssMB: null, peakRssNote: "not measured in the browser" }));
  exit(0);
} catch (e) {
  err(`error: ${(e as Error).stack ?? e}`);
  exit(1);
}
