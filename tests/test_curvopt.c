/* test_curvopt.c — LRSFN, SOFIM and arTuRO:
 *   LRSFN's eigenpairs on a tiny net match a dense eigendecomposition of the Hessian (top k by
 *   |lambda|); on a function with a strict saddle LRSFN escapes where gradient descent from the same
 *   point stalls;
 *   SOFIM's Sherman-Morrison step equals a dense solve with F = u u^T + rho I, for both readings;
 *   arTuRO's KL after bisection is within 10% of its bound (or below it with eta = 0) at every step
 *   and the precision stays positive even when the curvature estimate turns negative; the RLS filter
 *   recovers the slope and intercept of a noisy linear gradient model;
 *   a NaN batch leaves theta and the state of each unchanged. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim.h"
#include "optim/rls.h"
#include "testutil.h"

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    curvo_batch bt;
    float *x, *y;
    int32_t *labels;
    size_t n;
} prob;

static void prob_init(prob *p, const char *spec, int din, int b, curvo_loss_kind loss, uint64_t seed) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec(spec, din, 1, 1, &p->m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(p->m, &rng);
    p->n = curvo_model_num_params(p->m);
    int c = (int)curvo_model_output_size(p->m);
    p->x = malloc((size_t)b * din * sizeof(float));
    p->y = malloc((size_t)b * c * sizeof(float));
    p->labels = malloc((size_t)b * sizeof(int32_t));
    tu_fill_normal(&rng, p->x, (size_t)b * din, 1.0);
    tu_fill_normal(&rng, p->y, (size_t)b * c, 1.0);
    for (int i = 0; i < b; i++) p->labels[i] = (int32_t)curvo_rng_below(&rng, (uint64_t)c);
    p->bt = (curvo_batch){p->x, p->labels, p->y, b};
    curvo_curv_create(p->m, loss, &p->cv);
}

static void prob_free(prob *p) {
    curvo_curv_free(p->cv);
    curvo_model_free(p->m);
    free(p->x), free(p->y), free(p->labels);
}

static void lrsfn_eigenpairs(void) {
    prob p;
    prob_init(&p, "dense:5,tanh,dense:3", 3, 12, CURVO_LOSS_CE, 8);
    size_t n = p.n; /* 38 */
    const int k = 6, hb = 8;
    /* dense H of the Hessian sub-batch (the first hb samples) */
    curvo_batch sub = p.bt;
    sub.b = hb;
    TU_CHECK(curvo_curv_set_batch(p.cv, &sub) == CURVO_OK, "sub-batch");
    float *eye = calloc(n * n, sizeof(float)), *Hf = malloc(n * n * sizeof(float));
    for (size_t j = 0; j < n; j++) eye[j * n + j] = 1.0f;
    TU_CHECK(curvo_curv_hvp(p.cv, eye, (int)n, Hf) == CURVO_OK, "dense H: %s", curvo_curv_errmsg(p.cv));
    double *H = malloc(n * n * sizeof(double)), *ev = malloc(n * sizeof(double));
    for (size_t q = 0; q < n * n; q++) H[q] = 0.5 * ((double)Hf[q] + Hf[(q % n) * n + q / n]);
    TU_CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (int)n, H, (int)n, ev) == 0, "dense eig");
    /* the k largest |lambda| of the dense problem: ev ascending, so look at both ends */
    int *idx = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) idx[i] = (int)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (fabs(ev[idx[j]]) > fabs(ev[idx[i]])) {
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_LRSFN);
    op.lrsfn.rank = k, op.lrsfn.oversampling = (int)n - k, op.lrsfn.hess_batch = hb, op.lrsfn.lr = 1e-6;
    curvo_optimizer *opt;
    curvo_optimizer_create(&op, n, &opt, NULL);
    curvo_step_info info;
    TU_CHECK(curvo_optimizer_step(opt, p.cv, &p.bt, &info) == CURVO_OK, "lrsfn step");
    double worst_val = 0, worst_vec = 0;
    for (int j = 0; j < k; j++) {
        double want = ev[idx[j]], got = opt->dstate[j];
        worst_val = fmax(worst_val, fabs(got - want) / fabs(ev[idx[0]]));
        double dotp = 0, nu = 0;
        const float *u = opt->vec + (size_t)j * n;
        for (size_t i = 0; i < n; i++) dotp += u[i] * H[i * n + idx[j]], nu += (double)u[i] * u[i];
        worst_vec = fmax(worst_vec, 1.0 - fabs(dotp) / sqrt(nu));
    }
    TU_CHECK(worst_val < 1e-4, "LRSFN top-%d eigenvalues vs dense: relative error %.3g", k, worst_val);
    TU_CHECK(worst_vec < 1e-3, "LRSFN eigenvectors vs dense: 1 - |cos| up to %.3g", worst_vec);
    if (getenv("CURVO_TEST_VERBOSE"))
        printf("  LRSFN eigenvalues: rel err %.3g, eigenvectors 1-|cos| %.3g (largest |lambda| %.4g)\n", worst_val,
               worst_vec, fabs(ev[idx[0]]));
    curvo_optimizer_free(opt);
    free(eye), free(Hf), free(H), free(ev), free(idx);
    prob_free(&p);
}

