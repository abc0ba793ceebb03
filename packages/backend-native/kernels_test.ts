/**
 * The native backend's safety nets (a test of this package's internals, so it lives here and
 * is not published): the checks in front of every C kernel (kernels.ts),
 * its build cache (a corrupt library is rebuilt; the source can come over http) and
 * `missingDependencies()`. The checks are tested on stand-in kernels that fail the test if
 * they are ever reached, so they run everywhere; what needs OpenBLAS and a C compiler is
 * ignored without them.
 */
import assert from "node:assert/strict";
import type { Handle, RecurrentArgs } from "@rnnkit/core/backend";
import { createBackend, missingDependencies } from "./mod.ts";
import { runScript } from "../../tests/unit/run_cli.ts";
import {
  checkedKernels,
  type Kernels,
  loadKernels,
  MAX_RANK,
  MODE,
  type RawKernels,
} from "./kernels.ts";
import { cachedKernels, readSource } from "./build.ts";
import { openBlas } from "./openblas.ts";

const haveNative = (await missingDependencies()) === undefined;

/** Checked kernels over stand-ins that record the calls that got through. */
function stubs(): { k: Kernels; calls: string[] } {
  const calls: string[] = [];
  const raw = new Proxy({}, {
    // 0: what the kernels that return a status return on success.
    get: (_, name) => () => (calls.push(String(name)), 0),
  }) as unknown as RawKernels;
  return { k: checkedKernels(raw), calls };
}

/** `fn` throws "rnnkit: native: <kernel>: ..." matching `why`, and reaches no kernel. */
function rejects(fn: (k: Kernels) => void, kernel: string, why: RegExp) {
  const { k, calls } = stubs();
  assert.throws(() => fn(k), (e: Error) => {
    assert.match(e.message, new RegExp(`^rnnkit: native: ${kernel}: `));
    assert.match(e.message, why);
    return true;
  });
  assert.deepEqual(calls, [], `${kernel} was called despite the failed check`);
}

/** `fn` passes the checks: the kernel is called once. */
function passes(fn: (k: Kernels) => void, kernel: string) {
  const { k, calls } = stubs();
  fn(k);
  assert.deepEqual(calls, [kernel]);
}

const f = (n: number) => new Float32Array(n);
const i32 = (...v: number[]) => Int32Array.from(v);

Deno.test("native kernels: elementwise calls check op codes, sizes and lengths", () => {
  passes((k) => k.rk_unary(4, f(8), f(8), 8), "rk_unary");
  passes((k) => k.rk_unary(4, null, null, 0), "rk_unary");
  rejects((k) => k.rk_unary(4, f(8), f(7), 8), "rk_unary", /o holds 7 elements.*touches 8/);
  rejects((k) => k.rk_unary(4, null, f(8), 8), "rk_unary", /x is null/);
  passes((k) => k.rk_unary(8, f(8), f(8), 8), "rk_unary"); // erf
  rejects((k) => k.rk_unary(9, f(8), f(8), 8), "rk_unary", /op 9 is not one of its 9 codes/);
  rejects((k) => k.rk_unary(4, f(8), f(8), 2.5), "rk_unary", /n must be a whole number/);
  rejects((k) => k.rk_unary(4, f(8), f(8), -1), "rk_unary", /n must be a whole number/);
  rejects((k) => k.rk_unary(4, f(2 ** 20), f(2 ** 20), 2 ** 31), "rk_unary", /n must/);
  // Lengths are in bytes: a Uint8Array of 8 holds 2 floats.
  rejects((k) => k.rk_unary(4, new Uint8Array(8), f(8), 8), "rk_unary", /x holds 2 elements/);
  rejects((k) => k.rk_scale(f(3), 2, f(4), 4), "rk_scale", /x holds 3 elements/);
  passes(
    (k) => k.rk_adam(f(4), f(4), f(4), f(4), f(4), f(4), f(4), 4, 0.9, 0.999, 1e-8, 1, 1),
    "rk_adam",
  );
  rejects(
    (k) => k.rk_adam(f(4), f(4), f(4), f(4), f(4), f(4), f(3), 4, 0.9, 0.999, 1e-8, 1, 1),
    "rk_adam",
    /vOut holds 3/,
  );
});

