/* train.c — `curvo train` and `curvo eval`: train a model on a dataset from the command line, with a
 * progress bar (or plain lines off a terminal), a JSON Lines log, checkpoints, resume, and Ctrl-C
 * or SIGTERM that stops after the current step and saves a checkpoint. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "curvo.h"

#define MAX_OPT_PARAMS 64

typedef struct {
    const char *data, *model, *opt, *loss, *log, *save, *resume, *target;
    long epochs, batch, seed, threads, checkpoint_every, log_every, eval_batch;
    double lr, test_fraction, val_fraction, seconds, eval_every;
    int have_lr, regression, no_eval_train, quiet;
    int data_flags; /* CLI_DATA_* from --regression, --classes, --no-standardize-target */
    const char *opt_params[MAX_OPT_PARAMS];
    int n_opt_params;
} train_args;

static volatile sig_atomic_t interrupted = 0; /* the signal that stops the run (SIGINT, SIGTERM), or 0 */
static void on_stop_signal(int sig) { interrupted = sig; }

static void train_usage(FILE *to) {
    fprintf(to,
            "usage: curvo train [OPTIONS]\n"
            "\n"
            "Trains a network on a dataset and reports progress; Ctrl-C (SIGINT) or SIGTERM stops after\n"
            "the current step and writes a checkpoint (to --save, or curvo-interrupted.ckpt).\n"
            "\n"
            "data\n"
            "  --data SRC            fashion-mnist (default; Debian's dataset-fashion-mnist package),\n"
            "                        idx:DIR (MNIST-layout folder), csv:PATH (split by --test-fraction),\n"
            "                        csv:TRAIN,TEST\n"
            "  --target NAME         CSV column holding the label or value (default: target)\n"
            "  --test-fraction X     share of csv:PATH held out for testing (default: 0.2)\n"
            "  --regression          treat a CSV target as a real value even if it looks like labels\n"
            "  --classes             treat a CSV target as class labels (whole numbers in [0, 1000))\n"
            "                        Without either: non-integer or negative targets, or any of 1000\n"
            "                        or more, are values (regression); whole numbers in [0, 1000) with\n"
            "                        at most 100 distinct values are classes; more distinct whole\n"
            "                        numbers are refused until one of the two options says which\n"
            "  --no-standardize-target  train on regression targets as read (default: standardized\n"
            "                        with the training split's mean and std; metrics in original units)\n"
            "  --val-fraction X      hold out this share of the training set (seeded) as a validation\n"
            "                        set, evaluated after every epoch (default: none; give the same\n"
            "                        value again with --resume)\n"
            "model and loss\n"
            "  --model SPEC          layers or a preset (default: mlp); presets end in as many outputs as\n"
            "                        the task needs. See 'curvo info --help' for the spec syntax.\n"
            "  --loss ce|mse|bce     default: ce for class labels, mse for real-valued targets\n"
            "optimizer\n"
            "  --opt NAME            sgd, adam, adamw, egn, sgn, lrsfn, sofim or arturo (default: adam)\n"
            "  --lr X                learning rate (default: the optimizer's, see below)\n"
            "  --opt-param NAME=X    any optimizer parameter, repeatable (listed below)\n"
            "training\n"
            "  --epochs N            passes over the training set (default: 1, or no limit with\n"
            "                        --seconds)\n"
            "  --seconds S           stop once S seconds were spent in optimizer steps (evaluation\n"
            "                        not counted), or after --epochs, whichever comes first\n"
            "  --eval-every S        also evaluate every S seconds of optimizer time, mid-epoch\n"
            "  --batch N             mini-batch size (default: 128)\n"
            "  --seed N              seed of initialization, shuffling and CSV splits (default: 1)\n"
            "  --threads N           BLAS/OpenMP threads (default: 1; one thread is bit-reproducible)\n"
            "  --eval-batch N        batch size of evaluation passes (default: 1000)\n"
            "  --no-eval-train       skip the accuracy pass over the training set after each epoch\n"
            "output\n"
            "  --log FILE            JSON Lines: a run object, one per logged step, evaluation and\n"
            "                        epoch (fields in docs/TRAINING.md)\n"
            "  --log-every N         log every N steps (default: 10)\n"
            "  --save FILE           write a checkpoint at the end (and on Ctrl-C)\n"
            "  --checkpoint-every N  also write it every N steps (needs --save)\n"
            "  --resume FILE         continue the run saved in FILE (model, optimizer, data order);\n"
            "                        --epochs may extend it\n"
            "  --quiet               no progress output: only the final result line (the last\n"
            "                        evaluation's metrics) on stdout, and errors\n"
            "  --help                this text\n"
            "\n"
            "optimizer parameters (name: default, range — meaning; ( ) excludes the bound):\n");
    for (int a = 0; a < CURVO_NUM_ALGORITHMS; a++) {
        fprintf(to, "  %s\n", curvo_algorithm_name((curvo_algorithm)a));
        for (int i = 0; i < curvo_opt_param_count((curvo_algorithm)a); i++) {
            const curvo_param_info *p = curvo_opt_param_info((curvo_algorithm)a, i);
            char range[64];
            fprintf(to, "    %-13s %-7g %s  %s\n", p->name, p->default_value, curvo_param_range(p, range, sizeof range),
                    p->doc);
        }
    }
}

