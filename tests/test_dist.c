/* test_dist.c — data-parallel training over MPI, run by CTest under mpirun with 1, 2 and 3 processes.
 * For every size s up to the world's, the first s ranks form a communicator (MPI_Comm_split) and
 * check, against references computed in the same program by each rank alone (comm NULL):
 *   - the collectives: sums of float and double vectors (one allgather for short ones, a
 *     reduce-scatter and allgather for long ones) equal the sum in rank order, bitwise, on every
 *     rank; allgatherv, bcast, max, or and agreement; the counters count the payload;
 *   - the curvature operators of a sharded batch (7 and 12 samples, and 1 and 2, fewer than the
 *     ranks, so some shards are empty): loss, gradient, GGN and Hessian products within 1e-5 of
 *     the whole batch on one process, bitwise the same on every rank; each rank's outputs are its
 *     shard's; a bad label on one rank's shard fails set_batch on every rank;
 *   - evaluation split across the ranks (classification and standardized regression): loss,
 *     accuracy, RMSE, MAE and R^2 within 1e-6 of one process;
 *   - 20 trainer steps (a global batch of 25: no size divides it) of SGD, Adam, AdamW, SOFIM and
 *     arTuRO within 1e-5, and SGN and LRSFN within 1e-4, of one process; at one process bitwise;
 *     the same parameters on every rank; two runs bitwise identical;
 *   - EGN's distributed SPD solver (ScaLAPACK, when built in) against the dense Cholesky on SPD
 *     systems of orders 1 to 301 (within 1e-10, the same u on every rank), an indefinite one failing
 *     with CURVO_E_NUMERIC on every rank; EGN's scalapack_min at 1 (ScaLAPACK on the test's systems)
 *     against the redundant solve: gn_solve within 1e-10, 20 EGN steps within 1e-6, two runs bitwise
 *     identical; without ScaLAPACK (or at N = 1) the parameter changes nothing, bitwise; with --spd
 *     only these, over the whole world (CTest: 4 processes, a 2 x 2 grid);
 *   - EGN's Gauss-Newton system of a sharded batch (dense and conv nets, CE, MSE, the true-class
 *     rows; 7, 12, 2 and 1 samples): A, rhs, u, the direction and the curvature within 1e-6 of one
 *     process, bitwise the same on every rank, and the bytes gn_system and whole EGN steps send by
 *     their formulas; 20 EGN
 *     trainer steps (full, true-class, adaptive damping) within 1e-4 of one process, the same on
 *     every rank, two runs bitwise identical;
 *   - a stop requested by the last rank's callback stops every rank after the same step; a
 *     checkpoint written at s = 2 resumes at s = 1, 2 and 3 and continues the same run; a failed
 *     write on rank 0 fails the save on every rank; ranks with different batch sizes are refused;
 *   - batchnorm: training mode refused at N > 1 (set_batch and a trainer's step, on every rank),
 *     evaluation mode sharded within 1e-6 of one process;
 *   - after MPI_Finalize, curvo_comm_from_mpi refuses with CURVO_E_STATE.
 * Without MPI it prints why and reports itself skipped (CTest's SKIP_RETURN_CODE 77). */
#ifndef CURVO_HAVE_MPI
#include <stdio.h>
int main(void) {
    printf("curvo built without MPI (no Open MPI found, or -DCURVO_MPI=OFF): the data-parallel tests are skipped\n");
    return 77;
}
#else
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvo_mpi.h"
#include "dist/comm.h"
#include "distutil.h"
#include "linalg/spd.h"
#include "testutil.h"
#include "train/evaluate.h"

static int world_rank, world_size;
static char dir[64], ckpt_path[128];
static curvo_dataset *train_set, *test_set, *reg_train, *reg_test;

/* Whether buf (bytes) is the same on every rank of c: rank 0's copy compared with each rank's. */
static int same_everywhere(curvo_comm *c, const void *buf, size_t bytes) {
    void *zero = malloc(bytes);
    memcpy(zero, buf, bytes);
    int differs = dist_bcast(c, zero, bytes, 0) != CURVO_OK || memcmp(zero, buf, bytes) != 0;
    free(zero);
    dist_or_int(c, &differs);
    return !differs;
}

/* Rank r's test vector: len values of both signs and many magnitudes, depending on r, len and i. */
static void rank_vector(int r, size_t len, double *x) {
    for (size_t i = 0; i < len; i++) {
        uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)r + 1) * 0xC2B2AE3D27D4EB4Full ^ len;
        h ^= h >> 29;
        x[i] = ((double)(h % 2000003) / 1000001.5 - 1.0) * (1.0 + (double)r) * ldexp(1.0, (int)(h >> 58) - 32);
    }
}

