/**
 * Training quality against PyTorch: the same char-LM, hyperparameters and number of steps,
 * trained by rnnkit (`deno task train --text`, apps/cli/charlm.ts) and by PyTorch
 * (pytorch_charlm_train.py, the same protocol), then their validation losses compared.
 *
 *   deno run -A bench/quality/compare.ts [options]
 *
 * Both start from the same initial weights (rnnkit's --seed is torch.manual_seed's) but draw
 * different random batches, so their curves agree statistically, not exactly; --seeds with
 * several seeds shows how far two runs of one implementation differ.
 *
 * Runs one training at a time (the machine is small and shared). Writes results.json (every
 * loss of every run) and quality.svg (one panel per cell) beside this file, and prints a
 * markdown table on stdout; progress goes to stderr.
 */
import { parseArgs } from "node:util";
import { decodeSafetensors, writeFileAtomic } from "@rnnkit/core";
import { lossPlotSvg, type Series } from "../../apps/cli/plot.ts";

const HELP = `Usage: deno run -A bench/quality/compare.ts [options]

Options (defaults in brackets):
  --text FILE          corpus [/work/shared/data/tinyshakespeare.txt]
  --cells LIST         comma-separated: lstm,gru [lstm,gru]
  --seeds LIST         comma-separated seeds, each run by both [1]
  --steps N            [600]        --eval-interval N   [50]
  --hidden H           [128]        --layers L          [1]
  --embedding E        [64]         --seq-len T         [64]
  --batch B            [32]         --lr X              [0.002]
  --clip C             [5]          --backend NAME      rnnkit's backend [wasm]
  --tolerance X        largest final validation difference that passes [0.05]
  -h, --help           this text`;

/** A run's losses, as charlm.ts keeps them, and its training time. */
interface History {
  train: number[];
  val: [number, number][];
  seconds: number;
}

interface Run {
  cell: string;
  seed: number;
  rnnkit: History;
  pytorch: History;
}

