/* csv.c — CSV reader: a header row of column names, then one sample per line.
 *
 * Cells are separated by commas; blanks (spaces, tabs) around a cell are ignored, a cell may be
 * wrapped in double quotes ("" inside quotes is one quote; a quoted cell may hold commas but not a
 * line break), lines end in LF or CRLF, blank lines are skipped and a UTF-8 byte order mark is
 * dropped. Every data cell must be a finite number in float range, the whole cell parsed by strtod.
 * The column named `target` is the label or value; the others, in file order, are the features
 * (a sample of d features has shape (d, 1, 1)). Whether the target is a class label or a value is
 * decided by decide_task (the rule is in curvo.h) unless the caller says. Errors are CURVO_E_FORMAT with "PATH: line L,
 * column C ('name'): ..." in errmsg; lines and columns count from 1, the header is line 1. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

#define CSV_MAX_CLASSES 1000 /* class labels are whole numbers below this */
#define CSV_AUTO_CLASSES 100 /* at most this many distinct labels make classes unasked */

/* What the target column holds, gathered while reading. */
typedef struct target_scan {
    int non_integer, negative; /* some value is not a whole number / is below 0 */
    double max;                /* largest value (of the whole numbers >= 0 when no other) */
    double min;
    size_t bad_line;           /* first line whose target is no label in [0, CSV_MAX_CLASSES) */
    double bad_value;
} target_scan;

static void scan_target(target_scan *t, double v, size_t line, size_t row) {
    if (v != floor(v)) t->non_integer = 1;
    if (v < 0.0) t->negative = 1;
    if (row == 0 || v > t->max) t->max = v;
    if (row == 0 || v < t->min) t->min = v;
    if (!t->bad_line && !(v >= 0.0 && v < CSV_MAX_CLASSES && v == floor(v))) t->bad_line = line, t->bad_value = v;
}

/* The task rule (curvo.h, docs/TRAINING.md): 1 classification, 0 regression, or a negative code
 * with the reason in errmsg. Writes why into ds->task_note. tv (n) are the targets. */
static int decide_task(curvo_dataset *ds, const double *tv, const target_scan *t, int task, const char *path,
                       const char *target, char *errmsg) {
    char *note = ds->task_note;
    size_t len = sizeof ds->task_note;
    if (task == CURVO_TASK_REGRESSION) {
        snprintf(note, len, "as asked");
        return 0;
    }
    if (task == CURVO_TASK_CLASSIFICATION) {
        if (t->bad_line) {
            data_seterr(errmsg, "%s: line %zu: target '%s' is %.9g, not a class label (a whole number in [0, %d))",
                        path, t->bad_line, target, t->bad_value, CSV_MAX_CLASSES);
            return CURVO_E_INVALID;
        }
        snprintf(note, len, "as asked");
        return 1;
    }
    if (t->non_integer || t->negative) {
        snprintf(note, len, "target '%.64s' has %s values", target, t->non_integer ? "non-integer" : "negative");
        return 0;
    }
    if (t->max >= CSV_MAX_CLASSES) {
        snprintf(note, len, "target '%.64s' has values up to %.9g, too large for class labels", target, t->max);
        return 0;
    }
    unsigned char seen[CSV_MAX_CLASSES] = {0};
    size_t distinct = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int k = (int)tv[i];
        distinct += !seen[k];
        seen[k] = 1;
    }
    if (distinct > CSV_AUTO_CLASSES) {
        data_seterr(errmsg,
                    "%s: target '%s' has %zu distinct whole numbers (%g to %g): a value to predict or %d "
                    "classes? Say which: --regression or --classes",
                    path, target, distinct, t->min, t->max, (int)t->max + 1);
        return CURVO_E_INVALID;
    }
    snprintf(note, len, "target '%.64s' has %zu distinct whole numbers", target, distinct);
    return 1;
}

typedef struct span {
    const char *s;
    size_t len;
} span;

/* The cells of one line, reused from line to line. */
typedef struct cells {
    span *v;
    size_t n, cap;
} cells;

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* End of the line starting at p: the '\n' or end. */
static const char *line_end(const char *p, const char *end) {
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

static int blank_line(const char *s, const char *e) {
    for (; s < e; s++)
        if (!is_blank(*s)) return 0;
    return 1;
}

static int push_cell(cells *c, const char *s, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        span *v = realloc(c->v, cap * sizeof *v);
        if (!v) return CURVO_E_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].s = s;
    c->v[c->n].len = len;
    c->n++;
    return CURVO_OK;
}

/* Splits the line [s, e) into c. Returns CURVO_OK, CURVO_E_NOMEM, or CURVO_E_FORMAT with *bad_col
 * (1-based) and *why set for a broken quote. */
