/**
 * The playground's worker: trains, samples, saves and loads a CharLM with rnnkit, off the
 * page's main thread so the page stays responsive. tfjs holds one backend per thread, so the
 * page starts a new worker to switch backends. Requests run one at a time, in order; `stop`
 * is read between training steps.
 */
import {
  Adam,
  type Backend,
  CharCorpus,
  CharLM,
  decodeCharLM,
  encodeCharLM,
  evaluate,
  fit,
  generate,
  Random,
  setBackend,
} from "@rnnkit/core";
import type { GenerateConfig, Reply, Request, TrainConfig } from "./protocol.ts";

/** The last tenth of the text is held out for validation, as the CLI's default. */
const VAL_FRACTION = 0.1;
/** Validation reads at most this many windows (the CLI: 256), to keep a page run quick. */
const VAL_WINDOWS = 32;
/** Gradient clipping, as the CLI's default. */
const CLIP = 5;
/** data-final-loss is the mean training loss of the last (up to) this many steps. */
const FINAL_STEPS = 10;

/** A trained model and what continuing it needs. */
interface Run {
  config: TrainConfig;
  corpus: CharCorpus;
  optimizer: Adam;
  rng: Random;
  step: number;
  target: number;
  losses: number[];
}

const worker = globalThis as unknown as {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
};
const post = (message: Reply, transfer: Transferable[] = []) =>
  worker.postMessage(message, transfer);

let model: { lm: CharLM; vocab: string[]; cell: string } | undefined;
let run: Run | undefined;
let stopping = false;
let queue = Promise.resolve();

worker.onmessage = ({ data }) => {
  if (data.type === "stop") {
    stopping = true;
    return;
  }
  queue = queue.then(() => handle(data)).catch((e: Error) =>
    post({ type: "error", message: e.message.replace(/^rnnkit: /, "") })
  );
};

async function handle(req: Request): Promise<void> {
  switch (req.type) {
    case "init": {
      const backend = await startBackend(req.backend, req.threads);
      setBackend(backend);
      post({ type: "ready", backend: backend.name, description: backend.description ?? "" });
      return;
    }
    case "train":
      return await train(req.config, req.text, req.generate);
    case "continue": {
      if (!run) {
        throw new Error("nothing to continue: a loaded checkpoint has no optimizer state; train");
      }
      if (run.step >= run.target) run.target += run.config.steps;
      return await trainOn(run, req.generate);
    }
    case "generate":
      return post({ type: "generated", text: await sample(req.generate) });
    case "save": {
      const { lm, vocab, cell } = current();
      const step = run?.step ?? 0;
      const bytes = await encodeCharLM(lm, vocab, { trained_by: "rnnkit playground" });
      const name = `charlm-${cell}-step${step}.safetensors`;
      return post({ type: "checkpoint", bytes: bytes as Uint8Array<ArrayBuffer>, name }, [
        bytes.buffer,
      ]);
    }
    case "load":
      return load(req.bytes, req.name);
  }
}

/** Creates the backend called `name`; only its package initialises. */
async function startBackend(name: string, threads?: number): Promise<Backend> {
  switch (name) {
    case "wasm":
      return await (await import("@rnnkit/backend-wasm")).createBackend({ numThreads: threads });
    case "webgl":
      return await (await import("@rnnkit/backend-webgl")).createBackend();
    case "webgpu": {
      const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu || !(await gpu.requestAdapter())) {
        throw new Error(
          `this browser gives no WebGPU ${gpu ? "adapter" : "(no navigator.gpu)"}: pick ` +
            "another backend (Chromium on Linux enables WebGPU with --enable-unsafe-webgpu)",
        );
      }
      return await (await import("@rnnkit/backend-webgpu")).createBackend();
    }
    case "tfjs":
      return await (await import("@rnnkit/backend-tfjs")).createBackend();
  }
  throw new Error(`no backend "${name}" in the playground: wasm, webgl, webgpu or tfjs`);
}

function current() {
  if (!model) throw new Error("no model yet: train one or load a checkpoint");
  return model;
}

function replaceModel(next: typeof model, nextRun?: Run): void {
  model?.lm.dispose();
  run?.optimizer.dispose();
  [model, run] = [next, nextRun];
}

