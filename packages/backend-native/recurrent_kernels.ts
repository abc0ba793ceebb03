/**
 * FusedOps.recurrentForward / recurrentBackward: one native call per layer runs the whole
 * time loop (kernels.c's rk_recurrent_forward_loop / rk_recurrent_backward_loop: per step
 * the product with W_hh and the gate math of the batch, split by hidden unit over the
 * backend's threads). Steps read and write their rows of the sequence tensors in place: no
 * per-step copies or allocations.
 * The backward also gives W_hh's gradient: two products on the rows of h0 and the outputs
 * in place, where core would first copy them into one tensor.
 * FusedOps.recurrentStackStep: one native call per layer, products included
 * (rk_recurrent_cell_step).
 */
import {
  type Handle,
  RECURRENT_GATES as GATES,
  RECURRENT_SAVED as SAVED,
  type RecurrentArgs,
  type RecurrentStackStepArgs,
} from "@rnnkit/core/backend";
import { F, H, type HostMemory } from "./host_tensor.ts";
import { type Kernels, MODE } from "./kernels.ts";
import type { Blas } from "./openblas.ts";

/** Row block `t` of a [seq*batch, width] tensor: step t's rows. */
const rowsOf = (x: Float32Array, t: number, rows: number) => x.subarray(t * rows, (t + 1) * rows);

/** c = op(a) @ op(b) + beta c, k >= 1: the backend's product, called as OpenBLAS's sgemm. */
export type Product = Blas["sgemm"];

/** Lends n floats of working space (kept by the backend: no allocation per call). */
export type Scratch = (n: number) => Float32Array;

/**
 * Threads for a time loop: the backend's count, or one where a step's product is too small
 * to share. Below ~2^18 multiply-adds a step (GRU h32 at batch 32: 1e5), the barrier each
 * step costs more than the second thread saves (measured: GRU h32 slower on two, h64 1.3x
 * faster).
 */
function loopThreads(threads: number, batch: number, gates: number, n: number): number {
  return batch * gates * n >= 2 ** 18 ? threads : 1;
}

export function recurrentForward(
  mem: HostMemory,
  k: Kernels,
  threads: number,
  a: RecurrentArgs,
) {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const output = mem.float([seq * batch, n]);
  const saved = mem.float([seq * batch, SAVED[mode] * n]);
  const cN = a.c0 ? mem.float([batch, n]) : undefined; // LSTM's cell state, updated in place
  if (a.c0 && cN) cN.store.data.set(F(a.c0));
  const out = output.store.data;
  k.rk_recurrent_forward_loop(
    MODE[mode],
    seq,
    batch,
    n,
    reverse ? 1 : 0,
    loopThreads(threads, batch, GATES[mode] * n, n),
    F(a.xp),
    F(a.wHh),
    a.bHh ? F(a.bHh) : null,
    F(a.h0),
    cN ? cN.store.data : null,
    saved.store.data,
    out,
  );
  const hN = mem.float([batch, n]);
  hN.store.data.set(rowsOf(out, reverse ? 0 : seq - 1, batch * n));
  return { output: H(output), h: H(hN), c: cN && H(cN), saved: H(saved) };
}

export function recurrentBackward(
  mem: HostMemory,
  k: Kernels,
  product: Product,
  threads: number,
  a: RecurrentArgs & { output: Handle; saved: Handle; gOut: Handle; gH: Handle; gC?: Handle },
) {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const g = GATES[mode] * n;
  const dxp = mem.float([seq * batch, g]);
  const dhp = mode === "GRU" ? mem.float([seq * batch, g]) : undefined;
  // dh and dc start as the final state's gradients and end as the initial state's.
  const dh0 = mem.float([batch, n]);
  dh0.store.data.set(F(a.gH));
  const dc0 = mode === "LSTM" ? mem.float([batch, n]) : undefined;
  if (dc0) dc0.store.data.set(a.gC ? F(a.gC) : new Float32Array(batch * n));
  k.rk_recurrent_backward_loop(
    MODE[mode],
    seq,
    batch,
    n,
    reverse ? 1 : 0,
    loopThreads(threads, batch, g, n),
    F(a.wHh),
    F(a.output),
    F(a.saved),
    F(a.gOut),
    F(a.h0),
    a.c0 ? F(a.c0) : null,
    dh0.store.data,
    dc0 ? dc0.store.data : null,
    dxp.store.data,
    dhp ? dhp.store.data : null,
  );
  // dhp^T [h0; outputs before the last step] (the states each step started from; for
  // `reverse`, time runs the other way): the first step's rows with h0, then the rest.
  const dWhh = mem.float([g, n]);
  const d = (dhp ?? dxp).store.data;
  const [rows, out] = [seq * batch, F(a.output)];
  if (rows === 0) dWhh.store.data.fill(0);
  else {
    const first = reverse ? seq - 1 : 0;
    product(true, false, g, n, batch, rowsOf(d, first, batch * g), F(a.h0), dWhh.store.data);
    if (seq > 1) {
      const [dFrom, outFrom] = reverse ? [0, 1] : [1, 0];
      const steps = rows - batch;
      product(
        true,
        false,
        g,
        n,
        steps,
        d.subarray(dFrom * batch * g, dFrom * batch * g + steps * g),
        out.subarray(outFrom * batch * n, outFrom * batch * n + steps * n),
        dWhh.store.data,
        1,
      );
    }
  }
  return { dxp: H(dxp), dhp: dhp && H(dhp), dh0: H(dh0), dc0: dc0 && H(dc0), dWhh: H(dWhh) };
}

/** One step of every layer: layer l reads layer l-1's new h; allocates only its outputs. */
export function recurrentStackStep(
  mem: HostMemory,
  k: Kernels,
  scratch: Scratch,
  threads: number,
  a: RecurrentStackStepArgs,
) {
  const { mode, batch, hidden: n, layers } = a;
  const lstm = mode === "LSTM";
  const work = scratch(batch * (2 * GATES[mode] + SAVED[mode]) * n);
  const h = mem.float([layers.length, batch, n]);
  const c = lstm ? mem.float([layers.length, batch, n]) : null;
  const [h0, c0] = [F(a.h), lstm && a.c ? F(a.c) : null];
  let x = F(a.x);
  layers.forEach((l, i) => {
    const hOut = rowsOf(h.store.data, i, batch * n);
    k.rk_recurrent_cell_step(
      MODE[mode],
      batch,
      x.length / batch,
      n,
      threads,
      x,
      F(l.wIh),
      l.bIh && F(l.bIh),
      F(l.wHh),
      l.bHh && F(l.bHh),
      rowsOf(h0, i, batch * n),
      c0 && rowsOf(c0, i, batch * n),
      work,
      hOut,
      c && rowsOf(c.store.data, i, batch * n),
    );
    x = hOut;
  });
  return { h: H(h), c: c ? H(c) : undefined };
}
