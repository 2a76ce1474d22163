/* lrsfn.c — LRSFN, low-rank saddle-free Newton (O'Leary-Roseberry, Alger, Ghattas, arXiv 2002.02881).
 * The exact Hessian of a sub-batch, through Hessian-vector products, is approximated by its k
 * eigenpairs of largest |lambda| from a randomized eigensolver (Halko, Martinsson, Tropp):
 *
 *   Omega ~ N(0,1)^{n x (k+p)},  Y = H Omega,  Q = orth(Y),  T = Q^T H Q,  T = V Lambda V^T,
 *   U = Q V_k (the k largest |lambda|)                         2(k+p) blocked Hessian products
 *
 * and the saddle-free Levenberg-Marquardt step uses |Lambda| through Woodbury:
 *
 *   p = -(U |Lambda| U^T + gamma I)^-1 g = -(1/gamma) (g - U D U^T g),  D = |lambda| / (|lambda| + gamma)
 *   w = w + alpha p,  alpha fixed (lr), by Armijo from lr (c = 1e-4, halving), or spectral
 *   min(1e-2, 0.1 / |lambda_1|); a step whose loss is not finite is rejected.
 * Outside span(U) the step is -alpha g / gamma: an effective learning rate alpha / gamma.
 * The basis is refreshed every `refresh` steps; between refreshes the last one is reused.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, lrsfn.field)

static const param_desc lrsfn_params[] = {
    {{"lr", "step alpha (first trial of the line search)", 1e-3, 0.0, 1e6, 0, 0, 0}, P(lr)},
    {{"rank", "eigenpairs kept, k", 20.0, 1.0, 1000.0, 1, 0, 0}, P(rank)},
    {{"oversampling", "extra random vectors, p (hessianlearn: int(0.01 k))", 0.0, 0.0, 1000.0, 1, 0, 0}, P(oversampling)},
    {{"gamma", "Levenberg-Marquardt damping", 1e-3, 1e-12, 1e6, 0, 0, 0}, P(gamma)},
    {{"hess_batch", "samples of the Hessian sub-batch (0: the whole batch)", 32.0, 0.0, 1e7, 1, 0, 0}, P(hess_batch)},
    {{"refresh", "recompute the eigenbasis every N steps", 1.0, 1.0, 1e9, 1, 0, 0}, P(refresh)},
    {{"step_rule", "0 fixed lr, 1 Armijo from lr, 2 spectral min(1e-2, 0.1/|lambda_1|)", 1.0, 0.0, 2.0, 1, 0, 0}, P(step_rule)},
    {{"ls_c", "Armijo constant", 1e-4, 1e-12, 0.999, 0, 0, 0}, P(ls_c)},
    {{"ls_tries", "Armijo evaluations at most", 5.0, 1.0, 100.0, 1, 0, 0}, P(ls_tries)},
};

static int lrsfn_num_vectors(const curvo_opt_params *p) { return p->lrsfn.rank; }
/* eigenvalues (rank), then a flag: the basis is valid */
static size_t lrsfn_num_dstate(const curvo_opt_params *p) { return (size_t)p->lrsfn.rank + 1; }

