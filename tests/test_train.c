/* test_train.c — the trainer end to end on a small generated CSV classification problem:
 *   training 2 epochs equals training 1 epoch, saving, and resuming for 1 more, bit for bit (one
 *   thread), for every optimizer (SGD with momentum, Adam, AdamW, EGN with momentum, SGN with a
 *   gradient average, LRSFN reusing its basis, SOFIM, arTuRO); a run cancelled mid-epoch and resumed from its
 *   checkpoint, and one resumed from its last periodic checkpoint, end with the same parameters
 *   too; the model learns the problem; a time budget stops on optimizer time with an evaluation,
 *   mid-epoch evaluations report the mean of the batch losses since the one before; bad checkpoints
 *   and a model that does not fit the data are refused with messages;
 *   early stopping on noisy labels stops patience epochs after the best validation loss and ends
 *   with that epoch's parameters bit for bit, also when resumed one epoch before the stop, and
 *   refuses to run without a validation set; a checkpoint records the data record, the sizes and
 *   the standardization (curvo_checkpoint_read_info), and one of kind "curvo-train-1" still
 *   resumes; the data fingerprint sees a one-byte change. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/ckpt.h"
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

/* ---------------------------------------------------------------- early stopping, data records */

static curvo_dataset *noisy_train, *noisy_val, *noisy_test;

/* 200 rows of 4 features; label = (x0 + x1 > 0) with 30% flipped, so a large network overfits. */
static void open_noisy(void) {
    char path[160], src[170], err[CURVO_ERRMSG_LEN];
    snprintf(path, sizeof path, "%s/noisy.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "a,b,c,d,target\n");
    curvo_rng rng;
    curvo_rng_seed(&rng, 11);
    for (int i = 0; i < 200; i++) {
        double x[4];
        for (int k = 0; k < 4; k++) x[k] = 2 * curvo_rng_uniform(&rng) - 1;
        int t = x[0] + x[1] > 0;
        if (curvo_rng_uniform(&rng) < 0.3) t = !t;
        fprintf(f, "%.4f,%.4f,%.4f,%.4f,%d\n", x[0], x[1], x[2], x[3], t);
    }
    fclose(f);
    snprintf(src, sizeof src, "csv:%s", path);
    curvo_dataset *all;
    TU_CHECK(curvo_data_open(src, NULL, &all, &noisy_test, err) == CURVO_OK, "noisy data: %s", err);
    TU_CHECK(curvo_dataset_split(all, 0.25, 1, &noisy_train, &noisy_val, err) == CURVO_OK, "val split: %s", err);
    curvo_dataset_free(all);
    unlink(path);
}

typedef struct {
    int last_epoch, best_epoch, stops;
    double best_val_loss, kept_test_loss;
} stop_watch;

static int watch_stop(const curvo_progress *p, void *user) {
    stop_watch *w = user;
    if (p->event == CURVO_EVENT_EPOCH) w->last_epoch = p->epoch;
    if (p->event == CURVO_EVENT_EARLY_STOP) {
        w->stops++;
        w->best_epoch = p->best_epoch;
        w->best_val_loss = p->best_val_loss;
        w->kept_test_loss = p->test_loss;
    }
    return 0;
}

static void new_es_run(run *r, int epochs, int patience, int validate) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:64,tanh,dense:64,tanh,dense:2", 4, 1, 1, &r->model, err) == CURVO_OK,
             "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    curvo_model_init(r->model, &rng);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    op.adam.lr = 0.01;
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = epochs;
    o.batch_size = 16;
    o.seed = 2;
    o.early_stop = patience;
    TU_CHECK(curvo_trainer_create(r->model, CURVO_LOSS_CE, &op, noisy_train, noisy_test, &o, &r->tr, err) == CURVO_OK,
             "trainer: %s", err);
    if (validate) curvo_trainer_set_validation(r->tr, noisy_val);
}

