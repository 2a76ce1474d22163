/* test_metrics.c — evaluation metrics of regression (RMSE, MAE, R^2 in the targets' original units)
 * against values computed here independently, on known models and data: a hand-worked case
 * (sklearn.metrics gives the same figures), constant targets, a linear model on a generated CSV
 * with standardized targets compared with its own predictions mapped back by
 * curvo_unstandardize_targets, the trainer's epoch reports agreeing with curvo_evaluate_metrics,
 * and the refusals of a model that does not fit the data, with their messages. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char dir[64];

static const char *write_file(const char *name, const char *text) {
    static char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* A one-feature linear model f = w x + b. */
static curvo_model *linear(double w, double b) {
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_model_from_spec("dense:1", 1, 1, 1, &m, err)) return NULL;
    curvo_model_params(m)[0] = (float)w;
    curvo_model_params(m)[1] = (float)b;
    return m;
}

/* Targets 1, 2, 3, 4 predicted as 1, 2, 3, 5: RMSE sqrt(1/4), MAE 1/4, R^2 = 1 - 1/5 (SS_tot about
 * the mean 2.5 is 5), as sklearn's mean_squared_error, mean_absolute_error and r2_score give. */
static void hand_case(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    const char *p = write_file("hand.csv", "x,y\n1,1\n2,2\n3,3\n5,4\n");
    TU_CHECK(curvo_csv_load(p, "y", CURVO_TASK_REGRESSION, &d, err) == CURVO_OK, "%s", err);
    curvo_model *m = linear(1, 0);
    curvo_metrics mt;
    for (int bs = 1; bs <= 4; bs += 3) {
        TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, d, bs, &mt, err) == CURVO_OK, "%s", err);
        TU_CHECK(mt.n == 4 && !mt.classification && isnan(mt.accuracy), "a regression report");
        TU_CHECK(fabs(mt.rmse - 0.5) < 1e-12 && fabs(mt.mae - 0.25) < 1e-12 && fabs(mt.r2 - 0.8) < 1e-12,
                 "batch %d: rmse %.17g mae %.17g r2 %.17g, want 0.5 0.25 0.8", bs, mt.rmse, mt.mae, mt.r2);
        TU_CHECK(fabs(mt.loss - 0.125) < 1e-12, "mean loss 1/2 * 1/4 = 0.125, got %.17g", mt.loss);
    }
    double loss, metric;
    TU_CHECK(curvo_evaluate(m, CURVO_LOSS_MSE, d, 2, &loss, &metric) == CURVO_OK && metric == mt.rmse,
             "curvo_evaluate reports the RMSE (%g)", metric);
    curvo_model_free(m);
    curvo_dataset_free(d);

    /* constant targets: R^2 is 1 for exact predictions and 0 otherwise (sklearn's force_finite) */
    p = write_file("flat.csv", "x,y\n1,2\n2,2\n3,2\n");
    TU_CHECK(curvo_csv_load(p, "y", CURVO_TASK_REGRESSION, &d, err) == CURVO_OK, "%s", err);
    m = linear(0, 2);
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, d, 8, &mt, err) == CURVO_OK && mt.r2 == 1.0 && mt.rmse == 0,
             "exact on constant targets: r2 %g", mt.r2);
    curvo_model_free(m);
    m = linear(1, 0);
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, d, 8, &mt, err) == CURVO_OK && mt.r2 == 0.0,
             "off on constant targets: r2 %g", mt.r2);
    curvo_model_free(m);
    curvo_dataset_free(d);
}

static int remember(const curvo_progress *p, void *user) {
    if (p->event == CURVO_EVENT_EPOCH) *(curvo_progress *)user = *p;
    return 0;
}

/* House prices (about 3e5) from one feature; the data opened twice, with and without target
 * standardization, and a linear model evaluated on both against sums done here. */
