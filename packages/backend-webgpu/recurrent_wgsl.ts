/**
 * WGSL for one time step of a recurrent layer, forward and backward: one thread per
 * (sequence b, hidden unit j), each doing its unit's share of the recurrent product and
 * all of its gate math, so a step is one dispatch. Batch and hidden size are compiled in.
 *
 * `saved` per row, as in native's kernels.c: LSTM [i, f, g, o, c, tanh c], GRU
 * [r, z, n, hn] (hn = W_hn h + b_hn), RNN nothing. Sequence tensors are [seq*batch, width]
 * in time order; a step's uniform names its time index `t` and its neighbours in the order
 * the steps run (-1: none).
 */
import {
  RECURRENT_GATES as GATES,
  RECURRENT_SAVED as SAVED,
  type RecurrentMode,
} from "@rnnkit/core/backend";

/** A kernel's source and its storage bindings in order, after the uniform at binding 0. */
export interface StepKernel {
  /** Names the kernel in the pipeline cache: mode, direction and sizes. */
  key: string;
  /** WGSL defining `main` (kernel_runner.ts adds the prelude and the entry point). */
  code: string;
  /** The tensors bound at bindings 1, 2, ..., by name. */
  bindings: string[];
}

/** Declarations of the uniform and of `bindings` (name, writable) from binding 1 on. */
function declare(uniform: string, bindings: [string, boolean][]): string {
  return [
    `struct Step { ${uniform} }`,
    `@group(0) @binding(0) var<uniform> step: Step;`,
    ...bindings.map(([name, rw], i) =>
      `@group(0) @binding(${i + 1}) var<storage, ${
        rw ? "read_write" : "read"
      }> ${name}: array<f32>;`
    ),
  ].join("\n");
}

/** Constants of every step kernel: sizes, and this thread's row b and unit j. */
function sizes(mode: RecurrentMode, batch: number, n: number): string {
  return `
const B = ${batch}u;
const N = ${n}u;
const Q = ${GATES[mode]}u;
const G = ${GATES[mode] * n}u;
const S = ${SAVED[mode] * n}u;`;
}

/**
 * Forward step t: h_t from h_before (h0 for the first step), hp = h W_hh^T + b_hh from
 * `wT` = W_hh^T [hidden, gates*hidden] (adjacent threads read adjacent columns); LSTM's c
 * is updated in place (it starts as a copy of c0).
 */
export function forwardKernel(
  mode: RecurrentMode,
  batch: number,
  n: number,
  bias: boolean,
): StepKernel {
  const bindings: [string, boolean][] = [
    ["xp", false],
    ["wT", false],
    ...(bias ? [["bias", false] as [string, boolean]] : []),
    ["h0", false],
    ["out", true],
    ...(SAVED[mode] ? [["saved", true] as [string, boolean]] : []),
    ...(mode === "LSTM" ? [["c", true] as [string, boolean]] : []),
  ];
  const product = (h: string, row: string) => `
    let base = ${row};
    for (var k = 0u; k < N; k++) {
      let h = ${h}[base + k];
      for (var q = 0u; q < Q; q++) { a[q] += h * wT[k * G + q * N + j]; }
    }`;
  const gates: Record<RecurrentMode, string> = {
    RNN_TANH: `out[o] = tanh_(xp[x] + a[0]);`,
    RNN_RELU: `out[o] = max(xp[x] + a[0], 0.0);`,
    LSTM: `
    let ig = sigmoid(xp[x] + a[0]);
    let fg = sigmoid(xp[x + N] + a[1]);
    let gg = tanh_(xp[x + 2u * N] + a[2]);
    let og = sigmoid(xp[x + 3u * N] + a[3]);
    let c2 = fg * c[i] + ig * gg;
    let tc = tanh_(c2);
    saved[s] = ig; saved[s + N] = fg; saved[s + 2u * N] = gg; saved[s + 3u * N] = og;
    saved[s + 4u * N] = c2; saved[s + 5u * N] = tc;
    c[i] = c2;
    out[o] = og * tc;`,
    GRU: `
    let r = sigmoid(xp[x] + a[0]);
    let z = sigmoid(xp[x + N] + a[1]);
    let nn = tanh_(xp[x + 2u * N] + r * a[2]);
    var hPrev = h0[i];
    if (step.before >= 0) { hPrev = out[(u32(step.before) * B + b) * N + j]; }
    saved[s] = r; saved[s + N] = z; saved[s + 2u * N] = nn; saved[s + 3u * N] = a[2];
    out[o] = nn + z * (hPrev - nn);`,
  };
  const code = `
${declare("t: i32, before: i32", bindings)}
${sizes(mode, batch, n)}
fn main() {
  let i = thread();
  if (i >= B * N) { return; }
  let b = i / N;
  let j = i % N;
  let t = u32(step.t);
  var a: array<f32, Q>;
  for (var q = 0u; q < Q; q++) { a[q] = ${bias ? "bias[q * N + j]" : "0.0"}; }
  if (step.before < 0) {${product("h0", "b * N")}
  } else {${product("out", "(u32(step.before) * B + b) * N")}
  }
  let x = (t * B + b) * G + j;
  let o = (t * B + b) * N + j;
  let s = (t * B + b) * S + j;
  ${gates[mode]}
}`;
  return {
    key: `forward ${mode} ${batch} ${n} ${bias}`,
    code,
    bindings: bindings.map(([name]) => name),
  };
}

