/* test_residual.c — residual blocks res(SPEC) (src/nn/residual.c), each action of a block checked
 * on its own, for identity and projection shortcuts (stride 2 with a channel change, and a
 * dense-only width change), nested blocks and blocks with pooling inside:
 *   forward vs the direct computation body(x) + shortcut(x): the body built as a model of its own on
 *   the block's first parameters, the shortcut x or an explicit strided 1x1 convolution on the rest;
 *   jvp vs central differences of forward along (xdot, thetadot);
 *   <dy, jvp> = <vjp_x dy, xdot> + <vjp_theta dy, thetadot>, parameter adjoints accumulating in
 *   their (k, ldt) slots and nowhere else;
 *   soa vs central differences of vjp along (xdot, thetadot, dydot); k = 2 at once vs one by one;
 *   the Gram block vs explicit per-sample gradients, also from a fresh workspace refilled by
 *   forward (what the data-parallel Gram does).
 * Then spec parsing (nested parentheses, spaces, describe round trips, parameter counts, and the
 * errors: unbalanced parentheses, empty body, text after the block, shapes no shortcut matches, a
 * body that flattens, nesting too deep, an error inside a body), the C API
 * curvo_model_add_residual, the normalization rule of the shortcut (spec.c's list), and a few EGN
 * and Adam steps on a tiny residual network lowering its loss. Whole networks with blocks through
 * every curvature operator are rows of test_curvature.c (and test_gn.c, test_dist.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "testutil.h"

static const double H_STEP = 1e-3;
static const double FD_TOL = 2e-3;
static const double EXACT_TOL = 1e-5;

typedef struct {
    const char *body;  /* the block's body spec */
    int c, h, w;       /* input shape */
    int stride;        /* the projection's expected stride (0: identity shortcut) */
    int b;
} block_case;

/* x_out = x + s * d, for n floats */
static void axpy_to(float *out, const float *x, double s, const float *d, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] + s * d[i]);
}

/* A block's forward on (theta, x) into y; its workspace ws. */
static void fwd(const module *mod, const float *theta, const float *x, float *y, void *ws, int b) {
    mod->ops->forward(mod, theta, x, y, ws, b);
}

/* forward vs body(x) + shortcut(x) computed directly */
static void check_forward(const block_case *bc, const module *mod, const float *theta, const float *x,
                          const float *y) {
    char err[CURVO_ERRMSG_LEN];
    curvo_model *body;
    if (curvo_model_from_spec(bc->body, bc->c, bc->h, bc->w, &body, err)) {
        TU_CHECK(0, "body %s: %s", bc->body, err);
        return;
    }
    int b = bc->b;
    size_t nb = curvo_model_num_params(body), in = module_in_size(mod), out = module_out_size(mod);
    if (nb) memcpy(curvo_model_params(body), theta, nb * sizeof(float));
    float *yb = malloc((size_t)b * out * sizeof(float));
    double *want = malloc((size_t)b * out * sizeof(double)), *got = malloc((size_t)b * out * sizeof(double));
    curvo_model_predict(body, x, b, yb);
    TU_CHECK(curvo_model_output_size(body) == out, "%s: body output size", bc->body);
    const float *W = theta + nb; /* the shortcut's (out_c, in_c) 1x1 weights */
    TU_CHECK(mod->n_params == nb + (bc->stride ? (size_t)mod->out_c * mod->in_c : 0),
             "%s: the block has the body's parameters and a bias-free projection's", bc->body);
    for (int i = 0; i < b; i++)
        for (int o = 0; o < mod->out_c; o++)
            for (int oy = 0; oy < mod->out_h; oy++)
                for (int ox = 0; ox < mod->out_w; ox++) {
                    size_t q = (size_t)i * out + ((size_t)o * mod->out_h + oy) * mod->out_w + ox;
                    double s = 0.0;
                    if (!bc->stride)
                        s = x[q];
                    else
                        for (int ci = 0; ci < mod->in_c; ci++)
                            s += (double)W[(size_t)o * mod->in_c + ci] *
                                 x[(size_t)i * in + ((size_t)ci * mod->in_h + oy * bc->stride) * mod->in_w + ox * bc->stride];
                    want[q] = yb[q] + s;
                    got[q] = y[q];
                }
    char what[160];
    snprintf(what, sizeof what, "res(%s): forward vs body(x) + shortcut(x)", bc->body);
    tu_close(what, got, want, (size_t)b * out, EXACT_TOL);
    free(yb), free(want), free(got);
    curvo_model_free(body);
}

