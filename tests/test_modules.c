/* test_modules.c — every module's four actions checked on its own, on random shapes that include
 * stride and padding edge cases (kernel equal to the padded input, padding larger than the stride,
 * 1x1 kernels, overlapping and whole-input pooling windows):
 *   jvp vs central differences of forward along (xdot, thetadot);
 *   the dot-product identity <dy, jvp> = <vjp_x dy, xdot> + <vjp_theta dy, thetadot>;
 *   soa vs central differences of vjp along (xdot, thetadot, dydot);
 *   k vectors at once equal k single calls; parameter adjoints accumulate and stay in their
 *   (k, ldt) slots; the Gram block vs explicit per-sample gradients;
 *   a convolution large enough for its samples to be split over threads gives the same bits with
 *   1 and with 2 threads in every action (stride 1 and 2, with and without bias).
 * Inputs of relu and max pool keep clear of kinks (|x| >= 0.2; distinct values on a grid) so the
 * finite differences see a smooth function. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "testutil.h"

typedef enum { K_DENSE, K_CONV, K_MAXPOOL, K_AVGPOOL, K_FLATTEN, K_ACT } kind;

typedef struct {
    kind kind;
    int c, h, w;              /* input shape */
    int a0, a1, a2, a3;       /* dense: units; conv: out, k, stride, pad; pool: k, stride; act */
    int b;
} mod_case;

static const double H_STEP = 1e-3;
static const double FD_TOL = 1e-3;
static const double EXACT_TOL = 1e-5;

static int build(const mod_case *mc, curvo_model **out) {
    curvo_model *m;
    if (curvo_model_create(mc->c, mc->h, mc->w, &m)) return 0;
    int rc = CURVO_E_INVALID;
    switch (mc->kind) {
    case K_DENSE: rc = curvo_model_add_dense(m, mc->a0); break;
    case K_CONV: rc = curvo_model_add_conv2d(m, mc->a0, mc->a1, mc->a2, mc->a3); break;
    case K_MAXPOOL: rc = curvo_model_add_maxpool(m, mc->a0, mc->a1); break;
    case K_AVGPOOL: rc = curvo_model_add_avgpool(m, mc->a0, mc->a1); break;
    case K_FLATTEN: rc = curvo_model_add_flatten(m); break;
    case K_ACT: rc = curvo_model_add_activation(m, (curvo_activation)mc->a0); break;
    }
    if (rc) {
        curvo_model_free(m);
        return 0;
    }
    *out = m;
    return 1;
}

/* Inputs away from the kinks of relu and max pool. */
static void make_input(const mod_case *mc, curvo_rng *rng, float *x, size_t len) {
    if (mc->kind == K_MAXPOOL) { /* a shuffled grid: distinct values 0.05 apart */
        for (size_t i = 0; i < len; i++) x[i] = (float)(0.05 * ((double)i - len / 2.0));
        for (size_t i = len - 1; i > 0; i--) {
            size_t j = (size_t)curvo_rng_below(rng, i + 1);
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
        return;
    }
    for (size_t i = 0; i < len; i++) {
        double v = curvo_rng_normal(rng);
        x[i] = (float)(v >= 0 ? 0.2 + v : -0.2 + v);
    }
}

typedef struct {
    const module *mod;
    int b;
    size_t in, out, np, ldt;
    void *ws, *scratch;
    float *y;
} runner;

static void fwd(runner *r, const float *theta, const float *x) {
    r->mod->ops->forward(r->mod, theta, x, r->y, r->ws, r->b);
}

static nn_ctx ctx_of(runner *r, const float *theta, const float *x) {
    nn_ctx c = {theta, x, r->y, r->ws, r->b, r->scratch};
    return c;
}

/* x_out = x + s * d, for n floats */
static void axpy_to(float *out, const float *x, double s, const float *d, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] + s * d[i]);
}

