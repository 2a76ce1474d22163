/* setup.c — what `curvo train` and `curvo bench` both do before training: open the data, size a
 * preset's last layer to the task, read the loss name and NAME=VALUE optimizer parameters. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_task_spec(const char *model, int outputs, char *buf, size_t len) {
    const char *spec = curvo_model_preset(model);
    if (spec == model) return model;
    const char *last = strstr(spec, "dense:10");
    while (last && strstr(last + 1, "dense:10")) last = strstr(last + 1, "dense:10");
    if (!last || last[8] != '\0') return spec;
    snprintf(buf, len, "%.*sdense:%d", (int)(last - spec), spec, outputs);
    return buf;
}

int cli_apply_opt_param(curvo_opt_params *op, const char *arg) {
    const char *eq = strchr(arg, '=');
    char name[64], err[CURVO_ERRMSG_LEN];
    double v;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
        fprintf(stderr, "curvo: --opt-param: '%s' is not NAME=VALUE\n", arg);
        return 0;
    }
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    if (!cli_parse_double(name, eq + 1, -1e300, 1e300, &v)) return 0;
    if (curvo_opt_params_set(op, name, v, err)) {
        fprintf(stderr, "curvo: --opt-param: %s\n", err);
        return 0;
    }
    return 1;
}

int cli_open_data(const char *src, const char *target, double test_fraction, long seed, int regression,
                  curvo_dataset **train, curvo_dataset **test) {
    return cli_open_data_standardized(src, target, test_fraction, seed, regression, NULL, train, test);
}

int cli_open_data_standardized(const char *src, const char *target, double test_fraction, long seed, int regression,
                               const curvo_standardization *standardization, curvo_dataset **train,
                               curvo_dataset **test) {
    curvo_data_options dopt;
    curvo_data_options_init(&dopt);
    if (target) dopt.target = target;
    if (test_fraction > 0) dopt.test_fraction = test_fraction;
    dopt.seed = (uint64_t)seed;
    dopt.force_regression = regression;
    dopt.standardization = standardization;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_data_open(src, &dopt, train, test, err)) {
        fprintf(stderr, "curvo: %s\n", err);
        return 0;
    }
    return 1;
}

int cli_parse_loss(const char *s, curvo_loss_kind *k) {
    if (!strcmp(s, "ce")) *k = CURVO_LOSS_CE;
    else if (!strcmp(s, "mse")) *k = CURVO_LOSS_MSE;
    else if (!strcmp(s, "bce")) *k = CURVO_LOSS_BCE;
    else {
        fprintf(stderr, "curvo: --loss: '%s' is not ce, mse or bce\n", s);
        return 0;
    }
    return 1;
}

int cli_parse_algorithm(const char *name, curvo_algorithm *alg) {
    if (!curvo_algorithm_from_name(name, alg)) return 1;
    fprintf(stderr, "curvo: --opt: unknown optimizer '%s' (known:", name);
    for (int i = 0; i < CURVO_NUM_ALGORITHMS; i++) fprintf(stderr, " %s", curvo_algorithm_name((curvo_algorithm)i));
    fprintf(stderr, ")\n");
    return 0;
}
