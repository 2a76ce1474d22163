/* conv2d.c — 2-D convolution (cross-correlation) with zero padding and stride, by im2col + GEMM.
 * Per sample, NCHW: x (in_c, in_h, in_w), y (out, oh, ow) with oh = (in_h + 2 pad - k)/stride + 1.
 * Parameters: W (out, in_c, k, k) row-major, then b (out). With CKK = in_c*k*k, P = oh*ow and
 * cols(X_i) the (CKK, P) im2col matrix of sample i (row (c*k + ki)*k + kj, column oy*ow + ox):
 *   forward: Y_i = W cols_i + b 1^T                        W viewed as (out, CKK)
 *   vjp:  dX_i = col2im(W^T dY_i);  dW += dY_i cols_i^T;  db += dY_i 1
 *         with stride 1 (and pad <= k-1), dX_i = W' colsT(dY_i) instead: the transposed convolution,
 *         W'[c][o][ki][kj] = W[o][c][k-1-ki][k-1-kj] (in_c, out*k*k), colsT the im2col of dY_i
 *         (out, oh, ow) with padding k-1-pad, (out*k*k, in_h*in_w); the same sums in another order,
 *         without the (CKK, P) adjoint columns that col2im would read back
 *   jvp:  Ydot_i = W cols(Xdot_i) + Wdot cols_i + bdot 1^T
 *   soa:  dXdot_i = col2im(W^T dYdot_i + Wdot^T dY_i);
 *         dWdot += dYdot_i cols_i^T + dY_i cols(Xdot_i)^T;  dbdot += dYdot_i 1
 *   Without bias (no_bias, nn_conv2d_drop_bias: a residual block's projection shortcut) the
 *   parameters are W alone and every b term above is left out.
 *   gram: the per-sample gradient of cotangent row (j, i) is [dY_{j,i} cols_i^T, dY_{j,i} 1]
 *         (out*CKK + out numbers); conv shares few weights, so these rows are materialised as a
 *         (k*b, n_params) matrix M (gram_rows, which the data-parallel Gram gathers across processes
 *         when they are smaller than the layer's input and output cotangents) and the Gram block is
 *         M M^T (nn_gram_add_rows).
 * How it runs. Every action splits the samples over the OpenMP threads: each thread builds its
 * samples' columns one at a time in its own buffer (rebuilt from x by every action and kept in
 * cache from im2col through the GEMMs to col2im; nothing is kept between actions) and calls the
 * per-sample GEMMs above inside the parallel region, where OpenBLAS runs them in the calling
 * thread with its small-matrix kernels (threading one sample's GEMM gains little, and OpenBLAS's
 * own threads change its bits). The GEMMs read and write the NCHW layout directly. Per-sample
 * results (Y_i, dX_i, Ydot_i, dXdot_i, gram rows) are each written by one thread. The parameter
 * sums over the batch use a partition fixed by b alone: min(b, CONV_CHUNKS) contiguous chunks,
 * each chunk's partial sum formed by one thread over its samples in order, then the partials
 * added to dtheta in chunk order, one output channel per thread (add_partials); threads take
 * whole chunks. So every action gives the same bits at every thread count. A batch under
 * CONV_SHARE_MIN multiply-adds runs on one thread outside a parallel region, its GEMMs then below
 * the size at which OpenBLAS starts threads. dY_i cols_i^T is an NT product that leaves the
 * small-matrix kernels early, so larger layers form it transposed (sample_wgrad). When the output
 * is as wide as the input (stride 1, "same" padding: every 3x3 layer of a ResNet stage, and the
 * transposed convolution's columns), a tap's row of columns is one shifted copy of its input plane
 * (one memcpy) with its few padding columns zeroed after; other shapes copy row by row.
 * Workspace (forward fills it; ws_bytes): the kernel's taps (CKK conv_tap, refilled by each
 * action), then forward's column slots (slots, CKK, P), one per thread: two groups of about
 * CONV_GROUP_FLOATS floats of columns, at least two samples, at most b.
 * Scratch (vjp, jvp, soa, gram_rows; scratch_bytes, shared by the modules of a pass, so the
 * partials cost no memory per layer): the chunks' partials (nch, n_params), then one area per
 * thread (at most nch): cols (CKK, P) cols(X_i); tcols (CKK, P) cols(Xdot_i) or the adjoint
 * columns W^T dY_i, or (out*k*k, in_h*in_w) colsT(dY_i) where that is larger; dt (P, out) an
 * adjoint transposed; then, with stride 1, the transposed taps (out*k*k) and W' (in_c, out*k*k),
 * filled once per vjp.
 */
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/lanes.h"
#include "nn/module.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* below this many multiply-adds b*out*CKK*P in a batch, one thread does all the samples */
#define CONV_SHARE_MIN 262144
/* floats per block in the copies of short rows */
#define CONV_BLOCK 8
/* Compile-time knobs: the target size in floats of a group's im2col columns (forward's slots, see
 * above); the largest out*CKK*P for which weight gradients use the direct product dY_i cols_i^T
 * (see sample_wgrad); the most chunks of a batch's parameter sums. The tests built with
 * -DCONV_GROUP_FLOATS=1 -DCONV_NT_MAX=0 -DCONV_CHUNKS=2 cover the paths that their small shapes
 * otherwise skip (one slot per sample, the transposed product, chunks of several samples). */
