/* evaluate.c — a model on a dataset, in sequential batches through a curvature context (forward
 * passes only, in a forward-only context: curvature/forward.h): mean loss and accuracy (ce, bce) or RMSE, MAE and R^2 in the targets' original
 * units (mse); and the check that a model fits a dataset, shared with the trainer. With a
 * communicator each batch is split across the ranks by the curvature context, and the counts and
 * sums are added over the ranks at the end, so every rank gets the same metrics. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "curvature/forward.h"
#include "dist/comm.h"
#include "train/evaluate.h"

int train_check_fit(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, char *errmsg) {
    size_t outputs = curvo_model_output_size(model);
    int classes = curvo_dataset_num_classes(d);
    if (curvo_model_input_size(model) != curvo_dataset_features_per_sample(d)) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "the model takes %zu inputs per sample but the data has %zu",
                 curvo_model_input_size(model), curvo_dataset_features_per_sample(d));
        return CURVO_E_SHAPE;
    }
    if (loss == CURVO_LOSS_CE && classes == 0) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "cross-entropy needs class labels, but the data is a regression set");
        return CURVO_E_INVALID;
    }
    if (loss == CURVO_LOSS_CE && outputs != (size_t)classes) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "the model has %zu outputs but the data has %d classes", outputs, classes);
        return CURVO_E_SHAPE;
    }
    if (loss != CURVO_LOSS_CE && outputs != 1) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "%s needs a model with 1 output (it has %zu)",
                 loss == CURVO_LOSS_MSE ? "mse" : "bce", outputs);
        return CURVO_E_SHAPE;
    }
    if (loss == CURVO_LOSS_BCE && classes != 2) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "bce needs labels 0 and 1 (the data has %d classes)", classes);
        return CURVO_E_INVALID;
    }
    return CURVO_OK;
}

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

/* Sums over the regression errors, in original units. The targets' sums are shifted by the set's
 * first target (y - shift), so SS_tot keeps its digits when the mean is large against the spread. */
typedef struct {
    double shift, sum_y, sum_yy, sum_e2, sum_abs;
} reg_sums;

/* A standardized target in original units. */
static double original(double y, const curvo_standardization *st) {
    return st->target ? y * st->target_std + st->target_mean : y;
}

static void add_regression(reg_sums *s, const float *f, const curvo_batch *bt, int c, const curvo_standardization *st) {
    for (int i = 0; i < bt->b; i++) {
        double pred = original(f[(size_t)i * c], st), y = original(bt->targets[i], st);
        double e = pred - y, yc = y - s->shift;
        s->sum_e2 += e * e;
        s->sum_abs += fabs(e);
        s->sum_y += yc;
        s->sum_yy += yc * yc;
    }
}

static void finish_regression(const reg_sums *s, size_t n, curvo_metrics *m) {
    double nn = (double)n, ss_tot = s->sum_yy - s->sum_y * s->sum_y / nn;
    m->rmse = sqrt(s->sum_e2 / nn);
    m->mae = s->sum_abs / nn;
    if (n < 2) m->r2 = NAN;
    else if (ss_tot > 0.0) m->r2 = 1.0 - s->sum_e2 / ss_tot;
    else m->r2 = s->sum_e2 == 0.0 ? 1.0 : 0.0; /* constant targets, as sklearn's r2_score */
}

