/** Optimizer state dicts: PyTorch's structure, exact continuation, and all-or-nothing loading. */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  Adam,
  AdamW,
  CrossEntropyLoss,
  intTensor,
  Linear,
  manualSeed,
  type Optimizer,
  type OptimizerStateDict,
  RMSprop,
  SGD,
  type Tensor,
  tensor,
  trainStep,
} from "@rnnkit/core";

const x = tensor([[0.5, -1, 2], [1, 0.25, -0.5]]);
const y = intTensor([1, 0]);
const ce = new CrossEntropyLoss();

/** A Linear(3, 2) with seed 0's weights, and `steps` steps of `make`'s optimizer on it. */
async function trained(make: (p: Tensor[]) => Optimizer, steps: number) {
  manualSeed(0);
  const model = new Linear(3, 2);
  const optimizer = make(model.parameters());
  for (let i = 0; i < steps; i++) await trainStep(optimizer, () => ce.forward(model.forward(x), y));
  return { model, optimizer };
}

const OPTIMIZERS: [string, (p: Tensor[]) => Optimizer, Record<string, unknown>, string[]][] = [
  ["SGD", (p) => new SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }), {
    lr: 0.1,
    momentum: 0.9,
    dampening: 0,
    weight_decay: 0.01,
    nesterov: false,
  }, ["momentum_buffer"]],
  ["Adam", (p) => new Adam(p, { lr: 0.02, betas: [0.8, 0.99] }), {
    lr: 0.02,
    betas: [0.8, 0.99],
    eps: 1e-8,
    weight_decay: 0,
  }, ["step", "exp_avg", "exp_avg_sq"]],
  ["AdamW", (p) => new AdamW(p, { lr: 0.02 }), {
    lr: 0.02,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weight_decay: 0.01,
  }, ["step", "exp_avg", "exp_avg_sq"]],
  ["RMSprop", (p) => new RMSprop(p, { lr: 0.01, momentum: 0.5, centered: true }), {
    lr: 0.01,
    alpha: 0.99,
    eps: 1e-8,
    weight_decay: 0,
    momentum: 0.5,
    centered: true,
  }, ["step", "square_avg", "grad_avg", "momentum_buffer"]],
];

for (const [name, make, group, keys] of OPTIMIZERS) {
  Deno.test(`${name}.stateDict has PyTorch's structure and resumes exactly`, async () => {
    const { model, optimizer } = await trained(make, 3);
    const dict = optimizer.stateDict();
    assert.deepEqual(dict.param_groups, [{ ...group, params: [0, 1] }]);
    assert.deepEqual(Object.keys(dict.state), ["0", "1"]);
    assert.deepEqual(Object.keys(dict.state[0]).sort(), [...keys].sort());
    if (keys.includes("step")) assert.equal(dict.state[1].step, 3);

    // Host copies into a fresh optimizer (other options), then one more step each.
    const host: OptimizerStateDict = { state: {}, param_groups: dict.param_groups };
    for (const [i, entry] of Object.entries(dict.state)) {
      host.state[Number(i)] = {};
      for (const [k, v] of Object.entries(entry)) {
        host.state[Number(i)][k] = typeof v === "number"
          ? v
          : { shape: v.shape, data: await (v as Tensor).data() };
      }
    }
    const copy = new Linear(3, 2);
    copy.loadStateDict(model.stateDict());
    const resumed = make(copy.parameters());
    resumed.lr = 123;
    resumed.loadStateDict(host);
    assert.equal(resumed.lr, group.lr);
    for (const [m, o] of [[model, optimizer], [copy, resumed]] as const) {
      await trainStep(o, () => ce.forward(m.forward(x), y));
    }
    const [a, b] = [model, copy].map((m) => m.stateDict());
    for (const k of Object.keys(a)) assert.deepEqual(await b[k].data(), await a[k].data(), k);
    optimizer.dispose();
    resumed.dispose();
  });
}

Deno.test("loadStateDict takes PyTorch's extra group keys at their defaults only", async () => {
  const { optimizer } = await trained((p) => new Adam(p), 1);
  const dict = optimizer.stateDict();
  const torch = {
    amsgrad: false,
    maximize: false,
    foreach: null,
    capturable: false,
    differentiable: false,
    fused: null,
  };
  optimizer.loadStateDict({ ...dict, param_groups: [{ ...dict.param_groups[0], ...torch }] });
  assert.throws(
    () =>
      optimizer.loadStateDict({
        ...dict,
        param_groups: [{ ...dict.param_groups[0], amsgrad: true }],
      }),
    /Adam\.loadStateDict: amsgrad=true is not implemented by rnnkit/,
  );
  optimizer.dispose();
});

Deno.test("loadStateDict checks everything first and changes nothing on failure", async () => {
  const { optimizer } = await trained((p) => new Adam(p, { lr: 0.5 }), 2);
  const dict = optimizer.stateDict();
  const before = await optimizer.state.get(optimizer.params[0])!.buffers.exp_avg.data();
  const group = dict.param_groups[0];
  const cases: [OptimizerStateDict, RegExp][] = [
    [{ ...dict, param_groups: [] }, /a list of one group/],
    [{ ...dict, param_groups: [{ ...group, params: [0] }] }, /params must be \[0, \.\.\., 1\]/],
    [
      { ...dict, param_groups: [{ ...group, momentum: 0.9 }] },
      /unexpected hyperparameter "momentum"/,
    ],
    [
      { ...dict, param_groups: [{ ...group, lr: -1 }] },
      /lr must be a finite number >= 0, got -1/,
    ],
    [{ ...dict, state: { 0: { ...dict.state[0], step: 1.5 } } }, /"step" must be an integer >= 0/],
    [
      { ...dict, state: { 0: { step: 2, exp_avg: dict.state[0].exp_avg } } },
      /missing "exp_avg_sq"/,
    ],
    [{ ...dict, state: { 7: dict.state[0] } }, /parameter 7: no such parameter/],
    [
      { ...dict, state: { 0: { ...dict.state[0], exp_avg: { shape: [1], data: [0] } } } },
      /"exp_avg" has shape \[1\], expected the parameter's \[2,3\]/,
    ],
    [
      {
        ...dict,
        state: {
          0: { ...dict.state[0], exp_avg_sq: { shape: [2, 3], data: [0, 0, NaN, 0, 0, 0] } },
        },
      },
      /"exp_avg_sq" holds a non-finite value \(NaN\)/,
    ],
    [
      { ...dict, state: { 0: { ...dict.state[0], max_exp_avg_sq: dict.state[0].exp_avg } } },
      /"max_exp_avg_sq" is not one of Adam's \(step,exp_avg,exp_avg_sq\)/,
    ],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => optimizer.loadStateDict(bad), message);
    assert.equal(optimizer.lr, 0.5);
    assert.deepEqual(
      await optimizer.state.get(optimizer.params[0])!.buffers.exp_avg.data(),
      before,
    );
  }
  optimizer.dispose();
});
