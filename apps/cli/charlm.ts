/**
 * `deno task train --text FILE`: trains a character language model (CharLM) on a text file
 * with Adam, shows progress on stderr, prints the final numbers on stdout, and with --save
 * writes checkpoints that --resume continues exactly (same weights and losses as a run that
 * was never interrupted). The training loop, validation and checkpoints are core's (`fit`,
 * `evaluate`, `saveCheckpoint`/`readCheckpoint`); this file holds the flags, the run's
 * configuration, progress display and the loss plot.
 */
import {
  Adam,
  type Batch,
  type Cell,
  CharCorpus,
  CharLM,
  charLMMetadata,
  checkCheckpointTarget,
  CosineAnnealingLR,
  evaluate,
  type FileLock,
  fit,
  getBackend,
  keep,
  LinearLR,
  liveTensors,
  lockPath,
  type LRScheduler,
  Random,
  readCheckpoint,
  readRegularFile,
  type RecurrentState,
  ReduceLROnPlateau,
  saveCheckpoint,
  type SavedTrainingState,
  SequentialLR,
  StreamBatcher,
  type Tensor,
  tensor,
  type TrainingState,
  writeFileAtomic,
} from "@rnnkit/core";
import { DENO_BACKEND_NAMES } from "@rnnkit/backends";
import { DataParallel } from "./data_parallel.ts";
import { Progress } from "./progress.ts";
import {
  choiceFlag,
  type FlagSpec,
  intFlag,
  numberFlag,
  parse,
  plural,
  UsageError,
} from "./args.ts";
import { BACKEND_CHOICES, startBackend } from "./backends.ts";
import { lossPlotSvg } from "./plot.ts";

/** Validation reads at most this many windows, spread evenly over the validation part. */
const VAL_WINDOWS = 256;
const CELLS = ["rnn", "lstm", "gru"] as const;
const BATCHINGS = ["random", "stream"] as const;
const SCHEDULES = ["none", "cosine", "plateau"] as const;
/** --lr-schedule plateau: ReduceLROnPlateau's factor and patience. */
const PLATEAU = { factor: 0.5, patience: 2 };
/** The training state of the CLI's earlier versions: read by nothing now, so named in errors. */
const OLD_STATE_FORMAT = "rnnkit.charlm.train.v2";

export const CHARLM_HELP = `Usage: deno task train --text FILE [options]

Trains a character language model, Embedding(V, E) -> RNN | LSTM | GRU(E, H, L layers)
-> Linear(H, V), on the characters of FILE with Adam. The last --val-fraction of the file is
held out for validation: up to ${VAL_WINDOWS} windows of --seq-len characters, evenly spread over
it, each starting from a zero state. Progress goes to stderr, final numbers to stdout.

Options:
  --text FILE            UTF-8 text to learn; V is its number of distinct characters
  --cell NAME            rnn | lstm | gru (default: lstm)
  --hidden-size H        hidden size (default: 128)
  --num-layers L         recurrent layers (default: 2)
  --embedding-size E     embedding size (default: 64)
  --dropout P            dropout between recurrent layers, in [0, 1) (default: 0)
  --seq-len T            characters per sequence (backpropagation length) (default: 64)
  --batch-size B         sequences per step (default: 32)
  --steps N              training steps in all (default: 1000)
  --epochs N             or: N passes, one pass = training characters / (B * T) steps
  --lr X                 Adam learning rate, the peak of a schedule (default: 0.002)
  --lr-schedule NAME     none: --lr throughout (default)
                         cosine: CosineAnnealingLR from --lr down to 0 over --schedule-steps
                         S, after the warm-up: step k > W uses (up to rounding)
                         lr * (1 + cos(pi * (k - 1 - W) / (S - W))) / 2
                         plateau: ReduceLROnPlateau(factor ${PLATEAU.factor}, patience ${PLATEAU.patience}) on the
                         validation loss of each evaluation: the lr halves after ${
  PLATEAU.patience + 1
}
                         evaluations in a row without a 1e-4 relative improvement
                         A schedule steps after each optimizer step (plateau: after each
                         evaluation), is saved in the training state and resumes exactly;
                         on --resume, it and --lr cannot change
  --warmup-steps W       linear warm-up: step k <= W uses lr * k / (W + 1), as
                         LinearLR(start_factor 1 / (W + 1), total_iters W); with cosine, in
                         a SequentialLR before the CosineAnnealingLR (milestone W); with
                         none, --lr follows; not with plateau (default: 0)
  --schedule-steps S     steps the cosine schedule spans, warm-up included; past S the
                         cosine rises again, as PyTorch's (default: --steps)
  --clip C               clip the gradients' global norm to C; 0: no clipping (default: 5)
  --val-fraction F       fraction of the file, at its end, kept for validation (default: 0.1)
  --eval-interval N      validate every N steps, and at the end (default: 100)
  --batching MODE        random: windows at random offsets (default)
                         stream: B contiguous streams read in order; the state is carried
                         (detached) from one chunk of T characters to the next
  --seed S               seed of the weights, dropout and batches (default: 1)
  --save FILE            save the model (safetensors) every --save-interval steps and at the
                         end, its training state to FILE minus .safetensors plus
                         .optim.safetensors, and the loss curves to ... .loss.svg
  --save-interval N      steps between saves (default: --eval-interval)
  --resume FILE          continue the run saved in FILE (and its .optim.safetensors) up to
                         --steps; the other options default to the saved run's, and the
                         model, seed and data options cannot change. Saves go on to FILE
                         unless --save names another.
  --backend NAME         auto | ${DENO_BACKEND_NAMES.join(" | ")} (default: auto, which is
                         native where it loads, else wasm; webgl cannot train on --text)
  --workers N            compute each step's gradients in N worker threads, each on its share
                         of the batch (data parallel; uses N cores; random batching only)
                         (default: 1)
  -h, --help             show this help
`;

