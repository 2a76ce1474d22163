/* bench_optim.c — step-time benchmark of curvo's optimizers (issues 4 and 5).
 *
 * Modes (one per run):
 *   steps (default)   time curvo_optimizer_step of every optimizer variant in --opts, for every
 *                     model in --models and batch size in --batches, on real Fashion-MNIST batches
 *                     (a curvo_batcher shuffled with a fixed seed, drop_last). Each variant starts
 *                     from the same freshly initialised model and the same batch order; W warm-up
 *                     steps, then R timed steps (fewer when a step is slow: the timed steps of one
 *                     variant are capped at --budget seconds, but never fewer than 5). Per variant:
 *                     median and min step time, the ratios of the median to SGD's and to Adam's
 *                     median measured in the same run (same model and batch), mean line-search
 *                     evaluations and CG iterations, rejected steps, and the mean of each of the
 *                     method's own figures (curvo_step_info.extra) over the steps that report it.
 *                     With --floor the machine's sgemm and dpotrf rates are measured first and
 *                     every EGN variant on `mlp` gets its "floor":
 *                         floor = m^2 * 256 multiply-adds at the sgemm rate
 *                               + m^3 / 3 at the dpotrf rate,   m = b*c (full) or b (true_class)
 *                     (the SYRK of the hidden layer's 256-wide signals and the Cholesky of the
 *                     m x m system), and the ratio step / floor.
 *   --rates           only the sgemm (1024^3, median of 5) and dpotrf (n = 1280 SPD, median of 5)
 *                     rates (dpotrf column-major, i.e. LAPACK itself; row-major through LAPACKE too).
 *   --breakdown       EGN's pieces through the public API on one fixed batch per model and batch
 *                     size: forward+loss (set_batch), gradient, residual + Hessian factors, Gram
 *                     (or seeded Gram for true_class), dpotrf+dpotrs (row-major, as egn.c), whitened
 *                     VJP, one JVP, their sum, and the same dpotrf column-major (no LAPACKE transposes).
 *                     One line-search evaluation costs an axpy plus one set_batch.
 *   --peak-rss B      runs --reps (default here 3) steps of the first variant of --opts (default egn)
 *                     at batch B on the first model, and prints getrusage's ru_maxrss before the
 *                     first step (after resetting the process's peak with /proc/self/clear_refs so
 *                     that the data loading's transient peak does not hide small growths) and after
 *                     the last one. Run it in a fresh process per batch size.
 *
 * Variants: --opts is a comma-separated list of NAME[:param=value[:param=value...]], e.g.
 *   --opts sgd,adam,egn,egn:true_class=1,lrsfn:rank=5
 * --opt-param ALG.NAME=VALUE (repeatable) sets a parameter for every variant of ALG (before the
 * variant's own settings).
 *
 * Usage: bench_optim [--opts LIST] [--models LIST] [--batches LIST] [--reps R] [--warmup W]
 *                    [--budget S] [--threads N] [--opt-param ALG.NAME=VALUE]... [--seed S]
 *                    [--floor] [--rates] [--breakdown] [--peak-rss B] [--json]
 * Only include/curvo.h, CBLAS (cblas_sgemm) and LAPACKE (LAPACKE_dpotrf/dpotrs) are used.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strtok_r */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "benchutil.h"
#include "curvo.h"

#define MAX_VARIANTS 32
#define MAX_LIST 16
#define MAX_GLOBAL 32

typedef struct variant {
    char label[128];
    curvo_opt_params p;
} variant;

typedef struct options {
    int threads, reps, warmup, json, floor, rates, breakdown, peak_rss, reps_given;
    double budget_s;
    unsigned long long seed;
    const char *opts, *models, *batches;
    int n_global;
    char global[MAX_GLOBAL][128]; /* ALG.NAME=VALUE */
} options;

typedef struct rates {
    double sgemm_ms, sgemm_macs; /* 1024^3 multiply-adds per call, per second */
    double potrf_ms, potrf_rate; /* 1280^3/3 per call, per second: column-major (LAPACK itself) */
    double potrf_row_ms;         /* the same through LAPACKE's row-major interface (with transposes) */
} rates;

/* ---------------------------------------------------------------- helpers */

static int split_list(const char *s, char out[][128], int max)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
        snprintf(out[n++], 128, "%s", tok);
    return n;
}

