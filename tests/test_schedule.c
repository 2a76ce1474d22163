/* test_schedule.c — learning-rate schedules (curvo_schedule) and the optimizers' scale:
 *   the factors against torch.optim.lr_scheduler's formulas written out here, in their recursive
 *   ("chainable") forms where torch has one — MultiStepLR, CosineAnnealingLR, LinearLR chained by
 *   SequentialLR — at the boundaries (first step, last warm-up step, milestones, T, after T), in
 *   steps and in epochs; the spec parser's defaults, canonical form (read back to the same
 *   schedule) and its refusals with messages; every optimizer scales its documented quantity (SGD,
 *   Adam, AdamW, SOFIM, EGN and SGN without line search, LRSFN's fixed and spectral steps move half
 *   as far at factor 0.5; EGN's and SGN's line searches stay under the scaled largest step;
 *   arTuRO's KL bound is scaled) and keeps its parameters as given; the trainer sets the factor
 *   before every step; a run cancelled and resumed before a milestone ends with the parameters of
 *   the uninterrupted run bit for bit, on the checkpoint's schedule whatever the resume's options
 *   say; a run without a schedule checkpoints none; a bad schedule is refused by the trainer. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define PI 3.14159265358979323846

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1.0, fabs(b)); }

static curvo_schedule parse_ok(const char *spec) {
    curvo_schedule s;
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_schedule_init(&s);
    TU_CHECK(curvo_schedule_parse(spec, &s, err) == CURVO_OK, "parse '%s': %s", spec, err);
    return s;
}

/* ---------------------------------------------------------------- factors against torch */

/* MultiStepLR stepped once per epoch: lr = base * gamma^bisect_right(milestones, epoch). */
static void multistep_factors(void) {
    curvo_schedule s = parse_ok("multistep:30,60:0.1");
    const int64_t spe = 10; /* steps per epoch */
    for (int64_t step = 0; step < 800; step++) {
        int64_t epoch = step / spe;
        int passed = (epoch >= 30) + (epoch >= 60);
        double want = pow(0.1, passed);
        double got = curvo_schedule_factor(&s, step, spe);
        TU_CHECK(close_to(got, want), "multistep step %lld: %g, torch %g", (long long)step, got, want);
    }
    TU_CHECK(curvo_schedule_factor(&s, 299, spe) == 1.0 && close_to(curvo_schedule_factor(&s, 300, spe), 0.1),
             "the first milestone is at step 300 (epoch 30)");
    /* milestones in steps; gamma above 1 is allowed, as in torch */
    s = parse_ok("multistep:3s,5s:2");
    double want[8] = {1, 1, 1, 2, 2, 4, 4, 4};
    for (int t = 0; t < 8; t++)
        TU_CHECK(close_to(curvo_schedule_factor(&s, t, 100), want[t]), "multistep in steps at %d", t);
}

/* CosineAnnealingLR's recursive form, lr_t = eta_min + (lr_{t-1} - eta_min) (1 + cos(pi t / T)) /
 * (1 + cos(pi (t - 1) / T)), against curvo's closed form; after T curvo holds the minimum. */
static void cosine_factors(void) {
    const double base = 0.1, min = 0.2 * base;
    curvo_schedule s = parse_ok("cosine:20s:0.2");
    double lr = base;
    TU_CHECK(curvo_schedule_factor(&s, 0, 1) == 1.0, "cosine starts at 1");
    for (int t = 1; t <= 20; t++) {
        lr = min + (lr - min) * (1 + cos(PI * t / 20)) / (1 + cos(PI * (t - 1) / 20));
        double got = base * curvo_schedule_factor(&s, t, 1);
        TU_CHECK(fabs(got - lr) <= 1e-12, "cosine at %d: %.17g, torch %.17g", t, got, lr);
    }
    TU_CHECK(close_to(curvo_schedule_factor(&s, 10, 1), 0.6), "half way: (1 + 0.2) / 2");
    TU_CHECK(close_to(curvo_schedule_factor(&s, 20, 1), 0.2) && close_to(curvo_schedule_factor(&s, 21, 1), 0.2) &&
                 close_to(curvo_schedule_factor(&s, 1000, 1), 0.2),
             "the minimum at T and after");
    /* in epochs: constant within an epoch */
    s = parse_ok("cosine:4");
    for (int t = 0; t < 24; t++) {
        int e = t / 6;
        double want = e >= 4 ? 0.0 : (1 + cos(PI * e / 4)) / 2;
        TU_CHECK(close_to(curvo_schedule_factor(&s, t, 6), want), "cosine in epochs at step %d", t);
    }
}

