/**
 * Differentiable ops: each runs one backend op forward and states its gradient, once,
 * in terms of other ops. Everything in `nn` and `optim` is built from these.
 * @module
 */
import type { Handle } from "./backend.ts";
import { getBackend } from "./engine.ts";
import { needsGrad, Tensor } from "./tensor.ts";
import { broadcastShapes, formatShape as fmt, sizeOf } from "./shape.ts";
import { sigmoidGrad, stepMask, tanhGrad } from "./grad.ts";

const B = getBackend;
type Grad = Tensor | null;

function wrap(h: Handle, shape: readonly number[]): Tensor {
  return new Tensor(h, shape);
}

/** Records `out` as produced by `inputs` when a gradient may be needed. */
function record(name: string, inputs: Tensor[], out: Tensor, backward: (g: Tensor) => Grad[]) {
  if (needsGrad(inputs)) {
    out.node = {
      name,
      inputs,
      outputs: [out],
      backward: ([g]) => backward(g),
    };
  }
  return out;
}

// --- Creation ----------------------------------------------------------------------------

/** Numbers nested in arrays, as `torch.tensor` takes them: 3, [1, 2], [[1, 2], [3, 4]], ... */
export type NestedArray = number | readonly NestedArray[];

/**
 * A float32 tensor from host values, as `torch.tensor`: nested arrays give their own shape
 * (`tensor([[1, 2], [3, 4]])` is [2, 2], `tensor(3)` a scalar); flat values (an array or a
 * typed array) are read in row-major order into `shape`, which defaults to [length].
 */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: readonly number[]): Tensor {
  const host = hostValues("tensor", values, shape);
  return wrap(B().fromArray(Float32Array.from(host.values), host.shape, "float32"), host.shape);
}

/**
 * An int32 tensor (indices, class labels) from host values, shaped as `tensor()` shapes
 * them; keeps a host copy, against which modules validate indices.
 */
export function intTensor(
  values: NestedArray | ArrayLike<number>,
  shape?: readonly number[],
): Tensor {
  const host = hostValues("intTensor", values, shape);
  for (let i = 0; i < host.values.length; i++) {
    const v = host.values[i];
    if (!Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
      throw new Error(`rnnkit: intTensor(): ${v} is not a 32-bit integer`);
    }
  }
  const ints = Int32Array.from(host.values);
  return new Tensor(B().fromArray(ints, host.shape, "int32"), host.shape, "int32", ints);
}

/** Flat values and shape of `tensor()`'s arguments, checked; errors name `fn`. */
function hostValues(
  fn: string,
  values: NestedArray | ArrayLike<number>,
  shape?: readonly number[],
): { values: ArrayLike<number>; shape: readonly number[] } {
  const fail = (why: string): never => {
    throw new Error(`rnnkit: ${fn}(): ${why}`);
  };
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === "number") [flat, inferred] = [[values], []];
  else if (ArrayBuffer.isView(values) || !Array.isArray(values)) {
    flat = values as ArrayLike<number>;
    if (typeof flat?.length !== "number") fail(`expected numbers or nested arrays, got ${flat}`);
    inferred = [flat.length];
  } else {
    const out: number[] = [];
    inferred = [];
    for (let v: unknown = values; Array.isArray(v); v = v[0]) inferred.push(v.length);
    const walk = (v: unknown, depth: number, at: string) => {
      if (depth === inferred.length) {
        if (typeof v !== "number") fail(`values${at} is ${JSON.stringify(v)}, not a number`);
        out.push(v as number);
      } else if (!Array.isArray(v) || v.length !== inferred[depth]) {
        fail(
          `ragged nested array: values${at} should be an array of ${inferred[depth]}, got ` +
            (Array.isArray(v) ? `an array of ${v.length}` : JSON.stringify(v)),
        );
      } else v.forEach((x, i) => walk(x, depth + 1, `${at}[${i}]`));
    };
    walk(values, 0, "");
    flat = out;
  }
  if (shape === undefined) return { values: flat, shape: inferred };
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail(`shape ${fmt(shape)} must hold non-negative integers`);
  }
  if (flat.length !== sizeOf(shape)) fail(`${flat.length} values do not fill shape ${fmt(shape)}`);
  return { values: flat, shape };
}

/** A float32 tensor of `shape` filled with `value` (`torch.full`). */
export function full(shape: readonly number[], value: number): Tensor {
  return wrap(B().fill(shape, value), shape);
}

