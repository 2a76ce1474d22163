/* test_train.c — the trainer end to end on a small generated CSV classification problem:
 *   training 2 epochs equals training 1 epoch, saving, and resuming for 1 more, bit for bit (one
 *   thread), for every optimizer (SGD with momentum, Adam, AdamW, EGN with momentum, SGN with a
 *   gradient average, LRSFN reusing its basis, SOFIM, arTuRO); a run cancelled mid-epoch and resumed from its
 *   checkpoint, and one resumed from its last periodic checkpoint, end with the same parameters
 *   too; the model learns the problem; a time budget stops on optimizer time with an evaluation,
 *   mid-epoch evaluations report the mean of the batch losses since the one before; bad checkpoints
 *   and a model that does not fit the data are refused with messages. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char dir[64], csv_path[128], ckpt_path[128], periodic_path[128];
static curvo_dataset *train_set, *test_set;

/* 300 rows of 6 features; class = which of three fixed directions scores highest. */
static void write_csv(void) {
    FILE *f = fopen(csv_path, "w");
    fprintf(f, "a,b,c,d,e,f,target\n");
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    for (int i = 0; i < 300; i++) {
        double x[6], s[3] = {0, 0, 0};
        for (int k = 0; k < 6; k++) x[k] = curvo_rng_normal(&rng);
        s[0] = x[0] + x[1] - x[2];
        s[1] = -x[0] + x[3] + 0.5 * x[4];
        s[2] = x[2] - x[3] + x[5];
        int cls = s[1] > s[0] ? 1 : 0;
        if (s[2] > s[cls]) cls = 2;
        for (int k = 0; k < 6; k++) fprintf(f, "%.6f,", x[k]);
        fprintf(f, "%d\n", cls);
    }
    fclose(f);
}

typedef struct {
    curvo_model *model;
    curvo_trainer *tr;
} run;

static void new_run(run *r, const curvo_opt_params *op, int epochs, int64_t ckpt_every) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:16,tanh,dense:3", 6, 1, 1, &r->model, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 9);
    curvo_model_init(r->model, &rng);
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = epochs;
    o.batch_size = 32;
    o.seed = 4;
    o.checkpoint_every = ckpt_every;
    o.checkpoint_path = ckpt_every ? periodic_path : NULL;
    TU_CHECK(curvo_trainer_create(r->model, CURVO_LOSS_CE, op, train_set, test_set, &o, &r->tr, err) == CURVO_OK,
             "trainer: %s", err);
}

static void resume_run(run *r, const char *path, int epochs) {
    char err[CURVO_ERRMSG_LEN];
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = epochs;
    TU_CHECK(curvo_trainer_resume(path, train_set, test_set, &o, &r->tr, &r->model, err) == CURVO_OK,
             "resume: %s", err);
}

static void end_run(run *r) {
    curvo_trainer_free(r->tr);
    curvo_model_free(r->model);
}

static int stop_at;
static int cancel_at(const curvo_progress *p, void *user) {
    (void)user;
    return p->event == CURVO_EVENT_STEP && p->step == stop_at;
}

static double last_test_accuracy;
static int note_epoch(const curvo_progress *p, void *user) {
    (void)user;
    if (p->event == CURVO_EVENT_EPOCH) last_test_accuracy = p->test_metric;
    return 0;
}

static void same_params(const char *what, const run *a, const run *b) {
    size_t n = curvo_model_num_params(a->model);
    TU_CHECK(n == curvo_model_num_params(b->model) &&
                 !memcmp(curvo_model_params(a->model), curvo_model_params(b->model), n * sizeof(float)),
             "%s: parameters differ from the uninterrupted run", what);
}