/* LinearLR's recursive form, f_t = f_{t-1} (1 + (end - start) / (W start + (t - 1)(end - start))),
 * then (SequentialLR) cosine from its own count 0 at the warm-up's end. */
static void warmup_factors(void) {
    const double start = 0.2;
    const int W = 5, T = 10;
    curvo_schedule s = parse_ok("warmup:5:0.2+cosine:10s");
    double f = start;
    for (int t = 0; t < W + T + 3; t++) {
        double want;
        if (t == 0) want = start;
        else if (t < W) want = f = f * (1 + (1 - start) / (W * start + (t - 1) * (1 - start)));
        else want = t - W >= T ? 0.0 : (1 + cos(PI * (t - W) / T)) / 2;
        TU_CHECK(fabs(curvo_schedule_factor(&s, t, 3) - want) <= 1e-12, "warm-up + cosine at %d: %g, torch %g", t,
                 curvo_schedule_factor(&s, t, 3), want);
    }
    TU_CHECK(curvo_schedule_factor(&s, W, 3) == 1.0, "the main phase starts at 1 after the warm-up");
    /* default start 1/3 (torch's); warm-up alone stays at 1 */
    s = parse_ok("warmup:3");
    TU_CHECK(close_to(curvo_schedule_factor(&s, 0, 1), 1.0 / 3) && close_to(curvo_schedule_factor(&s, 2, 1), 7.0 / 9) &&
                 curvo_schedule_factor(&s, 3, 1) == 1.0 && curvo_schedule_factor(&s, 99, 1) == 1.0,
             "warmup:3 alone");
    /* a warm-up in epochs, then milestones counted from its end */
    s = parse_ok("warmup:2e:0.5+multistep:1:0.5");
    double want[14] = {0.5, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 1, 1, 1, 1, 0.5, 0.5};
    for (int t = 0; t < 14; t++)
        TU_CHECK(close_to(curvo_schedule_factor(&s, t, 4), want[t]), "warm-up in epochs + multistep at %d: %g", t,
                 curvo_schedule_factor(&s, t, 4));
    /* no schedule */
    curvo_schedule_init(&s);
    TU_CHECK(curvo_schedule_is_none(&s) && curvo_schedule_factor(&s, 123, 7) == 1.0 &&
                 curvo_schedule_factor(NULL, 5, 1) == 1.0,
             "no schedule is factor 1");
}

/* ---------------------------------------------------------------- the parser */

static void same_schedule(const char *what, const curvo_schedule *a, const curvo_schedule *b) {
    int same = a->kind == b->kind && a->warmup == b->warmup && (a->warmup == 0 || (a->warmup_unit == b->warmup_unit &&
                                                                                  a->warmup_start == b->warmup_start));
    if (a->kind == CURVO_SCHEDULE_MULTISTEP)
        same = same && a->unit == b->unit && a->n_milestones == b->n_milestones && a->gamma == b->gamma &&
               !memcmp(a->milestones, b->milestones, (size_t)a->n_milestones * sizeof a->milestones[0]);
    if (a->kind == CURVO_SCHEDULE_COSINE) same = same && a->unit == b->unit && a->T == b->T && a->min_factor == b->min_factor;
    TU_CHECK(same, "%s: the canonical form reads back to another schedule", what);
}

