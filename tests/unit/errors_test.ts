/** Bad input gets an error that names the module and the expected vs actual shape or value. */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  Adam,
  CrossEntropyLoss,
  Embedding,
  intTensor,
  Linear,
  LSTM,
  ops,
  RNN,
  RNNCell,
  tensor,
  zeros,
} from "@rnnkit/core";

const throwsWith = (fn: () => unknown, ...parts: string[]) =>
  assert.throws(
    fn,
    (e: Error) => parts.every((p) => e.message.includes(p)) || assert.fail(e.message),
  );

Deno.test("RNN rejects a wrong input rank or size, naming both shapes", () => {
  const rnn = new RNN(4, 8, { numLayers: 2 });
  throwsWith(
    () => rnn.forward(zeros([5, 1, 3])),
    "RNN(4, 8, numLayers=2)",
    "[5, 1, 3]",
    "input = 4",
  );
  throwsWith(() => rnn.forward(zeros([2, 5, 1, 4])), "RNN(4, 8", "[2, 5, 1, 4]");
  throwsWith(
    () => rnn.forward(zeros([5, 3, 4]), zeros([1, 3, 8])),
    "h0 of shape [2, 3, 8]",
    "[1, 3, 8]",
  );
  rnn.dispose();
});

Deno.test("batchFirst does not apply to h0 (PyTorch's behaviour)", () => {
  const rnn = new RNN(4, 8, { batchFirst: true });
  // batch 3, seq 5: h0 stays [numLayers, batch, hidden]
  const [out, h] = rnn.forward(zeros([3, 5, 4]), zeros([1, 3, 8]));
  assert.deepEqual([out.shape, h.shape], [[3, 5, 8], [1, 3, 8]]);
  throwsWith(
    () => rnn.forward(zeros([3, 5, 4]), zeros([3, 1, 8])),
    "expected h0 of shape [1, 3, 8]",
  );
  rnn.dispose();
});

Deno.test("LSTM checks c0 too", () => {
  const lstm = new LSTM(2, 3);
  throwsWith(
    () => lstm.forward(zeros([4, 1, 2]), [zeros([1, 1, 3]), zeros([1, 2, 3])]),
    "c0",
    "[1, 2, 3]",
  );
  lstm.dispose();
});

Deno.test("RNNCell, Linear name themselves and the shapes", () => {
  const cell = new RNNCell(4, 4);
  throwsWith(() => cell.forward(zeros([1, 5])), "RNNCell(4, 4)", "[1, 5]");
  throwsWith(() => cell.forward(zeros([2, 4]), zeros([1, 4])), "hidden state", "[2, 4]", "[1, 4]");
  const fc = new Linear(8, 4);
  throwsWith(() => fc.forward(zeros([5, 3])), "Linear(8, 4)", "[..., 8]", "[5, 3]");
  cell.dispose();
  fc.dispose();
});

Deno.test("Embedding rejects out-of-range and non-integer indices", () => {
  const emb = new Embedding(4, 10);
  throwsWith(() => emb.forward(intTensor([1, 4], [2])), "Embedding(4, 10)", "index 4", "[0, 4)");
  throwsWith(() => emb.forward(intTensor([-1], [1])), "index -1");
  throwsWith(() => emb.forward(tensor([1, 2], [2])), "int32");
  throwsWith(() => new Embedding(4, 10, { paddingIdx: 7 }), "paddingIdx 7");
  throwsWith(() => intTensor([1.5], [1]), "1.5 is not a 32-bit integer");
  emb.dispose();
});

Deno.test("constructors reject bad sizes and options", () => {
  throwsWith(() => new RNN(0, 4), "RNN", "inputSize", "got 0");
  throwsWith(() => new RNN(4, 4, { nonlinearity: "sigmoid" as "tanh" }), "nonlinearity", "sigmoid");
  throwsWith(() => new LSTM(4, 4, { dropout: 1.5 }), "dropout", "1.5");
  throwsWith(() => new Linear(2.5, 3), "inFeatures", "2.5");
  throwsWith(() => new CrossEntropyLoss({ reduction: "avg" as "mean" }), "reduction", "avg");
  const p = new Linear(2, 2);
  throwsWith(() => new Adam(p.parameters(), { lr: -1 }), "Adam", "lr", "-1");
  throwsWith(() => new Adam(p.parameters(), { betas: [0.9, 1] }), "betas[1]");
  p.dispose();
});

Deno.test("CrossEntropyLoss rejects bad targets and shapes", () => {
  const ce = new CrossEntropyLoss();
  throwsWith(
    () => ce.forward(zeros([2, 3]), intTensor([0, 3], [2])),
    "target 3 out of range [0, 3)",
  );
  throwsWith(() => ce.forward(zeros([2, 3]), intTensor([0], [1])), "input [2, 3]", "target [1]");
});