#ifndef CONV_GROUP_FLOATS
#define CONV_GROUP_FLOATS 196608
#endif
#ifndef CONV_NT_MAX
#define CONV_NT_MAX 262144
#endif
#ifndef CONV_CHUNKS
#define CONV_CHUNKS 8
#endif

int nn_conv2d_setup(module *m, int out_channels, int kernel, int stride, int padding) {
    if (out_channels < 1 || kernel < 1 || stride < 1 || padding < 0) return CURVO_E_SHAPE;
    if (m->in_c < 1 || m->in_h < 1 || m->in_w < 1) return CURVO_E_SHAPE;
    long long phl = m->in_h + 2LL * padding, pwl = m->in_w + 2LL * padding; /* padded input */
    if (kernel > phl || kernel > pwl || phl > INT_MAX || pwl > INT_MAX) return CURVO_E_SHAPE;
    /* parameters out * in_c * k * k + out must not overflow (the model caps their total) */
    if ((double)out_channels * m->in_c * kernel * kernel + out_channels > (double)SIZE_MAX / 8) return CURVO_E_SHAPE;
    int ph = (int)phl, pw = (int)pwl;
    m->ops = &nn_conv2d_ops;
    m->units = out_channels;
    m->kernel = kernel;
    m->stride = stride;
    m->pad = padding;
    m->out_c = out_channels;
    m->out_h = (ph - kernel) / stride + 1;
    m->out_w = (pw - kernel) / stride + 1;
    m->n_params = (size_t)out_channels * m->in_c * kernel * kernel + (size_t)out_channels;
    return CURVO_OK;
}

void nn_conv2d_drop_bias(module *m) {
    if (m->no_bias) return;
    m->no_bias = 1;
    m->n_params -= (size_t)m->units;
}

/* rows of the im2col matrix: in_c * k * k */
static size_t conv_ckk(const module *m) { return (size_t)m->in_c * m->kernel * m->kernel; }
/* output positions per channel: oh * ow */
static size_t conv_npos(const module *m) { return (size_t)m->out_h * m->out_w; }

/* One tap (c, ki, kj) of the kernel, i.e. one row r = (c*k + ki)*k + kj of cols: output (oy, ox)
 * reads input (oy*s + dy, ox*s + dx) of plane c. */
typedef struct conv_tap {
    int c;        /* input channel */
    int dy, dx;   /* ki - pad, kj - pad */
    int ylo, yhi; /* the output rows whose input row lies inside the plane */
    int xlo, xhi; /* the output columns whose input column lies inside the plane */
} conv_tap;

/* What im2col sees of a convolution: nc input planes (h, w) -> outputs (oh, ow), a k x k kernel,
 * stride s, padding pad. The module's own (conv_geom_of), or for stride 1 the transposed one
 * (conv_geom_t), whose im2col of dY_i gives dX_i = W' cols(dY_i) without col2im. */
typedef struct conv_geom {
    int nc, h, w, oh, ow, k, s, pad;
} conv_geom;

static conv_geom conv_geom_of(const module *m) {
    conv_geom g = {m->in_c, m->in_h, m->in_w, m->out_h, m->out_w, m->kernel, m->stride, m->pad};
    return g;
}

/* dX of a stride-1 convolution is the convolution of dY (out, oh, ow) with the kernel flipped and
 * its channels swapped, W'[c][o][ki][kj] = W[o][c][k-1-ki][k-1-kj], padding k-1-pad, which gives
 * (in_h, in_w) again; usable when that padding is not negative. */
static int conv_has_t(const module *m) { return m->stride == 1 && m->pad <= m->kernel - 1; }

static conv_geom conv_geom_t(const module *m) {
    conv_geom g = {m->units, m->out_h, m->out_w, m->in_h, m->in_w, m->kernel, 1, m->kernel - 1 - m->pad};
    return g;
}

/* samples per group for a batch of b: columns of about CONV_GROUP_FLOATS, at least one sample */
static int conv_group(const module *m, int b) {
    size_t per = conv_ckk(m) * conv_npos(m), g = CONV_GROUP_FLOATS / per;
    if (g < 1) g = 1;
    return g < (size_t)b ? (int)g : b;
}

/* forward's column slots (one per thread): two groups, at least two samples, at most b (and 1) */
static size_t conv_slots(const module *m, int b) {
    size_t s = 2 * (size_t)conv_group(m, b);
    if (s < 2) s = 2;
    if (s > (size_t)b) s = b > 1 ? (size_t)b : 1;
    return s;
}

/* bytes of the tap table, rounded up to a cache line so that the columns after it are aligned */
static size_t conv_taps_bytes(const module *m) {
    return (conv_ckk(m) * sizeof(conv_tap) + 63) / 64 * 64;
}

static size_t conv_ws_bytes(const module *m, int b) {
    return conv_taps_bytes(m) + conv_slots(m, b) * conv_ckk(m) * conv_npos(m) * sizeof(float);
}

