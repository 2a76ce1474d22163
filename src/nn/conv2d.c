/* conv2d.c — 2-D convolution (cross-correlation) with zero padding and stride, by im2col + GEMM.
 * Per sample, NCHW: x (in_c, in_h, in_w), y (out, oh, ow) with oh = (in_h + 2 pad - k)/stride + 1.
 * Parameters: W (out, in_c, k, k) row-major, then b (out). With CKK = in_c*k*k, P = oh*ow and
 * N = b*P, the whole batch is one im2col matrix cols(X) (CKK, N): row (c*k + ki)*k + kj, column
 * i*P + oy*ow + ox. Outputs and their adjoints are batch-major (b, out, P); the GEMMs want them
 * channel-major, so Y' (out, N) denotes Y with columns i*P + p (a gather/scatter of contiguous
 * P-chunks). Each action is then one large GEMM per vector, over all N columns:
 *   forward: Y' = W cols(X) + b 1^T                          W viewed as (out, CKK)
 *   vjp:  dX = col2im(W^T dY');  dW += dY' cols(X)^T;  db += dY' 1
 *   jvp:  Ydot' = W cols(Xdot) + Wdot cols(X) + bdot 1^T
 *   soa:  dXdot = col2im(W^T dYdot' + Wdot^T dY');
 *         dWdot += dYdot' cols(X)^T + dY' cols(Xdot)^T;  dbdot += dYdot' 1
 *   gram: the per-sample gradient of cotangent row (j, i) is [dY_{j,i} cols_i^T, dY_{j,i} 1]
 *         (out*CKK + out numbers), cols_i the P columns of sample i; conv shares few weights, so
 *         these rows are materialised as a (k*b, n_params) matrix M and the Gram block is M M^T.
 * Workspace: cols (CKK, N), filled by forward and kept for the later actions; then the scratch
 * of one action: tcols (CKK, N) for cols(Xdot) or W^T dY', and od, oy (out, N) for channel-major
 * outputs and adjoints (od also receives the forward's GEMM).
 * im2col, col2im, the gather/scatter and the bias sums are split over OpenMP threads so that
 * every output element is written by one thread in a fixed order: results do not depend on the
 * thread count. BLAS is never called inside a parallel region.
 */
#include <cblas.h>
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
/* floats of one row of the adjoint columns that col2im reads in one go */
#define CONV_RUN 4096

