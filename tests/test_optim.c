/* test_optim.c — SGD, Adam, AdamW and SOFIM against the published update formulas computed here
 * independently in double, on a linear least-squares problem whose gradient is known in closed
 * form; with betas near 1 (0.999, 0.9999) from theta = 0 to 1e-6, which holds only with the moments'
 * coefficients 1 - beta computed in double; state save/restore continues the same trajectory; a NaN batch is rejected with theta and
 * state unchanged; named parameters are range-checked with clear messages; a step leaves the
 * caller's floating-point control register (subnormal flushing) as it found it. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define B 4    /* samples */
#define DIN 3  /* inputs */
#define DOUT 2 /* outputs */
#define NP (DOUT * DIN + DOUT)
#define STEPS 6

static float X[B * DIN], Y[B * DOUT];

/* Gradient of (1/B) sum 1/2 ||W x + b - y||^2 at theta = [W (DOUT, DIN), b (DOUT)]. */
static void ref_grad(const double *th, double *g) {
    memset(g, 0, NP * sizeof(double));
    for (int i = 0; i < B; i++)
        for (int o = 0; o < DOUT; o++) {
            double f = th[DOUT * DIN + o];
            for (int k = 0; k < DIN; k++) f += th[o * DIN + k] * X[i * DIN + k];
            double r = (f - Y[i * DOUT + o]) / B;
            for (int k = 0; k < DIN; k++) g[o * DIN + k] += r * X[i * DIN + k];
            g[DOUT * DIN + o] += r;
        }
}

/* The formulas of torch.optim (and SOFIM's) in double; state: buf/m, v, vmax. */
static void ref_step(const curvo_opt_params *p, int t, double *th, double *s1, double *s2, double *s3) {
    double g[NP];
    ref_grad(th, g);
    if (p->algorithm == CURVO_OPT_SOFIM) { /* w -= lr F^-1 m_hat, F = u u^T + rho I (Sherman-Morrison) */
        const curvo_sofim_params *q = &p->sofim;
        double corr = 1 - pow(q->beta, t), mh[NP], uu = 0, um = 0;
        for (int i = 0; i < NP; i++) {
            g[i] += q->weight_decay * th[i];
            s1[i] = q->beta * s1[i] + (1 - q->beta) * g[i];
            mh[i] = s1[i] / corr;
        }
        const double *u = q->fisher ? g : mh;
        for (int i = 0; i < NP; i++) uu += u[i] * u[i], um += u[i] * mh[i];
        for (int i = 0; i < NP; i++) th[i] -= q->lr / q->rho * (mh[i] - u[i] * um / (q->rho + uu));
        return;
    }
    if (p->algorithm == CURVO_OPT_SGD) {
        const curvo_sgd_params *q = &p->sgd;
        for (int i = 0; i < NP; i++) {
            double d = g[i] + q->weight_decay * th[i];
            if (q->momentum > 0) {
                s1[i] = t == 1 ? d : q->momentum * s1[i] + (1 - q->dampening) * d;
                d = q->nesterov ? d + q->momentum * s1[i] : s1[i];
            }
            th[i] -= q->lr * d;
        }
        return;
    }
    const curvo_adam_params *q = &p->adam;
    for (int i = 0; i < NP; i++) {
        double d = g[i];
        if (p->algorithm == CURVO_OPT_ADAMW)
            th[i] *= 1 - q->lr * q->weight_decay;
        else
            d += q->weight_decay * th[i];
        s1[i] = q->beta1 * s1[i] + (1 - q->beta1) * d;
        s2[i] = q->beta2 * s2[i] + (1 - q->beta2) * d * d;
        double v = s2[i];
        if (q->amsgrad) v = s3[i] = fmax(s3[i], s2[i]);
        double mhat = s1[i] / (1 - pow(q->beta1, t)), vhat = v / (1 - pow(q->beta2, t));
        th[i] -= q->lr * mhat / (sqrt(vhat) + q->eps);
    }
}

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    curvo_batch bt;
} problem;

static void problem_init(problem *pb) {
    curvo_model_create(DIN, 1, 1, &pb->m);
    curvo_model_add_dense(pb->m, DOUT);
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    tu_fill_normal(&rng, curvo_model_params(pb->m), NP, 0.5);
    curvo_curv_create(pb->m, CURVO_LOSS_MSE, &pb->cv);
    pb->bt = (curvo_batch){X, NULL, Y, B};
}

