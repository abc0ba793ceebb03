/**
 * One backend's share of the benchmark, run by bench.ts in a subprocess of its own so that
 * peak RSS and tfjs's global state belong to this backend alone. The measuring itself is in
 * measure.ts, shared with the browser pages (run_browser.ts: wasm, webgl and webgpu in Chromium).
 *
 *   deno run --allow-read --allow-env bench/run_backend.ts --backend wasm \
 *     [--text FILE] [--configs rnn,lstm,gru] [--quick] [--workers N]
 *
 * (--backend native also needs --allow-ffi --allow-run --allow-write.)
 *
 * --workers N (N >= 2) measures training only, with each step's gradients computed by N
 * data-parallel Deno workers (apps/cli/data_parallel.ts, as `train --workers N` does); its
 * results are named e.g. "wasm x2 workers".
 *
 * After the measurements, in the same process, it times the machine's sgemm at the configs'
 * product shapes (roofline.ts), the limit that bench.ts sets each training row against.
 *
 * Prints exactly one JSON line on stdout (`{"available": false, "reason": ...}` when the
 * backend cannot be loaded here); one progress line per measurement on stderr.
 */
import { parseArgs } from "node:util";
import { CharCorpus } from "@rnnkit/core";
import { isBackendName, loadBackend } from "@rnnkit/backends";
import { DataParallel } from "../apps/cli/data_parallel.ts";
import { DEFAULT_TEXT, FULL, QUICK, workersLabel } from "./configs.ts";
import { measure } from "./measure.ts";
import { measureRoofline } from "./roofline.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "" },
    text: { type: "string", default: DEFAULT_TEXT },
    configs: { type: "string", default: "rnn,lstm,gru" },
    quick: { type: "boolean", default: false },
    workers: { type: "string", default: "1" },
  },
});
const backend = args.backend;
if (!isBackendName(backend)) throw new Error(`unknown backend "${backend}"`);
const workers = Number(args.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: "${args.workers}"`);
const name = workersLabel(backend, workers);

const text = await Deno.readTextFile(args.text);
const configs = args.configs.split(",").filter((s) => s);
const result = await measure({
  backend: name,
  load: () => loadBackend(backend),
  text,
  configs,
  schedule: args.quick ? QUICK : FULL,
  log: (msg) => console.error(`bench [${name}] ${msg}`),
  // The workers are threads of this process: their memory is in its RSS.
  memory: { key: "peakRssMB", bytes: () => Deno.memoryUsage().rss },
  ...(workers > 1 && {
    parallel: { workers, start: (model) => DataParallel.create(workers, backend, model) },
    trainOnly: true,
  }),
});
// --quick times each shape briefly: its rates are rougher, its run stays short. A workers
// run leaves it to its backend's single-stream run.
const roofline = workers > 1 ? undefined : await measureRoofline(
  configs,
  new CharCorpus(text, 0).vocab.length,
  args.quick ? 20 : 200,
);
console.log(JSON.stringify({ ...result, roofline }));