static void test_collectives(curvo_comm *c) {
    int N = curvo_comm_size(c), me = curvo_comm_rank(c);
    /* one allgather up to DIST_SMALL elements in all copies, a reduce-scatter beyond; the last
     * length in rounds of 1000 elements (c->chunk lowered from DIST_CHUNK), the last round small */
    const size_t lens[] = {1, 7, DIST_SMALL / (size_t)N, DIST_SMALL / (size_t)N + 1, 5000, 3001};
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        size_t len = lens[t];
        c->chunk = len == 3001 ? 1000 : DIST_CHUNK;
        curvo_comm_stats before, after;
        curvo_comm_get_stats(c, &before);
        double *xd = malloc(len * sizeof *xd), *ref = calloc(len, sizeof *ref), *tmp = malloc(len * sizeof *tmp);
        float *xf = malloc(len * sizeof *xf), *reff = malloc(len * sizeof *reff);
        double *sumf = calloc(len, sizeof *sumf);
        for (int r = 0; r < N; r++) { /* the reference: every rank's vector, added in rank order */
            rank_vector(r, len, tmp);
            for (size_t i = 0; i < len; i++) ref[i] += tmp[i], sumf[i] += (double)(float)tmp[i];
        }
        for (size_t i = 0; i < len; i++) reff[i] = (float)sumf[i];
        rank_vector(me, len, xd);
        for (size_t i = 0; i < len; i++) xf[i] = (float)xd[i];
        TU_CHECK(dist_sum_double(c, xd, len) == CURVO_OK && !memcmp(xd, ref, len * sizeof *xd),
                 "N=%d: sum of %zu doubles is the rank-order sum, bitwise", N, len);
        TU_CHECK(dist_sum_float(c, xf, len) == CURVO_OK && !memcmp(xf, reff, len * sizeof *xf),
                 "N=%d: sum of %zu floats is the rank-order sum in double, bitwise", N, len);
        curvo_comm_get_stats(c, &after);
        /* elements sent, 12 bytes each (a double and a float sum): by allgather, the vector to each
         * other rank; by reduce-scatter, per round of m, all but my part to their reducers, then my
         * reduced part to each other rank */
        size_t rounds = (len + c->chunk - 1) / c->chunk, copies = 0, others = (size_t)N - 1;
        for (size_t at = 0; at < len; at += c->chunk) {
            size_t m = len - at < c->chunk ? len - at : c->chunk;
            size_t mine = ((size_t)me + 1) * m / (size_t)N - (size_t)me * m / (size_t)N;
            copies += m * (size_t)N <= DIST_SMALL ? m * others : m - mine + mine * others;
        }
        TU_CHECK(N == 1 || after.bytes_sent - before.bytes_sent == 12 * copies,
                 "N=%d: %zu elements (%zu rounds): %llu bytes sent, %zu expected", N, len, rounds,
                 (unsigned long long)(after.bytes_sent - before.bytes_sent), 12 * copies);
        free(xd), free(ref), free(tmp), free(xf), free(reff), free(sumf);
    }
    c->chunk = DIST_CHUNK;
    /* allgatherv: rank r sends r + 1 bytes of value 'a' + r */
    size_t counts[8], total = 0;
    char send[8], recv[64], want[64];
    for (int r = 0; r < N; r++) {
        counts[r] = (size_t)r + 1;
        for (int k = 0; k <= r; k++) want[total++] = (char)('a' + r);
    }
    memset(send, 'a' + me, sizeof send);
    TU_CHECK(dist_allgatherv(c, send, counts, recv) == CURVO_OK && !memcmp(recv, want, total),
             "N=%d: allgatherv in rank order", N);
    int v = me == N - 1 ? 42 : me;
    TU_CHECK(dist_bcast(c, &v, sizeof v, N - 1) == CURVO_OK && v == 42, "N=%d: bcast from the last rank", N);
    v = 10 * me;
    TU_CHECK(dist_max_int(c, &v) == CURVO_OK && v == 10 * (N - 1), "N=%d: max", N);
    v = 1 << me;
    TU_CHECK(dist_or_int(c, &v) == CURVO_OK && v == (1 << N) - 1, "N=%d: or", N);
    int from, rc = me == 0 ? CURVO_OK : me == 1 ? CURVO_E_IO : CURVO_E_NOMEM;
    rc = dist_agree(c, rc, &from);
    TU_CHECK(N == 1 ? rc == CURVO_OK && from == -1 : rc == CURVO_E_IO && from == 1,
             "N=%d: agreement on the first failure in rank order (%d from %d)", N, rc, from);
    /* counters: one allgather of 8 bytes per rank */
    curvo_comm_stats a, b;
    curvo_comm_get_stats(c, &a);
    double eight[1] = {1.0}, got[8];
    TU_CHECK(dist_allgather(c, eight, sizeof eight, got) == CURVO_OK, "allgather");
    curvo_comm_get_stats(c, &b);
    uint64_t others = (uint64_t)N - 1;
    TU_CHECK(b.bytes_sent - a.bytes_sent == 8 * others && b.bytes_received - a.bytes_received == 8 * others &&
                 b.messages - a.messages == others && b.collectives - a.collectives == (N > 1) &&
                 b.seconds >= a.seconds,
             "N=%d: the counters count one allgather (%llu bytes sent, %llu messages)", N,
             (unsigned long long)(b.bytes_sent - a.bytes_sent), (unsigned long long)(b.messages - a.messages));
}

/* loss, gradient, 2 GGN and 2 Hessian products of the first b samples of d: out (5, n) */
static int products(curvo_comm *comm, curvo_model *m, curvo_loss_kind loss, const curvo_dataset *d, int b,
                    double *value, float *out, float *outputs, int *off, int *count) {
    size_t n = curvo_model_num_params(m);
    float *v = malloc(2 * n * sizeof *v);
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    tu_fill_normal(&rng, v, 2 * n, 1.0);
    curvo_batch bt = {curvo_dataset_features(d), curvo_dataset_labels(d), curvo_dataset_targets(d), b};
    curvo_curv *cv;
    int rc = curvo_curv_create(m, loss, &cv);
    if (!rc) rc = curvo_curv_set_comm(cv, comm);
    if (!rc) rc = curvo_curv_set_batch(cv, &bt);
    if (!rc) {
        *value = curvo_curv_loss(cv);
        curvo_curv_shard(cv, off, count);
        if (*count) memcpy(outputs, curvo_curv_outputs(cv), (size_t)*count * curvo_model_output_size(m) * sizeof(float));
        rc = curvo_curv_grad(cv, out);
    }
    if (!rc) rc = curvo_curv_ggn(cv, v, 2, out + n);
    if (!rc) rc = curvo_curv_hvp(cv, v, 2, out + 3 * n);
    curvo_curv_free(cv);
    free(v);
    return rc;
}

static void test_operators(curvo_comm *c, curvo_loss_kind loss, const curvo_dataset *d) {
    int N = curvo_comm_size(c), me = curvo_comm_rank(c), outs = loss == CURVO_LOSS_CE ? 3 : 1;
    curvo_model *m = du_model(5, outs);
    size_t n = curvo_model_num_params(m);
    static const int sizes[] = {7, 12, 1, 2};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int b = sizes[t], off, count, off1, count1;
        float *ref = malloc(5 * n * sizeof *ref), *got = malloc(5 * n * sizeof *got);
        float *fref = malloc((size_t)b * outs * sizeof *fref), *fgot = malloc((size_t)b * outs * sizeof *fgot);
        double lref, lgot;
        int r1 = products(NULL, m, loss, d, b, &lref, ref, fref, &off1, &count1);
        int r2 = products(c, m, loss, d, b, &lgot, got, fgot, &off, &count);
        TU_CHECK(r1 == CURVO_OK && r2 == CURVO_OK, "N=%d b=%d: products (%d, %d)", N, b, r1, r2);
        int want_off, want_count;
        dist_shard(b, me, N, &want_off, &want_count);
        TU_CHECK(off == want_off && count == want_count, "N=%d b=%d: rank %d holds [%d, +%d)", N, b, me, off, count);
        char what[96];
        snprintf(what, sizeof what, "N=%d b=%d loss %d: loss", N, b, (int)loss);
        tu_close(what, &lgot, &lref, 1, 1e-5);
        static const char *const names[] = {"gradient", "GGN products", "Hessian products"};
        static const size_t at[] = {0, 1, 3}, len[] = {1, 2, 2};
        for (int k = 0; k < 3; k++) {
            snprintf(what, sizeof what, "N=%d b=%d loss %d: %s", N, b, (int)loss, names[k]);
            tu_close_f(what, got + at[k] * n, ref + at[k] * n, len[k] * n, 1e-5);
        }
        if (count) {
            snprintf(what, sizeof what, "N=%d b=%d: this rank's outputs", N, b);
            tu_close_f(what, fgot, fref + (size_t)off * outs, (size_t)count * outs, 1e-6);
        }
        TU_CHECK(same_everywhere(c, got, 5 * n * sizeof *got) && same_everywhere(c, &lgot, sizeof lgot),
                 "N=%d b=%d: every rank has the same loss and products, bitwise", N, b);
        if (N == 1)
            TU_CHECK(lgot == lref && !memcmp(got, ref, 5 * n * sizeof *got),
                     "N=1 b=%d: an MPI communicator of one process changes no bit", b);
        free(ref), free(got), free(fref), free(fgot);
    }
    curvo_model_free(m);
}

