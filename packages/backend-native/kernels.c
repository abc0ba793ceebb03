/*
 * rnnkit's native kernels: the arithmetic of the "native" backend. TypeScript keeps the
 * bookkeeping (shapes, memory, data movement) and OpenBLAS does the matrix products; these
 * loops do everything elementwise. They are plain C that the compiler vectorises
 * (build.ts: -O3 -march=native -fno-trapping-math, no -ffast-math, so NaN and infinity
 * behave as in PyTorch). Every array is float32, row-major, and never aliased between input
 * and output. The callers' sizes, ranks and pointers are checked in TypeScript
 * (kernels.ts) before every call: these loops trust them.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * exp, tanh and sigmoid are computed in double and rounded once to float32, so each is the
 * correctly rounded value but for inputs within ~1e-14 (relative) of a rounding midpoint:
 * bounded (|tanh| <= 1, 0 <= sigmoid <= 1), monotone and within half an ulp. Measured over
 * every float32 in [-110, 100] (each op through rk_unary, the vectorised loop, against
 * glibc's double tanh/exp; the sigmoid reference is 1/(1 + exp(-x)) in double):
 *   exp      relative error <= 5.96e-8 (2^-24) wherever the result is a normal float32;
 *   tanh     absolute error <= 2.98e-8 (2^-25);
 *   sigmoid  absolute error <= 2.98e-8, relative error <= 5.96e-8 wherever the true value
 *            is above 1e-30 (below, float32 is denormal and only the absolute bound holds);
 * no output out of range, no decreasing step between consecutive inputs. NaN gives NaN,
 * tanh keeps the sign of zero, and exp overflows to infinity above 88.72 and underflows
 * to 0 below -103.97, as expf does. The price of double: ~1.2 ns a value on one AVX-512
 * core, 3x the float32 rational fit it replaces (whose tanh reached 1.00000024 near +-9
 * and whose sigmoid went negative below -17.9).
 */

/* e^d = 2^k (1 + p) for d = k ln2 + r, |r| <= ln2/2, where p = e^r - 1 is the Taylor
 * polynomial of degree 11 (truncation below 2e-14 relative); returns p and stores 2^k.
 * k is rounded with the 1.5 * 2^52 trick and 2^k built from its bits, integer ops only, so
 * that loops over it vectorise (libm's exp and nearbyint do not). For |d| <= 700. */
static inline double rk_exp_parts(double d, double *scale) {
  const double shift = 0x1.8p52;
  double kk = d * 1.4426950408889634 + shift;
  double k = kk - shift;
  double r = d - k * 0.6931471805599453;
  double p = r * (1 + r * (1. / 2 + r * (1. / 6 + r * (1. / 24 + r * (1. / 120 +
             r * (1. / 720 + r * (1. / 5040 + r * (1. / 40320 + r * (1. / 362880 +
             r * (1. / 3628800 + r * (1. / 39916800)))))))))));
  int64_t bits;
  memcpy(&bits, &kk, sizeof bits);
  bits = (bits + 1023) << 52; /* kk's low mantissa bits hold k in two's complement */
  memcpy(scale, &bits, sizeof bits);
  return p;
}

static inline float rk_exp(float x) {
  double d = x < -104.f ? -104.0 : (x > 89.f ? 89.0 : (double)x);
  double scale, p = rk_exp_parts(d, &scale);
  float y = (float)(scale + scale * p);
  return x != x ? x : y;
}

/* tanh |x| = m / (m + 2) for m = e^(2|x|) - 1 = 2^k p + (2^k - 1), without cancellation
 * near 0 (k = 0: m = p). Beyond |x| = 10 tanh is +-1 in float32. */
static inline float rk_tanh(float x) {
  double a = fabs((double)x);
  a = a > 10. ? 10. : a;
  double scale, p = rk_exp_parts(2 * a, &scale);
  double m = scale * p + (scale - 1);
  return (float)copysign(m / (m + 2), (double)x);
}

/* 1 / (1 + e^-x): in double, e^-x keeps its relative accuracy for large negative x (no
 * 1 - tiny cancellation), and the result is never negative. Beyond |x| = 120 it is 0 or 1
 * in float32. */