static void early_stopping(void) {
    open_noisy();
    const int patience = 3;
    run es, fixed, cut, none;
    stop_watch w = {0};
    new_es_run(&es, 500, patience, 1);
    TU_CHECK(curvo_trainer_run(es.tr, watch_stop, &w) == CURVO_OK, "early-stopped run: %s", curvo_trainer_errmsg(es.tr));
    int best = curvo_trainer_best_epoch(es.tr);
    TU_CHECK(curvo_trainer_stopped_early(es.tr) && w.stops == 1 && best >= 1 && w.best_epoch == best &&
                 w.last_epoch == best + patience && isfinite(w.best_val_loss),
             "stopped after epoch %d with the best at %d (patience %d, %d stop events)", w.last_epoch, best, patience,
             w.stops);
    TU_CHECK(w.last_epoch < 500, "the run should overfit and stop long before 500 epochs");
    /* the kept parameters are those of a run of exactly `best` epochs, bit for bit */
    new_es_run(&fixed, best, 0, 1);
    TU_CHECK(curvo_trainer_run(fixed.tr, NULL, NULL) == CURVO_OK, "run of %d epochs", best);
    same_params("early stop vs a run of the best epoch's length", &fixed, &es);
    double vl, vm, tl, tm;
    curvo_evaluate(es.model, CURVO_LOSS_CE, noisy_val, 1000, &vl, &vm);
    curvo_evaluate(es.model, CURVO_LOSS_CE, noisy_test, 1000, &tl, &tm);
    TU_CHECK(vl == w.best_val_loss && tl == w.kept_test_loss, "the stop event reports the kept parameters' losses");
    /* stopped one epoch before the stop, saved, resumed: the same stop and parameters */
    new_es_run(&cut, best + patience - 1, patience, 1);
    TU_CHECK(curvo_trainer_run(cut.tr, NULL, NULL) == CURVO_OK && !curvo_trainer_stopped_early(cut.tr), "cut run");
    TU_CHECK(curvo_trainer_save(cut.tr, ckpt_path) == CURVO_OK, "save: %s", curvo_trainer_errmsg(cut.tr));
    end_run(&cut);
    char err[CURVO_ERRMSG_LEN];
    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 500;
    TU_CHECK(curvo_trainer_resume(ckpt_path, noisy_train, noisy_test, &o, &cut.tr, &cut.model, err) == CURVO_OK,
             "resume: %s", err);
    curvo_trainer_set_validation(cut.tr, noisy_val);
    stop_watch w2 = {0};
    TU_CHECK(curvo_trainer_run(cut.tr, watch_stop, &w2) == CURVO_OK && w2.stops == 1 &&
                 w2.last_epoch == w.last_epoch && curvo_trainer_best_epoch(cut.tr) == best,
             "resumed run stopped after epoch %d (uninterrupted: %d)", w2.last_epoch, w.last_epoch);
    same_params("early stop resumed one epoch before it", &es, &cut);
    /* a stopped run stays stopped */
    TU_CHECK(curvo_trainer_run(cut.tr, watch_stop, &w2) == CURVO_OK && w2.stops == 1, "a stopped run trained on");
    /* without a validation set */
    new_es_run(&none, 5, patience, 0);
    TU_CHECK(curvo_trainer_run(none.tr, NULL, NULL) == CURVO_E_INVALID &&
                 strstr(curvo_trainer_errmsg(none.tr), "validation"),
             "early stopping without a validation set: %s", curvo_trainer_errmsg(none.tr));
    end_run(&es);
    end_run(&fixed);
    end_run(&cut);
    end_run(&none);
}

/* A checkpoint records the data: the record given, the sizes and the standardization; the
 * fingerprint changes with one byte of the file. */
