/* test_norm.c — the normalization modules (groupnorm:G, layernorm) and global average pooling (gap),
 * each action against a reference that is nothing but a direct double computation of the forward
 * map, y = gamma (x - mu) / sqrt(var + 1e-5) + beta per group (or channel means for gap):
 *   forward vs that double computation;
 *   jvp vs its central differences along (xdot, thetadot);
 *   vjp (input and parameter parts) vs the gradient of <dy, f> by central differences;
 *   soa vs central differences of that gradient along (xdot, thetadot, dydot) — the check of the
 *   second-derivative terms — and vs central differences of the module's own float vjp;
 *   the dot-product identity; k = 2 vectors at once equal two single calls; parameter adjoints
 *   accumulate and stay in their (k, ldt) slots; NULL tangents act as zeros;
 *   the Gram block and gram_rows vs explicit per-sample gradients;
 *   results independent of the thread count (1 vs 2 threads, bitwise, on a shape large enough to
 *   split);
 *   spec errors (groups that do not divide the channels, missing fields) and describe round trips;
 *   and a few EGN steps on a tiny conv, groupnorm, relu, gap, flatten, dense network that reduce its
 *   loss. Whole networks through the curvature operators are in test_curvature. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "testutil.h"

#define K 2       /* vectors at once */
#define MAXN 256  /* features times samples, the largest case */
#define MAXP 32   /* parameters, the largest case */
#define LDT (MAXP + 3)

static const double H_REF = 1e-5;   /* central differences of the double reference */
static const double H_OUTER = 2e-4; /* central differences of the reference gradient (soa) */
static const double H_FLOAT = 1e-3; /* central differences of the float module */
static const double REF_TOL = 2e-5;
static const double SOA_REF_TOL = 2e-5;
static const double FD_TOL = 1e-3;
static const double EXACT_TOL = 1e-6;

typedef struct {
    const char *spec; /* one token */
    int c, h, w, b;
} norm_case;

/* y (b, out) of the module in double, computed directly from its definition */
static void ref_forward(const module *mod, const double *th, const double *x, int b, double *y) {
    size_t hw = (size_t)mod->in_h * mod->in_w, in = module_in_size(mod);
    int C = mod->in_c;
    if (mod->ops == &nn_gap_ops) {
        for (int i = 0; i < b; i++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (size_t p = 0; p < hw; p++) s += x[i * in + c * hw + p];
                y[i * C + c] = s / (double)hw;
            }
        return;
    }
    int G = mod->groups, cpg = C / G;
    size_t n = (size_t)cpg * hw;
    for (int i = 0; i < b; i++)
        for (int g = 0; g < G; g++) {
            const double *xg = x + i * in + g * n;
            double mu = 0, var = 0;
            for (size_t e = 0; e < n; e++) mu += xg[e] / (double)n;
            for (size_t e = 0; e < n; e++) var += (xg[e] - mu) * (xg[e] - mu) / (double)n;
            for (size_t e = 0; e < n; e++) {
                int c = g * cpg + (int)(e / hw);
                y[i * in + g * n + e] = th[c] * (xg[e] - mu) / sqrt(var + 1e-5) + th[C + c];
            }
        }
}

typedef struct {
    const module *mod;
    int b;
    size_t in, out, np, bi, bo;
} shape;

static double phi(const shape *s, const double *th, const double *x, const double *dy) {
    double y[MAXN], t = 0;
    ref_forward(s->mod, th, x, s->b, y);
    for (size_t e = 0; e < s->bo; e++) t += dy[e] * y[e];
    return t;
}

/* The gradient (gx (bi), gt (np)) of <dy, f(x, th)> by central differences of the reference. */
static void ref_grad(const shape *s, const double *th, const double *x, const double *dy, double *gx, double *gt) {
    double xp[MAXN], tp[MAXP];
    memcpy(xp, x, s->bi * sizeof(double));
    memcpy(tp, th, s->np * sizeof(double));
    for (size_t e = 0; e < s->bi; e++) {
        xp[e] = x[e] + H_REF;
        double fp = phi(s, tp, xp, dy);
        xp[e] = x[e] - H_REF;
        gx[e] = (fp - phi(s, tp, xp, dy)) / (2 * H_REF);
        xp[e] = x[e];
    }
    for (size_t q = 0; q < s->np; q++) {
        tp[q] = th[q] + H_REF;
        double fp = phi(s, tp, xp, dy);
        tp[q] = th[q] - H_REF;
        gt[q] = (fp - phi(s, tp, xp, dy)) / (2 * H_REF);
        tp[q] = th[q];
    }
}

