/**
 * A small training-loop helper: one optimisation step with memory managed, and a loop
 * that reports every epoch. The CLI uses it; so can any Deno app.
 */
import { tidy } from "./engine.ts";
import { clipGradNorm } from "./optim/clip_grad.ts";
import type { Optimizer } from "./optim/optimizer.ts";
import type { Tensor } from "./tensor.ts";

/** What a step reads back: the loss and the values of any extra tensors asked for. */
export interface StepResult {
  loss: number;
  extras: (Float32Array | Int32Array)[];
  /** The gradient norm before clipping, when clipping was asked for. */
  gradNorm?: number;
}

export interface StepOptions {
  /** Clip the gradients' global L2 norm to this value before the update. */
  clipGradNorm?: number;
}

/**
 * zeroGrad, forward, backward, (clip,) step. `forward` returns the scalar loss, or
 * [loss, ...extras] to read back other tensors (e.g. logits for printing predictions).
 * Every tensor the step makes is freed; only the parameters and optimizer state remain.
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
    const gradNorm = await applyGradients(optimizer, options);
    const values = await Promise.all(outs.map((t) => t.data()));
    return { loss: values[0][0], extras: values.slice(1), gradNorm };
  } finally {
    for (const t of outs) t.dispose();
  }
}

/**
 * Clips (if asked) and applies the gradients the parameters hold, wherever they came from
 * (backward, or gradients averaged across workers). Returns the norm before clipping.
 */
export async function applyGradients(
  optimizer: Optimizer,
  options: StepOptions = {},
): Promise<number | undefined> {
  const clip = options.clipGradNorm;
  const norm = tidy(() => {
    const n = clip === undefined ? undefined : clipGradNorm(optimizer.params, clip);
    optimizer.step();
    return n;
  });
  if (!norm) return undefined;
  try {
    return await norm.item();
  } finally {
    norm.dispose();
  }
}

export interface FitOptions {
  epochs: number;
  optimizer: Optimizer;
  forward: () => Tensor | Tensor[];
  /** Called after every epoch with its number (1-based) and what the step read back. */
  onEpoch?: (epoch: number, result: StepResult) => void | Promise<void>;
}

/** Runs one training step per epoch; returns every epoch's loss. */
export async function fit(options: FitOptions): Promise<number[]> {
  const losses: number[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const result = await trainStep(options.optimizer, options.forward);
    losses.push(result.loss);
    await options.onEpoch?.(epoch, result);
  }
  return losses;
}
