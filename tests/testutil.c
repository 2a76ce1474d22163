/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

int tu_failures = 0, tu_checks = 0;

double tu_rel_err(const double *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= num)) num = d; /* also catches NaN */
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / (den > 1e-30 ? den : 1e-30);
}

void tu_close(const char *what, const double *a, const double *b, size_t n, double tol) {
    double e = tu_rel_err(a, b, n);
    TU_CHECK(e <= tol, "%s: relative error %.3g > %.3g", what, e, tol);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  %-60s rel err %.3g (tol %.1g)\n", what, e, tol);
}

void tu_close_f(const char *what, const float *a, const float *b, size_t n, double tol) {
    double *da = malloc(n * sizeof *da), *db = malloc(n * sizeof *db);
    if (!da || !db) {
        TU_CHECK(0, "%s: out of memory", what);
        free(da);
        free(db);
        return;
    }
    for (size_t i = 0; i < n; i++) da[i] = a[i], db[i] = b[i];
    tu_close(what, da, db, n, tol);
    free(da);
    free(db);
}

void tu_fill_normal(curvo_rng *rng, float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * curvo_rng_normal(rng));
}

void tu_fill_uniform(curvo_rng *rng, float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * curvo_rng_uniform(rng));
}

int tu_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    return tu_failures ? 1 : 0;
}
