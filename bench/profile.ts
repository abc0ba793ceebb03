/**
 * Where a training step's time goes: wraps every method of the backend object with a
 * counter and a timer, runs warm-up steps, then reports one step's calls and milliseconds
 * per op and per part of the step: matrix products by shape (with their GFLOPS against
 * sgemm's own rate at that shape), elementwise and other ops, the fused time loop (with
 * what its per-step products would take at sgemm's rate, so the rest is gate math and
 * per-step overhead), the optimizer (every op under `optimizer.step()`), and host
 * overhead: the step's wall time less the ops' sum, i.e. core's own JavaScript (autograd,
 * scopes, shape bookkeeping).
 *
 *   deno run --allow-read --allow-env bench/profile.ts [--backend wasm] [--config lstm]
 *     [--warmup 2] [--steps 1] (figures per step, averaged over --steps)
 *   (--backend native, and the sgemm rates, which need the native backend's OpenBLAS,
 *   also need --allow-ffi --allow-run --allow-write)
 *
 * `--generate N` profiles greedy generation instead (the bench's LSTM h256 x2, batch 1):
 * N characters after a warm-up, reported per character.
 *
 * Timing each call is meaningful on synchronous backends (tfjs cpu, wasm, native); on webgpu a call
 * only enqueues work, and the wait shows up in `read`.
 */
import { parseArgs } from "node:util";
import { type Backend, CharCorpus, CharLM, generate, Random, setBackend } from "@rnnkit/core";
import { isBackendName, loadBackend } from "@rnnkit/backends";
import type { SgemmShape } from "@rnnkit/backend-native";
import { BATCH, benchTraining, CONFIGS, DEFAULT_TEXT, EMBED, SEQ } from "./configs.ts";
import { flopsOf, shapeKey, stepProducts } from "./flops.ts";
import { measureRoofline } from "./roofline.ts";

interface OpStat {
  calls: number;
  ms: number;
  /** A matrix product's shape, for its FLOPs. */
  shape?: SgemmShape;
}

const CATEGORY: Record<string, string> = {
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
  "fused.recurrentForward": "time loop",
  "fused.recurrentBackward": "time loop",
};
const category = (op: string) =>
  op.startsWith("optimizer:")
    ? "optimizer"
    : op.startsWith("matmul")
    ? "matmul"
    : op.startsWith("fused.") && !CATEGORY[op]
    ? "fused"
    : CATEGORY[op] ?? "elementwise";

/**
 * A matmul's shape from its operands. Handles are opaque to core's interface, but the
 * backends profiled here (native's host tensors, tfjs's tensors) carry a `shape`.
 */
function productShape(args: unknown[]): SgemmShape | undefined {
  const [a, b] = args.map((h) => (h as { shape?: number[] }).shape);
  const [transA, transB] = [Boolean(args[2]), Boolean(args[3])];
  if (!a || !b) return undefined;
  const [m, k] = transA ? [a[1], a[0]] : [a[0], a[1]];
  return { m, n: transB ? b[0] : b[1], k, transA, transB };
}

/** Set while `optimizer.step()` runs: its ops are counted as the optimizer's. */
let phase = "";

/** A view of `target` whose every method call is counted and timed under `prefix + name`. */
function instrument<T extends object>(target: T, stats: Map<string, OpStat>, prefix = ""): T {
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj);
      if (prop === "fused" && value) return instrument(value, stats, "fused.");
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        let op = `${phase}${prefix}${String(prop)}`;
        const shape = prop === "matmul" ? productShape(args) : undefined;
        // Without a shape, the transpose flags (wasm's fast path has none).
        if (prop === "matmul") {
          op += shape ? ` ${shapeKey(shape)}` : `(${args[2] ? "T" : "N"}${args[3] ? "T" : "N"})`;
        }
        const s = stats.get(op) ?? stats.set(op, { calls: 0, ms: 0, shape }).get(op)!;
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
    steps: { type: "string", default: "1" },
    generate: { type: "string" },
  },
});
if (!isBackendName(o.backend)) throw new Error(`unknown backend ${o.backend}`);
const c = CONFIGS[o.config];
if (!c) throw new Error(`unknown config ${o.config}`);

const stats = new Map<string, OpStat>();
setBackend(instrument<Backend>(await loadBackend(o.backend), stats));
const corpus = new CharCorpus(await Deno.readTextFile(o.text), 0);
if (o.generate) {
  await profileGeneration(Number(o.generate));
  Deno.exit(0);
}
const rng = new Random(0);
const { model, optimizer, step } = benchTraining(c, corpus, rng);
const optimizerStep = optimizer.step.bind(optimizer);
optimizer.step = () => {
  phase = "optimizer: ";
  try {
    return optimizerStep();
  } finally {
    phase = "";
  }
};