static void check_block(const block_case *bc, uint64_t seed) {
    char spec[128], err[CURVO_ERRMSG_LEN], what[256];
    snprintf(spec, sizeof spec, "res(%s)", bc->body);
    curvo_model *m;
    if (curvo_model_from_spec(spec, bc->c, bc->h, bc->w, &m, err)) {
        TU_CHECK(0, "%s: %s", spec, err);
        return;
    }
    const module *mod = &m->mods[0];
    TU_CHECK(m->n_mods == 1 && mod->ops == &nn_residual_ops, "%s is one module", spec);
    const int b = bc->b, k = 2;
    size_t in = module_in_size(mod), out = module_out_size(mod), np = mod->n_params, ldt = np + 3;
    size_t bi = (size_t)b * in, bo = (size_t)b * out;
    size_t wsb = mod->ops->ws_bytes(mod, b);
    void *ws = malloc(wsb), *ws2 = malloc(wsb);
    /* the scratch, shared in a pass with other modules, starts as NaN: nothing may be read from it
     * before this action wrote it */
    size_t sb = module_scratch_bytes(mod, b);
    TU_CHECK(sb > 0, "%s: a block has scratch", spec);
    void *scratch = malloc(sb);
    memset(scratch, 0xff, sb);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    float *theta = malloc(np * sizeof(float)), *tp = malloc(np * sizeof(float)), *tm = malloc(np * sizeof(float));
    float *x = malloc(bi * sizeof(float)), *xp = malloc(bi * sizeof(float)), *xm = malloc(bi * sizeof(float));
    float *xdot = malloc(k * bi * sizeof(float)), *tdot = calloc(k * ldt, sizeof(float));
    float *dy = malloc(bo * sizeof(float)), *dyk = malloc(k * bo * sizeof(float)), *dydot = malloc(k * bo * sizeof(float));
    float *dyp = malloc(bo * sizeof(float)), *dym = malloc(bo * sizeof(float));
    float *y = malloc(bo * sizeof(float)), *y1 = malloc(bo * sizeof(float)), *y2 = malloc(bo * sizeof(float));
    float *ydot = malloc(k * bo * sizeof(float)), *fd = malloc(bo * sizeof(float));
    float *dx = malloc(k * bi * sizeof(float)), *dth = malloc(k * ldt * sizeof(float));
    float *dxdot = malloc(k * bi * sizeof(float)), *dthdot = calloc(k * ldt, sizeof(float));
    float *dxp = malloc(bi * sizeof(float)), *dxm = malloc(bi * sizeof(float));
    float *dtp = calloc(ldt, sizeof(float)), *dtm = calloc(ldt, sizeof(float));
    float *fdx = malloc(bi * sizeof(float)), *fdt = malloc(ldt * sizeof(float));
    float *one = malloc((bi > bo ? bi : bo) * sizeof(float)), *dt1 = calloc(ldt, sizeof(float));
    tu_fill_normal(&rng, x, bi, 1.0);
    tu_fill_normal(&rng, theta, np, 0.4);
    for (int j = 0; j < k; j++) {
        tu_fill_normal(&rng, xdot + j * bi, bi, 1.0);
        tu_fill_normal(&rng, tdot + j * ldt, np, 1.0);
    }
    tu_fill_normal(&rng, dy, bo, 1.0);
    tu_fill_normal(&rng, dydot, k * bo, 1.0);
    for (int j = 0; j < k; j++) memcpy(dyk + j * bo, dy, bo * sizeof(float));

    fwd(mod, theta, x, y, ws, b);
    check_forward(bc, mod, theta, x, y);
    nn_ctx c = {theta, x, y, ws, b, scratch};

    /* jvp vs central differences of forward */
    mod->ops->jvp(mod, &c, xdot, tdot, ldt, k, ydot);
    for (int j = 0; j < k; j++) {
        axpy_to(xp, x, H_STEP, xdot + j * bi, bi), axpy_to(xm, x, -H_STEP, xdot + j * bi, bi);
        axpy_to(tp, theta, H_STEP, tdot + j * ldt, np), axpy_to(tm, theta, -H_STEP, tdot + j * ldt, np);
        fwd(mod, tp, xp, y1, ws2, b);
        fwd(mod, tm, xm, y2, ws2, b);
        for (size_t i = 0; i < bo; i++) fd[i] = (float)(((double)y1[i] - y2[i]) / (2 * H_STEP));
        snprintf(what, sizeof what, "%s: jvp vs central differences", spec);
        tu_close_f(what, ydot + j * bo, fd, bo, FD_TOL);
    }

    /* vjp: the dot-product identity; parameter adjoints accumulate into their slots only */
    for (size_t q = 0; q < k * ldt; q++) dth[q] = 0.5f;
    mod->ops->vjp(mod, &c, dyk, k, dx, dth, ldt);
    for (int j = 0; j < k; j++) {
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < bo; i++) lhs += (double)dy[i] * ydot[j * bo + i], scale += fabs(dy[i] * ydot[j * bo + i]);
        for (size_t i = 0; i < bi; i++) rhs += (double)dx[j * bi + i] * xdot[j * bi + i];
        for (size_t p = 0; p < np; p++) rhs += ((double)dth[j * ldt + p] - 0.5) * tdot[j * ldt + p];
        TU_CHECK(fabs(lhs - rhs) <= 1e-5 * (scale + 1e-6), "%s: <dy,Jv> = %.8g, <J^T dy, v> = %.8g", spec, lhs, rhs);
        for (size_t p = np; p < ldt; p++) TU_CHECK(dth[j * ldt + p] == 0.5f, "%s: vjp wrote outside its slot", spec);
    }

    /* soa vs central differences of the vjp, moving x and dy with theta fixed (a NULL parameter
     * tangent), then x, theta and dy together (what the checks below compare against) */
    for (int with_t = 0; with_t < 2; with_t++) {
        memset(dthdot, 0, k * ldt * sizeof(float));
        mod->ops->soa(mod, &c, xdot, with_t ? tdot : NULL, ldt, dy, dydot, k, dxdot, dthdot);
        for (int j = 0; j < k; j++) {
            double ht = with_t ? H_STEP : 0.0;
            axpy_to(xp, x, H_STEP, xdot + j * bi, bi), axpy_to(xm, x, -H_STEP, xdot + j * bi, bi);
            axpy_to(tp, theta, ht, tdot + j * ldt, np), axpy_to(tm, theta, -ht, tdot + j * ldt, np);
            axpy_to(dyp, dy, H_STEP, dydot + j * bo, bo), axpy_to(dym, dy, -H_STEP, dydot + j * bo, bo);
            memset(dtp, 0, ldt * sizeof(float)), memset(dtm, 0, ldt * sizeof(float));
            fwd(mod, tp, xp, y1, ws2, b);
            nn_ctx cp = {tp, xp, y1, ws2, b, scratch};
            mod->ops->vjp(mod, &cp, dyp, 1, dxp, dtp, ldt);
            fwd(mod, tm, xm, y2, ws2, b);
            nn_ctx cm = {tm, xm, y2, ws2, b, scratch};
            mod->ops->vjp(mod, &cm, dym, 1, dxm, dtm, ldt);
            for (size_t i = 0; i < bi; i++) fdx[i] = (float)(((double)dxp[i] - dxm[i]) / (2 * H_STEP));
            for (size_t p = 0; p < np; p++) fdt[p] = (float)(((double)dtp[p] - dtm[p]) / (2 * H_STEP));
            snprintf(what, sizeof what, "%s: soa input part vs differences of vjp%s", spec, with_t ? "" : " (theta fixed)");
            tu_close_f(what, dxdot + j * bi, fdx, bi, FD_TOL);
            snprintf(what, sizeof what, "%s: soa parameter part vs differences of vjp%s", spec, with_t ? "" : " (theta fixed)");
            tu_close_f(what, dthdot + j * ldt, fdt, np, FD_TOL);
            for (size_t p = np; p < ldt; p++) TU_CHECK(dthdot[j * ldt + p] == 0.0f, "%s: soa wrote outside its slot", spec);
        }
    }

    /* k at once == one at a time, and each part of the soa and vjp alone == its part of the whole */
    for (int j = 0; j < k; j++) {
        mod->ops->jvp(mod, &c, xdot + j * bi, tdot + j * ldt, ldt, 1, one);
        snprintf(what, sizeof what, "%s: jvp k=2 vs k=1", spec);
        tu_close_f(what, ydot + j * bo, one, bo, EXACT_TOL);
        memset(dt1, 0, ldt * sizeof(float));
        mod->ops->soa(mod, &c, xdot + j * bi, tdot + j * ldt, ldt, dy, dydot + j * bo, 1, NULL, dt1);
        snprintf(what, sizeof what, "%s: soa parameter part alone, k=1", spec);
        tu_close_f(what, dthdot + j * ldt, dt1, np, EXACT_TOL);
        mod->ops->soa(mod, &c, xdot + j * bi, tdot + j * ldt, ldt, dy, dydot + j * bo, 1, one, NULL);
        snprintf(what, sizeof what, "%s: soa input part alone, k=1", spec);
        tu_close_f(what, dxdot + j * bi, one, bi, EXACT_TOL);
        memset(dt1, 0, ldt * sizeof(float));
        mod->ops->vjp(mod, &c, dy, 1, NULL, dt1, ldt);
        for (size_t p = 0; p < np; p++) dt1[p] += 0.5f;
        snprintf(what, sizeof what, "%s: vjp parameter part alone", spec);
        tu_close_f(what, dth + j * ldt, dt1, np, EXACT_TOL);
    }

    /* the Gram block vs explicit per-sample gradients of k cotangent rows; again from a fresh
     * workspace that forward refills (the data-parallel Gram's way) */
    size_t kb = (size_t)k * b;
    double *gram = calloc(kb * kb, sizeof(double)), *gram2 = calloc(kb * kb, sizeof(double));
    double *gref = malloc(kb * kb * sizeof(double));
    float *rows = calloc(kb * ldt, sizeof(float)), *cot = calloc(bo, sizeof(float));
    TU_CHECK(mod->ops->gram(mod, &c, dydot, k, gram) == CURVO_OK, "%s: gram", spec);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            memset(cot, 0, bo * sizeof(float));
            memcpy(cot + i * out, dydot + j * bo + i * out, out * sizeof(float));
            mod->ops->vjp(mod, &c, cot, 1, NULL, rows + ((size_t)j * b + i) * ldt, ldt);
        }
    for (size_t r = 0; r < kb; r++)
        for (size_t s = 0; s < kb; s++) {
            double t = 0;
            for (size_t p = 0; p < np; p++) t += (double)rows[r * ldt + p] * rows[s * ldt + p];
            gref[r * kb + s] = t;
        }
    free(ws2);
    ws2 = calloc(1, wsb);
    TU_CHECK(mod->ops->gram_reads_ws && !mod->ops->gram_rows, "%s: the data-parallel Gram must refill the block's workspace", spec);
    fwd(mod, theta, x, y1, ws2, b);
    memset(scratch, 0xff, sb);
    nn_ctx cf = {theta, x, y1, ws2, b, scratch};
    TU_CHECK(mod->ops->gram(mod, &cf, dydot, k, gram2) == CURVO_OK, "%s: gram from a refilled workspace", spec);
    for (size_t r = 0; r < kb; r++) /* modules fill the upper triangle; the caller mirrors it */
        for (size_t s2 = 0; s2 < r; s2++) gram[r * kb + s2] = gram[s2 * kb + r], gram2[r * kb + s2] = gram2[s2 * kb + r];
    snprintf(what, sizeof what, "%s: gram vs explicit per-sample gradients", spec);
    tu_close(what, gram, gref, kb * kb, EXACT_TOL);
    TU_CHECK(!memcmp(gram, gram2, kb * kb * sizeof(double)), "%s: gram from a refilled workspace is the same", spec);
    free(gram), free(gram2), free(gref), free(rows), free(cot);

    free(ws), free(ws2), free(scratch), free(theta), free(tp), free(tm), free(x), free(xp), free(xm), free(xdot), free(tdot);
    free(dy), free(dyk), free(dydot), free(dyp), free(dym), free(y), free(y1), free(y2), free(ydot), free(fd);
    free(dx), free(dth), free(dxdot), free(dthdot), free(dxp), free(dxm), free(dtp), free(dtm), free(fdx), free(fdt);
    free(one), free(dt1);
    curvo_model_free(m);
}