static inline float rk_sigmoid(float x) {
  double d = x < -120.f ? 120.0 : (x > 120.f ? -120.0 : -(double)x);
  double scale, p = rk_exp_parts(d, &scale);
  return (float)(1 / (1 + (scale + scale * p)));
}

enum { NEG, EXP, LOG, SQRT, TANH, SIGMOID, RELU, STEP, ERF };

void rk_unary(int op, const float *x, float *o, int n) {
  switch (op) {
    case NEG: for (int i = 0; i < n; i++) o[i] = -x[i]; break;
    case EXP: for (int i = 0; i < n; i++) o[i] = rk_exp(x[i]); break;
    case LOG: for (int i = 0; i < n; i++) o[i] = logf(x[i]); break;
    case SQRT: for (int i = 0; i < n; i++) o[i] = sqrtf(x[i]); break;
    case TANH: for (int i = 0; i < n; i++) o[i] = rk_tanh(x[i]); break;
    case SIGMOID: for (int i = 0; i < n; i++) o[i] = rk_sigmoid(x[i]); break;
    case RELU: for (int i = 0; i < n; i++) o[i] = x[i] > 0.f ? x[i] : 0.f; break;
    case STEP: for (int i = 0; i < n; i++) o[i] = x[i] > 0.f ? 1.f : 0.f; break;
    case ERF: for (int i = 0; i < n; i++) o[i] = erff(x[i]); break; /* libm: within 1 ulp */
  }
}

/* o[i] = c[i] != 0 ? a[i] : b[i] for i < n; an operand with step 0 is one value broadcast
 * (a scalar), step 1 holds n values. NaN in c counts as nonzero (true), as in PyTorch's
 * float-to-bool conversion. */
void rk_where(const float *c, int c_step, const float *a, int a_step, const float *b,
              int b_step, float *o, int n) {
  for (int i = 0; i < n; i++) o[i] = c[i * c_step] != 0.f ? a[i * a_step] : b[i * b_step];
}

/* out[r, j] = index of the maximum of x[r, :, j] for x [outer, n, inner] (n >= 1): the
 * first one among ties, and the first NaN if there is one, as PyTorch's argmax. */
void rk_argmax(const float *x, int outer, int n, int inner, int32_t *out) {
  for (int64_t r = 0; r < outer; r++) {
    const float *block = x + r * n * (int64_t)inner;
    for (int j = 0; j < inner; j++) {
      float best = block[j];
      int at = 0;
      for (int k = 1; k < n && best == best; k++) {
        float v = block[(int64_t)k * inner + j];
        if (v > best || v != v) best = v, at = k;
      }
      out[r * inner + j] = at;
    }
  }
}

void rk_scale(const float *x, float s, float *o, int n) {
  for (int i = 0; i < n; i++) o[i] = x[i] * s;
}

enum { ADD, SUB, MUL, DIV };

/* o[r, j] = a[r, j] op b[...] over rows of `cols`, for the three layouts of b that need no
 * copy: the same shape (b_row = cols), repeated along rows (a bias: b_row = 0) or one value
 * per row (b_row = 1, b_col = 0). */
#define BINARY_LOOPS(OP)                                                              \
  if (b_row == cols && b_col == 1) {                                                  \
    for (int i = 0; i < n; i++) o[i] = a[i] OP b[i];                                  \
  } else if (b_row == 0) {                                                            \
    for (int r = 0; r < n; r += cols)                                                 \
      for (int j = 0; j < cols; j++) o[r + j] = a[r + j] OP b[j];                     \
  } else {                                                                            \
    for (int r = 0, k = 0; r < n; r += cols, k++)                                     \
      for (int j = 0; j < cols; j++) o[r + j] = a[r + j] OP b[k];                     \
  }

void rk_binary(int op, const float *a, const float *b, float *o, int n, int cols, int b_row,
               int b_col) {
  switch (op) {
    case ADD: BINARY_LOOPS(+); break;
    case SUB: BINARY_LOOPS(-); break;
    case MUL: BINARY_LOOPS(*); break;
    case DIV: BINARY_LOOPS(/); break;
  }
}