/** A float32 tensor of zeros (`torch.zeros`). */
export function zeros(shape: readonly number[]): Tensor {
  return full(shape, 0);
}

/** One-hot float rows of an int32 tensor [n] -> [n, depth]; not differentiable. */
export function oneHot(indices: Tensor, depth: number): Tensor {
  return wrap(B().oneHot(indices.handle, depth), [indices.size, depth]);
}

// --- Elementwise -------------------------------------------------------------------------

/** Sums a broadcast gradient back down to `shape`. */
function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  return reshape(sum(g, axes, false), shape);
}

type BinaryKernel = "add" | "sub" | "mul" | "div";

function binary(
  kernel: BinaryKernel,
  a: Tensor,
  b: Tensor,
  backward: (g: Tensor) => [Tensor, Tensor],
): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, kernel);
  const out = wrap(B()[kernel](a.handle, b.handle), shape);
  return record(kernel, [a, b], out, (g) => {
    const [ga, gb] = backward(g);
    return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)];
  });
}

/** a + b, broadcasting like `torch.add`. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", a, b, (g) => [g, g]);
}

/** a - b, broadcasting like `torch.sub`. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary("sub", a, b, (g) => [g, neg(g)]);
}

/** a * b elementwise, broadcasting like `torch.mul`. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", a, b, (g) => [mul(g, b), mul(g, a)]);
}

/** a / b elementwise, broadcasting like `torch.div`. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binary("div", a, b, (g) => [div(g, b), neg(div(mul(g, a), mul(b, b)))]);
}

/** a * s for a number s. */
export function scale(a: Tensor, s: number): Tensor {
  return record("scale", [a], wrap(B().scale(a.handle, s), a.shape), (g) => [scale(g, s)]);
}

type UnaryKernel = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu";

function unary(kernel: UnaryKernel, x: Tensor, backward: (g: Tensor, y: Tensor) => Tensor) {
  const y = wrap(B()[kernel](x.handle), x.shape);
  return record(kernel, [x], y, (g) => [backward(g, y)]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, (g) => neg(g));
}

/** e^x elementwise. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, (g, y) => mul(g, y));
}

/** Natural logarithm elementwise. */
export function log(x: Tensor): Tensor {
  return unary("log", x, (g) => div(g, x));
}

/** Square root elementwise. */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, (g, y) => div(scale(g, 0.5), y));
}

/** Hyperbolic tangent elementwise. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x, tanhGrad);
}

/** 1 / (1 + e^-x) elementwise. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x, sigmoidGrad);
}

/** max(x, 0) elementwise; the gradient at 0 is 0, as in PyTorch. */
export function relu(x: Tensor): Tensor {
  return unary("relu", x, (g) => mul(g, stepMask(x)));
}

// --- Linear algebra and reductions -------------------------------------------------------

/** op(a) @ op(b) for 2-D tensors; op transposes when the flag is set (default false). */
export function matmul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new Error(`rnnkit: matmul needs 2-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = transposeB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) {
    throw new Error(
      `rnnkit: matmul: inner sizes differ: ${fmt(a.shape)}${transposeA ? "^T" : ""} @ ` +
        `${fmt(b.shape)}${transposeB ? "^T" : ""}`,
    );
  }
  const out = wrap(B().matmul(a.handle, b.handle, transposeA, transposeB), [m, n]);
  return record("matmul", [a, b], out, (g) => [
    transposeA ? matmul(b, g, transposeB, true) : matmul(g, b, false, !transposeB),
    transposeB ? matmul(g, a, true, transposeA) : matmul(a, g, !transposeA, false),
  ]);
}

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  const list = axes === undefined
    ? [...Array(rank).keys()]
    : typeof axes === "number"
    ? [axes]
    : axes;
  return list.map((a) => {
    if (a < -rank || a >= rank) throw new Error(`rnnkit: axis ${a} out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
}

function reducedShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/** Sum over `axes` (default: all); reduced axes are dropped unless keepDims (default false). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes(axes, x.shape.length);
  const out = wrap(B().sum(x.handle, ax, keepDims), reducedShape(x.shape, ax, keepDims));
  return record("sum", [x], out, (g) => {
    const kept = reshape(g, reducedShape(x.shape, ax, true));
    return [wrap(B().broadcastTo(kept.handle, x.shape), x.shape)];
  });
}

/** Mean over `axes` (default: all); reduced axes are dropped unless keepDims (default false). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes(axes, x.shape.length);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return scale(sum(x, ax, keepDims), 1 / n);
}

/** Max over `axes`, as a constant: no gradient flows through it. keepDims: default false. */
export function maxDetached(x: Tensor, axes: number | readonly number[], keepDims = false): Tensor {
  const ax = normAxes(axes, x.shape.length);
  return wrap(B().max(x.handle, ax, keepDims), reducedShape(x.shape, ax, keepDims));
}

