/**
 * The PyTorch-style Tensor methods, requiresGrad_, gradient accumulation and zeroGrad
 * (setToNone), the inf-safety of where/maskedFill, and the errors of the new ops and losses.
 * Values against PyTorch are the conformance suite's; here the behaviour around them.
 */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  HuberLoss,
  intTensor,
  L1Loss,
  Linear,
  liveTensors,
  Loss,
  Module,
  MSELoss,
  NLLLoss,
  ops,
  SGD,
  SmoothL1Loss,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@rnnkit/core";

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

function close(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${actual} vs ${expected}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol, `${actual} vs ${expected}`));
}

function throwsWith(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: Error) => {
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

Deno.test("methods read like PyTorch and are the ops of the same name", async () => {
  const x = tensor([[1, 2], [3, 4], [5, 6]]);
  const w = tensor([[0.5, -1, 2], [1, 0, -0.5]]);
  const b = tensor([0.1, 0.2, 0.3]);
  const viaMethods = x.matmul(w).add(b).tanh();
  const viaOps = ops.tanh(ops.add(ops.matmul(x, w), b));
  assert.deepEqual(await values(viaMethods), await values(viaOps));
  assert.deepEqual(x.reshape(2, 3).shape, [2, 3]);
  assert.deepEqual(x.reshape([-1]).shape, [6]);
  assert.deepEqual(x.view(1, -1, 2).shape, [1, 3, 2]);
  assert.deepEqual(x.transpose(0, 1).shape, [2, 3]);
  assert.deepEqual(x.reshape(3, 1, 2).transpose(-1, 0).shape, [2, 1, 3]);
  assert.deepEqual(x.reshape(3, 1, 2).permute(2, 0, 1).shape, [2, 3, 1]);
  assert.deepEqual(await values(x.sum(0)), [9, 12]);
  assert.deepEqual(await values(x.mean(1, true)), [1.5, 3.5, 5.5]);
  assert.deepEqual(await values(x.mul(2).sub(1).div(2)), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  assert.deepEqual(await values(x.neg().abs()), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(await values(x.pow(2).clamp(2, 20)), [2, 4, 9, 16, 20, 20]);
  assert.deepEqual(await values(x.clamp(null, 3)), [1, 2, 3, 3, 3, 3]);
  close(await values(x.softmax().sum(-1)), [1, 1, 1]);
  close(await values(x.logSoftmax(0).exp().sum(0)), [1, 1]);
  close(await values(x.var()), [3.5]);
  close(await values(x.std(0, { correction: 0 })), [Math.sqrt(8 / 3), Math.sqrt(8 / 3)], 1e-6);
  close(await values(tensor([0, 1, -1]).gelu()), [0, 0.8413447, -0.1586553]);
  close(await values(tensor([-2, 0, 2]).sigmoid()), [0.1192029, 0.5, 0.8807971]);
  assert.deepEqual(await values(tensor([-2, 0, 2]).relu()), [0, 0, 2]);
  close(await values(tensor([1, 4]).sqrt().log()), [0, Math.log(2)]);
});

Deno.test("argmax, max and min: int32 indices, first among ties, values differentiable", async () => {
  const x = tensor([[1, 3, 3], [7, 7, 0]]).requiresGrad_();
  const i = x.argmax(1);
  assert.equal(i.dtype, "int32");
  assert.deepEqual(await values(i), [1, 0]);
  assert.equal(i.node, null);
  assert.deepEqual(await values(x.argmin()), [5]);
  assert.deepEqual(x.argmax(undefined, true).shape, [1, 1]);
  const { values: top, indices } = x.max(1);
  assert.deepEqual(await values(indices), [1, 0]);
  top.sum().backward();
  assert.deepEqual(await values(x.grad!), [0, 1, 0, 1, 0, 0]);
  x.grad = null;
  // Without dim, ties share the gradient evenly (PyTorch's max()).
  x.max().backward();
  assert.deepEqual(await values(x.grad!), [0, 0, 0, 0.5, 0.5, 0]);
  const { values: low } = x.min(0, true);
  assert.deepEqual(low.shape, [1, 3]);
  assert.deepEqual(await values(low), [1, 3, 0]);
  assert.deepEqual(await values(x.min()), [0]);
});

Deno.test("add, sub, mul and div take numbers on either side", async () => {
  const x = tensor([2, 4]);
  assert.deepEqual(await values(ops.sub(1, x)), [-1, -3]);
  assert.deepEqual(await values(ops.div(8, x)), [4, 2]);
  assert.deepEqual(await values(x.add(0.5)), [2.5, 4.5]);
});

Deno.test("requiresGrad_ sets the flag and returns the tensor; only float leaves", () => {
  const x = tensor([1, 2]);
  assert.equal(x.requiresGrad_(), x);
  assert.equal(x.requiresGrad, true);
  assert.equal(x.requiresGrad_(false).requiresGrad, false);
  throwsWith(() => intTensor([1, 2]).requiresGrad_(), "requiresGrad_", "float32");
  const y = ops.mul(tensor([1]).requiresGrad_(), 2);
  throwsWith(() => y.requiresGrad_(false), "requiresGrad_(false)", "op mul", "detach()");
  assert.equal(intTensor([1]).requiresGrad_(false).requiresGrad, false);
});

Deno.test("backward twice: an error unless retainGraph; retained calls accumulate in place", async () => {
  const x = tensor([1, 2, 3]).requiresGrad_();
  const loss = ops.sum(ops.mul(x, x));
  loss.backward();
  throwsWith(() => loss.backward(), "second time", "retainGraph");
  x.grad = null;

  const retained = ops.sum(ops.mul(x, x));
  retained.backward(undefined, { retainGraph: true });
  const first = x.grad!;
  assert.deepEqual(await values(first), [2, 4, 6]);
  retained.backward(undefined, { retainGraph: true });
  assert.equal(x.grad, first, "accumulation replaced .grad instead of adding into it");
  assert.deepEqual(await values(x.grad!), [4, 8, 12]);
  retained.backward();
  assert.deepEqual(await values(x.grad!), [6, 12, 18]);
  throwsWith(() => retained.backward(), "second time");
});

Deno.test("a gradient passed to backward() is never aliased by .grad", async () => {
  const x = tensor([1, 2]).requiresGrad_();
  const g = tensor([1, 1]);
  x.backward(g);
  x.backward(g);
  assert.deepEqual(await values(g), [1, 1]);
  assert.deepEqual(await values(x.grad!), [2, 2]);
});

Deno.test("Module.zeroGrad and Optimizer.zeroGrad: setToNone by default, else zeroed in place", async () => {
  const lin = new Linear(2, 2);
  const opt = new SGD(lin.parameters(), { lr: 0.1 });
  const step = () => tidy(() => lin.forward(tensor([[1, 2]])).sum().backward());
  step();
  const grads = lin.parameters().map((p) => p.grad!);
  const live = liveTensors();
  lin.zeroGrad({ setToNone: false });
  assert.equal(liveTensors(), live);
  lin.parameters().forEach((p, i) => assert.equal(p.grad, grads[i]));
  for (const g of grads) assert.ok((await values(g)).every((v) => v === 0));
  step();
  assert.deepEqual(await values(lin.parameters()[1].grad!), [1, 1]);
  opt.zeroGrad({ setToNone: false });
  assert.equal(lin.parameters()[1].grad, grads[1]);
  assert.deepEqual(await values(grads[1]), [0, 0]);
  opt.zeroGrad();
  assert.ok(lin.parameters().every((p) => p.grad === null));
  assert.ok(grads.every((g) => g.disposed));
  step();
  lin.zeroGrad();
  assert.ok(lin.parameters().every((p) => p.grad === null));
  lin.dispose();
});

Deno.test("zero_ keeps the tensor and fills it with zeros", async () => {
  const t = tensor([1, 2, 3]);
  assert.equal(t.zero_(), t);
  assert.deepEqual(await values(t), [0, 0, 0]);
});

Deno.test("where and maskedFill keep an infinity in the branch not taken out of values and gradients", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]).requiresGrad_();
  const mask = tensor([0, 1, 1]); // a causal-style mask over the last axis
  const p = ops.softmax(ops.maskedFill(x, mask, -Infinity), -1);
  assert.deepEqual(await values(p), [1, 0, 0, 1, 0, 0]);
  ops.sum(ops.mul(p, tensor([[1, 2, 3], [4, 5, 6]]))).backward();
  assert.ok((await values(x.grad!)).every(Number.isFinite));
  const a = tensor([Infinity, 1]).requiresGrad_();
  const b = tensor([2, NaN]).requiresGrad_();
  const y = ops.where(tensor([0, 1]), a, b);
  assert.deepEqual(await values(y), [2, 1]);
  ops.sum(y).backward();
  assert.deepEqual(await values(a.grad!), [0, 1]);
  assert.deepEqual(await values(b.grad!), [1, 0]);
  // Cross-entropy of a masked (-inf) logit off the target stays finite, as in PyTorch.
  const logits = ops.maskedFill(tensor([[2, 1, 0]]), tensor([0, 0, 1]), -Infinity);
  const ce = new CrossEntropyLoss().forward(logits, intTensor([0]));
  assert.ok(Number.isFinite(await ce.item()));
});