/* chunks of a batch of b for the parameter sums: min(b, CONV_CHUNKS), fixed by b alone */
static int conv_chunks(int b) { return b < CONV_CHUNKS ? b : CONV_CHUNKS; }

/* floats rounded up to a cache line */
static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* floats of tcols: (CKK, P), or the transposed geometry's columns (out*k*k, in_h*in_w) if larger */
static size_t conv_tcols_floats(const module *m) {
    size_t f = conv_ckk(m) * conv_npos(m);
    size_t t = (size_t)m->units * m->kernel * m->kernel * m->in_h * m->in_w;
    return conv_has_t(m) && t > f ? t : f;
}

/* floats of one thread's area in the scratch: cols (CKK, P), tcols and dt (P, out) */
static size_t conv_area_floats(const module *m) {
    size_t np = conv_npos(m);
    return round16(conv_ckk(m) * np + conv_tcols_floats(m) + np * (size_t)m->units);
}

/* floats (rounded up to a cache line) taken by the transposed geometry's tap table (out*k*k conv_tap) */
static size_t conv_t_taps_floats(const module *m) {
    size_t okk = (size_t)m->units * m->kernel * m->kernel;
    return round16((okk * sizeof(conv_tap) + sizeof(float) - 1) / sizeof(float));
}

/* floats of the transposed geometry's tap table and kernel W' (in_c, out*k*k), shared by the team
 * (conv_vjp) */
static size_t conv_t_floats(const module *m) {
    if (!conv_has_t(m)) return 0;
    return conv_t_taps_floats(m) + round16((size_t)m->units * m->kernel * m->kernel * (size_t)m->in_c);
}

static size_t conv_scratch_bytes(const module *m, int b) {
    size_t nch = (size_t)(b > 0 ? conv_chunks(b) : 0);
    return (nch * (round16(m->n_params) + conv_area_floats(m)) + (nch ? conv_t_floats(m) : 0)) * sizeof(float);
}

/* The outputs [*lo, *hi) along one axis whose input o*s + d lies inside [0, len). */
static void tap_range(int d, int s, int len, int nout, int *lo, int *hi) {
    int l, h;
    if (s == 1) { /* no division in the common case */
        l = d >= 0 ? 0 : -d;
        h = len - d;
    } else {
        l = d >= 0 ? 0 : (-d + s - 1) / s;
        h = len - 1 - d < 0 ? 0 : (len - 1 - d) / s + 1;
    }
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Fills the tap table taps (nc*k*k) of geometry g and returns it. */
static const conv_tap *fill_taps(const conv_geom *g, void *taps) {
    conv_tap *tp = taps;
    for (int c = 0; c < g->nc; c++)
        for (int ki = 0; ki < g->k; ki++)
            for (int kj = 0; kj < g->k; kj++, tp++) {
                tp->c = c;
                tp->dy = ki - g->pad;
                tp->dx = kj - g->pad;
                tap_range(tp->dy, g->s, g->h, g->oh, &tp->ylo, &tp->yhi);
                tap_range(tp->dx, g->s, g->w, g->ow, &tp->xlo, &tp->xhi);
            }
    return taps;
}

/* Fills the workspace's tap table (the module's own geometry) and returns it. */
static const conv_tap *conv_taps(const module *m, void *ws) {
    conv_geom g = conv_geom_of(m);
    return fill_taps(&g, ws);
}

static void conv_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    size_t kk = (size_t)m->kernel * m->kernel;
    size_t fan_in = (size_t)m->in_c * kk, fan_out = (size_t)m->units * kk;
    size_t nw = (size_t)m->units * fan_in;
    if (next_is_rectifier) {
        double sd = sqrt(2.0 / (double)fan_in);
        for (size_t i = 0; i < nw; i++) theta[i] = (float)(sd * curvo_rng_normal(rng));
    } else {
        double lim = sqrt(6.0 / (double)(fan_in + fan_out));
        for (size_t i = 0; i < nw; i++)
            theta[i] = (float)(lim * (2.0 * curvo_rng_uniform(rng) - 1.0));
    }
    if (!m->no_bias) memset(theta + nw, 0, (size_t)m->units * sizeof(float));
}

/* The contiguous part [*lo, *hi) of [0, n) that this thread of an OpenMP team takes (all of it
 * outside a parallel region): a static split, the same from run to run. */
static void omp_share(size_t n, size_t *lo, size_t *hi) {
#ifdef _OPENMP
    size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
#else
    size_t nt = 1, id = 0;
#endif
    size_t q = n / nt, rem = n % nt;
    *lo = id * q + (id < rem ? id : rem);
    *hi = *lo + q + (id < rem ? 1 : 0);
}

/* dst (n) <- src (n). Rows here are short, so they are copied by fixed-size blocks (inlined)
 * rather than by a library call; the last block ends at n, overlapping the one before. */
static inline void copy_row(float *restrict dst, const float *restrict src, int n) {
    if (n >= CONV_BLOCK) {
        int o = 0;
        for (; o + CONV_BLOCK < n; o += CONV_BLOCK)
            memcpy(dst + o, src + o, CONV_BLOCK * sizeof(float));
        memcpy(dst + (n - CONV_BLOCK), src + (n - CONV_BLOCK), CONV_BLOCK * sizeof(float));
    } else if (n >= CONV_BLOCK / 2) {
        memcpy(dst, src, CONV_BLOCK / 2 * sizeof(float));
        memcpy(dst + (n - CONV_BLOCK / 2), src + (n - CONV_BLOCK / 2),
               CONV_BLOCK / 2 * sizeof(float));
    } else {
        for (int o = 0; o < n; o++) dst[o] = src[o];
    }
}