const SPEC: FlagSpec = {
  text: { type: "string" },
  cell: { type: "string" },
  "hidden-size": { type: "string" },
  "num-layers": { type: "string" },
  "embedding-size": { type: "string" },
  dropout: { type: "string" },
  "seq-len": { type: "string" },
  "batch-size": { type: "string" },
  steps: { type: "string" },
  epochs: { type: "string" },
  lr: { type: "string" },
  "lr-schedule": { type: "string" },
  "warmup-steps": { type: "string" },
  "schedule-steps": { type: "string" },
  clip: { type: "string" },
  "val-fraction": { type: "string" },
  "eval-interval": { type: "string" },
  batching: { type: "string" },
  seed: { type: "string" },
  save: { type: "string" },
  "save-interval": { type: "string" },
  resume: { type: "string" },
  backend: { type: "string" },
  workers: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** Everything that defines a run; saved with the checkpoint. */
interface Config {
  cell: Cell;
  hiddenSize: number;
  numLayers: number;
  embeddingSize: number;
  dropout: number;
  seqLen: number;
  batchSize: number;
  steps: number;
  lr: number;
  lrSchedule: typeof SCHEDULES[number];
  warmupSteps: number;
  /** Steps the cosine schedule spans; 0 until resolved (to --steps) on a fresh run. */
  scheduleSteps: number;
  clip: number;
  valFraction: number;
  evalInterval: number;
  saveInterval: number;
  batching: typeof BATCHINGS[number];
  seed: number;
}

const DEFAULTS: Config = {
  cell: "lstm",
  hiddenSize: 128,
  numLayers: 2,
  embeddingSize: 64,
  dropout: 0,
  seqLen: 64,
  batchSize: 32,
  steps: 1000,
  lr: 2e-3,
  lrSchedule: "none",
  warmupSteps: 0,
  scheduleSteps: 0,
  clip: 5,
  valFraction: 0.1,
  evalInterval: 100,
  saveInterval: 100,
  batching: "random",
  seed: 1,
};

/** The flag of each setting, for messages. */
const FLAG: Record<keyof Config, string> = {
  cell: "cell",
  hiddenSize: "hidden-size",
  numLayers: "num-layers",
  embeddingSize: "embedding-size",
  dropout: "dropout",
  seqLen: "seq-len",
  batchSize: "batch-size",
  steps: "steps",
  lr: "lr",
  lrSchedule: "lr-schedule",
  warmupSteps: "warmup-steps",
  scheduleSteps: "schedule-steps",
  clip: "clip",
  valFraction: "val-fraction",
  evalInterval: "eval-interval",
  saveInterval: "save-interval",
  batching: "batching",
  seed: "seed",
};

/**
 * A resumed run keeps these: the model's shape, the random stream, the data layout the
 * stream position and carried state refer to, and the learning-rate schedule it resumes.
 */
const FIXED_ON_RESUME: (keyof Config)[] = [
  "cell",
  "hiddenSize",
  "numLayers",
  "embeddingSize",
  "seed",
  "seqLen",
  "batchSize",
  "valFraction",
  "batching",
  "lrSchedule",
  "warmupSteps",
  "scheduleSteps",
];

/** The settings added after training states were first written, with their values then. */
const LATER_SETTINGS: Partial<Config> = { lrSchedule: "none", warmupSteps: 0, scheduleSteps: 0 };

interface History {
  /** The loss of every step, step 1 first. */
  train: number[];
  /** [step, validation loss] at every evaluation. */
  val: [number, number][];
}

export async function charLMMain(argv: string[]): Promise<void> {
  const flags = parse(argv, SPEC);
  if (flags.help) {
    console.log(CHARLM_HELP);
    return;
  }
  if (flags.text === undefined) throw new UsageError("--text FILE is required");
  const given = givenConfig(flags);
  const epochs = intFlag(flags, "epochs", 1);
  if (epochs !== undefined && given.steps !== undefined) {
    throw new UsageError("give --steps or --epochs, not both");
  }
  const backendChoice = choiceFlag(flags, "backend", BACKEND_CHOICES, "auto");
  if (backendChoice === "webgl") {
    throw new UsageError(
      "--backend webgl cannot train on --text (it runs the toy models in Chromium only); " +
        `use ${DENO_BACKEND_NAMES.join(", ")}`,
    );
  }
  const workers = intFlag(flags, "workers", 1) ?? 1;
  const resumePath = flags.resume as string | undefined;
  const savePath = (flags.save as string | undefined) ?? resumePath;
  // Everything that can fail is checked before step 1: no work is lost to a bad target.
  const lock = savePath === undefined ? undefined : await claimSaveTarget(savePath);
  try {
    const text = await readText(flags.text as string);
    const saved = resumePath === undefined ? undefined : await readSaved(resumePath);
    const config = resolveConfig(given, saved?.metadata.config);
    if (workers > 1 && config.batching === "stream") {
      throw new UsageError(
        "--workers needs --batching random: stream batching carries each row's state from " +
          "step to step, which would have to move between workers",
      );
    }
    if (workers > config.batchSize) {
      throw new UsageError(
        `--workers ${workers} needs --batch-size >= ${workers} (each worker takes a share ` +
          `of the batch's rows), got ${config.batchSize}`,
      );
    }
    const corpus = new CharCorpus(text, config.valFraction);
    checkCorpus(corpus, config, flags.text as string);
    if (epochs !== undefined) {
      config.steps = epochs * Math.max(1, Math.floor(corpus.train.length / stepChars(config)));
    }
    if (config.lrSchedule === "cosine" && config.scheduleSteps === 0) {
      config.scheduleSteps = config.steps;
    }
    checkSchedule(config, corpus);
    const textSha256 = await sha256(text);
    if (saved) checkResume(saved, resumePath!, config, corpus, textSha256);
    await trainOnText({
      config,
      corpus,
      textSha256,
      backendChoice,
      workers,
      saved,
      resumePath,
      savePath,
    });
  } finally {
    lock?.release();
  }
}

/** The loss plot beside a checkpoint. */
const plotPath = (path: string) => `${path.replace(/\.safetensors$/, "")}.loss.svg`;

/** Checks the --save target before training and locks it against a second run. */
async function claimSaveTarget(path: string): Promise<FileLock> {
  try {
    await checkCheckpointTarget(path);
    // The plot is overwritten only if it is one (an SVG); the checkpoint's files, by core.
    const plot = await Deno.readTextFile(plotPath(path)).catch(() => "<svg");
    if (!plot.startsWith("<svg")) throw new Error(`${plotPath(path)} exists and is not a plot`);
    return await lockPath(path);
  } catch (e) {
    throw new UsageError(`--save ${path}: ${(e as Error).message.replace(/^rnnkit: /, "")}`);
  }
}

/** The resumed run must continue on its own text, to more steps than it has done. */
function checkResume(
  saved: Saved,
  path: string,
  config: Config,
  corpus: CharCorpus,
  textSha256: string,
): void {
  if (JSON.stringify(saved.metadata.vocab) !== JSON.stringify(corpus.vocab)) {
    throw new UsageError(
      `--resume ${path}: the checkpoint's vocabulary is not the text's ` +
        `(${plural(corpus.vocab.length, "character")}): resume on the text it was trained on`,
    );
  }
  if (saved.metadata.textSha256 !== textSha256) {
    throw new UsageError(
      `--resume ${path}: it was trained on another text (same characters, other content: ` +
        "its sha256 differs); resume on the text it was trained on",
    );
  }
  if (config.steps <= saved.step) {
    throw new UsageError(
      `--resume ${path}: the run is at step ${saved.step} already, so --steps ` +
        `${config.steps} leaves nothing to train; give a larger --steps`,
    );
  }
}

/** The hex SHA-256 of `text`'s UTF-8 bytes. */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What `trainOnText` starts from: the checked configuration, data and checkpoint. */
interface Setup {
  config: Config;
  corpus: CharCorpus;
  textSha256: string;
  backendChoice: string;
  workers: number;
  saved?: Saved;
  resumePath?: string;
  savePath?: string;
}

async function trainOnText(setup: Setup): Promise<void> {
  const { config, corpus, saved } = setup;
  const backend = await startBackend(setup.backendChoice);
  const rng = new Random(config.seed);
  const modelConfig = {
    vocabSize: corpus.vocab.length,
    cell: config.cell,
    embeddingSize: config.embeddingSize,
    hiddenSize: config.hiddenSize,
    numLayers: config.numLayers,
    dropout: config.dropout,
    rng,
  };
  let model: CharLM;
  try {
    // Built from `rng` even on resume, so that dropout and batches draw from the restored stream.
    model = new CharLM(modelConfig);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new UsageError(
      `--hidden-size ${config.hiddenSize}, --embedding-size ${config.embeddingSize}, ` +
        `--num-layers ${config.numLayers}: the model does not fit in memory: ` +
        e.message.replace(/^rnnkit: /, ""),
    );
  }
  const optimizer = new Adam(model.parameters(), { lr: config.lr });
  const scheduler = makeScheduler(config, optimizer);
  console.error(
    `rnnkit: model ${config.cell.toUpperCase()} char LM: embedding ${config.embeddingSize}, ` +
      `hidden ${config.hiddenSize} x ${config.numLayers} layer${config.numLayers > 1 ? "s" : ""}` +
      `, vocabulary ${corpus.vocab.length}, ` +
      `${model.parameters().reduce((n, p) => n + p.size, 0).toLocaleString("en-US")} parameters`,
  );
  const run: Run = {
    config,
    corpus,
    model,
    optimizer,
    scheduler,
    rng,
    stream: config.batching === "stream"
      ? new StreamBatcher(corpus.train, config.batchSize, config.seqLen)
      : undefined,
    step: 0,
    history: { train: [], val: [] },
    runId: runIdOf(config, corpus.vocab),
    textSha256: setup.textSha256,
  };
  if (saved) {
    try {
      saved.restore({ model, optimizer, rng, scheduler });
      // The saved Adam state, but this run's learning rate (--lr may change on resume,
      // unless a schedule sets it: then the restored schedule goes on).
      if (!scheduler) optimizer.lr = config.lr;
    } catch (e) {
      throw new UsageError(`--resume: ${(e as Error).message.replace(/^rnnkit: /, "")}`);
    }
    const [h, c] = ["h", "c"].map((k) => saved.tensors[k]).map((t) =>
      t && keep(tensor(t.data, t.shape))
    );
    run.carried = h && c ? [h, c] : h;
    if (run.stream) {
      if (saved.metadata.streamPosition >= run.stream.chunksPerEpoch) {
        throw new UsageError(
          `--resume ${setup.resumePath}: its stream position ${saved.metadata.streamPosition} is ` +
            `past the ${run.stream.chunksPerEpoch} chunks of the text`,
        );
      }
      run.stream.position = saved.metadata.streamPosition;
    }
    run.step = saved.step;
    run.history = saved.metadata.history;
    console.error(`rnnkit: resuming from ${setup.resumePath} at step ${saved.step}`);
  }
  if (setup.workers > 1) {
    run.parallel = await DataParallel.create(setup.workers, backend.name, model);
  }
  try {
    await train(run, setup.savePath);
  } finally {
    run.parallel?.close();
  }
}

/** The run's own metadata in its training state (core keeps the rest). */
interface SavedRun {
  config: Config;
  vocab: string[];
  history: History;
  streamPosition: number;
  /** Of the text trained on: --resume refuses another text with the same characters. */
  textSha256: string;
}

/** A training state written by this command. */
type Saved = SavedTrainingState & { metadata: SavedRun };

/** Every field of the run's metadata, checked before anything is restored. */
function checkSavedRun(state: SavedTrainingState): Saved {
  const m = state.metadata as Record<string, unknown>;
  const config = m.config as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof config !== "object" || config === null) problems.push("no configuration");
  else {
    for (const [key, value] of Object.entries(LATER_SETTINGS)) config[key] ??= value;
    for (const [key, value] of Object.entries(DEFAULTS)) {
      const ok = typeof config[key] === typeof value &&
        (typeof value !== "number" || Number.isFinite(config[key]));
      if (!ok) problems.push(`configuration "${key}" is ${JSON.stringify(config[key])}`);
    }
    if (!CELLS.includes(config.cell as Cell)) problems.push(`cell ${JSON.stringify(config.cell)}`);
    if (!BATCHINGS.includes(config.batching as typeof BATCHINGS[number])) {
      problems.push(`batching ${JSON.stringify(config.batching)}`);
    }
    if (!SCHEDULES.includes(config.lrSchedule as typeof SCHEDULES[number])) {
      problems.push(`lr schedule ${JSON.stringify(config.lrSchedule)}`);
    }
  }
  const h = m.history as History;
  const numbers = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === "number");
  if (!numbers(h?.train) || !Array.isArray(h?.val) || !h.val.every((p) => numbers(p))) {
    problems.push("the loss history is damaged");
  }
  if (!Array.isArray(m.vocab) || !m.vocab.every((c) => typeof c === "string")) {
    problems.push("the vocabulary is damaged");
  }
  if (!Number.isSafeInteger(m.streamPosition) || (m.streamPosition as number) < 0) {
    problems.push(`the stream position is ${JSON.stringify(m.streamPosition)}`);
  }
  if (typeof m.textSha256 !== "string") problems.push("no hash of the text");
  if (problems.length) {
    throw new Error(
      `rnnkit: ${state.where}: not a training state of train --text: ${problems.join("; ")}`,
    );
  }
  return state as Saved;
}