/* f(x) = w2 (w1 x + b1) + b2 fitted to y = x: w1 = w2 = b = 0 is a strict saddle (H eigenvalues
 * +-E[x^2]). From 1e-4 away, gradient descent barely moves in 30 steps; LRSFN escapes. */
static double saddle_run(curvo_algorithm alg, int steps) {
    curvo_model *m;
    curvo_model_from_spec("dense:1,dense:1", 1, 1, 1, &m, NULL);
    float *w = curvo_model_params(m); /* w1, b1, w2, b2 */
    w[0] = 1e-4f, w[1] = 0.0f, w[2] = 1e-4f, w[3] = 0.0f;
    float x[4] = {-2, -1, 1, 2};
    curvo_batch bt = {x, NULL, x, 4};
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_MSE, &cv);
    curvo_opt_params op;
    curvo_opt_params_init(&op, alg);
    if (alg == CURVO_OPT_SGD) op.sgd.lr = 0.05;
    else op.lrsfn.lr = 1.0, op.lrsfn.rank = 3, op.lrsfn.oversampling = 1, op.lrsfn.gamma = 0.1, op.lrsfn.hess_batch = 0;
    curvo_optimizer *opt;
    curvo_optimizer_create(&op, 4, &opt, NULL);
    for (int t = 0; t < steps; t++) curvo_optimizer_step(opt, cv, &bt, NULL);
    curvo_curv_set_batch(cv, &bt);
    double L = curvo_curv_loss(cv);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
    return L;
}

static void lrsfn_escapes_saddle(void) {
    double L_saddle = 0.5 * (4 + 1 + 1 + 4) / 4; /* loss at the saddle: 1/2 E[x^2] = 1.25 */
    double gd = saddle_run(CURVO_OPT_SGD, 30), sfn = saddle_run(CURVO_OPT_LRSFN, 30);
    TU_CHECK(gd > 0.95 * L_saddle, "gradient descent should stall near the saddle: loss %.4g", gd);
    TU_CHECK(sfn < 0.01 * L_saddle, "LRSFN should escape the saddle: loss %.4g", sfn);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  saddle, 30 steps: GD loss %.4g, LRSFN loss %.4g\n", gd, sfn);
}

static void sofim_matches_dense(int fisher) {
    prob p;
    prob_init(&p, "dense:3", 4, 6, CURVO_LOSS_MSE, 12);
    size_t n = p.n;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SOFIM);
    op.sofim.fisher = fisher, op.sofim.rho = 0.3, op.sofim.lr = 0.05, op.sofim.beta = 0.8;
    curvo_optimizer *opt;
    curvo_optimizer_create(&op, n, &opt, NULL);
    float *w = curvo_model_params(p.m);
    double *m = calloc(n, sizeof(double)), *F = malloc(n * n * sizeof(double)), *x = malloc(n * sizeof(double));
    double *want = malloc(n * sizeof(double)), *got = malloc(n * sizeof(double));
    float *g = malloc(n * sizeof(float)), *before = malloc(n * sizeof(float));
    for (int t = 1; t <= 3; t++) {
        curvo_curv_set_batch(p.cv, &p.bt);
        curvo_curv_grad(p.cv, g);
        memcpy(before, w, n * sizeof(float));
        double corr = 1 - pow(0.8, t);
        for (size_t i = 0; i < n; i++) m[i] = 0.8 * m[i] + 0.2 * g[i];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double ui = fisher ? g[i] : m[i] / corr, uj = fisher ? g[j] : m[j] / corr;
                F[i * n + j] = ui * uj + (i == j ? 0.3 : 0.0);
            }
        for (size_t i = 0; i < n; i++) x[i] = m[i] / corr;
        TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)n, 1, F, (int)n, x, 1) == 0, "dense solve");
        curvo_optimizer_step(opt, p.cv, &p.bt, NULL);
        for (size_t i = 0; i < n; i++) want[i] = -0.05 * x[i], got[i] = (double)w[i] - before[i];
        char what[96];
        snprintf(what, sizeof what, "SOFIM step %d (u = %s) vs dense F^-1 m_hat", t, fisher ? "g" : "m_hat");
        tu_close(what, got, want, n, 1e-5);
    }
    free(m), free(F), free(x), free(want), free(got), free(g), free(before);
    curvo_optimizer_free(opt);
    prob_free(&p);
}