/* dst (n) += src (n) */
static inline void add_row(float *restrict dst, const float *restrict src, int n) {
    int o = 0;
    for (; o + CONV_BLOCK <= n; o += CONV_BLOCK)
        for (int l = 0; l < CONV_BLOCK; l++) dst[o + l] += src[o + l];
    for (; o < n; o++) dst[o] += src[o];
}

/* dst[oy*ow + ox] = 0 for the rows [y0, y1) and the columns [x0, x1) (a few: padding), a column at
 * a time: row by row, the compiler would make each row's few zeros a call to memset. */
static inline void zero_columns(float *dst, int ow, int y0, int y1, int x0, int x1) {
    for (int ox = x0; ox < x1; ox++)
        for (int oy = y0; oy < y1; oy++) dst[(size_t)oy * ow + ox] = 0.0f;
}

/* dst (oh*ow) <- row tp of cols(x_i) in geometry g, xc (h, w) the sample's input plane tp->c: the
 * tap's input value at every output position, zero where it falls in the padding. */
static void im2col_row(const conv_geom *g, const conv_tap *tp, const float *restrict xc,
                       float *restrict dst) {
    int s = g->s, w = g->w, oh = g->oh, ow = g->ow;
    int xlo = tp->xlo, xhi = tp->xhi;
    if (tp->ylo > 0) memset(dst, 0, (size_t)tp->ylo * ow * sizeof(float));
    if (s == 1 && ow == w) {
        /* "same" width: output (oy, ox) reads input element (oy*w + ox) + off of the plane, one
         * shift for the tap's whole block of rows: one copy, then the padding columns zeroed (the
         * copy put the neighbouring rows' values there; at the block's two ends it skips the
         * elements that would lie outside the plane, which are padding columns too) */
        long off = (long)tp->dy * w + tp->dx, q0 = (long)tp->ylo * w, q1 = (long)tp->yhi * w;
        long a = q0 + off < 0 ? -off : q0, e = q1 + off > (long)g->h * w ? (long)g->h * w - off : q1;
        if (e > a) memcpy(dst + a, xc + a + off, (size_t)(e - a) * sizeof(float));
        zero_columns(dst, ow, tp->ylo, tp->yhi, 0, xlo);
        zero_columns(dst, ow, tp->ylo, tp->yhi, xhi, ow);
    } else if (s == 1 && xlo == 0 && xhi == ow) { /* whole rows, no padding */
        const float *src = xc + (size_t)(tp->ylo + tp->dy) * w + tp->dx;
        float *drow = dst + (size_t)tp->ylo * ow;
        for (int oy = tp->ylo; oy < tp->yhi; oy++, src += w, drow += ow) copy_row(drow, src, ow);
    } else {
        for (int oy = tp->ylo; oy < tp->yhi; oy++) {
            float *restrict drow = dst + (size_t)oy * ow;
            const float *restrict srow = xc + (size_t)(oy * s + tp->dy) * w;
            if (s == 1)
                copy_row(drow + xlo, srow + (xlo + tp->dx), xhi - xlo);
            else
                for (int ox = xlo; ox < xhi; ox++) drow[ox] = srow[ox * s + tp->dx];
        }
        zero_columns(dst, ow, tp->ylo, tp->yhi, 0, xlo);
        zero_columns(dst, ow, tp->ylo, tp->yhi, xhi, ow);
    }
    if (tp->yhi < oh)
        memset(dst + (size_t)tp->yhi * ow, 0, (size_t)(oh - tp->yhi) * ow * sizeof(float));
}

/* cols (nb, CKK, P) <- cols(x_i) of nb samples x (nb, in_c, in_h, in_w). The nb*CKK rows are
 * split into one contiguous range per thread. */

/* this thread's number in its OpenMP team (0 outside a parallel region) */
static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* cols (nc*k*k, oh*ow) <- cols(x_i) in geometry g of one sample x_i (nc, h, w) */
static void geom_cols(const conv_geom *g, const conv_tap *taps, const float *xi, float *cols) {
    size_t rows = (size_t)g->nc * g->k * g->k, np = (size_t)g->oh * g->ow, plane = (size_t)g->h * g->w;
    for (size_t r = 0; r < rows; r++)
        im2col_row(g, &taps[r], xi + (size_t)taps[r].c * plane, cols + r * np);
}

/* cols (CKK, P) <- cols(x_i) of one sample x_i (in_c, in_h, in_w) */
static void sample_cols(const module *m, const conv_tap *taps, const float *xi, float *cols) {
    conv_geom g = conv_geom_of(m);
    geom_cols(&g, taps, xi, cols);
}

/* dxi (in_c, in_h, in_w) <- col2im of dcols (CKK, P), the adjoint of im2col (overwrites dxi):
 * plane by plane, each summed over its taps and output rows in a fixed order. */