Deno.test("loadStateDict lists missing, unexpected and mis-shaped keys and changes nothing", async () => {
  const rnn = new RNN(2, 3);
  const before = await rnn.stateDict().weight_ih_l0.data();
  const sd = Object.fromEntries(
    Object.entries(rnn.stateDict()).map((
      [k, t],
    ) => [k, { shape: t.shape, data: new Float32Array(t.size) }]),
  );
  delete (sd as Record<string, unknown>).bias_hh_l0;
  sd.weight_hh_l0 = { shape: [3, 2], data: new Float32Array(6) };
  sd.weight_ih_l1 = { shape: [3, 3], data: new Float32Array(9) };
  throwsWith(
    () => rnn.loadStateDict(sd),
    "RNN.loadStateDict",
    'missing key "bias_hh_l0"',
    'unexpected key "weight_ih_l1"',
    '"weight_hh_l0" has shape [3,2], expected [3,3]',
  );
  assert.deepEqual(await rnn.stateDict().weight_ih_l0.data(), before);
  rnn.dispose();
});

Deno.test("ops report shapes that do not fit", () => {
  throwsWith(() => ops.add(zeros([2, 3]), zeros([4])), "add", "[2, 3]", "[4]");
  throwsWith(() => ops.matmul(zeros([2, 3]), zeros([2, 3])), "matmul", "[2, 3] @ [2, 3]");
  throwsWith(() => ops.reshape(zeros([2, 3]), [4, -1]), "cannot reshape [2, 3]");
  throwsWith(() => tensor([1, 2, 3], [2, 2]), "3 values do not fill shape [2, 2]");
});

Deno.test("6. loadStateDict is all-or-nothing: a disposed tensor changes nothing", async () => {
  const lin = new Linear(2, 3);
  const before = await lin.weight.data();
  const bias = tensor([1, 2, 3]);
  bias.dispose();
  throwsWith(
    () => lin.loadStateDict({ weight: tensor([[1, 2], [3, 4], [5, 6]]), bias }),
    'Linear.loadStateDict: "bias" is a disposed tensor',
  );
  assert.deepEqual(await lin.weight.data(), before);
  throwsWith(() => lin.loadStateDict(null as never), "expected a state dict", "got null");
  throwsWith(
    () =>
      lin.loadStateDict({ weight: { shape: [3, 2], data: [1, 2, 3, 4, NaN, 6] }, bias: lin.bias! }),
    '"weight" holds a non-finite value (NaN)',
  );
  lin.dispose();
});

Deno.test("7. a tensor from before setBackend, or after dispose(), is a clear error", async () => {
  const { createBackend } = await import("@rnnkit/backend-wasm");
  const { getBackend, setBackend } = await import("@rnnkit/core");
  const tfjs = getBackend();
  const t = tensor([1, 2]);
  setBackend(await createBackend());
  try {
    throwsWith(() => ops.add(t, t), 'made on backend "tfjs" but the current backend is "wasm"');
    assert.deepEqual([...await t.data()], [1, 2], "its values can still be read");
  } finally {
    setBackend(tfjs);
  }
  t.dispose();
  await assert.rejects(() => t.data(), /tensor \[2\] used after dispose\(\)/);
  throwsWith(() => ops.mul(t, t), "used after dispose()");
});

Deno.test("14. empty sequences and batches, int32 input, a second backward: clear errors", () => {
  const rnn = new RNN(2, 3, { batchFirst: true });
  throwsWith(() => rnn.forward(zeros([4, 0, 2])), "[4, 0, 2] has no time steps");
  throwsWith(() => rnn.forward(zeros([0, 5, 2])), "[0, 5, 2] has an empty batch");
  throwsWith(
    () => rnn.forward(ops.reshape(intTensor([1, 2, 3, 4]), [1, 2, 2])),
    "expected a float32 input, got int32",
  );
  throwsWith(() => new RNNCell(2, 3).forward(zeros([0, 2])), "is an empty batch");
  const x = tensor([1, 2]);
  x.requiresGrad = true;
  const y = ops.sum(ops.mul(x, x));
  y.backward(undefined, { retainGraph: true });
  y.backward();
  throwsWith(() => y.backward(), "backward() through the graph a second time", "retainGraph");
  rnn.dispose();
});

Deno.test("2. generate refuses non-finite logits, as torch.multinomial does", async () => {
  const { CharLM, generate } = await import("@rnnkit/core");
  const lm = new CharLM({
    vocabSize: 3,
    cell: "gru",
    embeddingSize: 2,
    hiddenSize: 2,
    numLayers: 1,
  });
  lm.fc.bias!.assign(tensor([0, Infinity, 0]));
  for (const temperature of [1, 0]) {
    await assert.rejects(
      () => generate(lm, [0], 5, { temperature }),
      /logits of generated character 1 hold (Infinity|NaN): the model's weights are not usable/,
    );
  }
  lm.dispose();
});

Deno.test("15. safetensors: a number beyond 2^53 in a header is named, not rounded", async () => {
  const { decodeSafetensors } = await import("@rnnkit/core");
  const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}';
  const bytes = new Uint8Array(8 + header.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(new TextEncoder().encode(header), 8);
  throwsWith(
    () => decodeSafetensors(bytes),
    'tensor "a" data_offsets holds a number above 2^53 - 1',
  );
});
