/* bench_engine.c — the curvo side of the engine benchmark (issue 2).
 *
 * 1. forward+backward of the `mlp` and `cnn` presets (28x28x1 inputs, 10 classes, softmax
 *    cross-entropy, mean over the batch): curvo_curv_set_batch (forward + loss) followed by
 *    curvo_curv_grad (backward), timed together; the two halves are also reported separately.
 *    bench/torch_engine.py times the same networks in PyTorch; bench/run_engine.sh runs both.
 * 2. The Gram matrix of the whitened per-sample Jacobians of `mlp` at b*c = 1280 rows:
 *    curvo_curv_gram (formed from per-layer factors, never from J) against the naive way —
 *    materialise J~ = blockdiag(L_i^T) J (1280 x n floats, about 1 GB for mlp) row-block by
 *    row-block with curvo_curv_vjp, seeding row (i,k) with the column k of L_i at sample i (the
 *    same cost as a unit seed), then J~ J~^T with cblas_ssyrk. Both give the same matrix; the
 *    largest difference relative to max|Gram| is reported as a check.
 *
 * Usage: bench_engine [--threads N] [--reps R] [--batch B] [--warmup W] [--models mlp,cnn]
 *                     [--gram-reps R] [--j-reps R] [--j-chunk K] [--no-fwd] [--no-gram]
 *                     [--seed S] [--json]
 * With --json each result is one JSON object per line with at least the fields
 * bench, model, batch, threads, median_ms, min_ms, reps. Only include/curvo.h (and CBLAS for the
 * J~ J~^T product of the naive Gram) is used.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strtok_r */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "curvo.h"

#define NUM_CLASSES 10

typedef struct options {
    int threads, reps, batch, warmup, gram_reps, j_reps, j_chunk;
    int do_fwd, do_gram, json;
    unsigned long long seed;
    const char *models;
} options;

/* ---------------------------------------------------------------- timing helpers */

/* One result line: a table row, or a JSON object (extra: further JSON fields, may be ""). */
static void report(const options *o, const char *bench, const char *model, size_t nparams,
                   double median, double min, int reps, const char *extra)
{
    if (o->json) {
        while (*bench == ' ') /* the table indents sub-timings; JSON names them plainly */
            bench++;
        printf("{\"bench\": \"%s\", \"impl\": \"curvo\", \"model\": \"%s\", \"batch\": %d, "
               "\"threads\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, \"reps\": %d%s}\n",
               bench, model, o->batch, o->threads, median, min, reps, extra);
    } else {
        printf("%-12s %-5s %9zu %11.3f %10.3f %6d\n", bench, model, nparams, median, min, reps);
    }
    fflush(stdout);
}

/* ---------------------------------------------------------------- error handling */
static int check(int st, const char *what, const curvo_curv *cv, const curvo_model *m)
{
    if (st == CURVO_OK)
        return 0;
    const char *ctx = cv ? curvo_curv_errmsg(cv) : m ? curvo_model_errmsg(m) : "";
    fprintf(stderr, "bench_engine: %s: %s%s%s\n", what, curvo_strerror(st), ctx && *ctx ? ": " : "",
            ctx ? ctx : "");
    return 1;
}

