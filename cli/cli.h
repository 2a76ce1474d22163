/* cli.h — the subcommands of the curvo program and their shared option helpers. */
#ifndef CURVO_CLI_H
#define CURVO_CLI_H

#include <stddef.h>

#include "curvo.h"

int cli_demo(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_plot(int argc, char **argv);

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

#endif
