/* Direct convolution kernels (see conv_direct.h for when and why). */
#include "conv_direct.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(DT_NO_DIRECT_CONV)
#define HAVE_DIRECT 1
#include <immintrin.h>
#define TGT __attribute__((target("avx2,fma")))
#endif

static int disabled;
int conv_direct_enabled(void) { return !disabled; }
void conv_direct_enable(int on) { disabled = !on; }

static int cpu_ok(void)
{
#ifdef HAVE_DIRECT
    static int ok = -1; /* benign race: every thread stores the same value */
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return ok;
#else
    return 0;
#endif
}

/* Images per pass of the weight-gradient kernels: their padded copies (and
 * dy transposed, for chan) stay in L2 across the passes over the taps. */
#define DW_CHUNK 8

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* rows: output rows in vectors of 8; the padded plane is wide enough for
 * every vector load of every tap. */
static int rows_vectors(const conv_geom *g) { return (g->OW + 7) / 8; }
static int rows_width(const conv_geom *g) { return rows_vectors(g) * 8 + g->KW - 1; }
static int chan_width(const conv_geom *g) { return g->W + 2 * g->p; }

conv_direct_kind conv_direct_kind_of(const conv_geom *g)
{
    /* Offsets into the padded planes are ints. */
    size_t planes = (size_t)g->C * ((size_t)g->H + 2 * (size_t)g->p) * ((size_t)g->W + 2 * (size_t)g->p + 40);
    if (!cpu_ok() || g->OH < 1 || g->OW < 1 || planes > (size_t)INT32_MAX / 2) return CONV_DIRECT_NONE;
    if (g->s == 1 && g->OW >= 16 && g->KW <= 6) return CONV_DIRECT_ROWS;
    if (g->O % 8 == 0) return CONV_DIRECT_CHAN;
    return CONV_DIRECT_NONE;
}

int conv_direct_has_dinput(const conv_geom *g) { return conv_direct_kind_of(g) != CONV_DIRECT_NONE && g->s == 1; }

/* dinput: padded dx planes (rows width), weights with zero columns up to a
 * multiple of 12 taps, and each tap's offset (as ints). */
static size_t dinput_workspace(const conv_geom *g)
{
    if (!conv_direct_has_dinput(g)) return 0;
    size_t Hp = (size_t)g->H + 2 * (size_t)g->p;
    return (size_t)g->C * Hp * (size_t)rows_width(g) + (size_t)g->O * round_up(g->CKK, 12) + g->CKK;
}

static size_t kernels_workspace(const conv_geom *g)
{
    size_t cb = (size_t)(g->B < DW_CHUNK ? g->B : DW_CHUNK), Hp = (size_t)g->H + 2 * (size_t)g->p;
    switch (conv_direct_kind_of(g)) {
    case CONV_DIRECT_ROWS: {
        size_t plane = (size_t)g->C * Hp * (size_t)rows_width(g);
        size_t fwd = plane + round_up((size_t)g->O, 12) * g->CKK;
        size_t dw = cb * plane + (size_t)g->O * g->CKK * 8;
        return fwd > dw ? fwd : dw;
    }
    case CONV_DIRECT_CHAN: {
        size_t plane = (size_t)g->C * Hp * (size_t)chan_width(g);
        size_t fwd = plane + g->CKK * (size_t)g->O;
        size_t dw = cb * (plane + g->OHW * (size_t)g->O) + g->CKK * (size_t)g->O;
        return fwd > dw ? fwd : dw;
    }
    default: return 0;
    }
}

size_t conv_direct_workspace(const conv_geom *g)
{
    size_t k = kernels_workspace(g), d = dinput_workspace(g);
    return k > d ? k : d;
}

#ifdef HAVE_DIRECT

