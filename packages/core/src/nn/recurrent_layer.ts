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
 * Packed batches (`packedRecurrentLayer`) run the same node over the padded layout, with a
 * 0/1 mask per step that keeps the state of the rows not running. An LSTM with a projection
 * (W_hr, PyTorch's proj_size) projects h after each step in the composite loop; W_hr's
 * gradient is one matmul after the loop too.
 */
import {
  add,
  concat,
  matmul,
  mul,
  reshape,
  split,
  sub,
  sum,
  tensor,
  transpose,
  zeros,
} from "../ops.ts";
import { gatherRows } from "./packed_sequence.ts";
import { sigmoidGrad, stepMask, tanhGrad } from "../grad.ts";
import { type FusedOps, RECURRENT_SAVED, type RecurrentMode } from "../backend.ts";
import { getBackend } from "../engine.ts";
import { needsGrad, noGrad, Tensor } from "../tensor.ts";
import { GATES, type State, stepForward, type Weights } from "./recurrence.ts";

/** What one step keeps for the backward pass. */
interface Saved {
  hPrev: Tensor;
  cPrev?: Tensor;
  /** Activations: [h] (RNN); [i, f, g, o, tanh(c)] (LSTM); [r, z, n, hn] (GRU). */
  acts: Tensor[];
  /** With a projection: o * tanh(c), the input of h = (o * tanh(c)) W_hr^T. */
  unprojected?: Tensor;
}

/**
 * Gradients of one step's pre-activations given dL/dh' (and dL/dc' for LSTM): dxp for the
 * input projection, dhp for the hidden projection, plus what flows to h and c directly.
 */
function backwardStep(mode: RecurrentMode, s: Saved, dh: Tensor, dc: Tensor | undefined) {
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

/** The time loop's results, and its backward pass given the output gradients. */
interface Loop {
  output: Tensor;
  h: Tensor;
  c?: Tensor;
  /**
   * Pre-activation gradients of every step [seq*batch, gates*hidden] (dxp for the input
   * projection, dhp for the hidden one), W_hh's gradient and the initial state's.
   */
  backward(gOut: Tensor, gH: Tensor, gC: Tensor | undefined): {
    dxp: Tensor;
    dhp: Tensor;
    dWhh: Tensor;
    dh: Tensor;
    dc?: Tensor;
    /**
     * With a projection: the gradient of every step's projected h [seq*batch, projSize] and
     * the projection's inputs o * tanh(c) [seq*batch, hidden], for W_hr's gradient.
     */
    proj?: { dh: Tensor; input: Tensor };
  };
}

/**
 * A packed step's 0/1 masks [keep, hold] of the rows that run (keep) and those whose state
 * stays (hold), for h [batch, h's width] and c [batch, hidden] (narrower h: a projection).
 */
interface StepMask {
  h: [Tensor, Tensor];
  c: [Tensor, Tensor];
}

interface LoopArgs {
  mode: RecurrentMode;
  seq: number;
  batch: number;
  reverse: boolean;
  /** [seq*batch, gates*hidden]: x W_ih^T + b_ih, time order. */
  xp: Tensor;
  state: State;
  w: Weights;
  /** Packed batches only: per step, its masks, or null where every row runs. */
  masks?: (StepMask | null)[];
}

/**
 * x => x W^T for a weight used at every step: one transpose of W up front beats a
 * transposed matmul at every step, except for a single step (generation), where the flag
 * is cheapest.
 */
function timesTransposed(w: Tensor, seq: number): (x: Tensor) => Tensor {
  if (seq === 1) return (x) => matmul(x, w, false, true);
  const wT = transpose(w, [1, 0]);
  return (x) => matmul(x, wT);
}

/**
 * The time loop from core ops: ~10-30 backend calls per step. With `masks`, a row that
 * does not run at a step keeps its state: h' = step(h) * keep + h * hold, exact for 0/1
 * masks; the backward pass splits the gradient the same way.
 */
function compositeLoop({ mode, seq, batch, reverse, xp, state, w, masks }: LoopArgs): Loop {
  const steps = Array(seq).fill(batch);
  const order = [...Array(seq).keys()].map((k) => (reverse ? seq - 1 - k : k));
  const saved: Saved[] = new Array(seq);
  const xps = split(xp, steps, 0);
  const timesWHh = timesTransposed(w.wHh, seq);
  const project = w.wHr && timesTransposed(w.wHr, seq);
  let h = state.h;
  let c = state.c;
  const outs: Tensor[] = new Array(seq);
  for (const t of order) {
    const hp = timesWHh(h);
    const step = stepForward(mode, xps[t], w.bHh ? add(hp, w.bHh) : hp, h, c);
    const next = project ? project(step.h) : step.h;
    saved[t] = { hPrev: h, cPrev: c, acts: step.acts, unprojected: project && step.h };
    const m = masks?.[t];
    if (m) {
      h = add(mul(next, m.h[0]), mul(h, m.h[1]));
      c = c && add(mul(step.c!, m.c[0]), mul(c, m.c[1]));
    } else {
      h = next;
      c = step.c;
    }
    outs[t] = h;
  }
  return {
    output: concat(outs, 0),
    h,
    c,
    backward(gOut, gH, gC) {
      const gOuts = split(gOut, steps, 0);
      let dh = gH;
      let dc = gC;
      const dxps: Tensor[] = new Array(seq);
      const dhps: Tensor[] = new Array(seq);
      const dNexts: Tensor[] = new Array(seq);
      for (const t of [...order].reverse()) {
        const m = masks?.[t];
        const dTotal = add(dh, gOuts[t]);
        // The gradient of this step's own h' (projected, with a projection).
        const dNext = m ? mul(dTotal, m.h[0]) : dTotal;
        dNexts[t] = dNext;
        const r = backwardStep(
          mode,
          saved[t],
          w.wHr ? matmul(dNext, w.wHr) : dNext,
          m && dc ? mul(dc, m.c[0]) : dc,
        );
        dxps[t] = r.dxp;
        dhps[t] = r.dhp;
        dh = matmul(r.dhp, w.wHh);
        if (r.dhDirect) dh = add(dh, r.dhDirect);
        if (m) dh = add(dh, mul(dTotal, m.h[1]));
        dc = m && dc ? add(r.dcPrev!, mul(dc, m.c[1])) : r.dcPrev;
      }
      const dxp = concat(dxps, 0);
      const dhp = mode === "GRU" ? concat(dhps, 0) : dxp;
      return {
        dxp,
        dhp,
        dWhh: matmul(dhp, concat(saved.map((s) => s.hPrev), 0), true, false),
        dh,
        dc,
        proj: w.wHr && {
          dh: concat(dNexts, 0),
          input: concat(saved.map((s) => s.unprojected!), 0),
        },
      };
    },
  };
}

type RecurrentOps = Pick<Required<FusedOps>, "recurrentForward" | "recurrentBackward">;

/** The time loop as the backend's fused op: two backend calls per layer. */
function fusedLoop(fused: RecurrentOps, a: LoopArgs): Loop {
  const { mode, seq, batch, reverse, xp, state, w } = a;
  const size = state.h.shape[1];
  const args = {
    mode,
    seq,
    batch,
    hidden: size,
    reverse,
    xp: xp.handle,
    wHh: w.wHh.handle,
    bHh: w.bHh?.handle ?? null,
    h0: state.h.handle,
    c0: state.c?.handle,
  };
  const f = fused.recurrentForward(args);
  const rows = [seq * batch, size];
  const output = new Tensor(f.output, rows);
  const saved = new Tensor(f.saved, [seq * batch, RECURRENT_SAVED[mode] * size]);
  return {
    output,
    h: new Tensor(f.h, [batch, size]),
    c: f.c && new Tensor(f.c, [batch, size]),
    backward(gOut, gH, gC) {
      const b = fused.recurrentBackward({
        ...args,
        output: output.handle,
        saved: saved.handle,
        gOut: gOut.handle,
        gH: gH.handle,
        gC: gC?.handle,
      });
      const gates = [seq * batch, GATES[mode] * size];
      const dxp = new Tensor(b.dxp, gates);
      const dhp = b.dhp ? new Tensor(b.dhp, gates) : dxp;
      // The state each step started from: h0, then the outputs of the steps that ran before.
      const hPrev = () =>
        seq === 1
          ? state.h
          : reverse
          ? concat([split(output, [batch, (seq - 1) * batch], 0)[1], state.h], 0)
          : concat([state.h, split(output, [(seq - 1) * batch, batch], 0)[0]], 0);
      return {
        dxp,
        dhp,
        dWhh: b.dWhh ? new Tensor(b.dWhh, w.wHh.shape) : matmul(dhp, hPrev(), true, false),
        dh: new Tensor(b.dh0, [batch, size]),
        dc: b.dc0 && new Tensor(b.dc0, [batch, size]),
      };
    },
  };
}

/**
 * Runs `mode` over x [seq, batch, input] from `state`, backwards in time if `reverse`.
 * Returns the outputs [seq, batch, h's width] (in time order) and the final state.
 * With a projection (`w.wHr`) the composite loop runs: the fused ops take none.
 *
 * `batchSizes` (packed batches, sorted longest first): at step t only the first
 * batchSizes[t] rows run; the others keep their state (forwards: the state after their
 * last step; backwards: the initial state until their last step). Their outputs at those
 * steps are that kept state. Where some step has fewer rows than the batch, the composite
 * loop runs (the fused ops take no lengths).
 */
export function recurrentLayer(
  mode: RecurrentMode,
  x: Tensor,
  state: State,
  w: Weights,
  reverse: boolean,
  batchSizes?: readonly number[],
): { output: Tensor; state: State } {
  const [seq, batch, input] = x.shape;
  const size = state.h.shape[1];
  const cSize = state.c?.shape[1] ?? size;
  const fused = getBackend().fused;
  const ragged = batchSizes?.some((n) => n < batch) ?? false;
  const fwd = noGrad(() => {
    const x2 = reshape(x, [seq * batch, input]);
    const proj = matmul(x2, w.wIh, false, true);
    const args = {
      mode,
      seq,
      batch,
      reverse,
      xp: w.bIh ? add(proj, w.bIh) : proj,
      state,
      w,
      masks: ragged ? stepMasks(batchSizes!, batch, size, cSize) : undefined,
    };
    const loop = !ragged && !w.wHr && fused?.recurrentForward && fused.recurrentBackward
      ? fusedLoop(fused as RecurrentOps, args)
      : compositeLoop(args);
    return { x2, loop, output: reshape(loop.output, [seq, batch, size]) };
  });
  const { loop } = fwd;

  const biases = [w.bIh, w.bHh].filter((b): b is Tensor => b !== null);
  const inputs = [
    x,
    state.h,
    ...(state.c ? [state.c] : []),
    w.wIh,
    w.wHh,
    ...biases,
    ...(w.wHr ? [w.wHr] : []),
  ];
  const outputs = [fwd.output, loop.h, ...(loop.c ? [loop.c] : [])];
  if (needsGrad(inputs)) {
    const node = {
      name: `recurrentLayer(${mode})`,
      inputs,
      outputs,
      backward: ([gOut, gH, gC]: Tensor[]) => {
        const r = loop.backward(reshape(gOut, [seq * batch, size]), gH, gC);
        // All steps' weight gradients at once: [gates*hidden, seq*batch] @ [seq*batch, in].
        // The two biases' gradients are one sum where dxp is dhp (RNN, LSTM).
        const dbIh = w.bIh && sum(r.dxp, 0);
        const dbHh = w.bHh && (dbIh && r.dhp === r.dxp ? dbIh : sum(r.dhp, 0));
        const biasGrads = [dbIh, dbHh].filter((b) => b !== null);
        return [
          reshape(matmul(r.dxp, w.wIh), [seq, batch, input]),
          r.dh,
          ...(state.c ? [r.dc!] : []),
          matmul(r.dxp, fwd.x2, true, false),
          r.dWhh,
          ...biasGrads,
          ...(r.proj ? [matmul(r.proj.dh, r.proj.input, true, false)] : []),
        ];
      },
    };
    for (const o of outputs) o.node = node;
  }
  return { output: fwd.output, state: { h: loop.h, c: loop.c } };
}

/**
 * Per step, the masks of h [batch, size] and c [batch, cSize] for batchSizes[t] running
 * rows; one pair per row count and width.
 */
function stepMasks(
  batchSizes: readonly number[],
  batch: number,
  size: number,
  cSize: number,
): (StepMask | null)[] {
  const made = new Map<string, [Tensor, Tensor]>();
  const masks = (n: number, width: number): [Tensor, Tensor] => {
    const key = `${n}x${width}`;
    let m = made.get(key);
    if (!m) {
      const keep = new Float32Array(batch * width).fill(1, 0, n * width);
      m = [tensor(keep, [batch, width]), tensor(keep.map((v) => 1 - v), [batch, width])];
      made.set(key, m);
    }
    return m;
  };
  return batchSizes.map((n) => n === batch ? null : { h: masks(n, size), c: masks(n, cSize) });
}

/**
 * Runs `mode` over a packed batch (see `PackedSequence`): x [sum(lengths), input] holds
 * batchSizes[t] rows at step t, the first rows of a batch sorted longest first. Forwards,
 * a row's state stops at its last step; backwards (`reverse`), a row starts from its
 * initial state at its own last step. Returns the outputs in x's packed layout,
 * [sum(lengths), h's width], and the final state of every row (sorted order).
 *
 * The packed rows are gathered into the padded layout [seq, batch, input] (zeros past each
 * length), `recurrentLayer` runs there with `batchSizes` (one node, its hand-written
 * backward; the fused ops too when every length is the same), and the valid outputs are
 * gathered back: two gathers around the usual loop.
 */
export function packedRecurrentLayer(
  mode: RecurrentMode,
  x: Tensor,
  batchSizes: readonly number[],
  state: State,
  w: Weights,
  reverse: boolean,
): { output: Tensor; state: State } {
  const seq = batchSizes.length;
  const batch = batchSizes[0];
  const [rows, input] = x.shape;
  const size = state.h.shape[1];
  if (batchSizes.every((n) => n === batch)) {
    const r = recurrentLayer(mode, reshape(x, [seq, batch, input]), state, w, reverse);
    return { output: reshape(r.output, [rows, size]), state: r.state };
  }
  // Step t, sequence j is packed row offsets[t] + j while j runs (j < batchSizes[t]).
  const padded: number[] = [];
  const packed: number[] = [];
  for (let t = 0, offset = 0; t < seq; offset += batchSizes[t++]) {
    for (let j = 0; j < batch; j++) {
      padded.push(j < batchSizes[t] ? offset + j : rows);
      if (j < batchSizes[t]) packed.push(t * batch + j);
    }
  }
  const xPad = gatherRows(concat([x, zeros([1, input])], 0), padded);
  const r = recurrentLayer(
    mode,
    reshape(xPad, [seq, batch, input]),
    state,
    w,
    reverse,
    batchSizes,
  );
  return { output: gatherRows(reshape(r.output, [seq * batch, size]), packed), state: r.state };
}
