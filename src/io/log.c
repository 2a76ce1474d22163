/* log.c — metrics logs in JSON Lines: a run object, then one object per progress event (see
 * curvo.h; docs/TRAINING.md lists the fields). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curvo.h"

struct curvo_log {
    FILE *f;
    int failed;
};

int curvo_log_open(const char *path, int append, curvo_log **out, char *errmsg) {
    if (!path || !out) return CURVO_E_INVALID;
    *out = NULL;
    curvo_log *log = calloc(1, sizeof *log);
    if (!log) return CURVO_E_NOMEM;
    if (!(log->f = fopen(path, append ? "a" : "w"))) {
        if (errmsg) snprintf(errmsg, CURVO_ERRMSG_LEN, "%s: %s", path, strerror(errno));
        free(log);
        return CURVO_E_IO;
    }
    *out = log;
    return CURVO_OK;
}

/* A JSON number, or null for NaN and infinities (JSON has no such numbers). */
static void put_num(FILE *f, const char *key, double v) {
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.9g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

/* A JSON string value, escaped. */
static void put_str(FILE *f, const char *key, const char *v) {
    if (!v) return;
    fprintf(f, ",\"%s\":\"", key);
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\') fputc('\\', f);
        if ((unsigned char)*c < 0x20) fprintf(f, "\\u%04x", (unsigned char)*c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

/* SET_accuracy, or SET_rmse, SET_mae and SET_r2 for regression. */
static void put_metrics(FILE *f, const curvo_progress *p, const char *set, const char *metric, double v, double mae,
                        double r2) {
    char key[32];
    snprintf(key, sizeof key, "%s_%s", set, metric);
    put_num(f, key, v);
    if (p->classification) return;
    snprintf(key, sizeof key, "%s_mae", set);
    put_num(f, key, mae);
    snprintf(key, sizeof key, "%s_r2", set);
    put_num(f, key, r2);
}

static int finish_line(curvo_log *log) {
    fputs("}\n", log->f);
    if (fflush(log->f) != 0 || ferror(log->f)) log->failed = 1;
    return log->failed ? CURVO_E_IO : CURVO_OK;
}

int curvo_log_write_run(curvo_log *log, const curvo_run_info *run) {
    if (!log || !run) return CURVO_E_INVALID;
    FILE *f = log->f;
    fputs("{\"event\":\"run\"", f);
    put_str(f, "framework", run->framework);
    put_str(f, "optimizer", run->optimizer);
    put_str(f, "model", run->model);
    put_str(f, "dataset", run->dataset);
    fprintf(f, ",\"seed\":%llu,\"batch_size\":%d,\"threads\":%d,\"params\":%zu", (unsigned long long)run->seed,
            run->batch_size, run->threads, run->params);
    if (run->processes > 1) fprintf(f, ",\"processes\":%d", run->processes);
    put_str(f, "schedule", run->schedule);
    return finish_line(log);
}

int curvo_log_write_resume(curvo_log *log, const char *checkpoint, int epoch, int64_t step, int epochs,
                           int threads) {
    if (!log || !checkpoint) return CURVO_E_INVALID;
    fputs("{\"event\":\"resume\"", log->f);
    put_str(log->f, "checkpoint", checkpoint);
    fprintf(log->f, ",\"epoch\":%d,\"step\":%lld,\"epochs\":%d,\"threads\":%d", epoch, (long long)step, epochs,
            threads);
    return finish_line(log);
}

int curvo_log_write(curvo_log *log, const curvo_progress *p) {
    if (!log || !p || p->event < CURVO_EVENT_STEP || p->event > CURVO_EVENT_EARLY_STOP) return CURVO_E_INVALID;
    static const char *events[] = {"step", "epoch", "checkpoint", "eval", "early_stop"};
    FILE *f = log->f;
    fprintf(f, "{\"event\":\"%s\",\"epoch\":%d,\"step\":%lld", events[p->event], p->epoch, (long long)p->step);
    if (p->event == CURVO_EVENT_STEP) {
        put_num(f, "loss", p->loss);
        if (p->info) {
            const curvo_step_info *s = p->info;
            put_num(f, "lr", s->lr);
            if (!isnan(p->lr_factor)) put_num(f, "lr_factor", p->lr_factor);
            put_num(f, "damping", s->damping);
            put_num(f, "grad_norm", s->grad_norm);
            put_num(f, "step_norm", s->step_norm);
            fprintf(f, ",\"ls_tries\":%d,\"cg_iters\":%d,\"accepted\":%s,\"status\":\"%s\"", s->ls_tries,
                    s->cg_iters, s->accepted ? "true" : "false", s->status ? curvo_strerror(s->status) : "ok");
            for (int i = 0; i < s->n_extra && i < CURVO_STEP_EXTRA; i++) put_num(f, s->extra_name[i], s->extra[i]);
        }
        put_num(f, "samples_per_second", p->samples_per_second);
    } else if (p->event == CURVO_EVENT_EPOCH || p->event == CURVO_EVENT_EVAL || p->event == CURVO_EVENT_EARLY_STOP) {
        const char *metric = p->classification ? "accuracy" : "rmse";
        put_num(f, "epochs_done", p->steps_per_epoch > 0 ? (double)p->step / (double)p->steps_per_epoch : NAN);
        put_num(f, "loss", p->loss);
        if (!isnan(p->train_loss) || !isnan(p->train_metric)) {
            put_num(f, "train_loss", p->train_loss);
            put_metrics(f, p, "train", metric, p->train_metric, p->train_mae, p->train_r2);
        }
        put_metrics(f, p, "test", metric, p->test_metric, p->test_mae, p->test_r2);
        put_num(f, "test_loss", p->test_loss);
        if (!isnan(p->val_loss)) {
            put_metrics(f, p, "val", metric, p->val_metric, p->val_mae, p->val_r2);
            put_num(f, "val_loss", p->val_loss);
        }
        put_num(f, "train_seconds", p->train_seconds);
        if (!isnan(p->lr_factor)) put_num(f, "lr_factor", p->lr_factor);
        fprintf(f, ",\"rejected_steps\":%d", p->rejected_steps);
    } else {
        put_str(f, "path", p->checkpoint_path);
    }
    if (p->best_epoch > 0 && p->event != CURVO_EVENT_STEP && p->event != CURVO_EVENT_CHECKPOINT)
        fprintf(f, ",\"best_epoch\":%d", p->best_epoch);
    if (p->event == CURVO_EVENT_EARLY_STOP) put_num(f, "best_val_loss", p->best_val_loss);
    put_num(f, "seconds", p->seconds);
    return finish_line(log);
}

int curvo_log_close(curvo_log *log) {
    if (!log) return CURVO_OK;
    int bad = log->failed | (fclose(log->f) != 0);
    free(log);
    return bad ? CURVO_E_IO : CURVO_OK;
}
