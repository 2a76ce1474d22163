/* rls.h — one step of the per-coordinate recursive least squares (a 2-state Kalman filter) that
 * arTuRO uses to fit g ~ quad * w + lin from the gradients it sees:
 *   P += q I;  H = [1, w];  S = H P H^T + R;  K = P H^T / S;
 *   [lin, quad] += K (g - quad w - lin);  P -= K S K^T
 * P = [[p00, p01], [p01, p11]]. S is floored at R so a covariance that lost definiteness in float
 * rounding cannot divide by zero. */
#ifndef CURVO_OPTIM_RLS_H
#define CURVO_OPTIM_RLS_H

static inline void rls_update(float *lin, float *quad, float *p00, float *p01, float *p11, float w, float g,
                              float q, float R) {
    float a = *p00 + q, b = *p01, d = *p11 + q;
    float ph0 = a + w * b, ph1 = b + w * d; /* P H^T */
    float S = ph0 + w * ph1 + R;
    S = S >= R ? S : R; /* also catches NaN */
    float e = g - *quad * w - *lin;
    float k0 = ph0 / S, k1 = ph1 / S;
    *lin += k0 * e;
    *quad += k1 * e;
    *p00 = a - k0 * ph0;
    *p01 = b - k0 * ph1;
    *p11 = d - k1 * ph1;
}

#endif