static void original_units(void) {
    char err[CURVO_ERRMSG_LEN], src[200];
    FILE *f;
    char path[160];
    snprintf(path, sizeof path, "%s/houses.csv", dir);
    f = fopen(path, "w");
    fprintf(f, "size,price\n");
    curvo_rng rng;
    curvo_rng_seed(&rng, 11);
    for (int i = 0; i < 200; i++) {
        double size = 1500 + 400 * curvo_rng_normal(&rng);
        fprintf(f, "%.2f,%.2f\n", size, 300000 + 150 * (size - 1500) + 20000 * curvo_rng_normal(&rng));
    }
    fclose(f);
    snprintf(src, sizeof src, "csv:%s", path);
    curvo_data_options o;
    curvo_data_options_init(&o);
    o.target = "price";
    curvo_dataset *tr, *te, *rtr, *rte;
    TU_CHECK(curvo_data_open(src, &o, &tr, &te, err) == CURVO_OK, "%s", err);
    o.standardize_target = 0;
    TU_CHECK(curvo_data_open(src, &o, &rtr, &rte, err) == CURVO_OK, "%s", err);
    if (!tr || !rtr) return;
    curvo_standardization st;
    curvo_dataset_standardization(te, &st);
    TU_CHECK(st.target && st.target_std > 1e4, "the targets are standardized (std %g)", st.target_std);

    /* a model on standardized targets: predictions mapped back vs the targets as read */
    curvo_model *m = linear(0.9, 0.05);
    size_t n = curvo_dataset_count(te);
    float *y = malloc(n * sizeof *y);
    curvo_model_predict(m, curvo_dataset_features(te), (int)n, y);
    curvo_unstandardize_targets(&st, y, n);
    const float *raw = curvo_dataset_targets(rte);
    double se = 0, ae = 0, mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)y[i] - raw[i];
        se += e * e, ae += fabs(e), mean += raw[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (raw[i] - mean) * (raw[i] - mean);
    double rmse = sqrt(se / (double)n), mae = ae / (double)n, r2 = 1 - se / ss;
    curvo_metrics mt;
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, te, 7, &mt, err) == CURVO_OK, "%s", err);
    /* float outputs of order 1 carry ~1e-7 relative error, i.e. ~0.01 on a 3e5 price */
    TU_CHECK(fabs(mt.rmse - rmse) < 1e-5 * rmse && fabs(mt.mae - mae) < 1e-5 * mae && fabs(mt.r2 - r2) < 1e-5,
             "original units: rmse %g/%g mae %g/%g r2 %g/%g", mt.rmse, rmse, mt.mae, mae, mt.r2, r2);
    TU_CHECK(mt.rmse > 1000, "RMSE %g is in price units, not standardized ones", mt.rmse);

    /* the same fit on raw targets: the model outputs prices directly */
    double w = 0.9 * st.target_std, b = 0.05 * st.target_std + st.target_mean;
    curvo_model *mr = linear(w, b);
    curvo_metrics mr_t;
    TU_CHECK(curvo_evaluate_metrics(mr, CURVO_LOSS_MSE, rte, 1000, &mr_t, err) == CURVO_OK, "%s", err);
    TU_CHECK(fabs(mr_t.rmse - rmse) < 1e-4 * rmse && fabs(mr_t.r2 - r2) < 1e-4,
             "the same model in raw units: rmse %g vs %g, r2 %g vs %g", mr_t.rmse, rmse, mr_t.r2, r2);
    free(y);
    curvo_model_free(mr);

    /* the trainer reports the same figures as curvo_evaluate_metrics on its final model */
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    op.adam.lr = 0.05;
    curvo_train_options to;
    curvo_train_options_init(&to);
    to.epochs = 3;
    to.batch_size = 16;
    curvo_trainer *t;
    TU_CHECK(curvo_trainer_create(m, CURVO_LOSS_MSE, &op, tr, te, &to, &t, err) == CURVO_OK, "%s", err);
    curvo_progress last;
    memset(&last, 0, sizeof last);
    TU_CHECK(curvo_trainer_run(t, remember, &last) == CURVO_OK, "%s", curvo_trainer_errmsg(t));
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, te, 1000, &mt, err) == CURVO_OK, "%s", err);
    TU_CHECK(!last.classification && last.test_metric == mt.rmse && last.test_mae == mt.mae && last.test_r2 == mt.r2 &&
                 last.test_loss == mt.loss,
             "epoch report %g %g %g vs evaluation %g %g %g", last.test_metric, last.test_mae, last.test_r2, mt.rmse,
             mt.mae, mt.r2);
    TU_CHECK(isfinite(last.train_mae) && isfinite(last.train_r2) && isnan(last.val_mae), "train figures, no val");
    TU_CHECK(mt.r2 > 0.5, "three epochs of Adam fit the line (r2 %g)", mt.r2);
    curvo_trainer_free(t);
    curvo_model_free(m);
    curvo_dataset_free(tr);
    curvo_dataset_free(te);
    curvo_dataset_free(rtr);
    curvo_dataset_free(rte);
    unlink(path);
}

/* A model that does not fit the data is refused with the reason, not a bare code. */
static void refusals(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    const char *p = write_file("r.csv", "x,y\n1,0.5\n2,1.5\n");
    TU_CHECK(curvo_csv_load(p, "y", CURVO_TASK_AUTO, &d, err) == CURVO_OK, "%s", err);
    curvo_model *m = linear(1, 0), *wide;
    curvo_metrics mt;
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_CE, d, 8, &mt, err) == CURVO_E_INVALID &&
                 strstr(err, "cross-entropy needs class labels"),
             "ce on a regression set: '%s'", err);
    curvo_model_from_spec("dense:1", 3, 1, 1, &wide, err);
    TU_CHECK(curvo_evaluate_metrics(wide, CURVO_LOSS_MSE, d, 8, &mt, err) == CURVO_E_SHAPE &&
                 strstr(err, "3 inputs") && strstr(err, "has 1"),
             "input size: '%s'", err);
    TU_CHECK(curvo_evaluate_metrics(m, CURVO_LOSS_MSE, d, 0, &mt, err) == CURVO_E_INVALID && err[0], "batch size 0");
    double loss, metric;
    TU_CHECK(curvo_evaluate(m, CURVO_LOSS_CE, d, 8, &loss, &metric) == CURVO_E_INVALID, "curvo_evaluate refuses too");
    curvo_model_free(wide);
    curvo_model_free(m);
    curvo_dataset_free(d);
}

int main(void) {
    curvo_set_threads(1);
    strcpy(dir, "/tmp/curvo-test-metrics-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    hand_case();
    original_units();
    refusals();
    const char *names[] = {"hand.csv", "flat.csv", "r.csv"};
    for (int i = 0; i < 3; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return tu_finish("test_metrics");
}
