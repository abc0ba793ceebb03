/**
 * A seeded random generator (xoshiro128**, seeded through splitmix32), so that the same
 * seed gives the same initial weights, dropout masks and batches on every backend.
 */
export class Random {
  #s: Uint32Array;

  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`rnnkit: seed must be an integer, got ${seed}`);
    }
    this.#s = new Uint32Array(4);
    let x = seed >>> 0 ^ Math.floor(seed / 2 ** 32);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `n` values uniform in [low, high). */
  uniform(n: number, low: number, high: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  /** `n` values from N(mean, std^2) (Box-Muller). */
  normal(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.next()));
      const theta = 2 * Math.PI * this.next();
      out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
    }
    return out;
  }

  /** The generator's state, for checkpoints that resume exactly. */
  getState(): number[] {
    return Array.from(this.#s);
  }

  setState(state: readonly number[]): void {
    this.#s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let defaultRandom = new Random(0);

/** Reseeds the generator modules use when none is passed (PyTorch's `manual_seed`). */
export function manualSeed(seed: number): void {
  defaultRandom = new Random(seed);
}

/** The generator modules use when none is passed. */
export function globalRandom(): Random {
  return defaultRandom;
}
