/**
 * `deno task bench`: rnnkit's training and generation speed per backend, next to PyTorch and
 * the TensorFlow.js Layers API on the same model, batches and machine.
 *
 * Each backend runs in its own subprocess (run_backend.ts), and so does each peer run, one
 * at a time, so memory figures are per process and no two measurements share the cores.
 * webgl exists only in a browser: it runs in headless Chromium (browser_runs.ts), as do the
 * --browser pages, each with its tfjs-layers peer in the same page; that needs
 * --allow-net=127.0.0.1 on top of the task's other permissions.
 * Progress goes to stderr; markdown tables go to stdout; --json FILE keeps every raw result.
 */
import { parseArgs } from "node:util";
import { CharCorpus, writeFileAtomic } from "@rnnkit/core";
import { CHROMIUM_NOT_FOUND, chromiumPath } from "@rnnkit/backend-webgl/chromium";
import { BACKEND_NAMES, createBestBackend } from "@rnnkit/backends";
import { CONFIG_NAMES, CONFIGS, DEFAULT_TEXT, FULL, QUICK, workersLabel } from "./configs.ts";
import { BROWSER_NAMES, BROWSER_RUNS, type BrowserRun, runPage } from "./browser_runs.ts";

const HELP = `Usage: deno task bench [options]

Training throughput (Embedding(V,64) -> cell -> Linear(H,V), batch 32 x 64 chars, Adam 2e-3)
for configs rnn (RNN h128 x1), lstm (LSTM h256 x2), gru (GRU h256 x2); the seed's toy model
ms/epoch; greedy generation (LSTM h256 x2, batch 1) chars/s; peak RSS. Peers: PyTorch
(/usr/bin/python3, 1 and 2 threads), tfjs-layers on the same backend (for native, which
tfjs has no counterpart of, on wasm) and, for generation, onnxruntime-node (one thread) on
the model exported by torch.onnx (absent without torch). Training rows also get GFLOPS and
% of the machine's limit, the step's FLOPs at the best 2-thread sgemm rate measured in the
same process (the native backend's OpenBLAS; absent without it). webgl runs in
headless Chromium (/usr/bin/chromium), where peak RSS is not measured. wasm runs one
thread under Deno: with it, training is also measured with data-parallel Deno workers
(as \`train --workers N\`), in rows of its own ("wasm x2 workers").

Options:
  --text FILE        corpus (default ../shared/data/tinyshakespeare.txt from the repo root)
  --backends LIST    auto, all, or comma-separated names: ${BACKEND_NAMES.join(",")}
                     (default: auto, the backend train and generate pick: native where it
                     loads, else wasm)
  --browser LIST     all, or comma-separated pages to measure in headless Chromium, each
                     next to tfjs-layers in the same page: ${BROWSER_NAMES.join(",")}
                     (wasm-1t: one thread; wasm-threads: a cross-origin isolated page,
                     as many threads as cores; webgl: as --backends webgl; webgpu:
                     with --enable-unsafe-webgpu, absent where Chromium has no adapter)
                     (default: none)
  --configs LIST     comma-separated: rnn,lstm,gru (default: all; rnn with --quick)
  --peers LIST       comma-separated: pytorch,tfjs-layers,onnxruntime (default: all; ""
                     for none)
  --wasm-workers N   workers for wasm's data-parallel training rows (default 2; 0: none)
  --quick            short run: 1 warm-up, 2 timed steps, 1 rep, 50 generated chars
  --json FILE        write all raw results to FILE
  -h, --help         this text`;

const PEERS = ["pytorch", "tfjs-layers", "onnxruntime"];
/**
 * The tfjs backend tfjs-layers runs on as each rnnkit backend's peer: the same one, except
 * for native, which tfjs has no counterpart of: there the peer is tfjs-layers on wasm, the
 * fastest tfjs CPU backend here (measured once, shared with the wasm rows).
 */
const LAYERS_BACKEND: Record<string, string> = {
  tfjs: "cpu",
  wasm: "wasm",
  native: "wasm",
  webgpu: "webgpu",
};
const PYTHON = "/usr/bin/python3";
const root = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();

/**
 * One rnnkit measuring run: a backend, single-threaded, or its training alone with
 * data-parallel workers. `key` names it in the results and the tables; `backend` picks its
 * tfjs-layers peer; `page`, when set, is where it runs in headless Chromium (with its
 * tfjs-layers peer in the same page, and `backend` its key: the peer is its own).
 */