static void sample_col2im(const module *m, const conv_tap *taps, const float *dcols, float *dxi) {
    int s = m->stride, w = m->in_w, ow = m->out_w;
    size_t kk = (size_t)m->kernel * m->kernel, nc = (size_t)m->in_c;
    size_t np = conv_npos(m), plane = (size_t)m->in_h * w;
    for (size_t c = 0; c < nc; c++) {
        float *dxc = dxi + c * plane;
        memset(dxc, 0, plane * sizeof(float));
        for (size_t r = c * kk; r < (c + 1) * kk; r++) {
            const conv_tap *tp = &taps[r];
            int xlo = tp->xlo, xhi = tp->xhi;
            const float *row = dcols + r * np; /* (P) */
            if (s == 1 && xlo == 0 && xhi == ow) { /* the common case: whole rows */
                float *drow = dxc + (size_t)(tp->ylo + tp->dy) * w + tp->dx;
                const float *srow = row + (size_t)tp->ylo * ow;
                for (int oy = tp->ylo; oy < tp->yhi; oy++, drow += w, srow += ow)
                    add_row(drow, srow, ow);
                continue;
            }
            for (int oy = tp->ylo; oy < tp->yhi; oy++) {
                float *drow = dxc + (size_t)(oy * s + tp->dy) * w;
                const float *srow = row + (size_t)oy * ow;
                if (s == 1)
                    add_row(drow + (xlo + tp->dx), srow + xlo, xhi - xlo);
                else
                    for (int ox = xlo; ox < xhi; ox++) drow[ox * s + tp->dx] += srow[ox];
            }
        }
    }
}

/* yi (out, P) += bias 1^T (nothing for a convolution without bias) */
static void sample_add_bias(const module *m, const float *bias, float *yi) {
    if (m->no_bias) return;
    size_t np = conv_npos(m);
    for (int o = 0; o < m->units; o++) {
        float bo = bias[o], *row = yi + (size_t)o * np;
        for (size_t p = 0; p < np; p++) row[p] += bo;
    }
}

/* The sum of r (n), in double lanes (lanes.h) */
static inline float row_sum(const float *r, size_t n) { return (float)lane_sum(r, n); }

/* c (out, P) = beta c + A (out, CKK) B (CKK, P) */
static void gemm_w_cols(const float *a, const float *bm, float *c, int out, int ckk, int np,
                        float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, np, ckk, 1.0f, a, ckk, bm, np, beta,
                c, np);
}

/* c (CKK, P) = beta c + A^T B with A (out, CKK), B (out, P) */
static void gemm_wt_dy(const float *a, const float *bm, float *c, int out, int ckk, int np,
                       float beta) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, np, out, 1.0f, a, ckk, bm, np, beta, c,
                np);
}

/* Whether weight gradients use the direct NT products dY_i cols_i^T (see sample_wgrad) */
static int conv_direct_wgrad(const module *m) {
    return (size_t)m->units * conv_ckk(m) * conv_npos(m) <= CONV_NT_MAX;
}

/* acc (out) = (first ? 0 : acc) + d_i 1 for one sample's adjoint d_i (out, P) (nothing without
 * bias) */
static void sample_bias_sum(const module *m, const float *d, float *acc, int first) {
    if (m->no_bias) return;
    size_t np = conv_npos(m);
    for (int o = 0; o < m->units; o++)
        acc[o] = (first ? 0.0f : acc[o]) + row_sum(d + (size_t)o * np, np);
}

/* acc = (first ? 0 : acc) + d_i cols_i^T for one sample, d_i (out, P), cols_i (CKK, P): acc
 * (out, CKK) when conv_direct_wgrad, else transposed, (CKK, out). OpenBLAS takes its small-matrix
 * kernels for the NT product only up to a small size and beyond it runs the general path, several
 * times slower at one sample's size (19 us against 10 us for 32 x 400 x 64); so beyond
 * CONV_NT_MAX the product is formed as the NN product cols_i (CKK, P) d_i^T (P, out), with d_i^T
 * in dt (P, out). */
static void sample_wgrad(const module *m, const float *restrict d, const float *cols,
                         float *restrict dt, float *acc, int first) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    float beta = first ? 0.0f : 1.0f;
    if (conv_direct_wgrad(m)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, ckk, np, 1.0f, d, np, cols, np,
                    beta, acc, ckk);
        return;
    }
    cblas_somatcopy(CblasRowMajor, CblasTrans, out, np, 1.0f, d, np, dt, out); /* OpenBLAS's transpose */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ckk, out, np, 1.0f, cols, np, dt, out,
                beta, acc, out);
}

/* y_i (out, P) <- W cols(x_i) + b 1^T for one sample x_i (in_c, in_h, in_w), its columns built in
 * slot (CKK, P). */
static void sample_forward(const module *m, const conv_tap *taps, const float *theta,
                           const float *xi, float *yi, float *slot) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    sample_cols(m, taps, xi, slot);
    gemm_w_cols(theta, slot, yi, out, ckk, np, 0.0f);
    sample_add_bias(m, theta + (size_t)out * ckk, yi);
}

/* How many threads an action of this convolution shares its b samples over: at most max, and
 * one when the batch is too small to share. */
