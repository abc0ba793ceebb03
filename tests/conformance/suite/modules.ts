/** Every module fixture: forward outputs and the gradients of inputs and parameters. */
import {
  Embedding,
  GRU,
  GRUCell,
  intTensor,
  Linear,
  LSTM,
  LSTMCell,
  type Module,
  ops,
  RNN,
  RNNCell,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";
import { assertTensor } from "../check.ts";
import { type ModuleCase, moduleCases } from "../fixtures.ts";
import { test } from "../registry.ts";

// deno-lint-ignore no-explicit-any
type Args = any;

/** Builds a module from fixture args (rnnkit's own camelCase names). */
export function buildModule(name: string, a: Args): Module & { forward(...x: Args[]): Args } {
  switch (name) {
    case "RNN":
      return new RNN(a.inputSize, a.hiddenSize, a);
    case "LSTM":
      return new LSTM(a.inputSize, a.hiddenSize, a);
    case "GRU":
      return new GRU(a.inputSize, a.hiddenSize, a);
    case "RNNCell":
      return new RNNCell(a.inputSize, a.hiddenSize, a);
    case "LSTMCell":
      return new LSTMCell(a.inputSize, a.hiddenSize, a);
    case "GRUCell":
      return new GRUCell(a.inputSize, a.hiddenSize, a);
    case "Linear":
      return new Linear(a.inFeatures, a.outFeatures, a);
    case "Embedding":
      return new Embedding(a.numEmbeddings, a.embeddingDim, a);
  }
  throw new Error(`unknown module ${name}`);
}

/** Runs the module's forward with the fixture inputs; returns outputs by fixture key. */
function forward(c: ModuleCase, m: Args, x: Record<string, Tensor>): Record<string, Tensor> {
  switch (c.module) {
    case "RNN":
    case "GRU": {
      const [output, hN] = m.forward(x.input, x.h0);
      return { output, hN };
    }
    case "LSTM": {
      const [output, [hN, cN]] = m.forward(x.input, x.h0 && [x.h0, x.c0]);
      return { output, hN, cN };
    }
    case "RNNCell":
    case "GRUCell":
      return { h: m.forward(x.input, x.hx) };
    case "LSTMCell": {
      const [h, c] = m.forward(x.input, x.hx && [x.hx, x.cx]);
      return { h, c };
    }
    case "Embedding":
      return { output: m.forward(x.indices) };
    default:
      return { output: m.forward(x.input) };
  }
}

for (const c of moduleCases) {
  test(`module ${c.module} ${c.name}`, async () => {
    const m = buildModule(c.module, c.args);
    m.loadStateDict(c.state);
    const x: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      x[k] = k === "indices" ? intTensor(v.data, v.shape) : tensor(v.data, v.shape);
      x[k].requiresGrad = k !== "indices";
    }
    const outs = tidy(() => {
      const y = forward(c, m, x);
      const terms = Object.entries(y).map(([k, t]) => {
        const up = c.upstream[k];
        return ops.sum(ops.mul(t, tensor(up.data, up.shape)));
      });
      terms.reduce((a, b) => ops.add(a, b)).backward();
      return y;
    });
    try {
      for (const [k, exp] of Object.entries(c.outputs)) {
        await assertTensor(outs[k], exp, `${c.name} ${k}`);
      }
      const params = m.stateDict();
      for (const [k, exp] of Object.entries(c.grads)) {
        await assertTensor((x[k] ?? params[k]).grad, exp, `${c.name} grad ${k}`);
      }
    } finally {
      for (const t of [...Object.values(outs), ...Object.values(x)]) {
        t.grad?.dispose();
        t.dispose();
      }
      m.dispose();
    }
  });
}
