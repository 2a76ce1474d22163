/* norm.c — group normalization (torch.nn.GroupNorm semantics) and layer normalization, which is
 * group normalization with one group: one implementation, two spec names ("groupnorm:G",
 * "layernorm"). Per sample, NCHW: x (C, H, W) -> y (C, H, W); the C channels form G groups of
 * C/G consecutive channels, so a group is a contiguous block of m = (C/G) H W values of a sample.
 * Parameters: gamma (C), then beta (C), one scale and one shift per channel (init 1 and 0).
 * Per group, with eps = 1e-5 (as torch), means <.> over the group's m values:
 *   mu = <x>,  v = <(x - mu)^2>,  s = (v + eps)^-1/2,  xh = s (x - mu),  y = gamma_c xh + beta_c
 * The differential of xh (exact with eps: ds = -s^2 <xh dx>):
 *   dxh = s (dx - <dx> - xh <xh dx>),  a symmetric map, so it is its own adjoint.
 * With g = gamma_c dy the adjoint of xh:
 *   vjp:  dx = s (g - <g> - xh <xh g>);  dgamma_c += sum_{e in c} dy xh;  dbeta_c += sum_{e in c} dy
 *   jvp:  ydot = gamma_c xhdot + gammadot_c xh + betadot_c,  xhdot = s (xdot - <xdot> - xh <xh xdot>)
 *   soa:  the tangent of the vjp along (xdot, gammadot, betadot, dydot); with
 *         gdot = gammadot_c dy + gamma_c dydot,  sdot = -s^2 <xh xdot>,  and xhdot as in the jvp:
 *         dxdot = (sdot / s) dx + s (gdot - <gdot> - xhdot <xh g> - xh (<xhdot g> + <xh gdot>))
 *               = -s <xh xdot> dx + s (gdot - <gdot> - xhdot <xh g> - xh (<xhdot g> + <xh gdot>)),
 *         where <xhdot g> = s (<xdot g> - <xdot><g> - <xh xdot><xh g>);
 *         dgammadot_c += sum_{e in c} (dydot xh + dy xhdot);  dbetadot_c += sum_{e in c} dydot.
 *         The terms in sdot and xhdot are the second derivatives of the normalization (beta does
 *         not enter the vjp, so betadot does not enter the soa).
 *   gram: the per-sample gradient of cotangent row (j, i) is [sum_{e in c} dy xh, sum_{e in c} dy]
 *         over the channels c, 2C numbers: rows (k*b, 2C) are materialised (gram_rows) and the
 *         Gram block is their inner products (nn_gram_add_rows). The rows are computed from x
 *         alone (the statistics again, not forward's workspace), as the data-parallel Gram calls
 *         them on gathered inputs.
 * How it runs: forward keeps the group statistics in double in the workspace (b, G, 2) = (mu, s).
 * Reductions run in double, in independent partial sums so that they vectorize, and every action
 * reads a channel once for all its sums (the soa: seven of them) and once more to write. The vjp
 * and soa go vector by vector: the (sample, group) pairs split over OpenMP threads, each writing
 * its input adjoint and its per-sample parameter adjoints (the workspace's scratch, (b, C)); then
 * one thread per channel adds those over the samples in order. Every output element is written by
 * one thread in a fixed order, so results do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/lanes.h"
#include "nn/module.h"

#define NORM_EPS 1e-5
/* below this many elements a loop is not worth starting threads for */
#define NORM_OMP_MIN 16384
/* independent partial sums in sums7 (seven sums at once; lanes.h has the others) */
#define NORM_LANES4 4

int nn_groupnorm_setup(module *m, const module_ops *ops, int groups) {
    if (ops != &nn_groupnorm_ops && ops != &nn_layernorm_ops) return CURVO_E_INVALID;
    if (ops == &nn_layernorm_ops) groups = 1;
    if (groups < 1 || m->in_c < 1 || m->in_c % groups != 0) return CURVO_E_SHAPE;
    m->ops = ops;
    m->groups = groups;
    m->out_c = m->in_c;
    m->out_h = m->in_h;
    m->out_w = m->in_w;
    m->n_params = 2 * (size_t)m->in_c;
    return CURVO_OK;
}

