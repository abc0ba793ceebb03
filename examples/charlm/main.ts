/**
 * A character language model with rnnkit's library API only: train an LSTM on a text,
 * checkpoint it half way, resume the run from the checkpoint in a fresh model and
 * optimizer, then load the saved model and generate text.
 *
 *   deno task start [--text FILE] [--steps N] [--dir DIR] [--backend auto|wasm|native|...]
 */
import { parseArgs } from "node:util";
import {
  Adam,
  CharCorpus,
  CharLM,
  charLMMetadata,
  evaluate,
  fit,
  generate,
  loadCharLM,
  Random,
  readCheckpoint,
  saveCheckpoint,
  setBackend,
} from "@rnnkit/core";
import { loadBackend } from "@rnnkit/backends";

const { values: flags } = parseArgs({
  options: {
    text: {
      type: "string",
      default: new URL("sample.txt", import.meta.url).pathname,
    },
    steps: { type: "string", default: "200" },
    dir: { type: "string", default: "out" },
    backend: { type: "string", default: "auto" },
  },
});
const steps = Number(flags.steps);
if (!Number.isInteger(steps) || steps < 2) {
  throw new Error(`--steps must be an integer >= 2`);
}
const backend = await loadBackend(flags.backend);
setBackend(backend);
console.log(`backend: ${backend.name}`);

const corpus = new CharCorpus(await Deno.readTextFile(flags.text), 0.1);
const [batchSize, seqLen] = [16, 32];
const path = `${flags.dir}/charlm.safetensors`;
await Deno.mkdir(flags.dir, { recursive: true });

/** A fresh model, optimizer and generator: the same every time, as for a new process. */
function setup() {
  const rng = new Random(1);
  const model = new CharLM({
    vocabSize: corpus.vocab.length,
    cell: "lstm",
    embeddingSize: 32,
    hiddenSize: 64,
    numLayers: 2,
    rng,
  });
  return { rng, model, optimizer: new Adam(model.parameters(), { lr: 3e-3 }) };
}

/** Trains from `startStep` to `until`, validating at the end, then saves a checkpoint. */
async function train(
  run: ReturnType<typeof setup>,
  startStep: number,
  until: number,
) {
  const { model, optimizer, rng } = run;
  const { losses, validation } = await fit({
    optimizer,
    steps: until,
    startStep,
    clipGradNorm: 5,
    forward: () => model.loss(corpus.randomWindows(batchSize, seqLen, rng))[0],
    validate: () =>
      evaluate(
        model,
        corpus.validationBatches(seqLen, batchSize, 32),
        (b) => model.loss(b)[0],
      ),
  });
  const [, val] = validation.at(-1)!;
  console.log(
    `steps ${startStep + 1}-${until}: loss ${losses[0].toFixed(3)} -> ${
      losses.at(-1)!.toFixed(3)
    }, validation ${val.toFixed(3)}`,
  );
  await saveCheckpoint(path, { model, optimizer, rng, step: until }, {
    modelMetadata: charLMMetadata(model, corpus.vocab),
  });
}

// 1. Train half the steps and checkpoint.
const first = setup();
await train(first, 0, steps / 2 | 0);
first.model.dispose();
first.optimizer.dispose();

// 2. Resume in a fresh model and optimizer: weights, Adam's state and the generator's.
const second = setup();
const { state } = await readCheckpoint(path);
state.restore(second);
console.log(`resumed from ${path} at step ${state.step}`);
await train(second, state.step, steps);
second.model.dispose();
second.optimizer.dispose();

// 3. The model file alone is a CharLM checkpoint (PyTorch can read it too): generate.
const { model, vocab } = await loadCharLM(path);
const prompt = "ROMEO:";
const out = await generate(
  model,
  [...prompt].map((ch) => vocab.indexOf(ch)),
  120,
  {
    temperature: 0.8,
    rng: new Random(7),
  },
);
console.log(prompt + out.map((i) => vocab[i]).join(""));
model.dispose();
