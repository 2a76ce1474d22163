/* test_faults.c — fault injection for every optimizer (issue 7, item 3): an exploding but finite loss,
 * a gradient whose update overflows float, a zero gradient (dead ReLU: zero Jacobian, Gram and
 * Hessian), a singular Gram (duplicate samples) and a zero Hessian with a non-zero gradient (softmax
 * saturated at the wrong class), with the damping of each method at the smallest value its range
 * allows (read from curvo_opt_param_info); then faults in the data through the trainer, with the JSON
 * Lines log checked. Non-finite batches are tested per optimizer elsewhere (test_optim.c, test_gn.c,
 * test_curvopt.c); here they drive the trainer.
 *
 * Every faulty step keeps the contract of curvo_optimizer_step: the return code equals info.status,
 * accepted is set exactly when it is CURVO_OK, theta and the optimizer state stay finite, and a
 * refused step leaves theta and the state bit for bit as they were, except the damping of EGN and SGN,
 * which must have grown. Beyond that, per fault (what is asserted; "bounded" is |step| < 10 while |g|
 * is 1e30 or more):
 *
 *   exploding loss, inputs x1e15 (loss ~1e29, |g| ~1e30)
 *     sgd          OK, step = lr |g|: no safeguard on a finite gradient, as torch.optim.SGD. Theta is
 *                  thrown ~1e28 away, the forward pass then overflows and later steps are refused with
 *                  theta kept (the trainer stops such a run after 100 refusals in a row).
 *     adam, adamw  CURVO_E_NUMERIC: g^2 overflows float, nothing written. At x1e9 (|g| ~3e18): OK
 *                  with Adam's bounded step.
 *     egn, sgn     OK with a bounded step, or refused with the damping raised (seen: EGN OK, SGN
 *                  NUMERIC from a CG curvature that overflows).
 *     lrsfn        OK with a bounded step, or refused (seen: REJECTED by Armijo).
 *     sofim        OK, step exactly lr |m_hat| / (rho + |m_hat|^2) <= lr / (2 sqrt(rho)); with u = g,
 *                  bounded by the previous moment.
 *     arturo       OK, KL(step) <= 1.1 eps: the trust region bounds it.
 *   update overflows float: f = w x + b, x = 1.3e19, |g| = 1.7e38
 *     sgd (lr 10), adam, adamw  CURVO_E_NUMERIC, nothing written
 *     others       OK with a bounded step, or refused as above
 *   zero gradient, dead ReLU (theta != 0), damping at its minimum (Adam: eps = 0; arTuRO: quad_min =
 *   prior_prec = quad_init = 0, so B = 0)
 *     egn, sgn     CURVO_E_REJECTED (no descent direction), damping times lambda_up / rho_up
 *     adamw        OK, only the decoupled decay: theta (1 - lr wd)
 *     arturo       OK within its KL bound
 *     others       OK, theta unchanged
 *   singular Gram: 8 copies of a sample x1e6, linear model (rank 3 of 24, entries ~1e12), damping at
 *   its minimum
 *     egn          chol_retries 0: the Cholesky fails, CURVO_E_NUMERIC, lambda -> 10 lambda lambda_up;
 *                  8 retries: OK at the raised lambda, reported and kept (or NUMERIC); the true-class
 *                  system: refused
 *     sgn, lrsfn   any status under the contract
 *     others       OK
 *   zero Hessian, g != 0 (linear softmax saturated at the wrong class: Q = 0 in float)
 *     lrsfn        gamma at its minimum: REJECTED (the step -g/gamma fails Armijo); default gamma: OK,
 *                  eigenvalues |lambda| = 0 kept, step exactly alpha |g| / gamma
 *     egn, sgn     damping at its minimum: OK, or refused with the damping raised
 *     others       OK
 * After each fault, training continues: the next step on a normal batch succeeds, except for SGD
 * after the exploding loss (see above); where the "next" batch is the faulty one again, EGN and SGN
 * refuse the zero gradient again, and LRSFN at gamma_min the zero Hessian.
 *
 * Trainer: for each optimizer, 2 epochs of 6 batches over 96 in-memory samples, with a curvo_log
 * written from the progress callback. One classification sample with NaN features: the log holds a
 * step line with "accepted":false, the numeric status and a null loss for each bad batch, the
 * rejected_steps of the epoch lines and of the progress events count every refused line, the run
 * completes and the parameters end finite. One regression sample x1e15 (finite; its batch's loss
 * ~1e28): the exploding steps are on record with their loss, refused lines and rejected_steps agree,
 * the run completes with finite parameters (Adam/AdamW, SGN and LRSFN refuse those batches; EGN,
 * SOFIM and arTuRO take a bounded step) - except SGD, which takes the step, and whose run then ends
 * with an error from the test-set evaluation, whose loss is no longer finite (theta still finite). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "optim/optim.h"
#include "testutil.h"

enum { A_OK = 1, A_NUMERIC = 2, A_REJECTED = 4, A_ANY = 7 };

static int mask_of(int rc) {
    return rc == CURVO_OK ? A_OK : rc == CURVO_E_NUMERIC ? A_NUMERIC : rc == CURVO_E_REJECTED ? A_REJECTED : 0;
}

static const char *alg_name(const curvo_opt_params *op) { return curvo_algorithm_name(op->algorithm); }

static int damped(curvo_algorithm a) { return a == CURVO_OPT_EGN || a == CURVO_OPT_SGN; }

/* ---------------------------------------------------------------- a small problem */

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    size_t n;
    int din, c, b;
    float *x, *y;
    int32_t *lab;
    curvo_batch bt; /* the normal batch */
} prob;

