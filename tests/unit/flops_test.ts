/** bench/flops.ts against a count by hand, and the bench's LSTM against the issue's ~10.7 GFLOP. */
import assert from "node:assert/strict";
import { distinctShapes, flopsOf, shapeKey, stepProducts } from "../../bench/flops.ts";

Deno.test("a tiny LSTM step's FLOPs match a count by hand", () => {
  // LSTM h2 x2, batch 1, 3 steps, embedding 4, vocabulary 5: gates 4*2 = 8, rows 1*3 = 3.
  const products = stepProducts(
    { cell: "lstm", hidden: 2, layers: 2 },
    { vocab: 5, batch: 1, seq: 3, embed: 4 },
  );
  const byHand = [
    // layer 0 (input 4): projection [3,4]x[4,8], 3 steps of [1,2]x[2,8] forwards and
    // [1,8]x[8,2] backwards, input gradient [3,8]x[8,4], W_ih [8,3]x[3,4], W_hh [8,3]x[3,2]
    2 * 3 * 4 * 8,
    3 * 2 * 1 * 2 * 8,
    3 * 2 * 1 * 8 * 2,
    2 * 3 * 8 * 4,
    2 * 8 * 3 * 4,
    2 * 8 * 3 * 2,
    // layer 1 (input 2)
    2 * 3 * 2 * 8,
    3 * 2 * 1 * 2 * 8,
    3 * 2 * 1 * 8 * 2,
    2 * 3 * 8 * 2,
    2 * 8 * 3 * 2,
    2 * 8 * 3 * 2,
    // Linear(2, 5): forward [3,2]x[2,5], input gradient [3,5]x[5,2], weight [5,3]x[3,2]
    2 * 3 * 2 * 5,
    2 * 3 * 5 * 2,
    2 * 5 * 3 * 2,
  ];
  assert.equal(flopsOf(products), byHand.reduce((a, b) => a + b));
  assert.equal(flopsOf(products), 1620);
  assert.deepEqual(products.map((p) => 2 * p.m * p.n * p.k * p.count), byHand);
});

Deno.test("GRU and RNN count 3 and 1 gates; the bench's LSTM is ~10.7 GFLOP", () => {
  const sizes = { vocab: 5, batch: 1, seq: 3, embed: 4 };
  // One layer: 6 * rows * gates*hidden * (input + hidden), plus the Linear's 6 * rows * h * V.
  assert.equal(
    flopsOf(stepProducts({ cell: "gru", hidden: 2, layers: 1 }, sizes)),
    6 * 3 * 6 * 6 + 180,
  );
  assert.equal(
    flopsOf(stepProducts({ cell: "rnn", hidden: 2, layers: 1 }, sizes)),
    6 * 3 * 2 * 6 + 180,
  );
  const lstm = stepProducts({ cell: "lstm", hidden: 256, layers: 2 }, { vocab: 65 });
  assert.equal(flopsOf(lstm), 6 * 2048 * 1024 * (320 + 512) + 6 * 2048 * 256 * 65);
});

Deno.test("distinct shapes keep the transpose flags and print the stored operands", () => {
  const shapes = distinctShapes(
    stepProducts({ cell: "lstm", hidden: 256, layers: 2 }, { vocab: 65 }),
  );
  const keys = shapes.map(shapeKey);
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(keys.includes("[32,256]x[1024,256]^T"), keys.join(" "));
  assert.ok(keys.includes("[2048,1024]^Tx[2048,256]"), keys.join(" "));
  // Both layers' recurrent products share a shape: 2 layers x 6 products + 3 = 15, less 4.
  assert.equal(keys.length, 11);
});