/* "name=value" into p; 0 on success. */
static int set_param(curvo_opt_params *p, const char *nv)
{
    char name[96];
    const char *eq = strchr(nv, '=');
    if (!eq || (size_t)(eq - nv) >= sizeof name) {
        fprintf(stderr, "bench_optim: expected NAME=VALUE, got '%s'\n", nv);
        return 1;
    }
    memcpy(name, nv, (size_t)(eq - nv));
    name[eq - nv] = '\0';
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end) {
        fprintf(stderr, "bench_optim: '%s' is no number\n", eq + 1);
        return 1;
    }
    char err[CURVO_ERRMSG_LEN] = "";
    if (curvo_opt_params_set(p, name, v, err) != CURVO_OK) {
        fprintf(stderr, "bench_optim: %s\n", err);
        return 1;
    }
    return 0;
}

/* One variant from "alg[:name=value...]" with the global ALG.NAME=VALUE settings first. */
static int parse_variant(const options *o, const char *spec, variant *v)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)sizeof buf - 1, spec);
    char *alg_name = strtok_r(buf, ":", &save);
    curvo_algorithm alg;
    if (!alg_name || curvo_algorithm_from_name(alg_name, &alg) != CURVO_OK) {
        fprintf(stderr, "bench_optim: unknown optimizer '%s'\n", spec);
        return 1;
    }
    curvo_opt_params_init(&v->p, alg);
    for (int i = 0; i < o->n_global; i++) {
        const char *dot = strchr(o->global[i], '.');
        if (!dot) {
            fprintf(stderr, "bench_optim: --opt-param expects ALG.NAME=VALUE, got '%s'\n", o->global[i]);
            return 1;
        }
        if ((size_t)(dot - o->global[i]) == strlen(alg_name) &&
            !strncmp(o->global[i], alg_name, strlen(alg_name)) && set_param(&v->p, dot + 1))
            return 1;
    }
    for (char *nv = strtok_r(NULL, ":", &save); nv; nv = strtok_r(NULL, ":", &save))
        if (set_param(&v->p, nv))
            return 1;
    char err[CURVO_ERRMSG_LEN] = "";
    if (curvo_opt_params_check(&v->p, err) != CURVO_OK) {
        fprintf(stderr, "bench_optim: %s: %s\n", spec, err);
        return 1;
    }
    snprintf(v->label, sizeof v->label, "%.*s", (int)sizeof v->label - 1, spec);
    return 0;
}

/* ---------------------------------------------------------------- a model, its context, data */
typedef struct setup {
    curvo_model *model;
    curvo_curv *cv;
    curvo_batcher *bt;
    curvo_rng order_rng;
    size_t n;
    int c;
} setup;

static void setup_free(setup *s)
{
    curvo_batcher_free(s->bt);
    curvo_curv_free(s->cv);
    curvo_model_free(s->model);
    memset(s, 0, sizeof *s);
}

/* The model freshly initialised from seed and a batcher over train shuffled from seed + 1:
 * every variant sees the same initial parameters and the same batches. */
