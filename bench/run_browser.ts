/**
 * The bench's page in headless Chromium (started by browser_runs.ts): measures rnnkit on the
 * wasm, webgl or webgpu backend the same way as run_backend.ts (measure.ts), then
 * tfjs-layers (peers/tfjs_layers.ts) on the tfjs backend that rnnkit's backend runs on, in
 * the same page, so both share the browser, the binary and the threads. Prints one JSON
 * line: run_backend.ts's, plus `tfjsLayers`.
 *
 * args(): [`PageOptions` as JSON, the corpus text]. The page cannot read files, so the
 * corpus (about 1 MB for tinyshakespeare) travels as an argument.
 */
import { args, err, exit, out } from "@rnnkit/backend-webgl/page";
import type { Backend } from "@rnnkit/core";
import { createBackend as createWasm } from "@rnnkit/backend-wasm";
import { createBackend as createWebgl } from "@rnnkit/backend-webgl";
import { createBackend as createWebgpu } from "@rnnkit/backend-webgpu";
import { CONFIGS, FULL, QUICK, type Schedule } from "./configs.ts";
import { measure, type MemoryProbe } from "./measure.ts";
import { encodeCorpus, generateBench, type Options, trainBench } from "./peers/tfjs_layers.ts";
import type { PageOptions } from "./browser_runs.ts";

/** Chromium's non-standard heap figure: what this page's JS holds, not the process's RSS. */
function jsHeap(): MemoryProbe | undefined {
  const memory = (performance as { memory?: { usedJSHeapSize: number } }).memory;
  return memory && { key: "peakJsHeapMB", bytes: () => memory.usedJSHeapSize };
}

/** Creates the page's backend; wasm's thread count as `threads` asks. */
function loader(o: PageOptions): () => Promise<Backend> {
  if (o.backend === "webgl") return createWebgl;
  if (o.backend === "webgpu") return createWebgpu;
  if (o.threads !== "cores") return () => createWasm({ numThreads: 1 }); // one-thread binary
  // One thread per logical core, at least 2, at most the threaded binary's pool of 8.
  const threads = Math.min(8, Math.max(2, navigator.hardwareConcurrency));
  // tfjs caps its threads at half of navigator.hardwareConcurrency (it takes each core to
  // run two hardware threads), which on 2 cores is one thread; the page reports twice the
  // count so that tfjs runs the threads asked for. Nothing else on the page reads it.
  Object.defineProperty(navigator, "hardwareConcurrency", { value: 2 * threads });
  return () => createWasm({ numThreads: threads });
}

/** A failed peer measurement is a result (absent, and why), not the end of the page. */
async function attempt(what: string, fn: () => Promise<object>): Promise<object> {
  try {
    return await fn();
  } catch (e) {
    err(`bench [tfjs-layers] ${what}: ${e}`);
    return { absent: `tfjs-layers in the page, ${what}: ${e instanceof Error ? e.message : e}` };
  }
}

/**
 * tfjs-layers on tfjs's current backend (the one rnnkit's backend just used), for every
 * config and for generation, with the same schedule as rnnkit.
 */
async function layersPeer(o: PageOptions, text: string, s: Schedule) {
  const { data, vocab } = encodeCorpus(text);
  const base: Options = {
    text: "",
    backend: o.backend,
    cell: "rnn",
    hidden: 0,
    layers: 0,
    warmup: s.warmup,
    steps: s.steps,
    reps: s.reps,
    minMs: s.minMs,
    seed: 0,
    generate: s.genChars,
    onehot: false,
  };
  const log = (msg: string) => err(`bench [tfjs-layers ${o.backend} in Chromium] ${msg}`);
  const train: Record<string, object> = {};
  for (const c of o.configs) {
    train[c] = await attempt(c, async () => {
      const r = await trainBench({ ...base, ...CONFIGS[c] }, data, vocab);
      log(
        `train ${c}: ${r.msPerStep.median.toFixed(1)} ms/step, ${r.charsPerSec.toFixed(0)} chars/s`,
      );
      return r;
    });
  }
  const generate = await attempt("generate", async () => {
    const r = await generateBench(base, vocab);
    log(`generate lstm h256x2: ${r.charsPerSec.toFixed(0)} chars/s`);
    return r;
  });
  return { train, generate };
}

try {
  const [options, text] = args();
  const o = JSON.parse(options) as PageOptions;
  const schedule = o.quick ? QUICK : FULL;
  const result = await measure({
    backend: o.backend,
    load: loader(o),
    text,
    configs: o.configs,
    schedule,
    log: (msg) => err(`bench [${o.backend} in Chromium] ${msg}`),
    memory: jsHeap(),
  });
  const tfjsLayers = !o.layers
    ? { absent: "not requested (--peers)" }
    : "reason" in result
    ? { absent: `tfjs-layers in the page: the backend did not load: ${result.reason}` }
    : await layersPeer(o, text, schedule);
  out(JSON.stringify({
    ...result,
    peakRssMB: null,
    peakRssNote: "not measured in the browser",
    tfjsLayers,
  }));
  exit(0);
} catch (e) {
  err(`error: ${(e as Error).stack ?? e}`);
  exit(1);
}
