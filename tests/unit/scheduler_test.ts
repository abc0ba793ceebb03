/**
 * Learning-rate schedulers: every fixture schedule resumes exactly from its JSON state at
 * any step, the values are PyTorch's (the conformance suite checks each; here the largest
 * deviation is reported), PyTorch's step semantics, state dicts, and clear errors that
 * change nothing.
 */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  Adam,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  type Optimizer,
  ReduceLROnPlateau,
  SequentialLR,
  SGD,
  StepLR,
  zeros,
} from "@rnnkit/core";
import {
  buildScheduler,
  lrWorst,
  momentumOf,
  runSchedule,
  type ScheduleCase,
  scheduleCases,
  scheduleOptimizer,
  stepSchedule,
} from "../conformance/suite/schedulers.ts";

/** Two groups of lr 0.1 and 0.02, as the fixture's. */
const twoGroups = () =>
  new SGD([{ params: [zeros([2])], lr: 0.1 }, { params: [zeros([3])], lr: 0.02 }]);

/** Every lr (and momentum) of steps 1..100 of `c`, resumed from JSON after step `at`. */
function run(c: ScheduleCase, at?: number): number[][] {
  let optimizer = scheduleOptimizer(c);
  let s = buildScheduler(c.scheduler, optimizer);
  const rows: number[][] = [];
  const record = () =>
    rows.push([...optimizer.paramGroups.map((g) => g.lr), ...momentumOf(optimizer)]);
  record();
  for (let step = 1; step <= c.steps; step++) {
    stepSchedule(c, optimizer, s, step);
    record();
    if (step === at) {
      const saved = JSON.parse(JSON.stringify({ o: optimizer.stateDict(), s: s.stateDict() }));
      optimizer.dispose();
      // Fresh objects made as the run's were (their constructors' steps are overwritten).
      optimizer = scheduleOptimizer(c);
      s = buildScheduler(c.scheduler, optimizer);
      optimizer.loadStateDict(saved.o);
      s.loadStateDict(saved.s);
    }
  }
  optimizer.dispose();
  return rows;
}

for (const c of scheduleCases) {
  Deno.test(`${c.name}: resumes exactly from its JSON state dict at any step`, () => {
    const straight = run(c);
    for (const at of [1, 37, 99]) assert.deepEqual(run(c, at), straight, `resumed after ${at}`);
  });
}

Deno.test("every schedule is PyTorch's: the largest deviation", () => {
  for (const c of scheduleCases) {
    const optimizer = scheduleOptimizer(c);
    runSchedule(c, optimizer, buildScheduler(c.scheduler, optimizer), 0);
    optimizer.dispose();
  }
  assert.ok(lrWorst.compared > 10_000, `${lrWorst.compared} values compared`);
  console.log(
    `${lrWorst.compared} learning rates and momenta compared with PyTorch's; largest relative ` +
      `deviation ${lrWorst.rel.toExponential(2)} (${lrWorst.where || "none: all equal"})`,
  );
});

Deno.test("PyTorch's step semantics: the constructor takes step 0 and records initialLr", () => {
  const opt = twoGroups();
  const s = new LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
  assert.deepEqual(opt.paramGroups.map((g) => [g.lr, g.initialLr]), [[0.05, 0.1], [0.01, 0.02]]);
  assert.deepEqual(s.getLastLr(), [0.05, 0.01]);
  assert.deepEqual([s.lastEpoch, s.baseLrs], [0, [0.1, 0.02]]);
  assert.deepEqual(opt.stateDict().param_groups.map((g) => g.initial_lr), [0.1, 0.02]);
  s.step();
  s.step();
  s.step();
  // The chainable form: 0.05 * 1.5 * (4 / 3), rounded as PyTorch rounds it.
  assert.deepEqual(s.getLastLr(), [0.05 * 1.5 * (1 + 0.5 / 1.5), 0.01 * 1.5 * (1 + 0.5 / 1.5)]);
  // A second scheduler keeps the initialLr the first recorded (PyTorch's setdefault).
  opt.lr = 1;
  const e = new ExponentialLR(opt, { gamma: 0.5 });
  assert.deepEqual(e.baseLrs, [0.1, 0.02]);
  s.step(); // the chainable forms multiply what the groups hold
  e.step();
  assert.deepEqual(e.getLastLr(), [0.5, 0.5]);
});

