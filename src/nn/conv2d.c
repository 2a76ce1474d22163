/* conv2d.c — 2-D convolution (cross-correlation) with zero padding and stride, by im2col + GEMM.
 * Per sample, NCHW: x (in_c, in_h, in_w), y (out, oh, ow) with oh = (in_h + 2 pad - k)/stride + 1.
 * Parameters: W (out, in_c, k, k) row-major, then b (out). With CKK = in_c*k*k, P = oh*ow and
 * cols(X_i) the (CKK, P) im2col matrix of sample i (row (c*k + ki)*k + kj, column oy*ow + ox):
 *   forward: Y_i = W cols_i + b 1^T                        W viewed as (out, CKK)
 *   vjp:  dX_i = col2im(W^T dY_i);  dW += dY_i cols_i^T;  db += dY_i 1
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
 * How it runs. The batch goes in groups of g = conv_group(m, b) samples whose columns (about
 * CONV_GROUP_FLOATS floats) stay in cache from im2col through the GEMMs to col2im: writing the
 * whole batch's columns out to memory and reading them back costs more than rebuilding a group's
 * from x, which every action does (x is in the context), so nothing is kept between actions.
 * The GEMMs are one per sample and vector, as above, reading and writing the NCHW layout
 * directly; at one sample's size OpenBLAS runs them in the calling thread with its small-matrix
 * kernels, as fast here as one large GEMM over the group (which would also need the outputs
 * gathered and scattered). dY_i cols_i^T is the exception: as an NT product it leaves those
 * kernels early, so larger layers form it transposed (group_weight_grad). The loops between the
 * GEMMs (im2col, col2im, transposes, bias terms) are split over OpenMP threads so that every
 * output element is written by one thread in a fixed order, and parameter adjoints accumulate
 * over the samples in order. Forward is the exception: it splits the samples themselves over the
 * threads (conv_forward), each building its sample's columns in its own workspace slot and calling
 * BLAS inside the parallel region, where OpenBLAS runs in the calling thread; its output does not
 * depend on the thread count. Outside a parallel region OpenBLAS splits larger GEMMs over its
 * threads, which can change their bits (seen at 16 x 256 x 72 per sample, ResNet-20's 16 x 1024 x
 * 144 is larger): the other actions give the same bits at every thread count only where the
 * GEMMs stay in the calling thread.
 * Workspace, for one group: the kernel's taps (CKK conv_tap, refilled by each action), then
 * cols (g, CKK, P) cols(X_i); tcols (g, CKK, P) cols(Xdot_i) or the adjoint columns W^T dY_i;
 * dt (g, P, out) adjoints transposed; wt (CKK, out) a weight gradient transposed.
 */
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* below this many elements a loop is not worth starting threads for */
#define CONV_OMP_MIN 16384
/* independent partial sums in the bias reductions (lets the compiler vectorize them) */
#define CONV_LANES 16
/* floats per block in the copies of short rows */
#define CONV_BLOCK 8
/* Compile-time knobs: the target size in floats of a group's im2col columns (see above), and the
 * largest out*CKK*P for which weight gradients use the direct product dY_i cols_i^T (see
 * group_weight_grad). The tests built with -DCONV_GROUP_FLOATS=1 -DCONV_NT_MAX=0 cover the paths
 * that their small shapes otherwise skip (several groups, the transposed product). */
#ifndef CONV_GROUP_FLOATS
#define CONV_GROUP_FLOATS 196608
#endif
#ifndef CONV_NT_MAX
#define CONV_NT_MAX 262144
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

/* The workspace of one group (g samples). */
typedef struct conv_bufs {
    conv_tap *taps; /* (CKK) */
    float *cols;    /* (g, CKK, P) cols(X_i) of the group's samples */
    float *tcols;   /* (g, CKK, P) cols(Xdot_i), or the adjoint columns W^T dY_i */
    float *dt;      /* (g, P, out) adjoints dY_i^T, for weight gradients in transposed form */
    float *wt;      /* (CKK, out) a group's weight gradient, transposed */
} conv_bufs;

