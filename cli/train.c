/* train.c — `curvo train` and `curvo eval`: train a model on a dataset from the command line, with a
 * progress bar (or plain lines off a terminal), a JSON Lines log, checkpoints, resume, and Ctrl-C
 * or SIGTERM that stops after the current step and saves a checkpoint. The options that describe the
 * run are read into the recipe (recipe.c), which sets up a fresh run; a resumed one reopens the
 * checkpoint's data and checks the options against the checkpoint here, then takes the recipe's
 * trainer from the checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "curvo.h"

typedef struct {
    cli_recipe r; /* the run: data, model, loss, optimizer, training options */
    const char *log, *save, *resume;
    long checkpoint_every, log_every;
    int quiet;
    char given[128]; /* given['o']: the option with getopt value 'o' was on the command line */
} train_args;

static volatile sig_atomic_t interrupted = 0; /* the signal that stops the run (SIGINT, SIGTERM), or 0 */
/* Under mpirun: once mpirun is signalled it stops reading the processes' output, and a rank writing
 * to its full pipe would never reach the agreed stop and the checkpoint; after the signal, output
 * that cannot be written at once is dropped instead (a write blocked when it came is interrupted:
 * the handler is installed without SA_RESTART). */
static volatile sig_atomic_t output_may_block = 0;
static void on_stop_signal(int sig) {
    interrupted = sig;
    for (int fd = STDOUT_FILENO; output_may_block && fd <= STDERR_FILENO; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

static void train_usage(FILE *to) {
    fprintf(to,
            "usage: curvo train [OPTIONS]\n"
            "\n"
            "Trains a network on a dataset and reports progress; Ctrl-C (SIGINT) or SIGTERM stops after\n"
            "the current step and writes a checkpoint (to --save, or curvo-interrupted.ckpt).\n"
            "Under 'mpirun -np N' (a curvo built with MPI) the N processes train together: --batch is the\n"
            "global mini-batch, rank 0 alone prints, logs and writes checkpoints, and a checkpoint resumes\n"
            "at any N (as root: mpirun --allow-run-as-root; --oversubscribe for more processes than cores;\n"
            "see docs/DISTRIBUTED.md).\n"
            "\n"
            "data\n"
            "  --data SRC            fashion-mnist (default; Debian's dataset-fashion-mnist package),\n"
            "                        idx:DIR (MNIST-layout folder), cifar10:DIR (CIFAR-10 binary version:\n"
            "                        data_batch_1.bin .. data_batch_5.bin, test_batch.bin), csv:PATH\n"
            "                        (split by --test-fraction), csv:TRAIN,TEST\n"
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
            "                        set, evaluated after every epoch (default: none)\n"
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
            "  --early-stop N        stop once the validation loss has not improved for N epochs and\n"
            "                        keep the best epoch's parameters (needs --val-fraction)\n");
    recipe_schedule_usage(to);
    fprintf(to,
            "output\n"
            "  --log FILE            JSON Lines: a run object, one per logged step, evaluation and\n"
            "                        epoch (fields in docs/TRAINING.md)\n"
            "  --log-every N         log every N steps (default: 10)\n"
            "  --save FILE           write a checkpoint at the end (and on Ctrl-C)\n"
            "  --checkpoint-every N  also write it every N steps (needs --save, or --resume)\n"
            "  --resume FILE         continue the run saved in FILE: its model, optimizer, data (the same\n"
            "                        split and standardization; a changed file is refused), data order and\n"
            "                        early stopping; it saves to FILE and appends to the run's log unless\n"
            "                        --save or --log say otherwise. --epochs (default: the run's plan),\n"
            "                        --seconds (in all), --threads, --checkpoint-every, --eval-every,\n"
            "                        --eval-batch, --no-eval-train, --log-every and --quiet may change;\n"
            "                        the run's other options (--schedule too: the run goes on with its\n"
            "                        schedule at its step) may be repeated but not changed\n"
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
        CLI_RECIPE_DATA_OPTIONS, CLI_RECIPE_MODEL_OPTIONS, CLI_RECIPE_OPTIMIZER_OPTIONS, CLI_RECIPE_TRAIN_OPTIONS,
        CLI_RECIPE_SEED_OPTION,
        {"log", required_argument, 0, 'g'},        {"log-every", required_argument, 0, 'G'},
        {"save", required_argument, 0, 'S'},       {"resume", required_argument, 0, 'r'},
        {"checkpoint-every", required_argument, 0, 'c'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const cli_recipe *r = &a->r;
    int o, ok = 1;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (o > 0 && o < 128) a->given[o] = 1;
        switch (o) {
        case 'g': a->log = optarg; break;
        case 'G': ok = cli_parse_long("log-every", optarg, 1, 1L << 40, &a->log_every); break;
        case 'S': a->save = optarg; break;
        case 'r': a->resume = optarg; break;
        case 'c': ok = cli_parse_long("checkpoint-every", optarg, 1, 1L << 40, &a->checkpoint_every); break;
        case 'q': a->quiet = 1; break;
        case 'h': train_usage(stdout); return 0;
        default: ok = recipe_option(&a->r, "train", argv, o, optarg);
        }
        if (!ok) return 2;
    }
    if (!cli_no_operands("train", argc, argv) || !cli_data_flags_ok(r->data_flags)) return 2;
    if (a->checkpoint_every && !a->save && !a->resume) {
        fprintf(stderr, "curvo train: --checkpoint-every needs --save FILE\n");
        return 2;
    }
    if (r->options.early_stop && !r->val_fraction && !a->resume) {
        fprintf(stderr, "curvo train: --early-stop needs --val-fraction X (it watches the validation loss)\n");
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
            if (!(r->budget > 0 && p->epochs >= CLI_UNBOUNDED_EPOCHS)) snprintf(of, sizeof of, "/%d", p->epochs);
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
            if (p->event == CURVO_EVENT_EPOCH && r->budget > 0 && p->epochs >= CLI_UNBOUNDED_EPOCHS) printf("epoch %d", p->epoch);
            else if (p->event == CURVO_EVENT_EPOCH) printf("epoch %d/%d", p->epoch, p->epochs);
            else printf("step %lld (epoch %d)", (long long)p->step, p->epoch);
            printf("  loss %.4f", p->loss);
            if (!isnan(p->train_metric)) print_metrics("train", p->classification, p->train_metric, p->train_mae, p->train_r2);
            print_metrics("test", p->classification, p->test_metric, p->test_mae, p->test_r2);
            printf("  test loss %.4f", p->test_loss);
            if (!isnan(p->val_loss)) print_metrics("val", p->classification, p->val_metric, p->val_mae, p->val_r2);
            printf("  %.1f s\n", p->seconds);
            fflush(stdout);
        } else if (p->event == CURVO_EVENT_EARLY_STOP) {
            const char *m = p->classification ? "accuracy" : "rmse";
            double scale = p->classification ? 100.0 : 1.0;
            printf("stopped early after epoch %d: the validation loss has not improved since epoch %d (%.4f); "
                   "its parameters are kept: test %s %.2f%s  test loss %.4f\n", p->epoch, p->best_epoch,
                   p->best_val_loss, m, scale * p->test_metric, p->classification ? "%" : "", p->test_loss);
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

/* ---------------------------------------------------------------- a checkpoint's run and data */

/* One line refusing an option that contradicts the checkpoint; returns 0. */
static int refuse(const char *who, const char *was, const char *given, const char *instead) {
    fprintf(stderr, "curvo: %s: the checkpoint %s; drop %s or %s\n", who, was, given, instead);
    return 0;
}

/* The data options of a command line (given[] indexed by the getopt values 'd', 'T', 'f', 's', 'R',
 * shared by train and eval) against the checkpoint's data record; 0 after a line on a contradiction. */
static int check_data_options(const char *given, const char *data, const char *target, double test_fraction,
                              long seed, int flags, const curvo_checkpoint_info *ck, const char *who,
                              const char *instead) {
    const curvo_data_record *d = &ck->data;
    char was[1200], arg[1200];
    if (!ck->has_data) return 1;
    if (given['d'] && strcmp(data, d->source)) {
        snprintf(was, sizeof was, "trained on --data %s", d->source);
        snprintf(arg, sizeof arg, "--data %s", data);
        return refuse(who, was, arg, instead);
    }
    if (given['T'] && strcmp(target, d->target)) {
        snprintf(was, sizeof was, "trained with --target %s", d->target);
        snprintf(arg, sizeof arg, "--target %s", target);
        return refuse(who, was, arg, instead);
    }
    if (given['f'] && test_fraction != d->test_fraction) {
        snprintf(was, sizeof was, "trained with --test-fraction %g", d->test_fraction);
        snprintf(arg, sizeof arg, "--test-fraction %g", test_fraction);
        return refuse(who, was, arg, instead);
    }
    if (given['s'] && (uint64_t)seed != d->split_seed) {
        snprintf(was, sizeof was, "trained with --seed %llu", (unsigned long long)d->split_seed);
        snprintf(arg, sizeof arg, "--seed %ld", seed);
        return refuse(who, was, arg, instead);
    }
    if ((flags & CLI_DATA_REGRESSION) && !d->force_regression)
        return refuse(who, "trained on class labels", "--regression", instead);
    if ((flags & CLI_DATA_CLASSES) && d->force_regression)
        return refuse(who, "trained on a real-valued target", "--classes", instead);
    if ((flags & CLI_DATA_RAW_TARGET) && ck->standardization.target)
        return refuse(who, "trained on standardized targets", "--no-standardize-target", instead);
    return 1;
}

/* Reopens the checkpoint's data as training opened it: the same split and validation split, the
 * recorded standardization, after checking that the files did not change. 0 after a line. */
static int open_recorded_data(const curvo_checkpoint_info *ck, const char *who, curvo_dataset **train,
                              curvo_dataset **test, curvo_dataset **val) {
    const curvo_data_record *d = &ck->data;
    curvo_data_options dopt;
    curvo_data_options_init(&dopt);
    dopt.target = d->target;
    dopt.test_fraction = d->test_fraction;
    dopt.seed = d->split_seed;
    dopt.force_regression = d->force_regression;
    dopt.force_classes = d->force_classes;
    dopt.standardization = &ck->standardization;
    char err[CURVO_ERRMSG_LEN];
    uint32_t crc;
    uint64_t bytes;
    *train = *test = *val = NULL;
    if (curvo_data_fingerprint(d->source, &dopt, &crc, &bytes, err)) {
        fprintf(stderr, "curvo: %s: the checkpoint's data: %s\n", who, err);
        return 0;
    }
    if (crc != d->crc32 || bytes != d->bytes) {
        fprintf(stderr, "curvo: %s: the data %s changed since the checkpoint was written (%llu bytes, CRC32 %08x; "
                "it trained on %llu bytes, CRC32 %08x)\n", who, d->source, (unsigned long long)bytes, (unsigned)crc,
                (unsigned long long)d->bytes, (unsigned)d->crc32);
        return 0;
    }
    if (curvo_data_open(d->source, &dopt, train, test, err)) {
        fprintf(stderr, "curvo: %s: %s\n", who, err);
        return 0;
    }
    if (d->val_fraction > 0) {
        curvo_dataset *rest;
        if (curvo_dataset_split(*train, d->val_fraction, d->val_seed, &rest, val, err)) {
            fprintf(stderr, "curvo: %s: the validation split: %s\n", who, err);
            return 0;
        }
        curvo_dataset_free(*train);
        *train = rest;
    }
    size_t got[3] = {curvo_dataset_count(*train), *test ? curvo_dataset_count(*test) : 0,
                     *val ? curvo_dataset_count(*val) : 0};
    size_t want[3] = {ck->train_count, ck->test_count, ck->val_count};
    static const char *const part[3] = {"training", "test", "validation"};
    for (int i = 0; i < 3; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "curvo: %s: the %s set has %zu samples, the checkpoint's had %zu\n", who, part[i], got[i],
                    want[i]);
            return 0;
        }
    return 1;
}

/* The run's options on the command line against the checkpoint: 1 if none contradicts it, else 0
 * after one line naming the option and the checkpoint's value. */
static int check_resume_options(const train_args *a, const curvo_checkpoint_info *ck) {
    const char *who = "--resume", *instead = "start a new run";
    const cli_recipe *r = &a->r;
    const curvo_train_options *to = &r->options;
    char was[1200], arg[1200];
    if (!check_data_options(a->given, r->data, r->target, r->test_fraction, (long)r->data_seed, r->data_flags, ck, who,
                            instead))
        return 0;
    if (a->given['V'] && ck->has_data && r->val_fraction != ck->data.val_fraction) {
        if (ck->data.val_fraction > 0)
            snprintf(was, sizeof was, "trained with --val-fraction %g", ck->data.val_fraction);
        else
            snprintf(was, sizeof was, "trained without --val-fraction");
        snprintf(arg, sizeof arg, "--val-fraction %g", r->val_fraction);
        return refuse(who, was, arg, instead);
    }
    if (a->given['s'] && to->seed != ck->seed) {
        snprintf(was, sizeof was, "trained with --seed %llu", (unsigned long long)ck->seed);
        snprintf(arg, sizeof arg, "--seed %llu", (unsigned long long)to->seed);
        return refuse(who, was, arg, instead);
    }
    /* a batch larger than the training set was clamped to it */
    if (a->given['b'] && to->batch_size != ck->batch_size &&
        !(to->batch_size > ck->batch_size && (size_t)ck->batch_size == ck->train_count)) {
        snprintf(was, sizeof was, "trained with --batch %d", ck->batch_size);
        snprintf(arg, sizeof arg, "--batch %d", to->batch_size);
        return refuse(who, was, arg, instead);
    }
    if (a->given['P'] && to->early_stop != ck->early_stop) {
        if (ck->early_stop)
            snprintf(was, sizeof was, "trained with --early-stop %d", ck->early_stop);
        else
            snprintf(was, sizeof was, "trained without --early-stop");
        snprintf(arg, sizeof arg, "--early-stop %d", to->early_stop);
        return refuse(who, was, arg, instead);
    }
    const char *ck_opt = curvo_algorithm_name(ck->opt.algorithm);
    if (a->given['o'] && r->alg != ck->opt.algorithm) {
        snprintf(was, sizeof was, "trained with --opt %s", ck_opt);
        snprintf(arg, sizeof arg, "--opt %s", curvo_algorithm_name(r->alg));
        return refuse(who, was, arg, instead);
    }
    static const char *const loss_names[] = {"ce", "mse", "bce"};
    if (a->given['L'] && r->loss != ck->loss) {
        snprintf(was, sizeof was, "trained with --loss %s", loss_names[ck->loss]);
        snprintf(arg, sizeof arg, "--loss %s", loss_names[r->loss]);
        return refuse(who, was, arg, instead);
    }
    double v;
    curvo_opt_params_get(&ck->opt, "lr", &v);
    if (a->given['l'] && r->lr != v) {
        snprintf(was, sizeof was, "trained with --lr %g", v);
        snprintf(arg, sizeof arg, "--lr %g", r->lr);
        return refuse(who, was, arg, instead);
    }
    for (int i = 0; i < r->n_opt_params; i++) {
        curvo_opt_params op = ck->opt;
        if (!cli_apply_opt_param(&op, r->opt_params[i])) return 0;
        for (int k = 0; k < curvo_opt_param_count(op.algorithm); k++) {
            const char *name = curvo_opt_param_info(op.algorithm, k)->name;
            double mine;
            curvo_opt_params_get(&ck->opt, name, &v);
            curvo_opt_params_get(&op, name, &mine);
            if (mine != v) {
                snprintf(was, sizeof was, "trained with --opt-param %s=%g", name, v);
                snprintf(arg, sizeof arg, "--opt-param %s", r->opt_params[i]);
                return refuse(who, was, arg, instead);
            }
        }
    }
    char mine[1024], theirs[1024];
    if (r->have_schedule && curvo_schedule_format(&r->schedule, mine, sizeof mine) == CURVO_OK &&
        curvo_schedule_format(&ck->schedule, theirs, sizeof theirs) == CURVO_OK && strcmp(mine, theirs)) {
        if (curvo_schedule_is_none(&ck->schedule))
            snprintf(was, sizeof was, "trained without --schedule");
        else
            snprintf(was, sizeof was, "trained with --schedule %s", theirs);
        snprintf(arg, sizeof arg, "--schedule %s", mine);
        return refuse(who, was, arg, instead);
    }
    if (a->given['m']) {
        curvo_model *trained, *given = NULL;
        curvo_loss_kind lk;
        char err[CURVO_ERRMSG_LEN], desc[4096] = "";
        if (curvo_checkpoint_load_model(a->resume, &trained, &lk, err)) {
            fprintf(stderr, "curvo: --resume: %s\n", err);
            return 0;
        }
        if (!curvo_model_for_task(r->model, ck->input[0], ck->input[1], ck->input[2],
                                  (int)curvo_model_output_size(trained), &given, err))
            curvo_model_describe(given, desc, sizeof desc);
        curvo_model_free(given);
        curvo_model_free(trained);
        if (strcmp(desc, ck->model_spec)) {
            snprintf(was, sizeof was, "trained with --model %s", ck->model_spec);
            snprintf(arg, sizeof arg, "--model %s", r->model);
            return refuse(who, was, arg, instead);
        }
    }
    return 1;
}

static int file_is_empty(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    int empty = fgetc(f) == EOF;
    fclose(f);
    return empty;
}

int cli_train(int argc, char **argv) {
    train_args a = {.log_every = 10};
    cli_recipe *r = &a.r;
    recipe_init(r);
    r->data = "fashion-mnist";
    /* Under mpirun every rank parses rank 0's command line (main.c), so all reach the same outcome
     * here; after this, each phase ends with cli_procs_agree, so that no rank goes on to a collective
     * step when another failed (one process: it returns the code as it is). */
    int rank = cli_procs_rank(), procs = cli_procs_size();
    int rc = parse_train_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (rank != 0) a.quiet = 1; /* rank 0 alone reports (the others' output is set aside: mpi.c) */
    output_may_block = procs > 1;
    curvo_set_threads((int)r->threads);
    cli_warn_threads(r->threads);
    int code = 0;
    if (a.resume && access(a.resume, R_OK) != 0) { /* every rank reads the checkpoint */
        fprintf(stderr, "curvo: --resume: cannot read '%s': %s\n", a.resume, strerror(errno));
        code = 1;
    } else if (rank == 0) {
        /* Outputs are checked before any work, so that a run cannot end in a checkpoint it cannot
         * write; rank 0 alone writes them. */
        if ((a.save && !cli_check_output("--save", a.save, 0)) || (a.log && !cli_check_output("--log", a.log, 0)))
            code = 2;
        else if (a.log && ((a.save && cli_same_file(a.log, a.save)) || (a.resume && cli_same_file(a.log, a.resume)))) {
            fprintf(stderr, "curvo: --log '%s' and --%s '%s' are the same file\n", a.log,
                    a.save ? "save" : "resume", a.save ? a.save : a.resume);
            code = 2;
        }
    }
    if ((code = cli_procs_agree(code))) return code;
    curvo_log *log = NULL;
    curvo_checkpoint_info *ck = NULL;
    char err[CURVO_ERRMSG_LEN];
    int exit_code = 1;
    curvo_train_options *to = &r->options;
    int given_loss = r->have_loss;
    recipe_plan(r);
    if (a.resume) {
        enum { NOTHING_TO_DO = -1 }; /* agreed like a failure, then exit 0 */
        if (curvo_checkpoint_read_info(a.resume, &ck, err)) {
            fprintf(stderr, "curvo: --resume: %s\n", err);
            code = 1;
        } else if (!check_resume_options(&a, ck)) {
            code = 2;
        } else {
            if (!a.given['e'] && !a.given['x']) to->epochs = ck->epochs;
            if (ck->stopped_early || to->epochs <= ck->epochs_done) {
                if (ck->stopped_early)
                    fprintf(stderr, "curvo: --resume: nothing to do (the run stopped early after epoch %d; the "
                            "checkpoint holds its best epoch, %d)\n", ck->epochs_done, ck->best_epoch);
                else
                    fprintf(stderr, "curvo: --resume: nothing to do (the checkpoint has %d epoch%s; ask for more "
                            "with --epochs)\n", ck->epochs_done, ck->epochs_done == 1 ? "" : "s");
                code = NOTHING_TO_DO;
            }
        }
        if ((code = cli_procs_agree(code))) {
            curvo_checkpoint_info_free(ck);
            return code == NOTHING_TO_DO ? 0 : code;
        }
        if (ck->has_data) r->data = ck->data.source;
        r->alg = ck->opt.algorithm;
        r->have_loss = 1, r->loss = ck->loss;
        to->batch_size = ck->batch_size;
        to->seed = r->data_seed = ck->seed;
        if (!a.given['c']) a.checkpoint_every = ck->checkpoint_every;
        if (!a.save) a.save = a.resume;
        if (!a.log) a.log = ck->log_path;
    }
    to->checkpoint_every = a.checkpoint_every;
    to->checkpoint_path = a.save;
    to->log_path = a.log;
    /* Every rank opens the data itself (replicated); one outcome for all. */
    if (ck && ck->has_data) /* the checkpoint's own sets, checked against its record */
        code = open_recorded_data(ck, "--resume", &r->train, &r->test, &r->val) ? 0 : 1;
    else
        code = recipe_open_data(r);
    if ((code = cli_procs_agree(code))) {
        exit_code = code;
        goto done;
    }
    /* Creating or resuming the trainer joins the ranks (the library agrees on the outcome and takes
     * rank 0's parameters); the agreement here also covers a rank failing before it joins. */
    code = a.resume ? recipe_resume(r, a.resume) : recipe_build(r);
    if ((code = cli_procs_agree(code))) {
        exit_code = code;
        goto done;
    }
    if (!a.resume) {
        /* the data's record, so that --resume and eval reopen exactly these sets (a real-valued
         * target counts as --regression: it makes the same sets, and repeating it is no change) */
        curvo_data_options dopt;
        curvo_data_options_init(&dopt);
        curvo_data_record rec = {.source = r->data,
                                 .target = r->target ? r->target : dopt.target,
                                 .test_fraction = r->test_fraction > 0 ? r->test_fraction : dopt.test_fraction,
                                 .split_seed = r->data_seed,
                                 .force_regression = (r->data_flags & CLI_DATA_REGRESSION) ||
                                                     curvo_dataset_num_classes(r->train) == 0,
                                 .force_classes = (r->data_flags & CLI_DATA_CLASSES) != 0,
                                 .val_fraction = r->val_fraction,
                                 .val_seed = r->data_seed};
        code = 0;
        if (curvo_data_fingerprint(r->data, &dopt, &rec.crc32, &rec.bytes, err) ||
            curvo_trainer_set_data_record(r->trainer, &rec)) {
            fprintf(stderr, "curvo: %s\n", err);
            code = 1;
        }
        if (cli_procs_agree(code)) goto done;
    }
    const char *opt_name = curvo_algorithm_name(r->alg);
    /* A resumed run appends to its log: a "resume" line (and the run line first if the log is new). */
    int new_log = a.log && rank == 0 && (!a.resume || file_is_empty(a.log));
    code = 0;
    if (a.log && rank == 0 && curvo_log_open(a.log, a.resume != NULL, &log, err)) { /* rank 0 alone logs */
        fprintf(stderr, "curvo: --log: %s\n", err);
        code = 1;
    }
    if (cli_procs_agree(code)) goto done;
    char sched[1200];
    if (ck) r->schedule = ck->schedule, r->have_schedule = 1; /* the run's own */
    const char *sched_spec = recipe_schedule_spec(r, sched, sizeof sched);
    if (log && new_log) {
        curvo_run_info run = {"curvo", opt_name, ck ? ck->model_spec : r->model, r->data, to->seed, to->batch_size,
                              (int)r->threads, curvo_model_num_params(r->net), procs, sched_spec};
        curvo_log_write_run(log, &run);
    }
    if (log && ck) curvo_log_write_resume(log, a.resume, ck->epochs_done + 1, ck->step, to->epochs, (int)r->threads);
    char desc[1024], task[320];
    curvo_model_describe(r->net, desc, sizeof desc);
    describe_task(r->train, a.resume || !given_loss ? -1 : (int)r->loss, task, sizeof task);
    if (!a.quiet && ck)
        fprintf(stderr, "curvo train: resuming %s after step %lld (%d of %d epochs done)\n", a.resume,
                (long long)ck->step, ck->epochs_done, to->epochs);
    if (!a.quiet)
        fprintf(stderr, "curvo train: %s on %s (%zu train, %zu test), %s, %s, %zu parameters, %d thread%s%s\n",
                opt_name, r->data, curvo_dataset_count(r->train), r->test ? curvo_dataset_count(r->test) : (size_t)0,
                task, desc, curvo_model_num_params(r->net), (int)r->threads, r->threads == 1 ? "" : "s",
                procs > 1 ? (snprintf(err, sizeof err, ", %d processes", procs), err) : "");
    if (!a.quiet && sched_spec) {
        const char *doc, *what = curvo_opt_scheduled(r->alg, &doc);
        fprintf(stderr, "curvo train: schedule %s on %s's %s: %s\n", sched_spec, opt_name, what, doc);
    }
    reporter rep = {log, a.log_every, a.quiet, isatty(STDERR_FILENO), 0, opt_name, to->max_seconds, {0}, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = curvo_trainer_run(r->trainer, on_progress, &rep);
    if (rep.have_last) { /* --quiet: the one result line, printed by replaying its event with output on */
        rep.quiet = rep.tty = 0;
        rep.log = NULL;
        on_progress(&rep.last, &rep);
    }
    if (rc == CURVO_E_CANCELLED) {
        /* The stop is agreed; the signal may have reached another rank only (SIGINT or SIGTERM). */
        int sig = cli_procs_first(interrupted);
        interrupted = sig ? sig : SIGINT;
        const char *path = a.save ? a.save : "curvo-interrupted.ckpt";
        const char *by = interrupted == SIGTERM ? "SIGTERM" : "SIGINT";
        if (rep.tty && !a.quiet) fputc('\n', stderr);
        if (curvo_trainer_save(r->trainer, path)) {
            fprintf(stderr, "curvo: interrupted (%s); the checkpoint could not be written: %s\n", by,
                    curvo_trainer_errmsg(r->trainer));
        } else {
            fprintf(stderr, "curvo: interrupted (%s); checkpoint written to %s (continue with --resume %s)\n", by, path,
                    path);
            exit_code = 128 + (interrupted ? interrupted : SIGINT);
        }
        goto done;
    }
    if (rc) {
        fprintf(stderr, "%scurvo: training failed: %s\n", rep.tty && !a.quiet ? "\n" : "",
                curvo_trainer_errmsg(r->trainer));
        goto done;
    }
    if (a.save && curvo_trainer_save(r->trainer, a.save)) {
        fprintf(stderr, "curvo: --save: %s\n", curvo_trainer_errmsg(r->trainer));
        goto done;
    }
    exit_code = 0;
done:
    if (log && curvo_log_close(log) && exit_code == 0) {
        fprintf(stderr, "curvo: --log: writing the log failed\n");
        exit_code = 1;
    }
    recipe_free(r);
    curvo_checkpoint_info_free(ck);
    return cli_procs_agree(exit_code); /* a rank that failed alone in training reports itself here */
}

static void eval_usage(FILE *to) {
    fprintf(to,
            "usage: curvo eval --load FILE [OPTIONS]\n"
            "\n"
            "Evaluates a model saved by 'curvo train --save' on a dataset and prints its mean loss and\n"
            "accuracy (classification) or RMSE, MAE and R² in the target's units (regression).\n"
            "  --load FILE          the checkpoint (required)\n"
            "  --data SRC           as for 'curvo train' (default: the data the checkpoint trained on,\n"
            "                       reopened with its split and standardization; a changed file is\n"
            "                       refused). Other data gets the training run's standardization.\n"
            "  --split test|train|val  which part to evaluate (default: test)\n"
            "  --target NAME, --test-fraction X, --seed N, --regression, --classes,\n"
            "  --no-standardize-target\n"
            "                       how other --data is opened (defaults as for 'curvo train'); for the\n"
            "                       checkpoint's own data they may only repeat its values\n"
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
    char given[128] = {0};
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (o > 0 && o < 128) given[o] = 1;
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
    if (optind < argc || !load || (strcmp(split, "test") && strcmp(split, "train") && strcmp(split, "val"))) {
        fprintf(stderr, "curvo eval: %s\n", !load ? "--load FILE is required" : optind < argc ? "unexpected argument" : "--split must be test, train or val");
        return 2;
    }
    if (!cli_data_flags_ok(data_flags)) return 2;
    curvo_set_threads((int)threads);
    cli_warn_threads(threads);
    curvo_model *model;
    curvo_loss_kind loss;
    curvo_checkpoint_info *ck = NULL;
    char err[CURVO_ERRMSG_LEN];
    if (curvo_checkpoint_load_model(load, &model, &loss, err) || curvo_checkpoint_read_info(load, &ck, err)) {
        fprintf(stderr, "curvo: --load: %s\n", err);
        curvo_model_free(model);
        return 1;
    }
    curvo_dataset *train = NULL, *test = NULL, *val = NULL;
    int exit_code = 1;
    if (ck->has_data && (!given['d'] || !strcmp(data, ck->data.source))) {
        /* the checkpoint's own data, exactly as training saw it */
        if (!check_data_options(given, data, target, test_fraction, seed, data_flags, ck, "--load", "give other --data")) {
            exit_code = 2;
            goto done;
        }
        if (!open_recorded_data(ck, "--load", &train, &test, &val)) goto done;
    } else {
        const curvo_standardization *st = &ck->standardization;
        if (!cli_open_data_standardized(data, target, test_fraction, seed, data_flags,
                                        st->features || st->target ? st : NULL, &train, &test)) {
            exit_code = cli_open_data_exit_code();
            goto done;
        }
    }
    const curvo_dataset *d = !strcmp(split, "train") ? train : !strcmp(split, "val") ? val : test;
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
    curvo_checkpoint_info_free(ck);
    curvo_dataset_free(train);
    curvo_dataset_free(test);
    curvo_dataset_free(val);
    return exit_code;
}
