/** Tensor basics: reading values back, copies, in-place assignment and autograd guards. */
import assert from "node:assert/strict";
import "./setup.ts";
import { isGradEnabled, noGrad, ops, tensor } from "@rnnkit/core";

Deno.test("toArray nests values by shape; item reads one value", async () => {
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(await t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.equal(await tensor([7], [1]).item(), 7);
  await assert.rejects(() => t.item(), /item\(\) needs one element, got \[2,3\]/);
});

Deno.test("clone is a detached copy; assign replaces values in place and checks the shape", async () => {
  const a = tensor([1, 2], [2]);
  a.requiresGrad = true;
  const c = a.clone();
  assert.equal(c.requiresGrad, false);
  a.assign(tensor([3, 4], [2]));
  assert.deepEqual([...await a.data()], [3, 4]);
  assert.deepEqual([...await c.data()], [1, 2]);
  assert.throws(() => a.assign(tensor([1, 2, 3], [3])), /assign of shape \[3\] into \[2\]/);
  c.dispose();
  assert.throws(() => c.handle, /used after dispose/);
});

Deno.test("backward needs a scalar or a gradient; noGrad records nothing", () => {
  const x = tensor([1, 2], [2]);
  x.requiresGrad = true;
  const y = ops.mul(x, x);
  assert.throws(() => y.backward(), /needs a scalar, got \[2\]/);
  assert.throws(() => tensor([1], [1]).backward(), /does not require grad/);
  const z = noGrad(() => {
    assert.equal(isGradEnabled(), false);
    return ops.mul(x, x);
  });
  assert.equal(z.node, null);
  assert.equal(isGradEnabled(), true);
});

Deno.test("tidy frees what it made, moves what it returns up, and never frees outside tensors", async () => {
  const { keep, liveTensors, tidy } = await import("@rnnkit/core");
  const outside = keep(tensor([1], [1]));
  const before = liveTensors();
  const kept = tidy(() => {
    const inner = tidy(() => {
      ops.add(outside, outside); // freed by the inner scope
      return [outside, ops.mul(outside, outside)];
    });
    return inner[1];
  });
  assert.equal(liveTensors(), before + 1);
  assert.equal(outside.disposed, false);
  assert.deepEqual([...await kept.data()], [1]);
  kept.dispose();
  outside.dispose();
});