/* xp[c][Hp][Wp] <- image x[c][H][W] placed at (p, p), zeros elsewhere. */
static void pad_image(const conv_geom *g, const float *x, int Wp, float *xp)
{
    const size_t Hp = (size_t)g->H + 2 * (size_t)g->p, plane = Hp * (size_t)Wp;
    memset(xp, 0, (size_t)g->C * plane * sizeof *xp);
    for (int c = 0; c < g->C; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(xp + c * plane + (size_t)(h + g->p) * Wp + g->p, x + ((size_t)c * g->H + h) * g->W,
                   (size_t)g->W * sizeof *x);
}

/* Lanes 0..n-1 set (n in 1..8). */
TGT static inline __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* ------------------------------------------------------------------ rows */

/* One tile: output channels o0..o0+OB-1 (weights wp [OB rows, stride CKK],
 * zero rows beyond O) times NV vectors of one output row.  xr: the padded
 * planes at (row oh, column col0); y: y[b][o0][oh][col0], channel stride
 * OHW; cols: valid columns from col0 (the last vector may be partial); ob:
 * channels to store. */
#define DEFINE_ROWS_TILE(NV, OB)                                                                          \
    TGT static void rows_tile_##NV(const float *xr, size_t plane, int Wp, int C, int KH, int KW,         \
                                   const float *wp, size_t CKK, float *y, size_t OHW, int cols, int ob)   \
    {                                                                                                     \
        __m256 acc[OB][NV];                                                                               \
        _Pragma("GCC unroll 16") for (int o = 0; o < OB; o++)                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[o][v] = _mm256_setzero_ps();         \
        for (int c = 0; c < C; c++)                                                                       \
            for (int ki = 0; ki < KH; ki++) {                                                             \
                const float *r = xr + c * plane + (size_t)ki * Wp;                                        \
                const float *wr = wp + ((size_t)c * KH + ki) * KW;                                        \
                for (int kj = 0; kj < KW; kj++) {                                                         \
                    __m256 xv[NV];                                                                        \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) xv[v] = _mm256_loadu_ps(r + kj + 8 * v); \
                    _Pragma("GCC unroll 16") for (int o = 0; o < OB; o++) {                               \
                        __m256 wv = _mm256_broadcast_ss(wr + o * CKK + kj);                               \
                        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                              \
                            acc[o][v] = _mm256_fmadd_ps(wv, xv[v], acc[o][v]);                            \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        /* Constant bounds only: acc must stay a set of registers, never an indexed array. */            \
        _Pragma("GCC unroll 16") for (int o = 0; o < OB; o++)                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                        \
                int n = cols - 8 * v;                                                                     \
                if (o >= ob) break;                                                                       \
                if (n >= 8) _mm256_storeu_ps(y + o * OHW + 8 * v, acc[o][v]);                             \
                else if (n > 0) _mm256_maskstore_ps(y + o * OHW + 8 * v, lane_mask(n), acc[o][v]);        \
            }                                                                                             \
    }

DEFINE_ROWS_TILE(1, 12)
DEFINE_ROWS_TILE(2, 6)
DEFINE_ROWS_TILE(3, 4)
DEFINE_ROWS_TILE(4, 3)

static const int rows_ob[5] = {0, 12, 6, 4, 3};

TGT static void rows_forward(const conv_geom *g, const float *x, const float *w, float *y, float *ws)
{
    const int Wp = rows_width(g), Hp = g->H + 2 * g->p;
    const size_t plane = (size_t)Hp * Wp, in_img = (size_t)g->C * g->H * g->W, out_img = (size_t)g->O * g->OHW;
    float *xp = ws, *wp = ws + (size_t)g->C * plane;
    /* Weights with zero rows up to a multiple of 12, so every tile reads OB rows. */
    memcpy(wp, w, (size_t)g->O * g->CKK * sizeof *wp);
    memset(wp + (size_t)g->O * g->CKK, 0, (round_up((size_t)g->O, 12) - (size_t)g->O) * g->CKK * sizeof *wp);
    for (int b = 0; b < g->B; b++) {
        pad_image(g, x + (size_t)b * in_img, Wp, xp);
        for (int oh = 0; oh < g->OH; oh++)
            for (int col0 = 0; col0 < g->OW; col0 += 32) {
                const int cols = g->OW - col0, nv = cols >= 32 ? 4 : (cols + 7) / 8, OB = rows_ob[nv];
                const float *xr = xp + (size_t)oh * Wp + col0;
                for (int o0 = 0; o0 < g->O; o0 += OB) {
                    const int ob = g->O - o0 < OB ? g->O - o0 : OB;
                    const float *wb = wp + (size_t)o0 * g->CKK;
                    float *yt = y + (size_t)b * out_img + (size_t)o0 * g->OHW + (size_t)oh * g->OW + col0;
                    switch (nv) {
                    case 1: rows_tile_1(xr, plane, Wp, g->C, g->KH, g->KW, wb, g->CKK, yt, g->OHW, cols, ob); break;
                    case 2: rows_tile_2(xr, plane, Wp, g->C, g->KH, g->KW, wb, g->CKK, yt, g->OHW, cols, ob); break;
                    case 3: rows_tile_3(xr, plane, Wp, g->C, g->KH, g->KW, wb, g->CKK, yt, g->OHW, cols, ob); break;
                    default: rows_tile_4(xr, plane, Wp, g->C, g->KH, g->KW, wb, g->CKK, yt, g->OHW, cols, ob); break;
                    }
                }
            }
    }
}

/* Weight gradient, one input channel c and kernel row ki, for two output
 * channels (acc0/acc1: 8-lane partial sums per kj, [KW][8] floats each) over
 * nb padded images.  xr: padded planes of channel c at row ki (image stride
 * img); d0/d1: dy of the two channels (image stride dimg; d1 == NULL: one
 * channel only).  Lanes past the end of a row are masked on both factors,
 * so neither a neighbouring row nor padding data enters the sums. */
#define DEFINE_ROWS_DW(KWC)                                                                               \
    TGT static void rows_dw_##KWC(const float *xr, size_t img, int Wp, const float *d0, const float *d1,  \
                                  size_t dimg, int OH, int OW, int nb, float *acc0, float *acc1)          \
    {                                                                                                     \
        __m256 a0[KWC], a1[KWC];                                                                          \
        _Pragma("GCC unroll 8") for (int k = 0; k < KWC; k++) {                                          \
            a0[k] = _mm256_loadu_ps(acc0 + 8 * k);                                                        \
            a1[k] = _mm256_loadu_ps(acc1 + 8 * k);                                                        \
        }                                                                                                 \
        const int nfull = OW / 8, tail = OW % 8;                                                          \
        const __m256i m = lane_mask(tail ? tail : 8);                                                     \
        for (int b = 0; b < nb; b++)                                                                      \
            for (int oh = 0; oh < OH; oh++) {                                                             \
                const float *xrow = xr + b * img + (size_t)oh * Wp;                                       \
                const float *r0 = d0 + b * dimg + (size_t)oh * OW;                                        \
                const float *r1 = d1 ? d1 + b * dimg + (size_t)oh * OW : NULL;                            \
                for (int v = 0; v < nfull; v++) {                                                         \
                    __m256 y0 = _mm256_loadu_ps(r0 + 8 * v);                                              \
                    __m256 y1 = r1 ? _mm256_loadu_ps(r1 + 8 * v) : _mm256_setzero_ps();                   \
                    _Pragma("GCC unroll 8") for (int k = 0; k < KWC; k++) {                               \
                        __m256 xv = _mm256_loadu_ps(xrow + 8 * v + k);                                    \
                        a0[k] = _mm256_fmadd_ps(y0, xv, a0[k]);                                           \
                        a1[k] = _mm256_fmadd_ps(y1, xv, a1[k]);                                           \
                    }                                                                                     \
                }                                                                                         \
                if (tail) {                                                                               \
                    __m256 y0 = _mm256_maskload_ps(r0 + 8 * nfull, m);                                    \
                    __m256 y1 = r1 ? _mm256_maskload_ps(r1 + 8 * nfull, m) : _mm256_setzero_ps();         \
                    _Pragma("GCC unroll 8") for (int k = 0; k < KWC; k++) {                               \
                        __m256 xv = _mm256_maskload_ps(xrow + 8 * nfull + k, m);                          \
                        a0[k] = _mm256_fmadd_ps(y0, xv, a0[k]);                                           \
                        a1[k] = _mm256_fmadd_ps(y1, xv, a1[k]);                                           \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        _Pragma("GCC unroll 8") for (int k = 0; k < KWC; k++) {                                          \
            _mm256_storeu_ps(acc0 + 8 * k, a0[k]);                                                        \
            _mm256_storeu_ps(acc1 + 8 * k, a1[k]);                                                        \
        }                                                                                                 \
    }

DEFINE_ROWS_DW(1)
DEFINE_ROWS_DW(2)
DEFINE_ROWS_DW(3)
DEFINE_ROWS_DW(4)
DEFINE_ROWS_DW(5)
DEFINE_ROWS_DW(6)

typedef void (*rows_dw_fn)(const float *, size_t, int, const float *, const float *, size_t, int, int, int,
                           float *, float *);
static const rows_dw_fn rows_dw[7] = {NULL, rows_dw_1, rows_dw_2, rows_dw_3, rows_dw_4, rows_dw_5, rows_dw_6};

/* Σ of the 8 lanes in a fixed order. */
static float lanes_sum(const float *l)
{
    return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

TGT static void rows_dweight(const conv_geom *g, const float *x, const float *dy, float *dw, float *ws)
{
    const int Wp = rows_width(g), Hp = g->H + 2 * g->p, KK = g->KH * g->KW;
    const size_t plane = (size_t)Hp * Wp, img = (size_t)g->C * plane, in_img = (size_t)g->C * g->H * g->W,
                 out_img = (size_t)g->O * g->OHW;
    const size_t cb = (size_t)(g->B < DW_CHUNK ? g->B : DW_CHUNK); /* as in conv_direct_workspace */
    float *xp = ws, *acc = ws + cb * img;                 /* acc [O][CKK][8] */
    float spare[8 * 6] = {0};                             /* second channel of an odd last pair */
    memset(acc, 0, (size_t)g->O * g->CKK * 8 * sizeof *acc);
    for (int b0 = 0; b0 < g->B; b0 += DW_CHUNK) {
        const int nb = g->B - b0 < DW_CHUNK ? g->B - b0 : DW_CHUNK;
        for (int b = 0; b < nb; b++) pad_image(g, x + (size_t)(b0 + b) * in_img, Wp, xp + b * img);
        for (int c = 0; c < g->C; c++)
            for (int ki = 0; ki < g->KH; ki++)
                for (int o = 0; o < g->O; o += 2) {
                    const int pair = o + 1 < g->O;
                    const float *d0 = dy + (size_t)b0 * out_img + (size_t)o * g->OHW;
                    float *a0 = acc + ((size_t)o * g->CKK + (size_t)c * KK + (size_t)ki * g->KW) * 8;
                    float *a1 = pair ? a0 + g->CKK * 8 : spare;
                    rows_dw[g->KW](xp + c * plane + (size_t)ki * Wp, img, Wp, d0, pair ? d0 + g->OHW : NULL,
                                   out_img, g->OH, g->OW, nb, a0, a1);
                }
    }
    for (size_t i = 0; i < (size_t)g->O * g->CKK; i++) dw[i] += lanes_sum(acc + 8 * i);
}

/* ------------------------------------------------------------------ chan */

/* One tile: PB output pixels (offs: their top-left offsets in the padded
 * planes) times OV vectors of output channels (wt: transposed weights
 * [CKK][O] at column o0).  y: y[b][o0][p0], channel stride OHW; np: pixels
 * to store. */
#define DEFINE_CHAN_TILE(OV, PB)                                                                          \
    TGT static void chan_tile_##OV(const float *xp, size_t plane, int Wp, int C, int KH, int KW,         \
                                   const float *wt, int O, const int *offs, float *y, size_t OHW, int np) \
    {                                                                                                     \
        __m256 acc[PB][OV];                                                                               \
        _Pragma("GCC unroll 12") for (int j = 0; j < PB; j++)                                            \
            _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++) acc[j][u] = _mm256_setzero_ps();         \
        const float *wr = wt;                                                                             \
        for (int c = 0; c < C; c++)                                                                       \
            for (int ki = 0; ki < KH; ki++) {                                                             \
                const float *base = xp + c * plane + (size_t)ki * Wp;                                     \
                for (int kj = 0; kj < KW; kj++, wr += O) {                                                \
                    __m256 wv[OV];                                                                        \
                    _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++) wv[u] = _mm256_loadu_ps(wr + 8 * u); \
                    _Pragma("GCC unroll 12") for (int j = 0; j < PB; j++) {                               \
                        __m256 xb = _mm256_broadcast_ss(base + kj + offs[j]);                             \
                        _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++)                              \
                            acc[j][u] = _mm256_fmadd_ps(xb, wv[u], acc[j][u]);                            \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        /* Constant bounds only: acc must stay a set of registers, never an indexed array. */            \
        float t[8];                                                                                       \
        _Pragma("GCC unroll 12") for (int j = 0; j < PB; j++)                                            \
            _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++) {                                        \
                if (j >= np) break;                                                                       \
                _mm256_storeu_ps(t, acc[j][u]);                                                           \
                for (int l = 0; l < 8; l++) y[(size_t)(8 * u + l) * OHW + j] = t[l];                      \
            }                                                                                             \
    }

DEFINE_CHAN_TILE(1, 12)
DEFINE_CHAN_TILE(2, 6)
DEFINE_CHAN_TILE(3, 4)
DEFINE_CHAN_TILE(4, 3)

static const int chan_pb[5] = {0, 12, 6, 4, 3};

/* Offset of output pixel q's window in the padded planes. */
static int pixel_offset(const conv_geom *g, int Wp, size_t q)
{
    int oh = (int)(q / (size_t)g->OW), ow = (int)(q % (size_t)g->OW);
    return oh * g->s * Wp + ow * g->s;
}

TGT static void chan_forward(const conv_geom *g, const float *x, const float *w, float *y, float *ws)
{
    const int Wp = chan_width(g), Hp = g->H + 2 * g->p;
    const size_t plane = (size_t)Hp * Wp, in_img = (size_t)g->C * g->H * g->W, out_img = (size_t)g->O * g->OHW;
    float *xp = ws, *wt = ws + (size_t)g->C * plane; /* wt [CKK][O] */
    for (int o = 0; o < g->O; o++)
        for (size_t t = 0; t < g->CKK; t++) wt[t * g->O + o] = w[o * g->CKK + t];
    int offs[12];
    for (int b = 0; b < g->B; b++) {
        pad_image(g, x + (size_t)b * in_img, Wp, xp);
        for (int o0 = 0; o0 < g->O; o0 += 32) {
            const int ov = g->O - o0 >= 32 ? 4 : (g->O - o0) / 8, PB = chan_pb[ov];
            for (size_t p0 = 0; p0 < g->OHW; p0 += PB) {
                const int np = g->OHW - p0 < (size_t)PB ? (int)(g->OHW - p0) : PB;
                for (int j = 0; j < PB; j++) offs[j] = pixel_offset(g, Wp, p0 + (j < np ? j : np - 1));
                float *yt = y + (size_t)b * out_img + (size_t)o0 * g->OHW + p0;
                switch (ov) {
                case 1: chan_tile_1(xp, plane, Wp, g->C, g->KH, g->KW, wt + o0, g->O, offs, yt, g->OHW, np); break;
                case 2: chan_tile_2(xp, plane, Wp, g->C, g->KH, g->KW, wt + o0, g->O, offs, yt, g->OHW, np); break;
                case 3: chan_tile_3(xp, plane, Wp, g->C, g->KH, g->KW, wt + o0, g->O, offs, yt, g->OHW, np); break;
                default: chan_tile_4(xp, plane, Wp, g->C, g->KH, g->KW, wt + o0, g->O, offs, yt, g->OHW, np); break;
                }
            }
        }
    }
}

/* Weight gradient: TB taps (toffs: offsets in the padded planes) times OV
 * vectors of output channels, over the pixels of nb images.  acc: rows of
 * the [CKK][O] accumulator at (t0, o0), row stride O; nt rows are real (the
 * others are scratch, never stored). */
#define DEFINE_CHAN_DW(OV, TB)                                                                            \
    TGT static void chan_dw_##OV(const float *xp, size_t img, int Wp, const float *dyt, int O,           \
                                 const int *toffs, const conv_geom *g, int nb, float *acc, int nt)        \
    {                                                                                                     \
        __m256 a[TB][OV];                                                                                 \
        _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++)                                            \
            _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++)                                          \
                a[j][u] = j < nt ? _mm256_loadu_ps(acc + (size_t)j * O + 8 * u) : _mm256_setzero_ps();    \
        for (int b = 0; b < nb; b++) {                                                                    \
            const float *xb = xp + b * img, *d = dyt + (size_t)b * g->OHW * O;                            \
            for (int oh = 0; oh < g->OH; oh++)                                                            \
                for (int ow = 0; ow < g->OW; ow++, d += O) {                                              \
                    const float *xq = xb + (size_t)oh * g->s * Wp + (size_t)ow * g->s;                    \
                    __m256 dv[OV];                                                                        \
                    _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++) dv[u] = _mm256_loadu_ps(d + 8 * u); \
                    _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++) {                               \
                        __m256 xs = _mm256_broadcast_ss(xq + toffs[j]);                                   \
                        _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++)                              \
                            a[j][u] = _mm256_fmadd_ps(xs, dv[u], a[j][u]);                                \
                    }                                                                                     \
                }                                                                                         \
        }                                                                                                 \
        _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++)                                            \
            _Pragma("GCC unroll 4") for (int u = 0; u < OV; u++)                                          \
                if (j < nt) _mm256_storeu_ps(acc + (size_t)j * O + 8 * u, a[j][u]);                       \
    }