/* samples per group for a batch of b: columns of about CONV_GROUP_FLOATS, at least one sample */
static int conv_group(const module *m, int b) {
    size_t per = conv_ckk(m) * conv_npos(m), g = CONV_GROUP_FLOATS / per;
    if (g < 1) g = 1;
    return g < (size_t)b ? (int)g : b;
}

/* bytes of the tap table, rounded up to a cache line so that the columns after it are aligned */
static size_t conv_taps_bytes(const module *m) {
    return (conv_ckk(m) * sizeof(conv_tap) + 63) / 64 * 64;
}

static size_t conv_ws_bytes(const module *m, int b) {
    size_t g = (size_t)conv_group(m, b), out = (size_t)m->units, ckk = conv_ckk(m);
    size_t np = conv_npos(m);
    return conv_taps_bytes(m) + (2 * g * ckk * np + g * np * out + ckk * out) * sizeof(float);
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

/* Splits the workspace and fills its tap table. */
static conv_bufs conv_bufs_of(const module *m, void *ws, int b) {
    size_t g = (size_t)conv_group(m, b), np = conv_npos(m), group = g * conv_ckk(m) * np;
    int k = m->kernel, nc = m->in_c;
    conv_bufs w;
    w.taps = ws;
    w.cols = (float *)((char *)ws + conv_taps_bytes(m));
    w.tcols = w.cols + group;
    w.dt = w.tcols + group;
    w.wt = w.dt + g * np * (size_t)m->units;
    conv_tap *tp = w.taps;
    for (int c = 0; c < nc; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++, tp++) {
                tp->c = c;
                tp->dy = ki - m->pad;
                tp->dx = kj - m->pad;
                tap_range(tp->dy, m->stride, m->in_h, m->out_h, &tp->ylo, &tp->yhi);
                tap_range(tp->dx, m->stride, m->in_w, m->out_w, &tp->xlo, &tp->xhi);
            }
    return w;
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

/* dst (P) <- row tp of cols(x_i), xc (in_h, in_w) the sample's input plane tp->c: the tap's input
 * value at every output position, zero where it falls in the padding. */
static void im2col_row(const module *m, const conv_tap *tp, const float *restrict xc,
                       float *restrict dst) {
    int s = m->stride, w = m->in_w, oh = m->out_h, ow = m->out_w;
    int xlo = tp->xlo, xhi = tp->xhi;
    if (tp->ylo > 0) memset(dst, 0, (size_t)tp->ylo * ow * sizeof(float));
    if (s == 1 && xlo == 0 && xhi == ow) { /* the common case: whole rows, no padding */
        const float *src = xc + (size_t)(tp->ylo + tp->dy) * w + tp->dx;
        float *drow = dst + (size_t)tp->ylo * ow;
        for (int oy = tp->ylo; oy < tp->yhi; oy++, src += w, drow += ow) copy_row(drow, src, ow);
    } else {
        for (int oy = tp->ylo; oy < tp->yhi; oy++) {
            float *restrict drow = dst + (size_t)oy * ow;
            const float *restrict srow = xc + (size_t)(oy * s + tp->dy) * w;
            for (int ox = 0; ox < xlo; ox++) drow[ox] = 0.0f;
            if (s == 1)
                copy_row(drow + xlo, srow + (xlo + tp->dx), xhi - xlo);
            else
                for (int ox = xlo; ox < xhi; ox++) drow[ox] = srow[ox * s + tp->dx];
            for (int ox = xhi; ox < ow; ox++) drow[ox] = 0.0f;
        }
    }
    if (tp->yhi < oh)
        memset(dst + (size_t)tp->yhi * ow, 0, (size_t)(oh - tp->yhi) * ow * sizeof(float));
}

/* cols (nb, CKK, P) <- cols(x_i) of nb samples x (nb, in_c, in_h, in_w). The nb*CKK rows are
 * split into one contiguous range per thread. */
static void im2col(const module *m, const conv_tap *taps, const float *x, int nb, float *cols) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), in = module_in_size(m);
    size_t plane = (size_t)m->in_h * m->in_w, nrows = (size_t)nb * ckk;
#pragma omp parallel if (nrows * np >= CONV_OMP_MIN)
    {
        size_t t, t1;
        omp_share(nrows, &t, &t1);
        size_t i = t / ckk, r = t % ckk; /* row t = i*CKK + r */
        for (; t < t1; t++) {
            im2col_row(m, &taps[r], x + i * in + (size_t)taps[r].c * plane, cols + t * np);
            if (++r == ckk) r = 0, i++;
        }
    }
}

