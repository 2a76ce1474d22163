/* test_batchnorm.c — batchnorm (nn/batchnorm.c) and what the model, the curvature layer, the trainer
 * and checkpoints do with it:
 *   - the module on its own, training mode (the batch-coupled function), on conv-shaped (b, C, H, W)
 *     and dense-shaped (b, C, 1, 1) inputs: jvp against central differences of forward along
 *     (xdot, thetadot); vjp against central differences of <dy, f> in every input and parameter
 *     entry; soa against central differences of vjp along (xdot, thetadot, dydot); k vectors at
 *     once equal k single calls;
 *   - evaluation mode: the forward against the per-element formula with set running statistics, its
 *     actions against differences of that forward, and a dense,batchnorm model's predictions
 *     against a dense layer with batchnorm folded into W and b (a per-sample reference);
 *   - running statistics against torch's update rule written out from the batch (momentum 0.1,
 *     unbiased variance), moved by exactly one set_batch per arming and once per optimizer step
 *     (LRSFN, whose step makes many passes; SGN with its line search);
 *   - the whole network conv,batchnorm,relu,flatten,dense: Jv, J^T u, the gradient, GGN-vector and
 *     Hessian-vector products against central differences of the batch-coupled loss;
 *   - the per-sample Gram: refused with CURVO_E_UNSUPPORTED naming groupnorm when batchnorm sits
 *     above a parametric layer in training mode (and so EGN's step), exact (against rows J^T e_i)
 *     when batchnorm is the lowest parametric layer, allowed in evaluation mode; a communicator of
 *     two processes refused by set_batch;
 *   - the trainer: evaluation uses the running statistics (the metrics equal those of
 *     curvo_model_predict), checkpoints save and restore them, a checkpoint without them loads
 *     with the defaults, early stopping restores the best epoch's statistics with its parameters;
 *   - batchnorm inside residual blocks (nested, and copied into a projection shortcut): the network's
 *     products against differences of the batch-coupled loss, the block's state against its body and
 *     shortcut run as models of their own (training and evaluation mode, once per optimizer step),
 *     the Gram and two-process refusals as at the top level, and a block ending in groupnorm trained
 *     by EGN;
 *   - evaluation's forward-only passes (predict, the evaluation context) against a full pass;
 *   - every action's bits at 1 and 2 threads, and a small ResNet's products at 1 and 2 threads. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvature/curv.h"
#include "curvature/forward.h"
#include "dist/comm.h"
#include "io/ckpt.h"
#include "nn/model.h"
#include "testutil.h"

static const double H_STEP = 1e-3;
static const double FD_TOL = 2e-3;

/* ------------------------------------------------------------------ the module on its own */

typedef struct {
    curvo_model *m;
    const module *mod;
    int b;
    size_t len, np; /* b * C*H*W, 2C */
    void *ws, *scratch;
    float *y;
} bn_case;

static void case_make(bn_case *t, int C, int H, int W, int b, curvo_rng *rng) {
    memset(t, 0, sizeof *t);
    TU_CHECK(curvo_model_create(C, H, W, &t->m) == CURVO_OK && curvo_model_add_batchnorm(t->m) == CURVO_OK,
             "batchnorm model");
    t->mod = &t->m->mods[0];
    t->b = b;
    t->len = (size_t)b * C * H * W;
    t->np = t->mod->n_params;
    t->ws = malloc(t->mod->ops->ws_bytes(t->mod, b));
    size_t sb = module_scratch_bytes(t->mod, b);
    t->scratch = malloc(sb);
    memset(t->scratch, 0xff, sb); /* NaN: read before written would show */
    t->y = malloc(t->len * sizeof(float));
    float *theta = curvo_model_params(t->m); /* gamma around 1, beta around 0, not exactly */
    for (int c = 0; c < C; c++) {
        theta[c] = (float)(1.0 + 0.4 * curvo_rng_normal(rng));
        theta[C + c] = (float)(0.3 * curvo_rng_normal(rng));
    }
}

static void case_free(bn_case *t) {
    free(t->ws);
    free(t->scratch);
    free(t->y);
    curvo_model_free(t->m);
}

/* forward in the given mode (model state, no update), output in t->y */
static void fwd(bn_case *t, const float *theta, const float *x, int training) {
    nn_mode mode = {training, 0};
    t->mod->ops->forward_mode(t->mod, theta, t->m->state, &mode, x, t->y, t->ws, t->b);
}

static nn_ctx ctx(bn_case *t, const float *theta, const float *x) {
    nn_ctx c = {theta, x, t->y, t->ws, t->b, t->scratch};
    return c;
}

static void axpy_to(float *out, const float *x, double s, const float *d, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] + s * (d ? d[i] : 0.0f));
}