/* A label out of range on the last rank's shard only: set_batch fails on every rank. */
static void test_bad_label(curvo_comm *c) {
    int N = curvo_comm_size(c);
    curvo_model *m = du_model(5, 3);
    int32_t labels[6] = {0, 1, 2, 0, 1, 2};
    labels[5] = 7;
    curvo_batch bt = {curvo_dataset_features(train_set), labels, curvo_dataset_targets(train_set), 6};
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    curvo_curv_set_comm(cv, c);
    int rc = curvo_curv_set_batch(cv, &bt);
    TU_CHECK(rc == CURVO_E_INVALID, "N=%d: a bad label on the last rank fails every rank (%d: %s)", N, rc,
             curvo_curv_errmsg(cv));
    TU_CHECK(isnan(curvo_curv_loss(cv)), "N=%d: no loss after a failed set_batch", N);
    curvo_curv_free(cv);
    curvo_model_free(m);
}

static void test_evaluation(curvo_comm *c) {
    int N = curvo_comm_size(c);
    for (int reg = 0; reg < 2; reg++) {
        const curvo_dataset *d = reg ? reg_test : test_set;
        curvo_loss_kind loss = reg ? CURVO_LOSS_MSE : CURVO_LOSS_CE;
        curvo_model *m = du_model(5, reg ? 1 : 3);
        curvo_metrics a, b;
        int ra = train_evaluate(m, loss, d, 15, NULL, &a, NULL), rb = train_evaluate(m, loss, d, 15, c, &b, NULL);
        TU_CHECK(ra == CURVO_OK && rb == CURVO_OK && a.n == b.n, "N=%d: evaluations (%d, %d)", N, ra, rb);
        double va[5] = {a.loss, reg ? a.rmse : a.accuracy, reg ? a.mae : 0, reg ? a.r2 : 0, 0};
        double vb[5] = {b.loss, reg ? b.rmse : b.accuracy, reg ? b.mae : 0, reg ? b.r2 : 0, 0};
        char what[64];
        snprintf(what, sizeof what, "N=%d: %s metrics", N, reg ? "regression" : "classification");
        tu_close(what, vb, va, 5, 1e-6);
        TU_CHECK(same_everywhere(c, &b, sizeof b), "N=%d: every rank has the same metrics", N);
        curvo_model_free(m);
    }
}

/* batchnorm (issue 17): training mode over N > 1 processes is refused by set_batch on every rank
 * (a shard's statistics are not the batch's), a trainer's first step fails alike; evaluation mode is
 * per sample and runs sharded: its metrics within 1e-6 of one process's. */
static void test_batchnorm(curvo_comm *c) {
    int N = curvo_comm_size(c);
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:6,batchnorm,tanh,dense:3", 5, 1, 1, &m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, 9);
    curvo_model_init(m, &rng);
    float *st = curvo_model_state(m);
    for (int u = 0; u < 6; u++) st[u] = 0.1f * (float)u, st[6 + u] = 0.5f + 0.1f * (float)u;
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_CE, &cv);
    curvo_curv_set_comm(cv, c);
    curvo_batch bt;
    curvo_batcher *b;
    curvo_batcher_create(train_set, 12, &b);
    curvo_batcher_sequential(b);
    curvo_batcher_next(b, &bt);
    int rc = curvo_curv_set_batch(cv, &bt);
    if (N > 1)
        TU_CHECK(rc == CURVO_E_UNSUPPORTED && strstr(curvo_curv_errmsg(cv), "groupnorm"),
                 "N=%d: batchnorm in training mode must be refused: %d %s", N, rc, curvo_curv_errmsg(cv));
    else
        TU_CHECK(rc == CURVO_OK, "N=1: batchnorm in training mode runs: %s", curvo_curv_errmsg(cv));
    curvo_model_set_training(m, 0);
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_OK, "N=%d: evaluation mode runs sharded", N);
    curvo_batcher_free(b);
    curvo_curv_free(cv);
    curvo_metrics a, e;
    int ra = train_evaluate(m, CURVO_LOSS_CE, test_set, 15, NULL, &a, NULL);
    int re = train_evaluate(m, CURVO_LOSS_CE, test_set, 15, c, &e, NULL);
    double va[2] = {a.loss, a.accuracy}, ve[2] = {e.loss, e.accuracy};
    TU_CHECK(ra == CURVO_OK && re == CURVO_OK, "N=%d: batchnorm evaluations (%d, %d)", N, ra, re);
    tu_close("batchnorm: sharded evaluation vs one process", ve, va, 2, 1e-6);
    curvo_model_set_training(m, 1);
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    curvo_train_options o;
    du_options(&o, 1, c);
    curvo_trainer *tr = NULL;
    rc = curvo_trainer_create(m, CURVO_LOSS_CE, &op, train_set, NULL, &o, &tr, err);
    if (!rc) rc = curvo_trainer_run(tr, NULL, NULL);
    TU_CHECK(N > 1 ? rc == CURVO_E_UNSUPPORTED : rc == CURVO_OK, "N=%d: a batchnorm trainer run returned %d", N, rc);
    curvo_trainer_free(tr);
    curvo_model_free(m);
}

static void test_training(curvo_comm *c) {
    int N = curvo_comm_size(c);
    for (int alg = 0; alg < CURVO_NUM_ALGORITHMS; alg++) {
        if (alg == CURVO_OPT_EGN) continue;
        curvo_opt_params op;
        du_opt_params(&op, (curvo_algorithm)alg);
        const char *name = curvo_algorithm_name(op.algorithm);
        float *t1, *t2, *t3;
        size_t n1, n2, n3;
        /* 100 samples in batches of 25: 4 steps an epoch, 20 steps */
        int r1 = du_train(&op, NULL, 5, train_set, test_set, NULL, NULL, &t1, &n1);
        int r2 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t2, &n2);
        int r3 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t3, &n3);
        TU_CHECK(!r1 && !r2 && !r3 && n1 == n2 && n2 == n3, "N=%d %s: runs (%d, %d, %d)", N, name, r1, r2, r3);
        if (!t1 || !t2 || !t3 || n1 != n2 || n2 != n3) continue;
        char what[64];
        snprintf(what, sizeof what, "N=%d %s: theta after 20 steps vs one process", N, name);
        tu_close_f(what, t2, t1, n1, alg == CURVO_OPT_SGN || alg == CURVO_OPT_LRSFN ? 1e-4 : 1e-5);
        TU_CHECK(!memcmp(t2, t3, n2 * sizeof *t2), "N=%d %s: two runs are bitwise identical", N, name);
        TU_CHECK(same_everywhere(c, t2, n2 * sizeof *t2), "N=%d %s: every rank ends with the same theta", N, name);
        if (N == 1) TU_CHECK(!memcmp(t1, t2, n1 * sizeof *t1), "N=1 %s: bitwise the serial run", name);
        free(t1), free(t2), free(t3);
    }
}