static void data_record(void) {
    char src[160], err[CURVO_ERRMSG_LEN];
    snprintf(src, sizeof src, "csv:%s", csv_path);
    curvo_data_record rec = {.source = src, .target = "target", .test_fraction = 0.2, .split_seed = 1, .val_seed = 1};
    TU_CHECK(curvo_data_fingerprint(src, NULL, &rec.crc32, &rec.bytes, err) == CURVO_OK, "fingerprint: %s", err);
    FILE *f = fopen(csv_path, "rb");
    fseek(f, 0, SEEK_END);
    TU_CHECK(rec.bytes == (uint64_t)ftell(f), "the fingerprint counts %llu bytes", (unsigned long long)rec.bytes);
    fclose(f);
    run r;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    new_run(&r, &op, 1, 0);
    TU_CHECK(curvo_trainer_set_data_record(r.tr, &rec) == CURVO_OK, "set_data_record");
    TU_CHECK(curvo_trainer_save(r.tr, ckpt_path) == CURVO_OK, "save: %s", curvo_trainer_errmsg(r.tr));
    curvo_checkpoint_info *ck;
    TU_CHECK(curvo_checkpoint_read_info(ckpt_path, &ck, err) == CURVO_OK, "read_info: %s", err);
    curvo_standardization s;
    curvo_dataset_standardization(train_set, &s);
    TU_CHECK(ck->has_data && !strcmp(ck->data.source, src) && !strcmp(ck->data.target, "target") &&
                 ck->data.test_fraction == 0.2 && ck->data.crc32 == rec.crc32 && ck->data.bytes == rec.bytes &&
                 ck->train_count == 240 && ck->test_count == 60 && ck->val_count == 0 && ck->batch_size == 32 &&
                 ck->seed == 4 && ck->epochs == 1 && ck->epochs_done == 0 && !strcmp(ck->kind, "curvo-train-2"),
             "the checkpoint's record");
    TU_CHECK(s.features == 6 && ck->standardization.features == 6 && ck->standardization.target == s.target &&
                 !memcmp(ck->standardization.feature_mean, s.feature_mean, 6 * sizeof(double)) &&
                 !memcmp(ck->standardization.feature_std, s.feature_std, 6 * sizeof(double)),
             "the checkpoint's standardization");
    curvo_checkpoint_info_free(ck);
    end_run(&r);

    /* one byte of the file changed: another fingerprint; a missing file or unknown source: refused */
    uint32_t crc;
    uint64_t bytes;
    f = fopen(csv_path, "r+b");
    fseek(f, 40, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(ch == '1' ? '2' : '1', f);
    fclose(f);
    TU_CHECK(curvo_data_fingerprint(src, NULL, &crc, &bytes, err) == CURVO_OK && bytes == rec.bytes &&
                 crc != rec.crc32, "a changed byte should change the fingerprint");
    write_csv();
    TU_CHECK(curvo_data_fingerprint("csv:/nonexistent/x.csv", NULL, &crc, &bytes, err) == CURVO_E_IO &&
                 strstr(err, "/nonexistent/x.csv"), "missing file: %s", err);
    TU_CHECK(curvo_data_fingerprint("nosuch:x", NULL, &crc, &bytes, err) == CURVO_E_INVALID, "unknown source");
}

/* A checkpoint of kind "curvo-train-1" (without the keys of kind 2, and without the optimizer
 * parameters added since: EGN's scalapack_min) still resumes. */
static void old_kind_loads(void) {
    run a;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_EGN);
    new_run(&a, &op, 1, 0);
    TU_CHECK(curvo_trainer_run(a.tr, NULL, NULL) == CURVO_OK, "first epoch");
    TU_CHECK(curvo_trainer_save(a.tr, ckpt_path) == CURVO_OK, "save");
    end_run(&a);
    static const char *const v2_only[] = {"train.checkpoint_every", "train.early_stop", "train.best_epoch",
                                          "train.since_best", "train.stopped_early", "train.best_loss",
                                          "data.train_count", "data.test_count", "data.val_count",
                                          "data.feature_mean", "data.feature_std", "data.target_standardized",
                                          "data.target_mean", "data.target_std", "kind",
                                          "opt.param.scalapack_min"};
    char err[CURVO_ERRMSG_LEN];
    ckpt_reader *r;
    ckpt_writer *w;
    TU_CHECK(ckpt_open(ckpt_path, &r, err) == CURVO_OK && ckpt_writer_create(&w) == CURVO_OK, "reopen");
    ckpt_put_str(w, "kind", "curvo-train-1");
    for (size_t i = 0; i < ckpt_num_sections(r); i++) {
        const char *name = ckpt_section_name(r, i);
        int skip = 0;
        for (size_t k = 0; k < sizeof v2_only / sizeof *v2_only; k++) skip |= !strcmp(name, v2_only[k]);
        const void *data;
        size_t len;
        if (!skip && !ckpt_get(r, name, &data, &len)) ckpt_put(w, name, data, len);
    }
    TU_CHECK(ckpt_commit(w, ckpt_path, err) == CURVO_OK, "write the old kind: %s", err);
    ckpt_writer_free(w);
    ckpt_close(r);
    run full, old;
    new_run(&full, &op, 2, 0);
    TU_CHECK(curvo_trainer_run(full.tr, NULL, NULL) == CURVO_OK, "full run");
    resume_run(&old, ckpt_path, 2);
    TU_CHECK(old.tr && curvo_trainer_run(old.tr, NULL, NULL) == CURVO_OK, "resumed old kind");
    if (old.tr) same_params("resumed from a curvo-train-1 checkpoint", &full, &old);
    curvo_checkpoint_info *ck;
    TU_CHECK(curvo_checkpoint_read_info(ckpt_path, &ck, err) == CURVO_OK && !ck->has_data && ck->early_stop == 0 &&
                 !strcmp(ck->kind, "curvo-train-1") && ck->epochs_done == 1,
             "info of the old kind: %s", err);
    curvo_checkpoint_info_free(ck);
    end_run(&full);
    if (old.tr) end_run(&old);
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
    early_stopping();
    data_record();
    old_kind_loads();
    refusals();

    curvo_dataset_free(train_set);
    curvo_dataset_free(test_set);
    curvo_dataset_free(noisy_train);
    curvo_dataset_free(noisy_val);
    curvo_dataset_free(noisy_test);
    unlink(csv_path), unlink(ckpt_path), unlink(periodic_path), rmdir(dir);
    return tu_finish("test_train");
}