int nn_conv2d_setup(module *m, int out_channels, int kernel, int stride, int padding) {
    if (out_channels < 1 || kernel < 1 || stride < 1 || padding < 0) return CURVO_E_SHAPE;
    if (m->in_c < 1 || m->in_h < 1 || m->in_w < 1) return CURVO_E_SHAPE;
    int ph = m->in_h + 2 * padding, pw = m->in_w + 2 * padding; /* padded input */
    if (kernel > ph || kernel > pw) return CURVO_E_SHAPE;
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

/* rows of the im2col matrix: in_c * k * k */
static size_t conv_ckk(const module *m) { return (size_t)m->in_c * m->kernel * m->kernel; }
/* output positions per channel: oh * ow */
static size_t conv_npos(const module *m) { return (size_t)m->out_h * m->out_w; }

/* The workspace of a pass of b samples, N = b*P columns. */
typedef struct conv_bufs {
    float *cols;  /* (CKK, N) cols(X), filled by forward */
    float *tcols; /* (CKK, N) scratch: cols(Xdot_j) or the adjoint columns W^T dY' */
    float *od;    /* (out, N) scratch: channel-major outputs or adjoints of one vector */
    float *oy;    /* (out, N) scratch: dY' in soa, shared by every tangent */
} conv_bufs;

static size_t conv_ws_bytes(const module *m, int b) {
    size_t n = (size_t)b * conv_npos(m);
    return (2 * conv_ckk(m) + 2 * (size_t)m->units) * n * sizeof(float);
}

static conv_bufs conv_bufs_of(const module *m, void *ws, int b) {
    size_t n = (size_t)b * conv_npos(m), ckk = conv_ckk(m), out = (size_t)m->units;
    conv_bufs w;
    w.cols = ws;
    w.tcols = w.cols + ckk * n;
    w.od = w.tcols + ckk * n;
    w.oy = w.od + out * n;
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
    memset(theta + nw, 0, (size_t)m->units * sizeof(float));
}

/* The first and last of the contiguous range t in [0, n) that this thread of an OpenMP team gets
 * (the whole range outside a parallel region): a static split that does not depend on timing. */
static void omp_share(long n, long *lo, long *hi) {
#ifdef _OPENMP
    long nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
    long nt = 1, id = 0;
#endif
    long q = n / nt, rem = n % nt;
    *lo = id * q + (id < rem ? id : rem);
    *hi = *lo + q + (id < rem ? 1 : 0);
}

/* The output columns [*lo, *hi) whose tap at column offset d = kj - pad lands inside the input
 * row: 0 <= ox*s + d < w. */
static void tap_range(int d, int s, int w, int ow, int *lo, int *hi) {
    int l, h;
    if (s == 1) { /* no division in the common case */
        l = d >= 0 ? 0 : -d;
        h = w - d;
    } else {
        l = d >= 0 ? 0 : (-d + s - 1) / s;
        h = w - 1 - d < 0 ? 0 : (w - 1 - d) / s + 1;
    }
    if (h > ow) h = ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* One tap (c, ki, kj) of the kernel, i.e. one row of cols. */
typedef struct conv_tap {
    size_t c;      /* input channel */
    int ki, d;     /* kernel row; column offset d = kj - pad */
    int lo, hi;    /* the output columns that land inside the input row (tap_range) */
} conv_tap;

static conv_tap conv_tap_of(const module *m, size_t r) {
    size_t k = (size_t)m->kernel, kk = k * k;
    conv_tap tp;
    tp.c = r / kk;
    tp.ki = (int)(r % kk / k);
    tp.d = (int)(r % k) - m->pad;
    tap_range(tp.d, m->stride, m->in_w, m->out_w, &tp.lo, &tp.hi);
    return tp;
}

/* dst (P) <- the row of cols for tap tp of one sample, xc (in_h, in_w) its input plane tp.c:
 * the tap's input value at every output position, zero where it falls in the padding. */
static void im2col_seg(const module *m, const conv_tap *tp, const float *restrict xc,
                       float *restrict dst) {
    int s = m->stride, pad = m->pad, h = m->in_h, w = m->in_w, oh = m->out_h, ow = m->out_w;
    int d = tp->d, lo = tp->lo, hi = tp->hi;
    for (int oy = 0; oy < oh; oy++) {
        float *restrict drow = dst + (size_t)oy * ow;
        int iy = oy * s - pad + tp->ki;
        if (iy < 0 || iy >= h) {
            memset(drow, 0, (size_t)ow * sizeof(float));
            continue;
        }
        const float *restrict src = xc + (size_t)iy * w;
        for (int ox = 0; ox < lo; ox++) drow[ox] = 0.0f;
        if (s == 1 && hi - lo >= CONV_BLOCK) {
            /* Rows are short, so they are copied by blocks rather than by a library call; the
             * last block ends at hi, overlapping the one before (rewriting the same values). */
            for (int ox = lo;; ox += CONV_BLOCK) {
                if (ox > hi - CONV_BLOCK) ox = hi - CONV_BLOCK;
                for (int l = 0; l < CONV_BLOCK; l++) drow[ox + l] = src[ox + d + l];
                if (ox == hi - CONV_BLOCK) break;
            }
        } else if (s == 1) {
            for (int ox = lo; ox < hi; ox++) drow[ox] = src[ox + d];
        } else {
            for (int ox = lo; ox < hi; ox++) drow[ox] = src[ox * s + d];
        }
        for (int ox = hi; ox < ow; ox++) drow[ox] = 0.0f;
    }
}

/* cols (CKK, b*P) <- im2col of the batch x (b, in_c, in_h, in_w). The CKK*b segments of P
 * columns, (row r, sample i) at t = r*b + i, are split into one contiguous range per thread, so
 * each thread writes one contiguous part of cols. */
static void im2col_batch(const module *m, const float *x, int b, float *cols) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), n = (size_t)b * np, in = module_in_size(m);
    size_t plane = (size_t)m->in_h * m->in_w;
    long nseg = (long)(ckk * (size_t)b);
#pragma omp parallel if (ckk * n >= CONV_OMP_MIN)
    {
        long t, t1;
        omp_share(nseg, &t, &t1);
        size_t r = (size_t)t / (size_t)b, i = (size_t)t % (size_t)b;
        for (; t < t1; r++, i = 0) {
            conv_tap tp = conv_tap_of(m, r);
            const float *xc = x + tp.c * plane;
            for (; i < (size_t)b && t < t1; i++, t++) im2col_seg(m, &tp, xc + i * in, cols + r * n + i * np);
        }
    }
}