Deno.test("new ops report bad shapes and arguments, naming the op and the shapes", () => {
  throwsWith(
    () => ops.matmul(zeros([2, 3, 4]), zeros([3, 4, 5])),
    "matmul",
    "[2, 3, 4]",
    "[3, 4, 5]",
  );
  throwsWith(() => ops.matmul(zeros([2, 3, 4]), zeros([5, 6])), "matmul", "[2, 3, 4] @ [5, 6]");
  throwsWith(() => ops.matmul(zeros([2]), zeros([2, 3])), "matmul", "[2]", "[2, 3]");
  throwsWith(() => ops.bmm(zeros([2, 3]), zeros([3, 4])), "bmm", "[2, 3]", "[3, 4]");
  throwsWith(
    () => ops.where(zeros([2]), zeros([3]), zeros([])),
    "where",
    "cond [2]",
    "a [3]",
    "b []",
  );
  throwsWith(() => ops.where(intTensor([1]), 1, 2), "where", "float32");
  throwsWith(() => ops.maskedFill(zeros([3]), zeros([2, 3]), 0), "maskedFill", "[2, 3]", "[3]");
  throwsWith(() => ops.stack([zeros([2]), zeros([3])]), "stack", "[2]", "[3]");
  throwsWith(() => ops.stack([zeros([2])], 2), "stack", "axis 2");
  throwsWith(() => ops.narrow(zeros([2, 5]), 1, 3, 3), "narrow", "[2, 5]");
  throwsWith(() => ops.select(zeros([2, 5]), 1, 5), "select", "index 5", "size 5", "[2, 5]");
  throwsWith(() => ops.select(zeros([2, 5]), 2, 0), "select", "axis 2");
  throwsWith(() => ops.unbind(zeros([2, 5]), -3), "unbind", "axis -3");
  throwsWith(() => ops.indexSelect(zeros([2, 5]), 1, intTensor([5])), "indexSelect", "5", "[2, 5]");
  throwsWith(() => ops.indexSelect(zeros([2, 5]), 0, tensor([1])), "indexSelect", "int32");
  throwsWith(() => ops.transpose(zeros([2, 3]), [0, 0]), "transpose", "[2, 3]");
  throwsWith(() => ops.argmax(zeros([2, 0]), 1), "argmax", "[2, 0]");
  throwsWith(() => ops.argmax(zeros([2, 3]), 2), "argmax", "dim 2", "[2, 3]");
  throwsWith(() => ops.clamp(zeros([2])), "clamp", "min", "max");
  throwsWith(() => ops.cat([]), "concat", "at least one");
});

