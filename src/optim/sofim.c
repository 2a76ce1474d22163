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
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "linalg/vec.h"
#include "optim/optim.h"

#define P(field) offsetof(curvo_opt_params, sofim.field)

static const param_desc sofim_params[] = {
    {{"lr", "step size eta", 1.0, 0.0, 1e6, 0, 0, 0}, P(lr)},
    {{"beta", "decay of the first moment", 0.9, 0.0, 1.0, 0, 0, 1}, P(beta)},
    {{"rho", "Fisher regularization rho", 1.0, 1e-12, 1e12, 0, 0, 0}, P(rho)},
    {{"fisher", "rank-one factor u: 0 = first moment m_hat, 1 = mini-batch gradient", 0.0, 0.0, 1.0, 1, 0, 0}, P(fisher)},
    {{"weight_decay", "L2 penalty added to the gradient", 0.0, 0.0, 1e6, 0, 0, 0}, P(weight_decay)},
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
    float *g = opt->g, *m = opt->vec; /* (n) each; g is scratch and takes the weight decay */
    /* 1 - beta from the double beta, rounded once: 1.0f - (float)beta is 1.3e-5 off at beta = 0.999 */
    const float beta = (float)q->beta, omb = (float)(1.0 - q->beta), wd = (float)q->weight_decay;
    const double corr = 1.0 - pow(q->beta, (double)(opt->t + 1));
    /* pass 1: the inner products the Sherman-Morrison solve needs; the moment is written in pass 2 only, so
     * that a refused step leaves the state as it was */
    double mm = 0.0, gg = 0.0, go = 0.0;
    for (size_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * w[i] : g[i];
        g[i] = gi;
        float mi = beta * m[i] + omb * gi;
        double mh = mi / corr;
        mm += mh * mh;
        gg += (double)gi * gi;
        go += (double)gi * m[i]; /* g^T m_old */
    }
    if (!isfinite(mm) || !isfinite(gg)) return CURVO_E_NUMERIC; /* weight decay or the moment overflowed */
    /* The step lr F^-1 m_hat, with coefficients free of cancellation (issue 7, tests/test_faults.c: as
     * (1/rho)[1 - mm/(rho + mm)] the first reading's coefficient lost every digit once |m_hat|^2 >> rho, and
     * the second reading's (1/rho)[m_hat - g (g^T m_hat)/(rho + g^T g)] subtracted two nearly equal huge
     * vectors when g exploded: a step of 3e22 where the exact one is 1e-30).
     *   u = m_hat:  F^-1 m_hat = m_hat / (rho + |m_hat|^2); each |step_i| <= lr / (2 sqrt(rho)) <= 5e11, far
     *               below half an ulp of any float that large, so theta cannot overflow.
     *   u = g:      F^-1 m_hat = (beta / corr) F^-1 m_old + ((1 - beta) / corr) F^-1 g, where
     *               F^-1 g = g / (rho + g^T g) and F^-1 m_old = (1/rho)[m_old - g (g^T m_old)/(rho + g^T g)];
     *               computed in double, and refused when a bound on it could overflow theta. */
    double rho = q->rho, ss = 0.0;
    if (q->fisher == 0) {
        const double a = q->lr / ((rho + mm) * corr); /* in double: ~1e-60 once |m_hat| ~ 1e30 */
        for (size_t i = 0; i < n; i++) { /* pass 2: the moment and the step */
            m[i] = beta * m[i] + omb * g[i];
            float d = (float)(a * m[i]);
            w[i] -= d;
            ss += (double)d * d;
        }
    } else {
        double a_old = q->lr * q->beta / (corr * rho);
        double a_g = q->lr / corr * ((1.0 - q->beta) - q->beta * go / rho) / (rho + gg);
        double bound = la_max_abs(w, n) + fabs(a_old) * la_max_abs(m, n) + fabs(a_g) * la_max_abs(g, n);
        if (!(bound < 0.5 * FLT_MAX)) return CURVO_E_NUMERIC;
        for (size_t i = 0; i < n; i++) { /* pass 2: the moment and the step */
            float mo = m[i], gi = g[i];
            m[i] = beta * mo + omb * gi;
            double d = a_old * mo + a_g * gi;
            w[i] = (float)(w[i] - d);
            ss += d * d;
        }
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
    .scheduled = "lr",
    .scheduled_doc = "the step size eta",
    .num_vectors = sofim_num_vectors,
    .step = sofim_step,
};
