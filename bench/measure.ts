/**
 * One backend's measurements, shared by the Deno runner (run_backend.ts) and the browser page
 * (run_browser.ts). Runtime-neutral on purpose: no Deno APIs, so that the page's bundle can
 * import it; whatever differs between the two (the corpus file, process memory, arguments)
 * comes in through `MeasureOptions`.
 */
import {
  Adam,
  type Backend,
  CharCorpus,
  CharLM,
  generate,
  getBackend,
  liveTensors,
  Random,
  setBackend,
  trainStep,
} from "@rnnkit/core";
import { TOY_LR, ToyTask } from "../apps/cli/toy.ts";
import {
  BATCH,
  benchTraining,
  CONFIGS,
  EMBED,
  type ParallelBackward,
  type Schedule,
  SEQ,
  stats,
  type TrainConfig,
} from "./configs.ts";
import { flopsOf, stepProducts } from "./flops.ts";
import { timeSteps } from "./timing.ts";

/** Memory in use now, in bytes, under the name it is reported by (e.g. peakRssMB). */
export interface MemoryProbe {
  key: string;
  bytes: () => number;
}

export interface MeasureOptions {
  /** The backend's name in the results. */
  backend: string;
  /** Creates the backend; a failure here is reported as `available: false`. */
  load: () => Promise<Backend>;
  /** The corpus, all of it, as the peers use it. */
  text: string;
  configs: string[];
  schedule: Schedule;
  /** One progress line per measurement. */
  log: (msg: string) => void;
  /** Sampled after every step; its peak goes into the results. None: no memory figure. */
  memory?: MemoryProbe;
  /**
   * Training's gradients computed in parallel (e.g. by Deno workers, which the browser lacks):
   * given each config's model, starts what computes its gradients; closed after the config.
   */
  parallel?: { workers: number; start: (model: CharLM) => Promise<ParallelBackward> };
  /** Training configs only: no toy model, no generation (both single-stream). */
  trainOnly?: boolean;
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

/** Warms up, then times `reps` blocks of calls (timing.ts); ms per call per block. */
async function timed(step: () => Promise<unknown>, s: Schedule) {
  await timeSteps(step, s.warmup, s.minMs);
  const before = counts();
  const reps: number[] = [];
  for (let r = 0; r < s.reps; r++) reps.push(await timeSteps(step, s.steps, s.minMs));
  return { ms: stats(reps), live: growth(before, counts()) };
}

/**
 * Every measurement for the backend that `opts.load` creates; the object that the runners
 * print as their one JSON line.
 */
export async function measure(opts: MeasureOptions) {
  const { backend: name, schedule, log, memory } = opts;
  const corpus = new CharCorpus(opts.text, 0);
  try {
    setBackend(await opts.load());
  } catch (e) {
    // A backend that cannot run here is a result, not an error.
    return { backend: name, available: false, reason: String(e) };
  }
  log(`loaded${getBackend().description ? `: ${getBackend().description}` : ""}`);

  // tfjs frees synchronously, so sampling after every step comes close to the true peak.
  let peak = 0;
  const sample = () => {
    if (memory) peak = Math.max(peak, memory.bytes());
  };
  const peakNow = () => memory ? { [memory.key]: mb(peak) } : {};

  async function trainBench(label: string, c: TrainConfig) {
    const training = benchTraining(c, corpus, new Random(0));
    const { model, optimizer } = training;
    const parallel = await opts.parallel?.start(model);
    let loss = NaN;
    let steps = 0;
    const step = async () => {
      loss = (await (parallel ? training.parallelStep(parallel) : training.step())).loss;
      steps++;
      sample();
    };
    // webgpu counts its GPU dispatches; every step dispatches the same, warm-up included.
    const dispatches = (getBackend() as { dispatches?: () => number }).dispatches;
    const before = dispatches?.();
    const { ms, live } = await timed(step, schedule).finally(() => parallel?.close());
    const dispatchesPerStep = dispatches && (dispatches() - before!) / steps;
    optimizer.dispose();
    model.dispose();
    const charsPerSec = BATCH * SEQ / (ms.median / 1000);
    const flops = flopsOf(stepProducts(c, { vocab: corpus.vocab.length }));
    log(
      `train ${label}: ${ms.median.toFixed(1)} ms/step (min ${ms.min.toFixed(1)}, max ${
        ms.max.toFixed(1)
      }), ${charsPerSec.toFixed(0)} chars/s, loss ${loss.toFixed(4)}, live tensors ${live}${
        dispatchesPerStep ? `, ${dispatchesPerStep} dispatches/step` : ""
      }`,
    );
    return {
      config: label,
      ...c,
      batch: BATCH,
      seq: SEQ,
      ...schedule,
      msPerStep: ms,
      charsPerSec,
      /** The step's matrix-product FLOPs (flops.ts) and their rate at the median step. */
      flops,
      gflops: flops / (ms.median * 1e6),
      lastLoss: loss,
      liveTensors: live,
      /** GPU dispatches per training step, where the backend counts them (webgpu). */
      ...(dispatchesPerStep !== undefined && { dispatchesPerStep }),
      ...peakNow(),
    };
  }

  /** The seed's default program: ToyTask "embedding" on hello -> ohlol, Adam 0.05. */
  async function toyBench() {
    const task = new ToyTask({ model: "embedding", input: "hello", target: "ohlol" });
    const optimizer = new Adam(task.module.parameters(), { lr: TOY_LR.embedding });
    const epoch = async () => {
      await trainStep(optimizer, () => task.forward().loss);
      sample();
    };
    // One timed block is one run of the seed (15 epochs); warm-up is one such run too.
    const s = { ...schedule, warmup: schedule.toyEpochs, steps: schedule.toyEpochs, minMs: 0 };
    const { ms, live } = await timed(epoch, s);
    optimizer.dispose();
    task.dispose();
    log(`toy embedding: ${ms.median.toFixed(2)} ms/epoch, live tensors ${live}`);
    return { model: "embedding", epochs: s.steps, reps: s.reps, msPerEpoch: ms, liveTensors: live };
  }

  /** Greedy generation from a random LSTM h256 x2, one char per forward, state carried. */
  async function generateBench() {
    const model = new CharLM({
      vocabSize: corpus.vocab.length,
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
      sample();
    }
    const live = growth(before, counts());
    model.dispose();
    const rate = stats(rates);
    log(`generate lstm h256x2: ${rate.median.toFixed(0)} chars/s, live tensors ${live}`);
    return { cell: "lstm", hidden: 256, layers: 2, chars: n, charsPerSec: rate, liveTensors: live };
  }

  sample();
  const train = [];
  for (const label of opts.configs) {
    const c = CONFIGS[label];
    if (!c) throw new Error(`unknown config "${label}"`);
    train.push(await trainBench(label, c));
  }
  const singleStream = opts.trainOnly
    ? {}
    : { toy: await toyBench(), generate: await generateBench() };
  sample();
  return {
    backend: name,
    available: true,
    description: getBackend().description ?? null,
    workers: opts.parallel?.workers ?? 1,
    trainOnly: opts.trainOnly ?? false,
    train,
    ...singleStream,
    ...peakNow(),
    liveTensorsEnd: liveTensors(),
    backendTensorsEnd: getBackend().memory().numTensors,
  };
}
