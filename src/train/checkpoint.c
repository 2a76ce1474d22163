/* checkpoint.c — saving a trainer to a checkpoint and resuming one from it, reading a checkpoint's
 * model and what it says about its run. The trainer's counters and options live in ONE table of
 * keys (train_keys) that save, resume and curvo_checkpoint_read_info all walk; the model, the
 * optimizer, the data order and the data record's strings and statistics are sections of their own.
 *
 * Kinds: "curvo-train-2" (written) adds early stopping, the checkpoint interval, the log path and
 * the data record (source, split, sizes, fingerprint, standardization) to "curvo-train-1", which
 * still loads (the new keys take their defaults: no early stopping, no data record). The optional
 * "train.schedule" (the learning-rate schedule's canonical spec) is absent from checkpoints of runs
 * without one and from those written before schedules: both resume with none.
 *
 * With processes (the trainer's comm): rank 0 alone writes, and the ranks agree on the outcome of a
 * save; every rank reads the checkpoint it resumes from (so it must be readable by all), and they
 * agree on the outcome and take rank 0's parameters (trainer_join). Nothing saved depends on the
 * number of processes. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/comm.h"
#include "io/ckpt.h"
#include "train/trainer.h"

#define CKPT_KIND "curvo-train-2"
#define CKPT_KIND_V1 "curvo-train-1"

/* ---------------------------------------------------------------- the table of keys */

typedef enum { K_INT, K_I64, K_U64, K_U32, K_F64 } key_type;

enum {
    K_STATE = 1, /* progress of the run: resume copies it into the new trainer */
    K_RUN = 2,   /* part of the run's definition: resume takes it over the caller's options */
    K_INFO = 4,  /* the caller's to change on resume (planned epochs, interval): only reported */
    K_DATA = 8   /* part of the data record: written and read only when the run has one */
};

typedef struct {
    const char *name;
    key_type type;
    size_t offset;     /* in struct curvo_trainer */
    uint64_t min, max; /* integer keys: the range a checkpoint may hold */
    int since;         /* the kind's version that introduced the key */
    int flags;
} train_key;

#define KEY(name, type, member, min, max, since, flags) \
    {name, type, offsetof(struct curvo_trainer, member), min, max, since, flags}
#define BIG ((uint64_t)1 << 62)
static const train_key train_keys[] = {
    KEY("train.epoch", K_INT, epoch, 1, 1u << 30, 1, K_STATE),
    KEY("train.in_epoch", K_INT, in_epoch, 0, 1, 1, K_STATE),
    KEY("train.step", K_I64, step, 0, BIG, 1, K_STATE),
    KEY("train.step_in_epoch", K_I64, step_in_epoch, 0, BIG, 1, K_STATE),
    KEY("train.batch_size", K_INT, o.batch_size, 1, 1u << 30, 1, K_RUN),
    KEY("train.seed", K_U64, o.seed, 0, UINT64_MAX, 1, K_RUN),
    KEY("train.epochs", K_INT, o.epochs, 0, 1u << 30, 1, K_INFO),
    KEY("train.loss_sum", K_F64, loss_sum, 0, 0, 1, K_STATE),
    KEY("train.loss_count", K_I64, loss_count, 0, BIG, 1, K_STATE),
    KEY("train.rejected", K_INT, rejected, 0, 1u << 30, 1, K_STATE),
    KEY("train.seconds", K_F64, seconds, 0, 0, 1, K_STATE),
    KEY("train.train_seconds", K_F64, train_seconds, 0, 0, 1, K_STATE),
    KEY("train.checkpoint_every", K_I64, o.checkpoint_every, 0, BIG, 2, K_INFO),
    KEY("train.early_stop", K_INT, o.early_stop, 0, 1u << 30, 2, K_RUN),
    KEY("train.best_epoch", K_INT, best_epoch, 0, 1u << 30, 2, K_STATE),
    KEY("train.since_best", K_INT, since_best, 0, 1u << 30, 2, K_STATE),
    KEY("train.stopped_early", K_INT, stopped_early, 0, 1, 2, K_STATE),
    KEY("train.best_loss", K_F64, best_loss, 0, 0, 2, K_STATE),
    KEY("data.test_fraction", K_F64, data.test_fraction, 0, 0, 2, K_DATA),
    KEY("data.split_seed", K_U64, data.split_seed, 0, UINT64_MAX, 2, K_DATA),
    KEY("data.regression", K_INT, data.force_regression, 0, 1, 2, K_DATA),
    KEY("data.classes", K_INT, data.force_classes, 0, 1, 2, K_DATA),
    KEY("data.val_fraction", K_F64, data.val_fraction, 0, 0, 2, K_DATA),
    KEY("data.val_seed", K_U64, data.val_seed, 0, UINT64_MAX, 2, K_DATA),
    KEY("data.crc32", K_U32, data.crc32, 0, UINT32_MAX, 2, K_DATA),
    KEY("data.bytes", K_U64, data.bytes, 0, UINT64_MAX, 2, K_DATA),
};
#define NUM_KEYS (sizeof train_keys / sizeof train_keys[0])

