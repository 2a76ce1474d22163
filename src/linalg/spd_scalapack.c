/* spd_scalapack.c — the distributed SPD solver type of spd.h (built only with MPI and ScaLAPACK,
 * CURVO_HAVE_SCALAPACK; Debian's libscalapack-openmpi ships no C header, so the BLACS and ScaLAPACK
 * prototypes are declared here). Over the P processes of a curvo communicator:
 *   grid     a BLACS grid nprow x npcol = P, as square as P allows (nprow the largest divisor of P
 *            not above sqrt P; 2: 1 x 2, 3: 1 x 3, 4: 2 x 2), made once on the communicator's MPI
 *            communicator (Csys2blacs_handle + Cblacs_gridinit, collective) and kept with the state
 *   factor   each rank copies its blocks of A + shift I from the replicated column-major A (2-D
 *            block-cyclic, SPD_SCALAPACK_NB x SPD_SCALAPACK_NB blocks, first block on process (0, 0))
 *            and pdpotrf factors the upper triangle; info > 0 (not positive definite) is agreed
 *            across the ranks and returned as CURVO_E_NUMERIC on every one
 *   solve    the rhs (n x 1, rows block-cyclic on process column 0) through pdpotrs; the ranks of
 *            column 0 hold the solution's blocks, allgathered through the communicator in rank order
 *            and put back in place, so every rank holds the same u, bitwise
 * Every action is collective over the communicator: each rank calls it with the same arguments. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dist/comm.h"
#include "linalg/spd.h"
#include "linalg/vec.h"

/* BLACS (C interface) and ScaLAPACK (Fortran symbols; the trailing lengths are gfortran's hidden
 * CHARACTER lengths). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ictxt, const int *lld, int *info);
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info,
              size_t uplo_len);
void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia, const int *ja,
              const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info,
              size_t uplo_len);

typedef struct {
    curvo_comm *comm;      /* the processes (not owned) */
    int handle, ctxt;      /* BLACS system handle and grid context (-1: none) */
    int nprow, npcol, myrow, mycol;
    int *coords;           /* (P, 2) each rank's (row, column) in the grid */
    int n, mp, nq, lld;    /* order; local rows and columns; local leading dimension */
    int desca[9], descb[9];
    size_t a_cap, b_cap;   /* doubles in a, in b */
    double *a;             /* (lld, nq) local blocks of A + shift I, then of its factor */
    double *b;             /* (lld) local blocks of the rhs (column 0 of the grid), then of u */
    double *all;           /* (n) the solution's blocks in rank order */
    size_t *counts;        /* (P) bytes each rank contributes to the allgather */
} scal;

static const int NB = SPD_SCALAPACK_NB, ZERO = 0, ONE = 1;

/* Global index of local index l on process p of np (block-cyclic, blocks of NB, source 0). */
static int global_index(int l, int p, int np) { return ((l / NB) * np + p) * NB + l % NB; }

static void grid_exit(scal *s) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && s->ctxt >= 0) Cblacs_gridexit(s->ctxt);
    if (!finalized && s->handle >= 0) Cfree_blacs_system_handle(s->handle);
    s->ctxt = s->handle = -1;
}

/* The grid over comm's processes; collective. */
static int grid_init(scal *s, curvo_comm *comm) {
    MPI_Comm mc;
    int rc = dist_mpi_comm(comm, &mc);
    if ((rc = dist_agree(comm, rc, NULL))) return rc;
    int P = comm->size;
    free(s->coords);
    free(s->counts);
    s->coords = malloc(2 * (size_t)P * sizeof(int));
    s->counts = malloc((size_t)P * sizeof(size_t));
    if (!s->coords || !s->counts) rc = CURVO_E_NOMEM;
    if ((rc = dist_agree(comm, rc, NULL))) return rc;
    int nprow = 1;
    for (int r = 1; r * r <= P; r++)
        if (P % r == 0) nprow = r;
    char order[] = "Row";
    s->handle = Csys2blacs_handle(mc);
    s->ctxt = s->handle;
    Cblacs_gridinit(&s->ctxt, order, nprow, P / nprow);
    Cblacs_gridinfo(s->ctxt, &s->nprow, &s->npcol, &s->myrow, &s->mycol);
    rc = s->nprow == nprow && s->npcol == P / nprow && s->myrow >= 0 ? CURVO_OK : CURVO_E_IO;
    if ((rc = dist_agree(comm, rc, NULL))) return rc;
    int mine[2] = {s->myrow, s->mycol};
    if ((rc = dist_allgather(comm, mine, sizeof mine, s->coords))) return rc;
    s->comm = comm;
    return CURVO_OK;
}

