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
 * How it runs: the group statistics are kept in double in the workspace (b, G, 2) = (mu, s) by
 * forward; reductions accumulate in double. Input-side actions split over (vector, sample, group)
 * with OpenMP; parameter adjoints split over (vector, group) and add the samples in order, so
 * every output element is written by one thread in a fixed order and results do not depend on the
 * thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/module.h"

#define NORM_EPS 1e-5
/* below this many elements a loop is not worth starting threads for */
#define NORM_OMP_MIN 16384
/* independent partial sums in the reductions (lets the compiler vectorize them) */
#define NORM_LANES 16

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

/* Reductions in NORM_LANES independent double partial sums, so that they vectorize (one running
 * sum is a chain of dependent additions that the compiler may not reorder). */

/* the sum of a (n) */
static double lane_sum(const float *restrict a, size_t n) {
    double lane[NORM_LANES] = {0.0};
    size_t p = 0;
    for (; p + NORM_LANES <= n; p += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++) lane[l] += a[p + l];
    double t = 0.0;
    for (int l = 0; l < NORM_LANES; l++) t += lane[l];
    for (; p < n; p++) t += a[p];
    return t;
}

/* the sum of (a - shift) b over n values */
static double lane_dot(const float *restrict a, double shift, const float *restrict b, size_t n) {
    double lane[NORM_LANES] = {0.0};
    size_t p = 0;
    for (; p + NORM_LANES <= n; p += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++) lane[l] += ((double)a[p + l] - shift) * b[p + l];
    double t = 0.0;
    for (int l = 0; l < NORM_LANES; l++) t += lane[l];
    for (; p < n; p++) t += ((double)a[p] - shift) * b[p];
    return t;
}