/**
 * Backward step t (t = -1: only dh of the initial state). dh holds dL/dh of the step
 * processed before (`after`, the next in time order): gH at first, then
 * dA_after W_hh (+ GRU's direct path dh_after z_after), dA being the step's hidden
 * pre-activation gradient. LSTM's dc is updated in place; GRU keeps its own dh in dh for
 * the direct path. Writes dxp (and GRU's dhp) of step t.
 */
export function backwardKernel(mode: RecurrentMode, batch: number, n: number): StepKernel {
  const lstm = mode === "LSTM";
  const gru = mode === "GRU";
  const bindings: [string, boolean][] = [
    ["w", false],
    ["gOut", false],
    ...(SAVED[mode] ? [["saved", false] as [string, boolean]] : []),
    ...(!lstm ? [["out", false] as [string, boolean]] : []),
    ...(gru ? [["h0", false] as [string, boolean]] : []),
    ...(lstm ? [["c0", false] as [string, boolean]] : []),
    ["dh", true],
    ...(lstm ? [["dc", true] as [string, boolean]] : []),
    ["dxp", true],
    ...(gru ? [["dhp", true] as [string, boolean]] : []),
  ];
  const dA = gru ? "dhp" : "dxp";
  const gates: Record<RecurrentMode, string> = {
    RNN_TANH: `let h = out[o]; dxp[x] = d - d * (h * h);`,
    RNN_RELU: `dxp[x] = d * select(0.0, 1.0, out[o] > 0.0);`,
    LSTM: `
    let ig = saved[s]; let fg = saved[s + N]; let gg = saved[s + 2u * N];
    let og = saved[s + 3u * N]; let tc = saved[s + 5u * N];
    var cPrev = c0[i];
    if (step.before >= 0) { cPrev = saved[(u32(step.before) * B + b) * S + 4u * N + j]; }
    let dho = d * og;
    let dcT = dc[i] + (dho - dho * (tc * tc));
    dxp[x] = (dcT * gg) * (ig - ig * ig);
    dxp[x + N] = (dcT * cPrev) * (fg - fg * fg);
    let dci = dcT * ig;
    dxp[x + 2u * N] = dci - dci * (gg * gg);
    dxp[x + 3u * N] = (d * tc) * (og - og * og);
    dc[i] = dcT * fg;`,
    GRU: `
    let r = saved[s]; let z = saved[s + N]; let nn = saved[s + 2u * N]; let hn = saved[s + 3u * N];
    var hPrev = h0[i];
    if (step.before >= 0) { hPrev = out[(u32(step.before) * B + b) * N + j]; }
    let dnh = d - d * z;
    let dn = dnh - dnh * (nn * nn);
    let dr = (dn * hn) * (r - r * r);
    let dz = (d * (hPrev - nn)) * (z - z * z);
    dxp[x] = dr; dxp[x + N] = dz; dxp[x + 2u * N] = dn;
    dhp[x] = dr; dhp[x + N] = dz; dhp[x + 2u * N] = dn * r;
    dh[i] = d;`,
  };
  const code = `
${declare("t: i32, after: i32, before: i32", bindings)}
${sizes(mode, batch, n)}
fn main() {
  let i = thread();
  if (i >= B * N) { return; }
  let b = i / N;
  let j = i % N;
  var d = dh[i];
  if (step.after >= 0) {
    let after = u32(step.after) * B + b;
    ${gru ? "let direct = d * saved[after * S + N + j];" : ""}
    d = 0.0;
    for (var k = 0u; k < G; k++) { d += ${dA}[after * G + k] * w[k * N + j]; }
    ${gru ? "d += direct;" : ""}
  }
  if (step.t < 0) {
    dh[i] = d;
    return;
  }
  let t = u32(step.t);
  let x = (t * B + b) * G + j;
  let o = (t * B + b) * N + j;
  let s = (t * B + b) * S + j;
  d += gOut[o];
  ${gates[mode]}
}`;
  return { key: `backward ${mode} ${batch} ${n}`, code, bindings: bindings.map(([name]) => name) };
}
