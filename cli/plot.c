/* plot.c — `curvo plot`: figures from benchmark logs (JSON Lines; the format is in
 * docs/BENCHMARKS.md) drawn with PLplot. Four panels — training loss and test accuracy (or RMSE),
 * each against epochs and against training seconds — with one line per framework + optimizer: the
 * mean over its seeds (the logs sharing that label), point by point. Logs of `curvo rl` (their run
 * line names an "env"; docs/RL.md) give the same four panels from their eval lines: the training
 * episodes' mean return and the greedy evaluation's return, against env steps and seconds. Written as PREFIX.png
 * (pngcairo) and PREFIX.svg (svgcairo) through temporary files renamed at the end, so a failure
 * leaves no partial figure. Built with PLplot where CMake found it (CURVO_HAVE_PLPLOT); elsewhere
 * the command only says how to get it. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod, dup, dup2, fileno */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"

#ifndef CURVO_HAVE_PLPLOT

int cli_plot(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "curvo plot: this curvo was built without PLplot (install libplplot-dev plplot-driver-cairo "
                    "and rebuild)\n");
    return 1;
}

#else

#include <plplot.h>

#define ERRLEN 1024
/* Lines one figure can show legibly: ten rows of legend, and each pairing of colour and marker once. */
#define MAX_LINES 40

/* In sanitizer builds (CURVO_SANITIZE): fontconfig, PLplot's driver loader (libltdl) and the cairo
 * stack keep caches for the life of the process, and a fatal PLplot error abandons its stream; none
 * of it is curvo's memory, so LeakSanitizer is told to leave allocations made inside them alone. */
#if defined(__SANITIZE_ADDRESS__)
#define CURVO_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CURVO_LSAN 1
#endif
#endif
#ifdef CURVO_LSAN
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig\nleak:libltdl\nleak:libplplot\nleak:cairo\nleak:libpango\nleak:libglib\n"
           "leak:libgobject\nleak:libharfbuzz\nleak:libfreetype\n";
}
/* ... and not to list the suppressions it used on stderr, which stays one clear line or none. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
#endif

enum { METRIC_NONE, METRIC_ACCURACY, METRIC_RMSE, METRIC_RETURN };

/* One evaluation ("eval" or "epoch" line) of a log, or the mean of several seeds' i-th ones. */
typedef struct {
    double epochs, seconds; /* epochs_done, train_seconds */
    double loss;            /* mean mini-batch training loss since the previous point; NaN if null */
    double metric;          /* test accuracy in %, or test RMSE; NaN if null or absent */
} point;

typedef struct {
    const char *path;
    char *framework, *optimizer, *model, *dataset; /* model, dataset: NULL if the run line lacks them */
    int metric;                                    /* METRIC_* of its eval lines */
    int rl;                                        /* a `curvo rl` log: points are (env steps, seconds,
                                                    * training return, greedy return) */
    point *pts;                                    /* (n) in the order of the log */
    size_t n, cap;
} run_log;

/* One line of the figure: a label and the mean over its seeds. */
typedef struct {
    char label[160];  /* "adam", "torch adam", ... (plus model/dataset where the logs differ in them) */
    char legend[200]; /* label and the seed count */
    size_t seeds;
    int style;   /* PLplot line style: 1 (solid) curvo, 3 (long dashes) pytorch, 2 others */
    point *mean; /* (n) */
    size_t n;
} series;

typedef struct {
    series *s;
    size_t ns;
    int metric; /* METRIC_* shared by all logs */
    const char *title;
    char subtitle[160];
    int width, height;
} figure;

