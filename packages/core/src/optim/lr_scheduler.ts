/**
 * Learning-rate schedulers, as `torch.optim.lr_scheduler` (PyTorch 1.13) computes them: the
 * same `step()` semantics (call it after `optimizer.step()`; the constructor takes the first
 * step, so the optimizer starts at the schedule's first value), the same chainable forms
 * (each step from the groups' current `lr`) and closed forms (`step(epoch)`, which
 * `SequentialLR` uses at its milestones), in float64, so the values are PyTorch's.
 *
 * Every scheduler sets `initialLr` in the optimizer's groups (PyTorch's `initial_lr`, saved
 * with the optimizer's state) and has `getLastLr()` and `stateDict()`/`loadStateDict()` with
 * PyTorch's keys (`last_epoch`, `base_lrs`, `_last_lr`, ...), plain JSON. This file holds the
 * base class and the schedules of one formula; `one_cycle.ts` and `plateau.ts` the others.
 */
import { Optimizer, type ParamGroup } from "./optimizer.ts";

/** A value in a scheduler's state dict: plain JSON. */
export type SchedulerStateValue =
  | number
  | string
  | boolean
  | null
  | SchedulerStateValue[]
  | { [key: string]: SchedulerStateValue };

/** A scheduler's state as PyTorch's `scheduler.state_dict()`, JSON-serialisable. */
export type SchedulerStateDict = { [key: string]: SchedulerStateValue };

/** The option every scheduler of the `LRScheduler` family takes. */
export interface LRSchedulerOptions {
  /**
   * The index of the last step taken, to continue a schedule without its state dict (the
   * groups must hold `initialLr` then), as PyTorch's `last_epoch`. Default -1: start.
   */
  lastEpoch?: number;
}

/** Python's `%` (the sign of the divisor). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** Python's `bisect.bisect_right`: how many of the sorted `xs` are <= x. */
function bisectRight(xs: readonly number[], x: number): number {
  let n = 0;
  while (n < xs.length && xs[n] <= x) n++;
  return n;
}

/** Problems of `value` against the JSON shape of `template` (types, lengths, keys). */
function shapeProblems(
  where: string,
  value: unknown,
  template: SchedulerStateValue,
): string[] {
  const got = () => JSON.stringify(value) ?? String(value);
  if (typeof template === "number") {
    return typeof value === "number" && Number.isFinite(value)
      ? []
      : [`${where} must be a finite number, got ${got()}`];
  }
  if (typeof template === "string" || typeof template === "boolean") {
    return typeof value === typeof template
      ? []
      : [`${where} must be a ${typeof template}, got ${got()}`];
  }
  if (template === null) return value === null ? [] : [`${where} must be null, got ${got()}`];
  if (Array.isArray(template)) {
    if (!Array.isArray(value) || value.length !== template.length) {
      return [`${where} must be a list of ${template.length}, got ${got()}`];
    }
    return template.flatMap((t, i) => shapeProblems(`${where}[${i}]`, value[i], t));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [`${where} must be an object, got ${got()}`];
  }
  const v = value as Record<string, unknown>;
  const problems = Object.keys(v).filter((k) => !(k in template)).map((k) =>
    `${where} has an unexpected key "${k}"`
  );
  for (const [k, t] of Object.entries(template)) {
    problems.push(
      ...(k in v ? shapeProblems(`${where}.${k}`, v[k], t) : [`${where} has no "${k}"`]),
    );
  }
  return problems;
}

/** A deep copy of JSON values. */
const copy = <T>(v: T): T => structuredClone(v);

