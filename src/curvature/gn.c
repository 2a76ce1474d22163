/* gn.c — the Gauss-Newton system of the current batch, the operators EGN is written in (Korbit,
 * Adeoye, Bemporad, Zanon, 2024; see curvo.h). With Q_i + eps I = L_i L_i^T, J~ = blockdiag(L_i^T) J
 * and r the residual (g = -(1/b) J^T r), b the global batch:
 *   gn_system     A = J~ J~^T (m, m) by the seeded Gram (seed (k, i) = column k of L_i, so A comes
 *                 in cotangent-major order, index k b + i) and rhs = blockdiag(L_i^-1) r in the same
 *                 order; true class: one seed sqrt(q_i) e_{y_i} per sample, rhs_i = r_{i,y_i} / sqrt(q_i)
 *   gn_solve      u = (A + b lambda I)^-1 rhs by the SPD solver of linalg/spd.h (dense Cholesky, or
 *                 ScaLAPACK over the ranks for a large system: gn_solver_type)
 *   gn_direction  d = J~^T u, the seeded VJP
 *   gn_curvature  p^T G~ p = (1/b) sum_i |L_i^T (J p)_i|^2 (true class: q_i (J p)_{i,y_i}^2)
 * The per-sample work (residuals, factors, labels, seeds) lives here, so an optimizer never sees a
 * sample; its buffers belong to the context, grow with the batch or the model and are reused.
 * Data-parallel (N processes, this rank's shard of b samples at offset o of the global batch B):
 * the system is the GLOBAL one, m = k B, index j B + i with i global. Residuals, factors and seeds
 * stay per shard; A is the global Gram from allgathered per-layer factors (curv_global_seeded_gram),
 * rhs the allgather of the shards' parts placed at their offsets; both are bitwise the same on
 * every rank, so gn_solve factors the same matrix redundantly on every rank (no communication) and
 * every rank gets the same u; from the distributed threshold on (curvo_curv_gn_set_distributed_min)
 * the ranks factor it together with ScaLAPACK and allgather u, again the same on every rank. gn_direction applies this shard's rows of J~^T to its entries of u
 * (j B + o + i) and sums the n-vector over the ranks in rank order; gn_curvature sums the shards'
 * |L_i^T (J p)_i|^2 and divides by B. Without a communicator every path is the serial one, bit for
 * bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "curvature/curv.h"
#include "dist/comm.h"
#include "linalg/spd.h"
#include "linalg/vec.h"
#include "nn/loss.h"

/* Largest system order: its work space stays far from overflowing size_t, and m fits LAPACK's int.
 * A larger system (b c > 2^28) could not be allocated anyway: its Gram alone would take 2^59 bytes. */
#define GN_MAX_ORDER ((size_t)1 << 28)