static char *dup_str(const char *s) {
    if (!s) return NULL;
    char *d = malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static void free_log(run_log *lg) {
    free(lg->framework);
    free(lg->optimizer);
    free(lg->model);
    free(lg->dataset);
    free(lg->pts);
}

/* Appends p to the log's points; 0, or -1 with err. */
static int append_point(run_log *lg, point p, char *err, size_t errlen) {
    if (lg->n == lg->cap) {
        size_t cap = lg->cap ? 2 * lg->cap : 64;
        point *pts = realloc(lg->pts, cap * sizeof *pts);
        if (!pts) {
            snprintf(err, errlen, "%s: out of memory", lg->path);
            return -1;
        }
        lg->pts = pts;
        lg->cap = cap;
    }
    lg->pts[lg->n++] = p;
    return 0;
}

/* Reads one log: its run line (the first line) and its eval/epoch lines. 0, or -1 with err. */
static int read_log(const char *path, run_log *lg, char *err, size_t errlen) {
    jsonl_reader r;
    jsonl_object o = {0};
    *lg = (run_log){.path = path};
    if (jsonl_open(&r, path, err, errlen)) return -1;
    int k, ok = 0;
    while ((k = jsonl_next(&r, &o, err, errlen)) == 1) {
        const char *ev = jsonl_str(&o, "event");
        if (!ev) {
            snprintf(err, errlen, "%s:%ld: the line has no \"event\" string", path, r.line);
            goto done;
        }
        if (!lg->optimizer) { /* the first line */
            const char *fw = jsonl_str(&o, "framework"), *opt = jsonl_str(&o, "optimizer");
            if (strcmp(ev, "run")) {
                snprintf(err, errlen, "%s:%ld: the log does not begin with a \"run\" line (it begins with \"%.40s\")",
                         path, r.line, ev);
                goto done;
            }
            if (!fw || !*fw || !opt || !*opt) {
                snprintf(err, errlen, "%s:%ld: the \"run\" line has no \"%s\" string", path, r.line,
                         !fw || !*fw ? "framework" : "optimizer");
                goto done;
            }
            lg->framework = dup_str(fw);
            lg->optimizer = dup_str(opt);
            lg->model = dup_str(jsonl_str(&o, "model"));
            lg->dataset = dup_str(jsonl_str(&o, "dataset"));
            lg->rl = jsonl_str(&o, "env") != NULL;
            if (lg->rl) lg->metric = METRIC_RETURN;
            if (!lg->framework || !lg->optimizer) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto done;
            }
            continue;
        }
        if (strcmp(ev, "eval") && strcmp(ev, "epoch")) continue; /* step, checkpoint, a later run line */
        if (lg->rl) { /* (env steps, seconds, mean training return since the last eval, greedy return) */
            point p = {jsonl_num(&o, "env_steps"), jsonl_num(&o, "seconds"), jsonl_num(&o, "train_return"),
                       jsonl_num(&o, "eval_return")};
            if (!isfinite(p.epochs) || !isfinite(p.seconds)) {
                snprintf(err, errlen, "%s:%ld: the \"eval\" line has no number for \"%s\"", path, r.line,
                         !isfinite(p.epochs) ? "env_steps" : "seconds");
                goto done;
            }
            if (append_point(lg, p, err, errlen)) goto done;
            continue;
        }
        point p = {jsonl_num(&o, "epochs_done"), jsonl_num(&o, "train_seconds"), jsonl_num(&o, "loss"), NAN};
        const char *missing = !isfinite(p.epochs) ? "epochs_done" : !isfinite(p.seconds) ? "train_seconds" : NULL;
        if (missing) {
            snprintf(err, errlen, "%s:%ld: the \"%s\" line has no number for \"%s\"", path, r.line, ev, missing);
            goto done;
        }
        int metric = jsonl_get(&o, "test_accuracy") ? METRIC_ACCURACY
                     : jsonl_get(&o, "test_rmse")   ? METRIC_RMSE
                                                    : METRIC_NONE;
        if (metric != METRIC_NONE && lg->metric != METRIC_NONE && metric != lg->metric) {
            snprintf(err, errlen, "%s:%ld: the log mixes test_accuracy and test_rmse", path, r.line);
            goto done;
        }
        if (metric == METRIC_ACCURACY) p.metric = 100.0 * jsonl_num(&o, "test_accuracy");
        if (metric == METRIC_RMSE) p.metric = jsonl_num(&o, "test_rmse");
        if (metric != METRIC_NONE) lg->metric = metric;
        if (append_point(lg, p, err, errlen)) goto done;
    }
    if (k < 0) goto done;
    if (!lg->optimizer)
        snprintf(err, errlen, "%s: empty log (no \"run\" line)", path);
    else if (!lg->n)
        snprintf(err, errlen, "%s: no \"eval\" or \"epoch\" lines to plot", path);
    else
        ok = 1;
done:
    jsonl_free(&o);
    jsonl_close(&r);
    return ok ? 0 : -1;
}

/* Whether every log has the same string (or every one none) at this offset of run_log. */
static int all_same(const run_log *logs, size_t n, size_t offset) {
    const char *first = *(char *const *)((const char *)&logs[0] + offset);
    for (size_t i = 0; i < n; i++) {
        const char *s = *(char *const *)((const char *)&logs[i] + offset);
        if (s != first && (!s || !first || strcmp(s, first))) return 0;
    }
    return 1;
}

/* The label of a log: "adam" for curvo, "torch adam" for pytorch, "FRAMEWORK adam" otherwise; with the
 * model and the dataset appended where the logs differ in them, so different runs are not averaged. */
static void log_label(const run_log *lg, int with_model, int with_dataset, char *buf, size_t len) {
    const char *fw = lg->framework;
    if (!strcmp(fw, "curvo"))
        snprintf(buf, len, "%s", lg->optimizer);
    else
        snprintf(buf, len, "%s %s", !strcmp(fw, "pytorch") ? "torch" : fw, lg->optimizer);
    size_t n = strlen(buf);
    if (with_model && n < len) snprintf(buf + n, len - n, " \xc2\xb7 %.40s", lg->model ? lg->model : "?");
    n = strlen(buf);
    if (with_dataset && n < len) snprintf(buf + n, len - n, " \xc2\xb7 %.40s", lg->dataset ? lg->dataset : "?");
}

/* Groups the logs by label, in order of first appearance, and averages each group point by point
 * (point i of every seed; as many points as the shortest seed has). */
