/**
 * Variable-length batches against PyTorch (tests/fixtures/packed.json, made by
 * packed_gen.py): packPaddedSequence, padPackedSequence, padSequence and packSequence
 * forward and backward, and RNN / LSTM / GRU over packed batches (padded output, packed
 * output, hN, cN and the gradients of the input, the initial state and every parameter).
 */
import {
  ops,
  PackedSequence,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";
import packed from "../../fixtures/packed.json" with { type: "json" };
import { assertTensor, type HostTensor } from "../check.ts";
import { test } from "../registry.ts";
import { buildModule } from "./modules.ts";

type Tensors = Record<string, HostTensor>;

interface PackedFixture {
  data: HostTensor;
  batchSizes: number[];
  sortedIndices: number[] | null;
  unsortedIndices: number[] | null;
}

interface PackedCase {
  name: string;
  kind: "function" | "module";
  fn?: "packPaddedSequence" | "padPackedSequence" | "padSequence" | "packSequence";
  module?: string;
  // deno-lint-ignore no-explicit-any
  args: any;
  lengths?: number[];
  enforceSorted?: boolean;
  state?: Tensors;
  inputs: Tensors;
  packed?: PackedFixture;
  outputs?: Tensors;
  upstream: Tensors;
  grads: Tensors;
}

const cases = packed.cases as unknown as PackedCase[];

function same(actual: readonly number[] | null, expected: number[] | null, what: string) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: [${actual}] != expected [${expected}]`);
  }
}

async function assertPacked(p: PackedSequence, exp: PackedFixture, what: string) {
  same(p.batchSizes, exp.batchSizes, `${what} batchSizes`);
  same(p.sortedIndices, exp.sortedIndices, `${what} sortedIndices`);
  same(p.unsortedIndices, exp.unsortedIndices, `${what} unsortedIndices`);
  await assertTensor(p.data, exp.data, `${what} data`);
}

/** What a case produced: outputs by upstream key, the packed sequence, the lengths. */
interface Result {
  outputs: Record<string, Tensor>;
  packed?: PackedSequence;
  lengths?: number[];
}

/** The case's function on its inputs: the outputs by upstream key, and a PackedSequence. */
function runFunction(c: PackedCase, x: Record<string, Tensor>): Result {
  const seqs = Object.keys(c.inputs).filter((k) => k.startsWith("seq")).map((k) => x[k]);
  switch (c.fn) {
    case "packPaddedSequence": {
      const p = packPaddedSequence(x.input, c.args.lengths, c.args);
      return { outputs: { data: p.data }, packed: p };
    }
    case "padPackedSequence": {
      const p = packPaddedSequence(x.input, c.args.lengths, {
        enforceSorted: c.args.enforceSorted,
      });
      const [output, lengths] = padPackedSequence(p, c.args);
      return { outputs: { output }, packed: p, lengths };
    }
    case "padSequence":
      return { outputs: { output: padSequence(seqs, c.args) } };
    case "packSequence": {
      const p = packSequence(seqs, c.args);
      return { outputs: { data: p.data }, packed: p };
    }
  }
  throw new Error(`unknown function ${c.fn}`);
}

/** The case's module over the packed input; outputs by fixture key and the packed output. */
// deno-lint-ignore no-explicit-any
function runModule(c: PackedCase, m: any, x: Record<string, Tensor>): Result {
  const input = packPaddedSequence(x.input, c.lengths!, {
    batchFirst: c.args.batchFirst,
    enforceSorted: c.enforceSorted,
  });
  let out: PackedSequence;
  const hidden: Record<string, Tensor> = {};
  if (c.module === "LSTM") [out, [hidden.hN, hidden.cN]] = m.forward(input, x.h0 && [x.h0, x.c0]);
  else [out, hidden.hN] = m.forward(input, x.h0);
  if (!(out instanceof PackedSequence)) throw new Error(`${c.name}: output is not packed`);
  const [output] = padPackedSequence(out, { batchFirst: c.args.batchFirst });
  return { outputs: { output, ...hidden }, packed: out };
}

for (const c of cases) {
  test(`packed ${c.kind} ${c.name}`, async () => {
    const m = c.kind === "module" ? buildModule(c.module!, c.args) : null;
    m?.loadStateDict(c.state!);
    const x: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      x[k] = tensor(v.data, v.shape);
      x[k].requiresGrad = true;
    }
    const r = tidy(() => {
      const res = m ? runModule(c, m, x) : runFunction(c, x);
      const terms = Object.entries(res.outputs).map(([k, t]) => {
        const up = c.upstream[k];
        return ops.sum(ops.mul(t, tensor(up.data, up.shape)));
      });
      terms.reduce((a, b) => ops.add(a, b)).backward();
      return res;
    });
    try {
      if (c.packed && r.packed) await assertPacked(r.packed, c.packed, `${c.name} packed`);
      for (const [k, exp] of Object.entries(c.outputs ?? {})) {
        await assertTensor(r.outputs[k], exp, `${c.name} ${k}`);
      }
      if ("lengths" in c && c.kind === "function") {
        same(r.lengths!, c.lengths!, `${c.name} lengths`);
      }
      const params = m?.stateDict() ?? {};
      for (const [k, exp] of Object.entries(c.grads)) {
        await assertTensor((x[k] ?? params[k]).grad, exp, `${c.name} grad ${k}`);
      }
    } finally {
      const outs = [...Object.values(r.outputs), ...(r.packed ? [r.packed.data] : [])];
      for (const t of new Set([...outs, ...Object.values(x)])) {
        t.grad?.dispose();
        t.dispose();
      }
      m?.dispose();
    }
  });
}
