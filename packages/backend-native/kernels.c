/*
 * rnnkit's native kernels: the arithmetic of the "native" backend. TypeScript keeps the
 * bookkeeping (shapes, memory, data movement) and OpenBLAS does the matrix products; these
 * loops do everything elementwise. They are plain C that the compiler vectorises
 * (build.ts: -O3 -march=native, no -ffast-math, so NaN and infinity behave as in PyTorch).
 * Every array is float32, row-major, and never aliased between input and output.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* tanh as Eigen's float32 rational fit ([13/6] minimax on [-9, 9]; beyond, tanh is +-1
 * in float32). Largest error against tanh: 2.7e-7 absolute. NaN passes through. */
static inline float rk_tanh(float x) {
  float c = x > 9.f ? 9.f : (x < -9.f ? -9.f : x);
  float c2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * c2 + 2.00018790482477e-13f;
  p = p * c2 - 8.60467152213735e-11f;
  p = p * c2 + 5.12229709037114e-8f;
  p = p * c2 + 1.48572235717979e-5f;
  p = p * c2 + 6.37261928875436e-4f;
  p = p * c2 + 4.89352455891786e-3f;
  float q = 1.19825839466702e-6f;
  q = q * c2 + 1.18534705686654e-4f;
  q = q * c2 + 2.268434632439e-3f;
  q = q * c2 + 4.89352518554385e-3f;
  return c * p / q;
}

static inline float rk_sigmoid(float x) { return 0.5f + 0.5f * rk_tanh(0.5f * x); }

/* exp as 2^k * e^r (|r| <= ln2/2, degree-7 Taylor polynomial) in double, so that it
 * vectorises where libm's expf does not; correctly rounded to float32 but for ~1e-7
 * relative. Float32 overflows to infinity above 88.73 and underflows to 0 below -104. */
static inline float rk_exp(float x) {
  double d = x < -104.f ? -104.0 : (x > 89.f ? 89.0 : (double)x);
  double k = nearbyint(d * 1.4426950408889634);
  double r = d - k * 0.6931471805599453;
  double p = 1 + r * (1 + r * (1. / 2 + r * (1. / 6 + r * (1. / 24 + r * (1. / 120 +
             r * (1. / 720 + r * (1. / 5040)))))));
  int64_t bits = ((int64_t)k + 1023) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  float y = (float)(p * scale);
  if (x < -104.f) y = 0.f;
  return x != x ? x : y;
}

enum { NEG, EXP, LOG, SQRT, TANH, SIGMOID, RELU, STEP };

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

/*
 * The gate math of one time step for every batch row, from the projections
 * xp = x W_ih^T + b_ih and hp = h W_hh^T (b_hh added here; null without biases), both
 * [batch, gates*n]. Writes h_next [batch, n] and, per row, what the backward needs into
 * `saved` [batch, S*n]: LSTM [i, f, g, o, c, tanh c] (S = 6), GRU [r, z, n, hn] (S = 4,
 * hn = W_hn h + b_hn), RNN nothing. LSTM reads and updates c [batch, n] in place.
 */
void rk_recurrent_forward(int mode, int batch, int n, const float *xp, const float *hp,
                          const float *b_hh, const float *h, float *c, float *saved,
                          float *h_next) {
  for (int b = 0; b < batch; b++) {
    const float *x = xp + (int64_t)b * (mode == LSTM ? 4 : mode == GRU ? 3 : 1) * n;
    const float *p = hp + (x - xp);
    float *out = h_next + (int64_t)b * n;
    const float *hb = h + (int64_t)b * n;
    switch (mode) {
      case RNN_TANH:
      case RNN_RELU:
        for (int j = 0; j < n; j++) {
          float v = x[j] + p[j] + (b_hh ? b_hh[j] : 0.f);
          out[j] = mode == RNN_TANH ? rk_tanh(v) : (v > 0.f ? v : 0.f);
        }
        break;
      case LSTM: {
        float *s = saved + (int64_t)b * 6 * n;
        float *cb = c + (int64_t)b * n;
        for (int j = 0; j < n; j++) {
          float bi = 0, bf = 0, bg = 0, bo = 0;
          if (b_hh) bi = b_hh[j], bf = b_hh[n + j], bg = b_hh[2 * n + j], bo = b_hh[3 * n + j];
          float i = rk_sigmoid(x[j] + p[j] + bi);
          float f = rk_sigmoid(x[n + j] + p[n + j] + bf);
          float g = rk_tanh(x[2 * n + j] + p[2 * n + j] + bg);
          float o = rk_sigmoid(x[3 * n + j] + p[3 * n + j] + bo);
          float cn = f * cb[j] + i * g;
          float tc = rk_tanh(cn);
          s[j] = i, s[n + j] = f, s[2 * n + j] = g, s[3 * n + j] = o;
          s[4 * n + j] = cn, s[5 * n + j] = tc;
          cb[j] = cn;
          out[j] = o * tc;
        }
        break;
      }
      case GRU: {
        float *s = saved + (int64_t)b * 4 * n;
        for (int j = 0; j < n; j++) {
          float br = 0, bz = 0, bn = 0;
          if (b_hh) br = b_hh[j], bz = b_hh[n + j], bn = b_hh[2 * n + j];
          float r = rk_sigmoid(x[j] + p[j] + br);
          float z = rk_sigmoid(x[n + j] + p[n + j] + bz);
          float hn = p[2 * n + j] + bn;
          float nn = rk_tanh(x[2 * n + j] + r * hn);
          s[j] = r, s[n + j] = z, s[2 * n + j] = nn, s[3 * n + j] = hn;
          out[j] = nn + z * (hb[j] - nn);
        }
        break;
      }
    }
  }
}

/*
 * The backward gate math of one time step for every batch row. dh [batch, n] is the
 * gradient reaching h from later steps, g_out [batch, n] this step's output gradient.
 * Writes the pre-activation gradients dxp (and dhp, GRU only: the hidden projection's
 * differ) [batch, gates*n], updates dc in place (LSTM), and writes GRU's direct path
 * dh*z into dh_prev. c_prev (LSTM) has a row stride: it is read from `saved`.
 */
void rk_recurrent_backward(int mode, int batch, int n, const float *dh, const float *g_out,
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