static int build_series(const run_log *logs, size_t nlogs, figure *fig, char *err, size_t errlen) {
    int with_model = !all_same(logs, nlogs, offsetof(run_log, model));
    int with_dataset = !all_same(logs, nlogs, offsetof(run_log, dataset));
    size_t *group = malloc(nlogs * sizeof *group);
    fig->s = calloc(nlogs, sizeof *fig->s);
    if (!group || !fig->s) {
        free(group);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fig->ns = 0;
    for (size_t i = 0; i < nlogs; i++) {
        char label[sizeof fig->s->label];
        log_label(&logs[i], with_model, with_dataset, label, sizeof label);
        size_t g = 0;
        while (g < fig->ns && strcmp(fig->s[g].label, label)) g++;
        if (g == fig->ns) {
            snprintf(fig->s[g].label, sizeof fig->s[g].label, "%s", label);
            fig->s[g].n = logs[i].n;
            fig->s[g].style = !strcmp(logs[i].framework, "curvo") ? 1 : !strcmp(logs[i].framework, "pytorch") ? 3 : 2;
            fig->ns++;
        }
        group[i] = g;
        fig->s[g].seeds++;
        if (logs[i].n < fig->s[g].n) fig->s[g].n = logs[i].n;
    }
    for (size_t g = 0; g < fig->ns; g++) {
        series *s = &fig->s[g];
        snprintf(s->legend, sizeof s->legend, "%s (%zu seed%s)", s->label, s->seeds, s->seeds == 1 ? "" : "s");
        if (!(s->mean = calloc(s->n, sizeof *s->mean))) {
            free(group);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < nlogs; i++) {
            if (group[i] != g) continue;
            for (size_t j = 0; j < s->n; j++) {
                point *m = &s->mean[j];
                const point *p = &logs[i].pts[j];
                m->epochs += p->epochs, m->seconds += p->seconds, m->loss += p->loss, m->metric += p->metric;
            }
        }
        /* A value null in any seed stays missing in the mean (a gap in the line): a diverged seed
         * must not vanish into a good-looking average. */
        for (size_t j = 0; j < s->n; j++) {
            point *p = &s->mean[j];
            double k = (double)s->seeds;
            *p = (point){p->epochs / k, p->seconds / k, p->loss / k, p->metric / k};
            if (!isfinite(p->loss)) p->loss = NAN;
            if (!isfinite(p->metric)) p->metric = NAN;
        }
    }
    free(group);
    return 0;
}

/* ---- drawing ---- */

/* cmap0: 0 background, 1 axes and text, 2 grid, 3.. the lines (matplotlib's tab10 colours). */
enum { COL_BG, COL_FG, COL_GRID, COL_LINE0 };
static const PLINT palette[][3] = {{255, 255, 255}, {0, 0, 0},       {215, 215, 215}, {31, 119, 180},
                                   {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
                                   {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},
                                   {23, 190, 207}};
#define NCOLORS ((int)(sizeof palette / sizeof palette[0]))
#define NLINECOLORS (NCOLORS - COL_LINE0)
/* Markers (UTF-8): ● ■ ▲ ◆ ▼ ○ □ △ */
static const char *const markers[] = {"\xe2\x97\x8f", "\xe2\x96\xa0", "\xe2\x96\xb2", "\xe2\x97\x86",
                                      "\xe2\x96\xbc", "\xe2\x97\x8b", "\xe2\x96\xa1", "\xe2\x96\xb3"};
#define NMARKERS ((int)(sizeof markers / sizeof markers[0]))

static PLINT series_color(size_t i) { return COL_LINE0 + (PLINT)(i % NLINECOLORS); }
static const char *series_marker(size_t i) { return markers[i % NMARKERS]; }

/* PLplot treats '#' as its escape character: doubled, it is a literal '#'. */
static void pl_text(const char *in, char *out, size_t len) {
    size_t o = 0;
    for (; *in && o + 2 < len; in++) {
        if (*in == '#') out[o++] = '#';
        out[o++] = *in;
    }
    out[o] = '\0';
}

enum { X_EPOCHS, X_SECONDS };
enum { Y_LOSS, Y_METRIC };

static double px(const point *p, int x) { return x == X_EPOCHS ? p->epochs : p->seconds; }
static double py(const point *p, int y) { return y == Y_LOSS ? p->loss : p->metric; }

typedef struct {
    double lo, hi;
    int log; /* plot log10 of the values */
    int empty;
} range;

static range x_range(const figure *f, int x) {
    double hi = 0;
    for (size_t g = 0; g < f->ns; g++)
        for (size_t i = 0; i < f->s[g].n; i++) hi = fmax(hi, px(&f->s[g].mean[i], x));
    return (range){0, hi > 0 ? hi * 1.03 : 1, 0, 0};
}

static range y_range(const figure *f, int y) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t g = 0; g < f->ns; g++)
        for (size_t i = 0; i < f->s[g].n; i++) {
            double v = py(&f->s[g].mean[i], y);
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    if (lo > hi) return (range){0, 1, 0, 1};
    range r = {lo, hi, 0, 0};
    /* The loss on a log scale once it spans more than a decade and a half: the early losses no
     * longer flatten the rest of the curve, and the axis has labelled decades. */
    if (y == Y_LOSS && f->metric != METRIC_RETURN && lo > 0 && hi / lo >= 30) r = (range){log10(lo), log10(hi), 1, 0};
    double pad = r.hi > r.lo ? 0.05 * (r.hi - r.lo) : fmax(0.05 * fabs(r.hi), 0.01);
    r.lo -= pad;
    r.hi += pad;
    if (y == Y_METRIC && f->metric == METRIC_ACCURACY) r.lo = fmax(r.lo, 0), r.hi = fmin(r.hi, 100);
    if (y == Y_METRIC && f->metric == METRIC_RMSE) r.lo = fmax(r.lo, 0);
    if (y == Y_LOSS && !r.log && lo >= 0 && f->metric != METRIC_RETURN) r.lo = fmax(r.lo, 0);
    return r;
}

static const char *metric_name(const figure *f) {
    return f->metric == METRIC_RMSE ? "test RMSE" : f->metric == METRIC_RETURN ? "greedy return" : "test accuracy";
}

static void y_label(const figure *f, int y, char *buf, size_t len) {
    if (f->metric == METRIC_RETURN)
        snprintf(buf, len, "%s", y == Y_LOSS ? "mean episodic return" : "mean greedy return");
    else if (y == Y_LOSS)
        snprintf(buf, len, "mean mini-batch loss");
    else
        snprintf(buf, len, "%s", f->metric == METRIC_RMSE ? "test RMSE" : "test accuracy (%)");
}

static const char *x_label(const figure *f, int x) {
    if (f->metric == METRIC_RETURN) return x == X_EPOCHS ? "env steps" : "time (s)";
    return x == X_EPOCHS ? "epochs" : "training time (s)";
}

/* One panel in the viewport [x0, x1] x [y0, y1] (normalized page coordinates). */
/* chr: character scale; lw: width of the data lines. */
static void draw_panel(const figure *f, int x, int y, double x0, double x1, double y0, double y1, double chr,
                       double lw) {
    range xr = x_range(f, x), yr = y_range(f, y);
    plvpor(x0, x1, y0, y1);
    plwind(xr.lo, xr.hi, yr.lo, yr.hi);
    plwidth(0.5 * lw);
    pllsty(1);
    plcol0(COL_GRID);
    plbox("g", 0, 0, yr.log ? "gl" : "g", 0, 0);
    plcol0(COL_FG);
    plbox("bcnst", 0, 0, yr.log ? "bcnstlv" : "bcnstv", 0, 0);
    char ylab[64], title[96];
    y_label(f, y, ylab, sizeof ylab);
    snprintf(title, sizeof title, "%s vs %s",
             y == Y_LOSS ? (f->metric == METRIC_RETURN ? "training return" : "training loss") : metric_name(f),
             f->metric == METRIC_RETURN ? (x == X_EPOCHS ? "env steps" : "time") : x == X_EPOCHS ? "epochs" : "training time");
    pllab(x_label(f, x), "", title);
    plmtex("l", 4.2, 0.5, 0.5, ylab);
    if (yr.empty) {
        char note[96];
        snprintf(note, sizeof note, "no %s in these logs", y == Y_LOSS ? "finite loss" : metric_name(f));
        plptex(0.5 * (xr.lo + xr.hi), 0.5 * (yr.lo + yr.hi), 1, 0, 0.5, note);
        return;
    }
    size_t nmax = 0;
    for (size_t g = 0; g < f->ns; g++) nmax = f->s[g].n > nmax ? f->s[g].n : nmax;
    PLFLT *xs = malloc((nmax + 1) * sizeof *xs), *ys = malloc((nmax + 1) * sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return;
    }
    for (size_t g = 0; g < f->ns; g++) {
        const series *s = &f->s[g];
        plcol0(series_color(g));
        pllsty(s->style);
        plwidth(lw);
        /* The line, broken where the value is missing (null) */
        size_t m = 0;
        for (size_t i = 0; i <= s->n; i++) {
            double v = i < s->n ? py(&s->mean[i], y) : NAN;
            if (isfinite(v) && (!yr.log || v > 0)) {
                xs[m] = px(&s->mean[i], x);
                ys[m++] = yr.log ? log10(v) : v;
            } else {
                if (m > 1) plline((PLINT)m, xs, ys);
                m = 0;
            }
        }
        /* Markers on about eight points per line, staggered between lines so they do not pile up */
        pllsty(1);
        plwidth(0.5 * lw);
        plschr(0, 0.75 * chr);
        size_t step = s->n > 12 ? (s->n + 7) / 8 : 1;
        size_t first = step > 1 ? (g * step / (f->ns ? f->ns : 1)) % step : 0;
        m = 0;
        for (size_t i = first; i < s->n; i += step) {
            double v = py(&s->mean[i], y);
            if (!isfinite(v) || (yr.log && v <= 0)) continue;
            xs[m] = px(&s->mean[i], x);
            ys[m++] = yr.log ? log10(v) : v;
        }
        if (m) plstring((PLINT)m, xs, ys, series_marker(g));
        plschr(0, chr);
    }
    plwidth(0.5 * lw);
    pllsty(1);
    plcol0(COL_FG);
    free(xs);
    free(ys);
}

/* Legend columns that fit across the legend's viewport (set, with the character height of its text):
 * at most four, fewer when the longest label would push the outer columns past the page's edges.
 * pllegend makes every column as wide as the widest entry: its line sample (LEGEND_SAMPLE of the
 * viewport's width), the text offset (2 character heights) and the text, plus a margin. */
#define LEGEND_SAMPLE 0.05
#define LEGEND_CHAR_WIDTH 0.6
static PLINT legend_columns(const figure *f, const char (*text)[2 * sizeof f->s->legend]) {
    PLFLT def_mm, chr_mm, x0, x1, y0, y1, longest = 0;
    plgchr(&def_mm, &chr_mm);
    plgvpd(&x0, &x1, &y0, &y1);
    PLFLT spx0, spx1, spy0, spy1;
    plgspa(&spx0, &spx1, &spy0, &spy1);
    double vp_mm = (x1 - x0) * (spx1 - spx0);
    for (size_t g = 0; g < f->ns; g++) longest = fmax(longest, LEGEND_CHAR_WIDTH * chr_mm * (double)strlen(text[g]));
    double col = LEGEND_SAMPLE + (longest + 4.0 * chr_mm) / vp_mm; /* one column, a fraction of the viewport */
    PLINT ncol = f->ns < 4 ? (PLINT)f->ns : 4;
    while (ncol > 1 && ncol * col > 1.0) ncol--;
    return ncol;
}

/* The legend, centred in a strip under the title: up to four entries a row, fewer when the labels
 * are long (legend_columns), so that every entry stays on the page. Returns its height as a fraction
 * of the page. */
static double draw_legend(const figure *f, double top, double chr, double lw) {
    size_t n = f->ns;
    PLINT ncol = 1, nrow = (PLINT)n;
    PLINT *opt = malloc(n * sizeof *opt), *colors = malloc(n * sizeof *colors), *styles = malloc(n * sizeof *styles);
    PLINT *fg = malloc(n * sizeof *fg), *nsym = malloc(n * sizeof *nsym);
    PLFLT *widths = malloc(n * sizeof *widths), *scales = malloc(n * sizeof *scales);
    const char **text = malloc(n * sizeof *text), **syms = malloc(n * sizeof *syms);
    char(*legend)[2 * sizeof f->s->legend] = malloc(n * sizeof *legend);
    PLFLT w = 0, h = 0;
    if (opt && colors && styles && fg && nsym && widths && scales && text && syms && legend) {
        for (size_t g = 0; g < n; g++) {
            opt[g] = PL_LEGEND_LINE | PL_LEGEND_SYMBOL;
            colors[g] = series_color(g);
            styles[g] = f->s[g].style;
            fg[g] = COL_FG;
            nsym[g] = 1;
            widths[g] = lw;
            scales[g] = 0.75 * chr; /* pllegend's scales are relative to the default height */
            pl_text(f->s[g].legend, legend[g], sizeof legend[g]);
            text[g] = legend[g];
            syms[g] = series_marker(g);
        }
        plvpor(0.05, 0.95, 0, top);
        plwind(0, 1, 0, 1);
        plschr(0, chr);
        ncol = legend_columns(f, legend);
        nrow = (PLINT)((n + (size_t)ncol - 1) / (size_t)ncol);
        pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX | PL_LEGEND_ROW_MAJOR,
                 PL_POSITION_TOP | PL_POSITION_INSIDE, 0, 0, LEGEND_SAMPLE, COL_BG, COL_FG, 1, nrow, ncol, (PLINT)n, opt, 1.0,
                 chr, 2.0, 0, fg, text, NULL, NULL, NULL, NULL, colors, styles, widths, colors, scales, nsym, syms);
    }
    free(opt), free(colors), free(styles), free(fg), free(nsym), free(widths), free(scales), free(text), free(syms),
        free(legend);
    return h * top;
}

