/* trainer.c — the training loop: epochs of shuffled mini-batches through an optimizer, evaluation
 * after each epoch (and every eval_seconds of optimizer time), a training-time budget, progress
 * events to a callback, periodic and final checkpoints, and resuming from a checkpoint exactly
 * where a run stopped. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/errmsg.h"
#include "io/ckpt.h"
#include "train/evaluate.h"

#define MAX_CONSECUTIVE_REJECTIONS 100

struct curvo_trainer {
    curvo_model *model;              /* not owned */
    curvo_loss_kind loss;
    curvo_optimizer *opt;
    curvo_curv *cv;
    const curvo_dataset *train, *test, *val; /* not owned */
    curvo_batcher *batcher;
    curvo_train_options o;
    curvo_rng rng;                   /* shuffling */
    int epoch;                       /* epoch in progress (1-based) */
    int in_epoch;                    /* the batcher holds this epoch's order, partly consumed */
    int64_t step, step_in_epoch, steps_per_epoch;
    double loss_sum;                 /* over the finite batch losses since the last evaluation */
    int64_t loss_count;
    int rejected, consecutive_rejected;
    double seconds, train_seconds;   /* accumulated over this and earlier (resumed) runs */
    char errmsg[CURVO_ERRMSG_LEN];
};

static int fail(curvo_trainer *tr, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(tr->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void curvo_train_options_init(curvo_train_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch_size = 128;
    o->seed = 1;
    o->eval_batch_size = 1000;
    o->report_every = 1;
    o->eval_train = 1;
}

static int check_options(const curvo_train_options *o, char *errmsg) {
    const char *bad = NULL;
    if (o->epochs < 1) bad = "epochs must be >= 1";
    else if (o->batch_size < 1) bad = "batch size must be >= 1";
    else if (o->eval_batch_size < 1) bad = "evaluation batch size must be >= 1";
    else if (o->report_every < 1) bad = "report interval must be >= 1";
    else if (o->checkpoint_every < 0) bad = "checkpoint interval must be >= 0";
    else if (o->checkpoint_every > 0 && !o->checkpoint_path) bad = "periodic checkpoints need a path";
    else if (!(o->max_seconds >= 0.0) || !isfinite(o->max_seconds)) bad = "the time budget must be >= 0 seconds";
    else if (!(o->eval_seconds >= 0.0) || !isfinite(o->eval_seconds)) bad = "the evaluation interval must be >= 0 seconds";
    if (!bad) return CURVO_OK;
    if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", bad);
    return CURVO_E_INVALID;
}

int curvo_trainer_create(curvo_model *model, curvo_loss_kind loss, const curvo_opt_params *opt,
                         const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!model || !opt || !train || !options || loss < CURVO_LOSS_CE || loss > CURVO_LOSS_BCE) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: missing model, optimizer, data or options");
        return CURVO_E_INVALID;
    }
    int rc = check_options(options, errmsg);
    if (rc || (rc = train_check_fit(model, loss, train, errmsg))) return rc;
    if (test && (rc = train_check_fit(model, loss, test, errmsg))) return rc;
    if (curvo_dataset_count(train) == 0) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "the training set is empty");
        return CURVO_E_INVALID;
    }
    curvo_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return CURVO_E_NOMEM;
    tr->model = model;
    tr->loss = loss;
    tr->train = train;
    tr->test = test;
    tr->o = *options;
    tr->epoch = 1;
    curvo_rng_seed(&tr->rng, options->seed);
    int bs = options->batch_size;
    if ((size_t)bs > curvo_dataset_count(train)) bs = (int)curvo_dataset_count(train);
    tr->o.batch_size = bs;
    tr->steps_per_epoch = (int64_t)((curvo_dataset_count(train) + (size_t)bs - 1) / (size_t)bs);
    if ((rc = curvo_optimizer_create(opt, curvo_model_num_params(model), &tr->opt, errmsg)) ||
        (rc = curvo_curv_create(model, loss, &tr->cv)) ||
        (rc = curvo_batcher_create(train, bs, &tr->batcher))) {
        if (!errmsg[0]) snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: %s", curvo_strerror(rc));
        curvo_trainer_free(tr);
        return rc;
    }
    *out = tr;
    return CURVO_OK;
}

