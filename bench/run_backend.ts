/**
 * One backend's share of the benchmark, run by bench.ts in a subprocess of its own so that
 * peak RSS and tfjs's global state belong to this backend alone. The measuring itself is in
 * measure.ts, shared with the browser page (run_browser.ts) that measures webgl.
 *
 *   deno run --allow-read --allow-env bench/run_backend.ts --backend wasm \
 *     [--text FILE] [--configs rnn,lstm,gru] [--quick]
 *
 * Prints exactly one JSON line on stdout (`{"available": false, "reason": ...}` when the
 * backend cannot be loaded here); one progress line per measurement on stderr.
 */
import { parseArgs } from "node:util";
import { isBackendName, loadBackend } from "../apps/cli/backends.ts";
import { DEFAULT_TEXT, FULL, QUICK } from "./configs.ts";
import { measure } from "./measure.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "" },
    text: { type: "string", default: DEFAULT_TEXT },
    configs: { type: "string", default: "rnn,lstm,gru" },
    quick: { type: "boolean", default: false },
  },
});
const name = args.backend;
if (!isBackendName(name)) throw new Error(`unknown backend "${name}"`);

const result = await measure({
  backend: name,
  load: () => loadBackend(name),
  text: await Deno.readTextFile(args.text),
  configs: args.configs.split(",").filter((s) => s),
  schedule: args.quick ? QUICK : FULL,
  log: (msg) => console.error(`bench [${name}] ${msg}`),
  memory: { key: "peakRssMB", bytes: () => Deno.memoryUsage().rss },
});
console.log(JSON.stringify(result));
