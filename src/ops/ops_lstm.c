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
 * Row r = b*T + t of every [B,T,·] buffer is step t of sample b, x's natural
 * layout.  The rows of one step t are then a strided matrix: first row at
 * t*width, leading dimension T*width.  That lets the per-step recurrent
 * sgemm read h_{t-1} straight out of y and write into G's rows of step t
 * without any gather copies. */
#include <cblas.h>
#include <stdint.h>

#include "op_util.h"

typedef struct lstm_dims { int B, T, D, H; } lstm_dims;

static lstm_dims dims_of(const dt_node *n)
{
    const dt_node *x = n->in[0];
    return (lstm_dims){x->shape[0], x->shape[1], x->shape[2], n->in[2]->shape[1]};
}

/* aux (floats), kept from forward for backward, sized at the largest batch:
 *   act  [B,T,4H]  activated gates i,f,g,o (pre-activations are never needed)
 *   c    [B,T,H]   cell states c_t
 *   tc   [B,T,H]   tanh(c_t): both do and dc need it; storing it saves a tanhf
 *                  per element in backward
 *   zero [H]       c_{-1} = 0, so step 0 runs the same branch-free loop */
typedef struct lstm_aux { float *act, *c, *tc, *zero; } lstm_aux;

static lstm_aux aux_of(const dt_node *n, lstm_dims d)
{
    size_t bt = (size_t)d.B * d.T, H = (size_t)d.H;
    float *base = n->aux;
    return (lstm_aux){base, base + bt * 4 * H, base + bt * 5 * H, base + bt * 6 * H};
}

static size_t lstm_aux_bytes(const dt_node *n)
{
    lstm_dims d = dims_of(n);
    return ((size_t)d.B * d.T * 6 * d.H + (size_t)d.H) * sizeof(float);
}

/* workspace (floats), scratch for backward only:
 *   dG    [B,T,4H]  d loss / d gate pre-activations, all steps: the weight
 *                   gradients are then three big sgemms after the loop
 *   dhrec [B,H]     recurrent part of dh_t, dG_{t+1}·W_hh
 *   dc    [B,H]     dc_t carried from step t+1 (through f_{t+1})
 *   dbias [4H]      Σ_rows dG, shared by db_ih and db_hh */