static void draw_figure(const figure *f) {
    /* Text scales with the page, but less than linearly below the default 1400 x 1000 so that a small
     * figure stays readable; the layout is measured in character heights (h) and widths (w). */
    double scale = fmin(f->width / 1400.0, f->height / 1000.0);
    double chr = 0.62 * (scale < 1 ? sqrt(scale) : scale), lw = 2.0 * fmax(scale, 0.75);
    pladv(0);
    plschr(0, chr);
    PLFLT def_mm, chr_mm, px0, px1, py0, py1;
    plgchr(&def_mm, &chr_mm);
    plgspa(&px0, &px1, &py0, &py1);
    double h = chr_mm / (py1 - py0), w = chr_mm / (px1 - px0);
    /* Title and subtitle across the top */
    plvpor(0, 1, 0, 1);
    plwind(0, 1, 0, 1);
    char title[512];
    pl_text(f->title, title, sizeof title);
    plcol0(COL_FG);
    plwidth(0.5 * lw);
    plschr(0, 1.45 * chr);
    plptex(0.5, 1 - 2.55 * h, 1, 0, 0.5, title);
    plschr(0, 0.9 * chr);
    plptex(0.5, 1 - 4.6 * h, 1, 0, 0.5, f->subtitle);
    /* The legend under them, then four panels in a 2x2 grid: loss above, the test metric below;
     * epochs left, training time right */
    double legend_top = 1 - 6.05 * h;
    double top = legend_top - draw_legend(f, legend_top, chr, lw) - 4.0 * h;
    double bottom = 4.4 * h, gap = 7.4 * h, left = 7.1 * w, mid = 8.0 * w, right = 3.8 * w;
    double hrow = fmax((top - bottom - gap) / 2, 0.1), wcol = (1 - left - mid - right) / 2;
    for (int row = 0; row < 2; row++)
        for (int col = 0; col < 2; col++) {
            double x0 = left + col * (wcol + mid), y0 = row ? bottom : bottom + hrow + gap;
            plschr(0, chr);
            draw_panel(f, col ? X_SECONDS : X_EPOCHS, row ? Y_METRIC : Y_LOSS, x0, x0 + wcol, y0, y0 + hrow, chr, lw);
        }
}

