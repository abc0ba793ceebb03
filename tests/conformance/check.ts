/**
 * Float comparison for the suite, with every backend's tolerance stated here, once.
 * Also records the largest deviation seen, which the runner reports.
 */
import { getBackend, type Tensor } from "@rnnkit/core";

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

/** Largest absolute and relative deviation seen so far, for the run's summary. */
export const worst = { abs: 0, rel: 0, where: "", compared: 0 };

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
    worst.compared++;
    if (abs > worst.abs) Object.assign(worst, { abs, where: what });
    if (Math.abs(e) > 1e-3 && rel > worst.rel) worst.rel = rel;
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