/* dx (nb, in_c, in_h, in_w) <- col2im of dcols (nb, CKK, P), the adjoint of im2col (overwrites
 * dx). Split over (sample, channel) planes; each plane is summed by one thread over its taps and
 * output rows in a fixed order. */
static void col2im(const module *m, const conv_tap *taps, const float *dcols, int nb, float *dx) {
    int s = m->stride, w = m->in_w, ow = m->out_w;
    size_t ckk = conv_ckk(m), kk = (size_t)m->kernel * m->kernel, nc = (size_t)m->in_c;
    size_t np = conv_npos(m), in = module_in_size(m), plane = (size_t)m->in_h * w;
    long nplanes = (long)((size_t)nb * nc);
#pragma omp parallel for schedule(static) if ((size_t)nb * ckk * np >= CONV_OMP_MIN)
    for (long t = 0; t < nplanes; t++) {
        size_t i = (size_t)t / nc, c = (size_t)t % nc;
        float *dxc = dx + i * in + c * plane;
        memset(dxc, 0, plane * sizeof(float));
        for (size_t r = c * kk; r < (c + 1) * kk; r++) {
            const conv_tap *tp = &taps[r];
            int xlo = tp->xlo, xhi = tp->xhi;
            const float *row = dcols + (i * ckk + r) * np; /* (P) */
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

/* y (nb, out, P) += bias 1^T for each sample (nothing for a convolution without bias) */
static void add_bias(const module *m, const float *bias, int nb, float *y) {
    if (m->no_bias) return;
    size_t np = conv_npos(m), out = (size_t)m->units;
    long nrows = (long)((size_t)nb * out);
#pragma omp parallel for schedule(static) if ((size_t)nrows * np >= CONV_OMP_MIN)
    for (long t = 0; t < nrows; t++) {
        float bo = bias[(size_t)t % out], *row = y + (size_t)t * np;
        for (size_t p = 0; p < np; p++) row[p] += bo;
    }
}

/* The sum of r (n), in CONV_LANES partial sums */
static inline float row_sum(const float *r, size_t n) {
    float lane[CONV_LANES] = {0.0f};
    size_t p = 0;
    for (; p + CONV_LANES <= n; p += CONV_LANES)
        for (int l = 0; l < CONV_LANES; l++) lane[l] += r[p + l];
    float s = 0.0f;
    for (int l = 0; l < CONV_LANES; l++) s += lane[l];
    for (; p < n; p++) s += r[p];
    return s;
}

/* acc (out) += sum over the nb samples, in order, of d_i (out, P) 1, d (nb, out, P): one thread
 * per channel (nothing for a convolution without bias) */
static void sum_positions(const module *m, const float *d, int nb, float *acc) {
    if (m->no_bias) return;
    size_t np = conv_npos(m);
    int out = m->units;
#pragma omp parallel for schedule(static) if ((size_t)nb * out * np >= CONV_OMP_MIN)
    for (int o = 0; o < out; o++) {
        float a = acc[o];
        for (int i = 0; i < nb; i++) a += row_sum(d + ((size_t)i * out + o) * np, np);
        acc[o] = a;
    }
}

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

/* dw (out, CKK) += dy (out, P) cols^T with cols (CKK, P) */
static void accum_weight_grad(float *dw, const float *dy, const float *cols, int out, int ckk,
                              int np) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, ckk, np, 1.0f, dy, np, cols, np, 1.0f,
                dw, ckk);
}

/* dt (nb, P, out) <- the transposes of d_i (out, P) for the nb samples of d (nb, out, P) */
static void transpose_adjoints(const module *m, const float *restrict d, int nb,
                               float *restrict dt) {
    size_t np = conv_npos(m), out = (size_t)m->units;
#pragma omp parallel for schedule(static) if ((size_t)nb * out * np >= CONV_OMP_MIN)
    for (int i = 0; i < nb; i++) {
        const float *di = d + (size_t)i * out * np;
        float *ti = dt + (size_t)i * np * out;
        for (size_t p = 0; p < np; p++)
            for (size_t o = 0; o < out; o++) ti[p * out + o] = di[o * np + p];
    }
}

/* Whether weight gradients use the direct NT products dY_i cols_i^T (see group_weight_grad) */
static int conv_direct_wgrad(const module *m) {
    return (size_t)m->units * conv_ckk(m) * conv_npos(m) <= CONV_NT_MAX;
}

/* dw (out, CKK) += sum over the nb samples, in order, of d_i cols_i^T: d (nb, out, P) adjoints,
 * cols (nb, CKK, P) columns. OpenBLAS takes its small-matrix kernels for this NT product only up
 * to a small size and beyond it runs the general, threaded path, several times slower at one
 * sample's size (19 us single-threaded and 43 us on two threads against 10 us, for 32 x 400 x 64);
 * so beyond CONV_NT_MAX the group's sum is formed transposed, as NN products
 * cols_i (CKK, P) d_i^T (P, out) into wt, and added to dw at the end. */
static void group_weight_grad(const module *m, const conv_bufs *w, const float *d,
                              const float *cols, int nb, float *dw) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t osz = (size_t)out * np, csz = (size_t)ckk * np;
    if (conv_direct_wgrad(m)) {
        for (int i = 0; i < nb; i++)
            accum_weight_grad(dw, d + i * osz, cols + i * csz, out, ckk, np);
        return;
    }
    transpose_adjoints(m, d, nb, w->dt);
    for (int i = 0; i < nb; i++) /* wt (CKK, out) = sum_i cols_i d_i^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ckk, out, np, 1.0f, cols + i * csz,
                    np, w->dt + i * osz, out, i ? 1.0f : 0.0f, w->wt, out);
#pragma omp parallel for schedule(static) if ((size_t)out * ckk >= CONV_OMP_MIN)
    for (int o = 0; o < out; o++)
        for (int r = 0; r < ckk; r++) dw[(size_t)o * ckk + r] += w->wt[(size_t)r * out + o];
}

/* How many im2col slots of one sample (CKK*P floats) the workspace after the tap table holds: at
 * least 2g (cols and tcols), whatever the batch. */
static size_t conv_slots(const module *m, int b) {
    return (conv_ws_bytes(m, b) - conv_taps_bytes(m)) / sizeof(float) / (conv_ckk(m) * conv_npos(m));
}

/* y_i (out, P) <- W cols(x_i) + b 1^T for one sample x_i (in_c, in_h, in_w), its columns built in
 * slot (CKK, P); no threads of its own. */
static void sample_forward(const module *m, const conv_tap *taps, const float *theta,
                           const float *xi, float *yi, float *slot) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    size_t plane = (size_t)m->in_h * m->in_w;
    for (int r = 0; r < ckk; r++)
        im2col_row(m, &taps[r], xi + (size_t)taps[r].c * plane, slot + (size_t)r * np);
    gemm_w_cols(theta, slot, yi, out, ckk, np, 0.0f);
    if (m->no_bias) return;
    const float *bias = theta + (size_t)out * ckk;
    for (int o = 0; o < out; o++) {
        float bo = bias[o], *row = yi + (size_t)o * np;
        for (int p = 0; p < np; p++) row[p] += bo;
    }
}