/* ---- output ---- */

/* plexit() (PLplot's fatal error) calls this before printing and exiting: jump back instead. */
static jmp_buf plot_jmp;
static char plot_fatal[ERRLEN];
static int on_plexit(const char *msg) {
    snprintf(plot_fatal, sizeof plot_fatal, "%s", msg && *msg ? msg : "fatal error");
    longjmp(plot_jmp, 1);
}

static int have_device(const char *dev) {
    enum { MAXDEV = 128 };
    const char **menu = malloc(MAXDEV * sizeof *menu), **names = malloc(MAXDEV * sizeof *names);
    int n = MAXDEV, found = 0;
    if (menu && names) {
        plgDevs(&menu, &names, &n);
        for (int i = 0; i < n && !found; i++) found = names[i] && !strcmp(names[i], dev);
    }
    free(menu);
    free(names);
    return found;
}

/* The first line of PLplot's captured stderr with text in it, without PLplot's banner lines. */
static void first_message(FILE *f, char *buf, size_t len) {
    char line[512];
    buf[0] = '\0';
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || strstr(line, "*** PLPLOT")) continue;
        snprintf(buf, len, "%s", line);
        return;
    }
}

/* Draws the figure into path with a PLplot device. PLplot writes its warnings to stderr and, when a
 * device is missing, a menu to stdout and a prompt on stdin: both streams are captured meanwhile,
 * and only the first line reported on failure. A fatal PLplot error returns here instead of exiting. */
