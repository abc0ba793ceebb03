/**
 * Learning-rate schedulers and parameter groups against PyTorch 1.13
 * (tests/fixtures/schedulers.json, from tests/fixtures/schedulers_gen.py):
 *
 * - every schedule's lr (and the momentum or beta1 OneCycleLR cycles) of both param groups
 *   after construction and after each of 100 steps, to 1e-12 relative (host arithmetic in
 *   float64, as PyTorch's); the scheduler's state dict and the groups' hyperparameters after
 *   50 and 100 steps; and the run continued from PyTorch's own state at step 50;
 * - Adam, AdamW, SGD and RMSprop with two parameter groups of different hyperparameters (and
 *   a scheduler changing them between steps), 5 steps on a Linear: on every backend.
 */
import {
  Adam,
  AdamW,
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  CrossEntropyLoss,
  ExponentialLR,
  intTensor,
  LambdaLR,
  Linear,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  OneCycleLR,
  type Optimizer,
  type ParamGroupState,
  ReduceLROnPlateau,
  RMSprop,
  type SchedulerStateDict,
  type SchedulerStateValue,
  SequentialLR,
  SGD,
  StepLR,
  type Tensor,
  tensor,
  trainStep,
  zeros,
} from "@rnnkit/core";
import fixture from "../../fixtures/schedulers.json" with { type: "json" };
import { assertClose, assertTensor, type HostTensor, tolerance } from "../check.ts";
import { test } from "../registry.ts";

/** A scheduler as the fixture describes it (options in rnnkit's camelCase). */
export interface SchedulerSpec {
  type: string;
  options?: Record<string, unknown>;
  schedulers?: SchedulerSpec[];
  milestones?: number[];
  lambdas?: string[];
}

/** One 100-step schedule of the fixture. */
export interface ScheduleCase {
  name: string;
  optimizer: keyof typeof OPTIMIZERS;
  options: Record<string, unknown>;
  groups: Record<string, unknown>[];
  scheduler: SchedulerSpec;
  steps: number;
  lrs: number[][];
  momentum?: number[][];
  metrics?: number[];
  state50: { scheduler: SchedulerStateDict; paramGroups: Record<string, SchedulerStateValue>[] };
  state100: { scheduler: SchedulerStateDict; paramGroups: Record<string, SchedulerStateValue>[] };
}

interface OptimizerGroupCase {
  name: string;
  optimizer: keyof typeof OPTIMIZERS;
  options: Record<string, unknown>;
  groups: Record<string, unknown>[];
  scheduler?: SchedulerSpec;
  state: Record<string, HostTensor>;
  input: HostTensor;
  target: number[];
  steps: number;
  losses: number[];
  finalState: Record<string, HostTensor>;
  paramGroups: Record<string, SchedulerStateValue>[];
}

export const scheduleCases = fixture.schedules as unknown as ScheduleCase[];
const optimizerGroupCases = fixture.optimizers as unknown as OptimizerGroupCase[];

export const OPTIMIZERS = { SGD, Adam, AdamW, RMSprop };

/** LambdaLR's functions, as schedulers_gen.py's LAMBDAS. */
export const LAMBDAS: Record<string, (epoch: number) => number> = {
  pow095: (e) => Math.pow(0.95, e),
  warmup10: (e) => Math.min(1.0, (e + 1) / 10),
};

// deno-lint-ignore no-explicit-any
type AnyScheduler = new (optimizer: Optimizer, options: any) => LRScheduler;
const SCHEDULERS: Record<string, AnyScheduler> = {
  StepLR,
  MultiStepLR,
  ConstantLR,
  LinearLR,
  ExponentialLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  OneCycleLR,
  ReduceLROnPlateau,
};

