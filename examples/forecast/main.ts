/**
 * Time-series forecasting with rnnkit's library API only. A synthetic series has two
 * seasons (a "day" of 12 steps and a "week" of 84), a linear trend and Gaussian noise, all
 * drawn from a seeded generator. An LSTM reads a window of past values and predicts the
 * next one, trained with MSELoss and Adam under a linear warm-up then a cosine schedule
 * on the first 80% of the series. On the last 20% it prints the test RMSE next to the
 * seasonal-naive forecasts (the value one season ago) and writes an SVG of prediction vs
 * truth.
 *
 *   deno task start [--steps N] [--backend NAME] ...   (deno task start --help)
 */
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import {
  Adam,
  CosineAnnealingLR,
  fit,
  Linear,
  LinearLR,
  LSTM,
  Module,
  MSELoss,
  noGrad,
  Random,
  SequentialLR,
  setBackend,
  type Tensor,
  tensor,
  tidy,
  writeFileAtomic,
} from "@rnnkit/core";
import { DENO_BACKEND_NAMES, loadBackend } from "@rnnkit/backends";
import { svgPlot, svgTargetProblem } from "./svg_plot.ts";

/** The two seasons, in steps: a "day" and a "week" of seven days. */
const DAY = 12;
const WEEK = 7 * DAY;

const HELP = `Forecasts a synthetic two-season series (periods ${DAY} and ${WEEK}) with an LSTM.

Flags (defaults in brackets):
  --steps N        training steps [1500]
  --batch-size N   windows per step [64]
  --window N       past values the LSTM reads per forecast [48]
  --hidden N       LSTM hidden size [48]
  --length N       steps in the series; the last 20% are the test span [2520]
  --noise X        standard deviation of the Gaussian noise [0.2]
  --lr X           peak learning rate of Adam (warm-up to it, then cosine to 1% of it) [0.01]
  --seed N         seed of the series, the weights and the batches [0]
  --backend NAME   auto (native, else wasm) or ${DENO_BACKEND_NAMES.join(", ")} [auto]
  --dir DIR        output folder [out]
  --svg PATH       the plot of prediction vs truth over the test span; an existing file
                   there is replaced only if it is an SVG [DIR/forecast.svg]
  --check          exit 1 unless the LSTM's test RMSE is below both seasonal-naive ones
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
        steps: { type: "string", default: "1500" },
        "batch-size": { type: "string", default: "64" },
        window: { type: "string", default: "48" },
        hidden: { type: "string", default: "48" },
        length: { type: "string", default: "2520" },
        noise: { type: "string", default: "0.2" },
        lr: { type: "string", default: "0.01" },
        seed: { type: "string", default: "0" },
        backend: { type: "string", default: "auto" },
        dir: { type: "string", default: "out" },
        svg: { type: "string" },
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

/** A finite number flag in [min, max]. */
function numberFlag(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === "" || !(n >= min && n <= max)) {
    usage(`--${name} must be a number in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

const steps = intFlag("steps", flags.steps, 2, 1e6);
const batchSize = intFlag("batch-size", flags["batch-size"], 1, 4096);
const windowSize = intFlag("window", flags.window, 1, 1000);
const hidden = intFlag("hidden", flags.hidden, 1, 4096);
const length = intFlag("length", flags.length, 1, 1e7);
const noise = numberFlag("noise", flags.noise, 0, 10);
const peakLr = numberFlag("lr", flags.lr, 1e-6, 1);
const seed = intFlag("seed", flags.seed, 0, 2 ** 32 - 1);
if (flags.backend !== "auto" && !DENO_BACKEND_NAMES.includes(flags.backend)) {
  usage(
    `--backend must be auto or one of ${DENO_BACKEND_NAMES.join(", ")}, got "${flags.backend}"`,
  );
}
// The test span starts here; every training window and its target lie before it, and the
// seasonal-naive forecast of the first test value needs a week before it.
const split = Math.floor(0.8 * length);
if (split - windowSize < 1 || split < WEEK || length - split < 1) {
  usage(
    `--length ${length} is too short for --window ${windowSize}: the first 80% must hold more ` +
      `than the window and at least ${WEEK} steps (one week), and the rest at least one`,
  );
}
// Refuse a bad --svg now, not after training.
const svgPath = flags.svg ?? `${flags.dir}/forecast.svg`;
const svgProblem = await svgTargetProblem(svgPath);
if (svgProblem) usage(`--svg: ${svgProblem}`);

// A backend that cannot load here (native without OpenBLAS, say) says why.
const backend = await loadBackend(flags.backend).catch((e) => {
  console.error(`error: ${e.message}`);
  Deno.exit(1);
});
setBackend(backend);
console.error(`backend: ${backend.name}`);

// The series: day and week seasons, a trend, noise.
const rng = new Random(seed);
const eps = rng.normal(length, 0, noise);
const series = Float64Array.from(
  { length },
  (_, t) =>
    Math.sin((2 * Math.PI * t) / DAY) + 0.8 * Math.sin((2 * Math.PI * t) / WEEK) +
    (1.5 * t) / length + eps[t],
);