async function train(config: TrainConfig, text: string, gen: GenerateConfig): Promise<void> {
  const corpus = new CharCorpus(text, VAL_FRACTION);
  if (corpus.train.length < config.seqLen + 1) {
    throw new Error(
      `the text's training part has ${corpus.train.length} characters, fewer than one ` +
        `window of seq-len ${config.seqLen} plus its target: paste more text`,
    );
  }
  checkPrompt(gen.prompt, corpus.vocab);
  const rng = new Random(config.seed);
  const { cell, embeddingSize, hiddenSize, numLayers } = config;
  const lm = new CharLM({
    vocabSize: corpus.vocab.length,
    cell,
    embeddingSize,
    hiddenSize,
    numLayers,
    rng,
  });
  const optimizer = new Adam(lm.parameters(), { lr: config.lr });
  replaceModel({ lm, vocab: corpus.vocab, cell }, {
    config,
    corpus,
    optimizer,
    rng,
    step: 0,
    target: config.steps,
    losses: [],
  });
  post({ type: "model", summary: summary(lm, corpus.vocab.length) });
  await trainOn(run!, gen);
}

/** Thrown by the step callback to end `fit` early. */
class Stop extends Error {}

/** Trains `r` from its step to its target, reporting each step, sampling at each evaluation. */
async function trainOn(r: Run, gen: GenerateConfig): Promise<void> {
  const { config, corpus, optimizer, rng } = r;
  const lm = current().lm;
  const chars = config.batchSize * config.seqLen;
  stopping = false;
  // chars/s counts training steps only: validation and samples are timed and left out.
  let [trainMs, trained, last] = [0, 0, performance.now()];
  const validate = corpus.val.length > config.seqLen
    ? () =>
      evaluate(
        lm,
        corpus.validationBatches(config.seqLen, config.batchSize, VAL_WINDOWS),
        (batch) => lm.loss(batch)[0],
        (batch) => batch.input.shape[0],
      )
    : undefined;
  try {
    await fit({
      optimizer,
      steps: r.target,
      startStep: r.step,
      clipGradNorm: CLIP,
      forward: () => lm.loss(corpus.randomWindows(config.batchSize, config.seqLen, rng))[0],
      validate: validate && (async () => {
        const start = performance.now();
        trainMs += start - last;
        const loss = await validate();
        last = performance.now();
        return loss;
      }),
      validateEvery: config.evalInterval,
      onStep: async (step, { loss, valLoss }) => {
        const now = performance.now();
        trainMs += now - last;
        trained++;
        r.step = step;
        r.losses.push(loss);
        const charsPerSecond = (trained * chars) / (trainMs / 1000);
        post({ type: "step", step, target: r.target, loss, valLoss, charsPerSecond });
        if (step % config.evalInterval === 0 || step === r.target) {
          post({ type: "sample", step, text: await sample(gen) });
        }
        // A message event can only run between tasks: yield one, so a `stop` gets in.
        await nextTask();
        last = performance.now();
        if (stopping && step < r.target) throw new Stop();
      },
    });
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  const recent = r.losses.slice(-FINAL_STEPS);
  const finalLoss = recent.reduce((a, b) => a + b, 0) / recent.length;
  post({ type: "trained", step: r.step, finalLoss, stopped: r.step < r.target });
}

/** Resolves in a later task (a message round trip: no timer clamping). */
function nextTask(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

function checkPrompt(prompt: string, vocab: string[]): void {
  if (prompt === "") throw new Error("the prompt is empty: give at least one character");
  const unknown = [...new Set([...prompt].filter((ch) => !vocab.includes(ch)))];
  if (unknown.length) {
    throw new Error(
      `the prompt has characters outside the model's vocabulary: ${
        unknown.map((ch) => JSON.stringify(ch)).join(", ")
      }`,
    );
  }
}

/** The prompt and `gen.length` characters generated after it. */
async function sample(gen: GenerateConfig): Promise<string> {
  const { lm, vocab } = current();
  checkPrompt(gen.prompt, vocab);
  const indices = await generate(lm, [...gen.prompt].map((ch) => vocab.indexOf(ch)), gen.length, {
    temperature: gen.temperature,
    topK: gen.topK || undefined,
    rng: new Random(gen.seed),
  });
  return gen.prompt + indices.map((i) => vocab[i]).join("");
}

function load(bytes: Uint8Array, name: string): void {
  let decoded: ReturnType<typeof decodeCharLM>;
  try {
    decoded = decodeCharLM(bytes);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message.replace(/^rnnkit: checkpoint: /, "")}`);
  }
  const { model: lm, vocab } = decoded;
  replaceModel({ lm, vocab, cell: lm.config.cell });
  post({ type: "model", summary: `${name}: ${summary(lm, vocab.length)}` });
}

function summary(lm: CharLM, vocabSize: number): string {
  const { cell, embeddingSize, hiddenSize, numLayers } = lm.config;
  const params = lm.parameters().reduce((n, p) => n + p.size, 0);
  return `${cell.toUpperCase()} char LM: embedding ${embeddingSize}, hidden ${hiddenSize} x ` +
    `${numLayers}, vocabulary ${vocabSize}, ${params.toLocaleString("en-US")} parameters`;
}
