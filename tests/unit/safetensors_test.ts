import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  writeFileAtomic,
  writeFileAtomicSync,
} from "@rnnkit/core";

const ascii = (s: string) => new TextEncoder().encode(s);

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

/** A file with the given header text and data bytes, built independently of the encoder. */
function rawFile(header: string, data: ArrayLike<number> = []): Uint8Array {
  const json = ascii(header);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
  return concat(prefix, json, data);
}

function assertDecodeError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes), (err: Error) => {
    assert.match(err.message, /^rnnkit: safetensors: /);
    assert.match(err.message, pattern);
    return true;
  });
}

/** Bitwise equality, so NaN payloads and -0 count. */
function assertSameTensor(actual: HostTensor, expected: HostTensor): void {
  assert.deepEqual(actual.shape, expected.shape);
  assert.equal(actual.data.constructor, expected.data.constructor);
  assert.deepEqual(
    new Uint8Array(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength),
    new Uint8Array(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength),
  );
}

// Pinned by hand: {"a": float32 [1, -2]} with metadata {"k": "v"}. The compact JSON below
// is 79 bytes, so one space pads the header to 80 (0x50) and the data starts at byte 88.
const PINNED_HEADER =
  '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} ';
const PINNED = concat(
  [0x50, 0, 0, 0, 0, 0, 0, 0],
  ascii(PINNED_HEADER),
  [0x00, 0x00, 0x80, 0x3f], // 1.0f
  [0x00, 0x00, 0x00, 0xc0], // -2.0f
);

Deno.test("safetensors: encoder output matches a hand-built F32 file byte for byte", () => {
  assert.equal(PINNED.length, 96);
  const bytes = encodeSafetensors({ a: { shape: [2], data: new Float32Array([1, -2]) } }, {
    k: "v",
  });
  assert.deepEqual(bytes, PINNED);
  const { tensors, metadata } = decodeSafetensors(PINNED);
  assert.deepEqual(metadata, { k: "v" });
  assertSameTensor(tensors.a, { shape: [2], data: new Float32Array([1, -2]) });
});

Deno.test("safetensors: encoder output matches a hand-built scalar + I32 file", () => {
  // 109 bytes of JSON, padded with 3 spaces to 112 (0x70); no metadata, so no key for it.
  const header = '{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
    '"ids":{"dtype":"I32","shape":[3],"data_offsets":[4,16]}}   ';
  const expected = concat(
    [0x70, 0, 0, 0, 0, 0, 0, 0],
    ascii(header),
    [0x00, 0x00, 0x00, 0x3f], // 0.5f
    [0x01, 0x00, 0x00, 0x00], // 1
    [0xff, 0xff, 0xff, 0xff], // -1
    [0x00, 0x01, 0x00, 0x00], // 256
  );
  assert.equal(expected.length, 136);
  const bytes = encodeSafetensors({
    w: { shape: [], data: new Float32Array([0.5]) },
    ids: { shape: [3], data: new Int32Array([1, -1, 256]) },
  });
  assert.deepEqual(bytes, expected);
});

Deno.test("safetensors: round trip of F32, I32, scalars, empty tensors and metadata", () => {
  const tensors: Record<string, HostTensor> = {
    "rnn.weight_ih_l0": { shape: [2, 3], data: new Float32Array([1, 2, 3, -0, NaN, Infinity]) },
    "0": { shape: [], data: new Float32Array([3.25]) },
    ids: { shape: [4], data: new Int32Array([0, -7, 2 ** 31 - 1, -(2 ** 31)]) },
    empty: { shape: [0], data: new Float32Array(0) },
    "empty.ints": { shape: [2, 0, 3], data: new Int32Array(0) },
    scalar_int: { shape: [], data: new Int32Array([42]) },
  };
  const metadata = { format: "pt", "rnnkit.epoch": "3", "ünïcode": "✓" };
  const bytes = encodeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0);
  const decoded = decodeSafetensors(bytes);
  assert.deepEqual(decoded.metadata, metadata);
  assert.deepEqual(Object.keys(decoded.tensors), Object.keys(tensors));
  for (const [name, t] of Object.entries(tensors)) assertSameTensor(decoded.tensors[name], t);
});