/* A spec that builds: its parameter count, top-level modules, and describe's round trip. */
static void spec_ok(const char *spec, int c, int h, int w, size_t params, int mods, const char *desc) {
    char err[CURVO_ERRMSG_LEN], got[1024];
    curvo_model *m, *m2;
    if (curvo_model_from_spec(spec, c, h, w, &m, err)) {
        TU_CHECK(0, "'%s' should build: %s", spec, err);
        return;
    }
    TU_CHECK(curvo_model_num_params(m) == params, "'%s': %zu parameters, want %zu", spec, curvo_model_num_params(m), params);
    TU_CHECK(curvo_model_num_modules(m) == mods, "'%s': %d modules, want %d", spec, curvo_model_num_modules(m), mods);
    TU_CHECK(curvo_model_describe(m, got, sizeof got) == CURVO_OK && !strcmp(got, desc), "'%s' describes as '%s', want '%s'",
             spec, got, desc);
    TU_CHECK(curvo_model_describe(m, got, 8) == CURVO_E_INVALID, "'%s': describe into a short buffer fails", spec);
    curvo_model_describe(m, got, sizeof got);
    TU_CHECK(curvo_model_from_spec(got, c, h, w, &m2, err) == CURVO_OK && curvo_model_num_params(m2) == params,
             "'%s': its description rebuilds the same model", spec);
    if (m2) curvo_model_free(m2);
    curvo_model_free(m);
}