/* Forward, sample by sample: the samples are split over the OpenMP threads (up to one per
 * workspace slot), each building its sample's columns in its own slot and calling BLAS in its own
 * thread (OpenBLAS runs single-threaded inside a parallel region). Every output is computed by
 * the same operations whichever thread takes it, so y does not depend on the thread count. */
static void conv_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    size_t in = module_in_size(m), osz = (size_t)m->units * conv_npos(m);
    size_t csz = conv_ckk(m) * conv_npos(m), nslots = conv_slots(m, b);
    conv_bufs w = conv_bufs_of(m, ws, b);
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if ((size_t)nt > nslots) nt = (int)nslots;
    if ((size_t)b * osz * conv_ckk(m) < CONV_OMP_MIN * 16) nt = 1; /* too small to share */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t lo, hi, id = 0;
#ifdef _OPENMP
        id = (size_t)omp_get_thread_num();
#endif
        omp_share((size_t)b, &lo, &hi);
        float *slot = w.cols + id * csz;
        for (size_t i = lo; i < hi; i++) sample_forward(m, w.taps, theta, x + i * in, y + i * osz, slot);
    }
}

static void conv_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    int g = conv_group(m, b);
    size_t in = module_in_size(m), osz = (size_t)out * np, csz = (size_t)ckk * np;
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    for (int i0 = 0; i0 < b; i0 += g) {
        int nb = b - i0 < g ? b - i0 : g;
        if (dtheta) im2col(m, w.taps, c->x + i0 * in, nb, w.cols); /* cols(X_i), for every j */
        for (int j = 0; j < k; j++) {
            const float *dyj = dy + ((size_t)j * b + i0) * osz; /* (nb, out, P) */
            if (dtheta) {
                float *dtj = dtheta + (size_t)j * ldt;
                group_weight_grad(m, &w, dyj, w.cols, nb, dtj);
                sum_positions(m, dyj, nb, dtj + (size_t)out * ckk);
            }
            if (dx) {
                for (int i = 0; i < nb; i++) /* W^T dY_{j,i} (CKK, P) */
                    gemm_wt_dy(c->theta, dyj + i * osz, w.tcols + i * csz, out, ckk, np, 0.0f);
                col2im(m, w.taps, w.tcols, nb, dx + ((size_t)j * b + i0) * in);
            }
        }
    }
}