static void prob_init(prob *p, const char *spec, int din, int b, curvo_loss_kind loss, uint64_t seed) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec(spec, din, 1, 1, &p->m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(p->m, &rng);
    p->n = curvo_model_num_params(p->m);
    p->din = din, p->b = b;
    p->c = (int)curvo_model_output_size(p->m);
    p->x = malloc((size_t)b * din * sizeof(float));
    p->y = malloc((size_t)b * p->c * sizeof(float));
    p->lab = malloc((size_t)b * sizeof(int32_t));
    tu_fill_normal(&rng, p->x, (size_t)b * din, 1.0);
    tu_fill_normal(&rng, p->y, (size_t)b * p->c, 1.0);
    for (int i = 0; i < b; i++) p->lab[i] = (int32_t)curvo_rng_below(&rng, (uint64_t)p->c);
    p->bt = (curvo_batch){p->x, p->lab, p->y, b};
    TU_CHECK(curvo_curv_create(p->m, loss, &p->cv) == CURVO_OK, "curvature context");
}

static void prob_free(prob *p) {
    curvo_curv_free(p->cv);
    curvo_model_free(p->m);
    free(p->x), free(p->y), free(p->lab);
}

/* The smallest value the named parameter's documented range allows. */
static double param_min(curvo_algorithm alg, const char *name) {
    for (int i = 0; i < curvo_opt_param_count(alg); i++) {
        const curvo_param_info *pi = curvo_opt_param_info(alg, i);
        if (!strcmp(pi->name, name)) return pi->min;
    }
    TU_CHECK(0, "%s has no parameter %s", curvo_algorithm_name(alg), name);
    return NAN;
}

static void set_param(curvo_opt_params *op, const char *name, double v) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_opt_params_set(op, name, v, err) == CURVO_OK, "%s", err);
}

/* Defaults, with LRSFN's rank cut to the tiny models. */
static void params_for(curvo_opt_params *op, curvo_algorithm alg) {
    curvo_opt_params_init(op, alg);
    if (alg == CURVO_OPT_LRSFN) op->lrsfn.rank = 4, op->lrsfn.oversampling = 2, op->lrsfn.hess_batch = 0;
}

/* Every damping at the minimum its range allows (and the clamps below it at theirs). */
static void damping_at_min(curvo_opt_params *op) {
    curvo_algorithm a = op->algorithm;
    if (a == CURVO_OPT_EGN) set_param(op, "lambda_min", param_min(a, "lambda_min")), set_param(op, "lambda", param_min(a, "lambda"));
    if (a == CURVO_OPT_SGN) set_param(op, "rho_min", param_min(a, "rho_min")), set_param(op, "rho", param_min(a, "rho"));
    if (a == CURVO_OPT_LRSFN) set_param(op, "gamma", param_min(a, "gamma"));
    if (a == CURVO_OPT_SOFIM) set_param(op, "rho", param_min(a, "rho"));
    if (a == CURVO_OPT_ADAM || a == CURVO_OPT_ADAMW) set_param(op, "eps", param_min(a, "eps"));
    if (a == CURVO_OPT_ARTURO) /* kappa = reg_weight * prior_prec = 0 and no curvature floor: B can be 0 */
        set_param(op, "quad_min", param_min(a, "quad_min")), set_param(op, "prior_prec", param_min(a, "prior_prec"));
}

static int all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

static int state_finite(const curvo_optimizer *o) {
    if (o->n_vec && !all_finite(o->vec, (size_t)o->n_vec * o->n)) return 0;
    for (size_t i = 0; i < o->n_dstate; i++)
        if (!isfinite(o->dstate[i])) return 0;
    for (int i = 0; i < OPT_MAX_SCALARS; i++)
        if (!isfinite(o->scalars[i])) return 0;
    return 1;
}

static double norm2(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s);
}

static double extra(const curvo_step_info *info, const char *name) {
    for (int i = 0; i < info->n_extra; i++)
        if (!strcmp(info->extra_name[i], name)) return info->extra[i];
    return NAN;
}

/* SOFIM's first reading takes exactly the step lr |m_hat| / (rho + |m_hat|^2): not 0 from the cancelled
 * coefficient (1/rho)[1 - |m_hat|^2 / (rho + |m_hat|^2)] it had once |m_hat|^2 >> rho. */
static void sofim_step_exact(const char *what, const curvo_opt_params *op, const curvo_step_info *info) {
    if (op->algorithm != CURVO_OPT_SOFIM || op->sofim.fisher != 0 || info->status != CURVO_OK) return;
    double mn = extra(info, "moment_norm"), want = op->sofim.lr * mn / (op->sofim.rho + mn * mn);
    TU_CHECK(fabs(info->step_norm - want) <= 1e-5 * want, "sofim, %s: step %g, want lr |m| / (rho + |m|^2) = %g",
             what, info->step_norm, want);
}

