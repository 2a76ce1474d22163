/* bench_cost.c — the measured inputs of the data-parallel cost model (issue 12, benchmark 3;
 * bench/cost_model.py, docs/DISTRIBUTED.md "Cost model to 256 ranks"). One process, no MPI: the
 * compute of a rank is that of one process on its shard of b samples, so everything is timed at
 * N = 1 for the shard sizes b given. Random inputs and labels of the `mlp` or `cnn` preset (28x28x1,
 * 10 classes, cross-entropy), the work does not depend on the values.
 *
 * --ops          per b: forward (set_batch), backward (grad), jvp, vjp, ggn, hvp (one vector each)
 *                and, for b <= --gn-max, EGN's gn_system (the Gram and rhs), gn_solve (the Cholesky
 *                of order 10 b, lambda 1) and gn_direction
 * --opt NAME     per b: one optimizer step at its defaults (--param NAME=VALUE changes one)
 * --syrk M,K     cblas_dsyrk of an (M, K) matrix: the machine's Gram flop rate (NetKet's layout)
 * --blockdiag P  at batch b (the first of --batches): EGN's direction from the exact Gram against
 *                the one from its block diagonal over P equal shards (the cross-shard blocks
 *                dropped, the per-rank approximation): relative difference and cosine
 *
 * Each timing is the median (and minimum) over --reps repetitions; a repetition repeats the call
 * until 5 ms have passed (at least once) and reports the mean. One CSV line per result:
 *   model,what,b,extra,median_ms,min_ms,reps
 * Usage: bench_cost [--model mlp|cnn|SPEC] [--input C,H,W] [--threads T] [--reps R] [--batches b1,b2,...]
 *                   [--gn-max B] [--warmup W] (--ops | --opt NAME [--param K=V]... | --syrk M,K | --blockdiag P)
 * --model takes any preset or spec `curvo --model` takes (e.g. a ResNet of res(...) blocks, issue 17),
 * --input its input shape (default 1,28,28).
 * Only include/curvo.h, CBLAS and LAPACKE are used. Never a timed assertion. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "curvo.h"

#define NUM_CLASSES 10
#define MAX_BATCHES 32
#define MAX_REPS 64

typedef struct options {
    const char *model, *opt, *params[8];
    int n_params, threads, reps, warmup, gn_max, batches[MAX_BATCHES], n_batches, ops, syrk_m, syrk_k, blockdiag;
    int in_c, in_h, in_w; /* input shape */
} options;

typedef int (*timed_fn)(void *ctx);

/* The median and minimum milliseconds of fn over o->reps repetitions of at least 5 ms each. */
static int time_it(const options *o, timed_fn fn, void *ctx, double *median, double *min) {
    double t[MAX_REPS];
    int rc = fn(ctx); /* warm-up: allocations, caches */
    for (int r = 0; !rc && r < o->reps; r++) {
        int calls = 0;
        double t0 = bench_now_ms(), el;
        do {
            rc = fn(ctx);
            calls++;
        } while (!rc && (el = bench_now_ms() - t0) < 5.0);
        t[r] = (bench_now_ms() - t0) / calls;
    }
    if (!rc) bench_summarize(t, o->reps, median, min);
    return rc;
}

static void emit(const options *o, const char *what, int b, const char *extra, double med, double min) {
    printf("%s,%s,%d,%s,%.6g,%.6g,%d\n", o->model, what, b, extra, med, min, o->reps);
    fflush(stdout);
}

/* ---------------------------------------------------------------- operators */
typedef struct op_ctx {
    curvo_curv *cv;
    const curvo_batch *bt;
    float *v, *out, *g;
    double *u;
    int which, m;
} op_ctx;

enum { OP_FORWARD, OP_BACKWARD, OP_JVP, OP_VJP, OP_GGN, OP_HVP, OP_GN_SYSTEM, OP_GN_SOLVE, OP_GN_DIRECTION, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"forward",  "backward",  "jvp",      "vjp",         "ggn",
                                               "hvp",      "gn_system", "gn_solve", "gn_direction"};