static int setup_make(setup *s, const char *model, int b, unsigned long long seed,
                      const curvo_dataset *train)
{
    char err[CURVO_ERRMSG_LEN] = "";
    memset(s, 0, sizeof *s);
    int st = curvo_model_from_spec(model, 1, 28, 28, &s->model, err);
    if (st != CURVO_OK) {
        fprintf(stderr, "bench_optim: model '%s': %s: %s\n", model, curvo_strerror(st), err);
        return 1;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    if ((st = curvo_model_init(s->model, &rng)) || (st = curvo_curv_create(s->model, CURVO_LOSS_CE, &s->cv)) ||
        (st = curvo_batcher_create(train, b, &s->bt))) {
        fprintf(stderr, "bench_optim: setup: %s\n", curvo_strerror(st));
        setup_free(s);
        return 1;
    }
    s->n = curvo_model_num_params(s->model);
    s->c = (int)curvo_model_output_size(s->model);
    curvo_batcher_set_drop_last(s->bt, 1);
    curvo_rng_seed(&s->order_rng, seed + 1);
    curvo_batcher_shuffle(s->bt, &s->order_rng);
    return 0;
}

/* The next full batch, reshuffling at the end of an epoch. */
static int next_batch(setup *s, curvo_batch *batch)
{
    if (curvo_batcher_next(s->bt, batch))
        return 1;
    curvo_batcher_shuffle(s->bt, &s->order_rng);
    return curvo_batcher_next(s->bt, batch);
}

/* ---------------------------------------------------------------- machine rates */
static int measure_rates(rates *r)
{
    const int N = 1024, M = 1280, reps = 5;
    float *A = malloc((size_t)N * N * sizeof *A), *B = malloc((size_t)N * N * sizeof *B);
    float *C = malloc((size_t)N * N * sizeof *C);
    double *S = malloc((size_t)M * M * sizeof *S), *W = malloc((size_t)M * M * sizeof *W);
    double t[5];
    int ret = 1;
    if (!A || !B || !C || !S || !W) {
        fprintf(stderr, "bench_optim: out of memory\n");
        goto out;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)N * N; i++) {
        A[i] = (float)curvo_rng_uniform(&rng) - 0.5f;
        B[i] = (float)curvo_rng_uniform(&rng) - 0.5f;
    }
    for (int k = -1; k < reps; k++) { /* one warm-up call */
        double t0 = bench_now_ms();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, A, N, B, N, 0.0f, C, N);
        double t1 = bench_now_ms();
        if (k >= 0)
            t[k] = t1 - t0;
    }
    double mn;
    bench_summarize(t, reps, &r->sgemm_ms, &mn);
    r->sgemm_macs = (double)N * N * N / (r->sgemm_ms * 1e-3);
    /* SPD by diagonal dominance: symmetric entries in [-0.5, 0.5), diagonal M */
    for (int i = 0; i < M; i++)
        for (int j = 0; j <= i; j++) {
            double v = i == j ? (double)M : curvo_rng_uniform(&rng) - 0.5;
            S[(size_t)i * M + j] = S[(size_t)j * M + i] = v;
        }
    for (int layout = 0; layout < 2; layout++) {
        for (int k = -1; k < reps; k++) {
            memcpy(W, S, (size_t)M * M * sizeof *W);
            double t0 = bench_now_ms();
            int info = LAPACKE_dpotrf(layout ? LAPACK_ROW_MAJOR : LAPACK_COL_MAJOR, 'L', M, W, M);
            double t1 = bench_now_ms();
            if (info != 0) {
                fprintf(stderr, "bench_optim: dpotrf failed (%d)\n", info);
                goto out;
            }
            if (k >= 0)
                t[k] = t1 - t0;
        }
        bench_summarize(t, reps, layout ? &r->potrf_row_ms : &r->potrf_ms, &mn);
    }
    r->potrf_rate = (double)M * M * M / 3.0 / (r->potrf_ms * 1e-3);
    ret = 0;
out:
    free(A), free(B), free(C), free(S), free(W);
    return ret;
}

static void print_rates(const options *o, const rates *r)
{
    if (o->json)
        printf("{\"bench\": \"rates\", \"threads\": %d, \"sgemm_1024_ms\": %.3f, \"sgemm_gmacs\": %.3f, "
               "\"dpotrf_1280_ms\": %.3f, \"dpotrf_gflops_n3_3\": %.3f, \"dpotrf_rowmajor_1280_ms\": %.3f}\n",
               o->threads, r->sgemm_ms, r->sgemm_macs * 1e-9, r->potrf_ms, r->potrf_rate * 1e-9,
               r->potrf_row_ms);
    else
        printf("rates (%d thread(s)): sgemm 1024^3 %.2f ms = %.2f G multiply-adds/s; "
               "dpotrf n=1280 %.2f ms = %.2f G (n^3/3)/s (row-major through LAPACKE: %.2f ms)\n",
               o->threads, r->sgemm_ms, r->sgemm_macs * 1e-9, r->potrf_ms, r->potrf_rate * 1e-9,
               r->potrf_row_ms);
    fflush(stdout);
}

/* EGN's floor in ms for m rows (see the header). */
static double egn_floor_ms(const rates *r, double m)
{
    return (m * m * 256.0 / r->sgemm_macs + m * m * m / 3.0 / r->potrf_rate) * 1e3;
}

/* ---------------------------------------------------------------- 1. step times */
typedef struct result {
    double median, min, ls_mean, cg_mean, loss_first, loss_last;
    int reps, rejected, ok;
    int n_extra;                             /* the method's own figures (curvo_step_info.extra) */
    const char *extra_name[CURVO_STEP_EXTRA];
    double extra_mean[CURVO_STEP_EXTRA];     /* mean over the timed steps that report it */
    int extra_count[CURVO_STEP_EXTRA];
} result;

