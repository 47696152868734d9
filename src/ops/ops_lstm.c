/* Whole-sequence LSTM, one op for all T steps (llm.c discipline: hand-written
 * forward and BPTT backward, no allocation, every product an sgemm).
 *
 * Matches torch.nn.LSTM(D, H, batch_first=True), one layer, zero initial
 * state, so its checkpoints load into torch and back:
 *   inputs  x [B,T,D], w_ih [4H,D], w_hh [4H,H], b_ih [4H], b_hh [4H]
 *   gates   stacked i,f,g,o (torch / char-rnn order) along the 4H axis
 *   output  y [B,T,H], the whole hidden sequence (seq_last takes step T-1)
 *   i,f,o = σ(·), g = tanh(·), c_t = f⊙c_{t-1} + i⊙g, h_t = o⊙tanh(c_t)
 *
 * Inside, every per-step buffer is time-major: row r = t*B + b is sample b
 * at step t, so the B rows of one step are one contiguous block.  The
 * per-step recurrent sgemms then read and write contiguous matrices (in
 * the batch-first layout the rows of one step sit T rows apart: at batch
 * 256 a step's 256 gate rows spread over 14 MB, one page each), and the
 * weight gradients are one sgemm.  Only x (read once into a time-major
 * copy) and y / dy are batch-first.
 *
 * Each step's product takes the input projection along: with
 * z_t = [h_{t-1} | x_t] (h_{-1} = 0) and W = [W_hh | W_ih], the gates are
 * G_t = z_t·Wᵀ, one sgemm with K = H+D, instead of a separate all-steps
 * sgemm with K = D (28 for the benchmark, where OpenBLAS runs at half its
 * speed); likewise [dW_hh | dW_ih] = Σ_t dG_tᵀ·z_t is one sgemm. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>

#include "../core/vec.h"
#include "op_util.h"

typedef struct lstm_dims { int B, T, D, H; } lstm_dims;

static lstm_dims dims_of(const dt_node *n)
{
    const dt_node *x = n->in[0];
    return (lstm_dims){x->shape[0], x->shape[1], x->shape[2], n->in[2]->shape[1]};
}

/* aux (floats), kept from forward for backward, sized at the largest batch;
 * all [T,B,·] (time-major):
 *   act  [T,B,4H]    gate pre-activations, activated in place (i,f,g,o)
 *   c    [T,B,H]     cell states c_t
 *   tc   [T,B,H]     tanh(c_t): both do and dc need it; storing it saves a
 *                    tanh per element in backward
 *   z    [T+1,B,H+D] z_t = [h_{t-1} | x_t]: the operand of step t's sgemm
 *                    and of the weight gradients (slot T holds h_{T-1} only)
 *   bias [4H]        b_ih + b_hh
 *   zero [H]         c_{-1} = 0, so step 0 runs the same branch-free loop */
typedef struct lstm_aux { float *act, *c, *tc, *z, *bias, *zero; } lstm_aux;

static lstm_aux aux_of(const dt_node *n, lstm_dims d)
{
    size_t bt = (size_t)d.B * d.T, H = (size_t)d.H, HD = (size_t)d.H + d.D;
    float *base = n->aux;
    lstm_aux a;
    a.act = base;
    a.c = a.act + bt * 4 * H;
    a.tc = a.c + bt * H;
    a.z = a.tc + bt * H;
    a.bias = a.z + (bt + (size_t)d.B) * HD;
    a.zero = a.bias + 4 * H;
    return a;
}

static size_t lstm_aux_bytes(const dt_node *n)
{
    lstm_dims d = dims_of(n);
    size_t bt = (size_t)d.B * d.T, H = (size_t)d.H, HD = (size_t)d.H + d.D;
    return (bt * 6 * H + (bt + (size_t)d.B) * HD + 5 * H) * sizeof(float);
}

/* workspace (floats):
 *   forward:  W     [4H,H+D]  [W_hh | W_ih]
 *   backward: dG    [T,B,4H]  d loss / d gate pre-activations, all steps: the
 *                             weight gradients are then one sgemm after the loop
 *             dhrec [B,H]     recurrent part of dh_t, dG_{t+1}·W_hh
 *             dc    [B,H]     dc_t carried from step t+1 (through f_{t+1})
 *             dbias [4H]      column sums of dG, shared by db_ih and db_hh
 *             dW    [4H,H+D]  [dW_hh | dW_ih] of this pass */
