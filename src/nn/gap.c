/* gap.c — global average pooling: per sample, NCHW, x (C, H, W) -> y (C, 1, 1), y_c the mean of
 * channel c's H W values. No parameters. It is linear, so with P = H W:
 *   vjp:  dx_{c,p} = dy_c / P;   jvp:  ydot = gap(xdot);   soa:  dxdot = vjp(dydot)  (dy unused)
 * Tangents and adjoints carry k vectors, (k, b, features); a NULL xdot gives ydot = 0. Loops split
 * over (vector, sample) rows with OpenMP; each output element is written by one thread.
 */
#include <string.h>

#include "nn/module.h"

/* below this many elements a loop is not worth starting threads for */
#define GAP_OMP_MIN 16384

int nn_gap_setup(module *m) {
    if (m->in_c < 1 || m->in_h < 1 || m->in_w < 1) return CURVO_E_SHAPE;
    m->ops = &nn_gap_ops;
    m->out_c = m->in_c;
    m->out_h = 1;
    m->out_w = 1;
    m->n_params = 0;
    return CURVO_OK;
}

/* y (n, C) <- channel means of x (n, C, P), for n = samples times vectors */
static void gap_apply(const module *m, const float *x, float *y, long n) {
    size_t C = (size_t)m->in_c, P = (size_t)m->in_h * m->in_w;
    double inv = 1.0 / (double)P;
#pragma omp parallel for schedule(static) if ((size_t)n * C * P >= GAP_OMP_MIN)
    for (long t = 0; t < n; t++)
        for (size_t c = 0; c < C; c++) {
            const float *xc = x + ((size_t)t * C + c) * P;
            double acc = 0.0;
            for (size_t p = 0; p < P; p++) acc += xc[p];
            y[(size_t)t * C + c] = (float)(acc * inv);
        }
}

/* dx (n, C, P) <- the adjoint of gap_apply applied to d (n, C) (overwrites dx) */
static void gap_adjoint(const module *m, const float *d, float *dx, long n) {
    size_t C = (size_t)m->in_c, P = (size_t)m->in_h * m->in_w;
    float inv = 1.0f / (float)P;
#pragma omp parallel for schedule(static) if ((size_t)n * C * P >= GAP_OMP_MIN)
    for (long t = 0; t < n; t++)
        for (size_t c = 0; c < C; c++) {
            float v = d[(size_t)t * C + c] * inv;
            float *dxc = dx + ((size_t)t * C + c) * P;
            for (size_t p = 0; p < P; p++) dxc[p] = v;
        }
}

const module_ops nn_gap_ops = {
    .name = "gap",
    .forward = nn_linear_forward,
    .vjp = nn_linear_vjp,
    .jvp = nn_linear_jvp,
    .soa = nn_linear_soa,
    .apply = gap_apply,
    .adjoint = gap_adjoint,
};
