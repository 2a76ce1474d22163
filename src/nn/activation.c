/* activation.c — elementwise activations y = s(x): relu, tanh, sigmoid, softplus.
 *   vjp:  dx = dy * s'(x)          jvp:  ydot = s'(x) * xdot
 *   soa:  dxdot = dydot * s'(x) + dy * s''(x) * xdot
 * s' and s'' are written in terms of x and y = s(x):
 *   relu:     s' = [x > 0],        s'' = 0
 *   tanh:     s' = 1 - y^2,        s'' = -2 y (1 - y^2)
 *   sigmoid:  s' = y (1 - y),      s'' = y (1 - y)(1 - 2y)
 *   softplus: s' = sigmoid(x) = q, s'' = q (1 - q)
 *   exp:      s' = s'' = y   (for models such as y = a exp(-k t), e.g. nonlinear least squares)
 */
#include <math.h>
#include <string.h>

#include "nn/module.h"

int nn_activation_setup(module *m, curvo_activation act) {
    if (act < CURVO_ACT_RELU || act > CURVO_ACT_EXP) return CURVO_E_INVALID;
    m->ops = &nn_activation_ops;
    m->act = act;
    m->out_c = m->in_c;
    m->out_h = m->in_h;
    m->out_w = m->in_w;
    m->n_params = 0;
    return CURVO_OK;
}

static inline float sigmoidf(float x) {
    return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

static inline float act_value(curvo_activation a, float x) {
    switch (a) {
    case CURVO_ACT_RELU: return x > 0 ? x : 0.0f;
    case CURVO_ACT_TANH: return tanhf(x);
    case CURVO_ACT_SIGMOID: return sigmoidf(x);
    case CURVO_ACT_EXP: return expf(x);
    default: return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); /* softplus, stable */
    }
}

static inline float act_d1(curvo_activation a, float x, float y) {
    switch (a) {
    case CURVO_ACT_RELU: return x > 0 ? 1.0f : 0.0f;
    case CURVO_ACT_TANH: return 1.0f - y * y;
    case CURVO_ACT_SIGMOID: return y * (1.0f - y);
    case CURVO_ACT_EXP: return y;
    default: return sigmoidf(x);
    }
}

static inline float act_d2(curvo_activation a, float x, float y) {
    switch (a) {
    case CURVO_ACT_RELU: return 0.0f;
    case CURVO_ACT_TANH: return -2.0f * y * (1.0f - y * y);
    case CURVO_ACT_SIGMOID: return y * (1.0f - y) * (1.0f - 2.0f * y);
    case CURVO_ACT_EXP: return y;
    default: {
        float q = sigmoidf(x);
        return q * (1.0f - q);
    }
    }
}

static void act_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                        int b) {
    (void)theta;
    (void)ws;
    ptrdiff_t n = (ptrdiff_t)b * (ptrdiff_t)module_in_size(m);
    curvo_activation a = m->act;
    if (a == CURVO_ACT_RELU) { /* a select, not a branch, so that it vectorizes */
#pragma omp parallel for schedule(static) if (n > 65536)
        for (ptrdiff_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v > 0 ? v : 0.0f;
        }
        return;
    }
#pragma omp parallel for schedule(static) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = act_value(a, x[i]);
}

/* out_j = in_j * s'(x) for each of the k vectors (k, b*d) */
static void mul_d1(const module *m, const nn_ctx *c, const float *in, int k, float *out) {
    ptrdiff_t n = (ptrdiff_t)c->b * (ptrdiff_t)module_in_size(m);
    curvo_activation a = m->act;
    const float *x = c->x, *y = c->y;
    for (int j = 0; j < k; j++) {
        const float *ij = in + (size_t)j * n;
        float *oj = out + (size_t)j * n;
        if (a == CURVO_ACT_RELU) { /* a select, not a branch, so that it vectorizes */
#pragma omp parallel for schedule(static) if (n > 65536)
            for (ptrdiff_t i = 0; i < n; i++) {
                float g = ij[i];
                oj[i] = x[i] > 0 ? g : 0.0f;
            }
            continue;
        }
#pragma omp parallel for schedule(static) if (n > 65536)
        for (ptrdiff_t i = 0; i < n; i++) oj[i] = ij[i] * act_d1(a, x[i], y[i]);
    }
}

static void act_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                    float *dtheta, size_t ldt) {
    (void)dtheta;
    (void)ldt;
    if (dx) mul_d1(m, c, dy, k, dx);
}

static void act_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                    size_t ldt, int k, float *ydot) {
    (void)thetadot;
    (void)ldt;
    if (xdot)
        mul_d1(m, c, xdot, k, ydot);
    else
        memset(ydot, 0, (size_t)k * c->b * module_out_size(m) * sizeof(float));
}

static void act_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                    size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                    float *dthetadot) {
    (void)thetadot;
    (void)ldt;
    (void)dthetadot;
    if (!dxdot) return;
    mul_d1(m, c, dydot, k, dxdot);
    if (!xdot || m->act == CURVO_ACT_RELU) return;
    ptrdiff_t n = (ptrdiff_t)c->b * (ptrdiff_t)module_in_size(m);
    curvo_activation a = m->act;
    for (int j = 0; j < k; j++) {
        const float *xj = xdot + (size_t)j * n;
        float *oj = dxdot + (size_t)j * n;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (ptrdiff_t i = 0; i < n; i++) oj[i] += dy[i] * act_d2(a, c->x[i], c->y[i]) * xj[i];
    }
}

const module_ops nn_activation_ops = {
    .name = "activation",
    .forward = act_forward,
    .vjp = act_vjp,
    .jvp = act_jvp,
    .soa = act_soa,
};