static size_t lstm_workspace(const dt_node *n)
{
    lstm_dims d = dims_of(n);
    return (size_t)d.B * d.T * 4 * d.H + 2 * (size_t)d.B * d.H + 4 * (size_t)d.H;
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
 * is call-free and branch-free (a dozen multiply-adds and one division).
 * Max error 4e-7 absolute (about 6 ulp near |v| = 5.8), and odd, so small v
 * keep full relative accuracy.
 *
 * |v| is clamped to 7.905 (where tanh rounds to +-1 in float32; beyond it the
 * rational diverges) on the bit pattern: an integer select compiles to a
 * conditional move, where a float ternary followed by arithmetic is left as
 * a branch at -O2.  Infinities clamp to +-1 like tanhf; NaN patterns
 * (above the infinity's) are left alone so anomalies still propagate. */
static inline float fast_tanhf(float v)
{
    const uint32_t lim_bits = 0x40fcf84fu, inf_bits = 0x7f800000u; /* 7.90531110763549805f, inf */
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    uint32_t sign = u & 0x80000000u, mag = u & 0x7fffffffu;
    mag = (mag > lim_bits && mag <= inf_bits) ? lim_bits : mag;
    u = sign | mag;
    memcpy(&v, &u, sizeof v);
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

/* One element j of the forward cell.  gi, gf, gg, go [H]: the four gate
 * quarters of one row, pre-activations in, activations out (separate
 * pointers, not gate[k*H + j], so each can be restrict);
 * cprev, c, tc, h [H]. */
static inline void cell_forward_at(float *restrict gi, float *restrict gf, float *restrict gg,
                                   float *restrict go, const float *restrict cprev,
                                   float *restrict c, float *restrict tc, float *restrict h, int j)
{
    float i = fast_sigmoidf(gi[j]), f = fast_sigmoidf(gf[j]), g = fast_tanhf(gg[j]),
          o = fast_sigmoidf(go[j]);
    float cj = f * cprev[j] + i * g, tcj = fast_tanhf(cj);
    gi[j] = i; gf[j] = f; gg[j] = g; go[j] = o;
    c[j] = cj; tc[j] = tcj;
    h[j] = o * tcj;
}

/* The forward cell over one row.  The four gate quarters are H apart in one
 * array; restrict says they and the state rows never overlap. */
static void cell_forward(float *restrict gi, float *restrict gf, float *restrict gg,
                         float *restrict go, const float *restrict cprev, float *restrict c,
                         float *restrict tc, float *restrict h, int H)
{
    for (int j = 0; j < H; j++) cell_forward_at(gi, gf, gg, go, cprev, c, tc, h, j);
}

/* One element j of the backward cell.  gi, gf, gg, go [H]: activated gates;
 * cprev, tc, dy, dhrec [H]; dc [H]: dc_t in, dc_{t-1} out; di, df, dg, dout
 * [H]: d loss / d pre-activations out. */
static inline void cell_backward_at(const float *restrict gi, const float *restrict gf,
                                    const float *restrict gg, const float *restrict go,
                                    const float *restrict cprev, const float *restrict tc,
                                    const float *restrict dy, const float *restrict dhrec,
                                    float *restrict dc, float *restrict di, float *restrict df,
                                    float *restrict dg, float *restrict dout, int j)
{
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

/* The backward cell over one row (restrict as in cell_forward). */
static void cell_backward(const float *restrict gi, const float *restrict gf,
                          const float *restrict gg, const float *restrict go,
                          const float *restrict cprev, const float *restrict tc,
                          const float *restrict dy, const float *restrict dhrec, float *restrict dc,
                          float *restrict di, float *restrict df, float *restrict dg,
                          float *restrict dout, int H)
{
    for (int j = 0; j < H; j++)
        cell_backward_at(gi, gf, gg, go, cprev, tc, dy, dhrec, dc, di, df, dg, dout, j);
}

static void lstm_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3],
                  *b_hh = n->in[4];
    lstm_dims d = dims_of(n);
    lstm_aux a = aux_of(n, d);
    const int B = d.B, T = d.T, D = d.D, H = d.H, H4 = 4 * H, BT = B * T;
    float *y = n->val; /* [B,T,H] */

    /* G[BT,4H] = b_ih + b_hh in every row, then += X[BT,D]·W_ihᵀ for all
     * steps at once: the input projection does not depend on h, so it is one
     * big well-shaped sgemm instead of T thin ones. */
    for (int j = 0; j < H4; j++) a.act[j] = b_ih->val[j] + b_hh->val[j];
    for (int r = 1; r < BT; r++) memcpy(a.act + (size_t)r * H4, a.act, (size_t)H4 * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, H4, D, 1.0f, x->val, D, w_ih->val, D,
                1.0f, a.act, H4);
    memset(a.zero, 0, (size_t)H * sizeof(float));

    for (int t = 0; t < T; t++) {
        /* G_t[B,4H] += h_{t-1}[B,H]·W_hhᵀ; h_{-1} = 0 adds nothing at t = 0.
         * Both operands are strided views: rows of step t sit T rows apart. */
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H4, H, 1.0f,
                        y + (size_t)(t - 1) * H, T * H, w_hh->val, H, 1.0f,
                        a.act + (size_t)t * H4, T * H4);
        /* Fused gate pass: activate in place, update the cell, emit h_t. */
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + t;
            const float *cprev = t ? a.c + (r - 1) * H : a.zero; /* [H] */
            float *gate = a.act + r * H4;                        /* [4H] i,f,g,o */
            cell_forward(gate, gate + H, gate + 2 * H, gate + 3 * H, cprev, a.c + r * H, a.tc + r * H,
                         y + r * H, H);
        }
    }
}

