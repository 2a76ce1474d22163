/* batchnorm.c — batch normalization over the batch, per channel (torch.nn.BatchNorm2d; after a dense
 * layer the input (b, C) is (b, C, 1, 1)). Parameters: gamma (C) then beta (C), initialised 1 and 0.
 * State (model.h's state buffer, never a parameter): running mean (C) then running variance (C),
 * initialised 0 and 1.
 *
 * For one channel, over its N = b*H*W values x_n (n runs over samples and positions):
 *   mu = mean(x),  var = mean((x - mu)^2) (biased),  s = (var + eps)^(-1/2),  eps = 1e-5
 *   xh_n = (x_n - mu) s,   y_n = gamma xh_n + beta
 * Training mode uses the batch's mu and s: every output depends on every sample of the batch (the
 * module couples the samples, module.h). A pass with mode.update_state also moves the running
 * statistics, as torch does, with momentum 0.1 and the UNBIASED variance:
 *   rmean = 0.9 rmean + 0.1 mu,   rvar = 0.9 rvar + 0.1 var N / (N - 1)
 * (a batch with N = 1 leaves them as they are: its unbiased variance does not exist).
 * Evaluation mode uses mu = rmean and s = (rvar + eps)^(-1/2): a fixed per-sample affine map.
 * mean() below is (1/N) sum over the channel's N values; sums are taken in double.
 *
 * Derivatives in training mode (the exact ones of the batch-coupled function; in evaluation mode
 * every mean(...) term and sdot vanish and s is the constant one):
 *   jvp   xhdot = s (xdot - mean(xdot) - xh mean(xh xdot))
 *         ydot  = gamma xhdot + gammadot xh + betadot
 *   vjp   g = gamma dy   (the cotangent of xh)
 *         dx = s r,  r = g - mean(g) - xh mean(g xh)
 *         dgamma += sum dy xh,   dbeta += sum dy
 *   soa   the tangent of the vjp along (xdot, gammadot, betadot) with dy's tangent dydot:
 *         gdot = gammadot dy + gamma dydot
 *         sdot = -s^2 mean(xh xdot)                        (d var = 2 mean(xh xdot) / s)
 *         rdot = gdot - mean(gdot) - xhdot mean(g xh) - xh (mean(gdot xh) + mean(g xhdot))
 *         dxdot = sdot r + s rdot
 *         dgammadot += sum (dydot xh + dy xhdot),   dbetadot += sum dydot
 *         The terms in sdot, mean(g xhdot) and xhdot mean(g xh) are the second derivatives
 *         through the batch's mean and variance; with them, Hessian-vector products of a loss over
 *         the batch-coupled network are exact.
 *   gram  the per-sample gradient rows of gamma and beta, [sum_p dy_{j,i,c,p} xh_{i,c,p}]_c and
 *         [sum_p dy_{j,i,c,p}]_c: exact also in training mode, because y_i depends on gamma and
 *         beta only through its own gamma xh_i + beta (the coupling is in xh, which does not
 *         depend on them). The modules BELOW a training-mode batchnorm have no per-sample rows;
 *         the curvature layer refuses their Gram (curvature.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

int nn_batchnorm_setup(module *m) {
    m->ops = &nn_batchnorm_ops;
    m->out_c = m->in_c;
    m->out_h = m->in_h;
    m->out_w = m->in_w;
    m->n_params = 2 * (size_t)m->in_c;
    m->n_state = 2 * (size_t)m->in_c;
    m->couples_batch = 1;
    return CURVO_OK;
}

/* The workspace: what forward fills (the mode it ran in, the per-channel mean and scale s it used)
 * and the actions' small scratch (per-channel sums and coefficients, a row accumulator). The
 * normalized input xh = (x - mu) s is not kept: each action recomputes it from its input x (in the
 * context) into the pass's scratch (nn_ctx.scratch), by the same lincomb as forward, so bit for bit
 * the same; soa's xhdot of one tangent follows it there. Two batch-sized areas of scratch, shared
 * with the pass's other modules, in place of one per batchnorm kept from forward. */
