/**
 * One backend's share of the benchmark, run by bench.ts in a subprocess of its own so that
 * peak RSS and tfjs's global state belong to this backend alone. The measuring itself is in
 * measure.ts, shared with the browser page (run_browser.ts) that measures webgl.
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
 * Prints exactly one JSON line on stdout (`{"available": false, "reason": ...}` when the
 * backend cannot be loaded here); one progress line per measurement on stderr.
 */
import { parseArgs } from "node:util";
import { isBackendName, loadBackend } from "@rnnkit/backends";
import { DataParallel } from "../apps/cli/data_parallel.ts";
import { DEFAULT_TEXT, FULL, QUICK, workersLabel } from "./configs.ts";
import { measure } from "./measure.ts";

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

const result = await measure({
  backend: name,
  load: () => loadBackend(backend),
  text: await Deno.readTextFile(args.text),
  configs: args.configs.split(",").filter((s) => s),
  schedule: args.quick ? QUICK : FULL,
  log: (msg) => console.error(`bench [${name}] ${msg}`),
  // The workers are threads of this process: their memory is in its RSS.
  memory: { key: "peakRssMB", bytes: () => Deno.memoryUsage().rss },
  ...(workers > 1 && {
    parallel: { workers, start: (model) => DataParallel.create(workers, backend, model) },
    trainOnly: true,
  }),
});
console.log(JSON.stringify(result));
