/** OneCycleLR: the 1cycle policy, as PyTorch's (`lr_scheduler.ts` has the base class). */
import type { Optimizer, ParamGroup } from "./optimizer.ts";
import {
  LRScheduler,
  type LRSchedulerOptions,
  type SchedulerStateDict,
  type SchedulerStateValue,
} from "./lr_scheduler.ts";

/** OneCycleLR's options; PyTorch's defaults. Give `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions extends LRSchedulerOptions {
  /** The peak learning rate (required): one for every group, or one per group. */
  maxLr: number | readonly number[];
  /** Steps in the cycle: an integer >= 1. Default: epochs * stepsPerEpoch. */
  totalSteps?: number;
  /** With `stepsPerEpoch`, instead of `totalSteps`. Default: none. */
  epochs?: number;
  /** With `epochs`, instead of `totalSteps`. Default: none. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** "cos" or "linear" annealing. Default "cos". */
  annealStrategy?: "cos" | "linear";
  /**
   * Cycle the momentum (SGD's, RMSprop's) or Adam's beta1 inversely to the lr, between
   * `baseMomentum` and `maxMomentum`. Default true.
   */
  cycleMomentum?: boolean;
  /** The lowest momentum (at the peak lr): one, or one per group. Default 0.85. */
  baseMomentum?: number | readonly number[];
  /** The highest momentum (at the start and end): one, or one per group. Default 0.95. */
  maxMomentum?: number | readonly number[];
  /** The initial lr is maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** The final lr is the initial lr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /**
   * Three phases (up, down to the initial lr, then down to the final lr; the paper's) instead
   * of two (up, then down to the final lr; fastai's). Default false.
   */
  threePhase?: boolean;
}

/** One phase of the cycle, as PyTorch's `_schedule_phases[i]`. */
type Phase = {
  end_step: number;
  start_lr: string;
  end_lr: string;
  start_momentum: string;
  end_momentum: string;
};

/** The group keys PyTorch's phases name, and rnnkit's camelCase names for them. */
const GROUP_KEYS: Record<string, keyof ParamGroup> = {
  initial_lr: "initialLr",
  max_lr: "maxLr",
  min_lr: "minLr",
  max_momentum: "maxMomentum",
  base_momentum: "baseMomentum",
};

/**
 * The 1cycle policy, as PyTorch's `OneCycleLR`: the lr rises from maxLr / divFactor to maxLr
 * over pctStart of the cycle, then falls to the initial lr / finalDivFactor, while the
 * momentum (or Adam's beta1) does the opposite. Step it after every batch, `totalSteps`
 * times (one more is an error). Sets `initialLr`, `maxLr`, `minLr`, `maxMomentum` and
 * `baseMomentum` in every group (saved with the optimizer, as PyTorch's). In its state
 * dict, PyTorch 1.13's `anneal_func` (a method) is `_anneal_func_type`, "cos" or "linear", as
 * later PyTorch versions save it.
 */
export class OneCycleLR extends LRScheduler {
  /** `total_steps`, `_schedule_phases`, `_anneal_func_type`, `cycle_momentum`, `use_beta1`. */
  protected readonly own: {
    total_steps: number;
    _schedule_phases: SchedulerStateDict[];
    _anneal_func_type: "cos" | "linear";
    cycle_momentum: boolean;
    use_beta1?: boolean;
  };

