/* linesearch.c — what the second-order methods share around their directions: Armijo backtracking,
 * the gain-ratio damping rule, and the loss along a line through the curvature context. */
#include <math.h>
#include <string.h>

#include "optim/optim.h"

ls_result optim_armijo(ls_eval_fn f, void *ctx, double f0, double slope, double alpha0, double c,
                       double shrink, int max_tries) {
    ls_result r = {0.0, NAN, 0, 0};
    double alpha = alpha0;
    for (int t = 0; t < max_tries; t++) {
        double v = f(ctx, alpha);
        r.tries++;
        if (isfinite(v) && v <= f0 + c * alpha * slope) {
            r.alpha = alpha;
            r.f = v;
            r.accepted = 1;
            return r;
        }
        alpha *= shrink;
    }
    return r;
}

double optim_adapt_damping(double damping, double ratio, double low, double high, double up,
                           double down, double min, double max) {
    if (!isfinite(ratio) || ratio < low)
        damping *= up;
    else if (ratio > high)
        damping *= down;
    return damping < min ? min : damping > max ? max : damping;
}

double optim_line_loss(void *line, double alpha) {
    ls_line *l = line;
    const float a = (float)alpha;
    for (size_t i = 0; i < l->n; i++) l->theta[i] = l->theta0[i] + a * l->p[i];
    if (curvo_curv_set_batch(l->cv, l->batch) != CURVO_OK) return NAN;
    return curvo_curv_loss(l->cv);
}

int optim_line_step(ls_line *line, int line_search, double f0, double slope, double alpha0, double c,
                    double shrink, int max_tries, double *alpha, double *loss, int *tries) {
    int rc = CURVO_OK;
    if (line_search) {
        ls_result ls = optim_armijo(optim_line_loss, line, f0, slope, alpha0, c, shrink, max_tries);
        *tries = ls.tries;
        *alpha = ls.alpha, *loss = ls.f;
        if (!ls.accepted) rc = CURVO_E_REJECTED;
    } else {
        *tries = 0;
        *alpha = alpha0;
        *loss = optim_line_loss(line, alpha0);
        if (!isfinite(*loss)) rc = CURVO_E_NUMERIC;
    }
    if (rc) memcpy(line->theta, line->theta0, line->n * sizeof(float));
    return rc;
}
