/**
 * A seeded generator that reproduces PyTorch's CPU generator (torch 1.13, x86-64 with AVX2)
 * bit for bit: after `manualSeed(s)`, building modules in the same order as PyTorch after
 * `torch.manual_seed(s)` gives the very same float32 initial weights.
 *
 * It mirrors ATen's `CPUGeneratorImpl`: an mt19937 engine seeded with the low 32 bits of the
 * seed, plus the cached second Box-Muller value of `at::normal_distribution<double>`.
 * Checked against torch by tests/unit/random_test.ts (fixtures: tests/fixtures/random_gen.py).
 */

const N = 624; // mt19937 state size
const M = 397; // mt19937 shift size

/**
 * A seeded generator, bit for bit PyTorch's CPU generator (torch 1.13, x86-64 with AVX2).
 * Pass one as `rng` to a module, `Dropout` or `generate` to keep its draws apart from the
 * global generator's (`manualSeed`, `globalRandom`).
 */
export class Random {
  #mt = new Uint32Array(N);
  #next = N; // index of the next state word to temper; N means "twist first"
  // CPUGeneratorImpl::next_double_normal_sample_: the sin() half of the last Box-Muller pair.
  #cachedNormal: number | null = null;

  /**
   * A generator in the state of `torch.Generator().manual_seed(seed)`: `seed` is an integer
   * of which only the low 32 bits count (negative seeds wrap, as in torch). Default 0.
   */
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`rnnkit: seed must be an integer, got ${seed}`);
    }
    // at::mt19937(uint64_t seed) keeps only `seed & 0xffffffff` (init_genrand); negative
    // seeds wrap like the uint64 cast in torch.manual_seed.
    const mt = this.#mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const x = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = Math.imul(1812433253, x) + i;
    }
  }

  /** A uniform 32-bit unsigned integer: `CPUGeneratorImpl::random()` (one mt19937 output). */
  nextUint32(): number {
    if (this.#next >= N) this.#twist();
    let y = this.#mt[this.#next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * Uniform in [0, 1) with 53 random bits, as ATen's `uniform_real_distribution<double>`
   * draws it (`random64()`: first output in the high word).
   */
  next(): number {
    const hi = this.nextUint32();
    const lo = this.nextUint32();
    // (random64 & (2^53 - 1)) * 2^-53: the low 21 bits of `hi` and all of `lo`.
    return ((hi & 0x1fffff) * 2 ** 32 + lo) * 2 ** -53;
  }

  /** Uniform integer in [0, n) (batch sampling; no torch counterpart). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `n` float32 values uniform in [low, high): `torch.empty(n).uniform_(low, high)`. */
  uniform(n: number, low: number, high: number): Float32Array {
    // uniform_kernel casts the bounds to float, and transformation::uniform_real<float>
    // computes `x * (to - from) + from` in float, contracted to one fma by the AVX2 build.
    const from = Math.fround(low);
    const range = Math.fround(Math.fround(high) - from);
    const out = allocate(n);
    for (let i = 0; i < n; i++) out[i] = fmaf(this.#uniform24(), range, from);
    return out;
  }

  /**
   * `n` float32 values from N(mean, std^2), default N(0, 1):
   * `torch.empty(n).normal_(mean, std)`.
   */
  normal(n: number, mean = 0, std = 1): Float32Array {
    const out = allocate(n);
    if (n >= 16) {
      this.#normalFill(out, Math.fround(mean), Math.fround(std));
    } else {
      for (let i = 0; i < n; i++) out[i] = this.#normalDouble(mean, std);
    }
    return out;
  }

  /**
   * The generator's full state as plain numbers, for JSON checkpoints: the 624 mt19937 words,
   * the next word's index, then 1 and the cached normal value (or 0 and 0 when none is cached).
   */
  getState(): number[] {
    const cached = this.#cachedNormal;
    return [...this.#mt, this.#next, cached === null ? 0 : 1, cached ?? 0];
  }

  /** Restores a state returned by `getState()`; an error for anything else. */
  setState(state: readonly number[]): void {
    if (state.length !== N + 3 || !(state[N] >= 0 && state[N] <= N)) {
      throw new Error(`rnnkit: not a generator state (expected ${N + 3} numbers)`);
    }
    this.#mt.set(state.slice(0, N));
    this.#next = state[N];
    this.#cachedNormal = state[N + 1] ? state[N + 2] : null;
  }

  /** at::mt19937::next_state(): regenerates the 624 state words. */
  #twist(): void {
    const mt = this.#mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#next = 0;
  }

  /** uniform_real_distribution<float>(0, 1): `(random() & (2^24 - 1)) * 2^-24`. */
  #uniform24(): number {
    return (this.nextUint32() & 0xffffff) * 2 ** -24;
  }

  /**
   * One value of at::normal_distribution<double> (normal_kernel for fewer than 16 values):
   * Box-Muller in float64 on two 53-bit uniforms, keeping the sin() half for the next call.
   */
  #normalDouble(mean: number, std: number): number {
    let z = this.#cachedNormal;
    if (z !== null) {
      this.#cachedNormal = null;
    } else {
      const u1 = this.next();
      const u2 = this.next();
      const r = Math.sqrt(-2 * Math.log(1 - u2));
      const theta = 2 * Math.PI * u1;
      this.#cachedNormal = r * Math.sin(theta);
      z = r * Math.cos(theta);
    }
    return z * std + mean;
  }

  /**
   * normal_fill_AVX2 (normal_kernel for 16+ contiguous floats): fill with float uniforms, then
   * Box-Muller on each block of 16 (u1 = 1 - data[j], u2 = data[j + 8]); a ragged end draws
   * 16 fresh uniforms over the last 16 slots and transforms those.
   */
  #normalFill(out: Float32Array, mean: number, std: number): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = this.#uniform24();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i, mean, std);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) out[i] = this.#uniform24();
      boxMuller16(out, n - 16, mean, std);
    }
  }
}