enum { SUM, MAX };

/* o[r] = sum or max of x[r, :] for x [rows, width]; sums accumulate in double. */
void rk_reduce_rows(int op, const float *x, int rows, int width, float *o) {
  for (int r = 0; r < rows; r++) {
    const float *row = x + (int64_t)r * width;
    if (op == SUM) {
      double acc = 0;
      for (int j = 0; j < width; j++) acc += row[j];
      o[r] = (float)acc;
    } else {
      float acc = -INFINITY;
      for (int j = 0; j < width; j++) acc = row[j] > acc || row[j] != row[j] ? row[j] : acc;
      o[r] = acc;
    }
  }
}

/* o[c] = sum or max of x[:, c] for x [rows, cols]; `acc` is scratch of cols doubles. */
void rk_reduce_cols(int op, const float *x, int rows, int cols, double *acc, float *o) {
  for (int c = 0; c < cols; c++) acc[c] = op == SUM ? 0 : -INFINITY;
  for (int r = 0; r < rows; r++) {
    const float *row = x + (int64_t)r * cols;
    if (op == SUM)
      for (int c = 0; c < cols; c++) acc[c] += row[c];
    else
      for (int c = 0; c < cols; c++) acc[c] = row[c] > acc[c] || row[c] != row[c] ? row[c] : acc[c];
  }
  for (int c = 0; c < cols; c++) o[c] = (float)acc[c];
}

/* One Adam step, PyTorch's formula: see AdamArgs in core's backend.ts. */
void rk_adam(const float *p, const float *g, const float *m, const float *v, float *p_out,
             float *m_out, float *v_out, int n, float beta1, float beta2, float eps,
             float step_size, float inv_bias2_sqrt) {
  for (int i = 0; i < n; i++) {
    float mi = beta1 * m[i] + (1 - beta1) * g[i];
    float vi = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[i] - step_size * (mi / (sqrtf(vi) * inv_bias2_sqrt + eps));
  }
}

enum { RNN_TANH, RNN_RELU, LSTM, GRU };

/* One batch row of each mode's forward gate math. `bias` is a constant at each call, so
 * each is compiled (and vectorised) twice, with and without b_hh, and no per-element test;
 * `restrict`: nothing here is aliased. */
#define ROW static inline __attribute__((always_inline)) void

ROW rnn_row(int relu, int bias, int n, const float *restrict x, const float *restrict p,
            const float *restrict b_hh, float *restrict out) {
  for (int j = 0; j < n; j++) {
    float v = x[j] + p[j] + (bias ? b_hh[j] : 0.f);
    out[j] = relu ? (v > 0.f ? v : 0.f) : rk_tanh(v);
  }
}

/* s0..s5: the six column blocks of saved's row, as separate pointers so that the compiler
 * knows they do not overlap (with offsets of n from one pointer it cannot vectorise). */
ROW lstm_row(int bias, int n, const float *restrict x, const float *restrict p,
             const float *restrict b_hh, float *restrict c, float *restrict s0,
             float *restrict s1, float *restrict s2, float *restrict s3, float *restrict s4,
             float *restrict s5, float *restrict out) {
  for (int j = 0; j < n; j++) {
    float bi = bias ? b_hh[j] : 0.f, bf = bias ? b_hh[n + j] : 0.f;
    float bg = bias ? b_hh[2 * n + j] : 0.f, bo = bias ? b_hh[3 * n + j] : 0.f;
    float i = rk_sigmoid(x[j] + p[j] + bi);
    float f = rk_sigmoid(x[n + j] + p[n + j] + bf);
    float g = rk_tanh(x[2 * n + j] + p[2 * n + j] + bg);
    float o = rk_sigmoid(x[3 * n + j] + p[3 * n + j] + bo);
    float cn = f * c[j] + i * g;
    float tc = rk_tanh(cn);
    s0[j] = i, s1[j] = f, s2[j] = g, s3[j] = o, s4[j] = cn, s5[j] = tc;
    c[j] = cn;
    out[j] = o * tc;
  }
}

