/**
 * Variable-length batches, as PyTorch's `torch.nn.utils.rnn`: `PackedSequence` and the
 * functions that pack and pad. A packed batch holds only the valid steps of each sequence,
 * time-major: the first `batchSizes[0]` rows are step 0 of every sequence, the next
 * `batchSizes[1]` rows step 1 of those still running, and so on, the sequences sorted
 * longest first. RNN, LSTM and GRU run over it so that each sequence's state stops at its
 * own last step (and the reverse direction starts there).
 *
 * Every function is differentiable: packing and padding are row gathers of the input (and
 * concatenations), so gradients reach the padded input or the sequences.
 */
import { concat, full, gather, intTensor, reshape } from "../ops.ts";
import { needsGrad, Tensor } from "../tensor.ts";
import { formatShape as fmt } from "../shape.ts";

/**
 * Sequence lengths: host integers, as an array or an int32 tensor from `intTensor` (which
 * keeps a host copy), like PyTorch's list or CPU tensor of lengths.
 */
export type Lengths = ArrayLike<number> | Tensor;

/** Options of `packPaddedSequence`. */
export interface PackPaddedOptions {
  /** The input is [batch, seq, *] instead of [seq, batch, *]. Default false. */
  batchFirst?: boolean;
  /**
   * The lengths are already sorted longest first (an error if not). With false, the batch
   * is sorted here and the order kept in `sortedIndices`/`unsortedIndices`, so that padding
   * and the recurrent modules' final states come back in the caller's order. Default true.
   */
  enforceSorted?: boolean;
}

/** Options of `padPackedSequence`. */
export interface PadPackedOptions {
  /** Return [batch, seq, *] instead of [seq, batch, *]. Default false. */
  batchFirst?: boolean;
  /** The value of the steps past each sequence's length. Default 0. */
  paddingValue?: number;
  /**
   * Pad to this many steps instead of the longest sequence's length (which it must not be
   * below). Default: the longest length.
   */
  totalLength?: number;
}

/** Options of `padSequence`. */
export interface PadSequenceOptions {
  /** Return [batch, seq, *] instead of [seq, batch, *]. Default false. */
  batchFirst?: boolean;
  /** The value of the steps past each sequence's length. Default 0. */
  paddingValue?: number;
}

/** Options of `packSequence`. */
export interface PackSequenceOptions {
  /**
   * The sequences are already sorted longest first (an error if not); false sorts them and
   * keeps the order, as in `packPaddedSequence`. Default true.
   */
  enforceSorted?: boolean;
}

/**
 * A batch of variable-length sequences packed for the recurrent modules (PyTorch's
 * `PackedSequence`). Build one with `packPaddedSequence` or `packSequence`; `RNN`, `LSTM`
 * and `GRU` take it as input and return one; `padPackedSequence` turns it back into a
 * padded tensor.
 */
export class PackedSequence {
  /** The valid steps, time-major: [sum of the lengths, *]. */
  readonly data: Tensor;
  /** Sequences still running at each step (non-increasing; batchSizes[0] is the batch). */
  readonly batchSizes: readonly number[];
  /**
   * sortedIndices[j]: the caller's index of the j-th longest sequence; null when the batch
   * was packed in the caller's order (`enforceSorted: true`).
   */
  readonly sortedIndices: readonly number[] | null;
  /** The inverse permutation: unsortedIndices[b] is sequence b's place in sorted order. */
  readonly unsortedIndices: readonly number[] | null;

