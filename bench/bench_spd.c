/* bench_spd.c — EGN's SPD solve (issue 12): the dense Cholesky each rank runs redundantly against
 * ScaLAPACK's pdpotrf/pdpotrs over all ranks (linalg/spd.h, spd_scalapack.c), for system orders
 * from the command line, to place EGN's scalapack_min. Every rank holds the same SPD matrix
 * A = S + n I (S symmetric, entries in [-1, 1]); both solvers factor A + shift I and solve one
 * right-hand side, as curvo_curv_gn_solve does. Each timing is the slowest rank's, between barriers,
 * the best of --reps. Rank 0 prints one line per order: n, dense seconds, ScaLAPACK seconds, their
 * ratio, and the relative difference of the two solutions. Built only with MPI and ScaLAPACK.
 * Never a timed assertion.
 *
 * Usage: mpirun -np N bench_spd [--threads T] [--reps R] [n ...]
 * (defaults: 1 thread a rank, 3 repetitions, orders 1000 2000 3000 4000 5000 6000). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curvo.h"
#include "curvo_mpi.h"
#include "dist/comm.h"
#include "linalg/spd.h"

/* The slowest rank's seconds of one factor + solve with type over comm. */
static double timed(spd_solver *s, const spd_type *type, curvo_comm *comm, int n, const double *A, const double *b,
                    double *x, int *rc) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    *rc = spd_init_comm(s, type, n, comm);
    if (!*rc) *rc = spd_factor(s, A, 1e-3);
    if (!*rc) *rc = spd_solve(s, b, x);
    double t = MPI_Wtime() - t0, worst;
    MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, threads = 1, reps = 3, orders[64], n_orders = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (n_orders < 64 && atoi(argv[i]) > 0) orders[n_orders++] = atoi(argv[i]);
    }
    if (!n_orders)
        for (int n = 1000; n <= 6000; n += 1000) orders[n_orders++] = n;
    curvo_set_threads(threads);
    curvo_comm *comm = NULL;
    const spd_type *dist = spd_distributed_type();
    if (!dist || curvo_comm_from_mpi(MPI_COMM_WORLD, &comm)) {
        if (!rank) fprintf(stderr, "bench_spd: no ScaLAPACK or no communicator\n");
        MPI_Finalize();
        return 1;
    }
    if (!rank) printf("# N=%d, %d thread(s) a rank, best of %d\n#     n   dense_s  scalapack_s  dense/scalapack  rel_diff\n",
                      curvo_comm_size(comm), threads, reps);
    for (int o = 0; o < n_orders; o++) {
        int n = orders[o];
        size_t nn = (size_t)n * n;
        double *A = malloc(nn * sizeof *A), *b = malloc((size_t)n * sizeof *b);
        double *x1 = malloc((size_t)n * sizeof *x1), *x2 = malloc((size_t)n * sizeof *x2);
        if (!A || !b || !x1 || !x2) return 1;
        for (int j = 0; j < n; j++) {
            b[j] = sin(0.1 * j);
            for (int i = 0; i <= j; i++) {
                unsigned long long h = ((unsigned long long)i * 2654435761u) ^ ((unsigned long long)j * 40503u + 7);
                double v = (double)(h % 20001) / 10000.0 - 1.0 + (i == j ? n : 0.0);
                A[(size_t)j * n + i] = A[(size_t)i * n + j] = v;
            }
        }
        spd_solver sd = {0}, sc = {0};
        double td = 1e30, tc = 1e30;
        int rd = 0, rs = 0;
        for (int r = 0; r < reps; r++) {
            double t = timed(&sd, &spd_dense_cholesky, NULL, n, A, b, x1, &rd);
            if (t < td) td = t;
            t = timed(&sc, dist, comm, n, A, b, x2, &rs);
            if (t < tc) tc = t;
        }
        double num = 0.0, den = 0.0;
        for (int i = 0; i < n; i++) num += (x1[i] - x2[i]) * (x1[i] - x2[i]), den += x1[i] * x1[i];
        if (!rank) printf("%7d  %8.4f  %11.4f  %15.2f  %.1e%s\n", n, td, tc, td / tc, sqrt(num / den),
                          rd || rs ? "  (failed)" : "");
        fflush(stdout);
        spd_free(&sd);
        spd_free(&sc);
        free(A), free(b), free(x1), free(x2);
    }
    curvo_comm_free(comm);
    MPI_Finalize();
    return 0;
}
