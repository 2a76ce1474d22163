/* conv2d.c — 2-D convolution (cross-correlation) with zero padding and stride, by im2col + GEMM.
 * Per sample, NCHW: x (in_c, in_h, in_w), y (out, oh, ow) with oh = (in_h + 2 pad - k)/stride + 1.
 * Parameters: W (out, in_c, k, k) row-major, then b (out). With CKK = in_c*k*k, P = oh*ow and
 * cols(X_i) the (CKK, P) im2col matrix of sample i (row (c*k + ki)*k + kj, column oy*ow + ox):
 *   forward: Y_i = W cols_i + b 1^T                        W viewed as (out, CKK)
 *   vjp:  dX_i = col2im(W^T dY_i);  dW += dY_i cols_i^T;  db += dY_i 1
 *   jvp:  Ydot_i = W cols(Xdot_i) + Wdot cols_i + bdot 1^T
 *   soa:  dXdot_i = col2im(W^T dYdot_i + Wdot^T dY_i);
 *         dWdot += dYdot_i cols_i^T + dY_i cols(Xdot_i)^T;  dbdot += dYdot_i 1
 *   gram: the per-sample gradient of cotangent row (j, i) is [dY_{j,i} cols_i^T, dY_{j,i} 1]
 *         (out*CKK + out numbers); conv shares few weights, so these rows are materialised as a
 *         (k*b, n_params) matrix M and the Gram block is M M^T.
 * Workspace (filled by forward, reused by vjp/jvp/soa/gram): cols (b, CKK, P) floats, then one
 * scratch (CKK, P) for the columns of a tangent or an adjoint. im2col and col2im are split over
 * OpenMP threads by rows and by channels: every output element is written by one thread in a
 * fixed order, so results do not depend on the thread count. BLAS is never called inside a
 * parallel region.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module.h"

/* below this many elements a loop is not worth starting threads for */
#define CONV_OMP_MIN 16384

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

static size_t conv_ws_bytes(const module *m, int b) {
    /* cols (b, CKK, P) + scratch (CKK, P) */
    return ((size_t)b + 1) * conv_ckk(m) * conv_npos(m) * sizeof(float);
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

/* Row r of cols(x): row (P) <- x (in_c, in_h, in_w) at tap (c, ki, kj) of every output position,
 * zero where the tap falls in the padding. */
static void im2col_row(const module *m, const float *x, float *row, size_t r) {
    int k = m->kernel, s = m->stride, pad = m->pad, h = m->in_h, w = m->in_w;
    int oh = m->out_h, ow = m->out_w;
    int c = (int)(r / ((size_t)k * k)), ki = (int)(r / (size_t)k % (size_t)k), kj = (int)(r % (size_t)k);
    const float *xc = x + (size_t)c * h * w;
    for (int oy = 0; oy < oh; oy++) {
        float *dst = row + (size_t)oy * ow;
        int iy = oy * s - pad + ki;
        if (iy < 0 || iy >= h) {
            memset(dst, 0, (size_t)ow * sizeof(float));
            continue;
        }
        const float *src = xc + (size_t)iy * w;
        for (int ox = 0; ox < ow; ox++) {
            int ix = ox * s - pad + kj;
            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
        }
    }
}

/* cols (CKK, P) <- im2col of one sample x (in_c, in_h, in_w) */
static void im2col(const module *m, const float *x, float *cols) {
    size_t ckk = conv_ckk(m), np = conv_npos(m);
    long nr = (long)ckk;
#pragma omp parallel for schedule(static) if (ckk * np >= CONV_OMP_MIN)
    for (long r = 0; r < nr; r++) im2col_row(m, x, cols + (size_t)r * np, (size_t)r);
}

/* dx (in_c, in_h, in_w) <- col2im of dcols (CKK, P): the adjoint of im2col (overwrites dx).
 * Split by channel: each plane is summed by one thread in a fixed order. */
static void col2im(const module *m, const float *dcols, float *dx) {
    int k = m->kernel, s = m->stride, pad = m->pad, h = m->in_h, w = m->in_w;
    int oh = m->out_h, ow = m->out_w, nc = m->in_c;
    size_t np = conv_npos(m);
#pragma omp parallel for schedule(static) if (conv_ckk(m) * np >= CONV_OMP_MIN)
    for (int c = 0; c < nc; c++) {
        float *dxc = dx + (size_t)c * h * w;
        memset(dxc, 0, (size_t)h * w * sizeof(float));
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = dcols + (((size_t)c * k + ki) * k + kj) * np;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * s - pad + ki;
                    if (iy < 0 || iy >= h) continue;
                    float *dst = dxc + (size_t)iy * w;
                    const float *src = row + (size_t)oy * ow;
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * s - pad + kj;
                        if (ix >= 0 && ix < w) dst[ix] += src[ox];
                    }
                }
            }
    }
}

/* y (out, P) += bias 1^T */
static void add_bias_channels(float *y, const float *bias, int out, size_t np) {
    for (int o = 0; o < out; o++)
        for (size_t p = 0; p < np; p++) y[(size_t)o * np + p] += bias[o];
}