#define CHECK(call, cv, m)                                                                        \
    do {                                                                                          \
        if (check((call), #call, (cv), (m)))                                                      \
            goto fail;                                                                            \
    } while (0)

/* ---------------------------------------------------------------- a model on a random batch */
typedef struct setup {
    curvo_model *model;
    curvo_curv *cv;
    float *x;        /* (b, 784) in [0, 1) */
    int32_t *labels; /* (b) in [0, 10) */
    curvo_batch batch;
    size_t n;
} setup;

static void setup_free(setup *s)
{
    curvo_curv_free(s->cv);
    curvo_model_free(s->model);
    free(s->x);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

static int setup_make(setup *s, const char *name, int b, unsigned long long seed)
{
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_rng rng;
    memset(s, 0, sizeof *s);
    int st = curvo_model_from_spec(name, 1, 28, 28, &s->model, err);
    if (st != CURVO_OK) {
        fprintf(stderr, "bench_engine: curvo_model_from_spec(\"%s\"): %s: %s\n", name,
                curvo_strerror(st), err);
        return 1;
    }
    curvo_rng_seed(&rng, seed);
    CHECK(curvo_model_init(s->model, &rng), NULL, s->model);
    if (curvo_model_output_size(s->model) != NUM_CLASSES) {
        fprintf(stderr, "bench_engine: %s has %zu outputs, expected %d\n", name,
                curvo_model_output_size(s->model), NUM_CLASSES);
        goto fail;
    }
    s->n = curvo_model_num_params(s->model);
    size_t d = curvo_model_input_size(s->model);
    s->x = malloc((size_t)b * d * sizeof *s->x);
    s->labels = malloc((size_t)b * sizeof *s->labels);
    if (!s->x || !s->labels) {
        fprintf(stderr, "bench_engine: out of memory\n");
        goto fail;
    }
    for (size_t i = 0; i < (size_t)b * d; i++)
        s->x[i] = (float)curvo_rng_uniform(&rng);
    for (int i = 0; i < b; i++)
        s->labels[i] = (int32_t)curvo_rng_below(&rng, NUM_CLASSES);
    s->batch = (curvo_batch){.x = s->x, .labels = s->labels, .targets = NULL, .b = b};
    CHECK(curvo_curv_create(s->model, CURVO_LOSS_CE, &s->cv), NULL, s->model);
    return 0;
fail:
    setup_free(s);
    return 1;
}

/* ---------------------------------------------------------------- 1. forward + backward */
static int bench_fwd_bwd(const options *o, const char *name)
{
    setup s;
    if (setup_make(&s, name, o->batch, o->seed))
        return 1;
    int ret = 1, total = o->warmup + o->reps;
    float *g = malloc(s.n * sizeof *g);
    double *t_all = malloc((size_t)o->reps * sizeof *t_all);
    double *t_fwd = malloc((size_t)o->reps * sizeof *t_fwd);
    double *t_bwd = malloc((size_t)o->reps * sizeof *t_bwd);
    if (!g || !t_all || !t_fwd || !t_bwd) {
        fprintf(stderr, "bench_engine: out of memory\n");
        goto fail;
    }
    for (int r = 0; r < total; r++) {
        double t0 = bench_now_ms();
        CHECK(curvo_curv_set_batch(s.cv, &s.batch), s.cv, NULL);
        double t1 = bench_now_ms();
        CHECK(curvo_curv_grad(s.cv, g), s.cv, NULL);
        double t2 = bench_now_ms();
        if (r >= o->warmup) {
            t_all[r - o->warmup] = t2 - t0;
            t_fwd[r - o->warmup] = t1 - t0;
            t_bwd[r - o->warmup] = t2 - t1;
        }
    }
    double loss = curvo_curv_loss(s.cv), gnorm = 0.0;
    for (size_t j = 0; j < s.n; j++)
        gnorm += (double)g[j] * g[j];
    if (!isfinite(loss) || !isfinite(gnorm)) {
        fprintf(stderr, "bench_engine: %s: non-finite loss or gradient\n", name);
        goto fail;
    }
    double med, min;
    bench_summarize(t_all, o->reps, &med, &min);
    report(o, "fwd_bwd", name, s.n, med, min, o->reps, "");
    bench_summarize(t_fwd, o->reps, &med, &min);
    report(o, "  fwd", name, s.n, med, min, o->reps, "");
    bench_summarize(t_bwd, o->reps, &med, &min);
    report(o, "  bwd", name, s.n, med, min, o->reps, "");
    ret = 0;
fail:
    free(g);
    free(t_all);
    free(t_fwd);
    free(t_bwd);
    setup_free(&s);
    return ret;
}

/* ---------------------------------------------------------------- 2. Gram vs materialised J */
static int bench_gram(const options *o)
{
    setup s;
    if (setup_make(&s, "mlp", o->batch, o->seed))
        return 1;
    int ret = 1;
    const int b = o->batch, c = NUM_CLASSES, m = b * c;
    const size_t n = s.n, mm = (size_t)m * m;
    const int chunk = o->j_chunk < m ? o->j_chunk : m;
    double *gram = malloc(mm * sizeof *gram);
    double *lf = malloc((size_t)b * c * c * sizeof *lf);
    float *u = malloc((size_t)chunk * m * sizeof *u);
    float *jt = malloc((size_t)m * n * sizeof *jt); /* J~, (b*c, n): about 1 GB for mlp */
    float *gj = malloc(mm * sizeof *gj);
    double *t_gram = malloc((size_t)o->gram_reps * sizeof *t_gram);
    double *t_j = malloc((size_t)o->j_reps * 3 * sizeof *t_j);
    if (!gram || !lf || !u || !jt || !gj || !t_gram || !t_j) {
        fprintf(stderr, "bench_engine: out of memory (J~ needs %.2f GB)\n",
                (double)m * n * sizeof(float) / 1e9);
        goto fail;
    }
    CHECK(curvo_curv_set_batch(s.cv, &s.batch), s.cv, NULL);

    /* curvo_curv_gram: one warm-up call, then gram_reps timed calls. */
    CHECK(curvo_curv_gram(s.cv, gram), s.cv, NULL);
    for (int r = 0; r < o->gram_reps; r++) {
        double t0 = bench_now_ms();
        CHECK(curvo_curv_gram(s.cv, gram), s.cv, NULL);
        t_gram[r] = bench_now_ms() - t0;
    }

    /* The naive way: rows of J~ by VJPs, chunk rows at a time, then J~ J~^T. Row q = i*c + k of
     * J~ is J^T u with u zero except u[i, :] = L_i[:, k]. */
    CHECK(curvo_curv_hessian_factor(s.cv, lf), s.cv, NULL);
    double *t_vjp = t_j + o->j_reps, *t_syrk = t_j + 2 * (size_t)o->j_reps;
    for (int r = 0; r < o->j_reps; r++) {
        double t0 = bench_now_ms();
        for (int q0 = 0; q0 < m; q0 += chunk) {
            int kk = m - q0 < chunk ? m - q0 : chunk;
            memset(u, 0, (size_t)kk * m * sizeof *u);
            for (int j = 0; j < kk; j++) {
                int q = q0 + j, i = q / c, k = q % c;
                for (int mo = 0; mo < c; mo++)
                    u[(size_t)j * m + (size_t)i * c + mo] = (float)lf[((size_t)i * c + mo) * c + k];
            }
            CHECK(curvo_curv_vjp(s.cv, u, kk, jt + (size_t)q0 * n), s.cv, NULL);
        }
        double t1 = bench_now_ms();
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, (int)n, 1.0f, jt, (int)n, 0.0f, gj,
                    m);
        double t2 = bench_now_ms();
        t_j[r] = t2 - t0;
        t_vjp[r] = t1 - t0;
        t_syrk[r] = t2 - t1;
    }

    /* Check: both are the same matrix (upper triangle; gj is float, gram double). */
    double gmax = 0.0, dmax = 0.0;
    for (int p = 0; p < m; p++)
        for (int q = p; q < m; q++) {
            double a = gram[(size_t)p * m + q], d = fabs(a - (double)gj[(size_t)p * m + q]);
            if (fabs(a) > gmax)
                gmax = fabs(a);
            if (!(d <= dmax)) /* also catches NaN */
                dmax = d;
        }
    double rel = gmax > 0.0 ? dmax / gmax : dmax;

    double g_med, g_min, j_med, j_min, v_med, v_min, s_med, s_min;
    bench_summarize(t_gram, o->gram_reps, &g_med, &g_min);
    bench_summarize(t_j, o->j_reps, &j_med, &j_min);
    bench_summarize(t_vjp, o->j_reps, &v_med, &v_min);
    bench_summarize(t_syrk, o->j_reps, &s_med, &s_min);
    char extra[256];
    snprintf(extra, sizeof extra, ", \"rows\": %d", m);
    report(o, "gram", "mlp", n, g_med, g_min, o->gram_reps, extra);
    snprintf(extra, sizeof extra,
             ", \"rows\": %d, \"whitened\": true, \"vjp_median_ms\": %.3f, \"syrk_median_ms\": %.3f,"
             " \"max_rel_diff\": %.3g, \"ratio_vs_gram\": %.2f",
             m, v_med, s_med, rel, j_med / g_med);
    report(o, "gram_via_J", "mlp", n, j_med, j_min, o->j_reps, extra);
    if (!o->json) {
        printf("  J~ (%d x %zu floats, %.2f GB) by curvo_curv_vjp in chunks of %d rows: %.1f ms; "
               "J~ J~^T by cblas_ssyrk: %.1f ms\n",
               m, n, (double)m * n * sizeof(float) / 1e9, chunk, v_med, s_med);
        printf("  whitened (J~ = blockdiag(L_i^T) J, as curvo_curv_gram); max |diff| / max |Gram| "
               "= %.3g\n",
               rel);
        printf("  materialised J / curvo_curv_gram = %.1fx\n", j_med / g_med);
    }
    if (!(rel < 1e-3)) {
        fprintf(stderr, "bench_engine: curvo_curv_gram and J~ J~^T differ (rel %.3g)\n", rel);
        goto fail;
    }
    ret = 0;
fail:
    free(gram);
    free(lf);
    free(u);
    free(jt);
    free(gj);
    free(t_gram);
    free(t_j);
    setup_free(&s);
    return ret;
}

/* ---------------------------------------------------------------- command line */
static int parse_int(const char *s, int lo, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > 1000000000L)
        return 1;
    *out = (int)v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_engine [--threads N] [--reps R] [--batch B] [--warmup W]\n"
               "                    [--models mlp,cnn] [--gram-reps R] [--j-reps R] [--j-chunk K]\n"
               "                    [--no-fwd] [--no-gram] [--seed S] [--json]\n");
}