static void parser(void) {
    curvo_schedule s = parse_ok("multistep:30,60");
    TU_CHECK(s.kind == CURVO_SCHEDULE_MULTISTEP && s.n_milestones == 2 && s.milestones[1] == 60 && s.gamma == 0.1 &&
                 s.unit == CURVO_UNIT_EPOCHS && s.warmup == 0,
             "multistep defaults: gamma 0.1, epochs");
    s = parse_ok("cosine:100");
    TU_CHECK(s.kind == CURVO_SCHEDULE_COSINE && s.T == 100 && s.min_factor == 0.0 && s.unit == CURVO_UNIT_EPOCHS,
             "cosine defaults: min 0, epochs");
    s = parse_ok("warmup:500+cosine:100");
    TU_CHECK(s.warmup == 500 && s.warmup_unit == CURVO_UNIT_STEPS && fabs(s.warmup_start - 1.0 / 3) < 1e-15 &&
                 s.kind == CURVO_SCHEDULE_COSINE && s.unit == CURVO_UNIT_EPOCHS,
             "warm-up defaults: steps, start 1/3");
    s = parse_ok("none");
    TU_CHECK(curvo_schedule_is_none(&s), "none");
    const char *specs[] = {"multistep:30,60:0.1", "multistep:2000s,4000s:0.5", "cosine:100:0.01", "cosine:50s",
                           "warmup:500+cosine:100", "warmup:3e:0.1+multistep:5,7,9:0.3", "warmup:7", "none",
                           "warmup:1:1+none"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        curvo_schedule a = parse_ok(specs[i]), b;
        char canon[512], err[CURVO_ERRMSG_LEN] = "";
        TU_CHECK(curvo_schedule_format(&a, canon, sizeof canon) == CURVO_OK, "format %s", specs[i]);
        TU_CHECK(curvo_schedule_parse(canon, &b, err) == CURVO_OK, "parse back '%s': %s", canon, err);
        same_schedule(specs[i], &a, &b);
    }
    char small[8];
    s = parse_ok("multistep:30,60:0.1");
    TU_CHECK(curvo_schedule_format(&s, small, sizeof small) == CURVO_E_INVALID, "a buffer too small is refused");

    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"", "empty"},
        {"step:30", "unknown kind 'step'"},
        {"multistep:60,30", "strictly increasing"},
        {"multistep:30,30", "strictly increasing"},
        {"multistep:30,60:0", "gamma must be in (0, 1000]"},
        {"multistep:30,60:-0.5", "gamma must be in (0, 1000]"},
        {"multistep:30,60:1001", "gamma must be in (0, 1000]"},
        {"multistep:30,60:abc", "gamma 'abc' is not a number"},
        {"multistep:30,60:nan", "is not a number"},
        {"multistep:0,10", "milestone '0'"},
        {"multistep:", "milestone ''"},
        {"multistep:10,", "milestone ''"},
        {"multistep:1.5", "milestone '1.5'"},
        {"multistep:1e3", "milestone '1e3'"},
        {"multistep:30s,60e", "mix steps and epochs"},
        {"multistep:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "at most 16 milestones"},
        {"cosine:0", "cosine length '0'"},
        {"cosine:10x", "cosine length '10x'"},
        {"cosine:10:1.5", "minimum factor must be in [0, 1]"},
        {"cosine", "cosine is cosine:T[:MIN]"},
        {"cosine:10:0:1", "cosine is cosine:T[:MIN]"},
        {"warmup:0", "warm-up length '0'"},
        {"warmup:10:0", "start factor must be in (0, 1]"},
        {"warmup:10:1.5", "start factor must be in (0, 1]"},
        {"cosine:10+warmup:5", "only a warm-up may come before '+'"},
        {"warmup:5+warmup:5", "the warm-up must come first"},
        {"warmup:5+cosine:10+multistep:3", "at most two phases"},
        {"none:3", "'none' takes no values"},
        {"warmup:5+", "unknown kind ''"},
        {"multistep:1:2:3:4:5", "too many ':' fields"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        curvo_schedule out = parse_ok("cosine:7");
        char err[CURVO_ERRMSG_LEN] = "";
        int rc = curvo_schedule_parse(bad[i].spec, &out, err);
        TU_CHECK(rc == CURVO_E_INVALID && strstr(err, bad[i].says) && out.kind == CURVO_SCHEDULE_COSINE && out.T == 7,
                 "'%s' should be refused saying \"%s\" and leave the schedule alone: rc %d, \"%s\"", bad[i].spec,
                 bad[i].says, rc, err);
    }
    TU_CHECK(curvo_schedule_parse(NULL, &s, NULL) == CURVO_E_INVALID, "NULL spec");
    /* a struct filled by hand is checked too */
    curvo_schedule h;
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_schedule_init(&h);
    h.kind = CURVO_SCHEDULE_MULTISTEP;
    h.n_milestones = 2;
    h.milestones[0] = 5, h.milestones[1] = 5;
    TU_CHECK(curvo_schedule_check(&h, err) == CURVO_E_INVALID && strstr(err, "strictly increasing"), "check: %s", err);
}