/* A spec that must fail with CURVO_E_SPEC and a message containing want. */
static void spec_bad(const char *spec, int c, int h, int w, const char *want) {
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m = (curvo_model *)&err;
    int rc = curvo_model_from_spec(spec, c, h, w, &m, err);
    TU_CHECK(rc == CURVO_E_SPEC && m == NULL, "'%s' must be refused (rc %d)", spec, rc);
    TU_CHECK(strstr(err, want) != NULL, "'%s': message '%s' should contain '%s'", spec, err, want);
}

static void spec_parsing(void) {
    /* conv 1->4: 40; block 2 x (144 + 4); block conv 4->8 s2 296, conv 8->8 584, inner block conv 8->8 1x1
     * 72, projection 4->8 32; dense 128 -> 10: 1290 */
    spec_ok("conv:4:3:1:1,res(conv:4:3:1:1,relu,conv:4:3:1:1),relu,"
            "res(conv:8:3:2:1,relu,conv:8:3:1:1,res(relu,conv:8:1)),flatten,dense:10",
            1, 8, 8, 40 + 296 + 296 + 584 + 72 + 32 + 1290, 6,
            "conv:4:3:1:1,res(conv:4:3:1:1,relu,conv:4:3:1:1),relu,"
            "res(conv:8:3:2:1,relu,conv:8:3:1:1,res(relu,conv:8:1:1:0)),flatten,dense:10");
    spec_ok(" res( dense:4 , tanh ) , dense:2", 4, 1, 1, 20 + 10, 2, "res(dense:4,tanh),dense:2");
    spec_ok("res(dense:6,tanh,dense:5)", 4, 1, 1, 30 + 35 + 20, 1, "res(dense:6,tanh,dense:5)");
    spec_ok("res(res(res(tanh)))", 3, 2, 2, 0, 1, "res(res(res(tanh)))");
    spec_ok("res(avgpool:2)", 2, 5, 5, 4, 1, "res(avgpool:2:2)"); /* 5x5 -> 2x2: stride 3 (smallest) */

    spec_bad("res(conv:4:3,relu", 1, 6, 6, "unbalanced parentheses");
    spec_bad("dense:4)", 4, 1, 1, "unbalanced parentheses");
    spec_bad("res(dense:4))", 4, 1, 1, "unbalanced parentheses");
    spec_bad("res()", 4, 1, 1, "body is empty");
    spec_bad("res(  )", 4, 1, 1, "body is empty");
    spec_bad("res(dense:4,)", 4, 1, 1, "empty layer token");
    spec_bad("res(dense:4)x", 4, 1, 1, "nothing after its ')'");
    spec_bad("res(dense:4)(tanh)", 4, 1, 1, "nothing after its ')'");
    spec_bad("rez(dense:4)", 4, 1, 1, "unknown layer");
    spec_bad("res(dense:4,rleu)", 4, 1, 1, "res(dense:4,rleu): unknown layer 'rleu'");
    spec_bad("res(conv:4:3)", 1, 6, 6, "no strided 1x1 convolution");
    spec_bad("res(conv:4:3)", 1, 6, 6, "res(conv:4:3): the body maps 1x6x6 to 4x4x4");
    spec_bad("res(flatten,dense:4)", 1, 4, 4, "flattens");
    spec_bad("res(dense:4)", 1, 4, 4, "flattens");
    spec_bad("dense:4,res(tanh,res(dense:3,rleu))", 4, 1, 1, "res(dense:3,rleu): unknown layer 'rleu'");
    spec_bad("res(conv:4:9)", 1, 6, 6, "does not fit");
    char deep[256] = "";
    for (int d = 0; d < 20; d++) strcat(deep, "res(");
    strcat(deep, "tanh");
    for (int d = 0; d < 20; d++) strcat(deep, ")");
    spec_bad(deep, 2, 1, 1, "nested 20 deep");
}