static void lstm_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *w_ih = n->in[1], *w_hh = n->in[2], *b_ih = n->in[3], *b_hh = n->in[4];
    lstm_dims d = dims_of(n);
    lstm_aux a = aux_of(n, d);
    const int B = d.B, T = d.T, D = d.D, H = d.H, H4 = 4 * H, BT = B * T;
    const float *y = n->val, *dy = n->grad;     /* [B,T,H] */
    float *dG = ex->ws;                         /* [B,T,4H] */
    float *dhrec = dG + (size_t)BT * H4;        /* [B,H] */
    float *dc = dhrec + (size_t)B * H;          /* [B,H] */
    float *dbias = dc + (size_t)B * H;          /* [4H] */
    memset(dhrec, 0, 2 * (size_t)B * H * sizeof(float)); /* nothing flows in after step T-1 */

    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + t;
            const float *cprev = t ? a.c + (r - 1) * H : a.zero; /* [H] */
            const float *act = a.act + r * H4;                   /* [4H] i,f,g,o */
            float *dgate = dG + r * H4;                          /* [4H] */
            cell_backward(act, act + H, act + 2 * H, act + 3 * H, cprev, a.tc + r * H, dy + r * H,
                          dhrec + (size_t)b * H, dc + (size_t)b * H, dgate, dgate + H, dgate + 2 * H,
                          dgate + 3 * H, H);
        }
        /* dh_{t-1}[B,H] = dG_t[B,4H]·W_hh[4H,H], dG_t read in place (stride T*4H).
         * beta 0 overwrites the previous step's value, which has been used. */
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H4, 1.0f, dG + (size_t)t * H4,
                        T * H4, w_hh->val, H, 0.0f, dhrec, H);
    }

    /* After the loop every step's dG is known: the weight gradients are single
     * sgemms over all B*T rows (far better shaped than T thin ones). */
    if (w_ih->grad) /* dW_ih[4H,D] += dG[BT,4H]ᵀ·X[BT,D] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H4, D, BT, 1.0f, dG, H4, x->val, D, 1.0f,
                    w_ih->grad, D);
    if (x->grad) /* dX[BT,D] += dG[BT,4H]·W_ih[4H,D] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, D, H4, 1.0f, dG, H4, w_ih->val, D,
                    1.0f, x->grad, D);
    if (b_ih->grad || b_hh->grad) { /* both biases enter G the same way: one column sum */
        memset(dbias, 0, (size_t)H4 * sizeof(float));
        for (int r = 0; r < BT; r++) {
            const float *row = dG + (size_t)r * H4;
            for (int j = 0; j < H4; j++) dbias[j] += row[j];
        }
        if (b_ih->grad) for (int j = 0; j < H4; j++) b_ih->grad[j] += dbias[j];
        if (b_hh->grad) for (int j = 0; j < H4; j++) b_hh->grad[j] += dbias[j];
    }
    if (w_hh->grad && BT > 1) {
        /* dW_hh[4H,H] += Σ_{b, t≥1} dG[b,t]ᵀ·h[b,t-1] as ONE sgemm: pair dG row
         * r with y row r-1 over rows 1..BT-1.  Where r = b*T (t = 0) that pairs
         * with the previous sample's last h, but h_{-1} = 0 there, so zeroing
         * the t = 0 rows of dG (all their other uses are done above) makes
         * those terms vanish exactly. */
        for (int b = 0; b < B; b++) memset(dG + (size_t)b * T * H4, 0, (size_t)H4 * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H4, H, BT - 1, 1.0f, dG + H4, H4, y, H,
                    1.0f, w_hh->grad, H);
    }
}

const dt_op_def dt_def_lstm = {"lstm", lstm_infer, lstm_forward, lstm_backward, lstm_aux_bytes,
                               lstm_workspace, 0};
