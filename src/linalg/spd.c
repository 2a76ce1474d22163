/* spd.c — see spd.h: the solver handle and its dense Cholesky implementation. */
#include "linalg/spd.h"

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "curvo.h"
#include "linalg/vec.h"

/* ---------------------------------------------------------------- the handle */
int spd_init(spd_solver *s, const spd_type *type, int n) { return spd_init_comm(s, type, n, NULL); }

int spd_init_comm(spd_solver *s, const spd_type *type, int n, curvo_comm *comm) {
    if (!s || !type || n < 1) return CURVO_E_INVALID;
    if (s->type && s->type != type) spd_free(s);
    s->type = type;
    s->factored = 0;
    int rc = type->init(&s->state, n, comm);
    s->n = rc ? 0 : n;
    return rc;
}

int spd_factor(spd_solver *s, const double *A, double shift) {
    if (!s || !s->type || !s->n || !A) return CURVO_E_STATE;
    int rc = s->type->factor(s->state, A, shift);
    s->factored = rc == CURVO_OK;
    return rc;
}

int spd_solve(spd_solver *s, const double *b, double *x) {
    if (!s || !s->factored || !b || !x) return CURVO_E_STATE;
    return s->type->solve(s->state, b, x);
}

void spd_free(spd_solver *s) {
    if (!s) return;
    if (s->type && s->state) s->type->free(s->state);
    s->type = NULL;
    s->state = NULL;
    s->n = s->factored = 0;
}

/* ---------------------------------------------------------------- dense Cholesky */
typedef struct {
    int n;
    size_t cap; /* doubles in F */
    double *F;  /* (n, n) the Cholesky factor of A + shift I, upper triangle column-major */
} dense_chol;

static int chol_init(void **state, int n, curvo_comm *comm) {
    (void)comm; /* every process factors its own copy */
    dense_chol *d = *state;
    if (!d) {
        if (!(d = calloc(1, sizeof *d))) return CURVO_E_NOMEM;
        *state = d;
    }
    size_t len = (size_t)n * n;
    if (len > d->cap) {
        free(d->F);
        d->cap = 0;
        if (!(d->F = malloc(len * sizeof(double)))) return CURVO_E_NOMEM;
        d->cap = len;
    }
    d->n = n;
    return CURVO_OK;
}

static int chol_factor(void *state, const double *A, double shift) {
    dense_chol *d = state;
    size_t n = (size_t)d->n;
    memcpy(d->F, A, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) d->F[i * n + i] += shift;
    /* the matrix is symmetric, so its column-major view is itself: no transposed copies */
    return LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', d->n, d->F, d->n) == 0 ? CURVO_OK : CURVO_E_NUMERIC;
}

static int chol_solve(void *state, const double *b, double *x) {
    dense_chol *d = state;
    memcpy(x, b, (size_t)d->n * sizeof(double));
    if (LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', d->n, 1, d->F, d->n, x, d->n) != 0) return CURVO_E_NUMERIC;
    return la_all_finite_d(x, (size_t)d->n) ? CURVO_OK : CURVO_E_NUMERIC;
}

static void chol_free(void *state) {
    dense_chol *d = state;
    free(d->F);
    free(d);
}

const spd_type spd_dense_cholesky = {"dense-cholesky", chol_init, chol_factor, chol_solve, chol_free};

#ifdef CURVO_HAVE_SCALAPACK
extern const spd_type spd_scalapack; /* spd_scalapack.c */
const spd_type *spd_distributed_type(void) { return &spd_scalapack; }
#else
const spd_type *spd_distributed_type(void) { return NULL; }
#endif
