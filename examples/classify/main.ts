/**
 * Sequence classification over variable-length batches with rnnkit's library API only.
 * Each sequence holds 2..maxLen symbols; its label is the symbol it holds most often (ties
 * are never drawn), so the model must read the whole sequence. An Embedding feeds a
 * bidirectional GRU over a packed batch of unsorted lengths; the two directions' final
 * states go to a Linear layer trained with CrossEntropyLoss. Prints the training loss on
 * stderr and the test accuracy next to chance on stdout; saves the weights under --dir.
 *
 *   deno task start [--steps N] [--backend NAME] ...   (deno task start --help)
 */
import { parseArgs } from "node:util";
import {
  Adam,
  CrossEntropyLoss,
  Embedding,
  fit,
  GRU,
  intTensor,
  Linear,
  Module,
  noGrad,
  ops,
  packPaddedSequence,
  Random,
  saveModule,
  setBackend,
  type Tensor,
  tidy,
} from "@rnnkit/core";
import { DENO_BACKEND_NAMES, loadBackend } from "@rnnkit/backends";

/** How far above chance --check wants the test accuracy. */
const MARGIN = 0.5;

const HELP = `Classifies synthetic variable-length sequences by their most frequent symbol.

Flags (defaults in brackets):
  --steps N        training steps [800]
  --batch-size N   sequences per step [64]
  --symbols N      distinct symbols, which is also the number of classes, 2..20 [8]
  --max-len N      longest sequence; lengths are uniform in 2..N [40]
  --hidden N       GRU hidden size per direction [48]
  --test-size N    held-out sequences the accuracy is measured on [2000]
  --seed N         seed of the weights and the data [0]
  --backend NAME   auto (native, else wasm) or ${DENO_BACKEND_NAMES.join(", ")} [auto]
  --dir DIR        where the trained weights are saved (classify.safetensors) [out]
  --check          exit 1 unless the test accuracy beats chance by ${100 * MARGIN} points
  --help           this text`;

/** A mistake in the command line: the message on stderr, exit code 2. */
function usage(message: string): never {
  console.error(`error: ${message} (see --help)`);
  Deno.exit(2);
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        steps: { type: "string", default: "800" },
        "batch-size": { type: "string", default: "64" },
        symbols: { type: "string", default: "8" },
        "max-len": { type: "string", default: "40" },
        hidden: { type: "string", default: "48" },
        "test-size": { type: "string", default: "2000" },
        seed: { type: "string", default: "0" },
        backend: { type: "string", default: "auto" },
        dir: { type: "string", default: "out" },
        check: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    usage((e as Error).message);
  }
}
const flags = parseFlags();
if (flags.help) {
  console.log(HELP);
  Deno.exit(0);
}