/* dx (b, in_c, in_h, in_w) <- col2im of dcols (CKK, b*P): the adjoint of im2col_batch
 * (overwrites dx). Split over (channel, block of samples) tasks: a task reads, for each tap of
 * its channel, one contiguous run of its samples' columns (rows of dcols are far apart, so short
 * runs would wait on memory), and sums each of its planes over the taps (ki, kj) and rows oy in a
 * fixed order. */
static void col2im_batch(const module *m, const float *restrict dcols, int b, float *restrict dx) {
    int k = m->kernel, s = m->stride, pad = m->pad, h = m->in_h, w = m->in_w;
    int oh = m->out_h, ow = m->out_w, nc = m->in_c;
    size_t np = conv_npos(m), n = (size_t)b * np, in = module_in_size(m), plane = (size_t)h * w;
    /* samples per task: runs of about CONV_RUN floats */
    size_t bs = np >= CONV_RUN ? 1 : CONV_RUN / np, nblk = ((size_t)b + bs - 1) / bs;
    long ntask = (long)(nblk * (size_t)nc);
#pragma omp parallel for schedule(static) if (conv_ckk(m) * n >= CONV_OMP_MIN)
    for (long t = 0; t < ntask; t++) {
        size_t c = (size_t)t / nblk, i0 = (size_t)t % nblk * bs;
        size_t i1 = i0 + bs < (size_t)b ? i0 + bs : (size_t)b;
        for (size_t i = i0; i < i1; i++) memset(dx + i * in + c * plane, 0, plane * sizeof(float));
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = dcols + ((c * k + (size_t)ki) * k + (size_t)kj) * n;
                int d = kj - pad, lo, hi;
                tap_range(d, s, w, ow, &lo, &hi);
                for (size_t i = i0; i < i1; i++) {
                    float *restrict dxc = dx + i * in + c * plane;
                    for (int oy = 0; oy < oh; oy++) {
                        int iy = oy * s - pad + ki;
                        if (iy < 0 || iy >= h) continue;
                        float *restrict dst = dxc + (size_t)iy * w;
                        const float *restrict src = row + i * np + (size_t)oy * ow;
                        if (s == 1)
                            for (int ox = lo; ox < hi; ox++) dst[ox + d] += src[ox];
                        else
                            for (int ox = lo; ox < hi; ox++) dst[ox * s + d] += src[ox];
                    }
                }
            }
    }
}

/* dst (out, b*P) <- src (b, out, P): dst[o, i*P + p] = src[i, o, p] */
static void gather_out(const module *m, const float *restrict src, int b, float *restrict dst) {
    size_t np = conv_npos(m), n = (size_t)b * np, out = (size_t)m->units;
    long nseg = (long)(out * (size_t)b);
#pragma omp parallel for schedule(static) if (out * n >= CONV_OMP_MIN)
    for (long t = 0; t < nseg; t++) {
        size_t o = (size_t)t / (size_t)b, i = (size_t)t % (size_t)b;
        memcpy(dst + o * n + i * np, src + (i * out + o) * np, np * sizeof(float));
    }
}

/* dst (b, out, P) <- src (out, b*P) + bias 1^T, the inverse of gather_out; bias (out) may be
 * NULL for none. */