/** The fixture's scheduler on `optimizer`. */
export function buildScheduler(spec: SchedulerSpec, optimizer: Optimizer): LRScheduler {
  if (spec.type === "SequentialLR") {
    const schedulers = spec.schedulers!.map((s) => buildScheduler(s, optimizer));
    return new SequentialLR(optimizer, { schedulers, milestones: spec.milestones! });
  }
  if (spec.type === "LambdaLR") {
    const fns = spec.lambdas!.map((n) => LAMBDAS[n]);
    return new LambdaLR(optimizer, { lrLambda: fns.length > 1 ? fns : fns[0] });
  }
  return new SCHEDULERS[spec.type](optimizer, spec.options ?? {});
}

/** The fixture's optimizer over `params`, one param group per tensor. */
export function buildOptimizer(
  c: {
    optimizer: keyof typeof OPTIMIZERS;
    options: Record<string, unknown>;
    groups: Record<string, unknown>[];
  },
  params: Tensor[],
): Optimizer {
  const groups = params.map((p, i) => ({ params: [p], ...c.groups[i] }));
  // deno-lint-ignore no-explicit-any
  return new (OPTIMIZERS[c.optimizer] as any)(groups, c.options);
}

/** The cycled momentum of every group: beta1 (Adam) or momentum. */
export function momentumOf(optimizer: Optimizer): number[] {
  return optimizer.paramGroups.map((g) => {
    const v = g as unknown as { betas?: readonly number[]; momentum?: number };
    return v.betas ? v.betas[0] : v.momentum!;
  });
}

/** LR values: float64 host arithmetic, so PyTorch's to the last bits. */
export const LR_TOLERANCE = { atol: 1e-18, rtol: 1e-12 };

/** Largest relative deviation of the lr (and momentum) values from PyTorch's, over all runs. */
export const lrWorst = { rel: 0, where: "", compared: 0 };

/** Compares a row of rates, recording the largest relative deviation. */
export function compareRates(actual: number[], expected: number[], what: string): void {
  assertClose(actual, expected, what, LR_TOLERANCE);
  actual.forEach((a, i) => {
    const e = expected[i];
    const rel = Math.abs(a - e) / Math.max(Math.abs(e), 1e-300);
    lrWorst.compared++;
    if (a !== e && rel > lrWorst.rel) Object.assign(lrWorst, { rel, where: `${what}[${i}]` });
  });
}