static double dotf(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* The four checks of one shape and mode. */
static void check_actions(int C, int H, int W, int b, int training, uint64_t seed) {
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    bn_case t;
    case_make(&t, C, H, W, b, &rng);
    float *state = curvo_model_state(t.m);
    for (int c = 0; c < C; c++) { /* running statistics away from the defaults */
        state[c] = (float)(0.5 * curvo_rng_normal(&rng));
        state[C + c] = (float)(0.5 + curvo_rng_uniform(&rng));
    }
    const int k = 2;
    size_t len = t.len, np = t.np, ldt = np + 3;
    float *theta = curvo_model_params(t.m);
    float *x = malloc(len * sizeof(float)), *xp = malloc(len * sizeof(float)), *xm = malloc(len * sizeof(float));
    float *tp = malloc(np * sizeof(float)), *tm = malloc(np * sizeof(float));
    float *xdot = malloc(k * len * sizeof(float)), *tdot = calloc(k * ldt, sizeof(float));
    float *dy = malloc(len * sizeof(float)), *dydot = malloc(k * len * sizeof(float));
    float *dyp = malloc(len * sizeof(float)), *dym = malloc(len * sizeof(float));
    float *ydot = malloc(k * len * sizeof(float)), *y0 = malloc(len * sizeof(float)), *fd = malloc(len * sizeof(float));
    float *dx = malloc(k * len * sizeof(float)), *dth = calloc(k * ldt, sizeof(float));
    float *dxdot = malloc(k * len * sizeof(float)), *dthdot = calloc(k * ldt, sizeof(float));
    float *dxp = malloc(len * sizeof(float)), *dxm = malloc(len * sizeof(float));
    float *dtp = calloc(ldt, sizeof(float)), *dtm = calloc(ldt, sizeof(float));
    float *one = malloc((k * len + k * ldt) * sizeof(float)), *fdx = malloc(len * sizeof(float)),
          *fdt = malloc(np * sizeof(float));
    tu_fill_normal(&rng, x, len, 1.0);
    for (size_t i = 0; i < len; i++) x[i] += 0.5f; /* a non-zero mean */
    tu_fill_normal(&rng, xdot, k * len, 1.0);
    for (int j = 0; j < k; j++) tu_fill_normal(&rng, tdot + j * ldt, np, 1.0);
    tu_fill_normal(&rng, dy, len, 1.0);
    tu_fill_normal(&rng, dydot, k * len, 1.0);
    char what[160];
    const char *mode = training ? "training" : "evaluation";

    /* jvp vs central differences of forward */
    fwd(&t, theta, x, training);
    nn_ctx c0 = ctx(&t, theta, x);
    memcpy(y0, t.y, len * sizeof(float));
    t.mod->ops->jvp(t.mod, &c0, xdot, tdot, ldt, k, ydot);
    for (int j = 0; j < k; j++) {
        axpy_to(xp, x, H_STEP, xdot + j * len, len), axpy_to(tp, theta, H_STEP, tdot + j * ldt, np);
        fwd(&t, tp, xp, training);
        memcpy(fd, t.y, len * sizeof(float));
        axpy_to(xm, x, -H_STEP, xdot + j * len, len), axpy_to(tm, theta, -H_STEP, tdot + j * ldt, np);
        fwd(&t, tm, xm, training);
        for (size_t i = 0; i < len; i++) fd[i] = (float)((fd[i] - t.y[i]) / (2 * H_STEP));
        snprintf(what, sizeof what, "batchnorm %dx%dx%d b=%d %s: jvp %d vs differences", C, H, W, b, mode, j);
        tu_close_f(what, ydot + j * len, fd, len, FD_TOL);
    }
    /* the forward left y0 (the pass is deterministic) */
    fwd(&t, theta, x, training);
    TU_CHECK(memcmp(t.y, y0, len * sizeof(float)) == 0, "forward is not deterministic");

    /* vjp vs central differences of <dy, f> in every entry of x and theta */
    fwd(&t, theta, x, training);
    c0 = ctx(&t, theta, x);
    memset(dth, 0, k * ldt * sizeof(float));
    t.mod->ops->vjp(t.mod, &c0, dy, 1, dx, dth, ldt);
    for (size_t i = 0; i < len; i++) {
        memcpy(xp, x, len * sizeof(float));
        float xi = x[i];
        xp[i] = (float)(xi + H_STEP);
        fwd(&t, theta, xp, training);
        double fp = dotf(dy, t.y, len);
        xp[i] = (float)(xi - H_STEP);
        fwd(&t, theta, xp, training);
        fdx[i] = (float)((fp - dotf(dy, t.y, len)) / (2 * H_STEP));
    }
    for (size_t q = 0; q < np; q++) {
        memcpy(tp, theta, np * sizeof(float));
        tp[q] = (float)(theta[q] + H_STEP);
        fwd(&t, tp, x, training);
        double fp = dotf(dy, t.y, len);
        tp[q] = (float)(theta[q] - H_STEP);
        fwd(&t, tp, x, training);
        fdt[q] = (float)((fp - dotf(dy, t.y, len)) / (2 * H_STEP));
    }
    snprintf(what, sizeof what, "batchnorm %dx%dx%d b=%d %s: vjp dx vs differences", C, H, W, b, mode);
    tu_close_f(what, dx, fdx, len, FD_TOL);
    snprintf(what, sizeof what, "batchnorm %dx%dx%d b=%d %s: vjp dgamma,dbeta vs differences", C, H, W, b, mode);
    tu_close_f(what, dth, fdt, np, FD_TOL);
    for (size_t q = np; q < ldt; q++) TU_CHECK(dth[q] == 0.0f, "vjp wrote past its parameters");

    /* soa vs central differences of vjp along (xdot, thetadot, dydot) */
    fwd(&t, theta, x, training);
    c0 = ctx(&t, theta, x);
    memset(dthdot, 0, k * ldt * sizeof(float));
    t.mod->ops->soa(t.mod, &c0, xdot, tdot, ldt, dy, dydot, k, dxdot, dthdot);
    for (int j = 0; j < k; j++) {
        axpy_to(xp, x, H_STEP, xdot + j * len, len), axpy_to(tp, theta, H_STEP, tdot + j * ldt, np);
        axpy_to(dyp, dy, H_STEP, dydot + j * len, len);
        fwd(&t, tp, xp, training);
        nn_ctx cp = ctx(&t, tp, xp);
        memset(dtp, 0, ldt * sizeof(float));
        t.mod->ops->vjp(t.mod, &cp, dyp, 1, dxp, dtp, ldt);
        axpy_to(xm, x, -H_STEP, xdot + j * len, len), axpy_to(tm, theta, -H_STEP, tdot + j * ldt, np);
        axpy_to(dym, dy, -H_STEP, dydot + j * len, len);
        fwd(&t, tm, xm, training);
        nn_ctx cm = ctx(&t, tm, xm);
        memset(dtm, 0, ldt * sizeof(float));
        t.mod->ops->vjp(t.mod, &cm, dym, 1, dxm, dtm, ldt);
        for (size_t i = 0; i < len; i++) fdx[i] = (float)((dxp[i] - dxm[i]) / (2 * H_STEP));
        for (size_t q = 0; q < np; q++) fdt[q] = (float)((dtp[q] - dtm[q]) / (2 * H_STEP));
        snprintf(what, sizeof what, "batchnorm %dx%dx%d b=%d %s: soa dxdot %d vs differences of vjp", C, H, W, b, mode, j);
        tu_close_f(what, dxdot + j * len, fdx, len, FD_TOL);
        snprintf(what, sizeof what, "batchnorm %dx%dx%d b=%d %s: soa dthetadot %d vs differences of vjp", C, H, W, b,
                 mode, j);
        tu_close_f(what, dthdot + j * ldt, fdt, np, FD_TOL);
    }

    /* k at once equals k single calls (jvp, vjp, soa) */
    fwd(&t, theta, x, training);
    c0 = ctx(&t, theta, x);
    t.mod->ops->jvp(t.mod, &c0, xdot, tdot, ldt, k, ydot);
    memset(dth, 0, k * ldt * sizeof(float));
    t.mod->ops->vjp(t.mod, &c0, dydot, k, dx, dth, ldt);
    memset(dthdot, 0, k * ldt * sizeof(float));
    t.mod->ops->soa(t.mod, &c0, xdot, tdot, ldt, dy, dydot, k, dxdot, dthdot);
    int same = 1;
    for (int j = 0; j < k; j++) {
        t.mod->ops->jvp(t.mod, &c0, xdot + j * len, tdot + j * ldt, ldt, 1, one);
        same &= memcmp(one, ydot + j * len, len * sizeof(float)) == 0;
        memset(one + len, 0, ldt * sizeof(float));
        t.mod->ops->vjp(t.mod, &c0, dydot + j * len, 1, one, one + len, ldt);
        same &= memcmp(one, dx + j * len, len * sizeof(float)) == 0 &&
                memcmp(one + len, dth + j * ldt, np * sizeof(float)) == 0;
        memset(one + len, 0, ldt * sizeof(float));
        t.mod->ops->soa(t.mod, &c0, xdot + j * len, tdot + j * ldt, ldt, dy, dydot + j * len, 1, one, one + len);
        same &= memcmp(one, dxdot + j * len, len * sizeof(float)) == 0 &&
                memcmp(one + len, dthdot + j * ldt, np * sizeof(float)) == 0;
    }
    TU_CHECK(same, "batchnorm %dx%dx%d %s: k vectors at once differ from k single calls", C, H, W, mode);

    if (!training) { /* evaluation forward against the formula, element by element */
        fwd(&t, theta, x, 0);
        double err = 0.0;
        for (int i = 0; i < b; i++)
            for (int c = 0; c < C; c++)
                for (int p = 0; p < H * W; p++) {
                    size_t o = ((size_t)i * C + c) * H * W + p;
                    double ref = theta[c] * (x[o] - state[c]) / sqrt((double)state[C + c] + 1e-5) + theta[C + c];
                    err = fmax(err, fabs(ref - t.y[o]) / (1.0 + fabs(ref)));
                }
        TU_CHECK(err < 1e-6, "batchnorm evaluation forward differs from gamma (x - rmean) / sqrt(rvar + eps) + "
                             "beta by %.3g", err);
    } else { /* the batch's statistics: every channel of the output has mean beta, variance gamma^2 */
        fwd(&t, theta, x, 1);
        double err = 0.0;
        int P = H * W;
        for (int c = 0; c < C; c++) {
            double s = 0.0, ss = 0.0, N = (double)b * P;
            for (int i = 0; i < b; i++)
                for (int p = 0; p < P; p++) s += t.y[((size_t)i * C + c) * P + p];
            for (int i = 0; i < b; i++)
                for (int p = 0; p < P; p++) {
                    double d = t.y[((size_t)i * C + c) * P + p] - s / N;
                    ss += d * d;
                }
            double var_x = 0.0, mx = 0.0; /* gamma^2 var / (var + eps) */
            for (int i = 0; i < b; i++)
                for (int p = 0; p < P; p++) mx += x[((size_t)i * C + c) * P + p];
            mx /= N;
            for (int i = 0; i < b; i++)
                for (int p = 0; p < P; p++) {
                    double d = x[((size_t)i * C + c) * P + p] - mx;
                    var_x += d * d / N;
                }
            err = fmax(err, fabs(s / N - theta[C + c]));
            err = fmax(err, fabs(ss / N - theta[c] * theta[c] * var_x / (var_x + 1e-5)));
        }
        TU_CHECK(err < 1e-5, "batchnorm training forward: channel mean/variance off by %.3g", err);
    }
    free(x), free(xp), free(xm), free(tp), free(tm), free(xdot), free(tdot), free(dy), free(dydot), free(dyp);
    free(dym), free(ydot), free(y0), free(fd), free(dx), free(dth), free(dxdot), free(dthdot), free(dxp), free(dxm);
    free(dtp), free(dtm), free(one), free(fdx), free(fdt);
    case_free(&t);
}

/* ------------------------------------------------------------------ evaluation mode, a dense reference */

/* dense:U,batchnorm in evaluation mode is dense:U with W' = a W, b' = a (b - rmean) + beta, a = gamma /
 * sqrt(rvar + eps): predictions of both, per sample. */
static void check_eval_folded(void) {
    const int D = 5, U = 4, b = 7;
    curvo_model *m, *ref;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:4,batchnorm", D, 1, 1, &m, err) == CURVO_OK, "spec: %s", err);
    TU_CHECK(curvo_model_from_spec("dense:4", D, 1, 1, &ref, err) == CURVO_OK, "spec: %s", err);
    TU_CHECK(curvo_model_state_size(m) == (size_t)(2 * U) && curvo_model_num_params(m) == (size_t)U * D + U + 2 * U,
             "dense:4,batchnorm has %zu state floats and %zu parameters", curvo_model_state_size(m),
             curvo_model_num_params(m));
    curvo_rng rng;
    curvo_rng_seed(&rng, 31);
    float *th = curvo_model_params(m), *st = curvo_model_state(m), *rt = curvo_model_params(ref);
    tu_fill_normal(&rng, th, curvo_model_num_params(m), 1.0);
    for (int u = 0; u < U; u++) st[u] = (float)curvo_rng_normal(&rng), st[U + u] = (float)(0.2 + curvo_rng_uniform(&rng));
    const float *W = th, *bias = th + U * D, *gamma = th + U * D + U, *beta = gamma + U;
    for (int u = 0; u < U; u++) {
        double a = gamma[u] / sqrt((double)st[U + u] + 1e-5);
        for (int d = 0; d < D; d++) rt[u * D + d] = (float)(a * W[u * D + d]);
        rt[U * D + u] = (float)(a * (bias[u] - st[u]) + beta[u]);
    }
    float x[7 * 5], y[7 * 4], yr[7 * 4], y1[4];
    tu_fill_normal(&rng, x, (size_t)b * D, 1.0);
    TU_CHECK(curvo_model_predict(m, x, b, y) == CURVO_OK && curvo_model_predict(ref, x, b, yr) == CURVO_OK, "predict");
    tu_close_f("dense,batchnorm in evaluation mode vs the folded dense layer", y, yr, (size_t)b * U, 1e-5);
    TU_CHECK(curvo_model_predict(m, x + 3 * D, 1, y1) == CURVO_OK, "predict one");
    TU_CHECK(memcmp(y1, y + 3 * U, sizeof y1) == 0, "a sample's prediction depends on the other samples");
    TU_CHECK(curvo_model_training(m) == 1, "predict changed the model's mode");
    curvo_model_free(m);
    curvo_model_free(ref);
}

/* ------------------------------------------------------------------ running statistics */

/* torch's rule from the batch written out: x (b, C, P) -> rmean, rvar updated in place. */
static void torch_update(const float *x, int b, int C, int P, double *rmean, double *rvar) {
    for (int c = 0; c < C; c++) {
        double N = (double)b * P, s = 0.0, ss = 0.0;
        for (int i = 0; i < b; i++)
            for (int p = 0; p < P; p++) s += x[((size_t)i * C + c) * P + p];
        double mu = s / N;
        for (int i = 0; i < b; i++)
            for (int p = 0; p < P; p++) {
                double d = x[((size_t)i * C + c) * P + p] - mu;
                ss += d * d;
            }
        rmean[c] = 0.9 * rmean[c] + 0.1 * mu;
        rvar[c] = 0.9 * rvar[c] + 0.1 * ss / (N - 1.0); /* unbiased */
    }
}

static void check_state(const curvo_model *m, const double *rm, const double *rv, int C, const char *what) {
    const float *st = m->state;
    double err = 0.0;
    for (int c = 0; c < C; c++)
        err = fmax(err, fmax(fabs(st[c] - rm[c]), fabs(st[C + c] - rv[c]) / rv[c]));
    TU_CHECK(err < 1e-6, "%s: running statistics off torch's rule by %.3g", what, err);
}

static void check_running_stats(void) {
    const int C = 2, H = 3, W = 2, b = 5, P = H * W;
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("batchnorm,flatten,dense:3", C, H, W, &m, err) == CURVO_OK, "spec: %s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    curvo_model_init(m, &rng);
    double rm[2] = {0, 0}, rv[2] = {1, 1};
    check_state(m, rm, rv, C, "defaults");
    float x1[5 * 12], x2[5 * 12];
    int32_t lab[5] = {0, 1, 2, 1, 0};
    tu_fill_normal(&rng, x1, sizeof x1 / sizeof *x1, 2.0);
    tu_fill_normal(&rng, x2, sizeof x2 / sizeof *x2, 0.5);
    for (size_t i = 0; i < sizeof x2 / sizeof *x2; i++) x2[i] += 1.0f;
    curvo_batch b1 = {x1, lab, NULL, b}, b2 = {x2, lab, NULL, b};
    curvo_curv *cv;
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "curv");
    TU_CHECK(curvo_curv_set_batch(cv, &b1) == CURVO_OK, "set_batch");
    check_state(m, rm, rv, C, "set_batch without arming");
    curvo_curv_update_running_stats(cv, 1);
    TU_CHECK(curvo_curv_set_batch(cv, &b1) == CURVO_OK, "set_batch");
    torch_update(x1, b, C, P, rm, rv);
    check_state(m, rm, rv, C, "one armed set_batch");
    TU_CHECK(curvo_curv_set_batch(cv, &b2) == CURVO_OK, "set_batch");
    check_state(m, rm, rv, C, "a second set_batch after one armed one");
    curvo_model_set_training(m, 0); /* evaluation mode: arming changes nothing */
    curvo_curv_update_running_stats(cv, 1);
    TU_CHECK(curvo_curv_set_batch(cv, &b2) == CURVO_OK, "set_batch");
    check_state(m, rm, rv, C, "an armed set_batch in evaluation mode");
    curvo_curv_update_running_stats(cv, 0);
    curvo_model_set_training(m, 1);
    /* optimizer steps: LRSFN (a sketch on a sub-batch, then the batch again) and SGN (CG products and
     * a line search) make many passes a step; the statistics move once, on the step's batch */
    curvo_algorithm algs[2] = {CURVO_OPT_LRSFN, CURVO_OPT_SGN};
    for (int a = 0; a < 2; a++) {
        curvo_opt_params op;
        curvo_opt_params_init(&op, algs[a]);
        if (algs[a] == CURVO_OPT_LRSFN) op.lrsfn.rank = 2, op.lrsfn.oversampling = 2, op.lrsfn.hess_batch = 3;
        curvo_optimizer *opt;
        TU_CHECK(curvo_optimizer_create(&op, curvo_model_num_params(m), &opt, err) == CURVO_OK, "optimizer: %s", err);
        for (int s = 0; s < 2; s++) {
            const curvo_batch *bt = s ? &b1 : &b2;
            curvo_step_info info;
            int rc = curvo_optimizer_step(opt, cv, bt, &info);
            TU_CHECK(rc == CURVO_OK || rc == CURVO_E_REJECTED, "%s step: %s", curvo_algorithm_name(algs[a]),
                     curvo_strerror(rc));
            torch_update(s ? x1 : x2, b, C, P, rm, rv);
            check_state(m, rm, rv, C, curvo_algorithm_name(algs[a]));
        }
        curvo_optimizer_free(opt);
    }
    TU_CHECK(curvo_curv_set_batch(cv, &b2) == CURVO_OK, "set_batch");
    check_state(m, rm, rv, C, "a set_batch after the steps");
    curvo_curv_free(cv);
    curvo_model_free(m);
}