static int time_variant(const options *o, const variant *v, const char *model, int b,
                        const curvo_dataset *train, result *res)
{
    setup s;
    memset(res, 0, sizeof *res);
    if (setup_make(&s, model, b, o->seed, train))
        return 1;
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_optimizer *opt = NULL;
    double *t = malloc((size_t)(o->reps + o->warmup + 1) * sizeof *t);
    int ret = 1;
    if (!t || curvo_optimizer_create(&v->p, s.n, &opt, err) != CURVO_OK) {
        fprintf(stderr, "bench_optim: optimizer %s: %s\n", v->label, err);
        goto out;
    }
    curvo_batch batch;
    curvo_step_info info;
    long ls = 0, cg = 0;
    /* warm-up: the first steps allocate workspaces and move off the initial point */
    for (int r = 0; r < o->warmup; r++) {
        if (!next_batch(&s, &batch))
            goto out;
        double t0 = bench_now_ms();
        int st = curvo_optimizer_step(opt, s.cv, &batch, &info);
        t[r] = bench_now_ms() - t0;
        if (st != CURVO_OK && st != CURVO_E_REJECTED && st != CURVO_E_NUMERIC) {
            fprintf(stderr, "bench_optim: %s step: %s\n", v->label, curvo_strerror(st));
            goto out;
        }
        if (r == 0)
            res->loss_first = info.loss;
    }
    int reps = o->reps;
    if (o->warmup > 0 && o->budget_s > 0) { /* slow steps: fewer timed repetitions */
        double est = t[o->warmup - 1];
        int cap = (int)(o->budget_s * 1e3 / (est > 1e-3 ? est : 1e-3));
        if (cap < 5)
            cap = 5;
        if (cap < reps)
            reps = cap;
    }
    for (int r = 0; r < reps; r++) {
        if (!next_batch(&s, &batch))
            goto out;
        double t0 = bench_now_ms();
        int st = curvo_optimizer_step(opt, s.cv, &batch, &info);
        t[r] = bench_now_ms() - t0;
        if (st != CURVO_OK) {
            if (st != CURVO_E_REJECTED && st != CURVO_E_NUMERIC) {
                fprintf(stderr, "bench_optim: %s step: %s\n", v->label, curvo_strerror(st));
                goto out;
            }
            res->rejected++;
        }
        ls += info.ls_tries;
        cg += info.cg_iters;
        res->loss_last = info.loss;
        for (int e = 0; e < info.n_extra && e < CURVO_STEP_EXTRA; e++) { /* (rejected steps report none) */
            res->extra_name[e] = info.extra_name[e]; /* static strings of the optimizer */
            res->extra_mean[e] += info.extra[e];
            res->extra_count[e]++;
        }
        if (info.n_extra > res->n_extra)
            res->n_extra = info.n_extra < CURVO_STEP_EXTRA ? info.n_extra : CURVO_STEP_EXTRA;
    }
    bench_summarize(t, reps, &res->median, &res->min);
    for (int e = 0; e < res->n_extra; e++)
        if (res->extra_count[e] > 0)
            res->extra_mean[e] /= res->extra_count[e];
    res->reps = reps;
    res->ls_mean = (double)ls / reps;
    res->cg_mean = (double)cg / reps;
    res->ok = 1;
    ret = 0;
out:
    curvo_optimizer_free(opt);
    free(t);
    setup_free(&s);
    return ret;
}

static const char *alg_of(const variant *v) { return curvo_algorithm_name(v->p.algorithm); }

/* A variant with its algorithm's defaults only (no ':' settings): the ratio baselines. */
static int is_plain(const variant *v, const char *alg)
{
    return !strcmp(v->label, alg);
}

