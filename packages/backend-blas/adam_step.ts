/** FusedOps.adamStep on host memory: one pass instead of a dozen elementwise ops. */
import type { AdamArgs } from "@rnnkit/core";
import { F, H, type HostMemory, T } from "./host_tensor.ts";

export function adamStep(mem: HostMemory, a: AdamArgs) {
  const shape = T(a.p).shape;
  const [p, g, m, v] = [F(a.p), F(a.g), F(a.m), F(a.v)];
  const [pOut, mOut, vOut] = [mem.float(shape), mem.float(shape), mem.float(shape)];
  const [po, mo, vo] = [pOut.store.data, mOut.store.data, vOut.store.data];
  const { beta1, beta2, eps, stepSize, invBias2Sqrt } = a;
  for (let i = 0; i < p.length; i++) {
    const mi = beta1 * m[i] + (1 - beta1) * g[i];
    const vi = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] - stepSize * mi / (Math.sqrt(vi) * invBias2Sqrt + eps);
  }
  return { p: H(pOut), m: H(mOut), v: H(vOut) };
}
