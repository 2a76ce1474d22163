/* vec.c — see vec.h. */
#include "linalg/vec.h"

#include <math.h>

double la_dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

double la_sumsq(const float *a, size_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return s;
}

float la_min(const float *a, size_t n) {
    float m = INFINITY;
#pragma omp simd reduction(min : m)
    for (size_t i = 0; i < n; i++) m = a[i] < m ? a[i] : m;
    return m;
}

double la_max_abs(const float *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

int la_all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

int la_all_finite_d(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}
