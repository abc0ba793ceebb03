/**
 * A character corpus for language models: the vocabulary, the text as indices, a
 * train/validation split, and batches of (input, next-character target) pairs, either from
 * random offsets or as contiguous streams for truncated backpropagation through time.
 */
import { intTensor } from "../ops.ts";
import type { Random } from "../random.ts";
import type { Tensor } from "../tensor.ts";

/** Inputs [batch, seqLen] (int32) and their targets, the next characters, flat [batch * seqLen]. */
export interface Batch {
  /** Character indices [batch, seqLen] (int32). */
  input: Tensor;
  /** The character after each input, flat [batch * seqLen] (int32). */
  target: Tensor;
}

/** A text as characters: vocabulary, indices, train/validation split, batches. */
export class CharCorpus {
  /** The distinct characters (code points, not UTF-16 units), sorted by code point. */
  readonly vocab: string[];
  /** The first `1 - valFraction` of the text, as indices into `vocab`. */
  readonly train: Int32Array;
  /** The rest, at the end of the text: validation data is never trained on. */
  readonly val: Int32Array;
  readonly #index: Map<string, number>;

  /** Splits `text`: the last `valFraction` (default 0.1) of its characters are for validation. */
  constructor(text: string, valFraction = 0.1) {
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new Error(`rnnkit: CharCorpus: valFraction must be in [0, 1), got ${valFraction}`);
    }
    const chars = [...text];
    this.vocab = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    this.#index = new Map(this.vocab.map((c, i) => [c, i]));
    const all = Int32Array.from(chars, (c) => this.#index.get(c)!);
    const cut = chars.length - Math.floor(chars.length * valFraction);
    this.train = all.subarray(0, cut);
    this.val = all.subarray(cut);
  }

  /** The indices of `text`'s characters; every one must be in the vocabulary. */
  encode(text: string): Int32Array {
    return Int32Array.from([...text], (c) => {
      const i = this.#index.get(c);
      if (i === undefined) throw new Error(`rnnkit: CharCorpus: ${JSON.stringify(c)} not in vocab`);
      return i;
    });
  }

  /** The characters at `indices`, as a string. */
  decode(indices: ArrayLike<number>): string {
    return Array.from(indices, (i) => this.vocab[i]).join("");
  }

  /** `batch` windows of the training part at uniformly random offsets. */
  randomWindows(batch: number, seqLen: number, rng: Random): Batch {
    const last = this.train.length - seqLen - 1; // the highest offset that still has a target
    if (last < 0) {
      throw new Error(
        `rnnkit: CharCorpus: the training part (${this.train.length} characters) is shorter ` +
          `than one window of ${seqLen + 1}`,
      );
    }
    const starts = Array.from({ length: batch }, () => rng.int(last + 1));
    return windows(this.train, starts, seqLen);
  }

  /**
   * Offsets of consecutive, non-overlapping windows of the validation part; when there are
   * more than `maxWindows`, that many spread evenly over it, so a cheap estimate still sees
   * the whole validation text.
   */
  validationStarts(seqLen: number, maxWindows: number): number[] {
    const count = Math.floor((this.val.length - 1) / seqLen);
    const n = Math.min(count, maxWindows);
    return Array.from({ length: n }, (_, i) => Math.floor((i * count) / n) * seqLen);
  }

  /**
   * The `validationStarts(seqLen, maxWindows)` windows in batches of up to `batchSize`,
   * made as they are read (so `evaluate` frees each with its loss).
   */
  *validationBatches(seqLen: number, batchSize: number, maxWindows = Infinity): Generator<Batch> {
    const starts = this.validationStarts(seqLen, maxWindows);
    for (let i = 0; i < starts.length; i += batchSize) {
      yield windows(this.val, starts.slice(i, i + batchSize), seqLen);
    }
  }
}

/** The windows of `data` starting at `starts`, each `seqLen` inputs and the targets after. */
export function windows(data: Int32Array, starts: readonly number[], seqLen: number): Batch {
  const input = new Int32Array(starts.length * seqLen);
  const target = new Int32Array(starts.length * seqLen);
  starts.forEach((s, b) => {
    input.set(data.subarray(s, s + seqLen), b * seqLen);
    target.set(data.subarray(s + 1, s + seqLen + 1), b * seqLen);
  });
  return {
    input: intTensor(input, [starts.length, seqLen]),
    target: intTensor(target, [starts.length * seqLen]),
  };
}

/**
 * Truncated BPTT: the data is cut into `batch` equal streams read side by side, `seqLen`
 * characters per chunk, so that row b of each chunk continues row b of the previous one and
 * the caller can carry the recurrent state (detached) from chunk to chunk. After the last
 * whole chunk the streams start over, and `next()` says so: the state must be reset then.
 */
export class StreamBatcher {
  /** Characters per stream (inputs; each also needs the next one as its target). */
  readonly streamLength: number;
  /** Chunks before the streams start over. */
  readonly chunksPerEpoch: number;
  /** The chunk `next()` returns next, in [0, chunksPerEpoch): a checkpoint saves it. */
  position = 0;

  /** Cuts `data` into `batch` streams read `seqLen` characters at a time. */
  constructor(readonly data: Int32Array, readonly batch: number, readonly seqLen: number) {
    this.streamLength = Math.floor((data.length - 1) / batch);
    this.chunksPerEpoch = Math.floor(this.streamLength / seqLen);
    if (this.chunksPerEpoch === 0) {
      throw new Error(
        `rnnkit: StreamBatcher: ${data.length} characters do not fill ${batch} streams of ` +
          `${seqLen + 1} (batch size x sequence length, plus one target)`,
      );
    }
  }

  /** The next chunk; `first` is true when it starts the streams over (reset the state). */
  next(): Batch & { first: boolean } {
    const k = this.position;
    this.position = (k + 1) % this.chunksPerEpoch;
    const starts = Array.from(
      { length: this.batch },
      (_, b) => b * this.streamLength + k * this.seqLen,
    );
    return { ...windows(this.data, starts, this.seqLen), first: k === 0 };
  }
}