static int by_abs_desc(const void *a, const void *b) {
    double x = fabs(((const double *)a)[0]), y = fabs(((const double *)b)[0]);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Orthonormalizes the m rows of Y (m, n) in place: CholeskyQR2 in double (two rounds of
 * G = Y Y^T = R^T R, Y = R^-T Y: level-3 BLAS, unlike Householder QR on a tall, thin matrix), or
 * Householder QR when Y is too ill-conditioned for it. yd: m * n doubles of work. */
static int orthonormalize_rows(float *Y, int m, size_t n, double *yd) {
    double G[64 * 64], *Gh = NULL, *g = G;
    if (m > 64 && !(g = Gh = malloc((size_t)m * m * sizeof(double)))) return CURVO_E_NOMEM;
    for (size_t i = 0; i < (size_t)m * n; i++) yd[i] = Y[i];
    int ok = 1;
    for (int round = 0; round < 2 && ok; round++) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, (int)n, 1.0, yd, (int)n, 0.0, g, m);
        ok = LAPACKE_dpotrf_work(LAPACK_ROW_MAJOR, 'U', m, g, m) == 0;
        if (ok)
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, m, (int)n, 1.0, g, m, yd,
                        (int)n);
    }
    free(Gh);
    if (ok) {
        for (size_t i = 0; i < (size_t)m * n; i++) Y[i] = (float)yd[i];
        return CURVO_OK;
    }
    /* Householder: Y (m, n) row-major is the n x m column-major matrix [y_1 .. y_m] */
    float *tau = malloc((size_t)m * sizeof(float));
    int rc = tau && LAPACKE_sgeqrf(LAPACK_COL_MAJOR, (int)n, m, Y, (int)n, tau) == 0 &&
                     LAPACKE_sorgqr(LAPACK_COL_MAJOR, (int)n, m, m, Y, (int)n, tau) == 0
                 ? CURVO_OK
                 : CURVO_E_NUMERIC;
    free(tau);
    return rc;
}

/* Randomized eigendecomposition of the Hessian of batch `hb`: U (k, n) into opt->vec, eigenvalues
 * (sorted by |lambda|, largest first) into opt->dstate. Y and HQ: (m, n) work. */
static int refresh_basis(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *hb, float *Y, float *HQ,
                         int *kept) {
    size_t n = opt->n;
    int k = opt->p.lrsfn.rank, m = k + opt->p.lrsfn.oversampling;
    if ((size_t)m > n) m = (int)n;
    if (k > m) k = m;
    float *T = malloc((size_t)m * m * sizeof(float));
    double *Td = malloc((size_t)m * m * sizeof(double)), *ev = malloc((size_t)m * sizeof(double));
    double *order = malloc((size_t)m * 2 * sizeof(double));
    float *Vk = malloc((size_t)k * m * sizeof(float));
    double *yd = optim_dwork(opt, (size_t)m * n);
    int rc = CURVO_E_NOMEM;
    if (!T || !Td || !ev || !order || !Vk || !yd) goto out;
    if ((rc = curvo_curv_set_batch(cv, hb))) goto out;
    /* Omega (m, n) rows of N(0,1); Y = H Omega; Q = orth(Y); HQ = H Q */
    curvo_rng_fill_normal(&opt->rng, HQ, (size_t)m * n);
    if ((rc = curvo_curv_hvp(cv, HQ, m, Y)) || (rc = orthonormalize_rows(Y, m, n, yd)) ||
        (rc = curvo_curv_hvp(cv, Y, m, HQ)))
        goto out;
    /* T = Q^T H Q (m, m), symmetrised, in double for the eigensolver */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, (int)n, 1.0f, Y, (int)n, HQ, (int)n, 0.0f, T, m);
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) Td[a * m + b] = 0.5 * ((double)T[a * m + b] + T[b * m + a]);
    if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', m, Td, m, ev) != 0) {
        rc = CURVO_E_NUMERIC;
        goto out;
    }
    for (int a = 0; a < m; a++) order[2 * a] = ev[a], order[2 * a + 1] = a;
    qsort(order, (size_t)m, 2 * sizeof(double), by_abs_desc);
    /* U = V_k^T Q: (k, m) x (m, n) */
    for (int j = 0; j < k; j++) {
        int col = (int)order[2 * j + 1];
        opt->dstate[j] = order[2 * j];
        for (int a = 0; a < m; a++) Vk[(size_t)j * m + a] = (float)Td[a * m + col];
    }
    for (int j = k; j < opt->p.lrsfn.rank; j++) opt->dstate[j] = 0.0; /* fewer than rank when n is small */
    memset(opt->vec, 0, (size_t)opt->n_vec * n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, (int)n, m, 1.0f, Vk, m, Y, (int)n, 0.0f, opt->vec,
                (int)n);
    for (int j = 0; j < k; j++)
        if (!isfinite(opt->dstate[j])) rc = CURVO_E_NUMERIC;
    *kept = k;
out:
    free(T), free(Td), free(ev), free(order), free(Vk);
    return rc;
}