static void resume_is_exact(const char *label, const curvo_opt_params *op) {
    run full, half, cut, per;
    new_run(&full, op, 2, 0);
    TU_CHECK(curvo_trainer_run(full.tr, note_epoch, NULL) == CURVO_OK, "%s: full run", label);

    new_run(&half, op, 1, 0);
    TU_CHECK(curvo_trainer_run(half.tr, NULL, NULL) == CURVO_OK, "%s: first epoch", label);
    TU_CHECK(curvo_trainer_save(half.tr, ckpt_path) == CURVO_OK, "save: %s", curvo_trainer_errmsg(half.tr));
    end_run(&half);
    resume_run(&half, ckpt_path, 2);
    TU_CHECK(curvo_trainer_run(half.tr, NULL, NULL) == CURVO_OK, "%s: resumed epoch", label);
    same_params("1 epoch + save + resume 1 epoch", &full, &half);

    /* cancelled mid-epoch 2 (epoch = 8 steps of 32 out of 240 samples) */
    new_run(&cut, op, 2, 0);
    stop_at = 11;
    TU_CHECK(curvo_trainer_run(cut.tr, cancel_at, NULL) == CURVO_E_CANCELLED, "%s: cancel", label);
    TU_CHECK(curvo_trainer_save(cut.tr, ckpt_path) == CURVO_OK, "save after cancel");
    end_run(&cut);
    resume_run(&cut, ckpt_path, 2);
    TU_CHECK(curvo_trainer_run(cut.tr, NULL, NULL) == CURVO_OK, "%s: resumed after cancel", label);
    same_params("cancelled at step 11, saved, resumed", &full, &cut);

    /* killed at step 13 (cancel without saving); the periodic checkpoint of step 12 carries on */
    new_run(&per, op, 2, 4);
    stop_at = 13;
    TU_CHECK(curvo_trainer_run(per.tr, cancel_at, NULL) == CURVO_E_CANCELLED, "%s: cancel", label);
    end_run(&per);
    resume_run(&per, periodic_path, 2);
    TU_CHECK(curvo_trainer_run(per.tr, NULL, NULL) == CURVO_OK, "%s: resumed from periodic", label);
    same_params("resumed from the periodic checkpoint of step 12", &full, &per);
    end_run(&full);
    end_run(&half);
    end_run(&cut);
    end_run(&per);
}

static void learns(void) {
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    op.adam.lr = 0.01;
    run r;
    new_run(&r, &op, 30, 0);
    TU_CHECK(curvo_trainer_run(r.tr, note_epoch, NULL) == CURVO_OK, "30 epochs");
    TU_CHECK(last_test_accuracy > 0.85, "test accuracy after 30 epochs %.3f <= 0.85", last_test_accuracy);
    double loss, acc;
    TU_CHECK(curvo_evaluate(r.model, CURVO_LOSS_CE, test_set, 7, &loss, &acc) == CURVO_OK &&
                 acc == last_test_accuracy,
             "curvo_evaluate in batches of 7 agrees with the epoch report (%.4f vs %.4f)", acc, last_test_accuracy);
    end_run(&r);
}

/* Watches a budgeted run: every step is reported; eval and epoch events are checked against the
 * step losses since the previous one. Each step sleeps 0.2 ms so the clock moves on a tiny net. */
typedef struct {
    double window_sum;
    int window_n, evals, epochs, bad_window, bad_order;
    double last_train_seconds;
    curvo_event last_event;
} budget_watch;

static int watch_budget(const curvo_progress *p, void *user) {
    budget_watch *w = user;
    if (p->event == CURVO_EVENT_STEP) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        w->window_sum += p->loss, w->window_n++;
    } else if (p->event == CURVO_EVENT_EVAL || p->event == CURVO_EVENT_EPOCH) {
        double mean = w->window_sum / w->window_n;
        if (!(fabs(p->loss - mean) <= 1e-12 * fabs(mean))) w->bad_window++;
        if (p->event == CURVO_EVENT_EVAL && (p->step_in_epoch == p->steps_per_epoch || !(p->test_metric >= 0)))
            w->bad_order++;
        if (p->train_seconds < w->last_train_seconds) w->bad_order++;
        w->window_sum = 0, w->window_n = 0;
        w->evals += p->event == CURVO_EVENT_EVAL;
        w->epochs += p->event == CURVO_EVENT_EPOCH;
        w->last_train_seconds = p->train_seconds;
    }
    w->last_event = p->event;
    return 0;
}