/* EGN's system over a sharded batch: gn_system's A and rhs, gn_solve's u, gn_direction's d and
 * gn_curvature against one process on the same global batch (within 1e-6), the same on every rank;
 * the bytes gn_system sends. */
typedef struct gn_result {
    int m, rc;
    double *A, *rhs, *u, pGp;
    float *d;
} gn_result;

static void gn_result_free(gn_result *r) { free(r->A), free(r->rhs), free(r->u), free(r->d); }

static gn_result gn_run(curvo_comm *comm, curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int B,
                        int true_class, uint64_t *sent) {
    gn_result r = {0};
    size_t n = curvo_model_num_params(model);
    curvo_batch bt = {curvo_dataset_features(d), curvo_dataset_labels(d), curvo_dataset_targets(d), B};
    curvo_curv *cv;
    float *p = malloc(n * sizeof *p);
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    tu_fill_normal(&rng, p, n, 1.0);
    r.rc = curvo_curv_create(model, loss, &cv);
    if (!r.rc) r.rc = curvo_curv_set_comm(cv, comm);
    if (!r.rc) r.rc = curvo_curv_set_batch(cv, &bt);
    curvo_comm_stats s0, s1;
    curvo_comm_get_stats(comm, &s0);
    if (!r.rc) r.rc = curvo_curv_gn_system(cv, true_class, &r.m);
    curvo_comm_get_stats(comm, &s1);
    *sent = s1.bytes_sent - s0.bytes_sent;
    if (!r.rc) {
        size_t m = (size_t)r.m;
        r.A = malloc(m * m * sizeof *r.A), r.rhs = malloc(m * sizeof *r.rhs), r.u = malloc(m * sizeof *r.u);
        r.d = malloc(n * sizeof *r.d);
        r.rc = curvo_curv_gn_copy(cv, r.A, r.rhs);
        if (!r.rc) r.rc = curvo_curv_gn_solve(cv, 0.05, r.u);
        if (!r.rc) r.rc = curvo_curv_gn_direction(cv, r.u, r.d);
        if (!r.rc) r.rc = curvo_curv_gn_curvature(cv, p, &r.pGp);
    }
    if (r.rc) fprintf(stderr, "gn_run: %s\n", curvo_curv_errmsg(cv));
    curvo_curv_free(cv);
    free(p);
    return r;
}

/* Floats per sample each parametric module sends for the global Gram with k seeds: its input and k
 * output cotangents (in + k out), or k per-sample gradient rows (k n_l) when they are fewer. */
static size_t gram_floats_per_sample(const size_t (*mods)[3], int nm, int k) {
    size_t t = 0;
    for (int l = 0; l < nm; l++) {
        size_t in = mods[l][0], out = mods[l][1], nl = mods[l][2], f = in + (size_t)k * out;
        t += nl && (size_t)k * nl < f ? (size_t)k * nl : f; /* nl = 0: no rows (dense) */
    }
    return t;
}

static void test_gn_system(curvo_comm *c) {
    int N = curvo_comm_size(c), me = curvo_comm_rank(c);
    /* dense: 5 -> 8 (tanh) -> 3 (or 1); conv: 1x6x6 -> conv 2x3x3 (2x4x4) -> conv 3x3x3 (3x2x2) -> dense 3 */
    curvo_dataset *img = du_dataset(40, 36, 3, 7);
    curvo_model *conv = NULL;
    if (curvo_model_from_spec("conv:2:3,relu,conv:3:3,tanh,flatten,dense:3", 1, 6, 6, &conv, NULL) == CURVO_OK) {
        curvo_rng rng;
        curvo_rng_seed(&rng, 11);
        curvo_model_init(conv, &rng);
    }
    /* normalization: conv 4x3x3 (4x4x4), groupnorm:2, gap (4), dense 8, layernorm (8x1x1), dense 3; layernorm's
     * Gram goes by its input and cotangents (its 2 x 8 rows are not fewer), which its gram op reads alone */
    curvo_model *norm = NULL;
    if (curvo_model_from_spec("conv:4:3,groupnorm:2,relu,gap,flatten,dense:8,layernorm,tanh,dense:3", 1, 6, 6, &norm,
                              NULL) == CURVO_OK) {
        curvo_rng rng;
        curvo_rng_seed(&rng, 12);
        curvo_model_init(norm, &rng);
    }
    TU_CHECK(img && conv && norm, "conv models and data");
    if (!img || !conv || !norm) return;
    /* (in, out, rows-capable n_l) per parametric module, bottom to top */
    static const size_t dense3[][3] = {{5, 8, 0}, {8, 3, 0}}, dense1[][3] = {{5, 8, 0}, {8, 1, 0}};
    static const size_t convm[][3] = {{36, 32, 20}, {32, 12, 57}, {12, 3, 0}};
    static const size_t normm[][3] = {{36, 64, 40}, {64, 64, 8}, {4, 8, 0}, {8, 8, 16}, {8, 3, 0}};
    struct {
        const char *name;
        curvo_loss_kind loss;
        int true_class, outs;
        const curvo_dataset *d;
        const size_t (*mods)[3];
        int nm;
    } cases[] = {
        {"dense CE", CURVO_LOSS_CE, 0, 3, train_set, dense3, 2},
        {"dense CE true class", CURVO_LOSS_CE, 1, 3, train_set, dense3, 2},
        {"dense MSE", CURVO_LOSS_MSE, 0, 1, reg_train, dense1, 2},
        {"conv CE", CURVO_LOSS_CE, 0, 3, img, convm, 3},
        {"conv CE true class", CURVO_LOSS_CE, 1, 3, img, convm, 3},
        {"norm CE", CURVO_LOSS_CE, 0, 3, img, normm, 5},
        {"norm CE true class", CURVO_LOSS_CE, 1, 3, img, normm, 5},
    };
    static const int sizes[] = {7, 12, 2, 1};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int is_conv = cases[t].d == img;
        curvo_model *m = cases[t].mods == normm ? norm : is_conv ? conv : du_model(5, cases[t].outs);
        size_t n = curvo_model_num_params(m);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int B = sizes[s], k = cases[t].true_class ? 1 : cases[t].outs, off, b;
            uint64_t sent1, sent;
            gn_result ref = gn_run(NULL, m, cases[t].loss, cases[t].d, B, cases[t].true_class, &sent1);
            gn_result got = gn_run(c, m, cases[t].loss, cases[t].d, B, cases[t].true_class, &sent);
            char what[128];
            snprintf(what, sizeof what, "N=%d B=%d %s", N, B, cases[t].name);
            TU_CHECK(!ref.rc && !got.rc && ref.m == k * B && got.m == ref.m, "%s: systems (%d, %d) of order %d, %d",
                     what, ref.rc, got.rc, ref.m, got.m);
            if (!ref.rc && !got.rc && got.m == ref.m) {
                size_t mm = (size_t)ref.m;
                char w2[160];
                snprintf(w2, sizeof w2, "%s: A", what), tu_close(w2, got.A, ref.A, mm * mm, 1e-6);
                snprintf(w2, sizeof w2, "%s: rhs", what), tu_close(w2, got.rhs, ref.rhs, mm, 1e-6);
                snprintf(w2, sizeof w2, "%s: u", what), tu_close(w2, got.u, ref.u, mm, 1e-6);
                snprintf(w2, sizeof w2, "%s: direction", what), tu_close_f(w2, got.d, ref.d, n, 1e-6);
                snprintf(w2, sizeof w2, "%s: curvature", what), tu_close(w2, &got.pGp, &ref.pGp, 1, 1e-6);
                TU_CHECK(same_everywhere(c, got.A, mm * mm * sizeof *got.A) &&
                             same_everywhere(c, got.u, mm * sizeof *got.u) &&
                             same_everywhere(c, got.d, n * sizeof *got.d) && same_everywhere(c, &got.pGp, sizeof got.pGp),
                         "%s: A, u, d and p'Gp are the same on every rank, bitwise", what);
                if (N == 1)
                    TU_CHECK(!memcmp(got.A, ref.A, mm * mm * sizeof *got.A) && !memcmp(got.d, ref.d, n * sizeof *got.d) &&
                                 got.pGp == ref.pGp,
                             "%s: one process is the serial system, bitwise", what);
            }
            /* bytes: 3 agreements (4 bytes to each other rank), the rhs (8 k b), the Gram's factors */
            dist_shard(B, me, N, &off, &b);
            uint64_t want = N == 1 ? 0
                                   : (uint64_t)(N - 1) * (12 + 8 * (uint64_t)k * b +
                                                          4 * (uint64_t)b * gram_floats_per_sample(cases[t].mods, cases[t].nm, k));
            TU_CHECK(sent == want && sent1 == 0, "%s: gn_system sends %llu bytes (formula %llu)", what,
                     (unsigned long long)sent, (unsigned long long)want);
            gn_result_free(&ref), gn_result_free(&got);
        }
        if (!is_conv) curvo_model_free(m);
    }
    curvo_model_free(conv);
    curvo_model_free(norm);
    curvo_dataset_free(img);
}