typedef struct bn_ws {
    int training;
    double *mean, *s; /* (C) each */
    double *sums;     /* (7, C) scratch: per-channel sums */
    double *k[5];     /* (C) each, scratch: per-channel coefficients of lincomb */
    double *acc;      /* (C + H*W) scratch: lincomb's row */
    float *xh;        /* (b, C, H*W) in the scratch, once bn_xh has filled it */
} bn_ws;

#define BN_SUMS 7
#define BN_COEFS 5

static size_t bn_doubles(const module *m) {
    size_t C = (size_t)m->in_c;
    return 1 + (2 + BN_SUMS + BN_COEFS) * C + C + (size_t)m->in_h * m->in_w;
}

static size_t bn_ws_bytes(const module *m, int b) {
    (void)b;
    return sizeof(double) * bn_doubles(m);
}

static size_t bn_scratch_bytes(const module *m, int b) { return 2 * (size_t)b * module_in_size(m) * sizeof(float); }

static bn_ws ws_of(const module *m, void *ws) {
    size_t C = (size_t)m->in_c;
    double *d = ws;
    bn_ws w;
    w.training = d[0] != 0.0;
    w.mean = d + 1;
    w.s = w.mean + C;
    w.sums = w.s + C;
    for (int t = 0; t < BN_COEFS; t++) w.k[t] = w.sums + (BN_SUMS + t) * C;
    w.acc = w.k[BN_COEFS - 1] + C;
    w.xh = NULL;
    return w;
}

static void bn_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    (void)rng;
    (void)next_is_rectifier;
    size_t C = (size_t)m->in_c;
    for (size_t c = 0; c < C; c++) theta[c] = 1.0f, theta[C + c] = 0.0f;
}

static void bn_init_state(const module *m, float *state) {
    size_t C = (size_t)m->in_c;
    for (size_t c = 0; c < C; c++) state[c] = 0.0f, state[C + c] = 1.0f;
}

/* out[c] = sum over samples and positions of a (b, C, P) times w (same shape; NULL: 1). */
static void chan_sum(const float *a, const float *w, int b, int C, int P, double *out) {
    for (int c = 0; c < C; c++) out[c] = 0.0;
    if (P == 1) { /* (b, C): rows, vectorised along the channels */
        for (int i = 0; i < b; i++) {
            const float *ai = a + (size_t)i * C, *wi = w ? w + (size_t)i * C : NULL;
            if (wi)
                for (int c = 0; c < C; c++) out[c] += (double)ai[c] * wi[c];
            else
                for (int c = 0; c < C; c++) out[c] += ai[c];
        }
        return;
    }
    for (int i = 0; i < b; i++)
        for (int c = 0; c < C; c++) {
            const float *ai = a + ((size_t)i * C + c) * P;
            const float *wi = w ? w + ((size_t)i * C + c) * P : NULL;
            double t = 0.0;
            if (wi)
                for (int p = 0; p < P; p++) t += (double)ai[p] * wi[p];
            else
                for (int p = 0; p < P; p++) t += ai[p];
            out[c] += t;
        }
}

/* out (b, C, P) = sum_t k[t][c] in[t] + k0[c] over nt inputs of the same shape, in double; out may
 * be one of the inputs (each row is read before it is written). Every elementwise step of this
 * file is one such per-channel linear combination. */
static void lincomb(const bn_ws *w, float *out, int b, int C, int P, int nt, const float *const *in,
                    const double *const *k, const double *k0) {
    double *acc = w->acc;
    for (int i = 0; i < b; i++) {
        if (P == 1) { /* a row of C channels */
            size_t o = (size_t)i * C;
            for (int c = 0; c < C; c++) acc[c] = k0[c];
            for (int t = 0; t < nt; t++) {
                const float *x = in[t] + o;
                const double *kt = k[t];
                for (int c = 0; c < C; c++) acc[c] += kt[c] * x[c];
            }
            for (int c = 0; c < C; c++) out[o + c] = (float)acc[c];
            continue;
        }
        for (int c = 0; c < C; c++) { /* a map of P positions */
            size_t o = ((size_t)i * C + c) * P;
            for (int p = 0; p < P; p++) acc[p] = k0[c];
            for (int t = 0; t < nt; t++) {
                const float *x = in[t] + o;
                double kt = k[t][c];
                for (int p = 0; p < P; p++) acc[p] += kt * x[p];
            }
            for (int p = 0; p < P; p++) out[o + p] = (float)acc[p];
        }
    }
}