/** The training state of the checkpoint at `path`, or a UsageError saying why not. */
async function readSaved(path: string): Promise<Saved> {
  try {
    const { state, modelFile } = await readCheckpoint(path);
    if (modelFile === "stale") {
      console.error(
        `rnnkit: ${path} is from an earlier step than its training state (a save was ` +
          "interrupted, or the state was written on its own); resuming from the training " +
          "state, the next save rewrites the model",
      );
    }
    return checkSavedRun(state);
  } catch (e) {
    const message = (e as Error).message.replace(/^rnnkit: /, "");
    const old = message.includes(OLD_STATE_FORMAT)
      ? `; it was written by an earlier rnnkit, whose training state this version does not ` +
        `resume: the model ${path} still loads (generate, PyTorch)`
      : "";
    throw new UsageError(`--resume ${path}: ${message}${old}`);
  }
}

/** The settings given on the command line, checked; absent ones are left out. */
function givenConfig(flags: Record<string, unknown>): Partial<Config> {
  const probability = (name: string) => {
    const p = numberFlag(flags, name, true);
    if (p !== undefined && p >= 1) throw new UsageError(`--${name} must be < 1, got "${p}"`);
    return p;
  };
  const config: Partial<Config> = {
    cell: flags.cell === undefined ? undefined : choiceFlag(flags, "cell", CELLS, "lstm"),
    hiddenSize: intFlag(flags, "hidden-size", 1),
    numLayers: intFlag(flags, "num-layers", 1),
    embeddingSize: intFlag(flags, "embedding-size", 1),
    dropout: probability("dropout"),
    seqLen: intFlag(flags, "seq-len", 1),
    batchSize: intFlag(flags, "batch-size", 1),
    steps: intFlag(flags, "steps", 1),
    lr: numberFlag(flags, "lr"),
    lrSchedule: flags["lr-schedule"] === undefined
      ? undefined
      : choiceFlag(flags, "lr-schedule", SCHEDULES, "none"),
    warmupSteps: intFlag(flags, "warmup-steps", 0),
    scheduleSteps: intFlag(flags, "schedule-steps", 1),
    clip: numberFlag(flags, "clip", true),
    valFraction: probability("val-fraction"),
    evalInterval: intFlag(flags, "eval-interval", 1),
    saveInterval: intFlag(flags, "save-interval", 1),
    batching: flags.batching === undefined
      ? undefined
      : choiceFlag(flags, "batching", BATCHINGS, "random"),
    seed: intFlag(flags, "seed", 0),
  };
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}