struct curv_gn {
    unsigned long long gen; /* the batch generation the system belongs to (0: none) */
    int m, b, c, k;         /* order (k B), this shard's samples, outputs, seeds per sample (c, or 1) */
    int B, off;             /* the global batch and this shard's offset in it (B = b, off = 0 serial) */
    int true_class;
    size_t cap;             /* doubles in buf */
    double *buf;            /* A | rhs | r | Lf | seeds | uloc */
    double *A;              /* (m, m) J~ J~^T over the global batch, symmetric */
    double *rhs;            /* (m) blockdiag(L_i^-1) r over the global batch */
    double *r;              /* (b, c) residual */
    double *Lf;             /* (b, c, c) factors L_i, row-major (full system) */
    double *seeds;          /* (k, b, c) output-space seeds of J~'s rows */
    double *uloc;           /* (k, b) this shard's part of rhs (gn_system), or of u (gn_direction); N > 1 */
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

/* This shard's residual, factors and seeds, and its part of rhs into rl (k, b), index j b + i. */
static int shard_system(curvo_curv *cv, struct curv_gn *g, double *rl) {
    int b = g->b, c = g->c, rc;
    size_t bc = (size_t)b * c;
    if ((rc = curvo_curv_residual(cv, g->r))) return rc;
    if (!g->true_class) {
        /* seeds: column k of L_i for cotangent k of sample i, so that the seeded Gram is J~ J~^T in
         * cotangent-major order (row k*b + i) and needs no reordering; rhs in the same order */
        if ((rc = curvo_curv_hessian_factor(cv, g->Lf))) return rc;
        loss_factor_seeds(g->Lf, b, c, g->seeds);
        for (int i = 0; i < b; i++) { /* rhs_i = L_i^-1 r_i by forward substitution, in place in rl */
            const double *Li = g->Lf + (size_t)i * c * c;
            double *t = rl + i; /* t[k * b] = (L_i^-1 r_i)_k */
            for (int k = 0; k < c; k++) {
                double v = g->r[(size_t)i * c + k];
                for (int j = 0; j < k; j++) v -= Li[(size_t)k * c + j] * t[(size_t)j * b];
                t[(size_t)k * b] = v / Li[(size_t)k * c + k];
            }
        }
    } else {
        memset(g->seeds, 0, bc * sizeof(double));
        for (int i = 0; i < b; i++) { /* CE's true class, or the selected-output losses' output */
            int y = cv->batch.labels[i]; /* checked by set_batch */
            double sq = sqrt(loss_row_q(cv->loss, cv->p, &cv->batch, c, i)); /* sqrt(q_i) */
            g->seeds[(size_t)i * c + y] = sq;
            rl[i] = g->r[(size_t)i * c + y] / sq;
        }
    }
    return CURVO_OK;
}

/* The global rhs (k, B) from every shard's part uloc (k, b): one allgatherv into all (k B), rank r's
 * block (k, b_r) then placed at its shard's offset; counts (N) the byte counts. */
static int gather_rhs(curvo_curv *cv, struct curv_gn *g, size_t *counts, double *all) {
    int N = curvo_comm_size(cv->comm), k = g->k, B = g->B, rc;
    for (int r = 0; r < N; r++) {
        int o, br;
        dist_shard(B, r, N, &o, &br);
        counts[r] = (size_t)k * br * sizeof(double);
    }
    if ((rc = dist_allgatherv(cv->comm, g->uloc, counts, all))) return rc;
    const double *blk = all;
    for (int r = 0; r < N; r++) {
        int o, br;
        dist_shard(B, r, N, &o, &br);
        for (int j = 0; j < k; j++, blk += br) memcpy(g->rhs + (size_t)j * B + o, blk, (size_t)br * sizeof(double));
    }
    return CURVO_OK;
}

int curvo_curv_gn_system(curvo_curv *cv, int true_class, int *m_out) {
    if (!cv) return CURVO_E_INVALID;
    if (!m_out) return curv_fail(cv, CURVO_E_INVALID, "gn_system: NULL order");
    int rc = curv_need_batch(cv);
    if (rc) return rc;
    if (true_class && cv->loss != CURVO_LOSS_CE)
        return curv_fail(cv, CURVO_E_UNSUPPORTED, "gn_system: the true-class system needs cross-entropy");
    true_class = true_class || loss_is_selected(cv->loss); /* rank-one Q_i: one row per sample */
    int N = curvo_comm_size(cv->comm);
    int b = cv->batch.b, c = cv->c, B = N > 1 ? cv->b_global : b, k = true_class ? 1 : c;
    size_t bc = (size_t)b * c, Bc = (size_t)B * c, m = (size_t)k * B;
    if (Bc > GN_MAX_ORDER) return curv_fail(cv, CURVO_E_NOMEM, "gn_system: a system of order %zu is too large", Bc);
    /* serial: A | rhs | r | Lf | seeds as ever; N > 1 adds uloc */
    size_t len = m * m + m + bc * (1 + 2 * (size_t)c) + (N > 1 ? (size_t)k * b : 0);
    rc = gn_reserve(cv, len, bc);
    if (rc) rc = curv_fail(cv, rc, "gn_system: out of memory for a %zu x %zu system", m, m);
    struct curv_gn *g = cv->gn;
    if (!rc) {
        g->gen = 0;
        g->m = (int)m, g->b = b, g->c = c, g->k = k, g->true_class = !!true_class;
        g->B = B, g->off = cv->shard_off;
        g->A = g->buf;
        g->rhs = g->A + m * m;
        g->r = g->rhs + m;
        g->Lf = g->r + bc;
        g->seeds = g->Lf + bc * c;
        g->uloc = N > 1 ? g->seeds + bc * c : NULL;
        rc = shard_system(cv, g, N > 1 ? g->uloc : g->rhs);
    }
    if (N > 1) { /* agreed, then the global rhs and Gram: collectives every rank joins */
        size_t *counts = malloc((size_t)N * sizeof *counts);
        double *all = malloc(m * sizeof *all); /* (k B) the shards' parts in rank order */
        if (!rc && (!counts || !all)) rc = curv_fail(cv, CURVO_E_NOMEM, "gn_system: out of memory");
        int from, arc = dist_agree(cv->comm, rc, &from);
        if (!arc && (arc = gather_rhs(cv, g, counts, all)))
            rc = curv_fail(cv, arc, "gn_system: the processes could not gather the right-hand side: %s",
                           curvo_comm_errmsg(cv->comm));
        free(counts);
        free(all);
        if (arc) return rc ? rc : curv_fail(cv, arc, "gn_system: failed on rank %d: %s", from, curvo_strerror(arc));
        rc = curv_global_seeded_gram(cv, g->seeds, k, g->A);
    } else if (!rc) {
        rc = curvo_curv_seeded_gram(cv, g->seeds, k, g->A);
    }
    if (rc) return rc;
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

/* The SPD solver for a system of order m. Every rank holds the whole system, so the dense Cholesky
 * runs redundantly on each, which is right while m is small (m = 1280 for 128 samples of 10 classes:
 * 13 MB, a few hundredths of a second, and no communication). From the order set by
 * curvo_curv_gn_set_distributed_min on, with more than one process and ScaLAPACK built in, the
 * system is factored by ScaLAPACK over all ranks instead (linalg/spd_scalapack.c; the choice is the
 * same on every rank: m, the process count and the threshold are). */
static const spd_type *gn_solver_type(const curvo_curv *cv, int m) {
    const spd_type *dist = spd_distributed_type();
    if (dist && cv->gn_dist_min > 0 && m >= cv->gn_dist_min && curvo_comm_size(cv->comm) > 1) return dist;
    return &spd_dense_cholesky;
}

int curvo_curv_gn_set_distributed_min(curvo_curv *cv, int order) {
    if (!cv) return CURVO_E_INVALID;
    if (order < 0) return curv_fail(cv, CURVO_E_INVALID, "gn_set_distributed_min: negative order %d", order);
    cv->gn_dist_min = order;
    return CURVO_OK;
}

int curvo_curv_gn_solve(curvo_curv *cv, double lambda, double *u) {
    int rc = need_system(cv, "gn_solve");
    if (rc) return rc;
    if (!u || !isfinite(lambda)) return curv_fail(cv, CURVO_E_INVALID, "gn_solve: NULL solution or non-finite lambda");
    struct curv_gn *g = cv->gn;
    if ((rc = spd_init_comm(&g->solver, gn_solver_type(cv, g->m), g->m, cv->comm)))
        return curv_fail(cv, rc, "gn_solve: no solver for a %d x %d system: %s", g->m, g->m, curvo_strerror(rc));
    if ((rc = spd_factor(&g->solver, g->A, g->B * lambda)))
        return curv_fail(cv, rc, "gn_solve: A + b lambda I is not positive definite (lambda %g)", lambda);
    if ((rc = spd_solve(&g->solver, g->rhs, u)))
        return curv_fail(cv, rc, "gn_solve: the solution is not finite (lambda %g)", lambda);
    return CURVO_OK;
}

int curvo_curv_gn_direction(curvo_curv *cv, const double *u, float *d) {
    int rc = need_system(cv, "gn_direction");
    if (rc) return rc;
    struct curv_gn *g = cv->gn;
    if (curvo_comm_size(cv->comm) <= 1) return curvo_curv_seeded_vjp(cv, g->seeds, u, g->k, d);
    if (!u || !d) return curv_fail(cv, CURVO_E_INVALID, "gn_direction: NULL vector");
    for (int j = 0; j < g->k; j++) /* this shard's entries of u: (k, b) from (k, B) */
        memcpy(g->uloc + (size_t)j * g->b, u + (size_t)j * g->B + g->off, (size_t)g->b * sizeof(double));
    /* no local failure here: gn_system reserved the tangents, and a new batch drops the system */
    if ((rc = curvo_curv_seeded_vjp(cv, g->seeds, g->uloc, g->k, d))) return rc;
    if ((rc = dist_sum_float(cv->comm, d, cv->model->n_params)))
        return curv_fail(cv, rc, "gn_direction: the processes could not sum their shares: %s", curvo_comm_errmsg(cv->comm));
    return CURVO_OK;
}

int curvo_curv_gn_curvature(curvo_curv *cv, const float *p, double *pGp) {
    int rc = need_system(cv, "gn_curvature");
    if (rc) return rc;
    if (!pGp || !p) return curv_fail(cv, CURVO_E_INVALID, "gn_curvature: NULL vector or result");
    const struct curv_gn *g = cv->gn;
    int b = g->b, c = g->c;
    if (b > 0 && (rc = curvo_curv_jvp(cv, p, 1, g->jp))) return rc; /* (b, c) */
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
    if ((rc = dist_sum_double(cv->comm, &t, 1))) /* the shards' sums in rank order; serial: a no-op */
        return curv_fail(cv, rc, "gn_curvature: the processes could not sum their shares: %s", curvo_comm_errmsg(cv->comm));
    *pGp = t / g->B;
    return CURVO_OK;
}