static size_t key_size(key_type t) {
    return t == K_INT ? sizeof(int) : t == K_U32 ? sizeof(uint32_t) : sizeof(uint64_t);
}

static int put_key(ckpt_writer *w, const train_key *k, const struct curvo_trainer *t) {
    const char *at = (const char *)t + k->offset;
    switch (k->type) {
    case K_INT: return ckpt_put_u64(w, k->name, (uint64_t)*(const int *)at);
    case K_I64: return ckpt_put_u64(w, k->name, (uint64_t)*(const int64_t *)at);
    case K_U64: return ckpt_put_u64(w, k->name, *(const uint64_t *)at);
    case K_U32: return ckpt_put_u64(w, k->name, *(const uint32_t *)at);
    case K_F64: return ckpt_put_f64(w, k->name, *(const double *)at);
    }
    return CURVO_E_INVALID;
}

/* Reads every key of the kind's version into t (zeroed by the caller, best_loss INFINITY) and
 * checks the integer ranges. */
static int read_keys(ckpt_reader *r, int version, int has_data, struct curvo_trainer *t, char *errmsg) {
    for (size_t i = 0; i < NUM_KEYS; i++) {
        const train_key *k = &train_keys[i];
        if (k->since > version || ((k->flags & K_DATA) && !has_data)) continue;
        char *at = (char *)t + k->offset;
        uint64_t v;
        double f;
        int rc = k->type == K_F64 ? ckpt_get_f64(r, k->name, &f) : ckpt_get_u64(r, k->name, &v);
        if (rc) {
            snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
            return rc;
        }
        if (k->type != K_F64 && (v < k->min || v > k->max)) {
            snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint holds an out-of-range %s (%llu)", k->name,
                     (unsigned long long)v);
            return CURVO_E_FORMAT;
        }
        switch (k->type) {
        case K_INT: *(int *)at = (int)v; break;
        case K_I64: *(int64_t *)at = (int64_t)v; break;
        case K_U64: *(uint64_t *)at = v; break;
        case K_U32: *(uint32_t *)at = (uint32_t)v; break;
        case K_F64: *(double *)at = f; break;
        }
    }
    return CURVO_OK;
}

/* ---------------------------------------------------------------- saving */

int train_put_opt(ckpt_writer *w, const curvo_opt_params *op) {
    int rc = ckpt_put_str(w, "opt.algorithm", curvo_algorithm_name(op->algorithm));
    for (int i = 0; !rc && i < curvo_opt_param_count(op->algorithm); i++) {
        const curvo_param_info *pi = curvo_opt_param_info(op->algorithm, i);
        char name[96];
        double v;
        snprintf(name, sizeof name, "opt.param.%s", pi->name);
        curvo_opt_params_get(op, pi->name, &v);
        rc = ckpt_put_f64(w, name, v);
    }
    return rc;
}