Deno.test("state dicts: PyTorch's keys, plain JSON", () => {
  const opt = twoGroups();
  assert.deepEqual(new MultiStepLR(opt, { milestones: [30, 10, 30] }).stateDict(), {
    milestones: { 10: 1, 30: 2 },
    gamma: 0.1,
    base_lrs: [0.1, 0.02],
    last_epoch: 0,
    verbose: false,
    _step_count: 1,
    _get_lr_called_within_step: false,
    _last_lr: [0.1, 0.02],
  });
  const lambda = new LambdaLR(opt, { lrLambda: [(e) => e, (e) => 1 / (e + 1)] });
  assert.deepEqual(lambda.stateDict().lr_lambdas, [null, null]);
  assert.deepEqual(lambda.getLastLr(), [0, 0.02]);
  const plateau = new ReduceLROnPlateau(opt, { mode: "max" });
  assert.deepEqual([plateau.stateDict().best, plateau.stateDict().mode_worse], ["-inf", "-inf"]);
  plateau.step(3);
  assert.equal(plateau.stateDict().best, 3);
  assert.equal(plateau.best, 3);
  const cycle = new OneCycleLR(new Adam([zeros([1])]), { maxLr: 0.1, totalSteps: 10 });
  assert.equal(cycle.stateDict()._anneal_func_type, "cos");
  assert.equal(cycle.stateDict().use_beta1, true);
});

Deno.test("CosineAnnealingWarmRestarts takes fractional epochs, as PyTorch's", () => {
  const opt = twoGroups();
  const s = new CosineAnnealingWarmRestarts(opt, { t0: 10, tMult: 2, etaMin: 0.001 });
  const at = (tCur: number, tI: number) =>
    [0.1, 0.02].map((b) => 0.001 + (b - 0.001) * (1 + Math.cos(Math.PI * tCur / tI)) / 2);
  s.step(5.5);
  assert.deepEqual(s.getLastLr(), at(5.5, 10));
  s.step(12.25); // in the second period (10 .. 30): T_cur 2.25 of T_i 20
  assert.deepEqual(s.getLastLr(), at(2.25, 20));
  assert.equal(s.lastEpoch, 12);
  s.step();
  assert.deepEqual(s.getLastLr(), at(3.25, 20));
});

