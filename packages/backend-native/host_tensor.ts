/**
 * Tensors in host memory: a row-major typed array with a shape. Buffers are shared between
 * a tensor and its reshapes (no op modifies its inputs, so sharing is safe) and go back to
 * a pool when the last handle on them is disposed, so a training step that makes the same
 * tensors every time allocates nothing after the first step.
 */
import type { DType, Handle } from "@rnnkit/core/backend";

export type Values = Float32Array | Int32Array;

interface Store {
  data: Values;
  refs: number;
}

export interface HostTensor {
  readonly store: Store;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Set by dispose; a second dispose of the same handle does nothing (as in tfjs). */
  freed?: boolean;
}

/** A float32 host tensor. */
export type FloatTensor = HostTensor & { readonly store: { data: Float32Array } };

export const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Row-major strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Freed buffers kept for reuse, at most this many bytes (beyond, they go to the GC). */
const POOL_BYTES = 256 * 2 ** 20;

/** Allocates, shares and frees host tensors and counts what is live. */
export class HostMemory {
  #free = new Map<number, Float32Array[]>();
  #pooled = 0;
  #tensors = 0;
  #bytes = 0;

  /** A float32 tensor with unspecified contents (callers overwrite every element). */
  float(shape: readonly number[]): FloatTensor {
    const n = sizeOf(shape);
    const reused = this.#free.get(n)?.pop();
    if (reused) this.#pooled -= reused.byteLength;
    const data = reused ?? new Float32Array(n);
    return this.#wrap(data, shape, "float32") as FloatTensor;
  }

  /** A tensor of `dtype` holding `data` (taken over, not copied). */
  adopt(data: Values, shape: readonly number[], dtype: DType): HostTensor {
    return this.#wrap(data, shape, dtype);
  }

  /** A new handle on the same values with another shape. */
  view(x: HostTensor, shape: readonly number[]): HostTensor {
    x.store.refs++;
    this.#tensors++;
    return { store: x.store, shape, dtype: x.dtype };
  }

  dispose(x: HostTensor): void {
    if (x.freed) return;
    x.freed = true;
    this.#tensors--;
    if (--x.store.refs > 0) return;
    this.#bytes -= x.store.data.byteLength;
    const data = x.store.data;
    if (!(data instanceof Float32Array) || this.#pooled + data.byteLength > POOL_BYTES) return;
    this.#pooled += data.byteLength;
    const list = this.#free.get(data.length);
    if (list) list.push(data);
    else this.#free.set(data.length, [data]);
  }

  memory(): { numTensors: number; numBytes: number } {
    return { numTensors: this.#tensors, numBytes: this.#bytes };
  }

  #wrap(data: Values, shape: readonly number[], dtype: DType): HostTensor {
    this.#tensors++;
    this.#bytes += data.byteLength;
    return { store: { data, refs: 1 }, shape, dtype };
  }
}

export const T = (h: Handle) => h as unknown as HostTensor;
export const H = (t: HostTensor) => t as unknown as Handle;
/** The float32 values of a handle. */
export const F = (h: Handle) => T(h).store.data as Float32Array;
