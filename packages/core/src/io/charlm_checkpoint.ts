/**
 * CharLM checkpoints: a standard safetensors file whose tensors are exactly the PyTorch
 * state dict of `emb = nn.Embedding(V, E)`, `rnn = nn.RNN | LSTM | GRU(E, H, num_layers=L,
 * batch_first=True)` and `fc = nn.Linear(H, V)` (float32), so PyTorch can write and read
 * them (python/rnnkit_export.py). `__metadata__` holds what the shapes cannot tell:
 *
 *   format       "rnnkit.charlm.v1"
 *   cell         "rnn" | "lstm" | "gru"
 *   num_layers   "L"
 *   nonlinearity "tanh" | "relu" (rnn only)
 *   vocab        JSON array of the vocabulary's characters in index order
 *
 * plus any extra strings the writer adds. V, E and H come from the tensor shapes.
 */
import { type Cell, CharLM } from "../models/char_lm.ts";
import { Random } from "../random.ts";
import { decodeSafetensors } from "./safetensors.ts";
import { checkOverwritable, encodeModule, readRegularFile } from "./module_io.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** The `format` a CharLM checkpoint declares in its metadata. */
export const CHARLM_FORMAT = "rnnkit.charlm.v1";

const CELLS: readonly Cell[] = ["rnn", "lstm", "gru"];
const RESERVED = ["format", "cell", "num_layers", "nonlinearity", "vocab"];

/** Thrown with the checkpoint's name (or just "checkpoint") in front of the message. */
function fail(where: string, message: string): never {
  throw new Error(`rnnkit: ${where}: ${message}`);
}

/** Distinct single characters; a surrogate pair counts as one character, as `[...s]` does. */
function vocabProblem(vocab: unknown): string | null {
  if (!Array.isArray(vocab)) return "is not an array";
  const bad = vocab.find((ch) => typeof ch !== "string" || [...ch].length !== 1);
  if (bad !== undefined) return `entry ${JSON.stringify(bad)} is not a single character`;
  const dup = vocab.find((ch, i) => vocab.indexOf(ch) !== i);
  if (dup !== undefined) return `character ${JSON.stringify(dup)} appears twice`;
  return null;
}

/**
 * The metadata that makes a model file a CharLM checkpoint (format, cell, num_layers,
 * nonlinearity, vocab): pass it as `saveCheckpoint`'s `modelMetadata`, or let
 * `saveCharLM` write it. The vocabulary must match the model's vocabSize.
 */
export function charLMMetadata(model: CharLM, vocab: string[]): Record<string, string> {
  const { cell, numLayers, nonlinearity, vocabSize } = model.config;
  const problem = vocabProblem(vocab);
  if (problem) fail("checkpoint", `vocab ${problem}`);
  if (vocab.length !== vocabSize) {
    fail(
      "checkpoint",
      `vocab has ${vocab.length} characters but the model's vocabSize is ${vocabSize}`,
    );
  }
  return {
    format: CHARLM_FORMAT,
    cell,
    num_layers: String(numLayers),
    ...(cell === "rnn" ? { nonlinearity: nonlinearity ?? "tanh" } : {}),
    vocab: JSON.stringify(vocab),
  };
}

/** Serializes `model` and its vocabulary (index order) as a CharLM checkpoint. */
export async function encodeCharLM(
  model: CharLM,
  vocab: string[],
  extraMetadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const metadata = charLMMetadata(model, vocab);
  const clash = Object.keys(extraMetadata).find((k) => RESERVED.includes(k));
  if (clash) fail("checkpoint", `extra metadata cannot set the reserved key "${clash}"`);
  return await encodeModule(model, { ...metadata, ...extraMetadata });
}

/**
 * Parses and validates a CharLM checkpoint and builds the model from it. `rng` only feeds
 * the initial weights that the checkpoint then overwrites; a fixed default leaves the
 * global generator alone.
 */
export function decodeCharLM(
  bytes: Uint8Array,
  rng: Random = new Random(0),
): { model: CharLM; vocab: string[]; metadata: Record<string, string> } {
  return decode(bytes, "checkpoint", rng);
}

