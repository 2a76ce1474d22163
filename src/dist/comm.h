/* comm.h — the communicator's internals (private): the transport a process group provides (MPI in
 * comm_mpi.c; none for the serial communicator) and the collectives the library builds on it in
 * comm.c. The curvature layer and the trainer use these; optimizers never do (DESIGN.md, "Scale
 * lives in the curvature layer").
 *
 * Every function below takes a NULL communicator as the serial one (one process, rank 0): sums and
 * broadcasts leave their buffers as they are, gathers copy, agreements return their own input, and
 * nothing is counted. With a communicator of more than one process they are collective: every rank
 * calls them in the same order with the same sizes (and the same counts array where there is one).
 *
 * Determinism: a sum is reduced in rank order from the same inputs on every rank (gather, then add
 * rank 0's, rank 1's, ... contribution, in double also for floats), so its result is bitwise the same
 * on every rank and from one run to the next at the same number of processes. */
#ifndef CURVO_DIST_COMM_H
#define CURVO_DIST_COMM_H

#include <stddef.h>

#include "curvo.h"

/* What a process group provides; every call is collective over the group. Counts and displacements
 * are in bytes, one per rank. Each returns CURVO_OK or a negative CURVO_E_* code with a message in
 * errmsg (CURVO_ERRMSG_LEN bytes). */
typedef struct dist_transport {
    int (*allgatherv)(void *impl, const void *send, size_t bytes, void *recv, const size_t *counts,
                      const size_t *displs, char *errmsg);
    int (*alltoallv)(void *impl, const void *send, const size_t *send_counts, const size_t *send_displs,
                     void *recv, const size_t *recv_counts, const size_t *recv_displs, char *errmsg);
    int (*bcast)(void *impl, void *buf, size_t bytes, int root, char *errmsg);
    int (*barrier)(void *impl, char *errmsg);
    void (*release)(void *impl); /* frees impl (and its process group handle) */
} dist_transport;

struct curvo_comm {
    int rank, size;
    const dist_transport *tr; /* NULL: serial */
    void *impl;
    curvo_comm_stats stats;
    size_t *counts, *displs, *counts2, *displs2; /* (size) each, the transport's arguments */
    size_t chunk;                                /* elements a sum reduces per round (DIST_CHUNK;
                                                  * tests lower it to reach several rounds) */
    void *work;                                  /* reduction scratch, work_len bytes */
    size_t work_len;
    char errmsg[CURVO_ERRMSG_LEN];
};

/* A communicator over a transport (rank, size >= 1; impl released with it, also on failure). */
int dist_comm_create(const dist_transport *tr, void *impl, int rank, int size, curvo_comm **out);

/* Longest vector a sum reduces in one round, in elements: bounds the scratch and keeps every message
 * far below the transport's 2^31-byte limit. */
#define DIST_CHUNK ((size_t)1 << 22)
/* A round of at most this many elements in all ranks' copies goes by one allgather. */
#define DIST_SMALL ((size_t)2048)

/* In place: x (n) becomes the sum over the ranks of their x, reduced in rank order (floats added in
 * double, rounded once). */
int dist_sum_float(curvo_comm *c, float *x, size_t n);
int dist_sum_double(curvo_comm *c, double *x, size_t n);

/* Every rank's `bytes` bytes from send, into recv (size * bytes) in rank order. */
int dist_allgather(curvo_comm *c, const void *send, size_t bytes, void *recv);
/* Rank r's counts[r] bytes from send, into recv at the sum of counts[0..r-1]; every rank passes the
 * same counts (size). */
int dist_allgatherv(curvo_comm *c, const void *send, const size_t *counts, void *recv);
/* root's bytes bytes of buf to every rank. */
int dist_bcast(curvo_comm *c, void *buf, size_t bytes, int root);
int dist_barrier(curvo_comm *c);

/* *v becomes the largest of the ranks' values (dist_max_int) or their bitwise or (dist_or_int). */
int dist_max_int(curvo_comm *c, int *v);
int dist_or_int(curvo_comm *c, int *v);
/* Agrees on a status: returns the first non-zero rc in rank order (CURVO_OK when every rank passes
 * CURVO_OK; a failed transport gives its own code). *from (if not NULL) receives the rank it came
 * from (-1 for CURVO_OK). */
int dist_agree(curvo_comm *c, int rc, int *from);

/* MPI builds only (comm_mpi.c): *(MPI_Comm *)mpi_comm receives the MPI communicator under c (the
 * duplicate curvo_comm_from_mpi made), for a library that runs its own collectives on it (ScaLAPACK's
 * BLACS grid, linalg/spd_scalapack.c). CURVO_E_STATE when c is serial or not over MPI. */
int dist_mpi_comm(const curvo_comm *c, void *mpi_comm);

/* The contiguous shard [offset, offset + count) of b samples that rank r of n takes:
 * [r*b/n, (r+1)*b/n), so shards differ by at most one sample and some are empty when b < n. */
void dist_shard(int b, int rank, int size, int *offset, int *count);

#endif