static void bn_forward_mode(const module *m, const float *theta, float *state, const nn_mode *mode,
                            const float *x, float *y, void *ws, int b) {
    int C = m->in_c, P = m->in_h * m->in_w;
    double N = (double)b * P;
    double *hdr = ws;
    hdr[0] = mode->training ? 1.0 : 0.0;
    bn_ws w = ws_of(m, ws);
    if (mode->training) {
        chan_sum(x, NULL, b, C, P, w.mean);
        for (int c = 0; c < C; c++) w.mean[c] /= N, w.k[0][c] = 1.0, w.k[1][c] = -w.mean[c];
        /* the variance from centred values (two passes): y holds x - mu for now */
        lincomb(&w, y, b, C, P, 1, &x, (const double *const *)&w.k[0], w.k[1]);
        chan_sum(y, y, b, C, P, w.s);
        for (int c = 0; c < C; c++) {
            double var = w.s[c] / N;
            if (mode->update_state && state && N > 1.0) {
                state[c] = (float)((1.0 - BN_MOMENTUM) * state[c] + BN_MOMENTUM * w.mean[c]);
                state[C + c] = (float)((1.0 - BN_MOMENTUM) * state[C + c] + BN_MOMENTUM * var * N / (N - 1.0));
            }
            w.s[c] = 1.0 / sqrt(var + BN_EPS);
        }
    } else {
        for (int c = 0; c < C; c++) {
            w.mean[c] = state ? state[c] : 0.0;
            w.s[c] = 1.0 / sqrt((state ? (double)state[C + c] : 1.0) + BN_EPS);
        }
    }
    const float *gamma = theta, *beta = theta + C;
    for (int c = 0; c < C; c++) w.k[1][c] = -w.s[c] * w.mean[c], w.k[2][c] = gamma[c], w.k[3][c] = beta[c];
    lincomb(&w, y, b, C, P, 1, &x, (const double *const *)&w.s, w.k[1]); /* y = xh = (x - mu) s */
    const float *xh = y;
    lincomb(&w, y, b, C, P, 1, &xh, (const double *const *)&w.k[2], w.k[3]); /* y = gamma xh + beta, in place */
}

/* xh = (x - mu) s of the context's input into the scratch's first area (w->xh), as forward computes it. */
static void bn_xh(const module *m, const nn_ctx *c, bn_ws *w) {
    int C = m->in_c, P = m->in_h * m->in_w;
    float *xh = c->scratch;
    for (int q = 0; q < C; q++) w->k[4][q] = -w->s[q] * w->mean[q];
    lincomb(w, xh, c->b, C, P, 1, &c->x, (const double *const *)&w->s, w->k[4]);
    w->xh = xh;
}

/* The plain forward of module_ops: training mode, no state. */
static void bn_forward(const module *m, const float *theta, const float *x, float *y, void *ws, int b) {
    nn_mode mode = {1, 0};
    bn_forward_mode(m, theta, NULL, &mode, x, y, ws, b);
}

/* xhdot (b, C, P) of one tangent xdot (NULL: zero); s1 and sx (C) receive sum xdot and sum xh xdot
 * (zero in evaluation mode, which has no batch terms). Uses w->k[0..2]. */
