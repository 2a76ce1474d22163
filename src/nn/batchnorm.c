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
 * mean() below is (1/N) sum over the channel's N values.
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
 * How it runs: every action is a few passes over the batch: per-channel sums (in double, in
 * vectorized partial sums, lanes.h), then one elementwise pass whose per-channel coefficients fold
 * the sums in (forward: two passes of sums for the mean and the variance, then y = gamma s x +
 * (beta - gamma s mu); vjp and jvp: one pass of sums, then one write). The sums split the channels
 * over OpenMP threads, each channel summed by one thread over the samples in order; the elementwise
 * passes split the (sample, channel) rows. Results do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/lanes.h"
#include "nn/module.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1
/* below this many elements a loop is not worth starting threads for */
#define BN_OMP_MIN 16384
/* positions per block of lincomb's double accumulator (on the stack) */
#define BN_CHUNK 256

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
 * and the actions' small scratch (per-channel sums and coefficients). The normalized input
 * xh = (x - mu) s is not kept: the vjp, jvp and Gram rows use x - mu in its place (sums of
 * (x - mu) d, and xh's coefficient moved onto x), and the soa recomputes xh from its input x (in
 * the context) into the pass's scratch (nn_ctx.scratch); soa's xhdot of one tangent follows it
 * there. Two batch-sized areas of scratch, shared with the pass's other modules. */
typedef struct bn_ws {
    int training;
    double *mean, *s; /* (C) each */
    double *sums;     /* (8, C) scratch: per-channel sums */
    double *k[5];     /* (C) each, scratch: per-channel coefficients */
    float *xh;        /* (b, C, H*W) in the scratch, once bn_xh has filled it (soa) */
} bn_ws;

#define BN_SUMS 8
#define BN_COEFS 5

