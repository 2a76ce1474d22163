/* gn.c — the Gauss-Newton system of the current batch, the operators EGN is written in (Korbit,
 * Adeoye, Bemporad, Zanon, 2024; see curvo.h). With Q_i + eps I = L_i L_i^T, J~ = blockdiag(L_i^T) J
 * and r the residual (g = -(1/b) J^T r):
 *   gn_system     A = J~ J~^T (m, m) by the seeded Gram (seed (k, i) = column k of L_i, so A comes
 *                 in cotangent-major order, index k b + i) and rhs = blockdiag(L_i^-1) r in the same
 *                 order; true class: one seed sqrt(q_i) e_{y_i} per sample, rhs_i = r_{i,y_i} / sqrt(q_i)
 *   gn_solve      u = (A + b lambda I)^-1 rhs by the SPD solver of linalg/spd.h (dense Cholesky)
 *   gn_direction  d = J~^T u, the seeded VJP
 *   gn_curvature  p^T G~ p = (1/b) sum_i |L_i^T (J p)_i|^2 (true class: q_i (J p)_{i,y_i}^2)
 * The per-sample work (residuals, factors, labels, seeds) lives here, so an optimizer never sees a
 * sample; its buffers belong to the context, grow with the batch or the model and are reused. A
 * data-parallel build assembles the global Gram from allgathered per-layer factors behind the same
 * calls.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "curvature/curv.h"
#include "linalg/spd.h"
#include "linalg/vec.h"
#include "nn/loss.h"

/* Largest system order: its work space stays far from overflowing size_t, and m fits LAPACK's int.
 * A larger system (b c > 2^28) could not be allocated anyway: its Gram alone would take 2^59 bytes. */
#define GN_MAX_ORDER ((size_t)1 << 28)

struct curv_gn {
    unsigned long long gen; /* the batch generation the system belongs to (0: none) */
    int m, b, c, k;         /* order, samples, outputs, seeds per sample (c, or 1 for the true class) */
    int true_class;
    size_t cap;             /* doubles in buf */
    double *buf;            /* A | rhs | r | Lf | seeds */
    double *A;              /* (m, m) J~ J~^T, symmetric */
    double *rhs;            /* (m) blockdiag(L_i^-1) r */
    double *r;              /* (b, c) residual */
    double *Lf;             /* (b, c, c) factors L_i, row-major (full system) */
    double *seeds;          /* (k, b, c) output-space seeds of J~'s rows */
    size_t jp_cap;          /* floats in jp */
    float *jp;              /* (b, c) J p */
    spd_solver solver;      /* factors A + b lambda I */
};

void curv_gn_free(struct curv_gn *gn) {
    if (!gn) return;
    spd_free(&gn->solver);
    free(gn->buf);
    free(gn->jp);
    free(gn);
}

/* Buffers for a system of len doubles and b*c outputs, grown only when too small. */
static int gn_reserve(curvo_curv *cv, size_t len, size_t bc) {
    if (!cv->gn && !(cv->gn = calloc(1, sizeof *cv->gn))) return CURVO_E_NOMEM;
    struct curv_gn *g = cv->gn;
    if (len > g->cap) {
        free(g->buf);
        g->cap = 0;
        if (!(g->buf = malloc(len * sizeof(double)))) return CURVO_E_NOMEM;
        g->cap = len;
    }
    if (bc > g->jp_cap) {
        free(g->jp);
        g->jp_cap = 0;
        if (!(g->jp = malloc(bc * sizeof(float)))) return CURVO_E_NOMEM;
        g->jp_cap = bc;
    }
    return CURVO_OK;
}

/* The system of the current batch, or CURVO_E_STATE. */
static int need_system(curvo_curv *cv, const char *op) {
    if (!cv) return CURVO_E_INVALID;
    if (!cv->have_batch || !cv->gn || cv->gn->gen != cv->batch_gen)
        return curv_fail(cv, CURVO_E_STATE, "%s: no Gauss-Newton system for this batch: call curvo_curv_gn_system first", op);
    return CURVO_OK;
}