void curvo_trainer_free(curvo_trainer *tr) {
    if (!tr) return;
    curvo_optimizer_free(tr->opt);
    curvo_curv_free(tr->cv);
    curvo_batcher_free(tr->batcher);
    free(tr);
}

const char *curvo_trainer_errmsg(const curvo_trainer *tr) { return tr ? tr->errmsg : ""; }

int curvo_trainer_set_validation(curvo_trainer *tr, const curvo_dataset *val) {
    if (!tr) return CURVO_E_INVALID;
    int rc;
    if (val && (rc = train_check_fit(tr->model, tr->loss, val, tr->errmsg))) return rc;
    tr->val = val;
    return CURVO_OK;
}

static void base_progress(const curvo_trainer *tr, curvo_progress *p, curvo_event ev) {
    memset(p, 0, sizeof *p);
    p->event = ev;
    p->epoch = tr->epoch;
    p->epochs = tr->o.epochs;
    p->step = tr->step;
    p->steps_total = tr->steps_per_epoch * tr->o.epochs;
    p->step_in_epoch = tr->step_in_epoch;
    p->steps_per_epoch = tr->steps_per_epoch;
    p->classification = tr->loss != CURVO_LOSS_MSE;
    p->train_metric = p->train_loss = p->test_metric = p->test_loss = p->val_metric = p->val_loss = NAN;
    p->train_mae = p->train_r2 = p->test_mae = p->test_r2 = p->val_mae = p->val_r2 = NAN;
    p->seconds = tr->seconds;
    p->train_seconds = tr->train_seconds;
    p->rejected_steps = tr->rejected;
}

/* Loss and metric (accuracy or RMSE; MAE and R^2 for regression) of the model on d; a loss that is
 * not finite (a NaN in the data, or weights gone huge) is reported as an infinite loss and NaN
 * metrics (null in logs), and training goes on. */
static int evaluate_on(curvo_trainer *tr, const curvo_dataset *d, const char *what, double *loss, double *metric,
                       double *mae, double *r2) {
    curvo_metrics m;
    int rc = curvo_evaluate_metrics(tr->model, tr->loss, d, tr->o.eval_batch_size, &m, NULL);
    if (rc == CURVO_E_NUMERIC) {
        *loss = INFINITY;
        *metric = *mae = *r2 = NAN;
        return CURVO_OK;
    }
    if (rc) return fail(tr, rc, "evaluation on the %s set failed: %s", what, curvo_strerror(rc));
    *loss = m.loss;
    *metric = m.classification ? m.accuracy : m.rmse;
    *mae = m.mae;
    *r2 = m.r2;
    return CURVO_OK;
}

/* An epoch or eval event: the mean batch loss since the last one (which restarts), and the metrics
 * on the training, test and validation sets. */
static int evaluate_event(curvo_trainer *tr, curvo_progress *p, curvo_event ev) {
    base_progress(tr, p, ev);
    p->loss = tr->loss_count ? tr->loss_sum / (double)tr->loss_count : NAN;
    tr->loss_sum = 0.0;
    tr->loss_count = 0;
    int rc = CURVO_OK;
    if (tr->o.eval_train)
        rc = evaluate_on(tr, tr->train, "training", &p->train_loss, &p->train_metric, &p->train_mae, &p->train_r2);
    if (!rc && tr->test)
        rc = evaluate_on(tr, tr->test, "test", &p->test_loss, &p->test_metric, &p->test_mae, &p->test_r2);
    if (!rc && tr->val)
        rc = evaluate_on(tr, tr->val, "validation", &p->val_loss, &p->val_metric, &p->val_mae, &p->val_r2);
    return rc;
}

