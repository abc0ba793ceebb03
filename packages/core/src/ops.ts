/**
 * Differentiable ops: each runs one backend op forward and states its gradient, once,
 * in terms of other ops. Everything in `nn` and `optim` is built from these.
 * @module
 */
import type { Handle } from "./backend.ts";
import { getBackend, tidy } from "./engine.ts";
import { needsGrad, noGrad, Tensor } from "./tensor.ts";
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

/** A number operand as a scalar tensor (PyTorch's `x + 2`). */
function operand(v: Tensor | number): Tensor {
  return typeof v === "number" ? full([], v) : v;
}

function binary(
  kernel: BinaryKernel,
  x: Tensor | number,
  y: Tensor | number,
  backward: (g: Tensor, a: Tensor, b: Tensor) => [Tensor, Tensor],
): Tensor {
  const [a, b] = [operand(x), operand(y)];
  const shape = broadcastShapes(a.shape, b.shape, kernel);
  const out = wrap(B()[kernel](a.handle, b.handle), shape);
  return record(kernel, [a, b], out, (g) => {
    const [ga, gb] = backward(g, a, b);
    return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)];
  });
}

/** a + b, broadcasting like `torch.add`; either may be a number. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("add", a, b, (g) => [g, g]);
}

/** a - b, broadcasting like `torch.sub`; either may be a number. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("sub", a, b, (g) => [g, neg(g)]);
}

/** a * b elementwise, broadcasting like `torch.mul`; either may be a number. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("mul", a, b, (g, a, b) => [mul(g, b), mul(g, a)]);
}

/** a / b elementwise, broadcasting like `torch.div`; either may be a number. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("div", a, b, (g, a, b) => [div(g, b), neg(div(mul(g, a), mul(b, b)))]);
}

/** a * s for a number s. */
export function scale(a: Tensor, s: number): Tensor {
  return record("scale", [a], wrap(B().scale(a.handle, s), a.shape), (g) => [scale(g, s)]);
}

type UnaryKernel = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "erf";

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

/** The error function elementwise (`torch.erf`); its gradient is 2/sqrt(pi) e^(-x^2). */
export function erf(x: Tensor): Tensor {
  return unary("erf", x, (g) => mul(g, scale(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))));
}

/**
 * Runs `fn` (a forward pass written with other ops) without recording it and frees its
 * intermediates: the result is one tensor, to which the caller attaches its own gradient.
 */
function compute(fn: () => Tensor): Tensor {
  return tidy(() => noGrad(fn));
}

/**
 * GELU, exact (erf) form as PyTorch's default `approximate='none'`:
 * x * 0.5 * (1 + erf(x / sqrt 2)); gradient Phi(x) + x phi(x) as PyTorch computes it.
 */