/**
 * Base of the learning-rate schedulers, PyTorch's `_LRScheduler`: `step()` advances one step
 * and sets every group's `lr`; `getLastLr()` is what the last step set; `stateDict()` /
 * `loadStateDict()` save and restore the schedule's position (the optimizer's `lr` values are
 * the optimizer's state: save and restore both).
 *
 * Subclasses set their own state (`own`, PyTorch's names) and then call `start(lastEpoch)`,
 * which takes the first step, as PyTorch's constructor does.
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' `lr` this scheduler sets. */
  readonly optimizer: Optimizer;
  /** Steps taken: 0 after the constructor's, PyTorch's `last_epoch`. */
  lastEpoch: number = -1;
  /** Each group's `initialLr` when the schedule started, PyTorch's `base_lrs`. */
  baseLrs: number[] = [];
  /** What the last step set, per group. */
  protected lastLr: number[] = [];
  /** `step()` calls so far, PyTorch's `_step_count`. */
  protected stepCount: number = 0;
  /** The subclass's state under PyTorch's names (`step_size`, `T_max`, ...), saved first. */
  protected abstract readonly own: SchedulerStateDict;

  /** Attaches to `optimizer`; the subclass constructor then sets `own` and calls `start`. */
  constructor(optimizer: Optimizer) {
    if (!(optimizer instanceof Optimizer)) {
      throw new Error(`rnnkit: ${new.target.name}: expected an Optimizer, got ${optimizer}`);
    }
    this.optimizer = optimizer;
  }

  /**
   * Whether `step` takes the monitored value (true for `ReduceLROnPlateau`, which `fit`
   * steps with the validation loss) rather than stepping after every optimizer step.
   */
  get needsMetric(): boolean {
    return false;
  }

  /** The optimizer's groups. */
  protected get groups(): ParamGroup[] {
    return this.optimizer.paramGroups;
  }

  /**
   * PyTorch's `_LRScheduler.__init__`: records `initialLr` in every group that has none
   * (`lastEpoch` -1) or requires it (otherwise), sets `baseLrs`, and takes the first step.
   */
  protected start(lastEpoch = -1): void {
    const name = this.constructor.name;
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) {
      throw new Error(`rnnkit: ${name}: lastEpoch must be an integer >= -1, got ${lastEpoch}`);
    }
    this.groups.forEach((g, i) => {
      if (lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) {
        throw new Error(
          `rnnkit: ${name}: param group ${i} has no initialLr, which continuing a schedule ` +
            `(lastEpoch ${lastEpoch}) needs`,
        );
      }
    });
    this.baseLrs = this.groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
    this.initialStep();
  }

  /** PyTorch's `_initial_step`: resets the step count and takes a step. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /**
   * Advances the schedule one step and sets every group's `lr`; call it after
   * `optimizer.step()`. `epoch` (deprecated in PyTorch): jump to that step instead, with the
   * closed form where PyTorch has one (`SequentialLR` does this at its milestones).
   */
  step(epoch?: number): void {
    this.stepCount++;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      values = this.getLr();
    } else {
      if (!Number.isInteger(epoch) || epoch < 0) {
        throw new Error(
          `rnnkit: ${this.constructor.name}: step(epoch): epoch must be an integer >= 0, got ${epoch}`,
        );
      }
      this.lastEpoch = epoch;
      values = this.closedFormLr?.() ?? this.getLr();
    }
    this.setLrs(values);
  }

  /** Sets each group's lr (all checked first) and records them as the last. */
  protected setLrs(values: number[]): void {
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        throw new Error(
          `rnnkit: ${this.constructor.name}: the schedule gives param group ${i} the learning ` +
            `rate ${v} at step ${this.lastEpoch}`,
        );
      }
    });
    this.groups.forEach((g, i) => g.lr = values[i]);
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** What the last step set, per group: PyTorch's `get_last_lr()`. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The chainable form: each group's next lr, usually from its current one. */
  protected abstract getLr(): number[];

  /** The closed form at `lastEpoch`, where PyTorch has one (`_get_closed_form_lr`). */
  protected closedFormLr?(): number[];

  /** The state every scheduler of this family saves after `own`. */
  protected commonState(): SchedulerStateDict {
    return {
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: false,
      _step_count: this.stepCount,
      _get_lr_called_within_step: false,
      _last_lr: [...this.lastLr],
    };
  }

  /** Keys `loadStateDict` accepts absent (PyTorch's bookkeeping flags). */
  protected optionalKeys(): string[] {
    return ["verbose", "_get_lr_called_within_step"];
  }

  /** PyTorch's `state_dict()`: `own`'s keys, then base_lrs, last_epoch, _step_count, _last_lr. */
  stateDict(): SchedulerStateDict {
    return { ...copy(this.own), ...this.commonState() };
  }

  /**
   * Every reason `loadStateDict(dict)` would refuse `dict`: missing or unexpected keys,
   * values of the wrong type or length (one per param group); empty when it fits.
   */
  stateDictProblems(dict: SchedulerStateDict): string[] {
    if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
      return [`expected a state dict object, got ${JSON.stringify(dict)}`];
    }
    const template = this.stateDict();
    const optional = this.optionalKeys();
    const problems: string[] = [];
    for (const key of Object.keys(template)) {
      if (!(key in dict) && !optional.includes(key)) problems.push(`missing "${key}"`);
    }
    for (const [key, value] of Object.entries(dict)) {
      if (!(key in template)) problems.push(`unexpected key "${key}"`);
      else problems.push(...this.keyProblems(key, value, template[key]));
    }
    return problems;
  }

  /** Problems of one saved value; subclasses check their special keys and ranges here. */
  protected keyProblems(key: string, value: unknown, template: SchedulerStateValue): string[] {
    const problems = shapeProblems(`"${key}"`, value, template);
    if (problems.length) return problems;
    const integer = (min: number) =>
      Number.isInteger(value) && (value as number) >= min
        ? []
        : [`"${key}" must be an integer >= ${min}, got ${JSON.stringify(value)}`];
    if (key === "last_epoch") return integer(-1);
    if (key === "_step_count") return integer(0);
    return [];
  }

  /**
   * PyTorch's `load_state_dict()`: puts the saved position and settings back. Checked first
   * (`stateDictProblems`); on any problem nothing changes and the error lists them all.
   */
  loadStateDict(dict: SchedulerStateDict): void {
    const problems = this.stateDictProblems(dict);
    if (problems.length) {
      throw new Error(
        `rnnkit: ${this.constructor.name}.loadStateDict: ${problems.join("; ")}`,
      );
    }
    this.applyState(copy(dict));
  }

  /** Sets the checked state. */
  protected applyState(dict: SchedulerStateDict): void {
    for (const key of Object.keys(this.own)) this.own[key] = dict[key];
    if ("base_lrs" in dict) this.baseLrs = dict.base_lrs as number[];
    if ("last_epoch" in dict) this.lastEpoch = dict.last_epoch as number;
    if ("_step_count" in dict) this.stepCount = dict._step_count as number;
    if ("_last_lr" in dict) this.lastLr = dict._last_lr as number[];
  }

  /**
   * Checks that an option is a number in [low, high] (low `Number.MIN_VALUE`: > 0), an
   * integer if asked, naming it and the scheduler.
   */
  protected checkOption(
    name: string,
    value: unknown,
    low: number,
    high = Infinity,
    integer = false,
  ): void {
    const ok = typeof value === "number" && Number.isFinite(value) && value >= low &&
      value <= high && (!integer || Number.isInteger(value));
    if (!ok) {
      const range = low === Number.MIN_VALUE
        ? "> 0"
        : high === Infinity
        ? `>= ${low}`
        : `in [${low}, ${high}]`;
      throw new Error(
        `rnnkit: ${this.constructor.name}: ${name} must be ${
          integer ? "an integer" : "a finite number"
        } ` +
          `${range}, got ${typeof value === "number" ? value : JSON.stringify(value)}`,
      );
    }
  }
}