int curvo_curv_gn_system(curvo_curv *cv, int true_class, int *m_out) {
    if (!cv) return CURVO_E_INVALID;
    if (!m_out) return curv_fail(cv, CURVO_E_INVALID, "gn_system: NULL order");
    if (!cv->have_batch) return curv_fail(cv, CURVO_E_STATE, "no batch: call curvo_curv_set_batch first");
    if (true_class && cv->loss != CURVO_LOSS_CE)
        return curv_fail(cv, CURVO_E_UNSUPPORTED, "gn_system: the true-class system needs cross-entropy");
    /* the system is per process for now (docs/DISTRIBUTED.md): one shard's Gram in place of the
     * global one would make a silently wrong step */
    if (curvo_comm_size(cv->comm) > 1)
        return curv_fail(cv, CURVO_E_UNSUPPORTED, "gn_system: the Gauss-Newton system is not distributed yet "
                                                  "(EGN runs on one process)");
    int b = cv->batch.b, c = cv->c;
    size_t bc = (size_t)b * c, m = true_class ? (size_t)b : bc;
    if (bc > GN_MAX_ORDER) return curv_fail(cv, CURVO_E_NOMEM, "gn_system: a system of order %zu is too large", bc);
    size_t len = m * m + m + bc * (1 + 2 * (size_t)c);
    int rc = gn_reserve(cv, len, bc);
    if (rc) return curv_fail(cv, rc, "gn_system: out of memory for a %zu x %zu system", m, m);
    struct curv_gn *g = cv->gn;
    g->gen = 0;
    g->m = (int)m, g->b = b, g->c = c, g->k = true_class ? 1 : c, g->true_class = !!true_class;
    g->A = g->buf;
    g->rhs = g->A + m * m;
    g->r = g->rhs + m;
    g->Lf = g->r + bc;
    g->seeds = g->Lf + bc * c;
    if ((rc = curvo_curv_residual(cv, g->r))) return rc;
    if (!true_class) {
        /* seeds: column k of L_i for cotangent k of sample i, so that the seeded Gram is J~ J~^T in
         * cotangent-major order (row k*b + i) and needs no reordering; rhs in the same order */
        if ((rc = curvo_curv_hessian_factor(cv, g->Lf))) return rc;
        loss_factor_seeds(g->Lf, b, c, g->seeds);
        for (int i = 0; i < b; i++) { /* rhs_i = L_i^-1 r_i by forward substitution, in place in rhs */
            const double *Li = g->Lf + (size_t)i * c * c;
            double *t = g->rhs + i; /* t[k * b] = (L_i^-1 r_i)_k */
            for (int k = 0; k < c; k++) {
                double v = g->r[(size_t)i * c + k];
                for (int j = 0; j < k; j++) v -= Li[(size_t)k * c + j] * t[(size_t)j * b];
                t[(size_t)k * b] = v / Li[(size_t)k * c + k];
            }
        }
    } else {
        memset(g->seeds, 0, bc * sizeof(double));
        for (int i = 0; i < b; i++) {
            int y = cv->batch.labels[i]; /* checked by set_batch */
            double py = 1.0 - g->r[(size_t)i * c + y];
            double sq = sqrt(py * (1.0 - py) + CURVO_LOSS_FACTOR_EPS); /* sqrt(q_i) */
            g->seeds[(size_t)i * c + y] = sq;
            g->rhs[i] = g->r[(size_t)i * c + y] / sq;
        }
    }
    if ((rc = curvo_curv_seeded_gram(cv, g->seeds, g->k, g->A))) return rc;
    if (!la_all_finite_d(g->A, m * m) || !la_all_finite_d(g->rhs, m))
        return curv_fail(cv, CURVO_E_NUMERIC, "gn_system: the Gram matrix or the right-hand side is not finite");
    g->gen = cv->batch_gen;
    *m_out = (int)m;
    return CURVO_OK;
}

int curvo_curv_gn_copy(curvo_curv *cv, double *A, double *rhs) {
    int rc = need_system(cv, "gn_copy");
    if (rc) return rc;
    size_t m = (size_t)cv->gn->m;
    if (A) memcpy(A, cv->gn->A, m * m * sizeof(double));
    if (rhs) memcpy(rhs, cv->gn->rhs, m * sizeof(double));
    return CURVO_OK;
}

int curvo_curv_gn_solve(curvo_curv *cv, double lambda, double *u) {
    int rc = need_system(cv, "gn_solve");
    if (rc) return rc;
    if (!u || !isfinite(lambda)) return curv_fail(cv, CURVO_E_INVALID, "gn_solve: NULL solution or non-finite lambda");
    struct curv_gn *g = cv->gn;
    if ((rc = spd_init(&g->solver, &spd_dense_cholesky, g->m)))
        return curv_fail(cv, rc, "gn_solve: out of memory for a %d x %d factor", g->m, g->m);
    if ((rc = spd_factor(&g->solver, g->A, g->b * lambda)))
        return curv_fail(cv, rc, "gn_solve: A + b lambda I is not positive definite (lambda %g)", lambda);
    if ((rc = spd_solve(&g->solver, g->rhs, u)))
        return curv_fail(cv, rc, "gn_solve: the solution is not finite (lambda %g)", lambda);
    return CURVO_OK;
}

int curvo_curv_gn_direction(curvo_curv *cv, const double *u, float *d) {
    int rc = need_system(cv, "gn_direction");
    if (rc) return rc;
    return curvo_curv_seeded_vjp(cv, cv->gn->seeds, u, cv->gn->k, d);
}

int curvo_curv_gn_curvature(curvo_curv *cv, const float *p, double *pGp) {
    int rc = need_system(cv, "gn_curvature");
    if (rc) return rc;
    if (!pGp) return curv_fail(cv, CURVO_E_INVALID, "gn_curvature: NULL result");
    const struct curv_gn *g = cv->gn;
    int b = g->b, c = g->c;
    if ((rc = curvo_curv_jvp(cv, p, 1, g->jp))) return rc; /* (b, c) */
    double t = 0.0;
    for (int i = 0; i < b; i++) {
        const float *z = g->jp + (size_t)i * c;
        if (g->true_class) {
            const double *s = g->seeds + (size_t)i * c;
            for (int k = 0; k < c; k++) t += s[k] * s[k] * z[k] * z[k];
            continue;
        }
        const double *Li = g->Lf + (size_t)i * c * c;
        for (int k = 0; k < c; k++) { /* (L_i^T z)_k = sum_j L_i[j][k] z_j */
            double v = 0.0;
            for (int j = k; j < c; j++) v += Li[(size_t)j * c + k] * z[j];
            t += v * v;
        }
    }
    *pGp = t / b;
    return CURVO_OK;
}
