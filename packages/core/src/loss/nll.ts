/**
 * Negative log-likelihood (PyTorch's `NLLLoss`), and the class-target handling it shares
 * with `CrossEntropyLoss`: input layouts, target checks, class weights, ignored targets.
 * @module
 */
import { div, mul, neg, oneHot, reshape, scale, sum, tensor, transpose, where } from "../ops.ts";
import { formatShape as fmt } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";

/** Options of `NLLLoss`, with PyTorch's defaults. */
export interface NLLLossOptions extends LossOptions {
  /**
   * A weight per class, [C] (the caller's tensor, not copied): each target's loss is scaled
   * by its class's weight, and "mean" divides by the sum of the targets' weights. Default
   * none (all 1).
   */
  weight?: Tensor | null;
  /** Targets equal to this contribute no loss and no gradient. Default -100. */
  ignoreIndex?: number;
}

/** Class scores as rows: what NLLLoss and CrossEntropyLoss compute on. */
export interface ClassRows {
  /** The input as [M, C]: classes last, every other axis flattened. */
  rows: Tensor;
  /** The targets as [M] (int32, with their host copy). */
  target: Tensor;
  /** The host copy of the targets, checked against [0, C) or the ignore index. */
  targets: Int32Array;
  /** The number of classes C. */
  classes: number;
  /** The shape of the per-target losses (reduction "none"): target's. */
  shape: readonly number[];
}

/**
 * Checks a class loss's input [N, C], [N, C, d1, ...] or unbatched [C] against int32
 * targets [N], [N, d1, ...] or [] (from `intTensor`) and lays them out as rows.
 */
export function classRows(
  loss: string,
  input: Tensor,
  target: Tensor,
  ignoreIndex: number,
): ClassRows {
  const fail = (why: string): never => {
    throw new Error(`rnnkit: ${loss}: ${why}`);
  };
  const rank = input.shape.length;
  const expected = rank === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (
    rank === 0 || target.shape.join() !== expected.join() || target.shape.length !== expected.length
  ) {
    fail(
      `expected input [N, C] and target [N], input [N, C, d1, ...] and target [N, d1, ...] ` +
        `or input [C] and target [], got input ${fmt(input.shape)} and target ` +
        `${fmt(target.shape)}`,
    );
  }
  if (target.dtype !== "int32" || !target.hostInts) {
    fail("target must be an int32 tensor made with intTensor()");
  }
  const classes = rank === 1 ? input.shape[0] : input.shape[1];
  const targets = target.hostInts!;
  const bad = targets.find((t) => t !== ignoreIndex && (t < 0 || t >= classes));
  if (bad !== undefined) fail(`target ${bad} out of range [0, ${classes})`);
  let rows = input;
  if (rank === 1) rows = reshape(input, [1, classes]);
  else if (rank > 2) {
    const perm = [0, ...[...Array(rank).keys()].slice(2), 1];
    rows = reshape(transpose(input, perm), [-1, classes]);
  }
  const flat = target.shape.length === 1 ? target : reshape(target, [targets.length]);
  return { rows, target: flat, targets, classes, shape: target.shape };
}

/** Checks that a class weight is a float32 tensor [C]. */
export function checkClassWeight(loss: string, weight: Tensor | null, classes: number): void {
  if (weight && (weight.dtype !== "float32" || weight.shape.join() !== `${classes}`)) {
    throw new Error(
      `rnnkit: ${loss}: weight must be a float32 tensor [C] = [${classes}], got ` +
        `${weight.dtype} ${fmt(weight.shape)}`,
    );
  }
}

/**
 * -logp[i, y_i] for each row of log-probabilities `logp` [M, C], 0 where the target is out
 * of range (the default ignore index, -100: oneHot gives zeros there). `where`, not a
 * product: a -Infinity log-probability off the target stays out.
 */
export function pickedNll(logp: Tensor, c: ClassRows): Tensor {
  return neg(sum(where(oneHot(c.target, c.classes), logp, 0), 1));
}

/**
 * The per-row losses from the unweighted ones `nll` [M] (`pickedNll`, 0 at out-of-range
 * targets): scaled by w[y_i] and 0 at ignored targets, the 0/1 mask of kept targets (null
 * when none is ignored) and what "mean" divides the sum by: the kept targets' count, or the
 * sum of their weights.
 */
export function nllRows(
  nll: Tensor,
  c: ClassRows,
  weight: Tensor | null,
  ignoreIndex: number,
): { losses: Tensor; kept: Tensor | null; denominator: Tensor | number } {
  const valid = c.targets.map((t) => (t === ignoreIndex ? 0 : 1));
  const count = valid.reduce((a, b) => a + b, 0);
  // An ignore index in range is masked here; out of range, nll is already 0 there.
  const kept = count < c.targets.length ? tensor(valid, [valid.length]) : null;
  let losses = nll;
  let weights: Tensor | null = null;
  if (weight) {
    weights = sum(where(oneHot(c.target, c.classes), weight, 0), 1);
    if (kept) weights = where(kept, weights, 0);
    losses = mul(losses, weights);
  }
  if (kept) losses = where(kept, losses, 0);
  return { losses, kept, denominator: weights ? sum(weights) : count };
}

/** Sums or averages per-target `losses` [M], or reshapes them to `shape` ("none"). */
export function reduceClassLoss(
  losses: Tensor,
  reduction: "mean" | "sum" | "none",
  denominator: Tensor | number,
  shape: readonly number[],
): Tensor {
  if (reduction === "none") return reshape(losses, shape);
  const total = sum(losses);
  if (reduction === "sum") return total;
  return typeof denominator === "number" ? scale(total, 1 / denominator) : div(total, denominator);
}

/**
 * Negative log-likelihood of int32 class targets under log-probabilities, as PyTorch's
 * `NLLLoss`: input [N, C] (or [N, C, d1, ...], or unbatched [C]) holds log-probabilities,
 * target [N] ([N, d1, ...], []) class indices from `intTensor`; the loss of target y is
 * -weight[y] input[y]. Options: `weight` (default none), `ignoreIndex` (default -100),
 * `reduction` (default "mean": divided by the sum of the kept targets' weights).
 */
export class NLLLoss extends Loss {
  /** The per-class weight, or null. */
  readonly weight: Tensor | null;
  /** The target value that contributes nothing. */
  readonly ignoreIndex: number;

  /** A loss with the given options; see `NLLLossOptions` for the defaults. */
  constructor(options: NLLLossOptions = {}) {
    super(options);
    this.weight = options.weight ?? null;
    this.ignoreIndex = options.ignoreIndex ?? -100;
  }

  /** Log-probabilities and int32 targets -> the loss (a scalar, or target's shape). */
  forward(input: Tensor, target: Tensor): Tensor {
    const c = classRows("NLLLoss", input, target, this.ignoreIndex);
    checkClassWeight("NLLLoss", this.weight, c.classes);
    const nll = pickedNll(c.rows, c);
    const { losses, denominator } = nllRows(nll, c, this.weight, this.ignoreIndex);
    return reduceClassLoss(losses, this.reduction, denominator, c.shape);
  }
}
