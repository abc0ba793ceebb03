/**
 * The training loop: one optimisation step with memory managed (`trainStep`), and `fit`,
 * which runs steps with gradient clipping, a learning-rate hook or scheduler, validation, a
 * per-step callback and a guard against non-finite losses. The CLI trains with these; so can
 * any app.
 */
import { tidy } from "../engine.ts";
import { clipGradNorm } from "../optim/clip_grad.ts";
import type { LRScheduler } from "../optim/lr_scheduler.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { Tensor } from "../tensor.ts";

/** What a step reads back: the loss and the values of any extra tensors asked for. */
export interface StepResult {
  /** The step's loss. */
  loss: number;
  /** The values of the extra tensors `forward` returned after the loss, in order. */
  extras: (Float32Array | Int32Array)[];
  /** The gradients' global norm before clipping, when clipping was asked for. */
  gradNorm?: number;
}

/** Options of `trainStep` and `applyGradients`. */
export interface StepOptions {
  /** Clip the gradients' global L2 norm to this value before the update. Default: no clipping. */
  clipGradNorm?: number;
  /** The step's number, named by the error when the loss is not finite. Default: none. */
  step?: number;
}

/**
 * Thrown when a step's loss (or, with clipping, its gradient norm) is NaN or infinite:
 * the step is not applied, so the parameters keep their last finite values.
 */
export class NonFiniteLossError extends Error {
  /** "loss" or "gradient norm". */
  readonly what: string;
  /** The non-finite value. */
  readonly value: number;
  /** The step's number, if known. */
  readonly step?: number;

  /** An error for `what` (loss or gradient norm) being `value` at `step`. */
  constructor(what: string, value: number, step?: number) {
    super(
      `rnnkit: the ${what} is ${value}${step === undefined ? "" : ` at step ${step}`}: ` +
        "training diverged (lower the learning rate, or clip the gradients); " +
        "the step was not applied",
    );
    this.name = "NonFiniteLossError";
    [this.what, this.value, this.step] = [what, value, step];
  }
}

/**
 * zeroGrad, forward, backward, (clip,) step. `forward` returns the scalar loss, or
 * [loss, ...extras] to read back other tensors (e.g. logits for printing predictions).
 * Every tensor the step makes is freed; only the parameters and optimizer state remain.
 * A non-finite loss throws `NonFiniteLossError` before the update.
 */
export async function trainStep(
  optimizer: Optimizer,
  forward: () => Tensor | Tensor[],
  options: StepOptions = {},
): Promise<StepResult> {
  const outs = tidy(() => {
    optimizer.zeroGrad();
    const r = forward();
    const [loss, ...extras] = Array.isArray(r) ? r : [r];
    loss.backward();
    return [loss, ...extras];
  });
  try {
    const values = await Promise.all(outs.map((t) => t.data()));
    const loss = values[0][0];
    if (!Number.isFinite(loss)) {
      optimizer.zeroGrad();
      throw new NonFiniteLossError("loss", loss, options.step);
    }
    const gradNorm = await applyGradients(optimizer, options);
    return { loss, extras: values.slice(1), gradNorm };
  } finally {
    for (const t of outs) t.dispose();
  }
}

/**
 * Clips (if asked) and applies the gradients the parameters hold, wherever they came from
 * (backward, or gradients averaged across workers). Returns the norm before clipping; a
 * non-finite norm throws `NonFiniteLossError` and leaves the parameters unchanged.
 */
export async function applyGradients(
  optimizer: Optimizer,
  options: StepOptions = {},
): Promise<number | undefined> {
  const clip = options.clipGradNorm;
  let gradNorm: number | undefined;
  if (clip !== undefined) {
    const norm = tidy(() => clipGradNorm(optimizer.params, clip));
    try {
      gradNorm = await norm.item();
    } finally {
      norm.dispose();
    }
    if (!Number.isFinite(gradNorm)) {
      optimizer.zeroGrad();
      throw new NonFiniteLossError("gradient norm", gradNorm, options.step);
    }
  }
  optimizer.step();
  return gradNorm;
}