/* The data record's strings, the sets' sizes and the training set's standardization. */
static int put_data(ckpt_writer *w, const curvo_trainer *tr) {
    curvo_standardization s;
    curvo_dataset_standardization(tr->train, &s);
    int rc = ckpt_put_u64(w, "data.train_count", curvo_dataset_count(tr->train));
    if (!rc) rc = ckpt_put_u64(w, "data.test_count", tr->test ? curvo_dataset_count(tr->test) : 0);
    if (!rc) rc = ckpt_put_u64(w, "data.val_count", tr->val ? curvo_dataset_count(tr->val) : 0);
    if (!rc) rc = ckpt_put_f64s(w, "data.feature_mean", s.feature_mean, s.features);
    if (!rc) rc = ckpt_put_f64s(w, "data.feature_std", s.feature_std, s.features);
    if (!rc) rc = ckpt_put_u64(w, "data.target_standardized", (uint64_t)s.target);
    if (!rc) rc = ckpt_put_f64(w, "data.target_mean", s.target_mean);
    if (!rc) rc = ckpt_put_f64(w, "data.target_std", s.target_std);
    if (!rc && tr->has_data) rc = ckpt_put_str(w, "data.source", tr->data.source);
    if (!rc && tr->has_data) rc = ckpt_put_str(w, "data.target", tr->data.target ? tr->data.target : "target");
    return rc;
}

/* The learning-rate schedule as its canonical spec ("train.schedule"; absent: none). */
static int put_schedule(ckpt_writer *w, const curvo_schedule *s) {
    char spec[2048];
    int rc = curvo_schedule_format(s, spec, sizeof spec);
    return rc ? rc : ckpt_put_str(w, "train.schedule", spec);
}

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