for (let i = 0; i < Number(o.warmup); i++) await step();
stats.clear();
// Averaged over --steps: one step's figures vary by a few ms where an idle core must wake.
const steps = Number(o.steps);
const t0 = performance.now();
for (let i = 0; i < steps; i++) await step();
const wall = (performance.now() - t0) / steps;
for (const s of stats.values()) s.calls /= steps, s.ms /= steps;

const products = stepProducts(c, { vocab: corpus.vocab.length });
const roof = await measureRoofline([o.config], corpus.vocab.length, 100).catch((e) => ({
  absent: String(e),
}));
const rateOf = (s: SgemmShape) =>
  "absent" in roof ? undefined : roof.shapes.find((r) => r.shape === shapeKey(s));

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
const stepFlops = flopsOf(products);
console.log(
  `## One training step: ${o.config} (${c.cell} h${c.hidden} x${c.layers}) on ${o.backend}, ` +
    `batch ${BATCH} x ${SEQ}\n\nstep ${wall.toFixed(1)} ms, ${(stepFlops / 1e9).toFixed(2)} ` +
    `GFLOP of products (${(stepFlops / wall / 1e6).toFixed(1)} GFLOPS); backend ops ${
      opMs.toFixed(1)
    } ms; host overhead (core JS and the rest) ${(wall - opMs).toFixed(1)} ms (${
      pct(wall - opMs)
    })\n`,
);
console.log(`| category ${head}`);
for (const [k, s] of [...byCategory].sort((a, b) => b[1].ms - a[1].ms)) console.log(line(k, s));

console.log(
  "\n| matmul by shape | calls | ms | GFLOPS | sgemm 1t / 2t GFLOPS |\n|---|---:|---:|---:|---:|",
);
for (const [op, s] of rows.filter(([op]) => op.includes("matmul"))) {
  const gf = s.shape ? (2 * s.shape.m * s.shape.n * s.shape.k * s.calls / s.ms / 1e6) : NaN;
  const r = s.shape && rateOf(s.shape);
  console.log(
    `| ${op} | ${s.calls} | ${s.ms.toFixed(1)} | ${gf.toFixed(1)} | ${
      r ? `${r.gflops1t.toFixed(1)} / ${r.gflops2t.toFixed(1)}` : "–"
    } |`,
  );
}

const loop = byCategory.get("time loop");
if (loop) {
  // What the loop's per-step products alone would take at sgemm's measured rates.
  const inLoop = products.filter((p) => p.count === SEQ);
  const at = (t: "gflops1t" | "gflops2t") =>
    inLoop.reduce((ms, p) => ms + 2 * p.m * p.n * p.k * p.count / (rateOf(p)?.[t] ?? NaN) / 1e6, 0);
  console.log(
    `\ntime loop: ${loop.ms.toFixed(1)} ms for ${(flopsOf(inLoop) / 1e9).toFixed(2)} GFLOP of ` +
      `per-step products, which take ${at("gflops1t").toFixed(1)} ms at sgemm's 1-thread rate, ` +
      `${at("gflops2t").toFixed(1)} ms at its 2-thread rate; the rest is gate math and per-step ` +
      "overhead",
  );
}
if (!("absent" in roof)) {
  console.log(
    `limit: ${(stepFlops / roof.best2t / 1e6).toFixed(1)} ms (the step's FLOPs at ${
      roof.best2t.toFixed(1)
    } GFLOPS, the best 2-thread sgemm rate), ${
      (100 * stepFlops / roof.best2t / 1e6 / wall).toFixed(0)
    }% of it reached`,
  );
} else console.log(`sgemm rates absent: ${roof.absent}`);

console.log(`\n| op ${head}`);
for (const [op, s] of rows) console.log(line(op, s));
optimizer.dispose();
model.dispose();

/** Greedy generation, as the bench measures it: one character's ops, averaged over n. */
async function profileGeneration(n: number) {
  const model = new CharLM({
    vocabSize: corpus.vocab.length,
    cell: "lstm",
    embeddingSize: EMBED,
    hiddenSize: 256,
    numLayers: 2,
    rng: new Random(0),
  });
  await generate(model, [0], 20, { temperature: 0 });
  stats.clear();
  const t0 = performance.now();
  await generate(model, [0], n, { temperature: 0 });
  const us = 1000 * (performance.now() - t0) / n;
  const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
  const opUs = 1000 * rows.reduce((a, [, s]) => a + s.ms, 0) / n;
  console.log(
    `## Generation on ${o.backend}: lstm h256 x2, batch 1, greedy, ${n} characters\n\n` +
      `${us.toFixed(0)} us per character (${(1e6 / us).toFixed(0)} chars/s); backend ops ` +
      `${opUs.toFixed(0)} us; host overhead (core JS and the rest) ${(us - opUs).toFixed(0)} us\n`,
  );
  console.log("| op | calls per char | us per char |\n|---|---:|---:|");
  for (const [op, s] of rows) {
    console.log(`| ${op} | ${(s.calls / n).toFixed(1)} | ${(1000 * s.ms / n).toFixed(1)} |`);
  }
  model.dispose();
}