/* One group of one sample: its shape and statistics. */
typedef struct group_view {
    size_t hw;    /* positions per channel */
    int cpg;      /* channels in the group */
    double mu, s; /* mean and 1/sqrt(variance + eps) */
} group_view;

static size_t group_len(const group_view *v) { return (size_t)v->cpg * v->hw; }

/* Per-sample sums kept in the workspace after the statistics: NORM_SUMS doubles per (sample,
 * channel). */
#define NORM_SUMS 7

/* In one pass over n values (xdot may be NULL: its sums are zero):
 * out = [sum dy, sum (x - mu) dy, sum dydot, sum (x - mu) dydot, sum xdot, sum (x - mu) xdot,
 *        sum xdot dy] */
static void sums7(const float *restrict x, double mu, const float *restrict xdot,
                  const float *restrict dy, const float *restrict dydot, size_t n, double *out) {
    if (!xdot) {
        lane_sums2(x, mu, dy, n, out);
        lane_sums2(x, mu, dydot, n, out + 2);
        out[4] = out[5] = out[6] = 0.0;
        return;
    }
    double l[NORM_SUMS][NORM_LANES4] = {{0.0}};
    size_t p = 0;
    for (; p + NORM_LANES4 <= n; p += NORM_LANES4)
        for (int q = 0; q < NORM_LANES4; q++) {
            double xc = (double)x[p + q] - mu, a = dy[p + q], b = dydot[p + q], t = xdot[p + q];
            l[0][q] += a, l[1][q] += xc * a, l[2][q] += b, l[3][q] += xc * b;
            l[4][q] += t, l[5][q] += xc * t, l[6][q] += t * a;
        }
    for (int r = 0; r < NORM_SUMS; r++) {
        out[r] = 0.0;
        for (int q = 0; q < NORM_LANES4; q++) out[r] += l[r][q];
    }
    for (; p < n; p++) {
        double xc = (double)x[p] - mu, a = dy[p], b = dydot[p], t = xdot[p];
        out[0] += a, out[1] += xc * a, out[2] += b, out[3] += xc * b;
        out[4] += t, out[5] += xc * t, out[6] += t * a;
    }
}

/* mu and s of the n values of x (two passes: the variance does not cancel) */
static void group_stats(const float *x, size_t n, double *mu, double *s) {
    *mu = lane_sum(x, n) / (double)n;
    *s = 1.0 / sqrt(lane_sqdev(x, *mu, n) / (double)n + NORM_EPS);
}

/* The view of group g of sample i: statistics from forward's workspace (stats != NULL) or
 * computed from the sample's values xg. */
static group_view view_of(const module *m, const double *stats, int i, int g, const float *xg) {
    group_view v = {(size_t)m->in_h * m->in_w, m->in_c / m->groups, 0.0, 0.0};
    if (stats) {
        const double *st = stats + 2 * ((size_t)i * m->groups + g);
        v.mu = st[0], v.s = st[1];
    } else {
        group_stats(xg, group_len(&v), &v.mu, &v.s);
    }
    return v;
}

/* The workspace: the statistics (b, G, 2) = (mu, s) that forward writes, then per-sample sums
 * (b, C, NORM_SUMS), scratch of the vjp and soa. */
static size_t norm_ws_bytes(const module *m, int b) {
    return (size_t)b * (2 * (size_t)m->groups + NORM_SUMS * (size_t)m->in_c) * sizeof(double);
}

static double *norm_sums(const module *m, void *ws, int b) {
    return (double *)ws + 2 * (size_t)b * m->groups;
}

static void norm_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    (void)rng;
    (void)next_is_rectifier;
    size_t c = (size_t)m->in_c;
    for (size_t q = 0; q < c; q++) theta[q] = 1.0f; /* gamma */
    memset(theta + c, 0, c * sizeof(float));        /* beta */
}

/* ydot (m) of one group: gamma, gdot, bdot point at the group's first channel; xdot, gdot, bdot
 * may be NULL (zero). Per channel, ydot = gamma s xdot + cx (x - mu) + c0 with
 * cx = s (gdot - gamma s <xh xdot>), c0 = bdot - gamma s <xdot>. */
