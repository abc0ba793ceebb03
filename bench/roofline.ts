/**
 * The machine's limit for the bench's training steps: the native backend's sgemm
 * (OpenBLAS) timed on 1 and 2 threads at every distinct product shape of the measured
 * configs (flops.ts) and at a large square shape. A step's limit is its FLOPs at the best
 * 2-thread rate measured; a backend's "% of limit" is its GFLOPS over that rate.
 */
import { missingDependencies, sgemmGflops, type SgemmShape } from "@rnnkit/backend-native";
import { CONFIGS } from "./configs.ts";
import { distinctShapes, shapeKey, stepProducts } from "./flops.ts";

/** The square product timed besides the steps' own shapes. */
export const SQUARE: SgemmShape = { m: 1024, n: 1024, k: 1024 };

/** One shape's sgemm rates. */
export interface ShapeRate {
  shape: string;
  gflops1t: number;
  gflops2t: number;
}

/** Every measured rate and the best 2-thread one, or why there is none. */
export type Roofline =
  | { shapes: ShapeRate[]; square: ShapeRate; best2t: number; minMs: number }
  | { absent: string };

/**
 * Times sgemm at `configs`' product shapes and at SQUARE, on 1 and 2 threads, each for
 * at least `minMs` (sgemmGflops: the fastest of 5 blocks). Absent where the native
 * backend's OpenBLAS is not installed.
 */
export async function measureRoofline(
  configs: string[],
  vocab: number,
  minMs: number,
): Promise<Roofline> {
  const missing = await missingDependencies();
  if (missing) return { absent: `no native backend for sgemm: ${missing}` };
  const rate = (s: SgemmShape): ShapeRate => ({
    shape: shapeKey(s),
    gflops1t: sgemmGflops(s, { threads: 1, minMs }),
    gflops2t: sgemmGflops(s, { threads: 2, minMs }),
  });
  const products = configs.flatMap((c) => stepProducts(CONFIGS[c], { vocab }));
  const shapes = distinctShapes(products).map(rate);
  const square = rate(SQUARE);
  const best2t = Math.max(square.gflops2t, ...shapes.map((s) => s.gflops2t));
  return { shapes, square, best2t, minMs };
}