static size_t lstm_workspace(const dt_node *n)
{
    lstm_dims d = dims_of(n);
    size_t H4 = 4 * (size_t)d.H, HD = (size_t)d.H + d.D;
    return (size_t)d.B * d.T * H4 + 2 * (size_t)d.B * d.H + H4 + H4 * HD;
}

static dt_status lstm_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3],
                  *b_hh = n->in[4];
    if (x->ndim != 3) return dt_shape_error(n, x, NULL, "input must be 3-D [batch, time, features]");
    if (w_ih->ndim != 2 || w_ih->shape[0] % 4 || w_ih->shape[1] != x->shape[2])
        return dt_shape_error(n, x, w_ih, "weight_ih must be [4*hidden, input features]");
    int H4 = w_ih->shape[0], H = H4 / 4;
    if (w_hh->ndim != 2 || w_hh->shape[0] != H4 || w_hh->shape[1] != H)
        return dt_shape_error(n, w_ih, w_hh, "weight_hh must be [4*hidden, hidden]");
    if (b_ih->ndim != 1 || b_ih->shape[0] != H4)
        return dt_shape_error(n, w_ih, b_ih, "bias_ih must be [4*hidden]");
    if (b_hh->ndim != 1 || b_hh->shape[0] != H4)
        return dt_shape_error(n, w_ih, b_hh, "bias_hh must be [4*hidden]");
    dt_set_shape(n, 3, (int[]){x->shape[0], x->shape[1], H});
    return DT_OK;
}

/* tanh as Eigen's odd rational minimax p(v)/q(v) (degrees 13/6, also used
 * by ONNX Runtime's MLAS and XLA).  glibc's tanhf goes through expm1f and
 * was about a third of the whole training step at the benchmark size; this
 * is call-free and branch-free (a dozen multiply-adds and one division), so
 * the cell loops below vectorise.  Max error 4e-7 absolute (about 6 ulp near
 * |v| = 5.8), and odd, so small v keep full relative accuracy.
 *
 * |v| is clamped to 7.905311 (0x40fcf84f: where tanh rounds to +-1 in
 * float32; beyond it the rational diverges) with one select on fabsf(v) and
 * the sign put back (two selects in a row are not if-converted under
 * -ftrapping-math, and the loop would not vectorise).  Infinities clamp to
 * +-1 like tanhf; a NaN fails the comparison and propagates, so anomalies
 * are still seen. */
static inline float fast_tanhf(float v)
{
    const float lim = 0x1.f9f09ep+2f; /* 7.90531110763549805f */
    float mag = fabsf(v);
    mag = mag > lim ? lim : mag;
    v = copysignf(mag, v);
    float v2 = v * v;
    float p = -2.76076847742355e-16f;
    p = p * v2 + 2.00018790482477e-13f;
    p = p * v2 - 8.60467152213735e-11f;
    p = p * v2 + 5.12229709037114e-08f;
    p = p * v2 + 1.48572235717979e-05f;
    p = p * v2 + 6.37261928875436e-04f;
    p = p * v2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * v2 + 1.18534705686654e-04f;
    q = q * v2 + 2.26843463243900e-03f;
    q = q * v2 + 4.89352518554385e-03f;
    return v * p / q;
}

/* σ(v) = (1 + tanh(v/2)) / 2: the same call-free kernel instead of an expf
 * call per element.  Absolute error <= 2e-7; below v = -15.8 it gives 0
 * where the exact value is < 1.4e-7, which no gate can tell apart. */
static inline float fast_sigmoidf(float v) { return 0.5f + 0.5f * fast_tanhf(0.5f * v); }

/* The forward cell over one row (sample b at step t), vectorised over j.
 * gate [4H]: pre-activations without bias in, activations out (i,f,g,o
 * quarters); bias [4H] = b_ih + b_hh; cprev, c, tc, h, y [H].  h and y get
 * the same value: h is the time-major copy the next step's sgemm reads, y
 * the op's batch-first output. */