/* The same system for a network with residual blocks (src/nn/residual.c): a block's Gram block is
 * formed from its gathered inputs and cotangents, every rank rerunning the block's forward on the
 * global batch first (gram_reads_ws, without gram_rows). Against one process, and the same on every rank. */
static void test_gn_system_residual(curvo_comm *c) {
    int N = curvo_comm_size(c);
    curvo_dataset *img = du_dataset(40, 36, 3, 9);
    curvo_model *m = NULL;
    if (curvo_model_from_spec("conv:2:3:1:1,tanh,res(conv:2:3:1:1,tanh,conv:2:3:1:1),res(conv:3:3:2:1,tanh,res(tanh)),"
                              "flatten,dense:3", 1, 6, 6, &m, NULL) == CURVO_OK) {
        curvo_rng rng;
        curvo_rng_seed(&rng, 13);
        curvo_model_init(m, &rng);
    }
    TU_CHECK(img && m, "residual model and data");
    static const int sizes[] = {7, 12, 2, 1};
    for (size_t s = 0; img && m && s < sizeof sizes / sizeof sizes[0]; s++)
        for (int tc = 0; tc < 2; tc++) {
            int B = sizes[s];
            size_t n = curvo_model_num_params(m);
            uint64_t sent1, sent;
            gn_result ref = gn_run(NULL, m, CURVO_LOSS_CE, img, B, tc, &sent1);
            gn_result got = gn_run(c, m, CURVO_LOSS_CE, img, B, tc, &sent);
            char what[128], w2[160];
            snprintf(what, sizeof what, "N=%d B=%d residual CE%s", N, B, tc ? " true class" : "");
            TU_CHECK(!ref.rc && !got.rc && got.m == ref.m, "%s: systems (%d, %d)", what, ref.rc, got.rc);
            if (!ref.rc && !got.rc && got.m == ref.m) {
                size_t mm = (size_t)ref.m;
                snprintf(w2, sizeof w2, "%s: A", what), tu_close(w2, got.A, ref.A, mm * mm, 1e-6);
                snprintf(w2, sizeof w2, "%s: u", what), tu_close(w2, got.u, ref.u, mm, 1e-6);
                snprintf(w2, sizeof w2, "%s: direction", what), tu_close_f(w2, got.d, ref.d, n, 1e-6);
                TU_CHECK(same_everywhere(c, got.A, mm * mm * sizeof *got.A) && same_everywhere(c, got.d, n * sizeof *got.d),
                         "%s: A and d are the same on every rank, bitwise", what);
            }
            gn_result_free(&ref), gn_result_free(&got);
        }
    curvo_model_free(m);
    curvo_dataset_free(img);
}

/* The bytes of whole EGN steps on a batch of 25 (dense CE, the full system): the loss of the batch
 * and of every line-search trial (16 bytes to each other rank), the gradient and the direction (n
 * floats each; n N <= 2048, so one allgather: 4 n), gn_system (its formula) and, with adaptive
 * damping, the curvature (one double). */
static void test_egn_step_bytes(curvo_comm *c) {
    int N = curvo_comm_size(c), me = curvo_comm_rank(c), B = 25, off, b;
    static const size_t dense3[][3] = {{5, 8, 0}, {8, 3, 0}};
    dist_shard(B, me, N, &off, &b);
    for (int adaptive = 0; adaptive < 2; adaptive++) {
        curvo_opt_params op;
        du_opt_params(&op, CURVO_OPT_EGN);
        op.egn.adaptive = adaptive;
        curvo_model *m = du_model(5, 3);
        size_t n = curvo_model_num_params(m);
        curvo_optimizer *opt = NULL;
        curvo_curv *cv = NULL;
        int rc = curvo_optimizer_create(&op, n, &opt, NULL);
        if (!rc) rc = curvo_curv_create(m, CURVO_LOSS_CE, &cv);
        if (!rc) rc = curvo_curv_set_comm(cv, c);
        curvo_batch bt = {curvo_dataset_features(train_set), curvo_dataset_labels(train_set),
                          curvo_dataset_targets(train_set), B};
        for (int step = 0; step < 3 && !rc; step++) {
            curvo_comm_stats s0, s1;
            curvo_step_info info;
            curvo_comm_get_stats(c, &s0);
            rc = curvo_optimizer_step(opt, cv, &bt, &info);
            curvo_comm_get_stats(c, &s1);
            uint64_t want = N == 1 ? 0
                                   : (uint64_t)(N - 1) * (16 * (1 + (uint64_t)info.ls_tries) + 8 * n + 12 + 8 * 3 * (uint64_t)b +
                                                          4 * (uint64_t)b * gram_floats_per_sample(dense3, 2, 3) +
                                                          8 * (uint64_t)adaptive);
            TU_CHECK(!rc && s1.bytes_sent - s0.bytes_sent == want,
                     "N=%d EGN step %d (adaptive %d, %d trials): %llu bytes sent, formula %llu (%d)", N, step, adaptive,
                     info.ls_tries, (unsigned long long)(s1.bytes_sent - s0.bytes_sent), (unsigned long long)want, rc);
        }
        curvo_curv_free(cv);
        curvo_optimizer_free(opt);
        curvo_model_free(m);
    }
}

