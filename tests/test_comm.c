/* test_comm.c — the serial communicator, in every build (MPI or not): a one-process communicator
 * (curvo_comm_create_serial) behaves exactly like none: its collectives leave buffers as they are
 * or copy them, agreements return their input, nothing is counted; a curvature context and a
 * trainer given it produce the same loss, gradient, GGN and Hessian products, metrics and final
 * parameters, bit for bit, as without one, for every optimizer. The shards of a batch split it into
 * contiguous pieces that differ by at most one sample. The MPI side is test_dist. */
#include <stdlib.h>
#include <string.h>

#include "dist/comm.h"
#include "distutil.h"
#include "testutil.h"
#include "train/evaluate.h"

static void test_shards(void) {
    int ok = 1;
    for (int b = 1; b <= 20; b++)
        for (int n = 1; n <= 5; n++) {
            int next = 0, lo = b, hi = 0;
            for (int r = 0; r < n; r++) {
                int off, count;
                dist_shard(b, r, n, &off, &count);
                ok &= off == next && count >= 0;
                next = off + count;
                lo = count < lo ? count : lo;
                hi = count > hi ? count : hi;
            }
            ok &= next == b && hi - lo <= 1;
        }
    TU_CHECK(ok, "shards are contiguous, cover the batch and differ by at most one sample");
    int off, count;
    dist_shard(2, 0, 3, &off, &count);
    TU_CHECK(off == 0 && count == 0, "2 samples on 3 ranks: rank 0's shard is empty (%d, %d)", off, count);
    dist_shard(2, 2, 3, &off, &count);
    TU_CHECK(off == 1 && count == 1, "2 samples on 3 ranks: rank 2 takes sample 1 (%d, %d)", off, count);
}

static void test_serial_collectives(curvo_comm *c) {
    float x[5] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f}, x0[5];
    double y[3] = {1.0, -1.0, 0.1}, y0[3];
    memcpy(x0, x, sizeof x);
    memcpy(y0, y, sizeof y);
    TU_CHECK(dist_sum_float(c, x, 5) == CURVO_OK && !memcmp(x, x0, sizeof x), "a sum over one process is x");
    TU_CHECK(dist_sum_double(c, y, 3) == CURVO_OK && !memcmp(y, y0, sizeof y), "a sum over one process is y");
    char in[4] = "abc", out[4] = "";
    size_t counts[1] = {4};
    TU_CHECK(dist_allgather(c, in, 4, out) == CURVO_OK && !strcmp(out, "abc"), "allgather copies");
    memset(out, 0, 4);
    TU_CHECK(dist_allgatherv(c, in, counts, out) == CURVO_OK && !strcmp(out, "abc"), "allgatherv copies");
    TU_CHECK(dist_bcast(c, in, 4, 0) == CURVO_OK && !strcmp(in, "abc"), "bcast leaves the buffer");
    int v = 6;
    TU_CHECK(dist_max_int(c, &v) == CURVO_OK && v == 6, "max of one value");
    TU_CHECK(dist_or_int(c, &v) == CURVO_OK && v == 6, "or of one value");
    int from = 7;
    TU_CHECK(dist_agree(c, CURVO_E_IO, &from) == CURVO_E_IO && from == 0, "agreeing on one failure");
    TU_CHECK(dist_agree(c, CURVO_OK, &from) == CURVO_OK && from == -1, "agreeing on success");
    TU_CHECK(dist_barrier(c) == CURVO_OK, "barrier");
    curvo_comm_stats st;
    curvo_comm_get_stats(c, &st);
    TU_CHECK(st.bytes_sent == 0 && st.bytes_received == 0 && st.messages == 0 && st.collectives == 0 &&
                 st.seconds == 0.0,
             "one process never communicates");
}

