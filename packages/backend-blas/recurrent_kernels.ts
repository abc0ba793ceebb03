/**
 * FusedOps.recurrentForward / recurrentBackward on host memory: per time step one sgemm
 * for the recurrent projection, then one pass over [batch, hidden] doing all the gate math
 * (PyTorch's, as in core's recurrence.ts). Everything a step needs later is written into
 * `saved` once; no per-step allocations.
 *
 * Layouts, per row (one batch element of one step): LSTM saved = [i, f, g, o, c, tanh c],
 * GRU saved = [r, z, n, hn] where hn = W_hn h + b_hn; RNN saves nothing (h is the output).
 */
import type { Handle, RecurrentArgs } from "@rnnkit/core";
import type { Blas } from "./openblas.ts";
import { F, H, type HostMemory } from "./host_tensor.ts";
import { sigmoid, tanh } from "./fast_math.ts";

const GATES = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 } as const;
const SAVED = { RNN_TANH: 0, RNN_RELU: 0, LSTM: 6, GRU: 4 } as const;

/** Steps in the order they run. */
function stepOrder(seq: number, reverse: boolean): number[] {
  return Array.from({ length: seq }, (_, k) => (reverse ? seq - 1 - k : k));
}

/** Where one step's rows are: the step's offset into the [seq*batch, width] tensors. */
interface Rows {
  /** xp / dxp / dhp row of batch element b: (t*batch + b) * gates*hidden */
  x: number;
  /** hp row: b * gates*hidden */
  p: number;
  /** h / dh row: b * hidden */
  h: number;
  /** saved row: (t*batch + b) * savedWidth*hidden */
  s: number;
  /** output / gOut row: (t*batch + b) * hidden */
  o: number;
}

/** The forward gate math of one batch row: reads xp, hp, hPrev (and cPrev), writes h. */
type ForwardRow = (
  n: number,
  r: Rows,
  xp: Float32Array,
  hp: Float32Array,
  bHh: Float32Array | null,
  hPrev: Float32Array,
  cPrev: number | Float32Array,
  sv: Float32Array,
  hNext: Float32Array,
) => void;

const FORWARD: Record<RecurrentArgs["mode"], ForwardRow> = {
  RNN_TANH: (n, r, xp, hp, bHh, _h, _c, _sv, out) => {
    for (let j = 0; j < n; j++) {
      out[r.o + j] = tanh(xp[r.x + j] + hp[r.p + j] + (bHh ? bHh[j] : 0));
    }
  },
  RNN_RELU: (n, r, xp, hp, bHh, _h, _c, _sv, out) => {
    for (let j = 0; j < n; j++) {
      const v = xp[r.x + j] + hp[r.p + j] + (bHh ? bHh[j] : 0);
      out[r.o + j] = v > 0 ? v : 0;
    }
  },
  LSTM: (n, r, xp, hp, bHh, _h, cPrev, sv, out) => {
    const c = cPrev as Float32Array;
    for (let j = 0; j < n; j++) {
      const x = r.x + j;
      const p = r.p + j;
      const i = sigmoid(xp[x] + hp[p] + (bHh ? bHh[j] : 0));
      const f = sigmoid(xp[x + n] + hp[p + n] + (bHh ? bHh[n + j] : 0));
      const g = tanh(xp[x + 2 * n] + hp[p + 2 * n] + (bHh ? bHh[2 * n + j] : 0));
      const o = sigmoid(xp[x + 3 * n] + hp[p + 3 * n] + (bHh ? bHh[3 * n + j] : 0));
      const cNext = f * c[r.h + j] + i * g;
      const tc = tanh(cNext);
      const s = r.s + j;
      sv[s] = i;
      sv[s + n] = f;
      sv[s + 2 * n] = g;
      sv[s + 3 * n] = o;
      sv[s + 4 * n] = cNext;
      sv[s + 5 * n] = tc;
      out[r.o + j] = o * tc;
    }
  },
  GRU: (n, r, xp, hp, bHh, hPrev, _c, sv, out) => {
    for (let j = 0; j < n; j++) {
      const rr = sigmoid(xp[r.x + j] + hp[r.p + j] + (bHh ? bHh[j] : 0));
      const z = sigmoid(xp[r.x + n + j] + hp[r.p + n + j] + (bHh ? bHh[n + j] : 0));
      const hn = hp[r.p + 2 * n + j] + (bHh ? bHh[2 * n + j] : 0);
      const nn = tanh(xp[r.x + 2 * n + j] + rr * hn);
      sv[r.s + j] = rr;
      sv[r.s + n + j] = z;
      sv[r.s + 2 * n + j] = nn;
      sv[r.s + 3 * n + j] = hn;
      out[r.o + j] = nn + z * (hPrev[r.h + j] - nn);
    }
  },
};