static void check_module(const mod_case *mc, uint64_t seed) {
    curvo_model *m;
    if (!build(mc, &m)) {
        TU_CHECK(0, "case kind %d did not build", (int)mc->kind);
        return;
    }
    const module *mod = &m->mods[0];
    runner R = {mod, mc->b, module_in_size(mod), module_out_size(mod), mod->n_params, mod->n_params + 2,
                NULL, NULL, NULL};
    const int b = mc->b, k = 2;
    size_t bi = b * R.in, bo = b * R.out, np = R.np, ldt = R.ldt;
    size_t wsb = mod->ops->ws_bytes ? mod->ops->ws_bytes(mod, b) : 0;
    R.ws = wsb ? malloc(wsb) : NULL;
    size_t scb = module_scratch_bytes(mod, b);
    R.scratch = scb ? malloc(scb) : NULL;
    R.y = malloc(bo * sizeof(float));
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    float *theta = malloc((np + 1) * sizeof(float)), *tp = malloc((np + 1) * sizeof(float)),
          *tm = malloc((np + 1) * sizeof(float));
    float *x = malloc(bi * sizeof(float)), *xp = malloc(bi * sizeof(float)), *xm = malloc(bi * sizeof(float));
    float *xdot = malloc(k * bi * sizeof(float)), *tdot = calloc(k * ldt, sizeof(float));
    float *dy = malloc(bo * sizeof(float)), *dydot = malloc(k * bo * sizeof(float));
    float *dyp = malloc(bo * sizeof(float)), *dym = malloc(bo * sizeof(float));
    float *ydot = malloc(k * bo * sizeof(float)), *y1 = malloc(bo * sizeof(float)), *fd = malloc(bo * sizeof(float));
    float *dx = malloc(k * bi * sizeof(float)), *dth = calloc(k * ldt, sizeof(float));
    float *dxdot = malloc(k * bi * sizeof(float)), *dthdot = calloc(k * ldt, sizeof(float));
    float *dxp = malloc(bi * sizeof(float)), *dxm = malloc(bi * sizeof(float));
    float *dtp = calloc(ldt, sizeof(float)), *dtm = calloc(ldt, sizeof(float));
    float *fdx = malloc(bi * sizeof(float)), *fdt = malloc((np + 1) * sizeof(float));
    float *single = malloc((k * bi > k * ldt ? k * bi : k * ldt) * sizeof(float) + bo * k * sizeof(float));
    make_input(mc, &rng, x, bi);
    tu_fill_normal(&rng, theta, np, 0.5);
    for (int j = 0; j < k; j++) {
        tu_fill_normal(&rng, xdot + j * bi, bi, 1.0);
        tu_fill_normal(&rng, tdot + j * ldt, np, 1.0);
    }
    tu_fill_normal(&rng, dy, bo, 1.0);
    tu_fill_normal(&rng, dydot, k * bo, 1.0);
    const float *td = np ? tdot : NULL;
    char what[160], name[96];
    snprintf(name, sizeof name, "%s (%d,%d,%d)->(%d,%d,%d) k%d s%d p%d", mod->ops->name, mod->in_c,
             mod->in_h, mod->in_w, mod->out_c, mod->out_h, mod->out_w, mod->kernel, mod->stride, mod->pad);

    /* jvp */
    fwd(&R, theta, x);
    nn_ctx c = ctx_of(&R, theta, x);
    mod->ops->jvp(mod, &c, xdot, td, ldt, k, ydot);
    for (int j = 0; j < k; j++) {
        axpy_to(xp, x, H_STEP, xdot + j * bi, bi);
        axpy_to(xm, x, -H_STEP, xdot + j * bi, bi);
        axpy_to(tp, theta, H_STEP, tdot + j * ldt, np);
        axpy_to(tm, theta, -H_STEP, tdot + j * ldt, np);
        fwd(&R, tp, xp);
        memcpy(y1, R.y, bo * sizeof(float));
        fwd(&R, tm, xm);
        for (size_t i = 0; i < bo; i++) fd[i] = (float)((y1[i] - (double)R.y[i]) / (2 * H_STEP));
        snprintf(what, sizeof what, "%s: jvp vs central differences", name);
        tu_close_f(what, ydot + j * bo, fd, bo, FD_TOL);
    }

    /* vjp and the dot-product identity; dtheta accumulates into its slot */
    fwd(&R, theta, x);
    for (size_t q = 0; q < k * ldt; q++) dth[q] = 0.5f;
    float *dyk = malloc(k * bo * sizeof(float));
    for (int j = 0; j < k; j++) memcpy(dyk + j * bo, dy, bo * sizeof(float));
    mod->ops->vjp(mod, &c, dyk, k, dx, dth, ldt);
    for (int j = 0; j < k; j++) {
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < bo; i++) lhs += (double)dy[i] * ydot[j * bo + i], scale += fabs(dy[i] * ydot[j * bo + i]);
        for (size_t i = 0; i < bi; i++) rhs += (double)dx[j * bi + i] * xdot[j * bi + i];
        for (size_t p = 0; p < np; p++) rhs += ((double)dth[j * ldt + p] - 0.5) * tdot[j * ldt + p];
        TU_CHECK(fabs(lhs - rhs) <= 1e-5 * (scale + 1e-6), "%s: <dy,Jv> = %.8g, <J^T dy, v> = %.8g", name, lhs, rhs);
        for (size_t p = np; p < ldt; p++)
            TU_CHECK(dth[j * ldt + p] == 0.5f, "%s: vjp wrote outside its parameter slot", name);
    }

    /* soa vs central differences of the vjp, moving x, theta and dy together */
    mod->ops->soa(mod, &c, xdot, td, ldt, dy, dydot, k, dxdot, dthdot);
    for (int j = 0; j < k; j++) {
        axpy_to(xp, x, H_STEP, xdot + j * bi, bi);
        axpy_to(xm, x, -H_STEP, xdot + j * bi, bi);
        axpy_to(tp, theta, H_STEP, tdot + j * ldt, np);
        axpy_to(tm, theta, -H_STEP, tdot + j * ldt, np);
        axpy_to(dyp, dy, H_STEP, dydot + j * bo, bo);
        axpy_to(dym, dy, -H_STEP, dydot + j * bo, bo);
        memset(dtp, 0, ldt * sizeof(float));
        memset(dtm, 0, ldt * sizeof(float));
        fwd(&R, tp, xp);
        nn_ctx cp = ctx_of(&R, tp, xp);
        mod->ops->vjp(mod, &cp, dyp, 1, dxp, dtp, ldt);
        fwd(&R, tm, xm);
        nn_ctx cm = ctx_of(&R, tm, xm);
        mod->ops->vjp(mod, &cm, dym, 1, dxm, dtm, ldt);
        for (size_t i = 0; i < bi; i++) fdx[i] = (float)(((double)dxp[i] - dxm[i]) / (2 * H_STEP));
        for (size_t p = 0; p < np; p++) fdt[p] = (float)(((double)dtp[p] - dtm[p]) / (2 * H_STEP));
        snprintf(what, sizeof what, "%s: soa input part vs differences of vjp", name);
        tu_close_f(what, dxdot + j * bi, fdx, bi, FD_TOL);
        if (np) {
            snprintf(what, sizeof what, "%s: soa parameter part vs differences of vjp", name);
            tu_close_f(what, dthdot + j * ldt, fdt, np, FD_TOL);
        }
    }

    /* k at once == one at a time (jvp, soa) */
    fwd(&R, theta, x);
    for (int j = 0; j < k; j++) {
        float *yd1 = single, *dxd1 = single + bo;
        float *dtd1 = calloc(ldt, sizeof(float));
        mod->ops->jvp(mod, &c, xdot + j * bi, td ? tdot + j * ldt : NULL, ldt, 1, yd1);
        snprintf(what, sizeof what, "%s: jvp with k=2 vs k=1", name);
        tu_close_f(what, ydot + j * bo, yd1, bo, EXACT_TOL);
        mod->ops->soa(mod, &c, xdot + j * bi, td ? tdot + j * ldt : NULL, ldt, dy, dydot + j * bo, 1,
                      dxd1, dtd1);
        snprintf(what, sizeof what, "%s: soa with k=2 vs k=1", name);
        tu_close_f(what, dxdot + j * bi, dxd1, bi, EXACT_TOL);
        if (np) tu_close_f(what, dthdot + j * ldt, dtd1, np, EXACT_TOL);
        free(dtd1);
    }

    /* Gram block vs explicit per-sample gradients of k cotangent rows */
    if (mod->ops->gram) {
        size_t kb = (size_t)k * b;
        double *gram = calloc(kb * kb, sizeof(double)), *gref = malloc(kb * kb * sizeof(double));
        float *rows = calloc(kb * ldt, sizeof(float)), *cot = calloc(bo, sizeof(float));
        TU_CHECK(mod->ops->gram(mod, &c, dydot, k, gram) == CURVO_OK, "%s: gram", name);
        for (int j = 0; j < k; j++)
            for (int i = 0; i < b; i++) {
                memset(cot, 0, bo * sizeof(float));
                memcpy(cot + i * R.out, dydot + j * bo + i * R.out, R.out * sizeof(float));
                mod->ops->vjp(mod, &c, cot, 1, NULL, rows + ((size_t)j * b + i) * ldt, ldt);
            }
        for (size_t r = 0; r < kb; r++)
            for (size_t s = 0; s < kb; s++) {
                double t = 0;
                for (size_t p = 0; p < np; p++) t += (double)rows[r * ldt + p] * rows[s * ldt + p];
                gref[r * kb + s] = t;
            }
        for (size_t r = 0; r < kb; r++) /* modules fill the upper triangle; the caller mirrors it */
            for (size_t s2 = 0; s2 < r; s2++) gram[r * kb + s2] = gram[s2 * kb + r];
        snprintf(what, sizeof what, "%s: gram (upper triangle) vs explicit per-sample gradients", name);
        tu_close(what, gram, gref, kb * kb, EXACT_TOL);
        free(gram), free(gref), free(rows), free(cot);
    }

    free(dyk), free(single);
    free(theta), free(tp), free(tm), free(x), free(xp), free(xm), free(xdot), free(tdot);
    free(dy), free(dydot), free(dyp), free(dym), free(ydot), free(y1), free(fd), free(dx), free(dth);
    free(dxdot), free(dthdot), free(dxp), free(dxm), free(dtp), free(dtm), free(fdx), free(fdt);
    free(R.ws), free(R.scratch), free(R.y);
    curvo_model_free(m);
}

