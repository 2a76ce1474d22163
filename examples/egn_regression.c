/* egn_regression.c — EGN (exact Gauss-Newton) on a regression problem of your own.
 *
 * The data is made in memory, y = sin(3 x0) + x1^2 / 2 + noise, and becomes curvo datasets with
 * curvo_dataset_create (targets, no labels: a regression set). Features and targets are
 * standardized with the training set's statistics; the trainer still reports errors (RMSE, MAE)
 * in the targets' original units. A tanh network is trained with EGN and mean squared error.
 * Exits 0 only if the test R^2 exceeds 0.9.
 *
 *     ./egn_regression            (about a second; no data files needed)
 */
#include <curvo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 1024
#define N_TEST 256

/* Step events carry what the step did (p->info); epoch events the metrics. */
static int on_progress(const curvo_progress *p, void *user)
{
    double *damping = user;
    if (p->event == CURVO_EVENT_STEP && p->info)
        *damping = p->info->damping; /* EGN's Levenberg-Marquardt lambda of this step */
    else if (p->event == CURVO_EVENT_EPOCH)
        printf("epoch %2d  train RMSE %.4f  test RMSE %.4f  test R^2 %.4f  lambda %.3g  rejected steps %d\n",
               p->epoch, p->train_metric, p->test_metric, p->test_r2, *damping, p->rejected_steps);
    return 0;
}

int main(void)
{
    char err[CURVO_ERRMSG_LEN];
    int rc = 1;
    curvo_rng rng;
    curvo_rng_seed(&rng, 7);
    curvo_dataset *train = NULL, *test = NULL;
    curvo_model *m = NULL;
    curvo_trainer *tr = NULL;

    /* x (n, 2) and y (n): two features uniform-ish in (-1.5, 1.5), one noisy target. */
    size_t n = N_TRAIN + N_TEST;
    float *x = malloc(sizeof(float) * 2 * n), *y = malloc(sizeof(float) * n), *noise = malloc(sizeof(float) * n);
    if (!x || !y || !noise)
        return 1;
    curvo_rng_fill_normal(&rng, x, 2 * n);
    curvo_rng_fill_normal(&rng, noise, n);
    for (size_t i = 0; i < n; i++) {
        float a = 1.5f * tanhf(x[2 * i]), b = 1.5f * tanhf(x[2 * i + 1]);
        x[2 * i] = a;
        x[2 * i + 1] = b;
        y[i] = sinf(3.0f * a) + 0.5f * b * b + 0.05f * noise[i];
    }
    /* labels NULL, targets y, 0 classes: a regression dataset of (2, 1, 1) samples */
    if (curvo_dataset_create(N_TRAIN, 2, 1, 1, x, NULL, y, 0, &train, err) ||
        curvo_dataset_create(N_TEST, 2, 1, 1, x + 2 * N_TRAIN, NULL, y + N_TRAIN, 0, &test, err)) {
        fprintf(stderr, "dataset: %s\n", err);
        goto out;
    }
    /* the test set is standardized with the training set's means and deviations */
    if (curvo_dataset_standardize(train, test) || curvo_dataset_standardize_target(train, test)) {
        fprintf(stderr, "standardization failed\n");
        goto out;
    }

    if (curvo_model_from_spec("dense:32,tanh,dense:32,tanh,dense:1", 2, 1, 1, &m, err)) {
        fprintf(stderr, "model: %s\n", err);
        goto out;
    }
    curvo_model_init(m, &rng);

    /* EGN with the papers' defaults: the Gauss-Newton system of each mini-batch solved through
     * its b x b Gram, Levenberg-Marquardt damping and an Armijo line search. */
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_EGN);
    op.egn.lambda = 0.1;

    curvo_train_options o;
    curvo_train_options_init(&o);
    o.epochs = 15;
    o.batch_size = 64;
    if (curvo_trainer_create(m, CURVO_LOSS_MSE, &op, train, test, &o, &tr, err)) {
        fprintf(stderr, "trainer: %s\n", err);
        goto out;
    }
    double damping = NAN;
    int st = curvo_trainer_run(tr, on_progress, &damping);
    if (st) {
        fprintf(stderr, "training: %s: %s\n", curvo_strerror(st), curvo_trainer_errmsg(tr));
        goto out;
    }

    curvo_metrics mt;
    if (curvo_evaluate_metrics(m, CURVO_LOSS_MSE, test, 256, &mt, err)) {
        fprintf(stderr, "evaluation: %s\n", err);
        goto out;
    }
    printf("test: RMSE %.4f, MAE %.4f, R^2 %.4f (original units; noise alone gives RMSE 0.05)\n", mt.rmse, mt.mae,
           mt.r2);
    rc = mt.r2 > 0.9 ? 0 : 1;
    if (rc)
        fprintf(stderr, "EGN did not fit the function (R^2 %.4f)\n", mt.r2);
out:
    curvo_trainer_free(tr);
    curvo_model_free(m);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    free(x), free(y), free(noise);
    return rc;
}
