/**
 * A checkpoint is two files: the model's weights at `path` (PyTorch keys, loadable alone:
 * by `loadModule`, by PyTorch, by `loadCharLM` with CharLM metadata) and its training state
 * beside it (`trainingStatePath(path)`), which alone resumes the run, since it holds its own
 * copy of the weights. The state is written first, then the model, each atomically; both
 * carry the step and the run id, so a pair torn by a crash between the two writes (a model
 * older than its state) is told apart from files of two different runs.
 */
import { writeFileAtomic } from "../io/atomic_write.ts";
import { checkOverwritable, MODULE_FORMAT, readRegularFile } from "../io/module_io.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "../io/safetensors.ts";
import {
  decodeTrainingState,
  hostTrainingState,
  type SavedTrainingState,
  type TrainingState,
} from "./training_state.ts";

/** Options of `saveCheckpoint`. */
export interface CheckpointOptions {
  /**
   * Metadata for the model file, so that it loads on its own, e.g. `charLMMetadata(model,
   * vocab)`; "step" and "run_id" are set by the checkpoint. Default {}.
   */
  modelMetadata?: Record<string, string>;
}

/** A checkpoint read back by `readCheckpoint`. */
export interface SavedCheckpoint {
  /** The training state: resume with `state.restore({ model, optimizer, rng })`. */
  state: SavedTrainingState;
  /**
   * The model file beside it: "current" (same step), "stale" (an older step of the same
   * run: a save was interrupted between the two writes; the state is complete) or
   * "missing".
   */
  modelFile: "current" | "stale" | "missing";
}

/** The training state's path beside a model file: `run.safetensors` -> `run.optim.safetensors`. */
export function trainingStatePath(modelPath: string): string {
  return `${modelPath.replace(/\.safetensors$/, "")}.optim.safetensors`;
}

/**
 * Checks, before any training, that `saveCheckpoint(path)` will be able to write: the
 * directory exists and takes a new file (one is created there and removed), and neither
 * `path` nor its training state's path is anything but an rnnkit file (see
 * `saveModule`). Throws, naming the path and the problem.
 */
export async function checkCheckpointTarget(path: string): Promise<void> {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1) || "./";
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new Error(`rnnkit: ${path}: there is no directory ${dir}`);
  for (const p of [path, trainingStatePath(path)]) await checkOverwritable(p);
  const probe = `${dir}.rnnkit-write-test.${Deno.pid}.${crypto.randomUUID()}`;
  try {
    (await Deno.open(probe, { write: true, createNew: true })).close();
    await Deno.remove(probe);
  } catch (e) {
    throw new Error(`rnnkit: ${path}: cannot write in ${dir} (${(e as Error).message})`);
  }
}

/**
 * Saves the training state to `trainingStatePath(path)`, then the model's weights to
 * `path` (metadata: format "rnnkit.module.v1" unless `modelMetadata` names one, the step
 * and the run id), each atomically. Every tensor is read back once; a non-finite value, or
 * an existing file that is not an rnnkit file at either path, is an error before anything
 * is written.
 */
export async function saveCheckpoint(
  path: string,
  state: TrainingState,
  options: CheckpointOptions = {},
): Promise<void> {
  const meta = options.modelMetadata ?? {};
  const clash = ["step", "run_id"].find((k) => k in meta);
  if (clash) throw new Error(`rnnkit: saveCheckpoint: modelMetadata cannot set "${clash}"`);
  const host = await hostTrainingState(state);
  const weights: Record<string, HostTensor> = {};
  for (const [key, t] of Object.entries(host.tensors)) {
    if (key.startsWith("model.")) weights[key.slice("model.".length)] = t;
  }
  const ids: Record<string, string> = state.runId === undefined ? {} : { run_id: state.runId };
  for (const p of [path, trainingStatePath(path)]) await checkOverwritable(p);
  await writeFileAtomic(trainingStatePath(path), encodeSafetensors(host.tensors, host.metadata));
  await writeFileAtomic(
    path,
    encodeSafetensors(weights, {
      format: MODULE_FORMAT,
      ...meta,
      step: host.metadata.step,
      ...ids,
    }),
  );
}

/**
 * Reads the training state of the checkpoint at `path` and checks the model file beside
 * it: files of different runs, or a model newer than its state, are errors.
 */
export async function readCheckpoint(path: string): Promise<SavedCheckpoint> {
  const statePath = trainingStatePath(path);
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(statePath);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; resuming needs both files of a checkpoint (the model ${path} ` +
        `and its training state ${statePath})`,
    );
  }
  const state = await decodeTrainingState(bytes, statePath);
  if (!(await Deno.lstat(path).then(() => true, () => false))) {
    return { state, modelFile: "missing" };
  }
  const modelBytes = await readRegularFile(path);
  let model: Record<string, string>;
  try {
    model = decodeSafetensors(modelBytes).metadata;
  } catch (e) {
    throw new Error(`rnnkit: ${path}: ${(e as Error).message.replace(/^rnnkit: /, "")}`);
  }
  const step = Number(model.step);
  if (model.run_id !== state.runId) {
    throw new Error(
      `rnnkit: ${path}: the model and ${statePath} come from different training runs; ` +
        "resume with the two files one save wrote",
    );
  }
  if (!(Number.isInteger(step) && step <= state.step)) {
    throw new Error(
      `rnnkit: ${path}: the model's step (${model.step}) is not one its training state ` +
        `${statePath} (step ${state.step}) was saved after`,
    );
  }
  return { state, modelFile: step === state.step ? "current" : "stale" };
}