Deno.test("native kernels: rk_binary checks whole rows and each layout of b", () => {
  passes((k) => k.rk_binary(0, f(6), f(6), f(6), 6, 6, 6, 1), "rk_binary"); // same shape
  passes((k) => k.rk_binary(0, f(6), f(3), f(6), 6, 3, 0, 1), "rk_binary"); // repeated
  passes((k) => k.rk_binary(0, f(6), f(2), f(6), 6, 3, 1, 0), "rk_binary"); // per row
  rejects((k) => k.rk_binary(0, f(6), f(5), f(6), 6, 6, 6, 1), "rk_binary", /b holds 5.*6/);
  rejects((k) => k.rk_binary(0, f(6), f(2), f(6), 6, 3, 0, 1), "rk_binary", /b holds 2.*3/);
  rejects((k) => k.rk_binary(0, f(6), f(1), f(6), 6, 3, 1, 0), "rk_binary", /b holds 1.*2/);
  rejects((k) => k.rk_binary(0, f(7), f(3), f(7), 7, 3, 0, 1), "rk_binary", /n 7 is not a whole/);
  rejects((k) => k.rk_binary(0, f(6), f(3), f(6), 6, 0, 0, 1), "rk_binary", /cols 0/);
  rejects((k) => k.rk_binary(4, f(6), f(6), f(6), 6, 6, 6, 1), "rk_binary", /op 4/);
});

Deno.test("native kernels: rk_where checks each operand's step and length", () => {
  passes((k) => k.rk_where(f(6), 1, f(6), 1, f(6), 1, f(6), 6), "rk_where");
  passes((k) => k.rk_where(f(6), 1, f(1), 0, f(6), 1, f(6), 6), "rk_where"); // scalar a
  passes((k) => k.rk_where(null, 0, null, 0, null, 0, null, 0), "rk_where");
  rejects((k) => k.rk_where(f(6), 1, f(5), 1, f(6), 1, f(6), 6), "rk_where", /a holds 5.*6/);
  rejects((k) => k.rk_where(f(6), 1, f(6), 1, f(0), 0, f(6), 6), "rk_where", /b holds 0.*1/);
  rejects((k) => k.rk_where(f(6), 2, f(6), 1, f(6), 1, f(6), 6), "rk_where", /cStep must be 0/);
  rejects((k) => k.rk_where(f(6), 1, f(6), 1, f(6), 1, f(5), 6), "rk_where", /o holds 5/);
});

Deno.test("native kernels: rk_argmax checks the block, an empty axis and an int32 out", () => {
  passes((k) => k.rk_argmax(f(24), 2, 3, 4, new Int32Array(8)), "rk_argmax");
  passes((k) => k.rk_argmax(null, 0, 0, 4, new Int32Array(0)), "rk_argmax");
  rejects((k) => k.rk_argmax(f(23), 2, 3, 4, new Int32Array(8)), "rk_argmax", /x holds 23.*24/);
  rejects((k) => k.rk_argmax(f(24), 2, 3, 4, new Int32Array(7)), "rk_argmax", /out holds 7/);
  rejects((k) => k.rk_argmax(f(24), 2, 3, 4, f(8)), "rk_argmax", /out must be an Int32Array/);
  rejects((k) => k.rk_argmax(f(0), 2, 0, 4, new Int32Array(8)), "rk_argmax", /n is 0/);
  rejects((k) => k.rk_argmax(f(8), 2, -1, 4, new Int32Array(8)), "rk_argmax", /n must be/);
});

Deno.test("native kernels: reductions check rows x width and the double scratch", () => {
  passes((k) => k.rk_reduce_rows(0, f(6), 2, 3, f(2)), "rk_reduce_rows");
  rejects((k) => k.rk_reduce_rows(0, f(5), 2, 3, f(2)), "rk_reduce_rows", /x holds 5.*6/);
  rejects((k) => k.rk_reduce_rows(2, f(6), 2, 3, f(2)), "rk_reduce_rows", /op 2/);
  passes((k) => k.rk_reduce_cols(0, f(6), 2, 3, new Float64Array(3), f(3)), "rk_reduce_cols");
  // acc holds doubles: 3 floats' worth of bytes is 1.5 doubles.
  rejects(
    (k) => k.rk_reduce_cols(0, f(6), 2, 3, f(3), f(3)),
    "rk_reduce_cols",
    /acc holds 1 elements.*touches 3/,
  );
});