Deno.test("safetensors: empty metadata is omitted and decodes to {}", () => {
  const tensors = { x: { shape: [1], data: new Float32Array([1]) } };
  for (const bytes of [encodeSafetensors(tensors), encodeSafetensors(tensors, {})]) {
    assert.ok(!new TextDecoder().decode(bytes).includes("__metadata__"));
    assert.deepEqual(decodeSafetensors(bytes).metadata, {});
  }
  const none = decodeSafetensors(encodeSafetensors({}));
  assert.deepEqual(none, { tensors: {}, metadata: {} });
});

Deno.test("safetensors: a tensor named __proto__ stays an ordinary key", () => {
  const tensors = JSON.parse('{"__proto__":{"shape":[1]}}');
  tensors.__proto__.data = new Float32Array([5]);
  const decoded = decodeSafetensors(encodeSafetensors(tensors)).tensors;
  assert.deepEqual(Object.keys(decoded), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
});

Deno.test("safetensors: decodes an unpadded header and an unaligned input view", () => {
  // Data starts at byte 8 + 79 = 87, not a multiple of 4.
  const unpadded = rawFile(PINNED_HEADER.trimEnd(), PINNED.subarray(88));
  assert.deepEqual(Array.from(decodeSafetensors(unpadded).tensors.a.data), [1, -2]);
  const shifted = new Uint8Array(PINNED.length + 3);
  shifted.set(PINNED, 3);
  assert.deepEqual(Array.from(decodeSafetensors(shifted.subarray(3)).tensors.a.data), [1, -2]);
});

Deno.test("safetensors: truncated files are rejected at every stage", () => {
  for (const cut of [0, 1, 7]) {
    assertDecodeError(PINNED.subarray(0, cut), /file is \d+ bytes, shorter than the 8-byte/);
  }
  for (const cut of [8, 40, 87]) {
    assertDecodeError(PINNED.subarray(0, cut), /header length 80 is larger than the \d+ bytes/);
  }
  for (const cut of [88, 92, 95]) {
    assertDecodeError(PINNED.subarray(0, cut), /"a" data_offsets \[0, 8\] run past the \d+-byte/);
  }
  const huge = PINNED.slice();
  huge.fill(0xff, 0, 8);
  assertDecodeError(huge, /header length 18446744073709551615 is larger than the 88 bytes/);
});

Deno.test("safetensors: malformed headers are rejected", () => {
  assertDecodeError(concat([1, 0, 0, 0, 0, 0, 0, 0], [0xff]), /header is not valid UTF-8/);
  assertDecodeError(rawFile("\uFEFF{}"), /header is not valid JSON/);
  assertDecodeError(rawFile('{"a":'), /header is not valid JSON/);
  assertDecodeError(rawFile(""), /header is not valid JSON/);
  for (const header of ["[]", "3", "null", '"x"']) {
    assertDecodeError(rawFile(header), /header is not a JSON object/);
  }
  assertDecodeError(rawFile('{"a":3}'), /tensor "a" is not an object with dtype, shape/);
  assertDecodeError(rawFile('{"__metadata__":["x"]}'), /"__metadata__" is not an object/);
  assertDecodeError(
    rawFile('{"__metadata__":{"epoch":3}}'),
    /"__metadata__" value of "epoch" is not a string/,
  );
});

Deno.test("safetensors: unsupported dtypes are named, with the PyTorch fix", () => {
  for (const dtype of ["F64", "F16", "BF16", "I64", "U8", "BOOL"]) {
    const bytes = rawFile(
      `{"a":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,4]}}`,
      [0, 0, 0, 0],
    );
    assertDecodeError(bytes, new RegExp(`"a" has unsupported dtype "${dtype}".*\\.float\\(\\)`));
  }
  assertDecodeError(rawFile('{"a":{"shape":[],"data_offsets":[0,0]}}'), /unsupported dtype/);
});

Deno.test("safetensors: bad shapes and data_offsets are rejected", () => {
  const entry = (shape: string, offsets: string) =>
    `{"a":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;
  const data = new Uint8Array(8);
  for (const shape of ["[-1]", "[1.5]", '"2"', '["2"]', "null"]) {
    assertDecodeError(
      rawFile(entry(shape, "[0,8]"), data),
      /"a" shape .* is not an array of non-negative integers/,
    );
  }
  for (const offsets of ["[0]", "[0,4,8]", "[8,0]", "[-1,7]", "[0,8.5]", '"0,8"', "null"]) {
    assertDecodeError(
      rawFile(entry("[2]", offsets), data),
      /"a" data_offsets .* are not \[begin, end\]/,
    );
  }
  assertDecodeError(rawFile(entry("[3]", "[0,12]"), data), /\[0, 12\] run past the 8-byte/);
  assertDecodeError(
    rawFile(entry("[3]", "[0,8]"), data),
    /"a" of shape \[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
});

Deno.test("safetensors: overlaps, gaps and trailing bytes are rejected", () => {
  const two = (a: string, b: string) =>
    `{"a":{"dtype":"F32","shape":[2],"data_offsets":${a}},` +
    `"b":{"dtype":"I32","shape":[2],"data_offsets":${b}}}`;
  const data = new Uint8Array(16);
  assertDecodeError(
    rawFile(two("[0,8]", "[4,12]"), data.subarray(0, 12)),
    /"b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/,
  );
  assertDecodeError(rawFile(two("[0,8]", "[0,8]"), data.subarray(0, 8)), /overlap tensor "a"/);
  assertDecodeError(
    rawFile(two("[0,8]", "[12,20]"), new Uint8Array(20)),
    /data bytes 8\.\.12 before tensor "b" belong to no tensor/,
  );
  assertDecodeError(
    rawFile(two("[8,16]", "[16,24]"), new Uint8Array(24)),
    /data bytes 0\.\.8 before tensor "a" belong to no tensor/,
  );
  assertDecodeError(concat(PINNED, [1, 2, 3]), /3 trailing bytes after the last tensor's data/);
  assertDecodeError(rawFile("{}", [0]), /1 trailing bytes/);
  // Order in the header does not matter, only the tiling.
  const swapped = decodeSafetensors(rawFile(two("[8,16]", "[0,8]"), data));
  assert.deepEqual(Object.keys(swapped.tensors), ["a", "b"]);
});

Deno.test("safetensors: encoder rejects inconsistent input", () => {
  const encodeError = (tensors: Record<string, HostTensor>, pattern: RegExp) =>
    assert.throws(() => encodeSafetensors(tensors), pattern);
  encodeError(
    { a: { shape: [2, 2], data: new Float32Array(3) } },
    /^Error: rnnkit: safetensors: tensor "a" has 3 values for shape \[2,2\]/,
  );
  encodeError({ a: { shape: [-1], data: new Float32Array(0) } }, /"a" has an invalid shape/);
  encodeError(
    { __metadata__: { shape: [], data: new Float32Array(1) } },
    /"__metadata__" cannot be a tensor name/,
  );
  encodeError(
    { a: { shape: [1], data: new Float64Array(1) as unknown as Float32Array } },
    /"a" data must be a Float32Array or an Int32Array/,
  );
});

Deno.test("writeFileAtomic: writes, overwrites and leaves only the target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    await writeFileAtomic(path, PINNED);
    assert.deepEqual(await Deno.readFile(path), PINNED);
    await writeFileAtomic(path, "second");
    assert.equal(await Deno.readTextFile(path), "second");
    writeFileAtomicSync(path, new Uint8Array(0));
    assert.equal((await Deno.readFile(path)).length, 0);
    const names = Array.from(Deno.readDirSync(dir), (e) => e.name);
    assert.deepEqual(names, ["model.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic: a failed rename leaves no temp file and the target intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Renaming a file over a directory fails, after the temp file was written.
    const target = `${dir}/checkpoint`;
    await Deno.mkdir(target);
    await Deno.writeTextFile(`${target}/old`, "old");
    await assert.rejects(writeFileAtomic(target, "new"));
    assert.throws(() => writeFileAtomicSync(target, "new"));
    assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name), ["checkpoint"]);
    assert.equal(await Deno.readTextFile(`${target}/old`), "old");

    await assert.rejects(writeFileAtomic(`${dir}/missing/file`, "x"), Deno.errors.NotFound);
    assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name), ["checkpoint"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
