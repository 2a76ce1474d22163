/* sgn.c — SGN, stochastic generalized Gauss-Newton (Gargiani, Zanelli, Diehl, Hutter, 2020,
 * arXiv 2006.02409). The damped Gauss-Newton system
 *
 *   (G + rho I) delta = -g_hat,   G v = J^T Q J v / b   (one JVP, one output-Hessian product, one VJP)
 *
 * is solved approximately by at most K conjugate-gradient iterations from delta = 0, optionally
 * preconditioned by diag(g_hat^2 + rho)^-exp. g_hat is the gradient or its bias-corrected moving
 * average m = beta m + (1 - beta) g, g_hat = m / (1 - beta^t). Then
 *   Armijo    alpha = lr, lr/2, ... until L(w + alpha delta) <= L(w) + c alpha g_hat^T delta
 *   damping   ratio = [L(w + alpha delta) - L(w)] / [alpha g_hat^T delta + 1/2 alpha^2 delta^T G delta];
 *             ratio < 1/4: rho *= 1.5, ratio > 3/4: rho = max(2 rho / 3, rho_min)
 * delta^T G delta comes free from CG: A delta = b - r, so delta^T G delta = delta^T (b - r) - rho |delta|^2.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, sgn.field)

static const param_desc sgn_params[] = {
    {{"lr", "first line-search step (fixed step without line search)", 1.0, 0.0, 1e6, 0, 0, 0}, P(lr)},
    {{"rho", "initial damping", 1e-4, 1e-12, 1e6, 0, 0, 0}, P(rho)},
    {{"rho_min", "smallest damping", 1e-6, 0.0, 1e6, 0, 0, 0}, P(rho_min)},
    {{"rho_max", "largest damping", 1e6, 0.0, 1e12, 0, 0, 0}, P(rho_max)},
    {{"rho_up", "damping factor after a poor ratio", 1.5, 1.0, 1e3, 0, 0, 0}, P(rho_up)},
    {{"rho_down", "damping factor after a good ratio", 2.0 / 3.0, 1e-3, 1.0, 0, 0, 0}, P(rho_down)},
    {{"gain_low", "ratio below which damping grows", 0.25, -1e6, 1.0, 0, 0, 0}, P(gain_low)},
    {{"gain_high", "ratio above which damping shrinks", 0.75, 0.0, 1e6, 0, 0, 0}, P(gain_high)},
    {{"adaptive", "adapt rho from the ratio (0 or 1)", 1.0, 0.0, 1.0, 1, 0, 0}, P(adaptive)},
    {{"cg_iters", "conjugate-gradient iterations K at most", 3.0, 1.0, 100000.0, 1, 0, 0}, P(cg_iters)},
    {{"cg_tol", "stop CG when max|residual| <= cg_tol", 1e-6, 0.0, 1e6, 0, 0, 0}, P(cg_tol)},
    {{"precond_exp", "diagonal preconditioner (g^2 + rho)^-exp; 0: none", 0.0, 0.0, 2.0, 0, 0, 0}, P(precond_exp)},
    {{"beta", "moving average of the gradient (0: the gradient itself)", 0.0, 0.0, 0.999, 0, 0, 0}, P(beta)},
    {{"line_search", "Armijo backtracking (0: fixed step lr)", 1.0, 0.0, 1.0, 1, 0, 0}, P(line_search)},
    {{"ls_c", "Armijo sufficient-decrease constant", 1e-4, 1e-12, 0.999, 0, 0, 0}, P(ls_c)},
    {{"ls_shrink", "backtracking factor", 0.5, 0.01, 0.99, 0, 0, 0}, P(ls_shrink)},
    {{"ls_tries", "line-search evaluations at most", 10.0, 1.0, 100.0, 1, 0, 0}, P(ls_tries)},
};

enum { S_RHO = 0 };

static int sgn_num_vectors(const curvo_opt_params *p) { return p->sgn.beta > 0.0 ? 1 : 0; }

static int sgn_check(const curvo_opt_params *p, char *errmsg) {
    const curvo_sgn_params *q = &p->sgn;
    const char *bad = NULL;
    if (q->rho_min > q->rho_max) bad = "sgn: rho_min must not exceed rho_max";
    else if (q->gain_low > q->gain_high) bad = "sgn: gain_low must not exceed gain_high";
    if (bad && errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", bad);
    return bad ? CURVO_E_INVALID : CURVO_OK;
}

static void sgn_init_state(curvo_optimizer *opt) { opt->scalars[S_RHO] = opt->p.sgn.rho; }

typedef struct {
    curvo_curv *cv;
    double rho;
    size_t n;
} damped_ggn;

/* Av = G v + rho v */
static int damped_ggn_apply(void *ctx, const float *v, float *Av) {
    damped_ggn *d = ctx;
    int rc = curvo_curv_ggn(d->cv, v, 1, Av);
    if (rc) return rc;
    const float rho = (float)d->rho;
    for (size_t i = 0; i < d->n; i++) Av[i] += rho * v[i];
    return CURVO_OK;
}