static int run_op(void *p) {
    op_ctx *c = p;
    switch (c->which) {
    case OP_FORWARD: return curvo_curv_set_batch(c->cv, c->bt);
    case OP_BACKWARD: return curvo_curv_grad(c->cv, c->g);
    case OP_JVP: return curvo_curv_jvp(c->cv, c->v, 1, c->out);
    case OP_VJP: return curvo_curv_vjp(c->cv, c->out, 1, c->g);
    case OP_GGN: return curvo_curv_ggn(c->cv, c->v, 1, c->out);
    case OP_HVP: return curvo_curv_hvp(c->cv, c->v, 1, c->out);
    case OP_GN_SYSTEM: return curvo_curv_gn_system(c->cv, 0, &c->m);
    case OP_GN_SOLVE: return curvo_curv_gn_solve(c->cv, 1.0, c->u);
    default: return curvo_curv_gn_direction(c->cv, c->u, c->g);
    }
}

static int bench_ops(const options *o, curvo_model *model, const curvo_batch *bt, int b) {
    size_t n = curvo_model_num_params(model);
    curvo_curv *cv;
    if (curvo_curv_create(model, CURVO_LOSS_CE, &cv)) return CURVO_E_NOMEM;
    size_t big = n > (size_t)b * NUM_CLASSES ? n : (size_t)b * NUM_CLASSES;
    op_ctx c = {cv, bt, calloc(n, sizeof(float)), calloc(big, sizeof(float)), calloc(n, sizeof(float)),
                calloc((size_t)b * NUM_CLASSES, sizeof(double)), 0, 0};
    int rc = (c.v && c.out && c.g && c.u) ? curvo_curv_set_batch(cv, bt) : CURVO_E_NOMEM;
    for (size_t i = 0; i < n && !rc; i++) c.v[i] = (float)sin(0.37 * (double)i);
    for (int op = 0; op < OP_COUNT && !rc; op++) {
        if (op >= OP_GN_SYSTEM && b > o->gn_max) break;
        c.which = op;
        double med, min;
        if (!(rc = time_it(o, run_op, &c, &med, &min))) emit(o, op_names[op], b, "", med, min);
    }
    if (rc) fprintf(stderr, "bench_cost: %s at b = %d: %s\n", op_names[c.which], b, curvo_strerror(rc));
    free(c.v), free(c.out), free(c.g), free(c.u);
    curvo_curv_free(cv);
    return rc;
}

/* ---------------------------------------------------------------- optimizer steps */
typedef struct step_ctx {
    curvo_optimizer *opt;
    curvo_curv *cv;
    const curvo_batch *bt;
} step_ctx;

static int run_step(void *p) {
    step_ctx *c = p;
    int rc = curvo_optimizer_step(c->opt, c->cv, c->bt, NULL);
    return rc == CURVO_E_REJECTED ? 0 : rc; /* a rejected step did its work too */
}

static int bench_step(const options *o, curvo_model *model, const curvo_batch *bt, int b) {
    curvo_algorithm alg;
    curvo_opt_params op;
    char err[CURVO_ERRMSG_LEN], extra[256] = "";
    if (curvo_algorithm_from_name(o->opt, &alg)) return CURVO_E_INVALID;
    curvo_opt_params_init(&op, alg);
    for (int i = 0; i < o->n_params; i++) {
        const char *eq = strchr(o->params[i], '=');
        char name[64];
        if (!eq || (size_t)(eq - o->params[i]) >= sizeof name) return CURVO_E_INVALID;
        snprintf(name, sizeof name, "%.*s", (int)(eq - o->params[i]), o->params[i]);
        if (curvo_opt_params_set(&op, name, atof(eq + 1), err)) {
            fprintf(stderr, "bench_cost: %s\n", err);
            return CURVO_E_INVALID;
        }
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%s%s", i ? ";" : "", o->params[i]);
    }
    step_ctx c = {NULL, NULL, bt};
    int rc = curvo_curv_create(model, CURVO_LOSS_CE, &c.cv);
    if (!rc) rc = curvo_optimizer_create(&op, curvo_model_num_params(model), &c.opt, err);
    for (int s = 0; s < o->warmup && !rc; s++) rc = run_step(&c);
    double med, min;
    if (!rc && !(rc = time_it(o, run_step, &c, &med, &min))) {
        char what[64];
        snprintf(what, sizeof what, "step_%s", o->opt);
        emit(o, what, b, extra, med, min);
    }
    if (rc) fprintf(stderr, "bench_cost: %s step at b = %d: %s\n", o->opt, b, curvo_strerror(rc));
    curvo_optimizer_free(c.opt);
    curvo_curv_free(c.cv);
    return rc;
}

