/**
 * Float comparison for the suite, with every backend's tolerance stated here, once.
 * Also records the largest deviation seen, which the runner reports.
 */
import { getBackend, type Tensor } from "@rnnkit/core";
import type { Case } from "./registry.ts";

export interface HostTensor {
  shape: number[];
  data: number[];
}

/** |actual - expected| <= atol + rtol * |expected|, elementwise. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

// CPU kernels match PyTorch to float32 rounding; GPU kernels (fused multiply-add, other
// summation orders, SwiftShader/llvmpipe) need a looser bound.
const TOLERANCES: Record<string, Tolerance> = {
  tfjs: { atol: 1e-5, rtol: 1e-5 },
  wasm: { atol: 1e-5, rtol: 1e-5 },
  native: { atol: 1e-5, rtol: 1e-5 },
  webgl: { atol: 1e-4, rtol: 1e-4 },
  webgpu: { atol: 1e-4, rtol: 1e-4 },
};

/** Tolerance for one op or module step on the current backend. */
export function tolerance(): Tolerance {
  return TOLERANCES[getBackend().name] ?? TOLERANCES.webgpu;
}

/** Largest absolute and relative deviation among `compared` values, and where. */
export interface Deviation {
  abs: number;
  rel: number;
  where: string;
  compared: number;
}

const none = (): Deviation => ({ abs: 0, rel: 0, where: "", compared: 0 });

/** Largest absolute and relative deviation seen so far, for the run's summary. */
export const worst: Deviation = none();

/** The same per group of cases: the first word of their names ("op", "packed", ...). */
export const worstByGroup = new Map<string, Deviation>();
let current: Deviation | undefined;

/** Runs one case of the suite, its deviations counted in its group too. */
export async function runCase(c: Case): Promise<void> {
  const group = c.name.split(" ")[0];
  if (!worstByGroup.has(group)) worstByGroup.set(group, none());
  current = worstByGroup.get(group);
  try {
    await c.fn();
  } finally {
    current = undefined;
  }
}

/** The run's largest deviations, overall and per group, one line each. */
export function deviationReport(): string {
  const line = (d: Deviation) =>
    `${d.compared} values; largest |diff| ${d.abs.toExponential(2)} at ${d.where}; ` +
    `largest relative ${d.rel.toExponential(2)}`;
  const groups = [...worstByGroup].filter(([, d]) => d.compared > 0)
    .map(([g, d]) => `  ${g}: ${line(d)}`);
  return [`compared against PyTorch: ${line(worst)}`, ...groups].join("\n");
}

export function assertClose(
  actual: ArrayLike<number>,
  expected: HostTensor | ArrayLike<number>,
  what: string,
  tol: Tolerance = tolerance(),
  actualShape?: readonly number[],
): void {
  const exp = "data" in expected ? expected.data : expected;
  if ("shape" in expected && actualShape && actualShape.join() !== expected.shape.join()) {
    throw new Error(`${what}: shape [${actualShape}] != expected [${expected.shape}]`);
  }
  if (actual.length !== exp.length) {
    throw new Error(`${what}: ${actual.length} values != expected ${exp.length}`);
  }
  for (let i = 0; i < exp.length; i++) {
    const a = actual[i];
    const e = exp[i];
    const abs = Math.abs(a - e);
    if (!(abs <= tol.atol + tol.rtol * Math.abs(e))) {
      throw new Error(
        `${what}[${i}]: ${a} != ${e} (|diff| ${
          abs.toExponential(2)
        } > atol ${tol.atol} + rtol ${tol.rtol})`,
      );
    }
    const rel = abs / Math.max(Math.abs(e), 1e-6);
    for (const d of current ? [worst, current] : [worst]) {
      d.compared++;
      if (abs > d.abs) Object.assign(d, { abs, where: what });
      if (Math.abs(e) > 1e-3 && rel > d.rel) d.rel = rel;
    }
  }
}

/** Compares a tensor's shape and values with a fixture tensor. */
export async function assertTensor(
  t: Tensor | null,
  expected: HostTensor,
  what: string,
  tol?: Tolerance,
) {
  if (!t) throw new Error(`${what}: missing (no gradient reached it?)`);
  assertClose(await t.data(), expected, what, tol, t.shape);
}