/* What a step started from: theta, the state vectors, the small state and the scalars. */
typedef struct {
    float *theta, *vec;
    double *dstate, scalars[OPT_MAX_SCALARS];
    int64_t t;
} snapshot;

static void snap_take(snapshot *s, const curvo_optimizer *o, const curvo_model *m) {
    size_t nv = (size_t)o->n_vec * o->n;
    s->theta = malloc(o->n * sizeof(float));
    s->vec = malloc((nv ? nv : 1) * sizeof(float));
    s->dstate = malloc((o->n_dstate ? o->n_dstate : 1) * sizeof(double));
    memcpy(s->theta, curvo_model_params((curvo_model *)m), o->n * sizeof(float));
    if (nv) memcpy(s->vec, o->vec, nv * sizeof(float));
    if (o->n_dstate) memcpy(s->dstate, o->dstate, o->n_dstate * sizeof(double));
    memcpy(s->scalars, o->scalars, sizeof s->scalars);
    s->t = o->t;
}

static void snap_free(snapshot *s) { free(s->theta), free(s->vec), free(s->dstate); }

/* One step on a faulty batch, with the contract every step keeps; allowed: the A_* codes this case
 * documents for this method. Returns the code; *before keeps the starting point for more checks. */
static int fault_step(const char *what, curvo_optimizer *o, prob *p, const curvo_batch *bad, int allowed,
                      curvo_step_info *info, snapshot *before) {
    const char *name = alg_name(&o->p);
    snap_take(before, o, p->m);
    int rc = curvo_optimizer_step(o, p->cv, bad, info);
    float *th = curvo_model_params(p->m);
    TU_CHECK(mask_of(rc) & allowed, "%s, %s: status %d (%s) is not one this case allows", name, what, rc,
             curvo_strerror(rc));
    TU_CHECK(info->status == rc && info->accepted == (rc == CURVO_OK), "%s, %s: info.status %d / accepted %d vs %d",
             name, what, info->status, info->accepted, rc);
    TU_CHECK(all_finite(th, p->n), "%s, %s: theta not finite", name, what);
    TU_CHECK(state_finite(o), "%s, %s: optimizer state not finite", name, what);
    if (rc != CURVO_OK) {
        size_t nv = (size_t)o->n_vec * o->n;
        TU_CHECK(!memcmp(before->theta, th, p->n * sizeof(float)), "%s, %s: refused step moved theta", name, what);
        TU_CHECK((!nv || !memcmp(before->vec, o->vec, nv * sizeof(float))) &&
                     (!o->n_dstate || !memcmp(before->dstate, o->dstate, o->n_dstate * sizeof(double))) &&
                     before->t == o->t,
                 "%s, %s: refused step changed the optimizer state", name, what);
        if (damped(o->p.algorithm))
            TU_CHECK(o->scalars[0] > before->scalars[0], "%s, %s: refused, but damping not raised (%g -> %g)", name,
                     what, before->scalars[0], o->scalars[0]);
        else
            TU_CHECK(!memcmp(before->scalars, o->scalars, sizeof o->scalars), "%s, %s: refused step changed scalars",
                     name, what);
    } else {
        TU_CHECK(o->t == before->t + 1, "%s, %s: accepted step not counted", name, what);
        TU_CHECK(isfinite(info->step_norm), "%s, %s: step norm %g", name, what, info->step_norm);
    }
    if (getenv("CURVO_TEST_VERBOSE"))
        printf("  %-7s %-40s %-9s loss %-9.3g |g| %-9.3g |step| %-9.3g damping %.3g -> %.3g\n", name, what,
               rc == CURVO_OK ? "ok" : rc == CURVO_E_NUMERIC ? "numeric" : "rejected", info->loss, info->grad_norm,
               info->step_norm, before->scalars[0], o->scalars[0]);
    return rc;
}

/* Training continues: the next step on a normal batch (allowed codes as above), theta finite. */
static void next_step(const char *what, curvo_optimizer *o, prob *p, int allowed) {
    curvo_step_info info;
    float *th = curvo_model_params(p->m);
    float *w0 = malloc(p->n * sizeof(float));
    memcpy(w0, th, p->n * sizeof(float));
    int rc = curvo_optimizer_step(o, p->cv, &p->bt, &info);
    TU_CHECK(mask_of(rc) & allowed, "%s, after %s: next normal step gives %d (%s)", alg_name(&o->p), what, rc,
             curvo_strerror(rc));
    TU_CHECK(all_finite(th, p->n) && state_finite(o), "%s, after %s: next step leaves non-finite values",
             alg_name(&o->p), what);
    if (rc != CURVO_OK)
        TU_CHECK(!memcmp(w0, th, p->n * sizeof(float)), "%s, after %s: refused next step moved theta",
                 alg_name(&o->p), what);
    free(w0);
}

static curvo_optimizer *make(const curvo_opt_params *op, size_t n) {
    curvo_optimizer *o = NULL;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_optimizer_create(op, n, &o, err) == CURVO_OK, "%s: %s", alg_name(op), err);
    return o;
}

/* ---------------------------------------------------------------- (a) exploding loss */