/** Defaults, overridden by the saved run's settings, overridden by the command line's. */
function resolveConfig(given: Partial<Config>, saved?: Config): Config {
  for (const key of saved ? FIXED_ON_RESUME : []) {
    if (given[key] !== undefined && given[key] !== saved![key]) {
      throw new UsageError(
        `--${FLAG[key]} ${given[key]} differs from the resumed run's ${saved![key]}, ` +
          "which a resumed run cannot change",
      );
    }
  }
  if (saved && scheduled(saved) && given.lr !== undefined && given.lr !== saved.lr) {
    throw new UsageError(
      `--lr ${given.lr} differs from the resumed run's ${saved.lr}, which a run with a ` +
        "learning-rate schedule cannot change (the schedule resumes where it was)",
    );
  }
  const saveInterval = given.evalInterval ?? DEFAULTS.evalInterval;
  const config = { ...(saved ?? { ...DEFAULTS, saveInterval }), ...given };
  if (config.dropout > 0 && config.numLayers < 2) {
    throw new UsageError("--dropout acts between recurrent layers: it needs --num-layers >= 2");
  }
  return config;
}

/** Whether the run has a learning-rate schedule (a scheduler sets the lr). */
function scheduled(config: Config): boolean {
  return config.lrSchedule !== "none" || config.warmupSteps > 0;
}

