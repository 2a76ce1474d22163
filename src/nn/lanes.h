/* lanes.h — reductions over a row of floats in double, in independent partial sums (lanes) so
 * that they vectorize: one running sum is a chain of dependent additions that the compiler may not
 * reorder. The order of the additions is fixed by n alone, so a row's sum does not depend on who
 * computes it. Shared by the normalization modules (norm.c, batchnorm.c) and conv2d.c's bias sums. */
#ifndef CURVO_NN_LANES_H
#define CURVO_NN_LANES_H

#include <stddef.h>

#define LANES1 16 /* one sum */
#define LANES2 8  /* two sums at once */

/* the sum of a (n) */
static inline double lane_sum(const float *restrict a, size_t n) {
    double lane[LANES1] = {0.0};
    size_t p = 0;
    for (; p + LANES1 <= n; p += LANES1)
        for (int l = 0; l < LANES1; l++) lane[l] += a[p + l];
    double t = 0.0;
    for (int l = 0; l < LANES1; l++) t += lane[l];
    for (; p < n; p++) t += a[p];
    return t;
}

/* the sum of (a - shift)^2 over a (n) */
static inline double lane_sqdev(const float *restrict a, double shift, size_t n) {
    double lane[LANES1] = {0.0};
    size_t p = 0;
    for (; p + LANES1 <= n; p += LANES1)
        for (int l = 0; l < LANES1; l++) {
            double d = (double)a[p + l] - shift;
            lane[l] += d * d;
        }
    double t = 0.0;
    for (int l = 0; l < LANES1; l++) t += lane[l];
    for (; p < n; p++) {
        double d = (double)a[p] - shift;
        t += d * d;
    }
    return t;
}

/* In one pass over x (n) and d (n): out[0] = sum d, out[1] = sum (x - mu) d */
static inline void lane_sums2(const float *restrict x, double mu, const float *restrict d, size_t n,
                              double *out) {
    double l0[LANES2] = {0.0}, l1[LANES2] = {0.0};
    size_t p = 0;
    for (; p + LANES2 <= n; p += LANES2)
        for (int l = 0; l < LANES2; l++) {
            double dv = d[p + l];
            l0[l] += dv;
            l1[l] += ((double)x[p + l] - mu) * dv;
        }
    double t0 = 0.0, t1 = 0.0;
    for (int l = 0; l < LANES2; l++) t0 += l0[l], t1 += l1[l];
    for (; p < n; p++) t0 += d[p], t1 += ((double)x[p] - mu) * d[p];
    out[0] = t0, out[1] = t1;
}

#endif