interface Run {
  key: string;
  backend: string;
  workers: number;
  page?: BrowserRun;
}

/** A measurement that could not be made, and why. */
interface Absent {
  absent: string;
}
// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;
type Outcome = Json | Absent;

function isAbsent(x: Outcome | undefined): x is Absent | undefined {
  return x === undefined || "absent" in x;
}

function log(msg: string): void {
  console.error(`bench: ${msg}`);
}

function list(value: string, allowed: readonly string[], flag: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s);
  for (const item of items) {
    if (!allowed.includes(item)) {
      throw new Error(`${flag}: unknown "${item}" (choose from ${allowed.join(", ")})`);
    }
  }
  return items;
}

/**
 * A measuring program's progress lines, forwarded to stderr (prefixed) as they come; the
 * last few are kept to explain a failed run.
 */
function progress(label: string) {
  const tail: string[] = [];
  return {
    line(line: string): void {
      // wgpu's harmless start-up complaint would drown the progress lines.
      if (!line.trim() || line.includes("XDG_RUNTIME_DIR")) return;
      console.error(line.startsWith("bench [") ? line : `  ${label}: ${line}`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    },
    /** The program's result: its JSON line, or Absent with the last thing it said. */
    result(code: number, json: string | undefined): Outcome {
      if (code === 0 && json) return JSON.parse(json);
      const why = tail.filter((l) => /error|Error|absent/.test(l)).at(-1) ?? tail.at(-1) ?? "";
      return { absent: `${label} exited with ${code}: ${why.trim().slice(0, 300)}` };
    },
  };
}

/** Runs one program and returns the JSON line it printed (see `progress`). */
async function runJson(
  label: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Outcome> {
  let child;
  try {
    child = new Deno.Command(cmd, { args, cwd: root, env, stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (e) {
    return { absent: `cannot start ${cmd}: ${e}` };
  }
  const p = progress(label);
  const forward = (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      lines.forEach(p.line);
    }
  })();
  const [out, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  await forward;
  return p.result(status.code, out.trim().split("\n").filter((l) => l.startsWith("{")).at(-1));
}

/**
 * One page in headless Chromium (browser_runs.ts): the same JSON line as run_backend.ts,
 * plus its tfjs-layers peer; everything else the page says is progress.
 */
async function runBrowser(
  page: BrowserRun,
  text: string,
  configs: string[],
  quick: boolean,
  layers: boolean,
): Promise<Outcome> {
  if (!chromiumPath()) return { absent: CHROMIUM_NOT_FOUND };
  // The page runs rnnkit, then tfjs-layers: its lines are labelled by the page.
  const p = progress(`${page.key} page`);
  try {
    const { code, json } = await runPage(page, { configs, quick, layers }, text, p.line);
    return p.result(code, json);
  } catch (e) {
    // E.g. no --allow-net=127.0.0.1, or a failed bundle: the page is absent, the rest goes on.
    return { absent: `cannot run Chromium: ${e instanceof Error ? e.message : e}` };
  }
}

/** Why PyTorch cannot run here, or null when `import torch` works. */
async function torchMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", "import torch"], stderr: "piped" })
      .output();
    if (r.success) return null;
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").at(-1);
    return `${PYTHON} cannot import torch: ${err}`;
  } catch (e) {
    return `${PYTHON} not runnable: ${e}`;
  }
}

/**
 * onnxruntime-node's greedy generation on the model that PyTorch exports
 * (peers/onnx_charlm_export.py, into a temporary directory): absent when torch is
 * (`noTorch` says why) or when onnxruntime-node does not load here.
 */
async function onnxruntimePeer(
  noTorch: string | null,
  vocab: number,
  sched: string[],
  chars: number,
): Promise<Outcome> {
  if (noTorch) return { absent: `onnxruntime: the model is exported by PyTorch: ${noTorch}` };
  const dir = await Deno.makeTempDir({ prefix: "rnnkit-bench-onnx-" });
  try {
    const model = `${dir}/charlm.onnx`;
    const exported = await runJson("onnx export", PYTHON, [
      "bench/peers/onnx_charlm_export.py",
      "--vocab",
      `${vocab}`,
      "--out",
      model,
    ]);
    if (isAbsent(exported)) return exported!;
    return await runJson("onnxruntime generate", deno, [
      "run",
      "--no-lock",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      "bench/peers/onnxruntime.ts",
      "--model",
      model,
      "--generate",
      `${chars}`,
      ...sched,
    ], { ONNXRUNTIME_NODE_INSTALL_CUDA: "skip" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<number> {
  const { values: o } = parseArgs({
    args: Deno.args,
    options: {
      text: { type: "string", default: DEFAULT_TEXT },
      backends: { type: "string", default: "auto" },
      browser: { type: "string", default: "" },
      configs: { type: "string" },
      peers: { type: "string", default: PEERS.join(",") },
      quick: { type: "boolean", default: false },
      "wasm-workers": { type: "string", default: "2" },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const backends = o.backends === "auto" ? [(await createBestBackend()).name] : list(
    o.backends === "all" ? BACKEND_NAMES.join(",") : o.backends,
    BACKEND_NAMES,
    "--backends",
  );
  console.error(`bench: backends ${backends.join(", ")}${o.backends === "auto" ? " (auto)" : ""}`);
  // --quick stays under two minutes by measuring the smallest config only, unless told.
  const configs = list(
    o.configs ?? (o.quick ? "rnn" : CONFIG_NAMES.join(",")),
    CONFIG_NAMES,
    "--configs",
  );
  const peers = list(o.peers, PEERS, "--peers");
  const wasmWorkers = Number(o["wasm-workers"]);
  if (!Number.isInteger(wasmWorkers) || wasmWorkers < 0 || wasmWorkers === 1) {
    throw new Error(`--wasm-workers: "${o["wasm-workers"]}" (0 for none, or 2 and up)`);
  }
  const run = (backend: string, workers = 1): Run => ({
    key: workersLabel(backend, workers),
    backend,
    workers,
  });
  const pageRun = (name: string): Run => {
    const page = BROWSER_RUNS[name];
    return { key: page.key, backend: page.key, workers: 1, page };
  };
  const pages = list(
    o.browser === "all" ? BROWSER_NAMES.join(",") : o.browser,
    BROWSER_NAMES,
    "--browser",
  );
  const runs = [
    ...backends.flatMap((b) =>
      b === "webgl"
        ? [pageRun(b)]
        : b === "wasm" && wasmWorkers
        ? [run(b), run(b, wasmWorkers)]
        : [run(b)]
    ),
    // webgl in both lists is one run.
    ...pages.filter((name) => !(name === "webgl" && backends.includes("webgl"))).map(pageRun),
  ];
  try {
    await Deno.stat(o.text);
  } catch {
    throw new Error(
      `corpus ${o.text} not found: pass --text FILE (any UTF-8 text, e.g. tinyshakespeare)`,
    );
  }
  const schedule = o.quick ? QUICK : FULL;
  const sched = o.quick ? ["--quick"] : [
    "--warmup",
    `${schedule.warmup}`,
    "--steps",
    `${schedule.steps}`,
    "--reps",
    `${schedule.reps}`,
    "--min-ms",
    `${schedule.minMs}`,
  ];
  const results: Json = {
    date: new Date().toISOString(),
    text: o.text,
    vocab: new CharCorpus(await Deno.readTextFile(o.text), 0).vocab.length,
    quick: o.quick,
    schedule,
    configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])),
    runs,
    backends: {} as Record<string, Outcome>,
    peers: {
      pytorch1t: {} as Record<string, Outcome>,
      pytorch2t: {} as Record<string, Outcome>,
      pytorchGenerate: {} as Outcome,
      tfjsLayers: {} as Record<string, Record<string, Outcome>>,
      tfjsLayersGenerate: {} as Record<string, Outcome>,
      onnxruntimeGenerate: {} as Outcome,
    },
  };
  const P = results.peers;

  for (const { key, backend: b, workers, page } of runs) {
    log(`rnnkit on ${key}`);
    results.backends[key] = page
      ? await runBrowser(page, o.text, configs, o.quick, peers.includes("tfjs-layers"))
      : await runJson(`rnnkit ${key}`, deno, [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-ffi",
        // native builds its kernels on first use: runs cc, writes its cache.
        "--allow-run",
        "--allow-write",
        "bench/run_backend.ts",
        "--backend",
        b,
        "--workers",
        `${workers}`,
        "--text",
        o.text,
        "--configs",
        configs.join(","),
        ...(o.quick ? ["--quick"] : []),
      ]);
    const r = results.backends[key];
    if (isAbsent(r)) log(`${key}: absent: ${r?.absent}`);
    else if (!r.available) results.backends[key] = { absent: r.reason };
    // The peers are the same for every run on a backend: measured once, with its first.
    if (workers > 1) continue;
    if (page) {
      // Its tfjs-layers ran in the same page, or is absent for the reason the page gives.
      const layers = isAbsent(r) ? r : r.tfjsLayers ?? { absent: "no tfjsLayers from the page" };
      const why = isAbsent(layers) ? layers : undefined;
      P.tfjsLayers[b] = Object.fromEntries(configs.map((c) => [c, why ?? layers.train[c]]));
      P.tfjsLayersGenerate[b] = why ?? layers.generate;
      continue;
    }

    const layersBackend = LAYERS_BACKEND[b];
    const noLayers = !peers.includes("tfjs-layers")
      ? "not requested (--peers)"
      : !layersBackend
      ? `tfjs-layers has no ${b} backend here`
      : null;
    const measured = Object.keys(P.tfjsLayers).find((k) => LAYERS_BACKEND[k] === layersBackend);
    if (!noLayers && measured) {
      P.tfjsLayers[b] = P.tfjsLayers[measured];
      P.tfjsLayersGenerate[b] = P.tfjsLayersGenerate[measured];
      continue;
    }
    P.tfjsLayers[b] = {};
    const layersPeer = (what: string, ...extra: string[]) =>
      runJson(`tfjs-layers ${layersBackend} ${what}`, deno, [
        "run",
        "--no-lock",
        "--allow-read",
        "--allow-env",
        "bench/peers/tfjs_layers.ts",
        "--text",
        o.text,
        "--backend",
        layersBackend!,
        ...sched,
        ...extra,
      ]);
    for (const c of configs) {
      const { cell, hidden, layers } = CONFIGS[c];
      P.tfjsLayers[b][c] = noLayers
        ? { absent: noLayers }
        : await layersPeer(c, "--cell", cell, "--hidden", `${hidden}`, "--layers", `${layers}`);
    }
    P.tfjsLayersGenerate[b] = noLayers
      ? { absent: noLayers }
      : await layersPeer("generate", "--generate", `${schedule.genChars}`);
  }

  const noTorch = peers.includes("pytorch") ? await torchMissing() : "not requested (--peers)";
  const torch = (label: string, args: string[], threads: number): Promise<Outcome> =>
    noTorch ? Promise.resolve({ absent: noTorch }) : runJson(
      label,
      PYTHON,
      ["bench/peers/pytorch_charlm.py", "--text", o.text, "--threads", `${threads}`, ...args],
      // Two thread pools (OpenMP and OpenBLAS) on 2 cores oversubscribe: pin OpenBLAS to 1.
      { OPENBLAS_NUM_THREADS: "1" },
    );
  for (const c of configs) {
    const { cell, hidden, layers } = CONFIGS[c];
    const args = ["--cell", cell, "--hidden", `${hidden}`, "--layers", `${layers}`, ...sched];
    P.pytorch1t[c] = await torch(`pytorch 1t ${c}`, args, 1);
    P.pytorch2t[c] = await torch(`pytorch 2t ${c}`, args, 2);
  }
  P.pytorchGenerate = await torch(
    "pytorch generate",
    [...sched, "--generate", `${schedule.genChars}`],
    1,
  );

  P.onnxruntimeGenerate = peers.includes("onnxruntime")
    ? await onnxruntimePeer(noTorch, results.vocab, sched, schedule.genChars)
    : { absent: "not requested (--peers)" };

  console.log(report(results, runs, configs));
  if (o.json) await writeFileAtomic(o.json, JSON.stringify(results, null, 2) + "\n");
  return 0;
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A peer's figure, or "absent" with its reason collected for the notes under the table. */
function cell(x: Outcome | undefined, value: (r: Json) => number, notes: Set<string>): string {
  if (isAbsent(x)) {
    notes.add(x?.absent ?? "not run");
    return "absent";
  }
  return fmt(value(x));
}

function ratio(a: number | undefined, b: Outcome | undefined, value: (r: Json) => number) {
  return a === undefined || isAbsent(b) ? "–" : `${(a / value(b)).toFixed(2)}x`;
}

function table(head: string[], rows: string[][], notes: Set<string>): string {
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  for (const n of notes) lines.push(`- absent: ${n}`);
  return lines.join("\n");
}

/** The sgemm rates behind "% of limit", from the first run that measured them. */
function rooflineReport(R: Json, runs: Run[]): string {
  const roof = rooflineOf(R, runs, runs[0]?.key ?? "");
  const head = "\n## Roofline (the native backend's OpenBLAS sgemm, GFLOPS)\n";
  if (isAbsent(roof)) return `${head}\nabsent: ${roof?.absent}`;
  const rows = [...roof.shapes, { ...roof.square, shape: `${roof.square.shape} (square)` }]
    .map((s: Json) => [s.shape, fmt(s.gflops1t, 1), fmt(s.gflops2t, 1)]);
  return `${head}\n` + table(["shape", "1 thread", "2 threads"], rows, new Set()) +
    `\n\nlimit: ${fmt(roof.best2t, 1)} GFLOPS (best 2-thread rate; each rate is the fastest` +
    ` of 5 blocks of at least ${roof.minMs / 5} ms)`;
}

/** What the toy model and generation tables say for a training-only run. */
const TRAIN_ONLY = "n/a: training only";

/**
 * The roofline a run's rows are set against: its own process's, else (webgl's page, a
 * workers run) the first one measured in this bench run.
 */
function rooflineOf(R: Json, runs: Run[], key: string): Outcome {
  const own = R.backends[key]?.roofline;
  if (own && !isAbsent(own)) return own;
  const any = runs.map((r) => R.backends[r.key]?.roofline).find((x) => x && !isAbsent(x));
  return any ?? own ?? { absent: "no roofline measured (no native run loaded)" };
}

function report(R: Json, runs: Run[], configs: string[]): string {
  const P = R.peers;
  const out: string[] = [];
  const trainNotes = new Set<string>();
  const trainRows: string[][] = [];
  for (const c of configs) {
    for (const { key, backend: b } of runs) {
      const r = R.backends[key];
      const t = isAbsent(r) ? undefined : r.train.find((x: Json) => x.config === c);
      if (isAbsent(r)) trainNotes.add(`${key}: ${r?.absent}`);
      const cps = t?.charsPerSec as number | undefined;
      const ms = t?.msPerStep;
      const roof = rooflineOf(R, runs, key);
      if (isAbsent(roof)) trainNotes.add(`roofline: ${roof?.absent}`);
      trainRows.push([
        c,
        key,
        ms ? `${fmt(ms.median, 1)} (${fmt(ms.min, 1)}–${fmt(ms.max, 1)})` : "absent",
        cps === undefined ? "absent" : fmt(cps),
        t ? fmt(t.gflops, 1) : "–",
        t && !isAbsent(roof) ? `${fmt(100 * t.gflops / roof.best2t)}%` : "–",
        cell(P.pytorch1t[c], (p) => p.charsPerSec, trainNotes),
        ratio(cps, P.pytorch1t[c], (p) => p.charsPerSec),
        cell(P.pytorch2t[c], (p) => p.charsPerSec, trainNotes),
        ratio(cps, P.pytorch2t[c], (p) => p.charsPerSec),
        cell(P.tfjsLayers[b]?.[c], (p) => p.charsPerSec, trainNotes),
        ratio(cps, P.tfjsLayers[b]?.[c], (p) => p.charsPerSec),
        t?.liveTensors ?? "–",
      ]);
    }
  }
  out.push(
    `## Training (batch 32 x 64 chars, Adam 2e-3${R.quick ? ", --quick" : ""})\n`,
    table(
      [
        "config",
        "backend",
        "rnnkit ms/step (min–max)",
        "rnnkit chars/s",
        "GFLOPS",
        "% of limit",
        "PyTorch 1t chars/s",
        "rnnkit/PyTorch 1t",
        "PyTorch 2t chars/s",
        "rnnkit/PyTorch 2t",
        "tfjs-layers chars/s",
        "rnnkit/tfjs-layers",
        "live tensors",
      ],
      trainRows,
      trainNotes,
    ),
    "\ntfjs-layers runs on the same tfjs backend as each row; for native (tfjs has none) on wasm;",
    "for the rows measured in Chromium, in the same page, after rnnkit.",
    "GFLOPS: the step's matrix-product FLOPs (bench/flops.ts) per second; % of limit: that",
    "rate over the best 2-thread sgemm rate measured (below), i.e. the step's time at that rate",
    "over its measured time.",
    rooflineReport(R, runs),
  );

  const toyNotes = new Set<string>();
  const toyRows = runs.map(({ key: b }) => {
    const r = R.backends[b];
    if (isAbsent(r)) {
      toyNotes.add(`${b}: ${r?.absent}`);
      return [b, "absent", "–"];
    }
    if (r.trainOnly) return [b, TRAIN_ONLY, "–"];
    const ms = r.toy.msPerEpoch;
    return [b, `${fmt(ms.median, 2)} (${fmt(ms.min, 2)}–${fmt(ms.max, 2)})`, r.toy.liveTensors];
  });
  out.push(
    "\n## Seed toy model (embedding, hello -> ohlol, Adam 0.05)\n",
    table(["backend", "ms/epoch (min–max)", "live tensors"], toyRows, toyNotes),
  );

  const genNotes = new Set<string>();
  const genRows = runs.map(({ key: b, backend }) => {
    const r = R.backends[b];
    if (isAbsent(r)) genNotes.add(`${b}: ${r?.absent}`);
    else if (r.trainOnly) return [b, TRAIN_ONLY, "–", "–", "–", "–", "–", "–"];
    const cps = isAbsent(r) ? undefined : r.generate.charsPerSec.median as number;
    return [
      b,
      cps === undefined ? "absent" : fmt(cps),
      cell(P.pytorchGenerate, (p) => p.charsPerSec, genNotes),
      ratio(cps, P.pytorchGenerate, (p) => p.charsPerSec),
      cell(P.tfjsLayersGenerate[backend], (p) => p.charsPerSec, genNotes),
      ratio(cps, P.tfjsLayersGenerate[backend], (p) => p.charsPerSec),
      cell(P.onnxruntimeGenerate, (p) => p.charsPerSec, genNotes),
      ratio(cps, P.onnxruntimeGenerate, (p) => p.charsPerSec),
    ];
  });
  out.push(
    "\n## Generation (LSTM h256 x2, batch 1, greedy, state carried)\n",
    table(
      [
        "backend",
        "rnnkit chars/s",
        "PyTorch 1t chars/s",
        "rnnkit/PyTorch",
        "tfjs-layers chars/s",
        "rnnkit/tfjs-layers",
        "onnxruntime 1t chars/s",
        "rnnkit/onnxruntime",
      ],
      genRows,
      genNotes,
    ),
  );

  // Each peer run is its own process; the largest of them is the fair comparison with
  // the one rnnkit process that ran every measurement for a backend.
  const peak = (xs: Outcome[]) => {
    // In a page the peer has no RSS (null) either.
    const present = xs.filter((x) => !isAbsent(x) && x.peakRssMB !== null) as Json[];
    return present.length ? fmt(Math.max(...present.map((x) => x.peakRssMB))) : "absent";
  };
  const torchPeak = peak([...Object.values(P.pytorch1t) as Outcome[], P.pytorchGenerate]);
  const memNotes = new Set<string>();
  const memRows = runs.map(({ key: b, backend }) => {
    const r = R.backends[b];
    if (isAbsent(r)) memNotes.add(`${b}: ${r?.absent}`);
    const layers = peak([
      ...Object.values(P.tfjsLayers[backend] ?? {}) as Outcome[],
      P.tfjsLayersGenerate[backend],
    ]);
    if (isAbsent(r)) return [b, "absent", "–", torchPeak, layers];
    // The browser has no RSS to give (run_browser.ts); its JS heap is not comparable.
    if (r.peakRssMB === null) {
      const heap = r.peakJsHeapMB === undefined ? "" : ` (peak JS heap ${fmt(r.peakJsHeapMB)} MB)`;
      memNotes.add(`${b} peak RSS: ${r.peakRssNote}${heap}`);
    }
    return [
      b,
      r.peakRssMB === null ? "–" : fmt(r.peakRssMB),
      `${r.liveTensorsEnd} / ${r.backendTensorsEnd}`,
      torchPeak,
      layers,
    ];
  });
  out.push(
    "\n## Memory (peak RSS in MB, largest process of each program)\n",
    table(
      [
        "backend",
        "rnnkit peak RSS",
        "live tensors at end (core / backend)",
        "PyTorch 1t peak RSS",
        "tfjs-layers peak RSS",
      ],
      memRows,
      memNotes,
    ),
  );
  return out.join("\n");
}

try {
  Deno.exit(await main());
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : e}`);
  Deno.exit(2);
}