Deno.test("native kernels: rk_sgemm checks its flags, k and operands; cross-entropy its rows", () => {
  passes((k) => k.rk_sgemm(0, 1, 2, 3, 4, f(8), f(12), f(6), 0, 2), "rk_sgemm");
  rejects((k) => k.rk_sgemm(2, 0, 2, 3, 4, f(8), f(12), f(6), 0, 1), "rk_sgemm", /transA .* 2/);
  rejects((k) => k.rk_sgemm(0, 0, 2, 3, 0, f(8), f(12), f(6), 0, 1), "rk_sgemm", /k must be/);
  rejects((k) => k.rk_sgemm(0, 0, 2, 3, 4, f(7), f(12), f(6), 0, 1), "rk_sgemm", /a holds 7/);
  rejects((k) => k.rk_sgemm(0, 0, 2, 3, 4, f(8), f(12), f(5), 0, 1), "rk_sgemm", /c holds 5/);
  rejects((k) => k.rk_sgemm(0, 0, 2, 3, 4, f(8), f(12), f(6), 0, 65), "rk_sgemm", /threads/);
  passes((k) => k.rk_cross_entropy(f(6), i32(0, 2), 2, 3, f(2), f(6)), "rk_cross_entropy");
  rejects(
    (k) => k.rk_cross_entropy(f(6), i32(0), 2, 3, f(2), f(6)),
    "rk_cross_entropy",
    /t holds 1 elements.*touches 2/,
  );
  rejects(
    (k) => k.rk_cross_entropy_backward(f(6), i32(0, 1), f(2), 2, 3, f(5)),
    "rk_cross_entropy_backward",
    /dx holds 5/,
  );
});

Deno.test("native kernels: rk_copy_strided checks rank, shape and the reach of the strides", () => {
  passes((k) => k.rk_copy_strided(f(6), f(6), 2, i32(3, 2), i32(1, 3)), "rk_copy_strided");
  passes((k) => k.rk_copy_strided(f(1), f(1), 0, i32(), i32()), "rk_copy_strided");
  passes((k) => k.rk_copy_strided(f(3), f(12), 2, i32(4, 3), i32(0, 1)), "rk_copy_strided");
  const big = new Int32Array(40).fill(1);
  rejects(
    (k) => k.rk_copy_strided(f(1), f(1), 40, big, big),
    "rk_copy_strided",
    new RegExp(`^rnnkit: native: rk_copy_strided: rank 40 exceeds ${MAX_RANK}$`),
  );
  rejects(
    (k) => k.rk_copy_strided(f(6), f(6), 2, i32(3), i32(1, 3)),
    "rk_copy_strided",
    /shape holds 1/,
  );
  rejects(
    (k) => k.rk_copy_strided(f(6), f(6), 2, [3, 2] as unknown as Int32Array, i32(1, 3)),
    "rk_copy_strided",
    /shape must be an Int32Array, got Array/,
  );
  rejects(
    (k) => k.rk_copy_strided(f(5), f(6), 2, i32(3, 2), i32(1, 3)),
    "rk_copy_strided",
    /src holds 5.*6/,
  );
  rejects(
    (k) => k.rk_copy_strided(f(6), f(5), 2, i32(3, 2), i32(1, 3)),
    "rk_copy_strided",
    /dst holds 5.*6/,
  );
  rejects(
    (k) => k.rk_copy_strided(f(6), f(6), 2, i32(3, -2), i32(1, 3)),
    "rk_copy_strided",
    /shape\[1\] is -2/,
  );
  rejects(
    (k) => k.rk_copy_strided(f(6), f(6), 2, i32(3, 2), i32(-1, 3)),
    "rk_copy_strided",
    /strides reach 2 elements before src/,
  );
  // An empty view touches nothing.
  passes((k) => k.rk_copy_strided(f(0), f(0), 2, i32(0, 5), i32(100, 1)), "rk_copy_strided");
});

Deno.test("native kernels: gather checks every row index; scatter the sizes", () => {
  passes((k) => k.rk_gather_rows(f(6), 2, i32(2, 0), 2, f(4)), "rk_gather_rows");
  rejects(
    (k) => k.rk_gather_rows(f(6), 2, i32(0, 3), 2, f(4)),
    "rk_gather_rows",
    /rows\[1\] is 3, outside the table's \[0, 3\)/,
  );
  rejects((k) => k.rk_gather_rows(f(6), 2, i32(-1), 1, f(2)), "rk_gather_rows", /rows\[0\] is -1/);
  rejects((k) => k.rk_gather_rows(f(6), 2, i32(0, 1), 2, f(3)), "rk_gather_rows", /out holds 3/);
  rejects((k) => k.rk_gather_rows(null, 2, i32(0), 1, f(2)), "rk_gather_rows", /table is null/);
  rejects(
    (k) => k.rk_gather_rows(f(6), 2, f(2), 2, f(4)),
    "rk_gather_rows",
    /rows must be an Int32Array/,
  );
  // Out-of-range rows are dropped by the kernel itself: only sizes are checked.
  passes((k) => k.rk_scatter_add_rows(f(4), 2, i32(9, -1), 2, 3, f(6)), "rk_scatter_add_rows");
  rejects(
    (k) => k.rk_scatter_add_rows(f(4), 2, i32(0, 1), 2, 3, f(5)),
    "rk_scatter_add_rows",
    /out holds 5.*6/,
  );
  rejects(
    (k) => k.rk_scatter_add_rows(f(3), 2, i32(0, 1), 2, 3, f(6)),
    "rk_scatter_add_rows",
    /grad holds 3.*4/,
  );
});