ROW gru_row(int bias, int n, const float *restrict x, const float *restrict p,
            const float *restrict b_hh, const float *restrict h, float *restrict s,
            float *restrict out) {
  for (int j = 0; j < n; j++) {
    float br = bias ? b_hh[j] : 0.f, bz = bias ? b_hh[n + j] : 0.f;
    float bn = bias ? b_hh[2 * n + j] : 0.f;
    float r = rk_sigmoid(x[j] + p[j] + br);
    float z = rk_sigmoid(x[n + j] + p[n + j] + bz);
    float hn = p[2 * n + j] + bn;
    float nn = rk_tanh(x[2 * n + j] + r * hn);
    s[j] = r, s[n + j] = z, s[2 * n + j] = nn, s[3 * n + j] = hn;
    out[j] = nn + z * (h[j] - nn);
  }
}

/*
 * The gate math of one time step for every batch row, from the projections
 * xp = x W_ih^T + b_ih and hp = h W_hh^T (b_hh added here; null without biases), both
 * [batch, gates*n]. Writes h_next [batch, n] and, per row, what the backward needs into
 * `saved` [batch, S*n]: LSTM [i, f, g, o, c, tanh c] (S = 6), GRU [r, z, n, hn] (S = 4,
 * hn = W_hn h + b_hn), RNN nothing. LSTM reads and updates c [batch, n] in place.
 */
static void rk_recurrent_forward(int mode, int batch, int n, const float *xp, const float *hp,
                          const float *b_hh, const float *h, float *c, float *saved,
                          float *h_next) {
  for (int b = 0; b < batch; b++) {
    const float *x = xp + (int64_t)b * (mode == LSTM ? 4 : mode == GRU ? 3 : 1) * n;
    const float *p = hp + (x - xp);
    float *out = h_next + (int64_t)b * n;
    switch (mode) {
      case RNN_TANH:
        if (b_hh) rnn_row(0, 1, n, x, p, b_hh, out);
        else rnn_row(0, 0, n, x, p, b_hh, out);
        break;
      case RNN_RELU:
        if (b_hh) rnn_row(1, 1, n, x, p, b_hh, out);
        else rnn_row(1, 0, n, x, p, b_hh, out);
        break;
      case LSTM: {
        float *s = saved + (int64_t)b * 6 * n, *cb = c + (int64_t)b * n;
#define LSTM_ROW(bias) \
  lstm_row(bias, n, x, p, b_hh, cb, s, s + n, s + 2 * n, s + 3 * n, s + 4 * n, s + 5 * n, out)
        if (b_hh) LSTM_ROW(1);
        else LSTM_ROW(0);
#undef LSTM_ROW
        break;
      }
      case GRU: {
        float *s = saved + (int64_t)b * 4 * n;
        const float *hb = h + (int64_t)b * n;
        if (b_hh) gru_row(1, n, x, p, b_hh, hb, s, out);
        else gru_row(0, n, x, p, b_hh, hb, s, out);
        break;
      }
    }
  }
}

/* Eight floats in a vector register (GCC and Clang vector extensions); loads go through
 * memcpy, which compiles to one unaligned load. */
typedef float rk_v8 __attribute__((vector_size(32)));