/* ---------------------------------------------------------------- the optimizers' scale */

static curvo_dataset *data;

/* 64 samples of 4 features, 3 classes. */
static void make_data(void) {
    float x[64 * 4];
    int32_t y[64];
    curvo_rng rng;
    curvo_rng_seed(&rng, 11);
    for (int i = 0; i < 64; i++) {
        for (int k = 0; k < 4; k++) x[i * 4 + k] = (float)curvo_rng_normal(&rng);
        y[i] = x[i * 4] + x[i * 4 + 1] > 0 ? (x[i * 4 + 2] > 0 ? 2 : 1) : 0;
    }
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_dataset_create(64, 4, 1, 1, x, y, NULL, 3, &data, err) == CURVO_OK, "dataset: %s", err);
}

/* One step from the same start with a fresh optimizer at the given scale: the move theta1 - theta0
 * into delta (n) and the step's info. */
static size_t one_step(const curvo_opt_params *op, double scale, float *delta, curvo_step_info *info) {
    curvo_model *m;
    curvo_curv *cv;
    curvo_optimizer *opt;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:6,tanh,dense:3", 4, 1, 1, &m, err) == CURVO_OK, "model: %s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    curvo_model_init(m, &rng);
    size_t n = curvo_model_num_params(m);
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "curv");
    TU_CHECK(curvo_optimizer_create(op, n, &opt, err) == CURVO_OK, "optimizer: %s", err);
    TU_CHECK(curvo_optimizer_set_scale(opt, scale) == CURVO_OK && curvo_optimizer_scale(opt) == scale, "set scale");
    float theta0[256];
    memcpy(theta0, curvo_model_params(m), n * sizeof(float));
    curvo_batch b = {curvo_dataset_features(data), curvo_dataset_labels(data), curvo_dataset_targets(data), 64};
    int rc = curvo_optimizer_step(opt, cv, &b, info);
    TU_CHECK(rc == CURVO_OK, "%s step at scale %g: %s", curvo_algorithm_name(op->algorithm), scale, curvo_strerror(rc));
    for (size_t i = 0; i < n; i++) delta[i] = curvo_model_params(m)[i] - theta0[i];
    /* the parameters stay as given */
    const char *name = curvo_opt_scheduled(op->algorithm, NULL);
    double given, kept;
    curvo_opt_params_get(op, name, &given);
    curvo_opt_params_get(curvo_optimizer_params(opt), name, &kept);
    TU_CHECK(given == kept, "%s: the scheduled %s changed from %g to %g", curvo_algorithm_name(op->algorithm), name,
             given, kept);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
    return n;
}