static void group_jvp(const group_view *v, const float *restrict x, const float *gamma,
                      const float *restrict xdot, const float *gdot, const float *bdot,
                      float *restrict ydot) {
    double a = 0.0, q = 0.0, s = v->s, mu = v->mu, n = (double)group_len(v);
    if (xdot) { /* <xdot>, <xh xdot> */
        double t[2];
        lane_sums2(x, mu, xdot, group_len(v), t);
        a = t[0] / n, q = s * t[1] / n;
    }
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * v->hw;
        double gm = gamma[cc], gd = gdot ? gdot[cc] : 0.0, bd = bdot ? bdot[cc] : 0.0;
        double c1 = gm * s, cx = s * (gd - gm * s * q), c0 = bd - gm * s * a;
        if (xdot)
            for (size_t p = 0; p < v->hw; p++)
                ydot[o + p] = (float)(c1 * xdot[o + p] + cx * ((double)x[o + p] - mu) + c0);
        else
            for (size_t p = 0; p < v->hw; p++) ydot[o + p] = (float)(cx * ((double)x[o + p] - mu) + c0);
    }
}

/* The vjp of one group: dx (m) overwritten if not NULL; sums (cpg, NORM_SUMS) gets each channel's
 * [sum dy xh, sum dy] (its per-sample dgamma, dbeta) in its first two slots. Per channel,
 * dx = gamma s dy - s <g> - s^2 <xh g> (x - mu). */
static void group_vjp(const group_view *v, const float *restrict x, const float *gamma,
                      const float *restrict dy, float *restrict dx, double *sums) {
    double s = v->s, mu = v->mu, n = (double)group_len(v);
    double g1 = 0.0, g2 = 0.0; /* <g>, <xh g> */
    for (int cc = 0; cc < v->cpg; cc++) {
        double *t = sums + (size_t)cc * NORM_SUMS, u[2];
        lane_sums2(x + (size_t)cc * v->hw, mu, dy + (size_t)cc * v->hw, v->hw, u);
        t[0] = s * u[1], t[1] = u[0];
        g1 += gamma[cc] * t[1];
        g2 += gamma[cc] * t[0];
    }
    if (!dx) return;
    g1 /= n, g2 /= n;
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * v->hw;
        double c1 = gamma[cc] * s, cx = s * s * g2, c0 = s * g1;
        for (size_t p = 0; p < v->hw; p++) dx[o + p] = (float)(c1 * dy[o + p] - cx * ((double)x[o + p] - mu) - c0);
    }
}

/* The soa of one group (see the top comment): dxdot (m) overwritten if not NULL; sums (cpg,
 * NORM_SUMS) gets each channel's per-sample [dgammadot, dbetadot] in its first two slots. xdot and
 * gdot (the gamma tangent) may be NULL (zero). Every group mean comes from one pass of per-channel
 * sums (sums7); the parameter part is sums alone: sum_c dy xhdot = s (sum xdot dy - <xdot> sum dy -
 * <xh xdot> sum xh dy). */