Deno.test("native kernels: the time loops check every array per mode", () => {
  // 2 steps of batch 2, hidden 3: LSTM gates 12, so xp holds 2 * 2 * 12 = 48.
  const [seq, b, n] = [2, 2, 3];
  const fwd = (
    mode: number,
    c: Float32Array | null,
    saved: Float32Array | null,
    bHh = f(12),
    reverse = 0,
    threads = 2,
  ) =>
  (k: Kernels) =>
    k.rk_recurrent_forward_loop(
      mode,
      seq,
      b,
      n,
      reverse,
      threads,
      f(48),
      f(36),
      bHh,
      f(6),
      c,
      saved,
      f(12),
    );
  passes(fwd(MODE.LSTM, f(6), f(72)), "rk_recurrent_forward_loop");
  passes(fwd(MODE.RNN_TANH, null, null), "rk_recurrent_forward_loop");
  passes(fwd(MODE.GRU, null, f(48)), "rk_recurrent_forward_loop");
  rejects(
    fwd(MODE.LSTM, null, f(72)),
    "rk_recurrent_forward_loop",
    /c is null, but LSTM reads and writes/,
  );
  rejects(fwd(MODE.LSTM, f(5), f(72)), "rk_recurrent_forward_loop", /c holds 5.*6/);
  rejects(fwd(MODE.LSTM, f(6), f(71)), "rk_recurrent_forward_loop", /saved holds 71.*72/);
  rejects(fwd(MODE.LSTM, f(6), f(72), f(11)), "rk_recurrent_forward_loop", /bHh holds 11.*12/);
  rejects(fwd(MODE.GRU, null, null), "rk_recurrent_forward_loop", /saved is null/);
  rejects(fwd(4, null, null), "rk_recurrent_forward_loop", /mode 4/);
  rejects(
    fwd(MODE.LSTM, f(6), f(72), f(12), 2),
    "rk_recurrent_forward_loop",
    /reverse must be 0 or 1/,
  );
  for (const threads of [0, 65, 1.5]) {
    rejects(
      fwd(MODE.LSTM, f(6), f(72), f(12), 0, threads),
      "rk_recurrent_forward_loop",
      new RegExp(`threads must be an integer in \\[1, 64\\], got ${threads}`),
    );
  }

  const bwd =
    (mode: number, c0: Float32Array | null, dc: Float32Array | null, dhp: Float32Array | null) =>
    (k: Kernels) =>
      k.rk_recurrent_backward_loop(
        mode,
        seq,
        b,
        n,
        1,
        1,
        f(36),
        f(12),
        f(72),
        f(12),
        f(6),
        c0,
        f(6),
        dc,
        f(48),
        dhp,
      );
  passes(bwd(MODE.LSTM, f(6), f(6), null), "rk_recurrent_backward_loop");
  rejects(bwd(MODE.LSTM, null, f(6), null), "rk_recurrent_backward_loop", /c0 is null/);
  rejects(bwd(MODE.LSTM, f(6), null, null), "rk_recurrent_backward_loop", /dc is null/);
  passes(bwd(MODE.GRU, null, null, f(36)), "rk_recurrent_backward_loop");
  rejects(bwd(MODE.GRU, null, null, null), "rk_recurrent_backward_loop", /dhp is null.*36/);
  rejects(bwd(MODE.GRU, null, null, f(35)), "rk_recurrent_backward_loop", /dhp holds 35/);
});

Deno.test("native kernels: rk_recurrent_cell_step checks weights, state and scratch", () => {
  // LSTM, batch 2, input 3, hidden 2: gates 8; scratch 2 * (2 * 8 + 6 * 2) = 56.
  const step =
    (c: Float32Array | null, scratch = f(56), wIh = f(24), bIh: Float32Array | null = f(8)) =>
    (k: Kernels) =>
      k.rk_recurrent_cell_step(
        MODE.LSTM,
        2,
        3,
        2,
        2,
        f(6),
        wIh,
        bIh,
        f(16),
        null,
        f(4),
        c,
        scratch,
        f(4),
        c,
      );
  passes(step(f(4)), "rk_recurrent_cell_step");
  passes(step(f(4), f(56), f(24), null), "rk_recurrent_cell_step");
  rejects(step(null), "rk_recurrent_cell_step", /c and cOut must be given/);
  rejects(step(f(4), f(55)), "rk_recurrent_cell_step", /scratch holds 55.*56/);
  rejects(step(f(4), f(56), f(23)), "rk_recurrent_cell_step", /wIh holds 23.*24/);
  rejects(step(f(4), f(56), f(24), f(7)), "rk_recurrent_cell_step", /bIh holds 7.*8/);
  // GRU reads h and needs no c: scratch 2 * (2 * 6 + 4 * 2) = 40.
  passes(
    (k) =>
      k.rk_recurrent_cell_step(
        MODE.GRU,
        2,
        3,
        2,
        2,
        f(6),
        f(18),
        null,
        f(12),
        null,
        f(4),
        null,
        f(40),
        f(4),
        null,
      ),
    "rk_recurrent_cell_step",
  );
});