/** StepLR's options. */
export interface StepLROptions extends LRSchedulerOptions {
  /** Steps between decays (PyTorch's `step_size`, required): an integer >= 1. */
  stepSize: number;
  /** Factor of each decay. Default 0.1. */
  gamma?: number;
}

/** Multiplies every group's lr by `gamma` every `stepSize` steps, as PyTorch's `StepLR`. */
export class StepLR extends LRScheduler {
  /** `step_size`, `gamma`. */
  protected readonly own: { step_size: number; gamma: number };

  /** See `StepLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: StepLROptions) {
    super(optimizer);
    this.checkOption("stepSize", options.stepSize, 1, Infinity, true);
    this.checkOption("gamma", options.gamma ?? 0.1, 0);
    this.own = { step_size: options.stepSize, gamma: options.gamma ?? 0.1 };
    this.start(options.lastEpoch);
  }

  /** lr * gamma at every multiple of step_size, else lr. */
  protected getLr(): number[] {
    const { step_size, gamma } = this.own;
    if (this.lastEpoch === 0 || pyMod(this.lastEpoch, step_size) !== 0) {
      return this.groups.map((g) => g.lr);
    }
    return this.groups.map((g) => g.lr * gamma);
  }

  /** base_lr * gamma ** (last_epoch // step_size). */
  protected override closedFormLr(): number[] {
    const { step_size, gamma } = this.own;
    return this.baseLrs.map((b) => b * Math.pow(gamma, Math.floor(this.lastEpoch / step_size)));
  }

