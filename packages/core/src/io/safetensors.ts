/**
 * The safetensors format, as written by Hugging Face's `safetensors` library: an 8-byte
 * little-endian u64 header length N, N bytes of UTF-8 JSON, then the raw little-endian
 * tensor bytes. The header maps each tensor name to `{dtype, shape, data_offsets}` (offsets
 * relative to the data section) plus an optional `"__metadata__"` map of strings.
 *
 * Pure functions on bytes: no file I/O, no backend. Typed arrays are read and written in
 * host byte order, which is little-endian on every platform Deno runs on.
 */

/** Host values of one tensor: `Float32Array` is stored as F32, `Int32Array` as I32. */
export interface HostTensor {
  /** The size of every axis; [] for a scalar. */
  shape: readonly number[];
  /** The values in row-major order, as many as the shape holds. */
  data: Float32Array | Int32Array;
}

const METADATA_KEY = "__metadata__";
const PREFIX_BYTES = 8;
const ITEM_BYTES = 4; // Both supported dtypes are 32-bit.

function fail(message: string): never {
  throw new Error(`rnnkit: safetensors: ${message}`);
}

function isIndex(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Serializes `tensors` in their key order. The header is padded with spaces so the data
 * starts at a multiple of 8 bytes, as the reference writer does; `__metadata__` is written
 * first and only when `metadata` has entries.
 */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  // The header is built as a string, not an object, so that integer-like names
  // ("0", "1") keep their place after `__metadata__`.
  const entries: string[] = [];
  if (Object.keys(metadata).length) {
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    if (name === METADATA_KEY) fail(`"${METADATA_KEY}" cannot be a tensor name`);
    if (!shape.every(isIndex)) fail(`tensor "${name}" has an invalid shape [${shape}]`);
    if (data.length !== numel(shape)) {
      fail(`tensor "${name}" has ${data.length} values for shape [${shape}]`);
    }
    // Checked at run time too: any other typed array would be mislabelled.
    const dtype = data instanceof Float32Array
      ? "F32"
      : data instanceof Int32Array
      ? "I32"
      : fail(`tensor "${name}" data must be a Float32Array or an Int32Array`);
    const info = { dtype, shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(`{${entries.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(PREFIX_BYTES + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, PREFIX_BYTES, PREFIX_BYTES + headerLength);
  out.set(json, PREFIX_BYTES);
  let at = PREFIX_BYTES + headerLength;
  for (const { data } of Object.values(tensors)) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

interface Entry {
  name: string;
  shape: number[];
  float: boolean;
  begin: number;
  end: number;
}

/**
 * Parses and validates a safetensors file, holding it to the same rules as the reference
 * reader: tensor byte ranges must tile the data section exactly. Values are copied into
 * fresh typed arrays, since the data section need not be 4-byte aligned in `bytes`.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
): { tensors: Record<string, HostTensor>; metadata: Record<string, string> } {
  if (bytes.length < PREFIX_BYTES) {
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, PREFIX_BYTES)
    .getBigUint64(0, true);
  const available = bytes.length - PREFIX_BYTES;
  // A file of another kind (text, say) spells a nonsense length in its first 8 bytes and
  // has no JSON object after them: name it as such.
  if (headerLength > BigInt(available) && available > 0 && bytes[PREFIX_BYTES] !== 0x7b) {
    const start = new TextDecoder().decode(bytes.subarray(0, 16)).replace(/[^\x20-\x7e]/g, "?");
    fail(
      `not a safetensors file (it should start with an 8-byte header length and a JSON ` +
        `object; it starts with ${JSON.stringify(start)})`,
    );
  }
  if (headerLength > BigInt(available)) {
    fail(`header length ${headerLength} is larger than the ${available} bytes that follow it`);
  }
  const dataStart = PREFIX_BYTES + Number(headerLength);
  const header = parseHeader(bytes.subarray(PREFIX_BYTES, dataStart));
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value, dataLength));
  }

  // Sorted by position, each range must start where the previous one ended.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: Entry | null = null;
  for (const e of byOffset) {
    if (e.begin < expected) {
      fail(
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor ` +
          `"${previous!.name}" [${previous!.begin}, ${previous!.end}]`,
      );
    }
    if (e.begin > expected) {
      fail(`data bytes ${expected}..${e.begin} before tensor "${e.name}" belong to no tensor`);
    }
    expected = e.end;
    previous = e;
  }
  if (expected !== dataLength) {
    fail(`${dataLength - expected} trailing bytes after the last tensor's data`);
  }

  const tensors = entries.map(({ name, shape, float, begin, end }): [string, HostTensor] => {
    const data = float ? new Float32Array(numel(shape)) : new Int32Array(numel(shape));
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    return [name, { shape, data }];
  });
  // fromEntries rather than assignment: a tensor named "__proto__" stays a plain key.
  return { tensors: Object.fromEntries(tensors), metadata };
}

function parseHeader(raw: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  return header as Record<string, unknown>;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`"${METADATA_KEY}" is not an object`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") fail(`"${METADATA_KEY}" value of "${key}" is not a string`);
  }
  return Object.fromEntries(Object.entries(value));
}

function parseEntry(name: string, value: unknown, dataLength: number): Entry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`tensor "${name}" is not an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (dtype !== "F32" && dtype !== "I32") {
    fail(
      `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}; rnnkit reads F32 and ` +
        "I32 only: convert in PyTorch with .float() (or .int() for indices) before saving",
    );
  }
  for (const [what, list] of [["shape", shape], ["data_offsets", offsets]] as const) {
    // Beyond 2^53 JSON numbers are rounded: say so rather than print a rounded value.
    if (
      Array.isArray(list) && list.some((v) => typeof v === "number" && v > Number.MAX_SAFE_INTEGER)
    ) {
      fail(`tensor "${name}" ${what} holds a number above 2^53 - 1, too large to read exactly`);
    }
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(
      `tensor "${name}" shape ${JSON.stringify(shape)} is not an array of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) ||
    offsets[0] > offsets[1]
  ) {
    fail(
      `tensor "${name}" data_offsets ${JSON.stringify(offsets)} are not [begin, end], begin <= end`,
    );
  }
  const [begin, end] = offsets as number[];
  if (end > dataLength) {
    fail(
      `tensor "${name}" data_offsets [${begin}, ${end}] run past the ` +
        `${dataLength}-byte data section`,
    );
  }
  const size = numel(shape);
  if (size * ITEM_BYTES !== end - begin) {
    fail(
      `tensor "${name}" of shape [${shape}] needs ${size * ITEM_BYTES} bytes but ` +
        `data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, shape, float: dtype === "F32", begin, end };
}
