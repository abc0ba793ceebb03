/**
 * TensorFlow.js Layers API peer for the rnnkit char-LM benchmark: the same model and batches
 * as bench/peers/pytorch_charlm.py, written the way a tfjs user would (tf.sequential +
 * trainOnBatch).
 *
 *   deno run --no-lock --allow-read --allow-env bench/peers/tfjs_layers.ts \
 *     --text /work/shared/data/tinyshakespeare.txt --backend wasm --cell lstm --hidden 256 \
 *     --layers 2 [--warmup 5 --steps 20 --reps 3 --min-ms 0 | --quick]
 *   deno run --no-lock --allow-read --allow-env bench/peers/tfjs_layers.ts --backend cpu \
 *     --generate 500
 *
 * Prints exactly one JSON line on stdout; progress goes to stderr.
 *
 * bench/run_browser.ts runs the same measurements in a web page, on the tfjs backend that
 * rnnkit's backend has just made tfjs's current one: `encodeCorpus`, `trainBench` and
 * `generateBench` touch no Deno API there (the browser has no RSS: `peakRssMB` is null).
 *
 * Model: embedding(V,64) -> simpleRNN|lstm|gru(H, returnSequences) x L -> dense(V) logits.
 * Loss: softmax cross-entropy from logits against one-hot targets, mean over B*T (what
 * PyTorch's CrossEntropyLoss computes; the built-in "sparseCategoricalCrossentropy" wants
 * probabilities and clips them). Adam lr 2e-3.
 *
 * On wasm the embedding layer cannot train (its gradient needs UnsortedSegmentSum, which
 * tfjs-backend-wasm lacks), so there the input is one-hot [B,T,V] straight into the first
 * recurrent layer, reported as "input": "onehot". --onehot does the same on any backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// Deno links tfjs-layers' tfjs-core dependency to the same tfjs-core@4.22.0 package as the
// backends (checked at run time below).
import * as tfl from "@tensorflow/tfjs-layers";
import { timeSteps } from "../timing.ts";

const EMBED = 64;
const BATCH = 32;
const SEQ = 64;

type Cell = "rnn" | "lstm" | "gru";
/** The tfjs backends this program can activate itself (in a page, the page picks). */
type BackendName = "cpu" | "wasm" | "webgpu";

/** What to measure, and how long. */
export interface Options {
  text: string;
  /** Under Deno, the backend to activate; in a page, the current one (e.g. "webgl"). */
  backend: BackendName | "webgl";
  cell: Cell;
  hidden: number;
  layers: number;
  warmup: number;
  steps: number;
  reps: number;
  /** Training's warm-up and each repetition last at least this long (timing.ts). */
  minMs: number;
  seed: number;
  generate: number;
  onehot: boolean;
}

function log(msg: string): void {
  console.error(msg);
}

function fail(msg: string): never {
  throw new Error(`tfjs_layers: ${msg}`);
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    text: "/work/shared/data/tinyshakespeare.txt",
    backend: "cpu",
    cell: "lstm",
    hidden: 256,
    layers: 2,
    warmup: 5,
    steps: 20,
    reps: 3,
    minMs: 0,
    seed: 0,
    generate: 0,
    onehot: false,
  };
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--quick" || flag === "--onehot") {
      if (flag === "--quick") quick = true;
      else o.onehot = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) fail(`${flag} wants a non-negative integer`);
      return n;
    };
    switch (flag) {
      case "--text":
        o.text = value;
        break;
      case "--backend":
        if (!["cpu", "wasm", "webgpu"].includes(value)) fail(`unknown backend ${value}`);
        o.backend = value as BackendName;
        break;
      case "--cell":
        if (!["rnn", "lstm", "gru"].includes(value)) fail(`unknown cell ${value}`);
        o.cell = value as Cell;
        break;
      case "--hidden":
        o.hidden = int();
        break;
      case "--layers":
        o.layers = int();
        break;
      case "--warmup":
        o.warmup = int();
        break;
      case "--steps":
        o.steps = int();
        break;
      case "--reps":
        o.reps = int();
        break;
      case "--min-ms":
        o.minMs = int();
        break;
      case "--seed":
        o.seed = int();
        break;
      case "--generate":
        o.generate = int();
        break;
      default:
        fail(`unknown flag ${flag}`);
    }
  }
  if (quick) Object.assign(o, { warmup: 1, steps: 2, reps: 1, minMs: 0 });
  if (o.steps < 1 || o.reps < 1) fail("--steps and --reps must be at least 1");
  return o;
}