static int parse_train_args(int argc, char **argv, train_args *a) {
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},       {"model", required_argument, 0, 'm'},
        {"opt", required_argument, 0, 'o'},        {"loss", required_argument, 0, 'L'},
        {"epochs", required_argument, 0, 'e'},     {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, 'l'},         {"opt-param", required_argument, 0, 'p'},
        {"seed", required_argument, 0, 's'},       {"threads", required_argument, 0, 't'},
        {"log", required_argument, 0, 'g'},        {"log-every", required_argument, 0, 'G'},
        {"save", required_argument, 0, 'S'},       {"resume", required_argument, 0, 'r'},
        {"checkpoint-every", required_argument, 0, 'c'}, {"target", required_argument, 0, 'T'},
        {"test-fraction", required_argument, 0, 'f'}, {"regression", no_argument, 0, 'R'},
        {"eval-batch", required_argument, 0, 'E'}, {"no-eval-train", no_argument, 0, 'N'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {"val-fraction", required_argument, 0, 'V'}, {"seconds", required_argument, 0, 'x'},
        {"eval-every", required_argument, 0, 'v'},
        {"classes", no_argument, 0, CLI_OPT_CLASSES}, {"no-standardize-target", no_argument, 0, CLI_OPT_RAW_TARGET},
        {0, 0, 0, 0}};
    int o, ok = 1;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'd': a->data = optarg; break;
        case 'm': a->model = optarg; break;
        case 'o': a->opt = optarg; break;
        case 'L': a->loss = optarg; break;
        case 'e': ok = cli_parse_long("epochs", optarg, 1, 1000000, &a->epochs); break;
        case 'b': ok = cli_parse_long("batch", optarg, 1, 1 << 20, &a->batch); break;
        case 'l': ok = cli_parse_double("lr", optarg, 0.0, 1e6, &a->lr), a->have_lr = 1; break;
        case 'p':
            if (a->n_opt_params == MAX_OPT_PARAMS) {
                fprintf(stderr, "curvo: too many --opt-param options\n");
                return 2;
            }
            a->opt_params[a->n_opt_params++] = optarg;
            break;
        case 's': ok = cli_parse_long("seed", optarg, 0, 0x7fffffffL, &a->seed); break;
        case 't': ok = cli_parse_long("threads", optarg, 1, 1024, &a->threads); break;
        case 'g': a->log = optarg; break;
        case 'G': ok = cli_parse_long("log-every", optarg, 1, 1L << 40, &a->log_every); break;
        case 'S': a->save = optarg; break;
        case 'r': a->resume = optarg; break;
        case 'c': ok = cli_parse_long("checkpoint-every", optarg, 1, 1L << 40, &a->checkpoint_every); break;
        case 'T': a->target = optarg; break;
        case 'f': ok = cli_parse_double_open("test-fraction", optarg, 0.0, 1.0, CLI_OPEN, &a->test_fraction); break;
        case 'R': a->regression = 1, a->data_flags |= CLI_DATA_REGRESSION; break;
        case CLI_OPT_CLASSES: a->data_flags |= CLI_DATA_CLASSES; break;
        case CLI_OPT_RAW_TARGET: a->data_flags |= CLI_DATA_RAW_TARGET; break;
        case 'V': ok = cli_parse_double_open("val-fraction", optarg, 0.0, 1.0, CLI_OPEN, &a->val_fraction); break;
        case 'E': ok = cli_parse_long("eval-batch", optarg, 1, 1 << 20, &a->eval_batch); break;
        case 'N': a->no_eval_train = 1; break;
        case 'x': ok = cli_parse_double("seconds", optarg, 1e-3, 1e9, &a->seconds); break;
        case 'v': ok = cli_parse_double("eval-every", optarg, 1e-3, 1e9, &a->eval_every); break;
        case 'q': a->quiet = 1; break;
        case 'h': train_usage(stdout); return 0;
        default: cli_bad_option("train", argv, o); return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "curvo train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!cli_data_flags_ok(a->data_flags)) return 2;
    if (a->checkpoint_every && !a->save) {
        fprintf(stderr, "curvo train: --checkpoint-every needs --save FILE\n");
        return 2;
    }
    return -1;
}

