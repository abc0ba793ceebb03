/**
 * FusedOps.recurrentForward / recurrentBackward on WebGPU: one dispatch per time step
 * (recurrent_wgsl.ts), all steps of a layer recorded in one command buffer; the forward
 * pass adds one tfjs transpose of W_hh, the backward pass one dispatch for dh0.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Handle,
  RECURRENT_GATES as GATES,
  RECURRENT_SAVED as SAVED,
  type RecurrentArgs,
} from "@rnnkit/core/backend";
import type { Dispatch, KernelRunner } from "./kernel_runner.ts";
import { backwardKernel, forwardKernel, type StepKernel } from "./recurrent_wgsl.ts";

const T = (h: Handle) => h as unknown as tf.Tensor;
const H = (t: tf.Tensor) => t as unknown as Handle;

/** Arguments of `recurrentBackward`. */
type BackwardArgs = RecurrentArgs & {
  output: Handle;
  saved: Handle;
  gOut: Handle;
  gH: Handle;
  gC?: Handle;
};

/** Time indices in the order the steps run. */
function stepOrder(seq: number, reverse: boolean): number[] {
  return Array.from({ length: seq }, (_, k) => (reverse ? seq - 1 - k : k));
}

/** One dispatch per uniform slot, each binding `tensors` by the kernel's names. */
function steps(
  runner: KernelRunner,
  kernel: StepKernel,
  uniform: GPUBuffer,
  slots: number,
  threads: number,
  tensors: Record<string, tf.Tensor | undefined>,
): Dispatch[] {
  const pipeline = runner.pipeline(kernel.key, kernel.code);
  const bound = kernel.bindings.map((name) => tensors[name]!);
  return Array.from({ length: slots }, (_, i) => ({
    pipeline,
    resources: [{ uniform, offset: i * 256 }, ...bound],
    threads,
  }));
}

/** `FusedOps.recurrentForward`. */
export function recurrentForward(
  runner: KernelRunner,
  a: RecurrentArgs,
): { output: Handle; h: Handle; c?: Handle; saved: Handle } {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const rows = batch * n;
  const output = runner.empty([seq * batch, n]);
  const saved = runner.empty([seq * batch, SAVED[mode] * n]);
  const h = runner.empty([batch, n]);
  const c = mode === "LSTM" ? runner.empty([batch, n]) : undefined;
  const wT = tf.transpose(T(a.wHh));
  const order = stepOrder(seq, reverse);
  const uniform = runner.uniforms(
    seq,
    (i) => Int32Array.of(order[i], i > 0 ? order[i - 1] : -1),
  );
  const kernel = forwardKernel(mode, batch, n, a.bHh !== null);
  runner.submit({
    copies: c && a.c0 ? [{ from: T(a.c0), to: c, bytes: rows * 4 }] : [],
    clears: c && !a.c0 ? [c] : [],
    dispatches: steps(runner, kernel, uniform, seq, rows, {
      xp: T(a.xp),
      wT,
      bias: a.bHh ? T(a.bHh) : undefined,
      h0: T(a.h0),
      out: output,
      saved,
      c,
    }),
    copiesAfter: [{ from: output, fromOffset: order[seq - 1] * rows * 4, to: h, bytes: rows * 4 }],
  }, [uniform]);
  wT.dispose();
  return { output: H(output), h: H(h), c: c && H(c), saved: H(saved) };
}

/** `FusedOps.recurrentBackward`. */
export function recurrentBackward(
  runner: KernelRunner,
  a: BackwardArgs,
): { dxp: Handle; dhp?: Handle; dh0: Handle; dc0?: Handle } {
  const { mode, seq, batch, hidden: n, reverse } = a;
  const rows = batch * n;
  const g = GATES[mode] * n;
  const dxp = runner.empty([seq * batch, g]);
  const dhp = mode === "GRU" ? runner.empty([seq * batch, g]) : undefined;
  const dh = runner.empty([batch, n]);
  const dc = mode === "LSTM" ? runner.empty([batch, n]) : undefined;
  const order = stepOrder(seq, reverse);
  // Slot k processes run index seq-1-k; the last slot (t = -1) only finishes dh0.
  const uniform = runner.uniforms(seq + 1, (k) => {
    const i = seq - 1 - k;
    return Int32Array.of(
      i >= 0 ? order[i] : -1,
      i < seq - 1 ? order[i + 1] : -1,
      i > 0 ? order[i - 1] : -1,
    );
  });
  const gC = dc && a.gC ? [{ from: T(a.gC), to: dc, bytes: rows * 4 }] : [];
  runner.submit({
    copies: [{ from: T(a.gH), to: dh, bytes: rows * 4 }, ...gC],
    clears: dc && !a.gC ? [dc] : [],
    dispatches: steps(runner, backwardKernel(mode, batch, n), uniform, seq + 1, rows, {
      w: T(a.wHh),
      gOut: T(a.gOut),
      saved: T(a.saved),
      out: T(a.output),
      h0: T(a.h0),
      c0: a.c0 && T(a.c0),
      dh,
      dc,
      dxp,
      dhp,
    }),
  }, [uniform]);
  return { dxp: H(dxp), dhp: dhp && H(dhp), dh0: H(dh), dc0: dc && H(dc) };
}
