/* schedule.c — learning-rate schedules as torch.optim.lr_scheduler's: a linear warm-up (LinearLR)
 * followed, as SequentialLR chains them, by a multi-step decay (MultiStepLR) or a cosine annealing
 * (CosineAnnealingLR); the spec parser and its canonical form, and the factor at a step. The trainer
 * hands the factor to curvo_optimizer_set_scale before each step (trainer.c); checkpoints keep the
 * canonical spec (checkpoint.c). */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "curvo.h"

#define DEFAULT_GAMMA 0.1
#define DEFAULT_WARMUP_START (1.0 / 3.0) /* torch's LinearLR start_factor */
#define MAX_COUNT ((int64_t)1 << 40)
#define MAX_SPEC 1024
#define MAX_GAMMA 1000.0 /* 16 milestones of it stay far from overflow */
#define PI 3.14159265358979323846

/* Formats errmsg and returns CURVO_E_INVALID. */
__attribute__((format(printf, 2, 3))) static int spec_error(char *errmsg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(errmsg, fmt, ap);
    va_end(ap);
    return CURVO_E_INVALID;
}

static const char *const kind_names[] = {"none", "multistep", "cosine"};

void curvo_schedule_init(curvo_schedule *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->kind = CURVO_SCHEDULE_NONE;
    s->unit = CURVO_UNIT_EPOCHS;
    s->gamma = DEFAULT_GAMMA;
    s->min_factor = 0.0;
    s->warmup_unit = CURVO_UNIT_STEPS;
    s->warmup_start = DEFAULT_WARMUP_START;
}

int curvo_schedule_is_none(const curvo_schedule *s) {
    return !s || (s->kind == CURVO_SCHEDULE_NONE && s->warmup == 0);
}

int curvo_schedule_check(const curvo_schedule *s, char *errmsg) {
    if (!s) return CURVO_E_INVALID;
    const char *bad = NULL;
    if ((unsigned)s->kind > CURVO_SCHEDULE_COSINE) bad = "unknown schedule kind";
    else if ((unsigned)s->unit > CURVO_UNIT_EPOCHS || (unsigned)s->warmup_unit > CURVO_UNIT_EPOCHS)
        bad = "a count's unit must be steps or epochs";
    else if (s->warmup < 0 || s->warmup > MAX_COUNT) bad = "the warm-up length must be a whole number >= 0";
    else if (s->warmup > 0 && !(s->warmup_start > 0.0 && s->warmup_start <= 1.0))
        bad = "the warm-up's start factor must be in (0, 1]";
    else if (s->kind == CURVO_SCHEDULE_MULTISTEP) {
        if (s->n_milestones < 1 || s->n_milestones > CURVO_SCHEDULE_MAX_MILESTONES)
            bad = "multistep needs 1 to 16 milestones";
        else if (!(s->gamma > 0.0 && s->gamma <= MAX_GAMMA)) bad = "multistep's gamma must be in (0, 1000]";
        for (int i = 0; !bad && i < s->n_milestones; i++)
            if (s->milestones[i] < 1 || s->milestones[i] > MAX_COUNT) bad = "milestones must be whole numbers >= 1";
            else if (i > 0 && s->milestones[i] <= s->milestones[i - 1]) bad = "milestones must be strictly increasing";
    } else if (s->kind == CURVO_SCHEDULE_COSINE) {
        if (s->T < 1 || s->T > MAX_COUNT) bad = "cosine's length T must be a whole number >= 1";
        else if (!(s->min_factor >= 0.0 && s->min_factor <= 1.0)) bad = "cosine's minimum factor must be in [0, 1]";
    }
    if (!bad) return CURVO_OK;
    return spec_error(errmsg, "schedule: %s", bad);
}

/* ---------------------------------------------------------------- parsing */

/* A count with an optional unit suffix ("30", "500s", "5e") from s[0, len) into *v and *unit (left
 * as the default when there is no suffix); 0 if it is not one. */
static int parse_count(const char *s, size_t len, int64_t *v, curvo_schedule_unit *unit) {
    if (len == 0 || len > 20 || s[0] < '0' || s[0] > '9') return 0;
    char buf[32];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || x > MAX_COUNT) return 0;
    if (*end == 's' || *end == 'e') *unit = *end++ == 's' ? CURVO_UNIT_STEPS : CURVO_UNIT_EPOCHS;
    if (*end) return 0;
    *v = x;
    return 1;
}

/* A finite number filling s[0, len); 0 if it is not one. */
static int parse_number(const char *s, size_t len, double *v) {
    if (len == 0 || len > 40) return 0;
    char buf[48];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    return !errno && *end == '\0' && isfinite(*v);
}

/* The fields of one phase "kind:a:b" split at ':' into at most 4 (start, length) pairs. */
typedef struct {
    int n;
    const char *at[4];
    size_t len[4];
} fields;