static void problem_free(problem *pb) {
    curvo_curv_free(pb->cv);
    curvo_model_free(pb->m);
}

static void check_trajectory(const char *label, const curvo_opt_params *p) {
    problem pb;
    problem_init(&pb);
    double th[NP], s1[NP] = {0}, s2[NP] = {0}, s3[NP] = {0};
    float *w = curvo_model_params(pb.m);
    for (int i = 0; i < NP; i++) th[i] = w[i];
    curvo_optimizer *opt;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_optimizer_create(p, NP, &opt, err) == CURVO_OK, "%s: create: %s", label, err);
    double worst = 0;
    for (int t = 1; t <= STEPS; t++) {
        curvo_step_info info;
        TU_CHECK(curvo_optimizer_step(opt, pb.cv, &pb.bt, &info) == CURVO_OK && info.accepted, "%s: step", label);
        ref_step(p, t, th, s1, s2, s3);
        double wd[NP];
        for (int i = 0; i < NP; i++) wd[i] = w[i];
        double e = tu_rel_err(wd, th, NP);
        worst = e > worst ? e : worst;
    }
    TU_CHECK(worst <= 2e-6, "%s: %d steps vs the published formulas: relative error %.3g", label, STEPS, worst);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  %-40s worst rel err over %d steps %.3g\n", label, STEPS, worst);
    TU_CHECK(curvo_optimizer_steps(opt) == STEPS, "%s: step count", label);
    curvo_optimizer_free(opt);
    problem_free(&pb);
}

/* The moments' coefficients 1 - beta come from the double beta, rounded once (as torch.optim uses its
 * Python floats): 1.0f - (float)0.999 is 1.3e-5 below 0.001, which made every Adam step 6.6e-6 too
 * large (8.3e-5 too small at 0.9999) and SOFIM's 1.3e-5 too small. From theta = 0 the first step is
 * represented without the rounding of a large theta, and a few steps stay small, so a tolerance of 1e-6
 * separates float arithmetic (a few 1e-7) from that error. */
static void coefficients_in_double(const char *label, const curvo_opt_params *p) {
    problem pb;
    problem_init(&pb);
    float *w = curvo_model_params(pb.m);
    memset(w, 0, NP * sizeof(float));
    double th[NP] = {0}, s1[NP] = {0}, s2[NP] = {0}, s3[NP] = {0};
    curvo_optimizer *opt;
    TU_CHECK(curvo_optimizer_create(p, NP, &opt, NULL) == CURVO_OK, "%s: create", label);
    double first = 0, worst = 0;
    for (int t = 1; t <= STEPS; t++) {
        TU_CHECK(curvo_optimizer_step(opt, pb.cv, &pb.bt, NULL) == CURVO_OK, "%s: step", label);
        ref_step(p, t, th, s1, s2, s3);
        double wd[NP];
        for (int i = 0; i < NP; i++) wd[i] = w[i];
        double e = tu_rel_err(wd, th, NP);
        if (t == 1) first = e;
        worst = e > worst ? e : worst;
    }
    TU_CHECK(first <= 1e-6, "%s: the first step vs the formula in double: relative error %.3g (tol 1e-6)", label, first);
    TU_CHECK(worst <= 1e-6, "%s: %d steps vs the formula in double: relative error %.3g (tol 1e-6)", label, STEPS,
             worst);
    if (getenv("CURVO_TEST_VERBOSE"))
        printf("  %-40s from 0: rel err first step %.3g, worst over %d steps %.3g\n", label, first, STEPS, worst);
    curvo_optimizer_free(opt);
    problem_free(&pb);
}