static int bench_steps(const options *o, variant *vars, int nv, const curvo_dataset *train)
{
    char models[MAX_LIST][128], batches[MAX_LIST][128];
    int nm = split_list(o->models, models, MAX_LIST), nb = split_list(o->batches, batches, MAX_LIST);
    rates r = {0};
    if (o->floor) {
        if (measure_rates(&r))
            return 1;
        print_rates(o, &r);
    }
    if (!o->json)
        printf("%-5s %5s %-28s %10s %10s %5s %8s %8s %6s %6s %4s %9s %8s\n", "model", "batch", "optimizer",
               "median_ms", "min_ms", "reps", "x_sgd", "x_adam", "ls", "cg", "rej", "floor_ms", "x_floor");
    result res[MAX_VARIANTS];
    for (int mi = 0; mi < nm; mi++)
        for (int bi = 0; bi < nb; bi++) {
            int b = atoi(batches[bi]);
            if (b < 1) {
                fprintf(stderr, "bench_optim: bad batch '%s'\n", batches[bi]);
                return 1;
            }
            double sgd = NAN, adam = NAN;
            for (int k = 0; k < nv; k++) {
                if (time_variant(o, &vars[k], models[mi], b, train, &res[k]))
                    return 1;
                if (is_plain(&vars[k], "sgd"))
                    sgd = res[k].median;
                if (is_plain(&vars[k], "adam"))
                    adam = res[k].median;
                if (!o->json)
                    fprintf(stderr, "  %s b=%d %s: %.3f ms\n", models[mi], b, vars[k].label, res[k].median);
            }
            for (int k = 0; k < nv; k++) {
                const result *q = &res[k];
                double floor_ms = NAN;
                if (o->floor && vars[k].p.algorithm == CURVO_OPT_EGN && !strcmp(models[mi], "mlp"))
                    floor_ms = egn_floor_ms(&r, vars[k].p.egn.true_class ? (double)b : (double)b * 10);
                double xs = q->median / sgd, xa = q->median / adam, xf = q->median / floor_ms;
                if (o->json) {
                    printf("{\"bench\": \"step\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
                           "\"opt\": \"%s\", \"alg\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, "
                           "\"reps\": %d, \"warmup\": %d, \"ls_mean\": %.3f, \"cg_mean\": %.3f, "
                           "\"rejected\": %d, \"loss_first\": %.5f, \"loss_last\": %.5f",
                           models[mi], b, o->threads, vars[k].label, alg_of(&vars[k]), q->median, q->min,
                           q->reps, o->warmup, q->ls_mean, q->cg_mean, q->rejected, q->loss_first,
                           q->loss_last);
                    if (isfinite(xs))
                        printf(", \"ratio_sgd\": %.4f", xs);
                    if (isfinite(xa))
                        printf(", \"ratio_adam\": %.4f", xa);
                    if (isfinite(floor_ms))
                        printf(", \"floor_ms\": %.4f, \"ratio_floor\": %.4f", floor_ms, xf);
                    printf(", \"extra_mean\": {");
                    for (int e = 0; e < q->n_extra; e++)
                        printf("%s\"%s\": %.6g", e ? ", " : "", q->extra_name[e] ? q->extra_name[e] : "?",
                               isfinite(q->extra_mean[e]) ? q->extra_mean[e] : 0.0);
                    printf("}}\n");
                } else {
                    printf("%-5s %5d %-28s %10.3f %10.3f %5d %8.2f %8.2f %6.2f %6.2f %4d %9.3f %8.2f\n",
                           models[mi], b, vars[k].label, q->median, q->min, q->reps, xs, xa, q->ls_mean,
                           q->cg_mean, q->rejected, floor_ms, xf);
                }
                fflush(stdout);
            }
        }
    return 0;
}

/* ---------------------------------------------------------------- 2. EGN's pieces */
#define NPIECES 9
static const char *piece_name[NPIECES] = {"set_batch", "grad", "residual_factor", "gram", "potrf_potrs",
                                          "whitened_vjp", "jvp1", "sum_once", "potrf_colmajor"};

