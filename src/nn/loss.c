/* loss.c — softmax cross-entropy, mean squared error (1/2 ||y - f||^2) and sigmoid binary
 * cross-entropy, and the selected-output losses of Q-learning, each averaged over the batch; see
 * loss.h. Per sample i (a = the label, d = f_a - y_a, e_a the unit vector of output a):
 *   CE:    l = logsumexp(f) - f[y],           p = softmax(f),  Q = diag(p) - p p^T
 *   MSE:   l = 1/2 ||y - f||^2,               p = f,           Q = I
 *   BCE:   l = sum_k softplus(f_k) - y_k f_k, p = sigmoid(f),  Q = diag(p (1 - p))
 *   SEL:   l = 1/2 d^2,                       p = f,           Q = e_a e_a^T
 *   HUBER: l = d^2/2 (|d| <= 1), |d| - 1/2,   p = f,           Q = [|d| <= 1] e_a e_a^T
 */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "nn/loss.h"

/* Target of output k of sample i as a float: one-hot for CE, the given target otherwise. */
static inline float target(curvo_loss_kind kind, const curvo_batch *bt, int c, int i, int k) {
    if (kind == CURVO_LOSS_CE) return bt->labels[i] == k ? 1.0f : 0.0f;
    return bt->targets[(size_t)i * c + k];
}

int loss_is_selected(curvo_loss_kind kind) {
    return kind == CURVO_LOSS_SELECTED_MSE || kind == CURVO_LOSS_SELECTED_HUBER;
}

/* Selected-output losses: d = f_a - y_a; value, derivative dl/df_a and curvature q of sample i. */
static void selected(curvo_loss_kind kind, const float *p, const curvo_batch *bt, int c, int i, double *l,
                     double *dl, double *q) {
    int a = bt->labels[i];
    double d = (double)p[(size_t)i * c + a] - bt->targets[(size_t)i * c + a];
    if (kind == CURVO_LOSS_SELECTED_HUBER && fabs(d) > 1.0) {
        *l = fabs(d) - 0.5, *dl = d > 0 ? 1.0 : -1.0, *q = 0.0;
    } else {
        *l = 0.5 * d * d, *dl = d, *q = 1.0;
    }
}

double loss_row_q(curvo_loss_kind kind, const float *p, const curvo_batch *bt, int c, int i) {
    if (kind == CURVO_LOSS_CE) {
        double py = p[(size_t)i * c + bt->labels[i]];
        return py * (1.0 - py) + CURVO_LOSS_FACTOR_EPS;
    }
    double l, dl, q;
    selected(kind, p, bt, c, i, &l, &dl, &q);
    return q + CURVO_LOSS_FACTOR_EPS;
}

/* The selected-output losses' loss_eval. */
static int selected_eval(curvo_loss_kind kind, const float *f, const curvo_batch *bt, int c, int norm, float *p,
                         float *dz, double *value) {
    if (!bt->labels || !bt->targets) return CURVO_E_INVALID;
    int b = bt->b;
    double total = 0.0;
    memcpy(p, f, (size_t)b * c * sizeof(float));
    memset(dz, 0, (size_t)b * c * sizeof(float));
    for (int i = 0; i < b; i++) {
        if (bt->labels[i] < 0 || bt->labels[i] >= c) return CURVO_E_INVALID;
        double l, dl, q;
        selected(kind, p, bt, c, i, &l, &dl, &q);
        total += l;
        dz[(size_t)i * c + bt->labels[i]] = (float)(dl / norm);
    }
    *value = total / norm;
    return isfinite(*value) ? CURVO_OK : CURVO_E_NUMERIC;
}

int loss_eval(curvo_loss_kind kind, const float *f, const curvo_batch *bt, int c, int norm, float *p,
              float *dz, double *value) {
    if (loss_is_selected(kind)) return selected_eval(kind, f, bt, c, norm, p, dz, value);
    int b = bt->b;
    double total = 0.0;
    if (kind == CURVO_LOSS_CE && !bt->labels) return CURVO_E_INVALID;
    if (kind != CURVO_LOSS_CE && !bt->targets) return CURVO_E_INVALID;
    for (int i = 0; i < b; i++) {
        const float *fi = f + (size_t)i * c;
        float *pi = p + (size_t)i * c;
        if (kind == CURVO_LOSS_CE) {
            int y = bt->labels[i];
            if (y < 0 || y >= c) return CURVO_E_INVALID;
            float mx = fi[0];
            for (int k = 1; k < c; k++) mx = fi[k] > mx ? fi[k] : mx;
            double s = 0.0;
            for (int k = 0; k < c; k++) s += exp((double)fi[k] - mx);
            for (int k = 0; k < c; k++) pi[k] = (float)(exp((double)fi[k] - mx) / s);
            total += log(s) + mx - fi[y];
        } else if (kind == CURVO_LOSS_MSE) {
            for (int k = 0; k < c; k++) {
                double d = (double)fi[k] - bt->targets[(size_t)i * c + k];
                pi[k] = fi[k];
                total += 0.5 * d * d;
            }
        } else {
            for (int k = 0; k < c; k++) {
                double z = fi[k], y = bt->targets[(size_t)i * c + k];
                pi[k] = (float)(z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)));
                total += (z > 0 ? z : 0.0) - y * z + log1p(exp(-fabs(z)));
            }
        }
        for (int k = 0; k < c; k++) dz[(size_t)i * c + k] = (pi[k] - target(kind, bt, c, i, k)) / (float)norm;
    }
    *value = total / norm;
    return isfinite(*value) ? CURVO_OK : CURVO_E_NUMERIC;
}

