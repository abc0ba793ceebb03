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

const haveNative = (await missingDependencies()) === undefined;

/** Checked kernels over stand-ins that record the calls that got through. */
function stubs(): { k: Kernels; calls: string[] } {
  const calls: string[] = [];
  const raw = new Proxy({}, {
    get: (_, name) => () => calls.push(String(name)),
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

Deno.test("native kernels: the recurrent kernels check every array per mode", () => {
  const [b, n] = [2, 3];
  const fwd =
    (mode: number, c: Float32Array | null, saved: Float32Array | null, bHh = f(12)) =>
    (k: Kernels) => k.rk_recurrent_forward(mode, b, n, f(24), f(24), bHh, f(6), c, saved, f(6));
  passes(fwd(MODE.LSTM, f(6), f(36)), "rk_recurrent_forward");
  passes(fwd(MODE.RNN_TANH, null, null), "rk_recurrent_forward");
  passes(fwd(MODE.GRU, null, f(24)), "rk_recurrent_forward");
  rejects(
    fwd(MODE.LSTM, null, f(36)),
    "rk_recurrent_forward",
    /c is null, but LSTM reads and writes/,
  );
  rejects(fwd(MODE.LSTM, f(5), f(36)), "rk_recurrent_forward", /c holds 5.*6/);
  rejects(fwd(MODE.LSTM, f(6), f(35)), "rk_recurrent_forward", /saved holds 35.*36/);
  rejects(fwd(MODE.LSTM, f(6), f(36), f(11)), "rk_recurrent_forward", /bHh holds 11.*12/);
  rejects(fwd(MODE.GRU, null, null), "rk_recurrent_forward", /saved is null/);
  rejects(fwd(4, null, null), "rk_recurrent_forward", /mode 4/);
  rejects(
    (k) => k.rk_recurrent_forward(MODE.GRU, b, n, f(18), f(18), null, null, null, f(24), f(6)),
    "rk_recurrent_forward",
    /h is null/,
  );

  const bwd =
    (mode: number, cPrev: Float32Array | null, stride: number, dhp: Float32Array | null) =>
    (k: Kernels) =>
      k.rk_recurrent_backward(
        mode,
        b,
        n,
        f(6),
        f(6),
        f(6),
        f(36),
        f(6),
        cPrev,
        stride,
        f(6),
        f(24),
        dhp,
        f(6),
      );
  passes(bwd(MODE.LSTM, f(6), n, null), "rk_recurrent_backward");
  // c_prev read from saved: rows of 6n, the last one needs only n.
  passes(bwd(MODE.LSTM, f(18 + 3), 18, null), "rk_recurrent_backward");
  rejects(bwd(MODE.LSTM, f(18 + 2), 18, null), "rk_recurrent_backward", /cPrev holds 20.*21/);
  rejects(bwd(MODE.LSTM, null, n, null), "rk_recurrent_backward", /cPrev is null/);
  passes(bwd(MODE.GRU, null, n, f(18)), "rk_recurrent_backward");
  rejects(bwd(MODE.GRU, null, n, null), "rk_recurrent_backward", /dhp is null.*18/);
  rejects(bwd(MODE.GRU, null, n, f(17)), "rk_recurrent_backward", /dhp holds 17/);
  rejects(bwd(MODE.LSTM, f(6), -1, null), "rk_recurrent_backward", /cPrevStride must be/);
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
    /^Error: rnnkit: native: rk_recurrent_forward: c is null, but LSTM reads and writes/,
  );
  // With c0 it runs; its backward without c0 throws at the first step.
  const out = backend.fused!.recurrentForward!({ ...args, c0: h(batch * hidden) });
  const grads = {
    output: out.output,
    saved: out.saved,
    gOut: h(seq * batch * hidden),
    gH: h(batch * hidden),
  };
  assert.throws(
    () => backend.fused!.recurrentBackward!({ ...args, ...grads }),
    /rnnkit: native: rk_recurrent_backward: cPrev is null/,
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