static int sgn_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    const curvo_sgn_params *q = &opt->p.sgn;
    size_t n = opt->n;
    double rho = opt->scalars[S_RHO];
    info->damping = rho;
    /* theta0, ghat (or m_new), rhs, minv, delta, A delta, 3 CG work vectors: (n) each */
    float *sc = optim_scratch(opt, 9);
    if (!sc) return CURVO_E_NOMEM;
    float *theta0 = sc, *ghat = sc + n, *rhs = sc + 2 * n, *minv = sc + 3 * n, *delta = sc + 4 * n;
    float *Adelta = sc + 5 * n, *work = sc + 6 * n;
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    double L0 = info->loss;
    float *theta = curvo_model_params(curvo_curv_model(cv));
    /* g_hat; with beta > 0, ghat holds the new moving average until the step is accepted */
    double corr = q->beta > 0.0 ? 1.0 - pow(q->beta, (double)(opt->t + 1)) : 1.0;
    for (size_t i = 0; i < n; i++) {
        ghat[i] = q->beta > 0.0 ? (float)(q->beta * opt->vec[i] + (1.0 - q->beta) * opt->g[i]) : opt->g[i];
        rhs[i] = (float)(-ghat[i] / corr);
        if (q->precond_exp > 0.0) minv[i] = (float)pow((double)rhs[i] * rhs[i] + rho, -q->precond_exp);
    }
    damped_ggn A = {cv, rho, n};
    int iters = 0;
    rc = optim_cg(damped_ggn_apply, &A, rhs, q->precond_exp > 0.0 ? minv : NULL, n, q->cg_iters, q->cg_tol, delta,
                  Adelta, work, &iters);
    info->cg_iters = iters;
    if (rc == CURVO_E_NUMERIC) goto reject;
    if (rc) return rc;
    double slope = -la_dot(rhs, delta, n); /* g_hat^T delta */
    if (!(slope < 0.0) || !isfinite(slope)) {
        rc = isfinite(slope) ? CURVO_E_REJECTED : CURVO_E_NUMERIC;
        goto reject;
    }
    double dGd = la_dot(delta, Adelta, n) - rho * la_dot(delta, delta, n);
    memcpy(theta0, theta, n * sizeof(float));
    ls_line line = {cv, batch, theta, theta0, delta, n};
    double alpha, L1;
    if ((rc = optim_line_step(&line, q->line_search, L0, slope, q->lr, q->ls_c, q->ls_shrink, q->ls_tries, &alpha,
                              &L1, &info->ls_tries)))
        goto reject;
    if (q->adaptive) {
        double predicted = alpha * slope + 0.5 * alpha * alpha * dGd;
        rho = optim_adapt_damping(rho, (L1 - L0) / predicted, q->gain_low, q->gain_high, q->rho_up, q->rho_down,
                                  q->rho_min, q->rho_max);
    }
    if (q->beta > 0.0) memcpy(opt->vec, ghat, n * sizeof(float));
    opt->scalars[S_RHO] = rho;
    opt->t++;
    info->lr = alpha;
    info->step_norm = alpha * sqrt(la_dot(delta, delta, n));
    return CURVO_OK;
reject: /* theta as it was; more damping next time */
    opt->scalars[S_RHO] = fmin(rho * q->rho_up, q->rho_max);
    return rc;
}

const opt_ops optim_sgn_ops = {
    .alg = CURVO_OPT_SGN,
    .name = "sgn",
    .params = sgn_params,
    .n_params = sizeof sgn_params / sizeof sgn_params[0],
    .scheduled = "lr",
    .scheduled_doc = "the line search's first trial step; the step itself without line search",
    .num_vectors = sgn_num_vectors,
    .check = sgn_check,
    .init_state = sgn_init_state,
    .step = sgn_step,
};
