/* trainer.c — the training loop: epochs of shuffled mini-batches through an optimizer, evaluation
 * after each epoch (and every eval_seconds of optimizer time), a training-time budget, early
 * stopping on the validation loss, progress events to a callback, and periodic checkpoints
 * (written and resumed by checkpoint.c). With a communicator (options.comm) the ranks join at
 * creation (trainer_join: one outcome, the same setup, rank 0's parameters) and agree every step on
 * whether to stop, evaluate or run out of time, so that none is left waiting in a collective. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errmsg.h"
#include "dist/comm.h"
#include "train/evaluate.h"
#include "train/trainer.h"

#define MAX_CONSECUTIVE_REJECTIONS 100

int trainer_fail(curvo_trainer *tr, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(tr->errmsg, fmt, ap);
    va_end(ap);
    return rc;
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
    else if (o->early_stop < 0) bad = "the early-stopping patience must be >= 0";
    if (!bad) return o->schedule ? curvo_schedule_check(o->schedule, errmsg) : CURVO_OK;
    if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", bad);
    return CURVO_E_INVALID;
}

int trainer_create_local(curvo_model *model, curvo_loss_kind loss, const curvo_opt_params *opt,
                         const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out, char *errmsg) {
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
    curvo_schedule_init(&tr->sched);
    if (options->schedule) tr->sched = *options->schedule;
    tr->o.schedule = curvo_schedule_is_none(&tr->sched) ? NULL : &tr->sched;
    tr->epoch = 1;
    tr->best_loss = INFINITY;
    curvo_rng_seed(&tr->rng, options->seed);
    int bs = options->batch_size;
    if ((size_t)bs > curvo_dataset_count(train)) bs = (int)curvo_dataset_count(train);
    tr->o.batch_size = bs;
    tr->steps_per_epoch = (int64_t)((curvo_dataset_count(train) + (size_t)bs - 1) / (size_t)bs);
    if ((rc = curvo_optimizer_create(opt, curvo_model_num_params(model), &tr->opt, errmsg)) ||
        (rc = curvo_curv_create(model, loss, &tr->cv)) ||
        (rc = curvo_batcher_create(train, bs, &tr->batcher)) ||
        (options->early_stop > 0 &&
         !(tr->best_params = malloc(curvo_model_num_params(model) * sizeof *tr->best_params)) &&
         (rc = CURVO_E_NOMEM)) ||
        (options->early_stop > 0 && curvo_model_state_size(model) > 0 &&
         !(tr->best_state = malloc(curvo_model_state_size(model) * sizeof *tr->best_state)) && (rc = CURVO_E_NOMEM))) {
        if (!errmsg[0]) snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: %s", curvo_strerror(rc));
        curvo_trainer_free(tr);
        return rc;
    }
    *out = tr;
    return CURVO_OK;
}

int trainer_join(curvo_trainer **trp, int rc, curvo_comm *comm, char *errmsg) {
    int N = curvo_comm_size(comm), from;
    if (!rc && *trp) curvo_curv_set_comm((*trp)->cv, comm);
    if (N == 1) return rc;
    int agreed = dist_agree(comm, rc, &from);
    if (agreed && !rc && from >= 0)
        snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: rank %d failed: %s", from, curvo_strerror(agreed));
    else if (agreed && !rc)
        snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: %s", curvo_comm_errmsg(comm));
    curvo_trainer *tr = *trp;
    if (!agreed) { /* the same setup everywhere, then rank 0's parameters */
        size_t n = curvo_model_num_params(tr->model);
        int64_t mine[7] = {(int64_t)n, (int64_t)curvo_dataset_count(tr->train),
                           tr->test ? (int64_t)curvo_dataset_count(tr->test) : -1, tr->o.batch_size,
                           (int64_t)tr->o.seed, curvo_optimizer_params(tr->opt)->algorithm, tr->loss};
        int64_t *all = malloc((size_t)N * sizeof mine);
        agreed = all ? dist_allgather(comm, mine, sizeof mine, all) : CURVO_E_NOMEM;
        for (int r = 1; !agreed && r < N; r++)
            if (memcmp(all, all + 7 * r, sizeof mine)) {
                snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: rank %d has another model, data size, batch size, seed, "
                         "optimizer or loss than rank 0", r);
                agreed = CURVO_E_INVALID;
            }
        free(all);
        if (!agreed) agreed = dist_bcast(comm, curvo_model_params(tr->model), n * sizeof(float), 0);
        if (agreed == CURVO_E_IO) snprintf(errmsg, CURVO_ERRMSG_LEN, "trainer: %s", curvo_comm_errmsg(comm));
    }
    if (agreed) {
        curvo_trainer_free(*trp);
        *trp = NULL;
    }
    return agreed;
}

int curvo_trainer_create(curvo_model *model, curvo_loss_kind loss, const curvo_opt_params *opt,
                         const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!out) return CURVO_E_INVALID;
    int rc = trainer_create_local(model, loss, opt, train, test, options, out, errmsg);
    return trainer_join(out, rc, options ? options->comm : NULL, errmsg);
}