static int render(const figure *f, const char *dev, const char *path, char *err, size_t errlen) {
    FILE *cap = tmpfile();
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    if (!cap || saved_out < 0 || saved_err < 0) {
        if (cap) fclose(cap);
        if (saved_out >= 0) close(saved_out);
        if (saved_err >= 0) close(saved_err);
        snprintf(err, errlen, "cannot capture PLplot's messages");
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(fileno(cap), STDOUT_FILENO);
    dup2(fileno(cap), STDERR_FILENO);
    static PLINT errcode;
    static char errmsg[4096];
    errcode = 0;
    errmsg[0] = '\0';
    plot_fatal[0] = '\0';
    volatile int failed = 0, no_device = 0;
    plsexit(on_plexit);
    if (setjmp(plot_jmp)) {
        failed = 1;
    } else if (!have_device(dev)) {
        failed = no_device = 1;
    } else {
        plsError(&errcode, errmsg);
        plsdev(dev);
        plsfnam(path);
        plspage(0, 0, f->width, f->height, 0, 0);
        PLINT r[NCOLORS], g[NCOLORS], b[NCOLORS];
        for (int i = 0; i < NCOLORS; i++) r[i] = palette[i][0], g[i] = palette[i][1], b[i] = palette[i][2];
        plscmap0(r, g, b, NCOLORS);
        plinit();
        plsError(&errcode, errmsg);
        draw_figure(f);
        plend1();
        failed = errcode != 0;
    }
    plsexit(NULL);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    char first[512];
    first_message(cap, first, sizeof first);
    fclose(cap);
    if (no_device) {
        snprintf(err, errlen, "PLplot has no '%s' device (install plplot-driver-cairo)%s%.300s", dev, first[0] ? ": " : "",
                 first);
    } else if (failed) {
        const char *why = plot_fatal[0] ? plot_fatal : errmsg[0] ? errmsg : first[0] ? first : "unknown error";
        snprintf(err, errlen, "PLplot (%s) failed: %.*s", dev, (int)strcspn(why, "\n"), why);
    }
    return failed ? -1 : 0;
}

static void xml_escaped(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", out);
        else if (*s == '<') fputs("&lt;", out);
        else if (*s == '>') fputs("&gt;", out);
        else fputc(*s, out);
    }
}

/* Cairo draws SVG text as glyph outlines; a <title> and <desc> after the <svg> tag carry the figure's
 * words (title, axes, legend) as text, for screen readers and search. */
