/* distutil.h — what the communicator tests (test_comm, test_dist) share: small generated datasets
 * in memory, and a trainer run over a communicator from a fixed model and options. */
#ifndef CURVO_DISTUTIL_H
#define CURVO_DISTUTIL_H

#include <stdint.h>

#include "curvo.h"

/* n samples of `features` (>= 3) normal features; classes 3: the label is the argmax of three fixed
 * linear scores; classes 2: the sign of one; classes 0: a regression target (a smooth function plus
 * noise, around 1000 in original units), standardized. */
curvo_dataset *du_dataset(size_t n, int features, int classes, uint64_t seed);

/* The model every run uses: dense:8,tanh,dense:OUT on `features` inputs, initialized from seed 9. */
curvo_model *du_model(int features, int outputs);

/* Options of a run: batch 25, eval batch 15, shuffling seed 4, the given epochs and comm. */
void du_options(curvo_train_options *o, int epochs, curvo_comm *comm);

/* Trains a new du_model on train (and evaluates on test) with op for `epochs` epochs over comm, and
 * copies the final parameters into a new array *theta (length *n); fn/user as curvo_trainer_run's.
 * Returns the run's status (creation's if it failed). */
int du_train(const curvo_opt_params *op, curvo_comm *comm, int epochs, const curvo_dataset *train,
             const curvo_dataset *test, curvo_progress_fn fn, void *user, float **theta, size_t *n);

/* The optimizer parameters the tests use for alg: the defaults, with a smaller LRSFN sketch on a
 * Hessian sub-batch of 10 samples, and SGN damped more (distutil.c says why). */
void du_opt_params(curvo_opt_params *op, curvo_algorithm alg);

#endif
