/* egn.c — EGN, exact generalized Gauss-Newton (Korbit, Adeoye, Bemporad, Zanon, 2024,
 * arXiv 2405.14402). With Q_i + eps I = L_i L_i^T, J~ = blockdiag(L_i^T) J, r the per-sample residual
 * (g = -(1/b) J^T r) and G~ = J~^T J~ / b, the Levenberg-Marquardt direction is
 *
 *   d = -(G~ + lambda I)^-1 g = J~^T u,   (J~ J~^T + b lambda I) u = blockdiag(L_i^-1) r
 *
 * (Duncan-Guttman / push-through identity: only a (b c) x (b c) SPD system, by Cholesky in double).
 * The curvature layer forms the system (curvo_curv_gn_system, the Gram J~J~^T without forming J),
 * solves it (curvo_curv_gn_solve), maps u back (curvo_curv_gn_direction) and gives p^T G~ p
 * (curvo_curv_gn_curvature); this file never sees a sample. Around it:
 *   momentum  p = dbar / (1 - mu^t), dbar = mu dbar + (1 - mu) d   (or heavy ball dbar = mu dbar + d)
 *   Armijo    alpha from min(ls_grow alpha_prev, lr), times ls_shrink until
 *             L(w + alpha p) <= L(w) + c alpha g^T p
 *   damping   gain = [L(w + alpha p) - L(w)] / [alpha g^T p + 1/2 alpha^2 p^T G~ p];
 *             gain < 1/4: lambda *= 1.5, gain > 3/4: lambda *= 0.5, clamped to [1e-12, 1e6]
 * True-class variant (cross-entropy): only row y_i of each sample, whitened by sqrt(q_i),
 * q_i = p_{y_i}(1 - p_{y_i}) + eps, right-hand side (1 - p_{y_i}) / sqrt(q_i): a b x b system.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, egn.field)

static const param_desc egn_params[] = {
    {{"lr", "largest line-search step alpha_max (fixed step without line search)", 1.0, 0.0, 1e6, 0, 0, 0}, P(lr)},
    {{"lambda", "initial Levenberg-Marquardt damping", 1.0, 1e-12, 1e6, 0, 0, 0}, P(lambda)},
    {{"lambda_min", "smallest damping", 1e-12, 0.0, 1e6, 0, 0, 0}, P(lambda_min)},
    {{"lambda_max", "largest damping", 1e6, 0.0, 1e12, 0, 0, 0}, P(lambda_max)},
    {{"lambda_up", "damping factor after a poor gain ratio", 1.5, 1.0, 1e3, 0, 0, 0}, P(lambda_up)},
    {{"lambda_down", "damping factor after a good gain ratio", 0.5, 1e-3, 1.0, 0, 0, 0}, P(lambda_down)},
    {{"gain_low", "gain ratio below which damping grows", 0.25, -1e6, 1.0, 0, 0, 0}, P(gain_low)},
    {{"gain_high", "gain ratio above which damping shrinks", 0.75, 0.0, 1e6, 0, 0, 0}, P(gain_high)},
    {{"adaptive", "adapt lambda from the gain ratio (0 or 1; see docs/OPTIMIZERS.md)", 0.0, 0.0, 1.0, 1, 0, 0}, P(adaptive)},
    {{"line_search", "Armijo backtracking (0: fixed step lr)", 1.0, 0.0, 1.0, 1, 0, 0}, P(line_search)},
    {{"ls_c", "Armijo sufficient-decrease constant", 0.1, 1e-12, 0.999, 0, 0, 0}, P(ls_c)},
    {{"ls_shrink", "backtracking factor", 0.8, 0.01, 0.99, 0, 0, 0}, P(ls_shrink)},
    {{"ls_tries", "line-search evaluations at most", 15.0, 1.0, 100.0, 1, 0, 0}, P(ls_tries)},
    {{"ls_grow", "next first trial = min(ls_grow * previous step, lr)", 1.5, 1.0, 100.0, 0, 0, 0}, P(ls_grow)},
    {{"momentum", "momentum mu on the direction", 0.0, 0.0, 0.999, 0, 0, 0}, P(momentum)},
    {{"heavy_ball", "momentum as heavy ball instead of a bias-corrected average", 0.0, 0.0, 1.0, 1, 0, 0}, P(heavy_ball)},
    {{"true_class", "cross-entropy: keep only the true-class output (b x b system)", 0.0, 0.0, 1.0, 1, 0, 0}, P(true_class)},
    {{"chol_retries", "retries with 10x lambda after a failed Cholesky", 8.0, 0.0, 30.0, 1, 0, 0}, P(chol_retries)},
    /* measured on 2 cores (docs/DISTRIBUTED.md, bench/bench_spd.c) */
    {{"scalapack_min", "distributed Cholesky (ScaLAPACK) from this system order on, with more than one process; 0: never",
      4096.0, 0.0, 268435456.0, 1, 0, 0}, P(scalapack_min)},
};

enum { S_LAMBDA = 0, S_ALPHA_PREV = 1 };

static int egn_num_vectors(const curvo_opt_params *p) { return p->egn.momentum > 0.0 ? 1 : 0; }

