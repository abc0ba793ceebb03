/**
 * Where a training step's time goes: wraps every method of the backend object with a
 * counter and a timer, runs warm-up steps, then reports one step's calls and milliseconds
 * per op. The difference between the step's wall time and the ops' sum is core's own
 * JavaScript (autograd, scopes, shape bookkeeping).
 *
 *   deno run --allow-read --allow-env bench/profile.ts [--backend wasm] [--config lstm]
 *   (--backend native also needs --allow-ffi --allow-run --allow-write)
 *
 * Timing each call is meaningful on synchronous backends (tfjs cpu, wasm, native); on webgpu a call
 * only enqueues work, and the wait shows up in `read`.
 */
import { parseArgs } from "node:util";
import { type Backend, CharCorpus, Random, setBackend } from "@rnnkit/core";
import { isBackendName, loadBackend } from "@rnnkit/backends";
import { BATCH, benchTraining, CONFIGS, DEFAULT_TEXT, SEQ } from "./configs.ts";

interface OpStat {
  calls: number;
  ms: number;
}

const CATEGORY: Record<string, string> = {
  matmul: "matmul",
  sum: "reduction",
  max: "reduction",
  reshape: "movement",
  transpose: "movement",
  broadcastTo: "movement",
  split: "movement",
  concat: "movement",
  gather: "movement",
  fill: "creation",
  oneHot: "creation",
  fromArray: "creation",
  read: "sync",
  dispose: "memory",
  memory: "memory",
};
const category = (op: string) =>
  op.startsWith("matmul") ? "matmul" : op.startsWith("fused.") ? "fused" : CATEGORY[op] ??
    "elementwise";

/** A view of `target` whose every method call is counted and timed under `prefix + name`. */
function instrument<T extends object>(target: T, stats: Map<string, OpStat>, prefix = ""): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj);
      if (prop === "fused" && value) return instrument(value, stats, "fused.");
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        // matmul's cost depends on the transpose flags (wasm's fast path has none).
        let op = `${prefix}${String(prop)}`;
        if (op === "matmul") op += `(${args[2] ? "T" : "N"}${args[3] ? "T" : "N"})`;
        const s = stats.get(op) ?? stats.set(op, { calls: 0, ms: 0 }).get(op)!;
        const t0 = performance.now();
        // Methods are called on the real object: private fields would reject the proxy.
        const result = value.apply(obj, args);
        s.calls++;
        if (result instanceof Promise) {
          return result.finally(() => (s.ms += performance.now() - t0));
        }
        s.ms += performance.now() - t0;
        return result;
      };
    },
  });
}

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "wasm" },
    config: { type: "string", default: "lstm" },
    text: { type: "string", default: DEFAULT_TEXT },
    warmup: { type: "string", default: "2" },
  },
});
if (!isBackendName(o.backend)) throw new Error(`unknown backend ${o.backend}`);
const c = CONFIGS[o.config];
if (!c) throw new Error(`unknown config ${o.config}`);

const stats = new Map<string, OpStat>();
setBackend(instrument<Backend>(await loadBackend(o.backend), stats));
const corpus = new CharCorpus(await Deno.readTextFile(o.text), 0);
const rng = new Random(0);
const { model, optimizer, step } = benchTraining(c, corpus, rng);

for (let i = 0; i < Number(o.warmup); i++) await step();
stats.clear();
const t0 = performance.now();
await step();
const wall = performance.now() - t0;

const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
const opMs = rows.reduce((a, [, s]) => a + s.ms, 0);
const byCategory = new Map<string, OpStat>();
for (const [op, s] of rows) {
  const k = byCategory.get(category(op)) ?? byCategory.set(category(op), { calls: 0, ms: 0 })
    .get(category(op))!;
  k.calls += s.calls;
  k.ms += s.ms;
}
const pct = (ms: number) => `${(100 * ms / wall).toFixed(1)}%`;
const line = (name: string, s: OpStat) =>
  `| ${name} | ${s.calls} | ${s.ms.toFixed(1)} | ${pct(s.ms)} | ${
    (1000 * s.ms / s.calls).toFixed(0)
  } |`;
const head = "| calls | ms | % of step | us/call |\n|---|---:|---:|---:|---:|";
console.log(
  `## One training step: ${o.config} (${c.cell} h${c.hidden} x${c.layers}) on ${o.backend}, ` +
    `batch ${BATCH} x ${SEQ}\n\nstep ${wall.toFixed(1)} ms; backend ops ${
      opMs.toFixed(1)
    } ms; core JS and the rest ${(wall - opMs).toFixed(1)} ms (${pct(wall - opMs)})\n`,
);
console.log(`| category ${head}`);
for (const [k, s] of [...byCategory].sort((a, b) => b[1].ms - a[1].ms)) console.log(line(k, s));
console.log(`\n| op ${head}`);
for (const [op, s] of rows) console.log(line(op, s));
optimizer.dispose();
model.dispose();