DEFINE_CHAN_DW(1, 12)
DEFINE_CHAN_DW(2, 6)
DEFINE_CHAN_DW(3, 4)
DEFINE_CHAN_DW(4, 3)

TGT static void chan_dweight(const conv_geom *g, const float *x, const float *dy, float *dw, float *ws)
{
    const int Wp = chan_width(g), Hp = g->H + 2 * g->p, KK = g->KH * g->KW;
    const size_t plane = (size_t)Hp * Wp, img = (size_t)g->C * plane, in_img = (size_t)g->C * g->H * g->W,
                 out_img = (size_t)g->O * g->OHW;
    const size_t cb = (size_t)(g->B < DW_CHUNK ? g->B : DW_CHUNK); /* as in conv_direct_workspace */
    float *xp = ws, *dyt = xp + cb * img, *acc = dyt + cb * g->OHW * g->O;
    memset(acc, 0, g->CKK * (size_t)g->O * sizeof *acc);
    int toffs[12];
    for (int b0 = 0; b0 < g->B; b0 += DW_CHUNK) {
        const int nb = g->B - b0 < DW_CHUNK ? g->B - b0 : DW_CHUNK;
        for (int b = 0; b < nb; b++) {
            pad_image(g, x + (size_t)(b0 + b) * in_img, Wp, xp + b * img);
            /* dyt[b][q][o] <- dy[b][o][q] */
            const float *src = dy + (size_t)(b0 + b) * out_img;
            float *dst = dyt + (size_t)b * g->OHW * g->O;
            for (int o = 0; o < g->O; o++)
                for (size_t q = 0; q < g->OHW; q++) dst[q * g->O + o] = src[(size_t)o * g->OHW + q];
        }
        for (int o0 = 0; o0 < g->O; o0 += 32) {
            const int ov = g->O - o0 >= 32 ? 4 : (g->O - o0) / 8, TB = chan_pb[ov];
            for (size_t t0 = 0; t0 < g->CKK; t0 += TB) {
                const int nt = g->CKK - t0 < (size_t)TB ? (int)(g->CKK - t0) : TB;
                for (int j = 0; j < TB; j++) {
                    size_t t = t0 + (j < nt ? j : nt - 1);
                    int c = (int)(t / KK), ki = (int)(t % KK) / g->KW, kj = (int)(t % KK) % g->KW;
                    toffs[j] = (int)(c * plane) + ki * Wp + kj;
                }
                float *a = acc + t0 * g->O + o0;
                switch (ov) {
                case 1: chan_dw_1(xp, img, Wp, dyt + o0, g->O, toffs, g, nb, a, nt); break;
                case 2: chan_dw_2(xp, img, Wp, dyt + o0, g->O, toffs, g, nb, a, nt); break;
                case 3: chan_dw_3(xp, img, Wp, dyt + o0, g->O, toffs, g, nb, a, nt); break;
                default: chan_dw_4(xp, img, Wp, dyt + o0, g->O, toffs, g, nb, a, nt); break;
                }
            }
        }
    }
    for (int o = 0; o < g->O; o++)
        for (size_t t = 0; t < g->CKK; t++) dw[o * g->CKK + t] += acc[t * g->O + o];
}

