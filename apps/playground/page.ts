/// <reference lib="dom" />
/**
 * The playground page: its controls, the worker that trains (worker.ts), the chart, and the
 * contract its tests (and anyone scripting it) rely on:
 *
 * - every control has a `name`, and a query parameter of that name sets it
 *   (`?backend=wasm&cell=gru&steps=40`); `autostart=1` starts training once loaded;
 * - `document.body.dataset.status`: "loading", then "ready"; "busy" while an action runs
 *   (`data-action`: train, generate, save, load), then "done", "stopped" (training stopped)
 *   or "error" (`data-message` and the message on the page say why);
 * - training sets `data-step` (the last step done), `data-first-loss` (step 1's loss),
 *   `data-chars-per-second` and, when it ends, `data-final-loss` (the mean training loss
 *   of its last 10 steps); `data-backend` describes the backend, `data-model` the model.
 */
import { drawLosses } from "./chart.ts";
import type { GenerateConfig, Reply, Request, TrainConfig } from "./protocol.ts";

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const body = document.body;
const buttons = {
  train: $<HTMLButtonElement>("#train"),
  stop: $<HTMLButtonElement>("#stop"),
  continue: $<HTMLButtonElement>("#continue"),
  download: $<HTMLButtonElement>("#download"),
  generate: $<HTMLButtonElement>("#generate"),
};
const chart = $<HTMLCanvasElement>("#chart");

/** The run shown on the chart. */
const history = { train: [] as number[], val: [] as [number, number][], target: 1 };
let worker: { key: string; worker: Worker; ready: Promise<void> } | undefined;
/** What the page waits for from the worker to end the current action. */
let pending: { ends: Reply["type"][]; settle: (r: Reply) => void } | undefined;
let hasRun = false;

// ---- Controls ---------------------------------------------------------------------------

function control(name: string): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
  return document.querySelector(`form [name="${name}"]`)!;
}

function value(name: string): string {
  return control(name).value.trim();
}

/** A whole number in [min, max] from the control `name`, or a message saying what is wrong. */
function int(name: string, min: number, max = 1_000_000): number {
  const raw = value(name);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new Error(`${name} must be a whole number in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

/** A finite number > 0 (>= 0 with allowZero) from the control `name`. */
function number(name: string, allowZero = false): number {
  const raw = value(name);
  const n = Number(raw);
  if (raw === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new Error(`${name} must be a number ${allowZero ? ">=" : ">"} 0, got "${raw}"`);
  }
  return n;
}

function trainConfig(): TrainConfig {
  return {
    cell: value("cell") as TrainConfig["cell"],
    embeddingSize: int("embedding-size", 1, 4096),
    hiddenSize: int("hidden-size", 1, 4096),
    numLayers: int("num-layers", 1, 16),
    seqLen: int("seq-len", 1, 4096),
    batchSize: int("batch-size", 1, 4096),
    steps: int("steps", 1),
    lr: number("lr"),
    evalInterval: int("eval-interval", 1),
    seed: int("seed", 0, 2 ** 31),
  };
}

function generateConfig(): GenerateConfig {
  return {
    prompt: control("prompt").value,
    length: int("length", 0, 100_000),
    temperature: number("temperature", true),
    topK: int("top-k", 0),
    seed: int("seed", 0, 2 ** 31),
  };
}

/** Sets the controls named in the query; a name or value the page does not have is an error. */
function applyQuery(params: URLSearchParams): void {
  for (const [name, raw] of params) {
    if (name === "autostart") continue;
    const el = document.querySelector<HTMLInputElement | HTMLSelectElement>(
      `form [name="${name}"]`,
    );
    if (!el) {
      const names = [...document.querySelectorAll("form [name]")].map((e) =>
        e.getAttribute("name")
      );
      throw new Error(
        `unknown query parameter "${name}"; the page's are ${names.join(", ")}, autostart`,
      );
    }
    if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === raw)) {
      const choices = [...el.options].map((o) => o.value).join(", ");
      throw new Error(`query parameter ${name} must be one of ${choices}; got "${raw}"`);
    }
    el.value = raw;
    // A number input drops a value that is not a number; say so rather than read "".
    if (el.value !== raw) throw new Error(`${name} must be a number, got "${raw}"`);
  }
}

// ---- Status and messages ----------------------------------------------------------------

function setStatus(status: string, message = ""): void {
  body.dataset.status = status;
  $("#message").textContent = message;
  if (message) body.dataset.message = message;
  else delete body.dataset.message;
  const busy = status === "busy";
  const training = busy && body.dataset.action === "train";
  buttons.train.disabled = busy;
  buttons.stop.disabled = !training;
  buttons.continue.disabled = busy || !hasRun;
  buttons.download.disabled = busy || !body.dataset.model;
  buttons.generate.disabled = busy || !body.dataset.model;
}

function fail(e: unknown): void {
  setStatus("error", (e as Error).message ?? String(e));
}

/**
 * Runs one action: sends `requests` to the worker and resolves with the reply that ends it
 * (one of `ends`); an error reply rejects. Errors end up on the page.
 */
async function act(
  action: string,
  requests: () => Request[] | Promise<Request[]>,
  ends: Reply["type"][],
): Promise<Reply | undefined> {
  try {
    body.dataset.action = action;
    setStatus("busy");
    const w = await ensureWorker();
    const messages = await requests();
    const reply = await new Promise<Reply>((resolve, reject) => {
      pending = {
        ends,
        settle: (r) => r.type === "error" ? reject(new Error(r.message)) : resolve(r),
      };
      for (const m of messages) w.postMessage(m);
    });
    return reply;
  } catch (e) {
    fail(e);
    return undefined;
  } finally {
    pending = undefined;
  }
}