static void scatter_out(const module *m, const float *restrict src, const float *bias, int b,
                        float *restrict dst) {
    size_t np = conv_npos(m), n = (size_t)b * np, out = (size_t)m->units;
    long nseg = (long)(out * (size_t)b);
#pragma omp parallel for schedule(static) if (out * n >= CONV_OMP_MIN)
    for (long t = 0; t < nseg; t++) {
        size_t i = (size_t)t / out, o = (size_t)t % out;
        const float *s = src + o * n + i * np;
        float *d = dst + t * np;
        if (bias) {
            float bo = bias[o];
            for (size_t p = 0; p < np; p++) d[p] = s[p] + bo;
        } else {
            memcpy(d, s, np * sizeof(float));
        }
    }
}

/* acc (out) += d 1 for d (out, ncol): one thread per row, CONV_LANES partial sums each. */
static void sum_columns(float *acc, const float *d, int out, size_t ncol) {
#pragma omp parallel for schedule(static) if ((size_t)out * ncol >= CONV_OMP_MIN)
    for (int o = 0; o < out; o++) {
        const float *r = d + (size_t)o * ncol;
        float lane[CONV_LANES] = {0.0f};
        size_t p = 0;
        for (; p + CONV_LANES <= ncol; p += CONV_LANES)
            for (int l = 0; l < CONV_LANES; l++) lane[l] += r[p + l];
        float s = 0.0f;
        for (int l = 0; l < CONV_LANES; l++) s += lane[l];
        for (; p < ncol; p++) s += r[p];
        acc[o] += s;
    }
}

/* c (out, N) = beta c + A (out, CKK) B (CKK, N) */
static void gemm_w_cols(const float *a, const float *bm, float *c, int out, int ckk, int n,
                        float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, n, ckk, 1.0f, a, ckk, bm, n, beta,
                c, n);
}

/* c (CKK, N) = beta c + A^T B with A (out, CKK), B (out, N) */
static void gemm_wt_dy(const float *a, const float *bm, float *c, int out, int ckk, int n,
                       float beta) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, n, out, 1.0f, a, ckk, bm, n, beta, c,
                n);
}

/* dw (out, CKK) = beta dw + dy (out, ncol; row stride ldd) cols^T, cols (CKK, ncol; row stride
 * ldc) */
static void accum_weight_grad(float *dw, const float *dy, int ldd, const float *cols, int ldc,
                              int out, int ckk, int ncol, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, ckk, ncol, 1.0f, dy, ldd, cols, ldc,
                beta, dw, ckk);
}

static void conv_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    int ckk = (int)conv_ckk(m), n = b * (int)conv_npos(m), out = m->units;
    conv_bufs w = conv_bufs_of(m, ws, b);
    im2col_batch(m, x, b, w.cols);
    gemm_w_cols(theta, w.cols, w.od, out, ckk, n, 0.0f); /* Y' (out, N) */
    scatter_out(m, w.od, theta + (size_t)out * ckk, b, y);
}

static void conv_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    int b = c->b, ckk = (int)conv_ckk(m), n = b * (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * conv_npos(m);
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    for (int j = 0; j < k; j++) {
        gather_out(m, dy + (size_t)j * b * osz, b, w.od); /* dY'_j (out, N) */
        if (dtheta) {
            float *dtj = dtheta + (size_t)j * ldt;
            accum_weight_grad(dtj, w.od, n, w.cols, n, out, ckk, n, 1.0f);
            sum_columns(dtj + (size_t)out * ckk, w.od, out, (size_t)n);
        }
        if (dx) {
            gemm_wt_dy(c->theta, w.od, w.tcols, out, ckk, n, 0.0f); /* W^T dY'_j (CKK, N) */
            col2im_batch(m, w.tcols, b, dx + (size_t)j * b * in);
        }
    }
}