/** The schedule's flags must fit each other and the run. */
function checkSchedule(config: Config, corpus: CharCorpus): void {
  const { lrSchedule, warmupSteps: w, scheduleSteps: s } = config;
  if (lrSchedule !== "cosine" && s !== 0) {
    throw new UsageError("--schedule-steps is the length of --lr-schedule cosine: give that too");
  }
  if (lrSchedule === "cosine" && w >= s) {
    throw new UsageError(
      `--warmup-steps ${w} leaves no steps of the cosine schedule (--schedule-steps ${s}): ` +
        "give fewer warm-up steps or more schedule steps",
    );
  }
  if (lrSchedule === "plateau") {
    if (w > 0) {
      throw new UsageError(
        "--warmup-steps does not combine with --lr-schedule plateau (a plateau schedule " +
          "reacts to the validation loss; use cosine or none)",
      );
    }
    if (corpus.val.length === 0) {
      throw new UsageError(
        "--lr-schedule plateau needs validation: --val-fraction 0 leaves no validation loss",
      );
    }
  }
}

/**
 * The run's scheduler, as a PyTorch user would build it: LinearLR for the warm-up, then
 * CosineAnnealingLR in a SequentialLR; ReduceLROnPlateau; or none.
 */
function makeScheduler(config: Config, optimizer: Adam): LRScheduler | undefined {
  const w = config.warmupSteps;
  const warmup = () => new LinearLR(optimizer, { startFactor: 1 / (w + 1), totalIters: w });
  if (config.lrSchedule === "plateau") return new ReduceLROnPlateau(optimizer, PLATEAU);
  if (config.lrSchedule === "none") return w > 0 ? warmup() : undefined;
  if (w === 0) return new CosineAnnealingLR(optimizer, { tMax: config.scheduleSteps });
  const linear = warmup();
  const cosine = new CosineAnnealingLR(optimizer, { tMax: config.scheduleSteps - w });
  return new SequentialLR(optimizer, { schedulers: [linear, cosine], milestones: [w] });
}

