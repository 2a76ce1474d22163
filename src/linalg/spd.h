/* spd.h — a small pluggable solver for symmetric positive definite systems (A + shift I) x = b, in
 * the style of GSL's linear solvers: a type (a table of actions) and a handle holding its state.
 *   spd_init    makes or regrows the handle for order n (buffers grow only, and are reused);
 *               spd_init_comm also names the processes a distributed type runs over
 *               (collective then: every rank calls each action in the same order, with the same A, shift
 *               and b, and gets the same result, bitwise)
 *   spd_factor  factors A + shift I (A (n, n) symmetric, left unchanged)
 *   spd_solve   x = (A + shift I)^-1 b with the last factorization
 *   spd_free    releases the state
 * Two implementations: dense Cholesky in double (LAPACK dpotrf/dpotrs) on the calling process, and
 * ScaLAPACK's pdpotrf/pdpotrs over the processes of a communicator (spd_scalapack.c, built only with
 * MPI and ScaLAPACK; spd_distributed_type() says whether it is there). */
#ifndef CURVO_LINALG_SPD_H
#define CURVO_LINALG_SPD_H

#include <stddef.h>

#include "curvo.h"

typedef struct spd_type {
    const char *name;
    /* Makes (*state NULL) or regrows the state for order n over comm (NULL: this process alone; a
     * distributed type needs one); CURVO_E_NOMEM when out of memory. */
    int (*init)(void **state, int n, curvo_comm *comm);
    /* CURVO_E_NUMERIC when A + shift I is not numerically positive definite. */
    int (*factor)(void *state, const double *A, double shift);
    /* CURVO_E_NUMERIC when the solution is not finite. */
    int (*solve)(void *state, const double *b, double *x);
    void (*free)(void *state);
} spd_type;

/* Dense Cholesky: A (n, n) is read in place as column-major (it is symmetric, so no transposed
 * copy), its factor kept in a buffer of the state. */
extern const spd_type spd_dense_cholesky;

/* ScaLAPACK (spd_scalapack.c): A + shift I distributed 2-D block-cyclically (blocks of SPD_SCALAPACK_NB)
 * over a BLACS grid of the communicator's processes, as square as their number allows, factored by
 * pdpotrf and solved by pdpotrs; the solution is allgathered in rank order so that every rank holds
 * it, bitwise the same. A, shift and b must be the same on every rank (each copies its own blocks of
 * the replicated A). Failures are agreed: every rank returns the same code. NULL when curvo is built
 * without MPI or ScaLAPACK. */
#define SPD_SCALAPACK_NB 64
const spd_type *spd_distributed_type(void);
typedef struct spd_solver {
    const spd_type *type;
    void *state;
    int n;          /* order of the system set by the last spd_init */
    int factored;   /* 1 after a successful spd_factor at this order */
} spd_solver;

/* Sets the solver's type (its state is remade when the type changes) and order n >= 1. */
int spd_init(spd_solver *s, const spd_type *type, int n);
/* The same over the processes of comm (a distributed type needs a communicator over MPI). */
int spd_init_comm(spd_solver *s, const spd_type *type, int n, curvo_comm *comm);
int spd_factor(spd_solver *s, const double *A, double shift);
int spd_solve(spd_solver *s, const double *b, double *x);
void spd_free(spd_solver *s);

#endif
