/* arturo.c — arTuRO, information-theoretic trust region (Dahlinger, Becker, Hüttenrauch, Neumann,
 * arXiv 2310.20574). The parameters are the mean mu (= w) of a Gaussian with diagonal precision pi.
 * Per coordinate, elementwise:
 *   surrogate  g ~ quad w + lin, fitted by recursive least squares (rls.h) from each gradient;
 *              init lin = first gradient, quad = 0.1, P = 5e-5 I, pi = 1 / var_init
 *   step       mu'(eta) = (eta pi mu - lin) / (q + kappa + eta pi),  q = max(quad, quad_min),
 *              kappa = reg_weight * prior_prec
 *   bound      KL(eta) = 1/2 sum pi (mu - mu')^2 = 1/2 sum pi A^2 / (B + eta pi)^2,
 *              A = mu (q + kappa) + lin, B = q + kappa; eta = 0 if KL(0) <= eps, else the root of
 *              KL(eta) = eps by bisection (geometric once the bracket is positive) from
 *              [eta_prev / 3, 3 eta_prev] (or [0, 1e4]), widened until it brackets, stopped when
 *              |KL - eps| < 0.1 eps or the bracket is narrow
 *   precision  pi' = (q + kappa + nu pi) / (reg_weight + nu)
 *   update     w = mu'(eta), eps_t = eps * eps_decay^t
 * The floor quad_min is our guard: the authors' code lets quad, and then pi, turn negative.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "linalg/vec.h"
#include "optim/optim.h"
#include "optim/rls.h"

#define P(field) offsetof(curvo_opt_params, arturo.field)

static const param_desc arturo_params[] = {
    {{"eps", "KL bound per step (the learning rate)", 0.0857, 1e-12, 1e6, 0, 0, 0}, P(eps)},
    {{"eps_decay", "eps_t = eps * eps_decay^t", 1.0, 0.5, 1.0, 0, 0, 0}, P(eps_decay)},
    {{"reg_weight", "weight of the prior", 0.0587, 0.0, 1e6, 0, 0, 0}, P(reg_weight)},
    {{"prior_prec", "prior precision", 0.0015, 0.0, 1e6, 0, 0, 0}, P(prior_prec)},
    {{"meas_noise", "RLS measurement noise R", 2.82, 1e-12, 1e12, 0, 0, 0}, P(meas_noise)},
    {{"proc_noise", "RLS process noise q", 0.0174, 0.0, 1e6, 0, 0, 0}, P(proc_noise)},
    {{"var_init", "initial variance", 0.01, 1e-12, 1e6, 0, 0, 0}, P(var_init)},
    {{"nu", "precision update weight", 1.3, 0.0, 1e6, 0, 0, 0}, P(nu)},
    {{"quad_init", "initial curvature estimate", 0.1, -1e6, 1e6, 0, 0, 0}, P(quad_init)},
    {{"p_init", "initial RLS covariance", 5e-5, 0.0, 1e6, 0, 0, 0}, P(p_init)},
    {{"quad_min", "curvature floor keeping the precision positive", 1e-8, 0.0, 1e6, 0, 0, 0}, P(quad_min)},
};

enum { V_LIN, V_QUAD, V_P00, V_P01, V_P11, V_PREC, N_VEC };
enum { S_ETA = 0 };
#define MAX_BISECTION 60

static int arturo_num_vectors(const curvo_opt_params *p) {
    (void)p;
    return N_VEC;
}

static int arturo_check(const curvo_opt_params *p, char *errmsg) {
    if (p->arturo.reg_weight + p->arturo.nu <= 0.0) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "arturo: reg_weight + nu must be positive");
        return CURVO_E_INVALID;
    }
    return CURVO_OK;
}

/* KL(eta) = 1/2 sum pi A^2 / (B + eta pi)^2 over A, B (n), a vectorized reduction */
static double kl_at(double eta, const float *restrict A, const float *restrict B, const float *restrict prec,
                    size_t n) {
    double s = 0.0;
    const float e = (float)eta;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) {
        float t = A[i] / (B[i] + e * prec[i]);
        s += prec[i] * t * t;
    }
    return 0.5 * s;
}

/* The RLS update of every coordinate and the step's A, B: one pass (restrict: the arrays are
 * distinct, so it vectorizes). */
static void surrogate_pass(size_t n, const float *restrict w, const float *restrict g, float *restrict lin,
                           float *restrict quad, float *restrict p00, float *restrict p01, float *restrict p11,
                           float *restrict A, float *restrict B, float pn, float R, float qmin, float kappa,
                           int update) {
    if (update)
        for (size_t i = 0; i < n; i++) rls_update(&lin[i], &quad[i], &p00[i], &p01[i], &p11[i], w[i], g[i], pn, R);
    for (size_t i = 0; i < n; i++) {
        float qe = quad[i] > qmin ? quad[i] : qmin;
        /* B > 0 even with quad_min = 0 and kappa = 0, which the ranges allow: a coordinate with A = 0 then
         * stays where it is instead of moving by 0/0 once eta underflows in float (issue 7: zero gradients
         * with those settings put NaN into theta; tests/test_faults.c) */
        float b = qe + kappa;
        B[i] = b > FLT_MIN ? b : FLT_MIN;
        A[i] = w[i] * B[i] + lin[i];
    }
}

/* w -= A / (B + eta pi), pi' = (B + nu pi) / (reg + nu); d (n) receives the step */
static void update_pass(size_t n, float *restrict w, float *restrict prec, const float *restrict A,
                        const float *restrict B, float *restrict d, float eta, float nu, float denom) {
    for (size_t i = 0; i < n; i++) {
        d[i] = A[i] / (B[i] + eta * prec[i]); /* mu - mu' */
        w[i] -= d[i];
        prec[i] = (B[i] + nu * prec[i]) / denom;
    }
}

