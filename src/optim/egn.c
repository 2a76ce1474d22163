/* egn.c — EGN, exact generalized Gauss-Newton (Korbit, Adeoye, Bemporad, Zanon, 2024,
 * arXiv 2405.14402). With Q_i + eps I = L_i L_i^T, J~ = blockdiag(L_i^T) J, r the per-sample residual
 * (g = -(1/b) J^T r) and G~ = J~^T J~ / b, the Levenberg-Marquardt direction is
 *
 *   d = -(G~ + lambda I)^-1 g = J~^T u,   (J~ J~^T + b lambda I) u = blockdiag(L_i^-1) r
 *
 * (Duncan-Guttman / push-through identity: only a (b c) x (b c) SPD system, by Cholesky in double;
 * the Gram J~J~^T comes from the engine without forming J). Around it:
 *   momentum  p = dbar / (1 - mu^t), dbar = mu dbar + (1 - mu) d   (or heavy ball dbar = mu dbar + d)
 *   Armijo    alpha from min(ls_grow alpha_prev, lr), times ls_shrink until
 *             L(w + alpha p) <= L(w) + c alpha g^T p
 *   damping   gain = [L(w + alpha p) - L(w)] / [alpha g^T p + 1/2 alpha^2 p^T G~ p];
 *             gain < 1/4: lambda *= 1.5, gain > 3/4: lambda *= 0.5, clamped to [1e-12, 1e6]
 * True-class variant (cross-entropy): only row y_i of each sample, whitened by sqrt(q_i),
 * q_i = p_{y_i}(1 - p_{y_i}) + eps, right-hand side (1 - p_{y_i}) / sqrt(q_i): a b x b system.
 */
#include <lapacke.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/loss.h"
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

/* The system of this batch: A (m, m) = Gram, rhs (m), and what maps u back (factors or seeds). */
typedef struct {
    int m, b, c, true_class;
    double *A, *rhs, *Lf, *seeds; /* Lf (b, c, c); seeds (k, b, c) with k = c (full) or 1 */
    double *u;                    /* (m) the solution */
} egn_system;

/* Largest system order: its work space (below) stays far from overflowing size_t, and m fits LAPACK's int. A
 * larger system (b c > 2^28) could not be allocated anyway: its Gram alone would take 2^59 bytes. */
#define EGN_MAX_ORDER ((size_t)1 << 28)

static int build_system(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, int c,
                        egn_system *s) {
    int b = batch->b;
    int tc = opt->p.egn.true_class;
    size_t bc = (size_t)b * c, m = tc ? (size_t)b : bc;
    if (bc > EGN_MAX_ORDER) return CURVO_E_NOMEM;
    /* layout: A (m*m) | Afac (m*m) | rhs (m) | u (m) | r (b*c) | Lf (b*c*c) | seeds (c*b*c), in one buffer the
     * optimizer keeps, grown at the first step of a larger batch or model and reused after */
    size_t len = 2 * m * m + 2 * m + bc * (1 + 2 * (size_t)c);
    double *w = optim_dwork(opt, len);
    if (!w) return CURVO_E_NOMEM;
    s->m = (int)m, s->b = b, s->c = c, s->true_class = tc;
    s->A = w;
    s->rhs = w + 2 * m * m;
    s->u = s->rhs + m;
    double *r = s->u + m;
    s->Lf = r + bc;
    s->seeds = s->Lf + bc * c;
    int rc = curvo_curv_residual(cv, r);
    if (rc) return rc;
    if (!tc) {
        /* seeds: column j of L_i for cotangent j of sample i, so that the seeded Gram is J~ J~^T in
         * cotangent-major order (row j*b + i) and needs no reordering; rhs in the same order */
        if ((rc = curvo_curv_hessian_factor(cv, s->Lf))) return rc;
        loss_factor_seeds(s->Lf, b, c, s->seeds);
        for (int i = 0; i < b; i++) { /* rhs_i = L_i^-1 r_i by forward substitution, in place in rhs */
            const double *Li = s->Lf + (size_t)i * c * c;
            double *t = s->rhs + i; /* t[k * b] = (L_i^-1 r_i)_k */
            for (int k = 0; k < c; k++) {
                double v = r[(size_t)i * c + k];
                for (int j = 0; j < k; j++) v -= Li[(size_t)k * c + j] * t[(size_t)j * b];
                t[(size_t)k * b] = v / Li[(size_t)k * c + k];
            }
        }
        if ((rc = curvo_curv_seeded_gram(cv, s->seeds, c, s->A))) return rc;
    } else {
        memset(s->seeds, 0, (size_t)b * c * sizeof(double));
        for (int i = 0; i < b; i++) {
            int y = batch->labels[i]; /* checked by set_batch */
            double py = 1.0 - r[(size_t)i * c + y];
            double sq = sqrt(py * (1.0 - py) + CURVO_LOSS_FACTOR_EPS); /* sqrt(q_i) */
            s->seeds[(size_t)i * c + y] = sq;
            s->rhs[i] = r[(size_t)i * c + y] / sq;
        }
        if ((rc = curvo_curv_seeded_gram(cv, s->seeds, 1, s->A))) return rc;
    }
    return la_all_finite_d(s->A, m * m) && la_all_finite_d(s->rhs, m) ? CURVO_OK : CURVO_E_NUMERIC;
}

