/* recipe.c — one recipe for "set up a training run", shared by `curvo train`, `curvo bench` and
 * `curvo demo`: read the options that describe the run from the command line (recipe_option), open
 * the data (or take the caller's set), hold out a validation set, choose the loss and check it
 * against the task, build the model for the task and initialize it from the seed, fill the
 * optimizer parameters (defaults, --lr, --opt-param), create the trainer and give it the validation
 * set. Each step prints one "curvo: ..." line on failure and returns the exit code docs/TRAINING.md
 * documents (2 a bad option value, 1 a bad input file). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* r->err = the message; printed with the "curvo: " prefix unless r->quiet; returns code. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(cli_recipe *r, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    if (!r->quiet) fprintf(stderr, "curvo: %s\n", r->err);
    return code;
}

void recipe_init(cli_recipe *r) {
    memset(r, 0, sizeof *r);
    r->model = "mlp";
    r->alg = CURVO_OPT_ADAM;
    r->data_seed = 1;
    r->threads = 1;
    curvo_train_options_init(&r->options);
    r->options.comm = cli_procs_comm(); /* under mpirun (train): all the processes; else NULL, one */
}

int recipe_option(cli_recipe *r, const char *cmd, char **argv, int o, const char *arg) {
    curvo_train_options *to = &r->options;
    long v = 0;
    int ok;
    switch (o) {
    case 'd': r->data = arg; return 1;
    case 'T': r->target = arg; return 1;
    case 'f': return cli_parse_double_open("test-fraction", arg, 0.0, 1.0, CLI_OPEN, &r->test_fraction);
    case 'R': r->data_flags |= CLI_DATA_REGRESSION; return 1;
    case CLI_OPT_CLASSES: r->data_flags |= CLI_DATA_CLASSES; return 1;
    case CLI_OPT_RAW_TARGET: r->data_flags |= CLI_DATA_RAW_TARGET; return 1;
    case 'V': return cli_parse_double_open("val-fraction", arg, 0.0, 1.0, CLI_OPEN, &r->val_fraction);
    case 'm': r->model = arg; return 1;
    case 'L': r->have_loss = 1; return cli_parse_loss(arg, &r->loss);
    case 'o': return cli_parse_algorithm(arg, &r->alg);
    case 'l': r->have_lr = 1; return cli_parse_double("lr", arg, 0.0, 1e6, &r->lr);
    case 'p':
        if (r->n_opt_params == CLI_MAX_OPT_PARAMS) {
            fprintf(stderr, "curvo: too many --opt-param options (at most %d)\n", CLI_MAX_OPT_PARAMS);
            return 0;
        }
        r->opt_params[r->n_opt_params++] = arg;
        return 1;
    case 'e': return cli_parse_long("epochs", arg, 1, CLI_UNBOUNDED_EPOCHS, &r->epochs);
    case 'x': return cli_parse_double("seconds", arg, 1e-3, 1e9, &to->max_seconds);
    case 'v': return cli_parse_double("eval-every", arg, 1e-3, 1e9, &to->eval_seconds);
    case 'b': ok = cli_parse_long("batch", arg, 1, 1 << 20, &v), to->batch_size = (int)v; return ok;
    case 't': return cli_parse_long("threads", arg, 1, 1024, &r->threads);
    case 'E': ok = cli_parse_long("eval-batch", arg, 1, 1 << 20, &v), to->eval_batch_size = (int)v; return ok;
    case 'N': to->eval_train = 0; return 1;
    case 'P': ok = cli_parse_long("early-stop", arg, 1, 1000000, &v), to->early_stop = (int)v; return ok;
    case CLI_OPT_SCHEDULE: {
        char err[CURVO_ERRMSG_LEN];
        if (curvo_schedule_parse(arg, &r->schedule, err)) {
            fprintf(stderr, "curvo: --schedule: %s\n", err);
            return 0;
        }
        r->have_schedule = 1;
        return 1;
    }
    case 's':
        ok = cli_parse_long("seed", arg, 0, 0x7fffffffL, &v);
        to->seed = r->data_seed = (uint64_t)v;
        return ok;
    }
    cli_bad_option(cmd, argv, o);
    return 0;
}

void recipe_schedule_usage(FILE *to) {
    fprintf(to,
            "  --schedule SPEC       learning-rate schedule, as torch.optim.lr_scheduler's: a factor on\n"
            "                        the optimizer's step size (below) by step or epoch. SPEC is\n"
            "                        multistep:M1,M2,...[:GAMMA]  times GAMMA (default 0.1) at each milestone\n"
            "                        cosine:T[:MIN]               cosine from 1 to MIN (default 0) over T\n"
            "                        warmup:W[:START]             linear from START (default 1/3) to 1 over W\n"
            "                        warmup:W[:START]+multistep:... or +cosine:...  warm-up, then the other\n"
            "                        (counted from the warm-up's end); none: no schedule. Counts are\n"
            "                        whole numbers with a unit, s (steps) or e (epochs): warm-up counts\n"
            "                        steps and the others epochs without one. E.g. multistep:30,60:0.1,\n"
            "                        cosine:100, warmup:500+cosine:100, multistep:2000s,4000s:0.5\n"
            "                        A schedule scales:");
    for (int a = 0; a < CURVO_NUM_ALGORITHMS; a++) {
        const char *doc, *name = curvo_opt_scheduled((curvo_algorithm)a, &doc);
        fprintf(to, "\n                          %-7s %s: %s", curvo_algorithm_name((curvo_algorithm)a), name, doc);
    }
    fputs("\n", to);
}

