/** Cross-entropy of class targets (PyTorch's `CrossEntropyLoss`). @module */
import type { FusedOps } from "../backend.ts";
import { getBackend } from "../engine.ts";
import { logSoftmax, mul, scale, sub, sum, where } from "../ops.ts";
import { needsGrad, Tensor } from "../tensor.ts";
import { Loss, type LossOptions } from "./loss.ts";
import {
  checkClassWeight,
  type ClassRows,
  classRows,
  nllRows,
  pickedNll,
  reduceClassLoss,
} from "./nll.ts";

type CrossEntropyOps = Pick<Required<FusedOps>, "crossEntropy" | "crossEntropyBackward">;

/**
 * -log softmax(rows)[i, y_i] per row by the backend's fused op: one pass forward and one
 * back, one autograd node.
 */
function fusedNll(fused: CrossEntropyOps, c: ClassRows): Tensor {
  const f = fused.crossEntropy(c.rows.handle, c.target.handle);
  const nll = new Tensor(f.losses, [c.targets.length]);
  const softmax = new Tensor(f.softmax, c.rows.shape);
  if (needsGrad([c.rows])) {
    nll.node = {
      name: "crossEntropy",
      inputs: [c.rows],
      outputs: [nll],
      backward: ([g]) => [
        new Tensor(
          fused.crossEntropyBackward(softmax.handle, c.target.handle, g.handle),
          softmax.shape,
        ),
      ],
    };
  }
  return nll;
}

/** Options of `CrossEntropyLoss`, with PyTorch's defaults. */
export interface CrossEntropyOptions extends LossOptions {
  /**
   * A weight per class, [C] (the caller's tensor, not copied): each target's loss is scaled
   * by its class's weight, and "mean" divides by the sum of the targets' weights. Default
   * none (all 1).
   */
  weight?: Tensor | null;
  /** Targets equal to this contribute no loss and no gradient. Default -100. */
  ignoreIndex?: number;
  /**
   * Mixes the one-hot target with the uniform distribution over the C classes by this
   * amount, in [0, 1]. Default 0.
   */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits and int32 class targets, as PyTorch's `CrossEntropyLoss`:
 * log-softmax over the class axis, then the negative log-likelihood of the target class.
 * Input [N, C] with target [N], [N, C, d1, ...] with target [N, d1, ...] (classes on axis
 * 1) or unbatched [C] with target []. Options: `weight` (default none), `ignoreIndex`
 * (default -100), `labelSmoothing` (default 0), `reduction` (default "mean": divided by the
 * number of kept targets, or with `weight` by the sum of their weights).
 */
export class CrossEntropyLoss extends Loss {
  /** The per-class weight, or null. */
  readonly weight: Tensor | null;
  /** The target value that contributes nothing. */
  readonly ignoreIndex: number;
  /** The label smoothing amount, in [0, 1]. */
  readonly labelSmoothing: number;

  /** A loss with the given options; see `CrossEntropyOptions` for the defaults. */
  constructor(options: CrossEntropyOptions = {}) {
    super(options);
    this.weight = options.weight ?? null;
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
    if (!(this.labelSmoothing >= 0 && this.labelSmoothing <= 1)) {
      this.fail(`labelSmoothing must be in [0, 1], got ${this.labelSmoothing}`);
    }
  }

  /**
   * Logits `input` [N, C] (or [N, C, d1, ...], or [C]) and int32 class indices `target`
   * [N] ([N, d1, ...], []) from `intTensor` -> the loss: a scalar, or target's shape with
   * reduction "none".
   */
  forward(input: Tensor, target: Tensor): Tensor {
    const c = classRows("CrossEntropyLoss", input, target, this.ignoreIndex);
    checkClassWeight("CrossEntropyLoss", this.weight, c.classes);
    const eps = this.labelSmoothing;
    const fused = getBackend().fused;
    // Label smoothing needs every log-probability: then the composite.
    const logp = eps > 0 || !fused?.crossEntropy || !fused.crossEntropyBackward
      ? logSoftmax(c.rows, 1)
      : null;
    const picked = logp ? pickedNll(logp, c) : fusedNll(fused as CrossEntropyOps, c);
    const nll = nllRows(picked, c, this.weight, this.ignoreIndex);
    let losses = nll.losses;
    if (logp && eps > 0) {
      // PyTorch: (1 - eps) nll + eps / C * (-sum_c w_c logp_c), 0 at ignored targets, both
      // parts divided by the same denominator for "mean".
      let smooth = sum(this.weight ? mul(logp, this.weight) : logp, 1);
      if (nll.kept) smooth = where(nll.kept, smooth, 0);
      losses = sub(scale(losses, 1 - eps), scale(smooth, eps / c.classes));
    }
    return reduceClassLoss(losses, this.reduction, nll.denominator, c.shape);
  }
}
