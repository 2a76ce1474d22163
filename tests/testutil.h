/* testutil.h — tiny test harness: checks that count failures, random fills, error norms. */
#ifndef CURVO_TESTUTIL_H
#define CURVO_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "curvo.h"

extern int tu_failures, tu_checks;

/* Records one check; prints a line when it fails. */
#define TU_CHECK(cond, ...)                                                             \
    do {                                                                                \
        tu_checks++;                                                                    \
        if (!(cond)) {                                                                  \
            tu_failures++;                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                        \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

/* Checks that rel_err(a, b) <= tol and prints the error either way with verbose set. */
void tu_close(const char *what, const double *a, const double *b, size_t n, double tol);
void tu_close_f(const char *what, const float *a, const float *b, size_t n, double tol);
/* ||a - b||_inf / max(||b||_inf, tiny) */
double tu_rel_err(const double *a, const double *b, size_t n);
void tu_fill_normal(curvo_rng *rng, float *x, size_t n, double scale);
/* Values in [lo, hi) */
void tu_fill_uniform(curvo_rng *rng, float *x, size_t n, double lo, double hi);
/* Summary line and exit code for main(). */
int tu_finish(const char *name);

#endif
