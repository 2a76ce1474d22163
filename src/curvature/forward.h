/* forward.h — curvature contexts for evaluation: forward passes only (the library's evaluation,
 * src/train/evaluate.c, runs its batches through one so that the data-parallel shards and the loss
 * are the operators'). */
#ifndef CURVO_CURVATURE_FORWARD_H
#define CURVO_CURVATURE_FORWARD_H

#include "curvo.h"

/* Makes cv a forward-only context: from now on set_batch runs a forward-only pass
 * (nn_pass_reserve_forward: two activation buffers and one workspace shared by the modules, instead
 * of every module's output and workspace) and computes the loss and outputs; every other operator
 * fails with CURVO_E_STATE. The memory of an evaluation then does not grow with the depth. */
int curv_forward_only(curvo_curv *cv);

#endif