const char *recipe_schedule_spec(const cli_recipe *r, char *buf, size_t len) {
    if (!r->have_schedule || curvo_schedule_is_none(&r->schedule)) return NULL;
    return curvo_schedule_format(&r->schedule, buf, len) ? NULL : buf;
}

void recipe_plan(cli_recipe *r) {
    r->options.epochs = r->epochs ? (int)r->epochs : r->options.max_seconds > 0 ? CLI_UNBOUNDED_EPOCHS : 1;
}

int recipe_open_data(cli_recipe *r) {
    char err[CURVO_ERRMSG_LEN];
    if (!r->train && !cli_open_data(r->data, r->target, r->test_fraction, (long)r->data_seed, r->data_flags,
                                    &r->train, &r->test))
        return cli_open_data_exit_code();
    if (r->val_fraction > 0) {
        curvo_dataset *rest;
        if (curvo_dataset_split(r->train, r->val_fraction, r->data_seed, &rest, &r->val, err))
            return fail(r, 2, "--val-fraction: %s", err);
        curvo_dataset_free(r->train);
        r->train = rest;
    }
    int classes = curvo_dataset_num_classes(r->train);
    if (!r->have_loss) r->loss = classes > 0 ? CURVO_LOSS_CE : CURVO_LOSS_MSE;
    if (!cli_check_loss(r->loss, r->train, r->target)) return 2;
    r->outputs = r->loss == CURVO_LOSS_CE ? classes : 1;
    return 0;
}

int recipe_opt_params(cli_recipe *r, curvo_opt_params *op) {
    char err[CURVO_ERRMSG_LEN];
    curvo_opt_params_init(op, r->alg);
    if (r->have_lr && curvo_opt_params_set(op, "lr", r->lr, err)) return fail(r, 2, "--lr: %s", err);
    for (int i = 0; i < r->n_opt_params; i++)
        if (!cli_apply_opt_param(op, r->opt_params[i])) { /* it printed its line, even when quiet */
            snprintf(r->err, sizeof r->err, "--opt-param: '%s' refused", r->opt_params[i]);
            return 2;
        }
    return 0;
}

/* The model for the task into *out, not initialized. */
static int model_for_task(cli_recipe *r, curvo_model **out) {
    char err[CURVO_ERRMSG_LEN];
    int c, h, w;
    curvo_dataset_shape(r->train, &c, &h, &w);
    if (curvo_model_for_task(r->model, c, h, w, r->outputs, out, err)) return fail(r, 2, "--model: %s", err);
    return 0;
}

int recipe_probe_model(cli_recipe *r, size_t *params) {
    curvo_model *m;
    int code = model_for_task(r, &m);
    if (code) return code;
    *params = curvo_model_num_params(m);
    curvo_model_free(m);
    return 0;
}

static int attach_validation(cli_recipe *r) {
    if (r->val && curvo_trainer_set_validation(r->trainer, r->val))
        return fail(r, 2, "--val-fraction: %s", curvo_trainer_errmsg(r->trainer));
    return 0;
}

int recipe_build(cli_recipe *r) {
    char err[CURVO_ERRMSG_LEN];
    int code = model_for_task(r, &r->net);
    if (code) return code;
    curvo_rng rng;
    curvo_rng_seed(&rng, r->options.seed);
    curvo_model_init(r->net, &rng);
    if ((code = recipe_opt_params(r, &r->op))) return code;
    r->options.schedule = r->have_schedule ? &r->schedule : NULL;
    if (curvo_trainer_create(r->net, r->loss, &r->op, r->train, r->test, &r->options, &r->trainer, err))
        return fail(r, 2, "%s", err);
    return attach_validation(r);
}

int recipe_resume(cli_recipe *r, const char *path) {
    char err[CURVO_ERRMSG_LEN];
    if (curvo_trainer_resume(path, r->train, r->test, &r->options, &r->trainer, &r->net, err))
        return fail(r, 1, "--resume: %s", err);
    return attach_validation(r);
}

void recipe_free(cli_recipe *r) {
    curvo_trainer_free(r->trainer);
    curvo_model_free(r->net);
    curvo_dataset_free(r->train);
    curvo_dataset_free(r->test);
    curvo_dataset_free(r->val);
    r->trainer = NULL, r->net = NULL, r->train = r->test = r->val = NULL;
}
