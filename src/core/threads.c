/* threads.c — one knob for BLAS threads and curvo's OpenMP loops. */
#include <omp.h>

#include "curvo.h"

void openblas_set_num_threads(int num_threads); /* from OpenBLAS */

void curvo_set_threads(int n) {
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}