/* u = (A + b lambda I)^-1 rhs by Cholesky; on failure lambda grows tenfold, up to chol_retries. */
static int solve(curvo_optimizer *opt, egn_system *s, double *lambda, double *u) {
    size_t m = (size_t)s->m;
    double *Af = s->A + m * m;
    for (int attempt = 0; attempt <= opt->p.egn.chol_retries; attempt++) {
        memcpy(Af, s->A, m * m * sizeof(double));
        for (size_t i = 0; i < m; i++) Af[i * m + i] += s->b * *lambda;
        /* the matrix is symmetric, so its column-major view is itself: no transposed copies */
        if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (int)m, Af, (int)m) == 0) {
            memcpy(u, s->rhs, m * sizeof(double));
            if (LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', (int)m, 1, Af, (int)m, u, (int)m) == 0 &&
                la_all_finite_d(u, m))
                return CURVO_OK;
        }
        *lambda = fmin(*lambda * 10.0, opt->p.egn.lambda_max);
    }
    return CURVO_E_NUMERIC;
}

/* p^T G~ p = (1/b) sum_i |L_i^T (J p)_i|^2 (or q_i (J p)_{i,y_i}^2 for the true-class rows). */
static int curvature_along(curvo_curv *cv, const egn_system *s, const float *p, float *jp, double *pGp) {
    int rc = curvo_curv_jvp(cv, p, 1, jp); /* (b, c) */
    if (rc) return rc;
    double t = 0.0;
    for (int i = 0; i < s->b; i++) {
        const float *z = jp + (size_t)i * s->c;
        if (s->true_class) {
            for (int k = 0; k < s->c; k++) t += s->seeds[(size_t)i * s->c + k] * s->seeds[(size_t)i * s->c + k] * z[k] * z[k];
            continue;
        }
        const double *Li = s->Lf + (size_t)i * s->c * s->c;
        for (int k = 0; k < s->c; k++) { /* (L_i^T z)_k = sum_j L_i[j][k] z_j */
            double v = 0.0;
            for (int j = k; j < s->c; j++) v += Li[(size_t)j * s->c + k] * z[j];
            t += v * v;
        }
    }
    *pGp = t / s->b;
    return CURVO_OK;
}

static int egn_step(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info) {
    const curvo_egn_params *e = &opt->p.egn;
    double lambda = opt->scalars[S_LAMBDA];
    info->damping = lambda;
    curvo_model *model = curvo_curv_model(cv);
    int b = batch->b, c = (int)curvo_model_output_size(model);
    size_t n = opt->n;
    if (e->true_class && curvo_curv_loss_kind(cv) != CURVO_LOSS_CE) return CURVO_E_UNSUPPORTED;
    /* the Gram, residuals and factors are per process for now (docs/DISTRIBUTED.md): a step on one
     * shard's system would be silently wrong */
    if (curvo_comm_size(curvo_curv_comm(cv)) > 1) return CURVO_E_UNSUPPORTED;
    float *sc = optim_scratch(opt, 4);               /* theta0, d, p, dbar: (n) each */
    float *jp = optim_fwork(opt, (size_t)b * c);     /* (b, c) J p */
    if (!sc || !jp) return CURVO_E_NOMEM;
    float *theta0 = sc, *d = sc + n, *p = sc + 2 * n, *dbar = sc + 3 * n;
    float *theta = curvo_model_params(model);
    egn_system s;
    int rc = optim_eval_gradient(opt, cv, batch, info);
    if (rc) goto out;
    double L0 = info->loss;
    if ((rc = build_system(opt, cv, batch, c, &s))) goto out;
    if ((rc = solve(opt, &s, &lambda, s.u))) goto reject;
    info->damping = lambda;
    rc = curvo_curv_seeded_vjp(cv, s.seeds, s.u, s.true_class ? 1 : c, d);
    if (rc) goto out;
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
    double pGp;
    if ((rc = curvature_along(cv, &s, p, jp, &pGp))) goto out;
    memcpy(theta0, theta, n * sizeof(float));
    ls_line line = {cv, batch, theta, theta0, p, n};
    double alpha, L1;
    double a0 = e->line_search ? fmin(e->ls_grow * opt->scalars[S_ALPHA_PREV], e->lr) : e->lr;
    if ((rc = optim_line_step(&line, e->line_search, L0, slope, a0, e->ls_c, e->ls_shrink, e->ls_tries, &alpha, &L1,
                              &info->ls_tries)))
        goto reject;
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
    .num_vectors = egn_num_vectors,
    .check = egn_check,
    .init_state = egn_init_state,
    .step = egn_step,
};
