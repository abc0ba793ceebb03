/** Dropout between recurrent layers: active in training mode only, PyTorch's scaling. */
import assert from "node:assert/strict";
import "./setup.ts";
import { Dropout, LSTM, Random, tensor } from "@rnnkit/core";

Deno.test("Dropout zeroes about p of the values and scales the rest by 1/(1-p)", async () => {
  const d = new Dropout(0.25, new Random(3));
  const y = await d.forward(tensor(new Float32Array(4000).fill(1), [4000])).data();
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / 4000 - 0.25) < 0.03, `${zeros} zeros`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
  assert.deepEqual([...await d.eval().forward(tensor([1, 2], [2])).data()], [1, 2]);
});

Deno.test("LSTM dropout acts between layers in training mode only", async () => {
  const make = (dropout: number) => new LSTM(3, 4, { numLayers: 2, dropout, rng: new Random(1) });
  const x = tensor(new Random(2).normal(2 * 5 * 3), [5, 2, 3]);
  const plain = make(0);
  const dropped = make(0.5);
  const [a] = plain.forward(x);
  const [b] = dropped.forward(x);
  assert.notDeepEqual([...await a.data()], [...await b.data()], "training mode drops");
  dropped.eval();
  const [c] = dropped.forward(x);
  assert.deepEqual([...await a.data()], [...await c.data()], "eval mode is deterministic");
});