/** tfjs resolves setBackend to false (keeping the old backend) on failure: make that loud. */
async function activate(name: BackendName): Promise<void> {
  tf.enableProdMode(); // silences the "running TensorFlow.js in Node.js" banner
  if (name === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href);
  } else if (name === "webgpu") {
    await import("@tensorflow/tfjs-backend-webgpu");
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    fail(`backend ${name} did not initialise (tf.getBackend() is ${tf.getBackend()})`);
  }
}

/**
 * tfjs-layers must use the very tfjs-core module we set the backend on; a second copy would
 * make its tensors fail `instanceof tf.Tensor` and keep its own kernel registry.
 */
function checkSharedCore(model: tfl.LayersModel, input: tf.Tensor): void {
  const out = tf.tidy(() => model.predict(input) as tf.Tensor);
  const shared = out instanceof tf.Tensor;
  out.dispose();
  if (!shared) fail("tfjs-layers loaded a second copy of tfjs-core");
}

/** mulberry32: small seeded PRNG, so batches repeat from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PyTorch's default init for RNN weights and biases: U(-1/sqrt(H), 1/sqrt(H)). */
function torchUniform(hidden: number, seed: number) {
  const k = 1 / Math.sqrt(hidden);
  return tfl.initializers.randomUniform({ minval: -k, maxval: k, seed });
}

/**
 * The recurrent layers, with PyTorch's initialisation (tfjs's default orthogonal recurrent
 * initializer also takes minutes on cpu for [256,1024]). Differences kept as tfjs has them:
 * one bias vector per layer instead of PyTorch's two, and tfjs's GRU applies the reset gate
 * before the recurrent matmul (reset_after=false is all tfjs-layers supports).
 */
function recurrent(cell: Cell, hidden: number, seed: number, extra: Record<string, unknown>) {
  const args = {
    units: hidden,
    kernelInitializer: torchUniform(hidden, seed),
    recurrentInitializer: torchUniform(hidden, seed + 1),
    biasInitializer: torchUniform(hidden, seed + 2),
    ...extra,
  };
  if (cell === "rnn") return tfl.layers.simpleRNN({ ...args, activation: "tanh" });
  return cell === "lstm" ? tfl.layers.lstm(args) : tfl.layers.gru(args);
}

function head(vocab: number, hidden: number, seed: number) {
  const k = 1 / Math.sqrt(hidden);
  return tfl.layers.dense({
    units: vocab,
    kernelInitializer: tfl.initializers.randomUniform({ minval: -k, maxval: k, seed }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -k, maxval: k, seed: seed + 1 }),
  });
}

function embedding(vocab: number, seed: number, shape: Record<string, unknown>) {
  return tfl.layers.embedding({
    inputDim: vocab,
    outputDim: EMBED,
    embeddingsInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 1, seed }),
    ...shape,
  });
}

const inDeno = "Deno" in globalThis;

/** Samples Deno's resident set size; tfjs frees tensors synchronously so sampling per step is
 * close enough to the true peak. */
let peakRss = 0;
function sampleRss(): void {
  if (inDeno) peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}