export function gelu(x: Tensor): Tensor {
  const cdf = (v: Tensor) => scale(add(erf(scale(v, Math.SQRT1_2)), 1), 0.5);
  const y = compute(() => mul(x, cdf(x)));
  return record("gelu", [x], y, (g) => {
    const pdf = scale(exp(scale(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(g, add(cdf(x), mul(x, pdf)))];
  });
}

/** |x| elementwise; the gradient is sign(x) (0 at 0), as in PyTorch. */
export function abs(x: Tensor): Tensor {
  const y = compute(() => where(stepMask(neg(x)), neg(x), x));
  return record("abs", [x], y, (g) => [mul(g, sub(stepMask(x), stepMask(neg(x))))]);
}

/**
 * x ** p for a number p without recording: the specializations of PyTorch's CPU kernel
 * (p = 0.5, 2, 3, -0.5, -1, -2), other integers by repeated squaring (so a negative base
 * works), anything else as exp(p log x) (NaN for a negative base, as std::pow).
 */
function powValue(x: Tensor, p: number): Tensor {
  if (p === 0) return full(x.shape, 1);
  if (p === 1) return scale(x, 1);
  if (p === 0.5) return sqrt(x);
  if (p === -0.5) return div(1, sqrt(x));
  if (Number.isInteger(p) && Math.abs(p) <= 2 ** 31) {
    if (p < 0) return div(1, powValue(x, -p));
    if (p === 3) return mul(mul(x, x), x);
    let result: Tensor | null = null;
    let base = x;
    for (let e = p; e > 0; e = Math.floor(e / 2)) {
      if (e % 2) result = result ? mul(result, base) : base;
      if (e > 1) base = mul(base, base);
    }
    return result!;
  }
  return exp(scale(log(x), p));
}

/**
 * x ** p elementwise for a number p (`torch.pow(x, p)`); gradient p x^(p-1), and 0 when
 * p is 0, as PyTorch. Integer p accepts a negative base; other p give NaN for it.
 */
export function pow(x: Tensor, p: number): Tensor {
  if (typeof p !== "number") {
    throw new Error(`rnnkit: pow: the exponent must be a number, got ${typeof p}`);
  }
  const y = compute(() => powValue(x, p));
  return record(
    "pow",
    [x],
    y,
    (g) => [p === 0 ? zeros(x.shape) : mul(g, scale(powValue(x, p - 1), p))],
  );
}

/**
 * x limited to [min, max] (`torch.clamp`); either bound may be null or undefined, not both.
 * With min > max every value is max, as PyTorch. The gradient passes where
 * min <= x <= max (inclusive) and is 0 elsewhere, as PyTorch.
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  const [lo, hi] = [min ?? null, max ?? null];
  if (lo === null && hi === null) {
    throw new Error("rnnkit: clamp: at least one of min and max must be given");
  }
  const y = compute(() => {
    let out = x;
    if (lo !== null) out = where(stepMask(sub(lo, x)), lo, out);
    if (hi !== null) out = where(stepMask(sub(out, hi)), hi, out);
    return out === x ? scale(x, 1) : out;
  });
  return record("clamp", [x], y, (g) => {
    let mask: Tensor | null = null;
    // x >= lo is 1 - (lo - x > 0); x <= hi is 1 - (x - hi > 0).
    if (lo !== null) mask = sub(1, stepMask(sub(lo, x)));
    if (hi !== null) {
      mask = mask ? mul(mask, sub(1, stepMask(sub(x, hi)))) : sub(1, stepMask(sub(x, hi)));
    }
    return [mul(g, mask!)];
  });
}

/**
 * `a` where `cond` is nonzero, else `b` (`torch.where(cond, a, b)`), broadcasting all
 * three. `cond` is a float32 tensor of 0s and 1s standing for a bool tensor (rnnkit has no
 * bool dtype): any nonzero value picks `a`. `a` or `b` may be a number. The gradient goes
 * to `a` where cond holds and to `b` elsewhere; `cond` gets none. An infinity or NaN in
 * the branch not taken does not reach the result (nor its gradient).
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const [ta, tb] = [operand(a), operand(b)];
  if (cond.dtype !== "float32") {
    throw new Error(
      `rnnkit: where: cond must be a float32 tensor of 0s and 1s, got ${cond.dtype} ` +
        `${fmt(cond.shape)}`,
    );
  }
  let shape: number[];
  try {
    shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "where"), tb.shape, "where");
  } catch {
    throw new Error(
      `rnnkit: where: shapes cond ${fmt(cond.shape)}, a ${fmt(ta.shape)} and b ` +
        `${fmt(tb.shape)} do not broadcast`,
    );
  }
  const out = wrap(B().where(cond.handle, ta.handle, tb.handle), shape);
  return record("where", [ta, tb], out, (g) => [
    unbroadcast(where(cond, g, 0), ta.shape),
    unbroadcast(where(cond, 0, g), tb.shape),
  ]);
}

/**
 * `x` with `value` where `mask` is nonzero (`Tensor.masked_fill`); `mask` is a float32 0/1
 * tensor that broadcasts to x's shape. Filling with -Infinity (attention masks) is safe.
 * The gradient passes where the mask is 0.
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastShapes(mask.shape, x.shape, "maskedFill");
  if (shape.join() !== x.shape.join()) {
    throw new Error(
      `rnnkit: maskedFill: mask ${fmt(mask.shape)} does not broadcast to the input's shape ` +
        `${fmt(x.shape)}`,
    );
  }
  return where(mask, value, x);
}

/**
 * Binary cross-entropy of probabilities `input` in [0, 1] against `target` (the same
 * shape), elementwise, as `torch.nn.functional.binary_cross_entropy(reduction='none')`:
 * w ((y - 1) max(log(1 - x), -100) - y max(log x, -100)), with the optional `weight` w
 * broadcast to the input's shape. Gradients are PyTorch's: w (x - y) / max(x (1 - x), 1e-12)
 * to the input (finite at x = 0 and 1), w (log(1 - x) - log x) to the target. Values of
 * `input` outside [0, 1] are not checked (PyTorch refuses them) and give NaN.
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, weight?: Tensor | null): Tensor {
  if (target.shape.join() !== input.shape.join()) {
    throw new Error(
      `rnnkit: binaryCrossEntropy: target ${fmt(target.shape)} must have the input's shape ` +
        `${fmt(input.shape)}`,
    );
  }
  if (
    weight &&
    broadcastShapes(weight.shape, input.shape, "binaryCrossEntropy").join() !== input.shape.join()
  ) {
    throw new Error(
      `rnnkit: binaryCrossEntropy: weight ${fmt(weight.shape)} does not broadcast to the ` +
        `input's shape ${fmt(input.shape)}`,
    );
  }
  // max(log v, -100), with log 0 taken as -100 outright: WebGL's log(0) is about -88.
  const clampedLog = (v: Tensor) => where(stepMask(v), clamp(log(v), -100), -100);
  const y = compute(() => {
    const losses = sub(
      mul(sub(target, 1), clampedLog(sub(1, input))),
      mul(target, clampedLog(input)),
    );
    return weight ? mul(losses, weight) : losses;
  });
  return record("binaryCrossEntropy", [input, target], y, (g) => {
    const w = (t: Tensor) => (weight ? mul(t, weight) : t);
    const gx = div(mul(g, sub(input, target)), clamp(mul(sub(1, input), input), 1e-12));
    return [w(gx), w(mul(g, sub(log(sub(1, input)), log(input))))];
  });
}

// --- Linear algebra and reductions -------------------------------------------------------

/**
 * Matrix product, as `torch.matmul` for 2-D and 3-D operands: [m, k] @ [k, n] -> [m, n];
 * batched (`torch.bmm`) [b, m, k] @ [b, k, n] -> [b, m, n], where a batch of 1 broadcasts;
 * and a 3-D operand by a 2-D one ([b, m, k] @ [k, n] or [m, k] @ [b, k, n]), which
 * broadcasts the 2-D one over the batch. `transposeA`/`transposeB` (default false)
 * transpose the last two axes of an operand first.
 */
export function matmul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  const [ra, rb] = [a.shape.length, b.shape.length];
  if (ra < 2 || ra > 3 || rb < 2 || rb > 3) {
    throw new Error(
      `rnnkit: matmul needs 2-D or 3-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`,
    );
  }
  const rows = (t: Tensor, flag: boolean) => t.shape.at(flag ? -1 : -2)!;
  const cols = (t: Tensor, flag: boolean) => t.shape.at(flag ? -2 : -1)!;
  if (cols(a, transposeA) !== rows(b, transposeB)) {
    throw new Error(
      `rnnkit: matmul: inner sizes differ: ${fmt(a.shape)}${transposeA ? "^T" : ""} @ ` +
        `${fmt(b.shape)}${transposeB ? "^T" : ""}`,
    );
  }
  if (ra === 2 && rb === 2) return matmul2d(a, b, transposeA, transposeB);
  const [m, n] = [rows(a, transposeA), cols(b, transposeB)];
  if (rb === 2) {
    // [batch, m, k] @ [k, n]: one product of the stacked rows.
    const a2 = transposeA ? transpose(a, [0, 2, 1]) : a;
    const product = matmul2d(reshape(a2, [-1, a2.shape[2]]), b, false, transposeB);
    return reshape(product, [a.shape[0], m, n]);
  }
  if (ra === 2) {
    // [m, k] @ [batch, k, n]: a @ [k, batch * n], then the batch axis moved first.
    const b3 = transposeB ? transpose(b, [0, 2, 1]) : b;
    const wide = reshape(transpose(b3, [1, 0, 2]), [b3.shape[1], -1]);
    const product = reshape(matmul2d(a, wide, transposeA, false), [m, b.shape[0], n]);
    return transpose(product, [1, 0, 2]);
  }
  const [ba, bb] = [a.shape[0], b.shape[0]];
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(
      `rnnkit: matmul: batch sizes differ: ${fmt(a.shape)} @ ${fmt(b.shape)}`,
    );
  }
  // A batch of 1 against a larger one is the 3-D by 2-D product.
  if (bb === 1 && ba !== 1) return matmul(a, reshape(b, b.shape.slice(1)), transposeA, transposeB);
  if (ba === 1 && bb !== 1) return matmul(reshape(a, a.shape.slice(1)), b, transposeA, transposeB);
  const as = unbind(a);
  const bs = unbind(b);
  const batch = Math.max(ba, bb);
  const outs = Array.from(
    { length: batch },
    (_, i) => matmul2d(as[ba === 1 ? 0 : i], bs[bb === 1 ? 0 : i], transposeA, transposeB),
  );
  return stack(outs);
}

