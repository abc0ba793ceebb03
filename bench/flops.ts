/**
 * The matrix products of one training step of the bench's model (Embedding -> recurrent
 * layers -> Linear, cross-entropy), from its shapes, and their floating-point operations:
 * forward, backward through time, input and weight gradients. Only the products count
 * (2mnk each); the elementwise work (gates, softmax, Adam) is O(mn) and left out, so a
 * step's FLOPs at the machine's sgemm rate is the limit that no implementation passes.
 */
import type { SgemmShape } from "@rnnkit/backend-native";
import { RECURRENT_GATES } from "@rnnkit/core/backend";
import { BATCH, EMBED, SEQ, type TrainConfig } from "./configs.ts";

/** One product of a step, `count` times per step (once, or once per time step). */
export interface StepProduct extends SgemmShape {
  /** What it computes, e.g. "l0 input projection". */
  what: string;
  count: number;
}

/** The sizes of a step besides the config's. */
export interface StepSizes {
  vocab: number;
  /** Sequences per batch. Default: the bench's BATCH (32). */
  batch?: number;
  /** Time steps per sequence. Default: the bench's SEQ (64). */
  seq?: number;
  /** Embedding size, the first layer's input. Default: the bench's EMBED (64). */
  embed?: number;
}

const GATES = {
  rnn: RECURRENT_GATES.RNN_TANH,
  lstm: RECURRENT_GATES.LSTM,
  gru: RECURRENT_GATES.GRU,
};

/**
 * Every product of one training step of config `c`, as core issues them (the transpose
 * flags included): per layer the input projection of all steps, one recurrent product per
 * step forwards and one backwards, the input gradient and the two weight gradients; then
 * the output Linear forwards, its input gradient and its weight gradient.
 */
export function stepProducts(c: TrainConfig, sizes: StepSizes): StepProduct[] {
  const { vocab, batch = BATCH, seq = SEQ, embed = EMBED } = sizes;
  const [h, g, rows] = [c.hidden, GATES[c.cell] * c.hidden, batch * seq];
  const products: StepProduct[] = [];
  for (let l = 0; l < c.layers; l++) {
    const input = l === 0 ? embed : h;
    products.push(
      { what: `l${l} input projection`, m: rows, n: g, k: input, transB: true, count: 1 },
      { what: `l${l} recurrent step`, m: batch, n: g, k: h, transB: true, count: seq },
      { what: `l${l} recurrent step backward`, m: batch, n: h, k: g, count: seq },
      { what: `l${l} input gradient`, m: rows, n: input, k: g, count: 1 },
      { what: `l${l} W_ih gradient`, m: g, n: input, k: rows, transA: true, count: 1 },
      { what: `l${l} W_hh gradient`, m: g, n: h, k: rows, transA: true, count: 1 },
    );
  }
  products.push(
    { what: "output layer", m: rows, n: vocab, k: h, transB: true, count: 1 },
    { what: "output input gradient", m: rows, n: h, k: vocab, count: 1 },
    { what: "output weight gradient", m: vocab, n: h, k: rows, transA: true, count: 1 },
  );
  return products;
}

/** Floating-point operations of `products`: 2mnk per product, times its count. */
export function flopsOf(products: readonly StepProduct[]): number {
  return products.reduce((sum, p) => sum + 2 * p.m * p.n * p.k * p.count, 0);
}

/** The products' distinct shapes (with transpose flags), in first-seen order. */
export function distinctShapes(products: readonly StepProduct[]): SgemmShape[] {
  const seen = new Map<string, SgemmShape>();
  for (const { m, n, k, transA = false, transB = false } of products) {
    seen.set(shapeKey({ m, n, k, transA, transB }), { m, n, k, transA, transB });
  }
  return [...seen.values()];
}

/** A shape as printed and keyed, by its stored operands: "[32,256]x[1024,256]^T". */
export function shapeKey(s: SgemmShape): string {
  const a = s.transA ? `[${s.k},${s.m}]^T` : `[${s.m},${s.k}]`;
  const b = s.transB ? `[${s.n},${s.k}]^T` : `[${s.k},${s.n}]`;
  return `${a}x${b}`;
}