int curvo_trainer_run(curvo_trainer *tr, curvo_progress_fn fn, void *user) {
    if (!tr) return CURVO_E_INVALID;
    tr->errmsg[0] = '\0';
    double t_start = now(), t_report = t_start, base = tr->seconds;
    int64_t report_samples = 0;
    curvo_progress p;
    const double every = tr->o.eval_seconds;
    double next_eval = every > 0 ? tr->train_seconds + every : INFINITY; /* after the previous evaluation */
    int out_of_time = 0;
    while (tr->epoch <= tr->o.epochs) {
        if (!tr->in_epoch) {
            curvo_batcher_shuffle(tr->batcher, &tr->rng);
            tr->in_epoch = 1;
            tr->step_in_epoch = 0;
            tr->loss_sum = 0.0;
            tr->loss_count = 0;
        }
        curvo_batch batch;
        while (curvo_batcher_next(tr->batcher, &batch)) {
            curvo_step_info info;
            double t0 = now();
            int rc = curvo_optimizer_step(tr->opt, tr->cv, &batch, &info);
            tr->train_seconds += now() - t0;
            if (rc == CURVO_E_NUMERIC || rc == CURVO_E_REJECTED) {
                tr->rejected++;
                if (++tr->consecutive_rejected > MAX_CONSECUTIVE_REJECTIONS)
                    return fail(tr, rc, "%d steps in a row were rejected (last: %s)", tr->consecutive_rejected,
                                curvo_strerror(rc));
            } else if (rc) {
                return fail(tr, rc, "step %lld failed: %s (%s)", (long long)tr->step + 1, curvo_strerror(rc),
                            curvo_curv_errmsg(tr->cv));
            } else {
                tr->consecutive_rejected = 0;
            }
            if (isfinite(info.loss)) tr->loss_sum += info.loss, tr->loss_count++;
            tr->step++;
            tr->step_in_epoch++;
            report_samples += batch.b;
            tr->seconds = base + (now() - t_start);
            int stop = 0;
            if (fn && (tr->step % tr->o.report_every == 0 || tr->step_in_epoch == tr->steps_per_epoch)) {
                base_progress(tr, &p, CURVO_EVENT_STEP);
                double t = now();
                p.loss = info.loss;
                p.info = &info;
                p.samples_per_second = t > t_report ? report_samples / (t - t_report) : 0.0;
                t_report = t;
                report_samples = 0;
                stop = fn(&p, user);
            }
            out_of_time = tr->o.max_seconds > 0 && tr->train_seconds >= tr->o.max_seconds;
            if (tr->step_in_epoch < tr->steps_per_epoch && (out_of_time || tr->train_seconds >= next_eval)) {
                if ((rc = evaluate_event(tr, &p, CURVO_EVENT_EVAL))) return rc;
                if (every > 0) next_eval = tr->train_seconds + every;
                tr->seconds = p.seconds = base + (now() - t_start);
                if (fn) stop |= fn(&p, user);
            }
            if (tr->o.checkpoint_every > 0 && tr->step % tr->o.checkpoint_every == 0) {
                if ((rc = curvo_trainer_save(tr, tr->o.checkpoint_path))) return rc;
                if (fn) {
                    base_progress(tr, &p, CURVO_EVENT_CHECKPOINT);
                    p.checkpoint_path = tr->o.checkpoint_path;
                    stop |= fn(&p, user);
                }
            }
            if (stop) return fail(tr, CURVO_E_CANCELLED, "stopped by request at step %lld", (long long)tr->step);
            if (out_of_time) break;
        }
        if (out_of_time && tr->step_in_epoch < tr->steps_per_epoch) return CURVO_OK; /* spent in mid-epoch */
        int rc = evaluate_event(tr, &p, CURVO_EVENT_EPOCH);
        if (rc) return rc;
        tr->in_epoch = 0;
        tr->epoch++;
        tr->seconds = base + (now() - t_start);
        p.seconds = tr->seconds;
        if (fn && fn(&p, user)) return fail(tr, CURVO_E_CANCELLED, "stopped by request after epoch %d", tr->epoch - 1);
        if (out_of_time) return CURVO_OK;
        if (every > 0) next_eval = tr->train_seconds + every;
    }
    tr->epoch = tr->o.epochs + 1;
    return CURVO_OK;
}