/** Batched product [b, m, k] @ [b, k, n] -> [b, m, n] (`torch.bmm`: both 3-D, same batch). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0]) {
    throw new Error(
      `rnnkit: bmm needs 3-D tensors with the same batch size, got ${fmt(a.shape)} and ` +
        `${fmt(b.shape)}`,
    );
  }
  return matmul(a, b);
}

/** op(a) @ op(b) for 2-D tensors, checked by `matmul`: one backend product. */
function matmul2d(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
  const m = transposeA ? a.shape[1] : a.shape[0];
  const n = transposeB ? b.shape[0] : b.shape[1];
  const out = wrap(B().matmul(a.handle, b.handle, transposeA, transposeB), [m, n]);
  return record("matmul", [a, b], out, (g) => [
    transposeA ? matmul2d(b, g, transposeB, true) : matmul2d(g, b, false, !transposeB),
    transposeB ? matmul2d(g, a, true, transposeA) : matmul2d(a, g, !transposeA, false),
  ]);
}

function normAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  op?: string,
): number[] {
  const list = axes === undefined
    ? [...Array(rank).keys()]
    : typeof axes === "number"
    ? [axes]
    : axes;
  return list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new Error(`rnnkit: ${op ? `${op}: ` : ""}axis ${a} out of range for rank ${rank}`);
    }
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