/** Compares JSON values: numbers to 1e-12 relative, everything else exactly. */
export function compareJson(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected === "number") {
    if (typeof actual !== "number") throw new Error(`${what}: ${actual} != ${expected}`);
    compareRates([actual], [expected], what);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${what}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
    }
    expected.forEach((e, i) => compareJson(actual[i], e, `${what}[${i}]`));
    return;
  }
  if (typeof expected === "object" && expected !== null) {
    const a = actual as Record<string, unknown>;
    const keys = (o: object) => Object.keys(o).sort().join();
    if (typeof a !== "object" || a === null || keys(a) !== keys(expected)) {
      throw new Error(
        `${what}: keys ${a && keys(a)} != PyTorch's ${keys(expected)}`,
      );
    }
    for (const [k, e] of Object.entries(expected)) compareJson(a[k], e, `${what}.${k}`);
    return;
  }
  if (actual !== expected) {
    throw new Error(`${what}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
  }
}

/** PyTorch's extra group keys (rnnkit writes only the hyperparameters it implements). */
const TORCH_ONLY = ["amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused"];

/** PyTorch's param groups without its extra keys. */
export function torchGroups(groups: Record<string, SchedulerStateValue>[]) {
  return groups.map((g) =>
    Object.fromEntries(Object.entries(g).filter(([k]) => !TORCH_ONLY.includes(k)))
  );
}

/** rnnkit's param groups without their params, as the fixture has them. */
export function groupsOf(optimizer: Optimizer) {
  return optimizer.stateDict().param_groups.map(({ params: _, ...rest }) => rest);
}

/** A schedule's optimizer (two groups of zero parameters), ready to step. */
export function scheduleOptimizer(c: ScheduleCase): Optimizer {
  return buildOptimizer(c, [zeros([2]), zeros([3])]);
}

/** One step of the schedule: the optimizer's (nothing to update), then the scheduler's. */
export function stepSchedule(c: ScheduleCase, optimizer: Optimizer, s: LRScheduler, step: number) {
  optimizer.step();
  if (c.metrics) s.step(c.metrics[step - 1]);
  else s.step();
}

/** Runs steps `from + 1 ... to` comparing every lr, momentum and the states at 50 and 100. */
export function runSchedule(
  c: ScheduleCase,
  optimizer: Optimizer,
  s: LRScheduler,
  from: number,
  to = c.steps,
): void {
  const check = (step: number) => {
    const lrs = optimizer.paramGroups.map((g) => g.lr);
    compareRates(lrs, c.lrs[step], `${c.name} lr at step ${step}`);
    compareRates(s.getLastLr(), c.lrs[step], `${c.name} getLastLr() at step ${step}`);
    if (c.momentum) compareRates(momentumOf(optimizer), c.momentum[step], `${c.name} momentum`);
    const saved = step === 50 ? c.state50 : step === 100 ? c.state100 : undefined;
    if (saved) {
      compareJson(s.stateDict(), saved.scheduler, `${c.name} stateDict() at step ${step}`);
      compareJson(
        groupsOf(optimizer),
        torchGroups(saved.paramGroups),
        `${c.name} param_groups at ${step}`,
      );
    }
  };
  check(from);
  for (let step = from + 1; step <= to; step++) {
    stepSchedule(c, optimizer, s, step);
    check(step);
  }
}

/** PyTorch's saved optimizer state at step 50 (no parameter state: no gradients were used). */
export function torchOptimizerState(groups: Record<string, SchedulerStateValue>[]) {
  return {
    state: {},
    param_groups: groups.map((g, i) => ({ ...g, params: [i] }) as unknown as ParamGroupState),
  };
}

for (const c of scheduleCases) {
  test(`scheduler ${c.name}: lr over ${c.steps} steps, state dicts`, () => {
    const optimizer = scheduleOptimizer(c);
    try {
      runSchedule(c, optimizer, buildScheduler(c.scheduler, optimizer), 0);
    } finally {
      optimizer.dispose();
    }
  });

  test(`scheduler ${c.name}: continues from PyTorch's state at step 50`, () => {
    const optimizer = scheduleOptimizer(c);
    try {
      const s = buildScheduler(c.scheduler, optimizer);
      optimizer.loadStateDict(torchOptimizerState(c.state50.paramGroups));
      s.loadStateDict(c.state50.scheduler);
      runSchedule(c, optimizer, s, 50);
    } finally {
      optimizer.dispose();
    }
  });
}

for (const c of optimizerGroupCases) {
  test(`optimizer ${c.optimizer} ${c.name} (param groups)`, async () => {
    const model = new Linear(3, 2);
    model.loadStateDict(c.state);
    const [weight, bias] = model.parameters();
    const optimizer = buildOptimizer(c, [weight, bias]);
    const scheduler = c.scheduler && buildScheduler(c.scheduler, optimizer);
    const x = tensor(c.input.data, c.input.shape);
    const y = intTensor(c.target);
    const ce = new CrossEntropyLoss();
    const tol = { atol: tolerance().atol * 10, rtol: tolerance().rtol * 10 };
    try {
      const losses: number[] = [];
      for (let s = 0; s < c.steps; s++) {
        losses.push((await trainStep(optimizer, () => ce.forward(model.forward(x), y))).loss);
        scheduler?.step();
      }
      assertClose(losses, c.losses, `${c.name} losses`, tol);
      const state = model.stateDict();
      for (const [k, exp] of Object.entries(c.finalState)) {
        await assertTensor(state[k], exp, `${c.name} final ${k}`, tol);
      }
      compareJson(groupsOf(optimizer), torchGroups(c.paramGroups), `${c.name} param_groups`);
    } finally {
      optimizer.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    }
  });
}