function decode(bytes: Uint8Array, where: string, rng: Random) {
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    fail(where, (e as Error).message.replace(/^rnnkit: /, ""));
  }
  const { tensors, metadata } = file;

  if (metadata.format !== CHARLM_FORMAT) {
    fail(
      where,
      `metadata "format" is ${JSON.stringify(metadata.format)}, expected "${CHARLM_FORMAT}"`,
    );
  }
  const cell = metadata.cell as Cell;
  if (!CELLS.includes(cell)) {
    fail(where, `metadata "cell" is ${JSON.stringify(metadata.cell)}, expected one of ${CELLS}`);
  }
  if (!/^[1-9][0-9]*$/.test(metadata.num_layers ?? "")) {
    fail(
      where,
      `metadata "num_layers" is ${
        JSON.stringify(metadata.num_layers)
      }, expected a positive integer`,
    );
  }
  const { nonlinearity } = metadata;
  if (cell === "rnn" && nonlinearity !== "tanh" && nonlinearity !== "relu") {
    fail(
      where,
      `metadata "nonlinearity" is ${JSON.stringify(nonlinearity)}, expected tanh or relu`,
    );
  }
  if (cell !== "rnn" && nonlinearity !== undefined) {
    fail(where, `metadata "nonlinearity" is for cell "rnn" only, found it with "${cell}"`);
  }
  let vocab: string[];
  try {
    vocab = JSON.parse(metadata.vocab);
  } catch {
    fail(where, `metadata "vocab" is not a JSON array of characters`);
  }
  const problem = vocabProblem(vocab);
  if (problem) fail(where, `metadata "vocab" ${problem}`);

  for (const [key, t] of Object.entries(tensors)) {
    if (!(t.data instanceof Float32Array)) fail(where, `tensor "${key}" is not F32`);
  }
  // The sizes CharLM is built with; every other shape is then checked by loadStateDict.
  const matrix = (key: string) => {
    const t = tensors[key];
    if (!t) fail(where, `missing tensor "${key}"`);
    if (t.shape.length !== 2) fail(where, `tensor "${key}" has shape [${t.shape}], expected 2-D`);
    return t.shape;
  };
  const [vocabSize, embeddingSize] = matrix("emb.weight");
  const [fcRows, hiddenSize] = matrix("fc.weight");
  if (vocab.length !== vocabSize || vocab.length !== fcRows) {
    fail(
      where,
      `vocab has ${vocab.length} characters but emb.weight has ${vocabSize} rows and ` +
        `fc.weight ${fcRows}`,
    );
  }
  const model = new CharLM({
    vocabSize,
    cell,
    embeddingSize,
    hiddenSize,
    numLayers: Number(metadata.num_layers),
    nonlinearity: nonlinearity as "tanh" | "relu" | undefined,
    rng,
  });
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    model.dispose();
    fail(where, (e as Error).message.replace(/^rnnkit: CharLM\.loadStateDict: /, ""));
  }
  return { model, vocab, metadata };
}

/**
 * Writes the checkpoint atomically: a crash leaves the old file or the new one. An existing
 * file at `path` that is not an rnnkit file is never overwritten.
 */
export async function saveCharLM(
  path: string,
  model: CharLM,
  vocab: string[],
  extraMetadata?: Record<string, string>,
): Promise<void> {
  const bytes = await encodeCharLM(model, vocab, extraMetadata);
  await checkOverwritable(path);
  await writeFileAtomic(path, bytes);
}

/** Reads and decodes a checkpoint file; errors name the file. */
export async function loadCharLM(
  path: string,
  rng: Random = new Random(0),
): Promise<{ model: CharLM; vocab: string[]; metadata: Record<string, string> }> {
  const where = `checkpoint ${path}`;
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path);
  } catch (e) {
    fail(where, (e as Error).message.replace(/^rnnkit: .*?: /, ""));
  }
  return decode(bytes, where, rng);
}