export function recurrentForward(mem: HostMemory, blas: Blas, a: RecurrentArgs) {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const g = GATES[mode] * n;
  const s = SAVED[mode] * n;
  const [xp, wHh, bHh] = [F(a.xp), F(a.wHh), a.bHh ? F(a.bHh) : null];
  const output = mem.float([seq * batch, n]);
  const saved = mem.float([seq * batch, s]);
  const out = output.store.data;
  const sv = saved.store.data;
  const hp = new Float32Array(batch * g);
  // The running state, [batch, hidden]: h is the previous step's output rows; c lives in
  // `saved` (copied here so that the row math reads one layout).
  let h = F(a.h0);
  const c = a.c0 ? F(a.c0).slice() : new Float32Array(0);
  const row: Rows = { x: 0, p: 0, h: 0, s: 0, o: 0 };
  const forwardRow = FORWARD[mode];
  for (const t of stepOrder(seq, reverse)) {
    blas.sgemm(false, true, batch, g, n, h, wHh, hp);
    const hNext = out.subarray(t * batch * n, (t + 1) * batch * n);
    for (let b = 0; b < batch; b++) {
      row.x = (t * batch + b) * g;
      row.p = b * g;
      row.h = row.o = b * n;
      row.s = (t * batch + b) * s;
      forwardRow(n, row, xp, hp, bHh, h, c, sv, hNext);
      if (mode === "LSTM") c.set(sv.subarray(row.s + 4 * n, row.s + 5 * n), b * n);
    }
    h = hNext;
  }
  const hN = mem.float([batch, n]);
  hN.store.data.set(h);
  const cN = mode === "LSTM" ? mem.float([batch, n]) : undefined;
  cN?.store.data.set(c);
  return { output: H(output), h: H(hN), c: cN && H(cN), saved: H(saved) };
}

/**
 * The backward gate math of one batch row: from dh (the gradient reaching h, output
 * gradient included) writes the pre-activation gradients (dxp, and dhp where it differs)
 * and updates dc in place; GRU also writes its direct path dh*z into `dhPrev`.
 */
type BackwardRow = (
  n: number,
  r: Rows,
  dh: Float32Array,
  gOut: Float32Array,
  out: Float32Array,
  sv: Float32Array,
  hPrev: Float32Array,
  cPrev: Float32Array,
  dc: Float32Array,
  dxp: Float32Array,
  dhp: Float32Array,
  dhPrev: Float32Array,
) => void;

