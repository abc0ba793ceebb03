/**
 * Every core op against PyTorch (tests/fixtures/ops.json): forward values and the gradients
 * of loss = sum_k sum(output_k * upstream_k); int outputs (argmax, max's indices) exactly. Then every primitive of the Backend interface,
 * called directly, so that a backend missing a kernel fails one test named after it.
 */
import { getBackend, intTensor, liveTensors, ops, type Tensor, tensor, tidy } from "@rnnkit/core";
import type { Backend, FusedOps, Handle } from "@rnnkit/core/backend";
import { assertClose, assertTensor, type HostTensor } from "../check.ts";
import { type OpCase, opCases } from "../fixtures.ts";
import { test } from "../registry.ts";

// deno-lint-ignore no-explicit-any
type Args = any;

const INT_INPUTS = new Set(["indices", "gradIndices", "index"]);
/** Float 0/1 masks (rnnkit's bool tensors): they get no gradient. */
const MASK_INPUTS = new Set(["cond", "mask"]);
const BINARY = { add: ops.add, sub: ops.sub, mul: ops.mul, div: ops.div };
const UNARY = {
  neg: ops.neg,
  exp: ops.exp,
  log: ops.log,
  sqrt: ops.sqrt,
  tanh: ops.tanh,
  sigmoid: ops.sigmoid,
  relu: ops.relu,
  erf: ops.erf,
  gelu: ops.gelu,
  abs: ops.abs,
};
const REDUCE = { sum: ops.sum, mean: ops.mean, maxDetached: ops.maxDetached };
const INDEX = { argmax: ops.argmax, argmin: ops.argmin };

/** Calls ops.<op> the way generate.py's op_reference() calls torch. */
function run(c: OpCase, x: Record<string, Tensor>): Tensor | Tensor[] {
  const a: Args = c.args;
  const all = Object.values(x);
  if (c.op in BINARY) return BINARY[c.op as keyof typeof BINARY](x.a, x.b);
  if (c.op in UNARY) return UNARY[c.op as keyof typeof UNARY](x.x);
  if (c.op in REDUCE) return REDUCE[c.op as keyof typeof REDUCE](x.x, a.axes, a.keepDims);
  switch (c.op) {
    case "scale":
      return ops.scale(x.x, a.s);
    case "matmul":
      return ops.matmul(x.a, x.b, a.transposeA, a.transposeB);
    case "bmm":
      return ops.bmm(x.a, x.b);
    case "softmax":
      return ops.softmax(x.x, a.axis);
    case "pow":
      return ops.pow(x.x, a.exponent);
    case "clamp":
      return ops.clamp(x.x, a.min, a.max);
    case "where":
      return ops.where(x.cond, x.a, x.b);
    case "maskedFill":
      return ops.maskedFill(x.x, x.mask, a.value);
    case "narrow":
      return ops.narrow(x.x, a.dim, a.start, a.length);
    case "indexSelect":
      return ops.indexSelect(x.x, a.dim, x.index);
    case "argmax":
    case "argmin":
      return INDEX[c.op as keyof typeof INDEX](x.x, a.dim, a.keepDim);
    case "max":
    case "min": {
      const f = c.op === "max" ? ops.max : ops.min;
      if (a.dim === undefined) return f(x.x);
      const { values, indices } = f(x.x, a.dim, a.keepDim);
      return [values, indices];
    }
    case "var":
    case "std":
      return (c.op === "var" ? ops.var : ops.std)(x.x, a.axes, {
        correction: a.correction,
        keepDims: a.keepDims,
      });
    case "logSoftmax":
      return ops.logSoftmax(x.x, a.axis);
    case "reshape":
      return ops.reshape(x.x, a.shape);
    case "transpose":
      return ops.transpose(x.x, a.perm);
    case "concat":
      return ops.concat(all, a.axis);
    case "stack":
      return ops.stack(all, a.dim);
    case "cat":
      return ops.cat(all, a.dim);
    case "split":
      return ops.split(x.x, a.sizes, a.axis);
    case "unbind":
      return ops.unbind(x.x, a.dim);
    case "select":
      return ops.select(x.x, a.dim, a.index);
    case "gather":
      return ops.gather(x.x, x.indices, x.gradIndices);
    case "oneHot":
      return ops.oneHot(x.indices, a.depth);
  }
  throw new Error(`unknown op ${c.op}`);
}