int main(int argc, char **argv)
{
    options o = {.threads = 1, .reps = 50, .batch = 128, .warmup = 5, .gram_reps = 10,
                 .j_reps = 3, .j_chunk = 128, .do_fwd = 1, .do_gram = 1, .json = 0, .seed = 1,
                 .models = "mlp,cnn"};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        int bad = 0, *ip = NULL, lo = 1;
        if (!strcmp(arg, "--json")) {
            o.json = 1;
            continue;
        } else if (!strcmp(arg, "--no-fwd")) {
            o.do_fwd = 0;
            continue;
        } else if (!strcmp(arg, "--no-gram")) {
            o.do_gram = 0;
            continue;
        } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--threads")) {
            ip = &o.threads;
        } else if (!strcmp(arg, "--reps")) {
            ip = &o.reps;
        } else if (!strcmp(arg, "--batch")) {
            ip = &o.batch;
        } else if (!strcmp(arg, "--warmup")) {
            ip = &o.warmup;
            lo = 0;
        } else if (!strcmp(arg, "--gram-reps")) {
            ip = &o.gram_reps;
        } else if (!strcmp(arg, "--j-reps")) {
            ip = &o.j_reps;
        } else if (!strcmp(arg, "--j-chunk")) {
            ip = &o.j_chunk;
        } else if (!strcmp(arg, "--models") && val) {
            o.models = val;
            a++;
            continue;
        } else if (!strcmp(arg, "--seed") && val) {
            char *end;
            o.seed = strtoull(val, &end, 10);
            bad = *val == '\0' || *end != '\0';
            a++;
        } else {
            bad = 1;
        }
        if (ip) {
            bad = !val || parse_int(val, lo, ip);
            a++;
        }
        if (bad) {
            fprintf(stderr, "bench_engine: bad argument '%s%s%s'\n", arg, val ? " " : "",
                    val ? val : "");
            usage(stderr);
            return 2;
        }
    }

    curvo_set_threads(o.threads);
    if (!o.json) {
        printf("curvo %s, threads %d, batch %d, reps %d (warm-up %d)\n", curvo_version(),
               o.threads, o.batch, o.reps, o.warmup);
        printf("%-12s %-5s %9s %11s %10s %6s\n", "bench", "model", "params", "median ms",
               "min ms", "reps");
    }
    int fails = 0;
    if (o.do_fwd) {
        char list[256];
        snprintf(list, sizeof list, "%s", o.models);
        for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
             name = strtok_r(NULL, ",", &save))
            fails += bench_fwd_bwd(&o, name);
    }
    if (o.do_gram)
        fails += bench_gram(&o);
    return fails ? 1 : 0;
}