/* ---------------------------------------------------------------- dinput */

/* Input gradient, stride 1: dcols[t][ow] = Σ_o w[o][t]·dy[o][oh][ow] for TB
 * taps times NV vectors along one output row, accumulated over the output
 * channels, then added straight into the padded dx planes: for a tap
 * (c, ki, kj) the row's pixels land on consecutive columns of dx row
 * oh + ki, so col2im becomes whole-vector adds (lanes past the row carry
 * zeros, from the masked dy loads, into the padding).  dyr: dy[b][0][oh][col0]
 * (channel stride OHW); wp: padded weights at tap t0 (row stride CKKp);
 * dxr: padded planes at (row oh, column col0); toffs: the TB taps' offsets. */
#define DEFINE_DX_TILE(NV, TB)                                                                            \
    TGT static void dx_tile_##NV(const float *dyr, size_t OHW, int O, const float *wp, size_t CKKp,      \
                                 float *dxr, const int *toffs, int nt, int cols)                          \
    {                                                                                                     \
        __m256 acc[TB][NV];                                                                               \
        _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++)                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[j][v] = _mm256_setzero_ps();         \
        const int tail = cols < 8 * NV ? cols - 8 * (NV - 1) : 8;                                         \
        const __m256i m = lane_mask(tail);                                                                \
        for (int o = 0; o < O; o++) {                                                                     \
            const float *d = dyr + (size_t)o * OHW, *wr = wp + (size_t)o * CKKp;                           \
            __m256 dv[NV];                                                                                \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                          \
                dv[v] = v < NV - 1 ? _mm256_loadu_ps(d + 8 * v) : _mm256_maskload_ps(d + 8 * v, m);       \
            _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++) {                                       \
                __m256 wb = _mm256_broadcast_ss(wr + j);                                                  \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                      \
                    acc[j][v] = _mm256_fmadd_ps(wb, dv[v], acc[j][v]);                                    \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 12") for (int j = 0; j < TB; j++) {                                          \
            if (j >= nt) break;                                                                           \
            float *r = dxr + toffs[j];                                                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                          \
                _mm256_storeu_ps(r + 8 * v, _mm256_add_ps(_mm256_loadu_ps(r + 8 * v), acc[j][v]));       \
        }                                                                                                 \
    }

DEFINE_DX_TILE(1, 12)
DEFINE_DX_TILE(2, 6)
DEFINE_DX_TILE(3, 4)
DEFINE_DX_TILE(4, 3)

TGT static void direct_dinput(const conv_geom *g, const float *w, const float *dy, float *dx, int fresh,
                              float *ws)
{
    const int Wp = rows_width(g), Hp = g->H + 2 * g->p, KK = g->KH * g->KW;
    const size_t plane = (size_t)Hp * Wp, in_img = (size_t)g->C * g->H * g->W, out_img = (size_t)g->O * g->OHW,
                 CKKp = round_up(g->CKK, 12);
    float *dxp = ws, *wp = dxp + (size_t)g->C * plane;
    int *toffs = (int *)(wp + (size_t)g->O * CKKp);
    /* Taps in (kj, c, ki) order: the taps of one tile then land on different
     * dx rows, so no tile re-reads a vector that the previous add has just
     * stored at an offset of one float (a failed store-to-load forward, every
     * time, in (c, ki, kj) order). */
    size_t idx = 0;
    for (int kj = 0; kj < g->KW; kj++)
        for (int c = 0; c < g->C; c++)
            for (int ki = 0; ki < g->KH; ki++, idx++) {
                size_t t = (size_t)c * KK + (size_t)ki * g->KW + kj;
                for (int o = 0; o < g->O; o++) wp[o * CKKp + idx] = w[o * g->CKK + t];
                toffs[idx] = (int)(c * plane) + ki * Wp + kj;
            }
    for (int o = 0; o < g->O; o++) memset(wp + o * CKKp + g->CKK, 0, (CKKp - g->CKK) * sizeof *wp);
    for (int b = 0; b < g->B; b++) {
        memset(dxp, 0, (size_t)g->C * plane * sizeof *dxp);
        for (int oh = 0; oh < g->OH; oh++)
            for (int col0 = 0; col0 < g->OW; col0 += 32) {
                const int cols = g->OW - col0, nv = cols >= 32 ? 4 : (cols + 7) / 8, TB = rows_ob[nv];
                const float *dyr = dy + (size_t)b * out_img + (size_t)oh * g->OW + col0;
                float *dxr = dxp + (size_t)oh * Wp + col0;
                for (size_t t0 = 0; t0 < g->CKK; t0 += TB) {
                    const int nt = g->CKK - t0 < (size_t)TB ? (int)(g->CKK - t0) : TB;
                    switch (nv) {
                    case 1: dx_tile_1(dyr, g->OHW, g->O, wp + t0, CKKp, dxr, toffs + t0, nt, cols); break;
                    case 2: dx_tile_2(dyr, g->OHW, g->O, wp + t0, CKKp, dxr, toffs + t0, nt, cols); break;
                    case 3: dx_tile_3(dyr, g->OHW, g->O, wp + t0, CKKp, dxr, toffs + t0, nt, cols); break;
                    default: dx_tile_4(dyr, g->OHW, g->O, wp + t0, CKKp, dxr, toffs + t0, nt, cols); break;
                    }
                }
            }
        /* dx += the interior of the padded planes */
        float *dxb = dx + (size_t)b * in_img;
        for (int c = 0; c < g->C; c++)
            for (int h = 0; h < g->H; h++) {
                const float *src = dxp + c * plane + (size_t)(h + g->p) * Wp + g->p;
                float *dst = dxb + ((size_t)c * g->H + h) * g->W;
                if (fresh) memcpy(dst, src, (size_t)g->W * sizeof *dst);
                else for (int i = 0; i < g->W; i++) dst[i] += src[i];
            }
    }
}

void conv_direct_dinput(const conv_geom *g, const float *w, const float *dy, float *dx, int fresh, float *ws)
{
    direct_dinput(g, w, dy, dx, fresh, ws);
}

void conv_direct_forward(const conv_geom *g, const float *x, const float *w, float *y, float *ws)
{
    if (conv_direct_kind_of(g) == CONV_DIRECT_ROWS) rows_forward(g, x, w, y, ws);
    else chan_forward(g, x, w, y, ws);
}

void conv_direct_dweight(const conv_geom *g, const float *x, const float *dy, float *dw, float *ws)
{
    if (conv_direct_kind_of(g) == CONV_DIRECT_ROWS) rows_dweight(g, x, dy, dw, ws);
    else chan_dweight(g, x, dy, dw, ws);
}

#else /* no direct kernels in this build: conv_direct_kind_of is always NONE */

void conv_direct_forward(const conv_geom *g, const float *x, const float *w, float *y, float *ws) {}
void conv_direct_dweight(const conv_geom *g, const float *x, const float *dy, float *dw, float *ws) {}
void conv_direct_dinput(const conv_geom *g, const float *w, const float *dy, float *dx, int fresh, float *ws) {}

#endif