static inline rk_v8 rk_load8(const float *p) {
  rk_v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline float rk_sum8(rk_v8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* y[i] = w[i, :] . x for the R (1 or 4) rows of w [R, n] (row stride `stride`), plus
 * bias[i] if given. Four rows at once keep four sums in flight (one would wait on each
 * multiply-add's latency) and load each block of x once. */
static inline __attribute__((always_inline)) void rk_rows_dot(int R, const float *restrict w,
                                                               int64_t stride,
                                                               const float *restrict x, int n,
                                                               const float *bias,
                                                               float *restrict y) {
  rk_v8 acc[4] = {{0}, {0}, {0}, {0}};
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    rk_v8 xv = rk_load8(x + k);
    for (int i = 0; i < R; i++) acc[i] += rk_load8(w + i * stride + k) * xv;
  }
  for (int i = 0; i < R; i++) {
    float s = rk_sum8(acc[i]);
    for (int j = k; j < n; j++) s += w[i * stride + j] * x[j];
    y[i] = s + (bias ? bias[i] : 0.f);
  }
}

/* y[b, r] = w[r, :] . x[b, :] (+ bias[r]) for w [rows, n], x [batch, n], y [batch, rows]. */
static void rk_matvecs(const float *w, int rows, int n, const float *x, int batch,
                       const float *bias, float *y) {
  for (int b = 0; b < batch; b++) {
    const float *xb = x + (int64_t)b * n;
    float *yb = y + (int64_t)b * rows;
    int r = 0;
    for (; r + 4 <= rows; r += 4)
      rk_rows_dot(4, w + (int64_t)r * n, n, xb, n, bias ? bias + r : 0, yb + r);
    for (; r < rows; r++) rk_rows_dot(1, w + (int64_t)r * n, n, xb, n, bias ? bias + r : 0, yb + r);
  }
}

/*
 * One time step of one layer for a few batch rows (generation, one token at a time), with
 * no gradient: xp = x W_ih^T + b_ih and hp = h W_hh^T by dot products, which read the
 * weights in place, on this thread (an sgemv per product would cost an FFI call
 * and, multi-threaded, a wake-up of OpenBLAS's threads), then rk_recurrent_forward's gate
 * math. x [batch, input], h and c [batch, n]; writes h_out and c_out (LSTM) [batch, n];
 * b_ih and b_hh may be null; `scratch` holds batch * (2 gates + saved) * n floats.
 */
void rk_recurrent_cell_step(int mode, int batch, int input, int n, const float *x,
                            const float *w_ih, const float *b_ih, const float *w_hh,
                            const float *b_hh, const float *h, const float *c, float *scratch,
                            float *h_out, float *c_out) {
  const int g = (mode == LSTM ? 4 : mode == GRU ? 3 : 1) * n;
  float *xp = scratch, *hp = xp + (int64_t)batch * g, *saved = hp + (int64_t)batch * g;
  rk_matvecs(w_ih, g, input, x, batch, b_ih, xp);
  rk_matvecs(w_hh, g, n, h, batch, 0, hp);
  if (mode == LSTM) memcpy(c_out, c, (size_t)batch * n * sizeof *c_out);
  rk_recurrent_forward(mode, batch, n, xp, hp, b_hh, h, c_out, saved, h_out);
}

/*
 * The backward gate math of one time step for every batch row. dh [batch, n] is the
 * gradient reaching h from later steps, g_out [batch, n] this step's output gradient.
 * Writes the pre-activation gradients dxp (and dhp, GRU only: the hidden projection's
 * differ) [batch, gates*n], updates dc in place (LSTM), and writes GRU's direct path
 * dh*z into dh_prev. c_prev (LSTM) has a row stride: it is read from `saved`.
 */
static void rk_recurrent_backward(int mode, int batch, int n, const float *dh, const float *g_out,
                           const float *out, const float *saved, const float *h_prev,
                           const float *c_prev, int c_prev_stride, float *dc, float *dxp,
                           float *dhp, float *dh_prev) {
  for (int b = 0; b < batch; b++) {
    const int64_t row = (int64_t)b * n;
    float *dx = dxp + (int64_t)b * (mode == LSTM ? 4 : mode == GRU ? 3 : 1) * n;
    switch (mode) {
      case RNN_TANH:
        for (int j = 0; j < n; j++) {
          float y = out[row + j];
          dx[j] = (dh[row + j] + g_out[row + j]) * (1 - y * y);
        }
        break;
      case RNN_RELU:
        for (int j = 0; j < n; j++)
          dx[j] = out[row + j] > 0.f ? dh[row + j] + g_out[row + j] : 0.f;
        break;
      case LSTM: {
        const float *s = saved + (int64_t)b * 6 * n;
        const float *cp = c_prev + (int64_t)b * c_prev_stride;
        for (int j = 0; j < n; j++) {
          float d = dh[row + j] + g_out[row + j];
          float i = s[j], f = s[n + j], g = s[2 * n + j], o = s[3 * n + j], tc = s[5 * n + j];
          float dct = dc[row + j] + d * o * (1 - tc * tc);
          dx[j] = dct * g * i * (1 - i);
          dx[n + j] = dct * cp[j] * f * (1 - f);
          dx[2 * n + j] = dct * i * (1 - g * g);
          dx[3 * n + j] = d * tc * o * (1 - o);
          dc[row + j] = dct * f;
        }
        break;
      }
      case GRU: {
        const float *s = saved + (int64_t)b * 4 * n;
        float *dp = dhp + (int64_t)b * 3 * n;
        for (int j = 0; j < n; j++) {
          float d = dh[row + j] + g_out[row + j];
          float r = s[j], z = s[n + j], nn = s[2 * n + j], hn = s[3 * n + j];
          float dn = (d - d * z) * (1 - nn * nn);
          float dr = dn * hn * r * (1 - r);
          float dz = d * (h_prev[row + j] - nn) * z * (1 - z);
          dx[j] = dp[j] = dr;
          dx[n + j] = dp[n + j] = dz;
          dx[2 * n + j] = dn;
          dp[2 * n + j] = dn * r;
          dh_prev[row + j] = d * z;
        }
        break;
      }
    }
  }
}

/*
 * The time loops of a recurrent layer, per step one sgemm (OpenBLAS's, found by
 * rk_use_blas, with its own threads) and the gate math above: one FFI call per layer
 * instead of two per step. (Splitting the batch over two threads, each with
 * single-threaded sgemm, measured no faster on 2 cores than OpenBLAS's threads sharing
 * each step's product.)
 */
typedef void rk_sgemm_fn(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
static rk_sgemm_fn *rk_sgemm;
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

/* Finds cblas_sgemm in the OpenBLAS at `path` (the file the backend loaded: the same
 * library, so the same thread settings). 0 on success. */
int rk_use_blas(const char *path) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 1;
  rk_sgemm = (rk_sgemm_fn *)dlsym(lib, "cblas_sgemm");
  return rk_sgemm ? 0 : 2;
}

static int rk_gates(int mode) { return mode == LSTM ? 4 : mode == GRU ? 3 : 1; }
static int rk_saved(int mode) { return mode == LSTM ? 6 : mode == GRU ? 4 : 0; }

/* Step i's time index: i, or seq - 1 - i backwards. */
static int64_t rk_step(int seq, int reverse, int i) { return reverse ? seq - 1 - i : i; }

/*
 * The forward time loop over xp = x W_ih^T + b_ih [seq*batch, gates*n] (time order; run
 * backwards if `reverse`) from h0 [batch, n]: writes every step's h into out [seq*batch, n]
 * and what the backward needs into saved [seq*batch, S*n] (see rk_recurrent_forward); LSTM
 * updates c [batch, n] (c0 on entry) in place. hp: batch * gates*n floats of scratch.
 * -1 if rk_use_blas has not succeeded.
 */
int rk_recurrent_forward_loop(int mode, int seq, int batch, int n, int reverse,
                              const float *xp, const float *w_hh, const float *b_hh,
                              const float *h0, float *c, float *saved, float *out, float *hp) {
  if (!rk_sgemm) return -1;
  const int g = rk_gates(mode) * n, s = rk_saved(mode) * n;
  const float *h = h0;
  for (int i = 0; i < seq; i++) {
    const int64_t row = rk_step(seq, reverse, i) * batch;
    float *next = out + row * n;
    rk_sgemm(ROW_MAJOR, NO_TRANS, TRANS, batch, g, n, 1.f, h, n, w_hh, n, 0.f, hp, g);
    rk_recurrent_forward(mode, batch, n, xp + row * g, hp, b_hh, h, c, saved + row * s, next);
    h = next;
  }
  return 0;
}

/*
 * The backward time loop of rk_recurrent_forward_loop, from the gradients of its outputs:
 * g_out [seq*batch, n] and, in place, dh [batch, n] (the final h's gradient on entry, h0's
 * on return) and dc (LSTM: the final c's, then c0's). Writes the pre-activation gradients
 * dxp (and dhp, GRU) [seq*batch, gates*n]; dh_prev [batch, n] is scratch. out, saved, h0,
 * c0 (LSTM) as the forward loop left or read them. -1 if rk_use_blas has not succeeded.
 */
int rk_recurrent_backward_loop(int mode, int seq, int batch, int n, int reverse,
                               const float *w_hh, const float *out, const float *saved,
                               const float *g_out, const float *h0, const float *c0, float *dh,
                               float *dh_prev, float *dc, float *dxp, float *dhp) {
  if (!rk_sgemm) return -1;
  const int g = rk_gates(mode) * n, s = rk_saved(mode) * n;
  float *grad = dh; /* where h0's gradient must end up */
  for (int i = seq - 1; i >= 0; i--) {
    const int64_t row = rk_step(seq, reverse, i) * batch;
    /* The state this step started from: the previous step's rows, or h0 and c0. LSTM's
     * previous c is column block 4 of the previous step's saved rows. */
    const int64_t prev = i > 0 ? rk_step(seq, reverse, i - 1) * batch : -1;
    const float *h_prev = prev >= 0 ? out + prev * n : h0;
    const float *c_prev = mode != LSTM ? 0 : prev >= 0 ? saved + prev * s + 4 * n : c0;
    float *dhp_t = (dhp ? dhp : dxp) + row * g;
    rk_recurrent_backward(mode, batch, n, dh, g_out + row * n, out + row * n, saved + row * s,
                          h_prev, c_prev, prev >= 0 ? s : n, dc, dxp + row * g,
                          dhp ? dhp_t : 0, dh_prev);
    /* dL/dh_prev = dhp_t W_hh, added to GRU's direct path already in dh_prev. */
    rk_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, batch, n, g, 1.f, dhp_t, g, w_hh, n,
             mode == GRU ? 1.f : 0.f, dh_prev, n);
    float *t = dh;
    dh = dh_prev, dh_prev = t;
  }
  /* dh and dh_prev swap at every step: h0's gradient may have ended in the scratch. */
  if (dh != grad) memcpy(grad, dh, (size_t)batch * n * sizeof *dh);
  return 0;
}

/* dst (contiguous) = src viewed with `shape` and element `strides` (0 on broadcast axes):
 * transpose, broadcast and the moves before a reduction. Elements are copied as 4-byte
 * words, so int32 tensors move the same way. The innermost axis is a loop (a memcpy where
 * contiguous); the outer ones advance like an odometer. */
void rk_copy_strided(const uint32_t *src, uint32_t *dst, int rank, const int *shape,
                     const int *strides) {
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  int inner = shape[rank - 1], step = strides[rank - 1];
  int64_t outer = 1;
  for (int a = 0; a < rank - 1; a++) outer *= shape[a];
  int index[32] = {0};
  int64_t base = 0;
  for (int64_t row = 0; row < outer; row++, dst += inner) {
    if (step == 1)
      memcpy(dst, src + base, (size_t)inner * sizeof *dst);
    else
      for (int j = 0; j < inner; j++) dst[j] = src[base + (int64_t)j * step];
    for (int a = rank - 2; a >= 0; a--) {
      base += strides[a];
      if (++index[a] < shape[a]) break;
      base -= (int64_t)strides[a] * shape[a];
      index[a] = 0;
    }
  }
}

/* out[i, :] = table[rows[i], :] (4-byte elements) for rows already checked to be in range. */
void rk_gather_rows(const uint32_t *table, int width, const int *rows, int n, uint32_t *out) {
  for (int i = 0; i < n; i++)
    memcpy(out + (int64_t)i * width, table + (int64_t)rows[i] * width,
           (size_t)width * sizeof *out);
}

/* out[rows[i], :] += grad[i, :] into a zeroed out [num_rows, width]; rows outside
 * [0, num_rows) are dropped (the Embedding gradient, padding and ignored rows). */
void rk_scatter_add_rows(const float *grad, int width, const int *rows, int n, int num_rows,
                         float *out) {
  memset(out, 0, (size_t)num_rows * width * sizeof(float));
  for (int i = 0; i < n; i++) {
    if (rows[i] < 0 || rows[i] >= num_rows) continue;
    float *o = out + (int64_t)rows[i] * width;
    const float *g = grad + (int64_t)i * width;
    for (int j = 0; j < width; j++) o[j] += g[j];
  }
}
