/**
 * A whole training run in one safetensors file, to resume it exactly: the model's weights,
 * the optimizer's state (PyTorch's `state_dict` structure, so python/rnnkit_torch.py moves
 * it to `torch.optim` and back), the random generator's state, the step, the caller's JSON
 * metadata and extra tensors (e.g. a recurrent state carried between batches).
 *
 * Layout: tensors `model.<PyTorch key>`, `optimizer.<param index>.<buffer>` (`exp_avg`,
 * ...), `tensors.<name>`; `__metadata__` strings `format` (TRAINING_STATE_FORMAT), `step`,
 * `run_id` (optional), `optimizer` (JSON: `type`, `param_groups`, and `state` with each
 * parameter's `step`), `scheduler` (JSON: `type` and `state`, the learning-rate scheduler's
 * PyTorch-structured state dict, optional), `random` (JSON generator state, optional),
 * `metadata` (the caller's JSON), `sha256` (of all tensor bytes in file order, so damaged
 * data is detected).
 */
import type { Module, TensorLike } from "../nn/module.ts";
import type { Optimizer, OptimizerStateDict } from "../optim/optimizer.ts";
import type { LRScheduler, SchedulerStateDict } from "../optim/lr_scheduler.ts";
import { Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { checkFinite, checkOverwritable, readRegularFile, readWeights } from "../io/module_io.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "../io/safetensors.ts";

/** The `format` a training state file declares. */
export const TRAINING_STATE_FORMAT = "rnnkit.training_state.v1";

/** What a training state holds; only `model` and `step` are required. */
export interface TrainingState {
  /** The model; its weights are saved under their PyTorch keys. */
  model: Module;
  /** Its optimizer: hyperparameters and per-parameter state. Default: not saved. */
  optimizer?: Optimizer;
  /**
   * The optimizer's learning-rate scheduler: its position and settings (`stateDict()`), so a
   * resumed run continues the schedule. Needs `optimizer`. Default: not saved.
   */
  scheduler?: LRScheduler;
  /** A generator whose state is saved, so a resumed run draws the same numbers. Default: not saved. */
  rng?: Random;
  /** Training steps done. */
  step: number;
  /** Names the run, so files of two runs are told apart (see `readCheckpoint`). Default: none. */
  runId?: string;
  /** Any JSON the caller wants back: configuration, loss history, data position. Default {}. */
  metadata?: Record<string, unknown>;
  /** Extra tensors, e.g. a recurrent state carried between batches. Default: none. */
  tensors?: Record<string, Tensor>;
}

/** What `restore` puts the saved state into. */
export interface RestoreTarget {
  /** Receives the saved weights (same keys and shapes). */
  model: Module;
  /** Receives the saved hyperparameters and state (same optimizer type). Default: not restored. */
  optimizer?: Optimizer;
  /**
   * Receives the saved scheduler state (same scheduler type, a scheduler of `optimizer`,
   * which must be given too). Default: not restored.
   */
  scheduler?: LRScheduler;
  /** Receives the saved generator state. Default: not restored. */
  rng?: Random;
}

/** A training state read back from a file: its values, and `restore` to apply them. */
export class SavedTrainingState {
  /** The file's name, for messages. */
  readonly where!: string;
  /** Training steps done. */
  readonly step!: number;
  /** The run's name, if it was given one. */
  readonly runId?: string;
  /** The caller's JSON metadata. */
  readonly metadata!: Record<string, unknown>;
  /** The caller's extra tensors, as host values. */
  readonly tensors!: Record<string, HostTensor>;
  /** The model's weights by PyTorch key. */
  readonly weights!: Record<string, HostTensor>;
  /** The optimizer's type and state dict, if it was saved. */
  readonly optimizer?: { type: string; stateDict: OptimizerStateDict };
  /** The scheduler's type and state dict, if it was saved. */
  readonly scheduler?: { type: string; stateDict: SchedulerStateDict };
  /** The generator's state, if it was saved. */
  readonly random?: number[];

  /** Made by `readTrainingState` and `decodeTrainingState`, which check the values. */
  constructor(fields: Omit<SavedTrainingState, "restore">) {
    Object.assign(this, fields);
  }

  /**
   * Puts the weights, the optimizer state, the scheduler state and the generator state back.
   * Everything is checked before anything changes; on any problem the error lists them all.
   */
  restore(target: RestoreTarget): void {
    const { model, optimizer, scheduler, rng } = target;
    const problems = model.stateDictProblems(this.weights).map((p) => `model: ${p}`);
    if (optimizer) {
      const saved = this.optimizer;
      const type = optimizer.constructor.name;
      if (!saved) problems.push("it holds no optimizer state");
      else if (saved.type !== type) {
        problems.push(`its optimizer state is ${saved.type}'s, not ${type}'s`);
      } else {
        problems.push(
          ...optimizer.stateDictProblems(saved.stateDict).map((p) => `optimizer: ${p}`),
        );
      }
    }
    if (scheduler) {
      const saved = this.scheduler;
      const type = scheduler.constructor.name;
      if (!optimizer) problems.push("a scheduler is restored with its optimizer: give both");
      else if (scheduler.optimizer !== optimizer) {
        problems.push("the scheduler given is not a scheduler of the optimizer given");
      }
      if (!saved) problems.push("it holds no scheduler state");
      else if (saved.type !== type) {
        problems.push(`its scheduler state is ${saved.type}'s, not ${type}'s`);
      } else {
        problems.push(
          ...scheduler.stateDictProblems(saved.stateDict).map((p) => `scheduler: ${p}`),
        );
      }
    }
    if (rng) {
      if (!this.random) problems.push("it holds no generator state");
      else {
        try {
          new Random().setState(this.random);
        } catch (e) {
          problems.push((e as Error).message.replace(/^rnnkit: /, ""));
        }
      }
    }
    if (problems.length) {
      throw new Error(`rnnkit: ${this.where}: cannot restore: ${problems.join("; ")}`);
    }
    // The optimizer checks its hyperparameters' ranges itself, before changing anything.
    if (optimizer) optimizer.loadStateDict(this.optimizer!.stateDict);
    scheduler?.loadStateDict(this.scheduler!.stateDict);
    model.loadStateDict(this.weights);
    if (rng) rng.setState(this.random!);
  }
}

/** The file's tensors and metadata, every tensor read back once; non-finite values are errors. */
export async function hostTrainingState(
  state: TrainingState,
): Promise<{ tensors: Record<string, HostTensor>; metadata: Record<string, string> }> {
  const { model, optimizer, scheduler, rng, step, runId } = state;
  if (!Number.isInteger(step) || step < 0) {
    throw new Error(`rnnkit: training state: step must be an integer >= 0, got ${step}`);
  }
  if (scheduler && scheduler.optimizer !== optimizer) {
    throw new Error(
      "rnnkit: training state: the scheduler is saved with its optimizer: give that optimizer too",
    );
  }
  const tensors: Record<string, HostTensor> = {};
  for (const [key, t] of Object.entries(await readWeights(model))) tensors[`model.${key}`] = t;
  const metadata: Record<string, string> = { format: TRAINING_STATE_FORMAT, step: String(step) };
  if (runId !== undefined) metadata.run_id = runId;
  if (optimizer) {
    const dict = optimizer.stateDict();
    const steps: Record<string, Record<string, number>> = {};
    for (const [index, entry] of Object.entries(dict.state)) {
      steps[index] = {};
      for (const [name, value] of Object.entries(entry)) {
        if (typeof value === "number") steps[index][name] = value;
        else {
          const t = { shape: value.shape, data: await (value as Tensor).data() };
          checkFinite(t, `training state: optimizer state "${name}" of parameter ${index}`);
          tensors[`optimizer.${index}.${name}`] = t;
        }
      }
    }
    const type = optimizer.constructor.name;
    metadata.optimizer = JSON.stringify({ type, param_groups: dict.param_groups, state: steps });
  }
  if (scheduler) {
    const dict = scheduler.stateDict();
    // JSON.stringify writes NaN and Infinity as null: refuse rather than save a wrong state.
    checkJsonNumbers(dict, "training state: scheduler state");
    metadata.scheduler = JSON.stringify({ type: scheduler.constructor.name, state: dict });
  }
  if (rng) metadata.random = JSON.stringify(rng.getState());
  metadata.metadata = JSON.stringify(state.metadata ?? {});
  for (const [name, t] of Object.entries(state.tensors ?? {})) {
    tensors[`tensors.${name}`] = { shape: t.shape, data: await t.data() };
    checkFinite(tensors[`tensors.${name}`], `training state: tensor "${name}"`);
  }
  metadata.sha256 = await sha256(tensors);
  return { tensors, metadata };
}

/** The training state as safetensors bytes. */
export async function encodeTrainingState(state: TrainingState): Promise<Uint8Array> {
  const { tensors, metadata } = await hostTrainingState(state);
  return encodeSafetensors(tensors, metadata);
}

/**
 * Writes the training state to `path` atomically (a crash leaves the old file or the new).
 * An existing file at `path` that is not an rnnkit file is never overwritten.
 */
export async function saveTrainingState(path: string, state: TrainingState): Promise<void> {
  const bytes = await encodeTrainingState(state);
  await checkOverwritable(path);
  await writeFileAtomic(path, bytes);
}

/** Reads and checks a training state file; `restore` then applies it. Errors name the file. */
export async function readTrainingState(path: string): Promise<SavedTrainingState> {
  return await decodeTrainingState(await readRegularFile(path), path);
}

/**
 * Parses and checks training state bytes: the format, every metadata field, the tensor
 * names and the checksum. Nothing is applied until `restore`.
 */
export async function decodeTrainingState(
  bytes: Uint8Array,
  where = "training state",
): Promise<SavedTrainingState> {
  const fail = (why: string): never => {
    throw new Error(`rnnkit: ${where}: ${why}`);
  };
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    return fail((e as Error).message.replace(/^rnnkit: /, ""));
  }
  const m = file.metadata;
  if (m.format !== TRAINING_STATE_FORMAT) {
    fail(
      `not an rnnkit training state in format ${TRAINING_STATE_FORMAT} (its format: ` +
        `${m.format === undefined ? "none" : JSON.stringify(m.format)})`,
    );
  }
  const json = (key: string, check: (v: unknown) => boolean, expected: string) => {
    let v: unknown;
    try {
      v = JSON.parse(m[key]);
    } catch {
      fail(`metadata "${key}" is not valid JSON`);
    }
    if (!check(v)) fail(`metadata "${key}" is not ${expected}`);
    return v;
  };
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!/^(0|[1-9][0-9]*)$/.test(m.step ?? "") || !Number.isSafeInteger(Number(m.step))) {
    fail(`metadata "step" is ${JSON.stringify(m.step)}, expected an integer >= 0`);
  }
  if (await sha256(file.tensors) !== m.sha256) fail("its tensor data is damaged (sha256 differs)");

  const weights: Record<string, HostTensor> = {};
  const tensors: Record<string, HostTensor> = {};
  const buffers: Record<string, Record<string, TensorLike>> = {};
  for (const [key, t] of Object.entries(file.tensors)) {
    const [, kind, rest] = key.match(/^(model|tensors|optimizer)\.(.+)$/) ?? [];
    const [, index, name] = rest?.match(/^(\d+)\.(\w+)$/) ?? [];
    if (kind === "model") weights[rest] = t;
    else if (kind === "tensors") tensors[rest] = t;
    else if (kind === "optimizer" && index !== undefined) (buffers[index] ??= {})[name] = t;
    else fail(`unexpected tensor "${key}"`);
  }
  let optimizer: SavedTrainingState["optimizer"];
  if (m.optimizer !== undefined) {
    const o = json(
      "optimizer",
      (v) => isObject(v) && typeof (v as { type: unknown }).type === "string",
      "an object with a type",
    ) as { type: string; param_groups: OptimizerStateDict["param_groups"]; state: unknown };
    if (!isObject(o.state)) fail(`metadata "optimizer" has no state object`);
    const state: OptimizerStateDict["state"] = {};
    const steps = o.state as Record<string, Record<string, number>>;
    for (const index of new Set([...Object.keys(steps), ...Object.keys(buffers)])) {
      state[Number(index)] = { ...steps[index], ...buffers[index] };
    }
    optimizer = { type: o.type, stateDict: { state, param_groups: o.param_groups } };
  } else if (Object.keys(buffers).length) fail("optimizer tensors without optimizer metadata");
  let scheduler: SavedTrainingState["scheduler"];
  if (m.scheduler !== undefined) {
    const o = json(
      "scheduler",
      (v) =>
        isObject(v) && typeof (v as { type: unknown }).type === "string" &&
        isObject((v as { state: unknown }).state),
      "an object with a type and a state",
    ) as { type: string; state: SchedulerStateDict };
    scheduler = { type: o.type, stateDict: o.state };
  }
  const random = m.random === undefined
    ? undefined
    : json("random", (v) => Array.isArray(v), "an array") as number[];
  return new SavedTrainingState({
    where,
    step: Number(m.step),
    runId: m.run_id,
    metadata: json("metadata", isObject, "a JSON object") as Record<string, unknown>,
    tensors,
    weights,
    optimizer,
    scheduler,
    random,
  });
}

/** Refuses non-finite numbers anywhere in `value` (JSON would write them as null). */
function checkJsonNumbers(value: unknown, what: string): void {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`rnnkit: ${what} holds ${value}: refusing to save non-finite values`);
  }
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) checkJsonNumbers(v, what);
  }
}

/** Hex SHA-256 of the tensors' bytes in key order. */
async function sha256(tensors: Record<string, HostTensor>): Promise<string> {
  const parts = Object.values(tensors).map(({ data }) =>
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  );
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