/* ---------------------------------------------------------------- the machine's Gram rate */
typedef struct syrk_ctx {
    int m, k;
    const double *a;
    double *c;
} syrk_ctx;

static int run_syrk(void *p) {
    syrk_ctx *s = p;
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, s->m, s->k, 1.0, s->a, s->m, 0.0, s->c, s->m);
    return 0;
}

static int bench_syrk(const options *o) {
    syrk_ctx s = {o->syrk_m, o->syrk_k, malloc((size_t)o->syrk_m * o->syrk_k * sizeof(double)),
                  malloc((size_t)o->syrk_m * o->syrk_m * sizeof(double))};
    if (!s.a || !s.c) return CURVO_E_NOMEM;
    for (size_t i = 0; i < (size_t)s.m * s.k; i++) ((double *)s.a)[i] = sin(0.1 * (double)i);
    double med, min;
    time_it(o, run_syrk, &s, &med, &min);
    char extra[64]; /* flops m^2 k (the upper triangle's multiply-adds, twice) */
    snprintf(extra, sizeof extra, "k=%d;gflops=%.2f", s.k, (double)s.m * s.m * s.k / (med * 1e6));
    emit(o, "dsyrk", s.m, extra, med, min);
    free((void *)s.a), free(s.c);
    return 0;
}

/* ---------------------------------------------------------------- the per-rank block diagonal */
static double dot(const float *x, const float *y, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

/* EGN's direction d = J~^T (A + b I)^-1 rhs (lambda 1, EGN's default) from the exact Gram A and
 * from A with the blocks between different shards of P set to zero: what per-rank Grams give. */
static int bench_blockdiag(const options *o, curvo_model *model, const curvo_batch *bt, int b, int P) {
    size_t n = curvo_model_num_params(model);
    curvo_curv *cv;
    int m, rc = curvo_curv_create(model, CURVO_LOSS_CE, &cv);
    if (rc) return rc;
    if (!rc) rc = curvo_curv_set_batch(cv, bt);
    if (!rc) rc = curvo_curv_gn_system(cv, 0, &m);
    if (rc) {
        curvo_curv_free(cv);
        return rc;
    }
    double *A = malloc((size_t)m * m * sizeof *A), *rhs = malloc((size_t)m * sizeof *rhs);
    double *u = malloc((size_t)m * sizeof *u);
    float *d = malloc(n * sizeof *d), *dbd = malloc(n * sizeof *dbd);
    if (!A || !rhs || !u || !d || !dbd) rc = CURVO_E_NOMEM;
    if (!rc) rc = curvo_curv_gn_solve(cv, 1.0, u);
    if (!rc) rc = curvo_curv_gn_direction(cv, u, d);
    if (!rc) rc = curvo_curv_gn_copy(cv, A, rhs);
    int *shard = malloc((size_t)b * sizeof *shard); /* sample i's shard, as curvo shards: [r*b/P, (r+1)*b/P) */
    if (!shard) rc = CURVO_E_NOMEM;
    for (int r = 0; r < P && !rc; r++)
        for (int i = (int)((long)r * b / P); i < (int)((long)(r + 1) * b / P); i++) shard[i] = r;
    if (!rc) { /* A's index j*b + i: cotangent j of sample i */
        for (int c1 = 0; c1 < m; c1++)
            for (int r1 = 0; r1 < m; r1++) {
                if (shard[r1 % b] != shard[c1 % b]) A[(size_t)c1 * m + r1] = 0.0;
                if (r1 == c1) A[(size_t)c1 * m + r1] += (double)b * 1.0;
            }
        memcpy(u, rhs, (size_t)m * sizeof *u);
        if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', m, 1, A, m, u, m)) rc = CURVO_E_NUMERIC;
    }
    if (!rc) rc = curvo_curv_gn_direction(cv, u, dbd);
    if (!rc) {
        double dd = dot(d, d, n), bb = dot(dbd, dbd, n), db = dot(d, dbd, n);
        char extra[128];
        snprintf(extra, sizeof extra, "P=%d;cosine=%.6f;norm_ratio=%.6f", P, db / sqrt(dd * bb), sqrt(bb / dd));
        emit(o, "blockdiag_rel_diff", b, extra, sqrt(fmax(dd + bb - 2.0 * db, 0.0) / dd), 0.0);
    }
    free(A), free(rhs), free(u), free(d), free(dbd), free(shard);
    curvo_curv_free(cv);
    return rc;
}

/* ---------------------------------------------------------------- main */
static int parse(int argc, char **argv, options *o) {
    *o = (options){.model = "mlp", .threads = 1, .reps = 5, .warmup = 2, .gn_max = 256, .in_c = 1, .in_h = 28, .in_w = 28};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--ops")) o->ops = 1;
        else if (!v) return -1;
        else if (!strcmp(a, "--model")) o->model = v, i++;
        else if (!strcmp(a, "--opt")) o->opt = v, i++;
        else if (!strcmp(a, "--param") && o->n_params < 8) o->params[o->n_params++] = v, i++;
        else if (!strcmp(a, "--threads")) o->threads = atoi(v), i++;
        else if (!strcmp(a, "--reps")) o->reps = atoi(v), i++;
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v), i++;
        else if (!strcmp(a, "--gn-max")) o->gn_max = atoi(v), i++;
        else if (!strcmp(a, "--blockdiag")) o->blockdiag = atoi(v), i++;
        else if (!strcmp(a, "--input")) {
            if (sscanf(v, "%d,%d,%d", &o->in_c, &o->in_h, &o->in_w) != 3 || o->in_c < 1 || o->in_h < 1 || o->in_w < 1)
                return -1;
            i++;
        } else if (!strcmp(a, "--syrk")) {
            if (sscanf(v, "%d,%d", &o->syrk_m, &o->syrk_k) != 2 || o->syrk_m < 1 || o->syrk_k < 1) return -1;
            i++;
        } else if (!strcmp(a, "--batches")) {
            char buf[256], *save = NULL;
            snprintf(buf, sizeof buf, "%s", v);
            for (char *t = strtok_r(buf, ",", &save); t && o->n_batches < MAX_BATCHES; t = strtok_r(NULL, ",", &save))
                if ((o->batches[o->n_batches++] = atoi(t)) < 1) return -1;
            i++;
        } else return -1;
    }
    if (!o->n_batches) o->batches[o->n_batches++] = 128;
    int modes = o->ops + (o->opt != NULL) + (o->syrk_m > 0) + (o->blockdiag > 0);
    return (modes == 1 && o->threads >= 1 && o->reps >= 1 && o->reps <= MAX_REPS && o->warmup >= 0) ? 0 : -1;
}