/* out = a + h d, in double from floats */
static void step_d(double *out, const float *a, double h, const float *d, size_t n) {
    for (size_t e = 0; e < n; e++) out[e] = (double)a[e] + h * (d ? d[e] : 0.0);
}

static void step_f(float *out, const float *a, double h, const float *d, size_t n) {
    for (size_t e = 0; e < n; e++) out[e] = (float)(a[e] + h * d[e]);
}

/* float a (n) vs double reference */
static void close_ref(const char *what, const float *a, const double *ref, size_t n, double tol) {
    double da[MAXN];
    for (size_t e = 0; e < n; e++) da[e] = a[e];
    tu_close(what, da, ref, n, tol);
}

static void check_case(const norm_case *nc, uint64_t seed) {
    char err[CURVO_ERRMSG_LEN], what[200];
    curvo_model *m;
    if (curvo_model_from_spec(nc->spec, nc->c, nc->h, nc->w, &m, err)) {
        TU_CHECK(0, "%s: %s", nc->spec, err);
        return;
    }
    const module *mod = &m->mods[0];
    shape S = {mod, nc->b, module_in_size(mod), module_out_size(mod), mod->n_params, 0, 0};
    S.bi = S.b * S.in, S.bo = S.b * S.out;
    const int b = S.b;
    const size_t bi = S.bi, bo = S.bo, np = S.np;
    if (bi > MAXN || np > MAXP) {
        TU_CHECK(0, "%s: case too large for the test's buffers", nc->spec);
        curvo_model_free(m);
        return;
    }
    size_t wsb = mod->ops->ws_bytes ? mod->ops->ws_bytes(mod, b) : 0;
    void *ws = wsb ? malloc(wsb) : NULL;
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    float x[MAXN], th[MAXP + 1], xdot[K * MAXN], tdot[K * LDT], dy[MAXN], dyk[K * MAXN], dydot[K * MAXN];
    float y[MAXN], ydot[K * MAXN], dx[K * MAXN], dth[K * LDT], dxdot[K * MAXN], dthdot[K * LDT];
    float one[K * MAXN], onet[LDT], xp[MAXN], xm[MAXN], tp[MAXP + 1], tm[MAXP + 1], dyp[MAXN], dym[MAXN];
    float dxp[MAXN], dxm[MAXN], dtp[LDT], dtm[LDT], fdx[MAXN], fdt[MAXP + 1];
    double xd[MAXN], thd[MAXP + 1], yr[MAXN], ym[MAXN], r[MAXN], dyd[MAXN];
    double gxp[MAXN], gxm[MAXN], gtp[MAXP + 1], gtm[MAXP + 1], rt[MAXP + 1];
    tu_fill_normal(&rng, x, bi, 1.0);
    for (size_t q = 0; q < np / 2; q++) { /* gamma around 1, beta around 0 */
        th[q] = (float)(1.0 + 0.3 * curvo_rng_normal(&rng));
        th[np / 2 + q] = (float)(0.3 * curvo_rng_normal(&rng));
    }
    memset(tdot, 0, sizeof tdot);
    for (int j = 0; j < K; j++) {
        tu_fill_normal(&rng, xdot + j * bi, bi, 1.0);
        tu_fill_normal(&rng, tdot + j * LDT, np, 1.0);
    }
    tu_fill_normal(&rng, dy, bo, 1.0);
    tu_fill_normal(&rng, dydot, K * bo, 1.0);
    for (int j = 0; j < K; j++) memcpy(dyk + j * bo, dydot + j * bo, bo * sizeof(float)); /* K cotangents */
    const float *td = np ? tdot : NULL;
    nn_ctx c = {th, x, y, ws, b, NULL};
    step_d(xd, x, 0, NULL, bi);
    step_d(thd, th, 0, NULL, np);

    /* forward vs the direct double computation */
    mod->ops->forward(mod, th, x, y, ws, b);
    ref_forward(mod, thd, xd, b, yr);
    snprintf(what, sizeof what, "%s (%d,%d,%d) b%d: forward vs double", nc->spec, nc->c, nc->h, nc->w, b);
    close_ref(what, y, yr, bo, EXACT_TOL);

    /* jvp vs central differences of the reference */
    mod->ops->jvp(mod, &c, xdot, td, LDT, K, ydot);
    for (int j = 0; j < K; j++) {
        double xa[MAXN], ta[MAXP + 1];
        step_d(xa, x, H_REF, xdot + j * bi, bi);
        step_d(ta, th, H_REF, tdot + j * LDT, np);
        ref_forward(mod, ta, xa, b, yr);
        step_d(xa, x, -H_REF, xdot + j * bi, bi);
        step_d(ta, th, -H_REF, tdot + j * LDT, np);
        ref_forward(mod, ta, xa, b, ym);
        for (size_t e = 0; e < bo; e++) r[e] = (yr[e] - ym[e]) / (2 * H_REF);
        snprintf(what, sizeof what, "%s: jvp vs differences of the double forward", nc->spec);
        close_ref(what, ydot + j * bo, r, bo, REF_TOL);
    }

    /* vjp vs the reference gradient; dtheta accumulates into its slot; the dot-product identity */
    for (size_t q = 0; q < K * LDT; q++) dth[q] = 0.5f;
    mod->ops->vjp(mod, &c, dyk, K, dx, dth, LDT);
    for (int j = 0; j < K; j++) {
        step_d(dyd, dyk + j * bo, 0, NULL, bo);
        ref_grad(&S, thd, xd, dyd, r, rt);
        snprintf(what, sizeof what, "%s: vjp input part vs the reference gradient", nc->spec);
        close_ref(what, dx + j * bi, r, bi, REF_TOL);
        if (np) {
            for (size_t q = 0; q < np; q++) fdt[q] = dth[j * LDT + q] - 0.5f;
            snprintf(what, sizeof what, "%s: vjp parameter part vs the reference gradient", nc->spec);
            close_ref(what, fdt, rt, np, REF_TOL);
        }
        for (size_t q = np; q < LDT; q++)
            TU_CHECK(dth[j * LDT + q] == 0.5f, "%s: vjp wrote outside its parameter slot", nc->spec);
        double lhs = 0, rhs = 0, scale = 1e-6;
        for (size_t e = 0; e < bo; e++) lhs += (double)dyk[j * bo + e] * ydot[j * bo + e], scale += fabs(dyk[j * bo + e] * ydot[j * bo + e]);
        for (size_t e = 0; e < bi; e++) rhs += (double)dx[j * bi + e] * xdot[j * bi + e];
        for (size_t q = 0; q < np; q++) rhs += ((double)dth[j * LDT + q] - 0.5) * tdot[j * LDT + q];
        TU_CHECK(fabs(lhs - rhs) <= 1e-5 * scale, "%s: <dy, Jv> = %.9g, <J^T dy, v> = %.9g", nc->spec, lhs, rhs);
    }

    /* soa vs central differences of the reference gradient along (xdot, thetadot, dydot) */
    memset(dthdot, 0, sizeof dthdot);
    mod->ops->soa(mod, &c, xdot, td, LDT, dy, dydot, K, dxdot, dthdot);
    for (int j = 0; j < K; j++) {
        double xa[MAXN], ta[MAXP + 1], da[MAXN];
        step_d(xa, x, H_OUTER, xdot + j * bi, bi);
        step_d(ta, th, H_OUTER, tdot + j * LDT, np);
        step_d(da, dy, H_OUTER, dydot + j * bo, bo);
        ref_grad(&S, ta, xa, da, gxp, gtp);
        step_d(xa, x, -H_OUTER, xdot + j * bi, bi);
        step_d(ta, th, -H_OUTER, tdot + j * LDT, np);
        step_d(da, dy, -H_OUTER, dydot + j * bo, bo);
        ref_grad(&S, ta, xa, da, gxm, gtm);
        for (size_t e = 0; e < bi; e++) r[e] = (gxp[e] - gxm[e]) / (2 * H_OUTER);
        for (size_t q = 0; q < np; q++) rt[q] = (gtp[q] - gtm[q]) / (2 * H_OUTER);
        snprintf(what, sizeof what, "%s: soa input part vs differences of the reference gradient", nc->spec);
        close_ref(what, dxdot + j * bi, r, bi, SOA_REF_TOL);
        if (np) {
            snprintf(what, sizeof what, "%s: soa parameter part vs differences of the reference gradient", nc->spec);
            close_ref(what, dthdot + j * LDT, rt, np, SOA_REF_TOL);
        }
        for (size_t q = np; q < LDT; q++)
            TU_CHECK(dthdot[j * LDT + q] == 0.0f, "%s: soa wrote outside its parameter slot", nc->spec);

        /* and vs central differences of the module's own vjp */
        step_f(xp, x, H_FLOAT, xdot + j * bi, bi);
        step_f(xm, x, -H_FLOAT, xdot + j * bi, bi);
        step_f(tp, th, H_FLOAT, tdot + j * LDT, np);
        step_f(tm, th, -H_FLOAT, tdot + j * LDT, np);
        step_f(dyp, dy, H_FLOAT, dydot + j * bo, bo);
        step_f(dym, dy, -H_FLOAT, dydot + j * bo, bo);
        memset(dtp, 0, sizeof dtp);
        memset(dtm, 0, sizeof dtm);
        nn_ctx cp = {tp, xp, y, ws, b, NULL}, cm = {tm, xm, y, ws, b, NULL};
        mod->ops->forward(mod, tp, xp, y, ws, b);
        mod->ops->vjp(mod, &cp, dyp, 1, dxp, dtp, LDT);
        mod->ops->forward(mod, tm, xm, y, ws, b);
        mod->ops->vjp(mod, &cm, dym, 1, dxm, dtm, LDT);
        for (size_t e = 0; e < bi; e++) fdx[e] = (float)(((double)dxp[e] - dxm[e]) / (2 * H_FLOAT));
        for (size_t q = 0; q < np; q++) fdt[q] = (float)(((double)dtp[q] - dtm[q]) / (2 * H_FLOAT));
        snprintf(what, sizeof what, "%s: soa input part vs differences of the float vjp", nc->spec);
        tu_close_f(what, dxdot + j * bi, fdx, bi, FD_TOL);
        if (np) {
            snprintf(what, sizeof what, "%s: soa parameter part vs differences of the float vjp", nc->spec);
            tu_close_f(what, dthdot + j * LDT, fdt, np, FD_TOL);
        }
    }
    mod->ops->forward(mod, th, x, y, ws, b);

    /* k = 2 at once == one at a time; NULL tangents == zero tangents */
    for (int j = 0; j < K; j++) {
        mod->ops->jvp(mod, &c, xdot + j * bi, td ? tdot + j * LDT : NULL, LDT, 1, one);
        snprintf(what, sizeof what, "%s: jvp k=2 vs k=1", nc->spec);
        tu_close_f(what, ydot + j * bo, one, bo, EXACT_TOL);
        memset(onet, 0, sizeof onet);
        mod->ops->vjp(mod, &c, dyk + j * bo, 1, one, onet, LDT);
        snprintf(what, sizeof what, "%s: vjp k=2 vs k=1", nc->spec);
        tu_close_f(what, dx + j * bi, one, bi, EXACT_TOL);
        for (size_t q = 0; q < np; q++) onet[q] += 0.5f;
        if (np) tu_close_f(what, dth + j * LDT, onet, np, EXACT_TOL);
        memset(onet, 0, sizeof onet);
        mod->ops->soa(mod, &c, xdot + j * bi, td ? tdot + j * LDT : NULL, LDT, dy, dydot + j * bo, 1, one, onet);
        snprintf(what, sizeof what, "%s: soa k=2 vs k=1", nc->spec);
        tu_close_f(what, dxdot + j * bi, one, bi, EXACT_TOL);
        if (np) tu_close_f(what, dthdot + j * LDT, onet, np, EXACT_TOL);
    }
    {
        float zx[K * MAXN] = {0}, zt[K * LDT] = {0}, a1[K * MAXN], a2[K * MAXN], t1[K * LDT] = {0}, t2[K * LDT] = {0};
        mod->ops->jvp(mod, &c, NULL, NULL, LDT, K, a1);
        mod->ops->jvp(mod, &c, zx, np ? zt : NULL, LDT, K, a2);
        snprintf(what, sizeof what, "%s: jvp with NULL tangents vs zero tangents", nc->spec);
        tu_close_f(what, a1, a2, K * bo, 0.0);
        mod->ops->soa(mod, &c, NULL, NULL, LDT, dy, dydot, K, a1, t1);
        mod->ops->soa(mod, &c, zx, np ? zt : NULL, LDT, dy, dydot, K, a2, t2);
        snprintf(what, sizeof what, "%s: soa with NULL tangents vs zero tangents", nc->spec);
        tu_close_f(what, a1, a2, K * bi, 0.0);
        tu_close_f(what, t1, t2, K * LDT, 0.0);
    }

    /* Gram block and gram_rows vs explicit per-sample gradients of K cotangent rows */
    if (mod->ops->gram) {
        size_t kb = (size_t)K * b;
        double *gram = calloc(kb * kb, sizeof(double)), *gref = calloc(kb * kb, sizeof(double));
        float *rows = calloc(kb * LDT, sizeof(float)), *mrows = malloc(kb * np * sizeof(float)), cot[MAXN];
        TU_CHECK(mod->ops->gram(mod, &c, dydot, K, gram) == CURVO_OK, "%s: gram", nc->spec);
        TU_CHECK(mod->ops->gram_rows && mod->ops->gram_rows(mod, &c, dydot, K, mrows) == CURVO_OK, "%s: gram_rows",
                 nc->spec);
        for (int j = 0; j < K; j++)
            for (int i = 0; i < b; i++) {
                memset(cot, 0, bo * sizeof(float));
                memcpy(cot + i * S.out, dydot + j * bo + i * S.out, S.out * sizeof(float));
                mod->ops->vjp(mod, &c, cot, 1, NULL, rows + ((size_t)j * b + i) * LDT, LDT);
            }
        for (size_t p = 0; p < kb; p++)
            for (size_t q = 0; q < kb; q++)
                for (size_t e = 0; e < np; e++) gref[p * kb + q] += (double)rows[p * LDT + e] * rows[q * LDT + e];
        for (size_t p = 0; p < kb; p++) /* modules fill the upper triangle */
            for (size_t q = 0; q < p; q++) gram[p * kb + q] = gram[q * kb + p];
        snprintf(what, sizeof what, "%s: gram (upper triangle) vs explicit per-sample gradients", nc->spec);
        tu_close(what, gram, gref, kb * kb, 1e-5);
        for (size_t p = 0; p < kb; p++) {
            snprintf(what, sizeof what, "%s: gram_rows row %zu vs the per-sample vjp", nc->spec, p);
            tu_close_f(what, mrows + p * np, rows + p * LDT, np, EXACT_TOL);
        }
        free(gram), free(gref), free(rows), free(mrows);
    }
    free(ws);
    curvo_model_free(m);
}