/* Writes the checkpoint from this process. */
static int save_local(curvo_trainer *tr, const char *path) {
    ckpt_writer *w;
    int rc = ckpt_writer_create(&w);
    if (rc) return trainer_fail(tr, rc, "checkpoint: out of memory");
    char *spec = NULL;
    int c, h, wd;
    curvo_dataset_shape(tr->train, &c, &h, &wd);
    size_t n = curvo_model_num_params(tr->model), state_size = curvo_optimizer_state_size(tr->opt);
    void *state = malloc(state_size);
    uint64_t shape[3] = {(uint64_t)c, (uint64_t)h, (uint64_t)wd};
    if (!state) {
        ckpt_writer_free(w);
        return trainer_fail(tr, CURVO_E_NOMEM, "checkpoint: out of memory");
    }
    curvo_optimizer_save_state(tr->opt, state, state_size);
    if (!(spec = model_spec(tr->model))) {
        rc = trainer_fail(tr, CURVO_E_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    rc = ckpt_put_str(w, "kind", CKPT_KIND);
    if (!rc) rc = ckpt_put_str(w, "model.spec", spec);
    if (!rc) rc = ckpt_put_u64s(w, "model.input", shape, 3);
    if (!rc) rc = ckpt_put_f32s(w, "model.params", curvo_model_params(tr->model), n);
    if (!rc && tr->best_params && tr->best_epoch > 0) rc = ckpt_put_f32s(w, "model.best_params", tr->best_params, n);
    size_t ns = curvo_model_state_size(tr->model); /* batchnorm's running statistics, when there are any */
    if (!rc && ns) rc = ckpt_put_f32s(w, "model.state", curvo_model_state(tr->model), ns);
    if (!rc && ns && tr->best_state && tr->best_epoch > 0) rc = ckpt_put_f32s(w, "model.best_state", tr->best_state, ns);
    if (!rc) rc = ckpt_put_u64(w, "loss", (uint64_t)tr->loss);
    if (!rc) rc = train_put_opt(w, curvo_optimizer_params(tr->opt));
    if (!rc) rc = ckpt_put(w, "opt.state", state, state_size);
    if (!rc) rc = ckpt_put_u64s(w, "rng", tr->rng.s, 4);
    for (size_t i = 0; !rc && i < NUM_KEYS; i++)
        if (!(train_keys[i].flags & K_DATA) || tr->has_data) rc = put_key(w, &train_keys[i], tr);
    if (!rc) rc = ckpt_put_u32s(w, "data.order", curvo_batcher_order(tr->batcher), curvo_dataset_count(tr->train));
    if (!rc) rc = ckpt_put_u64(w, "data.position", curvo_batcher_position(tr->batcher));
    if (!rc) rc = put_data(w, tr);
    if (!rc && tr->o.log_path) rc = ckpt_put_str(w, "run.log", tr->o.log_path);
    if (!rc && tr->o.schedule) rc = put_schedule(w, tr->o.schedule);
    if (rc) {
        rc = trainer_fail(tr, rc, "checkpoint: %s", ckpt_writer_errmsg(w));
        goto done;
    }
    rc = ckpt_commit(w, path, tr->errmsg);
done:
    free(spec);
    free(state);
    ckpt_writer_free(w);
    return rc;
}

int curvo_trainer_save(curvo_trainer *tr, const char *path) {
    if (!tr || !path) return CURVO_E_INVALID;
    curvo_comm *comm = tr->o.comm;
    int rc = curvo_comm_rank(comm) == 0 ? save_local(tr, path) : CURVO_OK;
    if (curvo_comm_size(comm) == 1) return rc;
    int from, agreed = dist_agree(comm, rc, &from);
    if (agreed && !rc && from >= 0) return trainer_fail(tr, agreed, "checkpoint: rank %d could not write %s", from, path);
    if (agreed && !rc) return trainer_fail(tr, agreed, "checkpoint: %s", curvo_comm_errmsg(comm));
    return agreed;
}

/* ---------------------------------------------------------------- reading */

/* The kind's version (1 or 2), or 0 with a message if the file is no training checkpoint. */
static int read_version(ckpt_reader *r, char *errmsg) {
    const char *kind;
    if (!ckpt_get_str(r, "kind", &kind)) {
        if (!strcmp(kind, CKPT_KIND)) return 2;
        if (!strcmp(kind, CKPT_KIND_V1)) return 1;
    }
    snprintf(errmsg, CURVO_ERRMSG_LEN, "not a curvo training checkpoint");
    return 0;
}

static int has_section(const ckpt_reader *r, const char *name);

/* Model and loss of an open checkpoint; its state (running statistics) from "model.state", or the
 * defaults (mean 0, variance 1) for a checkpoint without one (written before it existed). */
static int read_model(ckpt_reader *r, curvo_model **model, curvo_loss_kind *loss, char *errmsg) {
    const char *spec;
    uint64_t shape[3], lk;
    int rc;
    if (!read_version(r, errmsg)) return CURVO_E_FORMAT;
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
    size_t ns = curvo_model_state_size(*model);
    if ((rc = ckpt_get_f32s(r, "model.params", curvo_model_params(*model), curvo_model_num_params(*model))) ||
        (ns && has_section(r, "model.state") && (rc = ckpt_get_f32s(r, "model.state", curvo_model_state(*model), ns)))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
        curvo_model_free(*model);
        *model = NULL;
        return rc;
    }
    *loss = (curvo_loss_kind)lk;
    return CURVO_OK;
}

static int has_section(const ckpt_reader *r, const char *name) {
    for (size_t i = 0; i < ckpt_num_sections(r); i++)
        if (!strcmp(ckpt_section_name(r, i), name)) return 1;
    return 0;
}

int train_read_opt(ckpt_reader *r, curvo_opt_params *op, char *errmsg) {
    const char *alg_name;
    curvo_algorithm alg;
    int rc;
    if ((rc = ckpt_get_str(r, "opt.algorithm", &alg_name))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
        return rc;
    }
    if (curvo_algorithm_from_name(alg_name, &alg)) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint uses optimizer '%s', unknown to this curvo", alg_name);
        return CURVO_E_FORMAT;
    }
    curvo_opt_params_init(op, alg);
    for (int i = 0; i < curvo_opt_param_count(alg); i++) {
        const curvo_param_info *pi = curvo_opt_param_info(alg, i);
        char name[96];
        double v;
        snprintf(name, sizeof name, "opt.param.%s", pi->name);
        if (!has_section(r, name)) continue; /* a parameter newer than the checkpoint keeps its default */
        if ((rc = ckpt_get_f64(r, name, &v))) {
            snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
            return rc;
        }
        if (curvo_opt_params_set(op, pi->name, v, errmsg)) return CURVO_E_FORMAT;
    }
    return CURVO_OK;
}

/* The schedule of a checkpoint into s: none when it has none (made before schedules, or without). */
static int read_schedule(ckpt_reader *r, curvo_schedule *s, char *errmsg) {
    const char *spec;
    char err[CURVO_ERRMSG_LEN];
    curvo_schedule_init(s);
    if (!has_section(r, "train.schedule")) return CURVO_OK;
    if (ckpt_get_str(r, "train.schedule", &spec) || curvo_schedule_parse(spec, s, err)) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "checkpoint holds an invalid learning-rate schedule");
        return CURVO_E_FORMAT;
    }
    return CURVO_OK;
}

