/* comm.c — the communicator: the serial one (one process; every collective a no-op), and the
 * collectives the library builds on a transport (comm_mpi.c): deterministic sums (a reduce-scatter
 * by alltoallv, each rank adding its part of the vector in rank order, then an allgatherv of the
 * parts; short vectors by one allgather), gathers, broadcasts, agreements on an int, and the
 * counters of what went over the wire. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/errmsg.h"
#include "dist/comm.h"


int dist_comm_create(const dist_transport *tr, void *impl, int rank, int size, curvo_comm **out) {
    if (!out || size < 1 || rank < 0 || rank >= size) {
        if (tr && impl) tr->release(impl);
        return CURVO_E_INVALID;
    }
    *out = NULL;
    curvo_comm *c = calloc(1, sizeof *c);
    size_t s = (size_t)size;
    if (c) {
        c->counts = malloc(s * sizeof *c->counts);
        c->displs = malloc(s * sizeof *c->displs);
        c->counts2 = malloc(s * sizeof *c->counts2);
        c->displs2 = malloc(s * sizeof *c->displs2);
    }
    if (!c || !c->counts || !c->displs || !c->counts2 || !c->displs2) {
        if (tr && impl) tr->release(impl);
        if (c) c->tr = NULL;
        curvo_comm_free(c);
        return CURVO_E_NOMEM;
    }
    c->rank = rank;
    c->size = size;
    c->chunk = DIST_CHUNK;
    c->tr = tr;
    c->impl = impl;
    *out = c;
    return CURVO_OK;
}

int curvo_comm_create_serial(curvo_comm **out) { return dist_comm_create(NULL, NULL, 0, 1, out); }

void curvo_comm_free(curvo_comm *c) {
    if (!c) return;
    if (c->tr && c->impl) c->tr->release(c->impl);
    free(c->counts);
    free(c->displs);
    free(c->counts2);
    free(c->displs2);
    free(c->work);
    free(c);
}

int curvo_comm_rank(const curvo_comm *c) { return c ? c->rank : 0; }
int curvo_comm_size(const curvo_comm *c) { return c ? c->size : 1; }
const char *curvo_comm_errmsg(const curvo_comm *c) { return c ? c->errmsg : ""; }

void curvo_comm_get_stats(const curvo_comm *c, curvo_comm_stats *out) {
    if (!out) return;
    if (c) *out = c->stats;
    else memset(out, 0, sizeof *out);
}

void curvo_comm_reset_stats(curvo_comm *c) {
    if (c) memset(&c->stats, 0, sizeof c->stats);
}

int curvo_have_mpi(void) {
#ifdef CURVO_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

static int parallel(const curvo_comm *c) { return c && c->size > 1 && c->tr; }

static void *work(curvo_comm *c, size_t bytes) {
    if (bytes <= c->work_len) return c->work;
    void *w = realloc(c->work, bytes);
    if (!w) return NULL;
    c->work = w;
    c->work_len = bytes;
    return w;
}

/* ---------------------------------------------------------------- counted transport calls */

/* Counts one collective: payload to and from the other ranks, messages sent (one per other rank
 * with a non-empty payload, as if each collective were done with direct sends), time spent. */
static void count(curvo_comm *c, size_t sent, size_t received, int messages, double t0) {
    c->stats.bytes_sent += sent;
    c->stats.bytes_received += received;
    c->stats.messages += (uint64_t)messages;
    c->stats.collectives++;
    c->stats.seconds += core_seconds() - t0;
}

static int t_allgatherv(curvo_comm *c, const void *send, size_t bytes, void *recv) {
    size_t received = 0;
    for (int r = 0; r < c->size; r++)
        if (r != c->rank) received += c->counts[r];
    double t0 = core_seconds();
    int rc = c->tr->allgatherv(c->impl, send, bytes, recv, c->counts, c->displs, c->errmsg);
    count(c, bytes * (size_t)(c->size - 1), received, bytes ? c->size - 1 : 0, t0);
    return rc;
}

/* ---------------------------------------------------------------- collectives */

void dist_shard(int b, int rank, int size, int *offset, int *count_out) {
    long long lo = (long long)rank * b / size, hi = (long long)(rank + 1) * b / size;
    *offset = (int)lo;
    *count_out = (int)(hi - lo);
}

int dist_allgatherv(curvo_comm *c, const void *send, const size_t *counts, void *recv) {
    if (!parallel(c)) {
        if (send != recv && counts[0]) memcpy(recv, send, counts[0]);
        return CURVO_OK;
    }
    size_t at = 0;
    for (int r = 0; r < c->size; r++) {
        c->counts[r] = counts[r];
        c->displs[r] = at;
        at += counts[r];
    }
    return t_allgatherv(c, send, counts[c->rank], recv);
}

int dist_allgather(curvo_comm *c, const void *send, size_t bytes, void *recv) {
    if (!parallel(c)) {
        if (send != recv && bytes) memcpy(recv, send, bytes);
        return CURVO_OK;
    }
    for (int r = 0; r < c->size; r++) {
        c->counts[r] = bytes;
        c->displs[r] = (size_t)r * bytes;
    }
    return t_allgatherv(c, send, bytes, recv);
}

int dist_bcast(curvo_comm *c, void *buf, size_t bytes, int root) {
    if (!parallel(c)) return CURVO_OK;
    if (root < 0 || root >= c->size) return CURVO_E_INVALID;
    double t0 = core_seconds();
    int rc = c->tr->bcast(c->impl, buf, bytes, root, c->errmsg);
    int is_root = c->rank == root;
    count(c, is_root ? bytes * (size_t)(c->size - 1) : 0, is_root ? 0 : bytes, is_root && bytes ? c->size - 1 : 0, t0);
    return rc;
}