/* A relu net with MSE; one normal step, then the batch with its inputs scaled by `scale`. */
static void exploding(curvo_algorithm alg, int fisher) {
    prob p;
    prob_init(&p, "dense:6,relu,dense:2", 4, 8, CURVO_LOSS_MSE, 3);
    curvo_opt_params op;
    params_for(&op, alg);
    if (alg == CURVO_OPT_SOFIM) op.sofim.fisher = fisher;
    curvo_optimizer *o = make(&op, p.n);
    TU_CHECK(curvo_optimizer_step(o, p.cv, &p.bt, NULL) == CURVO_OK, "%s: warm-up step", alg_name(&op));
    float xb[32];
    for (int i = 0; i < 32; i++) xb[i] = p.x[i] * 1e15f;
    curvo_batch bad = {xb, p.lab, p.y, 8};
    int allowed = alg == CURVO_OPT_SGD || alg == CURVO_OPT_SOFIM || alg == CURVO_OPT_ARTURO ? A_OK
                  : alg == CURVO_OPT_ADAM || alg == CURVO_OPT_ADAMW                       ? A_NUMERIC
                                                                                          : A_ANY;
    const char *what = fisher ? "exploding loss (x1e15, u = g)" : "exploding loss (x1e15)";
    curvo_step_info info;
    snapshot s;
    double mold = o->n_vec ? norm2(o->vec, o->n) : 0.0; /* SOFIM: |m_old| */
    double pmin = INFINITY; /* arTuRO: the smallest precision before the step */
    for (size_t i = 0; alg == CURVO_OPT_ARTURO && i < o->n; i++) pmin = fmin(pmin, o->vec[5 * o->n + i]);
    int rc = fault_step(what, o, &p, &bad, allowed, &info, &s);
    TU_CHECK(info.loss > 1e25 && info.grad_norm > 1e25, "%s: the fault explodes (loss %g, |g| %g)", alg_name(&op),
             info.loss, info.grad_norm);
    if (rc == CURVO_OK) {
        switch (alg) {
        case CURVO_OPT_SGD: /* no safeguard on a finite gradient, as torch.optim.SGD */
            TU_CHECK(fabs(info.step_norm - op.sgd.lr * info.grad_norm) <= 1e-5 * info.step_norm,
                     "sgd: step %g is lr |g| = %g", info.step_norm, op.sgd.lr * info.grad_norm);
            break;
        case CURVO_OPT_SOFIM: {
            double rho = op.sofim.rho, lr = op.sofim.lr, beta = op.sofim.beta, corr = 1 - pow(beta, 2);
            double bound = fisher ? lr / corr * (2 * beta * mold / rho + 1 / (2 * sqrt(rho))) : lr / (2 * sqrt(rho));
            TU_CHECK(info.step_norm <= bound, "sofim (u = %s): step %g above its bound %g", fisher ? "g" : "m_hat",
                     info.step_norm, bound);
            if (!fisher) sofim_step_exact("exploding loss", &op, &info);
            break;
        }
        case CURVO_OPT_ARTURO: {
            double kl = extra(&info, "kl"), eps = extra(&info, "kl_bound");
            TU_CHECK(kl <= 1.1 * eps, "arturo: KL %g above the bound %g", kl, eps);
            TU_CHECK(info.step_norm <= sqrt(2.2 * eps / pmin), "arturo: step %g not KL-bounded", info.step_norm);
            break;
        }
        default: /* the second-order steps do not scale with the gradient */
            TU_CHECK(info.step_norm < 10.0, "%s: step %g with |g| = %g", alg_name(&op), info.step_norm,
                     info.grad_norm);
        }
    }
    snap_free(&s);
    /* SGD threw theta ~1e28 away: its forward pass overflows, and the next steps are refused */
    next_step(what, o, &p, alg == CURVO_OPT_SGD ? A_OK | A_NUMERIC : A_OK);
    curvo_optimizer_free(o);

    if (alg == CURVO_OPT_ADAM || alg == CURVO_OPT_ADAMW) { /* |g| ~ 3e18: g^2 fits, the step is Adam's */
        o = make(&op, p.n);
        for (int i = 0; i < 32; i++) xb[i] = p.x[i] * 1e9f;
        TU_CHECK(curvo_optimizer_step(o, p.cv, &p.bt, NULL) == CURVO_OK, "warm-up");
        fault_step("exploding loss (x1e9)", o, &p, &bad, A_OK, &info, &s);
        TU_CHECK(info.grad_norm > 1e17 && info.step_norm <= 10 * op.adam.lr * sqrt((double)p.n),
                 "%s: step %g is not Adam's bounded step (|g| %g)", alg_name(&op), info.step_norm, info.grad_norm);
        snap_free(&s);
        next_step("exploding loss (x1e9)", o, &p, A_OK);
        curvo_optimizer_free(o);
    }
    prob_free(&p);
}

/* f = w x + b with w = 1 and x = 1.3e19: the gradient (x^2, x) = (1.7e38, 1.3e19) is finite, but
 * lr 10 times it, or its square, is not. */