/** Characters one step trains on. */
function stepChars(config: Config): number {
  return config.batchSize * config.seqLen;
}

/** The largest --text: JavaScript strings hold at most about 2^29 characters. */
const MAX_TEXT_BYTES = 256 * 2 ** 20;

async function readText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, MAX_TEXT_BYTES);
  } catch (e) {
    throw new UsageError(`--text ${(e as Error).message.replace(/^rnnkit: /, "")}`);
  }
  if (bytes.length === 0) throw new UsageError(`--text ${path}: the file is empty`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`--text ${path}: not UTF-8 text`);
  }
}

/** The text must hold at least one training window (and one validation window, if any). */
function checkCorpus(corpus: CharCorpus, config: Config, path: string): void {
  const { seqLen, batchSize, batching, valFraction } = config;
  const needed = batching === "stream" ? batchSize * seqLen + 1 : seqLen + 1;
  if (corpus.train.length < needed) {
    const what = batching === "stream"
      ? `${batchSize} streams of --seq-len ${seqLen}`
      : `one window of --seq-len ${seqLen}`;
    throw new UsageError(
      `--text ${path}: its training part has ${
        plural(corpus.train.length, "character")
      }, fewer than ` +
        `the ${needed} that ${what} need (plus one target)`,
    );
  }
  if (valFraction > 0 && corpus.val.length < seqLen + 1) {
    throw new UsageError(
      `--text ${path}: --val-fraction ${valFraction} leaves ${
        plural(corpus.val.length, "character")
      } ` +
        `for validation, fewer than one window of --seq-len ${seqLen} plus its target; ` +
        "raise it, or pass --val-fraction 0 to skip validation",
    );
  }
}