/* ------------------------------------------------------------------ the network's products */

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    curvo_batch bt;
    float *x, *tg;
    int b;
    size_t n, bc;
} net;

/* The model spec on (c, h, w) inputs and room for a batch of b (the inputs are for the caller). */
static void net_model(net *t, const char *spec, int c, int h, int w, int b) {
    memset(t, 0, sizeof *t);
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec(spec, c, h, w, &t->m, err) == CURVO_OK, "%s: %s", spec, err);
    t->b = b;
    t->bc = (size_t)t->b * curvo_model_output_size(t->m);
    t->n = curvo_model_num_params(t->m);
    t->x = malloc((size_t)t->b * curvo_model_input_size(t->m) * sizeof(float));
    t->tg = malloc(t->bc * sizeof(float));
}

/* Targets and labels drawn from rng, the batch set. */
static void net_batch(net *t, curvo_loss_kind loss, curvo_rng *rng) {
    int c = (int)curvo_model_output_size(t->m);
    int32_t *lab = malloc((size_t)t->b * sizeof *lab);
    tu_fill_normal(rng, t->tg, t->bc, 1.0);
    for (int i = 0; i < t->b; i++) lab[i] = i % c;
    t->bt = (curvo_batch){t->x, loss == CURVO_LOSS_CE ? lab : NULL, t->tg, t->b};
    if (loss != CURVO_LOSS_CE) free(lab);
    TU_CHECK(curvo_curv_create(t->m, loss, &t->cv) == CURVO_OK, "curv");
    TU_CHECK(curvo_curv_set_batch(t->cv, &t->bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(t->cv));
}

/* conv:2:3,batchnorm,relu,flatten,dense:3 on (1, 5, 5) inputs, MSE (so that Q = I) or CE; inputs drawn
 * until every input of relu is at least 0.05 from its kink (differences then see a smooth function). */
static void net_make(net *t, curvo_loss_kind loss, uint64_t seed) {
    net_model(t, "conv:2:3,batchnorm,relu,flatten,dense:3", 1, 5, 5, 6);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    nn_pass p = {0};
    nn_pass_reserve(&p, t->m, t->b);
    for (int tries = 0; tries < 100; tries++) {
        curvo_model_init(t->m, &rng);
        float *th = curvo_model_params(t->m);
        size_t g0 = t->m->mods[1].offset; /* gamma, beta off their defaults */
        for (int c = 0; c < 2; c++) th[g0 + c] = (float)(0.8 + 0.4 * curvo_rng_uniform(&rng)), th[g0 + 2 + c] = 0.1f;
        tu_fill_normal(&rng, t->x, (size_t)t->b * 25, 1.0);
        nn_pass_forward(&p, t->m, th, t->x, t->b);
        double gap = INFINITY;
        for (size_t i = 0; i < (size_t)t->b * 18; i++) gap = fmin(gap, fabs(p.act[2][i]));
        if (gap > 0.05) break;
    }
    nn_pass_release(&p);
    net_batch(t, loss, &rng);
}

static void net_free(net *t) {
    curvo_curv_free(t->cv);
    curvo_model_free(t->m);
    free(t->x);
    free(t->tg);
    free((void *)t->bt.labels);
}

/* loss and outputs at theta + s v (then theta restored and the batch set again) */
static double net_at(net *t, const float *v, double s, float *out) {
    float *th = curvo_model_params(t->m);
    float *save = malloc(t->n * sizeof(float));
    memcpy(save, th, t->n * sizeof(float));
    for (size_t i = 0; i < t->n; i++) th[i] = (float)(th[i] + s * v[i]);
    curvo_curv_set_batch(t->cv, &t->bt);
    double L = curvo_curv_loss(t->cv);
    if (out) memcpy(out, curvo_curv_outputs(t->cv), t->bc * sizeof(float));
    memcpy(th, save, t->n * sizeof(float));
    free(save);
    curvo_curv_set_batch(t->cv, &t->bt);
    return L;
}

static void grad_at(net *t, const float *v, double s, float *g) {
    float *th = curvo_model_params(t->m);
    float *save = malloc(t->n * sizeof(float));
    memcpy(save, th, t->n * sizeof(float));
    for (size_t i = 0; i < t->n; i++) th[i] = (float)(th[i] + s * v[i]);
    curvo_curv_set_batch(t->cv, &t->bt);
    curvo_curv_grad(t->cv, g);
    memcpy(th, save, t->n * sizeof(float));
    free(save);
    curvo_curv_set_batch(t->cv, &t->bt);
}

/* Every product of the network t (its batch set) against central differences; ln names the case. */
static void check_network_products(net *tp, curvo_loss_kind loss, const char *ln) {
    net t = *tp;
    size_t n = t.n, bc = t.bc;
    curvo_rng rng;
    curvo_rng_seed(&rng, 77);
    float *v = malloc(n * sizeof(float)), *e = calloc(n, sizeof(float)), *g = malloc(n * sizeof(float));
    float *fd = malloc((n > bc ? n : bc) * sizeof(float)), *jv = malloc(bc * sizeof(float));
    float *op = malloc(bc * sizeof(float)), *om = malloc(bc * sizeof(float)), *u = malloc(bc * sizeof(float));
    float *jtu = malloc(n * sizeof(float)), *hv = malloc(n * sizeof(float)), *gv = malloc(n * sizeof(float));
    float *gp = malloc(n * sizeof(float)), *gm = malloc(n * sizeof(float));
    tu_fill_normal(&rng, v, n, 1.0);
    tu_fill_normal(&rng, u, bc, 1.0);
    char what[128];
    /* the gradient: differences of the loss along every coordinate */
    TU_CHECK(curvo_curv_grad(t.cv, g) == CURVO_OK, "grad");
    for (size_t q = 0; q < n; q++) {
        e[q] = 1.0f;
        fd[q] = (float)((net_at(&t, e, H_STEP, NULL) - net_at(&t, e, -H_STEP, NULL)) / (2 * H_STEP));
        e[q] = 0.0f;
    }
    snprintf(what, sizeof what, "network (%s): gradient vs differences of the batch loss", ln);
    tu_close_f(what, g, fd, n, FD_TOL);
    /* Jv vs differences of the outputs */
    TU_CHECK(curvo_curv_jvp(t.cv, v, 1, jv) == CURVO_OK, "jvp");
    net_at(&t, v, H_STEP, op), net_at(&t, v, -H_STEP, om);
    for (size_t i = 0; i < bc; i++) fd[i] = (float)((op[i] - om[i]) / (2 * H_STEP));
    snprintf(what, sizeof what, "network (%s): Jv vs differences of the outputs", ln);
    tu_close_f(what, jv, fd, bc, FD_TOL);
    /* J^T u vs differences of <u, f> along every coordinate */
    TU_CHECK(curvo_curv_vjp(t.cv, u, 1, jtu) == CURVO_OK, "vjp");
    for (size_t q = 0; q < n; q++) {
        e[q] = 1.0f;
        net_at(&t, e, H_STEP, op), net_at(&t, e, -H_STEP, om);
        e[q] = 0.0f;
        fd[q] = (float)((dotf(u, op, bc) - dotf(u, om, bc)) / (2 * H_STEP));
    }
    snprintf(what, sizeof what, "network (%s): J^T u vs differences of <u, f>", ln);
    tu_close_f(what, jtu, fd, n, FD_TOL);
    /* Hv vs differences of the gradient */
    TU_CHECK(curvo_curv_hvp(t.cv, v, 1, hv) == CURVO_OK, "hvp");
    grad_at(&t, v, H_STEP, gp), grad_at(&t, v, -H_STEP, gm);
    for (size_t q = 0; q < n; q++) fd[q] = (float)((gp[q] - gm[q]) / (2 * H_STEP));
    snprintf(what, sizeof what, "network (%s): Hv vs differences of the gradient", ln);
    tu_close_f(what, hv, fd, n, FD_TOL);
    /* GGN v = J^T Q J v / b with J v and J^T from differences (MSE: Q = I) */
    if (loss == CURVO_LOSS_MSE) {
        TU_CHECK(curvo_curv_ggn(t.cv, v, 1, gv) == CURVO_OK, "ggn");
        net_at(&t, v, H_STEP, op), net_at(&t, v, -H_STEP, om);
        for (size_t i = 0; i < bc; i++) u[i] = (float)((op[i] - om[i]) / (2 * H_STEP) / t.b); /* Q J v / b */
        for (size_t q = 0; q < n; q++) {
            e[q] = 1.0f;
            net_at(&t, e, H_STEP, op), net_at(&t, e, -H_STEP, om);
            e[q] = 0.0f;
            fd[q] = (float)((dotf(u, op, bc) - dotf(u, om, bc)) / (2 * H_STEP));
        }
        tu_close_f("network (MSE): GGN v vs J^T J v / b from differences", gv, fd, n, FD_TOL);
        /* the batch coupling matters: Hv differs from Hv of a per-sample (evaluation-mode) network */
        curvo_model_set_training(t.m, 0);
        curvo_curv_set_batch(t.cv, &t.bt);
        curvo_curv_hvp(t.cv, v, 1, gp);
        curvo_model_set_training(t.m, 1);
        curvo_curv_set_batch(t.cv, &t.bt);
        double dd = 0.0;
        for (size_t q = 0; q < n; q++) dd += (double)(gp[q] - hv[q]) * (gp[q] - hv[q]);
        TU_CHECK(dd > 1e-6 * dotf(hv, hv, n), "training and evaluation mode give the same Hessian products");
    }
    free(v), free(e), free(g), free(fd), free(jv), free(op), free(om), free(u), free(jtu), free(hv), free(gv);
    free(gp), free(gm);
}

static void check_network(curvo_loss_kind loss) {
    net t;
    net_make(&t, loss, loss == CURVO_LOSS_MSE ? 11 : 12);
    check_network_products(&t, loss, loss == CURVO_LOSS_MSE ? "MSE" : "CE");
    net_free(&t);
}

/* ------------------------------------------------------------------ the per-sample Gram */

static curvo_comm *fake_two_processes(void);

static void check_gram(void) {
    net t;
    net_make(&t, CURVO_LOSS_CE, 21);
    size_t bc = t.bc;
    double *G = malloc(bc * bc * sizeof(double));
    int mo;
    TU_CHECK(curvo_curv_gram(t.cv, G) == CURVO_E_UNSUPPORTED, "gram with batchnorm above conv in training mode");
    TU_CHECK(strstr(curvo_curv_errmsg(t.cv), "groupnorm") && strstr(curvo_curv_errmsg(t.cv), "batchnorm"),
             "the refusal names batchnorm and groupnorm: %s", curvo_curv_errmsg(t.cv));
    TU_CHECK(curvo_curv_gn_system(t.cv, 0, &mo) == CURVO_E_UNSUPPORTED, "gn_system refused");
    TU_CHECK(curvo_curv_gn_system(t.cv, 1, &mo) == CURVO_E_UNSUPPORTED, "true-class gn_system refused");
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_EGN);
    curvo_optimizer *opt;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_optimizer_create(&op, t.n, &opt, err) == CURVO_OK, "egn");
    float *th0 = malloc(t.n * sizeof(float));
    memcpy(th0, curvo_model_params(t.m), t.n * sizeof(float));
    TU_CHECK(curvo_optimizer_step(opt, t.cv, &t.bt, NULL) == CURVO_E_UNSUPPORTED, "EGN's step is refused");
    TU_CHECK(memcmp(th0, curvo_model_params(t.m), t.n * sizeof(float)) == 0, "a refused EGN step moved theta");
    curvo_optimizer_free(opt);
    free(th0);
    curvo_model_set_training(t.m, 0); /* evaluation mode: per sample again */
    TU_CHECK(curvo_curv_set_batch(t.cv, &t.bt) == CURVO_OK, "set_batch");
    TU_CHECK(curvo_curv_gram(t.cv, G) == CURVO_OK, "gram in evaluation mode: %s", curvo_curv_errmsg(t.cv));
    /* two processes: training mode refused by set_batch, evaluation mode not */
    curvo_comm *two = fake_two_processes();
    curvo_curv_set_comm(t.cv, two);
    curvo_model_set_training(t.m, 1);
    TU_CHECK(curvo_curv_set_batch(t.cv, &t.bt) == CURVO_E_UNSUPPORTED, "training mode over 2 processes");
    TU_CHECK(strstr(curvo_curv_errmsg(t.cv), "groupnorm") && strstr(curvo_curv_errmsg(t.cv), "2 processes"),
             "the refusal says why: %s", curvo_curv_errmsg(t.cv));
    curvo_curv_set_comm(t.cv, NULL);
    curvo_comm_free(two);
    free(G);
    net_free(&t);

    /* batchnorm as the lowest parametric layer: its own rows are per sample, so the Gram exists and
     * is exact: seeded Gram with seeds e_j against rows J^T e_{j,i} of the batch-coupled Jacobian */
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("batchnorm,flatten,dense:3", 2, 2, 2, &m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 8);
    curvo_model_init(m, &rng);
    float *th = curvo_model_params(m);
    th[0] = 1.3f, th[1] = 0.7f, th[2] = 0.2f, th[3] = -0.1f;
    const int b = 5, c = 3;
    float x[5 * 8];
    int32_t lab[5] = {0, 1, 2, 0, 1};
    tu_fill_normal(&rng, x, sizeof x / sizeof *x, 1.0);
    curvo_batch bt = {x, lab, NULL, b};
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
    size_t n = curvo_model_num_params(m), kb = (size_t)c * b;
    double *seeds = calloc(kb * c, sizeof(double)), *Gs = malloc(kb * kb * sizeof(double)),
           *Gr = malloc(kb * kb * sizeof(double));
    float *u = calloc(kb * kb, sizeof(float)), *rows = malloc(kb * n * sizeof(float));
    for (int j = 0; j < c; j++)
        for (int i = 0; i < b; i++) {
            seeds[((size_t)j * b + i) * c + j] = 1.0;
            u[((size_t)j * b + i) * kb + (size_t)i * c + j] = 1.0f; /* cotangent j*b + i: e_j at sample i */
        }
    TU_CHECK(curvo_curv_seeded_gram(cv, seeds, c, Gs) == CURVO_OK, "seeded gram with batchnorm lowest: %s",
             curvo_curv_errmsg(cv));
    TU_CHECK(curvo_curv_vjp(cv, u, (int)kb, rows) == CURVO_OK, "rows");
    for (size_t r = 0; r < kb; r++)
        for (size_t s = 0; s < kb; s++) Gr[r * kb + s] = dotf(rows + r * n, rows + s * n, n);
    tu_close("Gram with batchnorm as the lowest parametric layer vs rows of the batch Jacobian", Gs, Gr, kb * kb, 1e-5);
    free(seeds), free(Gs), free(Gr), free(u), free(rows);
    curvo_curv_free(cv);
    curvo_model_free(m);
}