/* Grows *buf to len doubles (at least 1). */
static int grow(double **buf, size_t *cap, size_t len) {
    if (len < 1) len = 1;
    if (len <= *cap) return CURVO_OK;
    free(*buf);
    *cap = 0;
    if (!(*buf = malloc(len * sizeof(double)))) return CURVO_E_NOMEM;
    *cap = len;
    return CURVO_OK;
}

static int scal_init(void **state, int n, curvo_comm *comm) {
    if (!comm || comm->size < 1) return CURVO_E_INVALID;
    scal *s = *state;
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return CURVO_E_NOMEM;
        s->handle = s->ctxt = -1;
        *state = s;
    }
    int rc = CURVO_OK;
    if (s->comm != comm) {
        grid_exit(s);
        s->comm = NULL;
        if ((rc = grid_init(s, comm))) return rc;
    }
    s->n = n;
    s->mp = numroc_(&n, &NB, &s->myrow, &ZERO, &s->nprow);
    s->nq = numroc_(&n, &NB, &s->mycol, &ZERO, &s->npcol);
    s->lld = s->mp > 1 ? s->mp : 1;
    int info_a = 0, info_b = 0;
    descinit_(s->desca, &n, &n, &NB, &NB, &ZERO, &ZERO, &s->ctxt, &s->lld, &info_a);
    descinit_(s->descb, &n, &ONE, &NB, &NB, &ZERO, &ZERO, &s->ctxt, &s->lld, &info_b);
    if (info_a || info_b) rc = CURVO_E_INVALID;
    if (!rc) rc = grow(&s->a, &s->a_cap, (size_t)s->lld * (size_t)s->nq);
    if (!rc) rc = grow(&s->b, &s->b_cap, (size_t)s->lld);
    if (!rc) {
        free(s->all);
        if (!(s->all = malloc((size_t)n * sizeof(double)))) rc = CURVO_E_NOMEM;
    }
    return dist_agree(comm, rc, NULL);
}

static int scal_factor(void *state, const double *A, double shift) {
    scal *s = state;
    size_t n = (size_t)s->n, lld = (size_t)s->lld;
    for (int jl = 0; jl < s->nq; jl++) {
        size_t j = (size_t)global_index(jl, s->mycol, s->npcol);
        double *col = s->a + (size_t)jl * lld;
        for (int il = 0; il < s->mp; il++) {
            size_t i = (size_t)global_index(il, s->myrow, s->nprow);
            col[il] = A[j * n + i] + (i == j ? shift : 0.0);
        }
    }
    int info = 0;
    pdpotrf_("U", &s->n, s->a, &ONE, &ONE, s->desca, &info, 1);
    int rc = info == 0 ? CURVO_OK : info > 0 ? CURVO_E_NUMERIC : CURVO_E_INVALID;
    return dist_agree(s->comm, rc, NULL);
}

static int scal_solve(void *state, const double *b, double *x) {
    scal *s = state;
    int P = s->comm->size;
    if (s->mycol == 0)
        for (int il = 0; il < s->mp; il++) s->b[il] = b[global_index(il, s->myrow, s->nprow)];
    int info = 0;
    pdpotrs_("U", &s->n, &ONE, s->a, &ONE, &ONE, s->desca, s->b, &ONE, &ONE, s->descb, &info, 1);
    int rc = dist_agree(s->comm, info == 0 ? CURVO_OK : CURVO_E_NUMERIC, NULL);
    if (rc) return rc;
    /* the solution's blocks sit on grid column 0: rank r gives its local rows, in rank order */
    for (int r = 0; r < P; r++) {
        int pr = s->coords[2 * r], pc = s->coords[2 * r + 1];
        s->counts[r] = pc == 0 ? (size_t)numroc_(&s->n, &NB, &pr, &ZERO, &s->nprow) * sizeof(double) : 0;
    }
    if ((rc = dist_allgatherv(s->comm, s->b, s->counts, s->all))) return rc;
    const double *piece = s->all;
    for (int r = 0; r < P; r++) {
        int pr = s->coords[2 * r], rows = (int)(s->counts[r] / sizeof(double));
        for (int il = 0; il < rows; il++) x[global_index(il, pr, s->nprow)] = piece[il];
        piece += rows;
    }
    /* the same x on every rank, so the same verdict */
    return la_all_finite_d(x, (size_t)s->n) ? CURVO_OK : CURVO_E_NUMERIC;
}

static void scal_free(void *state) {
    scal *s = state;
    grid_exit(s);
    free(s->coords);
    free(s->counts);
    free(s->a);
    free(s->b);
    free(s->all);
    free(s);
}

const spd_type spd_scalapack = {"scalapack", scal_init, scal_factor, scal_solve, scal_free};