void curvo_trainer_free(curvo_trainer *tr) {
    if (!tr) return;
    curvo_optimizer_free(tr->opt);
    curvo_curv_free(tr->cv);
    curvo_curv_free(tr->eval_cv);
    curvo_batcher_free(tr->batcher);
    free(tr->best_params);
    free(tr->best_state);
    free((char *)tr->data.source);
    free((char *)tr->data.target);
    free(tr);
}

const char *curvo_trainer_errmsg(const curvo_trainer *tr) { return tr ? tr->errmsg : ""; }
int curvo_trainer_best_epoch(const curvo_trainer *tr) { return tr ? tr->best_epoch : 0; }
int curvo_trainer_stopped_early(const curvo_trainer *tr) { return tr ? tr->stopped_early : 0; }

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
    p->lr_factor = tr->o.schedule ? curvo_schedule_factor(tr->o.schedule, tr->step > 0 ? tr->step - 1 : 0,
                                                          tr->steps_per_epoch)
                                  : NAN;
    p->best_epoch = tr->best_epoch;
    p->best_val_loss = tr->best_epoch > 0 ? tr->best_loss : NAN;
}

/* Early stopping after an epoch's evaluation p: a lower validation loss keeps the parameters and
 * restarts the patience; 1 when the patience ran out, with the best parameters back in the model. */
static int early_stop_check(curvo_trainer *tr, curvo_progress *p) {
    size_t n = curvo_model_num_params(tr->model);
    if (isfinite(p->val_loss) && p->val_loss < tr->best_loss) {
        tr->best_loss = p->val_loss;
        tr->best_epoch = p->epoch;
        tr->since_best = 0;
        memcpy(tr->best_params, curvo_model_params(tr->model), n * sizeof *tr->best_params);
        if (tr->best_state) /* the running statistics that go with them */
            memcpy(tr->best_state, curvo_model_state(tr->model), curvo_model_state_size(tr->model) * sizeof(float));
    } else {
        tr->since_best++;
    }
    p->best_epoch = tr->best_epoch;
    p->best_val_loss = tr->best_epoch > 0 ? tr->best_loss : NAN;
    if (tr->since_best < tr->o.early_stop) return 0;
    if (tr->best_epoch > 0) memcpy(curvo_model_params(tr->model), tr->best_params, n * sizeof *tr->best_params);
    if (tr->best_epoch > 0 && tr->best_state)
        memcpy(curvo_model_state(tr->model), tr->best_state, curvo_model_state_size(tr->model) * sizeof(float));
    tr->stopped_early = 1;
    return 1;
}

/* Loss and metric (accuracy or RMSE; MAE and R^2 for regression) of the model on d; a loss that is
 * not finite (a NaN in the data, or weights gone huge) is reported as an infinite loss and NaN
 * metrics (null in logs), and training goes on. */