  /** step_size: an integer >= 1. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    const problems = super.keyProblems(key, value, t);
    if (
      !problems.length && key === "step_size" && !(Number.isInteger(value) && value as number >= 1)
    ) {
      problems.push(`"step_size" must be an integer >= 1, got ${value}`);
    }
    return problems;
  }
}

/** MultiStepLR's options. */
export interface MultiStepLROptions extends LRSchedulerOptions {
  /** The steps at which to decay (required): integers >= 0; one given twice decays twice. */
  milestones: readonly number[];
  /** Factor of each decay. Default 0.1. */
  gamma?: number;
}

/**
 * Multiplies every group's lr by `gamma` at each milestone, as PyTorch's `MultiStepLR`.
 * `milestones` is saved as PyTorch's Counter: `{ "30": 1, "80": 2 }`.
 */
export class MultiStepLR extends LRScheduler {
  /** `milestones` (step -> count), `gamma`. */
  protected readonly own: { milestones: Record<string, number>; gamma: number };

  /** See `MultiStepLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: MultiStepLROptions) {
    super(optimizer);
    const counts: Record<string, number> = {};
    if (!Array.isArray(options.milestones)) {
      throw new Error(`rnnkit: MultiStepLR: milestones must be a list of integers`);
    }
    for (const m of [...options.milestones].sort((a, b) => a - b)) {
      this.checkOption("milestones[]", m, 0, Infinity, true);
      counts[m] = (counts[m] ?? 0) + 1;
    }
    this.checkOption("gamma", options.gamma ?? 0.1, 0);
    this.own = { milestones: counts, gamma: options.gamma ?? 0.1 };
    this.start(options.lastEpoch);
  }

  /** lr * gamma ** (times last_epoch is a milestone). */
  protected getLr(): number[] {
    const count = this.own.milestones[this.lastEpoch];
    if (count === undefined) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * Math.pow(this.own.gamma, count));
  }

  /** base_lr * gamma ** (milestones passed). */
  protected override closedFormLr(): number[] {
    const sorted = Object.entries(this.own.milestones)
      .flatMap(([m, n]) => Array<number>(n).fill(Number(m)))
      .sort((a, b) => a - b);
    const passed = bisectRight(sorted, this.lastEpoch);
    return this.baseLrs.map((b) => b * Math.pow(this.own.gamma, passed));
  }

  /** milestones: an object of step -> count. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    if (key !== "milestones") return super.keyProblems(key, value, t);
    const ok = typeof value === "object" && value !== null && !Array.isArray(value) &&
      Object.entries(value).every(([k, n]) =>
        /^(0|[1-9]\d*)$/.test(k) && Number.isInteger(n) && n >= 1
      );
    return ok ? [] : [`"milestones" must map steps to counts, got ${JSON.stringify(value)}`];
  }
}

/** ConstantLR's options. */
export interface ConstantLROptions extends LRSchedulerOptions {
  /** The factor until `totalIters`, in [0, 1]. Default 1/3. */
  factor?: number;
  /** Steps at the reduced rate. Default 5. */
  totalIters?: number;
}

/** lr * factor for the first `totalIters` steps, then lr, as PyTorch's `ConstantLR`. */
export class ConstantLR extends LRScheduler {
  /** `factor`, `total_iters`. */
  protected readonly own: { factor: number; total_iters: number };