static int bench_breakdown(const options *o, const variant *vars, int nv, const curvo_dataset *train)
{
    char models[MAX_LIST][128], batches[MAX_LIST][128];
    int nm = split_list(o->models, models, MAX_LIST), nb = split_list(o->batches, batches, MAX_LIST);
    for (int vi = 0; vi < nv; vi++) {
    const variant *v = &vars[vi];
    if (v->p.algorithm != CURVO_OPT_EGN)
        continue;
    int tc = v->p.egn.true_class;
    for (int mi = 0; mi < nm; mi++)
        for (int bi = 0; bi < nb; bi++) {
            int b = atoi(batches[bi]);
            setup s;
            if (setup_make(&s, models[mi], b, o->seed, train))
                return 1;
            int c = s.c, m = tc ? b : b * c, ret = 1, R = o->reps;
            double *Lf = malloc((size_t)b * c * c * sizeof *Lf), *r = malloc((size_t)b * c * sizeof *r);
            double *A = malloc((size_t)m * m * sizeof *A), *Af = malloc((size_t)m * m * sizeof *Af);
            double *u = malloc((size_t)m * sizeof *u), *seeds = calloc((size_t)b * c, sizeof *seeds);
            float *g = malloc(s.n * sizeof *g), *d = malloc(s.n * sizeof *d);
            float *jp = malloc((size_t)b * c * sizeof *jp);
            double *t = malloc((size_t)NPIECES * (R + 1) * sizeof *t);
            curvo_batch batch;
            if (!Lf || !r || !A || !Af || !u || !seeds || !g || !d || !jp || !t || !next_batch(&s, &batch))
                goto done;
            for (int rep = -1; rep < R; rep++) { /* one warm-up round */
                double tp[NPIECES], t0 = bench_now_ms();
                if (curvo_curv_set_batch(s.cv, &batch))
                    goto done;
                tp[0] = bench_now_ms() - t0, t0 = bench_now_ms();
                if (curvo_curv_grad(s.cv, g))
                    goto done;
                tp[1] = bench_now_ms() - t0, t0 = bench_now_ms();
                if (curvo_curv_residual(s.cv, r) || curvo_curv_hessian_factor(s.cv, Lf))
                    goto done;
                tp[2] = bench_now_ms() - t0;
                if (tc) { /* seeds sqrt(q_i) e_{y_i}, q_i = p_y (1 - p_y) + 1e-6; rhs (1-p_y)/sqrt(q_i) */
                    for (int i = 0; i < b; i++) {
                        int y = batch.labels[i];
                        double py = 1.0 - r[(size_t)i * c + y], q = py * (1.0 - py) + 1e-6;
                        seeds[(size_t)i * c + y] = sqrt(q);
                        u[i] = r[(size_t)i * c + y] / sqrt(q);
                    }
                } else {
                    for (int i = 0; i < b; i++) /* u = L^-1 r */
                        for (int k = 0; k < c; k++) {
                            const double *Li = Lf + (size_t)i * c * c;
                            double x = r[(size_t)i * c + k];
                            for (int j = 0; j < k; j++)
                                x -= Li[k * c + j] * u[(size_t)i * c + j];
                            u[(size_t)i * c + k] = x / Li[k * c + k];
                        }
                }
                t0 = bench_now_ms();
                if (tc ? curvo_curv_seeded_gram(s.cv, seeds, 1, A) : curvo_curv_gram(s.cv, A))
                    goto done;
                tp[3] = bench_now_ms() - t0, t0 = bench_now_ms();
                memcpy(Af, A, (size_t)m * m * sizeof *Af);
                for (int i = 0; i < m; i++)
                    Af[(size_t)i * m + i] += b * 1.0; /* lambda = 1 */
                if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', m, Af, m) ||
                    LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', m, 1, Af, m, u, 1))
                    goto done;
                tp[4] = bench_now_ms() - t0, t0 = bench_now_ms();
                if (tc ? curvo_curv_seeded_vjp(s.cv, seeds, u, 1, d) : curvo_curv_whitened_vjp(s.cv, u, 1, d))
                    goto done;
                tp[5] = bench_now_ms() - t0, t0 = bench_now_ms();
                if (curvo_curv_jvp(s.cv, d, 1, jp))
                    goto done;
                tp[6] = bench_now_ms() - t0;
                tp[7] = 0;
                for (int k = 0; k < 7; k++)
                    tp[7] += tp[k];
                /* the same factorization on the same memory as column-major 'U' (= row-major 'L'
                 * of a symmetric matrix): no transposition copies */
                memcpy(Af, A, (size_t)m * m * sizeof *Af);
                for (int i = 0; i < m; i++)
                    Af[(size_t)i * m + i] += b * 1.0;
                t0 = bench_now_ms();
                if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', m, Af, m))
                    goto done;
                tp[8] = bench_now_ms() - t0;
                if (rep >= 0)
                    for (int k = 0; k < NPIECES; k++)
                        t[(size_t)k * R + rep] = tp[k];
            }
            for (int k = 0; k < NPIECES; k++) {
                double med, mn;
                bench_summarize(t + (size_t)k * R, R, &med, &mn);
                if (o->json)
                    printf("{\"bench\": \"egn_piece\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
                           "\"opt\": \"%s\", \"piece\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, "
                           "\"reps\": %d}\n",
                           models[mi], b, o->threads, v->label, piece_name[k], med, mn, R);
                else
                    printf("%-5s %5d %-20s %-16s %10.3f %10.3f %4d\n", models[mi], b, v->label,
                           piece_name[k], med, mn, R);
            }
            fflush(stdout);
            ret = 0;
        done:
            free(Lf), free(r), free(A), free(Af), free(u), free(seeds), free(g), free(d), free(jp), free(t);
            setup_free(&s);
            if (ret) {
                fprintf(stderr, "bench_optim: breakdown failed (%s b=%d)\n", models[mi], b);
                return 1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- 3. peak memory */
static long vm_kb(const char *key) /* a "Key:   N kB" line of /proc/self/status */
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atol(line + kl + 1);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int bench_peak_rss(const options *o, const variant *v, const curvo_dataset *train)
{
    char models[MAX_LIST][128];
    split_list(o->models, models, MAX_LIST);
    int b = o->peak_rss, steps = o->reps_given ? o->reps : 3;
    setup s;
    if (setup_make(&s, models[0], b, o->seed, train))
        return 1;
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_optimizer *opt = NULL;
    int ret = 1;
    if (curvo_optimizer_create(&v->p, s.n, &opt, err) != CURVO_OK) {
        fprintf(stderr, "bench_optim: %s\n", err);
        goto out;
    }
    curvo_batch batch;
    if (!next_batch(&s, &batch))
        goto out;
    long maxrss_load = maxrss_kb();
    /* reset the peak to the current RSS: "5" resets VmHWM, which ru_maxrss reads (Linux >= 4.0) */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int reset = f && fputs("5", f) >= 0;
    if (f && fclose(f) != 0)
        reset = 0;
    long base = maxrss_kb(), rss0 = vm_kb("VmRSS");
    curvo_step_info info;
    int rejected = 0;
    double t0 = bench_now_ms();
    for (int k = 0; k < steps; k++) {
        if (k > 0 && !next_batch(&s, &batch))
            goto out;
        int st = curvo_optimizer_step(opt, s.cv, &batch, &info);
        if (st == CURVO_E_REJECTED || st == CURVO_E_NUMERIC)
            rejected++;
        else if (st != CURVO_OK) {
            fprintf(stderr, "bench_optim: step: %s\n", curvo_strerror(st));
            goto out;
        }
    }
    double ms = (bench_now_ms() - t0) / steps;
    long peak = maxrss_kb(), rss1 = vm_kb("VmRSS");
    int c = s.c;
    double m = (double)b * c;
    if (o->json)
        printf("{\"bench\": \"peak_rss\", \"model\": \"%s\", \"opt\": \"%s\", \"batch\": %d, \"m\": %.0f, "
               "\"threads\": %d, \"steps\": %d, \"rejected\": %d, \"step_ms\": %.3f, "
               "\"maxrss_after_load_kb\": %ld, \"peak_reset\": %d, \"baseline_kb\": %ld, \"peak_kb\": %ld, "
               "\"growth_kb\": %ld, \"rss_before_kb\": %ld, \"rss_after_kb\": %ld, \"m2x8_kb\": %.1f}\n",
               models[0], v->label, b, m, o->threads, steps, rejected, ms, maxrss_load, reset, base, peak,
               peak - base, rss0, rss1, m * m * 8.0 / 1024.0);
    else
        printf("peak rss %s %s b=%d m=%.0f: baseline %ld kB, peak %ld kB, growth %ld kB, (b*c)^2*8 = %.0f kB "
               "(peak reset: %s; ru_maxrss after loading %ld kB)\n",
               models[0], v->label, b, m, base, peak, peak - base, m * m * 8.0 / 1024.0, reset ? "yes" : "no",
               maxrss_load);
    ret = 0;
out:
    curvo_optimizer_free(opt);
    setup_free(&s);
    return ret;
}

/* ---------------------------------------------------------------- main */
static void usage(void)
{
    fprintf(stderr,
            "usage: bench_optim [--opts LIST] [--models LIST] [--batches LIST] [--reps R] [--warmup W]\n"
            "                   [--budget SECONDS] [--threads N] [--opt-param ALG.NAME=VALUE]... [--seed S]\n"
            "                   [--floor] [--rates] [--breakdown] [--peak-rss B] [--json]\n"
            "  LIST entries of --opts: ALG[:NAME=VALUE[:NAME=VALUE...]], e.g. egn:true_class=1\n"
            "  defaults: --opts sgd,adam,adamw,egn,sgn,lrsfn,sofim,arturo --models mlp,cnn --batches 128\n"
            "            --reps 20 --warmup 3 --budget 15 --threads 1 --seed 1\n");
}

int main(int argc, char **argv)
{
    options o = {.threads = 1, .reps = 20, .warmup = 3, .budget_s = 15.0, .seed = 1,
                 .opts = NULL, .models = "mlp,cnn", .batches = "128"};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        int takes = 1;
        if (!strcmp(arg, "--json"))
            o.json = 1, takes = 0;
        else if (!strcmp(arg, "--floor"))
            o.floor = 1, takes = 0;
        else if (!strcmp(arg, "--rates"))
            o.rates = 1, takes = 0;
        else if (!strcmp(arg, "--breakdown"))
            o.breakdown = 1, takes = 0;
        else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage();
            return 0;
        } else if (!val) {
            fprintf(stderr, "bench_optim: unknown option or missing value: %s\n", arg);
            usage();
            return 2;
        } else if (!strcmp(arg, "--threads"))
            o.threads = atoi(val);
        else if (!strcmp(arg, "--reps"))
            o.reps = atoi(val), o.reps_given = 1;
        else if (!strcmp(arg, "--warmup"))
            o.warmup = atoi(val);
        else if (!strcmp(arg, "--budget"))
            o.budget_s = atof(val);
        else if (!strcmp(arg, "--seed"))
            o.seed = strtoull(val, NULL, 10);
        else if (!strcmp(arg, "--opts"))
            o.opts = val;
        else if (!strcmp(arg, "--models"))
            o.models = val;
        else if (!strcmp(arg, "--batches"))
            o.batches = val;
        else if (!strcmp(arg, "--peak-rss"))
            o.peak_rss = atoi(val);
        else if (!strcmp(arg, "--opt-param")) {
            if (o.n_global == MAX_GLOBAL) {
                fprintf(stderr, "bench_optim: too many --opt-param\n");
                return 2;
            }
            snprintf(o.global[o.n_global++], 128, "%s", val);
        } else {
            fprintf(stderr, "bench_optim: unknown option %s\n", arg);
            usage();
            return 2;
        }
        a += takes;
    }
    if (o.threads < 1 || o.reps < 1 || o.warmup < 0 || o.peak_rss < 0) {
        fprintf(stderr, "bench_optim: --threads and --reps must be >= 1, --warmup >= 0\n");
        return 2;
    }
    curvo_set_threads(o.threads);
    if (o.rates) {
        rates r;
        if (measure_rates(&r))
            return 1;
        print_rates(&o, &r);
        return 0;
    }
    if (!o.opts)
        o.opts = o.breakdown || o.peak_rss ? "egn" : "sgd,adam,adamw,egn,sgn,lrsfn,sofim,arturo";
    char specs[MAX_VARIANTS][128];
    int nv = split_list(o.opts, specs, MAX_VARIANTS);
    variant *vars = calloc(MAX_VARIANTS, sizeof *vars);
    if (!vars)
        return 1;
    for (int k = 0; k < nv; k++)
        if (parse_variant(&o, specs[k], &vars[k])) {
            free(vars);
            return 2;
        }
    char err[CURVO_ERRMSG_LEN] = "";
    curvo_dataset *train = NULL, *test = NULL;
    int st = curvo_data_open("fashion-mnist", NULL, &train, &test, err);
    if (st != CURVO_OK) {
        fprintf(stderr, "bench_optim: %s: %s\n", curvo_strerror(st), err);
        free(vars);
        return 1;
    }
    curvo_dataset_free(test);
    int ret;
    if (o.peak_rss)
        ret = bench_peak_rss(&o, &vars[0], train);
    else if (o.breakdown)
        ret = bench_breakdown(&o, vars, nv, train);
    else
        ret = bench_steps(&o, vars, nv, train);
    curvo_dataset_free(train);
    free(vars);
    return ret ? 1 : 0;
}
