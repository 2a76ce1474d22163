/* cg.c — (preconditioned) conjugate gradient for the SPD systems of the Gauss-Newton methods,
 * matrix-free: A is only applied to vectors. Vectors are float, inner products double.
 *
 *   x = 0, r = b, z = M^-1 r, p = z
 *   repeat: a = r.z / p.Ap;  x += a p;  r -= a Ap;  stop if max|r| <= tol
 *           z = M^-1 r;  beta = r.z_new / r.z_old;  p = z + beta p
 */
#include <math.h>
#include <string.h>

#include "linalg/vec.h"
#include "optim/optim.h"

int optim_cg(cg_matvec_fn matvec, void *ctx, const float *b, const float *minv, size_t n, int max_iters,
             double tol, float *x, float *Ax, float *work, int *iters) {
    float *r = work, *p = work + n, *Ap = work + 2 * n; /* (n) each */
    memset(x, 0, n * sizeof(float));
    memcpy(r, b, n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = minv ? minv[i] * r[i] : r[i];
    double rz = minv ? la_dot(r, p, n) : la_dot(r, r, n);
    int k = 0, rc = CURVO_OK;
    while (k < max_iters && la_max_abs(r, n) > tol) {
        if ((rc = matvec(ctx, p, Ap))) break;
        double pAp = la_dot(p, Ap, n);
        if (!(pAp > 0.0) || !isfinite(pAp) || !isfinite(rz)) {
            rc = CURVO_E_NUMERIC;
            break;
        }
        float a = (float)(rz / pAp);
        for (size_t i = 0; i < n; i++) {
            x[i] += a * p[i];
            r[i] -= a * Ap[i];
        }
        k++;
        double rz_new = 0.0;
        if (minv)
            for (size_t i = 0; i < n; i++) rz_new += (double)r[i] * minv[i] * r[i];
        else
            rz_new = la_dot(r, r, n);
        float beta = (float)(rz_new / rz);
        for (size_t i = 0; i < n; i++) p[i] = (minv ? minv[i] * r[i] : r[i]) + beta * p[i];
        rz = rz_new;
    }
    for (size_t i = 0; i < n; i++) Ax[i] = b[i] - r[i];
    *iters = k;
    return rc;
}