// ---- Training ----------------------------------------------------------------------------

interface Run {
  config: Config;
  corpus: CharCorpus;
  model: CharLM;
  optimizer: Adam;
  /** Sets the lr of each step (--lr-schedule, --warmup-steps), if any. */
  scheduler?: LRScheduler;
  rng: Random;
  stream?: StreamBatcher;
  /** Stream batching's recurrent state, detached and kept between steps. */
  carried?: RecurrentState;
  step: number;
  history: History;
  /** Written into both files, so --resume can tell a torn save from a foreign one. */
  runId: string;
  textSha256: string;
  /** Set with --workers > 1: gradients come from worker threads. */
  parallel?: DataParallel;
}

async function train(run: Run, savePath?: string): Promise<void> {
  const { config, corpus, model, optimizer, scheduler, parallel } = run;
  const progress = new Progress(config.steps, run.step, stepChars(config));
  const save = async () => {
    await saveRun(run, savePath!);
    progress.note(`rnnkit: saved ${savePath} at step ${run.step}`);
  };
  const lastVal = () => run.history.val.at(-1)?.[1];
  let savedStep = run.step;
  // Tensors alive after the first step and at the end: a leak shows as growth.
  const live: { first?: string } = {};
  let next: RecurrentState | undefined;

  await fit({
    optimizer,
    scheduler,
    steps: config.steps,
    startStep: run.step,
    clipGradNorm: config.clip > 0 ? config.clip : undefined,
    forward: parallel ? undefined : () => {
      const [loss, state] = model.loss(nextBatch(run), run.carried);
      if (run.stream) next = detach(state);
      return loss;
    },
    gradients: parallel && (async (step) => {
      const batch = nextBatch(run);
      try {
        // Dropout masks are drawn from the step number, so a resumed run draws the same ones.
        return await parallel.backward(model, batch, config.seed * 1_000_003 + step);
      } finally {
        batch.input.dispose();
        batch.target.dispose();
      }
    }),
    validate: corpus.val.length > 0
      ? () =>
        evaluate(
          model,
          corpus.validationBatches(config.seqLen, config.batchSize, VAL_WINDOWS),
          (batch) => model.loss(batch)[0],
          (batch) => batch.input.shape[0],
        )
      : undefined,
    validateEvery: config.evalInterval,
    onStep: async (step, { loss, valLoss }) => {
      if (run.stream) {
        disposeState(run.carried);
        run.carried = next;
      }
      run.step = step;
      run.history.train.push(loss);
      if (valLoss !== undefined) run.history.val.push([step, valLoss]);
      live.first ??= liveCounts();
      const evaluated = step % config.evalInterval === 0 || step === config.steps;
      progress.update(step, recentLoss(run), lastVal(), evaluated);
      if (savePath && (step % config.saveInterval === 0 || step === config.steps)) {
        await save();
        savedStep = step;
      }
    },
  });
  progress.finish();
  if (savePath && savedStep !== run.step) await save();

  const seconds = progress.seconds();
  const steps = run.step - progress.startStep;
  const val = lastVal();
  console.log(
    `final train loss ${recentLoss(run)?.toFixed(4) ?? "-"}, ` +
      `val loss ${val?.toFixed(4) ?? "-"}, steps ${run.step}, ` +
      `steps/s ${(steps / seconds).toFixed(2)}, ` +
      `chars/s ${Math.round((steps * stepChars(config)) / seconds)}, time ${seconds.toFixed(1)} s`,
  );
  const end = liveCounts();
  if (live.first) {
    console.log(
      `live tensors ${end}${
        end === live.first ? ", flat over the run" : `, grew from ${live.first}`
      }`,
    );
  }
}

