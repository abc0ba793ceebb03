/**
 * One recurrent layer in one direction over a whole sequence, as a single autograd node
 * with a hand-written backward pass (the cuDNN approach):
 * - forward: the input projection of every step is one matmul; W_hh is transposed once
 *   (for more than one step); the loop does one matmul plus the gate math per step;
 * - backward: the loop only propagates through time (dh @ W_hh per step); the weight
 *   gradients of all steps come from one matmul each, after the loop.
 * This records one node instead of ~10 per step and avoids per-step transposes, which
 * some backends (tfjs-wasm) run 10-40x slower than plain matmuls. The forward math is
 * recurrence.ts's `stepForward`, the same the cells use; the parity fixtures check both.
 */
import {
  add,
  concat,
  matmul,
  mul,
  reshape,
  sigmoidGrad,
  split,
  stepMask,
  sub,
  sum,
  tanhGrad,
  transpose,
} from "../ops.ts";
import { needsGrad, noGrad, type Tensor } from "../tensor.ts";
import { type Mode, type State, stepForward, type Weights } from "./recurrence.ts";

/** What one step keeps for the backward pass. */
interface Saved {
  hPrev: Tensor;
  cPrev?: Tensor;
  /** Activations: [h] (RNN); [i, f, g, o, tanh(c)] (LSTM); [r, z, n, hn] (GRU). */
  acts: Tensor[];
}

/**
 * Gradients of one step's pre-activations given dL/dh' (and dL/dc' for LSTM): dxp for the
 * input projection, dhp for the hidden projection, plus what flows to h and c directly.
 */
function backwardStep(mode: Mode, s: Saved, dh: Tensor, dc: Tensor | undefined) {
  switch (mode) {
    case "RNN_TANH":
    case "RNN_RELU": {
      const [h] = s.acts;
      const da = mode === "RNN_TANH" ? tanhGrad(dh, h) : mul(dh, stepMask(h));
      return { dxp: da, dhp: da };
    }
    case "LSTM": {
      const [i, f, g, o, tc] = s.acts;
      const dcTotal = add(dc!, tanhGrad(mul(dh, o), tc));
      const dGates = concat([
        sigmoidGrad(mul(dcTotal, g), i),
        sigmoidGrad(mul(dcTotal, s.cPrev!), f),
        tanhGrad(mul(dcTotal, i), g),
        sigmoidGrad(mul(dh, tc), o),
      ], 1);
      return { dxp: dGates, dhp: dGates, dcPrev: mul(dcTotal, f) };
    }
    case "GRU": {
      const [r, z, n, hn] = s.acts;
      // h' = n + z (h - n)
      const dn = tanhGrad(sub(dh, mul(dh, z)), n);
      const dr = sigmoidGrad(mul(dn, hn), r);
      const dz = sigmoidGrad(mul(dh, sub(s.hPrev, n)), z);
      return {
        dxp: concat([dr, dz, dn], 1),
        dhp: concat([dr, dz, mul(dn, r)], 1),
        dhDirect: mul(dh, z),
      };
    }
  }
}

/**
 * Runs `mode` over x [seq, batch, input] from `state`, backwards in time if `reverse`.
 * Returns the outputs [seq, batch, hidden] (in time order) and the final state.
 */
export function recurrentLayer(
  mode: Mode,
  x: Tensor,
  state: State,
  w: Weights,
  reverse: boolean,
): { output: Tensor; state: State } {
  const [seq, batch, input] = x.shape;
  const size = state.h.shape[1];
  const steps = Array(seq).fill(batch);
  const order = [...Array(seq).keys()].map((k) => (reverse ? seq - 1 - k : k));
  const saved: Saved[] = new Array(seq);

  const fwd = noGrad(() => {
    const x2 = reshape(x, [seq * batch, input]);
    const xp = matmul(x2, w.wIh, false, true);
    const xps = split(w.bIh ? add(xp, w.bIh) : xp, steps, 0);
    // One transpose of W_hh up front beats a transposed matmul at every step, except for a
    // single step (generation), where the flag is cheapest.
    const wHhT = seq > 1 ? transpose(w.wHh, [1, 0]) : null;
    let h = state.h;
    let c = state.c;
    const outs: Tensor[] = new Array(seq);
    for (const t of order) {
      const hp = wHhT ? matmul(h, wHhT) : matmul(h, w.wHh, false, true);
      const step = stepForward(mode, xps[t], w.bHh ? add(hp, w.bHh) : hp, h, c);
      saved[t] = { hPrev: h, cPrev: c, acts: step.acts };
      h = outs[t] = step.h;
      c = step.c;
    }
    return { x2, output: reshape(concat(outs, 0), [seq, batch, size]), h, c };
  });

  const biases = [w.bIh, w.bHh].filter((b): b is Tensor => b !== null);
  const inputs = [x, state.h, ...(state.c ? [state.c] : []), w.wIh, w.wHh, ...biases];
  const outputs = [fwd.output, fwd.h, ...(fwd.c ? [fwd.c] : [])];
  if (needsGrad(inputs)) {
    const node = {
      name: `recurrentLayer(${mode})`,
      inputs,
      outputs,
      backward: ([gOut, gH, gC]: Tensor[]) => {
        const gOuts = split(reshape(gOut, [seq * batch, size]), steps, 0);
        let dh = gH;
        let dc: Tensor | undefined = gC;
        const dxps: Tensor[] = new Array(seq);
        const dhps: Tensor[] = new Array(seq);
        for (const t of [...order].reverse()) {
          const r = backwardStep(mode, saved[t], add(dh, gOuts[t]), dc);
          dxps[t] = r.dxp;
          dhps[t] = r.dhp;
          dh = matmul(r.dhp, w.wHh);
          if (r.dhDirect) dh = add(dh, r.dhDirect);
          dc = r.dcPrev;
        }
        // All steps' weight gradients at once: [gates*hidden, seq*batch] @ [seq*batch, in].
        const dxp = concat(dxps, 0);
        const dhp = mode === "GRU" ? concat(dhps, 0) : dxp;
        const hPrev = concat(saved.map((s) => s.hPrev), 0);
        const biasGrads = [w.bIh && sum(dxp, 0), w.bHh && sum(dhp, 0)].filter((b) => b !== null);
        return [
          reshape(matmul(dxp, w.wIh), [seq, batch, input]),
          dh,
          ...(state.c ? [dc!] : []),
          matmul(dxp, fwd.x2, true, false),
          matmul(dhp, hPrev, true, false),
          ...biasGrads,
        ];
      },
    };
    for (const o of outputs) o.node = node;
  }
  return { output: fwd.output, state: { h: fwd.h, c: fwd.c } };
}