/* Shapes that do not fit are refused with CURVO_E_SHAPE and a message. */
static void shape_errors(void) {
    curvo_model *m;
    curvo_model_create(1, 5, 5, &m);
    TU_CHECK(curvo_model_add_conv2d(m, 4, 6, 1, 0) == CURVO_E_SHAPE, "6x6 kernel on 5x5 input");
    TU_CHECK(strstr(curvo_model_errmsg(m), "does not fit") != NULL, "message: %s", curvo_model_errmsg(m));
    TU_CHECK(curvo_model_add_conv2d(m, 4, 6, 1, 1) == CURVO_OK, "6x6 kernel on 5x5 input padded by 1");
    TU_CHECK(curvo_model_add_maxpool(m, 3, 1) == CURVO_E_SHAPE, "3x3 pool on 2x2");
    TU_CHECK(curvo_model_add_conv2d(m, 4, 1, 0, 0) == CURVO_E_SHAPE, "stride 0");
    TU_CHECK(curvo_model_add_dense(m, 0) == CURVO_E_SHAPE, "0 units");
    TU_CHECK(curvo_model_num_modules(m) == 1, "failed adds leave the model unchanged");
    curvo_model_free(m);
}

/* The outputs of one run of every action of a convolution (conv_threads_case). */
typedef struct {
    float *y;         /* (b, out) forward */
    float *dx, *dth;  /* (k, b, in), (k, n) vjp */
    float *ydot;      /* (k, b, out) jvp */
    float *dxd, *dtd; /* (k, b, in), (k, n) soa */
    float *rows;      /* (k*b, n) gram rows */
} conv_outs;