static void xh_tangent(const bn_ws *w, const float *xdot, int b, int C, int P, float *xhdot, double *s1,
                       double *sx) {
    size_t len = (size_t)b * C * P;
    for (int c = 0; c < C; c++) s1[c] = sx[c] = 0.0;
    if (!xdot) {
        memset(xhdot, 0, len * sizeof(float));
        return;
    }
    double N = (double)b * P;
    if (w->training) {
        chan_sum(xdot, NULL, b, C, P, s1);
        chan_sum(xdot, w->xh, b, C, P, sx);
    }
    /* xhdot = s xdot - s mean(xh xdot) xh - s mean(xdot) */
    for (int c = 0; c < C; c++) w->k[0][c] = w->s[c], w->k[1][c] = -w->s[c] * sx[c] / N, w->k[2][c] = -w->s[c] * s1[c] / N;
    const float *in[2] = {xdot, w->xh};
    lincomb(w, xhdot, b, C, P, 2, in, (const double *const *)w->k, w->k[2]);
}

static void bn_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                   size_t ldt) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    size_t len = (size_t)b * C * P;
    double N = (double)b * P;
    bn_ws w = ws_of(m, c->ws);
    bn_xh(m, c, &w);
    const float *gamma = c->theta;
    double *s1 = w.sums, *sx = w.sums + C;
    for (int j = 0; j < k; j++) {
        const float *dyj = dy + (size_t)j * len;
        chan_sum(dyj, NULL, b, C, P, s1); /* sum dy */
        chan_sum(dyj, w.xh, b, C, P, sx); /* sum dy xh */
        if (dtheta) {
            float *dt = dtheta + (size_t)j * ldt;
            for (int q = 0; q < C; q++) dt[q] += (float)sx[q], dt[C + q] += (float)s1[q];
        }
        if (!dx) continue;
        /* dx = gamma s (dy - mean(dy) - xh mean(dy xh)), the batch terms only in training mode */
        for (int q = 0; q < C; q++) {
            double gs = gamma[q] * w.s[q], tr = w.training ? 1.0 : 0.0;
            w.k[0][q] = gs, w.k[1][q] = -tr * gs * sx[q] / N, w.k[2][q] = -tr * gs * s1[q] / N;
        }
        const float *in[2] = {dyj, w.xh};
        lincomb(&w, dx + (size_t)j * len, b, C, P, 2, in, (const double *const *)w.k, w.k[2]);
    }
}

static void bn_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   int k, float *ydot) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    size_t len = (size_t)b * C * P;
    bn_ws w = ws_of(m, c->ws);
    bn_xh(m, c, &w);
    const float *gamma = c->theta;
    double *s1 = w.sums, *sx = w.sums + C;
    for (int j = 0; j < k; j++) {
        float *yj = ydot + (size_t)j * len;
        xh_tangent(&w, xdot ? xdot + (size_t)j * len : NULL, b, C, P, yj, s1, sx); /* xhdot, in place */
        const float *td = thetadot ? thetadot + (size_t)j * ldt : NULL;
        /* ydot = gamma xhdot + gammadot xh + betadot */
        for (int q = 0; q < C; q++)
            w.k[0][q] = gamma[q], w.k[1][q] = td ? td[q] : 0.0, w.k[2][q] = td ? td[C + q] : 0.0;
        const float *in[2] = {yj, w.xh};
        lincomb(&w, yj, b, C, P, 2, in, (const double *const *)w.k, w.k[2]);
    }
}

