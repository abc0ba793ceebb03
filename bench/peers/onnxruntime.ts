/**
 * onnxruntime peer for the generation benchmark: greedy generation, batch 1, one character
 * per `session.run` with the state carried, on one thread, from the model that
 * onnx_charlm_export.py wrote (PyTorch's Embedding -> LSTM(64,256,2) -> Linear).
 *
 *   ONNXRUNTIME_NODE_INSTALL_CUDA=skip deno run --no-lock --allow-read --allow-env \
 *     --allow-ffi bench/peers/onnxruntime.ts --model charlm.onnx --generate 200 [--reps 3]
 *
 * Prints exactly one JSON line on stdout; progress goes to stderr.
 */
import { parseArgs } from "node:util";
// Pinned here, not in deno.json: an optional peer (~180 MB with its native binaries) that
// only this program should install.
// deno-lint-ignore no-import-prefix
import * as ort from "npm:onnxruntime-node@1.20.1";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    generate: { type: "string", default: "200" },
    warmup: { type: "string", default: "3" },
    reps: { type: "string", default: "3" },
    // Accepted for the bench's shared schedule flags; training is not measured here.
    steps: { type: "string" },
    "min-ms": { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
if (!a.model) throw new Error("--model FILE is required");
const [chars, reps] = [Number(a.generate), a.quick ? 1 : Number(a.reps)];
const warmup = a.quick ? 1 : Number(a.warmup);
const [LAYERS, HIDDEN] = [2, 256];

const session = await ort.InferenceSession.create(a.model, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
});

/** Generates n characters from index 0 and the zero state; returns the last index. */
async function run(n: number): Promise<number> {
  const zeros = () =>
    new ort.Tensor("float32", new Float32Array(LAYERS * HIDDEN), [LAYERS, 1, HIDDEN]);
  let [h, c] = [zeros(), zeros()];
  let index = 0;
  for (let i = 0; i < n; i++) {
    const x = new ort.Tensor("int64", BigInt64Array.of(BigInt(index)), [1, 1]);
    const out = await session.run({ x, h, c });
    const logits = out.logits.data as Float32Array;
    index = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[index]) index = j;
    [h, c] = [out.h_out as ort.Tensor, out.c_out as ort.Tensor];
  }
  return index;
}

await run(warmup);
const rates: number[] = [];
for (let r = 0; r < reps; r++) {
  const t0 = performance.now();
  await run(chars);
  rates.push(chars / ((performance.now() - t0) / 1000));
  console.error(`rep ${r + 1}/${reps}: ${rates.at(-1)!.toFixed(0)} chars/s`);
}
const sorted = [...rates].sort((x, y) => x - y);
const m = sorted.length >> 1;
console.log(JSON.stringify({
  peer: "onnxruntime",
  task: "generate",
  version: ort.env.versions.node,
  threads: 1,
  cell: "lstm",
  hidden: HIDDEN,
  layers: LAYERS,
  batch: 1,
  chars,
  charsPerSec: sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2,
  charsPerSecReps: { min: sorted[0], max: sorted.at(-1), reps: rates },
  peakRssMB: Deno.memoryUsage().rss / 2 ** 20,
}));