typedef struct {
    curvo_log *log;
    long log_every;
    int quiet, tty;
    int64_t last_plain;
    const char *opt_name;
    double budget; /* --seconds, or 0 */
    curvo_progress last; /* --quiet: the last epoch or eval event, printed when the run ends */
    int have_last;
} reporter;

static void fmt_eta(double s, char *buf, size_t len) {
    if (!isfinite(s) || s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* "  test accuracy 91.20%", or "  test rmse 1234.5  mae 987.6  r2 0.9712" in the targets' units. */
static void print_metrics(const char *set, int classification, double metric, double mae, double r2) {
    if (classification) printf("  %s accuracy %.2f%%", set, 100.0 * metric);
    else printf("  %s rmse %.6g  mae %.6g  r2 %.4f", set, metric, mae, r2);
}

static int on_progress(const curvo_progress *p, void *user) {
    reporter *r = user;
    if (r->quiet && (p->event == CURVO_EVENT_EPOCH || p->event == CURVO_EVENT_EVAL)) r->last = *p, r->have_last = 1;
    if (r->log && (p->event != CURVO_EVENT_STEP || p->step % r->log_every == 0 ||
                   p->step_in_epoch == p->steps_per_epoch))
        curvo_log_write(r->log, p);
    if (!r->quiet) {
        if (p->event == CURVO_EVENT_STEP) {
            double rate = p->step > 0 ? p->train_seconds / (double)p->step : 0.0;
            char eta[32];
            double left = rate * (double)(p->steps_total - p->step);
            if (r->budget > 0 && r->budget - p->train_seconds < left) left = r->budget - p->train_seconds;
            fmt_eta(left, eta, sizeof eta);
            char of[32] = "";
            if (!(r->budget > 0 && p->epochs >= 1000000)) snprintf(of, sizeof of, "/%d", p->epochs);
            if (r->tty) {
                int width = 24, done = (int)(width * p->step_in_epoch / (p->steps_per_epoch ? p->steps_per_epoch : 1));
                char bar[32];
                for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
                bar[width] = '\0';
                fprintf(stderr, "\repoch %d%s [%s] %lld/%lld  loss %.4f  %.0f samples/s  ETA %s   ", p->epoch,
                        of, bar, (long long)p->step_in_epoch, (long long)p->steps_per_epoch, p->loss,
                        p->samples_per_second, eta);
            } else if (p->step_in_epoch == p->steps_per_epoch ||
                       p->step - r->last_plain >= (p->steps_per_epoch + 9) / 10) {
                fprintf(stderr, "epoch %d%s  step %lld/%lld  loss %.4f  %.0f samples/s  ETA %s\n", p->epoch,
                        of, (long long)p->step_in_epoch, (long long)p->steps_per_epoch, p->loss,
                        p->samples_per_second, eta);
                r->last_plain = p->step;
            }
        } else if (p->event == CURVO_EVENT_EPOCH || p->event == CURVO_EVENT_EVAL) {
            if (r->tty) fputc('\n', stderr);
            if (p->event == CURVO_EVENT_EPOCH && r->budget > 0 && p->epochs >= 1000000) printf("epoch %d", p->epoch);
            else if (p->event == CURVO_EVENT_EPOCH) printf("epoch %d/%d", p->epoch, p->epochs);
            else printf("step %lld (epoch %d)", (long long)p->step, p->epoch);
            printf("  loss %.4f", p->loss);
            if (!isnan(p->train_metric)) print_metrics("train", p->classification, p->train_metric, p->train_mae, p->train_r2);
            print_metrics("test", p->classification, p->test_metric, p->test_mae, p->test_r2);
            printf("  test loss %.4f", p->test_loss);
            if (!isnan(p->val_loss)) print_metrics("val", p->classification, p->val_metric, p->val_mae, p->val_r2);
            printf("  %.1f s\n", p->seconds);
            fflush(stdout);
        }
    }
    return interrupted ? 1 : 0;
}

/* For the banner: the task and why ("regression (target 'price' has non-integer values), targets
 * standardized (mean 301234, std 81234)"); loss: the --loss given, or -1. */
static void describe_task(const curvo_dataset *train, int loss, char *buf, size_t len) {
    curvo_dataset_task(train, buf, len);
    size_t k = strlen(buf);
    curvo_standardization st;
    curvo_dataset_standardization(train, &st);
    if (st.target)
        snprintf(buf + k, len - k, ", targets standardized (mean %.6g, std %.6g)", st.target_mean, st.target_std);
    else if (loss == CURVO_LOSS_MSE && curvo_dataset_num_classes(train) > 0)
        snprintf(buf + k, len - k, ", the labels fitted as numbers (--loss mse)");
}

int cli_train(int argc, char **argv) {
    train_args a = {.data = "fashion-mnist", .model = "mlp", .opt = "adam", .epochs = 0, .batch = 128,
                    .seed = 1, .threads = 1, .log_every = 10, .eval_batch = 1000};
    int rc = parse_train_args(argc, argv, &a);
    if (rc >= 0) return rc;
    curvo_set_threads((int)a.threads);
    cli_warn_threads(a.threads);
    curvo_algorithm alg;
    if (!cli_parse_algorithm(a.opt, &alg)) return 2;
    curvo_loss_kind loss = CURVO_LOSS_CE;
    if (a.loss && !cli_parse_loss(a.loss, &loss)) return 2;
    if (a.resume && access(a.resume, R_OK) != 0) {
        fprintf(stderr, "curvo: --resume: cannot read '%s': %s\n", a.resume, strerror(errno));
        return 1;
    }
    /* Outputs are checked before any work, so that a run cannot end in a checkpoint it cannot write. */
    if ((a.save && !cli_check_output("--save", a.save, 0)) || (a.log && !cli_check_output("--log", a.log, 0)))
        return 2;
    if (a.log && ((a.save && cli_same_file(a.log, a.save)) || (a.resume && cli_same_file(a.log, a.resume)))) {
        fprintf(stderr, "curvo: --log '%s' and --%s '%s' are the same file\n", a.log, a.save ? "save" : "resume",
                a.save ? a.save : a.resume);
        return 2;
    }
    curvo_dataset *train = NULL, *test = NULL;
    curvo_model *model = NULL;
    curvo_trainer *tr = NULL;
    curvo_log *log = NULL;
    char err[CURVO_ERRMSG_LEN];
    int exit_code = 1;
    curvo_dataset *val = NULL;
    if (!cli_open_data(a.data, a.target, a.test_fraction, a.seed, a.data_flags, &train, &test))
        return cli_open_data_exit_code();
    if (a.val_fraction > 0) {
        curvo_dataset *rest;
        if (curvo_dataset_split(train, a.val_fraction, (uint64_t)a.seed, &rest, &val, err)) {
            fprintf(stderr, "curvo: --val-fraction: %s\n", err);
            curvo_dataset_free(train);
            curvo_dataset_free(test);
            return 2;
        }
        curvo_dataset_free(train);
        train = rest;
    }
    int classes = curvo_dataset_num_classes(train);
    if (!a.loss) loss = classes > 0 ? CURVO_LOSS_CE : CURVO_LOSS_MSE;
    if (!a.resume && !cli_check_loss(loss, train, a.target)) {
        exit_code = 2;
        goto done;
    }
    curvo_train_options to;
    curvo_train_options_init(&to);
    to.epochs = a.epochs ? (int)a.epochs : 1;
    to.batch_size = (int)a.batch;
    to.seed = (uint64_t)a.seed;
    to.checkpoint_every = a.checkpoint_every;
    to.checkpoint_path = a.save;
    to.eval_batch_size = (int)a.eval_batch;
    to.eval_train = !a.no_eval_train;
    to.max_seconds = a.seconds;
    to.eval_seconds = a.eval_every;
    if (a.seconds > 0 && a.epochs == 0) to.epochs = 1000000;
    if (a.resume) {
        if (curvo_trainer_resume(a.resume, train, test, &to, &tr, &model, err)) {
            fprintf(stderr, "curvo: --resume: %s\n", err);
            goto done;
        }
    } else {
        int c, h, w;
        curvo_dataset_shape(train, &c, &h, &w);
        if (curvo_model_for_task(a.model, c, h, w, loss == CURVO_LOSS_CE ? classes : 1, &model, err)) {
            fprintf(stderr, "curvo: --model: %s\n", err);
            exit_code = 2;
            goto done;
        }
        curvo_rng rng;
        curvo_rng_seed(&rng, (uint64_t)a.seed);
        curvo_model_init(model, &rng);
        curvo_opt_params op;
        curvo_opt_params_init(&op, alg);
        if (a.have_lr && curvo_opt_params_set(&op, "lr", a.lr, err)) {
            fprintf(stderr, "curvo: --lr: %s\n", err);
            exit_code = 2;
            goto done;
        }
        for (int i = 0; i < a.n_opt_params; i++)
            if (!cli_apply_opt_param(&op, a.opt_params[i])) {
                exit_code = 2;
                goto done;
            }
        if (curvo_trainer_create(model, loss, &op, train, test, &to, &tr, err)) {
            fprintf(stderr, "curvo: %s\n", err);
            exit_code = 2;
            goto done;
        }
    }
    if (val && curvo_trainer_set_validation(tr, val)) {
        fprintf(stderr, "curvo: --val-fraction: %s\n", curvo_trainer_errmsg(tr));
        exit_code = 2;
        goto done;
    }
    if (a.log && curvo_log_open(a.log, a.resume != NULL, &log, err)) {
        fprintf(stderr, "curvo: --log: %s\n", err);
        goto done;
    }
    if (log && !a.resume) {
        curvo_run_info run = {"curvo", a.opt, a.model, a.data, (uint64_t)a.seed, (int)a.batch, (int)a.threads,
                              curvo_model_num_params(model)};
        curvo_log_write_run(log, &run);
    }
    char desc[1024], task[320];
    curvo_model_describe(model, desc, sizeof desc);
    describe_task(train, a.resume || !a.loss ? -1 : (int)loss, task, sizeof task);
    if (!a.quiet)
        fprintf(stderr, "curvo train: %s on %s (%zu train, %zu test), %s, %s, %zu parameters, %d thread%s\n", a.opt,
                a.data, curvo_dataset_count(train), test ? curvo_dataset_count(test) : (size_t)0, task, desc,
                curvo_model_num_params(model), (int)a.threads, a.threads == 1 ? "" : "s");
    reporter rep = {log, a.log_every, a.quiet, isatty(STDERR_FILENO), 0, a.opt, a.seconds, {0}, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = curvo_trainer_run(tr, on_progress, &rep);
    if (rep.have_last) { /* --quiet: the one result line, printed by replaying its event with output on */
        rep.quiet = rep.tty = 0;
        rep.log = NULL;
        on_progress(&rep.last, &rep);
    }
    if (rc == CURVO_E_CANCELLED) {
        const char *path = a.save ? a.save : "curvo-interrupted.ckpt";
        const char *by = interrupted == SIGTERM ? "SIGTERM" : "SIGINT";
        if (rep.tty && !a.quiet) fputc('\n', stderr);
        if (curvo_trainer_save(tr, path)) {
            fprintf(stderr, "curvo: interrupted (%s); the checkpoint could not be written: %s\n", by,
                    curvo_trainer_errmsg(tr));
        } else {
            fprintf(stderr, "curvo: interrupted (%s); checkpoint written to %s (continue with --resume %s)\n", by, path,
                    path);
            exit_code = 128 + (interrupted ? interrupted : SIGINT);
        }
        goto done;
    }
    if (rc) {
        fprintf(stderr, "%scurvo: training failed: %s\n", rep.tty && !a.quiet ? "\n" : "", curvo_trainer_errmsg(tr));
        goto done;
    }
    if (a.save && curvo_trainer_save(tr, a.save)) {
        fprintf(stderr, "curvo: --save: %s\n", curvo_trainer_errmsg(tr));
        goto done;
    }
    exit_code = 0;
done:
    if (log && curvo_log_close(log) && exit_code == 0) {
        fprintf(stderr, "curvo: --log: writing the log failed\n");
        exit_code = 1;
    }
    curvo_trainer_free(tr);
    curvo_model_free(model);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    curvo_dataset_free(val);
    return exit_code;
}

static void eval_usage(FILE *to) {
    fprintf(to,
            "usage: curvo eval --load FILE [OPTIONS]\n"
            "\n"
            "Evaluates a model saved by 'curvo train --save' on a dataset and prints its mean loss and\n"
            "accuracy (classification) or RMSE, MAE and R² in the target's units (regression).\n"
            "  --load FILE          the checkpoint (required)\n"
            "  --data SRC           as for 'curvo train' (default: fashion-mnist)\n"
            "  --split test|train   which part to evaluate (default: test)\n"
            "  --target NAME, --test-fraction X, --seed N, --regression, --classes,\n"
            "  --no-standardize-target\n"
            "                       how the CSV data was opened for training (defaults as there)\n"
            "  --batch N            evaluation batch size (default: 1000)\n"
            "  --threads N          BLAS/OpenMP threads (default: 1)\n"
            "  --help               this text\n");
}

int cli_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"load", required_argument, 0, 'l'},  {"data", required_argument, 0, 'd'},
        {"split", required_argument, 0, 'S'}, {"target", required_argument, 0, 'T'},
        {"test-fraction", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
        {"regression", no_argument, 0, 'R'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {"classes", no_argument, 0, CLI_OPT_CLASSES}, {"no-standardize-target", no_argument, 0, CLI_OPT_RAW_TARGET},
        {0, 0, 0, 0}};
    const char *load = NULL, *data = "fashion-mnist", *split = "test", *target = NULL;
    long seed = 1, batch = 1000, threads = 1;
    double test_fraction = 0;
    int data_flags = 0, o, ok = 1; /* CLI_DATA_* */
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (o) {
        case 'l': load = optarg; break;
        case 'd': data = optarg; break;
        case 'S': split = optarg; break;
        case 'T': target = optarg; break;
        case 'f': ok = cli_parse_double_open("test-fraction", optarg, 0.0, 1.0, CLI_OPEN, &test_fraction); break;
        case 's': ok = cli_parse_long("seed", optarg, 0, 0x7fffffffL, &seed); break;
        case 'R': data_flags |= CLI_DATA_REGRESSION; break;
        case CLI_OPT_CLASSES: data_flags |= CLI_DATA_CLASSES; break;
        case CLI_OPT_RAW_TARGET: data_flags |= CLI_DATA_RAW_TARGET; break;
        case 'b': ok = cli_parse_long("batch", optarg, 1, 1 << 20, &batch); break;
        case 't': ok = cli_parse_long("threads", optarg, 1, 1024, &threads); break;
        case 'h': eval_usage(stdout); return 0;
        default: cli_bad_option("eval", argv, o); return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc || !load || (strcmp(split, "test") && strcmp(split, "train"))) {
        fprintf(stderr, "curvo eval: %s\n", !load ? "--load FILE is required" : optind < argc ? "unexpected argument" : "--split must be test or train");
        return 2;
    }
    if (!cli_data_flags_ok(data_flags)) return 2;
    curvo_set_threads((int)threads);
    cli_warn_threads(threads);
    curvo_model *model;
    curvo_loss_kind loss;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_checkpoint_load_model(load, &model, &loss, err)) {
        fprintf(stderr, "curvo: --load: %s\n", err);
        return 1;
    }
    curvo_dataset *train = NULL, *test = NULL;
    int exit_code = 1;
    if (!cli_open_data(data, target, test_fraction, seed, data_flags, &train, &test)) {
        exit_code = cli_open_data_exit_code();
        goto done;
    }
    const curvo_dataset *d = strcmp(split, "train") ? test : train;
    if (!d) {
        fprintf(stderr, "curvo eval: the data has no %s split\n", split);
        goto done;
    }
    curvo_metrics m;
    int rc = curvo_evaluate_metrics(model, loss, d, (int)batch, &m, err);
    if (rc && rc != CURVO_E_INVALID && rc != CURVO_E_SHAPE) {
        fprintf(stderr, "curvo eval: %s\n", err[0] ? err : curvo_strerror(rc));
        goto done;
    }
    if (rc) {
        char task[256];
        curvo_dataset_task(d, task, sizeof task);
        fprintf(stderr, "curvo eval: the data does not fit the saved model: %s; %s%s%s gives %s\n", err,
                target ? "--target '" : "the data", target ? target : "", target ? "'" : "", task);
        goto done;
    }
    if (m.classification)
        printf("%s: %zu samples  loss %.4f  accuracy %.2f%%\n", split, m.n, m.loss, 100 * m.accuracy);
    else
        printf("%s: %zu samples  loss %.4f  rmse %.6g  mae %.6g  r2 %.4f\n", split, m.n, m.loss, m.rmse, m.mae, m.r2);
    exit_code = 0;
done:
    curvo_model_free(model);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    return exit_code;
}