static void update_overflow(curvo_algorithm alg) {
    prob p;
    prob_init(&p, "dense:1", 1, 4, CURVO_LOSS_MSE, 3);
    float *th = curvo_model_params(p.m);
    th[0] = 1.0f, th[1] = 0.0f;
    float xs = 1.3e19f, ys = 0.0f;
    curvo_batch bad = {&xs, NULL, &ys, 1};
    curvo_opt_params op;
    params_for(&op, alg);
    if (alg == CURVO_OPT_SGD) op.sgd.lr = 10; /* within its range [0, 1e6] */
    curvo_optimizer *o = make(&op, p.n);
    int allowed = alg == CURVO_OPT_SGD || alg == CURVO_OPT_ADAM || alg == CURVO_OPT_ADAMW ? A_NUMERIC : A_ANY;
    curvo_step_info info;
    snapshot s;
    int rc = fault_step("update overflows (|g| = 1.7e38)", o, &p, &bad, allowed, &info, &s);
    TU_CHECK(info.grad_norm > 1e38, "the gradient is %g", info.grad_norm);
    /* LRSFN: the Hessian's second eigenvalue is ~0 here (the bias direction), where its step is
     * g_proj / (|lambda| + gamma) with gamma = 1e-3: large (~1e6 seen), but accepted by Armijo as a
     * decrease, and 30 orders of magnitude below |g| */
    double bound = alg == CURVO_OPT_LRSFN ? 1e-30 * info.grad_norm : 10.0;
    if (rc == CURVO_OK)
        TU_CHECK(info.step_norm < bound, "%s: step %g with |g| = %g", alg_name(&op), info.step_norm, info.grad_norm);
    snap_free(&s);
    next_step("update overflow", o, &p, A_OK);
    curvo_optimizer_free(o);
    prob_free(&p);
}

/* ---------------------------------------------------------------- (b) zero and singular curvature */

/* "dense:2,relu" with biases -1000: every unit is dead, so the output is 0 and the gradient, the
 * Jacobian, the Gram, the Gauss-Newton matrix and the Hessian are all exactly zero while theta is
 * not. Damping at its minimum. */
static void zero_gradient(curvo_algorithm alg) {
    prob p;
    prob_init(&p, "dense:2,relu", 3, 6, CURVO_LOSS_MSE, 4);
    float *th = curvo_model_params(p.m);
    th[6] = th[7] = -1000.0f; /* W (2, 3), b (2) */
    curvo_opt_params op;
    params_for(&op, alg);
    damping_at_min(&op);
    if (alg == CURVO_OPT_ARTURO) set_param(&op, "quad_init", 0.0);
    curvo_optimizer *o = make(&op, p.n);
    int allowed = damped(alg) ? A_REJECTED : A_OK;
    curvo_step_info info;
    snapshot s;
    int rc = fault_step("zero gradient, damping at its minimum", o, &p, &p.bt, allowed, &info, &s);
    TU_CHECK(info.grad_norm == 0.0, "%s: the fault has a zero gradient (%g)", alg_name(&op), info.grad_norm);
    if (alg == CURVO_OPT_ADAMW) { /* only the decoupled decay moves it: theta (1 - lr wd) */
        const float shrink = (float)(1.0 - op.adam.lr * op.adam.weight_decay);
        int decayed = 1;
        for (size_t i = 0; i < p.n; i++) decayed &= th[i] == s.theta[i] * shrink;
        TU_CHECK(decayed, "adamw: a zero gradient did more than the decoupled decay");
    } else if (rc == CURVO_OK) {
        TU_CHECK(!memcmp(s.theta, th, p.n * sizeof(float)), "%s: a zero gradient moved theta", alg_name(&op));
    }
    if (alg == CURVO_OPT_ARTURO)
        TU_CHECK(extra(&info, "kl") <= 1.1 * extra(&info, "kl_bound"), "arturo: KL %g > bound %g", extra(&info, "kl"),
                 extra(&info, "kl_bound"));
    if (damped(alg)) /* raised by its factor on the refusal */
        TU_CHECK(o->scalars[0] == s.scalars[0] * (alg == CURVO_OPT_EGN ? op.egn.lambda_up : op.sgn.rho_up),
                 "%s: damping %g -> %g", alg_name(&op), s.scalars[0], o->scalars[0]);
    snap_free(&s);
    /* the same batch again: nothing to gain, the same answer, still finite */
    next_step("zero gradient", o, &p, allowed);
    curvo_optimizer_free(o);
    if (alg == CURVO_OPT_SOFIM) { /* the gradient reading of u at rho_min too */
        op.sofim.fisher = 1;
        o = make(&op, p.n);
        fault_step("zero gradient, rho_min, u = g", o, &p, &p.bt, A_OK, &info, &s);
        TU_CHECK(!memcmp(s.theta, th, p.n * sizeof(float)), "sofim u = g: a zero gradient moved theta");
        snap_free(&s);
        curvo_optimizer_free(o);
    }
    prob_free(&p);
}

/* Eight copies of one sample, inputs x1e6, a linear model: the (24 x 24) Gram has rank 3 and entries
 * ~1e12, so lambda = 1e-12 is far below its rounding and the Cholesky fails. */