const HERE = new URL(".", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    text: { type: "string", default: "/work/shared/data/tinyshakespeare.txt" },
    cells: { type: "string", default: "lstm,gru" },
    seeds: { type: "string", default: "1" },
    steps: { type: "string", default: "600" },
    "eval-interval": { type: "string", default: "50" },
    hidden: { type: "string", default: "128" },
    layers: { type: "string", default: "1" },
    embedding: { type: "string", default: "64" },
    "seq-len": { type: "string", default: "64" },
    batch: { type: "string", default: "32" },
    lr: { type: "string", default: "0.002" },
    clip: { type: "string", default: "5" },
    backend: { type: "string", default: "wasm" },
    tolerance: { type: "string", default: "0.05" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(HELP);
  Deno.exit(0);
}

const cells = flags.cells.split(",");
const seeds = flags.seeds.split(",").map(Number);
const tolerance = Number(flags.tolerance);
const config = {
  steps: Number(flags.steps),
  evalInterval: Number(flags["eval-interval"]),
  hidden: Number(flags.hidden),
  layers: Number(flags.layers),
  embedding: Number(flags.embedding),
  seqLen: Number(flags["seq-len"]),
  batch: Number(flags.batch),
  lr: Number(flags.lr),
  clip: Number(flags.clip),
};

/** Runs a command in the repository root; stdout is returned, stderr (progress) passes through. */
async function exec(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd: REPO, env, stderr: "inherit" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${stdout}`);
  return stdout;
}

async function runRnnkit(cell: string, seed: number, dir: string): Promise<History> {
  const save = `${dir}/${cell}-${seed}.safetensors`;
  const stdout = await exec(Deno.execPath(), [
    "run",
    "-A",
    "apps/cli/train.ts",
    ...["--text", flags.text, "--backend", flags.backend, "--cell", cell],
    ...["--hidden-size", `${config.hidden}`, "--num-layers", `${config.layers}`],
    ...["--embedding-size", `${config.embedding}`, "--seq-len", `${config.seqLen}`],
    ...["--batch-size", `${config.batch}`, "--lr", `${config.lr}`, "--clip", `${config.clip}`],
    ...["--steps", `${config.steps}`, "--eval-interval", `${config.evalInterval}`],
    ...["--seed", `${seed}`, "--save", save],
  ]);
  // The loss history lives in the training-state sidecar's metadata (charlm.ts `save`).
  const state = decodeSafetensors(
    await Deno.readFile(
      save.replace(/\.safetensors$/, "") +
        ".optim.safetensors",
    ),
  );
  const { train, val } = JSON.parse(state.metadata.history);
  // The trainer's own clock (excludes Deno start-up and the backend's load): "time 12.3 s".
  const seconds = Number(/time ([\d.]+) s/.exec(stdout)?.[1]);
  return { train, val, seconds };
}

async function runPytorch(cell: string, seed: number): Promise<History> {
  const stdout = await exec("/usr/bin/python3", [
    "bench/quality/pytorch_charlm_train.py",
    ...["--text", flags.text, "--cell", cell],
    ...["--hidden", `${config.hidden}`, "--layers", `${config.layers}`],
    ...["--embedding", `${config.embedding}`, "--seq-len", `${config.seqLen}`],
    ...["--batch", `${config.batch}`, "--lr", `${config.lr}`, "--clip", `${config.clip}`],
    ...["--steps", `${config.steps}`, "--eval-interval", `${config.evalInterval}`],
    ...["--seed", `${seed}`],
  ], { OPENBLAS_NUM_THREADS: "1" });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** Sliding mean of the per-step losses: single steps are too noisy to compare by eye. */
function smooth(train: number[], window: number): [number, number][] {
  let sum = 0;
  return train.map((loss, i) => {
    sum += loss - (i >= window ? train[i - window] : 0);
    return [i + 1, sum / Math.min(i + 1, window)];
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const finalVal = (h: History) => h.val.at(-1)![1];
/** The mean training loss of the last eval interval: what charlm.ts reports as "final train". */
const finalTrain = (h: History) => mean(h.train.slice(-config.evalInterval));

const runs: Run[] = [];
const dir = await Deno.makeTempDir({ prefix: "rnnkit-quality-" });
try {
  for (const cell of cells) {
    for (const seed of seeds) {
      console.error(`== ${cell} seed ${seed}: rnnkit (${flags.backend})`);
      const rnnkit = await runRnnkit(cell, seed, dir);
      console.error(`== ${cell} seed ${seed}: PyTorch`);
      const pytorch = await runPytorch(cell, seed);
      runs.push({ cell, seed, rnnkit, pytorch });
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

await writeFileAtomic(
  `${HERE}results.json`,
  new TextEncoder().encode(JSON.stringify({ config, backend: flags.backend, runs }) + "\n"),
);

// One panel per cell, side by side: lossPlotSvg draws a whole <svg>, and nested <svg>
// elements with an x offset place them in one picture.
const PALETTE = {
  rnnkit: { val: ["#d62728", "#8c1a1a", "#ff9896"], train: ["#f4a6a6", "#c98080", "#ffd0d0"] },
  pytorch: { val: ["#1f77b4", "#0b3c61", "#6baed6"], train: ["#a6c8e6", "#7f9fbf", "#d0e4f4"] },
};
const window = Math.max(1, Math.floor(config.steps / 50));
const panels = cells.map((cell) => {
  // Training curves first, so the sparse validation curves are drawn on top of them.
  const train: Series[] = [];
  const val: Series[] = [];
  runs.filter((r) => r.cell === cell).forEach((r, i) => {
    for (const impl of ["rnnkit", "pytorch"] as const) {
      const name = `${impl === "rnnkit" ? "rnnkit" : "PyTorch"} s${r.seed}`;
      const color = PALETTE[impl];
      val.push({
        name: `${name} val`,
        points: r[impl].val,
        color: color.val[i % 3],
        markers: true,
      });
      train.push({
        name: `${name} train`,
        points: smooth(r[impl].train, window),
        color: color.train[i % 3],
      });
    }
  });
  const series = [...train, ...val];
  const { hidden, layers, lr } = config;
  return lossPlotSvg(
    series,
    `${cell.toUpperCase()} h${hidden}x${layers}, lr ${lr}: val, train (mean of ${window})`,
  );
});
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${720 * panels.length}" height="420">`,
  ...panels.map((p, i) => p.replace("<svg ", `<svg x="${720 * i}" `)),
  "</svg>",
  "",
].join("\n");
await writeFileAtomic(`${HERE}quality.svg`, new TextEncoder().encode(svg));

// Formatted as `deno fmt` would, so that `deno task test`'s `deno fmt --check` stays clean.
await exec(Deno.execPath(), ["fmt", "--quiet", `${HERE}results.json`, `${HERE}quality.svg`]);

const f = (x: number) => x.toFixed(4);
const lines = [
  `${config.steps} steps, ${config.hidden}x${config.layers} hidden, embedding ` +
  `${config.embedding}, batch ${config.batch} x ${config.seqLen}, Adam lr ${config.lr}, ` +
  `clip ${config.clip}, rnnkit backend ${flags.backend}`,
  "",
  "| cell | seed | steps | val rnnkit | val PyTorch | difference | within " + tolerance +
  "? | max abs diff, all evals | train rnnkit | train PyTorch | s rnnkit | s PyTorch |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
];
for (const r of runs) {
  const diff = finalVal(r.rnnkit) - finalVal(r.pytorch);
  const maxDiff = Math.max(...r.rnnkit.val.map(([, v], i) => Math.abs(v - r.pytorch.val[i][1])));
  lines.push(
    `| ${r.cell} | ${r.seed} | ${config.steps} | ${f(finalVal(r.rnnkit))} | ` +
      `${f(finalVal(r.pytorch))} | ${diff >= 0 ? "+" : ""}${f(diff)} | ` +
      `${Math.abs(diff) <= tolerance ? "yes" : "no"} | ${f(maxDiff)} | ` +
      `${f(finalTrain(r.rnnkit))} | ${f(finalTrain(r.pytorch))} | ` +
      `${r.rnnkit.seconds.toFixed(0)} | ${r.pytorch.seconds.toFixed(0)} |`,
  );
}
if (seeds.length > 1) {
  // How much the final validation loss moves with the seed alone, for scale.
  lines.push(
    "",
    "| cell | val rnnkit, seeds min..max | val PyTorch, seeds min..max |",
    "|---|---|---|",
  );
  for (const cell of cells) {
    const of = (impl: "rnnkit" | "pytorch") => {
      const v = runs.filter((r) => r.cell === cell).map((r) => finalVal(r[impl]));
      return `${f(Math.min(...v))}..${f(Math.max(...v))}`;
    };
    lines.push(`| ${cell} | ${of("rnnkit")} | ${of("pytorch")} |`);
  }
}
lines.push("", `results: ${HERE}results.json, plot: ${HERE}quality.svg`);
console.log(lines.join("\n"));