  /** See `ConstantLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: ConstantLROptions = {}) {
    super(optimizer);
    const factor = options.factor ?? 1 / 3;
    const total = options.totalIters ?? 5;
    this.checkOption("factor", factor, 0, 1);
    this.checkOption("totalIters", total, 0, Infinity, true);
    this.own = { factor, total_iters: total };
    this.start(options.lastEpoch);
  }

  /** PyTorch's chainable ConstantLR. */
  protected getLr(): number[] {
    const { factor, total_iters } = this.own;
    const e = this.lastEpoch;
    if (e === 0) return this.groups.map((g) => g.lr * factor);
    if (e > total_iters || e !== total_iters) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1.0 / factor));
  }

  /** base_lr * (factor + (last_epoch >= total_iters) * (1 - factor)). */
  protected override closedFormLr(): number[] {
    const { factor, total_iters } = this.own;
    const after = this.lastEpoch >= total_iters ? 1 : 0;
    return this.baseLrs.map((b) => b * (factor + after * (1 - factor)));
  }
}

/** LinearLR's options. */
export interface LinearLROptions extends LRSchedulerOptions {
  /** The factor at step 0, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** The factor from `totalIters` on, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Steps from the start factor to the end factor: an integer >= 1. Default 5. */
  totalIters?: number;
}

/**
 * Changes every group's lr linearly from lr * startFactor to lr * endFactor over
 * `totalIters` steps, as PyTorch's `LinearLR` (a warm-up, in `SequentialLR`).
 */
export class LinearLR extends LRScheduler {
  /** `start_factor`, `end_factor`, `total_iters`. */
  protected readonly own: { start_factor: number; end_factor: number; total_iters: number };

  /** See `LinearLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    super(optimizer);
    const start = options.startFactor ?? 1 / 3;
    const end = options.endFactor ?? 1;
    const total = options.totalIters ?? 5;
    this.checkOption("startFactor", start, 0, 1);
    this.checkOption("endFactor", end, 0, 1);
    this.checkOption("totalIters", total, 1, Infinity, true);
    if (start === 0) {
      // PyTorch's chainable form divides by total_iters * start_factor at step 1.
      throw new Error(
        "rnnkit: LinearLR: startFactor must be > 0 (the chainable form divides by it)",
      );
    }
    this.own = { start_factor: start, end_factor: end, total_iters: total };
    this.start(options.lastEpoch);
  }

  /** PyTorch's chainable LinearLR. */
  protected getLr(): number[] {
    const { start_factor: s, end_factor: e, total_iters: n } = this.own;
    const t = this.lastEpoch;
    if (t === 0) return this.groups.map((g) => g.lr * s);
    if (t > n) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1 + (e - s) / (n * s + (t - 1) * (e - s))));
  }

  /** base_lr * (start + (end - start) * min(total, last_epoch) / total). */
  protected override closedFormLr(): number[] {
    const { start_factor: s, end_factor: e, total_iters: n } = this.own;
    return this.baseLrs.map((b) => b * (s + (e - s) * Math.min(n, this.lastEpoch) / n));
  }
}

/** ExponentialLR's options. */
export interface ExponentialLROptions extends LRSchedulerOptions {
  /** Factor of every step's decay (required). */
  gamma: number;
}

/** Multiplies every group's lr by `gamma` every step, as PyTorch's `ExponentialLR`. */
export class ExponentialLR extends LRScheduler {
  /** `gamma`. */
  protected readonly own: { gamma: number };

  /** See `ExponentialLROptions`. */
  constructor(optimizer: Optimizer, options: ExponentialLROptions) {
    super(optimizer);
    this.checkOption("gamma", options.gamma, 0);
    this.own = { gamma: options.gamma };
    this.start(options.lastEpoch);
  }

  /** lr * gamma (lr at step 0). */
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.own.gamma);
  }

  /** base_lr * gamma ** last_epoch. */
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * Math.pow(this.own.gamma, this.lastEpoch));
  }
}