static void singular_gram(curvo_algorithm alg) {
    prob p;
    prob_init(&p, "dense:3", 4, 8, CURVO_LOSS_MSE, 3);
    float xb[32], yb[24];
    int32_t lb[8];
    for (int i = 0; i < 32; i++) xb[i] = p.x[i % 4] * 1e6f;
    for (int i = 0; i < 24; i++) yb[i] = p.y[i % 3];
    for (int i = 0; i < 8; i++) lb[i] = p.lab[0];
    curvo_batch dup = {xb, lb, yb, 8};
    curvo_opt_params op;
    params_for(&op, alg);
    damping_at_min(&op);
    if (alg == CURVO_OPT_EGN) op.egn.chol_retries = 0;
    curvo_optimizer *o = make(&op, p.n);
    int allowed = alg == CURVO_OPT_EGN ? A_NUMERIC : damped(alg) || alg == CURVO_OPT_LRSFN ? A_ANY : A_OK;
    curvo_step_info info;
    snapshot s;
    fault_step("singular Gram, damping at its minimum", o, &p, &dup, allowed, &info, &s);
    sofim_step_exact("singular Gram, rho_min", &op, &info);
    if (alg == CURVO_OPT_EGN) /* the failed Cholesky raised lambda tenfold, the refusal by lambda_up */
        TU_CHECK(fabs(o->scalars[0] - s.scalars[0] * 10 * op.egn.lambda_up) <= 1e-9 * o->scalars[0],
                 "egn: lambda %g -> %g after a failed Cholesky", s.scalars[0], o->scalars[0]);
    snap_free(&s);
    next_step("singular Gram", o, &p, damped(alg) || alg == CURVO_OPT_LRSFN ? A_ANY : A_OK);
    curvo_optimizer_free(o);
    if (alg == CURVO_OPT_EGN) {
        /* with retries the same system is solved at a raised lambda, which the step reports and keeps */
        op.egn.chol_retries = 8;
        o = make(&op, p.n);
        int rc = fault_step("singular Gram, lambda_min, 8 retries", o, &p, &dup, A_OK | A_NUMERIC, &info, &s);
        if (rc == CURVO_OK)
            TU_CHECK(info.damping > s.scalars[0] && o->scalars[0] == info.damping,
                     "egn: solved at lambda %g (from %g), kept %g", info.damping, s.scalars[0], o->scalars[0]);
        snap_free(&s);
        next_step("singular Gram with retries", o, &p, A_OK);
        curvo_optimizer_free(o);
        /* the true-class (b x b) system of the same duplicates under cross-entropy */
        prob q;
        prob_init(&q, "dense:3", 4, 8, CURVO_LOSS_CE, 3);
        op.egn.chol_retries = 0, op.egn.true_class = 1;
        o = make(&op, q.n);
        fault_step("singular true-class Gram, lambda_min", o, &q, &dup, A_NUMERIC | A_REJECTED, &info, &s);
        snap_free(&s);
        curvo_optimizer_free(o);
        prob_free(&q);
    }
    prob_free(&p);
}

/* A linear classifier whose softmax is saturated at the wrong class (bias 200): p is one-hot in
 * float, so Q = diag(p) - p p^T = 0 and the Hessian is exactly zero, while g = -(1/b) J^T r is not.
 * LRSFN's eigenvalues are then all 0 and its step is -g / gamma. */
static void zero_hessian(curvo_algorithm alg, int min_damping) {
    prob p;
    prob_init(&p, "dense:3", 2, 6, CURVO_LOSS_CE, 3);
    float *th = curvo_model_params(p.m); /* W (3, 2), b (3) */
    memset(th, 0, p.n * sizeof(float));
    th[7] = 200.0f;
    for (int i = 0; i < 6; i++) p.lab[i] = 0;
    curvo_opt_params op;
    params_for(&op, alg);
    if (min_damping) damping_at_min(&op);
    curvo_optimizer *o = make(&op, p.n);
    int allowed = alg == CURVO_OPT_LRSFN ? (min_damping ? A_REJECTED : A_OK)
                  : damped(alg)          ? (min_damping ? A_OK | A_REJECTED : A_OK)
                                         : A_OK;
    curvo_step_info info;
    snapshot s;
    int rc = fault_step(min_damping ? "zero Hessian, damping at its minimum" : "zero Hessian", o, &p, &p.bt, allowed,
                        &info, &s);
    TU_CHECK(info.grad_norm > 1.0, "%s: the gradient is not zero (%g)", alg_name(&op), info.grad_norm);
    sofim_step_exact("zero Hessian, rho_min", &op, &info);
    if (alg == CURVO_OPT_LRSFN && rc == CURVO_OK) { /* |lambda| = 0 kept, divided by 0 + gamma */
        TU_CHECK(extra(&info, "eig_abs_max") == 0.0 && extra(&info, "eigs_kept") > 0,
                 "lrsfn: eigenvalues of a zero Hessian: largest |lambda| %g", extra(&info, "eig_abs_max"));
        TU_CHECK(fabs(info.step_norm - info.lr * info.grad_norm / op.lrsfn.gamma) <= 1e-5 * info.step_norm,
                 "lrsfn: step %g is not alpha |g| / gamma = %g", info.step_norm,
                 info.lr * info.grad_norm / op.lrsfn.gamma);
    }
    snap_free(&s);
    next_step("zero Hessian", o, &p, alg == CURVO_OPT_LRSFN && min_damping ? A_REJECTED : A_ANY);
    curvo_optimizer_free(o);
    prob_free(&p);
}