/* the sum of (a - shift)^2 over n values */
static double lane_sqdev(const float *restrict a, double shift, size_t n) {
    double lane[NORM_LANES] = {0.0};
    size_t p = 0;
    for (; p + NORM_LANES <= n; p += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++) {
            double d = (double)a[p + l] - shift;
            lane[l] += d * d;
        }
    double t = 0.0;
    for (int l = 0; l < NORM_LANES; l++) t += lane[l];
    for (; p < n; p++) t += ((double)a[p] - shift) * ((double)a[p] - shift);
    return t;
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

static size_t norm_ws_bytes(const module *m, int b) {
    return 2 * (size_t)b * m->groups * sizeof(double); /* (b, G, 2): mu, s */
}

static void norm_init(const module *m, float *theta, curvo_rng *rng, int next_is_rectifier) {
    (void)rng;
    (void)next_is_rectifier;
    size_t c = (size_t)m->in_c;
    for (size_t q = 0; q < c; q++) theta[q] = 1.0f; /* gamma */
    memset(theta + c, 0, c * sizeof(float));        /* beta */
}

/* <xdot> and <xh xdot> over a group */
static void tangent_moments(const group_view *v, const float *x, const float *xdot, double *a, double *q) {
    size_t n = group_len(v);
    *a = lane_sum(xdot, n) / (double)n;
    *q = v->s * lane_dot(x, v->mu, xdot, n) / (double)n;
}

/* ydot (m) of one group: gamma, gdot, bdot point at the group's first channel; xdot, gdot, bdot
 * may be NULL (zero). Per channel, ydot = gamma s xdot + cx (x - mu) + c0 with
 * cx = s (gdot - gamma s <xh xdot>), c0 = bdot - gamma s <xdot>. */
static void group_jvp(const group_view *v, const float *restrict x, const float *gamma,
                      const float *restrict xdot, const float *gdot, const float *bdot,
                      float *restrict ydot) {
    double a = 0.0, q = 0.0, s = v->s, mu = v->mu;
    if (xdot) tangent_moments(v, x, xdot, &a, &q);
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

/* The vjp of one group: dx (m) overwritten if not NULL; dgamma, dbeta (cpg) accumulated if not
 * NULL. Per channel, dx = gamma s dy - s <g> - s^2 <xh g> (x - mu). */
static void group_vjp(const group_view *v, const float *restrict x, const float *gamma,
                      const float *restrict dy, float *restrict dx, float *dgamma, float *dbeta) {
    double s = v->s, mu = v->mu, n = (double)group_len(v);
    if (dx) {
        double g1 = 0.0, g2 = 0.0; /* <g>, <xh g> */
        for (int cc = 0; cc < v->cpg; cc++) {
            size_t o = (size_t)cc * v->hw;
            g1 += gamma[cc] * lane_sum(dy + o, v->hw);
            g2 += gamma[cc] * s * lane_dot(x + o, mu, dy + o, v->hw);
        }
        g1 /= n, g2 /= n;
        for (int cc = 0; cc < v->cpg; cc++) {
            size_t o = (size_t)cc * v->hw;
            double c1 = gamma[cc] * s, cx = s * s * g2, c0 = s * g1;
            for (size_t p = 0; p < v->hw; p++)
                dx[o + p] = (float)(c1 * dy[o + p] - cx * ((double)x[o + p] - mu) - c0);
        }
    }
    if (!dgamma) return;
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * v->hw;
        dgamma[cc] += (float)(s * lane_dot(x + o, mu, dy + o, v->hw));
        dbeta[cc] += (float)lane_sum(dy + o, v->hw);
    }
}

/* The soa of one group (see the top comment): dxdot (m) overwritten if not NULL; dgdot, dbdot
 * (cpg) accumulated if not NULL. xdot and gdot (the gamma tangent) may be NULL (zero). All its
 * group means come from per-channel sums of dy, dydot, (x - mu) dy, (x - mu) dydot and xdot dy;
 * the parameter part is sums alone: sum_c dy xhdot = s (sum xdot dy - <xdot> sum dy - <xh xdot>
 * sum xh dy). */
static void group_soa(const group_view *v, const float *restrict x, const float *gamma,
                      const float *gdot, const float *restrict xdot, const float *restrict dy,
                      const float *restrict dydot, float *restrict dxdot, float *dgdot, float *dbdot) {
    double s = v->s, mu = v->mu, n = (double)group_len(v);
    size_t hw = v->hw;
    double a = 0.0, q = 0.0; /* <xdot>, <xh xdot> */
    if (xdot) tangent_moments(v, x, xdot, &a, &q);
    if (dxdot) {
        double g1 = 0.0, g2 = 0.0, r = 0.0, h1 = 0.0, h2 = 0.0; /* <g>, <xh g>, <xdot g>, <gdot>, <xh gdot> */
        for (int cc = 0; cc < v->cpg; cc++) {
            size_t o = (size_t)cc * hw;
            double gm = gamma[cc], gd = gdot ? gdot[cc] : 0.0;
            double sd = lane_sum(dy + o, hw), cd = s * lane_dot(x + o, mu, dy + o, hw);
            double sdd = lane_sum(dydot + o, hw), cdd = s * lane_dot(x + o, mu, dydot + o, hw);
            g1 += gm * sd;
            g2 += gm * cd;
            if (xdot) r += gm * lane_dot(xdot + o, 0.0, dy + o, hw);
            h1 += gd * sd + gm * sdd;
            h2 += gd * cd + gm * cdd;
        }
        g1 /= n, g2 /= n, r /= n, h1 /= n, h2 /= n;
        double t = s * (r - a * g1 - q * g2); /* <xhdot g> */
        /* dxdot = -s q dx + s (gdot - h1 - xhdot g2 - xh (t + h2)), with dx = s (g - g1 - xh g2) and
         * xhdot = s (xdot - a - xh q): per channel, cdy dy + cdd dydot + cxd xdot + cx (x - mu) + c0 */
        for (int cc = 0; cc < v->cpg; cc++) {
            size_t o = (size_t)cc * hw;
            double gm = gamma[cc], gd = gdot ? gdot[cc] : 0.0;
            double cdy = -s * q * s * gm + s * gd, cdd = s * gm, cxd = -s * s * g2;
            double cx = s * s * (s * q * g2 + s * q * g2 - t - h2);
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
    if (!dgdot) return;
    for (int cc = 0; cc < v->cpg; cc++) {
        size_t o = (size_t)cc * hw;
        double sg = s * lane_dot(x + o, mu, dydot + o, hw);
        if (xdot)
            sg += s * (lane_dot(xdot + o, 0.0, dy + o, hw) - a * lane_sum(dy + o, hw) -
                       q * s * lane_dot(x + o, mu, dy + o, hw));
        dgdot[cc] += (float)sg;
        dbdot[cc] += (float)lane_sum(dydot + o, hw);
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

static void norm_vjp(const module *m, const nn_ctx *c, const float *dy, int k, float *dx,
                     float *dtheta, size_t ldt) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    if (dx) {
        long nt = (long)k * b * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
        for (long t = 0; t < nt; t++) {
            int i = (int)(t / G % b), g = (int)(t % G);
            size_t off = (size_t)i * in + (size_t)g * glen, toff = (size_t)(t / G) * in + (size_t)g * glen;
            group_view v = view_of(m, c->ws, i, g, NULL);
            group_vjp(&v, c->x + off, c->theta + g * cpg, dy + toff, dx + toff, NULL, NULL);
        }
    }
    if (!dtheta) return;
    long nt = (long)k * G; /* each (vector, group) adds its samples in order */
#pragma omp parallel for schedule(static) if ((size_t)nt * b * glen >= NORM_OMP_MIN)
    for (long t = 0; t < nt; t++) {
        int j = (int)(t / G), g = (int)(t % G);
        float *dt = dtheta + (size_t)j * ldt;
        for (int i = 0; i < b; i++) {
            size_t off = (size_t)i * in + (size_t)g * glen;
            group_view v = view_of(m, c->ws, i, g, NULL);
            group_vjp(&v, c->x + off, c->theta + g * cpg, dy + (size_t)j * b * in + off, NULL,
                      dt + g * cpg, dt + m->in_c + g * cpg);
        }
    }
}

static void norm_soa(const module *m, const nn_ctx *c, const float *xdot, const float *thetadot,
                     size_t ldt, const float *dy, const float *dydot, int k, float *dxdot,
                     float *dthetadot) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    if (dxdot) {
        long nt = (long)k * b * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
        for (long t = 0; t < nt; t++) {
            int j = (int)(t / ((long)b * G)), i = (int)(t / G % b), g = (int)(t % G);
            size_t off = (size_t)i * in + (size_t)g * glen, toff = (size_t)j * b * in + off;
            group_view v = view_of(m, c->ws, i, g, NULL);
            const float *gd = thetadot ? thetadot + (size_t)j * ldt + g * cpg : NULL;
            group_soa(&v, c->x + off, c->theta + g * cpg, gd, xdot ? xdot + toff : NULL, dy + off,
                      dydot + toff, dxdot + toff, NULL, NULL);
        }
    }
    if (!dthetadot) return;
    long nt = (long)k * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * b * glen >= NORM_OMP_MIN)
    for (long t = 0; t < nt; t++) {
        int j = (int)(t / G), g = (int)(t % G);
        float *dt = dthetadot + (size_t)j * ldt;
        for (int i = 0; i < b; i++) {
            size_t off = (size_t)i * in + (size_t)g * glen, toff = (size_t)j * b * in + off;
            group_view v = view_of(m, c->ws, i, g, NULL);
            group_soa(&v, c->x + off, c->theta + g * cpg, NULL, xdot ? xdot + toff : NULL, dy + off,
                      dydot + toff, NULL, dt + g * cpg, dt + m->in_c + g * cpg);
        }
    }
}

/* rows (k*b, 2C), row j*b + i = [sum_{e in c} dy_{j,i} xh_i, sum_{e in c} dy_{j,i}] over channels c */
static int norm_gram_rows(const module *m, const nn_ctx *c, const float *dy, int k, float *rows) {
    int G = m->groups, b = c->b;
    size_t in = module_in_size(m), glen = in / (size_t)G, cpg = (size_t)(m->in_c / G);
    size_t np = m->n_params;
    memset(rows, 0, (size_t)k * b * np * sizeof(float));
    long nt = (long)k * b * G;
#pragma omp parallel for schedule(static) if ((size_t)nt * glen >= NORM_OMP_MIN)
    for (long t = 0; t < nt; t++) {
        int i = (int)(t / G % b), g = (int)(t % G);
        size_t off = (size_t)i * in + (size_t)g * glen;
        float *row = rows + (size_t)(t / G) * np;
        group_view v = view_of(m, NULL, i, g, c->x + off);
        group_vjp(&v, c->x + off, c->theta + g * cpg, dy + (size_t)(t / G) * in + (size_t)g * glen,
                  NULL, row + g * cpg, row + m->in_c + g * cpg);
    }
    return CURVO_OK;
}

static int norm_gram(const module *m, const nn_ctx *c, const float *dy, int k, double *gram) {
    size_t kb = (size_t)k * c->b;
    float *rows = malloc(kb * m->n_params * sizeof(float)); /* (k*b, 2C) */
    int rc = rows ? norm_gram_rows(m, c, dy, k, rows) : CURVO_E_NOMEM;
    if (!rc) rc = nn_gram_add_rows(rows, kb, m->n_params, gram);
    free(rows);
    return rc;
}

const module_ops nn_groupnorm_ops = {
    .name = "groupnorm",
    .ws_bytes = norm_ws_bytes,
    .init = norm_init,
    .forward = norm_forward,
    .vjp = norm_vjp,
    .jvp = norm_jvp,
    .soa = norm_soa,
    .gram = norm_gram,
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
    .gram = norm_gram,
    .gram_rows = norm_gram_rows,
};