/** CosineAnnealingLR's options. */
export interface CosineAnnealingLROptions extends LRSchedulerOptions {
  /** Steps from the initial lr down to `etaMin` (PyTorch's `T_max`, required): > 0. */
  tMax: number;
  /** The lowest learning rate. Default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing from every group's initial lr down to `etaMin` over `tMax` steps, as
 * PyTorch's `CosineAnnealingLR` (chainable form; past `tMax` it rises again, as PyTorch's).
 */
export class CosineAnnealingLR extends LRScheduler {
  /** `T_max`, `eta_min`. */
  protected readonly own: { T_max: number; eta_min: number };

  /** See `CosineAnnealingLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: CosineAnnealingLROptions) {
    super(optimizer);
    this.checkOption("tMax", options.tMax, Number.MIN_VALUE);
    this.checkOption("etaMin", options.etaMin ?? 0, 0);
    this.own = { T_max: options.tMax, eta_min: options.etaMin ?? 0 };
    this.start(options.lastEpoch);
  }

  /** PyTorch's chainable cosine, with its special cases. */
  protected getLr(): number[] {
    const { T_max: T, eta_min: eta } = this.own;
    const e = this.lastEpoch;
    if (e === 0) return this.groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => eta + (b - eta) * (1 + Math.cos((e * Math.PI) / T)) / 2);
    }
    if (pyMod(e - 1 - T, 2 * T) === 0) {
      return this.groups.map((g, i) =>
        g.lr + (this.baseLrs[i] - eta) * (1 - Math.cos(Math.PI / T)) / 2
      );
    }
    return this.groups.map((g) =>
      (1 + Math.cos(Math.PI * e / T)) / (1 + Math.cos(Math.PI * (e - 1) / T)) * (g.lr - eta) + eta
    );
  }

  /** eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2. */
  protected override closedFormLr(): number[] {
    const { T_max: T, eta_min: eta } = this.own;
    return this.baseLrs.map((b) =>
      eta + (b - eta) * (1 + Math.cos(Math.PI * this.lastEpoch / T)) / 2
    );
  }
}

/** CosineAnnealingWarmRestarts' options. */
export interface CosineAnnealingWarmRestartsOptions extends LRSchedulerOptions {
  /** Steps until the first restart (PyTorch's `T_0`, required): an integer >= 1. */
  t0: number;
  /** Factor of the period after each restart (`T_mult`): an integer >= 1. Default 1. */
  tMult?: number;
  /** The lowest learning rate. Default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing with warm restarts (SGDR), as PyTorch's `CosineAnnealingWarmRestarts`:
 * each period starts again at the initial lr, the n-th period is `t0 * tMult^n` steps long.
 * `step(epoch)` takes fractional epochs too, as PyTorch's.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  /** `T_0`, `T_i`, `T_mult`, `eta_min`, `T_cur`. */
  protected readonly own: {
    T_0: number;
    T_i: number;
    T_mult: number;
    eta_min: number;
    T_cur: number;
  };

  /** See `CosineAnnealingWarmRestartsOptions` for the defaults. */
  constructor(optimizer: Optimizer, options: CosineAnnealingWarmRestartsOptions) {
    super(optimizer);
    const tMult = options.tMult ?? 1;
    this.checkOption("t0", options.t0, 1, Infinity, true);
    this.checkOption("tMult", tMult, 1, Infinity, true);
    this.checkOption("etaMin", options.etaMin ?? 0, 0);
    const last = options.lastEpoch ?? -1;
    this.own = {
      T_0: options.t0,
      T_i: options.t0,
      T_mult: tMult,
      eta_min: options.etaMin ?? 0,
      T_cur: last,
    };
    this.start(last);
  }

  /** eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2. */
  protected getLr(): number[] {
    const { T_cur, T_i, eta_min: eta } = this.own;
    return this.baseLrs.map((b) => eta + (b - eta) * (1 + Math.cos(Math.PI * T_cur / T_i)) / 2);
  }