/* A communicator of two processes whose transport is never reached (set_batch refuses first). */
static int no_allgatherv(void *impl, const void *send, size_t bytes, void *recv, const size_t *counts,
                         const size_t *displs, char *errmsg) {
    (void)impl, (void)send, (void)bytes, (void)recv, (void)counts, (void)displs;
    snprintf(errmsg, CURVO_ERRMSG_LEN, "test transport: no collectives");
    return CURVO_E_IO;
}
static int no_alltoallv(void *impl, const void *send, const size_t *sc, const size_t *sd, void *recv,
                        const size_t *rc, const size_t *rd, char *errmsg) {
    (void)impl, (void)send, (void)sc, (void)sd, (void)recv, (void)rc, (void)rd;
    snprintf(errmsg, CURVO_ERRMSG_LEN, "test transport: no collectives");
    return CURVO_E_IO;
}
static int no_bcast(void *impl, void *buf, size_t bytes, int root, char *errmsg) {
    (void)impl, (void)buf, (void)bytes, (void)root;
    snprintf(errmsg, CURVO_ERRMSG_LEN, "test transport: no collectives");
    return CURVO_E_IO;
}
static int no_barrier(void *impl, char *errmsg) {
    (void)impl;
    snprintf(errmsg, CURVO_ERRMSG_LEN, "test transport: no collectives");
    return CURVO_E_IO;
}
static void no_release(void *impl) { (void)impl; }