Deno.test("losses are Modules with a reduction; their errors name the loss and the shapes", () => {
  for (
    const loss of [
      new MSELoss(),
      new L1Loss(),
      new SmoothL1Loss(),
      new HuberLoss(),
      new BCELoss(),
      new BCEWithLogitsLoss(),
      new NLLLoss(),
      new CrossEntropyLoss(),
    ]
  ) {
    assert.ok(loss instanceof Module && loss instanceof Loss);
    assert.equal(loss.reduction, "mean");
    assert.deepEqual(loss.parameters(), []);
  }
  assert.equal(new SmoothL1Loss().beta, 1);
  assert.equal(new HuberLoss().delta, 1);
  assert.equal(new NLLLoss().ignoreIndex, -100);
  throwsWith(() => new MSELoss({ reduction: "avg" as "mean" }), "MSELoss", "reduction", "avg");
  throwsWith(() => new HuberLoss({ delta: 0 }), "HuberLoss", "delta", "0");
  throwsWith(() => new SmoothL1Loss({ beta: -1 }), "SmoothL1Loss", "beta", "-1");
  throwsWith(() => new MSELoss().forward(zeros([2, 3]), zeros([3])), "MSELoss", "[2, 3]", "[3]");
  throwsWith(() => new L1Loss().forward(zeros([2]), intTensor([1, 0])), "L1Loss", "float32");
  throwsWith(
    () => new BCELoss({ weight: zeros([4]) }).forward(zeros([2, 3]), zeros([2, 3])),
    "BCELoss",
    "weight [4]",
    "[2, 3]",
  );
  throwsWith(
    () => new BCEWithLogitsLoss({ posWeight: zeros([2]) }).forward(zeros([2, 3]), zeros([2, 3])),
    "BCEWithLogitsLoss",
    "posWeight [2]",
  );
  throwsWith(
    () => new CrossEntropyLoss({ weight: zeros([2]) }).forward(zeros([2, 3]), intTensor([0, 1])),
    "CrossEntropyLoss",
    "weight",
    "[3]",
    "[2]",
  );
  throwsWith(
    () => new NLLLoss().forward(zeros([2, 3, 4]), intTensor([0, 1])),
    "NLLLoss",
    "input [2, 3, 4]",
    "target [2]",
  );
  throwsWith(() => new NLLLoss().forward(zeros([3]), intTensor([3], [])), "target 3 out of range");
});

Deno.test("NLLLoss and CrossEntropyLoss: all targets ignored gives NaN for mean, as PyTorch", async () => {
  const ce = new CrossEntropyLoss({ ignoreIndex: 1 });
  assert.ok(Number.isNaN(await ce.forward(zeros([2, 3]), intTensor([1, 1])).item()));
  const weighted = new NLLLoss({ weight: tensor([1, 2, 3]) });
  close(await values(weighted.forward(tensor([[-1, -2, -3]]), intTensor([2]))), [3]);
});
