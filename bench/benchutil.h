/* benchutil.h — timing helpers shared by the C benchmarks. */
#ifndef CURVO_BENCHUTIL_H
#define CURVO_BENCHUTIL_H

/* Monotonic clock in milliseconds. */
double bench_now_ms(void);
/* Median and minimum of t[0..n) (n >= 1); sorts t in place. */
void bench_summarize(double *t, int n, double *median, double *min);

#endif
