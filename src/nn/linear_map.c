/* linear_map.c — the four actions of a module that is a fixed linear map without parameters
 * (avgpool, gap), from the two functions its table names: apply, y = A x on n rows, and adjoint,
 * dx = A^T d (overwriting dx). Since the map is linear and parameter-free:
 *   forward y = A x;   vjp dx = A^T dy;   jvp ydot = A xdot (0 for a NULL xdot);
 *   soa dxdot = A^T dydot (dy, the tangents of x and theta do not enter).
 * Tangents and adjoints carry k vectors, (k, b, features), so each action is one call on k b rows.
 */
#include <string.h>

#include "nn/module.h"

void nn_linear_forward(const module *m, const float *theta, const float *x, float *y, void *ws, int b) {
    (void)theta;
    (void)ws;
    m->ops->apply(m, x, y, b);
}

void nn_linear_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                   size_t ldt) {
    (void)dtheta;
    (void)ldt;
    if (dx) m->ops->adjoint(m, dy, dx, (long)k * c->b);
}

void nn_linear_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   int k, float *ydot) {
    (void)thetadot;
    (void)ldt;
    if (xdot)
        m->ops->apply(m, xdot, ydot, (long)k * c->b);
    else
        memset(ydot, 0, (size_t)k * c->b * module_out_size(m) * sizeof(float));
}

void nn_linear_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   const float *dy, const float *dydot, int k, float *dxdot, float *dthetadot) {
    (void)xdot;
    (void)thetadot;
    (void)ldt;
    (void)dy;
    (void)dthetadot;
    if (dxdot) m->ops->adjoint(m, dydot, dxdot, (long)k * c->b);
}