/**
 * Back-propagates loss = sum_k sum(outs[k] * ups[k]). An output whose upstream is all zeros
 * is left out of the loss instead (the same gradient), so autograd must fill in its zeros.
 */
function backward(outs: Tensor[], ups: HostTensor[]): void {
  const terms = outs.flatMap((t, k) =>
    ups[k].data.some((v) => v !== 0) ? [ops.sum(ops.mul(t, tensor(ups[k].data, ups[k].shape)))] : []
  );
  terms.reduce((p, q) => ops.add(p, q)).backward();
}

function assertNoLeak(what: string, core: number, backend: number): void {
  const dCore = liveTensors() - core;
  const dBackend = getBackend().memory().numTensors - backend;
  if (dCore || dBackend) {
    throw new Error(`${what}: leaked ${dCore} core and ${dBackend} backend tensors`);
  }
}

for (const c of opCases) {
  test(`op ${c.name}`, async () => {
    const [core, backend] = [liveTensors(), getBackend().memory().numTensors];
    const x: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) {
      const isInt = INT_INPUTS.has(k);
      x[k] = isInt ? intTensor(v.data, v.shape) : tensor(v.data, v.shape);
      x[k].requiresGrad = !isInt && !MASK_INPUTS.has(k);
    }
    let ys: Tensor[] = [];
    try {
      ys = tidy(() => {
        const y = run(c, x);
        const outs = Array.isArray(y) ? y : [y];
        if (c.upstream) backward(outs, [c.upstream].flat());
        return outs;
      });
      const expected = c.outputs ?? [c.output!];
      if (ys.length !== expected.length) {
        throw new Error(`${c.name}: ${ys.length} outputs != expected ${expected.length}`);
      }
      for (const [k, e] of expected.entries()) {
        // Indices (int32) must be exact.
        const exact = ys[k].dtype === "int32" ? { atol: 0, rtol: 0 } : undefined;
        await assertTensor(ys[k], e, `${c.name} output${c.outputs ? ` ${k}` : ""}`, exact);
      }
      if (!c.upstream && ys.some((y) => y.node)) {
        throw new Error(`${c.name}: a forward-only op recorded an autograd node`);
      }
      for (const [k, e] of Object.entries(c.grads ?? {})) {
        await assertTensor(x[k].grad, e, `${c.name} grad ${k}`);
      }
    } finally {
      for (const t of [...ys, ...Object.values(x)]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
    assertNoLeak(c.name, core, backend);
  });
}

// --- Backend primitives ------------------------------------------------------------------

/** Every required method of the Backend interface. */
export const BACKEND_OPS = [
  "fromArray",
  "read",
  "dispose",
  "memory",
  "fill",
  "oneHot",
  "add",
  "sub",
  "mul",
  "div",
  "scale",
  "neg",
  "exp",
  "log",
  "sqrt",
  "tanh",
  "sigmoid",
  "relu",
  "step",
  "erf",
  "where",
  "matmul",
  "sum",
  "max",
  "argMax",
  "reshape",
  "transpose",
  "broadcastTo",
  "split",
  "concat",
  "gather",
] as const satisfies readonly (keyof Backend)[];

type BackendOp = typeof BACKEND_OPS[number];
type RequiredMethods = {
  [K in keyof Backend]-?: Backend[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Backend];
// `deno check` fails here when the interface gains a required method BACKEND_OPS lacks.
const _complete: [Exclude<RequiredMethods, BackendOp>] extends [never] ? true : never = true;

/** Every optional fused op; `deno check` fails here when FusedOps gains one this lacks. */
const FUSED_OPS = [
  "scatterAddRows",
  "recurrentForward",
  "recurrentBackward",
  "recurrentStackStep",
  "adamStep",
  "crossEntropy",
  "crossEntropyBackward",
] as const;
const _allFused: [Exclude<keyof FusedOps, typeof FUSED_OPS[number]>] extends [never] ? true
  : never = true;

/** Raw handles for one backend test, freed together at the end. */
class Raw {
  readonly handles: Handle[] = [];
  constructor(readonly b: Backend) {}

  own(h: Handle): Handle {
    this.handles.push(h);
    return h;
  }

  f(values: number[], shape: number[] = [values.length]): Handle {
    return this.own(this.b.fromArray(Float32Array.from(values), shape, "float32"));
  }

  i(values: number[], shape: number[] = [values.length]): Handle {
    return this.own(this.b.fromArray(Int32Array.from(values), shape, "int32"));
  }

  /** Reads `h` (taking ownership) and compares it with `expected`; floats unless int. */
  async expect(h: Handle, expected: ArrayLike<number>, what: string, int = false) {
    const values = await this.b.read(this.own(h));
    if (!(values instanceof (int ? Int32Array : Float32Array))) {
      throw new Error(`${what}: read() gave ${values.constructor.name}`);
    }
    assertClose(values, expected, what);
  }

  dispose(): void {
    for (const h of this.handles.splice(0)) this.b.dispose(h);
  }
}

type Probe = (r: Raw) => Promise<void> | void;

const A = [1, -2, 3, 4, -5, 6]; // [2, 3]
const ROW = [0.5, -4, 2]; // [3]
const COL = [2, -1]; // [2, 1]
const X = [-1.5, 0, 0.5, 2];
const POSITIVE = [0.25, 1, 2.5, 4];
const SPLITS = [
  { sizes: [1, 2], axis: 1, pieces: [[1, 4], [-2, 3, -5, 6]] },
  { sizes: [1, 1], axis: 0, pieces: [[1, -2, 3], [4, -5, 6]] },
];

/** a op b with b broadcast as a row [3] and as a column [2, 1]. */
function binary(op: "add" | "sub" | "mul" | "div", f: (a: number, b: number) => number): Probe {
  return async (r) => {
    await r.expect(r.b[op](r.f(A, [2, 3]), r.f(ROW)), A.map((v, i) => f(v, ROW[i % 3])), "row");
    const col = A.map((v, i) => f(v, COL[Math.floor(i / 3)]));
    await r.expect(r.b[op](r.f(A, [2, 3]), r.f(COL, [2, 1])), col, "column");
  };
}

type Unary = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "step" | "erf";
function unary(op: Unary, xs: number[], f: (v: number) => number): Probe {
  return (r) => r.expect(r.b[op](r.f(xs)), xs.map(f), op);
}

/** erf in double by its Taylor series (|x| <= 4: 1e-13 or better), for the erf probe. */
function erfReference(x: number): number {
  let term = x;
  let total = x;
  for (let n = 1; n < 120; n++) {
    term *= (-x * x) / n;
    total += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * total;
}

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

const PROBES: Record<BackendOp, Probe> = {
  fromArray: async (r) => {
    await r.expect(r.f([1.5, -2, 3.25]), [1.5, -2, 3.25], "float32");
    await r.expect(r.f([7], []), [7], "scalar");
    await r.expect(r.i([3, -1, 0], [3]), [3, -1, 0], "int32", true);
  },
  read: async (r) => {
    const h = r.f([0.1, 0.2, 0.3, 0.4], [2, 2]);
    const [v1, v2] = await Promise.all([r.b.read(h), r.b.read(h)]);
    assertClose(v1, Float32Array.of(0.1, 0.2, 0.3, 0.4), "first read", { atol: 0, rtol: 0 });
    assertClose(v2, v1, "second read", { atol: 0, rtol: 0 });
  },
  dispose: (r) => {
    const n = r.b.memory().numTensors;
    const h = r.b.fromArray(Float32Array.of(1, 2), [2], "float32");
    assert(r.b.memory().numTensors === n + 1, "fromArray did not add a tensor");
    r.b.dispose(h);
    assert(r.b.memory().numTensors === n, "dispose did not free the tensor");
  },
  memory: (r) => {
    const before = r.b.memory();
    r.f([1, 2, 3, 4]);
    const after = r.b.memory();
    assert(after.numTensors === before.numTensors + 1, "numTensors did not grow by one");
    assert(after.numBytes > before.numBytes, "numBytes did not grow");
  },
  fill: async (r) => {
    await r.expect(r.b.fill([2, 3], -0.5), Array(6).fill(-0.5), "[2, 3]");
    await r.expect(r.b.fill([], 2), [2], "scalar");
  },
  oneHot: (r) =>
    r.expect(r.b.oneHot(r.i([2, 0, -1, 3]), 3), [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], "oneHot"),
  add: binary("add", (a, b) => a + b),
  sub: binary("sub", (a, b) => a - b),
  mul: binary("mul", (a, b) => a * b),
  div: binary("div", (a, b) => a / b),
  scale: (r) => r.expect(r.b.scale(r.f(A), -0.5), A.map((v) => v * -0.5), "scale"),
  neg: unary("neg", X, (v) => -v),
  exp: unary("exp", X, Math.exp),
  log: unary("log", POSITIVE, Math.log),
  sqrt: unary("sqrt", POSITIVE, Math.sqrt),
  tanh: unary("tanh", X, Math.tanh),
  sigmoid: unary("sigmoid", X, (v) => 1 / (1 + Math.exp(-v))),
  relu: unary("relu", X, (v) => Math.max(v, 0)),
  step: unary("step", X, (v) => (v > 0 ? 1 : 0)),
  erf: unary("erf", [-3, -1.2, -0.5, -1e-3, 0, 0.25, 1, 2.5, 4], erfReference),
  where: async (r) => {
    // cond: any nonzero picks a; cond, a and b broadcast together.
    const cond = r.f([1, 0, 2, 0, -1, 0], [2, 3]);
    await r.expect(
      r.b.where(cond, r.f([7], []), r.f(ROW)),
      [7, -4, 7, 0.5, 7, 2],
      "scalar a, row b",
    );
    const col = r.f([1, 0], [2, 1]);
    await r.expect(
      r.b.where(col, r.f(A, [2, 3]), r.f([9], [])),
      [1, -2, 3, 9, 9, 9],
      "column cond",
    );
    // An infinity or NaN in the branch not taken stays out.
    const wild = r.f([Infinity, NaN, -Infinity, 1, 2, 3], [2, 3]);
    await r.expect(r.b.where(r.f([0, 0, 0, 1, 1, 1], [2, 3]), wild, r.f(A, [2, 3])), [
      1,
      -2,
      3,
      1,
      2,
      3,
    ], "inf and NaN not taken");
  },
  matmul: async (r) => {
    // [3, 2] @ [2, 3], passing each operand as given or pre-transposed.
    const a = [1, 2, 3, 4, 5, 6];
    const aT = [1, 3, 5, 2, 4, 6];
    const b = [1, 0, -1, 2, 1, 0];
    const bT = [1, 2, 0, 1, -1, 0];
    const product = [5, 2, -1, 11, 4, -3, 17, 6, -5];
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const x = ta ? r.f(aT, [2, 3]) : r.f(a, [3, 2]);
        const y = tb ? r.f(bT, [3, 2]) : r.f(b, [2, 3]);
        await r.expect(r.b.matmul(x, y, ta, tb), product, `transposeA ${ta} transposeB ${tb}`);
        // One row: a matrix-vector product, which a backend may route elsewhere.
        const row = r.f(a.slice(0, 2), ta ? [2, 1] : [1, 2]);
        const what = `one row, transposeA ${ta} transposeB ${tb}`;
        await r.expect(r.b.matmul(row, y, ta, tb), product.slice(0, 3), what);
      }
    }
  },
  sum: async (r) => {
    const x = r.f(A, [2, 3]);
    await r.expect(r.b.sum(x, [1], false), [2, 5], "axis 1");
    await r.expect(r.b.sum(x, [0], true), [5, -7, 9], "axis 0 keepDims");
    await r.expect(r.b.sum(x, [0, 1], false), [7], "all");
  },
  max: async (r) => {
    const x = r.f(A, [2, 3]);
    await r.expect(r.b.max(x, [1], false), [3, 6], "axis 1");
    await r.expect(r.b.max(x, [0], true), [4, -2, 6], "axis 0 keepDims");
    await r.expect(r.b.max(x, [0, 1], false), [6], "all");
  },
  argMax: async (r) => {
    const x = r.f(A, [2, 3]);
    await r.expect(r.b.argMax(x, 1), [2, 2], "axis 1", true);
    await r.expect(r.b.argMax(x, 0), [1, 0, 1], "axis 0", true);
    // Ties give the first index, NaN counts as the maximum (as PyTorch), -inf is a value.
    await r.expect(r.b.argMax(r.f([3, 1, 3, 3]), 0), [0], "ties", true);
    await r.expect(r.b.argMax(r.f([1, NaN, 3, NaN]), 0), [1], "NaN", true);
    await r.expect(r.b.argMax(r.f([-Infinity, -Infinity]), 0), [0], "-inf", true);
    const cube = r.f([1, 5, 5, 2, 0, 5, 7, 7, 7, 1, 8, 8], [2, 3, 2]);
    await r.expect(r.b.argMax(cube, 1), [1, 0, 2, 2], "3-D middle axis, ties", true);
    // A long row (GPU reductions split rows of 32 and more) with ties at 37 and 80.
    const long = Array.from({ length: 100 }, (_, i) => (i === 37 || i === 80 ? 9 : i % 7));
    await r.expect(r.b.argMax(r.f(long, [1, 100]), 1), [37], "100 values, ties", true);
  },
  reshape: async (r) => {
    // A new handle: the input can be freed while the output lives on.
    const x = r.b.fromArray(Float32Array.from(A), [2, 3], "float32");
    const y = r.b.reshape(x, [3, 2]);
    r.b.dispose(x);
    await r.expect(y, A, "reshape after freeing its input");
  },
  transpose: async (r) => {
    await r.expect(r.b.transpose(r.f(A, [2, 3]), [1, 0]), [1, 4, -2, -5, 3, 6], "2-D");
    const x = r.f([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    await r.expect(r.b.transpose(x, [2, 0, 1]), [1, 3, 5, 7, 2, 4, 6, 8], "3-D [2, 0, 1]");
    // The identity, of a oneHot result (on tfjs-webgpu this once zeroed other tensors).
    const other = r.f([2, 2.5, 1.5]);
    const hot = r.own(r.b.oneHot(r.i([2, 0, 2]), 5));
    await r.expect(
      r.b.transpose(hot, [0, 1]),
      [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0],
      "identity",
    );
    await r.expect(r.b.reshape(other, [3]), [2, 2.5, 1.5], "another tensor after the identity");
  },
  broadcastTo: async (r) => {
    await r.expect(r.b.broadcastTo(r.f([1, 2, 3]), [2, 3]), [1, 2, 3, 1, 2, 3], "row");
    await r.expect(r.b.broadcastTo(r.f([5, 7], [2, 1]), [2, 3]), [5, 5, 5, 7, 7, 7], "column");
  },
  split: async (r) => {
    const x = r.f(A, [2, 3]);
    for (const { sizes, axis, pieces } of SPLITS) {
      const hs = r.b.split(x, sizes, axis).map((h) => r.own(h));
      assert(hs.length === pieces.length, `axis ${axis}: ${hs.length} pieces`);
      for (const [k, h] of hs.entries()) await r.expect(h, pieces[k], `axis ${axis} piece ${k}`);
    }
  },
  concat: async (r) => {
    const rows = r.b.concat([r.f([1, 2], [1, 2]), r.f([3, 4, 5, 6], [2, 2])], 0);
    await r.expect(rows, [1, 2, 3, 4, 5, 6], "axis 0");
    const cols = r.b.concat([r.f([7, 8], [2, 1]), r.f([3, 4, 5, 6], [2, 2])], 1);
    await r.expect(cols, [7, 3, 4, 8, 5, 6], "axis 1");
  },
  gather: (r) =>
    r.expect(r.b.gather(r.f(A, [3, 2]), r.i([2, 0, 2])), [-5, 6, 1, -2, -5, 6], "rows"),
};

test("backend has every op of BACKEND_OPS", () => {
  const b = getBackend();
  const missing = BACKEND_OPS.filter((op) => typeof b[op] !== "function");
  if (missing.length) throw new Error(`backend ${b.name} lacks ${missing.join(", ")}`);
  // For the capability table: which fused ops the backend has (the module, optimizer and
  // generation cases above check them, or the composites, against PyTorch).
  for (const op of FUSED_OPS) {
    console.log(`[${b.name}] fused op ${op}: ${b.fused?.[op] ? "backend" : "composite"}`);
  }
});

for (const op of BACKEND_OPS) {
  test(`backend op ${op}`, async () => {
    const b = getBackend();
    if (typeof b[op] !== "function") throw new Error(`backend ${b.name} has no ${op}()`);
    const before = b.memory().numTensors;
    const r = new Raw(b);
    try {
      await PROBES[op](r);
    } finally {
      r.dispose();
    }
    const leaked = b.memory().numTensors - before;
    if (leaked) throw new Error(`backend ${b.name} ${op}: ${leaked} tensors leaked`);
  });
}