/* Save after 3 steps, restore into a fresh optimizer, and the next 3 steps are bit-identical. */
static void state_round_trip(const curvo_opt_params *p) {
    problem a, b;
    problem_init(&a);
    problem_init(&b);
    curvo_optimizer *oa, *ob;
    curvo_optimizer_create(p, NP, &oa, NULL);
    curvo_optimizer_create(p, NP, &ob, NULL);
    for (int t = 0; t < 3; t++) {
        curvo_optimizer_step(oa, a.cv, &a.bt, NULL);
        curvo_optimizer_step(ob, b.cv, &b.bt, NULL);
    }
    size_t sz = curvo_optimizer_state_size(oa);
    void *blob = malloc(sz);
    TU_CHECK(curvo_optimizer_save_state(oa, blob, sz) == CURVO_OK, "save state");
    curvo_optimizer_free(ob);
    curvo_optimizer_create(p, NP, &ob, NULL);
    TU_CHECK(curvo_optimizer_load_state(ob, blob, sz) == CURVO_OK, "load state");
    TU_CHECK(curvo_optimizer_load_state(ob, blob, sz - 1) == CURVO_E_FORMAT, "short blob refused");
    ((unsigned char *)blob)[0] ^= 1;
    TU_CHECK(curvo_optimizer_load_state(ob, blob, sz) == CURVO_E_FORMAT, "bad magic refused");
    ((unsigned char *)blob)[0] ^= 1;
    for (int t = 0; t < 3; t++) {
        curvo_optimizer_step(oa, a.cv, &a.bt, NULL);
        curvo_optimizer_step(ob, b.cv, &b.bt, NULL);
    }
    TU_CHECK(!memcmp(curvo_model_params(a.m), curvo_model_params(b.m), NP * sizeof(float)),
             "%s: restored state continues bit for bit", curvo_algorithm_name(p->algorithm));
    free(blob);
    curvo_optimizer_free(oa);
    curvo_optimizer_free(ob);
    problem_free(&a);
    problem_free(&b);
}

/* A batch with a NaN input: the step is rejected, theta and state unchanged. */
static void nan_rejected(const curvo_opt_params *p) {
    problem pb;
    problem_init(&pb);
    curvo_optimizer *opt;
    curvo_optimizer_create(p, NP, &opt, NULL);
    curvo_optimizer_step(opt, pb.cv, &pb.bt, NULL);
    float before[NP];
    memcpy(before, curvo_model_params(pb.m), sizeof before);
    size_t sz = curvo_optimizer_state_size(opt);
    void *s0 = malloc(sz), *s1 = malloc(sz);
    curvo_optimizer_save_state(opt, s0, sz);
    float xbad[B * DIN];
    memcpy(xbad, X, sizeof xbad);
    xbad[4] = NAN;
    curvo_batch bad = {xbad, NULL, Y, B};
    curvo_step_info info;
    int rc = curvo_optimizer_step(opt, pb.cv, &bad, &info);
    TU_CHECK(rc == CURVO_E_NUMERIC && !info.accepted && info.status == CURVO_E_NUMERIC,
             "%s: NaN batch gives CURVO_E_NUMERIC (got %d)", curvo_algorithm_name(p->algorithm), rc);
    TU_CHECK(!memcmp(before, curvo_model_params(pb.m), sizeof before), "NaN step leaves theta unchanged");
    curvo_optimizer_save_state(opt, s1, sz);
    TU_CHECK(!memcmp(s0, s1, sz), "NaN step leaves the optimizer state unchanged");
    TU_CHECK(curvo_optimizer_step(opt, pb.cv, &pb.bt, &info) == CURVO_OK, "training continues after it");
    free(s0), free(s1);
    curvo_optimizer_free(opt);
    problem_free(&pb);
}

#if defined(__SSE2__)
#include "core/fpenv.h"
/* A step flushes subnormals to zero inside (core/fpenv.h) and restores the caller's MXCSR after,
 * whether the caller had flushing off or on. */
static void fp_env_restored(void) {
    problem pb;
    problem_init(&pb);
    curvo_opt_params p;
    curvo_opt_params_init(&p, CURVO_OPT_ADAM);
    curvo_optimizer *opt;
    curvo_optimizer_create(&p, NP, &opt, NULL);
    const unsigned ftz_daz = FPENV_FTZ_DAZ, before = _mm_getcsr();
    _mm_setcsr(before & ~ftz_daz);
    const unsigned off = _mm_getcsr();
    TU_CHECK(curvo_optimizer_step(opt, pb.cv, &pb.bt, NULL) == CURVO_OK, "adam step");
    TU_CHECK(_mm_getcsr() == off, "MXCSR restored after a step: %#x, was %#x", _mm_getcsr(), off);
    volatile float tiny = FLT_MIN;
    volatile float half = tiny / 2.0f;
    TU_CHECK(half > 0.0f, "the caller still gets subnormals after a step");
    _mm_setcsr(off | ftz_daz);
    TU_CHECK(curvo_optimizer_step(opt, pb.cv, &pb.bt, NULL) == CURVO_OK, "adam step");
    TU_CHECK(_mm_getcsr() == (off | ftz_daz), "a caller's own flushing is kept: %#x", _mm_getcsr());
    _mm_setcsr(before);
    curvo_optimizer_free(opt);
    problem_free(&pb);
}
#else
static void fp_env_restored(void) {}
#endif

