/**
 * What the benchmark measures, shared by the parent (bench.ts), the per-backend runner
 * (run_backend.ts) and the profiler (profile.ts): the same numbers the peers hard-code.
 */
import {
  Adam,
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

/** The benchmark's model, its optimizer, and one training step on random windows. */
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
  // trainStep reads the loss back, so the step has really finished when it resolves.
  const step = () =>
    trainStep(optimizer, () => {
      const { input, target } = corpus.randomWindows(BATCH, SEQ, rng);
      const [logits] = model.forward(input);
      return ce.forward(ops.reshape(logits, [-1, vocabSize]), target);
    });
  return { model, optimizer, step };
}

/** How long each measurement runs; --quick shrinks everything for a smoke run. */
export interface Schedule {
  warmup: number;
  steps: number;
  reps: number;
  /** Characters generated per repetition of the generation benchmark. */
  genChars: number;
  /** Epochs per repetition of the seed's toy model. */
  toyEpochs: number;
}

export const FULL: Schedule = { warmup: 3, steps: 10, reps: 3, genChars: 200, toyEpochs: 15 };
export const QUICK: Schedule = { warmup: 1, steps: 2, reps: 1, genChars: 50, toyEpochs: 15 };

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

/** The default corpus: ../shared/data/tinyshakespeare.txt from the repository root. */
export const DEFAULT_TEXT = new URL("../../shared/data/tinyshakespeare.txt", import.meta.url)
  .pathname;