static int conv_threads(const module *m, int b, size_t max) {
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if ((size_t)nt > max) nt = (int)max;
    if ((size_t)b * m->units * conv_ckk(m) * conv_npos(m) < CONV_SHARE_MIN) nt = 1;
    return nt < 1 ? 1 : nt;
}

/* Forward, sample by sample: the samples are split over the OpenMP threads (up to one per
 * workspace slot), each building its sample's columns in its own slot. */
static void conv_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    size_t in = module_in_size(m), osz = (size_t)m->units * conv_npos(m);
    size_t csz = conv_ckk(m) * conv_npos(m);
    const conv_tap *taps = conv_taps(m, ws);
    float *slots = (float *)((char *)ws + conv_taps_bytes(m)); /* (slots, CKK, P) */
    int nt = conv_threads(m, b, conv_slots(m, b));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t lo, hi;
        omp_share((size_t)b, &lo, &hi);
        float *slot = slots + (size_t)thread_id() * csz;
        for (size_t i = lo; i < hi; i++) sample_forward(m, taps, theta, x + i * in, y + i * osz, slot);
    }
}

/* What the other actions share out: the taps (in the workspace), the batch's chunks, their
 * partials and the threads' areas (in the scratch). */
typedef struct conv_team {
    const conv_tap *taps;
    int nch;        /* chunks of the batch */
    int nt;         /* threads, at most one per chunk */
    float *part;    /* (nch, pstride) the chunks' partial parameter sums (see sample_wgrad) */
    size_t pstride; /* n_params rounded up to a cache line */
    float *areas;   /* (nch, conv_area_floats) */
    conv_tap *taps_t; /* (out*k*k) the transposed geometry's taps (conv_has_t; filled by conv_vjp) */
    float *w_t;       /* (in_c, out*k*k) the flipped kernel W' (likewise) */
} conv_team;

/* One thread's area: cols(X_i), tcols, dt (see the top of the file). */
typedef struct conv_area {
    float *cols, *tcols, *dt;
} conv_area;

static conv_team conv_team_of(const module *m, const nn_ctx *c) {
    conv_team t;
    t.taps = conv_taps(m, c->ws);
    t.nch = conv_chunks(c->b);
    t.nt = conv_threads(m, c->b, (size_t)t.nch);
    t.pstride = round16(m->n_params);
    t.part = c->scratch;
    t.areas = t.part + (size_t)t.nch * t.pstride;
    t.taps_t = NULL, t.w_t = NULL;
    if (conv_has_t(m)) {
        t.taps_t = (conv_tap *)(t.areas + (size_t)t.nch * conv_area_floats(m));
        t.w_t = (float *)t.taps_t + conv_t_taps_floats(m);
    }
    return t;
}

/* The team's transposed taps and flipped kernel W'[c][o][ki][kj] = W[o][c][k-1-ki][k-1-kj] from
 * theta's W (out, in_c, k, k) (conv_has_t). */
static void fill_transposed(const module *m, const float *theta, conv_team *t) {
    conv_geom g = conv_geom_t(m);
    int k = m->kernel, nc = m->in_c, out = m->units;
    size_t kk = (size_t)k * k, okk = (size_t)out * kk, ckk = conv_ckk(m);
    fill_taps(&g, t->taps_t);
    for (int c = 0; c < nc; c++)
        for (int o = 0; o < out; o++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++)
                    t->w_t[(size_t)c * okk + o * kk + (size_t)ki * k + kj] =
                        theta[(size_t)o * ckk + c * kk + (size_t)(k - 1 - ki) * k + (k - 1 - kj)];
}

/* dxi (in_c, in_h, in_w) <- the input adjoint of one sample's d (out, oh, ow) by the transposed
 * convolution: W' (in_c, out*k*k) times its columns (out*k*k, in_h*in_w), built in tcols. */
static void sample_dx_t(const module *m, const conv_team *t, const float *d, float *tcols, float *dxi) {
    conv_geom g = conv_geom_t(m);
    int okk = m->units * m->kernel * m->kernel, pin = m->in_h * m->in_w;
    geom_cols(&g, t->taps_t, d, tcols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->in_c, pin, okk, 1.0f, t->w_t, okk, tcols, pin,
                0.0f, dxi, pin);
}

/* the calling thread's area */
static conv_area conv_area_of(const module *m, const conv_team *t) {
    size_t csz = conv_ckk(m) * conv_npos(m);
    conv_area a;
    a.cols = t->areas + (size_t)thread_id() * conv_area_floats(m);
    a.tcols = a.cols + csz;
    a.dt = a.tcols + conv_tcols_floats(m);
    return a;
}

/* the samples [*lo, *hi) of chunk ch */
static void chunk_range(int b, const conv_team *t, size_t ch, int *lo, int *hi) {
    *lo = (int)((long long)b * (long long)ch / t->nch);
    *hi = (int)((long long)b * (long long)(ch + 1) / t->nch);
}

/* dth (n_params) += the chunks' partials, added in chunk order; each output channel's weights and
 * bias by one thread. Called by every thread of the team, between barriers (the partials are
 * complete before, and may be overwritten after). */