/* loss, grad, ggn and hvp of one batch, through a context with comm */
static void products(curvo_comm *comm, const curvo_batch *bt, curvo_model *m, double *loss, float *out) {
    curvo_curv *cv;
    size_t n = curvo_model_num_params(m);
    float v[2 * 200];
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    tu_fill_normal(&rng, v, 2 * n, 1.0);
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "context");
    TU_CHECK(curvo_curv_set_comm(cv, comm) == CURVO_OK && curvo_curv_comm(cv) == comm, "set_comm");
    int off = -1, count = -1;
    TU_CHECK(curvo_curv_shard(cv, &off, &count) == CURVO_E_STATE, "no shard before a batch");
    TU_CHECK(curvo_curv_set_batch(cv, bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(cv));
    TU_CHECK(curvo_curv_shard(cv, &off, &count) == CURVO_OK && off == 0 && count == bt->b, "one process holds it all");
    *loss = curvo_curv_loss(cv);
    TU_CHECK(curvo_curv_grad(cv, out) == CURVO_OK && curvo_curv_ggn(cv, v, 2, out + n) == CURVO_OK &&
                 curvo_curv_hvp(cv, v, 2, out + 3 * n) == CURVO_OK,
             "products");
    memcpy(out + 5 * n, curvo_curv_outputs(cv), (size_t)bt->b * 3 * sizeof(float));
    curvo_curv_free(cv);
}

static void test_serial_curvature(curvo_comm *c, const curvo_dataset *d) {
    curvo_model *m = du_model(5, 3);
    size_t n = curvo_model_num_params(m), len = 5 * n + 13 * 3;
    TU_CHECK(n <= 200, "model size");
    curvo_batch bt = {curvo_dataset_features(d), curvo_dataset_labels(d), curvo_dataset_targets(d), 13};
    float *a = malloc(len * sizeof(float)), *b = malloc(len * sizeof(float));
    double la, lb;
    products(NULL, &bt, m, &la, a);
    products(c, &bt, m, &lb, b);
    TU_CHECK(la == lb && !memcmp(a, b, len * sizeof(float)),
             "a one-process communicator gives the loss, gradient, products and outputs bit for bit");
    free(a);
    free(b);
    curvo_model_free(m);
}

static void test_serial_training(curvo_comm *c, const curvo_dataset *train, const curvo_dataset *test) {
    for (int alg = 0; alg < CURVO_NUM_ALGORITHMS; alg++) {
        curvo_opt_params op;
        du_opt_params(&op, (curvo_algorithm)alg);
        float *ta, *tb;
        size_t na, nb;
        int ra = du_train(&op, NULL, 2, train, test, NULL, NULL, &ta, &na);
        int rb = du_train(&op, c, 2, train, test, NULL, NULL, &tb, &nb);
        TU_CHECK(ra == CURVO_OK && rb == CURVO_OK, "%s: runs (%d, %d)", curvo_algorithm_name(op.algorithm), ra, rb);
        TU_CHECK(ta && tb && na == nb && !memcmp(ta, tb, na * sizeof(float)),
                 "%s: a one-process communicator trains bit for bit as none", curvo_algorithm_name(op.algorithm));
        free(ta);
        free(tb);
    }
    curvo_model *m = du_model(5, 3);
    curvo_metrics a, b;
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_CE, test, 15, &a, NULL) == CURVO_OK &&
                 train_evaluate(m, CURVO_LOSS_CE, test, 15, c, &b, NULL) == CURVO_OK && !memcmp(&a, &b, sizeof a),
             "evaluation with a one-process communicator is the same");
    curvo_model_free(m);
}

int main(void) {
    curvo_set_threads(1);
    curvo_comm *c = NULL;
    TU_CHECK(curvo_comm_create_serial(&c) == CURVO_OK && c, "serial communicator");
    TU_CHECK(curvo_comm_rank(c) == 0 && curvo_comm_size(c) == 1 && curvo_comm_rank(NULL) == 0 &&
                 curvo_comm_size(NULL) == 1,
             "rank 0 of 1");
    curvo_dataset *train = du_dataset(100, 5, 3, 1), *test = du_dataset(40, 5, 3, 2);
    TU_CHECK(train && test, "datasets");
    test_shards();
    test_serial_collectives(NULL);
    test_serial_collectives(c);
    test_serial_curvature(c, train);
    test_serial_training(c, train, test);
    curvo_comm_free(c);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    return tu_finish("test_comm");
}
