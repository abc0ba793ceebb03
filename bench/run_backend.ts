/**
 * One backend's share of the benchmark, run by bench.ts in a subprocess of its own so that
 * peak RSS and tfjs's global state belong to this backend alone.
 *
 *   deno run --allow-read --allow-env bench/run_backend.ts --backend wasm \
 *     [--text FILE] [--configs rnn,lstm,gru] [--quick]
 *
 * Prints exactly one JSON line on stdout (`{"available": false, "reason": ...}` when the
 * backend cannot be loaded here); one progress line per measurement on stderr.
 */
import { parseArgs } from "node:util";
import {
  Adam,
  CharCorpus,
  CharLM,
  generate,
  getBackend,
  liveTensors,
  Random,
  setBackend,
  trainStep,
} from "@rnnkit/core";
import { isBackendName, loadBackend } from "../apps/cli/backends.ts";
import { TOY_LR, ToyTask } from "../apps/cli/toy.ts";
import {
  BATCH,
  benchTraining,
  CONFIGS,
  DEFAULT_TEXT,
  EMBED,
  FULL,
  QUICK,
  type Schedule,
  SEQ,
  stats,
  type TrainConfig,
} from "./configs.ts";

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
const schedule: Schedule = args.quick ? QUICK : FULL;

function log(msg: string): void {
  console.error(`bench [${name}] ${msg}`);
}

/** tfjs frees synchronously, so sampling after every step comes close to the true peak. */
let peakRss = 0;
function sampleRss(): void {
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}
const mb = (bytes: number) => bytes / 2 ** 20;

/** Core's count and the backend's own count: both must stay put across the timed loop. */
function counts() {
  return { core: liveTensors(), backend: getBackend().memory().numTensors };
}

function growth(before: ReturnType<typeof counts>, after: ReturnType<typeof counts>) {
  const d = { core: after.core - before.core, backend: after.backend - before.backend };
  return d.core === 0 && d.backend === 0 ? "flat" : `grew: core +${d.core}, backend +${d.backend}`;
}

/** Runs `warmup` calls, then `reps` timed blocks of `steps` calls; ms per call per block. */
async function timed(step: () => Promise<unknown>, s: Schedule) {
  for (let i = 0; i < s.warmup; i++) await step();
  const before = counts();
  const reps: number[] = [];
  for (let r = 0; r < s.reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < s.steps; i++) await step();
    reps.push((performance.now() - t0) / s.steps);
  }
  return { ms: stats(reps), live: growth(before, counts()) };
}

async function trainBench(label: string, c: TrainConfig, corpus: CharCorpus) {
  const rng = new Random(0);
  const training = benchTraining(c, corpus, rng);
  const { model, optimizer } = training;
  let loss = NaN;
  const step = async () => {
    loss = (await training.step()).loss;
    sampleRss();
  };
  const { ms, live } = await timed(step, schedule);
  optimizer.dispose();
  model.dispose();
  const charsPerSec = BATCH * SEQ / (ms.median / 1000);
  log(
    `train ${label}: ${ms.median.toFixed(1)} ms/step (min ${ms.min.toFixed(1)}, max ${
      ms.max.toFixed(1)
    }), ${charsPerSec.toFixed(0)} chars/s, loss ${loss.toFixed(4)}, live tensors ${live}`,
  );
  return {
    config: label,
    ...c,
    batch: BATCH,
    seq: SEQ,
    ...schedule,
    msPerStep: ms,
    charsPerSec,
    lastLoss: loss,
    liveTensors: live,
    peakRssMB: mb(peakRss),
  };
}

/** The seed's default program: ToyTask "embedding" on hello -> ohlol, Adam 0.05. */
async function toyBench() {
  const task = new ToyTask({ model: "embedding", input: "hello", target: "ohlol" });
  const optimizer = new Adam(task.module.parameters(), { lr: TOY_LR.embedding });
  const epoch = async () => {
    await trainStep(optimizer, () => task.forward().loss);
    sampleRss();
  };
  // One timed block is one run of the seed (15 epochs); warm-up is one such run too.
  const s = { ...schedule, warmup: schedule.toyEpochs, steps: schedule.toyEpochs };
  const { ms, live } = await timed(epoch, s);
  optimizer.dispose();
  task.dispose();
  log(`toy embedding: ${ms.median.toFixed(2)} ms/epoch, live tensors ${live}`);
  return { model: "embedding", epochs: s.steps, reps: s.reps, msPerEpoch: ms, liveTensors: live };
}

/** Greedy generation from a random LSTM h256 x2, one char per forward, state carried. */
async function generateBench(vocab: number) {
  const model = new CharLM({
    vocabSize: vocab,
    cell: "lstm",
    embeddingSize: EMBED,
    hiddenSize: 256,
    numLayers: 2,
    rng: new Random(0),
  });
  const n = schedule.genChars;
  await generate(model, [0], Math.min(n, 10), { temperature: 0 }); // warm-up
  const before = counts();
  const rates: number[] = [];
  for (let r = 0; r < schedule.reps; r++) {
    const t0 = performance.now();
    await generate(model, [0], n, { temperature: 0 });
    rates.push(n / ((performance.now() - t0) / 1000));
    sampleRss();
  }
  const live = growth(before, counts());
  model.dispose();
  const rate = stats(rates);
  log(`generate lstm h256x2: ${rate.median.toFixed(0)} chars/s, live tensors ${live}`);
  return { cell: "lstm", hidden: 256, layers: 2, chars: n, charsPerSec: rate, liveTensors: live };
}

async function main() {
  if (!isBackendName(name)) throw new Error(`unknown backend "${name}"`);
  const text = await Deno.readTextFile(args.text);
  const corpus = new CharCorpus(text, 0); // all of it, as the peers use it
  try {
    setBackend(await loadBackend(name));
  } catch (e) {
    // A backend that cannot run here is a result, not an error.
    console.log(JSON.stringify({ backend: name, available: false, reason: String(e) }));
    return;
  }
  log(`loaded${getBackend().description ? `: ${getBackend().description}` : ""}`);
  sampleRss();
  const train = [];
  for (const label of args.configs.split(",").filter((s) => s)) {
    const c = CONFIGS[label];
    if (!c) throw new Error(`unknown config "${label}"`);
    train.push(await trainBench(label, c, corpus));
  }
  const toy = await toyBench();
  const gen = await generateBench(corpus.vocab.length);
  sampleRss();
  console.log(JSON.stringify({
    backend: name,
    available: true,
    description: getBackend().description ?? null,
    train,
    toy,
    generate: gen,
    peakRssMB: mb(peakRss),
    liveTensorsEnd: liveTensors(),
    backendTensorsEnd: getBackend().memory().numTensors,
  }));
}

await main();
