import { tidy } from "../engine.ts";
import type { Module } from "../nn/module.ts";
import { noGrad, type Tensor } from "../tensor.ts";

/**
 * The mean loss of `model` over `batches`, in eval mode (dropout off; the mode is restored
 * afterwards) and without recording gradients. `loss` maps a batch to a scalar; each batch
 * counts `weight(batch)` times (default 1: e.g. pass its number of rows when the last batch
 * is smaller). Tensors that `loss`, or the iterator while producing the batch, creates are
 * freed batch by batch.
 */
export async function evaluate<B>(
  model: Module,
  batches: Iterable<B>,
  loss: (batch: B) => Tensor,
  weight: (batch: B) => number = () => 1,
): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  const it = batches[Symbol.iterator]();
  let [total, count] = [0, 0];
  try {
    while (true) {
      const next = noGrad(() =>
        tidy(() => {
          const n = it.next();
          return n.done ? null : { value: loss(n.value), weight: weight(n.value) };
        })
      );
      if (!next) break;
      try {
        total += (await next.value.item()) * next.weight;
        count += next.weight;
      } finally {
        next.value.dispose();
      }
    }
  } finally {
    model.train(wasTraining);
  }
  if (count === 0) throw new Error("rnnkit: evaluate: no batches");
  return total / count;
}
