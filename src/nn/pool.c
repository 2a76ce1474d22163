/* pool.c — max and average pooling over kernel x kernel windows with a stride, no padding.
 * Per sample, NCHW: x (c, in_h, in_w), y (c, oh, ow) with oh = (in_h - k)/stride + 1. No parameters.
 * Max pool: y_o = x[a_o], a_o the index (within the sample) of the window's first maximum,
 * recorded in the workspace by forward. It is piecewise linear, so:
 *   vjp:  dx = scatter-add of dy to a;   jvp:  ydot_o = xdot[a_o];
 *   soa:  dxdot = scatter-add of dydot to a  (the second derivative is zero; dy is unused)
 * Average pool: y_o = (1/k^2) sum of its window. It is linear, so:
 *   vjp:  dx spreads dy_o/k^2 over window o;  jvp:  ydot = pool(xdot);  soa:  dxdot = vjp(dydot)
 * Tangents and adjoints carry k vectors, (k, b, features); a NULL xdot gives ydot = 0.
 * Loops split over (vector, sample, channel) planes with OpenMP; each output element is written by
 * one thread in a fixed order, so results do not depend on the thread count.
 */
#include <stdint.h>
#include <string.h>

#include "nn/module.h"

/* below this many elements a loop is not worth starting threads for */
#define POOL_OMP_MIN 16384

int nn_pool_setup(module *m, const module_ops *ops, int kernel, int stride) {
    if (ops != &nn_maxpool_ops && ops != &nn_avgpool_ops) return CURVO_E_INVALID;
    if (kernel < 1 || stride < 1) return CURVO_E_SHAPE;
    if (m->in_c < 1 || kernel > m->in_h || kernel > m->in_w) return CURVO_E_SHAPE;
    m->ops = ops;
    m->kernel = kernel;
    m->stride = stride;
    m->pad = 0;
    m->out_c = m->in_c;
    m->out_h = (m->in_h - kernel) / stride + 1;
    m->out_w = (m->in_w - kernel) / stride + 1;
    m->n_params = 0;
    return CURVO_OK;
}

/* ---------------------------------------------------------------- max pooling */

static size_t maxpool_ws_bytes(const module *m, int b) {
    return (size_t)b * module_out_size(m) * sizeof(int32_t); /* argmax (b, c, oh, ow) */
}

/* The maximum *y of the k x k window of x with top-left corner at and row stride w, and its index
 * *a in x: the first maximum in row-major order. Selects, not branches: the outcome depends on the
 * data, which a branch predictor cannot guess. */
static inline void window_max(const float *x, size_t at, size_t w, int k, float *y, int32_t *a) {
    float best = x[at];
    int32_t arg = (int32_t)at;
    for (int ki = 0; ki < k; ki++)
        for (int kj = 0; kj < k; kj++) {
            int32_t idx = (int32_t)(at + (size_t)ki * w + (size_t)kj);
            float v = x[idx];
            arg = v > best ? idx : arg; /* strict: the first maximum wins on ties */
            best = v > best ? v : best;
        }
    *y = best;
    *a = arg;
}

/* window_max for the n windows 2 x 2 with stride 2 along the row of x at index row: y (n),
 * a (n) */
static void max2x2_row(const float *restrict x, size_t row, size_t w, int n, float *restrict y,
                       int32_t *restrict a) {
    const float *r0 = x + row, *r1 = r0 + w;
    for (int o = 0; o < n; o++) {
        float v0 = r0[2 * o], v1 = r0[2 * o + 1], v2 = r1[2 * o], v3 = r1[2 * o + 1];
        int32_t at = (int32_t)(row + 2 * (size_t)o), arg = at;
        float best = v0;
        arg = v1 > best ? at + 1 : arg;
        best = v1 > best ? v1 : best;
        arg = v2 > best ? at + (int32_t)w : arg;
        best = v2 > best ? v2 : best;
        arg = v3 > best ? at + (int32_t)w + 1 : arg;
        best = v3 > best ? v3 : best;
        y[o] = best;
        a[o] = arg;
    }
}

static void maxpool_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                            int b) {
    (void)theta;
    int k = m->kernel, s = m->stride, h = m->in_h, w = m->in_w, oh = m->out_h, ow = m->out_w;
    size_t in = module_in_size(m), out = module_out_size(m), plane = (size_t)oh * ow;
    int32_t *arg = ws; /* (b, c, oh, ow) */
    long nplanes = (long)b * m->in_c;
#pragma omp parallel for schedule(static) if ((size_t)nplanes * plane * k * k >= POOL_OMP_MIN)
    for (long t = 0; t < nplanes; t++) {
        size_t i = (size_t)t / (size_t)m->in_c, c = (size_t)t % (size_t)m->in_c;
        const float *xi = x + i * in;
        float *yp = y + i * out + c * plane;
        int32_t *ap = arg + i * out + c * plane;
        for (int oy = 0; oy < oh; oy++) {
            size_t row = (c * h + (size_t)oy * s) * w; /* the windows' top row */
            if (k == 2 && s == 2) { /* the common case, a whole row at once (it vectorizes) */
                max2x2_row(xi, row, (size_t)w, ow, yp + (size_t)oy * ow, ap + (size_t)oy * ow);
                continue;
            }
            for (int ox = 0; ox < ow; ox++) {
                size_t o = (size_t)oy * ow + ox;
                window_max(xi, row + (size_t)ox * s, (size_t)w, k, &yp[o], &ap[o]);
            }
        }
    }
}