static int egn_check(const curvo_opt_params *p, char *errmsg) {
    const curvo_egn_params *e = &p->egn;
    const char *bad = NULL;
    if (e->lambda_min > e->lambda_max) bad = "egn: lambda_min must not exceed lambda_max";
    else if (e->gain_low > e->gain_high) bad = "egn: gain_low must not exceed gain_high";
    if (bad && errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", bad);
    return bad ? CURVO_E_INVALID : CURVO_OK;
}

static void egn_init_state(curvo_optimizer *opt) {
    opt->scalars[S_LAMBDA] = opt->p.egn.lambda;
    opt->scalars[S_ALPHA_PREV] = opt->p.egn.lr;
}

static int egn_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    const curvo_egn_params *e = &opt->p.egn;
    double lambda = opt->scalars[S_LAMBDA];
    info->damping = lambda;
    size_t n = opt->n;
    if (e->true_class && curvo_curv_loss_kind(cv) != CURVO_LOSS_CE) return CURVO_E_UNSUPPORTED;
    float *sc = optim_scratch(opt, 4); /* theta0, d, p, dbar: (n) each */
    if (!sc) return CURVO_E_NOMEM;
    float *theta0 = sc, *d = sc + n, *p = sc + 2 * n, *dbar = sc + 3 * n;
    float *theta = curvo_model_params(curvo_curv_model(cv));
    double *u; /* (m) */
    int m;
    /* loss, gradient and the whitened system (J~ J~^T) u = blockdiag(L_i^-1) r of this batch */
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) goto out;
    double L0 = info->loss;
    if ((rc = curvo_curv_gn_system(cv, e->true_class, &m))) goto out;
    if (!(u = optim_dwork(opt, (size_t)m))) {
        rc = CURVO_E_NOMEM;
        goto out;
    }
    /* u = (J~ J~^T + b lambda I)^-1 rhs; a failed factorization raises lambda tenfold, up to chol_retries.
     * The curvature layer picks the solver: ScaLAPACK over the processes from scalapack_min on. */
    if ((rc = curvo_curv_gn_set_distributed_min(cv, e->scalapack_min))) goto out;
    for (int retries = 0; (rc = curvo_curv_gn_solve(cv, lambda, u)) == CURVO_E_NUMERIC;) {
        lambda = fmin(lambda * 10.0, e->lambda_max);
        if (++retries > e->chol_retries) goto reject;
    }
    if (rc) goto out;
    info->damping = lambda;
    /* d = J~^T u = -(G~ + lambda I)^-1 g */
    if ((rc = curvo_curv_gn_direction(cv, u, d))) goto out;
    if (!la_all_finite(d, n)) {
        rc = CURVO_E_NUMERIC;
        goto reject;
    }
    /* direction: momentum on d, falling back to d itself when that is no descent direction */
    double mu = e->momentum;
    if (mu > 0.0) {
        const float *old = opt->vec;
        double corr = e->heavy_ball ? 1.0 : 1.0 - pow(mu, (double)(opt->t + 1));
        for (size_t i = 0; i < n; i++) {
            dbar[i] = (float)(mu * old[i] + (e->heavy_ball ? 1.0 : 1.0 - mu) * d[i]);
            p[i] = (float)(dbar[i] / corr);
        }
    } else {
        memcpy(p, d, n * sizeof(float));
    }
    double slope = la_dot(opt->g, p, n);
    if (!(slope < 0.0)) {
        memcpy(p, d, n * sizeof(float));
        slope = la_dot(opt->g, p, n);
    }
    if (!(slope < 0.0)) { /* zero or non-descent even without momentum: nothing to gain */
        rc = CURVO_E_REJECTED;
        goto reject;
    }
    /* the model's curvature along p, for the gain ratio (one JVP, only when lambda adapts) */
    double pGp = 0.0;
    if (e->adaptive && (rc = curvo_curv_gn_curvature(cv, p, &pGp))) goto out;
    /* Armijo line search on L(w + alpha p) */
    memcpy(theta0, theta, n * sizeof(float));
    ls_line line = {cv, batch, theta, theta0, p, n};
    double alpha, L1;
    double a0 = e->line_search ? fmin(e->ls_grow * opt->scalars[S_ALPHA_PREV], e->lr) : e->lr;
    if ((rc = optim_line_step(&line, e->line_search, L0, slope, a0, e->ls_c, e->ls_shrink, e->ls_tries, &alpha, &L1,
                              &info->ls_tries)))
        goto reject;
    /* damping from the gain ratio: actual over predicted decrease */
    if (e->adaptive) {
        double predicted = alpha * slope + 0.5 * alpha * alpha * pGp;
        lambda = optim_adapt_damping(lambda, (L1 - L0) / predicted, e->gain_low, e->gain_high, e->lambda_up,
                                     e->lambda_down, e->lambda_min, e->lambda_max);
    }
    if (mu > 0.0) memcpy(opt->vec, dbar, n * sizeof(float));
    opt->scalars[S_LAMBDA] = lambda;
    opt->scalars[S_ALPHA_PREV] = alpha;
    opt->t++;
    info->lr = alpha;
    info->step_norm = alpha * sqrt(la_dot(p, p, n));
    rc = CURVO_OK;
    goto out;
reject: /* theta is as it was; more damping for the next try */
    opt->scalars[S_LAMBDA] = fmin(fmax(lambda, opt->scalars[S_LAMBDA]) * e->lambda_up, e->lambda_max);
out:
    return rc;
}

const opt_ops optim_egn_ops = {
    .alg = CURVO_OPT_EGN,
    .name = "egn",
    .params = egn_params,
    .n_params = sizeof egn_params / sizeof egn_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the line search's largest step alpha_max; the step itself without line search",
    .num_vectors = egn_num_vectors,
    .check = egn_check,
    .init_state = egn_init_state,
    .step = egn_step,
};
