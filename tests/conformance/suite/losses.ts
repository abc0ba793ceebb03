/** CrossEntropyLoss fixtures: every reduction, ignoreIndex and label smoothing. */
import { CrossEntropyLoss, intTensor, ops, tensor, tidy } from "@rnnkit/core";
import { assertTensor } from "../check.ts";
import { lossCases } from "../fixtures.ts";
import { test } from "../registry.ts";

for (const c of lossCases) {
  test(`loss ${c.name}`, async () => {
    const { input, target } = c.inputs;
    const x = tensor(input.data, input.shape);
    x.requiresGrad = true;
    const y = intTensor(target.data, target.shape);
    const out = tidy(() => {
      const loss = new CrossEntropyLoss(c.args).forward(x, y);
      const up = c.upstream.output;
      ops.sum(ops.mul(loss, tensor(up.data, up.shape))).backward();
      return loss;
    });
    try {
      await assertTensor(out, c.outputs.output, `${c.name} output`);
      await assertTensor(x.grad, c.grads.input, `${c.name} grad input`);
    } finally {
      for (const t of [out, x.grad!, x, y]) t?.dispose();
    }
  });
}