static int split_fields(const char *s, size_t len, fields *f) {
    f->n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || s[i] == ':') {
            if (f->n == 4) return 0;
            f->at[f->n] = s + start;
            f->len[f->n++] = i - start;
            start = i + 1;
        }
    return 1;
}

static int field_is(const fields *f, int i, const char *word) {
    return f->len[i] == strlen(word) && !strncmp(f->at[i], word, f->len[i]);
}

/* One phase of the spec into s; is_first: it may be a warm-up. */
static int parse_phase(const char *p, size_t len, int is_first, curvo_schedule *s, char *errmsg) {
    fields f;
    if (!split_fields(p, len, &f)) return spec_error(errmsg, "schedule: '%.*s' has too many ':' fields", (int)len, p);
    if (field_is(&f, 0, "none")) {
        if (f.n > 1) return spec_error(errmsg, "schedule: 'none' takes no values");
        s->kind = CURVO_SCHEDULE_NONE;
        return CURVO_OK;
    }
    if (field_is(&f, 0, "warmup")) {
        if (!is_first)
            return spec_error(errmsg, "schedule: the warm-up must come first (warmup:W+multistep:... or "
                              "warmup:W+cosine:...)");
        if (f.n < 2 || f.n > 3) return spec_error(errmsg, "schedule: warm-up is warmup:W[:START]");
        s->warmup_unit = CURVO_UNIT_STEPS;
        if (!parse_count(f.at[1], f.len[1], &s->warmup, &s->warmup_unit) || s->warmup < 1)
            return spec_error(errmsg, "schedule: warm-up length '%.*s' is not a whole number >= 1 (with an optional "
                              "unit, s steps or e epochs)", (int)f.len[1], f.at[1]);
        if (f.n == 3 && !parse_number(f.at[2], f.len[2], &s->warmup_start))
            return spec_error(errmsg, "schedule: warm-up start factor '%.*s' is not a number", (int)f.len[2], f.at[2]);
        return CURVO_OK;
    }
    if (field_is(&f, 0, "multistep")) {
        if (f.n < 2 || f.n > 3)
            return spec_error(errmsg, "schedule: multistep is multistep:M1,M2,...[:GAMMA]");
        s->kind = CURVO_SCHEDULE_MULTISTEP;
        s->unit = CURVO_UNIT_EPOCHS;
        const char *m = f.at[1], *end = f.at[1] + f.len[1];
        int units_seen = 0; /* bit per unit given by a suffix */
        s->n_milestones = 0;
        while (1) {
            const char *comma = memchr(m, ',', (size_t)(end - m));
            const char *stop = comma ? comma : end;
            if (s->n_milestones == CURVO_SCHEDULE_MAX_MILESTONES)
                return spec_error(errmsg, "schedule: at most %d milestones", CURVO_SCHEDULE_MAX_MILESTONES);
            curvo_schedule_unit u = CURVO_UNIT_EPOCHS;
            int64_t v;
            if (!parse_count(m, (size_t)(stop - m), &v, &u) || v < 1)
                return spec_error(errmsg, "schedule: milestone '%.*s' is not a whole number >= 1 (with an optional "
                                  "unit, s steps or e epochs)", (int)(stop - m), m);
            units_seen |= 1 << u;
            s->unit = u;
            s->milestones[s->n_milestones++] = v;
            if (!comma) break;
            m = comma + 1;
        }
        if (units_seen == 3)
            return spec_error(errmsg, "schedule: the milestones mix steps and epochs; give them all in one unit");
        if (f.n == 3 && !parse_number(f.at[2], f.len[2], &s->gamma))
            return spec_error(errmsg, "schedule: multistep gamma '%.*s' is not a number", (int)f.len[2], f.at[2]);
        return CURVO_OK;
    }
    if (field_is(&f, 0, "cosine")) {
        if (f.n < 2 || f.n > 3) return spec_error(errmsg, "schedule: cosine is cosine:T[:MIN]");
        s->kind = CURVO_SCHEDULE_COSINE;
        s->unit = CURVO_UNIT_EPOCHS;
        if (!parse_count(f.at[1], f.len[1], &s->T, &s->unit) || s->T < 1)
            return spec_error(errmsg, "schedule: cosine length '%.*s' is not a whole number >= 1 (with an optional "
                              "unit, s steps or e epochs)", (int)f.len[1], f.at[1]);
        if (f.n == 3 && !parse_number(f.at[2], f.len[2], &s->min_factor))
            return spec_error(errmsg, "schedule: cosine minimum factor '%.*s' is not a number", (int)f.len[2],
                              f.at[2]);
        return CURVO_OK;
    }
    return spec_error(errmsg, "schedule: unknown kind '%.*s' (known: none, warmup, multistep, cosine)", (int)f.len[0], f.at[0]);
}

