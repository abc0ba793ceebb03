/** ReduceLROnPlateau, as PyTorch's (`lr_scheduler.ts` has the base class). */
import type { Optimizer } from "./optimizer.ts";
import { LRScheduler, type SchedulerStateDict, type SchedulerStateValue } from "./lr_scheduler.ts";

/** ReduceLROnPlateau's options; PyTorch's defaults. */
export interface ReduceLROnPlateauOptions {
  /** "min": reduce when the value stops falling (a loss); "max": when it stops rising. Default "min". */
  mode?: "min" | "max";
  /** Factor of each reduction, in [0, 1). Default 0.1. */
  factor?: number;
  /** Steps without improvement tolerated before a reduction: an integer >= 0. Default 10. */
  patience?: number;
  /** How much better counts as better (see `thresholdMode`). Default 1e-4. */
  threshold?: number;
  /**
   * "rel": better means below best * (1 - threshold) ("min") or above best * (1 + threshold)
   * ("max"); "abs": below best - threshold or above best + threshold. Default "rel".
   */
  thresholdMode?: "rel" | "abs";
  /** Steps after a reduction during which bad steps are not counted: an integer >= 0. Default 0. */
  cooldown?: number;
  /** The lowest lr: one for every group, or one per group. Default 0. */
  minLr?: number | readonly number[];
  /** A reduction smaller than this is skipped. Default 1e-8. */
  eps?: number;
}

/** JSON has no infinity: the state dict writes "inf" and "-inf". */
const json = (x: number): SchedulerStateValue =>
  x === Infinity ? "inf" : x === -Infinity ? "-inf" : x;
const fromJson = (x: SchedulerStateValue): number =>
  x === "inf" ? Infinity : x === "-inf" ? -Infinity : x as number;

/**
 * Reduces every group's lr by `factor` when a monitored value (the validation loss) has not
 * improved for `patience` steps, as PyTorch's `ReduceLROnPlateau`: call `step(value)` after
 * each validation (`fit` does, with its `scheduler` option). It sets no `initialLr`. Its state
 * dict has PyTorch's keys, with `best` and `mode_worse` written "inf" / "-inf" while infinite;
 * `getLastLr()` is the groups' lr before the first step (PyTorch 1.13 has none then).
 */
export class ReduceLROnPlateau extends LRScheduler {
  /** PyTorch's attributes, in its order. */
  protected readonly own: {
    factor: number;
    min_lrs: number[];
    patience: number;
    verbose: boolean;
    cooldown: number;
    cooldown_counter: number;
    mode: "min" | "max";
    threshold: number;
    threshold_mode: "rel" | "abs";
    best: SchedulerStateValue;
    num_bad_epochs: number;
    mode_worse: SchedulerStateValue;
    eps: number;
  };

  /** See `ReduceLROnPlateauOptions` for the defaults. */
  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    super(optimizer);
    const mode = options.mode ?? "min";
    const thresholdMode = options.thresholdMode ?? "rel";
    if (mode !== "min" && mode !== "max") {
      throw new Error(
        `rnnkit: ReduceLROnPlateau: mode must be "min" or "max", got ${JSON.stringify(mode)}`,
      );
    }
    if (thresholdMode !== "rel" && thresholdMode !== "abs") {
      throw new Error(
        `rnnkit: ReduceLROnPlateau: thresholdMode must be "rel" or "abs", got ${
          JSON.stringify(thresholdMode)
        }`,
      );
    }
    const factor = options.factor ?? 0.1;
    this.checkOption("factor", factor, 0, 1);
    if (factor >= 1) throw new Error("rnnkit: ReduceLROnPlateau: factor must be < 1");
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    const minLrs = typeof minLr === "number" ? Array<number>(n).fill(minLr) : [...minLr];
    if (minLrs.length !== n) {
      throw new Error(
        `rnnkit: ReduceLROnPlateau: expected ${n} minLr values, got ${minLrs.length}`,
      );
    }
    minLrs.forEach((v) => this.checkOption("minLr", v, 0));
    this.checkOption("patience", options.patience ?? 10, 0, Infinity, true);
    this.checkOption("threshold", options.threshold ?? 1e-4, 0);
    this.checkOption("cooldown", options.cooldown ?? 0, 0, Infinity, true);
    this.checkOption("eps", options.eps ?? 1e-8, 0);
    const worse = json(mode === "min" ? Infinity : -Infinity);
    this.own = {
      factor,
      min_lrs: minLrs,
      patience: options.patience ?? 10,
      verbose: false,
      cooldown: options.cooldown ?? 0,
      cooldown_counter: 0,
      mode,
      threshold: options.threshold ?? 1e-4,
      threshold_mode: thresholdMode,
      best: worse,
      num_bad_epochs: 0,
      mode_worse: worse,
      eps: options.eps ?? 1e-8,
    };
    this.lastEpoch = 0;
    this.baseLrs = this.groups.map((g) => g.lr);
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** True: `step` takes the monitored value. */
  override get needsMetric(): boolean {
    return true;
  }