const BACKWARD: Record<RecurrentArgs["mode"], BackwardRow> = {
  RNN_TANH: (n, r, dh, gOut, out, _sv, _h, _c, _dc, dxp) => {
    for (let j = 0; j < n; j++) {
      const y = out[r.o + j];
      dxp[r.x + j] = (dh[r.h + j] + gOut[r.o + j]) * (1 - y * y);
    }
  },
  RNN_RELU: (n, r, dh, gOut, out, _sv, _h, _c, _dc, dxp) => {
    for (let j = 0; j < n; j++) dxp[r.x + j] = out[r.o + j] > 0 ? dh[r.h + j] + gOut[r.o + j] : 0;
  },
  LSTM: (n, r, dh, gOut, _out, sv, _h, cPrev, dc, dxp) => {
    for (let j = 0; j < n; j++) {
      const dhj = dh[r.h + j] + gOut[r.o + j];
      const i = sv[r.s + j];
      const f = sv[r.s + n + j];
      const g = sv[r.s + 2 * n + j];
      const o = sv[r.s + 3 * n + j];
      const tc = sv[r.s + 5 * n + j];
      const dcTotal = dc[r.h + j] + dhj * o * (1 - tc * tc);
      dxp[r.x + j] = dcTotal * g * i * (1 - i);
      dxp[r.x + n + j] = dcTotal * cPrev[r.h + j] * f * (1 - f);
      dxp[r.x + 2 * n + j] = dcTotal * i * (1 - g * g);
      dxp[r.x + 3 * n + j] = dhj * tc * o * (1 - o);
      dc[r.h + j] = dcTotal * f;
    }
  },
  GRU: (n, r, dh, gOut, _out, sv, hPrev, _c, _dc, dxp, dhp, dhPrev) => {
    for (let j = 0; j < n; j++) {
      const dhj = dh[r.h + j] + gOut[r.o + j];
      const rr = sv[r.s + j];
      const z = sv[r.s + n + j];
      const nn = sv[r.s + 2 * n + j];
      const hn = sv[r.s + 3 * n + j];
      const dn = (dhj - dhj * z) * (1 - nn * nn);
      const dr = dn * hn * rr * (1 - rr);
      const dz = dhj * (hPrev[r.h + j] - nn) * z * (1 - z);
      dxp[r.x + j] = dhp[r.x + j] = dr;
      dxp[r.x + n + j] = dhp[r.x + n + j] = dz;
      dxp[r.x + 2 * n + j] = dn;
      dhp[r.x + 2 * n + j] = dn * rr;
      dhPrev[r.h + j] = dhj * z;
    }
  },
};

export function recurrentBackward(
  mem: HostMemory,
  blas: Blas,
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
  // The state a step started from: the previous step's output rows (or h0), and for LSTM
  // its c, gathered from `saved` into cPrev.
  const stateBefore = (k: number) =>
    k > 0 ? out.subarray(order[k - 1] * batch * n, (order[k - 1] + 1) * batch * n) : F(a.h0);
  const cPrev = new Float32Array(mode === "LSTM" ? batch * n : 0);
  // dh ping-pongs between two buffers; dc is updated in place.
  let dh = F(a.gH).slice();
  let dhPrev = new Float32Array(batch * n);
  const dc = a.gC ? F(a.gC).slice() : new Float32Array(mode === "LSTM" ? batch * n : 0);
  const row: Rows = { x: 0, p: 0, h: 0, s: 0, o: 0 };
  const backwardRow = BACKWARD[mode];
  for (let k = seq - 1; k >= 0; k--) {
    const t = order[k];
    const hPrev = stateBefore(k);
    if (mode === "LSTM") {
      for (let b = 0; b < batch; b++) {
        const from = k > 0 ? (order[k - 1] * batch + b) * s + 4 * n : -1;
        if (from >= 0) cPrev.set(sv.subarray(from, from + n), b * n);
        else cPrev.set(F(a.c0!).subarray(b * n, (b + 1) * n), b * n);
      }
    }
    for (let b = 0; b < batch; b++) {
      row.x = (t * batch + b) * g;
      row.h = b * n;
      row.s = (t * batch + b) * s;
      row.o = (t * batch + b) * n;
      backwardRow(n, row, dh, gOut, out, sv, hPrev, cPrev, dc, dxp, dhp, dhPrev);
    }
    // dL/dh_prev = dhp_t @ W_hh, added to GRU's direct path already in dhPrev.
    const dhpStep = dhp.subarray(t * batch * g, (t + 1) * batch * g);
    blas.sgemm(false, false, batch, n, g, dhpStep, wHh, dhPrev, mode === "GRU" ? 1 : 0);
    [dh, dhPrev] = [dhPrev, dh];
  }
  const dh0 = mem.float([batch, n]);
  dh0.store.data.set(dh);
  const dc0 = mode === "LSTM" ? mem.float([batch, n]) : undefined;
  dc0?.store.data.set(dc);
  return { dxp: H(dxpT), dhp: dhpT && H(dhpT), dh0: H(dh0), dc0: dc0 && H(dc0) };
}
