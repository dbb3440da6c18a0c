/* The increment task's hold-out evaluation on the CPU: the predicted digit of every output
 * step of every hold-out number, for the three cells of rnnrepro.increment.models.
 *
 * Compiled at run time by rnnrepro/increment/native.py (cc -O3 -march=native) and called
 * through ctypes; rnnrepro/increment/evaluation.py falls back to PyTorch where it cannot be.
 * At 16 hidden units a PyTorch step is a dozen operator calls on tensors too small to keep a
 * core busy: the evaluation ran at about 2 % of the machine's matrix-product rate. Here one
 * SIMD vector holds one quantity (a unit's state, a gate) of LANES numbers, so a step is
 * vector multiply-adds and the whole state stays in the first-level cache.
 *
 * Equations (each lane one number; x_t one-hot of the digit, so W x_t + b is a table row):
 *   cell 0, the IRNN:  h = relu(table[d] + U h)                      (table = W^T + b_ih + b_hh)
 *   cell 1, the GRU:   rows r, z, n; r, z = gate(table[d] + U_rz h);
 *                      reset before: n = tanh(table_n[d] + U_n (r h))
 *                      reset after:  n = tanh(table_n[d] + r (U_n h + b_hn));
 *                      h = n + z (h - n)
 *   cell 2, the LSTM:  rows i, f, o, g; i, f, o = gate(...), g = tanh(...);
 *                      c = f c + i g, h = o tanh(c)
 *   gate: hard (Keras 2's hard sigmoid clip(0.2 x + 0.5, 0, 1)) or the logistic sigmoid;
 *   output: argmax over K of b_out + W_out h (the first of equal maxima, as torch.argmax),
 *   and its margin over the runner-up, relative to max(1, |best|): the caller re-scores the
 *   numbers with a near tie in PyTorch, whose order of summation may round the other way.
 * Weights are row-major (in, out): U[i * G + j] multiplies unit i into row j of G.
 * tanh and the sigmoid use exp from a degree-7 polynomial (relative error about 1e-7).
 */
#include <stdint.h>

#if defined(__AVX512F__)
#define LANES 16
#else
#define LANES 8
#endif

typedef float vf __attribute__((vector_size(LANES * 4)));
typedef int32_t vi __attribute__((vector_size(LANES * 4)));

static inline vf splat(float x) { return (vf){0} + x; }
static inline vf select_(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
static inline vf max_(vf a, vf b) { return select_(a > b, a, b); }
static inline vf min_(vf a, vf b) { return select_(a < b, a, b); }

/* exp(x) for x <= 0: x = n ln 2 + r, |r| <= ln 2 / 2, exp(r) by its Taylor polynomial. */
static inline vf exp_nonpositive(vf x) {
    x = max_(x, splat(-87.0f));
    vf n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round to integer */
    vf r = x - n * 0.693145751953125f - n * 1.428606765330187045e-06f;
    vf p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666671633720398f
           + r * (0.041666619479656219f + r * (0.00833336077630519867f
           + r * (0.00139304355252534151f + r * 0.000198527617612853646f))))));
    vi scale = (__builtin_convertvector(n, vi) + 127) << 23;            /* 2^n */
    return p * (vf)scale;
}

static inline vf tanh_(vf x) {
    vi sign = (vi)x & (int32_t)0x80000000;
    vf e = exp_nonpositive(-2.0f * (vf)((vi)x & 0x7fffffff));
    return (vf)((vi)((1.0f - e) / (1.0f + e)) | sign);
}

static inline vf sigmoid_(vf x) {
    vf e = exp_nonpositive(-(vf)((vi)x & 0x7fffffff));
    return select_(x >= 0, 1.0f / (1.0f + e), e / (1.0f + e));
}

static inline vf gate(vf x, int hard) {
    return hard ? min_(max_(x * 0.2f + 0.5f, splat(0.0f)), splat(1.0f)) : sigmoid_(x);
}

/* acc[q] += sum_i x[i] * w[i * stride + q] for q < width (width 4 is unrolled). */
static inline void accumulate(vf *acc, int width, const vf *x, int n, const float *w,
                              int stride) {
    for (int i = 0; i < n; i++)
        for (int q = 0; q < width; q++) acc[q] += x[i] * w[i * stride + q];
}

/* out[j] = sum_k onehot[k] table[k][j] + sum_i x[i] U[i][j] for j < columns (either part may
 * be absent: K or H zero); table and U have `stride` columns. Four columns at a time, so four
 * independent sums are in flight. */
