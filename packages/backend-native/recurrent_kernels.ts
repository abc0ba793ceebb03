/**
 * FusedOps.recurrentForward / recurrentBackward: per time step one sgemm for the recurrent
 * projection and one native call for the gate math of the whole batch (kernels.c's
 * rk_recurrent_forward / rk_recurrent_backward, which document the `saved` layouts).
 * Steps read and write their rows of the sequence tensors in place: no per-step copies.
 */
import {
  type Handle,
  RECURRENT_GATES as GATES,
  RECURRENT_SAVED as SAVED,
  type RecurrentArgs,
} from "@rnnkit/core/backend";
import type { Blas } from "./openblas.ts";
import { F, H, type HostMemory } from "./host_tensor.ts";
import { type Kernels, MODE } from "./kernels.ts";

/** Steps in the order they run. */
function stepOrder(seq: number, reverse: boolean): number[] {
  return Array.from({ length: seq }, (_, k) => (reverse ? seq - 1 - k : k));
}

/** Row block `t` of a [seq*batch, width] tensor: step t's rows. */
const rowsOf = (x: Float32Array, t: number, rows: number) => x.subarray(t * rows, (t + 1) * rows);

export function recurrentForward(mem: HostMemory, blas: Blas, k: Kernels, a: RecurrentArgs) {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const g = GATES[mode] * n;
  const output = mem.float([seq * batch, n]);
  const saved = mem.float([seq * batch, SAVED[mode] * n]);
  const [xp, wHh, bHh] = [F(a.xp), F(a.wHh), a.bHh ? F(a.bHh) : null];
  const [out, sv] = [output.store.data, saved.store.data];
  const hp = new Float32Array(batch * g);
  const c = a.c0 ? F(a.c0).slice() : null; // LSTM's cell state, updated in place
  let h = F(a.h0);
  for (const t of stepOrder(seq, reverse)) {
    blas.sgemm(false, true, batch, g, n, h, wHh, hp);
    const hNext = rowsOf(out, t, batch * n);
    const svT = rowsOf(sv, t, batch * SAVED[mode] * n);
    const xpT = rowsOf(xp, t, batch * g);
    k.rk_recurrent_forward(MODE[mode], batch, n, xpT, hp, bHh, h, c, svT, hNext);
    h = hNext;
  }
  const hN = mem.float([batch, n]);
  hN.store.data.set(h);
  const cN = c ? mem.float([batch, n]) : undefined;
  if (c && cN) cN.store.data.set(c);
  return { output: H(output), h: H(hN), c: cN && H(cN), saved: H(saved) };
}

export function recurrentBackward(
  mem: HostMemory,
  blas: Blas,
  k: Kernels,
  a: RecurrentArgs & { output: Handle; saved: Handle; gOut: Handle; gH: Handle; gC?: Handle },
) {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const g = GATES[mode] * n;
  const s = SAVED[mode] * n;
  const [wHh, out, sv, gOut] = [F(a.wHh), F(a.output), F(a.saved), F(a.gOut)];
  const dxpT = mem.float([seq * batch, g]);
  const dhpT = mode === "GRU" ? mem.float([seq * batch, g]) : undefined;
  const dxp = dxpT.store.data;
  const dhp = dhpT ? dhpT.store.data : dxp;
  const order = stepOrder(seq, reverse);
  // dh ping-pongs between two buffers; dc is updated in place.
  let dh = F(a.gH).slice();
  let dhPrev = new Float32Array(batch * n);
  const dc = mode !== "LSTM" ? null : a.gC ? F(a.gC).slice() : new Float32Array(batch * n);
  for (let i = seq - 1; i >= 0; i--) {
    const t = order[i];
    const prev = i > 0 ? order[i - 1] : -1; // the step whose state this one started from
    const hPrev = prev >= 0 ? rowsOf(out, prev, batch * n) : F(a.h0);
    // LSTM: the previous c is column block 4 of the previous step's saved rows, or c0.
    const [cPrev, cStride] = prev >= 0
      ? [sv.subarray(prev * batch * s + 4 * n), s]
      : [a.c0 ? F(a.c0) : null, n];
    const dhpStep = rowsOf(dhp, t, batch * g);
    k.rk_recurrent_backward(
      MODE[mode],
      batch,
      n,
      dh,
      rowsOf(gOut, t, batch * n),
      rowsOf(out, t, batch * n),
      rowsOf(sv, t, batch * s),
      hPrev,
      cPrev,
      cStride,
      dc,
      rowsOf(dxp, t, batch * g),
      dhpT ? dhpStep : null,
      dhPrev,
    );
    // dL/dh_prev = dhp_t @ W_hh, added to GRU's direct path already in dhPrev.
    blas.sgemm(false, false, batch, n, g, dhpStep, wHh, dhPrev, mode === "GRU" ? 1 : 0);
    [dh, dhPrev] = [dhPrev, dh];
  }
  const dh0 = mem.float([batch, n]);
  dh0.store.data.set(dh);
  const dc0 = dc ? mem.float([batch, n]) : undefined;
  if (dc && dc0) dc0.store.data.set(dc);
  return { dxp: H(dxpT), dhp: dhpT && H(dhpT), dh0: H(dh0), dc0: dc0 && H(dc0) };
}