/** A whole-number flag in [min, max], written in decimal digits. */
function intFlag(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    usage(`--${name} must be a whole number in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

const steps = intFlag("steps", flags.steps, 1, 1e6);
const batchSize = intFlag("batch-size", flags["batch-size"], 1, 4096);
const symbols = intFlag("symbols", flags.symbols, 2, 20);
const maxLen = intFlag("max-len", flags["max-len"], 2, 1000);
const hidden = intFlag("hidden", flags.hidden, 1, 4096);
const testSize = intFlag("test-size", flags["test-size"], 1, 1e6);
const seed = intFlag("seed", flags.seed, 0, 2 ** 32 - 1);
if (flags.backend !== "auto" && !DENO_BACKEND_NAMES.includes(flags.backend)) {
  usage(
    `--backend must be auto or one of ${DENO_BACKEND_NAMES.join(", ")}, got "${flags.backend}"`,
  );
}

// A backend that cannot load here (native without OpenBLAS, say) says why.
const backend = await loadBackend(flags.backend).catch((e) => {
  console.error(`error: ${e.message}`);
  Deno.exit(1);
});
setBackend(backend);
console.error(`backend: ${backend.name}`);

/** Sequences of symbols 1..symbols (0 pads), each labelled by its unique most frequent symbol. */
interface Batch {
  /** [batch, longest] int32, padded with 0. */
  tokens: Tensor;
  lengths: number[];
  /** [batch] int32: the most frequent symbol, minus 1. */
  labels: Tensor;
  /** The labels on the host. */
  classes: number[];
}

/** `n` sequences drawn from `rng`, their lengths unsorted. */
function drawBatch(n: number, rng: Random): Batch {
  const seqs: number[][] = [];
  const classes: number[] = [];
  while (seqs.length < n) {
    const seq = Array.from({ length: 2 + rng.int(maxLen - 1) }, () => 1 + rng.int(symbols));
    const counts = new Array(symbols + 1).fill(0);
    for (const s of seq) counts[s]++;
    const most = Math.max(...counts);
    if (counts.filter((c) => c === most).length > 1) continue; // a tie has no label
    seqs.push(seq);
    classes.push(counts.indexOf(most) - 1);
  }
  const longest = Math.max(...seqs.map((s) => s.length));
  const padded = seqs.map((s) => [...s, ...new Array(longest - s.length).fill(0)]);
  return {
    tokens: intTensor(padded),
    lengths: seqs.map((s) => s.length),
    labels: intTensor(classes),
    classes,
  };
}

/** Embedding -> bidirectional GRU over the packed batch -> both final states -> Linear. */
class Classifier extends Module {
  readonly emb: Embedding;
  readonly gru: GRU;
  readonly fc: Linear;

  constructor(rng: Random) {
    super();
    this.emb = this.registerModule("emb", new Embedding(symbols + 1, 16, { paddingIdx: 0, rng }));
    this.gru = this.registerModule("gru", new GRU(16, hidden, { bidirectional: true, rng }));
    this.fc = this.registerModule("fc", new Linear(2 * hidden, symbols, { rng }));
  }

  /** tokens [batch, longest] -> logits [batch, classes]. */
  forward(tokens: Tensor, lengths: number[]): Tensor {
    const x = this.emb.forward(tokens); // [batch, longest, 16]
    const packed = packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false });
    // hN [2, batch, hidden]: the forward direction at each sequence's own last step, the
    // reverse one at its first; in the batch's order, as torch's h_n.
    const [, hN] = this.gru.forward(packed);
    return this.fc.forward(ops.cat([hN.select(0, -2), hN.select(0, -1)], 1));
  }
}

const rng = new Random(seed);
const model = new Classifier(rng);
const optimizer = new Adam(model.parameters(), { lr: 3e-3 });
const criterion = new CrossEntropyLoss();
const every = Math.max(1, Math.round(steps / 10));
const { losses } = await fit({
  optimizer,
  steps,
  clipGradNorm: 1,
  forward: () => {
    const { tokens, lengths, labels } = drawBatch(batchSize, rng);
    return criterion.forward(model.forward(tokens, lengths), labels);
  },
  onStep: (step, { loss }) => {
    if (step % every === 0 || step === steps) {
      console.error(`step ${step}/${steps}: loss ${loss.toFixed(4)}`);
    }
  },
});

/** The fraction of the sequences in `batches` that the model classifies right. */
async function accuracy(batches: Batch[]): Promise<number> {
  model.eval();
  let right = 0;
  let total = 0;
  for (const { tokens, lengths, classes } of batches) {
    const predicted = tidy(() => noGrad(() => model.forward(tokens, lengths).argmax(1)));
    const values = await predicted.data();
    predicted.dispose();
    right += classes.filter((c, i) => values[i] === c).length;
    total += classes.length;
  }
  return right / total;
}

// The test set: fresh sequences from another generator, in batches of 256.
const testRng = new Random(seed + 1);
const testSet = Array.from(
  { length: Math.ceil(testSize / 256) },
  (_, i) => drawBatch(Math.min(256, testSize - 256 * i), testRng),
);
const acc = await accuracy(testSet);
// Chance: always answering the test set's most frequent class (about 1/symbols).
const counts = new Array(symbols).fill(0);
for (const b of testSet) for (const c of b.classes) counts[c]++;
const chance = Math.max(...counts) / testSize;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(
  `${backend.name}: ${steps} steps, loss ${losses[0].toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}`,
);
console.log(
  `test accuracy ${pct(acc)} on ${testSize} sequences; chance ${pct(chance)} (the most ` +
    `frequent class; 1/${symbols} = ${pct(1 / symbols)})`,
);

await Deno.mkdir(flags.dir, { recursive: true });
const path = `${flags.dir}/classify.safetensors`;
await saveModule(path, model);
console.log(`saved the weights to ${path}`);
if (flags.check && acc < chance + MARGIN) {
  console.error(
    `check failed: accuracy ${pct(acc)} is not ${100 * MARGIN} points above chance ${pct(chance)}`,
  );
  Deno.exit(1);
}