static void conv_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    int g = conv_group(m, b);
    size_t in = module_in_size(m), osz = (size_t)out * np, csz = (size_t)ckk * np;
    if (!xdot && !thetadot) {
        memset(ydot, 0, (size_t)k * b * osz * sizeof(float));
        return;
    }
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    for (int i0 = 0; i0 < b; i0 += g) {
        int nb = b - i0 < g ? b - i0 : g;
        if (thetadot) im2col(m, w.taps, c->x + i0 * in, nb, w.cols); /* cols(X_i), for every j */
        for (int j = 0; j < k; j++) {
            const float *tj = thetadot ? thetadot + (size_t)j * ldt : NULL;
            float *yj = ydot + ((size_t)j * b + i0) * osz; /* (nb, out, P) */
            if (xdot) im2col(m, w.taps, xdot + ((size_t)j * b + i0) * in, nb, w.tcols);
            for (int i = 0; i < nb; i++) {
                float beta = 0.0f;
                if (xdot) {
                    gemm_w_cols(c->theta, w.tcols + i * csz, yj + i * osz, out, ckk, np, 0.0f);
                    beta = 1.0f;
                }
                if (tj) gemm_w_cols(tj, w.cols + i * csz, yj + i * osz, out, ckk, np, beta);
            }
            if (tj) add_bias(m, tj + (size_t)out * ckk, nb, yj);
        }
    }
}

static void conv_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    int g = conv_group(m, b);
    size_t in = module_in_size(m), osz = (size_t)out * np, csz = (size_t)ckk * np;
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    for (int i0 = 0; i0 < b; i0 += g) {
        int nb = b - i0 < g ? b - i0 : g;
        const float *dyg = dy + (size_t)i0 * osz; /* (nb, out, P), shared by every j */
        if (dthetadot) im2col(m, w.taps, c->x + i0 * in, nb, w.cols);
        for (int j = 0; j < k; j++) {
            const float *ddj = dydot + ((size_t)j * b + i0) * osz; /* (nb, out, P) */
            const float *tj = thetadot ? thetadot + (size_t)j * ldt : NULL;
            if (dxdot) {
                for (int i = 0; i < nb; i++) {
                    float *tc = w.tcols + i * csz;
                    gemm_wt_dy(c->theta, ddj + i * osz, tc, out, ckk, np, 0.0f);
                    if (tj) gemm_wt_dy(tj, dyg + i * osz, tc, out, ckk, np, 1.0f);
                }
                col2im(m, w.taps, w.tcols, nb, dxdot + ((size_t)j * b + i0) * in);
            }
            if (dthetadot) {
                float *dtj = dthetadot + (size_t)j * ldt;
                group_weight_grad(m, &w, ddj, w.cols, nb, dtj);
                if (xdot) {
                    im2col(m, w.taps, xdot + ((size_t)j * b + i0) * in, nb, w.tcols);
                    group_weight_grad(m, &w, dyg, w.tcols, nb, dtj);
                }
                sum_positions(m, ddj, nb, dtj + (size_t)out * ckk);
            }
        }
    }
}