static void group_soa(const group_view *v, const float *restrict x, const float *gamma,
                      const float *gdot, const float *restrict xdot, const float *restrict dy,
                      const float *restrict dydot, float *restrict dxdot, double *sums) {
    double s = v->s, mu = v->mu, n = (double)group_len(v);
    size_t hw = v->hw;
    /* <g>, <xh g>, <xdot g>, <gdot>, <xh gdot>, <xdot>, <xh xdot> */
    double g1 = 0.0, g2 = 0.0, r = 0.0, h1 = 0.0, h2 = 0.0, a = 0.0, q = 0.0;
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * hw;
        double *t = sums + (size_t)cc * NORM_SUMS;
        sums7(x + o, mu, xdot ? xdot + o : NULL, dy + o, dydot + o, hw, t);
        double gm = gamma[cc], gd = gdot ? gdot[cc] : 0.0;
        g1 += gm * t[0], g2 += gm * s * t[1], r += gm * t[6];
        h1 += gd * t[0] + gm * t[2], h2 += s * (gd * t[1] + gm * t[3]);
        a += t[4], q += s * t[5];
    }
    g1 /= n, g2 /= n, r /= n, h1 /= n, h2 /= n, a /= n, q /= n;
    double t = s * (r - a * g1 - q * g2); /* <xhdot g> */
    for (int cc = 0; cc < v->cpg; cc++) {
        double *u = sums + (size_t)cc * NORM_SUMS;
        double sum_dy = u[0], sum_xh_dy = s * u[1], sum_dydot = u[2], sum_xh_dydot = s * u[3];
        u[0] = sum_xh_dydot + s * (u[6] - a * sum_dy - q * sum_xh_dy); /* dgammadot */
        u[1] = sum_dydot;                                              /* dbetadot */
    }
    if (!dxdot) return;
    /* dxdot = -s q dx + s (gdot - h1 - xhdot g2 - xh (t + h2)), with dx = s (g - g1 - xh g2) and
     * xhdot = s (xdot - a - xh q): per channel, cdy dy + cdd dydot + cxd xdot + cx (x - mu) + c0 */
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * hw;
        double gm = gamma[cc], gd = gdot ? gdot[cc] : 0.0;
        double cdy = -s * q * s * gm + s * gd, cdd = s * gm, cxd = -s * s * g2;
        double cx = s * s * (2.0 * s * q * g2 - t - h2);
        double c0 = s * s * q * g1 - s * h1 + s * s * a * g2;
        if (xdot)
            for (size_t p = 0; p < hw; p++)
                dxdot[o + p] = (float)(cdy * dy[o + p] + cdd * dydot[o + p] + cxd * xdot[o + p] +
                                       cx * ((double)x[o + p] - mu) + c0);
        else
            for (size_t p = 0; p < hw; p++)
                dxdot[o + p] = (float)(cdy * dy[o + p] + cdd * dydot[o + p] + cx * ((double)x[o + p] - mu) + c0);
    }
}

static void norm_forward(const module *m, const float *theta, const float *x, float *y, void *ws,
                         int b) {
    double *stats = ws; /* (b, G, 2) */
    int G = m->groups;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    long ngroups = (long)b * G;
#pragma omp parallel for schedule(static) if ((size_t)ngroups * glen >= NORM_OMP_MIN)
    for (long t = 0; t < ngroups; t++) {
        int i = (int)(t / G), g = (int)(t % G);
        size_t off = (size_t)i * in + (size_t)g * glen;
        group_view v = view_of(m, NULL, i, g, x + off);
        stats[2 * t] = v.mu, stats[2 * t + 1] = v.s;
        /* y = gamma xh + beta: the jvp of a zero tangent with beta as betadot, gamma as gdot */
        group_jvp(&v, x + off, theta + g * cpg, NULL, theta + g * cpg, theta + m->in_c + g * cpg,
                  y + off);
    }
}

static void norm_jvp(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, int k, float *ydot) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    long nt = (long)k * b * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
    for (long t = 0; t < nt; t++) {
        int j = (int)(t / ((long)b * G)), i = (int)(t / G % b), g = (int)(t % G);
        size_t off = (size_t)i * in + (size_t)g * glen, toff = (size_t)j * b * in + off;
        group_view v = view_of(m, c->ws, i, g, NULL);
        const float *td = thetadot ? thetadot + (size_t)j * ldt : NULL;
        group_jvp(&v, c->x + off, c->theta + g * cpg, xdot ? xdot + toff : NULL,
                  td ? td + g * cpg : NULL, td ? td + m->in_c + g * cpg : NULL, ydot + toff);
    }
}

/* dtheta (2C) += the sum over the b samples, in order, of the per-sample parameter adjoints in the
 * first two slots of sums (b, C, NORM_SUMS): one thread per channel. */
static void add_sample_sums(const module *m, const double *sums, int b, float *dtheta) {
    int C = m->in_c;
#pragma omp parallel for schedule(static) if ((size_t)b * C * 64 >= NORM_OMP_MIN)
    for (int ch = 0; ch < C; ch++) {
        double sg = 0.0, sb = 0.0;
        for (int i = 0; i < b; i++) {
            const double *u = sums + ((size_t)i * C + ch) * NORM_SUMS;
            sg += u[0], sb += u[1];
        }
        dtheta[ch] += (float)sg;
        dtheta[C + ch] += (float)sb;
    }
}