static const curvo_param_info *param_named(curvo_algorithm alg, const char *name) {
    for (int i = 0; i < curvo_opt_param_count(alg); i++)
        if (!strcmp(curvo_opt_param_info(alg, i)->name, name)) return curvo_opt_param_info(alg, i);
    return NULL;
}

static void named_params(void) {
    curvo_opt_params p;
    char err[CURVO_ERRMSG_LEN];
    curvo_opt_params_init(&p, CURVO_OPT_SGD);
    TU_CHECK(p.sgd.lr == 0.01 && p.sgd.momentum == 0.0, "sgd defaults");
    TU_CHECK(curvo_opt_params_set(&p, "momentum", 0.9, err) == CURVO_OK, "set momentum");
    double v;
    TU_CHECK(curvo_opt_params_get(&p, "momentum", &v) == CURVO_OK && v == 0.9, "get momentum");
    TU_CHECK(curvo_opt_params_set(&p, "momentum", 1.5, err) == CURVO_E_INVALID && strstr(err, "momentum") &&
                 strstr(err, "[0, 1]"),
             "out of range names the parameter and range: %s", err);
    TU_CHECK(curvo_opt_params_set(&p, "beta1", 0.5, err) == CURVO_E_INVALID && strstr(err, "'beta1'") &&
                 strstr(err, "nesterov"),
             "unknown parameter lists the known ones: %s", err);
    TU_CHECK(curvo_opt_params_set(&p, "nesterov", 0.5, err) == CURVO_E_INVALID, "flags are whole numbers");
    p.sgd.nesterov = 1;
    p.sgd.dampening = 0.1;
    curvo_optimizer *opt = (curvo_optimizer *)&p;
    TU_CHECK(curvo_optimizer_create(&p, 10, &opt, err) == CURVO_E_INVALID && opt == NULL && strstr(err, "nesterov"),
             "nesterov with dampening refused: %s", err);
    p.sgd.lr = NAN;
    TU_CHECK(curvo_opt_params_check(&p, err) == CURVO_E_INVALID && strstr(err, "lr"), "NaN lr refused: %s", err);
    curvo_opt_params_init(&p, CURVO_OPT_ADAMW);
    TU_CHECK(p.adam.weight_decay == 1e-2 && p.adam.lr == 1e-3 && p.adam.beta2 == 0.999, "adamw defaults");
    /* Open bounds: beta2 in [0, 1) takes values as close to 1 as a double goes, never 1 itself, and
     * the message prints the true range. */
    TU_CHECK(curvo_opt_params_set(&p, "beta2", 1.0, err) == CURVO_E_INVALID && strstr(err, "[0, 1)"),
             "beta2 = 1 refused with its open range: %s", err);
    TU_CHECK(curvo_opt_params_set(&p, "beta2", 0.9999999999, err) == CURVO_OK, "beta2 just below 1: %s", err);
    TU_CHECK(curvo_opt_params_set(&p, "beta2", 0.0, err) == CURVO_OK, "beta2 = 0 (closed bound): %s", err);
    char range[64];
    const curvo_param_info *b2 = param_named(CURVO_OPT_ADAMW, "beta2");
    TU_CHECK(b2 && !strcmp(curvo_param_range(b2, range, sizeof range), "[0, 1)"),
             "beta2's range reads '%s'", range);
    const curvo_param_info *tries = param_named(CURVO_OPT_SGN, "ls_tries");
    TU_CHECK(tries && tries->is_integer && !strcmp(curvo_param_range(tries, range, sizeof range), "[1, 100]"),
             "an integer range reads '%s' (%s)", range, tries ? tries->name : "?");
    curvo_algorithm a;
    TU_CHECK(curvo_algorithm_from_name("adam", &a) == CURVO_OK && a == CURVO_OPT_ADAM, "name lookup");
    TU_CHECK(curvo_algorithm_from_name("lbfgs", &a) == CURVO_E_INVALID, "unknown algorithm");
    for (int alg = 0; alg < CURVO_NUM_ALGORITHMS; alg++)
        for (int i = 0; i < curvo_opt_param_count((curvo_algorithm)alg); i++) {
            const curvo_param_info *pi = curvo_opt_param_info((curvo_algorithm)alg, i);
            TU_CHECK(pi && pi->doc && pi->default_value >= pi->min && pi->default_value <= pi->max &&
                         !(pi->min_open && pi->default_value == pi->min) &&
                         !(pi->max_open && pi->default_value == pi->max),
                     "parameter %d of %s is documented and its default in range", i,
                     curvo_algorithm_name((curvo_algorithm)alg));
        }
}