  /**
   * One step (after `optimizer.step()`), or to `epoch`, which may be fractional (e.g.
   * `epoch + i / iters` within an epoch), as PyTorch's. The step count is not kept (PyTorch's
   * `_step_count` stays 0 here).
   */
  override step(epoch?: number): void {
    const s = this.own;
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      s.T_cur = s.T_cur + 1;
      if (s.T_cur >= s.T_i) {
        s.T_cur = s.T_cur - s.T_i;
        s.T_i = s.T_i * s.T_mult;
      }
    } else {
      if (!(Number.isFinite(epoch) && epoch >= 0)) {
        throw new Error(
          `rnnkit: CosineAnnealingWarmRestarts: step(epoch): epoch must be >= 0, got ${epoch}`,
        );
      }
      if (epoch >= s.T_0) {
        if (s.T_mult === 1) s.T_cur = pyMod(epoch, s.T_0);
        else {
          const n = Math.trunc(Math.log(epoch / s.T_0 * (s.T_mult - 1) + 1) / Math.log(s.T_mult));
          s.T_cur = epoch - s.T_0 * (Math.pow(s.T_mult, n) - 1) / (s.T_mult - 1);
          s.T_i = s.T_0 * Math.pow(s.T_mult, n);
        }
      } else {
        s.T_i = s.T_0;
        s.T_cur = epoch;
      }
    }
    this.lastEpoch = Math.floor(epoch);
    this.setLrs(this.getLr());
  }

  /** T_0, T_i, T_mult: integers >= 1. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    const problems = super.keyProblems(key, value, t);
    if (!problems.length && ["T_0", "T_i", "T_mult"].includes(key)) {
      if (!(Number.isInteger(value) && value as number >= 1)) {
        problems.push(`"${key}" must be an integer >= 1, got ${value}`);
      }
    }
    return problems;
  }
}

/** LambdaLR's options. */
export interface LambdaLROptions extends LRSchedulerOptions {
  /**
   * The factor of the initial lr at each step (required): one function for every group, or
   * one per group. Functions are not saved (as PyTorch's lambdas): give the same ones again.
   */
  lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[];
}

/** Every group's lr is its initial lr times `lrLambda(step)`, as PyTorch's `LambdaLR`. */
export class LambdaLR extends LRScheduler {
  /** Nothing of its own before the common state (`lr_lambdas` comes after it). */
  protected readonly own: SchedulerStateDict = {};
  /** One function per group. */
  readonly lrLambdas: ((epoch: number) => number)[];

  /** See `LambdaLROptions`. */
  constructor(optimizer: Optimizer, options: LambdaLROptions) {
    super(optimizer);
    const n = optimizer.paramGroups.length;
    const given = options.lrLambda;
    if (typeof given === "function") this.lrLambdas = Array(n).fill(given);
    else {
      if (!Array.isArray(given) || given.length !== n) {
        throw new Error(
          `rnnkit: LambdaLR: expected ${n} lrLambda functions (one per param group), got ` +
            `${Array.isArray(given) ? given.length : typeof given}`,
        );
      }
      this.lrLambdas = [...given];
    }
    if (this.lrLambdas.some((f) => typeof f !== "function")) {
      throw new Error("rnnkit: LambdaLR: every lrLambda must be a function");
    }
    this.start(options.lastEpoch);
  }

  /** base_lr * lambda(last_epoch). */
  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i](this.lastEpoch));
  }

  /** The common state, then `lr_lambdas`: one null per group (functions are not saved). */
  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), lr_lambdas: this.lrLambdas.map(() => null) };
  }
}

/** SequentialLR's options. */
export interface SequentialLROptions {
  /** The schedulers, in order (required); all of the same optimizer, none a ReduceLROnPlateau. */
  schedulers: readonly LRScheduler[];
  /** The steps at which the next scheduler takes over (required): one fewer than schedulers. */
  milestones: readonly number[];
  /** As PyTorch's `last_epoch`: the step count starts at lastEpoch + 1. Default -1. */
  lastEpoch?: number;
}

/**
 * Runs schedulers one after another, switching at `milestones`, as PyTorch's `SequentialLR`:
 * e.g. a `LinearLR` warm-up, then `CosineAnnealingLR`. At a milestone the next scheduler
 * restarts at its step 0 (`step(0)`, its closed form). Construct the schedulers first (each
 * takes its first step), then this, which rewinds them and takes the first one's first step.
 */