/** Live tensors in core and in the backend, e.g. "core 40, backend 40". */
function liveCounts(): string {
  return `core ${liveTensors()}, backend ${getBackend().memory().numTensors}`;
}

/** The next batch; a stream that starts over drops the carried state. */
function nextBatch(run: Run): Batch {
  const { config, corpus, rng, stream } = run;
  if (!stream) return corpus.randomWindows(config.batchSize, config.seqLen, rng);
  const batch = stream.next();
  if (batch.first) {
    disposeState(run.carried);
    run.carried = undefined;
  }
  return batch;
}

/** The state cut from the graph and kept out of the step's memory scope. */
function detach(state: RecurrentState): RecurrentState {
  return Array.isArray(state)
    ? [keep(state[0].detach()), keep(state[1].detach())]
    : keep(state.detach());
}

function disposeState(state?: RecurrentState): void {
  for (const t of state ? [state].flat() : []) t.dispose();
}

/** Mean loss over the last --eval-interval steps: what the progress line and the result show. */
function recentLoss(run: Run): number | undefined {
  const recent = run.history.train.slice(-run.config.evalInterval);
  return recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : undefined;
}

/**
 * Names a run by what cannot change when it is resumed (sizes, seed, data layout, text), so
 * --resume can tell a torn save (same run) from files of another run. Deterministic: the
 * same run always writes the same bytes.
 */
function runIdOf(config: Config, vocab: string[]): string {
  const fixed = JSON.stringify([FIXED_ON_RESUME.map((k) => config[k]), vocab]);
  let h = 0x811c9dc5; // 32-bit FNV-1a
  for (const byte of new TextEncoder().encode(fixed)) h = Math.imul(h ^ byte, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The checkpoint (core's two files: CharLM model, training state), then the loss plot. */
async function saveRun(run: Run, path: string): Promise<void> {
  const { model, optimizer, scheduler, rng, step, runId, config, corpus, history } = run;
  const carried = run.carried ? [run.carried].flat() : [];
  const state: TrainingState = {
    model,
    optimizer,
    scheduler,
    rng,
    step,
    runId,
    metadata: {
      config,
      vocab: corpus.vocab,
      streamPosition: run.stream?.position ?? 0,
      history,
      textSha256: run.textSha256,
    } satisfies SavedRun,
    tensors: Object.fromEntries(carried.map((t, i): [string, Tensor] => ["hc"[i], t])),
  };
  await saveCheckpoint(path, state, { modelMetadata: charLMMetadata(model, corpus.vocab) });
  await writeFileAtomic(plotPath(path), plot(run));
}

/** The loss curves: training loss smoothed over a sliding window, validation at its points. */
function plot(run: Run): string {
  const { train, val } = run.history;
  const window = Math.max(1, Math.floor(train.length / 50));
  const stride = Math.ceil(train.length / 500); // a few hundred points draw the same curve
  const smoothed: [number, number][] = [];
  let sum = 0;
  train.forEach((loss, i) => {
    sum += loss - (i >= window ? train[i - window] : 0);
    if ((i + 1) % stride === 0 || i === train.length - 1) {
      smoothed.push([i + 1, sum / Math.min(i + 1, window)]);
    }
  });
  const { cell, hiddenSize, numLayers } = run.config;
  return lossPlotSvg(
    [
      { name: `train (mean of ${window})`, points: smoothed, color: "#1f77b4" },
      { name: "validation", points: val, color: "#d62728", markers: true },
    ],
    `${cell.toUpperCase()} char LM, hidden ${hiddenSize}, ${numLayers} layer` +
      `${numLayers === 1 ? "" : "s"}`,
  );
}