static curvo_comm *fake_two_processes(void) {
    static dist_transport tr;
    memset(&tr, 0, sizeof tr);
    tr.allgatherv = no_allgatherv;
    tr.alltoallv = no_alltoallv;
    tr.bcast = no_bcast;
    tr.barrier = no_barrier;
    tr.release = no_release;
    curvo_comm *c = NULL;
    TU_CHECK(dist_comm_create(&tr, NULL, 0, 2, &c) == CURVO_OK, "fake communicator");
    return c;
}

/* ------------------------------------------------------------------ trainer, evaluation, checkpoints */

static void check_trainer(void) {
    const int nsamp = 40, D = 6;
    float *x = malloc((size_t)nsamp * D * sizeof(float));
    int32_t *lab = malloc((size_t)nsamp * sizeof *lab);
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    tu_fill_normal(&rng, x, (size_t)nsamp * D, 1.0);
    for (int i = 0; i < nsamp; i++) {
        x[i * D] += 2.0f; /* a mean the running statistics must learn */
        lab[i] = x[i * D + 1] + x[i * D + 2] > 0 ? 1 : 0;
    }
    curvo_dataset *d;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_dataset_create((size_t)nsamp, D, 1, 1, x, lab, NULL, 2, &d, err) == CURVO_OK, "dataset: %s", err);
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("dense:8,batchnorm,relu,dense:2", D, 1, 1, &m, err) == CURVO_OK, "%s", err);
    curvo_model_init(m, &rng);
    char dir[] = "/tmp/curvo_bn_XXXXXX", path[128], path2[128];
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    snprintf(path2, sizeof path2, "%s/old.ckpt", dir);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 2;
    o.batch_size = 8;
    o.eval_batch_size = 7; /* evaluation batches differ from training ones: only eval mode agrees */
    o.seed = 1;
    curvo_trainer *tr;
    TU_CHECK(curvo_trainer_create(m, CURVO_LOSS_CE, &op, d, NULL, &o, &tr, err) == CURVO_OK, "trainer: %s", err);
    TU_CHECK(curvo_trainer_run(tr, NULL, NULL) == CURVO_OK, "run: %s", curvo_trainer_errmsg(tr));
    size_t ns = curvo_model_state_size(m);
    const float *st = curvo_model_state(m);
    TU_CHECK(ns == 16 && st[0] != 0.0f && st[8] != 1.0f, "training moved the running statistics");
    TU_CHECK(curvo_model_training(m) == 1, "the trainer left the model in evaluation mode");
    /* evaluation = predictions in evaluation mode */
    curvo_metrics met;
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_CE, d, 7, &met, err) == CURVO_OK, "evaluate: %s", err);
    float *y = malloc((size_t)nsamp * 2 * sizeof(float));
    curvo_model_predict(m, x, nsamp, y);
    double loss = 0.0;
    int correct = 0;
    for (int i = 0; i < nsamp; i++) {
        double a = y[2 * i], bb = y[2 * i + 1], mx = fmax(a, bb);
        loss += mx + log(exp(a - mx) + exp(bb - mx)) - y[2 * i + lab[i]];
        correct += (bb > a) == (lab[i] == 1);
    }
    TU_CHECK(fabs(met.loss - loss / nsamp) < 1e-5, "evaluation loss %.7g, predictions' %.7g", met.loss, loss / nsamp);
    TU_CHECK(fabs(met.accuracy - (double)correct / nsamp) < 1e-12, "evaluation accuracy");
    TU_CHECK(curvo_model_training(m) == 1, "evaluation changed the model's mode");
    /* and differs from the training-mode loss of one batch of everything */
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    curvo_batch all = {x, lab, NULL, nsamp};
    curvo_curv_set_batch(cv, &all);
    TU_CHECK(fabs(curvo_curv_loss(cv) - met.loss) > 1e-6, "training- and evaluation-mode losses agree");
    curvo_curv_free(cv);
    /* checkpoint: saved, read back into a model, resumed */
    TU_CHECK(curvo_trainer_save(tr, path) == CURVO_OK, "save: %s", curvo_trainer_errmsg(tr));
    curvo_model *lm;
    curvo_loss_kind lk;
    TU_CHECK(curvo_checkpoint_load_model(path, &lm, &lk, err) == CURVO_OK, "load: %s", err);
    TU_CHECK(lm && curvo_model_state_size(lm) == ns && !memcmp(curvo_model_state(lm), st, ns * sizeof(float)),
             "the loaded model has the running statistics");
    curvo_trainer *tr2;
    curvo_model *rm;
    o.epochs = 3;
    TU_CHECK(curvo_trainer_resume(path, d, NULL, &o, &tr2, &rm, err) == CURVO_OK, "resume: %s", err);
    TU_CHECK(rm && !memcmp(curvo_model_state(rm), st, ns * sizeof(float)), "the resumed model has them");
    /* the resumed run continues as the original would */
    TU_CHECK(curvo_trainer_run(tr2, NULL, NULL) == CURVO_OK, "resumed run");
    o.epochs = 3;
    curvo_trainer_free(tr);
    curvo_model_free(lm);
    /* a checkpoint without model.state (written before it existed) loads with the defaults */
    ckpt_reader *r;
    ckpt_writer *w;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK, "open: %s", err);
    TU_CHECK(ckpt_writer_create(&w) == CURVO_OK, "writer");
    for (size_t i = 0; i < ckpt_num_sections(r); i++) {
        const char *name = ckpt_section_name(r, i);
        const void *data;
        size_t len;
        if (!strcmp(name, "model.state")) continue;
        ckpt_get(r, name, &data, &len);
        ckpt_put(w, name, data, len);
    }
    TU_CHECK(ckpt_commit(w, path2, err) == CURVO_OK, "commit: %s", err);
    ckpt_writer_free(w);
    ckpt_close(r);
    TU_CHECK(curvo_checkpoint_load_model(path2, &lm, &lk, err) == CURVO_OK, "load old: %s", err);
    const float *ls = lm ? curvo_model_state(lm) : NULL;
    TU_CHECK(ls && ls[0] == 0.0f && ls[8] == 1.0f && ls[7] == 0.0f && ls[15] == 1.0f, "defaults without model.state");
    curvo_model_free(lm);
    curvo_trainer_free(tr2);
    curvo_model_free(rm);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    free(y);
    curvo_model_free(m);
    curvo_dataset_free(d);
    free(x);
    free(lab);
}

/* Early stopping puts the best epoch's running statistics back with its parameters: the states at
 * every epoch's end are recorded by the progress callback. */
typedef struct {
    curvo_model *m;
    float states[64][16];
} epoch_states;

static int record_state(const curvo_progress *p, void *user) {
    epoch_states *es = user;
    if (p->event == CURVO_EVENT_EPOCH && p->epoch >= 1 && p->epoch < 64)
        memcpy(es->states[p->epoch], curvo_model_state(es->m), 16 * sizeof(float));
    return 0;
}

static void check_early_stop(void) {
    const int nsamp = 60, D = 6;
    float *x = malloc((size_t)nsamp * D * sizeof(float));
    int32_t *lab = malloc((size_t)nsamp * sizeof *lab);
    curvo_rng rng;
    curvo_rng_seed(&rng, 13);
    tu_fill_normal(&rng, x, (size_t)nsamp * D, 1.0);
    for (int i = 0; i < nsamp; i++) lab[i] = curvo_rng_uniform(&rng) < 0.5; /* noise: the validation loss rises */
    curvo_dataset *d, *val;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_dataset_create(40, D, 1, 1, x, lab, NULL, 2, &d, err) == CURVO_OK, "dataset: %s", err);
    TU_CHECK(curvo_dataset_create(20, D, 1, 1, x + 40 * D, lab + 40, NULL, 2, &val, err) == CURVO_OK, "val: %s", err);
    epoch_states *es = calloc(1, sizeof *es);
    TU_CHECK(curvo_model_from_spec("dense:8,batchnorm,relu,dense:2", D, 1, 1, &es->m, err) == CURVO_OK, "%s", err);
    curvo_model_init(es->m, &rng);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    curvo_opt_params_set(&op, "lr", 0.05, err);
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 60;
    o.batch_size = 8;
    o.early_stop = 2;
    o.seed = 2;
    curvo_trainer *tr;
    TU_CHECK(curvo_trainer_create(es->m, CURVO_LOSS_CE, &op, d, NULL, &o, &tr, err) == CURVO_OK, "trainer: %s", err);
    curvo_trainer_set_validation(tr, val);
    TU_CHECK(curvo_trainer_run(tr, record_state, es) == CURVO_OK, "run: %s", curvo_trainer_errmsg(tr));
    int best = curvo_trainer_best_epoch(tr);
    TU_CHECK(curvo_trainer_stopped_early(tr) && best > 0 && best < 60, "early stopping did not stop (best %d)", best);
    if (best > 0 && best < 64)
        TU_CHECK(!memcmp(curvo_model_state(es->m), es->states[best], 16 * sizeof(float)),
                 "early stopping restored epoch %d's parameters without its running statistics", best);
    curvo_trainer_free(tr);
    curvo_model_free(es->m);
    free(es);
    curvo_dataset_free(d);
    curvo_dataset_free(val);
    free(x);
    free(lab);
}

