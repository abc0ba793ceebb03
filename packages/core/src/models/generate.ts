/**
 * Character generation from a CharLM, as the PyTorch fixtures do it: the prompt goes in
 * as one batch [1, P] from the zero state, then each chosen index is fed back alone with
 * the carried state.
 */
import { tidy } from "../engine.ts";
import { intTensor, reshape, split } from "../ops.ts";
import { globalRandom, type Random } from "../random.ts";
import { noGrad, type Tensor } from "../tensor.ts";
import type { CharLM, RecurrentState } from "./char_lm.ts";

/** Options of `generate`. */
export interface GenerateOptions {
  /** Softmax temperature, >= 0; 0 picks the argmax (greedy). Default 1. */
  temperature?: number;
  /** Sample among the k largest logits only (an integer >= 1). Default: all of them. */
  topK?: number;
  /** Generator of the samples (unused when greedy). Default: the global generator. */
  rng?: Random;
  /**
   * Called with each generated index as soon as it is chosen (to stream the text); may
   * return a Promise, which is awaited. Default: none.
   */
  onToken?: (index: number) => void | Promise<void>;
}

/**
 * Returns the `length` generated indices (the prompt not included). Logits that are not all
 * finite (a diverged model) are an error, as `torch.multinomial` raises on them.
 */
export async function generate(
  model: CharLM,
  promptIndices: number[],
  length: number,
  options: GenerateOptions = {},
): Promise<number[]> {
  const { temperature = 1, topK, rng = globalRandom() } = options;
  const V = model.config.vocabSize;
  if (promptIndices.length === 0) throw new Error("rnnkit: generate: the prompt is empty");
  if (!promptIndices.every((i) => Number.isInteger(i) && i >= 0 && i < V)) {
    throw new Error(`rnnkit: generate: prompt indices must be integers in [0, ${V})`);
  }
  if (!Number.isInteger(length) || length < 0) {
    throw new Error(`rnnkit: generate: length must be an integer >= 0, got ${length}`);
  }
  if (!(temperature >= 0 && Number.isFinite(temperature))) {
    throw new Error(`rnnkit: generate: temperature must be >= 0, got ${temperature}`);
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) {
    throw new Error(`rnnkit: generate: topK must be an integer >= 1, got ${topK}`);
  }

  // Dropout must not act while generating; the caller's mode is restored afterwards.
  const wasTraining = model.training;
  model.eval();
  let state: Tensor[] = [];
  try {
    const out: number[] = [];
    let input = promptIndices;
    while (out.length < length) {
      // One synchronous scope per step keeps only the last logits row and the new state.
      const [last, ...next] = noGrad(() =>
        tidy(() => {
          const carried: RecurrentState | undefined = state.length === 2
            ? [state[0], state[1]]
            : state[0];
          const [logits, s] = model.forward(intTensor(input, [1, input.length]), carried);
          const P = input.length;
          const row = P === 1 ? logits : split(logits, [P - 1, 1], 1)[1];
          return [reshape(row, [V]), ...(Array.isArray(s) ? s : [s])];
        })
      );
      for (const t of state) t.dispose();
      state = next;
      let logits: Float32Array | Int32Array;
      try {
        logits = await last.data();
      } finally {
        last.dispose();
      }
      const bad = logits.find((v) => !Number.isFinite(v));
      if (bad !== undefined) {
        throw new Error(
          `rnnkit: generate: the logits of generated character ${out.length + 1} hold ${bad}: ` +
            "the model's weights are not usable (did training diverge?)",
        );
      }
      const index = temperature === 0 ? argmax(logits) : sample(logits, temperature, topK, rng);
      out.push(index);
      await options.onToken?.(index);
      input = [index];
    }
    return out;
  } finally {
    for (const t of state) t.dispose();
    model.train(wasTraining);
  }
}

/** The first index of the largest value, as torch.argmax picks among ties. */
function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Draws from softmax(logits / T) over the topK largest logits (ties: lower index first). */
function sample(logits: ArrayLike<number>, T: number, topK: number | undefined, rng: Random) {
  const order = Array.from(logits, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = order.slice(0, topK ?? order.length);
  const max = logits[kept[0]];
  // Shifted by the max so exp cannot overflow; the normalization absorbs the shift.
  const weights = kept.map((i) => Math.exp((logits[i] - max) / T));
  let u = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < kept.length; j++) {
    u -= weights[j];
    if (u < 0) return kept[j];
  }
  // Rounding can leave u at 0 after the last weight.
  return kept[kept.length - 1];
}