/* Every action with 1 and with 2 threads, on a shape whose loops split: the same bits. */
static void thread_count_independence(void) {
    const int b = 8, k = 2;
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_model_from_spec("groupnorm:4", 8, 16, 16, &m, err)) {
        TU_CHECK(0, "groupnorm:4 on 8x16x16: %s", err);
        return;
    }
    const module *mod = &m->mods[0];
    size_t in = module_in_size(mod), np = mod->n_params, bi = (size_t)b * in, ldt = np;
    size_t nout = 2 * bi + k * bi * 4 + 3 * k * ldt + (size_t)k * b * np;
    float *x = malloc(bi * sizeof(float)), *xdot = malloc(k * bi * sizeof(float)), *dy = malloc(bi * sizeof(float));
    float *dyd = malloc(k * bi * sizeof(float)), *th = malloc(np * sizeof(float)), *td = malloc(k * ldt * sizeof(float));
    float *out[2];
    void *ws = malloc(mod->ops->ws_bytes(mod, b));
    curvo_rng rng;
    curvo_rng_seed(&rng, 77);
    tu_fill_normal(&rng, x, bi, 1.0);
    tu_fill_normal(&rng, xdot, k * bi, 1.0);
    tu_fill_normal(&rng, dy, bi, 1.0);
    tu_fill_normal(&rng, dyd, k * bi, 1.0);
    tu_fill_normal(&rng, th, np, 1.0);
    tu_fill_normal(&rng, td, k * ldt, 1.0);
    for (int run = 0; run < 2; run++) {
        curvo_set_threads(run + 1);
        float *o = out[run] = calloc(nout, sizeof(float));
        float *y = o, *ydot = y + bi, *dx = ydot + k * bi, *dxdot = dx + k * bi;
        float *dth = dxdot + k * bi, *dthdot = dth + k * ldt, *rows = dthdot + k * ldt;
        mod->ops->forward(mod, th, x, y, ws, b);
        nn_ctx c = {th, x, y, ws, b, NULL};
        mod->ops->jvp(mod, &c, xdot, td, ldt, k, ydot);
        mod->ops->vjp(mod, &c, dyd, k, dx, dth, ldt);
        mod->ops->soa(mod, &c, xdot, td, ldt, dy, dyd, k, dxdot, dthdot);
        mod->ops->gram_rows(mod, &c, dyd, k, rows);
    }
    curvo_set_threads(1);
    TU_CHECK(memcmp(out[0], out[1], nout * sizeof(float)) == 0, "groupnorm: 1 and 2 threads give different bits");
    free(out[0]), free(out[1]), free(x), free(xdot), free(dy), free(dyd), free(th), free(td), free(ws);
    curvo_model_free(m);
}