export class SequentialLR extends LRScheduler {
  /** `_milestones`. */
  protected readonly own: { _milestones: number[] };
  /** The schedulers, in order. */
  readonly schedulers: readonly LRScheduler[];

  /** See `SequentialLROptions`. */
  constructor(optimizer: Optimizer, options: SequentialLROptions) {
    super(optimizer);
    const { schedulers, milestones } = options;
    if (!Array.isArray(schedulers) || schedulers.length === 0) {
      throw new Error("rnnkit: SequentialLR: give at least one scheduler");
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler) || s.optimizer !== optimizer) {
        throw new Error(
          `rnnkit: SequentialLR: scheduler ${i} is not a scheduler of this optimizer ` +
            "(all of them must belong to the optimizer passed in)",
        );
      }
      if (s.needsMetric) {
        throw new Error(
          `rnnkit: SequentialLR: scheduler ${i}: ReduceLROnPlateau cannot be chained`,
        );
      }
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new Error(
        `rnnkit: SequentialLR: expected ${schedulers.length - 1} milestones (one fewer than ` +
          `the ${schedulers.length} schedulers), got ${JSON.stringify(milestones)}`,
      );
    }
    milestones.forEach((m) => this.checkOption("milestones[]", m, 0, Infinity, true));
    this.schedulers = [...schedulers];
    this.own = { _milestones: [...milestones] };
    this.lastEpoch = (options.lastEpoch ?? -1) + 1;
    // Back to the initial rates, and undo the step each scheduler took when it was made.
    for (const g of this.groups) g.lr = g.initialLr!;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    (this.schedulers[0] as unknown as { initialStep(): void }).initialStep();
    this.baseLrs = this.groups.map((g) => g.initialLr!);
    this.lastLr = this.schedulers[0].getLastLr();
  }

  /** Not used: the schedulers compute the rates. */
  protected getLr(): number[] {
    return this.groups.map((g) => g.lr);
  }

  /** One step of the scheduler in charge; at a milestone the next one restarts (`step(0)`). */
  override step(epoch?: number): void {
    if (epoch !== undefined) throw new Error("rnnkit: SequentialLR: step() takes no epoch");
    this.lastEpoch++;
    const milestones = this.own._milestones;
    const idx = bisectRight(milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx];
    if (idx > 0 && milestones[idx - 1] === this.lastEpoch) scheduler.step(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  /** PyTorch's keys: `_milestones`, `last_epoch`, `_last_lr`, `_schedulers` (their state dicts). */
  override stateDict(): SchedulerStateDict {
    return {
      _milestones: [...this.own._milestones],
      last_epoch: this.lastEpoch,
      _last_lr: [...this.lastLr],
      _schedulers: this.schedulers.map((s) => s.stateDict()),
    };
  }

  /** No optional keys. */
  protected override optionalKeys(): string[] {
    return [];
  }

  /** `_schedulers`: each checked by its scheduler. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    if (key === "last_epoch") {
      return Number.isInteger(value) && value as number >= 0
        ? []
        : [`"last_epoch" must be an integer >= 0, got ${JSON.stringify(value)}`];
    }
    if (key !== "_schedulers") return super.keyProblems(key, value, t);
    if (!Array.isArray(value) || value.length !== this.schedulers.length) {
      return [`"_schedulers" must be a list of ${this.schedulers.length} state dicts`];
    }
    return this.schedulers.flatMap((s, i) =>
      s.stateDictProblems(value[i]).map((p) => `_schedulers[${i}] (${s.constructor.name}): ${p}`)
    );
  }

  /** Sets the milestones, step and last rates, and each scheduler's state. */
  protected override applyState(dict: SchedulerStateDict): void {
    this.own._milestones = dict._milestones as number[];
    this.lastEpoch = dict.last_epoch as number;
    this.lastLr = dict._last_lr as number[];
    const children = dict._schedulers as SchedulerStateDict[];
    this.schedulers.forEach((s, i) => s.loadStateDict(children[i]));
  }
}
