/**
 * Every loss against PyTorch (tests/fixtures/losses.json): each reduction, class weights,
 * ignored targets, label smoothing, extra dims and unbatched inputs, posWeight, the clamps;
 * the output and the gradients of sum(output * upstream) for the input (and the target,
 * where PyTorch differentiates it).
 */
import {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  HuberLoss,
  intTensor,
  L1Loss,
  type Loss,
  MSELoss,
  NLLLoss,
  ops,
  SmoothL1Loss,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";
import { assertTensor } from "../check.ts";
import { lossCases } from "../fixtures.ts";
import { test } from "../registry.ts";

// deno-lint-ignore no-explicit-any
const LOSSES: Record<string, new (options: any) => Loss> = {
  CrossEntropyLoss,
  NLLLoss,
  MSELoss,
  L1Loss,
  SmoothL1Loss,
  HuberLoss,
  BCELoss,
  BCEWithLogitsLoss,
};
/** Losses of int32 class targets. */
const CLASS_TARGETS = new Set(["CrossEntropyLoss", "NLLLoss"]);
/** Inputs passed as options (tensors that get no gradient). */
const OPTION_TENSORS = ["weight", "posWeight"];

for (const c of lossCases) {
  test(`loss ${c.name}`, async () => {
    const { input, target } = c.inputs;
    const x = tensor(input.data, input.shape).requiresGrad_();
    const y = CLASS_TARGETS.has(c.module)
      ? intTensor(target.data, target.shape)
      : tensor(target.data, target.shape).requiresGrad_("target" in c.grads);
    const options: Record<string, unknown> = { ...c.args };
    const held: Tensor[] = [];
    for (const k of OPTION_TENSORS) {
      const v = c.inputs[k];
      if (v) held.push((options[k] = tensor(v.data, v.shape)) as Tensor);
    }
    const out = tidy(() => {
      const loss = new LOSSES[c.module](options).forward(x, y);
      const up = c.upstream.output;
      ops.sum(ops.mul(loss, tensor(up.data, up.shape))).backward();
      return loss;
    });
    try {
      await assertTensor(out, c.outputs.output, `${c.name} output`);
      await assertTensor(x.grad, c.grads.input, `${c.name} grad input`);
      if (c.grads.target) await assertTensor(y.grad, c.grads.target, `${c.name} grad target`);
    } finally {
      for (const t of [out, x.grad, y.grad, x, y, ...held]) t?.dispose();
    }
  });
}