int curvo_schedule_parse(const char *spec, curvo_schedule *out, char *errmsg) {
    if (!spec || !out) return CURVO_E_INVALID;
    size_t len = strlen(spec);
    if (len == 0 || len > MAX_SPEC) return spec_error(errmsg, "schedule: the spec is %s", len ? "too long" : "empty");
    curvo_schedule s;
    curvo_schedule_init(&s);
    const char *plus = strchr(spec, '+');
    if (plus && strchr(plus + 1, '+')) return spec_error(errmsg, "schedule: at most two phases, warmup:W+PHASE");
    size_t first = plus ? (size_t)(plus - spec) : len;
    int rc = parse_phase(spec, first, 1, &s, errmsg);
    if (!rc && plus) {
        if (s.warmup == 0) return spec_error(errmsg, "schedule: only a warm-up may come before '+' (warmup:W+PHASE)");
        rc = parse_phase(plus + 1, len - first - 1, 0, &s, errmsg);
    }
    if (rc || (rc = curvo_schedule_check(&s, errmsg))) return rc;
    *out = s;
    return CURVO_OK;
}

/* ---------------------------------------------------------------- canonical form */

/* Appends to buf at *used; 0 when it did not fit. */
__attribute__((format(printf, 4, 5))) static int append(char *buf, size_t len, size_t *used, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= len - *used) return 0;
    *used += (size_t)w;
    return 1;
}

/* x in the fewest of 15 or 17 significant digits that read back as x. */
static const char *number(double x, char *buf, size_t len) {
    snprintf(buf, len, "%.15g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, len, "%.17g", x);
    return buf;
}

static char unit_char(curvo_schedule_unit u) { return u == CURVO_UNIT_STEPS ? 's' : 'e'; }

int curvo_schedule_format(const curvo_schedule *s, char *buf, size_t len) {
    if (!s || !buf || !len || curvo_schedule_check(s, NULL)) return CURVO_E_INVALID;
    size_t used = 0;
    int ok = 1;
    char x[32];
    buf[0] = '\0';
    if (s->warmup > 0) {
        ok = append(buf, len, &used, "warmup:%lld%c:%s", (long long)s->warmup, unit_char(s->warmup_unit),
                    number(s->warmup_start, x, sizeof x));
        if (ok && s->kind != CURVO_SCHEDULE_NONE) ok = append(buf, len, &used, "+");
    }
    if (s->kind == CURVO_SCHEDULE_MULTISTEP) {
        ok = ok && append(buf, len, &used, "multistep:");
        for (int i = 0; ok && i < s->n_milestones; i++)
            ok = append(buf, len, &used, "%s%lld%c", i ? "," : "", (long long)s->milestones[i], unit_char(s->unit));
        ok = ok && append(buf, len, &used, ":%s", number(s->gamma, x, sizeof x));
    } else if (s->kind == CURVO_SCHEDULE_COSINE) {
        ok = ok && append(buf, len, &used, "cosine:%lld%c:%s", (long long)s->T, unit_char(s->unit),
                           number(s->min_factor, x, sizeof x));
    } else if (s->warmup == 0) {
        ok = append(buf, len, &used, "%s", kind_names[CURVO_SCHEDULE_NONE]);
    }
    return ok ? CURVO_OK : CURVO_E_INVALID;
}

/* ---------------------------------------------------------------- the factor */

/* The count of a phase that began `steps` steps ago, in its unit. */
static int64_t count_in(curvo_schedule_unit unit, int64_t steps, int64_t steps_per_epoch) {
    return unit == CURVO_UNIT_EPOCHS ? steps / steps_per_epoch : steps;
}

double curvo_schedule_factor(const curvo_schedule *s, int64_t step, int64_t steps_per_epoch) {
    if (curvo_schedule_is_none(s)) return 1.0;
    if (step < 0) step = 0;
    if (steps_per_epoch < 1) steps_per_epoch = 1;
    int64_t since = step; /* steps since the main phase began */
    if (s->warmup > 0) {
        int64_t W = s->warmup;
        if (s->warmup_unit == CURVO_UNIT_EPOCHS) /* W epochs in steps, saturated */
            W = s->warmup > INT64_MAX / steps_per_epoch ? INT64_MAX : s->warmup * steps_per_epoch;
        if (step < W) {
            int64_t c = count_in(s->warmup_unit, step, steps_per_epoch);
            return s->warmup_start + (1.0 - s->warmup_start) * (double)c / (double)s->warmup;
        }
        since = step - W;
    }
    int64_t c = count_in(s->unit, since, steps_per_epoch);
    switch (s->kind) {
    case CURVO_SCHEDULE_MULTISTEP: {
        int passed = 0;
        while (passed < s->n_milestones && s->milestones[passed] <= c) passed++;
        return pow(s->gamma, passed);
    }
    case CURVO_SCHEDULE_COSINE:
        if (c >= s->T) return s->min_factor;
        return s->min_factor + (1.0 - s->min_factor) * (1.0 + cos(PI * (double)c / (double)s->T)) / 2.0;
    default: return 1.0;
    }
}
