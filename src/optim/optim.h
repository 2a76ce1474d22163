/* optim.h — the optimizer handle's internals: one table of actions per algorithm, named-parameter
 * descriptions, and the state every method keeps (vectors of length n, scalars, an RNG). */
#ifndef CURVO_OPTIM_H
#define CURVO_OPTIM_H

#include <stddef.h>

#include "curvo.h"

/* A named parameter: its description and where it lives in curvo_opt_params. */
typedef struct param_desc {
    curvo_param_info info;
    size_t offset; /* offsetof(curvo_opt_params, ...) of a double, or of an int if is_integer */
} param_desc;

#define OPT_MAX_SCALARS 8

typedef struct opt_ops {
    curvo_algorithm alg;
    const char *name;
    const param_desc *params;
    int n_params;
    /* The parameter a learning-rate schedule scales (curvo_optimizer_set_scale), and what it is. */
    const char *scheduled;
    const char *scheduled_doc;
    /* State vectors of length n this configuration keeps. */
    int (*num_vectors)(const curvo_opt_params *p);
    /* Doubles of small state this configuration keeps (may be NULL: none). */
    size_t (*num_dstate)(const curvo_opt_params *p);
    /* Checks combinations of parameters beyond their ranges (may be NULL). */
    int (*check)(const curvo_opt_params *p, char *errmsg);
    /* Sets the method's scalars from its parameters at creation (may be NULL). */
    void (*init_state)(curvo_optimizer *opt);
    /* One step; see curvo_optimizer_step. info is never NULL here. */
    int (*step)(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info);
} opt_ops;

struct curvo_optimizer {
    const opt_ops *ops;
    curvo_opt_params p;
    size_t n;                         /* parameters of the model */
    int64_t t;                        /* accepted steps */
    double scale;                     /* factor on the scheduled parameter (curvo_optimizer_set_scale);
                                       * opt->p holds the scaled value during a step only */
    int n_vec;
    float *vec;                       /* (n_vec, n) state vectors (moments, momentum buffers) */
    double scalars[OPT_MAX_SCALARS];  /* method state: damping, previous step size, ... */
    curvo_rng rng;                    /* for randomized methods */
    double *dstate;                   /* (n_dstate) small method state: eigenvalues, ... */
    size_t n_dstate;
    float *g;                         /* (n) gradient scratch (not state) */
    float *scratch;                   /* (scratch_vectors, n) work vectors (not state) */
    int scratch_vectors;
    double *dwork;                    /* (dwork_len) double work space (not state) */
    size_t dwork_len;
    float *fwork;                     /* (fwork_len) float work space of other sizes than n (not state) */
    size_t fwork_len;
};

extern const opt_ops optim_sgd_ops, optim_adam_ops, optim_adamw_ops, optim_egn_ops, optim_sgn_ops,
    optim_lrsfn_ops, optim_sofim_ops, optim_arturo_ops;

/* count work vectors of length n (kept between steps, contents undefined); NULL if out of memory. */
float *optim_scratch(curvo_optimizer *opt, int count);

/* len doubles of work space (contents undefined, kept between steps); NULL if out of memory. */
double *optim_dwork(curvo_optimizer *opt, size_t len);

/* len floats of work space (contents undefined, kept between steps); NULL if out of memory. */
float *optim_fwork(curvo_optimizer *opt, size_t len);

/* Backtracking line search: alpha = alpha0, alpha0*shrink, ... until
 * f(alpha) <= f0 + c * alpha * slope (slope = g^T p < 0), at most max_tries evaluations of f.
 * Non-finite values of f are never accepted. */
typedef double (*ls_eval_fn)(void *ctx, double alpha);
typedef struct ls_result {
    double alpha, f; /* the accepted step and its value (alpha 0, f NaN when none was accepted) */
    int tries, accepted;
} ls_result;
ls_result optim_armijo(ls_eval_fn f, void *ctx, double f0, double slope, double alpha0, double c,
                       double shrink, int max_tries);

/* Levenberg-Marquardt / trust-region rule on the gain ratio (actual over predicted decrease):
 * ratio < low (or not finite) -> damping * up; ratio > high -> damping * down; then clamped to
 * [min, max]. */
double optim_adapt_damping(double damping, double ratio, double low, double high, double up,
                           double down, double min, double max);

/* Evaluation of the mini-batch loss along a direction: theta = theta0 + alpha p. */
typedef struct ls_line {
    curvo_curv *cv;
    const curvo_batch *batch;
    float *theta;        /* the model's parameters (n) */
    const float *theta0; /* (n) */
    const float *p;      /* (n) */
    size_t n;
} ls_line;
/* ls_eval_fn over an ls_line: sets theta and returns the loss (NaN on failure). */
double optim_line_loss(void *line, double alpha);

/* Moves theta along the line: with line_search, Armijo from alpha0 (shrink, c, max_tries); without,
 * the fixed step alpha0 (its loss still evaluated). On success *alpha and *loss hold the step and the
 * new loss; otherwise theta is restored to theta0 and the result is CURVO_E_REJECTED (no trial
 * passed) or CURVO_E_NUMERIC (the fixed step's loss is not finite). *tries counts evaluations. */
int optim_line_step(ls_line *line, int line_search, double f0, double slope, double alpha0, double c,
                    double shrink, int max_tries, double *alpha, double *loss, int *tries);

/* Conjugate gradient on A x = b from x = 0, A symmetric positive definite given by matvec; with a
 * diagonal preconditioner minv (z = minv o r) when not NULL. Stops when max|r| <= tol or after
 * max_iters iterations. work: 3 vectors of n floats. On return x (n) and Ax (n) = A x (tracked as
 * b - r, no extra product). Returns CURVO_OK, CURVO_E_NUMERIC on a non-finite or non-positive
 * curvature pA p, or the matvec's error. */
typedef int (*cg_matvec_fn)(void *ctx, const float *v, float *Av);
int optim_cg(cg_matvec_fn matvec, void *ctx, const float *b, const float *minv, size_t n, int max_iters,
             double tol, float *x, float *Ax, float *work, int *iters);

/* Appends a named figure to the step's log line. */
void optim_extra(curvo_step_info *info, const char *name, double value);

/* Sets the loss and gradient of the batch at the current parameters into info and opt->g;
 * CURVO_E_NUMERIC (info->status too) if either is not finite. */
int optim_eval_gradient(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch,
                        curvo_step_info *info);

#endif