// ---- The worker ---------------------------------------------------------------------------

/** The worker for the chosen backend: the current one, or a new one (tfjs: one per thread). */
async function ensureWorker(): Promise<Worker> {
  const backend = value("backend");
  const threads = value("threads") === "" ? undefined : int("threads", 1, 256);
  const key = `${backend}/${threads}`;
  if (worker?.key !== key) {
    worker?.worker.terminate();
    delete body.dataset.model;
    hasRun = false;
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    const ready = Promise.withResolvers<void>();
    w.onmessage = ({ data }: MessageEvent<Reply>) => {
      if (data.type === "ready") {
        $("#info").textContent = `backend ${data.backend}: ${data.description}`;
        body.dataset.backend = data.description;
        ready.resolve();
      } else if (data.type === "error" && !pending) ready.reject(new Error(data.message));
      else onReply(data);
    };
    w.onerror = (e) => {
      e.preventDefault();
      const error = new Error(`the worker failed: ${e.message}`);
      ready.reject(error);
      pending?.settle({ type: "error", message: error.message });
    };
    worker = { key, worker: w, ready: ready.promise };
    // A failed start is reported once, by the action that waits for it; the next tries anew.
    ready.promise.catch(() => {
      w.terminate();
      if (worker?.worker === w) worker = undefined;
    });
    w.postMessage({ type: "init", backend, threads } satisfies Request);
  }
  await worker.ready;
  return worker.worker;
}

let drawQueued = false;

function onReply(r: Reply): void {
  if (r.type === "step") {
    history.train.push(r.loss);
    if (r.valLoss !== undefined) history.val.push([r.step, r.valLoss]);
    history.target = r.target;
    body.dataset.step = String(r.step);
    if (r.step === 1) body.dataset.firstLoss = String(r.loss);
    $("#stats").textContent = `step ${r.step} / ${r.target} · loss ${r.loss.toFixed(3)}` +
      (history.val.length ? ` · validation ${history.val.at(-1)![1].toFixed(3)}` : "") +
      ` · ${Math.round(r.charsPerSecond).toLocaleString("en-US")} chars/s`;
    body.dataset.charsPerSecond = String(Math.round(r.charsPerSecond));
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(() => {
        drawQueued = false;
        drawLosses(chart, history.train, history.val, history.target);
      });
    }
  } else if (r.type === "sample") {
    $("#sample").textContent = r.text;
    $("#sample-step").textContent = `(step ${r.step})`;
  } else if (r.type === "model") {
    body.dataset.model = r.summary;
    $("#info").textContent = `${$("#info").textContent?.split(" · ")[0]} · ${r.summary}`;
  }
  if (pending?.ends.includes(r.type) || r.type === "error") pending?.settle(r);
}

// ---- Actions ------------------------------------------------------------------------------

async function train(first: boolean): Promise<void> {
  if (first) {
    history.train = [];
    history.val = [];
    delete body.dataset.firstLoss;
    delete body.dataset.finalLoss;
    delete body.dataset.step;
  }
  const r = await act("train", () => {
    const generate = generateConfig();
    return first
      ? [{ type: "train", config: trainConfig(), generate, text: control("text").value }]
      : [{ type: "continue", generate }];
  }, ["trained"]);
  if (r?.type !== "trained") return;
  hasRun = true;
  body.dataset.finalLoss = String(r.finalLoss);
  drawLosses(chart, history.train, history.val, history.target);
  setStatus(r.stopped ? "stopped" : "done");
}

async function generate(): Promise<void> {
  const r = await act("generate", () => [{ type: "generate", generate: generateConfig() }], [
    "generated",
  ]);
  if (r?.type !== "generated") return;
  $("#generated").textContent = r.text;
  setStatus("done");
}

async function download(): Promise<void> {
  const r = await act("save", () => [{ type: "save" }], ["checkpoint"]);
  if (r?.type !== "checkpoint") return;
  const url = URL.createObjectURL(new Blob([r.bytes], { type: "application/octet-stream" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: r.name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  setStatus("done");
}

async function loadCheckpoint(file: File): Promise<void> {
  const r = await act("load", async () => [
    { type: "load", bytes: new Uint8Array(await file.arrayBuffer()), name: file.name },
  ], ["model"]);
  if (r?.type !== "model") return;
  hasRun = false;
  setStatus("done");
}

buttons.train.onclick = () => train(true);
buttons.continue.onclick = () => train(false);
buttons.stop.onclick = () => worker?.worker.postMessage({ type: "stop" } satisfies Request);
buttons.generate.onclick = generate;
buttons.download.onclick = download;
$<HTMLInputElement>("#checkpoint-file").onchange = (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) loadCheckpoint(file);
};
$<HTMLInputElement>("#text-file").onchange = async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    control("text").value = new TextDecoder("utf-8", { fatal: true })
      .decode(await file.arrayBuffer());
  } catch {
    fail(new Error(`${file.name} is not UTF-8 text`));
  }
};

// ---- Start --------------------------------------------------------------------------------

try {
  const params = new URLSearchParams(location.search);
  applyQuery(params);
  if (!params.has("text")) {
    const response = await fetch(new URL("./sample.txt", import.meta.url));
    if (!response.ok) throw new Error(`could not load the sample text: ${response.status}`);
    control("text").value = await response.text();
  }
  setStatus("ready");
  if (params.get("autostart") === "1") await train(true);
} catch (e) {
  fail(e);
}