static void conv_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    int b = c->b, ckk = (int)conv_ckk(m), n = b * (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * conv_npos(m);
    if (!xdot && !thetadot) {
        memset(ydot, 0, (size_t)k * b * osz * sizeof(float));
        return;
    }
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    for (int j = 0; j < k; j++) {
        const float *tj = thetadot ? thetadot + (size_t)j * ldt : NULL;
        float beta = 0.0f;
        if (xdot) {
            im2col_batch(m, xdot + (size_t)j * b * in, b, w.tcols); /* cols(Xdot_j) */
            gemm_w_cols(c->theta, w.tcols, w.od, out, ckk, n, 0.0f);
            beta = 1.0f;
        }
        if (tj) gemm_w_cols(tj, w.cols, w.od, out, ckk, n, beta);
        scatter_out(m, w.od, tj ? tj + (size_t)out * ckk : NULL, b, ydot + (size_t)j * b * osz);
    }
}

static void conv_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    int b = c->b, ckk = (int)conv_ckk(m), n = b * (int)conv_npos(m), out = m->units;
    size_t in = module_in_size(m), osz = (size_t)out * conv_npos(m);
    if (!dxdot && !dthetadot) return;
    conv_bufs w = conv_bufs_of(m, c->ws, b);
    if ((dxdot && thetadot) || (dthetadot && xdot)) gather_out(m, dy, b, w.oy); /* dY' (out, N) */
    for (int j = 0; j < k; j++) {
        gather_out(m, dydot + (size_t)j * b * osz, b, w.od); /* dYdot'_j (out, N) */
        if (dxdot) {
            gemm_wt_dy(c->theta, w.od, w.tcols, out, ckk, n, 0.0f);
            if (thetadot) gemm_wt_dy(thetadot + (size_t)j * ldt, w.oy, w.tcols, out, ckk, n, 1.0f);
            col2im_batch(m, w.tcols, b, dxdot + (size_t)j * b * in);
        }
        if (dthetadot) {
            float *dtj = dthetadot + (size_t)j * ldt;
            accum_weight_grad(dtj, w.od, n, w.cols, n, out, ckk, n, 1.0f);
            if (xdot) {
                im2col_batch(m, xdot + (size_t)j * b * in, b, w.tcols); /* cols(Xdot_j) */
                accum_weight_grad(dtj, w.oy, n, w.tcols, n, out, ckk, n, 1.0f);
            }
            sum_columns(dtj + (size_t)out * ckk, w.od, out, (size_t)n);
        }
    }
}

static int conv_gram(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), n = m->n_params;
    int out = m->units, b = c->b;
    int ncol = b * (int)np; /* row stride of cols */
    const float *cols = conv_bufs_of(m, c->ws, b).cols;
    size_t kb = (size_t)k * b, osz = (size_t)out * np;
    /* (k*b, n_params): per-sample gradients; zeroed, as the bias slots are accumulated */
    float *g = calloc(kb * n, sizeof(float));
    float *gg = malloc(kb * kb * sizeof(float)); /* (k*b, k*b) = g g^T */
    if (!g || !gg) {
        free(g);
        free(gg);
        return CURVO_E_NOMEM;
    }
    for (size_t r = 0; r < kb; r++) { /* r = j*b + i */
        size_t i = r % (size_t)b;
        const float *dyr = dy + r * osz; /* (out, P) */
        float *gr = g + r * n;
        accum_weight_grad(gr, dyr, (int)np, cols + i * np, ncol, out, (int)ckk, (int)np, 0.0f);
        sum_columns(gr + (size_t)out * ckk, dyr, out, np);
    }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)kb, (int)n, 1.0f, g, (int)n, 0.0f, gg,
                (int)kb);
    /* upper triangle only; mirror while accumulating */
    for (size_t r = 0; r < kb; r++)
        for (size_t s = r; s < kb; s++) {
            double v = (double)gg[r * kb + s];
            gram[r * kb + s] += v;
            if (s != r) gram[s * kb + r] += v;
        }
    free(g);
    free(gg);
    return CURVO_OK;
}

const module_ops nn_conv2d_ops = {
    .name = "conv2d",
    .ws_bytes = conv_ws_bytes,
    .init = conv_init,
    .forward = conv_forward,
    .vjp = conv_vjp,
    .jvp = conv_jvp,
    .soa = conv_soa,
    .gram = conv_gram,
};