/** log(softmax(x)) along `axis` (default -1, the last), computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  // Shifting by the (constant) max changes no gradient, so it needs none.
  const shifted = sub(x, maxDetached(x, axis, true));
  return sub(shifted, log(sum(exp(shifted), axis, true)));
}

// --- Movement ----------------------------------------------------------------------------

/** Same values, new shape; one entry may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const resolved = shape.map((d) => (d === -1 ? x.size / sizeOf(known) : d));
  if (
    shape.filter((d) => d === -1).length > 1 || sizeOf(resolved) !== x.size ||
    !resolved.every(Number.isInteger)
  ) {
    throw new Error(`rnnkit: cannot reshape ${fmt(x.shape)} (${x.size} values) to ${fmt(shape)}`);
  }
  if (resolved.join() === x.shape.join()) return x;
  const out = new Tensor(
    B().reshape(x.handle, resolved),
    resolved,
    x.dtype,
    x.hostInts ?? undefined,
  );
  return record("reshape", [x], out, (g) => [reshape(g, x.shape)]);
}

/** Axes permuted: result axis i is `x`'s axis perm[i] (`torch.permute`). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const out = wrap(B().transpose(x.handle, perm), perm.map((p) => x.shape[p]));
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return record("transpose", [x], out, (g) => [transpose(g, inverse)]);
}

/** Joins tensors along `axis` (negative counts from the end), as `torch.cat`. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const rank = xs[0].shape.length;
  const ax = normAxes(axis, rank)[0];
  for (const t of xs) {
    if (t.shape.length !== rank || t.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new Error(
        `rnnkit: concat on axis ${ax}: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ`,
      );
    }
  }
  const sizes = xs.map((t) => t.shape[ax]);
  const shape = xs[0].shape.map((d, i) => (i === ax ? sizes.reduce((a, b) => a + b, 0) : d));
  const out = wrap(
    xs.length === 1 ? B().reshape(xs[0].handle, shape) : B().concat(xs.map((t) => t.handle), ax),
    shape,
  );
  return record("concat", [...xs], out, (g) => split(g, sizes, ax));
}

/** Consecutive pieces of `x` along `axis`; one autograd node for all of them. */
export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const ax = normAxes(axis, x.shape.length)[0];
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[ax]) {
    throw new Error(`rnnkit: split of ${fmt(x.shape)} on axis ${ax} into [${sizes}]`);
  }
  const outs = B().split(x.handle, sizes, ax).map((h, i) =>
    wrap(h, x.shape.map((d, j) => (j === ax ? sizes[i] : d)))
  );
  if (needsGrad([x])) {
    const node = {
      name: "split",
      inputs: [x],
      outputs: outs,
      backward: (gs: Tensor[]) => [concat(gs, ax)],
    };
    for (const o of outs) o.node = node;
  }
  return outs;
}

/** Splits along axis 0 and drops that axis: [T, ...] -> T tensors [...]. */
export function unstack(x: Tensor): Tensor[] {
  return split(x, Array(x.shape[0]).fill(1), 0).map((t) => reshape(t, x.shape.slice(1)));
}

/** Stacks same-shaped tensors along a new axis 0. */
export function stack(xs: readonly Tensor[]): Tensor {
  return concat(xs.map((t) => reshape(t, [1, ...t.shape])), 0);
}

/**
 * Rows of `x` [rows, ...] at int32 `indices` [n] -> [n, ...]. The gradient is scattered
 * to `gradIndices` (default: `indices`); an entry of -1 there sends its row nowhere.
 */
export function gather(x: Tensor, indices: Tensor, gradIndices = indices): Tensor {
  const rows = x.shape[0];
  const out = wrap(B().gather(x.handle, indices.handle), [indices.size, ...x.shape.slice(1)]);
  return record("gather", [x], out, (g) => {
    const g2 = reshape(g, [indices.size, -1]);
    const fused = B().fused?.scatterAddRows;
    const rowsGrad = fused
      ? wrap(fused(g2.handle, gradIndices.handle, rows), [rows, g2.shape[1]])
      : matmul(oneHot(gradIndices, rows), g2, true, false);
    return [reshape(rowsGrad, x.shape)];
  });
}