/* ------------------------------------------------------------------ spec */

static void check_spec(void) {
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN], desc[256];
    TU_CHECK(curvo_model_from_spec("conv:4:3,batchnorm,relu,flatten,dense:10,batchnorm,dense:2", 2, 8, 8, &m, err) ==
                 CURVO_OK, "spec: %s", err);
    TU_CHECK(curvo_model_state_size(m) == 2 * 4 + 2 * 10, "state size %zu", curvo_model_state_size(m));
    TU_CHECK(m->mods[5].state_offset == 8 && m->mods[1].state_offset == 0, "state offsets");
    curvo_model_describe(m, desc, sizeof desc);
    TU_CHECK(strstr(desc, "batchnorm,relu") != NULL, "describe: %s", desc);
    curvo_model_free(m);
    TU_CHECK(curvo_model_from_spec("batchnorm:2", 2, 8, 8, &m, err) == CURVO_E_SPEC && strstr(err, "batchnorm"),
             "batchnorm takes no fields: %s", err);
    TU_CHECK(curvo_model_from_spec("dense:3", 2, 1, 1, &m, err) == CURVO_OK && curvo_model_state(m) == NULL &&
                 curvo_model_state_size(m) == 0, "no state without batchnorm");
    curvo_model_free(m);
}

/* ------------------------------------------------------------------ batchnorm inside residual blocks */

/* Two residual blocks with batchnorm (the first nesting a third, the second with a projection
 * shortcut that copies the body's trailing batchnorm), tanh for smoothness: every product of the
 * batch-coupled network against differences, the state buffer holding every batchnorm's slice. */
static const char RES_NET[] = "conv:2:3:1:1,res(batchnorm,conv:2:3:1:1,batchnorm,tanh,res(conv:2:3:1:1,batchnorm)),"
                              "res(conv:3:3:2:1,batchnorm),flatten,dense:3";

static void res_net_make(net *t, curvo_loss_kind loss, uint64_t seed) {
    net_model(t, RES_NET, 1, 5, 5, 6);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(t->m, &rng);
    tu_fill_normal(&rng, t->x, (size_t)t->b * 25, 1.0);
    net_batch(t, loss, &rng);
}

static void check_res_network(curvo_loss_kind loss) {
    net t;
    res_net_make(&t, loss, loss == CURVO_LOSS_MSE ? 31 : 32);
    /* batchnorms of 2, 2, 2 (nested), 3 (body) and 3 (shortcut) channels: mean and variance each */
    TU_CHECK(curvo_model_state_size(t.m) == 2 * (2 + 2 + 2 + 3 + 3), "res network: %zu floats of state, expected 24",
             curvo_model_state_size(t.m));
    TU_CHECK(nn_coupled_module(t.m) == 1, "the first residual block couples the samples (got %d)", nn_coupled_module(t.m));
    check_network_products(&t, loss, loss == CURVO_LOSS_MSE ? "res blocks, MSE" : "res blocks, CE");
    net_free(&t);
}

/* A block res(conv:2:3:1:1,batchnorm,tanh,conv:3:3:2:1,batchnorm) on (2, 4, 4) against its body and
 * its shortcut (conv:3:1:2:0 without bias, batchnorm) built as models of their own on the same
 * parameters: outputs in training mode (the sum of the two), running statistics after armed passes
 * (the block's state is the body's then the shortcut's), evaluation mode (running statistics: per
 * sample, not the training-mode output) and the statistics moving once per optimizer step. */
