/* evaluate.c — mean loss and accuracy (classification) or RMSE (regression) of a model on a
 * dataset, in sequential batches through a curvature context (forward passes only). */
#include <math.h>

#include "curvo.h"

/* Correct predictions in a batch of outputs f (b, c): argmax for CE, f > 0 for one-output BCE. */
static int64_t count_correct(const float *f, const curvo_batch *bt, int c) {
    int64_t correct = 0;
    for (int i = 0; i < bt->b; i++) {
        const float *fi = f + (size_t)i * c;
        int pred = 0;
        if (c == 1) {
            pred = fi[0] > 0.0f;
        } else {
            for (int k = 1; k < c; k++)
                if (fi[k] > fi[pred]) pred = k;
        }
        correct += pred == bt->labels[i];
    }
    return correct;
}

int curvo_evaluate(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                   double *mean_loss, double *metric) {
    if (!model || !d || batch_size < 1 || !mean_loss || !metric) return CURVO_E_INVALID;
    size_t n = curvo_dataset_count(d);
    int classification = curvo_dataset_num_classes(d) > 0;
    if (n == 0) return CURVO_E_INVALID;
    if (loss == CURVO_LOSS_CE && !classification) return CURVO_E_INVALID;
    curvo_curv *cv;
    curvo_batcher *bt;
    int rc = curvo_curv_create(model, loss, &cv);
    if (rc) return rc;
    if ((rc = curvo_batcher_create(d, batch_size, &bt))) {
        curvo_curv_free(cv);
        return rc;
    }
    curvo_batcher_sequential(bt);
    int c = (int)curvo_model_output_size(model);
    double loss_sum = 0.0, sq_sum = 0.0;
    int64_t correct = 0;
    curvo_batch batch;
    while (curvo_batcher_next(bt, &batch)) {
        if ((rc = curvo_curv_set_batch(cv, &batch))) break;
        loss_sum += curvo_curv_loss(cv) * batch.b;
        const float *f = curvo_curv_outputs(cv);
        if (classification) {
            correct += count_correct(f, &batch, c);
        } else {
            for (int i = 0; i < batch.b; i++) {
                double e = (double)f[(size_t)i * c] - batch.targets[i];
                sq_sum += e * e;
            }
        }
    }
    curvo_batcher_free(bt);
    curvo_curv_free(cv);
    if (rc) return rc;
    *mean_loss = loss_sum / (double)n;
    *metric = classification ? (double)correct / (double)n : sqrt(sq_sum / (double)n);
    return CURVO_OK;
}
