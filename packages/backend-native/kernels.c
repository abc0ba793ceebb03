/*
 * rnnkit's native kernels: the arithmetic of the "native" backend. TypeScript keeps the
 * bookkeeping (shapes, memory, data movement) and OpenBLAS does the matrix products; these
 * loops do everything elementwise, and the recurrent time loops, products included. They
 * are plain C that the compiler vectorises (build.ts: -O3 -march=native
 * -fno-trapping-math, no -ffast-math, so NaN and infinity behave as in PyTorch). Every
 * array is float32, row-major, and never aliased between input and output. The callers'
 * sizes, ranks and pointers are checked in TypeScript (kernels.ts) before every call:
 * these loops trust them.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
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
 * float-to-bool conversion. One loop per combination of steps, with the steps constant, the
 * scalars read once and both values read unconditionally, so that every loop vectorises
 * (written with the steps as variables, none did: ~1 ns a value). */
void rk_where(const float *c, int c_step, const float *a, int a_step, const float *b,
              int b_step, float *o, int n) {
  if (n <= 0) return;
  const float c0 = c[0], a0 = a[0], b0 = b[0];
#define AT(p, S, scalar) ((S) ? (p)[i] : (scalar))
#define WHERE(C, A, B)                                                    \
  case C << 2 | A << 1 | B:                                               \
    for (int i = 0; i < n; i++) {                                         \
      const float x = AT(a, A, a0), y = AT(b, B, b0);                     \
      o[i] = AT(c, C, c0) != 0.f ? x : y;                                 \
    }                                                                     \
    break;
  switch (c_step << 2 | a_step << 1 | b_step) {
    WHERE(0, 0, 0) WHERE(0, 0, 1) WHERE(0, 1, 0) WHERE(0, 1, 1)
    WHERE(1, 0, 0) WHERE(1, 0, 1) WHERE(1, 1, 0) WHERE(1, 1, 1)
  }
#undef WHERE
#undef AT
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

/* Eight floats in a vector register (GCC and Clang vector extensions); loads go through
 * memcpy, which compiles to one unaligned load. */
typedef float rk_v8 __attribute__((vector_size(32)));
typedef int32_t rk_i8 __attribute__((vector_size(32))); /* a comparison's lanes: 0 or -1 */

static inline rk_v8 rk_load8(const float *p) {
  rk_v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline float rk_sum8(rk_v8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* The larger of a and v, or NaN if either is NaN (PyTorch's max). */
static inline float rk_max_nan(float a, float v) { return v > a || v != v ? v : a; }

/* The sum of a row, in double: eight accumulators, so that the values are added eight at
 * a time instead of each waiting on the one before. */
static double rk_row_sum(const float *row, int width) {
  double acc[8] = {0};
  int j = 0;
  for (; j + 8 <= width; j += 8)
    for (int k = 0; k < 8; k++) acc[k] += row[j + k];
  double total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < width; j++) total += row[j];
  return total;
}

/* The maximum of a row, NaN if it holds one. Eight lanes at a time, without a branch per
 * value (they mispredict on unordered data): the maximum of the ordered values, and
 * whether any was NaN. */
static float rk_row_max(const float *row, int width) {
  rk_v8 acc = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
               -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  rk_i8 nan = {0};
  int j = 0;
  for (; j + 8 <= width; j += 8) {
    const rk_v8 v = rk_load8(row + j);
    const rk_i8 more = v > acc;
    acc = (rk_v8)((more & (rk_i8)v) | (~more & (rk_i8)acc));
    nan |= v != v;
  }
  float best = -INFINITY;
  int any = 0;
  for (int k = 0; k < 8; k++) best = acc[k] > best ? acc[k] : best, any |= nan[k];
  for (; j < width; j++) best = row[j] > best ? row[j] : best, any |= row[j] != row[j];
  return any ? NAN : best;
}

/* o[r] = sum (accumulated in double) or max of x[r, :] for x [rows, width]. */
void rk_reduce_rows(int op, const float *x, int rows, int width, float *o) {
  for (int64_t r = 0; r < rows; r++)
    o[r] = op == SUM ? (float)rk_row_sum(x + r * width, width) : rk_row_max(x + r * width, width);
}

/* o[c] = sum or max of x[:, c] for x [rows, cols]; `acc` is scratch of cols doubles. */
void rk_reduce_cols(int op, const float *x, int rows, int cols, double *acc, float *o) {
  for (int c = 0; c < cols; c++) acc[c] = op == SUM ? 0 : -INFINITY;
  for (int r = 0; r < rows; r++) {
    const float *row = x + (int64_t)r * cols;
    if (op == SUM)
      for (int c = 0; c < cols; c++) acc[c] += row[c];
    else
      for (int c = 0; c < cols; c++) acc[c] = rk_max_nan((float)acc[c], row[c]);
  }
  for (int c = 0; c < cols; c++) o[c] = (float)acc[c];
}

/* Cross-entropy of rows (FusedOps.crossEntropy) for logits x [rows, classes] and targets
 * t: with m the row's maximum and s = sum_j e^(x[j] - m) (summed in double), softmax[j] =
 * e^(x[j] - m) / s and loss = log s - (x[t] - m), as log-softmax computes it; 0 where t is
 * outside [0, classes). A NaN in a row makes its loss and softmax NaN. */
void rk_cross_entropy(const float *x, const int32_t *t, int rows, int classes, float *loss,
                      float *softmax) {
  /* In blocks of rows, so that the exponentials run as one long vectorised loop (a row
   * loop of 65 spends ~2/3 of its time outside the vector body). */
  enum { BLOCK = 32 };
  float m[BLOCK];
  for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {
    const int64_t n = rows - r0 < BLOCK ? rows - r0 : BLOCK, base = r0 * classes;
    for (int64_t r = 0; r < n; r++) {
      const float *row = x + base + r * classes;
      float *p = softmax + base + r * classes;
      const float mr = m[r] = rk_row_max(row, classes);
      for (int j = 0; j < classes; j++) p[j] = row[j] - mr;
    }
    float *p = softmax + base;
    for (int64_t i = 0; i < n * classes; i++) p[i] = rk_exp(p[i]);
    for (int64_t r = 0; r < n; r++, p += classes) {
      const double s = rk_row_sum(p, classes), inv = 1 / s;
      for (int j = 0; j < classes; j++) p[j] = (float)(p[j] * inv);
      const int32_t k = t[r0 + r];
      const float *row = x + base + r * classes;
      loss[r0 + r] = k >= 0 && k < classes ? (float)(log(s) - (double)(row[k] - m[r])) : 0.f;
    }
  }
}

/* Its gradient (FusedOps.crossEntropyBackward): dx[r, j] = g[r] (softmax[r, j] - [j == t]),
 * a row of zeros where t is outside [0, classes). */
void rk_cross_entropy_backward(const float *softmax, const int32_t *t, const float *g, int rows,
                               int classes, float *dx) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = softmax + r * classes;
    float *d = dx + r * classes;
    const int32_t k = t[r];
    if (k < 0 || k >= classes) {
      memset(d, 0, (size_t)classes * sizeof *d);
      continue;
    }
    const float gr = g[r];
    for (int j = 0; j < classes; j++) d[j] = gr * p[j];
    d[k] = gr * (p[k] - 1.f);
  }
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

static int rk_gates(int mode) { return mode == LSTM ? 4 : mode == GRU ? 3 : 1; }
static int rk_saved(int mode) { return mode == LSTM ? 6 : mode == GRU ? 4 : 0; }

/*
 * One batch row of each mode's forward gate math, for `cnt` hidden units. x (the input
 * projection), b_hh and the outputs have a gate block every n values, p (the hidden
 * projection) every `ps`: a thread of the time loop keeps only its own units' columns of
 * p. `bias` is a constant at each call, so each is compiled (and vectorised) twice, with
 * and without b_hh, and no per-element test; `restrict`: nothing here is aliased.
 */
#define ROW static inline __attribute__((always_inline)) void

ROW rnn_row(int relu, int bias, int cnt, const float *restrict x, const float *restrict p,
            const float *restrict b_hh, float *restrict out) {
  for (int j = 0; j < cnt; j++) {
    float v = x[j] + p[j] + (bias ? b_hh[j] : 0.f);
    out[j] = relu ? (v > 0.f ? v : 0.f) : rk_tanh(v);
  }
}

/* s0..s5: the six column blocks of saved's row, as separate pointers so that the compiler
 * knows they do not overlap (with offsets of n from one pointer it cannot vectorise). */
ROW lstm_row(int bias, int cnt, int n, int ps, const float *restrict x,
             const float *restrict p, const float *restrict b_hh, float *restrict c,
             float *restrict s0, float *restrict s1, float *restrict s2, float *restrict s3,
             float *restrict s4, float *restrict s5, float *restrict out) {
  for (int j = 0; j < cnt; j++) {
    float bi = bias ? b_hh[j] : 0.f, bf = bias ? b_hh[n + j] : 0.f;
    float bg = bias ? b_hh[2 * n + j] : 0.f, bo = bias ? b_hh[3 * n + j] : 0.f;
    float i = rk_sigmoid(x[j] + p[j] + bi);
    float f = rk_sigmoid(x[n + j] + p[ps + j] + bf);
    float g = rk_tanh(x[2 * n + j] + p[2 * ps + j] + bg);
    float o = rk_sigmoid(x[3 * n + j] + p[3 * ps + j] + bo);
    float cn = f * c[j] + i * g;
    float tc = rk_tanh(cn);
    s0[j] = i, s1[j] = f, s2[j] = g, s3[j] = o, s4[j] = cn, s5[j] = tc;
    c[j] = cn;
    out[j] = o * tc;
  }
}

ROW gru_row(int bias, int cnt, int n, int ps, const float *restrict x,
            const float *restrict p, const float *restrict b_hh, const float *restrict h,
            float *restrict s0, float *restrict s1, float *restrict s2, float *restrict s3,
            float *restrict out) {
  for (int j = 0; j < cnt; j++) {
    float br = bias ? b_hh[j] : 0.f, bz = bias ? b_hh[n + j] : 0.f;
    float bn = bias ? b_hh[2 * n + j] : 0.f;
    float r = rk_sigmoid(x[j] + p[j] + br);
    float z = rk_sigmoid(x[n + j] + p[ps + j] + bz);
    float hn = p[2 * ps + j] + bn;
    float nn = rk_tanh(x[2 * n + j] + r * hn);
    s0[j] = r, s1[j] = z, s2[j] = nn, s3[j] = hn;
    out[j] = nn + z * (h[j] - nn);
  }
}

/*
 * The gate math of one time step, hidden units [u0, u1), for every batch row, from the
 * projections xp = x W_ih^T + b_ih [batch, gates*n] and hp = h W_hh^T (b_hh added here;
 * null without biases), whose row b starts at hp + b*hr with a gate block every hs values.
 * Writes h_next [batch, n] and, per row, what the backward needs into `saved` [batch, S*n]:
 * LSTM [i, f, g, o, c, tanh c] (S = 6), GRU [r, z, n, hn] (S = 4, hn = W_hn h + b_hn), RNN
 * nothing. LSTM reads and updates c [batch, n] in place.
 */
static void rk_recurrent_forward(int mode, int batch, int n, int u0, int u1, const float *xp,
                                 const float *hp, int64_t hr, int hs, const float *b_hh,
                                 const float *h, float *c, float *saved, float *h_next) {
  const int g = rk_gates(mode) * n, sn = rk_saved(mode) * n, cnt = u1 - u0;
  const float *b = b_hh ? b_hh + u0 : 0;
  for (int r = 0; r < batch; r++) {
    const float *x = xp + (int64_t)r * g + u0, *p = hp + r * hr;
    float *out = h_next + (int64_t)r * n + u0, *s = saved + (int64_t)r * sn + u0;
    switch (mode) {
      case RNN_TANH:
        if (b) rnn_row(0, 1, cnt, x, p, b, out);
        else rnn_row(0, 0, cnt, x, p, b, out);
        break;
      case RNN_RELU:
        if (b) rnn_row(1, 1, cnt, x, p, b, out);
        else rnn_row(1, 0, cnt, x, p, b, out);
        break;
      case LSTM: {
        float *cr = c + (int64_t)r * n + u0;
#define LSTM_ROW(bias)                                                                    \
  lstm_row(bias, cnt, n, hs, x, p, b, cr, s, s + n, s + 2 * n, s + 3 * n, s + 4 * n, \
           s + 5 * n, out)
        if (b) LSTM_ROW(1);
        else LSTM_ROW(0);
#undef LSTM_ROW
        break;
      }
      case GRU: {
        const float *hr_ = h + (int64_t)r * n + u0;
        if (b) gru_row(1, cnt, n, hs, x, p, b, hr_, s, s + n, s + 2 * n, s + 3 * n, out);
        else gru_row(0, cnt, n, hs, x, p, b, hr_, s, s + n, s + 2 * n, s + 3 * n, out);
        break;
      }
    }
  }
}

/*
 * The kernels' threads (the products, the time loops, the stack step): up to 63 workers,
 * started on first use and kept. A job is `chunks` pieces that threads claim one at a time,
 * the caller too, so the caller never waits for a worker that is not running (V8's own
 * threads share the cores): it does the unclaimed pieces itself and waits only for those in
 * progress. After a job a worker spins RK_LINGER rounds, then parks on a condition
 * variable. One caller at a time; another (a second Deno worker on the same library) runs
 * alone.
 */
#if defined(__x86_64__) || defined(__i386__)
#define RK_PAUSE() __builtin_ia32_pause()
#else
#define RK_PAUSE() ((void)0)
#endif

enum { RK_MAX_THREADS = 64 };
/* How long a worker spins for the next job before it parks (pauses, ~1 ms): a training
 * step's jobs come tens to hundreds of microseconds apart, a generated character's every
 * ~90 us, and waking a parked thread costs as much as a small job. */
enum { RK_LINGER = 1 << 16 };
typedef void rk_chunk_fn(void *job, int chunk);

/* The claim word: the job's tag (the epoch's low 24 bits), its chunk count, the next
 * chunk; one compare-and-swap takes a chunk of the current job and no other. */
#define RK_CLAIM(tag, chunks, next) \
  (((uint64_t)(tag) & 0xffffff) << 40 | (uint64_t)(chunks) << 20 | (uint64_t)(next))
#define RK_TAG(c) ((unsigned)((c) >> 40))
#define RK_CHUNKS(c) ((int)((c) >> 20 & 0xfffff))
#define RK_NEXT(c) ((int)((c) & 0xfffff))

static struct {
  pthread_mutex_t use, lock; /* use: held by a job's caller; lock: guards parking */
  pthread_cond_t wake;
  int started, parked; /* workers; of them parked (under lock) */
  _Atomic unsigned epoch; /* bumped to announce a job */
  _Atomic uint64_t claim;
  _Atomic int done; /* chunks finished */
  rk_chunk_fn *fn; /* the current job, valid while one of its chunks is unfinished */
  void *job;
} rk_pool = {.use = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
             .wake = PTHREAD_COND_INITIALIZER};

/* Runs unclaimed chunks of the job tagged `tag` until none is left. */
static void rk_pool_help(unsigned tag) {
  uint64_t c = atomic_load_explicit(&rk_pool.claim, memory_order_acquire);
  while (RK_TAG(c) == (tag & 0xffffff) && RK_NEXT(c) < RK_CHUNKS(c)) {
    if (!atomic_compare_exchange_weak_explicit(&rk_pool.claim, &c, c + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    rk_pool.fn(rk_pool.job, RK_NEXT(c));
    atomic_fetch_add_explicit(&rk_pool.done, 1, memory_order_release);
    c = atomic_load_explicit(&rk_pool.claim, memory_order_acquire);
  }
}

/* arg: the epoch when the worker was started, before the job it was started for: the
 * worker joins that job even if it announces it first (a time loop needs every thread). */
static void *rk_pool_main(void *arg) {
  unsigned seen = (unsigned)(uintptr_t)arg;
  for (;;) {
    for (int spin = 0; atomic_load_explicit(&rk_pool.epoch, memory_order_acquire) == seen;) {
      if (spin++ < RK_LINGER) {
        RK_PAUSE();
        continue;
      }
      pthread_mutex_lock(&rk_pool.lock);
      rk_pool.parked++;
      while (atomic_load_explicit(&rk_pool.epoch, memory_order_acquire) == seen)
        pthread_cond_wait(&rk_pool.wake, &rk_pool.lock);
      rk_pool.parked--;
      pthread_mutex_unlock(&rk_pool.lock);
    }
    seen = atomic_load_explicit(&rk_pool.epoch, memory_order_acquire);
    rk_pool_help(seen);
  }
  return 0;
}

/* Keeps this library loaded once it has threads: code they run must never be unmapped,
 * even if the process closes the library (dlclose) while they are parked. */
static void rk_pin_library(void) {
  Dl_info self;
  if (dladdr((void *)rk_pin_library, &self) && self.dli_fname)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
}

/* Takes the pool for a job on up to `want` threads, the caller's included: how many it
 * got, 1 if the pool is busy (another caller's job), has no worker or `want` is 1 (run
 * alone), else the job runs with rk_pool_chunks, which gives the pool back. */
static int rk_pool_take(int want) {
  want = want > RK_MAX_THREADS ? RK_MAX_THREADS : want;
  if (want <= 1 || pthread_mutex_trylock(&rk_pool.use)) return 1;
  if (!rk_pool.started) rk_pin_library();
  while (rk_pool.started < want - 1) {
    pthread_t id;
    const unsigned epoch = atomic_load_explicit(&rk_pool.epoch, memory_order_relaxed);
    if (pthread_create(&id, 0, rk_pool_main, (void *)(uintptr_t)epoch)) break;
    pthread_detach(id);
    rk_pool.started++;
  }
  if (rk_pool.started) return rk_pool.started + 1 < want ? rk_pool.started + 1 : want;
  pthread_mutex_unlock(&rk_pool.use);
  return 1;
}


/* Gives back a pool that rk_pool_take lent, without running a job. */
static void rk_pool_give(void) { pthread_mutex_unlock(&rk_pool.use); }

/* Runs fn(job, i) for every i < chunks (< 2^20) on the caller and the pool's workers, and
 * gives the pool back. */
static void rk_pool_chunks(rk_chunk_fn *fn, void *job, int chunks) {
  rk_pool.fn = fn, rk_pool.job = job;
  atomic_store_explicit(&rk_pool.done, 0, memory_order_relaxed);
  const unsigned epoch = atomic_load_explicit(&rk_pool.epoch, memory_order_relaxed) + 1;
  atomic_store_explicit(&rk_pool.claim, RK_CLAIM(epoch, chunks, 0), memory_order_release);
  pthread_mutex_lock(&rk_pool.lock);
  atomic_store_explicit(&rk_pool.epoch, epoch, memory_order_release);
  if (rk_pool.parked) pthread_cond_broadcast(&rk_pool.wake);
  pthread_mutex_unlock(&rk_pool.lock);
  rk_pool_help(epoch);
  for (int spin = 0; atomic_load_explicit(&rk_pool.done, memory_order_acquire) < chunks; spin++)
    if (spin < 4096) RK_PAUSE();
    else sched_yield();
  rk_pool_give();
}

/* OpenBLAS's cblas_sgemm, found by rk_use_blas. */
typedef void rk_sgemm_fn(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
static rk_sgemm_fn *rk_blas_sgemm;
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

/* Makes rk_sgemm call cblas_sgemm of the library at `path`, which the caller has loaded
 * and set to one thread (rk_sgemm shares products out itself): 0, or -1 if it has no
 * cblas_sgemm. The library stays loaded. */
int rk_use_blas(const char *path) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  rk_blas_sgemm = lib ? (rk_sgemm_fn *)dlsym(lib, "cblas_sgemm") : 0;
  return rk_blas_sgemm ? 0 : -1;
}

typedef struct {
  int trans_a, trans_b, m, n, k, chunks;
  const float *a, *b;
  float *c, beta;
} rk_gemm;

/* Chunk i of a product: a block of c's rows (of op(a)'s rows), starting at a multiple of
 * 16. Each block packs all of op(b), which is small beside op(a) in a training step's
 * products (the weights, or a gradient's few columns). */
static void rk_gemm_chunk(void *job, int i) {
  const rk_gemm *g = job;
  const int lo = (int)((int64_t)g->m * i / g->chunks) & ~15;
  const int hi = i + 1 == g->chunks ? g->m : (int)((int64_t)g->m * (i + 1) / g->chunks) & ~15;
  if (hi <= lo) return;
  const int lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
  rk_blas_sgemm(ROW_MAJOR, g->trans_a ? TRANS : NO_TRANS, g->trans_b ? TRANS : NO_TRANS, hi - lo,
                g->n, g->k, 1.f, g->a + (g->trans_a ? lo : (int64_t)lo * lda), lda, g->b, ldb,
                g->beta, g->c + (int64_t)lo * g->n, g->n);
}

/*
 * c[m, n] = op(a) op(b) + beta c for row-major a and b, op transposing where its flag is
 * set, k >= 1: one OpenBLAS sgemm on one thread per block of rows, on up to `threads` of
 * the pool's threads. The pool's threads spin between jobs, so a product starts at once
 * where OpenBLAS's own threads, asleep after ~0.3 ms idle, can take up to milliseconds to
 * wake (measured on 2-core VMs); and they are the time loops' threads too, so the two never
 * compete for the cores. 0, or -1 if rk_use_blas has not succeeded.
 */
int rk_sgemm(int trans_a, int trans_b, int m, int n, int k, const float *a, const float *b,
             float *c, float beta, int threads) {
  if (!rk_blas_sgemm) return -1;
  rk_gemm g = {.trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k, .chunks = 1,
               .a = a, .b = b, .c = c, .beta = beta};
  /* Below ~2^18 multiply-adds (a few microseconds) one thread is as fast; a block has at
   * least 16 rows. */
  if ((int64_t)m * n * k >= (1 << 18) && m >= 32)
    g.chunks = rk_pool_take(threads < m / 16 ? threads : m / 16);
  if (g.chunks == 1) rk_gemm_chunk(&g, 0);
  else rk_pool_chunks(rk_gemm_chunk, &g, g.chunks);
  return 0;
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

/* y[b, r] = w[r, :] . x[b, :] (+ bias[r]) for the rows r in [r0, r1) of w [rows, n], for
 * x [batch, n] and y [batch, rows]. */
static void rk_matvecs(const float *w, int rows, int r0, int r1, int n, const float *x,
                       int batch, const float *bias, float *y) {
  for (int b = 0; b < batch; b++) {
    const float *xb = x + (int64_t)b * n;
    float *yb = y + (int64_t)b * rows;
    int r = r0;
    for (; r + 4 <= r1; r += 4)
      rk_rows_dot(4, w + (int64_t)r * n, n, xb, n, bias ? bias + r : 0, yb + r);
    for (; r < r1; r++) rk_rows_dot(1, w + (int64_t)r * n, n, xb, n, bias ? bias + r : 0, yb + r);
  }
}

typedef struct {
  int mode, batch, input, n, units; /* units: per chunk, a multiple of 4 */
  const float *x, *w_ih, *b_ih, *w_hh, *b_hh, *h, *c;
  float *xp, *hp, *saved, *h_out, *c_out;
} rk_cell;

/* Chunk i of a cell step: the rows of both products and the gate math of hidden units
 * [i units, (i+1) units). Chunks start at multiples of 4 units, so rk_matvecs's blocks of
 * 4 rows are those of one whole pass and the sums are the same bitwise: the result does
 * not depend on how many threads took part. */
static void rk_cell_chunk(void *job, int i) {
  const rk_cell *a = job;
  const int n = a->n, G = rk_gates(a->mode), g = G * n;
  const int u0 = i * a->units, u1 = u0 + a->units < n ? u0 + a->units : n;
  for (int q = 0; q < G; q++) {
    rk_matvecs(a->w_ih, g, q * n + u0, q * n + u1, a->input, a->x, a->batch, a->b_ih, a->xp);
    rk_matvecs(a->w_hh, g, q * n + u0, q * n + u1, n, a->h, a->batch, 0, a->hp);
  }
  if (a->mode == LSTM)
    for (int64_t b = 0; b < a->batch; b++)
      memcpy(a->c_out + b * n + u0, a->c + b * n + u0, (size_t)(u1 - u0) * sizeof *a->c);
  /* hp's rows have all units here (a time loop's thread keeps only its own): start at u0 */
  rk_recurrent_forward(a->mode, a->batch, n, u0, u1, a->xp, a->hp + u0, g, n, a->b_hh, a->h,
                       a->c_out, a->saved, a->h_out);
}

/*
 * One time step of one layer for a few batch rows (generation, one token at a time), with
 * no gradient: xp = x W_ih^T + b_ih and hp = h W_hh^T by dot products, which read the
 * weights in place (an sgemv per product would cost an FFI call and, multi-threaded, a
 * wake-up of OpenBLAS's threads), then rk_recurrent_forward's gate math, in chunks of
 * hidden units on up to `threads` of the pool's threads: the weights (5 MB for LSTM h256
 * x2) come from L3 at what one core can draw, so two cores take about half the time.
 * x [batch, input], h and c [batch, n]; writes h_out and c_out (LSTM) [batch, n]; b_ih
 * and b_hh may be null; `scratch` holds batch * (2 gates + saved) * n floats.
 */
void rk_recurrent_cell_step(int mode, int batch, int input, int n, int threads, const float *x,
                            const float *w_ih, const float *b_ih, const float *w_hh,
                            const float *b_hh, const float *h, const float *c, float *scratch,
                            float *h_out, float *c_out) {
  const int g = rk_gates(mode) * n;
  rk_cell a = {.mode = mode, .batch = batch, .input = input, .n = n, .units = n, .x = x,
               .w_ih = w_ih, .b_ih = b_ih, .w_hh = w_hh, .b_hh = b_hh, .h = h, .c = c,
               .xp = scratch, .hp = scratch + (int64_t)batch * g,
               .saved = scratch + 2 * (int64_t)batch * g, .h_out = h_out, .c_out = c_out};
  /* Below ~2^16 multiply-adds, handing over a part costs more than it saves. */
  const int64_t work = (int64_t)batch * g * (input + n);
  if (n < 8 || work < (1 << 16) || (threads = rk_pool_take(threads)) == 1) {
    rk_cell_chunk(&a, 0);
    return;
  }
  /* About four chunks per thread, so a late thread leaves little to wait for. */
  a.units = ((n + 4 * threads - 1) / (4 * threads) + 3) & ~3;
  rk_pool_chunks(rk_cell_chunk, &a, (n + a.units - 1) / a.units);
}

/*
 * The backward gate math of one time step, hidden units [u0, u1), for every batch row.
 * d [batch, u1-u0] is the whole gradient reaching this step's h (from later steps and from
 * this step's output). Writes the pre-activation gradients dxp (and dhp, GRU only: the
 * hidden projection's differ) [batch, gates*n], updates dc [batch, n] in place (LSTM) and
 * writes GRU's direct path d*z into direct [batch, u1-u0]. c_prev (LSTM) has a row stride:
 * it is read from `saved`.
 */
static void rk_recurrent_backward(int mode, int batch, int n, int u0, int u1, const float *d_all,
                                  const float *out, const float *saved, const float *h_prev,
                                  const float *c_prev, int64_t c_prev_stride, float *dc,
                                  float *dxp, float *dhp, float *direct) {
  const int g = rk_gates(mode) * n, sn = rk_saved(mode) * n, cnt = u1 - u0;
  for (int r = 0; r < batch; r++) {
    const int64_t row = (int64_t)r * n + u0;
    const float *d = d_all + (int64_t)r * cnt;
    float *dx = dxp + (int64_t)r * g + u0;
    switch (mode) {
      case RNN_TANH:
        for (int j = 0; j < cnt; j++) dx[j] = d[j] * (1 - out[row + j] * out[row + j]);
        break;
      case RNN_RELU:
        for (int j = 0; j < cnt; j++) dx[j] = out[row + j] > 0.f ? d[j] : 0.f;
        break;
      case LSTM: {
        const float *s = saved + (int64_t)r * sn + u0;
        const float *cp = c_prev + r * c_prev_stride + u0;
        for (int j = 0; j < cnt; j++) {
          float i = s[j], f = s[n + j], g = s[2 * n + j], o = s[3 * n + j], tc = s[5 * n + j];
          float dct = dc[row + j] + d[j] * o * (1 - tc * tc);
          dx[j] = dct * g * i * (1 - i);
          dx[n + j] = dct * cp[j] * f * (1 - f);
          dx[2 * n + j] = dct * i * (1 - g * g);
          dx[3 * n + j] = d[j] * tc * o * (1 - o);
          dc[row + j] = dct * f;
        }
        break;
      }
      case GRU: {
        const float *s = saved + (int64_t)r * sn + u0;
        float *dp = dhp + (int64_t)r * g + u0, *dd = direct + (int64_t)r * cnt;
        for (int j = 0; j < cnt; j++) {
          float r_ = s[j], z = s[n + j], nn = s[2 * n + j], hn = s[3 * n + j];
          float dn = (d[j] - d[j] * z) * (1 - nn * nn);
          float dr = dn * hn * r_ * (1 - r_);
          float dz = d[j] * (h_prev[row + j] - nn) * z * (1 - z);
          dx[j] = dp[j] = dr;
          dx[n + j] = dp[n + j] = dz;
          dx[2 * n + j] = dn;
          dp[2 * n + j] = dn * r_;
          dd[j] = d[j] * z;
        }
        break;
      }
    }
  }
}

/*
 * The time loops' matrix products, c = a p for a weight matrix `p` packed once per loop
 * into panels of NR columns (rk_pack), each panel's rows contiguous: every step streams
 * the same few hundred KB from this core's L2, which is what a product with only a batch
 * of rows is bound by (sgemm repacks its operands at every call). The register tile is
 * MR rows of a by one panel: 2 MR vector accumulators, sized to the register file.
 */
#if defined(__AVX512F__)
enum { VW = 16, MR = 8 };
#else
enum { VW = 8, MR = 6 };
#endif
enum { NR = 2 * VW };
typedef float rk_vec __attribute__((vector_size(VW * sizeof(float))));

/* c[i, 0:NR] = sum over q < segs, k < len of a[i*lda + q*step + k] p[(q*len + k)*NR + 0:NR]
 * for i < R (R <= MR, a constant once inlined): a's K axis may be `segs` pieces of `len`
 * values, `step` apart (a thread's own columns of each gate block). */
static inline __attribute__((always_inline)) void rk_tile(int R, int segs, int len, int step,
                                                          const float *restrict a, int64_t lda,
                                                          const float *restrict p,
                                                          float *restrict c, int64_t ldc) {
  rk_vec s[MR][2];
  for (int i = 0; i < R; i++) s[i][0] = s[i][1] = (rk_vec){0};
  for (int q = 0; q < segs; q++) {
    const float *aq = a + (int64_t)q * step;
    for (int k = 0; k < len; k++, p += NR) {
      rk_vec p0, p1;
      memcpy(&p0, p, sizeof p0);
      memcpy(&p1, p + VW, sizeof p1);
      for (int i = 0; i < R; i++) {
        const float v = aq[i * lda + k];
        s[i][0] += v * p0;
        s[i][1] += v * p1;
      }
    }
  }
  for (int i = 0; i < R; i++) {
    memcpy(c + i * ldc, &s[i][0], sizeof s[i][0]);
    memcpy(c + i * ldc + VW, &s[i][1], sizeof s[i][1]);
  }
}

/* c [rows, panels*NR] (row stride ldc) = a [rows, K] (row stride lda, K as in rk_tile)
 * times the packed [K, panels*NR]. */
static void rk_product(int rows, int panels, int segs, int len, int step, const float *a,
                       int64_t lda, const float *packed, float *c, int64_t ldc) {
  const int64_t size = (int64_t)segs * len * NR;
  for (int j = 0; j < panels; j++) {
    const float *p = packed + j * size;
    float *cj = c + (int64_t)j * NR;
    int i = 0;
    for (; i + MR <= rows; i += MR)
      rk_tile(MR, segs, len, step, a + i * lda, lda, p, cj + i * ldc, ldc);
    const float *ai = a + i * lda;
    float *ci = cj + i * ldc;
    switch (rows - i) {
#define TAIL(R) \
  case R: rk_tile(R, segs, len, step, ai, lda, p, ci, ldc); break;
      TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5)
#if MR > 6
      TAIL(6) TAIL(7)
#endif
#undef TAIL
    }
  }
}

/* Packs `rows` x `cols` values into panels of NR columns, zero beyond `cols`: value (k, j)
 * = at(k, j) goes to packed[(j / NR) * rows * NR + k * NR + j % NR]. */
#define RK_PACK(packed, rows, cols, at)                                         \
  for (int64_t j0 = 0, pn = 0; j0 < (cols); j0 += NR, pn++)                    \
    for (int64_t k = 0; k < (rows); k++)                                        \
      for (int64_t jj = 0; jj < NR; jj++) {                                     \
        const int64_t j = j0 + jj;                                              \
        (packed)[(pn * (rows) + k) * NR + jj] = j < (cols) ? (at) : 0.f;        \
      }

/*
 * A layer's time loop on `threads` threads (the caller's and the pool's): thread t owns
 * hidden units [t n / T, (t+1) n / T), its rows of W_hh (packed into its L2) and its
 * columns of every gate, and the threads meet at one barrier per step. Each thread is one
 * chunk of a pool job, so all T run at once: a thread in a chunk claims no other.
 * Forward, a step is the thread's slice of h W_hh^T and its units' gate math; the barrier
 * waits for the whole new h. Backward, a step is its units' gate math and their part of
 * dL/dh_prev = dhp W_hh, summed over threads in the next step (double-buffered, so one
 * barrier suffices).
 */
typedef struct {
  int threads, mode, seq, batch, n, reverse;
  const float *xp, *w_hh, *b_hh, *h0, *out_r, *saved_r, *g_out, *c0;
  float *c, *saved, *out, *dh, *dc, *dxp, *dhp;
  float *work, *partial; /* per-thread working space (`per_thread` floats each); shared */
  int64_t per_thread;
  _Atomic int count, sense; /* the barrier */
} rk_loop;

static void rk_barrier(rk_loop *l, int *sense) {
  if (l->threads == 1) return;
  const int s = *sense = !*sense;
  if (atomic_fetch_add_explicit(&l->count, 1, memory_order_acq_rel) == l->threads - 1) {
    atomic_store_explicit(&l->count, 0, memory_order_relaxed);
    atomic_store_explicit(&l->sense, s, memory_order_release);
    return;
  }
  /* Spin (a step is tens of microseconds), yielding if the other thread is not running. */
  for (int spin = 0; atomic_load_explicit(&l->sense, memory_order_acquire) != s; spin++)
    if (spin < 4096) RK_PAUSE();
    else sched_yield();
}

/* Thread t's hidden units. */
static void rk_units(const rk_loop *l, int t, int *u0, int *u1) {
  *u0 = (int)((int64_t)t * l->n / l->threads);
  *u1 = (int)((int64_t)(t + 1) * l->n / l->threads);
}

/* Step i's time index: i, or seq - 1 - i backwards. */
static int64_t rk_step(int seq, int reverse, int i) { return reverse ? seq - 1 - i : i; }

static int rk_panels(int cols) { return (cols + NR - 1) / NR; }

static void rk_forward_part(void *loop, int t) {
  rk_loop *l = loop;
  const int mode = l->mode, n = l->n, batch = l->batch, G = rk_gates(mode);
  const int64_t g = (int64_t)G * n, sn = (int64_t)rk_saved(mode) * n;
  int u0, u1, sense = 0;
  rk_units(l, t, &u0, &u1);
  const int cnt = u1 - u0, panels = rk_panels(G * cnt);
  float *packed = l->work + t * l->per_thread, *hp = packed + (int64_t)panels * NR * n;
  /* Local column q*cnt + j is W_hh's row q*n + u0 + j. */
  RK_PACK(packed, n, G * cnt, l->w_hh[((j / cnt) * n + u0 + j % cnt) * n + k]);
  const float *h = l->h0;
  for (int i = 0; i < l->seq; i++) {
    const int64_t row = rk_step(l->seq, l->reverse, i) * batch;
    float *next = l->out + row * n;
    rk_product(batch, panels, 1, n, 0, h, n, packed, hp, (int64_t)panels * NR);
    rk_recurrent_forward(mode, batch, n, u0, u1, l->xp + row * g, hp, (int64_t)panels * NR, cnt,
                         l->b_hh, h, l->c, l->saved + row * sn, next);
    rk_barrier(l, &sense);
    h = next;
  }
}

/* out[j] = base[j] (0 if null) + the gradient that the step after the current one passes to
 * h at unit u0 + j of batch row r, for j < cnt: the threads' partial products of that step
 * (parity p), summed, and GRU's direct path. Row by row, so that the sums vectorise. */
static void rk_later(const rk_loop *l, int p, int64_t r, int u0, int cnt, const float *base,
                     const float *direct, float *restrict out) {
  const int64_t np = (int64_t)rk_panels(l->n) * NR, part = l->batch * np;
  for (int j = 0; j < cnt; j++)
    out[j] = (base ? base[j] : 0.f) + (l->mode == GRU ? direct[j] : 0.f);
  for (int t = 0; t < l->threads; t++) {
    const float *pt = l->partial + ((int64_t)p * l->threads + t) * part + r * np + u0;
    for (int j = 0; j < cnt; j++) out[j] += pt[j];
  }
}

static void rk_backward_part(void *loop, int t) {
  rk_loop *l = loop;
  const int mode = l->mode, n = l->n, batch = l->batch, G = rk_gates(mode), T = l->threads;
  const int64_t g = (int64_t)G * n, sn = (int64_t)rk_saved(mode) * n;
  const int64_t np = (int64_t)rk_panels(n) * NR, part = batch * np; /* one partial's floats */
  int u0, u1, sense = 0;
  rk_units(l, t, &u0, &u1);
  const int cnt = u1 - u0;
  float *packed = l->work + t * l->per_thread;
  float *d = packed + np * G * cnt, *direct = d + (int64_t)batch * cnt;
  /* Row q*cnt + j is W_hh's row q*n + u0 + j. */
  RK_PACK(packed, (int64_t)G * cnt, n, l->w_hh[((k / cnt) * n + u0 + k % cnt) * n + j]);
  for (int i = l->seq - 1, k = 0; i >= 0; i--, k++) {
    const int64_t row = rk_step(l->seq, l->reverse, i) * batch;
    const int64_t prev = i > 0 ? rk_step(l->seq, l->reverse, i - 1) * batch : -1;
    const float *go = l->g_out + row * n;
    for (int64_t r = 0; r < batch; r++) {
      const float *gr = go + r * n + u0;
      if (k == 0)
        for (int j = 0; j < cnt; j++) d[r * cnt + j] = gr[j] + l->dh[r * n + u0 + j];
      else rk_later(l, (k - 1) & 1, r, u0, cnt, gr, direct + r * cnt, d + r * cnt);
    }
    /* The state this step started from: the previous step's rows, or h0 and c0. LSTM's
     * previous c is column block 4 of the previous step's saved rows. */
    const float *h_prev = prev >= 0 ? l->out_r + prev * n : l->h0;
    const float *c_prev = mode != LSTM ? 0 : prev >= 0 ? l->saved_r + prev * sn + 4 * n : l->c0;
    float *dhp = l->dhp ? l->dhp + row * g : 0;
    rk_recurrent_backward(mode, batch, n, u0, u1, d, l->out_r + row * n, l->saved_r + row * sn,
                          h_prev, c_prev, prev >= 0 ? sn : n, l->dc, l->dxp + row * g, dhp,
                          direct);
    rk_product(batch, rk_panels(n), G, cnt, n, (dhp ? dhp : l->dxp + row * g) + u0, g, packed,
               l->partial + ((int64_t)(k & 1) * T + t) * part, np);
    rk_barrier(l, &sense);
  }
  if (l->seq > 0) /* h0's gradient */
    for (int64_t r = 0; r < batch; r++)
      rk_later(l, (l->seq - 1) & 1, r, u0, cnt, 0, direct + r * cnt, l->dh + r * n + u0);
}

/* Takes `want` threads for a loop from the pool (fewer if it has fewer, 1 if busy). */
static int rk_loop_threads(int want, int n) {
  const int most = n < RK_MAX_THREADS ? (n > 0 ? n : 1) : RK_MAX_THREADS;
  return rk_pool_take(want < 1 ? 1 : want > most ? most : want);
}

/* Runs `part` (rk_forward_part, rk_backward_part) on l->threads threads, working space
 * allocated; 0, or -1 (the pool given back) if it was not. */
static int rk_run(rk_loop *l, rk_chunk_fn *part) {
  if (!l->work) {
    if (l->threads > 1) rk_pool_give();
    return -1;
  }
  atomic_init(&l->count, 0);
  atomic_init(&l->sense, 0);
  if (l->threads == 1) part(l, 0);
  else rk_pool_chunks(part, l, l->threads);
  free(l->work);
  return 0;
}

/*
 * The forward time loop over xp = x W_ih^T + b_ih [seq*batch, gates*n] (time order; run
 * backwards if `reverse`) from h0 [batch, n] on `threads` threads: writes every step's h
 * into out [seq*batch, n] and what the backward needs into saved [seq*batch, S*n] (see
 * rk_recurrent_forward); LSTM updates c [batch, n] (c0 on entry) in place. 0, or -1 if its
 * working space could not be allocated.
 */
int rk_recurrent_forward_loop(int mode, int seq, int batch, int n, int reverse, int threads,
                              const float *xp, const float *w_hh, const float *b_hh,
                              const float *h0, float *c, float *saved, float *out) {
  rk_loop l = {.threads = rk_loop_threads(threads, n), .mode = mode, .seq = seq,
               .batch = batch, .n = n, .reverse = reverse, .xp = xp, .w_hh = w_hh,
               .b_hh = b_hh, .h0 = h0, .c = c, .saved = saved, .out = out};
  const int64_t cols = (int64_t)rk_panels(rk_gates(mode) * ((n + l.threads - 1) / l.threads)) * NR;
  l.per_thread = (cols * (n + batch) + 15) & ~(int64_t)15; /* packed W_hh and hp; 64-byte rows */
  l.work = aligned_alloc(64, (size_t)(l.per_thread * l.threads) * sizeof(float));
  return rk_run(&l, rk_forward_part);
}

/*
 * The backward time loop of rk_recurrent_forward_loop, from the gradients of its outputs:
 * g_out [seq*batch, n] and, in place, dh [batch, n] (the final h's gradient on entry, h0's
 * on return) and dc (LSTM: the final c's, then c0's). Writes the pre-activation gradients
 * dxp (and dhp, GRU) [seq*batch, gates*n]. out, saved, h0, c0 (LSTM) as the forward loop
 * left or read them. 0, or -1 as the forward loop.
 */
int rk_recurrent_backward_loop(int mode, int seq, int batch, int n, int reverse, int threads,
                               const float *w_hh, const float *out, const float *saved,
                               const float *g_out, const float *h0, const float *c0, float *dh,
                               float *dc, float *dxp, float *dhp) {
  rk_loop l = {.threads = rk_loop_threads(threads, n), .mode = mode, .seq = seq,
               .batch = batch, .n = n, .reverse = reverse, .w_hh = w_hh, .out_r = out,
               .saved_r = saved, .g_out = g_out, .h0 = h0, .c0 = c0, .dh = dh, .dc = dc,
               .dxp = dxp, .dhp = dhp};
  const int64_t cnt = (n + l.threads - 1) / l.threads, np = (int64_t)rk_panels(n) * NR;
  /* packed W_hh rows, d and direct; then the partials, two per thread */
  l.per_thread = (np * rk_gates(mode) * cnt + 2 * batch * cnt + 15) & ~(int64_t)15;
  const int64_t partials = 2 * (int64_t)l.threads * batch * np;
  l.work = aligned_alloc(64, (size_t)(l.per_thread * l.threads + partials) * sizeof(float));
  l.partial = l.work ? l.work + l.per_thread * l.threads : 0;
  return rk_run(&l, rk_backward_part);
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