Deno.test({
  name: "native: recurrentStackStep matches a one-step recurrentForward per layer",
  ignore: !haveNative,
}, async () => {
  const backend = await createBackend();
  const fused = backend.fused!;
  // Sizes that leave remainders in the kernel's blocks of 4 rows and 8 columns.
  const [batch, input, n] = [2, 11, 5];
  let seed = 1;
  const rand = (shape: number[]) => {
    const v = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    });
    return backend.fromArray(v, shape, "float32");
  };
  for (const mode of ["RNN_TANH", "LSTM", "GRU"] as const) {
    const g = { RNN_TANH: 1, LSTM: 4, GRU: 3 }[mode] * n;
    const layers = [input, n].map((width) => ({
      wIh: rand([g, width]),
      wHh: rand([g, n]),
      bIh: rand([g]),
      bHh: rand([g]),
    }));
    const [x, h0, c0] = [rand([batch, input]), rand([2, batch, n]), rand([2, batch, n])];
    const lstm = mode === "LSTM";
    const step = fused.recurrentStackStep!({
      mode,
      batch,
      hidden: n,
      x,
      h: h0,
      c: lstm ? c0 : undefined,
      layers,
    });
    // The same through the sequence path: xp = x W_ih^T + b_ih by sgemm, then the loop.
    let below = x;
    const [hs, cs]: [number[], number[]] = [[], []];
    const [h0s, c0s] = [backend.split(h0, [1, 1], 0), backend.split(c0, [1, 1], 0)];
    for (const [l, w] of layers.entries()) {
      const xp = backend.add(backend.matmul(below, w.wIh, false, true), w.bIh);
      const state = (t: Handle) => backend.reshape(t, [batch, n]);
      const r = fused.recurrentForward!({
        mode,
        seq: 1,
        batch,
        hidden: n,
        reverse: false,
        xp,
        wHh: w.wHh,
        bHh: w.bHh,
        h0: state(h0s[l]),
        c0: lstm ? state(c0s[l]) : undefined,
      });
      hs.push(...await backend.read(r.h));
      if (r.c) cs.push(...await backend.read(r.c));
      below = r.h;
    }
    const close = (got: ArrayLike<number>, want: number[], what: string) =>
      want.forEach((v, i) =>
        assert.ok(Math.abs(got[i] - v) < 1e-6, `${mode} ${what}[${i}]: ${got[i]} vs ${v}`)
      );
    close(await backend.read(step.h), hs, "h");
    if (lstm) close(await backend.read(step.c!), cs, "c");
    else assert.equal(step.c, undefined);
  }
});

