/**
 * FusedOps.adamStep on WebGPU: one dispatch per parameter writes the new p, m and v, with
 * the arithmetic in the composite's order (optim/adam.ts), so both round alike.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { AdamArgs, Handle } from "@rnnkit/core/backend";
import type { KernelRunner } from "./kernel_runner.ts";

const T = (h: Handle) => h as unknown as tf.Tensor;
const H = (t: tf.Tensor) => t as unknown as Handle;

const CODE = `
struct Hyper { b1: f32, c1: f32, b2: f32, c2: f32, eps: f32, stepSize: f32, invBias2Sqrt: f32,
               size: u32 }
@group(0) @binding(0) var<uniform> hp: Hyper;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> m: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> p2: array<f32>;
@group(0) @binding(6) var<storage, read_write> m2: array<f32>;
@group(0) @binding(7) var<storage, read_write> v2: array<f32>;
fn main() {
  let i = thread();
  if (i >= hp.size) { return; }
  let gi = g[i];
  let mi = hp.b1 * m[i] + hp.c1 * gi;
  let vi = hp.b2 * v[i] + hp.c2 * (gi * gi);
  m2[i] = mi;
  v2[i] = vi;
  p2[i] = p[i] - (mi / (sqrt(vi) * hp.invBias2Sqrt + hp.eps)) * hp.stepSize;
}`;

/** `FusedOps.adamStep`. */
export function adamStep(runner: KernelRunner, a: AdamArgs): { p: Handle; m: Handle; v: Handle } {
  const p = T(a.p);
  const [p2, m2, v2] = [0, 1, 2].map(() => runner.empty(p.shape));
  const hyper = Float32Array.of(
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    a.eps,
    a.stepSize,
    a.invBias2Sqrt,
    0,
  );
  new Uint32Array(hyper.buffer)[7] = p.size;
  const uniform = runner.uniforms(1, () => hyper);
  runner.submit({
    dispatches: [{
      pipeline: runner.pipeline("adam", CODE),
      resources: [{ uniform, offset: 0 }, p, T(a.g), T(a.m), T(a.v), p2, m2, v2],
      threads: p.size,
    }],
  }, [uniform]);
  return { p: H(p2), m: H(m2), v: H(v2) };
}