static int split_line(const char *s, const char *e, cells *c, size_t *bad_col, const char **why) {
    c->n = 0;
    while (e > s && e[-1] == '\r') e--;
    const char *p = s;
    for (;;) {
        while (p < e && is_blank(*p)) p++;
        const char *start, *stop;
        if (p < e && *p == '"') {
            start = ++p;
            while (p < e && !(*p == '"' && !(p + 1 < e && p[1] == '"'))) p += (*p == '"') ? 2 : 1;
            if (p >= e) {
                *bad_col = c->n + 1;
                *why = "unterminated double quote";
                return CURVO_E_FORMAT;
            }
            stop = p++;
            while (p < e && is_blank(*p)) p++;
            if (p < e && *p != ',') {
                *bad_col = c->n + 1;
                *why = "text after a closing double quote";
                return CURVO_E_FORMAT;
            }
        } else {
            start = p;
            while (p < e && *p != ',') p++;
            stop = p;
            while (stop > start && is_blank(stop[-1])) stop--;
        }
        if (push_cell(c, start, (size_t)(stop - start))) return CURVO_E_NOMEM;
        if (p >= e) return CURVO_OK;
        p++; /* the comma */
    }
}

/* A NUL-terminated copy of a quoted or plain cell with "" turned into ". */
static char *cell_dup(span sp) {
    char *out = malloc(sp.len + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < sp.len; i++) {
        out[k++] = sp.s[i];
        if (sp.s[i] == '"' && i + 1 < sp.len && sp.s[i + 1] == '"') i++;
    }
    out[k] = '\0';
    return out;
}

/* Parses one numeric cell; returns 0 and *v, or -1 with a reason in why. */
static int parse_number(span sp, double *v, const char **why) {
    char buf[128];
    if (sp.len == 0) {
        *why = "empty cell";
        return -1;
    }
    if (sp.len >= sizeof buf) {
        *why = "is not a number";
        return -1;
    }
    memcpy(buf, sp.s, sp.len);
    buf[sp.len] = '\0';
    char *endp;
    errno = 0;
    double x = strtod(buf, &endp);
    if (endp != buf + sp.len || endp == buf) {
        *why = "is not a number";
        return -1;
    }
    if (!isfinite(x)) {
        *why = "is not a finite number";
        return -1;
    }
    if (fabs(x) > FLT_MAX) {
        *why = "is out of float range";
        return -1;
    }
    *v = x;
    return 0;
}

/* Reads the whole file into a NUL-terminated buffer. */
static int read_file(const char *path, char **out, size_t *len, char *errmsg) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        data_seterr(errmsg, "%s: cannot open: %s", path, strerror(errno));
        return CURVO_E_IO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = CURVO_OK;
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, fp);
        n += r;
        if (r == 0) break;
    }
    if (!buf) {
        data_seterr(errmsg, "%s: out of memory reading the file", path);
        rc = CURVO_E_NOMEM;
    } else if (ferror(fp)) {
        data_seterr(errmsg, "%s: read error: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
        rc = CURVO_E_IO;
    }
    fclose(fp);
    if (rc) return rc;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CURVO_OK;
}

