/* demo.c — `curvo demo`: trains a small network on two generated interleaved spirals, a dataset
 * made in memory (curvo_dataset_create), set up by the same recipe as `curvo train` (recipe.c) and
 * run by the trainer, printing the loss and training accuracy every 100 epochs. By default it is
 * mini-batch SGD with momentum 0.9 (v <- mu v + g, w <- w - lr v), lr 0.1, batch 64, 1000 epochs;
 * --opt and --opt-param pick any other optimizer of curvo. It needs no download. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "curvo.h"

#define PI 3.14159265358979323846

/* x (n, 2), labels (n): two spirals, one turn and a half each, with a little noise. */
static void make_spirals(curvo_rng *rng, int n, float *x, int32_t *labels) {
    for (int i = 0; i < n; i++) {
        int cls = i % 2;
        double t = 0.25 + 3.0 * PI * curvo_rng_uniform(rng);
        double r = t / (3.0 * PI);
        double a = t + cls * PI;
        x[2 * i] = (float)(r * cos(a) + 0.02 * curvo_rng_normal(rng));
        x[2 * i + 1] = (float)(r * sin(a) + 0.02 * curvo_rng_normal(rng));
        labels[i] = cls;
    }
}

/* The spirals as a dataset, into r->train (1 after a line on failure). */
static int spiral_dataset(long samples, long seed, cli_recipe *r) {
    float *x = malloc((size_t)samples * 2 * sizeof(float));
    int32_t *labels = malloc((size_t)samples * sizeof(int32_t));
    char err[CURVO_ERRMSG_LEN] = "out of memory";
    int rc = CURVO_E_NOMEM;
    if (x && labels) {
        curvo_rng rng;
        curvo_rng_seed(&rng, (uint64_t)seed ^ 0x7370697261ULL); /* a stream of its own, not the weights' */
        make_spirals(&rng, (int)samples, x, labels);
        rc = curvo_dataset_create((size_t)samples, 2, 1, 1, x, labels, NULL, 2, &r->train, err);
    }
    free(x);
    free(labels);
    if (rc) fprintf(stderr, "curvo demo: the spirals: %s\n", err);
    return rc ? 1 : 0;
}

static void demo_usage(FILE *to) {
    fprintf(to,
            "usage: curvo demo [OPTIONS]\n"
            "\n"
            "Trains a small network on generated two-class spirals (2 inputs) with mini-batch\n"
            "gradient descent with momentum 0.9, and prints loss and training accuracy every 100\n"
            "epochs. The run is set up as 'curvo train' sets up its runs.\n"
            "  --model SPEC      network or preset (default: dense:64,relu,dense:64,relu,dense:2; a\n"
            "                    preset such as mlp ends in the 2 outputs the task needs)\n"
            "  --samples N       training samples (default: 512)\n"
            "  --epochs N        passes over the data (default: 1000)\n"
            "  --batch N         mini-batch size (default: 64)\n"
            "  --opt NAME        any optimizer of 'curvo train' (default: sgd, with momentum 0.9)\n"
            "  --lr X            learning rate (default: 0.1 for sgd, the optimizer's own otherwise)\n"
            "  --opt-param NAME=X  an optimizer parameter, repeatable ('curvo train --help' lists them)\n"
            "  --seed N          random seed for data, initialization and order (default: 1)\n"
            "  --threads N       BLAS/OpenMP threads (default: 1)\n"
            "  --help            this text\n");
}

/* The epoch lines: every 100th epoch, the first and the last, with the training accuracy measured
 * then (the trainer's own pass over the training set after every epoch is off: it would cost more
 * than the epoch). */
static int on_epoch(const curvo_progress *p, void *user) {
    cli_recipe *r = user;
    if (p->event != CURVO_EVENT_EPOCH || !(p->epoch % 100 == 0 || p->epoch == p->epochs || p->epoch == 1)) return 0;
    curvo_metrics m;
    int rc = curvo_evaluate_metrics(r->net, r->loss, r->train, r->options.eval_batch_size, &m, r->err);
    if (rc) return rc; /* stops the run, with the reason in r->err */
    printf("epoch %5d  loss %.4f  train accuracy %.1f%%\n", p->epoch, p->loss, 100.0 * m.accuracy);
    fflush(stdout);
    return 0;
}

int cli_demo(int argc, char **argv) {
    static const struct option opts[] = {
        CLI_RECIPE_OPTIMIZER_OPTIONS,           CLI_RECIPE_SEED_OPTION,
        {"model", required_argument, 0, 'm'},   {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'},   {"threads", required_argument, 0, 't'},
        {"samples", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    long samples = 512;
    cli_recipe r;
    recipe_init(&r);
    r.model = "dense:64,relu,dense:64,relu,dense:2";
    r.alg = CURVO_OPT_SGD;
    r.epochs = 1000;
    r.options.batch_size = 64;
    int o, ok = 1;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'n': ok = cli_parse_long("samples", optarg, 2, 10000000, &samples); break;
        case 'h': demo_usage(stdout); return 0;
        default: ok = recipe_option(&r, "demo", argv, o, optarg);
        }
        if (!ok) return 2;
    }
    if (!cli_no_operands("demo", argc, argv)) return 2;
    if (r.alg == CURVO_OPT_SGD) { /* the demo's own defaults, before the --opt-param given */
        if (!r.have_lr) r.lr = 0.1, r.have_lr = 1;
        memmove(r.opt_params + 1, r.opt_params, (size_t)r.n_opt_params * sizeof r.opt_params[0]);
        r.opt_params[0] = "momentum=0.9";
        r.n_opt_params++;
    }
    recipe_plan(&r);
    if ((size_t)r.options.batch_size > (size_t)samples) r.options.batch_size = (int)samples;
    r.options.eval_train = 0; /* on_epoch measures it when it prints */
    curvo_set_threads((int)r.threads);
    cli_warn_threads(r.threads);
    int exit_code = spiral_dataset(samples, (long)r.options.seed, &r);
    if (!exit_code) exit_code = recipe_open_data(&r);
    if (!exit_code) exit_code = recipe_build(&r);
    if (!exit_code) {
        char desc[1024];
        double lr = 0;
        curvo_model_describe(r.net, desc, sizeof desc);
        curvo_opt_params_get(&r.op, "lr", &lr);
        printf("curvo demo: %s, %zu parameters, %ld spiral samples, %s, batch %d, lr %g\n", desc,
               curvo_model_num_params(r.net), samples, curvo_algorithm_name(r.alg), r.options.batch_size, lr);
        int rc = curvo_trainer_run(r.trainer, on_epoch, &r);
        if (rc) {
            fprintf(stderr, "curvo: training failed: %s\n",
                    rc == CURVO_E_CANCELLED ? r.err : curvo_trainer_errmsg(r.trainer));
            exit_code = 1;
        }
    }
    recipe_free(&r);
    return exit_code;
}