  /** See `OneCycleLROptions` for the defaults. */
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    super(optimizer);
    let total: number;
    if (options.totalSteps !== undefined) {
      this.checkOption("totalSteps", options.totalSteps, 1, Infinity, true);
      total = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      this.checkOption("epochs", options.epochs, 1, Infinity, true);
      this.checkOption("stepsPerEpoch", options.stepsPerEpoch, 1, Infinity, true);
      total = options.epochs * options.stepsPerEpoch;
    } else {
      throw new Error("rnnkit: OneCycleLR: give totalSteps, or epochs and stepsPerEpoch");
    }
    const pct = options.pctStart ?? 0.3;
    this.checkOption("pctStart", pct, 0, 1);
    const strategy = options.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") {
      throw new Error(
        `rnnkit: OneCycleLR: annealStrategy must be "cos" or "linear", got ${
          JSON.stringify(strategy)
        }`,
      );
    }
    const div = options.divFactor ?? 25;
    const finalDiv = options.finalDivFactor ?? 1e4;
    this.checkOption("divFactor", div, Number.MIN_VALUE);
    this.checkOption("finalDivFactor", finalDiv, Number.MIN_VALUE);
    const phases: Phase[] = options.threePhase
      ? [
        phase(pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        phase(2 * pct * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
        phase(total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
      ]
      : [
        phase(pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        phase(total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
      ];
    const lastEpoch = options.lastEpoch ?? -1;
    const maxLrs = this.perGroup("maxLr", options.maxLr);
    const cycle = options.cycleMomentum ?? true;
    const defaults = optimizer.defaults;
    const useBeta1 = "betas" in defaults;
    if (cycle && !useBeta1 && !("momentum" in defaults)) {
      throw new Error(
        `rnnkit: OneCycleLR: ${optimizer.constructor.name} has no momentum or betas to cycle ` +
          "(pass cycleMomentum: false)",
      );
    }
    const maxMomentums = cycle ? this.perGroup("maxMomentum", options.maxMomentum ?? 0.95) : [];
    const baseMomentums = cycle ? this.perGroup("baseMomentum", options.baseMomentum ?? 0.85) : [];
    if (lastEpoch === -1) {
      this.groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / div;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDiv;
        if (cycle) {
          setMomentum(g, useBeta1, maxMomentums[i]);
          g.maxMomentum = maxMomentums[i];
          g.baseMomentum = baseMomentums[i];
        }
      });
    }
    this.own = {
      total_steps: total,
      _schedule_phases: phases,
      _anneal_func_type: strategy,
      cycle_momentum: cycle,
      ...(cycle ? { use_beta1: useBeta1 } : {}),
    };
    this.start(lastEpoch);
  }

  /** `value` for every group, or one per group (checked). */
  private perGroup(name: string, value: number | readonly number[]): number[] {
    const n = this.groups.length;
    const values = typeof value === "number" ? Array<number>(n).fill(value) : [...value];
    if (values.length !== n) {
      throw new Error(`rnnkit: OneCycleLR: expected ${n} values for ${name}, got ${values.length}`);
    }
    values.forEach((v) => this.checkOption(name, v, 0));
    return values;
  }

  /** Anneals from `start` to `end` as `pct` goes from 0 to 1. */
  private anneal(start: number, end: number, pct: number): number {
    if (this.own._anneal_func_type === "linear") return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + (start - end) / 2.0 * cosOut;
  }

  /** The phase's lr (and momentum, set on the group) at `last_epoch`. */
  protected getLr(): number[] {
    const { total_steps, cycle_momentum } = this.own;
    const phases = this.own._schedule_phases as Phase[];
    const stepNum = this.lastEpoch;
    if (stepNum > total_steps) {
      throw new Error(
        `rnnkit: OneCycleLR: tried to step ${stepNum + 1} times; the specified number of total ` +
          `steps is ${total_steps}`,
      );
    }
    return this.groups.map((g) => {
      const values = g as unknown as Record<string, number>;
      const get = (key: string) => values[GROUP_KEYS[key]];
      let start = 0;
      for (let i = 0; i < phases.length; i++) {
        const p = phases[i];
        if (stepNum <= p.end_step || i === phases.length - 1) {
          if (p.end_step === start) {
            throw new Error(
              `rnnkit: OneCycleLR: phase ${i} of the cycle has no steps (pctStart ` +
                `${phases[0].end_step + 1} / totalSteps ${total_steps})`,
            );
          }
          const pct = (stepNum - start) / (p.end_step - start);
          const lr = this.anneal(get(p.start_lr), get(p.end_lr), pct);
          if (cycle_momentum) {
            const m = this.anneal(get(p.start_momentum), get(p.end_momentum), pct);
            setMomentum(g, this.own.use_beta1!, m);
          }
          return lr;
        }
        start = p.end_step;
      }
      throw new Error("unreachable");
    });
  }

  /** Saved keys: as their types, plus the anneal strategy's and the phases' names. */
  protected override keyProblems(key: string, value: unknown, t: SchedulerStateValue): string[] {
    const problems = super.keyProblems(key, value, t);
    if (problems.length) return problems;
    if (key === "_anneal_func_type" && value !== "cos" && value !== "linear") {
      return [`"_anneal_func_type" must be "cos" or "linear", got ${JSON.stringify(value)}`];
    }
    if (key === "total_steps" && !(Number.isInteger(value) && value as number >= 1)) {
      return [`"total_steps" must be an integer >= 1, got ${value}`];
    }
    if (key === "_schedule_phases") {
      for (const p of value as unknown as Phase[]) {
        for (const k of ["start_lr", "end_lr", "start_momentum", "end_momentum"] as const) {
          if (!(p[k] in GROUP_KEYS)) return [`"_schedule_phases" names an unknown key ${p[k]}`];
        }
      }
    }
    return [];
  }
}

/** A phase of the cycle. */
function phase(
  end: number,
  startLr: string,
  endLr: string,
  startMomentum: string,
  endMomentum: string,
): Phase {
  return {
    end_step: end,
    start_lr: startLr,
    end_lr: endLr,
    start_momentum: startMomentum,
    end_momentum: endMomentum,
  };
}

/** Sets a group's momentum, or its beta1. */
function setMomentum(g: ParamGroup, useBeta1: boolean, m: number): void {
  const values = g as unknown as { betas: readonly number[]; momentum: number };
  if (useBeta1) values.betas = [m, ...values.betas.slice(1)];
  else values.momentum = m;
}
