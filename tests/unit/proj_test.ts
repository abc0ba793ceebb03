/**
 * LSTM projSize beyond the PyTorch parity cases (tests/conformance/suite/proj.ts): the
 * errors of PyTorch's proj_size rules and of mis-shaped states, the state dict's keys (in
 * PyTorch's order) and its round trip, and dropout between projected layers.
 */
import assert from "node:assert/strict";
import "./setup.ts";
import { GRU, LSTM, type LSTMOptions, Random, RNN, tensor, zeros } from "@rnnkit/core";
import proj from "../fixtures/proj.json" with { type: "json" };

const throwsWith = (fn: () => unknown, ...parts: string[]) =>
  assert.throws(
    fn,
    (e: Error) => parts.every((p) => e.message.includes(p)) || assert.fail(e.message),
  );

Deno.test("projSize must be an integer in [0, hiddenSize), and LSTM's only", () => {
  throwsWith(() => new LSTM(3, 5, { projSize: -1 }), "LSTM", "non-negative integer", "got -1");
  throwsWith(() => new LSTM(3, 5, { projSize: 1.5 }), "LSTM", "non-negative integer", "got 1.5");
  throwsWith(() => new LSTM(3, 5, { projSize: NaN }), "LSTM", "got NaN");
  throwsWith(() => new LSTM(3, 5, { projSize: 5 }), "LSTM", "smaller than hiddenSize = 5", "got 5");
  throwsWith(() => new LSTM(3, 5, { projSize: 7 }), "smaller than hiddenSize = 5", "got 7");
  // Outside the types, as from JavaScript: PyTorch's RNN and GRU raise too.
  const opts = { projSize: 2 } as Record<string, unknown>;
  throwsWith(() => new RNN(3, 5, opts), "RNN", "only supported by LSTM", "got 2");
  throwsWith(() => new GRU(3, 5, opts), "GRU", "only supported by LSTM", "got 2");
  // proj_size=0 means no projection, which every module accepts (as PyTorch).
  for (const m of [new RNN(3, 5, { projSize: 0 } as object), new LSTM(3, 5, { projSize: 0 })]) {
    assert.equal(m.projSize, 0);
    assert.ok(!Object.keys(m.stateDict()).some((k) => k.startsWith("weight_hr")));
    m.dispose();
  }
});

Deno.test("a projected LSTM checks h0 against projSize and c0 against hiddenSize", () => {
  const m = new LSTM(3, 5, { projSize: 2, numLayers: 2 });
  const x = zeros([4, 3, 3]);
  throwsWith(
    () => m.forward(x, [zeros([2, 3, 5]), zeros([2, 3, 5])]),
    "LSTM(3, 5, numLayers=2, projSize=2)",
    "expected h0 of shape [2, 3, 2]",
    "got [2, 3, 5]",
  );
  throwsWith(
    () => m.forward(x, [zeros([2, 3, 2]), zeros([2, 3, 2])]),
    "expected c0 of shape [2, 3, 5]",
    "got [2, 3, 2]",
  );
  throwsWith(() => m.forward(zeros([4, 3, 2])), "projSize=2", "input = 3", "[4, 3, 2]");
  const [out, [h, c]] = m.forward(x);
  assert.deepEqual([out.shape, h.shape, c.shape], [[4, 3, 2], [2, 3, 2], [2, 3, 5]]);
  m.dispose();
});

Deno.test("state dict: PyTorch's keys in PyTorch's order, and a round trip", async () => {
  // Every fixture case's keys are torch 1.13's `_flat_weights_names` for its options.
  for (const c of proj.cases) {
    const a = c.args as LSTMOptions & { inputSize: number; hiddenSize: number };
    const m = new LSTM(a.inputSize, a.hiddenSize, a);
    assert.deepEqual(Object.keys(m.stateDict()), Object.keys(c.state), c.name);
    m.dispose();
  }
  const opts = { numLayers: 2, projSize: 3, bidirectional: true };
  const src = new LSTM(2, 4, { ...opts, rng: new Random(1) });
  const dst = new LSTM(2, 4, { ...opts, rng: new Random(2) });
  const x = tensor(new Random(3).normal(5 * 2 * 2), [5, 2, 2]);
  const before = await dst.forward(x)[0].data();
  dst.loadStateDict(src.stateDict());
  const [want, got] = [await src.forward(x)[0].data(), await dst.forward(x)[0].data()];
  assert.deepEqual([...got], [...want]);
  assert.notDeepEqual([...before], [...want], "the two seeds differ");
  // A weight_hr of another shape is refused, naming the key.
  const state = { ...src.stateDict(), weight_hr_l1: zeros([4, 4]) };
  throwsWith(() => dst.loadStateDict(state), "weight_hr_l1", "[4,4], expected [3,4]");
  src.dispose();
  dst.dispose();
});

Deno.test("dropout between projected layers: training differs, eval is deterministic", async () => {
  const make = (dropout: number) =>
    new LSTM(3, 4, { numLayers: 2, projSize: 2, dropout, rng: new Random(1) });
  const x = tensor(new Random(2).normal(5 * 2 * 3), [5, 2, 3]);
  const plain = make(0);
  const dropped = make(0.5);
  const [a] = plain.forward(x);
  const [b] = dropped.forward(x);
  assert.notDeepEqual([...await a.data()], [...await b.data()], "training mode drops");
  dropped.eval();
  const [c] = dropped.forward(x);
  const [d] = dropped.forward(x);
  assert.deepEqual([...await c.data()], [...await a.data()], "eval mode drops nothing");
  assert.deepEqual([...await d.data()], [...await c.data()], "eval mode is deterministic");
  plain.dispose();
  dropped.dispose();
});
