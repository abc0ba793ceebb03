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

/** The `format` of a module's weights file unless its metadata names another. */
export const MODULE_FORMAT = "rnnkit.module.v1";

/**
 * `module`'s weights as safetensors bytes; the metadata is `{ format: MODULE_FORMAT }`
 * plus `metadata` (which may set another format).
 */
export async function encodeModule(
  module: Module,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  return encodeSafetensors(await readWeights(module), { format: MODULE_FORMAT, ...metadata });
}

/**
 * Writes `module`'s weights to `path` atomically (a crash leaves the old file or the new),
 * as `encodeModule` encodes them. An existing file at `path` that is not an rnnkit file is
 * never overwritten.
 */
export async function saveModule(
  path: string,
  module: Module,
  metadata: Record<string, string> = {},
): Promise<void> {
  const weights = await readWeights(module, path);
  await checkOverwritable(path);
  await writeFileAtomic(path, encodeSafetensors(weights, { format: MODULE_FORMAT, ...metadata }));
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
  return decodeModule(await readRegularFile(path), module, path);
}

/** The largest file rnnkit reads whole by default (4 GiB: about a billion float32 weights). */
export const MAX_FILE_BYTES = 2 ** 32 - 1;

/**
 * The bytes of the regular file `path`: a directory, a device (`/dev/zero`) or a file over
 * `maxBytes` (default MAX_FILE_BYTES) is refused before anything is read. Errors name the
 * file and why.
 */
export async function readRegularFile(
  path: string,
  maxBytes: number = MAX_FILE_BYTES,
): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new Error(`rnnkit: ${path}: cannot read it (${why})`);
  }
  if (!info.isFile) {
    const kind = info.isDirectory ? "a directory" : "a device or special file";
    throw new Error(`rnnkit: ${path}: cannot read it (${kind}, not a regular file)`);
  }
  if (info.size > maxBytes) {
    throw new Error(
      `rnnkit: ${path}: cannot read it (${info.size} bytes, more than the ${maxBytes} allowed)`,
    );
  }
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`rnnkit: ${path}: cannot read it (${(e as Error).message})`);
  }
}

/** Headers longer than this are not read to find a file's format (rnnkit's are KBs). */
const MAX_HEADER_BYTES = 64 * 2 ** 20;

/** The `format` in a safetensors file's metadata, reading its header only; or undefined. */
async function formatOf(path: string): Promise<string | undefined> {
  const file = await Deno.open(path);
  try {
    const read = async (n: number) => {
      const buf = new Uint8Array(n);
      for (let at = 0; at < n;) {
        const got = await file.read(buf.subarray(at));
        if (got === null) return null;
        at += got;
      }
      return buf;
    };
    const prefix = await read(8);
    const length = prefix && new DataView(prefix.buffer).getBigUint64(0, true);
    if (!length || length > BigInt(MAX_HEADER_BYTES)) return undefined;
    const header = await read(Number(length));
    const format = header && JSON.parse(new TextDecoder().decode(header)).__metadata__?.format;
    return typeof format === "string" ? format : undefined;
  } catch {
    return undefined;
  } finally {
    file.close();
  }
}

/**
 * Throws unless `path` is absent or an rnnkit file (safetensors whose metadata `format`
 * starts with "rnnkit."): rnnkit's writers never overwrite anything else, such as the text
 * a model is trained on. The error names the path.
 */
export async function checkOverwritable(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new Error(`rnnkit: ${path}: cannot check it (${(e as Error).message})`);
  }
  const refuse = (what: string): never => {
    throw new Error(`rnnkit: ${path} exists and is ${what}: not overwriting it`);
  };
  if (info.isDirectory) refuse("a directory");
  if (!info.isFile) refuse("not a regular file");
  const format = await formatOf(path);
  if (!format?.startsWith("rnnkit.")) {
    refuse(
      `not an rnnkit file (${format ? `format "${format}"` : "not rnnkit's safetensors"})`,
    );
  }
}
