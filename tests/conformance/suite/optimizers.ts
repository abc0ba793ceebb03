/** A few optimizer steps on small models, from PyTorch's initial weights. */
import {
  Adam,
  AdamW,
  CrossEntropyLoss,
  intTensor,
  ops,
  type Optimizer,
  RMSprop,
  SGD,
  type Tensor,
  tensor,
  trainStep,
} from "@rnnkit/core";
import { assertClose, assertTensor, tolerance } from "../check.ts";
import { optimizerCases } from "../fixtures.ts";
import { test } from "../registry.ts";
import { buildModule } from "./modules.ts";

const OPTIMIZERS = { SGD, Adam, AdamW, RMSprop };

for (const c of optimizerCases) {
  test(`optimizer ${c.optimizer} ${c.name}`, async () => {
    const model = buildModule(c.model.module, c.model.args);
    model.loadStateDict(c.model.state);
    const opt: Optimizer = new OPTIMIZERS[c.optimizer](model.parameters(), c.options);
    const x = tensor(c.data.input.data, c.data.input.shape);
    const y = intTensor(c.data.target.data, c.data.target.shape);
    const ce = new CrossEntropyLoss();
    const forward = () => {
      const out: Tensor = c.model.module === "RNN" ? model.forward(x)[0] : model.forward(x);
      return ce.forward(ops.reshape(out, [y.size, -1]), y);
    };
    // Errors compound over steps: allow a little more than one op's tolerance.
    const tol = { atol: tolerance().atol * 10, rtol: tolerance().rtol * 10 };
    try {
      const losses: number[] = [];
      const norms: number[] = [];
      for (let s = 0; s < c.steps; s++) {
        const r = await trainStep(opt, forward, { clipGradNorm: c.clipGradNorm });
        losses.push(r.loss);
        if (r.gradNorm !== undefined) norms.push(r.gradNorm);
      }
      assertClose(losses, c.losses, `${c.name} losses`, tol);
      if (c.gradNorms) assertClose(norms, c.gradNorms, `${c.name} grad norms`, tol);
      const state = model.stateDict();
      for (const [k, exp] of Object.entries(c.finalState)) {
        await assertTensor(state[k], exp, `${c.name} final ${k}`, tol);
      }
    } finally {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    }
  });
}
