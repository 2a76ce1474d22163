/* args.c — option-value parsing shared by the subcommands: one clear line per bad value. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_parse_long(const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "curvo: --%s: '%s' is not a whole number in [%ld, %ld]\n", name, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_number(const char *name, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || isnan(v)) {
        fprintf(stderr, "curvo: %s: '%s' is not a number\n", name, s);
        return 0;
    }
    if (errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "curvo: %s: '%s' is not a finite number\n", name, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double_open(const char *name, const char *s, double lo, double hi, int open, double *out) {
    char opt[80];
    double v;
    snprintf(opt, sizeof opt, "--%s", name);
    if (!cli_parse_number(opt, s, &v)) return 0;
    int lo_open = open & CLI_LO_OPEN, hi_open = open & CLI_HI_OPEN;
    if (v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi)) {
        fprintf(stderr, "curvo: %s: '%s' is not a number in %c%g, %g%c\n", opt, s, lo_open ? '(' : '[', lo, hi,
                hi_open ? ')' : ']');
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *name, const char *s, double lo, double hi, double *out) {
    return cli_parse_double_open(name, s, lo, hi, CLI_CLOSED, out);
}

int cli_parse_shape(const char *s, int shape[3]) {
    char tail;
    int ok = sscanf(s, "%d,%d,%d%c", &shape[0], &shape[1], &shape[2], &tail) == 3;
    for (int i = 0; ok && i < 3; i++) ok = shape[i] >= 1 && shape[i] <= 65536;
    if (!ok)
        fprintf(stderr, "curvo: --input: '%s' is not CHANNELS,HEIGHT,WIDTH with each in [1, 65536]\n", s);
    return ok;
}

void cli_bad_option(const char *cmd, char **argv, int ret) {
    const char *opt = argv[optind - 1];
    if (ret == ':')
        fprintf(stderr, "curvo %s: option '%s' needs a value (see 'curvo %s --help')\n", cmd, opt, cmd);
    else
        fprintf(stderr, "curvo %s: unknown option '%s' (see 'curvo %s --help')\n", cmd, opt, cmd);
}

int cli_no_operands(const char *cmd, int argc, char **argv) {
    if (optind >= argc) return 1;
    fprintf(stderr, "curvo %s: unexpected argument '%s'\n", cmd, argv[optind]);
    return 0;
}