  /**
   * Wraps packed `data` [sum(batchSizes), *] with its batch sizes and, for a batch sorted
   * by length, the permutation (`unsortedIndices` defaults to the inverse of
   * `sortedIndices`). Checks that they fit together.
   */
  constructor(
    data: Tensor,
    batchSizes: ArrayLike<number>,
    sortedIndices: ArrayLike<number> | null = null,
    unsortedIndices: ArrayLike<number> | null = null,
  ) {
    const fail = (why: string): never => {
      throw new Error(`rnnkit: PackedSequence: ${why}`);
    };
    const bs = Array.from(batchSizes);
    if (bs.length === 0) fail("batchSizes is empty");
    bs.forEach((n, t) => {
      if (!Number.isInteger(n) || n < 1 || (t > 0 && n > bs[t - 1])) {
        fail(`batchSizes [${bs}] must be positive integers, non-increasing`);
      }
    });
    const rows = bs.reduce((a, b) => a + b, 0);
    if (data.shape.length < 1 || data.shape[0] !== rows) {
      fail(`data ${fmt(data.shape)} should have sum(batchSizes) = ${rows} rows`);
    }
    const perm = (name: string, p: ArrayLike<number>) => {
      const a = Array.from(p);
      const seen = new Set(a);
      const inRange = a.every((i) => Number.isInteger(i) && i >= 0 && i < a.length);
      if (a.length !== bs[0] || seen.size !== a.length || !inRange) {
        fail(`${name} [${a}] is not a permutation of the batch of ${bs[0]}`);
      }
      return Object.freeze(a);
    };
    if (sortedIndices === null && unsortedIndices !== null) {
      fail("unsortedIndices given without sortedIndices");
    }
    const sorted = sortedIndices === null ? null : perm("sortedIndices", sortedIndices);
    let unsorted = unsortedIndices === null ? null : perm("unsortedIndices", unsortedIndices);
    if (sorted) {
      const inverse = invert(sorted);
      if (unsorted && unsorted.some((j, b) => j !== inverse[b])) {
        fail(`unsortedIndices [${unsorted}] is not the inverse of sortedIndices [${sorted}]`);
      }
      unsorted ??= Object.freeze(inverse);
    }
    this.data = data;
    this.batchSizes = Object.freeze(bs);
    this.sortedIndices = sorted;
    this.unsortedIndices = unsorted;
  }
}

function invert(p: readonly number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((b, j) => (inv[b] = j));
  return inv;
}

/** Rows of `x` [rows, *] at host `index`, differentiable; a rank-1 x is a column. */
export function gatherRows(x: Tensor, index: ArrayLike<number>): Tensor {
  let identity = index.length === x.shape[0];
  for (let i = 0; identity && i < index.length; i++) identity = index[i] === i;
  if (identity) return x;
  const flat = x.shape.length === 1 ? reshape(x, [x.shape[0], 1]) : x;
  const idx = intTensor(Int32Array.from(index));
  const out = gather(flat, idx);
  // The gradient of a gather reads its indices; without one they can go now.
  if (!needsGrad([flat])) idx.dispose();
  return x.shape.length === 1 ? reshape(out, [index.length]) : out;
}

/** Lengths as host integers, each in [1, max], `batch` of them; errors name `fn`. */
function hostLengths(fn: string, lengths: Lengths, batch: number, max: number): number[] {
  let lens: number[];
  if (lengths instanceof Tensor) {
    if (!lengths.hostInts || lengths.shape.length !== 1) {
      throw new Error(
        `rnnkit: ${fn}(): lengths must be host integers (an array, or a 1-D intTensor), ` +
          `got a ${lengths.dtype} tensor ${fmt(lengths.shape)}`,
      );
    }
    lens = Array.from(lengths.hostInts);
  } else lens = Array.from(lengths);
  if (lens.length !== batch) {
    throw new Error(
      `rnnkit: ${fn}(): expected ${batch} lengths (the batch), got ${lens.length}: [${lens}]`,
    );
  }
  const bad = lens.findIndex((n) => !Number.isInteger(n) || n < 1 || n > max);
  if (bad >= 0) {
    throw new Error(
      `rnnkit: ${fn}(): lengths[${bad}] = ${lens[bad]}: every length must be an integer ` +
        `in [1, ${max}] (at least one step, at most the padded length)`,
    );
  }
  return lens;
}

/**
 * The batch order (longest first) and batch sizes of `lens`; checks the order when
 * `enforceSorted`. Ties keep the caller's order.
 */