/** Options of `var` and `std`, with PyTorch's defaults. */
export interface VarOptions {
  /** The divisor is N - correction (Bessel's correction). Default 1, as PyTorch. */
  correction?: number;
  /** Keep the reduced axes as size 1. Default false. */
  keepDims?: boolean;
}

/**
 * Variance over `axes` (default: all), sum((x - mean)^2) / (N - correction), as
 * `torch.var` (correction default 1; N - correction <= 0 gives inf or NaN, as PyTorch).
 */
function variance(x: Tensor, axes?: number | readonly number[], options: VarOptions = {}): Tensor {
  const { correction = 1, keepDims = false } = options;
  const ax = normAxes(axes, x.shape.length);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  const d = sub(x, mean(x, ax, true));
  return scale(sum(mul(d, d), ax, keepDims), 1 / Math.max(0, n - correction));
}
export { variance as var };

/** Standard deviation over `axes` (default: all): sqrt(var), as `torch.std`. */
export function std(
  x: Tensor,
  axes?: number | readonly number[],
  options: VarOptions = {},
): Tensor {
  return sqrt(variance(x, axes, options));
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

/** softmax(x) along `axis` (default -1, the last), computed stably as `torch.softmax`. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, maxDetached(x, axis, true)));
  return div(e, sum(e, axis, true));
}

/** A reduction's one axis, checked: in range, and an index needs a value to point at. */
function reductionAxis(op: string, x: Tensor, dim: number): number {
  const rank = Math.max(x.shape.length, 1);
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new Error(`rnnkit: ${op}: dim ${dim} out of range for shape ${fmt(x.shape)}`);
  }
  if (x.size === 0) throw new Error(`rnnkit: ${op}: cannot reduce the empty ${fmt(x.shape)}`);
  if (x.dtype !== "float32") {
    throw new Error(`rnnkit: ${op}: needs a float32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  }
  return dim < 0 ? dim + rank : dim;
}

/** The backend's argMax of `x` along `dim` (all axes, flattened, when undefined). */
function argMaxHandle(op: string, x: Tensor, dim: number | undefined, keepDim: boolean) {
  const b = B();
  const whole = dim === undefined || x.shape.length === 0;
  const ax = whole ? 0 : reductionAxis(op, x, dim);
  if (whole) reductionAxis(op, x, dim ?? 0);
  const flat = whole ? b.reshape(x.handle, [x.size]) : x.handle;
  let h = b.argMax(flat, ax);
  if (whole) b.dispose(flat);
  const shape = whole
    ? (keepDim ? x.shape.map(() => 1) : [])
    : keepDim
    ? x.shape.map((d, i) => (i === ax ? 1 : d))
    : x.shape.filter((_, i) => i !== ax);
  if (keepDim && shape.length) {
    const kept = b.reshape(h, shape);
    b.dispose(h);
    h = kept;
  }
  return { h, shape, ax };
}

/**
 * Index of the maximum (int32), as `torch.argmax`: over the flattened tensor without
 * `dim` (a scalar, or all 1s with keepDim), else along `dim` (dropped unless keepDim,
 * default false). Ties give the first index; a NaN counts as the maximum. Not
 * differentiable.
 */
export function argmax(x: Tensor, dim?: number, keepDim = false): Tensor {
  const { h, shape } = argMaxHandle("argmax", x, dim, keepDim);
  return new Tensor(h, shape, "int32");
}

/** Index of the minimum (int32), as `torch.argmin`; otherwise as `argmax`. */
export function argmin(x: Tensor, dim?: number, keepDim = false): Tensor {
  reductionAxis("argmin", x, dim ?? 0);
  const negated = noGrad(() => neg(x));
  try {
    const { h, shape } = argMaxHandle("argmin", negated, dim, keepDim);
    return new Tensor(h, shape, "int32");
  } finally {
    negated.dispose();
  }
}

/** The maxima or minima along a dim and where they are, as PyTorch's `torch.return_types.max`. */
export interface ValuesIndices {
  /** The maxima (or minima); differentiable. */
  values: Tensor;
  /** Their indices along the dim (int32), the first one among ties. */
  indices: Tensor;
}

/**
 * The maximum, as `torch.max`: without `dim`, of all values (a scalar; ties share the
 * gradient evenly, as PyTorch); with `dim`, `{ values, indices }` along it (dropped unless
 * keepDim, default false), the gradient going to the first maximum of each row (the one
 * `indices` names), as PyTorch.
 */
export function max(x: Tensor): Tensor;
/** The maxima along `dim` and their int32 indices (first among ties); see above. */
export function max(x: Tensor, dim: number, keepDim?: boolean): ValuesIndices;
export function max(x: Tensor, dim?: number, keepDim = false): Tensor | ValuesIndices {
  reductionAxis("max", x, dim ?? 0);
  const rank = x.shape.length;
  if (dim === undefined) {
    const y = wrap(
      rank ? B().max(x.handle, [...x.shape.keys()], false) : B().scale(x.handle, 1),
      [],
    );
    return record("max", [x], y, (g) => {
      // Ties share the gradient: mask = (x == max) = 1 - (max - x > 0).
      const mask = sub(1, stepMask(sub(y, x)));
      return [mul(div(g, sum(mask)), mask)];
    });
  }
  const { h, shape, ax } = argMaxHandle("max", x, dim, keepDim);
  const indices = new Tensor(h, shape, "int32");
  const top = rank ? B().max(x.handle, [ax], keepDim) : B().scale(x.handle, 1);
  const values = record("max", [x], wrap(top, shape), (g) => {
    if (!rank) return [g];
    // To the position argmax names (found again: the caller may have freed `indices`),
    // through a one-hot mask made as [rows, n] with `ax` last. The product, not the mask,
    // is moved back: tfjs-webgpu mis-transposes oneHot's (relabeled int32) results.
    const at = argMaxHandle("max", x, dim, false);
    const rows = sizeOf(at.shape);
    const idx = new Tensor(B().reshape(at.h, [rows]), [rows], "int32");
    B().dispose(at.h);
    const last = [...x.shape.keys()].filter((i) => i !== ax).concat(ax);
    const spread = mul(reshape(g, [rows, 1]), oneHot(idx, x.shape[ax]));
    const moved = reshape(spread, last.map((i) => x.shape[i]));
    return [transpose(moved, [...x.shape.keys()].map((i) => last.indexOf(i)))];
  });
  return { values, indices };
}

/**
 * The minimum, as `torch.min`: without `dim` of all values, with `dim` `{ values, indices }`
 * along it; ties and gradients as `max`.
 */
export function min(x: Tensor): Tensor;
/** The minima along `dim` and their int32 indices (first among ties); see above. */
export function min(x: Tensor, dim: number, keepDim?: boolean): ValuesIndices;
export function min(x: Tensor, dim?: number, keepDim = false): Tensor | ValuesIndices {
  if (dim === undefined) return neg(max(neg(x)));
  const { values, indices } = max(neg(x), dim, keepDim);
  return { values: neg(values), indices };
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

/**
 * Axes permuted: `transpose(x, perm)` puts x's axis perm[i] at axis i (`torch.permute`);
 * `transpose(x, dim0, dim1)` swaps two axes (`torch.transpose`). Negative axes count
 * from the end.
 */
export function transpose(x: Tensor, perm: readonly number[]): Tensor;
/** Axes dim0 and dim1 swapped (`torch.transpose`); see above. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor;
export function transpose(
  x: Tensor,
  permOrDim0: readonly number[] | number,
  dim1?: number,
): Tensor {
  const rank = x.shape.length;
  let perm: number[];
  if (typeof permOrDim0 === "number") {
    const [a, b] = normAxes([permOrDim0, dim1 ?? NaN], rank, "transpose");
    perm = [...Array(rank).keys()];
    [perm[a], perm[b]] = [b, a];
  } else {
    perm = normAxes(permOrDim0, rank, "transpose");
    if (perm.length !== rank || new Set(perm).size !== rank) {
      throw new Error(
        `rnnkit: transpose: [${permOrDim0}] is not a permutation of the axes of ${fmt(x.shape)}`,
      );
    }
  }
  // The identity permutation is a view (tfjs-webgpu's identity transpose of a oneHot
  // result has corrupted other tensors).
  const identity = perm.every((p, i) => p === i);
  const shape = perm.map((p) => x.shape[p]);
  const out = wrap(identity ? B().reshape(x.handle, shape) : B().transpose(x.handle, perm), shape);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return record("transpose", [x], out, (g) => [transpose(g, inverse)]);
}

/** Axes permuted: result axis i is x's axis dims[i] (`torch.permute`). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  return transpose(x, dims);
}

/**
 * `length` consecutive entries of `x` along `dim` from `start` (negative: from the end),
 * as `torch.narrow`; the gradient is zero outside them.
 */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const ax = normAxes(dim, x.shape.length, "narrow")[0];
  const size = x.shape[ax];
  const from = start < 0 ? start + size : start;
  if (
    !Number.isInteger(from) || !Number.isInteger(length) || from < 0 || length < 0 ||
    from + length > size
  ) {
    throw new Error(
      `rnnkit: narrow: start ${start}, length ${length} do not fit dim ${dim} of ` +
        `${fmt(x.shape)}`,
    );
  }
  const sizes = [from, length, size - from - length];
  const shape = x.shape.map((d, i) => (i === ax ? length : d));
  let out: Tensor;
  if (length === size) out = wrap(B().reshape(x.handle, x.shape), shape);
  else if (length === 0) out = wrap(B().fill(shape, 0), shape);
  else {
    const kept = sizes.filter((n) => n > 0);
    const pieces = B().split(x.handle, kept, ax);
    const mine = from > 0 ? 1 : 0;
    pieces.forEach((h, i) => i !== mine && B().dispose(h));
    out = wrap(pieces[mine], shape);
  }
  return record("narrow", [x], out, (g) => {
    const parts = sizes.map((n, i) =>
      i === 1 ? g : zeros(x.shape.map((d, j) => (j === ax ? n : d)))
    );
    return [concat(parts.filter((_, i) => i === 1 || sizes[i] > 0), ax)];
  });
}

/**
 * The entries of `x` at int32 `index` [n] along `dim` (`torch.index_select`): that axis
 * becomes n long. Repeated indices accumulate their gradients.
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const ax = normAxes(dim, x.shape.length, "indexSelect")[0];
  if (index.dtype !== "int32" || index.shape.length > 1) {
    throw new Error(
      `rnnkit: indexSelect: index must be an int32 tensor [n], got ${index.dtype} ` +
        `${fmt(index.shape)}`,
    );
  }
  const bad = index.hostInts?.find((i) => i < 0 || i >= x.shape[ax]);
  if (bad !== undefined) {
    throw new Error(
      `rnnkit: indexSelect: index ${bad} out of range for dim ${dim} of ${fmt(x.shape)}`,
    );
  }
  const idx = index.shape.length ? index : reshape(index, [1]);
  if (ax === 0) return gather(x, idx);
  const front = [ax, ...[...x.shape.keys()].filter((i) => i !== ax)];
  const picked = gather(transpose(x, front), idx);
  return transpose(picked, front.map((_, i) => front.indexOf(i)));
}

/** Joins tensors along `axis` (negative counts from the end), as `torch.cat`. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("rnnkit: concat: needs at least one tensor");
  const rank = xs[0].shape.length;
  const ax = normAxes(axis, rank, "concat")[0];
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

/** The slices along `dim` (default 0), each without that dim, as `torch.unbind`. */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  const ax = normAxes(dim, x.shape.length, "unbind")[0];
  const shape = x.shape.filter((_, i) => i !== ax);
  return split(x, Array(x.shape[ax]).fill(1), ax).map((t) => reshape(t, shape));
}

/**
 * The slice at `index` along `dim` (negative: from the end), without that dim, as
 * `torch.select` (`x[:, index]` for dim 1); the gradient is zero elsewhere.
 */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const ax = normAxes(dim, x.shape.length, "select")[0];
  const size = x.shape[ax];
  const i = index < 0 ? index + size : index;
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new Error(
      `rnnkit: select: index ${index} is out of range for dim ${dim} (size ${size}) of ` +
        fmt(x.shape),
    );
  }
  return reshape(narrow(x, ax, i, 1), x.shape.filter((_, j) => j !== ax));
}

/**
 * Stacks same-shaped tensors along a new axis `dim` (default 0; negative counts from the
 * end of the result's axes), as `torch.stack`.
 */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error("rnnkit: stack: needs at least one tensor");
  const shape = xs[0].shape;
  if (xs.some((t) => t.shape.join() !== shape.join())) {
    throw new Error(
      `rnnkit: stack: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ`,
    );
  }
  const ax = normAxes(dim, shape.length + 1, "stack")[0];
  const inserted = [...shape.slice(0, ax), 1, ...shape.slice(ax)];
  return concat(xs.map((t) => reshape(t, inserted)), ax);
}

/** Joins tensors along `dim` (default 0), as `torch.cat`: `concat` under PyTorch's name. */
export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  return concat(xs, dim);
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
