/**
 * tanh, sigmoid and exp at their edges, on a dense grid of float32: every 64th bit pattern
 * in [-40, 40] (34.7 million values, denormals and both zeros among them, run in chunks),
 * then +-Infinity, NaN, +-0, denormals and +-1e-30, through ops.tanh / ops.sigmoid /
 * ops.exp on the current backend, against float64 references: Math.tanh,
 * 1 / (1 + Math.exp(-x)) and Math.exp.
 *
 * Required everywhere: NaN gives NaN; |tanh| <= 1 and 0 <= sigmoid <= 1; both
 * non-decreasing over the sorted grid (ties allowed, with -Infinity first and +Infinity
 * last); the absolute error of tanh and sigmoid, the relative error of sigmoid where the
 * true value is above 1e-30 and that of exp within the backend's bound below. The bounds
 * come from the errors measured on each backend over this grid.
 */
import { getBackend, ops, tensor } from "@rnnkit/core";
import { test } from "../registry.ts";

/** Largest errors allowed: |y - ref| (abs) and |y - ref| / ref (rel). */
export interface ActivationBounds {
  tanhAbs: number;
  sigmoidAbs: number;
  sigmoidRel: number;
  expRel: number;
}

// Measured on this grid, worst tanh abs; sigmoid abs / rel; exp rel (the bounds leave 2x):
// native   2.98e-8; 2.98e-8 / 5.96e-8; 5.96e-8: kernels.c, double then rounded once (before
//          it: tanh 2.69e-7 and |tanh| > 1, sigmoid rel 6.3 and negative, non-monotone);
// tfjs     2.98e-8; 2.98e-8 / 5.96e-8; 5.96e-8: Math.tanh and Math.exp rounded to float32;
// wasm     8.21e-8; 9.00e-8 / 2.71e-7; 5.96e-8: XNNPACK's float32 kernels;
// webgl    1.45e-7; 1.07e-7 / 1.92e-6; 2.02e-6: SwiftShader in headless Chromium;
// webgpu   1.57e-7; 1.12e-7 / 1.91e-6; 2.04e-6: Mesa's llvmpipe. GPUs: 1e-6, 1e-5.
const BOUNDS: Record<string, ActivationBounds> = {
  native: { tanhAbs: 6e-8, sigmoidAbs: 6e-8, sigmoidRel: 1.2e-7, expRel: 1.2e-7 },
  tfjs: { tanhAbs: 6e-8, sigmoidAbs: 6e-8, sigmoidRel: 1.2e-7, expRel: 1.2e-7 },
  wasm: { tanhAbs: 2e-7, sigmoidAbs: 2e-7, sigmoidRel: 6e-7, expRel: 1.2e-7 },
  webgl: { tanhAbs: 1e-6, sigmoidAbs: 1e-6, sigmoidRel: 1e-5, expRel: 1e-5 },
  webgpu: { tanhAbs: 1e-6, sigmoidAbs: 1e-6, sigmoidRel: 1e-5, expRel: 1e-5 },
};

/** The bounds of the current backend (a GPU's for a backend not listed). */
export function activationBounds(): ActivationBounds {
  return BOUNDS[getBackend().name] ?? BOUNDS.webgpu;
}

/** float32 bit pattern of 40 (a multiple of 64, so 40 itself is on the grid). */
const TOP = 0x42200000;
const STEP = 64;
/** Values per sign: magnitudes 0, 64, ..., TOP as bit patterns. */
const PER_SIGN = TOP / STEP + 1;
/** The sorted grid: -Infinity, -40 ... -0, +0 ... 40, +Infinity. */
export const GRID_SIZE = 2 * PER_SIGN + 2;
const CHUNK = 1 << 20;

/** Grid values [start, end) in sorted order. */
export function gridChunk(start: number, end: number): Float32Array {
  const bits = new Uint32Array(end - start);
  for (let i = start; i < end; i++) {
    const k = i - 1; // after -Infinity
    bits[i - start] = i === 0
      ? 0xff800000
      : i === GRID_SIZE - 1
      ? 0x7f800000
      : k < PER_SIGN
      ? (0x80000000 | (TOP - k * STEP)) >>> 0
      : (k - PER_SIGN) * STEP;
  }
  return new Float32Array(bits.buffer);
}

/** Off the grid's order: NaN, the smallest and largest denormals, 1e-30 and 1e-40. */
export const EXTRAS = Float32Array.from([
  NaN,
  0,
  -0,
  1.4e-45,
  -1.4e-45,
  1e-40,
  -1e-40,
  1.1754942e-38,
  -1.1754942e-38,
  1e-30,
  -1e-30,
  Infinity,
  -Infinity,
]);