/** What `fit` does at each step; only `optimizer`, `steps` and one of `forward`/`gradients` are required. */
export interface FitOptions {
  /** Updates the parameters. */
  optimizer: Optimizer;
  /** The step to stop after (a resumed run counts from `startStep`). */
  steps: number;
  /** Steps already done, e.g. by the run being resumed. Default 0. */
  startStep?: number;
  /**
   * Computes the loss of step `step` (1-based) from a fresh batch: the scalar loss, or
   * [loss, ...extras] to read extra tensors back (they arrive in `StepResult.extras`).
   * Give this or `gradients`.
   */
  forward?: (step: number) => Tensor | Tensor[];
  /**
   * Instead of `forward`: fills every parameter's `.grad` itself (e.g. from worker
   * threads) and resolves to the loss. Give this or `forward`.
   */
  gradients?: (step: number) => Promise<number>;
  /** Clip the gradients' global L2 norm to this value before each update. Default: no clipping. */
  clipGradNorm?: number;
  /**
   * The learning rate of each step, set on every group of the optimizer before the step
   * runs. Not with `scheduler`. Default: unchanged.
   */
  lr?: (step: number) => number;
  /**
   * A scheduler of `optimizer`, stepped after each optimizer step (PyTorch's order:
   * `optimizer.step()`, then `scheduler.step()`), before validation; a `ReduceLROnPlateau`
   * instead steps with the validation loss, on the steps that validate (and only those).
   * Save it with the training state to resume the schedule. Not with `lr`. Default: none.
   */
  scheduler?: LRScheduler;
  /**
   * Returns the validation loss; called every `validateEvery` steps and after the last.
   * Default: no validation.
   */
  validate?: (step: number) => number | Promise<number>;
  /** Steps between validations. Default: only after the last step. */
  validateEvery?: number;
  /** Called after every step (and its validation, if any); may save a checkpoint. Default: none. */
  onStep?: (step: number, result: FitStepResult) => void | Promise<void>;
}

/** What `onStep` receives: the step's result and, on validation steps, the validation loss. */
export interface FitStepResult extends StepResult {
  /** The validation loss, on the steps that validated. */
  valLoss?: number;
}

/** The losses of a `fit` run. */
export interface FitResult {
  /** The loss of every step run, in order. */
  losses: number[];
  /** [step, validation loss] at every validation. */
  validation: [number, number][];
}

/**
 * Trains from step `startStep + 1` to `steps`: per step, the LR hook, then `trainStep` (or
 * `gradients` + `applyGradients`) with clipping, then the scheduler's step, then validation
 * when due (and a plateau scheduler's step with its loss), then `onStep`. A non-finite loss
 * stops training with `NonFiniteLossError` naming the step, before that step changes
 * anything (the scheduler included).
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const { optimizer, steps, startStep = 0, forward, gradients, validate } = options;
  if ((forward === undefined) === (gradients === undefined)) {
    throw new Error("rnnkit: fit: give exactly one of forward and gradients");
  }
  for (const [name, v] of [["steps", steps], ["startStep", startStep]] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`rnnkit: fit: ${name} must be an integer >= 0, got ${v}`);
    }
  }
  const every = options.validateEvery;
  if (every !== undefined && !(Number.isInteger(every) && every > 0)) {
    throw new Error(`rnnkit: fit: validateEvery must be an integer > 0, got ${every}`);
  }
  const scheduler = options.scheduler;
  if (scheduler && options.lr) {
    throw new Error("rnnkit: fit: give lr or scheduler, not both (both set the learning rate)");
  }
  if (scheduler && scheduler.optimizer !== optimizer) {
    throw new Error("rnnkit: fit: the scheduler belongs to another optimizer");
  }
  const result: FitResult = { losses: [], validation: [] };
  for (let step = startStep + 1; step <= steps; step++) {
    if (options.lr) optimizer.lr = options.lr(step);
    const stepOptions = { clipGradNorm: options.clipGradNorm, step };
    let r: FitStepResult;
    if (forward) r = await trainStep(optimizer, () => forward(step), stepOptions);
    else {
      optimizer.zeroGrad();
      const loss = await gradients!(step);
      if (!Number.isFinite(loss)) {
        optimizer.zeroGrad();
        throw new NonFiniteLossError("loss", loss, step);
      }
      r = { loss, extras: [], gradNorm: await applyGradients(optimizer, stepOptions) };
    }
    result.losses.push(r.loss);
    if (scheduler && !scheduler.needsMetric) scheduler.step();
    if (validate && (step === steps || (every !== undefined && step % every === 0))) {
      r.valLoss = await validate(step);
      result.validation.push([step, r.valLoss]);
      if (scheduler?.needsMetric) scheduler.step(r.valLoss);
    }
    await options.onStep?.(step, r);
  }
  return result;
}