/* dx (k, b, in) <- scatter-add of d (k, b, out) to the argmax of each output (overwrites dx) */
static void maxpool_scatter(const module *m, const int32_t *arg, const float *d, int k, int b,
                            float *dx) {
    size_t in = module_in_size(m), out = module_out_size(m);
    long nsamp = (long)k * b;
#pragma omp parallel for schedule(static) if ((size_t)nsamp * in >= POOL_OMP_MIN)
    for (long t = 0; t < nsamp; t++) {
        const int32_t *ai = arg + ((size_t)t % (size_t)b) * out;
        const float *dt = d + (size_t)t * out;
        float *dxt = dx + (size_t)t * in;
        memset(dxt, 0, in * sizeof(float));
        for (size_t o = 0; o < out; o++) dxt[ai[o]] += dt[o];
    }
}

static void maxpool_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                        float *dtheta, size_t ldt) {
    (void)dtheta;
    (void)ldt;
    if (dx) maxpool_scatter(m, c->ws, dy, k, c->b, dx);
}

static void maxpool_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                        size_t ldt, int k, float *ydot) {
    (void)thetadot;
    (void)ldt;
    size_t in = module_in_size(m), out = module_out_size(m);
    int b = c->b;
    if (!xdot) {
        memset(ydot, 0, (size_t)k * b * out * sizeof(float));
        return;
    }
    const int32_t *arg = c->ws;
    long nsamp = (long)k * b;
#pragma omp parallel for schedule(static) if ((size_t)nsamp * out >= POOL_OMP_MIN)
    for (long t = 0; t < nsamp; t++) {
        const int32_t *ai = arg + ((size_t)t % (size_t)b) * out;
        const float *xt = xdot + (size_t)t * in;
        float *yt = ydot + (size_t)t * out;
        for (size_t o = 0; o < out; o++) yt[o] = xt[ai[o]];
    }
}

static void maxpool_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                        size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                        float *dthetadot) {
    (void)xdot;
    (void)thetadot;
    (void)ldt;
    (void)dy;
    (void)dthetadot;
    if (dxdot) maxpool_scatter(m, c->ws, dydot, k, c->b, dxdot);
}

const module_ops nn_maxpool_ops = {
    .name = "maxpool",
    .ws_bytes = maxpool_ws_bytes,
    .init = NULL,
    .forward = maxpool_forward,
    .vjp = maxpool_vjp,
    .jvp = maxpool_jvp,
    .soa = maxpool_soa,
    .gram = NULL,
};

/* ---------------------------------------------------------------- average pooling */

/* y (n, out) <- window means of x (n, in), for n = samples times vectors */
static void avgpool_apply(const module *m, const float *x, float *y, long n) {
    int k = m->kernel, s = m->stride, h = m->in_h, w = m->in_w, oh = m->out_h, ow = m->out_w;
    size_t in = module_in_size(m), out = module_out_size(m), plane = (size_t)oh * ow;
    float inv = 1.0f / (float)(k * k);
    long nplanes = n * m->in_c;
#pragma omp parallel for schedule(static) if ((size_t)nplanes * plane * k * k >= POOL_OMP_MIN)
    for (long t = 0; t < nplanes; t++) {
        size_t i = (size_t)t / (size_t)m->in_c, c = (size_t)t % (size_t)m->in_c;
        const float *xc = x + i * in + c * (size_t)h * w;
        float *yp = y + i * out + c * plane;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                for (int ki = 0; ki < k; ki++) {
                    const float *row = xc + ((size_t)oy * s + ki) * w + (size_t)ox * s;
                    for (int kj = 0; kj < k; kj++) acc += row[kj];
                }
                yp[(size_t)oy * ow + ox] = acc * inv;
            }
    }
}

/* dx (n, in) <- the adjoint of avgpool_apply applied to d (n, out) (overwrites dx) */
static void avgpool_adjoint(const module *m, const float *d, float *dx, long n) {
    int k = m->kernel, s = m->stride, h = m->in_h, w = m->in_w, oh = m->out_h, ow = m->out_w;
    size_t in = module_in_size(m), out = module_out_size(m), plane = (size_t)oh * ow;
    float inv = 1.0f / (float)(k * k);
    long nplanes = n * m->in_c;
#pragma omp parallel for schedule(static) if ((size_t)nplanes * plane * k * k >= POOL_OMP_MIN)
    for (long t = 0; t < nplanes; t++) {
        size_t i = (size_t)t / (size_t)m->in_c, c = (size_t)t % (size_t)m->in_c;
        float *dxc = dx + i * in + c * (size_t)h * w;
        const float *dp = d + i * out + c * plane;
        memset(dxc, 0, (size_t)h * w * sizeof(float));
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float v = dp[(size_t)oy * ow + ox] * inv;
                for (int ki = 0; ki < k; ki++) {
                    float *row = dxc + ((size_t)oy * s + ki) * w + (size_t)ox * s;
                    for (int kj = 0; kj < k; kj++) row[kj] += v;
                }
            }
    }
}

const module_ops nn_avgpool_ops = {
    .name = "avgpool",
    .ws_bytes = NULL,
    .init = NULL,
    .forward = nn_linear_forward,
    .vjp = nn_linear_vjp,
    .jvp = nn_linear_jvp,
    .soa = nn_linear_soa,
    .apply = avgpool_apply,
    .adjoint = avgpool_adjoint,
    .gram = NULL,
};