/* ---------------------------------------------------------------- (c) the trainer and its log */

static char dir[64];

typedef struct {
    curvo_log *log;
    int steps, refused, refused_numeric, last_rejected_steps, step_rejected_steps, epochs_seen;
} watch;

static int on_progress(const curvo_progress *p, void *user) {
    watch *w = user;
    TU_CHECK(curvo_log_write(w->log, p) == CURVO_OK, "log write");
    if (p->event == CURVO_EVENT_STEP && p->info) {
        w->steps++;
        if (!p->info->accepted) w->refused++;
        if (!p->info->accepted && p->info->status == CURVO_E_NUMERIC) w->refused_numeric++;
        w->step_rejected_steps = p->rejected_steps;
    }
    if (p->event == CURVO_EVENT_EPOCH) w->epochs_seen++, w->last_rejected_steps = p->rejected_steps;
    return 0;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    size_t got = fread(s, 1, (size_t)len, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* The log's step lines: how many, how many refused, how many refused with the numeric status; and
 * rejected_steps of the last epoch line. */
static void scan_log(const char *text, int *steps, int *refused, int *refused_numeric, int *null_loss,
                     int *huge_loss, int *rejected_steps) {
    char numeric[160];
    snprintf(numeric, sizeof numeric, "\"accepted\":false,\"status\":\"%s\"", curvo_strerror(CURVO_E_NUMERIC));
    *steps = *refused = *refused_numeric = *null_loss = *huge_loss = 0, *rejected_steps = -1;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = malloc(len + 1);
        memcpy(l, line, len);
        l[len] = '\0';
        if (strstr(l, "\"event\":\"step\"")) {
            (*steps)++;
            if (strstr(l, "\"accepted\":false")) (*refused)++;
            if (strstr(l, numeric)) (*refused_numeric)++;
            if (strstr(l, "\"loss\":null")) (*null_loss)++;
            const char *v = strstr(l, "\"loss\":");
            if (v && strtod(v + strlen("\"loss\":"), NULL) > 1e10) (*huge_loss)++;
            TU_CHECK(strstr(l, "\"accepted\":true,\"status\":\"ok\"") ||
                         (strstr(l, "\"accepted\":false,\"status\":\"") && !strstr(l, "\"status\":\"ok\"")),
                     "a step line's accepted and status disagree: %s", l);
        }
        const char *r;
        if (strstr(l, "\"event\":\"epoch\"") && (r = strstr(l, "\"rejected_steps\":")))
            *rejected_steps = atoi(r + strlen("\"rejected_steps\":"));
        free(l);
        line = end ? end + 1 : NULL;
    }
}

/* 96 samples of 4 features, and 30 clean test ones: 3 classes (the argmax of fixed projections), or
 * (regression) a linear target. */
static void make_data(curvo_dataset **train, curvo_dataset **test, float fault, int regression) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 21);
    curvo_dataset *d[2];
    for (int s = 0; s < 2; s++) {
        size_t n = s ? 30 : 96;
        TU_CHECK(data_dataset_alloc(n, 4, 1, 1, !regression, &d[s]) == CURVO_OK, "dataset");
        d[s]->num_classes = regression ? 0 : 3;
        for (size_t i = 0; i < n; i++) {
            float *x = d[s]->x + i * 4;
            for (int k = 0; k < 4; k++) x[k] = (float)curvo_rng_normal(&rng);
            float sc[3] = {x[0] + x[1], x[2] - x[0], x[3] - x[1]};
            int y = sc[1] > sc[0] ? 1 : 0;
            if (sc[2] > sc[y]) y = 2;
            if (regression)
                d[s]->targets[i] = x[0] + 0.5f * x[1] - x[2];
            else
                d[s]->labels[i] = y, d[s]->targets[i] = (float)y;
        }
    }
    /* one faulty training sample: non-finite, or finite and huge */
    for (int k = 0; k < 4; k++) d[0]->x[37 * 4 + k] = isfinite(fault) ? d[0]->x[37 * 4 + k] * fault : fault;
    *train = d[0], *test = d[1];
}