int dist_barrier(curvo_comm *c) {
    if (!parallel(c)) return CURVO_OK;
    double t0 = core_seconds();
    int rc = c->tr->barrier(c->impl, c->errmsg);
    count(c, 0, 0, 0, t0);
    return rc;
}

/* Every rank's int, gathered into the scratch: NULL when the transport failed (*rc says why). */
static const int *gather_ints(curvo_comm *c, int v, int *rc) {
    int *all = work(c, (size_t)c->size * sizeof(int));
    if (!all) {
        *rc = CURVO_E_NOMEM;
        return NULL;
    }
    *rc = dist_allgather(c, &v, sizeof v, all);
    return *rc ? NULL : all;
}

int dist_max_int(curvo_comm *c, int *v) {
    if (!parallel(c)) return CURVO_OK;
    int rc;
    const int *all = gather_ints(c, *v, &rc);
    if (!all) return rc;
    for (int r = 0; r < c->size; r++)
        if (all[r] > *v) *v = all[r];
    return CURVO_OK;
}

int dist_or_int(curvo_comm *c, int *v) {
    if (!parallel(c)) return CURVO_OK;
    int rc;
    const int *all = gather_ints(c, *v, &rc);
    if (!all) return rc;
    for (int r = 0; r < c->size; r++) *v |= all[r];
    return CURVO_OK;
}

int dist_agree(curvo_comm *c, int rc, int *from) {
    if (from) *from = rc ? curvo_comm_rank(c) : -1;
    if (!parallel(c)) return rc;
    int trc;
    const int *all = gather_ints(c, rc, &trc);
    if (!all) return trc;
    for (int r = 0; r < c->size; r++)
        if (all[r]) {
            if (from) *from = r;
            return all[r];
        }
    if (from) *from = -1;
    return CURVO_OK;
}

/* out (m) = sum over the size rows of parts (size, m), in rank order, in double. */
static void sum_rows(const void *parts, int size, size_t m, void *out, int is_double) {
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        if (is_double)
            for (int r = 0; r < size; r++) s += ((const double *)parts)[(size_t)r * m + i];
        else
            for (int r = 0; r < size; r++) s += (double)((const float *)parts)[(size_t)r * m + i];
        if (is_double) ((double *)out)[i] = s;
        else ((float *)out)[i] = (float)s;
    }
}

/* One round of the sum over x (m elements of es bytes). */
static int sum_round(curvo_comm *c, void *x, size_t m, size_t es, int is_double) {
    int N = c->size, me = c->rank;
    if (m * (size_t)N <= DIST_SMALL) { /* one allgather, then every rank adds all of it */
        void *all = work(c, (size_t)N * m * es);
        if (!all) return CURVO_E_NOMEM;
        int rc = dist_allgather(c, x, m * es, all);
        if (!rc) sum_rows(all, N, m, x, is_double);
        return rc;
    }
    /* rank j reduces part j = [j*m/N, (j+1)*m/N) of the vector: it receives every rank's copy of that
     * part (alltoallv), adds them in rank order, and the reduced parts go to everyone (allgatherv) */
    size_t lo = (size_t)me * m / (size_t)N, mine = ((size_t)me + 1) * m / (size_t)N - lo;
    char *buf = work(c, ((size_t)N + 1) * (mine ? mine : 1) * es); /* (N, mine) copies, then (mine) sum */
    if (!buf) return CURVO_E_NOMEM;
    for (int j = 0; j < N; j++) {
        size_t jlo = (size_t)j * m / (size_t)N, jhi = ((size_t)j + 1) * m / (size_t)N;
        c->counts[j] = (jhi - jlo) * es; /* to rank j: my copy of its part */
        c->displs[j] = jlo * es;
        c->counts2[j] = mine * es; /* from rank j: its copy of my part */
        c->displs2[j] = (size_t)j * mine * es;
    }
    size_t sent = m * es - c->counts[me], received = (size_t)(N - 1) * mine * es;
    int messages = 0;
    for (int j = 0; j < N; j++) messages += j != me && c->counts[j];
    double t0 = core_seconds();
    int rc = c->tr->alltoallv(c->impl, x, c->counts, c->displs, buf, c->counts2, c->displs2, c->errmsg);
    count(c, sent, received, messages, t0);
    if (rc) return rc;
    char *sum = buf + (size_t)N * mine * es;
    sum_rows(buf, N, mine, sum, is_double);
    size_t at = 0;
    for (int j = 0; j < N; j++) {
        c->counts[j] = (((size_t)j + 1) * m / (size_t)N - (size_t)j * m / (size_t)N) * es;
        c->displs[j] = at;
        at += c->counts[j];
    }
    return t_allgatherv(c, sum, mine * es, x);
}

static int sum_vector(curvo_comm *c, void *x, size_t n, size_t es, int is_double) {
    if (!parallel(c) || n == 0) return CURVO_OK;
    if (!x) return CURVO_E_INVALID;
    for (size_t at = 0; at < n; at += c->chunk) {
        size_t m = n - at < c->chunk ? n - at : c->chunk;
        int rc = sum_round(c, (char *)x + at * es, m, es, is_double);
        if (rc) return rc;
    }
    return CURVO_OK;
}

int dist_sum_float(curvo_comm *c, float *x, size_t n) { return sum_vector(c, x, n, sizeof(float), 0); }
int dist_sum_double(curvo_comm *c, double *x, size_t n) { return sum_vector(c, x, n, sizeof(double), 1); }