/* A convolution large enough for its samples to be split over threads (8x16x16 input, 16 3x3
 * filters, b = 9: more samples than parameter-sum chunks): every action (forward; vjp with dx and
 * dtheta, jvp, soa, all with k = 2; gram rows) gives the same bits with 1 and with 2 threads. At
 * stride 1 the weight gradients take the transposed product, at stride 2 the direct one. The
 * vjp's parameter adjoints (summed chunk by chunk) also match the sums of the gram rows. */
static void conv_threads_case(int stride, int no_bias) {
    const int b = 9, k = 2;
    curvo_model *m;
    curvo_model_create(8, 16, 16, &m);
    if (curvo_model_add_conv2d(m, 16, 3, stride, 1)) {
        TU_CHECK(0, "conv 16x3x3 on 8x16x16: %s", curvo_model_errmsg(m));
        curvo_model_free(m);
        return;
    }
    module *mod = &m->mods[0];
    if (no_bias) nn_conv2d_drop_bias(mod);
    size_t bi = (size_t)b * module_in_size(mod), bo = (size_t)b * module_out_size(mod);
    size_t n = mod->n_params, kb = (size_t)k * b;
    size_t per_run = bo + 2 * k * bi + 2 * k * n + k * bo + kb * n; /* floats of conv_outs */
    float *x = malloc(bi * sizeof(float)), *th = malloc(n * sizeof(float));
    float *xdot = malloc(k * bi * sizeof(float)), *tdot = malloc(k * n * sizeof(float));
    float *dy = malloc(bo * sizeof(float)), *dyd = malloc(k * bo * sizeof(float));
    float *all = calloc(2 * per_run, sizeof(float)), *sums = calloc(k * n, sizeof(float));
    void *ws = malloc(mod->ops->ws_bytes(mod, b)), *scratch = malloc(module_scratch_bytes(mod, b));
    curvo_rng rng;
    curvo_rng_seed(&rng, 78 + stride + 2 * no_bias);
    tu_fill_normal(&rng, x, bi, 1.0);
    tu_fill_normal(&rng, th, n, 1.0);
    tu_fill_normal(&rng, xdot, k * bi, 1.0);
    tu_fill_normal(&rng, tdot, k * n, 1.0);
    tu_fill_normal(&rng, dy, bo, 1.0);
    tu_fill_normal(&rng, dyd, k * bo, 1.0);
    conv_outs o[2];
    for (int run = 0; run < 2; run++) {
        float *p = all + run * per_run;
        o[run].y = p, p += bo;
        o[run].dx = p, p += k * bi;
        o[run].dth = p, p += k * n;
        o[run].ydot = p, p += k * bo;
        o[run].dxd = p, p += k * bi;
        o[run].dtd = p, p += k * n;
        o[run].rows = p;
        curvo_set_threads(run + 1);
        mod->ops->forward(mod, th, x, o[run].y, ws, b);
        nn_ctx c = {th, x, o[run].y, ws, b, scratch};
        mod->ops->vjp(mod, &c, dyd, k, o[run].dx, o[run].dth, n);
        mod->ops->jvp(mod, &c, xdot, tdot, n, k, o[run].ydot);
        mod->ops->soa(mod, &c, xdot, tdot, n, dy, dyd, k, o[run].dxd, o[run].dtd);
        TU_CHECK(mod->ops->gram_rows(mod, &c, dyd, k, o[run].rows) == CURVO_OK, "conv gram_rows");
    }
    curvo_set_threads(1);
    struct {
        const char *what;
        const float *a, *b;
        size_t n;
    } same[] = {{"forward", o[0].y, o[1].y, bo},           {"vjp dx", o[0].dx, o[1].dx, k * bi},
                {"vjp dtheta", o[0].dth, o[1].dth, k * n}, {"jvp", o[0].ydot, o[1].ydot, k * bo},
                {"soa dxdot", o[0].dxd, o[1].dxd, k * bi}, {"soa dthetadot", o[0].dtd, o[1].dtd, k * n},
                {"gram rows", o[0].rows, o[1].rows, kb * n}};
    for (size_t t = 0; t < sizeof same / sizeof same[0]; t++)
        TU_CHECK(memcmp(same[t].a, same[t].b, same[t].n * sizeof(float)) == 0,
                 "conv stride %d%s %s: 1 and 2 threads give different bits", stride,
                 no_bias ? " no bias" : "", same[t].what);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++)
            for (size_t p = 0; p < n; p++) sums[j * n + p] += o[1].rows[((size_t)j * b + i) * n + p];
    char what[96];
    snprintf(what, sizeof what, "conv stride %d%s: vjp dtheta vs the sum of the gram rows", stride,
             no_bias ? " no bias" : "");
    tu_close_f(what, o[1].dth, sums, k * n, EXACT_TOL);
    free(x), free(th), free(xdot), free(tdot), free(dy), free(dyd), free(all), free(sums), free(ws),
        free(scratch);
    curvo_model_free(m);
}

