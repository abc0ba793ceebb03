/**
 * Autograd semantics against PyTorch (tests/fixtures/autograd.json): a retained graph
 * walked twice (through plain ops and through a recurrent layer's own backward), gradients
 * accumulating across two graphs, detach, zero_ and setToNone between backward calls, and
 * a leaf that stopped requiring gradients. The programs are autograd_gen.py's, op for op.
 */
import { LSTM, ops, type Tensor, tensor, tidy } from "@rnnkit/core";
import autograd from "../../fixtures/autograd.json" with { type: "json" };
import { assertTensor, type HostTensor } from "../check.ts";
import { test } from "../registry.ts";

interface AutogradCase {
  name: string;
  inputs: Record<"x" | "w" | "u1" | "u2", HostTensor>;
  state: Record<string, HostTensor>;
  grads: Record<string, HostTensor | null>;
}

const { matmul, mul, sigmoid, sum, tanh } = ops;

function run(name: string, x: Tensor, w: Tensor, u1: Tensor, u2: Tensor, lstm?: LSTM) {
  switch (name) {
    case "retained_twice": {
      const y = tanh(matmul(x, w));
      y.backward(u1, { retainGraph: true });
      y.backward(u2);
      return;
    }
    case "two_graphs":
    case "zero_then_backward":
      sum(mul(tanh(matmul(x, w)), u1)).backward();
      if (name === "zero_then_backward") {
        x.grad!.zero_();
        w.grad!.dispose();
        w.grad = null;
      }
      sum(mul(sigmoid(matmul(x, w)), u2)).backward();
      return;
    case "detach": {
      const z = matmul(x, w);
      sum(mul(mul(z.detach(), z), u1)).backward();
      return;
    }
    case "frozen_leaf":
      w.requiresGrad_(false);
      sum(mul(tanh(matmul(x, w)), u1)).backward();
      return;
    case "lstm_retained": {
      const [y] = lstm!.forward(x.reshape([1, 5, 3]));
      y.backward(u1.reshape([1, 5, 4]), { retainGraph: true });
      y.backward(u2.reshape([1, 5, 4]));
      return;
    }
  }
  throw new Error(`unknown autograd program ${name}`);
}

for (const c of autograd.cases as unknown as AutogradCase[]) {
  test(`autograd ${c.name}`, async () => {
    const [x, w, u1, u2] = (["x", "w", "u1", "u2"] as const).map((k) =>
      tensor(c.inputs[k].data, c.inputs[k].shape)
    );
    x.requiresGrad_();
    w.requiresGrad_();
    let lstm: LSTM | undefined;
    if (c.name === "lstm_retained") {
      lstm = new LSTM(3, 4);
      lstm.loadStateDict(c.state);
    }
    try {
      tidy(() => run(c.name, x, w, u1, u2, lstm));
      const got: Record<string, Tensor | null> = {
        x: x.grad,
        w: w.grad,
        ...Object.fromEntries(Object.entries(lstm?.stateDict() ?? {}).map(([k, p]) => [k, p.grad])),
      };
      for (const [k, expected] of Object.entries(c.grads)) {
        if (expected === null) {
          if (got[k] !== null) throw new Error(`${c.name}: ${k}.grad should be null, as PyTorch's`);
        } else await assertTensor(got[k], expected, `${c.name} grad ${k}`);
      }
    } finally {
      for (const t of [x, w, u1, u2]) {
        t.grad?.dispose();
        t.dispose();
      }
      lstm?.dispose();
    }
  });
}