static void arturo_trust_region(void) {
    prob p;
    prob_init(&p, "dense:8,tanh,dense:3", 4, 16, CURVO_LOSS_CE, 13);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ARTURO);
    op.arturo.quad_init = -1.0; /* curvature estimates start negative: the floor must keep pi > 0 */
    curvo_optimizer *opt;
    curvo_optimizer_create(&op, p.n, &opt, NULL);
    int within = 1, positive = 1, free_steps = 0;
    for (int t = 0; t < 60; t++) {
        curvo_step_info info;
        if (curvo_optimizer_step(opt, p.cv, &p.bt, &info) != CURVO_OK) {
            within = 0;
            break;
        }
        double eta = info.extra[0], kl = info.extra[1], eps = info.extra[2];
        if (eta == 0.0) {
            free_steps++;
            within &= kl <= eps;
        } else {
            within &= fabs(kl - eps) < 0.1 * eps;
        }
        positive &= info.extra[4] > 0.0;
        for (size_t i = 0; i < p.n; i++) positive &= opt->vec[5 * p.n + i] > 0.0f;
    }
    TU_CHECK(within, "arTuRO: KL within 10%% of the bound at every step (or below it with eta = 0)");
    TU_CHECK(positive, "arTuRO: precision positive at every step");
    if (getenv("CURVO_TEST_VERBOSE")) printf("  arTuRO: %d of 60 steps inside the bound without eta\n", free_steps);
    curvo_optimizer_free(opt);
    prob_free(&p);
}

static void rls_recovers_line(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    float lin = 0.0f, quad = 0.1f, p00 = 1.0f, p01 = 0.0f, p11 = 1.0f;
    for (int t = 0; t < 4000; t++) {
        float w = (float)(2.0 * curvo_rng_normal(&rng));
        float g = 2.5f * w - 0.7f + (float)(0.3 * curvo_rng_normal(&rng));
        rls_update(&lin, &quad, &p00, &p01, &p11, w, g, 0.0f, 0.09f);
    }
    TU_CHECK(fabs(quad - 2.5) < 0.02 && fabs(lin + 0.7) < 0.02, "RLS: slope %.4f (2.5), intercept %.4f (-0.7)",
             quad, lin);
}

static void nan_guard(curvo_algorithm alg) {
    prob p;
    prob_init(&p, "dense:4,tanh,dense:3", 4, 6, CURVO_LOSS_CE, 14);
    curvo_opt_params op;
    curvo_opt_params_init(&op, alg);
    if (alg == CURVO_OPT_LRSFN) op.lrsfn.rank = 4, op.lrsfn.oversampling = 2, op.lrsfn.hess_batch = 0;
    curvo_optimizer *opt;
    curvo_optimizer_create(&op, p.n, &opt, NULL);
    curvo_optimizer_step(opt, p.cv, &p.bt, NULL);
    size_t sz = curvo_optimizer_state_size(opt);
    unsigned char *s0 = malloc(sz), *s1 = malloc(sz);
    float *w0 = malloc(p.n * sizeof(float));
    curvo_optimizer_save_state(opt, s0, sz);
    memcpy(w0, curvo_model_params(p.m), p.n * sizeof(float));
    p.x[2] = INFINITY;
    curvo_step_info info;
    int rc = curvo_optimizer_step(opt, p.cv, &p.bt, &info);
    curvo_optimizer_save_state(opt, s1, sz);
    TU_CHECK(rc == CURVO_E_NUMERIC && !info.accepted, "%s: Inf input rejected (%d)", curvo_algorithm_name(alg), rc);
    TU_CHECK(!memcmp(w0, curvo_model_params(p.m), p.n * sizeof(float)) && !memcmp(s0, s1, sz),
             "%s: theta and state unchanged", curvo_algorithm_name(alg));
    free(s0), free(s1), free(w0);
    curvo_optimizer_free(opt);
    prob_free(&p);
}

int main(void) {
    curvo_set_threads(1);
    lrsfn_eigenpairs();
    lrsfn_escapes_saddle();
    sofim_matches_dense(0);
    sofim_matches_dense(1);
    arturo_trust_region();
    rls_recovers_line();
    nan_guard(CURVO_OPT_LRSFN);
    nan_guard(CURVO_OPT_SOFIM);
    nan_guard(CURVO_OPT_ARTURO);
    return tu_finish("test_curvopt");
}