/* 20 EGN steps (the full system; the true-class one; adaptive damping, which uses gn_curvature)
 * over the ranks against one process at the same global batch (25: no N divides it): within 1e-4,
 * the same on every rank, two runs bitwise identical, and bitwise the serial run at N = 1. */
static void test_egn(curvo_comm *c) {
    int N = curvo_comm_size(c);
    for (int variant = 0; variant < 3; variant++) {
        curvo_opt_params op;
        du_opt_params(&op, CURVO_OPT_EGN);
        op.egn.true_class = variant == 1;
        op.egn.adaptive = variant == 2;
        /* Adaptive damping on this problem (75 parameters, a 75 x 75 system) halves lambda after
         * every good step, and below about 0.1 the steps amplify rounding about twofold a step, as
         * SGN's do (du_opt_params): the losses at N = 2 and N = 1 differ by 6e-9 after step 2, 1e-6
         * after step 10, 3e-3 after step 20, growing smoothly (lambda_min 1e-12: theta 4e-3 apart;
         * 1e-2: 2.5e-4), while the operators agree within 1e-6 (test_gn_system). With a floor of 0.1 it stays within 1e-4. */
        if (variant == 2) op.egn.lambda_min = 0.1;
        static const char *const names[] = {"egn", "egn true class", "egn adaptive"};
        float *t1, *t2, *t3;
        size_t n1, n2, n3;
        int r1 = du_train(&op, NULL, 5, train_set, test_set, NULL, NULL, &t1, &n1);
        int r2 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t2, &n2);
        int r3 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t3, &n3);
        TU_CHECK(!r1 && !r2 && !r3 && n1 == n2 && n2 == n3, "N=%d %s: runs (%d, %d, %d)", N, names[variant], r1, r2, r3);
        if (t1 && t2 && t3 && n1 == n2 && n2 == n3) {
            char what[64];
            snprintf(what, sizeof what, "N=%d %s: theta after 20 steps vs one process", N, names[variant]);
            tu_close_f(what, t2, t1, n1, 1e-4);
            TU_CHECK(!memcmp(t2, t3, n2 * sizeof *t2), "N=%d %s: two runs are bitwise identical", N, names[variant]);
            TU_CHECK(same_everywhere(c, t2, n2 * sizeof *t2), "N=%d %s: every rank ends with the same theta", N,
                     names[variant]);
            if (N == 1) TU_CHECK(!memcmp(t1, t2, n1 * sizeof *t1), "N=1 %s: bitwise the serial run", names[variant]);
        }
        free(t1), free(t2), free(t3);
    }
}

/* EGN's distributed SPD solver (linalg/spd_scalapack.c) alone against the dense Cholesky: for SPD
 * systems of several orders (below one block, not a multiple of the block SPD_SCALAPACK_NB nor of the
 * grid, below N blocks) the solutions agree within 1e-10 and are bitwise the same on every rank; a
 * matrix that is not positive definite gives CURVO_E_NUMERIC on every rank, and the solver works
 * again afterwards. Without ScaLAPACK there is no such type (and EGN's scalapack_min changes
 * nothing: test_egn_scalapack). */
static void spd_test_matrix(int n, double *A) { /* (n, n) A = M M^T / n + 1e-2 I, M from rank_vector */
    double *M = malloc((size_t)n * n * sizeof *M);
    rank_vector(7, (size_t)n * n, M);
    for (size_t i = 0; i < (size_t)n * n; i++) M[i] = tanh(M[i] * 1e9); /* entries in (-1, 1) */
    for (int j = 0; j < n; j++)
        for (int i = 0; i <= j; i++) {
            double t = 0.0;
            for (int k = 0; k < n; k++) t += M[(size_t)k * n + i] * M[(size_t)k * n + j];
            A[(size_t)j * n + i] = A[(size_t)i * n + j] = t / n + (i == j ? 1e-2 : 0.0);
        }
    free(M);
}

static void test_spd_scalapack(curvo_comm *c) {
    int N = curvo_comm_size(c);
    const spd_type *dist = spd_distributed_type();
    if (!dist) {
        if (curvo_comm_rank(c) == 0) printf("test_dist: built without ScaLAPACK: its solver is not tested\n");
        return;
    }
    static const int orders[] = {1, 7, 64, 65, 100, 130, 200, 301};
    spd_solver sd = {0}, ss = {0};
    for (size_t t = 0; t < sizeof orders / sizeof *orders; t++) {
        int n = orders[t];
        double *A = malloc((size_t)n * n * sizeof *A), *b = malloc((size_t)n * sizeof *b);
        double *x1 = malloc((size_t)n * sizeof *x1), *x2 = malloc((size_t)n * sizeof *x2);
        spd_test_matrix(n, A);
        rank_vector(3, (size_t)n, b);
        for (int i = 0; i < n; i++) b[i] = tanh(b[i] * 1e9);
        double shift = 0.5 / (1 + t);
        int r1 = spd_init(&sd, &spd_dense_cholesky, n), r2 = spd_init_comm(&ss, dist, n, c);
        if (!r1) r1 = spd_factor(&sd, A, shift);
        if (!r2) r2 = spd_factor(&ss, A, shift);
        if (!r1) r1 = spd_solve(&sd, b, x1);
        if (!r2) r2 = spd_solve(&ss, b, x2);
        TU_CHECK(!r1 && !r2, "N=%d spd n=%d: dense %d, scalapack %d", N, n, r1, r2);
        if (!r1 && !r2) {
            char what[80];
            snprintf(what, sizeof what, "N=%d spd n=%d: scalapack vs dense Cholesky", N, n);
            tu_close(what, x2, x1, (size_t)n, 1e-10);
            TU_CHECK(same_everywhere(c, x2, (size_t)n * sizeof *x2), "N=%d spd n=%d: the same u on every rank", N, n);
        }
        if (n == 130) { /* indefinite: A - 2 I (A's eigenvalues lie far below 2 for some) */
            int bad = spd_factor(&ss, A, -2.0), from_all = bad;
            dist_max_int(c, &from_all);
            TU_CHECK(bad == CURVO_E_NUMERIC && from_all == bad, "N=%d spd n=%d: not positive definite: %d on this rank",
                     N, n, bad);
            TU_CHECK(spd_solve(&ss, b, x2) == CURVO_E_STATE, "N=%d spd: no solve after a failed factorization", N);
            int again = spd_factor(&ss, A, shift);
            if (!again) again = spd_solve(&ss, b, x2);
            TU_CHECK(again == CURVO_OK, "N=%d spd n=%d: factors again after a failure (%d)", N, n, again);
            if (!again) tu_close("scalapack after a failure vs dense", x2, x1, (size_t)n, 1e-10);
        }
        free(A), free(b), free(x1), free(x2);
    }
    spd_free(&sd);
    spd_free(&ss);
}

