/* setup.c — what `curvo train` and `curvo bench` both do before training: open the data, read the
 * loss name and NAME=VALUE optimizer parameters. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_apply_opt_param(curvo_opt_params *op, const char *arg) {
    const char *eq = strchr(arg, '=');
    char name[64], err[CURVO_ERRMSG_LEN], what[96];
    double v;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
        fprintf(stderr, "curvo: --opt-param: '%s' is not NAME=VALUE\n", arg);
        return 0;
    }
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    snprintf(what, sizeof what, "--opt-param %s", name);
    if (!cli_parse_number(what, eq + 1, &v)) return 0; /* its range is the optimizer's to check */
    if (curvo_opt_params_set(op, name, v, err)) {
        fprintf(stderr, "curvo: --opt-param: %s\n", err);
        return 0;
    }
    return 1;
}

static int open_data_exit_code = 1;

int cli_open_data_exit_code(void) { return open_data_exit_code; }

int cli_open_data(const char *src, const char *target, double test_fraction, long seed, int flags,
                  curvo_dataset **train, curvo_dataset **test) {
    return cli_open_data_standardized(src, target, test_fraction, seed, flags, NULL, train, test);
}

int cli_open_data_standardized(const char *src, const char *target, double test_fraction, long seed, int flags,
                               const curvo_standardization *standardization, curvo_dataset **train,
                               curvo_dataset **test) {
    curvo_data_options dopt;
    curvo_data_options_init(&dopt);
    if (target) dopt.target = target;
    if (test_fraction > 0) dopt.test_fraction = test_fraction;
    dopt.seed = (uint64_t)seed;
    dopt.force_regression = (flags & CLI_DATA_REGRESSION) != 0;
    dopt.force_classes = (flags & CLI_DATA_CLASSES) != 0;
    dopt.standardize_target = !(flags & CLI_DATA_RAW_TARGET);
    dopt.standardization = standardization;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_data_open(src, &dopt, train, test, err);
    if (rc) {
        open_data_exit_code = rc == CURVO_E_INVALID ? 2 : 1;
        fprintf(stderr, "curvo: %s\n", err);
        return 0;
    }
    return 1;
}

int cli_data_flags_ok(int flags) {
    if ((flags & CLI_DATA_REGRESSION) && (flags & CLI_DATA_CLASSES)) {
        fprintf(stderr, "curvo: --regression and --classes contradict each other; give one\n");
        return 0;
    }
    return 1;
}

int cli_check_loss(curvo_loss_kind loss, const curvo_dataset *train, const char *target) {
    if (loss != CURVO_LOSS_CE || curvo_dataset_num_classes(train) > 0) return 1;
    char task[256];
    curvo_dataset_task(train, task, sizeof task);
    fprintf(stderr, "curvo: --loss ce needs class labels, but the task is %s: use --loss mse, or --classes if "
                    "target '%s' holds labels\n", task, target ? target : "target");
    return 0;
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