/** What one op did over the grid. */
export interface Sweep {
  /** Largest |y - ref|, and where. */
  abs: number;
  absAt: number;
  /** Largest |y - ref| / ref (sigmoid: where ref > 1e-30; exp: finite ref), and where. */
  rel: number;
  relAt: number;
  /** First few failures of the value rules (NaN, range, monotone), as messages. */
  violations: string[];
  /** How many values broke a value rule. */
  violationCount: number;
}

type Op = "tanh" | "sigmoid" | "exp";
const REFERENCE: Record<Op, (x: number) => number> = {
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  exp: Math.exp,
};
const RANGE: Record<Op, [number, number]> = {
  tanh: [-1, 1],
  sigmoid: [0, 1],
  exp: [0, Infinity],
};
/** Relative errors count where the true value is above this (below: denormal float32). */
const REL_FLOOR: Record<Op, number> = { tanh: Infinity, sigmoid: 1e-30, exp: 1.1754944e-38 };
const FLT_MAX = 3.4028234663852886e38;

async function apply(op: Op, xs: Float32Array): Promise<Float32Array> {
  const x = tensor(xs, [xs.length]);
  const y = ops[op](x);
  try {
    const values = await y.data();
    if (!(values instanceof Float32Array)) {
      throw new Error(`${op}: data() gave ${values.constructor.name}`);
    }
    return values;
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** Runs `op` over the grid (in order, checking monotonicity) and then the extras. */
export async function sweep(op: Op): Promise<Sweep> {
  const s: Sweep = { abs: 0, absAt: NaN, rel: 0, relAt: NaN, violations: [], violationCount: 0 };
  const [lo, hi] = RANGE[op];
  const ref = REFERENCE[op];
  const floor = REL_FLOOR[op];
  const monotone = op !== "exp";
  const bad = (why: string) => {
    if (s.violations.length < 5) s.violations.push(why);
    s.violationCount++;
  };
  /** Checks y = op(x); `px`, `py`: the previous grid value and its result (or NaN). */
  const check = (x: number, y: number, px: number, py: number) => {
    const e = ref(x);
    if (Number.isNaN(x)) {
      if (!Number.isNaN(y)) bad(`${op}(NaN) = ${y}, not NaN`);
      return;
    }
    if (!(y >= lo && y <= hi)) bad(`${op}(${x}) = ${y}, outside [${lo}, ${hi}]`);
    if (monotone && y < py) bad(`${op}(${x}) = ${y} < ${op}(${px}) = ${py}`);
    if (!Number.isFinite(e) || e > FLT_MAX) {
      // The infinities, and exp beyond float32: exactly the float32 result.
      if (y !== Math.fround(e)) bad(`${op}(${x}) = ${y}, not ${Math.fround(e)}`);
      return;
    }
    const abs = Math.abs(y - e);
    if (abs > s.abs) [s.abs, s.absAt] = [abs, x];
    if (e > floor && abs / e > s.rel) [s.rel, s.relAt] = [abs / e, x];
  };
  let [px, py] = [NaN, NaN];
  for (let start = 0; start < GRID_SIZE; start += CHUNK) {
    const xs = gridChunk(start, Math.min(start + CHUNK, GRID_SIZE));
    const ys = await apply(op, xs);
    for (let i = 0; i < xs.length; i++) {
      check(xs[i], ys[i], px, py);
      [px, py] = [xs[i], ys[i]];
    }
  }
  const ys = await apply(op, EXTRAS);
  EXTRAS.forEach((x, i) => check(x, ys[i], NaN, NaN));
  return s;
}

function assertSweep(op: Op, s: Sweep, absBound: number, relBound: number): void {
  const name = getBackend().name;
  if (s.violationCount) {
    throw new Error(
      `${op} on ${name}: ${s.violationCount} values break the rules: ${s.violations.join("; ")}`,
    );
  }
  if (!(s.abs <= absBound)) {
    throw new Error(
      `${op} on ${name}: absolute error ${s.abs.toExponential(2)} at x = ${s.absAt} > ${absBound}`,
    );
  }
  if (!(s.rel <= relBound)) {
    throw new Error(
      `${op} on ${name}: relative error ${s.rel.toExponential(2)} at x = ${s.relAt} > ${relBound}`,
    );
  }
}

test("activations: tanh over every 64th float32 in [-40, 40] and the specials", async () => {
  const b = activationBounds();
  assertSweep("tanh", await sweep("tanh"), b.tanhAbs, Infinity);
});

test("activations: sigmoid over every 64th float32 in [-40, 40] and the specials", async () => {
  const b = activationBounds();
  assertSweep("sigmoid", await sweep("sigmoid"), b.sigmoidAbs, b.sigmoidRel);
});

test("activations: exp over every 64th float32 in [-40, 40] and the specials", async () => {
  const b = activationBounds();
  assertSweep("exp", await sweep("exp"), Infinity, b.expRel);
});