static void add_partials(const module *m, const conv_team *t, float *dth) {
    size_t ckk = conv_ckk(m), out = (size_t)m->units, o0, o1;
    int direct = conv_direct_wgrad(m);
#pragma omp barrier
    omp_share(out, &o0, &o1);
    for (size_t o = o0; o < o1; o++) {
        float *row = dth + o * ckk;
        for (int ch = 0; ch < t->nch; ch++) {
            const float *p = t->part + (size_t)ch * t->pstride;
            if (direct)
                add_row(row, p + o * ckk, (int)ckk);
            else
                for (size_t r = 0; r < ckk; r++) row[r] += p[r * out + o];
            if (!m->no_bias) dth[out * ckk + o] += p[out * ckk + o];
        }
    }
#pragma omp barrier
}

static void conv_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * np;
    if (b < 1) return;
    conv_team t = conv_team_of(m, c);
    int by_t = dx && t.w_t; /* dX by the transposed convolution (stride 1) */
    if (by_t) fill_transposed(m, c->theta, &t);
#pragma omp parallel num_threads(t.nt) if (t.nt > 1)
    {
        conv_area a = conv_area_of(m, &t);
        size_t c0, c1;
        omp_share((size_t)t.nch, &c0, &c1);
        for (int j = 0; j < k; j++) {
            for (size_t ch = c0; ch < c1; ch++) {
                int lo, hi;
                chunk_range(b, &t, ch, &lo, &hi);
                float *part = t.part + ch * t.pstride;
                for (int i = lo; i < hi; i++) {
                    const float *d = dy + ((size_t)j * b + i) * osz; /* dY_{j,i} (out, P) */
                    if (dtheta) {
                        sample_cols(m, t.taps, c->x + i * in, a.cols);
                        sample_wgrad(m, d, a.cols, a.dt, part, i == lo);
                        sample_bias_sum(m, d, part + (size_t)out * ckk, i == lo);
                    }
                    if (by_t) {
                        sample_dx_t(m, &t, d, a.tcols, dx + ((size_t)j * b + i) * in);
                    } else if (dx) { /* W^T dY_{j,i} (CKK, P) */
                        gemm_wt_dy(c->theta, d, a.tcols, out, ckk, np, 0.0f);
                        sample_col2im(m, t.taps, a.tcols, dx + ((size_t)j * b + i) * in);
                    }
                }
            }
            if (dtheta) add_partials(m, &t, dtheta + (size_t)j * ldt);
        }
    }
}

static void conv_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * np;
    if (!xdot && !thetadot) {
        memset(ydot, 0, (size_t)k * b * osz * sizeof(float));
        return;
    }
    if (b < 1) return;
    conv_team t = conv_team_of(m, c);
#pragma omp parallel num_threads(t.nt) if (t.nt > 1)
    {
        conv_area a = conv_area_of(m, &t);
        size_t lo, hi;
        omp_share((size_t)b, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            if (thetadot) sample_cols(m, t.taps, c->x + i * in, a.cols); /* cols(X_i), for every j */
            for (int j = 0; j < k; j++) {
                float *yi = ydot + ((size_t)j * b + i) * osz; /* (out, P) */
                float beta = 0.0f;
                if (xdot) {
                    sample_cols(m, t.taps, xdot + ((size_t)j * b + i) * in, a.tcols);
                    gemm_w_cols(c->theta, a.tcols, yi, out, ckk, np, 0.0f);
                    beta = 1.0f;
                }
                if (thetadot) {
                    const float *tj = thetadot + (size_t)j * ldt;
                    gemm_w_cols(tj, a.cols, yi, out, ckk, np, beta);
                    sample_add_bias(m, tj + (size_t)out * ckk, yi);
                }
            }
        }
    }
}

static void conv_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * np;
    if (b < 1) return;
    conv_team t = conv_team_of(m, c);
#pragma omp parallel num_threads(t.nt) if (t.nt > 1)
    {
        conv_area a = conv_area_of(m, &t);
        size_t c0, c1;
        omp_share((size_t)t.nch, &c0, &c1);
        for (int j = 0; j < k; j++) {
            const float *tj = thetadot ? thetadot + (size_t)j * ldt : NULL;
            for (size_t ch = c0; ch < c1; ch++) {
                int lo, hi;
                chunk_range(b, &t, ch, &lo, &hi);
                float *part = t.part + ch * t.pstride;
                for (int i = lo; i < hi; i++) {
                    const float *dd = dydot + ((size_t)j * b + i) * osz; /* dYdot_{j,i} (out, P) */
                    const float *dyi = dy + (size_t)i * osz;              /* dY_i (out, P) */
                    if (dxdot) {
                        gemm_wt_dy(c->theta, dd, a.tcols, out, ckk, np, 0.0f);
                        if (tj) gemm_wt_dy(tj, dyi, a.tcols, out, ckk, np, 1.0f);
                        sample_col2im(m, t.taps, a.tcols, dxdot + ((size_t)j * b + i) * in);
                    }
                    if (dthetadot) {
                        sample_cols(m, t.taps, c->x + i * in, a.cols);
                        sample_wgrad(m, dd, a.cols, a.dt, part, i == lo);
                        if (xdot) {
                            sample_cols(m, t.taps, xdot + ((size_t)j * b + i) * in, a.tcols);
                            sample_wgrad(m, dyi, a.tcols, a.dt, part, 0);
                        }
                        sample_bias_sum(m, dd, part + (size_t)out * ckk, i == lo);
                    }
                }
            }
            if (dthetadot) add_partials(m, &t, dthetadot + (size_t)j * ldt);
        }
    }
}

