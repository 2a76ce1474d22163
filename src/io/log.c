/* log.c — metrics logs in JSON Lines, one object per progress event (see curvo.h). */
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

int curvo_log_write(curvo_log *log, const curvo_progress *p) {
    if (!log || !p) return CURVO_E_INVALID;
    static const char *events[] = {"step", "epoch", "checkpoint"};
    FILE *f = log->f;
    fprintf(f, "{\"event\":\"%s\",\"epoch\":%d,\"step\":%lld", events[p->event], p->epoch, (long long)p->step);
    if (p->event == CURVO_EVENT_STEP) {
        put_num(f, "loss", p->loss);
        if (p->info) {
            const curvo_step_info *s = p->info;
            put_num(f, "lr", s->lr);
            put_num(f, "damping", s->damping);
            put_num(f, "grad_norm", s->grad_norm);
            put_num(f, "step_norm", s->step_norm);
            fprintf(f, ",\"ls_tries\":%d,\"cg_iters\":%d,\"accepted\":%s,\"status\":\"%s\"", s->ls_tries,
                    s->cg_iters, s->accepted ? "true" : "false", s->status ? curvo_strerror(s->status) : "ok");
            for (int i = 0; i < s->n_extra && i < CURVO_STEP_EXTRA; i++) put_num(f, s->extra_name[i], s->extra[i]);
        }
        put_num(f, "samples_per_second", p->samples_per_second);
    } else if (p->event == CURVO_EVENT_EPOCH) {
        const char *metric = p->classification ? "accuracy" : "rmse";
        char key[32];
        put_num(f, "loss", p->loss);
        snprintf(key, sizeof key, "train_%s", metric);
        put_num(f, key, p->train_metric);
        snprintf(key, sizeof key, "test_%s", metric);
        put_num(f, key, p->test_metric);
        put_num(f, "test_loss", p->test_loss);
        if (!isnan(p->val_loss)) {
            snprintf(key, sizeof key, "val_%s", metric);
            put_num(f, key, p->val_metric);
            put_num(f, "val_loss", p->val_loss);
        }
        put_num(f, "train_seconds", p->train_seconds);
        fprintf(f, ",\"rejected_steps\":%d", p->rejected_steps);
    } else if (p->checkpoint_path) {
        fputs(",\"path\":\"", f);
        for (const char *c = p->checkpoint_path; *c; c++) {
            if (*c == '"' || *c == '\\') fputc('\\', f);
            if ((unsigned char)*c < 0x20) fprintf(f, "\\u%04x", (unsigned char)*c);
            else fputc(*c, f);
        }
        fputc('"', f);
    }
    put_num(f, "seconds", p->seconds);
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f)) log->failed = 1;
    return log->failed ? CURVO_E_IO : CURVO_OK;
}

int curvo_log_close(curvo_log *log) {
    if (!log) return CURVO_OK;
    int bad = log->failed | (fclose(log->f) != 0);
    free(log);
    return bad ? CURVO_E_IO : CURVO_OK;
}
