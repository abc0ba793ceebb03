import { add, div, full, mul, relu, sqrt, sub, sum } from "../ops.ts";
import { noGrad, type Tensor } from "../tensor.ts";

/**
 * Scales every gradient so that their global L2 norm is at most `maxNorm`, as PyTorch's
 * `clip_grad_norm_`. Returns the norm before clipping as a scalar tensor: computed on the
 * backend, so clipping never forces a read-back.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new Error(`rnnkit: clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const withGrad = [...params].filter((p) => p.grad);
  return noGrad(() => {
    if (withGrad.length === 0) return full([], 0);
    const total = sqrt(withGrad.map((p) => sum(mul(p.grad!, p.grad!))).reduce((a, b) => add(a, b)));
    const one = full([], 1);
    const coef = div(full([], maxNorm), add(total, full([], 1e-6)));
    // min(coef, 1) without a minimum op: 1 - relu(1 - coef).
    const clamped = sub(one, relu(sub(one, coef)));
    for (const p of withGrad) p.grad!.assign(mul(p.grad!, clamped));
    return total;
  });
}