/* The move at scale 0.5 is half the move at scale 1. */
static void moves_half(const char *what, const curvo_opt_params *op) {
    float d1[256], d2[256];
    curvo_step_info i1, i2;
    size_t n = one_step(op, 1.0, d1, &i1);
    one_step(op, 0.5, d2, &i2);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += pow(d2[i] - 0.5 * d1[i], 2), den += pow(d1[i], 2);
    TU_CHECK(den > 0 && sqrt(num / den) < 1e-5, "%s: the move at factor 0.5 is not half the move at 1 (rel. err %g)",
             what, den > 0 ? sqrt(num / den) : NAN);
    TU_CHECK(close_to(i2.lr, 0.5 * i1.lr), "%s: info lr %g at 0.5, %g at 1", what, i2.lr, i1.lr);
}

static void optimizers_scale(void) {
    curvo_opt_params op;
    char err[CURVO_ERRMSG_LEN];
    curvo_algorithm simple[] = {CURVO_OPT_SGD, CURVO_OPT_ADAM, CURVO_OPT_ADAMW, CURVO_OPT_SOFIM};
    for (int i = 0; i < 4; i++) {
        curvo_opt_params_init(&op, simple[i]);
        /* moves far above float's resolution of theta, so that theta1 - theta0 is exact enough */
        if (simple[i] != CURVO_OPT_SOFIM) curvo_opt_params_set(&op, "lr", 0.3, err);
        moves_half(curvo_algorithm_name(simple[i]), &op);
    }
    curvo_opt_params_init(&op, CURVO_OPT_EGN);
    curvo_opt_params_set(&op, "line_search", 0, err);
    curvo_opt_params_set(&op, "lr", 0.8, err);
    moves_half("egn, fixed step", &op);
    curvo_opt_params_init(&op, CURVO_OPT_SGN);
    curvo_opt_params_set(&op, "line_search", 0, err);
    curvo_opt_params_set(&op, "lr", 0.5, err);
    moves_half("sgn, fixed step", &op);
    curvo_opt_params_init(&op, CURVO_OPT_LRSFN);
    curvo_opt_params_set(&op, "step_rule", 0, err);
    curvo_opt_params_set(&op, "rank", 4, err);
    moves_half("lrsfn, fixed step", &op);
    curvo_opt_params_set(&op, "step_rule", 2, err);
    moves_half("lrsfn, spectral step", &op);

    /* the line searches start at (EGN: are capped by) the scaled largest step */
    float d[256];
    curvo_step_info info;
    curvo_algorithm ls[] = {CURVO_OPT_EGN, CURVO_OPT_SGN};
    for (int i = 0; i < 2; i++) {
        curvo_opt_params_init(&op, ls[i]);
        one_step(&op, 1.0, d, &info);
        double full = info.lr;
        one_step(&op, 0.01, d, &info);
        TU_CHECK(info.lr > 0 && info.lr <= 0.01 + 1e-15, "%s: step %g at factor 0.01 (%g at 1)",
                 curvo_algorithm_name(ls[i]), info.lr, full);
    }

    /* arTuRO: the KL bound */
    curvo_opt_params_init(&op, CURVO_OPT_ARTURO);
    one_step(&op, 0.25, d, &info);
    double bound = NAN;
    for (int k = 0; k < info.n_extra; k++)
        if (!strcmp(info.extra_name[k], "kl_bound")) bound = info.extra[k];
    TU_CHECK(close_to(bound, 0.25 * op.arturo.eps) && close_to(info.lr, 0.25 * op.arturo.eps),
             "arturo: KL bound %g at factor 0.25 of eps %g", bound, op.arturo.eps);

    /* every algorithm names its scheduled parameter, and it is one of its parameters */
    for (int a = 0; a < CURVO_NUM_ALGORITHMS; a++) {
        const char *doc, *name = curvo_opt_scheduled((curvo_algorithm)a, &doc);
        double v;
        curvo_opt_params_init(&op, (curvo_algorithm)a);
        TU_CHECK(name && doc && doc[0] && curvo_opt_params_get(&op, name, &v) == CURVO_OK,
                 "%s names no scheduled parameter of its own", curvo_algorithm_name((curvo_algorithm)a));
    }
    curvo_optimizer *opt;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    TU_CHECK(curvo_optimizer_create(&op, 10, &opt, err) == CURVO_OK, "create");
    TU_CHECK(curvo_optimizer_set_scale(opt, -1) == CURVO_E_INVALID && curvo_optimizer_set_scale(opt, NAN) ==
                 CURVO_E_INVALID && curvo_optimizer_set_scale(opt, INFINITY) == CURVO_E_INVALID &&
                 curvo_optimizer_scale(opt) == 1.0,
             "bad factors are refused");
    curvo_optimizer_free(opt);
}

