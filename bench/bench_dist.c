/* bench_dist.c — what data-parallel training sends (issue 12): the communicator's counters per
 * optimizer step of a preset (`mlp`: 28x28x1 inputs, 10 classes, 203,530 parameters; or `cnn`) with
 * any optimizer (default Adam) on random inputs, a global batch split across the ranks. An Adam step
 * is set_batch (the loss: one allgather of 16 bytes a rank) and the gradient (a deterministic
 * allreduce of n floats: an alltoallv of the vector's parts, the rank-order sums in double, an
 * allgatherv of the reduced parts); the second-order methods add their products (docs/DISTRIBUTED.md).
 * Rank 0 prints, per step: bytes sent and received by rank 0, messages, collectives, the seconds in
 * them, and the whole step's seconds. Never a timed assertion.
 *
 * Usage: mpirun -np N bench_dist [--opt NAME] [--model mlp|cnn] [--batch B] [--steps S] [--warmup W]
 *                                [--threads T] [--json]
 * (defaults: adam, mlp, batch 128, 50 steps after 5 warm-up steps, 1 thread a rank). Only the public
 * headers curvo.h and curvo_mpi.h are used.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "curvo.h"
#include "curvo_mpi.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int batch = 128, steps = 50, warmup = 5, threads = 1, json = 0;
    const char *opt_name = "adam", *preset = "mlp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--opt") && i + 1 < argc) opt_name = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
    }
    curvo_algorithm alg;
    if (batch < 1 || steps < 1 || warmup < 0 || threads < 1 || curvo_algorithm_from_name(opt_name, &alg) ||
        (strcmp(preset, "mlp") && strcmp(preset, "cnn"))) {
        fprintf(stderr, "usage: bench_dist [--opt NAME] [--model mlp|cnn] [--batch B] [--steps S] [--warmup W] "
                        "[--threads T] [--json]\n");
        MPI_Finalize();
        return 2;
    }
    curvo_set_threads(threads);
    curvo_comm *comm;
    curvo_model *model;
    curvo_curv *cv;
    curvo_optimizer *opt;
    curvo_opt_params op;
    curvo_opt_params_init(&op, alg);
    char err[CURVO_ERRMSG_LEN];
    if (curvo_comm_from_mpi(MPI_COMM_WORLD, &comm) || curvo_model_for_task(preset, 1, 28, 28, 10, &model, err) ||
        curvo_curv_create(model, CURVO_LOSS_CE, &cv) || curvo_curv_set_comm(cv, comm) ||
        curvo_optimizer_create(&op, curvo_model_num_params(model), &opt, err)) {
        fprintf(stderr, "bench_dist: setup failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, 1);
    curvo_model_init(model, &rng);
    size_t d = curvo_model_input_size(model);
    float *x = malloc((size_t)batch * d * sizeof *x);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    for (size_t i = 0; i < (size_t)batch * d; i++) x[i] = (float)curvo_rng_uniform(&rng);
    for (int i = 0; i < batch; i++) labels[i] = (int32_t)curvo_rng_below(&rng, 10);
    curvo_batch bt = {x, labels, NULL, batch};
    for (int s = 0; s < warmup; s++) curvo_optimizer_step(opt, cv, &bt, NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    curvo_comm_reset_stats(comm);
    double t0 = bench_now_ms();
    for (int s = 0; s < steps; s++) curvo_optimizer_step(opt, cv, &bt, NULL);
    double ms = (bench_now_ms() - t0) / steps;
    curvo_comm_stats st;
    curvo_comm_get_stats(comm, &st);
    if (curvo_comm_rank(comm) == 0) {
        int N = curvo_comm_size(comm);
        size_t n = curvo_model_num_params(model);
        if (json)
            printf("{\"bench\":\"dist_step\",\"optimizer\":\"%s\",\"model\":\"%s\",\"params\":%zu,\"processes\":%d,\"batch\":%d,"
                   "\"threads\":%d,\"steps\":%d,\"bytes_sent\":%.0f,\"bytes_received\":%.0f,\"messages\":%.2f,"
                   "\"collectives\":%.2f,\"comm_ms\":%.4f,\"step_ms\":%.4f}\n",
                   opt_name, preset, n, N, batch, threads, steps, (double)st.bytes_sent / steps,
                   (double)st.bytes_received / steps, (double)st.messages / steps, (double)st.collectives / steps,
                   1e3 * st.seconds / steps, ms);
        else
            printf("%s on %s (%zu parameters, gradient %zu bytes), %d processes, global batch %d, %d thread(s), "
                   "%d steps\n"
                   "per step on rank 0: %.0f bytes sent, %.0f received, %.2f messages, %.2f collectives, "
                   "%.3f ms communicating, %.3f ms in all\n",
                   opt_name, preset, n, n * sizeof(float), N, batch, threads, steps, (double)st.bytes_sent / steps,
                   (double)st.bytes_received / steps, (double)st.messages / steps, (double)st.collectives / steps,
                   1e3 * st.seconds / steps, ms);
    }
    free(x);
    free(labels);
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(model);
    curvo_comm_free(comm);
    MPI_Finalize();
    return 0;
}