static void affine(vf *out, int columns, const vf *onehot, int K, const float *table,
                   const vf *x, int H, const float *U, int stride) {
    int j = 0;
    for (; j + 4 <= columns; j += 4) {
        vf acc[4] = {splat(0), splat(0), splat(0), splat(0)};
        accumulate(acc, 4, onehot, K, table + j, stride);
        accumulate(acc, 4, x, H, U + j, stride);
        for (int q = 0; q < 4; q++) out[j + q] = acc[q];
    }
    for (; j < columns; j++) {
        vf acc[1] = {splat(0)};
        accumulate(acc, 1, onehot, K, table + j, stride);
        accumulate(acc, 1, x, H, U + j, stride);
        out[j] = acc[0];
    }
}

static void step(int cell, int hard, int after, int K, int H, const vf *onehot,
                 const float *table, const float *U, const float *bias_hn, vf *h, vf *c,
                 vf *rows, vf *scratch) {
    int G = cell == 0 ? H : (cell == 1 ? 3 * H : 4 * H);
    if (cell == 0) {
        affine(rows, H, onehot, K, table, h, H, U, G);
        for (int j = 0; j < H; j++) h[j] = max_(rows[j], splat(0.0f));
    } else if (cell == 1) {
        vf *r = rows, *z = rows + H, *n = rows + 2 * H;
        affine(rows, 2 * H, onehot, K, table, h, H, U, G);
        for (int j = 0; j < 2 * H; j++) rows[j] = gate(rows[j], hard);
        if (after) {
            affine(scratch, H, 0, 0, 0, h, H, U + 2 * H, G);           /* U_n h */
            affine(n, H, onehot, K, table + 2 * H, 0, 0, 0, G);        /* table_n[d] */
            for (int j = 0; j < H; j++) n[j] += r[j] * (scratch[j] + bias_hn[j]);
        } else {
            for (int j = 0; j < H; j++) scratch[j] = r[j] * h[j];
            affine(n, H, onehot, K, table + 2 * H, scratch, H, U + 2 * H, G);
        }
        for (int j = 0; j < H; j++) {
            vf candidate = tanh_(n[j]);
            h[j] = candidate + z[j] * (h[j] - candidate);
        }
    } else {
        affine(rows, G, onehot, K, table, h, H, U, G);
        for (int j = 0; j < 3 * H; j++) rows[j] = gate(rows[j], hard);
        for (int j = 0; j < H; j++) {
            c[j] = rows[H + j] * c[j] + rows[j] * tanh_(rows[3 * H + j]);
            h[j] = rows[2 * H + j] * tanh_(c[j]);
        }
    }
}

/* The digit predicted at every step of `count` numbers and the margin of that choice over the
 * runner-up: digits, predictions and margins are (count, steps) row-major; cell, hard and
 * after as in the header; H <= 1024, K <= 255. */
int predict(const uint8_t *digits, int64_t count, int steps, int K, int H, int cell, int hard,
            int after, const float *table, const float *U, const float *bias_hn,
            const float *w_out, const float *b_out, uint8_t *predictions, float *margins) {
    if (H < 1 || H > 1024 || K < 2 || K > 255 || cell < 0 || cell > 2) return 1;
    vf h[H], c[H], rows[4 * H], scratch[H], onehot[K];
    for (int64_t start = 0; start < count; start += LANES) {
        int lanes = count - start < LANES ? (int)(count - start) : LANES;
        for (int i = 0; i < H; i++) h[i] = c[i] = splat(0.0f);
        for (int t = 0; t < steps; t++) {
            for (int k = 0; k < K; k++) onehot[k] = splat(0.0f);
            for (int b = 0; b < lanes; b++) onehot[digits[(start + b) * steps + t]][b] = 1.0f;
            step(cell, hard, after, K, H, onehot, table, U, bias_hn, h, c, rows, scratch);
            vf best = splat(0.0f), second = splat(-3.0e38f);
            vi arg = (vi){0};
            for (int k = 0; k < K; k++) {
                vf logit[1] = {splat(b_out[k])};
                accumulate(logit, 1, h, H, w_out + k, K);
                vi larger = logit[0] > best;
                if (k == 0) larger = larger | ~larger;
                else second = select_(larger, best, max_(second, logit[0]));
                best = select_(larger, logit[0], best);
                arg = (arg & ~larger) | (larger & k);
            }
            /* How clear the choice is: (best - second) / max(1, |best|). */
            vf scale = max_((vf)((vi)best & 0x7fffffff), splat(1.0f));
            vf margin = (best - second) / scale;
            for (int b = 0; b < lanes; b++) {
                predictions[(start + b) * steps + t] = (uint8_t)arg[b];
                margins[(start + b) * steps + t] = margin[b];
            }
        }
    }
    return 0;
}