/* ---------------------------------------------------------------- the trainer */

static char ckpt[128];
static int stop_at;

typedef struct {
    const curvo_schedule *s;
    double base;
    int bad, steps;
} lr_watch;

static int watch_lr(const curvo_progress *p, void *user) {
    lr_watch *w = user;
    if (p->event == CURVO_EVENT_STEP) {
        double want = w->base * curvo_schedule_factor(w->s, p->step - 1, p->steps_per_epoch);
        if (!close_to(p->info->lr, want) || !close_to(p->lr_factor, want / w->base)) {
            if (!w->bad++)
                fprintf(stderr, "step %lld: lr %g, factor %g; want %g\n", (long long)p->step, p->info->lr, p->lr_factor,
                        want);
        }
        w->steps++;
    }
    return stop_at && p->event == CURVO_EVENT_STEP && p->step == stop_at;
}

static curvo_trainer *make_trainer(curvo_model **m, const curvo_schedule *s, int epochs) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:6,tanh,dense:3", 4, 1, 1, m, err) == CURVO_OK, "model: %s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    curvo_model_init(*m, &rng);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    op.sgd.lr = 0.2;
    op.sgd.momentum = 0.9;
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = epochs;
    o.batch_size = 16; /* 4 steps per epoch */
    o.eval_train = 0;
    o.schedule = s;
    curvo_trainer *tr = NULL;
    TU_CHECK(curvo_trainer_create(*m, CURVO_LOSS_CE, &op, data, NULL, &o, &tr, err) == CURVO_OK, "trainer: %s", err);
    return tr;
}

static void trainer_applies(void) {
    curvo_schedule s = parse_ok("warmup:3:0.25+multistep:1,2:0.5");
    curvo_model *m;
    curvo_trainer *tr = make_trainer(&m, &s, 4);
    lr_watch w = {&s, 0.2, 0, 0};
    stop_at = 0;
    TU_CHECK(curvo_trainer_run(tr, watch_lr, &w) == CURVO_OK, "run: %s", curvo_trainer_errmsg(tr));
    TU_CHECK(w.steps == 16 && w.bad == 0, "the trainer's step sizes follow the schedule (%d steps, %d off)", w.steps,
             w.bad);
    curvo_trainer_free(tr);
    curvo_model_free(m);

    /* a bad schedule is refused at creation */
    curvo_schedule bad = s;
    bad.gamma = 0;
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.schedule = &bad;
    TU_CHECK(curvo_model_from_spec("dense:3", 4, 1, 1, &m, err) == CURVO_OK, "model");
    TU_CHECK(curvo_trainer_create(m, CURVO_LOSS_CE, &op, data, NULL, &o, &tr, err) == CURVO_E_INVALID &&
                 strstr(err, "gamma") && !tr,
             "a schedule with gamma 0 should be refused: %s", err);
    curvo_model_free(m);
}

/* A run cancelled at step 5 (epoch 2 of 4 steps each), saved and resumed, with a milestone at epoch 3
 * after the resume point, ends where the uninterrupted run ends. */