static int lrsfn_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    const curvo_lrsfn_params *q = &opt->p.lrsfn;
    size_t n = opt->n;
    int k = q->rank;
    info->damping = q->gamma;
    int m = q->rank + q->oversampling;
    float *sc = optim_scratch(opt, 2 + 2 * m);
    if (!sc) return CURVO_E_NOMEM;
    float *theta0 = sc, *p = sc + n;                       /* (n) each */
    float *Y = sc + 2 * n, *HQ = sc + (2 + (size_t)m) * n; /* (m, n) each */
    float *theta = curvo_model_params(curvo_curv_model(cv));
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    double L0 = info->loss;
    int refreshed = 0, kept = k;
    size_t saved_state = 0;
    void *backup = NULL;
    if (opt->dstate[k] == 0.0 || opt->t % q->refresh == 0) {
        /* the basis is state: keep the old one until the new one is known to be good */
        saved_state = curvo_optimizer_state_size(opt);
        if (!(backup = malloc(saved_state))) return CURVO_E_NOMEM;
        curvo_optimizer_save_state(opt, backup, saved_state);
        curvo_batch hb = *batch;
        if (q->hess_batch > 0 && q->hess_batch < hb.b) hb.b = q->hess_batch;
        rc = refresh_basis(opt, cv, &hb, Y, HQ, &kept);
        if (rc) goto restore;
        opt->dstate[k] = 1.0;
        refreshed = 1;
        if ((rc = curvo_curv_set_batch(cv, batch))) goto restore;
    }
    /* p = -(1/gamma)(g - U D U^T g) */
    const float *U = opt->vec, *g = opt->g;
    memcpy(p, g, n * sizeof(float));
    for (int j = 0; j < k; j++) {
        double lam = fabs(opt->dstate[j]), c = 0.0;
        const float *uj = U + (size_t)j * n;
        for (size_t i = 0; i < n; i++) c += (double)uj[i] * g[i];
        float coef = (float)(c * lam / (lam + q->gamma));
        for (size_t i = 0; i < n; i++) p[i] -= coef * uj[i];
    }
    const float inv_gamma = (float)(-1.0 / q->gamma);
    double slope = 0.0, pp = 0.0;
    for (size_t i = 0; i < n; i++) {
        p[i] *= inv_gamma;
        slope += (double)p[i] * g[i];
        pp += (double)p[i] * p[i];
    }
    if (!isfinite(pp)) {
        rc = CURVO_E_NUMERIC;
        goto restore;
    }
    memcpy(theta0, theta, n * sizeof(float));
    ls_line line = {cv, batch, theta, theta0, p, n};
    double alpha = q->lr, L1;
    if (q->step_rule == 2) /* q->lr is not used: a schedule's factor scales this step instead */
        alpha = opt->scale * fmin(1e-2, 0.1 / fmax(fabs(opt->dstate[0]), 1e-30));
    if ((rc = optim_line_step(&line, q->step_rule == 1, L0, slope, alpha, q->ls_c, 0.5, q->ls_tries, &alpha, &L1,
                              &info->ls_tries)))
        goto restore;
    opt->t++;
    info->lr = alpha;
    info->step_norm = alpha * sqrt(pp);
    optim_extra(info, "eig_abs_max", fabs(opt->dstate[0]));
    optim_extra(info, "eig_abs_min_kept", fabs(opt->dstate[kept - 1]));
    optim_extra(info, "eigs_kept", kept);
    optim_extra(info, "refreshed", refreshed);
    free(backup);
    return CURVO_OK;
restore:
    if (backup) curvo_optimizer_load_state(opt, backup, saved_state);
    free(backup);
    return rc;
}

const opt_ops optim_lrsfn_ops = {
    .alg = CURVO_OPT_LRSFN,
    .name = "lrsfn",
    .params = lrsfn_params,
    .n_params = sizeof lrsfn_params / sizeof lrsfn_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the fixed step or first Armijo trial; step_rule 2: the spectral step",
    .num_vectors = lrsfn_num_vectors,
    .num_dstate = lrsfn_num_dstate,
    .step = lrsfn_step,
};
