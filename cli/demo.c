/* demo.c — `curvo demo`: trains a small network on two generated interleaved spirals with
 * mini-batch gradient descent with momentum (v <- mu v + g, w <- w - lr v), printing the loss and
 * accuracy as it goes. It exercises the whole engine from the public API on data that needs no
 * download; the optimizers of curvo proper live behind `curvo train`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

static void demo_usage(FILE *to) {
    fprintf(to,
            "usage: curvo demo [OPTIONS]\n"
            "\n"
            "Trains a small network on generated two-class spirals (2 inputs) with mini-batch\n"
            "gradient descent with momentum 0.9, and prints loss and accuracy every 100 epochs.\n"
            "  --model SPEC   network or preset (default: dense:64,relu,dense:64,relu,dense:2; a\n"
            "                 preset such as mlp ends in the 2 outputs the task needs)\n"
            "  --samples N    training samples (default: 512)\n"
            "  --epochs N     passes over the data (default: 1000)\n"
            "  --batch N      mini-batch size (default: 64)\n"
            "  --lr X         learning rate (default: 0.1)\n"
            "  --seed N       random seed for data, initialization and order (default: 1)\n"
            "  --threads N    BLAS/OpenMP threads (default: 1)\n"
            "  --help         this text\n");
}

int cli_demo(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"samples", required_argument, 0, 'n'},
        {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, 'l'},     {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *spec = "dense:64,relu,dense:64,relu,dense:2";
    long samples = 512, epochs = 1000, batch = 64, seed = 1, threads = 1;
    double lr = 0.1;
    int o, ok = 1;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'm': spec = optarg; break;
        case 'n': ok = cli_parse_long("samples", optarg, 2, 10000000, &samples); break;
        case 'e': ok = cli_parse_long("epochs", optarg, 1, 10000000, &epochs); break;
        case 'b': ok = cli_parse_long("batch", optarg, 1, 1000000, &batch); break;
        case 'l': ok = cli_parse_double("lr", optarg, 0.0, 1e6, &lr); break;
        case 's': ok = cli_parse_long("seed", optarg, 0, 0x7fffffffL, &seed); break;
        case 't': ok = cli_parse_long("threads", optarg, 1, 1024, &threads); break;
        case 'h': demo_usage(stdout); return 0;
        default: cli_bad_option("demo", argv, o); return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "curvo demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (batch > samples) batch = samples;
    curvo_set_threads((int)threads);
    cli_warn_threads(threads);
    char err[CURVO_ERRMSG_LEN];
    curvo_model *model;
    if (curvo_model_for_task(spec, 2, 1, 1, 2, &model, err)) { /* a preset ends in dense:2 here */
        fprintf(stderr, "curvo: %s\n", err);
        return 2;
    }
    if (curvo_model_output_size(model) != 2) {
        fprintf(stderr, "curvo demo: the model must have 2 outputs (it has %zu)\n",
                curvo_model_output_size(model));
        curvo_model_free(model);
        return 2;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, (uint64_t)seed);
    curvo_model_init(model, &rng);
    size_t n = curvo_model_num_params(model);
    float *x = malloc((size_t)samples * 2 * sizeof(float));
    int32_t *labels = malloc((size_t)samples * sizeof(int32_t));
    float *xb = malloc((size_t)batch * 2 * sizeof(float));
    int32_t *lb = malloc((size_t)batch * sizeof(int32_t));
    float *g = malloc(n * sizeof(float)), *vel = calloc(n, sizeof(float));
    float *out = malloc((size_t)samples * 2 * sizeof(float));
    int *order = malloc((size_t)samples * sizeof(int));
    curvo_curv *cv = NULL;
    int rc = CURVO_E_NOMEM;
    if (!x || !labels || !xb || !lb || !g || !vel || !out || !order) goto done;
    if ((rc = curvo_curv_create(model, CURVO_LOSS_CE, &cv))) goto done;
    make_spirals(&rng, (int)samples, x, labels);
    for (int i = 0; i < samples; i++) order[i] = i;
    float *theta = curvo_model_params(model);
    char desc[1024];
    curvo_model_describe(model, desc, sizeof desc);
    printf("curvo demo: %s, %zu parameters, %ld spiral samples, batch %ld, lr %g\n", desc, n,
           samples, batch, lr);
    for (long e = 1; e <= epochs; e++) {
        for (long i = samples - 1; i > 0; i--) { /* Fisher-Yates */
            long j = (long)curvo_rng_below(&rng, (uint64_t)i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double epoch_loss = 0.0;
        long steps = 0;
        for (long s = 0; s + batch <= samples; s += batch) {
            for (long i = 0; i < batch; i++) {
                int src = order[s + i];
                xb[2 * i] = x[2 * src];
                xb[2 * i + 1] = x[2 * src + 1];
                lb[i] = labels[src];
            }
            curvo_batch bt = {xb, lb, NULL, (int)batch};
            if ((rc = curvo_curv_set_batch(cv, &bt)) || (rc = curvo_curv_grad(cv, g))) goto done;
            epoch_loss += curvo_curv_loss(cv);
            steps++;
            for (size_t p = 0; p < n; p++) {
                vel[p] = 0.9f * vel[p] + g[p];
                theta[p] -= (float)lr * vel[p];
            }
        }
        if (e % 100 == 0 || e == epochs || e == 1) {
            if ((rc = curvo_model_predict(model, x, (int)samples, out))) goto done;
            long correct = 0;
            for (long i = 0; i < samples; i++) correct += (out[2 * i + 1] > out[2 * i]) == labels[i];
            printf("epoch %5ld  loss %.4f  train accuracy %.1f%%\n", e, epoch_loss / steps,
                   100.0 * correct / samples);
        }
    }
    rc = CURVO_OK;
done:
    if (rc) fprintf(stderr, "curvo demo: %s%s%s\n", curvo_strerror(rc), cv ? ": " : "", curvo_curv_errmsg(cv));
    curvo_curv_free(cv);
    curvo_model_free(model);
    free(x), free(labels), free(xb), free(lb), free(g), free(vel), free(out), free(order);
    return rc ? 1 : 0;
}