static void resume_continues(void) {
    curvo_schedule s = parse_ok("multistep:3:0.1");
    curvo_model *mf, *mc, *mr = NULL, *mn;
    curvo_trainer *full = make_trainer(&mf, &s, 4);
    lr_watch w = {&s, 0.2, 0, 0};
    stop_at = 0;
    TU_CHECK(curvo_trainer_run(full, watch_lr, &w) == CURVO_OK, "full run");

    curvo_trainer *cut = make_trainer(&mc, &s, 4);
    stop_at = 5;
    lr_watch wc = {&s, 0.2, 0, 0};
    TU_CHECK(curvo_trainer_run(cut, watch_lr, &wc) == CURVO_E_CANCELLED, "cancel at step 5");
    TU_CHECK(curvo_trainer_save(cut, ckpt) == CURVO_OK, "save: %s", curvo_trainer_errmsg(cut));
    curvo_trainer_free(cut);
    curvo_model_free(mc);

    curvo_checkpoint_info *info = NULL;
    char err[CURVO_ERRMSG_LEN] = "", a[256], b[256];
    TU_CHECK(curvo_checkpoint_read_info(ckpt, &info, err) == CURVO_OK, "info: %s", err);
    if (info) {
        curvo_schedule_format(&info->schedule, a, sizeof a);
        curvo_schedule_format(&s, b, sizeof b);
        TU_CHECK(!strcmp(a, b), "the checkpoint's schedule is %s, not %s", a, b);
        curvo_checkpoint_info_free(info);
    }
    /* the resume's options name another schedule: the checkpoint's wins */
    curvo_schedule other = parse_ok("cosine:2s");
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 4;
    o.eval_train = 0;
    o.schedule = &other;
    curvo_trainer *res = NULL;
    TU_CHECK(curvo_trainer_resume(ckpt, data, NULL, &o, &res, &mr, err) == CURVO_OK, "resume: %s", err);
    stop_at = 0;
    lr_watch wr = {&s, 0.2, 0, 0};
    if (res) TU_CHECK(curvo_trainer_run(res, watch_lr, &wr) == CURVO_OK, "resumed run");
    TU_CHECK(wr.steps == 11 && wr.bad == 0, "the resumed run follows the schedule from step 6 (%d steps, %d off)",
             wr.steps, wr.bad);
    size_t n = curvo_model_num_params(mf);
    TU_CHECK(mr && !memcmp(curvo_model_params(mf), curvo_model_params(mr), n * sizeof(float)),
             "cancelled, saved and resumed: the parameters differ from the uninterrupted run's");

    /* the schedule matters: without it the run ends elsewhere, and checkpoints none */
    curvo_trainer *plain = make_trainer(&mn, NULL, 4);
    TU_CHECK(curvo_trainer_run(plain, NULL, NULL) == CURVO_OK, "run without a schedule");
    TU_CHECK(memcmp(curvo_model_params(mf), curvo_model_params(mn), n * sizeof(float)) != 0,
             "the schedule changed nothing");
    TU_CHECK(curvo_trainer_save(plain, ckpt) == CURVO_OK, "save");
    TU_CHECK(curvo_checkpoint_read_info(ckpt, &info, err) == CURVO_OK && curvo_schedule_is_none(&info->schedule),
             "a run without a schedule checkpoints none");
    curvo_checkpoint_info_free(info);
    curvo_trainer_free(plain);
    curvo_model_free(mn);
    curvo_trainer_free(res);
    curvo_model_free(mr);
    curvo_trainer_free(full);
    curvo_model_free(mf);
}

int main(void) {
    char dir[64] = "/tmp/curvo-test-schedule-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(ckpt, sizeof ckpt, "%s/s.ckpt", dir);
    curvo_set_threads(1);
    multistep_factors();
    cosine_factors();
    warmup_factors();
    parser();
    make_data();
    optimizers_scale();
    trainer_applies();
    resume_continues();
    curvo_dataset_free(data);
    unlink(ckpt);
    rmdir(dir);
    return tu_finish("test_schedule");
}
