/* sofim.c — SOFIM, regularized Fisher information with Sherman-Morrison inversion (Sen, Qin et al.,
 * 2024, arXiv 2403.02833). The Fisher is a rank-one outer product plus rho I, inverted in O(n):
 *
 *   m = beta m + (1 - beta) g,   m_hat = m / (1 - beta^t)
 *   F = u u^T + rho I,           F^-1 v = (1/rho) [v - u (u^T v) / (rho + u^T u)]
 *   w = w - lr F^-1 m_hat
 *
 * u is m_hat (fisher = 0, the reading F = E[g]E[g]^T + rho I; then the step is
 * -lr m_hat / (rho + |m_hat|^2)) or the mini-batch gradient g (fisher = 1, *inferred*). The default
 * (fisher = 0, lr = 1, rho = 1) is the best cell of the sweep in bench/results/sofim_sweep.md
 * (bench/sweep_sofim.sh). Memory and cost: SGD with momentum (one vector, two passes).
 */
#include <math.h>
#include <stddef.h>

#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, sofim.field)

static const param_desc sofim_params[] = {
    {{"lr", "step size eta", 1.0, 0.0, 1e6, 0}, P(lr)},
    {{"beta", "decay of the first moment", 0.9, 0.0, 0.999999, 0}, P(beta)},
    {{"rho", "Fisher regularization rho", 1.0, 1e-12, 1e12, 0}, P(rho)},
    {{"fisher", "rank-one factor u: 0 = first moment m_hat, 1 = mini-batch gradient", 0.0, 0.0, 1.0, 1}, P(fisher)},
    {{"weight_decay", "L2 penalty added to the gradient", 0.0, 0.0, 1e6, 0}, P(weight_decay)},
};

static int sofim_num_vectors(const curvo_opt_params *p) {
    (void)p;
    return 1;
}

static int sofim_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    const curvo_sofim_params *q = &opt->p.sofim;
    size_t n = opt->n;
    float *w = curvo_model_params(curvo_curv_model(cv));
    float *g = opt->g, *m = opt->vec; /* (n) each */
    const float beta = (float)q->beta, wd = (float)q->weight_decay;
    const double corr = 1.0 - pow(q->beta, (double)(opt->t + 1));
    /* pass 1: moment, and the inner products the Sherman-Morrison solve needs */
    double mm = 0.0, gg = 0.0, gm = 0.0;
    for (size_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * w[i] : g[i];
        g[i] = gi;
        m[i] = beta * m[i] + (1.0f - beta) * gi;
        double mh = m[i] / corr;
        mm += mh * mh;
        gg += (double)gi * gi;
        gm += (double)gi * mh;
    }
    /* F^-1 m_hat = (1/rho)[m_hat - u (u^T m_hat)/(rho + u^T u)] */
    double rho = q->rho, coef_m, coef_g = 0.0;
    if (q->fisher == 0) {
        coef_m = (1.0 / rho) * (1.0 - mm / (rho + mm)); /* = 1 / (rho + |m_hat|^2) */
    } else {
        coef_m = 1.0 / rho;
        coef_g = -(1.0 / rho) * gm / (rho + gg);
    }
    const float a = (float)(q->lr * coef_m / corr), bcoef = (float)(q->lr * coef_g);
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) { /* pass 2: the step */
        float d = a * m[i] + bcoef * g[i];
        w[i] -= d;
        ss += (double)d * d;
    }
    opt->t++;
    info->lr = q->lr;
    info->damping = rho;
    info->step_norm = sqrt(ss);
    optim_extra(info, "moment_norm", sqrt(mm));
    return CURVO_OK;
}

const opt_ops optim_sofim_ops = {
    .alg = CURVO_OPT_SOFIM,
    .name = "sofim",
    .params = sofim_params,
    .n_params = sizeof sofim_params / sizeof sofim_params[0],
    .num_vectors = sofim_num_vectors,
    .step = sofim_step,
};