/* The k gradient rows of sample i, rows j*b + i of gs (k*b, n_params), from its columns
 * cols_i (CKK, P): all k at once as one NN product gt (CKK, k*out) = cols_i dk, with
 * dk (P, k*out) the k adjoints dY_{j,i} transposed side by side; then each row takes its slice of
 * gt, transposed, and its bias part dY_{j,i} 1. */
static void sample_gram_rows(const module *m, const float *dy, int k, int b, int i,
                             const float *cols_i, float *dk, float *gt, float *gs) {
    int ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units, kout = k * out;
    size_t n = m->n_params, osz = (size_t)out * np;
    long nrows = (long)kout; /* (j, o) */
#pragma omp parallel for schedule(static) if ((size_t)kout * np >= CONV_OMP_MIN)
    for (long t = 0; t < nrows; t++) { /* dk[p, j*out + o] = dY_{j,i}[o, p] */
        const float *src = dy + ((size_t)(t / out) * b + i) * osz + (size_t)(t % out) * np;
        for (int p = 0; p < np; p++) dk[(size_t)p * kout + t] = src[p];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ckk, kout, np, 1.0f, cols_i, np, dk,
                kout, 0.0f, gt, kout);
#pragma omp parallel for schedule(static) if ((size_t)kout * (ckk + np) >= CONV_OMP_MIN)
    for (long t = 0; t < nrows; t++) {
        size_t j = (size_t)t / out, o = (size_t)t % out;
        float *gr = gs + (j * b + i) * n; /* row j*b + i */
        for (int r = 0; r < ckk; r++) gr[o * ckk + r] = gt[(size_t)r * kout + t];
        if (!m->no_bias) gr[(size_t)out * ckk + o] = row_sum(dy + (j * b + i) * osz + o * np, (size_t)np);
    }
}

/* rows (k*b, n_params), row j*b + i: the per-sample parameter gradients of the k cotangents. */
static int conv_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *gs) {
    int b = c->b, ckk = (int)conv_ckk(m), np = (int)conv_npos(m), out = m->units;
    int g = conv_group(m, b);
    size_t n = m->n_params, in = module_in_size(m), csz = (size_t)ckk * np;
    size_t osz = (size_t)out * np, kout = (size_t)k * out;
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    float *dk = malloc((size_t)np * kout * sizeof(float)); /* (P, k*out) */
    float *gt = malloc((size_t)ckk * kout * sizeof(float));  /* (CKK, k*out) */
    if (!dk || !gt) {
        free(dk);
        free(gt);
        return CURVO_E_NOMEM;
    }
    for (int i0 = 0; i0 < b; i0 += g) {
        int nb = b - i0 < g ? b - i0 : g;
        im2col(m, w.taps, c->x + i0 * in, nb, w.cols);
        for (int i = 0; i < nb; i++) {
            const float *cols_i = w.cols + i * csz;
            if (!conv_direct_wgrad(m)) {
                sample_gram_rows(m, dy, k, b, i0 + i, cols_i, dk, gt, gs);
                continue;
            }
            for (int j = 0; j < k; j++) { /* row by row, direct NT products */
                size_t r = (size_t)j * b + i0 + i; /* row j*b + i */
                memset(gs + r * n, 0, n * sizeof(float));
                accum_weight_grad(gs + r * n, dy + r * osz, cols_i, out, ckk, np);
                sum_positions(m, dy + r * osz, 1, gs + r * n + (size_t)out * ckk);
            }
        }
    }
    free(dk);
    free(gt);
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
    .init = conv_init,
    .forward = conv_forward,
    .vjp = conv_vjp,
    .jvp = conv_jvp,
    .soa = conv_soa,
    .gram = nn_gram_from_rows,
    .gram_rows = conv_gram_rows,
};