void loss_hess_apply(curvo_loss_kind kind, const float *p, const curvo_batch *bt, int b, int c, const float *zdot,
                     int k, float scale, float *out) {
    if (loss_is_selected(kind)) { /* Q_i zdot = q_i zdot_a e_a */
        memset(out, 0, (size_t)k * b * c * sizeof(float));
        for (int i = 0; i < b; i++) {
            double l, dl, q;
            selected(kind, p, bt, c, i, &l, &dl, &q);
            size_t a = (size_t)bt->labels[i];
            for (int j = 0; j < k; j++) {
                size_t o = ((size_t)j * b + i) * c + a;
                out[o] = scale * (float)q * zdot[o];
            }
        }
        return;
    }
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            const float *pi = p + (size_t)i * c;
            const float *zi = zdot + ((size_t)j * b + i) * c;
            float *oi = out + ((size_t)j * b + i) * c;
            if (kind == CURVO_LOSS_CE) {
                float pz = 0.0f;
                for (int m = 0; m < c; m++) pz += pi[m] * zi[m];
                for (int m = 0; m < c; m++) oi[m] = scale * pi[m] * (zi[m] - pz);
            } else if (kind == CURVO_LOSS_MSE) {
                for (int m = 0; m < c; m++) oi[m] = scale * zi[m];
            } else {
                for (int m = 0; m < c; m++) oi[m] = scale * pi[m] * (1.0f - pi[m]) * zi[m];
            }
        }
}

int loss_hess_factor(curvo_loss_kind kind, const float *p, const curvo_batch *bt, int b, int c, double *out) {
    size_t cc = (size_t)c * c;
    memset(out, 0, (size_t)b * cc * sizeof(double));
    for (int i = 0; i < b; i++) {
        const float *pi = p + (size_t)i * c;
        double *Li = out + (size_t)i * cc;
        if (loss_is_selected(kind)) { /* diag(sqrt(eps)) with sqrt(q_i + eps) at the selected output */
            for (int m = 0; m < c; m++) Li[(size_t)m * c + m] = sqrt(CURVO_LOSS_FACTOR_EPS);
            size_t a = (size_t)bt->labels[i];
            Li[a * c + a] = sqrt(loss_row_q(kind, p, bt, c, i));
        } else if (kind == CURVO_LOSS_MSE) {
            for (int m = 0; m < c; m++) Li[(size_t)m * c + m] = 1.0;
        } else if (kind == CURVO_LOSS_BCE) {
            for (int m = 0; m < c; m++)
                Li[(size_t)m * c + m] = sqrt((double)pi[m] * (1.0 - pi[m]) + CURVO_LOSS_FACTOR_EPS);
        } else {
            for (int r = 0; r < c; r++)
                for (int s = 0; s <= r; s++)
                    Li[(size_t)r * c + s] = (r == s ? (double)pi[r] + CURVO_LOSS_FACTOR_EPS : 0.0) -
                                    (double)pi[r] * pi[s];
            if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', c, Li, c) != 0) return CURVO_E_NUMERIC;
        }
    }
    return CURVO_OK;
}

void loss_factor_seeds(const double *Lf, int b, int c, double *seeds) {
    for (int j = 0; j < c; j++)
        for (int i = 0; i < b; i++)
            for (int q = 0; q < c; q++)
                seeds[((size_t)j * b + i) * c + q] = Lf[(size_t)i * c * c + (size_t)q * c + j];
}

void loss_residual(curvo_loss_kind kind, const float *p, const curvo_batch *bt, int c, double *r) {
    if (loss_is_selected(kind)) { /* r_i = -dl/df_a e_a */
        memset(r, 0, (size_t)bt->b * c * sizeof(double));
        for (int i = 0; i < bt->b; i++) {
            double l, dl, q;
            selected(kind, p, bt, c, i, &l, &dl, &q);
            r[(size_t)i * c + bt->labels[i]] = -dl;
        }
        return;
    }
    for (int i = 0; i < bt->b; i++)
        for (int k = 0; k < c; k++)
            r[(size_t)i * c + k] = (double)target(kind, bt, c, i, k) - p[(size_t)i * c + k];
}