// Standardised with the training span's statistics only (the test span stays unseen).
const train = series.subarray(0, split);
const mean = train.reduce((a, b) => a + b, 0) / split;
const std = Math.sqrt(train.reduce((a, b) => a + (b - mean) ** 2, 0) / split);
const z = Float32Array.from(series, (v) => (v - mean) / std);

/** Windows ending just before each target step: inputs [n, window, 1], targets [n]. */
function windows(targets: readonly number[]): [Tensor, Tensor] {
  const x = new Float32Array(targets.length * windowSize);
  targets.forEach((t, i) => x.set(z.subarray(t - windowSize, t), i * windowSize));
  return [tensor(x, [targets.length, windowSize, 1]), tensor(targets.map((t) => z[t]))];
}

/** LSTM over the window -> its last hidden state -> Linear: the next standardised value. */
class Forecaster extends Module {
  readonly lstm: LSTM;
  readonly fc: Linear;

  constructor(rng: Random) {
    super();
    this.lstm = this.registerModule("lstm", new LSTM(1, hidden, { batchFirst: true, rng }));
    this.fc = this.registerModule("fc", new Linear(hidden, 1, { rng }));
  }

  /** x [batch, window, 1] -> [batch]. */
  forward(x: Tensor): Tensor {
    const [, [hN]] = this.lstm.forward(x); // hN [1, batch, hidden]
    return this.fc.forward(hN.view(-1, hidden)).view(-1);
  }
}

const model = new Forecaster(rng);
const optimizer = new Adam(model.parameters(), { lr: peakLr });
const warmup = Math.max(1, Math.round(steps / 20));
const scheduler = new SequentialLR(optimizer, {
  schedulers: [
    new LinearLR(optimizer, { startFactor: 0.1, totalIters: warmup }),
    new CosineAnnealingLR(optimizer, { tMax: steps - warmup, etaMin: peakLr / 100 }),
  ],
  milestones: [warmup],
});
const criterion = new MSELoss();
const every = Math.max(1, Math.round(steps / 10));
const { losses } = await fit({
  optimizer,
  scheduler,
  steps,
  clipGradNorm: 1,
  forward: () => {
    const targets = Array.from(
      { length: batchSize },
      () => windowSize + rng.int(split - windowSize),
    );
    const [x, y] = windows(targets);
    return criterion.forward(model.forward(x), y);
  },
  onStep: (step, { loss }) => {
    if (step % every === 0 || step === steps) {
      const lr = scheduler.getLastLr()[0].toExponential(2);
      console.error(`step ${step}/${steps}: loss ${loss.toFixed(4)}, lr ${lr}`);
    }
  },
});

// One-step forecasts of every test value, in the series' units.
model.eval();
const testSteps = Array.from({ length: length - split }, (_, i) => split + i);
const predicted: number[] = [];
for (let i = 0; i < testSteps.length; i += 512) {
  const out = tidy(() => noGrad(() => model.forward(windows(testSteps.slice(i, i + 512))[0])));
  for (const v of await out.data()) predicted.push(v * std + mean);
  out.dispose();
}
const truth = testSteps.map((t) => series[t]);
const rmse = (forecast: readonly number[]) =>
  Math.sqrt(forecast.reduce((a, f, i) => a + (f - truth[i]) ** 2, 0) / truth.length);
const lstmRmse = rmse(predicted);
const dayNaive = rmse(testSteps.map((t) => series[t - DAY]));
const weekNaive = rmse(testSteps.map((t) => series[t - WEEK]));
const naive = Math.min(dayNaive, weekNaive);
console.log(
  `${backend.name}: ${steps} steps, loss ${losses[0].toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}`,
);
console.log(
  `test RMSE over ${truth.length} steps: LSTM ${lstmRmse.toFixed(4)}; seasonal naive: ` +
    `a day ago ${dayNaive.toFixed(4)}, a week ago ${weekNaive.toFixed(4)} ` +
    `(noise alone ${noise.toFixed(4)})`,
);

await Deno.mkdir(dirname(svgPath), { recursive: true });
await writeFileAtomic(
  svgPath,
  svgPlot(
    `one-step forecasts over the test span (LSTM RMSE ${lstmRmse.toFixed(3)}, ` +
      `seasonal naive ${naive.toFixed(3)})`,
    [
      { label: "truth", color: "#888", values: truth },
      { label: "LSTM", color: "#d62728", values: predicted },
    ],
    [`step ${split}`, `step ${length - 1}`],
  ),
);
console.log(`wrote ${svgPath}`);
if (flags.check && !(lstmRmse < naive)) {
  console.error(
    `check failed: the LSTM's RMSE ${lstmRmse.toFixed(4)} does not beat seasonal naive ` +
      `(${naive.toFixed(4)})`,
  );
  Deno.exit(1);
}
