/**
 * Any Module's weights as a safetensors file keyed by their PyTorch names, the file
 * `safetensors.torch.save_file(model.state_dict(), path)` writes and
 * `model.load_state_dict(safetensors.torch.load_file(path))` reads.
 */
import type { Module } from "../nn/module.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "./safetensors.ts";

/** Host copies of `module`'s weights by PyTorch key; a non-finite value is an error. */
export async function readWeights(
  module: Module,
  what = "module",
): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const [key, p] of module.namedParameters()) {
    out[key] = { shape: p.shape, data: await p.data() };
    checkFinite(out[key], `${what}: weight "${key}"`);
  }
  return out;
}

/** Throws when `t` holds NaN or an infinity: such weights are never written. */
export function checkFinite(t: HostTensor, what: string): void {
  const bad = t.data.find((v) => !Number.isFinite(v));
  if (bad !== undefined) {
    throw new Error(`rnnkit: ${what} holds ${bad}: refusing to save non-finite values`);
  }
}

/** `module`'s weights (and `metadata` strings) as safetensors bytes. */
export async function encodeModule(
  module: Module,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  return encodeSafetensors(await readWeights(module), metadata);
}

/** Writes `module`'s weights to `path` atomically (a crash leaves the old file or the new). */
export async function saveModule(
  path: string,
  module: Module,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(await readWeights(module, path), metadata));
}

/**
 * Loads safetensors bytes into `module` (strict: every key, no extra, shapes as the
 * module's; all or nothing). Returns the file's metadata.
 */
export function decodeModule(
  bytes: Uint8Array,
  module: Module,
  where = "weights",
): Record<string, string> {
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`rnnkit: ${where}: ${(e as Error).message.replace(/^rnnkit: /, "")}`);
  }
  const problems = module.stateDictProblems(file.tensors);
  if (problems.length) throw new Error(`rnnkit: ${where}: ${problems.join("; ")}`);
  module.loadStateDict(file.tensors);
  return file.metadata;
}

/** Reads `path` and loads it into `module` as `decodeModule` does; errors name the file. */
export async function loadModule(path: string, module: Module): Promise<Record<string, string>> {
  return decodeModule(await readFileNamed(path), module, path);
}

/** The bytes of `path`; a failure says which file and why. */
export async function readFileNamed(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new Error(`rnnkit: ${path}: cannot read it (${why})`);
  }
}