/* The k gradient rows of sample i, rows j*b + i of gs (k*b, n_params), from its columns
 * cols_i (CKK, P), beyond CONV_NT_MAX: all k at once as one NN product gt (CKK, k*out) =
 * cols_i dk, with dk (P, k*out) the k adjoints dY_{j,i} transposed side by side; then each row
 * takes its slice of gt, transposed, and its bias part dY_{j,i} 1. */
static void sample_gram_rows(const module *m, const float *dy, int k, int b, int i,
                             const float *cols_i, float *dk, float *gt, float *gs) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units, kout = k * out;
    size_t n = m->n_params, osz = (size_t)out * np;
    for (int j = 0; j < k; j++) /* dk[p, j*out + o] = dY_{j,i}[o, p] */
        cblas_somatcopy(CblasRowMajor, CblasTrans, out, np, 1.0f, dy + ((size_t)j * b + i) * osz, np,
                        dk + (size_t)j * out, kout);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ckk, kout, np, 1.0f, cols_i, np, dk,
                kout, 0.0f, gt, kout);
    for (int t = 0; t < kout; t++) {
        size_t j = (size_t)t / out, o = (size_t)t % out;
        float *gr = gs + (j * b + i) * n; /* row j*b + i */
        for (int r = 0; r < ckk; r++) gr[o * ckk + r] = gt[(size_t)r * kout + t];
        if (!m->no_bias) gr[(size_t)out * ckk + o] = row_sum(dy + (j * b + i) * osz + o * np, (size_t)np);
    }
}

/* rows (k*b, n_params), row j*b + i: the per-sample parameter gradients of the k cotangents. */
static int conv_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *gs) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t n = m->n_params, in = module_in_size(m), osz = (size_t)out * np;
    size_t kout = (size_t)k * out, tsz = ((size_t)np + ckk) * kout; /* dk and gt */
    int direct = conv_direct_wgrad(m);
    if (b < 1) return CURVO_OK;
    conv_team t = conv_team_of(m, c);
    float *tmp = NULL; /* (nt, P*k*out + CKK*k*out): each thread's dk and gt (sample_gram_rows) */
    if (!direct && !(tmp = malloc((size_t)t.nt * tsz * sizeof(float)))) return CURVO_E_NOMEM;
#pragma omp parallel num_threads(t.nt) if (t.nt > 1)
    {
        conv_area a = conv_area_of(m, &t);
        float *dk = direct ? NULL : tmp + (size_t)thread_id() * tsz, *gt = dk ? dk + (size_t)np * kout : NULL;
        size_t lo, hi;
        omp_share((size_t)b, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            sample_cols(m, t.taps, c->x + i * in, a.cols);
            if (!direct) {
                sample_gram_rows(m, dy, k, b, (int)i, a.cols, dk, gt, gs);
                continue;
            }
            for (int j = 0; j < k; j++) { /* row by row, direct NT products */
                size_t r = (size_t)j * b + i; /* row j*b + i */
                sample_wgrad(m, dy + r * osz, a.cols, NULL, gs + r * n, 1);
                sample_bias_sum(m, dy + r * osz, gs + r * n + (size_t)out * ckk, 1);
            }
        }
    }
    free(tmp);
    return CURVO_OK;
}

int nn_gram_add_rows(const float *rows, size_t kb, size_t n, double *gram) {
    float *gg = malloc((kb ? kb * kb : 1) * sizeof(float)); /* (k*b, k*b) = rows rows^T */
    if (!gg) return CURVO_E_NOMEM;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)kb, (int)n, 1.0f, rows, (int)n, 0.0f,
                gg, (int)kb);
    /* upper triangle only (the caller mirrors it), row by row */
    for (size_t r = 0; r < kb; r++) {
        const float *ggr = gg + r * kb;
        double *gr = gram + r * kb;
        for (size_t q = r; q < kb; q++) gr[q] += (double)ggr[q];
    }
    free(gg);
    return CURVO_OK;
}

int nn_gram_from_rows(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    size_t kb = (size_t)k * c->b, n = m->n_params;
    float *rows = malloc((kb ? kb : 1) * (n ? n : 1) * sizeof(float)); /* (k*b, n_params) */
    int rc = rows ? m->ops->gram_rows(m, c, dy, k, rows) : CURVO_E_NOMEM;
    if (!rc) rc = nn_gram_add_rows(rows, kb, n, gram);
    free(rows);
    return rc;
}

const module_ops nn_conv2d_ops = {
    .name = "conv2d",
    .ws_bytes = conv_ws_bytes,
    .scratch_bytes = conv_scratch_bytes,
    .init = conv_init,
    .forward = conv_forward,
    .vjp = conv_vjp,
    .jvp = conv_jvp,
    .soa = conv_soa,
    .gram = nn_gram_from_rows,
    .gram_rows = conv_gram_rows,
};
