/* train_progress.c — training from C with a progress callback.
 *
 * Builds a classification dataset in memory (points of the plane, labelled by the quadrant's XOR,
 * a problem no linear model solves), makes a small network, and trains it with Adam through
 * curvo_trainer. The callback prints one line per epoch and stops the run early (by returning
 * non-zero) once the test accuracy reaches 97%. Exits 0 only if the network learned.
 *
 *     ./train_progress            (about a second; no data files needed)
 */
#include <curvo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 2000
#define N_TEST 500

/* n points uniform in [-1, 1]^2, x (n, 2); label 1 where x0 * x1 > 0, else 0. */
static void make_xor(curvo_rng *rng, size_t n, float *x, int32_t *labels)
{
    for (size_t i = 0; i < n; i++) {
        float p[2];
        curvo_rng_fill_normal(rng, p, 2); /* normal, squashed into (-1, 1) */
        x[2 * i] = tanhf(p[0]);
        x[2 * i + 1] = tanhf(p[1]);
        labels[i] = (x[2 * i] * x[2 * i + 1] > 0.0f);
    }
}

/* The progress callback: every event of the run comes here (steps, epochs, evaluations,
 * checkpoints). user is the pointer given to curvo_trainer_run. */
static int on_progress(const curvo_progress *p, void *user)
{
    double *best = user;
    if (p->event != CURVO_EVENT_EPOCH)
        return 0; /* step events come after every optimizer step; this example ignores them */
    printf("epoch %2d/%d  step %4lld  loss %.4f  train acc %5.1f%%  test acc %5.1f%%  %.2f s\n", p->epoch,
           p->epochs, (long long)p->step, p->train_loss, 100.0 * p->train_metric, 100.0 * p->test_metric,
           p->seconds);
    if (p->test_metric > *best)
        *best = p->test_metric;
    return p->test_metric >= 0.97; /* non-zero: stop after this event (CURVO_E_CANCELLED) */
}

int main(void)
{
    char err[CURVO_ERRMSG_LEN];
    int rc = 1;
    curvo_dataset *train = NULL, *test = NULL;
    curvo_model *m = NULL;
    curvo_trainer *tr = NULL;
    curvo_rng rng;
    curvo_rng_seed(&rng, 42);

    /* The data: features (n, 2) floats and labels (n) int32, copied into datasets. */
    float *x = malloc(sizeof(float) * 2 * (N_TRAIN + N_TEST));
    int32_t *y = malloc(sizeof(int32_t) * (N_TRAIN + N_TEST));
    if (!x || !y)
        return 1;
    make_xor(&rng, N_TRAIN + N_TEST, x, y);
    /* shape (channels, height, width) = (2, 1, 1): a flat vector of 2 features; 2 classes */
    if (curvo_dataset_create(N_TRAIN, 2, 1, 1, x, y, NULL, 2, &train, err) != CURVO_OK ||
        curvo_dataset_create(N_TEST, 2, 1, 1, x + 2 * N_TRAIN, y + N_TRAIN, NULL, 2, &test, err) != CURVO_OK) {
        fprintf(stderr, "dataset: %s\n", err);
        goto out;
    }

    /* The model: 2 -> 32 -> 32 -> 2 outputs (one per class, softmax cross-entropy). */
    if (curvo_model_from_spec("dense:32,tanh,dense:32,tanh,dense:2", 2, 1, 1, &m, err) != CURVO_OK) {
        fprintf(stderr, "model: %s\n", err);
        goto out;
    }
    curvo_model_init(m, &rng);
    printf("model: %zu parameters\n", curvo_model_num_params(m));

    /* The optimizer: Adam, its defaults (torch.optim.Adam's) with a larger step. */
    curvo_opt_params op;
    curvo_opt_params_init(&op, CURVO_OPT_ADAM);
    op.adam.lr = 0.02;

    curvo_train_options o;
    curvo_train_options_init(&o); /* 1 epoch, batch 128, seed 1, ... */
    o.epochs = 40;
    o.batch_size = 64;

    if (curvo_trainer_create(m, CURVO_LOSS_CE, &op, train, test, &o, &tr, err) != CURVO_OK) {
        fprintf(stderr, "trainer: %s\n", err);
        goto out;
    }
    double best = 0.0;
    int status = curvo_trainer_run(tr, on_progress, &best);
    if (status != CURVO_OK && status != CURVO_E_CANCELLED) { /* cancelled: our callback stopped it */
        fprintf(stderr, "training: %s: %s\n", curvo_strerror(status), curvo_trainer_errmsg(tr));
    } else {
        /* The trained model can be used directly, e.g. to predict the test points' scores. */
        double loss, acc;
        curvo_evaluate(m, CURVO_LOSS_CE, test, 1000, &loss, &acc);
        printf("%s: test loss %.4f, test accuracy %.1f%%\n",
               status == CURVO_E_CANCELLED ? "stopped by the callback" : "all epochs done", loss, 100.0 * acc);
        rc = acc >= 0.9 ? 0 : 1; /* a network that learned XOR; a linear one stays near 50% */
        if (rc)
            fprintf(stderr, "the network did not learn (accuracy %.1f%%)\n", 100.0 * acc);
    }
out:
    curvo_trainer_free(tr); /* the trainer before the model and datasets it uses */
    curvo_model_free(m);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    free(x);
    free(y);
    return rc;
}
