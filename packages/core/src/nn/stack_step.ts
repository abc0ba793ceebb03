/**
 * One time step of a whole stack of layers in one backend call (`fused.recurrentStackStep`)
 * where nothing needs a gradient: generation feeds one token at a time, and there the
 * ~10 ops per layer of `recurrentLayer` cost more in dispatch than the step's arithmetic.
 */
import type { RecurrentMode } from "../backend.ts";
import { getBackend } from "../engine.ts";
import { reshape, split } from "../ops.ts";
import { needsGrad, Tensor } from "../tensor.ts";
import type { Weights } from "./recurrence.ts";

/**
 * One step of x [1, batch, input] through every layer from h0 (and c0, LSTM)
 * [layers, batch, hidden]: the last layer's new h [batch, hidden] and every layer's, or
 * undefined where the fused op does not apply: the backend lacks it, more than one step,
 * a projection (W_hr), or anything that needs a gradient. The caller leaves out what the
 * op does not model (a second direction, dropout between layers).
 */
export function fusedStackStep(
  mode: RecurrentMode,
  x: Tensor,
  h0: Tensor,
  c0: Tensor | undefined,
  weights: Weights[],
): { output: Tensor; h: Tensor; c?: Tensor } | undefined {
  const step = getBackend().fused?.recurrentStackStep;
  const [seq, batch, input] = x.shape;
  if (!step || seq !== 1 || weights.some((w) => w.wHr)) return undefined;
  const params = weights.flatMap((w) => [w.wIh, w.wHh, w.bIh, w.bHh]).filter((t) => t !== null);
  if (needsGrad([x, h0, ...(c0 ? [c0] : []), ...params])) return undefined;
  const r = step({
    mode,
    batch,
    hidden: h0.shape[2],
    x: reshape(x, [batch, input]).handle,
    h: h0.handle,
    c: c0?.handle,
    layers: weights.map((w) => ({
      wIh: w.wIh.handle,
      wHh: w.wHh.handle,
      bIh: w.bIh?.handle ?? null,
      bHh: w.bHh?.handle ?? null,
    })),
  });
  const h = new Tensor(r.h, h0.shape);
  const L = weights.length;
  const last = L === 1 ? h : split(h, [L - 1, 1], 0)[1];
  return {
    output: reshape(last, [batch, h0.shape[2]]),
    h,
    c: r.c && new Tensor(r.c, h0.shape),
  };
}
