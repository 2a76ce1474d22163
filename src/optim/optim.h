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
    /* State vectors of length n this configuration keeps. */
    int (*num_vectors)(const curvo_opt_params *p);
    /* Checks combinations of parameters beyond their ranges (may be NULL). */
    int (*check)(const curvo_opt_params *p, char *errmsg);
    /* One step; see curvo_optimizer_step. info is never NULL here. */
    int (*step)(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch, curvo_step_info *info);
} opt_ops;

struct curvo_optimizer {
    const opt_ops *ops;
    curvo_opt_params p;
    size_t n;                         /* parameters of the model */
    int64_t t;                        /* accepted steps */
    int n_vec;
    float *vec;                       /* (n_vec, n) state vectors (moments, momentum buffers) */
    double scalars[OPT_MAX_SCALARS];  /* method state: damping, previous step size, ... */
    curvo_rng rng;                    /* for randomized methods */
    float *g;                         /* (n) gradient scratch (not state) */
};

extern const opt_ops optim_sgd_ops, optim_adam_ops, optim_adamw_ops;

/* Sets the loss and gradient of the batch at the current parameters into info and opt->g;
 * CURVO_E_NUMERIC (info->status too) if either is not finite. */
int optim_eval_gradient(curvo_optimizer *opt, curvo_curv *cv, const curvo_batch *batch,
                        curvo_step_info *info);

#endif