/* ---------------------------------------------------------------- checkpoints */

#define CKPT_KIND "curvo-train-1"

/* The model's description in a buffer grown until it fits (one token per module, so no fixed size holds every
 * model: 900 activations overflowed 4096 bytes and the checkpoint was refused); NULL if out of memory. */
static char *model_spec(const curvo_model *m) {
    for (size_t len = 4096; len <= SIZE_MAX / 2; len *= 2) {
        char *spec = malloc(len);
        if (!spec || curvo_model_describe(m, spec, len) == CURVO_OK) return spec;
        free(spec);
    }
    return NULL;
}

int curvo_trainer_save(curvo_trainer *tr, const char *path) {
    if (!tr || !path) return CURVO_E_INVALID;
    ckpt_writer *w;
    int rc = ckpt_writer_create(&w);
    if (rc) return fail(tr, rc, "checkpoint: out of memory");
    char *spec = NULL;
    int c, h, wd;
    curvo_dataset_shape(tr->train, &c, &h, &wd);
    const curvo_opt_params *op = curvo_optimizer_params(tr->opt);
    size_t n = curvo_model_num_params(tr->model), state_size = curvo_optimizer_state_size(tr->opt);
    void *state = malloc(state_size);
    uint64_t shape[3] = {(uint64_t)c, (uint64_t)h, (uint64_t)wd};
    if (!state) {
        ckpt_writer_free(w);
        return fail(tr, CURVO_E_NOMEM, "checkpoint: out of memory");
    }
    curvo_optimizer_save_state(tr->opt, state, state_size);
    if (!(spec = model_spec(tr->model))) {
        rc = fail(tr, CURVO_E_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    rc = ckpt_put_str(w, "kind", CKPT_KIND);
    if (!rc) rc = ckpt_put_str(w, "model.spec", spec);
    if (!rc) rc = ckpt_put_u64s(w, "model.input", shape, 3);
    if (!rc) rc = ckpt_put_f32s(w, "model.params", curvo_model_params(tr->model), n);
    if (!rc) rc = ckpt_put_u64(w, "loss", (uint64_t)tr->loss);
    if (!rc) rc = ckpt_put_str(w, "opt.algorithm", curvo_algorithm_name(op->algorithm));
    for (int i = 0; !rc && i < curvo_opt_param_count(op->algorithm); i++) {
        const curvo_param_info *pi = curvo_opt_param_info(op->algorithm, i);
        char name[96];
        double v;
        snprintf(name, sizeof name, "opt.param.%s", pi->name);
        curvo_opt_params_get(op, pi->name, &v);
        rc = ckpt_put_f64(w, name, v);
    }
    if (!rc) rc = ckpt_put(w, "opt.state", state, state_size);
    if (!rc) rc = ckpt_put_u64s(w, "rng", tr->rng.s, 4);
    if (!rc) rc = ckpt_put_u64(w, "train.epoch", (uint64_t)tr->epoch);
    if (!rc) rc = ckpt_put_u64(w, "train.in_epoch", (uint64_t)tr->in_epoch);
    if (!rc) rc = ckpt_put_u64(w, "train.step", (uint64_t)tr->step);
    if (!rc) rc = ckpt_put_u64(w, "train.step_in_epoch", (uint64_t)tr->step_in_epoch);
    if (!rc) rc = ckpt_put_u64(w, "train.batch_size", (uint64_t)tr->o.batch_size);
    if (!rc) rc = ckpt_put_u64(w, "train.seed", tr->o.seed);
    if (!rc) rc = ckpt_put_u64(w, "train.epochs", (uint64_t)tr->o.epochs);
    if (!rc) rc = ckpt_put_f64(w, "train.loss_sum", tr->loss_sum);
    if (!rc) rc = ckpt_put_u64(w, "train.loss_count", (uint64_t)tr->loss_count);
    if (!rc) rc = ckpt_put_u64(w, "train.rejected", (uint64_t)tr->rejected);
    if (!rc) rc = ckpt_put_f64(w, "train.seconds", tr->seconds);
    if (!rc) rc = ckpt_put_f64(w, "train.train_seconds", tr->train_seconds);
    if (!rc) rc = ckpt_put_u32s(w, "data.order", curvo_batcher_order(tr->batcher), curvo_dataset_count(tr->train));
    if (!rc) rc = ckpt_put_u64(w, "data.position", curvo_batcher_position(tr->batcher));
    if (rc) {
        rc = fail(tr, rc, "checkpoint: %s", ckpt_writer_errmsg(w));
        goto done;
    }
    if ((rc = ckpt_commit(w, path, tr->errmsg))) goto done;
done:
    free(spec);
    free(state);
    ckpt_writer_free(w);
    return rc;
}

/* Model and loss of an open checkpoint. */
static int read_model(ckpt_reader *r, curvo_model **model, curvo_loss_kind *loss, char *errmsg) {
    const char *kind, *spec;
    uint64_t shape[3], lk;
    int rc = ckpt_get_str(r, "kind", &kind);
    if (rc || strcmp(kind, CKPT_KIND) != 0) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "not a curvo training checkpoint");
        return CURVO_E_FORMAT;
    }
    if ((rc = ckpt_get_str(r, "model.spec", &spec)) || (rc = ckpt_get_u64s(r, "model.input", shape, 3)) ||
        (rc = ckpt_get_u64(r, "loss", &lk))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
        return rc;
    }
    if (lk > CURVO_LOSS_BCE || shape[0] > 65536 || shape[1] > 65536 || shape[2] > 65536) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint holds an invalid loss or input shape");
        return CURVO_E_FORMAT;
    }
    char err[CURVO_ERRMSG_LEN];
    if ((rc = curvo_model_from_spec(spec, (int)shape[0], (int)shape[1], (int)shape[2], model, err))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint's model: %.200s", err);
        return CURVO_E_FORMAT;
    }
    if ((rc = ckpt_get_f32s(r, "model.params", curvo_model_params(*model), curvo_model_num_params(*model)))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
        curvo_model_free(*model);
        *model = NULL;
        return rc;
    }
    *loss = (curvo_loss_kind)lk;
    return CURVO_OK;
}