/* Spec errors say what is wrong; describe writes tokens that build the same model. */
static void spec_and_describe(void) {
    char err[CURVO_ERRMSG_LEN], desc[256];
    curvo_model *m;
    TU_CHECK(curvo_model_from_spec("conv:4:3,groupnorm:3", 1, 6, 6, &m, err) == CURVO_E_SPEC && !m,
             "groupnorm:3 on 4 channels must be a spec error");
    TU_CHECK(strstr(err, "groupnorm:3") && strstr(err, "divide the 4 input channels"), "message: %s", err);
    TU_CHECK(curvo_model_from_spec("conv:4:3,groupnorm:0", 1, 6, 6, &m, err) == CURVO_E_SPEC, "groupnorm:0");
    TU_CHECK(strstr(err, "not a whole number in [1,") != NULL, "message: %s", err);
    TU_CHECK(curvo_model_from_spec("conv:4:3,groupnorm", 1, 6, 6, &m, err) == CURVO_E_SPEC, "groupnorm without G");
    TU_CHECK(strstr(err, "groupnorm:GROUPS") != NULL, "message: %s", err);
    TU_CHECK(curvo_model_from_spec("gap:2", 1, 6, 6, &m, err) == CURVO_E_SPEC, "gap takes no fields");
    TU_CHECK(curvo_model_from_spec("conv:4:3,lyernorm", 1, 6, 6, &m, err) == CURVO_E_SPEC, "misspelt layernorm");
    TU_CHECK(strstr(err, "layernorm, groupnorm, gap") != NULL, "the unknown-layer message lists the tokens: %s", err);
    const char *spec = "conv:4:3:1:1,groupnorm:2,relu,layernorm,gap,flatten,dense:3";
    TU_CHECK(curvo_model_from_spec(spec, 2, 5, 5, &m, err) == CURVO_OK, "%s: %s", spec, err);
    if (!m) return;
    curvo_model_describe(m, desc, sizeof desc);
    TU_CHECK(strcmp(desc, spec) == 0, "describe: '%s', expected '%s'", desc, spec);
    TU_CHECK(curvo_model_num_params(m) == (4 * 2 * 9 + 4) + 8 + 8 + (3 * 4 + 3), "parameter count %zu",
             curvo_model_num_params(m));
    TU_CHECK(curvo_model_output_size(m) == 3, "output size");
    curvo_rng rng;
    curvo_rng_seed(&rng, 1);
    curvo_model_init(m, &rng);
    const float *th = curvo_model_params(m);
    size_t gn = 4 * 2 * 9 + 4; /* groupnorm's gamma, beta */
    TU_CHECK(th[gn] == 1.0f && th[gn + 3] == 1.0f && th[gn + 4] == 0.0f && th[gn + 7] == 0.0f,
             "init: gamma 1, beta 0");
    curvo_model_free(m);
    curvo_model *api;
    curvo_model_create(4, 3, 3, &api);
    TU_CHECK(curvo_model_add_groupnorm(api, 3) == CURVO_E_SHAPE, "add_groupnorm(3) on 4 channels");
    TU_CHECK(curvo_model_num_modules(api) == 0, "a failed add leaves the model unchanged");
    TU_CHECK(curvo_model_add_groupnorm(api, 4) == CURVO_OK && curvo_model_add_layernorm(api) == CURVO_OK &&
                 curvo_model_add_gap(api) == CURVO_OK,
             "add_groupnorm, add_layernorm, add_gap");
    TU_CHECK(curvo_model_output_size(api) == 4 && curvo_model_num_params(api) == 16, "gap: (4,3,3) -> (4,1,1)");
    curvo_model_free(api);
}