static int svg_add_text(const figure *f, const char *path, char *err, size_t errlen) {
    FILE *in = fopen(path, "rb");
    char *buf = NULL;
    long size = -1;
    if (in && !fseek(in, 0, SEEK_END) && (size = ftell(in)) > 0 && !fseek(in, 0, SEEK_SET) &&
        (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, in) == (size_t)size) {
        buf[size] = '\0';
    } else {
        size = -1;
    }
    if (in) fclose(in);
    char *tag = size > 0 ? strstr(buf, "<svg") : NULL, *end = tag ? strchr(tag, '>') : NULL;
    if (!end) {
        free(buf);
        snprintf(err, errlen, "PLplot (svgcairo) wrote no SVG to %s", path);
        return -1;
    }
    FILE *out = fopen(path, "wb");
    if (!out) {
        free(buf);
        snprintf(err, errlen, "%s: cannot rewrite", path);
        return -1;
    }
    fwrite(buf, 1, (size_t)(end + 1 - buf), out);
    fputs("\n<title>", out);
    xml_escaped(out, f->title);
    fputs("</title>\n<desc>", out);
    const char *m = f->metric == METRIC_RMSE ? "test RMSE" : "test accuracy (%)";
    if (f->metric == METRIC_RETURN)
        fprintf(out, "Four panels: mean training episodic return vs env steps; vs time (s); mean greedy evaluation "
                     "return vs env steps; vs time (s). ");
    else
        fprintf(out, "Four panels: training loss (mean mini-batch loss) vs epochs; training loss vs training time (s); "
                     "%s vs epochs; %s vs training time (s). ",
                m, m);
    fputs("Lines, each the mean over seeds: ", out);
    for (size_t g = 0; g < f->ns; g++) {
        xml_escaped(out, f->s[g].legend);
        fputs(g + 1 < f->ns ? "; " : ".", out);
    }
    fputs("</desc>", out);
    fwrite(end + 1, 1, (size_t)(buf + size - end - 1), out);
    free(buf);
    if (fclose(out)) {
        snprintf(err, errlen, "%s: write error", path);
        return -1;
    }
    return 0;
}

/* A new empty file next to final (same folder, so that rename is atomic), named into tmp. */
static int make_temp(const char *final, char *tmp, size_t len, char *err, size_t errlen) {
    if ((size_t)snprintf(tmp, len, "%s.tmp-XXXXXX", final) >= len) {
        snprintf(err, errlen, "--out: the name is too long");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", final, strerror(errno));
        tmp[0] = '\0';
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    close(fd);
    return 0;
}

static int file_starts_with(const char *path, const char *magic, size_t n, long min_size) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char head[16];
    int ok = fread(head, 1, n, f) == n && !memcmp(head, magic, n) && !fseek(f, 0, SEEK_END) && ftell(f) >= min_size;
    fclose(f);
    return ok;
}

static void plot_usage(FILE *to) {
    fprintf(to,
            "usage: curvo plot [OPTIONS] LOG.jsonl...\n"
            "\n"
            "Draws benchmark logs (written by 'curvo bench', 'curvo train --log' or bench/torch_train.py) as\n"
            "one figure of four panels: training loss against epochs and against training time, and test\n"
            "accuracy (test RMSE for regression logs) against epochs and against training time. Each log's\n"
            "first line, its \"run\" line, names the framework and optimizer; logs with the same ones (the\n"
            "seeds of one configuration) become one line: the mean over the seeds of their i-th evaluation\n"
            "(\"eval\" and \"epoch\" lines; as many points as the shortest seed has), plotted at the mean\n"
            "epochs done and the mean training seconds (which exclude evaluation). Lines are labelled\n"
            "'adam' for curvo, 'torch adam' for PyTorch; where the logs differ in model or dataset, those\n"
            "are added to the label. The loss axis turns logarithmic when the loss spans more than 30x.\n"
            "Logs of 'curvo rl' (docs/RL.md) give the mean training episodic return and the greedy\n"
            "evaluation return, each against env steps and against seconds, from their eval lines.\n"
            "\n"
            "  --out PREFIX     write PREFIX.png and PREFIX.svg (default: curvo-plot)\n"
            "  --title TEXT     the figure's title (default: MODEL on DATASET from the logs)\n"
            "  --width PX       width of the PNG in pixels, of the SVG in points (default: 1400)\n"
            "  --height PX      height likewise (default: 1000)\n"
            "  --help           this text\n"
            "\n"
            "Exit status: 0 when both files were written; 1 when a log cannot be read or plotted (one\n"
            "line on stderr names the file and line; nothing is written); 2 for bad options.\n");
}

