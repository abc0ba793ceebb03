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
    /Adam\.loadStateDict: amsgrad=true: rnnkit supports only amsgrad=false/,
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
      { ...dict, param_groups: [{ ...group, lr: Infinity }] },
      /lr must be a finite number, got Infinity/,
    ],
    [
      { ...dict, param_groups: [{ ...group, initial_lr: -1 }] },
      /initial_lr must be a finite number >= 0, got -1/,
    ],
    [{ ...dict, param_groups: [group, group] }, /a list of one group, got/],
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

// ---- Parameter groups ----------------------------------------------------------------------

Deno.test("param groups: per-group hyperparameters, as PyTorch's param_groups", async () => {
  manualSeed(0);
  const model = new Linear(3, 2);
  const [w, b] = model.parameters();
  const opt = new Adam([{ params: [w], lr: 0.05, weightDecay: 0.1 }, { params: [b] }], {
    lr: 0.01,
    betas: [0.8, 0.99],
  });
  assert.deepEqual(opt.defaults, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-8, weightDecay: 0 });
  assert.deepEqual(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.betas]), [
    [0.05, 0.1, [0.8, 0.99]],
    [0.01, 0, [0.8, 0.99]],
  ]);
  assert.deepEqual(opt.params, [w, b]);
  assert.equal(opt.paramGroups[1].params[0], b);
  assert.equal(opt.lr, 0.05, "the first group's");
  assert.deepEqual(opt.stateDict().param_groups, [
    { lr: 0.05, betas: [0.8, 0.99], eps: 1e-8, weight_decay: 0.1, params: [0] },
    { lr: 0.01, betas: [0.8, 0.99], eps: 1e-8, weight_decay: 0, params: [1] },
  ]);

  // Every value set is checked; a bad one changes nothing.
  const g0 = opt.paramGroups[0];
  assert.throws(() => g0.betas = [1.5, 0.9], /Adam: param group 0: betas\[0\] must be a finite/);
  assert.throws(() => g0.eps = NaN, /eps must be a finite number >= 0, got NaN/);
  assert.throws(
    () => (g0 as unknown as Record<string, number>).momentum = 0.9,
    /a param group has no "momentum" \(Adam's: lr, betas, eps, weightDecay, initialLr/,
  );
  assert.throws(() => opt.lr = -1, /lr must be a finite number >= 0, got -1/);
  assert.throws(
    () => (g0 as unknown as { params: Tensor[] }).params = [],
    /params cannot be replaced/,
  );
  assert.deepEqual([g0.lr, g0.betas, g0.eps], [0.05, [0.8, 0.99], 1e-8]);

  // Each update reads its group's values: a zero lr leaves the bias as it is.
  opt.paramGroups[1].lr = 0;
  const [w0, b0] = [await w.data(), await b.data()];
  await trainStep(opt, () => ce.forward(model.forward(x), y));
  assert.notDeepEqual(await w.data(), w0);
  assert.deepEqual(await b.data(), b0);
  opt.lr = 0.02;
  assert.deepEqual(opt.paramGroups.map((g) => g.lr), [0.02, 0.02], "lr = sets every group's");
  opt.weightDecay = 0.5;
  assert.deepEqual(opt.paramGroups.map((g) => g.weightDecay), [0.5, 0.5]);
  opt.dispose();
});

Deno.test("addParamGroup numbers the new parameters after the others and checks them", () => {
  manualSeed(0);
  const [w, b] = new Linear(3, 2).parameters();
  const [v] = new Linear(2, 1, { bias: false }).parameters();
  const opt = new SGD([w], { lr: 0.1 });
  opt.addParamGroup({ params: b, lr: 0.5, momentum: 0.9, nesterov: true });
  assert.deepEqual(opt.params, [w, b]);
  assert.deepEqual(opt.paramGroups[1].momentum, 0.9);
  assert.deepEqual(opt.stateDict().param_groups.map((g) => [g.params, g.lr, g.nesterov]), [
    [[0], 0.1, false],
    [[1], 0.5, true],
  ]);
  const cases: [() => void, RegExp][] = [
    [
      () => opt.addParamGroup({ params: [v, w] }),
      /param group 2: a parameter of shape \[2,3\] appears in more than one place/,
    ],
    [
      () => opt.addParamGroup({ params: [v], betas: [0.9, 0.9] } as never),
      /param group 2: unknown option "betas" \(SGD's: lr, momentum/,
    ],
    [
      () => opt.addParamGroup({ params: [v], nesterov: true }),
      /param group 2: nesterov needs momentum > 0/,
    ],
    [
      () => opt.addParamGroup({ params: [v], lr: -0.1 }),
      /param group 2: lr must be a finite number >= 0/,
    ],
    [
      () => opt.addParamGroup({ params: [1 as unknown as Tensor] }),
      /params must be tensors, got 1/,
    ],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, message);
    assert.equal(opt.paramGroups.length, 2, "nothing added");
    assert.deepEqual(opt.params, [w, b]);
  }
  assert.throws(
    () => new SGD([w, { params: [b] }] as never),
    /a list of tensors or a list of parameter groups/,
  );
  assert.throws(() => new Adam([]), /Adam: no parameters given/);
  assert.throws(() => new Adam([{ params: [] }]), /Adam: no parameters given/);
});

Deno.test("a state dict of several groups resumes exactly, and must match the group sizes", async () => {
  const make = (p: Tensor[]) =>
    new RMSprop([{ params: [p[0]], momentum: 0.5 }, { params: [p[1]], lr: 0.03, centered: true }]);
  const { model, optimizer } = await trained(make, 3);
  optimizer.paramGroups[1].initialLr = 0.03; // as a scheduler would
  const dict = optimizer.stateDict();
  assert.deepEqual(dict.param_groups.map((g) => [g.params, g.lr, g.momentum, g.centered]), [
    [[0], 0.01, 0.5, false],
    [[1], 0.03, 0, true],
  ]);
  assert.equal(dict.param_groups[1].initial_lr, 0.03);
  assert.ok(!("initial_lr" in dict.param_groups[0]));
  const copy = new Linear(3, 2);
  copy.loadStateDict(model.stateDict());
  const resumed = make(copy.parameters());
  resumed.paramGroups[0].initialLr = 1; // not in the saved group: removed by loading
  resumed.loadStateDict(JSON.parse(JSON.stringify({ ...dict, state: {} })));
  assert.equal(resumed.paramGroups[0].initialLr, undefined);
  assert.equal(resumed.paramGroups[1].initialLr, 0.03);
  resumed.loadStateDict(dict);
  for (const [m, o] of [[model, optimizer], [copy, resumed]] as const) {
    await trainStep(o, () => ce.forward(m.forward(x), y));
  }
  const [a, b] = [model, copy].map((m) => m.stateDict());
  for (const k of Object.keys(a)) assert.deepEqual(await b[k].data(), await a[k].data(), k);

  const one = new RMSprop(copy.parameters());
  assert.throws(() => one.loadStateDict(dict), /expected param_groups to be a list of one group/);
  const [w, bias] = copy.parameters();
  const swapped = new RMSprop([{ params: [w, bias] }, { params: [] }]);
  assert.throws(
    () => swapped.loadStateDict(dict),
    /param_groups\[0\]\.params must be \[0, \.\.\., 1\] for the 2 parameters of this optimizer's group 0, got \[0\]; param_groups\[1\]\.params must be \[\] for the 0 parameters/,
  );
  optimizer.dispose();
  resumed.dispose();
});