DT_CLONES static void cell_forward(float *restrict gate, const float *restrict bias, const float *restrict cprev,
                                   float *restrict c, float *restrict tc, float *restrict h, float *restrict y,
                                   int H)
{
    float *restrict gi = gate, *restrict gf = gate + H, *restrict gg = gate + 2 * H, *restrict go = gate + 3 * H;
    const float *restrict bi = bias, *restrict bf = bias + H, *restrict bg = bias + 2 * H, *restrict bo = bias + 3 * H;
    for (int j = 0; j < H; j++) {
        float i = fast_sigmoidf(gi[j] + bi[j]), f = fast_sigmoidf(gf[j] + bf[j]), g = fast_tanhf(gg[j] + bg[j]),
              o = fast_sigmoidf(go[j] + bo[j]);
        float cj = f * cprev[j] + i * g, tcj = fast_tanhf(cj), hj = o * tcj;
        gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
        c[j] = cj; tc[j] = tcj;
        h[j] = hj; y[j] = hj;
    }
}

/* The backward cell over one row, vectorised over j.  act [4H]: activated
 * gates; cprev, tc, dy, dhrec [H]; dc [H]: dc_t in, dc_{t-1} out; dgate
 * [4H]: d loss / d pre-activations out. */
DT_CLONES static void cell_backward(const float *restrict act, const float *restrict cprev,
                                    const float *restrict tc, const float *restrict dy,
                                    const float *restrict dhrec, float *restrict dc, float *restrict dgate, int H)
{
    const float *restrict gi = act, *restrict gf = act + H, *restrict gg = act + 2 * H, *restrict go = act + 3 * H;
    float *restrict di = dgate, *restrict df = dgate + H, *restrict dg = dgate + 2 * H, *restrict dout = dgate + 3 * H;
    for (int j = 0; j < H; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], tcj = tc[j];
        float dh = dy[j] + dhrec[j];                      /* output + recurrent paths */
        float dcj = dc[j] + dh * o * (1.0f - tcj * tcj);  /* through h_t = o·tanh(c_t) */
        /* Pre-activation gradients: σ' = s(1-s), tanh' = 1-t². */
        di[j] = dcj * g * i * (1.0f - i);
        df[j] = dcj * cprev[j] * f * (1.0f - f);
        dg[j] = dcj * i * (1.0f - g * g);
        dout[j] = dh * tcj * o * (1.0f - o);
        dc[j] = dcj * f;                                  /* dc_{t-1} */
    }
}

/* dst[j] += row[j] over rows of width w (the bias gradient's column sums:
 * independent per j, so the order of each sum is fixed). */
DT_CLONES static void add_rows(float *restrict dst, const float *restrict rows, size_t n_rows, int w)
{
    for (size_t r = 0; r < n_rows; r++)
        for (int j = 0; j < w; j++) dst[j] += rows[r * (size_t)w + j];
}

static void lstm_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3],
                  *b_hh = n->in[4];
    lstm_dims d = dims_of(n);
    lstm_aux a = aux_of(n, d);
    const int B = d.B, T = d.T, D = d.D, H = d.H, H4 = 4 * H, HD = H + D;
    float *y = n->val; /* [B,T,H] */
    float *w = ex->ws; /* [4H,H+D] = [W_hh | W_ih] */

    for (int r = 0; r < H4; r++) {
        memcpy(w + (size_t)r * HD, w_hh->val + (size_t)r * H, (size_t)H * sizeof(float));
        memcpy(w + (size_t)r * HD + H, w_ih->val + (size_t)r * D, (size_t)D * sizeof(float));
    }
    /* z_t[b] = [h_{t-1} | x[b,t]]; the h part of z_0 is h_{-1} = 0, the
     * others are written by the cell pass of the step before. */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            memcpy(a.z + ((size_t)t * B + b) * HD + H, x->val + ((size_t)b * T + t) * D, (size_t)D * sizeof(float));
    for (int b = 0; b < B; b++) memset(a.z + (size_t)b * HD, 0, (size_t)H * sizeof(float));
    for (int j = 0; j < H4; j++) a.bias[j] = b_ih->val[j] + b_hh->val[j];
    memset(a.zero, 0, (size_t)H * sizeof(float));

    for (int t = 0; t < T; t++) {
        const size_t r0 = (size_t)t * B;                  /* first row of step t */
        /* G_t[B,4H] = z_t[B,H+D]·Wᵀ: the recurrent and the input projection at once. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H4, HD, 1.0f, a.z + r0 * HD, HD, w, HD, 0.0f,
                    a.act + r0 * H4, H4);
        /* Fused gate pass: bias, activate in place, update the cell, emit
         * h_t into y and into z_{t+1}. */
        for (int b = 0; b < B; b++) {
            size_t r = r0 + b;
            const float *cprev = t ? a.c + (r - B) * H : a.zero;
            cell_forward(a.act + r * H4, a.bias, cprev, a.c + r * H, a.tc + r * H, a.z + (r + B) * HD,
                         y + ((size_t)b * T + t) * H, H);
        }
    }
}