int curvo_checkpoint_load_model(const char *path, curvo_model **model, curvo_loss_kind *loss, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    if (!path || !model || !loss) return CURVO_E_INVALID;
    *model = NULL;
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    rc = read_model(r, model, loss, errmsg);
    ckpt_close(r);
    return rc;
}

int curvo_trainer_resume(const char *path, const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out,
                         curvo_model **model_out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!out || !model_out || !path || !train || !options) return CURVO_E_INVALID;
    *out = NULL;
    *model_out = NULL;
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    curvo_model *model = NULL;
    curvo_trainer *tr = NULL;
    curvo_loss_kind loss;
    void *order = NULL;
    if ((rc = read_model(r, &model, &loss, errmsg))) goto fail;
    const char *alg_name;
    curvo_opt_params op;
    curvo_algorithm alg;
    if ((rc = ckpt_get_str(r, "opt.algorithm", &alg_name))) goto format;
    if (curvo_algorithm_from_name(alg_name, &alg)) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint uses optimizer '%s', unknown to this curvo", alg_name);
        rc = CURVO_E_FORMAT;
        goto fail;
    }
    curvo_opt_params_init(&op, alg);
    for (int i = 0; i < curvo_opt_param_count(alg); i++) {
        const curvo_param_info *pi = curvo_opt_param_info(alg, i);
        char name[96];
        double v;
        snprintf(name, sizeof name, "opt.param.%s", pi->name);
        if ((rc = ckpt_get_f64(r, name, &v))) goto format;
        if ((rc = curvo_opt_params_set(&op, pi->name, v, errmsg))) {
            rc = CURVO_E_FORMAT;
            goto fail;
        }
    }
    uint64_t epoch, in_epoch, step, step_in_epoch, batch_size, seed, epochs, loss_count, rejected, position;
    double loss_sum, seconds, train_seconds;
    if ((rc = ckpt_get_u64(r, "train.epoch", &epoch)) || (rc = ckpt_get_u64(r, "train.in_epoch", &in_epoch)) ||
        (rc = ckpt_get_u64(r, "train.step", &step)) ||
        (rc = ckpt_get_u64(r, "train.step_in_epoch", &step_in_epoch)) ||
        (rc = ckpt_get_u64(r, "train.batch_size", &batch_size)) || (rc = ckpt_get_u64(r, "train.seed", &seed)) ||
        (rc = ckpt_get_u64(r, "train.epochs", &epochs)) || (rc = ckpt_get_f64(r, "train.loss_sum", &loss_sum)) ||
        (rc = ckpt_get_u64(r, "train.loss_count", &loss_count)) ||
        (rc = ckpt_get_u64(r, "train.rejected", &rejected)) || (rc = ckpt_get_f64(r, "train.seconds", &seconds)) ||
        (rc = ckpt_get_f64(r, "train.train_seconds", &train_seconds)) ||
        (rc = ckpt_get_u64(r, "data.position", &position)))
        goto format;
    if (batch_size < 1 || batch_size > 1u << 30 || epoch < 1 || epoch > 1u << 30 || epochs > 1u << 30 ||
        in_epoch > 1) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: checkpoint holds out-of-range training counters", path);
        rc = CURVO_E_FORMAT;
        goto fail;
    }
    curvo_train_options o = *options;
    o.batch_size = (int)batch_size;
    o.seed = seed;
    if ((uint64_t)o.epochs < epochs) o.epochs = (int)epochs;
    if ((rc = curvo_trainer_create(model, loss, &op, train, test, &o, &tr, errmsg))) goto fail;
    size_t n = curvo_dataset_count(train);
    const void *state;
    size_t state_len;
    if ((rc = ckpt_get(r, "opt.state", &state, &state_len))) goto format;
    if ((rc = curvo_optimizer_load_state(tr->opt, state, state_len))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: the optimizer state does not fit this model", path);
        goto fail;
    }
    if (!(order = malloc(n * sizeof(uint32_t)))) {
        rc = CURVO_E_NOMEM;
        goto fail;
    }
    if ((rc = ckpt_get_u32s(r, "data.order", order, n))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: the checkpoint was made on a training set of another size", path);
        goto fail;
    }
    if ((rc = ckpt_get_u64s(r, "rng", tr->rng.s, 4))) goto format;
    if (in_epoch && (rc = curvo_batcher_restore(tr->batcher, order, n, position))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: invalid data order in the checkpoint", path);
        rc = CURVO_E_FORMAT;
        goto fail;
    }
    tr->epoch = (int)epoch;
    tr->in_epoch = (int)in_epoch;
    tr->step = (int64_t)step;
    tr->step_in_epoch = (int64_t)step_in_epoch;
    tr->loss_sum = loss_sum;
    tr->loss_count = (int64_t)loss_count;
    tr->rejected = (int)rejected;
    tr->seconds = seconds;
    tr->train_seconds = train_seconds;
    free(order);
    ckpt_close(r);
    *out = tr;
    *model_out = model;
    return CURVO_OK;
format:
    snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
fail:
    free(order);
    curvo_trainer_free(tr);
    curvo_model_free(model);
    ckpt_close(r);
    return rc ? rc : CURVO_E_FORMAT;
}