/* The C API: a block appended to a model; a refused block leaves the model as it was. */
static void c_api(void) {
    curvo_model *m;
    TU_CHECK(curvo_model_create(3, 1, 1, &m) == CURVO_OK, "create");
    TU_CHECK(curvo_model_add_dense(m, 4) == CURVO_OK, "dense");
    TU_CHECK(curvo_model_add_residual(m, "dense:4,tanh,dense:4") == CURVO_OK, "identity block: %s", curvo_model_errmsg(m));
    TU_CHECK(curvo_model_add_residual(m, "dense:2") == CURVO_OK, "projection block: %s", curvo_model_errmsg(m));
    size_t n = curvo_model_num_params(m);
    TU_CHECK(n == 16 + 40 + 10 + 8, "parameters %zu", n);
    TU_CHECK(curvo_model_add_residual(m, "dense:2,rleu") == CURVO_E_SPEC, "bad body");
    TU_CHECK(strstr(curvo_model_errmsg(m), "unknown layer 'rleu'") != NULL, "message: %s", curvo_model_errmsg(m));
    TU_CHECK(curvo_model_add_residual(m, " ") == CURVO_E_SPEC, "empty body");
    TU_CHECK(curvo_model_add_residual(m, NULL) == CURVO_E_INVALID && curvo_model_add_residual(NULL, "tanh") == CURVO_E_INVALID,
             "NULL arguments");
    TU_CHECK(curvo_model_num_modules(m) == 3 && curvo_model_num_params(m) == n, "refused blocks change nothing");
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    TU_CHECK(curvo_model_init(m, &rng) == CURVO_OK, "init");
    const float *theta = curvo_model_params(m);
    int nonzero = 0;
    for (size_t p = 16; p < 16 + 16; p++) nonzero += theta[p] != 0.0f; /* the block's first dense weights */
    TU_CHECK(nonzero == 16, "init fills the block's weights (%d of 16 nonzero)", nonzero);
    curvo_model_free(m);
}

