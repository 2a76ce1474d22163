/* cli.h — the subcommands of the curvo program, their shared option helpers, and the recipe that
 * sets up a training run for train, bench and demo. */
#ifndef CURVO_CLI_H
#define CURVO_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "curvo.h"

int cli_demo(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_rl(int argc, char **argv);

/* Parses a whole number in [lo, hi] or prints "curvo: --name: ..." and returns 0. */
int cli_parse_long(const char *name, const char *s, long lo, long hi, long *out);
/* Parses a finite number in [lo, hi] or prints an error and returns 0. */
int cli_parse_double(const char *name, const char *s, double lo, double hi, double *out);
/* Which bounds of a range are open: (lo, hi] is CLI_LO_OPEN, [lo, hi) CLI_HI_OPEN, (lo, hi) both. */
enum { CLI_CLOSED = 0, CLI_LO_OPEN = 1, CLI_HI_OPEN = 2, CLI_OPEN = 3 };
/* As cli_parse_double, with open bounds excluded and printed as such ("in (0, 1)"). */
int cli_parse_double_open(const char *name, const char *s, double lo, double hi, int open, double *out);
/* Parses a finite number, any; what = the option as shown ("--opt-param momentum"). */
int cli_parse_number(const char *what, const char *s, double *out);
/* Parses "C,H,W" into an input shape or prints an error and returns 0. */
int cli_parse_shape(const char *s, int shape[3]);

/* After getopt_long (called with opterr = 0 and a leading ':' in its option string) returned
 * '?' or ':' as ret: one line naming the unknown option or the one missing its value. */
void cli_bad_option(const char *cmd, char **argv, int ret);
/* After the options: 1 if no argument is left, else 0 after "curvo CMD: unexpected argument ...". */
int cli_no_operands(const char *cmd, int argc, char **argv);

/* outputs.c: checks before any work; each prints one "curvo: OPT: ..." line and returns 0 on failure.
 * An output file's (or, with is_folder, an output folder's) folder exists and takes new files; an
 * existing file at the path is left untouched. */
int cli_check_output(const char *opt, const char *path, int is_folder);
/* 1 if the two paths name one file (the same file, or the same resolved folder and name). */
int cli_same_file(const char *a, const char *b);
/* One line on stderr when threads exceeds the cores online. */
void cli_warn_threads(long threads);

/* setup.c: shared by train and bench; each prints one "curvo: ..." line and returns 0 on failure. */
/* "NAME=VALUE" into the optimizer parameters. */
int cli_apply_opt_param(curvo_opt_params *op, const char *arg);
/* flags: what --regression (CLI_DATA_REGRESSION), --classes and --no-standardize-target asked. */
#define CLI_DATA_REGRESSION 1
#define CLI_DATA_CLASSES 2
#define CLI_DATA_RAW_TARGET 4
/* getopt_long values of --classes and --no-standardize-target (long-only, past the letters) */
#define CLI_OPT_CLASSES 1001
#define CLI_OPT_RAW_TARGET 1002
#define CLI_OPT_SCHEDULE 1017 /* --schedule (train, bench) */
int cli_open_data(const char *src, const char *target, double test_fraction, long seed, int flags,
                  curvo_dataset **train, curvo_dataset **test);
/* The exit code for cli_open_data's last failure: 2 a bad --data value (an unknown source form, a
 * bad split), 1 a file that is missing, unreadable or malformed. */
int cli_open_data_exit_code(void);
/* --regression with --classes is refused. */
int cli_data_flags_ok(int flags);
/* Before a model is built: a loss the data's task cannot take (ce without class labels). */
int cli_check_loss(curvo_loss_kind loss, const curvo_dataset *train, const char *target);
/* The same with recorded statistics applied instead of measuring them (NULL: measure). */
int cli_open_data_standardized(const char *src, const char *target, double test_fraction, long seed, int flags,
                               const curvo_standardization *standardization, curvo_dataset **train,
                               curvo_dataset **test);
int cli_parse_loss(const char *s, curvo_loss_kind *k);
int cli_parse_algorithm(const char *name, curvo_algorithm *alg);

/* recipe.c: one recipe for "set up and run a training", shared by train, bench and demo. A command
 * starts from recipe_init's defaults (and its own), reads its command line with recipe_option in
 * its getopt loop's default case, calls recipe_plan, then recipe_open_data (or puts a dataset of
 * its own in train), recipe_build, curvo_trainer_run(r->trainer, ...) and recipe_free; the
 * optimizer's parameters apply in the order defaults, lr, opt_params. Each function prints one "curvo: ..." line on failure (r->err holds it without the
 * prefix; quiet keeps it there only) and returns the exit code of docs/TRAINING.md's table: 2 a bad
 * option value, 1 a missing, unreadable or malformed input file; 0 on success. */
#define CLI_UNBOUNDED_EPOCHS 1000000 /* the plan of a run bounded by --seconds alone */
#define CLI_MAX_OPT_PARAMS 64
/* The options that describe a run, as getopt_long table entries; a command lists those it takes
 * (their getopt values are the ones recipe_option reads) next to its own. */
#define CLI_RECIPE_DATA_OPTIONS                                                                      \
    {"data", required_argument, 0, 'd'}, {"target", required_argument, 0, 'T'},                     \
    {"test-fraction", required_argument, 0, 'f'}, {"regression", no_argument, 0, 'R'},               \
    {"classes", no_argument, 0, CLI_OPT_CLASSES}, {"no-standardize-target", no_argument, 0, CLI_OPT_RAW_TARGET}, \
    {"val-fraction", required_argument, 0, 'V'}
#define CLI_RECIPE_MODEL_OPTIONS {"model", required_argument, 0, 'm'}, {"loss", required_argument, 0, 'L'}
#define CLI_RECIPE_OPTIMIZER_OPTIONS                                                                 \
    {"opt", required_argument, 0, 'o'}, {"lr", required_argument, 0, 'l'}, {"opt-param", required_argument, 0, 'p'}
#define CLI_RECIPE_TRAIN_OPTIONS                                                                     \
    {"epochs", required_argument, 0, 'e'}, {"seconds", required_argument, 0, 'x'},                   \
    {"batch", required_argument, 0, 'b'}, {"threads", required_argument, 0, 't'},                    \
    {"eval-every", required_argument, 0, 'v'}, {"eval-batch", required_argument, 0, 'E'},            \
    {"no-eval-train", no_argument, 0, 'N'}, {"early-stop", required_argument, 0, 'P'},               \
    {"schedule", required_argument, 0, CLI_OPT_SCHEDULE}
#define CLI_RECIPE_SEED_OPTION {"seed", required_argument, 0, 's'}
typedef struct cli_recipe {
    /* the data: a source for curvo_data_open, or NULL when the caller put its own set in train */
    const char *data;
    const char *target;      /* CSV target column (NULL: "target") */
    double test_fraction;    /* csv:PATH test split (0: the default) */
    int data_flags;          /* CLI_DATA_* */
    uint64_t data_seed;      /* the seed of the CSV test split and of the validation split */
    double val_fraction;     /* held out of the training set for validation (0: none) */
    /* the model and loss */
    const char *model;       /* spec or preset, sized to the task by curvo_model_for_task */
    int have_loss;           /* 0: ce for class labels, mse for real-valued targets */
    curvo_loss_kind loss;
    /* the optimizer: its defaults, then lr (when have_lr), then the NAME=VALUE opt_params */
    curvo_algorithm alg;
    int have_lr;
    double lr;
    const char *opt_params[CLI_MAX_OPT_PARAMS + 1]; /* one more for a command's own default */
    int n_opt_params;
    /* the trainer's options; options.seed also seeds the initialization */
    curvo_train_options options;
    long epochs;             /* --epochs as given (0: none): recipe_plan turns it into options.epochs */
    long threads;            /* --threads (default 1) */
    int have_schedule;       /* --schedule was given: recipe_build gives options.schedule = &schedule */
    curvo_schedule schedule;
    int quiet;               /* failures go to err only (a bench child reports them to its parent) */
    /* made by the functions below, freed by recipe_free */
    curvo_dataset *train, *test, *val;
    int outputs;             /* of the network: classes for cross-entropy, else 1 */
    curvo_model *net;
    curvo_opt_params op;     /* the optimizer parameters recipe_build gave the trainer */
    curvo_trainer *trainer;
    char err[CURVO_ERRMSG_LEN + 64];
} cli_recipe;
/* The defaults: no data, model mlp, adam, curvo_train_options_init's options, data seed 1. */
void recipe_init(cli_recipe *r);
/* The default case of a command's getopt_long loop: the option o (getopt_long's value, one of the
 * tables above) with its value arg into r. 1 read; 0 after one line: a bad value, or an unknown
 * option or a missing value (o '?' or ':'; cmd names the command in that line). */
int recipe_option(cli_recipe *r, const char *cmd, char **argv, int o, const char *arg);
/* The --schedule lines of a command's --help: the syntax and what each optimizer's schedule scales
 * (from curvo_opt_scheduled). */
void recipe_schedule_usage(FILE *to);
/* The schedule's canonical spec into buf (len bytes) for logs and banners; NULL without one. */
const char *recipe_schedule_spec(const cli_recipe *r, char *buf, size_t len);
/* The plan in epochs, into options.epochs: --epochs if given, else 1, or CLI_UNBOUNDED_EPOCHS with
 * a --seconds budget. */
void recipe_plan(cli_recipe *r);
/* Opens data (unless train is set already), holds out val_fraction for validation, chooses the
 * loss for the task (have_loss 0) and checks it against the task, and sets outputs. */
int recipe_open_data(cli_recipe *r);
/* The optimizer parameters of the description (bench checks each optimizer's before any run). */
int recipe_opt_params(cli_recipe *r, curvo_opt_params *op);
/* The number of parameters of the model for the task, built and freed (bench's parent). */
int recipe_probe_model(cli_recipe *r, size_t *params);
/* After recipe_open_data: the model for the task initialized from options.seed, the optimizer
 * parameters, the trainer and its validation set. */
int recipe_build(cli_recipe *r);
/* After the sets are open: the trainer and model saved in the checkpoint at path (options.epochs is
 * the new plan), and the validation set. */
int recipe_resume(cli_recipe *r, const char *path);
void recipe_free(cli_recipe *r);

/* procs.c and mpi.c: the program under mpirun (docs/DISTRIBUTED.md). cli_launched: 1 and this
 * process's rank and the job's size when an MPI launcher started it (read from the environment, in
 * every build), else 0 with rank 0 of 1. Built with MPI, cli_procs_start initializes MPI only when
 * launched, broadcasts rank 0's argv into *argc, *argv (every rank parses the same options) and sends
 * the other ranks' stdout to /dev/null and their stderr aside; it returns -1 to go on, else an exit
 * code. cli_procs_rank/size/comm: this rank, the number of processes, the communicator for
 * curvo_train_options.comm (NULL without MPI). cli_procs_agree: collective; every rank passes its exit
 * code and gets the agreed one (rank 0's if it failed, else the first failing rank's, which prints
 * "curvo: rank R: " and the line it printed); a failed rank whose peers do not reach it within 10 s
 * prints that line and aborts the job. cli_procs_end: the agreed code after freeing the communicator
 * and finalizing MPI. Without MPI: one process, and these do nothing. */
int cli_launched(int *rank, int *size);
int cli_procs_start(int *argc, char ***argv);
int cli_procs_rank(void);
int cli_procs_size(void);
curvo_comm *cli_procs_comm(void);
int cli_procs_agree(int code);
/* Collective: the first non-zero value in rank order (0 if every rank passes 0), reported by none. */
int cli_procs_first(int value);
int cli_procs_end(int code);

#endif