static void check_res_state(void) {
    const char *body_spec = "conv:2:3:1:1,batchnorm,tanh,conv:3:3:2:1,batchnorm", *sc_spec = "conv:3:1:2:0,batchnorm";
    char spec[128], err[CURVO_ERRMSG_LEN];
    snprintf(spec, sizeof spec, "res(%s)", body_spec);
    const int b = 5, D = 2 * 4 * 4, O = 3 * 2 * 2;
    curvo_model *blk, *body, *sc, *twin;
    TU_CHECK(curvo_model_from_spec(spec, 2, 4, 4, &blk, err) == CURVO_OK, "%s", err);
    TU_CHECK(curvo_model_from_spec(spec, 2, 4, 4, &twin, err) == CURVO_OK, "%s", err);
    TU_CHECK(curvo_model_from_spec(body_spec, 2, 4, 4, &body, err) == CURVO_OK, "%s", err);
    TU_CHECK(curvo_model_from_spec(sc_spec, 2, 4, 4, &sc, err) == CURVO_OK, "%s", err);
    size_t nb = curvo_model_num_params(body), ns_body = curvo_model_state_size(body);
    TU_CHECK(curvo_model_num_params(blk) == nb + 6 + 6, "block parameters: body, 1x1 weights, shortcut batchnorm");
    TU_CHECK(curvo_model_state_size(blk) == ns_body + 6, "block state: body's and shortcut's");
    curvo_rng rng;
    curvo_rng_seed(&rng, 41);
    curvo_model_init(blk, &rng);
    float *th = curvo_model_params(blk), *ths = curvo_model_params(sc);
    for (size_t q = 0; q < nb + 12; q++) th[q] += (float)(0.2 * curvo_rng_normal(&rng)); /* gammas, betas off 1, 0 */
    memcpy(curvo_model_params(body), th, nb * sizeof(float));
    memcpy(ths, th + nb, 6 * sizeof(float)); /* the 1x1 weights, */
    memset(ths + 6, 0, 3 * sizeof(float));   /* no bias, */
    memcpy(ths + 9, th + nb + 6, 6 * sizeof(float)); /* the shortcut's batchnorm */
    memcpy(curvo_model_params(twin), th, curvo_model_num_params(blk) * sizeof(float));
    float x1[5 * 32], x2[5 * 32], yb[5 * 12], ys[5 * 12], ya[5 * 12], want[5 * 12], y1[12];
    int32_t lab[5] = {0, 1, 2, 3, 4};
    tu_fill_normal(&rng, x1, (size_t)b * D, 1.0);
    tu_fill_normal(&rng, x2, (size_t)b * D, 0.7);
    for (int i = 0; i < b * D; i++) x2[i] += 0.5f;
    curvo_batch b1 = {x1, lab, NULL, b}, b2 = {x2, lab, NULL, b};
    curvo_curv *cb, *cbody, *csc;
    TU_CHECK(curvo_curv_create(blk, CURVO_LOSS_CE, &cb) == CURVO_OK, "curv");
    TU_CHECK(curvo_curv_create(body, CURVO_LOSS_CE, &cbody) == CURVO_OK, "curv");
    TU_CHECK(curvo_curv_create(sc, CURVO_LOSS_CE, &csc) == CURVO_OK, "curv");
    for (int pass = 0; pass < 2; pass++) {
        const curvo_batch *bt = pass ? &b2 : &b1;
        curvo_curv *cvs[3] = {cb, cbody, csc};
        for (int q = 0; q < 3; q++) {
            curvo_curv_update_running_stats(cvs[q], 1);
            TU_CHECK(curvo_curv_set_batch(cvs[q], bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(cvs[q]));
        }
        for (int i = 0; i < b * O; i++) want[i] = curvo_curv_outputs(cbody)[i] + curvo_curv_outputs(csc)[i];
        tu_close_f("res with batchnorm, training mode: block vs body + shortcut", curvo_curv_outputs(cb), want,
                   (size_t)b * O, 1e-5);
        const float *st = curvo_model_state(blk);
        tu_close_f("res with batchnorm: the body's running statistics in the block's state", st, curvo_model_state(body),
                   ns_body, 1e-6);
        tu_close_f("res with batchnorm: the shortcut's running statistics in the block's state", st + ns_body,
                   curvo_model_state(sc), 6, 1e-6);
    }
    float r[16]; /* the block's state (2 + 3 + 3 channels); the defaults moved: not mean 0, variance 1 */
    TU_CHECK(curvo_model_state_size(blk) == 16, "block state: 16 floats");
    memcpy(r, curvo_model_state(blk), sizeof r);
    TU_CHECK(fabs(r[0]) > 1e-3 && fabs(r[2] - 1.0) > 1e-3, "running statistics did not move");
    /* evaluation mode: body + shortcut with their running statistics, per sample */
    TU_CHECK(curvo_model_predict(blk, x2, b, ya) == CURVO_OK, "predict");
    curvo_model_predict(body, x2, b, yb);
    curvo_model_predict(sc, x2, b, ys);
    for (int i = 0; i < b * O; i++) want[i] = yb[i] + ys[i];
    tu_close_f("res with batchnorm, evaluation mode: block vs body + shortcut", ya, want, (size_t)b * O, 1e-5);
    TU_CHECK(curvo_model_predict(blk, x2 + 2 * D, 1, y1) == CURVO_OK, "predict one");
    tu_close_f("res with batchnorm, evaluation mode: one sample alone as in the batch", y1, ya + 2 * O, (size_t)O, 1e-6);
    double dd = 0.0;
    for (int i = 0; i < b * O; i++) dd = fmax(dd, fabs(ya[i] - curvo_curv_outputs(cb)[i]));
    TU_CHECK(dd > 1e-3, "evaluation mode gave the training-mode outputs (running statistics unused)");
    /* one optimizer step (SGN: CG products and a line search, many passes) moves the statistics as
     * one armed pass at the step's starting point does */
    memcpy(curvo_model_state(twin), curvo_model_state(blk), curvo_model_state_size(blk) * sizeof(float));
    curvo_curv *ct;
    TU_CHECK(curvo_curv_create(twin, CURVO_LOSS_CE, &ct) == CURVO_OK, "curv");
    curvo_curv_update_running_stats(ct, 1);
    curvo_curv_set_batch(ct, &b1);
    curvo_algorithm algs[2] = {CURVO_OPT_SGN, CURVO_OPT_ADAM};
    for (int a = 0; a < 2; a++) {
        curvo_opt_params op;
        curvo_opt_params_init(&op, algs[a]);
        curvo_optimizer *opt;
        TU_CHECK(curvo_optimizer_create(&op, curvo_model_num_params(blk), &opt, err) == CURVO_OK, "optimizer: %s", err);
        memcpy(curvo_model_params(blk), curvo_model_params(twin), curvo_model_num_params(blk) * sizeof(float));
        memcpy(curvo_model_state(blk), r, sizeof r);
        int rc = curvo_optimizer_step(opt, cb, &b1, NULL);
        TU_CHECK(rc == CURVO_OK || rc == CURVO_E_REJECTED, "%s step: %s", curvo_algorithm_name(algs[a]), curvo_strerror(rc));
        tu_close_f(algs[a] == CURVO_OPT_SGN ? "res with batchnorm: SGN's step moves the statistics once"
                                            : "res with batchnorm: Adam's step moves the statistics once",
                   curvo_model_state(blk), curvo_model_state(twin), 16, 1e-6);
        curvo_optimizer_free(opt);
    }
    curvo_curv_free(ct), curvo_curv_free(cb), curvo_curv_free(cbody), curvo_curv_free(csc);
    curvo_model_free(twin), curvo_model_free(blk), curvo_model_free(body), curvo_model_free(sc);
}

/* The per-sample Gram with batchnorm inside blocks: refused as at the top level (naming batchnorm and
 * groupnorm) when it sits above a parametric layer of its block or below the block, nested too, in
 * training mode, and by set_batch over two processes; allowed in evaluation mode; exact (against
 * rows J^T e of the batch-coupled Jacobian) when a block's batchnorm is its lowest parametric layer. */
static void check_res_gram(void) {
    static const char *refused[] = {"res(conv:2:3:1:1,batchnorm),flatten,dense:3",
                                    "res(res(conv:2:3:1:1,batchnorm,tanh)),flatten,dense:3",
                                    "res(conv:2:3:1:1,tanh,res(batchnorm)),flatten,dense:3",
                                    "conv:2:3:1:1,res(tanh,batchnorm),flatten,dense:3"};
    char err[CURVO_ERRMSG_LEN];
    const int b = 4, c = 3;
    float x[4 * 16];
    int32_t lab[4] = {0, 1, 2, 0};
    curvo_rng rng;
    curvo_rng_seed(&rng, 9);
    tu_fill_normal(&rng, x, sizeof x / sizeof *x, 1.0);
    curvo_batch bt = {x, lab, NULL, b};
    double G[12 * 12];
    for (size_t q = 0; q < sizeof refused / sizeof *refused; q++) {
        curvo_model *m;
        TU_CHECK(curvo_model_from_spec(refused[q], 1, 4, 4, &m, err) == CURVO_OK, "%s: %s", refused[q], err);
        if (!m) continue;
        curvo_model_init(m, &rng);
        curvo_curv *cv;
        curvo_curv_create(m, CURVO_LOSS_CE, &cv);
        TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
        TU_CHECK(curvo_curv_gram(cv, G) == CURVO_E_UNSUPPORTED, "%s: gram in training mode", refused[q]);
        TU_CHECK(strstr(curvo_curv_errmsg(cv), "groupnorm") && strstr(curvo_curv_errmsg(cv), "batchnorm"),
                 "%s: the refusal names batchnorm and groupnorm: %s", refused[q], curvo_curv_errmsg(cv));
        curvo_opt_params op;
        curvo_opt_params_init(&op, CURVO_OPT_EGN);
        curvo_optimizer *opt;
        curvo_optimizer_create(&op, curvo_model_num_params(m), &opt, err);
        TU_CHECK(curvo_optimizer_step(opt, cv, &bt, NULL) == CURVO_E_UNSUPPORTED, "%s: EGN's step", refused[q]);
        curvo_optimizer_free(opt);
        curvo_model_set_training(m, 0);
        TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
        TU_CHECK(curvo_curv_gram(cv, G) == CURVO_OK, "%s: gram in evaluation mode: %s", refused[q], curvo_curv_errmsg(cv));
        curvo_comm *two = fake_two_processes();
        curvo_curv_set_comm(cv, two);
        curvo_model_set_training(m, 1);
        TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_E_UNSUPPORTED, "%s: training mode over 2 processes", refused[q]);
        TU_CHECK(strstr(curvo_curv_errmsg(cv), "groupnorm") && strstr(curvo_curv_errmsg(cv), "batchnorm"),
                 "%s: the two-process refusal names batchnorm and groupnorm: %s", refused[q], curvo_curv_errmsg(cv));
        curvo_curv_set_comm(cv, NULL);
        curvo_comm_free(two);
        curvo_curv_free(cv);
        curvo_model_free(m);
    }
    /* batchnorm lowest in its block (identity shortcut), nothing parametric below the block */
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("res(batchnorm,conv:1:3:1:1,tanh),flatten,dense:3", 1, 4, 4, &m, err) == CURVO_OK, "%s",
             err);
    curvo_model_init(m, &rng);
    float *th = curvo_model_params(m);
    th[0] = 1.2f, th[1] = 0.3f;
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
    size_t n = curvo_model_num_params(m), kb = (size_t)c * b;
    double *seeds = calloc(kb * c, sizeof(double)), *Gr = malloc(kb * kb * sizeof(double));
    float *u = calloc(kb * kb, sizeof(float)), *rows = malloc(kb * n * sizeof(float));
    for (int j = 0; j < c; j++)
        for (int i = 0; i < b; i++) {
            seeds[((size_t)j * b + i) * c + j] = 1.0;
            u[((size_t)j * b + i) * kb + (size_t)i * c + j] = 1.0f;
        }
    TU_CHECK(curvo_curv_seeded_gram(cv, seeds, c, G) == CURVO_OK, "seeded gram, batchnorm lowest in a block: %s",
             curvo_curv_errmsg(cv));
    TU_CHECK(curvo_curv_vjp(cv, u, (int)kb, rows) == CURVO_OK, "rows");
    for (size_t r = 0; r < kb; r++)
        for (size_t q = 0; q < kb; q++) Gr[r * kb + q] = dotf(rows + r * n, rows + q * n, n);
    tu_close("Gram with batchnorm lowest in a residual block vs rows of the batch Jacobian", G, Gr, kb * kb, 1e-5);
    free(seeds), free(Gr), free(u), free(rows);
    curvo_curv_free(cv);
    curvo_model_free(m);
}

/* A block whose body ends in groupnorm gives its projection shortcut groupnorm too (parameters
 * counted by hand), and EGN trains the network through it: a few steps on one batch lower the loss. */
static void check_res_groupnorm_egn(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("conv:4:3:1:1,res(conv:8:3:2:1,groupnorm:2,relu,conv:8:3:1:1,groupnorm:2),relu,"
                                   "flatten,dense:3", 1, 6, 6, &m, err) == CURVO_OK, "%s", err);
    if (!m) return;
    /* conv 1->4 (36+4), body conv 4->8 s2 (288+8), groupnorm (16), conv 8->8 (576+8), groupnorm (16),
     * shortcut 1x1 4->8 without bias (32) and groupnorm (16), dense 8*3*3->3 (216+3) */
    size_t want = 40 + 296 + 16 + 584 + 16 + 32 + 16 + 219;
    TU_CHECK(curvo_model_num_params(m) == want, "res with groupnorm: %zu parameters, expected %zu (a groupnorm shortcut)",
             curvo_model_num_params(m), want);
    TU_CHECK(curvo_model_state_size(m) == 0 && nn_coupled_module(m) < 0, "groupnorm: no state, per sample");
    curvo_rng rng;
    curvo_rng_seed(&rng, 13);
    curvo_model_init(m, &rng);
    const int b = 12;
    float x[12 * 36];
    int32_t lab[12];
    tu_fill_normal(&rng, x, sizeof x / sizeof *x, 1.0);
    for (int i = 0; i < b; i++) lab[i] = i % 3;
    curvo_batch bt = {x, lab, NULL, b};
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_EGN);
    curvo_optimizer *opt;
    TU_CHECK(curvo_optimizer_create(&op, curvo_model_num_params(m), &opt, err) == CURVO_OK, "egn: %s", err);
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
    double first = curvo_curv_loss(cv);
    for (int s = 0; s < 5; s++) {
        int rc = curvo_optimizer_step(opt, cv, &bt, NULL);
        TU_CHECK(rc == CURVO_OK || rc == CURVO_E_REJECTED, "EGN step %d: %s %s", s, curvo_strerror(rc), curvo_curv_errmsg(cv));
    }
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "set_batch");
    double last = curvo_curv_loss(cv);
    TU_CHECK(last < 0.7 * first, "EGN through a groupnorm residual block: loss %.4f -> %.4f", first, last);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
}


/* Evaluation's forward-only passes (nn_pass_reserve_forward: two activation buffers, one workspace
 * for every module) against a full pass, on RES_NET in evaluation mode with running statistics away
 * from the defaults: curvo_model_predict and a forward-only curvature context give the full pass's
 * outputs and loss bit for bit, also after a larger and then a smaller batch; the context refuses
 * the operators that need the activations it did not keep. */