/* The version, and the table's keys into t (zeroed here). */
static int read_run(ckpt_reader *r, int *version, struct curvo_trainer *t, char *errmsg) {
    memset(t, 0, sizeof *t);
    t->best_loss = INFINITY;
    if (!(*version = read_version(r, errmsg))) return CURVO_E_FORMAT;
    const char *source;
    t->has_data = *version >= 2 && !ckpt_get_str(r, "data.source", &source);
    return read_keys(r, *version, t->has_data, t, errmsg);
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

static char *dup_str(const char *s) {
    if (!s) return NULL;
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

int curvo_trainer_set_data_record(curvo_trainer *tr, const curvo_data_record *rec) {
    if (!tr || !rec || !rec->source) return CURVO_E_INVALID;
    char *source = dup_str(rec->source), *target = dup_str(rec->target ? rec->target : "target");
    if (!source || !target) {
        free(source);
        free(target);
        return trainer_fail(tr, CURVO_E_NOMEM, "data record: out of memory");
    }
    free((char *)tr->data.source);
    free((char *)tr->data.target);
    tr->data = *rec;
    tr->data.source = source;
    tr->data.target = target;
    tr->has_data = 1;
    return CURVO_OK;
}

/* curvo_trainer_resume on this process alone: *out and *model_out are set on success. */
static int resume_local(const char *path, const curvo_dataset *train, const curvo_dataset *test,
                        const curvo_train_options *options, curvo_trainer **out, curvo_model **model_out,
                        char *errmsg) {
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    curvo_model *model = NULL;
    curvo_trainer *tr = NULL;
    curvo_loss_kind loss;
    uint32_t *order = NULL;
    curvo_opt_params op;
    struct curvo_trainer saved;
    int version;
    uint64_t position;
    curvo_schedule sched;
    if ((rc = read_model(r, &model, &loss, errmsg)) || (rc = train_read_opt(r, &op, errmsg)) ||
        (rc = read_run(r, &version, &saved, errmsg)) || (rc = read_schedule(r, &sched, errmsg)))
        goto fail;
    if ((rc = ckpt_get_u64(r, "data.position", &position))) goto format;
    curvo_train_options o = *options;
    o.schedule = &sched; /* the run's schedule, like its batch size and seed */
    for (size_t i = 0; i < NUM_KEYS; i++) /* the run's definition comes from the checkpoint */
        if (train_keys[i].flags & K_RUN)
            memcpy((char *)&o + (train_keys[i].offset - offsetof(struct curvo_trainer, o)),
                   (const char *)&saved + train_keys[i].offset, key_size(train_keys[i].type));
    if ((rc = trainer_create_local(model, loss, &op, train, test, &o, &tr, errmsg))) goto fail;
    for (size_t i = 0; i < NUM_KEYS; i++)
        if (train_keys[i].flags & K_STATE)
            memcpy((char *)tr + train_keys[i].offset, (const char *)&saved + train_keys[i].offset,
                   key_size(train_keys[i].type));
    if (saved.has_data) {
        const char *source, *target;
        if ((rc = ckpt_get_str(r, "data.source", &source)) || (rc = ckpt_get_str(r, "data.target", &target)))
            goto format;
        saved.data.source = source;
        saved.data.target = target;
        if ((rc = curvo_trainer_set_data_record(tr, &saved.data))) goto fail;
    }
    size_t n = curvo_dataset_count(train);
    const void *state;
    size_t state_len;
    if ((rc = ckpt_get(r, "opt.state", &state, &state_len))) goto format;
    if ((rc = curvo_optimizer_load_state(tr->opt, state, state_len))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: the optimizer state does not fit this model", path);
        goto fail;
    }
    if (tr->best_params && tr->best_epoch > 0 &&
        (rc = ckpt_get_f32s(r, "model.best_params", tr->best_params, curvo_model_num_params(model))))
        goto format;
    if (tr->best_state) { /* a checkpoint without it: the statistics saved with the parameters */
        size_t ns = curvo_model_state_size(model);
        memcpy(tr->best_state, curvo_model_state(model), ns * sizeof(float));
        if (tr->best_epoch > 0 && has_section(r, "model.best_state") &&
            (rc = ckpt_get_f32s(r, "model.best_state", tr->best_state, ns)))
            goto format;
    }
    if (!(order = malloc(n * sizeof *order))) {
        rc = CURVO_E_NOMEM;
        goto fail;
    }
    if ((rc = ckpt_get_u32s(r, "data.order", order, n))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: the checkpoint was made on a training set of another size", path);
        goto fail;
    }
    if ((rc = ckpt_get_u64s(r, "rng", tr->rng.s, 4))) goto format;
    if (tr->in_epoch && (rc = curvo_batcher_restore(tr->batcher, order, n, position))) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: invalid data order in the checkpoint", path);
        rc = CURVO_E_FORMAT;
        goto fail;
    }
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

int curvo_trainer_resume(const char *path, const curvo_dataset *train, const curvo_dataset *test,
                         const curvo_train_options *options, curvo_trainer **out,
                         curvo_model **model_out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!out || !model_out || !path || !train || !options) return CURVO_E_INVALID;
    *out = NULL;
    *model_out = NULL;
    int rc = resume_local(path, train, test, options, out, model_out, errmsg);
    if ((rc = trainer_join(out, rc, options->comm, errmsg))) {
        curvo_model_free(*model_out);
        *model_out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- checkpoint info */

/* The public struct and the allocations its pointers refer to. */
typedef struct {
    curvo_checkpoint_info info; /* first: the caller's pointer is this block's */
    char *kind, *spec, *source, *target, *log;
    double *stats;              /* (2, features): means, then standard deviations */
} info_block;

void curvo_checkpoint_info_free(curvo_checkpoint_info *info) {
    info_block *b = (info_block *)info;
    if (!b) return;
    free(b->kind);
    free(b->spec);
    free(b->source);
    free(b->target);
    free(b->log);
    free(b->stats);
    free(b);
}

/* A copy of an optional string section (NULL when absent); 0 only when out of memory. */
static int copy_str(ckpt_reader *r, const char *name, char **out) {
    const char *s;
    *out = NULL;
    if (ckpt_get_str(r, name, &s)) return 1;
    return (*out = dup_str(s)) != NULL;
}

/* The sizes and the standardization of a v2 checkpoint. */
static int read_data(ckpt_reader *r, info_block *b) {
    curvo_checkpoint_info *in = &b->info;
    uint64_t counts[3], flag = 0;
    static const char *const count_keys[3] = {"data.train_count", "data.test_count", "data.val_count"};
    for (int i = 0; i < 3; i++)
        if (ckpt_get_u64(r, count_keys[i], &counts[i])) return CURVO_E_FORMAT;
    in->train_count = (size_t)counts[0];
    in->test_count = (size_t)counts[1];
    in->val_count = (size_t)counts[2];
    const void *data;
    size_t len, features;
    if (ckpt_get(r, "data.feature_mean", &data, &len)) return CURVO_E_FORMAT;
    features = len / sizeof(double);
    if (features) {
        if (!(b->stats = malloc(2 * features * sizeof *b->stats))) return CURVO_E_NOMEM;
        if (ckpt_get_f64s(r, "data.feature_mean", b->stats, features) ||
            ckpt_get_f64s(r, "data.feature_std", b->stats + features, features))
            return CURVO_E_FORMAT;
        in->standardization.features = features;
        in->standardization.feature_mean = b->stats;
        in->standardization.feature_std = b->stats + features;
    }
    if (ckpt_get_u64(r, "data.target_standardized", &flag) ||
        ckpt_get_f64(r, "data.target_mean", &in->standardization.target_mean) ||
        ckpt_get_f64(r, "data.target_std", &in->standardization.target_std))
        return CURVO_E_FORMAT;
    in->standardization.target = flag != 0;
    return CURVO_OK;
}

int curvo_checkpoint_read_info(const char *path, curvo_checkpoint_info **out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!path || !out) return CURVO_E_INVALID;
    *out = NULL;
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, errmsg);
    if (rc) return rc;
    info_block *b = calloc(1, sizeof *b);
    struct curvo_trainer *t = malloc(sizeof *t);
    curvo_model *model = NULL;
    if (!b || !t) {
        rc = CURVO_E_NOMEM;
        goto done;
    }
    curvo_checkpoint_info *in = &b->info;
    int version;
    if ((rc = read_model(r, &model, &in->loss, errmsg)) || (rc = train_read_opt(r, &in->opt, errmsg)) ||
        (rc = read_run(r, &version, t, errmsg)) || (rc = read_schedule(r, &in->schedule, errmsg)))
        goto done;
    uint64_t shape[3];
    if ((rc = ckpt_get_u64s(r, "model.input", shape, 3))) goto done;
    for (int i = 0; i < 3; i++) in->input[i] = (int)shape[i];
    if (!copy_str(r, "kind", &b->kind) || !copy_str(r, "model.spec", &b->spec) ||
        !copy_str(r, "data.source", &b->source) || !copy_str(r, "data.target", &b->target) ||
        !copy_str(r, "run.log", &b->log)) {
        rc = CURVO_E_NOMEM;
        goto done;
    }
    in->kind = b->kind;
    in->model_spec = b->spec;
    in->log_path = b->log;
    in->epochs = t->o.epochs;
    in->epochs_done = t->epoch - 1;
    in->in_epoch = t->in_epoch;
    in->step = t->step;
    in->batch_size = t->o.batch_size;
    in->seed = t->o.seed;
    in->checkpoint_every = t->o.checkpoint_every;
    in->early_stop = t->o.early_stop;
    in->best_epoch = t->best_epoch;
    in->stopped_early = t->stopped_early;
    in->has_data = t->has_data;
    in->data = t->data;
    in->data.source = b->source;
    in->data.target = b->target;
    in->standardization.target_std = 1.0;
    if (version >= 2 && (rc = read_data(r, b))) {
        if (rc == CURVO_E_FORMAT) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s", ckpt_errmsg(r));
        goto done;
    }
done:
    if (rc == CURVO_E_NOMEM) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: out of memory", path);
    curvo_model_free(model);
    free(t);
    ckpt_close(r);
    if (rc) {
        if (b) curvo_checkpoint_info_free(&b->info);
        return rc;
    }
    *out = &b->info;
    return CURVO_OK;
}