Deno.test({
  name: "native: the time loops and the stack step give the same results on 1, 2 and 3 threads",
  ignore: !haveNative,
}, async () => {
  // One thread is what the conformance suite compares with PyTorch (its shapes are below
  // the threshold for two). Forward, a unit's product sums in the same order on any thread
  // count: equal. Backward, dL/dh_prev adds the threads' partial sums: equal within 1e-5
  // relative.
  // n 37 and batch 9 leave remainders in every split, register tile and panel.
  const { kernels: k } = await loadKernels();
  let seed = 1;
  const rand = (count: number) =>
    Float32Array.from({ length: count }, () => (seed = (seed * 48271) % 2147483647) / 2 ** 30 - 1);
  const close = (a: Float32Array, b: Float32Array, tol: number, what: string) => {
    const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / (1 + Math.abs(b[i]))), 0);
    assert.ok(worst <= tol, `${what}: differs by ${worst}`);
  };
  for (const [mode, gates, saves] of [[MODE.RNN_TANH, 1, 0], [MODE.LSTM, 4, 6], [MODE.GRU, 3, 4]]) {
    for (const [seq, batch, n, reverse] of [[5, 9, 37, 1], [3, 32, 64, 0]]) {
      const [g, steps] = [gates * n, seq * batch];
      const [xp, wHh, bHh, h0, c0] = [
        rand(steps * g),
        rand(g * n),
        rand(g),
        rand(batch * n),
        rand(batch * n),
      ];
      const [gOut, gH, gC] = [rand(steps * n), rand(batch * n), rand(batch * n)];
      const run = (threads: number) => {
        const [c, saved, out] = [c0.slice(), f(steps * saves * n), f(steps * n)];
        const lstm = mode === MODE.LSTM;
        k.rk_recurrent_forward_loop(
          mode,
          seq,
          batch,
          n,
          reverse,
          threads,
          xp,
          wHh,
          bHh,
          h0,
          lstm ? c : null,
          saved,
          out,
        );
        const [dh, dc, dxp, dhp] = [gH.slice(), gC.slice(), f(steps * g), f(steps * g)];
        k.rk_recurrent_backward_loop(
          mode,
          seq,
          batch,
          n,
          reverse,
          threads,
          wHh,
          out,
          saved,
          gOut,
          h0,
          c0,
          dh,
          lstm ? dc : null,
          dxp,
          mode === MODE.GRU ? dhp : null,
        );
        return { c, saved, out, dh, dc, dxp, dhp };
      };
      const one = run(1);
      for (const threads of [2, 3]) {
        const many = run(threads);
        const what = `mode ${mode} n ${n} on ${threads} threads`;
        for (const key of ["c", "saved", "out"] as const) {
          assert.deepEqual(many[key], one[key], `${what}: ${key}`);
        }
        for (const key of ["dh", "dc", "dxp", "dhp"] as const) {
          close(many[key], one[key], 1e-5, `${what}: ${key}`);
        }
      }
    }
    // The stack step's layer (generation): each unit's dot products and gate math are the
    // same on any thread count. Batch 1, input 300, n 150: above its threshold for two
    // (2^16 multiply-adds) in every mode, with remainders in every loop.
    const [batch, input, n] = [1, 300, 150];
    const g = gates * n;
    const [x, wIh, bIh, wHh, bHh, h, c] = [
      rand(batch * input),
      rand(g * input),
      rand(g),
      rand(g * n),
      rand(g),
      rand(batch * n),
      rand(batch * n),
    ];
    const lstm = mode === MODE.LSTM;
    const step = (threads: number) => {
      const [hOut, cOut] = [f(batch * n), f(batch * n)];
      const scratch = f(batch * (2 * g + saves * n));
      k.rk_recurrent_cell_step(
        mode,
        batch,
        input,
        n,
        threads,
        x,
        wIh,
        bIh,
        wHh,
        bHh,
        h,
        lstm ? c : null,
        scratch,
        hOut,
        lstm ? cOut : null,
      );
      return [hOut, cOut];
    };
    const one = step(1);
    for (const threads of [2, 3]) {
      assert.deepEqual(step(threads), one, `cell step, mode ${mode} on ${threads} threads`);
    }
  }
});

Deno.test({
  name: "native: rk_sgemm shares products out by rows or columns with the same results",
  ignore: !haveNative,
}, async () => {
  // Above the threshold for two threads (2^18 multiply-adds), in blocks of 16 rows with
  // remainders, every transpose, beta 0 and 1: against a product in double, and more
  // threads against one (OpenBLAS on a block of rows: the same sums within rounding).
  const { kernels: k } = await loadKernels();
  k.rk_use_blas(openBlas().path);
  let seed = 7;
  const rand = (count: number) =>
    Float32Array.from({ length: count }, () => (seed = (seed * 48271) % 2147483647) / 2 ** 30 - 1);
  for (const [m, n, kk] of [[301, 37, 53], [40, 301, 53]]) {
    for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const [a, b, c0] = [rand(m * kk), rand(kk * n), rand(m * n)];
      const at = (i: number, p: number) => ta ? a[p * m + i] : a[i * kk + p];
      const bt = (p: number, j: number) => tb ? b[j * kk + p] : b[p * n + j];
      for (const beta of [0, 1]) {
        const run = (threads: number) => {
          const c = c0.slice();
          k.rk_sgemm(ta, tb, m, n, kk, a, b, c, beta, threads);
          return c;
        };
        const one = run(1);
        const what = `[${m},${n},${kk}] trans ${ta}${tb} beta ${beta}`;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let want = beta * c0[i * n + j];
            for (let p = 0; p < kk; p++) want += at(i, p) * bt(p, j);
            assert.ok(Math.abs(one[i * n + j] - want) <= 1e-5 * kk, `${what}: c[${i},${j}]`);
          }
        }
        for (const threads of [2, 3]) {
          const many = run(threads);
          const worst = many.reduce(
            (w, v, i) => Math.max(w, Math.abs(v - one[i]) / (1 + Math.abs(one[i]))),
            0,
          );
          assert.ok(worst <= 1e-5, `${what} on ${threads} threads: differs by ${worst}`);
        }
      }
    }
  }
});

