/* dense.c — fully connected module y = x W^T + 1 b^T on the flattened input.
 * Parameters: W (units, in) row-major, then b (units). Derivatives (DERIVATIVES.md):
 *   vjp:  dX = dY W;  dW += dY^T X;  db += sum_i dY_i
 *   jvp:  Ydot = Xdot W^T + X Wdot^T + 1 bdot^T
 *   soa:  dXdot = dYdot W + dY Wdot;  dWdot += dYdot^T X + dY^T Xdot;  dbdot += sum_i dYdot_i
 *   gram: per-sample gradient rows are dy_{j,i} (x) [x_i, 1], so the Gram block is
 *         (dY dY^T) o ([X 1][X 1]^T) with the b x b factor broadcast over the k cotangents.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module.h"

int nn_dense_setup(module *m, int units) {
    if (units < 1) return CURVO_E_SHAPE;
    m->ops = &nn_dense_ops;
    m->units = units;
    m->out_c = units;
    m->out_h = 1;
    m->out_w = 1;
    m->n_params = (size_t)units * module_in_size(m) + (size_t)units;
    return CURVO_OK;
}

static void dense_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    size_t in = module_in_size(m), out = (size_t)m->units;
    if (next_is_rectifier) {
        double sd = sqrt(2.0 / (double)in);
        for (size_t i = 0; i < out * in; i++) theta[i] = (float)(sd * curvo_rng_normal(rng));
    } else {
        double lim = sqrt(6.0 / (double)(in + out));
        for (size_t i = 0; i < out * in; i++)
            theta[i] = (float)(lim * (2.0 * curvo_rng_uniform(rng) - 1.0));
    }
    memset(theta + out * in, 0, out * sizeof(float));
}

/* y (rows, out) += 1 bias^T */
static void add_bias_rows(float *y, const float *bias, size_t rows, size_t out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < out; o++) y[r * out + o] += bias[o];
}

/* acc (out) += sum over rows of d (rows, out) */
static void sum_rows(float *acc, const float *d, size_t rows, size_t out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < out; o++) acc[o] += d[r * out + o];
}

static void dense_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                          int b) {
    (void)ws;
    int in = (int)module_in_size(m), out = m->units;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, out, in, 1.0f, x, in, theta, in, 0.0f,
                y, out);
    add_bias_rows(y, theta + (size_t)out * in, (size_t)b, (size_t)out);
}

/* dW_j += A^T B for one vector: (out, in) += (rows, out)^T (rows, in) */
static void accum_weight_grad(float *dw, const float *dy, const float *x, int rows, int out, int in) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, dy, out, x, in, 1.0f,
                dw, in);
}

static void dense_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                      float *dtheta, size_t ldt) {
    int in = (int)module_in_size(m), out = m->units, b = c->b;
    if (dx) /* (k*b, in) = (k*b, out) (out, in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k * b, in, out, 1.0f, dy, out,
                    c->theta, in, 0.0f, dx, in);
    if (dtheta)
        for (int j = 0; j < k; j++) {
            const float *dyj = dy + (size_t)j * b * out;
            float *dtj = dtheta + (size_t)j * ldt;
            accum_weight_grad(dtj, dyj, c->x, b, out, in);
            sum_rows(dtj + (size_t)out * in, dyj, (size_t)b, (size_t)out);
        }
}

static void dense_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                      size_t ldt, int k, float *ydot) {
    int in = (int)module_in_size(m), out = m->units, b = c->b;
    if (xdot)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k * b, out, in, 1.0f, xdot, in,
                    c->theta, in, 0.0f, ydot, out);
    else
        memset(ydot, 0, (size_t)k * b * out * sizeof(float));
    if (thetadot)
        for (int j = 0; j < k; j++) {
            const float *tj = thetadot + (size_t)j * ldt;
            float *yj = ydot + (size_t)j * b * out;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, out, in, 1.0f, c->x, in, tj, in,
                        1.0f, yj, out);
            add_bias_rows(yj, tj + (size_t)out * in, (size_t)b, (size_t)out);
        }
}

static void dense_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                      size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                      float *dthetadot) {
    int in = (int)module_in_size(m), out = m->units, b = c->b;
    if (dxdot) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k * b, in, out, 1.0f, dydot, out,
                    c->theta, in, 0.0f, dxdot, in);
        if (thetadot)
            for (int j = 0; j < k; j++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, in, out, 1.0f, dy, out,
                            thetadot + (size_t)j * ldt, in, 1.0f, dxdot + (size_t)j * b * in, in);
    }
    if (!dthetadot) return;
    for (int j = 0; j < k; j++) {
        const float *ddj = dydot + (size_t)j * b * out;
        float *dtj = dthetadot + (size_t)j * ldt;
        accum_weight_grad(dtj, ddj, c->x, b, out, in);
        if (xdot) accum_weight_grad(dtj, dy, xdot + (size_t)j * b * in, b, out, in);
        sum_rows(dtj + (size_t)out * in, ddj, (size_t)b, (size_t)out);
    }
}

static int dense_gram(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    int in = (int)module_in_size(m), out = m->units, b = c->b;
    size_t kb = (size_t)k * b;
    float *dd = malloc(kb * kb * sizeof(float));   /* (k*b, k*b) = dY dY^T */
    float *xx = malloc((size_t)b * b * sizeof(float)); /* (b, b) = X X^T */
    if (!dd || !xx) {
        free(dd);
        free(xx);
        return CURVO_E_NOMEM;
    }
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)kb, out, 1.0f, dy, out, 0.0f, dd,
                (int)kb);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, b, in, 1.0f, c->x, in, 0.0f, xx, b);
    /* upper triangle only (the caller mirrors it), row by row */
    for (size_t r = 0; r < kb; r++) {
        size_t ir = r % (size_t)b;
        const float *ddr = dd + r * kb;
        double *gr = gram + r * kb;
        for (size_t s = r; s < kb; s++) {
            size_t is = s % (size_t)b;
            float a = ir <= is ? xx[ir * b + is] : xx[is * b + ir];
            gr[s] += (double)ddr[s] * ((double)a + 1.0);
        }
    }
    free(dd);
    free(xx);
    return CURVO_OK;
}

const module_ops nn_dense_ops = {
    .name = "dense",
    .ws_bytes = NULL,
    .init = dense_init,
    .forward = dense_forward,
    .vjp = dense_vjp,
    .jvp = dense_jvp,
    .soa = dense_soa,
    .gram = dense_gram,
};
