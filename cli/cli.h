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
/* Parses "C,H,W" into an input shape or prints an error and returns 0. */
int cli_parse_shape(const char *s, int shape[3]);

/* After getopt_long (called with opterr = 0 and a leading ':' in its option string) returned
 * '?' or ':' as ret: one line naming the unknown option or the one missing its value. */
void cli_bad_option(const char *cmd, char **argv, int ret);

/* setup.c: shared by train and bench; each prints one "curvo: ..." line and returns 0 on failure. */
/* A preset's last layer resized to the task ("mlp" with 3 classes ends in dense:3); a spec as is. */
const char *cli_task_spec(const char *model, int outputs, char *buf, size_t len);
/* "NAME=VALUE" into the optimizer parameters. */
int cli_apply_opt_param(curvo_opt_params *op, const char *arg);
int cli_open_data(const char *src, const char *target, double test_fraction, long seed, int regression,
                  curvo_dataset **train, curvo_dataset **test);
/* The same with recorded statistics applied instead of measuring them (NULL: measure). */
int cli_open_data_standardized(const char *src, const char *target, double test_fraction, long seed, int regression,
                               const curvo_standardization *standardization, curvo_dataset **train,
                               curvo_dataset **test);
int cli_parse_loss(const char *s, curvo_loss_kind *k);
int cli_parse_algorithm(const char *name, curvo_algorithm *alg);

#endif