function sortLengths(fn: string, lens: number[], enforceSorted: boolean) {
  let order: number[];
  if (enforceSorted) {
    const at = lens.findIndex((n, i) => i > 0 && n > lens[i - 1]);
    if (at >= 0) {
      throw new Error(
        `rnnkit: ${fn}(): lengths [${lens}] must be sorted longest first with ` +
          `enforceSorted: true (lengths[${at}] = ${lens[at]} > lengths[${at - 1}] = ` +
          `${lens[at - 1]}); pass { enforceSorted: false } to sort them here`,
      );
    }
    order = lens.map((_, i) => i);
  } else {
    order = lens.map((_, i) => i).sort((a, b) => lens[b] - lens[a] || a - b);
  }
  const max = lens[order[0]];
  const batchSizes: number[] = [];
  for (let t = 0; t < max; t++) {
    let n = 0;
    while (n < order.length && lens[order[n]] > t) n++;
    batchSizes.push(n);
  }
  return { order, batchSizes, sorted: enforceSorted ? null : order };
}

function checkFloat(fn: string, what: string, t: Tensor) {
  if (t.dtype !== "float32") {
    throw new Error(
      `rnnkit: ${fn}(): expected a float32 ${what}, got ${t.dtype} (for token indices, ` +
        "embed them first)",
    );
  }
}

/**
 * Packs a padded batch (PyTorch's `pack_padded_sequence`): `input` [seq, batch, *]
 * ([batch, seq, *] with `batchFirst`) holds `lengths[b]` valid steps of sequence b.
 * Returns a `PackedSequence` whose data is [sum(lengths), *]; the gradient flows back to
 * the valid steps of `input`.
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: Lengths,
  options: PackPaddedOptions = {},
): PackedSequence {
  const fn = "packPaddedSequence";
  const batchFirst = options.batchFirst ?? false;
  const s = input.shape;
  if (s.length < 2) {
    throw new Error(
      `rnnkit: ${fn}(): expected input ${batchFirst ? "[batch, seq, *]" : "[seq, batch, *]"}, got ${
        fmt(s)
      }`,
    );
  }
  checkFloat(fn, "input", input);
  const [seq, batch] = batchFirst ? [s[1], s[0]] : [s[0], s[1]];
  const lens = hostLengths(fn, lengths, batch, seq);
  const { order, batchSizes, sorted } = sortLengths(fn, lens, options.enforceSorted ?? true);
  const index: number[] = [];
  batchSizes.forEach((n, t) => {
    for (let j = 0; j < n; j++) index.push(batchFirst ? order[j] * seq + t : t * batch + order[j]);
  });
  const data = gatherRows(reshape(input, [seq * batch, ...s.slice(2)]), index);
  return new PackedSequence(data, batchSizes, sorted);
}

/**
 * Pads a packed batch back (PyTorch's `pad_packed_sequence`): returns [padded, lengths],
 * padded [seq, batch, *] ([batch, seq, *] with `batchFirst`) and lengths a host array,
 * both in the caller's order (the order before `enforceSorted: false` sorted it).
 */
export function padPackedSequence(
  sequence: PackedSequence,
  options: PadPackedOptions = {},
): [Tensor, number[]] {
  const fn = "padPackedSequence";
  const bs = sequence.batchSizes;
  const batch = bs[0];
  const longest = bs.length;
  const seq = options.totalLength ?? longest;
  if (!Number.isInteger(seq) || seq < longest) {
    throw new Error(
      `rnnkit: ${fn}(): totalLength must be an integer at least the length of the longest ` +
        `sequence, ${longest}; got ${options.totalLength}`,
    );
  }
  const offsets = [0];
  for (const n of bs) offsets.push(offsets.at(-1)! + n);
  const sortedLens = Array.from({ length: batch }, (_, j) => bs.filter((n) => n > j).length);
  const unsorted = sequence.unsortedIndices ?? sortedLens.map((_, j) => j);
  const data = sequence.data;
  const pad = data.shape[0];
  const at = (t: number, b: number) => {
    const j = unsorted[b];
    return t < sortedLens[j] ? offsets[t] + j : pad;
  };
  const index: number[] = [];
  if (options.batchFirst) {
    for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) index.push(at(t, b));
  } else {
    for (let t = 0; t < seq; t++) for (let b = 0; b < batch; b++) index.push(at(t, b));
  }
  const rest = data.shape.slice(1);
  const src = index.includes(pad)
    ? concat([data, full([1, ...rest], options.paddingValue ?? 0)], 0)
    : data;
  const padded = reshape(
    gatherRows(src, index),
    options.batchFirst ? [batch, seq, ...rest] : [seq, batch, ...rest],
  );
  return [padded, unsorted.map((j) => sortedLens[j])];
}