/** The peak RSS in MB, or null in a browser page, which has no process figure to give. */
const peakRssMB = () => inDeno ? peakRss / 2 ** 20 : null;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Training speed of the Layers model for `o`'s config on `data` (see `encodeCorpus`). */
export async function trainBench(o: Options, data: Int32Array, vocab: number) {
  // --onehot lets the other backends run wasm's model, for like-for-like comparisons.
  const onehot = o.onehot || o.backend === "wasm";
  const model = tfl.sequential();
  if (onehot) {
    model.add(recurrent(o.cell, o.hidden, o.seed, {
      returnSequences: true,
      inputShape: [SEQ, vocab],
    }));
  } else {
    model.add(embedding(vocab, o.seed, { inputLength: SEQ }));
    model.add(recurrent(o.cell, o.hidden, o.seed + 10, { returnSequences: true }));
  }
  for (let l = 1; l < o.layers; l++) {
    model.add(recurrent(o.cell, o.hidden, o.seed + 10 * (l + 1), { returnSequences: true }));
  }
  model.add(head(vocab, o.hidden, o.seed + 100));
  model.compile({
    optimizer: tf.train.adam(2e-3),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
  });

  const rand = prng(o.seed);
  const xs = new Int32Array(BATCH * SEQ);
  const ys = new Int32Array(BATCH * SEQ);
  const batch = (): [tf.Tensor, tf.Tensor] => {
    for (let b = 0; b < BATCH; b++) {
      const start = Math.floor(rand() * (data.length - SEQ - 1));
      xs.set(data.subarray(start, start + SEQ), b * SEQ);
      ys.set(data.subarray(start + 1, start + SEQ + 1), b * SEQ);
    }
    // oneHot then cast: tfjs-backend-wasm 4.22.0 ignores oneHot's dtype argument and writes
    // int32 bits into a float32 tensor (1 reads as 1.4e-45).
    const oneHot = (t: tf.Tensor) => tf.cast(tf.oneHot(t as tf.Tensor2D, vocab), "float32");
    return tf.tidy(() => {
      const x = tf.tensor2d(xs, [BATCH, SEQ], "int32");
      const y = tf.tensor2d(ys, [BATCH, SEQ], "int32");
      return [onehot ? oneHot(x) : x, oneHot(y)];
    });
  };

  let loss = NaN;
  // trainOnBatch awaits the loss value, so each step has really finished when it resolves.
  const step = async () => {
    const [x, y] = batch();
    loss = await model.trainOnBatch(x, y) as number;
    tf.dispose([x, y]);
    sampleRss();
  };

  const [probe] = batch();
  checkSharedCore(model, probe);
  probe.dispose();

  await timeSteps(step, o.warmup, o.minMs);
  const reps: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    reps.push(await timeSteps(step, o.steps, o.minMs));
    log(`rep ${r + 1}/${o.reps}: ${reps[r].toFixed(2)} ms/step, loss ${loss.toFixed(4)}`);
  }
  const med = median(reps);
  return {
    peer: "tfjs-layers",
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    input: onehot ? "onehot" : "embedding",
    cell: o.cell,
    hidden: o.hidden,
    layers: o.layers,
    batch: BATCH,
    seq: SEQ,
    warmup: o.warmup,
    steps: o.steps,
    msPerStep: { median: med, min: Math.min(...reps), max: Math.max(...reps), reps },
    charsPerSec: BATCH * SEQ / (med / 1000),
    lastLoss: loss,
    peakRssMB: peakRssMB(),
  };
}

/**
 * Greedy generation, one char per predict() with the LSTM state carried between calls. The
 * Layers API carries state through `stateful: true`, which needs a fixed batch shape [1, 1].
 * Embedding works here on every backend: inference needs no gather gradient.
 */
export async function generateBench(o: Options, vocab: number) {
  const model = tfl.sequential();
  model.add(embedding(vocab, o.seed, { batchInputShape: [1, 1] }));
  model.add(recurrent("lstm", 256, o.seed + 10, { returnSequences: true, stateful: true }));
  model.add(recurrent("lstm", 256, o.seed + 20, { returnSequences: false, stateful: true }));
  model.add(head(vocab, 256, o.seed + 100));

  const probe = tf.tensor2d([[0]], [1, 1], "int32");
  checkSharedCore(model, probe);
  probe.dispose();

  const run = async (n: number) => {
    model.resetStates();
    let c = 0;
    for (let i = 0; i < n; i++) {
      const next = tf.tidy(() => {
        const x = tf.tensor2d([[c]], [1, 1], "int32");
        return tf.argMax(model.predict(x) as tf.Tensor, -1);
      });
      c = (await next.data())[0]; // the next input depends on this: a real sync per char
      next.dispose();
    }
    sampleRss();
    return c;
  };

  await run(o.warmup);
  const reps: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const t0 = performance.now();
    await run(o.generate);
    reps.push(o.generate / ((performance.now() - t0) / 1000));
    log(`rep ${r + 1}/${o.reps}: ${reps[r].toFixed(0)} chars/s`);
  }
  return {
    peer: "tfjs-layers",
    task: "generate",
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    input: "embedding",
    cell: "lstm",
    hidden: 256,
    layers: 2,
    batch: 1,
    chars: o.generate,
    charsPerSec: median(reps),
    charsPerSecReps: { min: Math.min(...reps), max: Math.max(...reps), reps },
    peakRssMB: peakRssMB(),
  };
}

/** The corpus as character ids (its sorted distinct characters), and the vocabulary size. */
export function encodeCorpus(text: string): { data: Int32Array; vocab: number } {
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  return { data: Int32Array.from(text, (c) => index.get(c)!), vocab: chars.length };
}

async function main(): Promise<void> {
  const o = parseOptions(Deno.args);
  await activate(o.backend as BackendName); // parseOptions accepts no other name
  const { data, vocab } = encodeCorpus(await Deno.readTextFile(o.text));
  log(`tfjs ${tf.version_core}, backend ${tf.getBackend()}, vocab ${vocab}`);
  sampleRss();
  const result = o.generate > 0 ? await generateBench(o, vocab) : await trainBench(o, data, vocab);
  console.log(JSON.stringify(result));
}

if (import.meta.main) await main();