const TWO_PI_F = Math.fround(2 * Math.PI);

/** normal_fill_16_AVX2: float32 Box-Muller with avx_mathfun's log256_ps / sincos256_ps. */
function boxMuller16(data: Float32Array, at: number, mean: number, std: number): void {
  for (let j = at; j < at + 8; j++) {
    const u1 = Math.fround(1 - data[j]);
    const u2 = data[j + 8];
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * logf(u1))));
    const [sin, cos] = sincosf(Math.fround(TWO_PI_F * u2));
    // _mm256_fmadd_ps(n, std, mean)
    data[j] = fmaf(Math.fround(radius * cos), std, mean);
    data[j + 8] = fmaf(Math.fround(radius * sin), std, mean);
  }
}

// ---- float32 helpers -------------------------------------------------------------------------

/** `n` float32 values, or an error that says how much memory they would take. */
function allocate(n: number): Float32Array {
  try {
    return new Float32Array(n);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const gib = (4 * n) / 2 ** 30;
    throw new RangeError(
      `rnnkit: cannot allocate ${n.toExponential(2)} float32 values ` +
        `(${
          gib < 1 ? gib.toPrecision(2) : Math.round(gib).toLocaleString("en-US")
        } GiB): ${e.message}`,
    );
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * fmaf(a, b, c) for float32 a, b, c: `a * b + c` rounded once to float32. ATen's AVX2 kernels
 * are built with -mfma and GCC's default -ffp-contract=fast, so most `a * b + c` there are one
 * fma; which ones was pinned down against torch's output (millions of values, bit for bit).
 */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in 53 bits
  const s = p + c;
  const f = Math.fround(s);
  if (f === s) return f;
  // s itself may be rounded (TwoSum error e); that only matters when s lands exactly halfway
  // between two floats, where the sign of e decides the direction.
  const t = s - p;
  const e = (p - (s - t)) + (c - t);
  if (e === 0) return f;
  const d = s - f; // exact (Sterbenz)
  const other = f + 2 * d;
  if (Math.fround(other) !== other) return f; // not a halfway case
  return (e > 0) === (d > 0) ? other : f;
}

// Cephes constants of avx_mathfun.h (aten/src/ATen/native/cpu/avx_mathfun.h), as floats.
const fr = Math.fround;
const SQRTHF = fr(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2,
  -1.1514610310e-1,
  1.1676998740e-1,
  -1.2420140846e-1,
  1.4249322787e-1,
  -1.6668057665e-1,
  2.0000714765e-1,
  -2.4999993993e-1,
  3.3333331174e-1,
].map(fr);
const LOG_Q1 = fr(-2.12194440e-4);
const LOG_Q2 = fr(0.693359375);

/** log256_ps for one lane (x > 0, normal). */
function logf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  let e = fr((bits >>> 23) - 127 + 1);
  u32[0] = (bits & ~0x7f800000) | 0x3f000000; // mantissa in [0.5, 1)
  let m = f32[0];
  if (m < SQRTHF) {
    e = fr(e - 1);
    m = fr(fr(m - 1) + m);
  } else {
    m = fr(m - 1);
  }
  const z = fr(m * m);
  let y = LOG_P[0];
  for (let i = 1; i < LOG_P.length; i++) y = fmaf(y, m, LOG_P[i]);
  y = fr(y * m);
  y = fmaf(y, z, fr(e * LOG_Q1)); // GCC fuses `y * z` (not `e * q1`) into the add
  y = fr(y - fr(z * 0.5));
  return fmaf(e, LOG_Q2, fr(m + y));
}

const FOPI = fr(1.27323954473516);
const DP1 = fr(-0.78515625);
const DP2 = fr(-2.4187564849853515625e-4);
const DP3 = fr(-3.77489497744594108e-8);
const SINCOF = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fr);
const COSCOF = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fr);

/** sincos256_ps for one lane (x >= 0, as theta = 2 pi u2 is here): [sin x, cos x]. */
function sincosf(x: number): [number, number] {
  // j = (int(x * 4/pi) + 1) & ~1; reduce x by j * pi/4 in three parts (Cody-Waite).
  const j = (Math.trunc(fr(x * FOPI)) + 1) & ~1;
  x = fmaf(j, DP1, x);
  x = fmaf(j, DP2, x);
  x = fmaf(j, DP3, x);
  const z = fr(x * x);
  let c = COSCOF[0];
  c = fmaf(c, z, COSCOF[1]);
  c = fmaf(c, z, COSCOF[2]);
  c = fr(c * z);
  c = fmaf(c, z, -fr(z * 0.5)); // again the second `c * z` is fused with `- z * 0.5`
  c = fr(c + 1);
  let s = SINCOF[0];
  s = fmaf(s, z, SINCOF[1]);
  s = fmaf(s, z, SINCOF[2]);
  s = fr(s * z);
  s = fmaf(s, x, x);
  // Polynomial choice and signs, from bits 1 and 2 of j (sin of |x|; x >= 0 here).
  const swap = (j & 2) !== 0;
  const sinNeg = (j & 4) !== 0;
  const cosNeg = ((j - 2) & 4) === 0;
  const sin = swap ? c : s;
  const cos = swap ? s : c;
  return [sinNeg ? -sin : sin, cosNeg ? -cos : cos];
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