/* acc (out) += d (out, P) 1 */
static void sum_positions(float *acc, const float *d, int out, size_t np) {
    for (int o = 0; o < out; o++) {
        float s = 0.0f;
        for (size_t p = 0; p < np; p++) s += d[(size_t)o * np + p];
        acc[o] += s;
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

/* dw (out, CKK) = beta dw + dy (out, P) cols^T with cols (CKK, P) */
static void accum_weight_grad(float *dw, const float *dy, const float *cols, int out, int ckk,
                              int np, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, out, ckk, np, 1.0f, dy, np, cols, np, beta,
                dw, ckk);
}

static void conv_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), in = module_in_size(m);
    int out = m->units;
    float *cols = ws; /* (b, CKK, P) */
    long nrows = (long)b * (long)ckk;
#pragma omp parallel for schedule(static) if ((size_t)nrows * np >= CONV_OMP_MIN)
    for (long t = 0; t < nrows; t++) {
        size_t i = (size_t)t / ckk, r = (size_t)t % ckk;
        im2col_row(m, x + i * in, cols + (size_t)t * np, r);
    }
    for (int i = 0; i < b; i++) {
        float *yi = y + (size_t)i * out * np;
        gemm_w_cols(theta, cols + (size_t)i * ckk * np, yi, out, (int)ckk, (int)np, 0.0f);
        add_bias_channels(yi, theta + (size_t)out * ckk, out, np);
    }
}

static void conv_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), in = module_in_size(m);
    int out = m->units, b = c->b;
    const float *cols = c->ws;                   /* (b, CKK, P) */
    float *scratch = (float *)c->ws + (size_t)b * ckk * np; /* (CKK, P) */
    size_t osz = (size_t)out * np;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            const float *dyji = dy + ((size_t)j * b + i) * osz; /* (out, P) */
            if (dx) {
                gemm_wt_dy(c->theta, dyji, scratch, out, (int)ckk, (int)np, 0.0f);
                col2im(m, scratch, dx + ((size_t)j * b + i) * in);
            }
            if (dtheta) {
                float *dtj = dtheta + (size_t)j * ldt;
                accum_weight_grad(dtj, dyji, cols + (size_t)i * ckk * np, out, (int)ckk, (int)np,
                                  1.0f);
                sum_positions(dtj + (size_t)out * ckk, dyji, out, np);
            }
        }
}

static void conv_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), in = module_in_size(m);
    int out = m->units, b = c->b;
    const float *cols = c->ws;
    float *scratch = (float *)c->ws + (size_t)b * ckk * np;
    size_t osz = (size_t)out * np;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            float *yji = ydot + ((size_t)j * b + i) * osz; /* (out, P) */
            if (xdot) {
                im2col(m, xdot + ((size_t)j * b + i) * in, scratch);
                gemm_w_cols(c->theta, scratch, yji, out, (int)ckk, (int)np, 0.0f);
            } else {
                memset(yji, 0, osz * sizeof(float));
            }
            if (thetadot) {
                const float *tj = thetadot + (size_t)j * ldt;
                gemm_w_cols(tj, cols + (size_t)i * ckk * np, yji, out, (int)ckk, (int)np, 1.0f);
                add_bias_channels(yji, tj + (size_t)out * ckk, out, np);
            }
        }
}

static void conv_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), in = module_in_size(m);
    int out = m->units, b = c->b;
    const float *cols = c->ws;
    float *scratch = (float *)c->ws + (size_t)b * ckk * np;
    size_t osz = (size_t)out * np;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            const float *ddji = dydot + ((size_t)j * b + i) * osz; /* (out, P) */
            const float *dyi = dy + (size_t)i * osz;              /* (out, P), shared by all j */
            if (dxdot) {
                gemm_wt_dy(c->theta, ddji, scratch, out, (int)ckk, (int)np, 0.0f);
                if (thetadot)
                    gemm_wt_dy(thetadot + (size_t)j * ldt, dyi, scratch, out, (int)ckk, (int)np,
                               1.0f);
                col2im(m, scratch, dxdot + ((size_t)j * b + i) * in);
            }
            if (dthetadot) {
                float *dtj = dthetadot + (size_t)j * ldt;
                accum_weight_grad(dtj, ddji, cols + (size_t)i * ckk * np, out, (int)ckk, (int)np,
                                  1.0f);
                if (xdot) {
                    im2col(m, xdot + ((size_t)j * b + i) * in, scratch);
                    accum_weight_grad(dtj, dyi, scratch, out, (int)ckk, (int)np, 1.0f);
                }
                sum_positions(dtj + (size_t)out * ckk, ddji, out, np);
            }
        }
}

static int conv_gram(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    size_t ckk = conv_ckk(m), np = conv_npos(m), n = m->n_params;
    int out = m->units, b = c->b;
    const float *cols = c->ws;
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
        accum_weight_grad(gr, dyr, cols + i * ckk * np, out, (int)ckk, (int)np, 0.0f);
        sum_positions(gr + (size_t)out * ckk, dyr, out, np);
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