static void trainer_faults(curvo_algorithm alg, float fault) {
    int nonfinite = !isfinite(fault);
    curvo_dataset *train, *test;
    make_data(&train, &test, fault, !nonfinite);
    char err[CURVO_ERRMSG_LEN], path[128];
    snprintf(path, sizeof path, "%s/%s-%s.jsonl", dir, curvo_algorithm_name(alg), nonfinite ? "nan" : "huge");
    curvo_model *m;
    /* classification with tanh, which carries the NaN into the loss (a ReLU would zero it in the forward
     * pass); regression with relu, where the x1e15 sample makes the loss explode (~1e28) */
    const char *spec = nonfinite ? "dense:8,tanh,dense:3" : "dense:8,relu,dense:1";
    curvo_loss_kind loss = nonfinite ? CURVO_LOSS_CE : CURVO_LOSS_MSE;
    TU_CHECK(curvo_model_from_spec(spec, 4, 1, 1, &m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    curvo_model_init(m, &rng);
    curvo_opt_params op;
    params_for(&op, alg);
    if (alg == CURVO_OPT_SGD) op.sgd.lr = 0.05, op.sgd.momentum = 0.9;
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 2, o.batch_size = 16, o.seed = 3;
    o.eval_train = 1; /* the training set holds the faulty sample: where its loss is not finite, the
                       * evaluation reports null metrics and training goes on */
    curvo_trainer *tr;
    TU_CHECK(curvo_trainer_create(m, loss, &op, train, test, &o, &tr, err) == CURVO_OK, "trainer: %s", err);
    watch w = {0};
    TU_CHECK(curvo_log_open(path, 0, &w.log, err) == CURVO_OK, "log: %s", err);
    int rc = curvo_trainer_run(tr, on_progress, &w);
    TU_CHECK(curvo_log_close(w.log) == CURVO_OK, "log close");
    const char *name = curvo_algorithm_name(alg);
    const char *what = nonfinite ? "a NaN sample" : "a sample x1e15";
    /* SGD takes the exploding step (no safeguard): theta lands ~1e28 away, the next steps are refused,
     * the evaluations report null metrics, and the run still completes */
    int sgd_wrecked = alg == CURVO_OPT_SGD && !nonfinite;
    TU_CHECK(rc == CURVO_OK, "%s, %s: training did not complete: %s", name, what, curvo_trainer_errmsg(tr));
    TU_CHECK(w.steps == 12 && w.epochs_seen == 2, "%s, %s: %d steps, %d epochs", name, what, w.steps,
             w.epochs_seen);
    TU_CHECK(all_finite(curvo_model_params(m), curvo_model_num_params(m)), "%s, %s: parameters not finite", name,
             what);
    char *text = read_all(path);
    TU_CHECK(text != NULL, "%s: log unreadable", path);
    int steps, refused, refused_numeric, null_loss, huge_loss, rejected_steps;
    scan_log(text ? text : "", &steps, &refused, &refused_numeric, &null_loss, &huge_loss, &rejected_steps);
    TU_CHECK(steps == w.steps && refused == w.refused && refused_numeric == w.refused_numeric,
             "%s, %s: the log has %d steps, %d refused (%d numeric); the run %d, %d (%d)", name, what, steps, refused,
             refused_numeric, w.steps, w.refused, w.refused_numeric);
    TU_CHECK(w.step_rejected_steps == refused, "%s, %s: the last step event counts %d rejected, the log %d", name,
             what, w.step_rejected_steps, refused);
    TU_CHECK(rejected_steps == refused && w.last_rejected_steps == refused,
             "%s, %s: rejected_steps %d (progress %d) but %d refused step lines", name, what, rejected_steps,
             w.last_rejected_steps, refused);
    if (nonfinite)
        TU_CHECK(text && strstr(text, "\"train_loss\":null,\"train_accuracy\":null"),
                 "%s: the training set's NaN sample should give null training metrics", name);
    TU_CHECK(text && !strstr(text, "nan") && !strstr(text, "inf"), "%s, %s: the log holds a non-JSON number", name,
             what);
    if (nonfinite) { /* the sample is in one batch per epoch: both refused as numeric, their loss null */
        TU_CHECK(refused_numeric >= 2, "%s: %d numeric refusals in the log, want one per epoch", name, refused_numeric);
        TU_CHECK(null_loss == 2, "%s: %d step lines with a null loss, want the 2 NaN batches", name, null_loss);
    } else if (sgd_wrecked) { /* the exploding step accepted, the ones after it refused */
        TU_CHECK(huge_loss >= 1 && refused_numeric >= 1, "sgd: %d huge losses, %d numeric refusals", huge_loss,
                 refused_numeric);
    } else { /* the exploding batch of each epoch is on record with its loss */
        TU_CHECK(huge_loss >= 2, "%s: %d step lines with a loss above 1e10, want one per epoch", name, huge_loss);
    }
    if (getenv("CURVO_TEST_VERBOSE"))
        printf("  trainer %-7s %-15s %2d steps, %d refused (%d numeric), rejected_steps %d, %d losses > 1e10\n", name,
               what, steps, refused, refused_numeric, rejected_steps, huge_loss);
    free(text);
    if (!getenv("CURVO_TEST_KEEP")) unlink(path);
    curvo_trainer_free(tr);
    curvo_model_free(m);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
}

int main(void) {
    curvo_set_threads(1);
    strcpy(dir, "/tmp/curvo-test-faults-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    for (int a = 0; a < CURVO_NUM_ALGORITHMS; a++) {
        curvo_algorithm alg = (curvo_algorithm)a;
        exploding(alg, 0);
        if (alg == CURVO_OPT_SOFIM) exploding(alg, 1);
        update_overflow(alg);
        zero_gradient(alg);
        singular_gram(alg);
        zero_hessian(alg, 1);
        if (alg == CURVO_OPT_LRSFN) zero_hessian(alg, 0);
        trainer_faults(alg, NAN);
        trainer_faults(alg, 1e15f);
    }
    if (!getenv("CURVO_TEST_KEEP")) rmdir(dir);
    return tu_finish("test_faults");
}
