/* evaluate.h — what the trainer shares with evaluate.c: the check that a model fits a dataset. */
#ifndef CURVO_TRAIN_EVALUATE_H
#define CURVO_TRAIN_EVALUATE_H

#include "curvo.h"

/* The model must fit the data: its input shape, and its outputs to the loss and the classes.
 * CURVO_OK, or CURVO_E_SHAPE / CURVO_E_INVALID with the reason in errmsg (CURVO_ERRMSG_LEN bytes). */
int train_check_fit(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, char *errmsg);

#endif
