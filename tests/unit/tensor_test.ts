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

Deno.test("tensor() infers the shape of nested arrays and rejects ragged ones", async () => {
  assert.deepEqual(tensor([1, 2, 3]).shape, [3]);
  assert.deepEqual(tensor([[1, 2], [3, 4], [5, 6]]).shape, [3, 2]);
  assert.deepEqual(tensor(7).shape, []);
  assert.deepEqual(tensor(Float32Array.of(1, 2)).shape, [2]);
  assert.deepEqual(await tensor([[1, 2], [3, 4]]).toArray(), [[1, 2], [3, 4]]);
  const { intTensor } = await import("@rnnkit/core");
  assert.deepEqual(intTensor([[1], [2]]).shape, [2, 1]);
  assert.throws(
    () => tensor([[1, 2], [3]]),
    /ragged nested array: values\[1\] should be an array of 2/,
  );
  assert.throws(() => tensor([[1, "a"]] as never), /values\[0\]\[1\] is "a", not a number/);
  assert.throws(() => tensor([1, 2], [3]), /2 values do not fill shape \[3\]/);
  assert.throws(() => tensor([1, 2], [-1, 2]), /shape \[-1, 2\] must hold non-negative integers/);
});

Deno.test("detach shares the values, cuts the graph and is disposed on its own", async () => {
  const x = tensor([1, 2]);
  x.requiresGrad = true;
  const y = ops.mul(x, x);
  const d = y.detach();
  assert.equal(d.node, null);
  assert.deepEqual([...await d.data()], [1, 4]);
  // Through d no gradient reaches x; through y it does.
  ops.sum(ops.mul(y, d)).backward();
  assert.deepEqual([...await x.grad!.data()], [2, 16]); // d/dx (x^2 * const x^2) = 2x^3
  y.dispose();
  assert.deepEqual([...await d.data()], [1, 4], "d outlives y");
});

Deno.test("tidy keeps every tensor of a nested result, and refuses an async fn", async () => {
  const { LSTM, liveTensors, tidy } = await import("@rnnkit/core");
  const lstm = new LSTM(2, 3);
  const before = liveTensors();
  const [out, [h, c]] = tidy(() => lstm.forward(tensor([[1, 2]])));
  const { a, b: [e] } = tidy(() => ({ a: ops.add(h, h), b: [ops.mul(c, c)], n: 3 }));
  assert.equal(liveTensors(), before + 5);
  for (const t of [out, h, c, a, e]) {
    assert.equal(t.disposed, false);
    t.dispose();
  }
  // deno-lint-ignore require-await
  assert.throws(() => tidy(async () => tensor(1)), /fn returned a Promise/);
  lstm.dispose();
});