/* EGN's parameter scalapack_min through the curvature layer. gn_solve with the threshold at 1 (so
 * the test's small systems, m = 75 and 25, are factored by ScaLAPACK) against the redundant path:
 * with more than one process and ScaLAPACK the solve communicates (it ran) and u agrees within 1e-10,
 * the same on every rank; otherwise it sends nothing and u is bitwise the redundant one. Then 20 EGN
 * steps (full and true-class systems) with scalapack_min 1 against the default (the redundant path
 * on these systems): within 1e-6, two runs bitwise identical, the same on every rank. */
static void test_egn_scalapack(curvo_comm *c) {
    int N = curvo_comm_size(c);
    int used = spd_distributed_type() != NULL && N > 1;
    for (int tc = 0; tc < 2; tc++) {
        curvo_model *model = du_model(5, 3);
        curvo_batch bt = {curvo_dataset_features(train_set), curvo_dataset_labels(train_set), NULL, 25};
        curvo_curv *cv = NULL;
        int m = 0, rc = curvo_curv_create(model, CURVO_LOSS_CE, &cv);
        if (!rc) rc = curvo_curv_set_comm(cv, c);
        if (!rc) rc = curvo_curv_set_batch(cv, &bt);
        if (!rc) rc = curvo_curv_gn_system(cv, tc, &m);
        TU_CHECK(!rc && m == (tc ? 25 : 75), "N=%d gn system (true class %d): %d, m %d", N, tc, rc, m);
        if (!rc) {
            double *u1 = malloc((size_t)m * sizeof *u1), *u2 = malloc((size_t)m * sizeof *u2);
            curvo_comm_stats s0, s1;
            rc = curvo_curv_gn_solve(cv, 0.05, u1);
            if (!rc) rc = curvo_curv_gn_set_distributed_min(cv, 1);
            curvo_comm_get_stats(c, &s0);
            if (!rc) rc = curvo_curv_gn_solve(cv, 0.05, u2);
            curvo_comm_get_stats(c, &s1);
            TU_CHECK(!rc, "N=%d gn_solve with scalapack_min 1: %d", N, rc);
            TU_CHECK(curvo_curv_gn_set_distributed_min(cv, -1) == CURVO_E_INVALID, "a negative threshold is refused");
            if (!rc) {
                TU_CHECK(used ? s1.bytes_sent > s0.bytes_sent : s1.bytes_sent == s0.bytes_sent,
                         "N=%d true class %d: ScaLAPACK %s (%llu bytes sent by the solve)", N, tc,
                         used ? "used" : "not used", (unsigned long long)(s1.bytes_sent - s0.bytes_sent));
                char what[80];
                snprintf(what, sizeof what, "N=%d true class %d: gn_solve ScaLAPACK vs redundant", N, tc);
                tu_close(what, u2, u1, (size_t)m, 1e-10);
                if (!used) TU_CHECK(!memcmp(u1, u2, (size_t)m * sizeof *u1), "N=%d: bitwise the redundant u", N);
                TU_CHECK(same_everywhere(c, u2, (size_t)m * sizeof *u2), "N=%d: the same u on every rank", N);
            }
            free(u1), free(u2);
        }
        curvo_curv_free(cv);
        curvo_model_free(model);

        curvo_opt_params op;
        du_opt_params(&op, CURVO_OPT_EGN);
        op.egn.true_class = tc;
        float *t1, *t2, *t3;
        size_t n1, n2, n3;
        int r1 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t1, &n1);
        op.egn.scalapack_min = 1;
        int r2 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t2, &n2);
        int r3 = du_train(&op, c, 5, train_set, test_set, NULL, NULL, &t3, &n3);
        TU_CHECK(!r1 && !r2 && !r3 && n1 == n2 && n2 == n3, "N=%d egn scalapack_min 1: runs (%d, %d, %d)", N, r1, r2, r3);
        if (t1 && t2 && t3 && n1 == n2 && n2 == n3) {
            char what[80];
            snprintf(what, sizeof what, "N=%d egn (true class %d) scalapack_min 1 vs redundant, 20 steps", N, tc);
            tu_close_f(what, t2, t1, n1, 1e-6);
            TU_CHECK(!memcmp(t2, t3, n2 * sizeof *t2), "N=%d egn scalapack_min 1: two runs bitwise identical", N);
            TU_CHECK(same_everywhere(c, t2, n2 * sizeof *t2), "N=%d egn scalapack_min 1: the same theta on every rank", N);
            if (!used) TU_CHECK(!memcmp(t1, t2, n1 * sizeof *t1), "N=%d: scalapack_min changes nothing here", N);
        }
        free(t1), free(t2), free(t3);
    }
}

/* The progress callback: records the step; the last rank asks to stop at *user steps. */
typedef struct {
    int64_t stop_at, last_step;
    int last_rank;
} stopper;

static int stop_on_last_rank(const curvo_progress *p, void *user) {
    stopper *s = user;
    if (p->event == CURVO_EVENT_STEP) s->last_step = p->step;
    return s->last_rank && p->event == CURVO_EVENT_STEP && p->step == s->stop_at;
}

/* A trainer (epochs 5) over c, or resumed from ckpt_path when resume is set. */
static curvo_trainer *make_trainer(curvo_comm *c, const curvo_opt_params *op, int resume, curvo_model **m) {
    curvo_train_options o;
    du_options(&o, 5, c);
    curvo_trainer *tr = NULL;
    char err[CURVO_ERRMSG_LEN] = "";
    int rc;
    if (resume) {
        rc = curvo_trainer_resume(ckpt_path, train_set, test_set, &o, &tr, m, err);
    } else {
        *m = du_model(5, 3);
        rc = curvo_trainer_create(*m, CURVO_LOSS_CE, op, train_set, test_set, &o, &tr, err);
    }
    TU_CHECK(rc == CURVO_OK, "N=%d: %s: %s", curvo_comm_size(c), resume ? "resume" : "create", err);
    return tr;
}

/* Stops a run at s = 2 after 10 steps (asked by the last rank), saves it, and checks the save's
 * failure on an unwritable path. */
static void write_checkpoint(curvo_comm *c, const curvo_opt_params *op) {
    curvo_model *m;
    curvo_trainer *tr = make_trainer(c, op, 0, &m);
    if (!tr) return;
    stopper s = {10, 0, curvo_comm_rank(c) == curvo_comm_size(c) - 1};
    int rc = curvo_trainer_run(tr, stop_on_last_rank, &s);
    TU_CHECK(rc == CURVO_E_CANCELLED && s.last_step == 10, "N=2: every rank stops after step 10 (%d at %lld)", rc,
             (long long)s.last_step);
    TU_CHECK(curvo_trainer_save(tr, ckpt_path) == CURVO_OK, "N=2: save: %s", curvo_trainer_errmsg(tr));
    rc = curvo_trainer_save(tr, "/nonexistent-dir/x.ckpt");
    TU_CHECK(rc == CURVO_E_IO, "N=2: a failed write on rank 0 fails every rank (%d: %s)", rc, curvo_trainer_errmsg(tr));
    if (curvo_comm_rank(c) == 1)
        TU_CHECK(strstr(curvo_trainer_errmsg(tr), "rank 0") != NULL, "rank 1 says rank 0 failed: %s",
                 curvo_trainer_errmsg(tr));
    curvo_trainer_free(tr);
    curvo_model_free(m);
}