static void lstm_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3], *b_hh = n->in[4];
    lstm_dims d = dims_of(n);
    lstm_aux a = aux_of(n, d);
    const int B = d.B, T = d.T, D = d.D, H = d.H, H4 = 4 * H, BT = B * T, HD = H + D;
    const float *dy = n->grad;                  /* [B,T,H] */
    float *dG = ex->ws;                         /* [T,B,4H] */
    float *dhrec = dG + (size_t)BT * H4;        /* [B,H] */
    float *dc = dhrec + (size_t)B * H;          /* [B,H] */
    float *dbias = dc + (size_t)B * H;          /* [4H] */
    float *dw = dbias + H4;                     /* [4H,H+D] */
    memset(dhrec, 0, 2 * (size_t)B * H * sizeof(float)); /* nothing flows in after step T-1 */
    memset(dbias, 0, (size_t)H4 * sizeof(float));

    for (int t = T - 1; t >= 0; t--) {
        const size_t r0 = (size_t)t * B;
        for (int b = 0; b < B; b++) {
            size_t r = r0 + b;
            const float *cprev = t ? a.c + (r - B) * H : a.zero;
            cell_backward(a.act + r * H4, cprev, a.tc + r * H, dy + ((size_t)b * T + t) * H,
                          dhrec + (size_t)b * H, dc + (size_t)b * H, dG + r * H4, H);
            /* the bias gradient's column sums while the row is in L1 (rows
             * in backward order: t = T-1..0, b = 0..B-1) */
            add_rows(dbias, dG + r * H4, 1, H4);
        }
        /* dh_{t-1}[B,H] = dG_t[B,4H]·W_hh[4H,H].  beta 0 overwrites the
         * previous step's value, which has been used. */
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H4, 1.0f, dG + r0 * H4, H4, w_hh->val,
                        H, 0.0f, dhrec, H);
    }

    /* After the loop every step's dG is known: the weight gradients are one
     * sgemm over all T*B rows (far better shaped than T thin ones):
     * [dW_hh | dW_ih] = dGᵀ·z, the h_{-1} = 0 part of z_0 adding nothing. */
    if (w_ih->grad || w_hh->grad) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H4, HD, BT, 1.0f, dG, H4, a.z, HD, 0.0f, dw, HD);
        for (int r = 0; r < H4; r++) {
            const float *row = dw + (size_t)r * HD;
            if (w_hh->grad) add_rows(w_hh->grad + (size_t)r * H, row, 1, H);
            if (w_ih->grad) add_rows(w_ih->grad + (size_t)r * D, row + H, 1, D);
        }
    }
    if (x->grad) /* dx[b,t,:] += dG_t·W_ih: per step, written straight into the batch-first rows */
        for (int t = 0; t < T; t++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, H4, 1.0f, dG + (size_t)t * B * H4, H4,
                        w_ih->val, D, 1.0f, x->grad + (size_t)t * D, T * D);
    if (b_ih->grad || b_hh->grad) { /* both biases enter G the same way: one column sum (dbias) */
        if (b_ih->grad) for (int j = 0; j < H4; j++) b_ih->grad[j] += dbias[j];
        if (b_hh->grad) for (int j = 0; j < H4; j++) b_hh->grad[j] += dbias[j];
    }
}

const dt_op_def dt_def_lstm = {"lstm", lstm_infer, lstm_forward, lstm_backward, lstm_aux_bytes,
                               lstm_workspace, 0};