/* EGN on a fixed batch of a three-class problem (horizontal stripes, vertical stripes, checkers,
 * with noise) through conv, groupnorm, relu, gap, flatten, dense: every step is accepted and the
 * loss falls to under half its start. */
static void egn_trains_groupnorm_net(void) {
    const int b = 24, hw = 6, steps = 15;
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m;
    if (curvo_model_from_spec("conv:4:3:1:1,groupnorm:2,relu,gap,flatten,dense:3", 1, hw, hw, &m, err)) {
        TU_CHECK(0, "egn net: %s", err);
        return;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    curvo_model_init(m, &rng);
    float *x = malloc((size_t)b * hw * hw * sizeof(float));
    int32_t *labels = malloc((size_t)b * sizeof(int32_t));
    for (int i = 0; i < b; i++) {
        int cls = i % 3;
        labels[i] = cls;
        for (int r = 0; r < hw; r++)
            for (int q = 0; q < hw; q++) {
                int on = cls == 0 ? r % 2 : cls == 1 ? q % 2 : (r + q) % 2;
                x[(size_t)i * hw * hw + r * hw + q] = (float)(on + 0.3 * curvo_rng_normal(&rng));
            }
    }
    curvo_batch bt = {x, labels, NULL, b};
    curvo_curv *cv;
    curvo_optimizer *opt;
    curvo_opt_params p;
    curvo_opt_params_init(&p, CURVO_OPT_EGN);
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "curv_create");
    TU_CHECK(curvo_optimizer_create(&p, curvo_model_num_params(m), &opt, err) == CURVO_OK, "egn: %s", err);
    curvo_curv_set_batch(cv, &bt);
    double first = curvo_curv_loss(cv), last = first;
    int accepted = 0;
    for (int s = 0; s < steps; s++) {
        curvo_step_info info;
        int rc = curvo_optimizer_step(opt, cv, &bt, &info);
        accepted += rc == CURVO_OK && info.accepted;
    }
    curvo_curv_set_batch(cv, &bt);
    last = curvo_curv_loss(cv);
    printf("EGN on conv,groupnorm,relu,gap,flatten,dense: loss %.4f -> %.4f in %d steps (%d accepted)\n", first,
           last, steps, accepted);
    TU_CHECK(accepted == steps, "EGN: %d of %d steps accepted", accepted, steps);
    TU_CHECK(isfinite(last) && last < 0.5 * first, "EGN: loss %.4f -> %.4f", first, last);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
    free(x), free(labels);
}

int main(void) {
    static const norm_case cases[] = {
        {"groupnorm:2", 4, 3, 3, 2}, {"layernorm", 4, 3, 3, 2}, {"groupnorm:4", 4, 2, 3, 3},
        {"groupnorm:3", 6, 1, 1, 3}, {"layernorm", 5, 1, 1, 2}, {"groupnorm:1", 2, 3, 2, 2},
        {"gap", 4, 3, 3, 2},         {"gap", 3, 2, 5, 3},       {"gap", 2, 1, 1, 2},
    };
    curvo_set_threads(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], 900 + i);
    thread_count_independence();
    spec_and_describe();
    egn_trains_groupnorm_net();
    return tu_finish("test_norm");
}