static void time_budget(void) {
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    run r;
    new_run(&r, &op, 1000, 0);
    char err[CURVO_ERRMSG_LEN];
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.max_seconds = -1;
    curvo_trainer *bad = NULL;
    TU_CHECK(curvo_trainer_create(r.model, CURVO_LOSS_CE, &op, train_set, test_set, &o, &bad, err) == CURVO_E_INVALID &&
                 bad == NULL && strstr(err, "budget"),
             "a negative budget is refused: %s", err);
    o.max_seconds = 0, o.eval_seconds = NAN;
    TU_CHECK(curvo_trainer_create(r.model, CURVO_LOSS_CE, &op, train_set, test_set, &o, &bad, err) == CURVO_E_INVALID &&
                 bad == NULL, "a NaN evaluation interval is refused: %s", err);
    curvo_trainer_free(r.tr);
    o.epochs = 1000;
    o.batch_size = 8;       /* 30 steps per epoch, so that evaluations fall in mid-epoch */
    o.max_seconds = 0.002;  /* optimizer time: the sleeps in the callback do not count */
    o.eval_seconds = 0.00003;
    TU_CHECK(curvo_trainer_create(r.model, CURVO_LOSS_CE, &op, train_set, test_set, &o, &r.tr, err) == CURVO_OK,
             "trainer: %s", err);
    budget_watch w = {0};
    TU_CHECK(curvo_trainer_run(r.tr, watch_budget, &w) == CURVO_OK, "budgeted run: %s", curvo_trainer_errmsg(r.tr));
    TU_CHECK(w.last_event == CURVO_EVENT_EVAL || w.last_event == CURVO_EVENT_EPOCH,
             "the run ends with an evaluation (last event %d)", (int)w.last_event);
    TU_CHECK(w.last_train_seconds >= 0.002 && w.last_train_seconds < 1.0, "stopped at %.4f s of a 0.002 s budget",
             w.last_train_seconds);
    TU_CHECK(w.evals >= 2, "%d mid-epoch evaluations, expected several", w.evals);
    TU_CHECK(w.epochs < 1000, "the budget, not the 1000 epochs, ended the run (%d epochs)", w.epochs);
    TU_CHECK(w.bad_window == 0, "%d evaluations whose loss is not the mean of the steps since the previous one",
             w.bad_window);
    TU_CHECK(w.bad_order == 0, "%d evaluations out of order or without a test metric", w.bad_order);
    end_run(&r);
}

static void refusals(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    curvo_model *m;
    curvo_model_from_spec("dense:4", 6, 1, 1, &m, err);
    curvo_train_options o;
    curvo_train_options_init(&o);
    curvo_trainer *tr = (curvo_trainer *)&o;
    TU_CHECK(curvo_trainer_create(m, CURVO_LOSS_CE, &op, train_set, test_set, &o, &tr, err) == CURVO_E_SHAPE &&
                 tr == NULL && strstr(err, "4 outputs") && strstr(err, "3 classes"),
             "output mismatch: %s", err);
    curvo_model_free(m);

    /* a corrupted checkpoint: one flipped byte */
    FILE *f = fopen(ckpt_path, "r+b");
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    curvo_model *mm = NULL;
    TU_CHECK(curvo_trainer_resume(ckpt_path, train_set, test_set, &o, &tr, &mm, err) == CURVO_E_FORMAT &&
                 tr == NULL && mm == NULL && strstr(err, "checksum"),
             "corrupt checkpoint: %s", err);
    curvo_loss_kind lk;
    TU_CHECK(curvo_checkpoint_load_model(csv_path, &mm, &lk, err) == CURVO_E_FORMAT && mm == NULL,
             "a CSV is no checkpoint: %s", err);
}

int main(void) {
    curvo_set_threads(1);
    strcpy(dir, "/tmp/curvo-test-train-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(csv_path, sizeof csv_path, "%s/data.csv", dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/run.ckpt", dir);
    snprintf(periodic_path, sizeof periodic_path, "%s/periodic.ckpt", dir);
    write_csv();
    char src[160], err[CURVO_ERRMSG_LEN];
    snprintf(src, sizeof src, "csv:%s", csv_path);
    curvo_data_options dopt;
    curvo_data_options_init(&dopt);
    TU_CHECK(curvo_data_open(src, &dopt, &train_set, &test_set, err) == CURVO_OK, "data: %s", err);
    TU_CHECK(curvo_dataset_count(train_set) == 240 && curvo_dataset_num_classes(train_set) == 3, "split sizes");

    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    op.sgd.lr = 0.05, op.sgd.momentum = 0.9;
    resume_is_exact("sgd momentum", &op);
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    resume_is_exact("adam", &op);
    /* every other optimizer's state (damping, moments, eigenbasis, RLS filters, RNG) survives too */
    for (int a = CURVO_OPT_ADAMW; a < CURVO_NUM_ALGORITHMS; a++) {
        curvo_opt_params_init(&op, (curvo_algorithm)a);
        if (a == CURVO_OPT_EGN) op.egn.momentum = 0.5;
        if (a == CURVO_OPT_SGN) op.sgn.beta = 0.5;
        if (a == CURVO_OPT_LRSFN) op.lrsfn.rank = 4, op.lrsfn.oversampling = 4, op.lrsfn.refresh = 3;
        resume_is_exact(curvo_algorithm_name((curvo_algorithm)a), &op);
    }
    learns();
    time_budget();
    refusals();

    curvo_dataset_free(train_set);
    curvo_dataset_free(test_set);
    unlink(csv_path), unlink(ckpt_path), unlink(periodic_path), rmdir(dir);
    return tu_finish("test_train");
}
