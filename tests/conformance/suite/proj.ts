/**
 * LSTM with projSize against PyTorch (tests/fixtures/proj.json, made by proj_gen.py): the
 * weights `Random(seed)` draws must be PyTorch's for that seed (same keys, same order, same
 * bits); then, on a padded, unbatched or packed input, the output, hN, cN and the gradients
 * of the input, h0, c0 and every parameter, weight_hr included.
 */
import {
  LSTM,
  type LSTMOptions,
  ops,
  PackedSequence,
  packPaddedSequence,
  padPackedSequence,
  Random,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";
import proj from "../../fixtures/proj.json" with { type: "json" };
import { assertTensor, type HostTensor } from "../check.ts";
import { test } from "../registry.ts";

type Tensors = Record<string, HostTensor>;

interface ProjCase {
  name: string;
  seed: number;
  args: LSTMOptions & { inputSize: number; hiddenSize: number };
  lengths?: number[];
  enforceSorted?: boolean;
  packed?: {
    data: HostTensor;
    batchSizes: number[];
    sortedIndices: number[] | null;
    unsortedIndices: number[] | null;
  };
  state: Tensors;
  inputs: Tensors;
  outputs: Tensors;
  upstream: Tensors;
  grads: Tensors;
}

const EXACT = { atol: 0, rtol: 0 };

/** Runs the case's LSTM; returns its outputs by fixture key and the packed output if any. */
function run(
  c: ProjCase,
  m: LSTM,
  x: Record<string, Tensor>,
): { outputs: Record<string, Tensor>; packed?: PackedSequence } {
  const hx: [Tensor, Tensor] | undefined = x.h0 && [x.h0, x.c0];
  if (!c.lengths) {
    const [output, [hN, cN]] = m.forward(x.input, hx);
    return { outputs: { output, hN, cN } };
  }
  const input = packPaddedSequence(x.input, c.lengths, {
    batchFirst: c.args.batchFirst,
    enforceSorted: c.enforceSorted,
  });
  const [packed, [hN, cN]] = m.forward(input, hx);
  const [output] = padPackedSequence(packed, { batchFirst: c.args.batchFirst });
  return { outputs: { output, hN, cN }, packed };
}

for (const c of proj.cases as unknown as ProjCase[]) {
  test(`proj LSTM ${c.name}`, async () => {
    const m = new LSTM(c.args.inputSize, c.args.hiddenSize, { ...c.args, rng: new Random(c.seed) });
    const x: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      x[k] = tensor(v.data, v.shape);
      x[k].requiresGrad = true;
    }
    const r = tidy(() => {
      const res = run(c, m, x);
      const terms = Object.entries(res.outputs).map(([k, t]) => {
        const up = c.upstream[k];
        return ops.sum(ops.mul(t, tensor(up.data, up.shape)));
      });
      terms.reduce((a, b) => ops.add(a, b)).backward();
      return res;
    });
    try {
      const params = m.stateDict();
      const keys = Object.keys(params).join();
      if (keys !== Object.keys(c.state).join()) {
        throw new Error(`${c.name}: keys ${keys} != PyTorch's ${Object.keys(c.state)}`);
      }
      for (const [k, exp] of Object.entries(c.state)) {
        await assertTensor(params[k], exp, `${c.name} seed ${c.seed} ${k}`, EXACT);
      }
      if (c.packed) {
        if (!(r.packed instanceof PackedSequence)) throw new Error(`${c.name}: not packed`);
        if (r.packed.batchSizes.join() !== c.packed.batchSizes.join()) {
          throw new Error(`${c.name}: batchSizes ${r.packed.batchSizes} != ${c.packed.batchSizes}`);
        }
        await assertTensor(r.packed.data, c.packed.data, `${c.name} packed data`);
      }
      for (const [k, exp] of Object.entries(c.outputs)) {
        await assertTensor(r.outputs[k], exp, `${c.name} ${k}`);
      }
      for (const [k, exp] of Object.entries(c.grads)) {
        await assertTensor((x[k] ?? params[k]).grad, exp, `${c.name} grad ${k}`);
      }
    } finally {
      const outs = [...Object.values(r.outputs), ...(r.packed ? [r.packed.data] : [])];
      for (const t of new Set([...outs, ...Object.values(x)])) {
        t.grad?.dispose();
        t.dispose();
      }
      m.dispose();
    }
  });
}