int train_evaluate_in(curvo_curv *cv, const curvo_dataset *d, int batch_size, curvo_metrics *out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!cv || !d || batch_size < 1 || !out) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "evaluate: missing context, data or output, or a bad batch size");
        return CURVO_E_INVALID;
    }
    curvo_model *model = curvo_curv_model(cv);
    curvo_loss_kind loss = curvo_curv_loss_kind(cv);
    curvo_comm *comm = curvo_curv_comm(cv);
    size_t n = curvo_dataset_count(d);
    int rc = train_check_fit(model, loss, d, errmsg);
    if (!rc) rc = curv_forward_only(cv); /* forward passes only: their memory does not grow with the depth */
    if (rc) return rc;
    curvo_batcher *bt;
    if ((rc = curvo_batcher_create(d, batch_size, &bt))) return rc;
    curvo_batcher_sequential(bt);
    int was_training = curvo_model_training(model); /* evaluation mode: batchnorm's running statistics */
    curvo_model_set_training(model, 0);
    curvo_standardization st;
    curvo_dataset_standardization(d, &st);
    int c = (int)curvo_model_output_size(model), classification = loss != CURVO_LOSS_MSE;
    double loss_sum = 0.0;
    reg_sums rs = {0};
    if (n && !classification) rs.shift = original(curvo_dataset_targets(d)[0], &st);
    double correct = 0.0; /* a count: exact in double, and summed over the ranks with rs */
    curvo_batch batch;
    while (curvo_batcher_next(bt, &batch)) {
        if ((rc = curvo_curv_set_batch(cv, &batch))) break; /* collective: every rank stops alike */
        loss_sum += curvo_curv_loss(cv) * batch.b;           /* the global batch's */
        int off, count;
        curvo_curv_shard(cv, &off, &count);
        curvo_batch mine = batch; /* this rank's samples, whose outputs the context holds */
        mine.b = count;
        if (mine.labels) mine.labels += off;
        mine.targets += off;
        const float *f = curvo_curv_outputs(cv);
        if (classification) correct += (double)count_correct(f, &mine, c);
        else add_regression(&rs, f, &mine, c, &st);
    }
    curvo_batcher_free(bt);
    curvo_model_set_training(model, was_training);
    if (rc) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "evaluation failed: %s", curvo_strerror(rc));
        return rc;
    }
    if (curvo_comm_size(comm) > 1) {
        double sums[5] = {correct, rs.sum_y, rs.sum_yy, rs.sum_e2, rs.sum_abs};
        if ((rc = dist_sum_double(comm, sums, 5))) {
            snprintf(errmsg, CURVO_ERRMSG_LEN, "evaluation failed: %s", curvo_comm_errmsg(comm));
            return rc;
        }
        correct = sums[0];
        rs.sum_y = sums[1], rs.sum_yy = sums[2], rs.sum_e2 = sums[3], rs.sum_abs = sums[4];
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    out->classification = classification;
    out->loss = loss_sum / (double)n;
    out->accuracy = out->rmse = out->mae = out->r2 = NAN;
    if (classification) out->accuracy = correct / (double)n;
    else finish_regression(&rs, n, out);
    return CURVO_OK;
}

int train_evaluate(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                   curvo_comm *comm, curvo_metrics *out, char *errmsg) {
    char local[CURVO_ERRMSG_LEN];
    if (!errmsg) errmsg = local;
    errmsg[0] = '\0';
    if (!model || !d || batch_size < 1 || !out || loss < CURVO_LOSS_CE || loss > CURVO_LOSS_BCE) {
        snprintf(errmsg, CURVO_ERRMSG_LEN, "evaluate: missing model, data or output, or a bad batch size or loss");
        return CURVO_E_INVALID;
    }
    curvo_curv *cv;
    int rc = curvo_curv_create(model, loss, &cv);
    if (!rc) rc = curvo_curv_set_comm(cv, comm);
    if (!rc) rc = train_evaluate_in(cv, d, batch_size, out, errmsg);
    curvo_curv_free(cv);
    return rc;
}

int curvo_evaluate_metrics(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                           curvo_metrics *out, char *errmsg) {
    return train_evaluate(model, loss, d, batch_size, NULL, out, errmsg);
}

int curvo_evaluate(curvo_model *model, curvo_loss_kind loss, const curvo_dataset *d, int batch_size,
                   double *mean_loss, double *metric) {
    if (!mean_loss || !metric) return CURVO_E_INVALID;
    curvo_metrics m;
    int rc = curvo_evaluate_metrics(model, loss, d, batch_size, &m, NULL);
    if (rc) return rc;
    *mean_loss = m.loss;
    *metric = m.classification ? m.accuracy : m.rmse;
    return CURVO_OK;
}