int cli_plot(int argc, char **argv) {
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},   {"title", required_argument, 0, 't'},
                                         {"width", required_argument, 0, 'W'}, {"height", required_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *prefix = "curvo-plot", *title = NULL;
    long width = 1400, height = 1000;
    int o, ok = 1;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'o': prefix = optarg; break;
        case 't': title = optarg; break;
        case 'W': ok = cli_parse_long("width", optarg, 320, 10000, &width); break;
        case 'H': ok = cli_parse_long("height", optarg, 240, 10000, &height); break;
        case 'h': plot_usage(stdout); return 0;
        default: cli_bad_option("plot", argv, o); return 2;
        }
        if (!ok) return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "curvo plot: no log files given (see 'curvo plot --help')\n");
        return 2;
    }
    if (!*prefix) {
        fprintf(stderr, "curvo plot: --out: empty prefix\n");
        return 2;
    }
    size_t nlogs = (size_t)(argc - optind);
    run_log *logs = calloc(nlogs, sizeof *logs);
    figure fig = {0};
    char err[ERRLEN], png[4096], svg[4096], tmp_png[4200] = "", tmp_svg[4200] = "";
    int code = 1;
    if (!logs) {
        fprintf(stderr, "curvo plot: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nlogs; i++)
        if (read_log(argv[optind + (int)i], &logs[i], err, sizeof err)) goto fail;
    for (size_t i = 0; i < nlogs; i++) {
        if (logs[i].rl != logs[0].rl) {
            snprintf(err, sizeof err, "%s is a `curvo rl` log but %s is not: they cannot share a figure",
                     logs[i].rl ? logs[i].path : logs[0].path, logs[i].rl ? logs[0].path : logs[i].path);
            goto fail;
        }
        if (!logs[i].metric) continue;
        if (fig.metric && fig.metric != logs[i].metric) {
            size_t j = 0;
            while (logs[j].metric != fig.metric) j++;
            snprintf(err, sizeof err, "%s has %s but %s has %s: classification and regression logs cannot share a figure",
                     logs[j].path, fig.metric == METRIC_RMSE ? "test_rmse" : "test_accuracy", logs[i].path,
                     logs[i].metric == METRIC_RMSE ? "test_rmse" : "test_accuracy");
            goto fail;
        }
        fig.metric = logs[i].metric;
    }
    if (build_series(logs, nlogs, &fig, err, sizeof err)) goto fail;
    if (fig.ns > MAX_LINES) {
        snprintf(err, sizeof err, "%zu lines (framework + optimizer labels) are too many for one figure (at most %d): "
                 "plot fewer logs at a time", fig.ns, MAX_LINES);
        goto fail;
    }
    fig.width = (int)width;
    fig.height = (int)height;
    char auto_title[256];
    if (!title) {
        int model = logs[0].model && all_same(logs, nlogs, offsetof(run_log, model));
        int dataset = logs[0].dataset && all_same(logs, nlogs, offsetof(run_log, dataset));
        if (model && dataset)
            snprintf(auto_title, sizeof auto_title, "%.100s on %.100s", logs[0].model, logs[0].dataset);
        else if (model)
            snprintf(auto_title, sizeof auto_title, "%.100s", logs[0].model);
        else
            snprintf(auto_title, sizeof auto_title, "curvo benchmark");
        title = auto_title;
    }
    fig.title = title;
    snprintf(fig.subtitle, sizeof fig.subtitle, "%s", fig.metric == METRIC_RETURN
             ? "each line: the mean over its seeds at each greedy evaluation; time includes acting and evaluation"
             : "each line: the mean over its seeds; training time excludes evaluation");
    if ((size_t)snprintf(png, sizeof png, "%s.png", prefix) >= sizeof png ||
        (size_t)snprintf(svg, sizeof svg, "%s.svg", prefix) >= sizeof svg) {
        fprintf(stderr, "curvo plot: --out: the prefix is too long\n");
        code = 2;
        goto done;
    }
    if (make_temp(png, tmp_png, sizeof tmp_png, err, sizeof err) || make_temp(svg, tmp_svg, sizeof tmp_svg, err, sizeof err))
        goto fail;
    if (render(&fig, "pngcairo", tmp_png, err, sizeof err)) goto fail;
    if (!file_starts_with(tmp_png, "\x89PNG\r\n\x1a\n", 8, 1000)) {
        snprintf(err, sizeof err, "PLplot (pngcairo) wrote no PNG image");
        goto fail;
    }
    if (render(&fig, "svgcairo", tmp_svg, err, sizeof err) || svg_add_text(&fig, tmp_svg, err, sizeof err)) goto fail;
    plend();
    if (rename(tmp_png, png)) {
        snprintf(err, sizeof err, "cannot write %.900s: %s", png, strerror(errno));
        goto fail;
    }
    tmp_png[0] = '\0';
    if (rename(tmp_svg, svg)) {
        snprintf(err, sizeof err, "cannot write %.900s: %s", svg, strerror(errno));
        goto fail;
    }
    tmp_svg[0] = '\0';
    printf("curvo plot: wrote %s and %s (%zu line%s from %zu log%s)\n", png, svg, fig.ns, fig.ns == 1 ? "" : "s", nlogs,
           nlogs == 1 ? "" : "s");
    code = 0;
    goto done;
fail:
    fprintf(stderr, "curvo plot: %s\n", err);
done:
    if (tmp_png[0]) unlink(tmp_png);
    if (tmp_svg[0]) unlink(tmp_svg);
    for (size_t i = 0; i < nlogs; i++) free_log(&logs[i]);
    free(logs);
    for (size_t g = 0; g < fig.ns; g++) free(fig.s[g].mean);
    free(fig.s);
    return code;
}

#endif