/* The shortcut's normalization rule: the body's last top-level token if it names a normalization. */
static void norm_rule(void) {
    char tok[64];
    TU_CHECK(nn_spec_last_norm("conv:8:3,batchnorm", tok, sizeof tok) && !strcmp(tok, "batchnorm"), "batchnorm");
    TU_CHECK(nn_spec_last_norm("conv:8:3, groupnorm:4 ", tok, sizeof tok) && !strcmp(tok, "groupnorm:4"), "groupnorm:4");
    TU_CHECK(nn_spec_last_norm("layernorm", tok, sizeof tok) && !strcmp(tok, "layernorm"), "layernorm alone");
    TU_CHECK(!nn_spec_last_norm("batchnorm,relu", tok, sizeof tok), "relu last");
    TU_CHECK(!nn_spec_last_norm("conv:8:3,res(conv:8:3,layernorm)", tok, sizeof tok), "a block last");
    TU_CHECK(!nn_spec_last_norm("conv:8:3,batchnormx", tok, sizeof tok), "a longer name");
}

/* A few optimizer steps on a tiny residual network lower the loss of a fixed batch. */
static void training(curvo_algorithm alg, int steps, const char *name) {
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("conv:4:3:1:1,relu,res(conv:4:3:1:1,relu,conv:4:3:1:1),relu,"
                                   "res(conv:6:3:2:1,relu,conv:6:3:1:1),relu,avgpool:3,flatten,dense:3",
                                   1, 6, 6, &m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 17);
    curvo_model_init(m, &rng);
    enum { B = 24 };
    float x[B * 36];
    int32_t labels[B];
    for (int i = 0; i < B; i++) { /* class = which third of the image is bright */
        labels[i] = (int32_t)curvo_rng_below(&rng, 3);
        for (int q = 0; q < 36; q++)
            x[i * 36 + q] = (float)(0.3 * curvo_rng_normal(&rng) + ((q % 6) / 2 == labels[i] ? 1.0 : 0.0));
    }
    curvo_batch bt = {x, labels, NULL, B};
    curvo_curv *cv;
    curvo_optimizer *opt;
    curvo_opt_params p;
    curvo_opt_params_init(&p, alg);
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "curv");
    TU_CHECK(curvo_optimizer_create(&p, curvo_model_num_params(m), &opt, err) == CURVO_OK, "%s: %s", name, err);
    curvo_curv_set_batch(cv, &bt);
    double first = curvo_curv_loss(cv), last = first;
    for (int s = 0; s < steps; s++) {
        curvo_step_info info;
        int rc = curvo_optimizer_step(opt, cv, &bt, &info);
        TU_CHECK(rc == CURVO_OK, "%s step %d: %s", name, s, curvo_curv_errmsg(cv));
    }
    curvo_curv_set_batch(cv, &bt);
    last = curvo_curv_loss(cv);
    printf("%s on a residual cnn: loss %.4f -> %.4f in %d steps\n", name, first, last, steps);
    TU_CHECK(isfinite(last) && last < 0.7 * first, "%s: loss %.4f -> %.4f", name, first, last);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
}

