/* vec.h — vector kernels shared by the optimizers: float vectors, double accumulation. */
#ifndef CURVO_LINALG_VEC_H
#define CURVO_LINALG_VEC_H

#include <stddef.h>

/* sum a_i b_i, accumulated in double */
double la_dot(const float *a, const float *b, size_t n);
/* sum a_i^2 in double. The reductions here are "omp simd" loops: vectorized, in an order fixed by
 * the build (so a run is reproducible), not the sequential order. */
double la_sumsq(const float *a, size_t n);
/* min a_i (INFINITY for n = 0) */
float la_min(const float *a, size_t n);
/* max |a_i| */
double la_max_abs(const float *a, size_t n);
/* 1 if every entry is finite */
int la_all_finite(const float *a, size_t n);
int la_all_finite_d(const double *a, size_t n);

#endif