static int evaluate_on(curvo_trainer *tr, const curvo_dataset *d, const char *what, double *loss, double *metric,
                       double *mae, double *r2) {
    curvo_metrics m;
    int rc = CURVO_OK;
    if (!tr->eval_cv && !(rc = curvo_curv_create(tr->model, tr->loss, &tr->eval_cv)) &&
        (rc = curvo_curv_set_comm(tr->eval_cv, tr->o.comm))) {
        curvo_curv_free(tr->eval_cv);
        tr->eval_cv = NULL;
    }
    if (!rc) rc = train_evaluate_in(tr->eval_cv, d, tr->o.eval_batch_size, &m, NULL);
    if (rc == CURVO_E_NUMERIC) {
        *loss = INFINITY;
        *metric = *mae = *r2 = NAN;
        return CURVO_OK;
    }
    if (rc) return trainer_fail(tr, rc, "evaluation on the %s set failed: %s", what, curvo_strerror(rc));
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

/* With processes: the flags (0 or 1; out_of_time and eval_due may be NULL) become their logical or over
 * the ranks, so that every rank stops, evaluates or runs out of time after the same step. */
static int agree_flags(curvo_trainer *tr, int *stop, int *out_of_time, int *eval_due) {
    int flags = (*stop != 0) | (out_of_time && *out_of_time) << 1 | (eval_due && *eval_due) << 2;
    int rc = dist_or_int(tr->o.comm, &flags);
    if (rc) return trainer_fail(tr, rc, "the processes could not agree to go on: %s", curvo_comm_errmsg(tr->o.comm));
    *stop = flags & 1;
    if (out_of_time) *out_of_time = (flags >> 1) & 1;
    if (eval_due) *eval_due = (flags >> 2) & 1;
    return CURVO_OK;
}

int curvo_trainer_run(curvo_trainer *tr, curvo_progress_fn fn, void *user) {
    if (!tr) return CURVO_E_INVALID;
    tr->errmsg[0] = '\0';
    double t_start = core_seconds(), t_report = t_start, base = tr->seconds;
    int64_t report_samples = 0;
    curvo_progress p;
    const double every = tr->o.eval_seconds;
    double next_eval = every > 0 ? tr->train_seconds + every : INFINITY; /* after the previous evaluation */
    int out_of_time = 0;
    if (tr->o.early_stop > 0 && !tr->val)
        return trainer_fail(tr, CURVO_E_INVALID, "early stopping needs a validation set");
    while (tr->epoch <= tr->o.epochs && !tr->stopped_early) {
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
            double t0 = core_seconds();
            curvo_model_set_training(tr->model, 1); /* steps in training mode (evaluations switch) */
            curvo_optimizer_set_scale(tr->opt, curvo_schedule_factor(tr->o.schedule, tr->step, tr->steps_per_epoch));
            int rc = curvo_optimizer_step(tr->opt, tr->cv, &batch, &info);
            tr->train_seconds += core_seconds() - t0;
            if (rc == CURVO_E_NUMERIC || rc == CURVO_E_REJECTED) {
                tr->rejected++;
                if (++tr->consecutive_rejected > MAX_CONSECUTIVE_REJECTIONS)
                    return trainer_fail(tr, rc, "%d steps in a row were rejected (last: %s)", tr->consecutive_rejected,
                                        curvo_strerror(rc));
            } else if (rc) {
                return trainer_fail(tr, rc, "step %lld failed: %s (%s)", (long long)tr->step + 1, curvo_strerror(rc),
                                    curvo_curv_errmsg(tr->cv));
            } else {
                tr->consecutive_rejected = 0;
            }
            if (isfinite(info.loss)) tr->loss_sum += info.loss, tr->loss_count++;
            tr->step++;
            tr->step_in_epoch++;
            report_samples += batch.b;
            tr->seconds = base + (core_seconds() - t_start);
            int stop = 0, late = 0; /* late: a callback ran after the step's agreement */
            if (fn && (tr->step % tr->o.report_every == 0 || tr->step_in_epoch == tr->steps_per_epoch)) {
                base_progress(tr, &p, CURVO_EVENT_STEP);
                double t = core_seconds();
                p.loss = info.loss;
                p.info = &info;
                p.samples_per_second = t > t_report ? report_samples / (t - t_report) : 0.0;
                t_report = t;
                report_samples = 0;
                stop = fn(&p, user) != 0;
            }
            out_of_time = tr->o.max_seconds > 0 && tr->train_seconds >= tr->o.max_seconds;
            int eval_due = tr->train_seconds >= next_eval;
            if ((rc = agree_flags(tr, &stop, &out_of_time, &eval_due))) return rc;
            if (tr->step_in_epoch < tr->steps_per_epoch && (out_of_time || eval_due)) {
                if ((rc = evaluate_event(tr, &p, CURVO_EVENT_EVAL))) return rc;
                if (every > 0) next_eval = tr->train_seconds + every;
                tr->seconds = p.seconds = base + (core_seconds() - t_start);
                if (fn) stop |= fn(&p, user) != 0, late = 1;
            }
            if (tr->o.checkpoint_every > 0 && tr->step % tr->o.checkpoint_every == 0) {
                if ((rc = curvo_trainer_save(tr, tr->o.checkpoint_path))) return rc;
                if (fn) {
                    base_progress(tr, &p, CURVO_EVENT_CHECKPOINT);
                    p.checkpoint_path = tr->o.checkpoint_path;
                    stop |= fn(&p, user) != 0, late = 1;
                }
            }
            if (late && (rc = agree_flags(tr, &stop, NULL, NULL))) return rc;
            if (stop) return trainer_fail(tr, CURVO_E_CANCELLED, "stopped by request at step %lld", (long long)tr->step);
            if (out_of_time) break;
        }
        if (out_of_time && tr->step_in_epoch < tr->steps_per_epoch) return CURVO_OK; /* spent in mid-epoch */
        int rc = evaluate_event(tr, &p, CURVO_EVENT_EPOCH);
        if (rc) return rc;
        int stop_early = tr->o.early_stop > 0 && early_stop_check(tr, &p);
        tr->in_epoch = 0;
        tr->epoch++;
        tr->seconds = base + (core_seconds() - t_start);
        p.seconds = tr->seconds;
        int stop = fn && fn(&p, user);
        if ((rc = agree_flags(tr, &stop, NULL, NULL))) return rc;
        if (stop) return trainer_fail(tr, CURVO_E_CANCELLED, "stopped by request after epoch %d", tr->epoch - 1);
        if (stop_early) { /* an evaluation of the parameters kept */
            if ((rc = evaluate_event(tr, &p, CURVO_EVENT_EARLY_STOP))) return rc;
            p.epoch = tr->epoch - 1;
            if (fn) fn(&p, user);
            return CURVO_OK;
        }
        if (out_of_time) return CURVO_OK;
        if (every > 0) next_eval = tr->train_seconds + every;
    }
    return CURVO_OK;
}
