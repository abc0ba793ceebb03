/**
 * Variable-length batches: errors that name the function and the values, and the point of
 * packing: each sequence of a packed batch gets the output, final state and gradients it
 * gets alone, in both directions (a padded batch does not: its reverse direction starts in
 * the padding).
 */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  GRU,
  intTensor,
  liveTensors,
  LSTM,
  noGrad,
  ops,
  PackedSequence,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  Random,
  RNN,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";

const rng = new Random(7);
const randn = (shape: number[]) => tensor(rng.normal(shape.reduce((a, b) => a * b, 1)), shape);

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5) {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} != ${b[i]}`);
  }
}

Deno.test("packPaddedSequence refuses bad lengths, naming the function and the values", () => {
  const x = randn([4, 3, 2]);
  assert.throws(
    () => packPaddedSequence(x, [2, 4, 1]),
    /packPaddedSequence\(\): lengths \[2,4,1\] must be sorted longest first with enforceSorted: true \(lengths\[1\] = 4 > lengths\[0\] = 2\); pass \{ enforceSorted: false \}/,
  );
  assert.throws(
    () => packPaddedSequence(x, [4, 0, 0], { enforceSorted: false }),
    /packPaddedSequence\(\): lengths\[1\] = 0: every length must be an integer in \[1, 4\]/,
  );
  assert.throws(
    () => packPaddedSequence(x, [5, 2, 1]),
    /lengths\[0\] = 5: every length must be an integer in \[1, 4\] \(at least one step, at most the padded length\)/,
  );
  assert.throws(
    () => packPaddedSequence(x, [4, 3, 2, 1], { batchFirst: true }),
    /lengths\[0\] = 4: every length must be an integer in \[1, 3\]/,
  );
  assert.throws(
    () => packPaddedSequence(x, [4, 2]),
    /packPaddedSequence\(\): expected 3 lengths \(the batch\), got 2: \[4,2\]/,
  );
  assert.throws(() => packPaddedSequence(x, [2.5, 2, 1]), /lengths\[0\] = 2.5/);
  assert.throws(
    () => packPaddedSequence(x, tensor([3, 2, 1])),
    /lengths must be host integers \(an array, or a 1-D intTensor\), got a float32 tensor \[3\]/,
  );
  assert.throws(
    () => packPaddedSequence(randn([4]), [4]),
    /packPaddedSequence\(\): expected input \[seq, batch, \*\], got \[4\]/,
  );
  assert.throws(
    () => packPaddedSequence(intTensor([[1, 2], [3, 4]]), [2, 2]),
    /expected a float32 input, got int32 \(for token indices, embed them first\)/,
  );
  // Lengths as an intTensor work as an array does.
  const p = packPaddedSequence(x, intTensor([2, 4, 1]), { enforceSorted: false });
  assert.deepEqual(p.batchSizes, [3, 2, 1, 1]);
  assert.deepEqual(p.sortedIndices, [1, 0, 2]);
  assert.deepEqual(p.unsortedIndices, [1, 0, 2]);
});

Deno.test("padPackedSequence, padSequence and packSequence refuse bad arguments", () => {
  const p = packPaddedSequence(randn([4, 2, 3]), [4, 2]);
  assert.throws(
    () => padPackedSequence(p, { totalLength: 3 }),
    /padPackedSequence\(\): totalLength must be an integer at least the length of the longest sequence, 4; got 3/,
  );
  assert.throws(
    () => padSequence([randn([2, 3]), randn([4, 2])]),
    /padSequence\(\): sequences\[1\] is \[4, 2\]; every sequence must be \[length, \*\] with the trailing shape of sequences\[0\] \[2, 3\]/,
  );
  assert.throws(() => padSequence([]), /padSequence\(\): no sequences given/);
  assert.throws(
    () => packSequence([randn([2, 3]), randn([3, 3])]),
    /packSequence\(\): lengths \[2,3\] must be sorted longest first/,
  );
  assert.throws(
    () => packSequence([randn([2, 3]), randn([0, 3])]),
    /packSequence\(\): lengths\[1\] = 0: every length must be an integer in \[1, 2\]/,
  );
  // pad_sequence takes empty sequences (all padding), as PyTorch's does.
  const padded = padSequence([randn([2, 3]), randn([0, 3])], { paddingValue: 9 });
  assert.deepEqual(padded.shape, [2, 2, 3]);
});

Deno.test("PackedSequence checks its parts fit together", () => {
  const data = randn([5, 2]);
  assert.throws(
    () => new PackedSequence(data, [2, 3]),
    /PackedSequence: batchSizes \[2,3\] must be positive integers, non-increasing/,
  );
  assert.throws(
    () => new PackedSequence(data, [3, 1]),
    /PackedSequence: data \[5, 2\] should have sum\(batchSizes\) = 4 rows/,
  );
  assert.throws(
    () => new PackedSequence(data, [3, 2], [0, 0, 1]),
    /sortedIndices \[0,0,1\] is not a permutation of the batch of 3/,
  );
  assert.throws(
    () => new PackedSequence(data, [3, 2], [2, 0, 1], [0, 1, 2]),
    /unsortedIndices \[0,1,2\] is not the inverse of sortedIndices \[2,0,1\]/,
  );
  assert.throws(
    () => new PackedSequence(data, [3, 2], null, [0, 1, 2]),
    /unsortedIndices given without sortedIndices/,
  );
  assert.deepEqual(new PackedSequence(data, [3, 2], [2, 0, 1]).unsortedIndices, [1, 2, 0]);
});

Deno.test("RNN over a packed batch checks the data and the initial state", () => {
  const rnn = new RNN(3, 4, { bidirectional: true });
  assert.throws(
    () => rnn.forward(packPaddedSequence(randn([3, 2, 5]), [3, 1])),
    /RNN\(3, 4, numLayers=1\): expected packed data \[sum\(lengths\), input\] with input = 3, got \[4, 5\]/,
  );
  assert.throws(
    () => rnn.forward(packPaddedSequence(randn([3, 2, 3]), [3, 1]), randn([2, 3, 4])),
    /RNN\(3, 4, numLayers=1\): expected h0 of shape \[2, 2, 4\], got \[2, 3, 4\]/,
  );
});

type Model = RNN | LSTM | GRU;

/** Runs `m` on a packed batch; returns the padded output, hN and cN (if any) as host data. */
function runPacked(m: Model, seqs: Tensor[], h0?: Tensor, c0?: Tensor) {
  const packed = packSequence(seqs, { enforceSorted: false });
  const [out, hidden] = m instanceof LSTM
    ? m.forward(packed, h0 && [h0, c0!])
    : (m as RNN).forward(packed, h0);
  const [h, c] = Array.isArray(hidden) ? hidden : [hidden];
  const [padded, lengths] = padPackedSequence(out, { batchFirst: true });
  return { padded, lengths, h, c };
}

/** Column b of a [L*D, batch, H] state. */
async function column(t: Tensor, b: number): Promise<number[]> {
  const [n, batch, hid] = t.shape;
  const v = await t.data();
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    out.push(...v.slice((k * batch + b) * hid, (k * batch + b + 1) * hid));
  }
  return out;
}

for (const kind of ["RNN", "LSTM", "GRU"] as const) {
  Deno.test(`bidirectional ${kind}: a packed batch gives each sequence what it gets alone`, async () => {
    const opts = { numLayers: 2, bidirectional: true, rng: new Random(11) };
    const m: Model = kind === "RNN"
      ? new RNN(3, 4, opts)
      : kind === "LSTM"
      ? new LSTM(3, 4, opts)
      : new GRU(3, 4, opts);
    const lens = [3, 6, 1, 4, 6, 2, 5, 1, 3, 2];
    const seqs = lens.map((n) => randn([n, 3]));
    const h0 = randn([4, lens.length, 4]);
    const c0 = kind === "LSTM" ? randn([4, lens.length, 4]) : undefined;
    const all = tidy(() => runPacked(m, seqs, h0, c0));
    assert.deepEqual(all.lengths, lens);
    const padded = await all.padded.data();
    const hid = 2 * 4;
    for (let b = 0; b < lens.length; b++) {
      const n = lens[b];
      const slice = (s: Tensor) => ops.reshape(ops.gather(s, intTensor([b])), [4, 1, 4]);
      const alone = tidy(() => {
        const x = ops.reshape(seqs[b], [n, 1, 3]);
        const [out, hidden] = m instanceof LSTM
          ? m.forward(x, [
            slice(ops.transpose(h0, [1, 0, 2])),
            slice(ops.transpose(c0!, [1, 0, 2])),
          ])
          : (m as RNN).forward(x, slice(ops.transpose(h0, [1, 0, 2])));
        const [h, c] = Array.isArray(hidden) ? hidden : [hidden];
        return { out, h, c };
      });
      close(
        padded.slice(b * 6 * hid, b * 6 * hid + n * hid),
        await alone.out.data(),
        `${kind} output of sequence ${b}`,
      );
      // Past its length, the padded output is zero.
      assert.ok(padded.slice(b * 6 * hid + n * hid, (b + 1) * 6 * hid).every((v) => v === 0));
      close(await column(all.h, b), await alone.h.data(), `${kind} hN of sequence ${b}`);
      if (all.c) close(await column(all.c, b), await alone.c!.data(), `cN of sequence ${b}`);
    }
  });
}

Deno.test("a padded batch without packing gets the reverse direction wrong (why pack)", async () => {
  const gru = new GRU(2, 3, { bidirectional: true, rng: new Random(5) });
  const long = randn([4, 2]);
  const short = randn([2, 2]);
  const padded = padSequence([long, short]); // [4, 2, 2]
  const [, hPadded] = gru.forward(padded);
  const [, hPacked] = gru.forward(packPaddedSequence(padded, [4, 2]));
  const [, hAlone] = gru.forward(ops.reshape(short, [2, 1, 2]));
  const alone = await hAlone.data();
  close(await column(hPacked, 1), alone, "packed hN");
  const unpacked = await column(hPadded, 1);
  assert.ok(unpacked.some((v, i) => Math.abs(v - alone[i]) > 1e-3), "padding reaches hN");
});

Deno.test("gradients of a packed batch are the sums of each sequence's alone", async () => {
  const lstm = new LSTM(2, 3, { numLayers: 2, bidirectional: true, rng: new Random(3) });
  const lens = [2, 5, 1, 3];
  const seqs = lens.map((n) => randn([n, 2]));
  for (const s of seqs) s.requiresGrad = true;
  const loss = (out: Tensor, h: Tensor, c: Tensor) =>
    ops.add(ops.add(ops.sum(ops.tanh(out)), ops.sum(ops.mul(h, h))), ops.sum(c));
  tidy(() => {
    const [out, [h, c]] = lstm.forward(packSequence(seqs, { enforceSorted: false }));
    loss(out.data, h, c).backward();
  });
  const params = Object.entries(lstm.stateDict());
  const batched = await Promise.all(params.map(([, p]) => p.grad!.data()));
  const inputs = await Promise.all(seqs.map((s) => s.grad!.data()));
  for (const [, p] of params) p.grad = null;
  for (const s of seqs) s.grad = null;
  for (const s of seqs) {
    tidy(() => {
      const [out, [h, c]] = lstm.forward(ops.reshape(s, [s.shape[0], 1, 2]));
      loss(out, h, c).backward();
    });
  }
  for (let i = 0; i < params.length; i++) {
    close(await params[i][1].grad!.data(), batched[i], `grad ${params[i][0]}`);
  }
  for (let b = 0; b < seqs.length; b++) {
    close(await seqs[b].grad!.data(), inputs[b], `grad of sequence ${b}`);
  }
});

Deno.test("packed runs free their intermediates; tidy keeps a returned PackedSequence", async () => {
  const gru = new GRU(3, 4, { numLayers: 2, bidirectional: true });
  const x = randn([5, 4, 3]);
  const before = liveTensors();
  const [out, h] = tidy(() =>
    noGrad(() => gru.forward(packPaddedSequence(x, [3, 5, 1, 4], { enforceSorted: false })))
  );
  assert.equal(liveTensors(), before + 2, "only the packed output's data and hN are left");
  assert.deepEqual(out.data.shape, [13, 8]);
  assert.deepEqual(out.batchSizes, [4, 3, 3, 2, 1]);
  assert.deepEqual(out.sortedIndices, [1, 3, 0, 2]);
  await out.data.data();
  out.data.dispose();
  h.dispose();
  assert.equal(liveTensors(), before);
});

Deno.test("dropout between layers acts on packed data in training mode only", async () => {
  const make = (dropout: number) => new LSTM(3, 4, { numLayers: 2, dropout, rng: new Random(1) });
  const x = packPaddedSequence(randn([5, 3, 3]), [5, 4, 2]);
  const [a] = make(0).forward(x);
  const dropped = make(0.5);
  const [b] = dropped.forward(x);
  assert.notDeepEqual([...await a.data.data()], [...await b.data.data()], "training drops");
  const [c] = dropped.eval().forward(x);
  assert.deepEqual([...await a.data.data()], [...await c.data.data()], "eval is plain");
});
