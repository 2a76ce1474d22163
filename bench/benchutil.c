/* benchutil.c — see benchutil.h. */
#define _POSIX_C_SOURCE 199309L
#include "benchutil.h"

#include <stdlib.h>
#include <time.h>

double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_summarize(double *t, int n, double *median, double *min) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *min = t[0];
    *median = (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}