Deno.test("scheduler options are checked, naming the option", () => {
  const opt = twoGroups();
  const cases: [() => unknown, RegExp][] = [
    [() => new StepLR(opt, { stepSize: 0 }), /StepLR: stepSize must be an integer >= 1, got 0/],
    [() => new StepLR(opt, { stepSize: 2, gamma: -1 }), /gamma must be a finite number >= 0/],
    [() => new MultiStepLR(opt, { milestones: [1.5] }), /milestones\[\] must be an integer >= 0/],
    [
      () => new LinearLR(opt, { startFactor: 2 }),
      /startFactor must be a finite number in \[0, 1\]/,
    ],
    [() => new LinearLR(opt, { startFactor: 0 }), /startFactor must be > 0/],
    [
      () => new CosineAnnealingLR(opt, { tMax: 0 }),
      /CosineAnnealingLR: tMax must be a finite number > 0, got 0/,
    ],
    [
      () => new CosineAnnealingWarmRestarts(opt, { t0: 5, tMult: 1.5 }),
      /tMult must be an integer >= 1/,
    ],
    [() => new LambdaLR(opt, { lrLambda: [(e) => e] }), /expected 2 lrLambda functions/],
    [() => new OneCycleLR(opt, { maxLr: 0.1 }), /give totalSteps, or epochs and stepsPerEpoch/],
    [() => new OneCycleLR(opt, { maxLr: [0.1], totalSteps: 5 }), /expected 2 values for maxLr/],
    [
      () => new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 5, annealStrategy: "exp" as "cos" }),
      /annealStrategy must be "cos" or "linear"/,
    ],
    [() => new ReduceLROnPlateau(opt, { factor: 1 }), /factor must be < 1/],
    [() => new ReduceLROnPlateau(opt, { mode: "up" as "min" }), /mode must be "min" or "max"/],
    [() => new ReduceLROnPlateau(opt, { minLr: [0] }), /expected 2 minLr values/],
    [
      () => new StepLR(twoGroups(), { stepSize: 1, lastEpoch: 3 }),
      /param group 0 has no initialLr/,
    ],
    [
      () =>
        new SequentialLR(opt, {
          schedulers: [new StepLR(twoGroups(), { stepSize: 2 })],
          milestones: [],
        }),
      /scheduler 0 is not a scheduler of this optimizer/,
    ],
    [
      () => new SequentialLR(opt, { schedulers: [new ReduceLROnPlateau(opt)], milestones: [] }),
      /ReduceLROnPlateau cannot be chained/,
    ],
    [
      () =>
        new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 2 })], milestones: [3] }),
      /expected 0 milestones/,
    ],
    [() => new StepLR({} as Optimizer, { stepSize: 1 }), /StepLR: expected an Optimizer/],
  ];
  for (const [fn, message] of cases) assert.throws(fn, message);
  const plateau = new ReduceLROnPlateau(opt);
  assert.throws(() => plateau.step(), /step\(metric\) needs the monitored value/);
  const cycle = new OneCycleLR(twoGroups(), { maxLr: 0.1, totalSteps: 2 });
  cycle.step();
  cycle.step();
  assert.throws(
    () => cycle.step(),
    /tried to step 4 times; the specified number of total steps is 2/,
  );
});

Deno.test("loadStateDict checks everything first and changes nothing on failure", () => {
  const opt = twoGroups();
  const s = new SequentialLR(opt, {
    schedulers: [new LinearLR(opt, { totalIters: 3 }), new CosineAnnealingLR(opt, { tMax: 10 })],
    milestones: [3],
  });
  for (let i = 0; i < 5; i++) s.step();
  const good = s.stateDict();
  const before = JSON.stringify(good);
  const inner = good._schedulers as Record<string, unknown>[];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, last_epoch: 1.5 }, /"last_epoch" must be an integer >= 0/],
    [{ ...good, _last_lr: [1] }, /"_last_lr" must be a list of 2/],
    [{ ...good, extra: 1 }, /unexpected key "extra"/],
    [{ ...good, _schedulers: [inner[0]] }, /"_schedulers" must be a list of 2 state dicts/],
    [
      { ...good, _schedulers: [inner[0], { ...inner[1], T_max: "10", eta_min: undefined }] },
      /_schedulers\[1\] \(CosineAnnealingLR\): "T_max" must be a finite number, got "10"/,
    ],
    [
      { ...good, _schedulers: [{ ...inner[0], base_lrs: [0.1, null] }, inner[1]] },
      /_schedulers\[0\] \(LinearLR\): "base_lrs"\[1\] must be a finite number, got null/,
    ],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => s.loadStateDict(bad as never), message);
    assert.equal(JSON.stringify(s.stateDict()), before, "nothing changed");
  }
  const step = new StepLR(twoGroups(), { stepSize: 2 });
  assert.throws(
    () => step.loadStateDict(new ExponentialLR(twoGroups(), { gamma: 0.5 }).stateDict()),
    /StepLR\.loadStateDict: missing "step_size"/,
  );
  const lambda = new LambdaLR(twoGroups(), { lrLambda: (e) => e + 1 });
  assert.throws(
    () => lambda.loadStateDict({ ...lambda.stateDict(), lr_lambdas: [{ a: 1 }, null] }),
    /"lr_lambdas"\[0\] must be null/,
  );
});