/** Checks a list of sequences [L_i, *] with the same trailing shape; returns the lengths. */
function sequenceLengths(fn: string, sequences: readonly Tensor[]): number[] {
  if (sequences.length === 0) throw new Error(`rnnkit: ${fn}(): no sequences given`);
  const rest = sequences[0].shape.slice(1);
  sequences.forEach((x, i) => {
    if (x.shape.length < 1 || x.shape.slice(1).join() !== rest.join()) {
      throw new Error(
        `rnnkit: ${fn}(): sequences[${i}] is ${fmt(x.shape)}; every sequence must be ` +
          `[length, *] with the trailing shape of sequences[0] ${fmt(sequences[0].shape)}`,
      );
    }
    checkFloat(fn, `sequences[${i}]`, x);
  });
  return sequences.map((x) => x.shape[0]);
}

/**
 * Pads a list of sequences [L_i, *] to the longest (PyTorch's `pad_sequence`): returns
 * [max L_i, batch, *] ([batch, max L_i, *] with `batchFirst`), steps past each length set
 * to `paddingValue`. Differentiable with respect to every sequence.
 */
export function padSequence(
  sequences: readonly Tensor[],
  options: PadSequenceOptions = {},
): Tensor {
  const fn = "padSequence";
  const lens = sequenceLengths(fn, sequences);
  const seq = Math.max(...lens);
  if (seq === 0) throw new Error(`rnnkit: ${fn}(): every sequence is empty`);
  const rest = sequences[0].shape.slice(1);
  const starts = [0];
  for (const n of lens) starts.push(starts.at(-1)! + n);
  const pad = starts.at(-1)!;
  const at = (t: number, b: number) => (t < lens[b] ? starts[b] + t : pad);
  const index: number[] = [];
  const batch = sequences.length;
  if (options.batchFirst) {
    for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) index.push(at(t, b));
  } else {
    for (let t = 0; t < seq; t++) for (let b = 0; b < batch; b++) index.push(at(t, b));
  }
  const pieces = sequences.filter((x) => x.shape[0] > 0);
  if (index.includes(pad)) pieces.push(full([1, ...rest], options.paddingValue ?? 0));
  return reshape(
    gatherRows(concat(pieces, 0), index),
    options.batchFirst ? [batch, seq, ...rest] : [seq, batch, ...rest],
  );
}

/**
 * Packs a list of sequences [L_i, *] (PyTorch's `pack_sequence`): the same as
 * `packPaddedSequence(padSequence(sequences), lengths)`, in one gather.
 */
export function packSequence(
  sequences: readonly Tensor[],
  options: PackSequenceOptions = {},
): PackedSequence {
  const fn = "packSequence";
  const lens = sequenceLengths(fn, sequences);
  hostLengths(fn, lens, lens.length, Math.max(...lens));
  const { order, batchSizes, sorted } = sortLengths(fn, lens, options.enforceSorted ?? true);
  const starts = [0];
  for (const n of lens) starts.push(starts.at(-1)! + n);
  const index: number[] = [];
  batchSizes.forEach((n, t) => {
    for (let j = 0; j < n; j++) index.push(starts[order[j]] + t);
  });
  return new PackedSequence(gatherRows(concat(sequences, 0), index), batchSizes, sorted);
}