Deno.test({
  name: "native: rk_cross_entropy matches log-softmax; a NaN row and ignored targets",
  ignore: !haveNative,
}, async () => {
  const { kernels: k } = await loadKernels();
  // Row 0 shifted far up (the maximum is subtracted first), row 1 holds a NaN, rows 2-3
  // have targets outside [0, 3): loss 0, gradient 0.
  const x = Float32Array.of(1000, 1001, 1002, 0, NaN, 1, 0.5, -2, 3, 1, 2, 3);
  const t = i32(2, 0, -100, 3);
  const [loss, p] = [f(4), f(12)];
  k.rk_cross_entropy(x, t, 4, 3, loss, p);
  const lse = Math.log(Math.exp(-2) + Math.exp(-1) + 1);
  assert.ok(Math.abs(loss[0] - lse) < 1e-6, `loss[0] ${loss[0]}, expected ${lse}`);
  assert.ok(Number.isNaN(loss[1]) && p.subarray(3, 6).every(Number.isNaN));
  assert.deepEqual([...loss.subarray(2)], [0, 0]);
  for (const r of [0, 2, 3]) {
    const row = p.subarray(3 * r, 3 * r + 3);
    assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - 1) < 1e-6, `row ${r} sums to 1`);
  }
  const dx = f(12);
  k.rk_cross_entropy_backward(p, t, Float32Array.of(2, 1, 1, 1), 4, 3, dx);
  assert.deepEqual([...dx.subarray(0, 2)], [2 * p[0], 2 * p[1]]);
  assert.ok(Math.abs(dx[2] - 2 * (p[2] - 1)) < 1e-7);
  assert.deepEqual([...dx.subarray(6)], [0, 0, 0, 0, 0, 0]);
});

Deno.test({
  name: "native: rk_reduce_rows sums and maximises rows of any width, NaN propagating",
  ignore: !haveNative,
}, async () => {
  // Eight lanes, then a tail: widths around 8 and 16, with the maximum at every position;
  // the second half of the rows holds a NaN there instead.
  const { kernels: k } = await loadKernels();
  const SUM = 0, MAX = 1;
  for (const width of [1, 7, 8, 9, 16, 37, 65]) {
    const rows = 2 * width;
    const x = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < width; j++) x[r * width + j] = -((j - (r % width)) ** 2) - 1;
      if (r >= width) x[r * width + (r % width)] = NaN;
    }
    const [sums, maxima] = [f(rows), f(rows)];
    k.rk_reduce_rows(SUM, x, rows, width, sums);
    k.rk_reduce_rows(MAX, x, rows, width, maxima);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * width, (r + 1) * width);
      assert.equal(maxima[r], r < width ? -1 : NaN, `width ${width}, row ${r}: max`);
      const sum = row.reduce((a, v) => a + v, 0);
      assert.ok(
        Object.is(sums[r], Math.fround(sum)) || Math.abs(sums[r] - sum) <= 1e-6 * Math.abs(sum),
        `width ${width}, row ${r}: sum ${sums[r]}, expected ${sum}`,
      );
    }
  }
});

Deno.test({
  name: "native: LSTM's fused forward and backward without c0 throw instead of crashing",
  ignore: !haveNative,
}, async () => {
  const backend = await createBackend();
  const [seq, batch, hidden] = [2, 1, 3];
  const h = (n: number) => backend.fromArray(new Float32Array(n).fill(0.1), [n], "float32");
  const args: RecurrentArgs = {
    mode: "LSTM",
    seq,
    batch,
    hidden,
    reverse: false,
    xp: h(seq * batch * 4 * hidden),
    wHh: h(4 * hidden * hidden),
    bHh: null,
    h0: h(batch * hidden),
  };
  assert.throws(
    () => backend.fused!.recurrentForward!(args),
    /^Error: rnnkit: native: rk_recurrent_forward_loop: c is null, but LSTM reads and writes/,
  );
  // With c0 it runs; its backward without c0 throws before the loop.
  const out = backend.fused!.recurrentForward!({ ...args, c0: h(batch * hidden) });
  const grads = {
    output: out.output,
    saved: out.saved,
    gOut: h(seq * batch * hidden),
    gH: h(batch * hidden),
  };
  assert.throws(
    () => backend.fused!.recurrentBackward!({ ...args, ...grads }),
    /rnnkit: native: rk_recurrent_backward_loop: c0 is null/,
  );
  const back = backend.fused!.recurrentBackward!({ ...args, ...grads, c0: h(batch * hidden) });
  assert.equal((await backend.read(back.dxp)).length, seq * batch * 4 * hidden);
  // A transpose of rank 33 never reaches rk_copy_strided's 32-slot odometer.
  const x = backend.fromArray(Float32Array.of(1), Array(33).fill(1), "float32");
  assert.throws(
    () => backend.transpose(x, [...Array(33).keys()]),
    /rnnkit: native: rk_copy_strided: rank 33 exceeds 32/,
  );
  for (const t of [x, ...Object.values({ ...args, ...out, ...grads }), ...Object.values(back)]) {
    if (t && typeof t === "object") backend.dispose(t as Handle);
  }
});