static size_t bn_doubles(const module *m) {
    size_t C = (size_t)m->in_c;
    return 1 + (2 + BN_SUMS + BN_COEFS) * C;
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

/* Per channel c of the (b, C, P) arrays: mean[c] = mean of x, ssq[c] = sum (x - mean[c])^2 (two
 * passes: the variance does not cancel). One thread per channel adds its rows over the samples in
 * order, so the sums do not depend on the thread count. */
static void chan_stats(const float *x, int b, int C, int P, double *mean, double *ssq) {
    double N = (double)b * P;
#pragma omp parallel for schedule(static) if ((size_t)b * C * P >= BN_OMP_MIN)
    for (int c = 0; c < C; c++) {
        double t = 0.0, q = 0.0;
        for (int i = 0; i < b; i++) t += lane_sum(x + ((size_t)i * C + c) * P, (size_t)P);
        t /= N;
        for (int i = 0; i < b; i++) q += lane_sqdev(x + ((size_t)i * C + c) * P, t, (size_t)P);
        mean[c] = t, ssq[c] = q;
    }
}

/* Per channel c of the (b, C, P) arrays x and d: s1[c] = sum d, s2[c] = sum (x - mu[c]) d (mu NULL:
 * zero), in one pass; threads as chan_stats. */
static void chan_sums2(const float *x, const double *mu, const float *d, int b, int C, int P, double *s1,
                       double *s2) {
#pragma omp parallel for schedule(static) if ((size_t)b * C * P >= BN_OMP_MIN)
    for (int c = 0; c < C; c++) {
        double t1 = 0.0, t2 = 0.0, u[2];
        for (int i = 0; i < b; i++) {
            size_t o = ((size_t)i * C + c) * P;
            lane_sums2(x + o, mu ? mu[c] : 0.0, d + o, (size_t)P, u);
            t1 += u[0], t2 += u[1];
        }
        s1[c] = t1, s2[c] = t2;
    }
}

/* out (b, C, P) = ka[c] a + kx[c] x + k0[c], each element in double (a or x NULL: no such term);
 * out may be a or x (each element is read before it is written). One thread per (sample, channel)
 * row. */
static void chan_affine(float *out, const float *a, const double *ka, const float *x, const double *kx,
                        const double *k0, int b, int C, int P) {
    long rows = (long)b * C;
#pragma omp parallel for schedule(static) if ((size_t)rows * P >= BN_OMP_MIN)
    for (long t = 0; t < rows; t++) {
        int c = (int)(t % C);
        size_t o = (size_t)t * P;
        double A = a ? ka[c] : 0.0, X = x ? kx[c] : 0.0, K = k0[c];
        float *yo = out + o;
        if (a && x) {
            const float *ao = a + o, *xo = x + o;
            for (int p = 0; p < P; p++) yo[p] = (float)(A * ao[p] + X * xo[p] + K);
        } else if (a || x) {
            const float *ao = a ? a + o : x + o;
            double M = a ? A : X;
            for (int p = 0; p < P; p++) yo[p] = (float)(M * ao[p] + K);
        } else {
            for (int p = 0; p < P; p++) yo[p] = (float)K;
        }
    }
}

/* out (b, C, P) = sum_t k[t][c] in[t] + k0[c] over nt inputs of the same shape, in double, by blocks
 * of positions; out may be one of the inputs. One thread per (sample, channel) row. */
static void lincomb(float *out, int nt, const float *const *in, const double *const *k, const double *k0,
                    int b, int C, int P) {
    long rows = (long)b * C;
#pragma omp parallel for schedule(static) if ((size_t)rows * P * nt >= BN_OMP_MIN)
    for (long t = 0; t < rows; t++) {
        int c = (int)(t % C);
        size_t o = (size_t)t * P;
        double acc[BN_CHUNK];
        for (int p0 = 0; p0 < P; p0 += BN_CHUNK) {
            int n = P - p0 < BN_CHUNK ? P - p0 : BN_CHUNK;
            for (int p = 0; p < n; p++) acc[p] = k0[c];
            for (int q = 0; q < nt; q++) {
                const float *v = in[q] + o + p0;
                double kq = k[q][c];
                for (int p = 0; p < n; p++) acc[p] += kq * v[p];
            }
            for (int p = 0; p < n; p++) out[o + p0 + p] = (float)acc[p];
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
        chan_stats(x, b, C, P, w.mean, w.s); /* s holds the sums of squares for now */
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
    /* y = gamma s (x - mu) + beta, one pass */
    const float *gamma = theta, *beta = theta + C;
    for (int c = 0; c < C; c++) w.k[0][c] = gamma[c] * w.s[c], w.k[1][c] = beta[c] - w.k[0][c] * w.mean[c];
    chan_affine(y, x, w.k[0], NULL, NULL, w.k[1], b, C, P);
}

/* xh = (x - mu) s of the context's input into the scratch's first area (w->xh). */
static void bn_xh(const module *m, const nn_ctx *c, bn_ws *w) {
    int C = m->in_c, P = m->in_h * m->in_w;
    float *xh = c->scratch;
    for (int q = 0; q < C; q++) w->k[4][q] = -w->s[q] * w->mean[q];
    chan_affine(xh, c->x, w->s, NULL, NULL, w->k[4], c->b, C, P);
    w->xh = xh;
}

/* The plain forward of module_ops: training mode, no state. */
static void bn_forward(const module *m, const float *theta, const float *x, float *y, void *ws, int b) {
    nn_mode mode = {1, 0};
    bn_forward_mode(m, theta, NULL, &mode, x, y, ws, b);
}

/* xhdot (b, C, P) of one tangent xdot (NULL: zero) from w->xh; s1 and sx (C) receive sum xdot and
 * sum xh xdot (zero in evaluation mode, which has no batch terms). Uses w->k[0..2]. */
static void xh_tangent(const bn_ws *w, const float *xdot, int b, int C, int P, float *xhdot, double *s1,
                       double *sx) {
    size_t len = (size_t)b * C * P;
    for (int c = 0; c < C; c++) s1[c] = sx[c] = 0.0;
    if (!xdot) {
        memset(xhdot, 0, len * sizeof(float));
        return;
    }
    double N = (double)b * P;
    if (w->training) chan_sums2(w->xh, NULL, xdot, b, C, P, s1, sx);
    /* xhdot = s xdot - s mean(xh xdot) xh - s mean(xdot) */
    for (int c = 0; c < C; c++) w->k[0][c] = w->s[c], w->k[1][c] = -w->s[c] * sx[c] / N, w->k[2][c] = -w->s[c] * s1[c] / N;
    chan_affine(xhdot, xdot, w->k[0], w->xh, w->k[1], w->k[2], b, C, P);
}

/* The vjp and jvp below never form xh: with xh = s x - s mu, a term K xh is (K s) x - K s mu, and
 * sum d xh = s sum (x - mu) d (chan_sums2 with mu). */
static void bn_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx, float *dtheta,
                   size_t ldt) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    size_t len = (size_t)b * C * P;
    double N = (double)b * P, tr = 0.0;
    bn_ws w = ws_of(m, c->ws);
    if (w.training) tr = 1.0;
    const float *gamma = c->theta;
    double *s1 = w.sums, *sm = w.sums + C; /* sum dy, sum (x - mu) dy */
    for (int j = 0; j < k; j++) {
        const float *dyj = dy + (size_t)j * len;
        chan_sums2(c->x, w.mean, dyj, b, C, P, s1, sm);
        if (dtheta) { /* dgamma += sum dy xh, dbeta += sum dy */
            float *dt = dtheta + (size_t)j * ldt;
            for (int q = 0; q < C; q++) dt[q] += (float)(w.s[q] * sm[q]), dt[C + q] += (float)s1[q];
        }
        if (!dx) continue;
        /* dx = gamma s (dy - mean(dy) - xh mean(dy xh)), the batch terms only in training mode */
        for (int q = 0; q < C; q++) {
            double gs = gamma[q] * w.s[q], kxh = -tr * gs * w.s[q] * sm[q] / N;
            w.k[0][q] = gs, w.k[1][q] = kxh * w.s[q];
            w.k[2][q] = -tr * gs * s1[q] / N - kxh * w.s[q] * w.mean[q];
        }
        chan_affine(dx + (size_t)j * len, dyj, w.k[0], c->x, w.k[1], w.k[2], b, C, P);
    }
}

static void bn_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot, size_t ldt,
                   int k, float *ydot) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    size_t len = (size_t)b * C * P;
    double N = (double)b * P;
    bn_ws w = ws_of(m, c->ws);
    const float *gamma = c->theta;
    double *s1 = w.sums, *sm = w.sums + C; /* sum xdot, sum (x - mu) xdot */
    for (int j = 0; j < k; j++) {
        const float *xd = xdot ? xdot + (size_t)j * len : NULL;
        const float *td = thetadot ? thetadot + (size_t)j * ldt : NULL;
        if (xd && w.training) {
            chan_sums2(c->x, w.mean, xd, b, C, P, s1, sm);
        } else {
            for (int q = 0; q < C; q++) s1[q] = sm[q] = 0.0;
        }
        /* ydot = gamma xhdot + gammadot xh + betadot with xhdot = s xdot - s mean(xh xdot) xh - s mean(xdot):
         * gamma s xdot + kxh xh + (betadot - gamma s mean(xdot)), kxh = gammadot - gamma s^2 mean((x - mu) xdot) */
        for (int q = 0; q < C; q++) {
            double gs = gamma[q] * w.s[q], gd = td ? td[q] : 0.0, bd = td ? td[C + q] : 0.0;
            double kxh = gd - gs * w.s[q] * sm[q] / N;
            w.k[0][q] = gs, w.k[1][q] = kxh * w.s[q];
            w.k[2][q] = bd - gs * s1[q] / N - kxh * w.s[q] * w.mean[q];
        }
        chan_affine(ydot + (size_t)j * len, xd, w.k[0], c->x, w.k[1], w.k[2], b, C, P);
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
           *D = buf + 6 * C, *unused = buf + 7 * C;
    chan_sums2(w.xh, NULL, dy, b, C, P, A1, A2);
    for (int j = 0; j < k; j++) {
        const float *ddj = dydot + (size_t)j * len;
        const float *xdj = xdot ? xdot + (size_t)j * len : NULL;
        const float *td = thetadot ? thetadot + (size_t)j * ldt : NULL;
        xh_tangent(&w, xdj, b, C, P, xhd, B1, B2);
        chan_sums2(w.xh, NULL, ddj, b, C, P, C1, C2);
        chan_sums2(xhd, NULL, dy, b, C, P, unused, D);
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
        lincomb(dxdot + (size_t)j * len, 4, in, (const double *const *)w.k, w.k[4], b, C, P);
    }
}

/* rows (k*b, 2C), row j*b + i: [sum_p dy_{j,i,c,p} xh_{i,c,p}]_c then [sum_p dy_{j,i,c,p}]_c, with
 * sum dy xh = s sum (x - mu) dy. */
static int bn_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *rows) {
    int C = m->in_c, P = m->in_h * m->in_w, b = c->b;
    bn_ws w = ws_of(m, c->ws);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < b; i++) {
            float *row = rows + ((size_t)j * b + i) * 2 * C;
            for (int q = 0; q < C; q++) {
                size_t o = ((size_t)i * C + q) * P;
                double u[2];
                lane_sums2(c->x + o, w.mean[q], dy + (size_t)j * b * C * P + o, (size_t)P, u);
                row[q] = (float)(w.s[q] * u[1]);
                row[C + q] = (float)u[0];
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