int main(void) {
    static const block_case cases[] = {
        {"conv:2:3:1:1,tanh,conv:2:3:1:1", 2, 5, 5, 0, 3},             /* identity */
        {"conv:4:3:2:1,softplus,conv:4:3:1:1", 2, 6, 6, 2, 2},         /* stride 2, 2 -> 4 channels */
        {"conv:3:3:2:1,tanh,conv:3:3:1:1", 3, 5, 4, 2, 2},             /* stride 2 on odd sizes, same channels */
        {"conv:3:3:1:1,tanh,res(conv:3:3:1:1,sigmoid),conv:3:1", 3, 4, 4, 0, 2}, /* nested */
        {"conv:4:3:1:1,tanh,res(conv:4:3:2:1,tanh),avgpool:1", 2, 6, 6, 2, 2}, /* nested projection */
        {"conv:3:3:1:1,tanh,avgpool:2", 3, 6, 6, 2, 2},                /* pooling in the body */
        {"dense:6,tanh,dense:4", 4, 1, 1, 0, 3},                       /* dense-only, identity */
        {"dense:6,tanh,dense:5,softplus", 4, 1, 1, 1, 3},              /* dense-only, 4 -> 5 */
        {"tanh,exp", 3, 2, 2, 0, 2},                                   /* no parameters */
        {"sigmoid,conv:3:3:1:1,tanh", 2, 4, 4, 1, 2},                  /* parameters from the second child on */
    };
    curvo_set_threads(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_block(&cases[i], 900 + i);
    spec_parsing();
    c_api();
    norm_rule();
    training(CURVO_OPT_EGN, 8, "EGN");
    training(CURVO_OPT_ADAM, 40, "Adam");
    return tu_finish("test_residual");
}
