/* flatten.c — (c, h, w) -> (c*h*w, 1, 1). The data layout does not change, so every action is a
 * copy (the soa is the vjp of the adjoint tangent: flatten is linear). */
#include <string.h>

#include "nn/module.h"

int nn_flatten_setup(module *m) {
    m->ops = &nn_flatten_ops;
    m->out_c = (int)module_in_size(m);
    m->out_h = 1;
    m->out_w = 1;
    m->n_params = 0;
    return CURVO_OK;
}

static void flat_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    (void)theta;
    (void)ws;
    memcpy(y, x, (size_t)b * module_in_size(m) * sizeof(float));
}

static void flat_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    (void)dtheta;
    (void)ldt;
    if (dx) memcpy(dx, dy, (size_t)k * c->b * module_in_size(m) * sizeof(float));
}

static void flat_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    (void)thetadot;
    (void)ldt;
    size_t bytes = (size_t)k * c->b * module_in_size(m) * sizeof(float);
    if (xdot)
        memcpy(ydot, xdot, bytes);
    else
        memset(ydot, 0, bytes);
}

static void flat_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    (void)xdot;
    (void)thetadot;
    (void)dy;
    (void)dthetadot;
    flat_vjp(m, c, dydot, k, dxdot, NULL, ldt);
}

const module_ops nn_flatten_ops = {
    .name = "flatten",
    .forward = flat_forward,
    .vjp = flat_vjp,
    .jvp = flat_jvp,
    .soa = flat_soa,
};
