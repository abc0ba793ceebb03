/**
 * Matrix product on host memory in plain TypeScript, for tfjs's CPU backend: its own
 * MatMul runs at 1-1.6 GFLOPS here; this one at 4.8 (measured on the benchmark's
 * shapes), because each row of b it loads feeds four rows of the result.
 */

/** A product into c [m, n] (overwritten) of row-major a and b with inner size k. */
type Product = (
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  m: number,
  n: number,
  k: number,
) => void;

/** c[m, n] = a[m, k] @ b[k, n]. */
export const hostMatmul: Product = (a, b, c, m, n, k) => {
  c.fill(0);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const [c0, c1, c2, c3] = [i * n, (i + 1) * n, (i + 2) * n, (i + 3) * n];
    for (let p = 0; p < k; p++) {
      const a0 = a[i * k + p];
      const a1 = a[(i + 1) * k + p];
      const a2 = a[(i + 2) * k + p];
      const a3 = a[(i + 3) * k + p];
      for (let j = 0, bp = p * n; j < n; j++) {
        const bv = b[bp + j];
        c[c0 + j] += a0 * bv;
        c[c1 + j] += a1 * bv;
        c[c2 + j] += a2 * bv;
        c[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0, bp = p * n, cp = i * n; j < n; j++) c[cp + j] += av * b[bp + j];
    }
  }
};

/**
 * c[m, n] = a[m, k] @ b[n, k]^T as dot products of rows, for a few rows of a (generation):
 * cheaper than transposing b for hostMatmul when b is reused only m times.
 */
export const hostMatmulRowsByRows: Product = (a, b, c, m, n, k) => {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0, ap = i * k, bp = j * k; p < k; p++) sum += a[ap + p] * b[bp + p];
      c[i * n + j] = sum;
    }
  }
};

/** The [cols, rows] transpose of a row-major [rows, cols] matrix. */
export function hostTranspose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  }
  return out;
}
