/**
 * rnnkit's Random against PyTorch's CPU generator, bit for bit (float32 equality, -0 included).
 * Fixtures: tests/fixtures/random.json, written by tests/fixtures/random_gen.py (torch 1.13).
 */
import assert from "node:assert/strict";
import { globalRandom, manualSeed, Random } from "@rnnkit/core";
import fixture from "../fixtures/random.json" with { type: "json" };

interface Draw {
  op: string;
  n: number;
  low?: number;
  high?: number;
  mean?: number;
  std?: number;
  data: number[];
}

function draw(rng: Random, d: Draw): Float32Array {
  return d.op === "uniform" ? rng.uniform(d.n, d.low!, d.high!) : rng.normal(d.n, d.mean, d.std);
}

/** Bit-exact comparison: both sides as float32, compared with Object.is. */
function assertSameFloats(actual: Float32Array, expected: number[], what: string): void {
  assert.deepStrictEqual(Array.from(actual), Array.from(Float32Array.from(expected)), what);
}

/** Linear's kaiming_uniform_(weight, a=sqrt(5)) bound, in the order torch 1.13 computes it. */
function kaimingBound(fanIn: number): number {
  const gain = Math.sqrt(2 / (1 + Math.sqrt(5) ** 2)); // init.calculate_gain("leaky_relu", a)
  return Math.sqrt(3) * (gain / Math.sqrt(fanIn));
}

for (const { seed, draws } of fixture.streams) {
  Deno.test(`random: torch.manual_seed(${seed}) uniform_/normal_ stream`, () => {
    const rng = new Random(seed);
    draws.forEach((d: Draw, i) => {
      const what = `draw ${i}: ${d.op}(${d.n}, ${d.low ?? d.mean}, ${d.high ?? d.std})`;
      assertSameFloats(draw(rng, d), d.data, what);
    });
  });
}

Deno.test("random: manualSeed(0) then RNNCell, Embedding, RNN, Linear initial weights", () => {
  manualSeed(0);
  const rng = globalRandom();
  const u = (shape: number[], bound: number) =>
    rng.uniform(shape.reduce((a, b) => a * b, 1), -bound, bound);
  const rnn = (input: number, hidden: number) => {
    const b = 1 / Math.sqrt(hidden); // RNNBase.reset_parameters: stdv = 1 / sqrt(hidden_size)
    return [u([hidden, input], b), u([hidden, hidden], b), u([hidden], b), u([hidden], b)];
  };
  // The draws each module's constructor makes, in PyTorch's parameter order.
  const expected = [
    rnn(4, 4), // RNNCell(4, 4)
    [rng.normal(4 * 10)], // Embedding(4, 10): init.normal_
    [...rnn(10, 8), ...rnn(8, 8)], // RNN(10, 8, num_layers=2)
    [u([4, 8], kaimingBound(8)), u([4], 1 / Math.sqrt(8))], // Linear(8, 4)
  ];
  fixture.modules.forEach((m, i) => {
    assert.equal(m.tensors.length, expected[i].length, m.module);
    m.tensors.forEach((t, k) => {
      assert.equal(expected[i][k].length, t.data.length, `${m.module}.${t.key} size`);
      assertSameFloats(expected[i][k], t.data, `${m.module}.${t.key}`);
    });
  });
});

Deno.test("random: Linear's kaiming bound matches Python's float64", () => {
  for (const { fan_in, bound } of fixture.bounds) {
    assert.equal(kaimingBound(fan_in), bound, `fan_in ${fan_in}`);
  }
});

Deno.test("random: getState/setState resume exactly, through JSON, cached normal included", () => {
  const rng = new Random(3);
  rng.uniform(700, -1, 1); // past the first twist of the 624-word state
  rng.normal(1); // leaves the sin() half of a Box-Muller pair cached
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  const after = () => [...rng.normal(3), ...rng.uniform(5, 0, 1), ...rng.normal(20), rng.next()];
  const first = after();
  const resumed = new Random(99);
  resumed.setState(saved);
  rng.setState(saved);
  assert.deepStrictEqual(after(), first);
  assert.throws(() => resumed.setState([1, 2, 3]), /not a generator state/);
});

Deno.test("random: seeds keep their low 32 bits, like at::mt19937", () => {
  assert.deepStrictEqual(
    new Random(2 ** 32 + 7).uniform(10, 0, 1),
    new Random(7).uniform(10, 0, 1),
  );
  assert.deepStrictEqual(new Random(-1).getState(), new Random(2 ** 32 - 1).getState());
  assert.throws(() => new Random(0.5), /seed must be an integer/);
});

Deno.test("random: next() and int() stay in range", () => {
  const rng = new Random(11);
  for (let i = 0; i < 1000; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    const k = rng.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
});