static void check_forward_only(void) {
    net t;
    res_net_make(&t, CURVO_LOSS_CE, 41);
    curvo_rng rng;
    curvo_rng_seed(&rng, 42);
    float *st = curvo_model_state(t.m);
    size_t ns = curvo_model_state_size(t.m);
    for (size_t i = 0; i < ns; i++) st[i] = (float)(0.2 + curvo_rng_uniform(&rng)); /* means and variances */
    curvo_model_set_training(t.m, 0);
    size_t c = curvo_model_output_size(t.m);
    float *ref = malloc(t.bc * sizeof(float)), *out = malloc(t.bc * sizeof(float));
    nn_pass full = {0};
    TU_CHECK(nn_pass_reserve(&full, t.m, t.b) == CURVO_OK, "full pass");
    nn_pass_forward(&full, t.m, curvo_model_params(t.m), t.x, t.b);
    memcpy(ref, full.act[t.m->n_mods], t.bc * sizeof(float));
    curvo_curv *fo;
    TU_CHECK(curvo_curv_create(t.m, CURVO_LOSS_CE, &fo) == CURVO_OK && curv_forward_only(fo) == CURVO_OK, "curv");
    TU_CHECK(curvo_curv_set_batch(t.cv, &t.bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(t.cv));
    for (int round = 0; round < 3; round++) { /* b, then 1 sample (a pass kept from b), then b again */
        int b = round == 1 ? 1 : t.b;
        TU_CHECK(curvo_model_predict(t.m, t.x, b, out) == CURVO_OK, "predict");
        TU_CHECK(memcmp(out, ref, (size_t)b * c * sizeof(float)) == 0, "round %d: forward-only predict differs from a full pass", round);
        curvo_batch bt = t.bt;
        bt.b = b;
        TU_CHECK(curvo_curv_set_batch(fo, &bt) == CURVO_OK, "forward-only set_batch: %s", curvo_curv_errmsg(fo));
        TU_CHECK(memcmp(curvo_curv_outputs(fo), ref, (size_t)b * c * sizeof(float)) == 0,
                 "round %d: forward-only context's outputs differ from a full pass", round);
        if (b == t.b)
            TU_CHECK(curvo_curv_loss(fo) == curvo_curv_loss(t.cv), "forward-only loss %.9g, full %.9g", curvo_curv_loss(fo),
                     curvo_curv_loss(t.cv));
    }
    TU_CHECK(fo->pass.forward_only && t.cv->pass.forward_only == 0, "the pass kinds");
    float *g = malloc(t.n * sizeof(float));
    TU_CHECK(curvo_curv_grad(fo, g) == CURVO_E_STATE, "a forward-only context refuses the gradient");
    TU_CHECK(curvo_curv_ggn(fo, g, 1, g) == CURVO_E_STATE, "a forward-only context refuses GGN products");
    int order;
    TU_CHECK(curvo_curv_gn_system(fo, 0, &order) == CURVO_E_STATE, "a forward-only context refuses the GN system");
    TU_CHECK(curvo_curv_grad(t.cv, g) == CURVO_OK, "the full context's gradient");
    free(g);
    curvo_curv_free(fo);
    nn_pass_release(&full);
    free(ref);
    free(out);
    net_free(&t);
}

/* Every action at 1 and 2 threads on a batch large enough for the threaded loops (8 x 4 x 32 x 32),
 * training mode: forward (outputs and the running statistics it moves), vjp (dx and dtheta, two
 * cotangents), jvp, soa and the Gram rows give the same bits. */
static void check_thread_count_independence(void) {
    const int C = 4, H = 32, W = 32, b = 8, k = 2;
    curvo_rng rng;
    curvo_rng_seed(&rng, 91);
    bn_case t;
    case_make(&t, C, H, W, b, &rng);
    size_t len = t.len, np = t.np, ns = 2 * (size_t)C;
    size_t nout = len + ns + 2 * k * len + 2 * k * np + (size_t)k * b * np;
    float *x = malloc(len * sizeof(float)), *xdot = malloc(k * len * sizeof(float));
    float *tdot = malloc(k * np * sizeof(float)), *dy = malloc(k * len * sizeof(float));
    float *dydot = malloc(k * len * sizeof(float)), *out[2];
    tu_fill_normal(&rng, x, len, 2.0);
    for (size_t i = 0; i < len; i++) x[i] += 3.0f;
    tu_fill_normal(&rng, xdot, k * len, 1.0);
    tu_fill_normal(&rng, tdot, k * np, 1.0);
    tu_fill_normal(&rng, dy, k * len, 1.0);
    tu_fill_normal(&rng, dydot, k * len, 1.0);
    float *theta = curvo_model_params(t.m), *state = curvo_model_state(t.m);
    float state0[8];
    memcpy(state0, state, ns * sizeof(float));
    for (int run = 0; run < 2; run++) {
        curvo_set_threads(run + 1);
        float *o = out[run] = calloc(nout, sizeof(float));
        memcpy(state, state0, ns * sizeof(float));
        nn_mode mode = {1, 1};
        t.mod->ops->forward_mode(t.mod, theta, state, &mode, x, t.y, t.ws, b);
        memcpy(o, t.y, len * sizeof(float));
        memcpy(o + len, state, ns * sizeof(float));
        float *dx = o + len + ns, *ydot = dx + k * len, *dth = ydot + k * len, *dthdot = dth + k * np;
        float *rows = dthdot + k * np;
        nn_ctx c = ctx(&t, theta, x);
        t.mod->ops->vjp(t.mod, &c, dy, k, dx, dth, np);
        t.mod->ops->jvp(t.mod, &c, xdot, tdot, np, k, ydot);
        t.mod->ops->soa(t.mod, &c, xdot, tdot, np, dy, dydot, 1, dx + len, dthdot);
        t.mod->ops->gram_rows(t.mod, &c, dy, k, rows);
    }
    curvo_set_threads(1);
    TU_CHECK(memcmp(out[0], out[1], nout * sizeof(float)) == 0, "batchnorm: 1 and 2 threads give different bits");
    free(out[0]), free(out[1]), free(x), free(xdot), free(tdot), free(dy), free(dydot);
    case_free(&t);
}

/* A small ResNet (conv, batchnorm, relu, residual blocks with and without a projection, gap,
 * dense) on a batch large enough for every threaded loop (conv's sample split, batchnorm's channel
 * split, the blocks' sums): the loss, gradient, Jv, J^T u, GGN-vector and Hessian-vector products
 * give the same bits at 1 and 2 threads. */
static void check_network_thread_count_independence(void) {
    static const char spec[] = "conv:8:3:1:1,batchnorm,relu,res(conv:8:3:1:1,batchnorm,relu,conv:8:3:1:1,batchnorm),relu,"
                               "res(conv:16:3:2:1,batchnorm,relu,conv:16:3:1:1,batchnorm),relu,gap,flatten,dense:10";
    const int k = 2;
    net t;
    net_model(&t, spec, 3, 16, 16, 16);
    curvo_rng rng;
    curvo_rng_seed(&rng, 73);
    curvo_model_init(t.m, &rng);
    tu_fill_normal(&rng, t.x, (size_t)t.b * curvo_model_input_size(t.m), 1.0);
    net_batch(&t, CURVO_LOSS_CE, &rng);
    size_t n = t.n, bc = t.bc, per = 1 + n + k * bc + 3 * k * n;
    float *v = malloc(k * n * sizeof(float)), *u = malloc(k * bc * sizeof(float));
    float *out[2] = {calloc(per, sizeof(float)), calloc(per, sizeof(float))};
    tu_fill_normal(&rng, v, k * n, 1.0);
    tu_fill_normal(&rng, u, k * bc, 1.0);
    for (int run = 0; run < 2; run++) {
        curvo_set_threads(run + 1);
        float *o = out[run];
        TU_CHECK(curvo_curv_set_batch(t.cv, &t.bt) == CURVO_OK, "set_batch");
        o[0] = (float)curvo_curv_loss(t.cv);
        TU_CHECK(curvo_curv_grad(t.cv, o + 1) == CURVO_OK, "grad");
        TU_CHECK(curvo_curv_jvp(t.cv, v, k, o + 1 + n) == CURVO_OK, "jvp");
        TU_CHECK(curvo_curv_vjp(t.cv, u, k, o + 1 + n + k * bc) == CURVO_OK, "vjp");
        TU_CHECK(curvo_curv_ggn(t.cv, v, k, o + 1 + n + k * bc + k * n) == CURVO_OK, "ggn");
        TU_CHECK(curvo_curv_hvp(t.cv, v, k, o + 1 + n + k * bc + 2 * k * n) == CURVO_OK, "hvp");
    }
    curvo_set_threads(1);
    const char *what[] = {"loss", "gradient", "Jv", "J^T u", "GGN-vector", "Hessian-vector"};
    size_t off[] = {0, 1, 1 + n, 1 + n + k * bc, 1 + n + k * bc + k * n, 1 + n + k * bc + 2 * k * n, per};
    for (int q = 0; q < 6; q++)
        TU_CHECK(memcmp(out[0] + off[q], out[1] + off[q], (off[q + 1] - off[q]) * sizeof(float)) == 0,
                 "resnet %s: 1 and 2 threads give different bits", what[q]);
    free(v), free(u), free(out[0]), free(out[1]);
    net_free(&t);
}

int main(void) {
    check_spec();
    check_actions(3, 2, 3, 4, 1, 1);  /* conv-shaped */
    check_actions(5, 1, 1, 3, 1, 2);  /* after a dense layer */
    check_actions(2, 1, 1, 3, 1, 3);  /* three samples */
    check_actions(2, 3, 3, 1, 1, 4);  /* one sample, 3x3 maps */
    check_actions(3, 2, 3, 4, 0, 5);  /* evaluation mode */
    check_actions(4, 1, 1, 3, 0, 6);
    check_eval_folded();
    check_running_stats();
    check_network(CURVO_LOSS_MSE);
    check_network(CURVO_LOSS_CE);
    check_gram();
    check_trainer();
    check_early_stop();
    check_res_network(CURVO_LOSS_MSE);
    check_res_network(CURVO_LOSS_CE);
    check_res_state();
    check_res_gram();
    check_res_groupnorm_egn();
    check_forward_only();
    check_thread_count_independence();
    check_network_thread_count_independence();
    return tu_finish("test_batchnorm");
}