int main(int argc, char **argv) {
    options o;
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_cost [--model mlp|cnn|SPEC] [--input C,H,W] [--threads T] [--reps R] [--batches b1,b2,...] "
                        "[--gn-max B] [--warmup W] (--ops | --opt NAME [--param K=V]... | --syrk M,K | --blockdiag P)\n");
        return 2;
    }
    curvo_set_threads(o.threads);
    if (o.syrk_m) return bench_syrk(&o) ? 1 : 0;
    int bmax = 0;
    for (int i = 0; i < o.n_batches; i++) bmax = o.batches[i] > bmax ? o.batches[i] : bmax;
    curvo_model *model;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_model_for_task(o.model, o.in_c, o.in_h, o.in_w, NUM_CLASSES, &model, err)) {
        fprintf(stderr, "bench_cost: %s\n", err);
        return 1;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, 1);
    curvo_model_init(model, &rng);
    size_t d = curvo_model_input_size(model);
    float *x = malloc((size_t)bmax * d * sizeof *x);
    int32_t *labels = malloc((size_t)bmax * sizeof *labels);
    if (!x || !labels) return 1;
    for (size_t i = 0; i < (size_t)bmax * d; i++) x[i] = (float)curvo_rng_uniform(&rng);
    for (int i = 0; i < bmax; i++) labels[i] = (int32_t)curvo_rng_below(&rng, NUM_CLASSES);
    int rc = 0;
    for (int i = 0; i < o.n_batches && !rc; i++) {
        curvo_batch bt = {x, labels, NULL, o.batches[i]};
        rc = o.ops ? bench_ops(&o, model, &bt, bt.b)
             : o.opt ? bench_step(&o, model, &bt, bt.b)
                     : bench_blockdiag(&o, model, &bt, bt.b, o.blockdiag);
        if (o.blockdiag && !o.ops && !o.opt && rc) fprintf(stderr, "bench_cost: blockdiag: %s\n", curvo_strerror(rc));
    }
    free(x), free(labels);
    curvo_model_free(model);
    return rc ? 1 : 0;
}