int main(void) {
    static const mod_case cases[] = {
        {K_DENSE, 3, 2, 2, 5, 0, 0, 0, 3},
        {K_DENSE, 7, 1, 1, 1, 0, 0, 0, 1},
        {K_CONV, 2, 7, 6, 3, 3, 1, 0, 2},
        {K_CONV, 2, 7, 6, 4, 3, 2, 1, 3},
        {K_CONV, 1, 5, 5, 2, 5, 1, 0, 2},  /* kernel == input */
        {K_CONV, 3, 6, 5, 2, 2, 3, 2, 2},  /* padding > kernel/2, stride 3 */
        {K_CONV, 2, 4, 4, 2, 6, 1, 1, 2},  /* kernel == padded input: 1x1 output */
        {K_CONV, 4, 3, 5, 3, 1, 1, 0, 2},  /* 1x1 kernel */
        {K_CONV, 3, 5, 6, 2, 3, 1, 1, 2},  /* "same" 3x3: one-copy im2col, dX by the transposed convolution */
        {K_CONV, 2, 6, 5, 3, 5, 1, 2, 3},  /* "same" 5x5 */
        {K_MAXPOOL, 2, 6, 6, 2, 2, 0, 0, 2},
        {K_MAXPOOL, 2, 7, 5, 3, 2, 0, 0, 2},
        {K_MAXPOOL, 1, 4, 4, 4, 4, 0, 0, 3}, /* whole input */
        {K_MAXPOOL, 3, 5, 5, 2, 1, 0, 0, 2}, /* overlapping windows */
        {K_AVGPOOL, 2, 6, 6, 2, 2, 0, 0, 2},
        {K_AVGPOOL, 2, 7, 5, 3, 2, 0, 0, 2},
        {K_AVGPOOL, 3, 5, 5, 2, 1, 0, 0, 2},
        {K_FLATTEN, 2, 3, 4, 0, 0, 0, 0, 2},
        {K_ACT, 2, 3, 3, CURVO_ACT_RELU, 0, 0, 0, 2},
        {K_ACT, 2, 3, 3, CURVO_ACT_TANH, 0, 0, 0, 2},
        {K_ACT, 2, 3, 3, CURVO_ACT_SIGMOID, 0, 0, 0, 2},
        {K_ACT, 2, 3, 3, CURVO_ACT_SOFTPLUS, 0, 0, 0, 2},
        {K_ACT, 2, 3, 3, CURVO_ACT_EXP, 0, 0, 0, 2},
    };
    curvo_set_threads(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_module(&cases[i], 500 + i);
    shape_errors();
    conv_threads_case(1, 0);
    conv_threads_case(2, 0);
    conv_threads_case(1, 1);
    return tu_finish("test_modules");
}