int curvo_csv_load(const char *path, const char *target, int task, curvo_dataset **out, char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (out) *out = NULL;
    if (!path || !out) {
        data_seterr(errmsg, "csv: NULL argument");
        return CURVO_E_INVALID;
    }
    if (task < CURVO_TASK_AUTO || task > CURVO_TASK_CLASSIFICATION) {
        data_seterr(errmsg, "csv: unknown task %d", task);
        return CURVO_E_INVALID;
    }
    if (!target) target = "target";

    char *text = NULL, **names = NULL;
    size_t len = 0, ncols = 0;
    cells row = {0};
    curvo_dataset *ds = NULL;
    double *tv = NULL;
    size_t bad_col = 0;
    const char *why = "";
    int rc = read_file(path, &text, &len, errmsg);
    if (rc) return rc;

    const char *p = text, *end = text + len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3;
    /* the header: the first non-blank line */
    size_t line = 1;
    const char *e = line_end(p, end);
    while (blank_line(p, e) && e < end) {
        p = e + 1;
        e = line_end(p, end);
        line++;
    }
    if (blank_line(p, e)) {
        data_seterr(errmsg, "%s: empty file: expected a header row of column names", path);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    size_t header_line = line;
    if ((rc = split_line(p, e, &row, &bad_col, &why))) {
        if (rc == CURVO_E_FORMAT)
            data_seterr(errmsg, "%s: line %zu, column %zu: %s", path, line, bad_col, why);
        goto done;
    }
    ncols = row.n;
    names = calloc(ncols, sizeof *names);
    if (!names) goto nomem;
    size_t tcol = ncols;
    for (size_t j = 0; j < ncols; j++) {
        if (!(names[j] = cell_dup(row.v[j]))) goto nomem;
        if (names[j][0] == '\0') {
            data_seterr(errmsg, "%s: line %zu, column %zu: empty column name", path, line, j + 1);
            rc = CURVO_E_FORMAT;
            goto done;
        }
        for (size_t k = 0; k < j; k++)
            if (!strcmp(names[k], names[j])) {
                data_seterr(errmsg, "%s: line %zu: duplicate column name '%s' (columns %zu and %zu)",
                            path, line, names[j], k + 1, j + 1);
                rc = CURVO_E_FORMAT;
                goto done;
            }
        if (!strcmp(names[j], target)) tcol = j;
    }
    if (tcol == ncols) {
        char list[160];
        size_t k = 0;
        list[0] = '\0';
        for (size_t j = 0; j < ncols && k < sizeof list; j++) {
            int w = snprintf(list + k, sizeof list - k, j ? ", %s" : "%s", names[j]);
            if (w < 0) break;
            k += (size_t)w;
        }
        data_seterr(errmsg, "%s: no target column '%s' in the header (columns: %s)", path, target,
                    list);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    if (ncols < 2) {
        data_seterr(errmsg, "%s: line %zu: no feature columns besides the target '%s'", path, line,
                    target);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    if (ncols - 1 > INT_MAX) {
        data_seterr(errmsg, "%s: too many columns (%zu)", path, ncols);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    const char *data = e < end ? e + 1 : end;

    /* count the data rows */
    size_t nrows = 0;
    for (const char *q = data; q < end;) {
        const char *qe = line_end(q, end);
        if (!blank_line(q, qe)) nrows++;
        q = qe < end ? qe + 1 : end;
    }
    if (nrows == 0) {
        data_seterr(errmsg, "%s: no data rows after the header (line %zu)", path, header_line);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    size_t d = ncols - 1;
    if ((rc = data_dataset_alloc(nrows, (int)d, 1, 1, 0, &ds))) goto nomem;
    tv = malloc(nrows * sizeof *tv);
    if (!tv) goto nomem;

    target_scan ts = {0};
    size_t r = 0;
    for (const char *q = data; q < end;) {
        const char *qe = line_end(q, end);
        line++;
        if (!blank_line(q, qe)) {
            if ((rc = split_line(q, qe, &row, &bad_col, &why))) {
                if (rc == CURVO_E_FORMAT)
                    data_seterr(errmsg, "%s: line %zu, column %zu: %s", path, line, bad_col, why);
                goto done;
            }
            if (row.n != ncols) {
                data_seterr(errmsg, "%s: line %zu has %zu cells, the header has %zu", path, line,
                            row.n, ncols);
                rc = CURVO_E_FORMAT;
                goto done;
            }
            float *xr = ds->x + r * d;
            for (size_t j = 0; j < ncols; j++) {
                double v;
                if (parse_number(row.v[j], &v, &why)) {
                    span sp = row.v[j];
                    int show = sp.len > 40 ? 40 : (int)sp.len;
                    if (sp.len == 0)
                        data_seterr(errmsg, "%s: line %zu, column %zu ('%s'): empty cell", path,
                                    line, j + 1, names[j]);
                    else
                        data_seterr(errmsg, "%s: line %zu, column %zu ('%s'): '%.*s%s' %s", path,
                                    line, j + 1, names[j], show, sp.s, sp.len > 40 ? "..." : "", why);
                    rc = CURVO_E_FORMAT;
                    goto done;
                }
                if (j == tcol) {
                    tv[r] = v;
                    scan_target(&ts, v, line, r);
                } else {
                    *xr++ = (float)v;
                }
            }
            r++;
        }
        q = qe < end ? qe + 1 : end;
    }

    for (size_t i = 0; i < nrows; i++) ds->targets[i] = (float)tv[i];
    int classification = decide_task(ds, tv, &ts, task, path, target, errmsg);
    if (classification < 0) {
        rc = classification;
        goto done;
    }
    if (classification) {
        ds->labels = malloc(nrows * sizeof *ds->labels);
        if (!ds->labels) goto nomem;
        for (size_t i = 0; i < nrows; i++) ds->labels[i] = (int32_t)tv[i];
        ds->num_classes = (int)ts.max + 1;
    }
    /* keep the feature names */
    ds->names = calloc(d, sizeof *ds->names);
    if (!ds->names) goto nomem;
    for (size_t j = 0, k = 0; j < ncols; j++) {
        if (j == tcol) continue;
        ds->names[k++] = names[j];
        names[j] = NULL;
    }
    *out = ds;
    ds = NULL;
    rc = CURVO_OK;
    goto done;
nomem:
    data_seterr(errmsg, "%s: out of memory", path);
    rc = CURVO_E_NOMEM;
done:
    if (names)
        for (size_t j = 0; j < ncols; j++) free(names[j]);
    free(names);
    free(row.v);
    free(text);
    free(tv);
    curvo_dataset_free(ds);
    return rc;
}
