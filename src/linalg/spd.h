/* spd.h — a small pluggable solver for symmetric positive definite systems (A + shift I) x = b, in
 * the style of GSL's linear solvers: a type (a table of actions) and a handle holding its state.
 *   spd_init    makes or regrows the handle for order n (buffers grow only, and are reused)
 *   spd_factor  factors A + shift I (A (n, n) symmetric, left unchanged)
 *   spd_solve   x = (A + shift I)^-1 b with the last factorization
 *   spd_free    releases the state
 * One implementation so far: dense Cholesky in double (LAPACK dpotrf/dpotrs). A distributed one
 * (ScaLAPACK over all ranks) plugs in as another type without changing the callers. */
#ifndef CURVO_LINALG_SPD_H
#define CURVO_LINALG_SPD_H

#include <stddef.h>

typedef struct spd_type {
    const char *name;
    /* Makes (*state NULL) or regrows the state for order n; CURVO_E_NOMEM when out of memory. */
    int (*init)(void **state, int n);
    /* CURVO_E_NUMERIC when A + shift I is not numerically positive definite. */
    int (*factor)(void *state, const double *A, double shift);
    /* CURVO_E_NUMERIC when the solution is not finite. */
    int (*solve)(void *state, const double *b, double *x);
    void (*free)(void *state);
} spd_type;

/* Dense Cholesky: A (n, n) is read in place as column-major (it is symmetric, so no transposed
 * copy), its factor kept in a buffer of the state. */
extern const spd_type spd_dense_cholesky;

typedef struct spd_solver {
    const spd_type *type;
    void *state;
    int n;          /* order of the system set by the last spd_init */
    int factored;   /* 1 after a successful spd_factor at this order */
} spd_solver;

/* Sets the solver's type (its state is remade when the type changes) and order n >= 1. */
int spd_init(spd_solver *s, const spd_type *type, int n);
int spd_factor(spd_solver *s, const double *A, double shift);
int spd_solve(spd_solver *s, const double *b, double *x);
void spd_free(spd_solver *s);

#endif