/** Runs `fn` with these environment variables set (undefined: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) Deno.env.delete(k);
      else Deno.env.set(k, val);
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

Deno.test("missingDependencies names a missing compiler or OpenBLAS in one line", async () => {
  const cache = await Deno.makeTempDir();
  try {
    await withEnv({ XDG_CACHE_HOME: cache, PATH: "", CC: undefined }, async () => {
      assert.match(
        (await missingDependencies())!,
        /^no C compiler \(cc\) on PATH(; no OpenBLAS|$)/,
      );
    });
    await withEnv({ XDG_CACHE_HOME: cache, CC: "/nonexistent/cc" }, async () => {
      assert.match((await missingDependencies())!, /^no C compiler \(\/nonexistent\/cc\) on PATH/);
    });
    await withEnv({ RNNKIT_BLAS_LIB: "/nonexistent/libopenblas.so" }, async () => {
      assert.match(
        (await missingDependencies())!,
        /no OpenBLAS \(\/nonexistent\/libopenblas\.so\)$/,
      );
    });
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test({
  name: "missingDependencies: built kernels stand in for a compiler; nothing is built",
  ignore: !haveNative,
}, async () => {
  const cache = await Deno.makeTempDir();
  try {
    await withEnv({ XDG_CACHE_HOME: cache }, async () => {
      assert.equal(await missingDependencies(), undefined);
      assert.equal(await cachedKernels(), undefined, "missingDependencies built the kernels");
      const { path } = await loadKernels();
      assert.equal(await cachedKernels(), path);
      await withEnv({ PATH: "" }, async () => assert.equal(await missingDependencies(), undefined));
    });
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

/** Loads the backend in a fresh `deno run` with these permissions and build cache. */
const load = (cache: string, ...permissions: string[]) =>
  runScript(
    'import { createBackend } from "@rnnkit/backend-native"; const b = await createBackend(); console.log(b.description);',
    permissions,
    { XDG_CACHE_HOME: cache },
  );

Deno.test({
  name: "native: a corrupt or truncated cached library is deleted and built again, once",
  ignore: !haveNative,
}, async (t) => {
  const cache = await Deno.makeTempDir();
  try {
    const built = await load(cache, "-A");
    assert.equal(built.code, 0, built.stderr);
    const lib = built.stdout.match(/kernels (\S+\.so);/)![1];
    const good = await Deno.readFile(lib);
    await t.step("without --allow-run/--allow-write: says what rebuilding needs", async () => {
      await Deno.writeTextFile(lib, "not a shared library");
      const r = await load(cache, "--allow-ffi", "--allow-read", "--allow-env");
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /rnnkit: backend "native": its cached kernels \(.*\) do not load \(.+\); deleting and building them again needs --allow-run \(to run \S+\) and --allow-write \(for .*\)/,
      );
    });
    // A library that loads but lacks the kernels' symbols, where the system has one.
    const other = ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6"]
      .flatMap((path) => {
        try {
          return [["another library (no rk_ symbols)", Deno.readFileSync(path)] as const];
        } catch {
          return [];
        }
      });
    for (
      const [what, bytes] of [
        ["garbage", new TextEncoder().encode("not a shared library")],
        ["truncated", good.subarray(0, good.length >> 1)],
        ...other,
      ] as const
    ) {
      await t.step(`${what}: rebuilt and loaded`, async () => {
        await Deno.writeFile(lib, bytes);
        const r = await load(cache, "-A");
        assert.equal(r.code, 0, r.stderr);
        assert.equal((await Deno.readFile(lib)).length, good.length);
        // No temporary files left behind.
        const names = [...Deno.readDirSync(`${cache}/rnnkit`)].map((e) => e.name);
        assert.deepEqual(names.filter((n) => n.endsWith(".tmp")), []);
      });
    }
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("native: kernels.c is read from disk for file: URLs and fetched for http(s)", async () => {
  const local = await readSource();
  assert.match(local, /void rk_unary\(/);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/kernels.c"
        ? new Response(local)
        : new Response("missing", { status: 404 }),
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    assert.equal(await readSource(new URL(`${base}/kernels.c`)), local);
    await assert.rejects(
      readSource(new URL(`${base}/other.c`)),
      /rnnkit: backend "native" cannot fetch http:\/\/127\.0\.0\.1:\d+\/other\.c: 404/,
    );
    await assert.rejects(readSource(new URL("data:,x")), /cannot read its kernels from data:/);
  } finally {
    await server.shutdown();
  }
});
