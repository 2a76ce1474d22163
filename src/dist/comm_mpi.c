/* comm_mpi.c — the MPI transport of the communicator (built only with MPI, CURVO_HAVE_MPI):
 * curvo_comm_from_mpi duplicates the caller's communicator, so curvo's collectives never match the
 * caller's messages, and sets MPI_ERRORS_RETURN on the duplicate, so a failed call comes back as
 * CURVO_E_IO with MPI's message instead of aborting. Payloads go as MPI_BYTE; comm.c keeps each
 * message below 2^31 bytes. curvo calls MPI only from the thread that calls curvo, never inside
 * its OpenMP loops: MPI_THREAD_FUNNELED (or plain MPI_Init) is enough. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "curvo_mpi.h"
#include "dist/comm.h"

typedef struct mpi_impl {
    MPI_Comm comm;
    int size;
    int *c1, *d1, *c2, *d2; /* (size) int counts and displacements */
} mpi_impl;

/* CURVO_E_IO with MPI's message for a failed call. */
static int mpi_fail(int err, const char *what, char *errmsg) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", err);
    snprintf(errmsg, CURVO_ERRMSG_LEN, "MPI_%s failed: %.200s", what, text);
    return CURVO_E_IO;
}

/* Byte counts and displacements as MPI's ints; 0 if one does not fit. */
static int to_ints(int n, const size_t *counts, const size_t *displs, int *ci, int *di) {
    for (int r = 0; r < n; r++) {
        if (counts[r] > INT_MAX || displs[r] > INT_MAX) return 0;
        ci[r] = (int)counts[r];
        di[r] = (int)displs[r];
    }
    return 1;
}

static int too_big(char *errmsg) {
    snprintf(errmsg, CURVO_ERRMSG_LEN, "a collective of 2^31 bytes or more");
    return CURVO_E_UNSUPPORTED;
}

static int mpi_allgatherv(void *impl, const void *send, size_t bytes, void *recv, const size_t *counts,
                          const size_t *displs, char *errmsg) {
    mpi_impl *m = impl;
    if (bytes > INT_MAX || !to_ints(m->size, counts, displs, m->c1, m->d1)) return too_big(errmsg);
    int err = MPI_Allgatherv(send, (int)bytes, MPI_BYTE, recv, m->c1, m->d1, MPI_BYTE, m->comm);
    return err == MPI_SUCCESS ? CURVO_OK : mpi_fail(err, "Allgatherv", errmsg);
}

static int mpi_alltoallv(void *impl, const void *send, const size_t *send_counts, const size_t *send_displs,
                         void *recv, const size_t *recv_counts, const size_t *recv_displs, char *errmsg) {
    mpi_impl *m = impl;
    if (!to_ints(m->size, send_counts, send_displs, m->c1, m->d1) ||
        !to_ints(m->size, recv_counts, recv_displs, m->c2, m->d2))
        return too_big(errmsg);
    int err = MPI_Alltoallv(send, m->c1, m->d1, MPI_BYTE, recv, m->c2, m->d2, MPI_BYTE, m->comm);
    return err == MPI_SUCCESS ? CURVO_OK : mpi_fail(err, "Alltoallv", errmsg);
}

static int mpi_bcast(void *impl, void *buf, size_t bytes, int root, char *errmsg) {
    mpi_impl *m = impl;
    if (bytes > INT_MAX) return too_big(errmsg);
    int err = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, m->comm);
    return err == MPI_SUCCESS ? CURVO_OK : mpi_fail(err, "Bcast", errmsg);
}

static int mpi_barrier(void *impl, char *errmsg) {
    mpi_impl *m = impl;
    int err = MPI_Barrier(m->comm);
    return err == MPI_SUCCESS ? CURVO_OK : mpi_fail(err, "Barrier", errmsg);
}

static void mpi_release(void *impl) {
    mpi_impl *m = impl;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && m->comm != MPI_COMM_NULL) MPI_Comm_free(&m->comm);
    free(m->c1);
    free(m->d1);
    free(m->c2);
    free(m->d2);
    free(m);
}

static const dist_transport mpi_transport = {mpi_allgatherv, mpi_alltoallv, mpi_bcast, mpi_barrier, mpi_release};

int dist_mpi_comm(const curvo_comm *c, void *mpi_comm) {
    if (!c || c->tr != &mpi_transport || !mpi_comm) return CURVO_E_STATE;
    *(MPI_Comm *)mpi_comm = ((const mpi_impl *)c->impl)->comm;
    return CURVO_OK;
}

int curvo_comm_from_mpi(MPI_Comm comm, curvo_comm **out) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized || comm == MPI_COMM_NULL) return CURVO_E_STATE;
    mpi_impl *m = calloc(1, sizeof *m);
    if (!m) return CURVO_E_NOMEM;
    m->comm = MPI_COMM_NULL;
    int rank, size;
    if (MPI_Comm_dup(comm, &m->comm) != MPI_SUCCESS) {
        mpi_release(m);
        return CURVO_E_IO;
    }
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &rank);
    MPI_Comm_size(m->comm, &size);
    m->size = size;
    size_t s = (size_t)size;
    m->c1 = malloc(s * sizeof(int));
    m->d1 = malloc(s * sizeof(int));
    m->c2 = malloc(s * sizeof(int));
    m->d2 = malloc(s * sizeof(int));
    if (!m->c1 || !m->d1 || !m->c2 || !m->d2) {
        mpi_release(m);
        return CURVO_E_NOMEM;
    }
    return dist_comm_create(&mpi_transport, m, rank, size, out);
}
