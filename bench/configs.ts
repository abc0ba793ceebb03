/**
 * What the benchmark measures, shared by the parent (bench.ts), the per-backend runner
 * (run_backend.ts) and the profiler (profile.ts): the same numbers the peers hard-code.
 */
import {
  Adam,
  applyGradients,
  type Batch,
  type Cell,
  type CharCorpus,
  CharLM,
  CrossEntropyLoss,
  ops,
  type Random,
  trainStep,
} from "@rnnkit/core";

export const BATCH = 32;
export const SEQ = 64;
export const EMBED = 64;
export const LR = 2e-3;

export interface TrainConfig {
  cell: Cell;
  hidden: number;
  layers: number;
}

export const CONFIGS: Record<string, TrainConfig> = {
  rnn: { cell: "rnn", hidden: 128, layers: 1 },
  lstm: { cell: "lstm", hidden: 256, layers: 2 },
  gru: { cell: "gru", hidden: 256, layers: 2 },
};
export const CONFIG_NAMES = Object.keys(CONFIGS);

/**
 * Computes a model's gradients somewhere else, e.g. data-parallel workers (DataParallel in
 * apps/cli/data_parallel.ts): sets the model's `.grad` to the gradient of the batch's mean
 * loss and returns that loss.
 */
export interface ParallelBackward {
  backward(model: CharLM, batch: Batch, dropoutSeed: number): Promise<number>;
  close(): void;
}

/**
 * The benchmark's model, its optimizer, and one training step on random windows: `step`
 * computes the gradients here, `parallelStep` has `parallel` compute them (the rest of the
 * step, as `train --workers` does it: the optimizer runs here).
 */
export function benchTraining(c: TrainConfig, corpus: CharCorpus, rng: Random) {
  const vocabSize = corpus.vocab.length;
  const model = new CharLM({
    vocabSize,
    cell: c.cell,
    embeddingSize: EMBED,
    hiddenSize: c.hidden,
    numLayers: c.layers,
    rng,
  });
  const optimizer = new Adam(model.parameters(), { lr: LR });
  const ce = new CrossEntropyLoss();
  const windows = () => corpus.randomWindows(BATCH, SEQ, rng);
  // trainStep reads the loss back, so the step has really finished when it resolves.
  const step = () =>
    trainStep(optimizer, () => {
      const { input, target } = windows();
      const [logits] = model.forward(input);
      return ce.forward(ops.reshape(logits, [-1, vocabSize]), target);
    });
  let dropoutSeed = 0;
  const parallelStep = async (parallel: ParallelBackward) => {
    optimizer.zeroGrad();
    const batch = windows();
    try {
      const loss = await parallel.backward(model, batch, dropoutSeed++);
      await applyGradients(optimizer);
      return { loss };
    } finally {
      batch.input.dispose();
      batch.target.dispose();
    }
  };
  return { model, optimizer, step, parallelStep };
}

/** How long each measurement runs; --quick shrinks everything for a smoke run. */
export interface Schedule {
  /** Warm-up steps (at least; see minMs). */
  warmup: number;
  /** Steps per timed repetition (at least; see minMs). */
  steps: number;
  reps: number;
  /**
   * The warm-up and each repetition last at least this long (timing.ts): a fast step (RNN
   * h128 natively, ~3 ms) runs as many steps as that takes.
   */
  minMs: number;
  /**
   * Characters generated per repetition of the generation benchmark: 1,000 in a full run,
   * ~0.1 s natively (200 was ~16 ms, so short that JIT warm-up and a woken core decided it).
   */
  genChars: number;
  /** Epochs per repetition of the seed's toy model. */
  toyEpochs: number;
}

export const FULL: Schedule = {
  warmup: 3,
  steps: 10,
  reps: 3,
  minMs: 500,
  genChars: 1000,
  toyEpochs: 15,
};
export const QUICK: Schedule = {
  warmup: 1,
  steps: 2,
  reps: 1,
  minMs: 0,
  genChars: 50,
  toyEpochs: 15,
};

export interface Stats {
  median: number;
  min: number;
  max: number;
  reps: number[];
}

export function stats(reps: number[]): Stats {
  const s = [...reps].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median, min: s[0], max: s[s.length - 1], reps };
}

/** A backend's name in the results, with its data-parallel workers if any: "wasm x2 workers". */
export const workersLabel = (backend: string, workers: number): string =>
  workers > 1 ? `${backend} x${workers} workers` : backend;

/** The default corpus: ../shared/data/tinyshakespeare.txt from the repository root. */
export const DEFAULT_TEXT = new URL("../../shared/data/tinyshakespeare.txt", import.meta.url)
  .pathname;