/* eta with KL(eta) ~ eps; *kl receives KL(eta), *evals the evaluations made */
static double solve_eta(double eps, double eta_prev, const float *A, const float *B, const float *prec, size_t n,
                        double *kl, int *evals) {
    double k0 = kl_at(0.0, A, B, prec, n);
    *evals = 1;
    if (k0 <= eps) {
        *kl = k0;
        return 0.0;
    }
    double lo = eta_prev > 0.0 ? eta_prev / 3.0 : 0.0, hi = eta_prev > 0.0 ? 3.0 * eta_prev : 1e4;
    double klo = lo > 0.0 ? kl_at(lo, A, B, prec, n) : k0, khi = kl_at(hi, A, B, prec, n);
    *evals += 1 + (lo > 0.0);
    /* The bracket moves by at least 3x per evaluation, and by up to 1e6x where the KL is far from eps:
     * for eta' > eta, KL(eta') >= KL(eta) (eta / eta')^2 (and <= for eta' < eta), so the root lies
     * beyond eta sqrt(KL(eta) / eps) and a jump of that factor cannot pass it. With 3x steps only, an
     * exploding gradient (eta ~ 1e27, or back from there) spent all MAX_BISECTION evaluations on
     * widening and left a step whose KL was far above the bound (issue 7; tests/test_faults.c). */
    while (klo < eps && lo > 0.0 && *evals < MAX_BISECTION) { /* KL decreases in eta: move lo down */
        hi = lo, khi = klo;
        lo = lo > 1e-30 ? lo * fmin(1.0 / 3.0, fmax(sqrt(klo / eps), 1e-6)) : 0.0;
        klo = lo > 0.0 ? kl_at(lo, A, B, prec, n) : k0;
        (*evals)++;
    }
    while (khi > eps && *evals < MAX_BISECTION) {
        lo = hi, klo = khi;
        hi *= isfinite(khi) ? fmin(fmax(3.0, sqrt(khi / eps)), 1e6) : 1e6;
        khi = kl_at(hi, A, B, prec, n);
        (*evals)++;
    }
    double eta = hi, k = khi;
    if (fabs(khi - eps) > fabs(klo - eps) && lo > 0.0) eta = lo, k = klo;
    while (fabs(k - eps) >= 0.1 * eps && *evals < MAX_BISECTION && hi - lo > 1e-12 * hi) {
        eta = lo > 0.0 ? sqrt(lo * hi) : 0.5 * hi;
        k = kl_at(eta, A, B, prec, n);
        (*evals)++;
        if (k > eps)
            lo = eta, klo = k;
        else
            hi = eta, khi = k;
    }
    if (k > 1.1 * eps && khi <= eps) eta = hi, k = khi; /* out of evaluations: the side inside the bound */
    *kl = k;
    return eta;
}

static int arturo_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) return rc;
    const curvo_arturo_params *q = &opt->p.arturo;
    size_t n = opt->n;
    float *sc = optim_scratch(opt, 3);
    if (!sc) return CURVO_E_NOMEM;
    float *A = sc, *B = sc + n, *d = sc + 2 * n; /* (n) each */
    float *w = curvo_model_params(curvo_curv_model(cv));
    const float *g = opt->g;
    float *lin = opt->vec + V_LIN * n, *quad = opt->vec + V_QUAD * n, *p00 = opt->vec + V_P00 * n;
    float *p01 = opt->vec + V_P01 * n, *p11 = opt->vec + V_P11 * n, *prec = opt->vec + V_PREC * n;
    const float kappa = (float)(q->reg_weight * q->prior_prec), qmin = (float)q->quad_min;
    if (opt->t == 0) { /* the first gradient initialises the surrogate */
        for (size_t i = 0; i < n; i++) {
            lin[i] = g[i];
            quad[i] = (float)q->quad_init;
            p00[i] = p11[i] = (float)q->p_init;
            p01[i] = 0.0f;
            prec[i] = (float)(1.0 / q->var_init);
        }
    }
    surrogate_pass(n, w, g, lin, quad, p00, p01, p11, A, B, (float)q->proc_noise, (float)q->meas_noise, qmin, kappa,
                   opt->t > 0);
    double eps = q->eps * pow(q->eps_decay, (double)opt->t), kl;
    int evals;
    double eta = solve_eta(eps, opt->scalars[S_ETA], A, B, prec, n, &kl, &evals);
    update_pass(n, w, prec, A, B, d, (float)eta, (float)q->nu, (float)(q->reg_weight + q->nu));
    double pmin = la_min(prec, n);
    double ss = la_sumsq(d, n);
    opt->scalars[S_ETA] = eta;
    opt->t++;
    info->lr = eps;
    info->step_norm = sqrt(ss);
    optim_extra(info, "eta", eta);
    optim_extra(info, "kl", kl);
    optim_extra(info, "kl_bound", eps);
    optim_extra(info, "kl_evals", evals);
    optim_extra(info, "min_precision", pmin);
    return CURVO_OK;
}

const opt_ops optim_arturo_ops = {
    .alg = CURVO_OPT_ARTURO,
    .name = "arturo",
    .params = arturo_params,
    .n_params = sizeof arturo_params / sizeof arturo_params[0],
    .scheduled = "eps",
    .scheduled_doc = "the KL bound of the trust region, after eps_decay",
    .num_vectors = arturo_num_vectors,
    .check = arturo_check,
    .step = arturo_step,
};