  /** The best value seen so far (Infinity / -Infinity before the first step). */
  get best(): number {
    return fromJson(this.own.best);
  }

  /** Steps since the last improvement (reset by a reduction and during cooldown). */
  get numBadEpochs(): number {
    return this.own.num_bad_epochs;
  }

  /** Records `metric` (e.g. the validation loss) and reduces the lr if it has plateaued. */
  override step(metric?: number): void {
    if (typeof metric !== "number") {
      throw new Error(
        "rnnkit: ReduceLROnPlateau: step(metric) needs the monitored value, e.g. the validation loss",
      );
    }
    const s = this.own;
    const current = metric;
    const epoch = this.lastEpoch + 1;
    this.lastEpoch = epoch;
    if (this.isBetter(current, fromJson(s.best))) {
      s.best = json(current);
      s.num_bad_epochs = 0;
    } else s.num_bad_epochs += 1;
    if (s.cooldown_counter > 0) {
      s.cooldown_counter -= 1;
      s.num_bad_epochs = 0; // bad epochs in cooldown are ignored
    }
    if (s.num_bad_epochs > s.patience) {
      this.groups.forEach((g, i) => {
        const old = g.lr;
        const next = Math.max(old * s.factor, s.min_lrs[i]);
        if (old - next > s.eps) g.lr = next;
      });
      s.cooldown_counter = s.cooldown;
      s.num_bad_epochs = 0;
    }
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** PyTorch's `is_better`. */
  private isBetter(a: number, best: number): boolean {
    const { mode, threshold_mode: tm, threshold: t } = this.own;
    if (mode === "min" && tm === "rel") return a < best * (1 - t);
    if (mode === "min" && tm === "abs") return a < best - t;
    if (mode === "max" && tm === "rel") return a > best * (t + 1);
    return a > best + t;
  }

  /** Unused: `step` sets the rates. */
  protected getLr(): number[] {
    return this.groups.map((g) => g.lr);
  }

  /** PyTorch's keys: its attributes, then `last_epoch` and `_last_lr`. */
  override stateDict(): SchedulerStateDict {
    return { ...structuredClone(this.own), last_epoch: this.lastEpoch, _last_lr: [...this.lastLr] };
  }

  /** `_last_lr` (which PyTorch 1.13 has only after a step). */
  protected override optionalKeys(): string[] {
    return ["_last_lr"];
  }

  /** Values, with "inf"/"-inf" for best and mode_worse, and the option ranges. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    if (key === "best" || key === "mode_worse") {
      return typeof value === "number" && !Number.isNaN(value) || value === "inf" ||
          value === "-inf"
        ? []
        : [`"${key}" must be a number, "inf" or "-inf", got ${JSON.stringify(value)}`];
    }
    if (key === "last_epoch") {
      return Number.isInteger(value) && value as number >= 0
        ? []
        : [`"last_epoch" must be an integer >= 0, got ${JSON.stringify(value)}`];
    }
    const problems = super.keyProblems(key, value, t);
    if (problems.length) return problems;
    if (key === "mode" && value !== "min" && value !== "max") {
      return [`"mode" must be "min" or "max"`];
    }
    if (key === "threshold_mode" && value !== "rel" && value !== "abs") {
      return [`"threshold_mode" must be "rel" or "abs"`];
    }
    if (["patience", "cooldown", "cooldown_counter", "num_bad_epochs"].includes(key)) {
      if (!(Number.isInteger(value) && value as number >= 0)) {
        return [`"${key}" must be an integer >= 0, got ${value}`];
      }
    }
    return [];
  }

  /** Sets the checked state (`mode_worse` follows `mode`, as PyTorch's `_init_is_better`). */
  protected override applyState(dict: SchedulerStateDict): void {
    super.applyState(dict);
    this.own.mode_worse = json(this.own.mode === "min" ? Infinity : -Infinity);
  }
}