/* Vector by vector: the groups of all samples in parallel (their input adjoints, and their
 * per-sample parameter adjoints into the workspace's sums), then those sums added in order. */
static void norm_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    double *sums = norm_sums(m, c->ws, b);
    long nt = (long)b * G;
    for (int j = 0; j < k; j++) {
        if (!dx && !dtheta) return;
        const float *dyj = dy + (size_t)j * b * in;
        float *dxj = dx ? dx + (size_t)j * b * in : NULL;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
        for (long t = 0; t < nt; t++) {
            int i = (int)(t / G), g = (int)(t % G);
            size_t off = (size_t)i * in + (size_t)g * glen;
            group_view v = view_of(m, c->ws, i, g, NULL);
            group_vjp(&v, c->x + off, c->theta + g * cpg, dyj + off, dxj ? dxj + off : NULL,
                      sums + ((size_t)i * m->in_c + (size_t)g * cpg) * NORM_SUMS);
        }
        if (dtheta) add_sample_sums(m, sums, b, dtheta + (size_t)j * ldt);
    }
}

static void norm_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    double *sums = norm_sums(m, c->ws, b);
    long nt = (long)b * G;
    for (int j = 0; j < k; j++) {
        if (!dxdot && !dthetadot) return;
        size_t jo = (size_t)j * b * in;
        const float *gdj = thetadot ? thetadot + (size_t)j * ldt : NULL;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
        for (long t = 0; t < nt; t++) {
            int i = (int)(t / G), g = (int)(t % G);
            size_t off = (size_t)i * in + (size_t)g * glen;
            group_view v = view_of(m, c->ws, i, g, NULL);
            group_soa(&v, c->x + off, c->theta + g * cpg, gdj ? gdj + g * cpg : NULL,
                      xdot ? xdot + jo + off : NULL, dy + off, dydot + jo + off,
                      dxdot ? dxdot + jo + off : NULL,
                      sums + ((size_t)i * m->in_c + (size_t)g * cpg) * NORM_SUMS);
        }
        if (dthetadot) add_sample_sums(m, sums, b, dthetadot + (size_t)j * ldt);
    }
}

/* rows (k*b, 2C), row j*b + i = [sum_{e in c} dy_{j,i} xh_i, sum_{e in c} dy_{j,i}] over channels c,
 * from x alone (the statistics again, not forward's workspace) */
static int norm_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *rows) {
    int G = m->groups, b = c->b, C = m->in_c;
    size_t in = module_in_size(m), glen = in / (size_t)G, hw = (size_t)m->in_h * m->in_w;
    size_t np = m->n_params, cpg = (size_t)(C / G);
    long nt = (long)k * b * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
    for (long t = 0; t < nt; t++) {
        int i = (int)(t / G % b), g = (int)(t % G);
        size_t off = (size_t)i * in + (size_t)g * glen;
        const float *d = dy + (size_t)(t / G) * in + (size_t)g * glen;
        float *row = rows + (size_t)(t / G) * np;
        group_view v = view_of(m, NULL, i, g, c->x + off);
        for (size_t cc = 0; cc < cpg; cc++) {
            double u[2];
            lane_sums2(c->x + off + cc * hw, v.mu, d + cc * hw, hw, u);
            row[g * cpg + cc] = (float)(v.s * u[1]);
            row[C + g * cpg + cc] = (float)u[0];
        }
    }
    return CURVO_OK;
}

const module_ops nn_groupnorm_ops = {
    .name = "groupnorm",
    .ws_bytes = norm_ws_bytes,
    .init = norm_init,
    .forward = norm_forward,
    .vjp = norm_vjp,
    .jvp = norm_jvp,
    .soa = norm_soa,
    .gram = nn_gram_from_rows,
    .gram_rows = norm_gram_rows,
};

/* layernorm: the same module with one group (torch's GroupNorm(1, C), affine per channel) */
const module_ops nn_layernorm_ops = {
    .name = "layernorm",
    .ws_bytes = norm_ws_bytes,
    .init = norm_init,
    .forward = norm_forward,
    .vjp = norm_vjp,
    .jvp = norm_jvp,
    .soa = norm_soa,
    .gram = nn_gram_from_rows,
    .gram_rows = norm_gram_rows,
};