/* The final parameters of a run at c from the start (resume 0) or from the checkpoint. */
static float *finish_run(curvo_comm *c, const curvo_opt_params *op, int resume, size_t *n) {
    curvo_model *m = NULL;
    curvo_trainer *tr = make_trainer(c, op, resume, &m);
    float *theta = NULL;
    if (tr) {
        int rc = curvo_trainer_run(tr, NULL, NULL);
        TU_CHECK(rc == CURVO_OK, "N=%d: run: %s", curvo_comm_size(c), curvo_trainer_errmsg(tr));
        *n = curvo_model_num_params(m);
        theta = malloc(*n * sizeof *theta);
        memcpy(theta, curvo_model_params(m), *n * sizeof *theta);
    }
    curvo_trainer_free(tr);
    curvo_model_free(m);
    return theta;
}

/* Ranks with different batch sizes are refused on every rank. */
static void test_mismatch(curvo_comm *c) {
    if (curvo_comm_size(c) == 1) return;
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_SGD);
    curvo_model *m = du_model(5, 3);
    curvo_train_options o;
    du_options(&o, 1, c);
    o.batch_size = curvo_comm_rank(c) == 1 ? 20 : 25;
    curvo_trainer *tr = NULL;
    char err[CURVO_ERRMSG_LEN] = "";
    int rc = curvo_trainer_create(m, CURVO_LOSS_CE, &op, train_set, test_set, &o, &tr, err);
    TU_CHECK(rc == CURVO_E_INVALID && !tr && strstr(err, "rank 1"), "N=%d: different batch sizes refused (%d: %s)",
             curvo_comm_size(c), rc, err);
    curvo_model_free(m);
}

/* A communicator over the first s ranks of the world (NULL on the others). */
static curvo_comm *first_ranks(int s) {
    MPI_Comm sub;
    MPI_Comm_split(MPI_COMM_WORLD, world_rank < s ? 0 : MPI_UNDEFINED, world_rank, &sub);
    if (sub == MPI_COMM_NULL) return NULL;
    curvo_comm *c = NULL;
    TU_CHECK(curvo_comm_from_mpi(sub, &c) == CURVO_OK && curvo_comm_size(c) == s, "communicator of %d", s);
    MPI_Comm_free(&sub);
    return c;
}

/* The checkpoint test for one optimizer: an uninterrupted run at 2, the checkpoint at 2 after 10
 * steps, resumed at 1, 2 and 3 (as far as the world goes). */
static void test_checkpoint(curvo_algorithm alg, double tol) {
    curvo_opt_params op;
    du_opt_params(&op, alg);
    size_t n = 0, nr = 0;
    float *whole = NULL;
    curvo_comm *c2 = first_ranks(2);
    if (c2) {
        whole = finish_run(c2, &op, 0, &n);
        write_checkpoint(c2, &op);
        curvo_comm_free(c2);
    }
    MPI_Bcast(&n, sizeof n, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (!whole) whole = malloc(n * sizeof *whole);
    MPI_Bcast(whole, (int)(n * sizeof *whole), MPI_BYTE, 0, MPI_COMM_WORLD); /* the N = 2 run's */
    for (int s = 1; s <= 3 && s <= world_size; s++) {
        curvo_comm *c = first_ranks(s);
        if (!c) continue;
        float *resumed = finish_run(c, &op, 1, &nr);
        if (resumed && nr == n) {
            char what[96];
            snprintf(what, sizeof what, "%s: checkpoint at N=2 resumed at N=%d vs the uninterrupted run",
                     curvo_algorithm_name(alg), s);
            tu_close_f(what, resumed, whole, n, tol);
            if (s == 2)
                TU_CHECK(!memcmp(resumed, whole, n * sizeof *whole), "%s: resumed at N=2: bitwise the same run",
                         curvo_algorithm_name(alg));
        }
        free(resumed);
        curvo_comm_free(c);
    }
    free(whole);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    curvo_set_threads(1);
    TU_CHECK(curvo_have_mpi() == 1, "built with MPI");
    train_set = du_dataset(100, 5, 3, 1);
    test_set = du_dataset(40, 5, 3, 2);
    reg_train = du_dataset(100, 5, 0, 3);
    reg_test = du_dataset(37, 5, 0, 4);
    if (world_rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/curvo_dist_XXXXXX");
        TU_CHECK(mkdtemp(dir) != NULL, "temporary directory");
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/run.ckpt", dir);
    /* --spd: only the distributed solver's tests, over the whole world (CTest runs them at 4
     * processes for a 2 x 2 BLACS grid; the full run at 1, 2 and 3 has 1 x N grids) */
    int spd_only = argc > 1 && !strcmp(argv[1], "--spd");
    for (int s = spd_only ? world_size : 1; s <= world_size; s++) {
        curvo_comm *c = first_ranks(s);
        if (c && spd_only) {
            test_spd_scalapack(c);
            test_egn_scalapack(c);
            curvo_comm_free(c);
        } else if (c) {
            test_collectives(c);
            test_operators(c, CURVO_LOSS_CE, train_set);
            test_operators(c, CURVO_LOSS_MSE, reg_train);
            test_bad_label(c);
            test_evaluation(c);
            test_batchnorm(c);
            test_training(c);
            test_gn_system(c);
            test_gn_system_residual(c);
            test_egn_step_bytes(c);
            test_egn(c);
            test_spd_scalapack(c);
            test_egn_scalapack(c);
            test_mismatch(c);
            curvo_comm_free(c);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (world_size >= 2 && !spd_only) {
        test_checkpoint(CURVO_OPT_ADAM, 1e-5);
        test_checkpoint(CURVO_OPT_LRSFN, 1e-4);
    }
    curvo_dataset_free(train_set);
    curvo_dataset_free(test_set);
    curvo_dataset_free(reg_train);
    curvo_dataset_free(reg_test);
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank == 0) {
        remove(ckpt_path);
        rmdir(dir);
    }
    int failures = tu_failures, total = 0, checks = tu_checks;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0) printf("test_dist: %d ranks, %d checks on rank 0, %d failed on all ranks\n", world_size, checks, total);
    MPI_Finalize();
    curvo_comm *late = NULL;
    if (curvo_comm_from_mpi(MPI_COMM_WORLD, &late) != CURVO_E_STATE || late) {
        fprintf(stderr, "FAIL: a communicator after MPI_Finalize must be refused with CURVO_E_STATE\n");
        return 1;
    }
    return total ? 1 : 0;
}
#endif