static void bn_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   const float *dy, const float *dydot, int k, float *dxdot, float *dthetadot) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    size_t len = (size_t)b * C * P;
    double N = (double)b * P;
    bn_ws w = ws_of(m, c->ws);
    bn_xh(m, c, &w);
    const float *gamma = c->theta;
    /* per channel: A1 = sum dy, A2 = sum dy xh (the same for every tangent); B1 = sum xdot,
     * B2 = sum xh xdot, C1 = sum dydot, C2 = sum dydot xh, D = sum dy xhdot (per tangent) */
    double *buf = w.sums;
    float *xhd = (float *)c->scratch + len; /* (b, C, P) xhdot of one tangent, after xh */
    double *A1 = buf, *A2 = buf + C, *B1 = buf + 2 * C, *B2 = buf + 3 * C, *C1 = buf + 4 * C, *C2 = buf + 5 * C,
           *D = buf + 6 * C;
    chan_sum(dy, NULL, b, C, P, A1);
    chan_sum(dy, w.xh, b, C, P, A2);
    for (int j = 0; j < k; j++) {
        const float *ddj = dydot + (size_t)j * len;
        const float *xdj = xdot ? xdot + (size_t)j * len : NULL;
        const float *td = thetadot ? thetadot + (size_t)j * ldt : NULL;
        xh_tangent(&w, xdj, b, C, P, xhd, B1, B2);
        chan_sum(ddj, NULL, b, C, P, C1);
        chan_sum(ddj, w.xh, b, C, P, C2);
        chan_sum(dy, xhd, b, C, P, D);
        if (dthetadot) {
            float *dt = dthetadot + (size_t)j * ldt;
            for (int q = 0; q < C; q++) dt[q] += (float)(C2[q] + D[q]), dt[C + q] += (float)C1[q];
        }
        if (!dxdot) continue;
        /* dxdot = sdot r + s rdot with r = g dy - mg - xh mgx and
         * rdot = gd dy + g dydot - mgd - xhd mgx - xh mgdx, collected per input:
         * dy (sdot g + s gd) + dydot (s g) + xh (-sdot mgx - s mgdx) + xhd (-s mgx) - sdot mg - s mgd */
        for (int q = 0; q < C; q++) {
            double s = w.s[q], g = gamma[q], gd = td ? td[q] : 0.0;
            double tr = w.training ? 1.0 : 0.0; /* batch terms (none in evaluation mode) */
            double mg = tr * g * A1[q] / N, mgx = tr * g * A2[q] / N;
            double mgd = tr * (gd * A1[q] + g * C1[q]) / N;             /* mean(gdot) */
            double mgdx = tr * (gd * A2[q] + g * C2[q] + g * D[q]) / N; /* mean(gdot xh) + mean(g xhdot) */
            double sdot = -tr * s * s * B2[q] / N;
            w.k[0][q] = sdot * g + s * gd;
            w.k[1][q] = s * g;
            w.k[2][q] = -sdot * mgx - s * mgdx;
            w.k[3][q] = -s * mgx;
            w.k[4][q] = -sdot * mg - s * mgd;
        }
        const float *in[4] = {dy, ddj, w.xh, xhd};
        lincomb(&w, dxdot + (size_t)j * len, b, C, P, 4, in, (const double *const *)w.k, w.k[4]);
    }
}

/* rows (k*b, 2C), row j*b + i: [sum_p dy_{j,i,c,p} xh_{i,c,p}]_c then [sum_p dy_{j,i,c,p}]_c. */
static int bn_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *rows) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    bn_ws w = ws_of(m, c->ws);
    bn_xh(m, c, &w);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            float *row = rows + ((size_t)j * b + i) * 2 * C;
            for (int q = 0; q < C; q++) {
                size_t o = ((size_t)i * C + q) * P;
                const float *d = dy + (size_t)j * b * C * P + o;
                double sx = 0.0, s1 = 0.0;
                for (int p = 0; p < P; p++) sx += (double)d[p] * w.xh[o + p], s1 += d[p];
                row[q] = (float)sx;
                row[C + q] = (float)s1;
            }
        }
    return CURVO_OK;
}

const module_ops nn_batchnorm_ops = {
    .name = "batchnorm",
    .ws_bytes = bn_ws_bytes,
    .scratch_bytes = bn_scratch_bytes,
    .init = bn_init,
    .forward = bn_forward,
    .vjp = bn_vjp,
    .jvp = bn_jvp,
    .soa = bn_soa,
    .gram = nn_gram_from_rows,
    .gram_rows = bn_gram_rows,
    .gram_reads_ws = 1,
    .forward_mode = bn_forward_mode,
    .init_state = bn_init_state,
};
