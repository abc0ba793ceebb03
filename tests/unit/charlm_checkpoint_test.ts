/** CharLM checkpoints: round trip, every rejection with a clear message, atomic saving. */
import "./setup.ts";
import assert from "node:assert/strict";
import {
  CharLM,
  type CharLMConfig,
  decodeCharLM,
  decodeSafetensors,
  encodeCharLM,
  encodeSafetensors,
  loadCharLM,
  Random,
  saveCharLM,
} from "@rnnkit/core";

const VOCAB = ["a", "b", "😀", " "]; // the emoji is a surrogate pair: one character
const CONFIG: CharLMConfig = {
  vocabSize: 4,
  cell: "lstm",
  embeddingSize: 3,
  hiddenSize: 5,
  numLayers: 2,
  rng: new Random(7),
};

async function values(model: CharLM): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(model.stateDict())) out[k] = Array.from(await t.data());
  return out;
}

/** A valid checkpoint's tensors and metadata, to be spoiled by each rejection test. */
async function parts() {
  const model = new CharLM(CONFIG);
  const bytes = await encodeCharLM(model, VOCAB);
  model.dispose();
  return decodeSafetensors(bytes);
}

function assertRejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeCharLM(bytes), (err: Error) => {
    assert.match(err.message, /^rnnkit: checkpoint: /);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("save/load round-trips values, vocab and metadata", async () => {
  for (const cell of ["rnn", "lstm", "gru"] as const) {
    const model = new CharLM({
      ...CONFIG,
      cell,
      nonlinearity: cell === "rnn" ? "relu" : undefined,
    });
    const dir = await Deno.makeTempDir();
    const path = `${dir}/m.safetensors`;
    await saveCharLM(path, model, VOCAB, { trained_on: "tiny.txt" });
    const loaded = await loadCharLM(path);
    try {
      assert.deepEqual(await values(loaded.model), await values(model));
      assert.deepEqual(loaded.vocab, VOCAB);
      assert.equal(loaded.model.config.cell, cell);
      assert.equal(loaded.model.config.numLayers, 2);
      assert.equal(loaded.model.config.nonlinearity, cell === "rnn" ? "relu" : undefined);
      assert.equal(loaded.metadata.format, "rnnkit.charlm.v1");
      assert.equal(loaded.metadata.trained_on, "tiny.txt");
      assert.deepEqual(Object.keys(decodeSafetensors(await Deno.readFile(path)).tensors), [
        ...Object.keys(model.stateDict()),
      ]);
    } finally {
      model.dispose();
      loaded.model.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("rejects a wrong format tag", async () => {
  const { tensors, metadata } = await parts();
  assertRejects(
    encodeSafetensors(tensors, { ...metadata, format: "other" }),
    /"format" is "other", expected "rnnkit.charlm.v1"/,
  );
});

Deno.test("rejects bad cell, num_layers and nonlinearity", async () => {
  const { tensors, metadata } = await parts();
  const bad = (m: Record<string, string>) => encodeSafetensors(tensors, { ...metadata, ...m });
  assertRejects(bad({ cell: "transformer" }), /"cell" is "transformer"/);
  assertRejects(bad({ num_layers: "2.5" }), /"num_layers" is "2.5", expected a positive integer/);
  assertRejects(bad({ nonlinearity: "tanh" }), /"nonlinearity" is for cell "rnn" only/);
});

Deno.test("rejects a vocab that is not a JSON array of distinct characters", async () => {
  const { tensors, metadata } = await parts();
  const vocab = (v: string) => encodeSafetensors(tensors, { ...metadata, vocab: v });
  assertRejects(vocab("abc"), /"vocab" is not a JSON array/);
  assertRejects(vocab('["a","b","ab"," "]'), /entry "ab" is not a single character/);
  assertRejects(vocab('["a","b","a"," "]'), /character "a" appears twice/);
});

Deno.test("rejects a vocab whose length differs from the tensors'", async () => {
  const { tensors, metadata } = await parts();
  assertRejects(
    encodeSafetensors(tensors, { ...metadata, vocab: '["a","b","c"]' }),
    /vocab has 3 characters but emb.weight has 4 rows and fc.weight 4/,
  );
});

Deno.test("rejects missing, extra and mis-shaped tensors", async () => {
  const { tensors, metadata } = await parts();
  const { "rnn.bias_hh_l1": _, ...missing } = tensors;
  assertRejects(encodeSafetensors(missing, metadata), /missing key "rnn.bias_hh_l1"/);
  const extra = { ...tensors, "rnn.weight_ih_l2": tensors["rnn.weight_hh_l1"] };
  assertRejects(encodeSafetensors(extra, metadata), /unexpected key "rnn.weight_ih_l2"/);
  const misshaped = { ...tensors, "rnn.bias_ih_l0": { shape: [5], data: new Float32Array(5) } };
  assertRejects(
    encodeSafetensors(misshaped, metadata),
    /"rnn.bias_ih_l0" has shape \[5\], expected \[20\]/,
  );
  const { "fc.weight": __, ...noFc } = tensors;
  assertRejects(encodeSafetensors(noFc, metadata), /missing tensor "fc.weight"/);
});

Deno.test("rejects a truncated file, naming the file", async () => {
  const model = new CharLM(CONFIG);
  const bytes = await encodeCharLM(model, VOCAB);
  model.dispose();
  assertRejects(bytes.subarray(0, bytes.length - 3), /safetensors: .*trailing|run past/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, 100));
    await assert.rejects(
      loadCharLM(`${dir}/cut.safetensors`),
      new RegExp(`^Error: rnnkit: checkpoint ${dir}/cut.safetensors: safetensors: `),
    );
    await assert.rejects(loadCharLM(`${dir}/none.safetensors`), /cannot read it/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveCharLM leaves the old file intact when encoding fails", async () => {
  const model = new CharLM(CONFIG);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  try {
    await saveCharLM(path, model, VOCAB);
    const before = await Deno.readFile(path);
    await assert.rejects(saveCharLM(path, model, ["a", "b"]), /vocab has 2 characters/);
    await assert.rejects(saveCharLM(path, model, VOCAB, { format: "x" }), /reserved key/);
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.safetensors"]);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