int main(void) {
    curvo_set_threads(1);
    curvo_rng rng;
    curvo_rng_seed(&rng, 11);
    tu_fill_normal(&rng, X, B * DIN, 1.0);
    tu_fill_normal(&rng, Y, B * DOUT, 1.0);
    curvo_opt_params p;

    curvo_opt_params_init(&p, CURVO_OPT_SGD);
    p.sgd.lr = 0.1;
    check_trajectory("sgd plain", &p);
    p.sgd.momentum = 0.9, p.sgd.dampening = 0.1, p.sgd.weight_decay = 0.01;
    check_trajectory("sgd momentum+dampening+wd", &p);
    state_round_trip(&p);
    nan_rejected(&p);
    p.sgd.dampening = 0.0, p.sgd.nesterov = 1;
    check_trajectory("sgd nesterov+wd", &p);

    curvo_opt_params_init(&p, CURVO_OPT_ADAM);
    p.adam.lr = 0.01;
    check_trajectory("adam", &p);
    p.adam.amsgrad = 1, p.adam.weight_decay = 0.1;
    check_trajectory("adam amsgrad+L2", &p);
    state_round_trip(&p);
    nan_rejected(&p);

    curvo_opt_params_init(&p, CURVO_OPT_ADAMW);
    p.adam.lr = 0.01;
    check_trajectory("adamw", &p);
    p.adam.amsgrad = 1, p.adam.weight_decay = 0.5;
    check_trajectory("adamw amsgrad", &p);
    state_round_trip(&p);

    curvo_opt_params_init(&p, CURVO_OPT_SOFIM);
    p.sofim.lr = 0.1;
    check_trajectory("sofim", &p);
    p.sofim.fisher = 1, p.sofim.weight_decay = 0.1;
    check_trajectory("sofim u = g, wd", &p);

    static const double betas[] = {0.999, 0.9999};
    for (int b = 0; b < 2; b++) {
        char label[64];
        for (int alg = CURVO_OPT_ADAM; alg <= CURVO_OPT_ADAMW; alg++) {
            curvo_opt_params_init(&p, (curvo_algorithm)alg);
            p.adam.lr = 0.01, p.adam.beta2 = betas[b];
            snprintf(label, sizeof label, "%s beta2 = %g", curvo_algorithm_name((curvo_algorithm)alg), betas[b]);
            coefficients_in_double(label, &p);
            p.adam.beta1 = betas[b], p.adam.beta2 = 0.99;
            snprintf(label, sizeof label, "%s beta1 = %g", curvo_algorithm_name((curvo_algorithm)alg), betas[b]);
            coefficients_in_double(label, &p);
        }
        curvo_opt_params_init(&p, CURVO_OPT_SOFIM);
        p.sofim.lr = 0.1, p.sofim.beta = betas[b];
        snprintf(label, sizeof label, "sofim beta = %g", betas[b]);
        coefficients_in_double(label, &p);
        p.sofim.fisher = 1;
        snprintf(label, sizeof label, "sofim u = g, beta = %g", betas[b]);
        coefficients_in_double(label, &p);
    }

    named_params();
    fp_env_restored();
    return tu_finish("test_optim");
}
