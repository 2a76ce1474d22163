/* evaluate.h — what the trainer shares with evaluate.c: the check that a model fits a dataset, and
 * evaluation split across the ranks of a communicator. */
#ifndef CURVO_TRAIN_EVALUATE_H
#define CURVO_TRAIN_EVALUATE_H

#include "curvo.h"

/* The model must fit the data: its input shape, and its outputs to the loss and the classes.
 * CURVO_OK, or CURVO_E_SHAPE / CURVO_E_INVALID with the reason in errmsg (CURVO_ERRMSG_LEN bytes). */
int train_check_fit(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, char *errmsg);

/* curvo_evaluate_metrics over comm (NULL: this process alone); collective: each batch is split across
 * the ranks and the sums are reduced, so every rank gets the same metrics and the same status. */
int train_evaluate(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                   curvo_comm *comm, curvo_metrics *out, char *errmsg);
/* The same in a curvature context the caller keeps (its model, loss and communicator), so that
 * repeated evaluations (the trainer's, after every epoch) reuse its buffers instead of allocating
 * them for every pass. The context becomes forward-only (curvature/forward.h): keep it for
 * evaluations. */
int train_evaluate_in(curvo_curv *cv, const curvo_dataset *d, int batch_size, curvo_metrics *out, char *errmsg);

#endif
