/* test_rl_loss.c — the selected-output losses (CURVO_LOSS_SELECTED_MSE and _HUBER, Q-learning's
 * regression) through the curvature layer on a small smooth network: value against its closed form,
 * gradient and Hessian-vector products against central finite differences, GGN-vector products
 * against J^T Q J v / b built densely from Jacobian columns, the output-Hessian factor, the
 * residual (g = -(1/b) J^T r), the one-row Gauss-Newton system (m = b) against its dense
 * definition, and optimizer steps (Adam, EGN, SGN) that lower the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { B = 12, D = 5, C = 3 };

typedef struct fixture {
    curvo_model *m;
    curvo_curv *cv;
    size_t n;
    float x[B * D], y[B * C];
    int32_t a[B];
    curvo_batch bt;
} fixture;

static void setup(fixture *f, curvo_loss_kind kind, uint64_t seed) {
    memset(f, 0, sizeof *f);
    char err[CURVO_ERRMSG_LEN];
    curvo_model_from_spec("dense:7,tanh,dense:3", D, 1, 1, &f->m, err);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(f->m, &rng);
    f->n = curvo_model_num_params(f->m);
    tu_fill_normal(&rng, f->x, B * D, 1.0);
    /* targets: some near the outputs (Huber's quadratic zone), some far (its linear zone) */
    tu_fill_normal(&rng, f->y, B * C, 2.0);
    for (int i = 0; i < B; i++) f->a[i] = (int32_t)curvo_rng_below(&rng, C);
    f->bt = (curvo_batch){f->x, f->a, f->y, B};
    TU_CHECK(curvo_curv_create(f->m, kind, &f->cv) == CURVO_OK, "curv_create");
    TU_CHECK(curvo_curv_set_batch(f->cv, &f->bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(f->cv));
}

static void teardown(fixture *f) {
    curvo_curv_free(f->cv);
    curvo_model_free(f->m);
}

/* theta += h v, a new set_batch, and back. */
static void shift(fixture *f, const float *v, double h) {
    float *th = curvo_model_params(f->m);
    for (size_t j = 0; j < f->n; j++) th[j] += (float)(h * v[j]);
    curvo_curv_set_batch(f->cv, &f->bt);
}

static double huber(double d) { return fabs(d) <= 1 ? 0.5 * d * d : fabs(d) - 0.5; }

static void check_kind(curvo_loss_kind kind) {
    const char *name = kind == CURVO_LOSS_SELECTED_MSE ? "selected mse" : "selected huber";
    fixture f;
    setup(&f, kind, 7);
    size_t n = f.n;
    const float *out = curvo_curv_outputs(f.cv);
    /* value: mean over samples of l(f_{i,a} - y_{i,a}) alone; the other outputs do not count */
    double want = 0.0;
    int inside = 0;
    float fo[B * C];
    memcpy(fo, out, sizeof fo);
    for (int i = 0; i < B; i++) {
        double d = (double)fo[i * C + f.a[i]] - f.y[i * C + f.a[i]];
        want += kind == CURVO_LOSS_SELECTED_MSE ? 0.5 * d * d : huber(d);
        inside += fabs(d) <= 1;
    }
    want /= B;
    TU_CHECK(fabs(curvo_curv_loss(f.cv) - want) < 1e-6 * fmax(1, want), "%s value %.9g vs %.9g", name,
             curvo_curv_loss(f.cv), want);
    if (kind == CURVO_LOSS_SELECTED_HUBER)
        TU_CHECK(inside > 0 && inside < B, "huber fixture has both zones (%d of %d inside)", inside, B);
    /* gradient vs central differences along random directions */
    float *g = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float)), *hv = malloc(n * sizeof(float));
    float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float)), *gv = malloc(n * sizeof(float));
    curvo_rng rng;
    curvo_rng_seed(&rng, 99);
    curvo_curv_grad(f.cv, g);
    for (int t = 0; t < 5; t++) {
        tu_fill_normal(&rng, v, n, 1.0);
        const double h = 1e-3;
        shift(&f, v, h);
        double lp = curvo_curv_loss(f.cv);
        shift(&f, v, -2 * h);
        double lm = curvo_curv_loss(f.cv);
        shift(&f, v, h);
        double fd = (lp - lm) / (2 * h), gv_dot = 0;
        for (size_t j = 0; j < n; j++) gv_dot += (double)g[j] * v[j];
        TU_CHECK(fabs(fd - gv_dot) <= 2e-3 * fmax(1.0, fabs(gv_dot)), "%s gradient: g.v %.6g vs FD %.6g", name, gv_dot, fd);
        /* Hv vs central differences of the gradient */
        curvo_curv_hvp(f.cv, v, 1, hv);
        shift(&f, v, h);
        curvo_curv_grad(f.cv, g1);
        shift(&f, v, -2 * h);
        curvo_curv_grad(f.cv, g2);
        shift(&f, v, h);
        double *a1 = malloc(n * sizeof(double)), *a2 = malloc(n * sizeof(double));
        for (size_t j = 0; j < n; j++) a1[j] = hv[j], a2[j] = ((double)g1[j] - g2[j]) / (2 * h);
        double e = tu_rel_err(a1, a2, n);
        TU_CHECK(e < 2e-2, "%s Hv vs FD of the gradient: rel err %.3g", name, e);
        free(a1), free(a2);
    }
    /* J (B*C, n) column by column from JVPs, then G v = J^T Q J v / B with Q_i = q_i e_a e_a^T */
    float *J = malloc((size_t)B * C * n * sizeof(float)), *e = calloc(n, sizeof(float)), *col = malloc(B * C * sizeof(float));
    for (size_t j = 0; j < n; j++) {
        e[j] = 1.0f;
        curvo_curv_jvp(f.cv, e, 1, col);
        for (int r = 0; r < B * C; r++) J[(size_t)r * n + j] = col[r];
        e[j] = 0.0f;
    }
    double q[B], r_want[B];
    for (int i = 0; i < B; i++) {
        double d = (double)fo[i * C + f.a[i]] - f.y[i * C + f.a[i]];
        q[i] = kind == CURVO_LOSS_SELECTED_MSE || fabs(d) <= 1 ? 1.0 : 0.0;
        r_want[i] = kind == CURVO_LOSS_SELECTED_MSE ? -d : -fmax(-1.0, fmin(1.0, d));
    }
    tu_fill_normal(&rng, v, n, 1.0);
    curvo_curv_ggn(f.cv, v, 1, gv);
    double *dense = calloc(n, sizeof(double)), *lib = malloc(n * sizeof(double));
    for (int i = 0; i < B; i++) {
        const float *row = J + ((size_t)i * C + f.a[i]) * n;
        double jv = 0;
        for (size_t j = 0; j < n; j++) jv += (double)row[j] * v[j];
        for (size_t j = 0; j < n; j++) dense[j] += q[i] * jv * row[j] / B;
    }
    for (size_t j = 0; j < n; j++) lib[j] = gv[j];
    TU_CHECK(tu_rel_err(lib, dense, n) < 1e-4, "%s GGN-vector vs dense J^T Q J v / b: %.3g", name, tu_rel_err(lib, dense, n));
    /* residual: r_{i,a} as above, zero elsewhere; g = -(1/b) J^T r */
    double r[B * C], Lf[B * C * C];
    curvo_curv_residual(f.cv, r);
    int res_ok = 1;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < C; k++) res_ok &= fabs(r[i * C + k] - (k == f.a[i] ? r_want[i] : 0.0)) < 1e-6;
    TU_CHECK(res_ok, "%s residual", name);
    for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (int row = 0; row < B * C; row++) s += J[(size_t)row * n + j] * r[row];
        dense[j] = -s / B, lib[j] = g[j];
    }
    TU_CHECK(tu_rel_err(lib, dense, n) < 1e-4, "%s g = -(1/b) J^T r: %.3g", name, tu_rel_err(lib, dense, n));
    /* factor: L_i L_i^T = Q_i + eps I */
    curvo_curv_hessian_factor(f.cv, Lf);
    int fac_ok = 1;
    for (int i = 0; i < B; i++)
        for (int s = 0; s < C; s++)
            for (int t = 0; t < C; t++) {
                double ll = 0;
                for (int k = 0; k < C; k++) ll += Lf[i * C * C + s * C + k] * Lf[i * C * C + t * C + k];
                double qq = (s == t ? 1e-6 : 0.0) + (s == t && s == f.a[i] ? q[i] : 0.0);
                fac_ok &= fabs(ll - qq) < 1e-12;
            }
    TU_CHECK(fac_ok, "%s factor L L^T = Q + eps I", name);
    /* the Gauss-Newton system keeps one row per sample: A_ij = s_i s_j J_{i,a_i} . J_{j,a_j} */
    int m = 0;
    TU_CHECK(curvo_curv_gn_system(f.cv, 0, &m) == CURVO_OK && m == B, "%s gn_system of order b: %d", name, m);
    if (m == B) {
        double A[B * B], rhs[B], Aw[B * B], rw[B];
        curvo_curv_gn_copy(f.cv, A, rhs);
        for (int i = 0; i < B; i++) {
            double si = sqrt(q[i] + 1e-6);
            rw[i] = r_want[i] / si;
            for (int j = 0; j < B; j++) {
                const float *ri = J + ((size_t)i * C + f.a[i]) * n, *rj = J + ((size_t)j * C + f.a[j]) * n;
                double dot = 0;
                for (size_t k = 0; k < n; k++) dot += (double)ri[k] * rj[k];
                Aw[i * B + j] = si * sqrt(q[j] + 1e-6) * dot;
            }
        }
        TU_CHECK(tu_rel_err(A, Aw, B * B) < 1e-4, "%s Gram of the selected rows: %.3g", name, tu_rel_err(A, Aw, B * B));
        TU_CHECK(tu_rel_err(rhs, rw, B) < 1e-5, "%s rhs r_a / sqrt(q + eps): %.3g", name, tu_rel_err(rhs, rw, B));
    }
    /* a label out of range or missing targets is refused */
    int32_t bad[B];
    memcpy(bad, f.a, sizeof bad);
    bad[3] = C;
    curvo_batch bb = {f.x, bad, f.y, B};
    TU_CHECK(curvo_curv_set_batch(f.cv, &bb) == CURVO_E_INVALID, "%s label out of range refused", name);
    bb = (curvo_batch){f.x, f.a, NULL, B};
    TU_CHECK(curvo_curv_set_batch(f.cv, &bb) == CURVO_E_INVALID, "%s missing targets refused", name);
    free(g), free(v), free(hv), free(g1), free(g2), free(gv), free(J), free(e), free(col), free(dense), free(lib);
    teardown(&f);
}

/* Ten steps of each optimizer on one batch lower the loss. (Huber's GGN vanishes for the samples
 * beyond |d| = 1, where SGN's conjugate gradient with its small damping overshoots: not run.) */
static void optimizers_train(curvo_loss_kind kind) {
    curvo_algorithm algs[] = {CURVO_OPT_ADAM, CURVO_OPT_EGN, CURVO_OPT_SGD, CURVO_OPT_SGN};
    size_t count = kind == CURVO_LOSS_SELECTED_HUBER ? 3 : 4;
    for (size_t k = 0; k < count; k++) {
        fixture f;
        setup(&f, kind, 3);
        double before = curvo_curv_loss(f.cv);
        curvo_opt_params p;
        curvo_opt_params_init(&p, algs[k]);
        if (algs[k] == CURVO_OPT_SGD) p.sgd.lr = 0.1;
        if (algs[k] == CURVO_OPT_ADAM) p.adam.lr = 1e-2;
        curvo_optimizer *opt;
        char err[CURVO_ERRMSG_LEN];
        TU_CHECK(curvo_optimizer_create(&p, f.n, &opt, err) == CURVO_OK, "optimizer: %s", err);
        int rc = 0;
        for (int t = 0; t < 10 && !rc; t++) rc = curvo_optimizer_step(opt, f.cv, &f.bt, NULL);
        curvo_curv_set_batch(f.cv, &f.bt);
        double after = curvo_curv_loss(f.cv);
        TU_CHECK(rc == CURVO_OK && after < 0.9 * before, "%s with loss %d: %.4g -> %.4g (rc %d)",
                 curvo_algorithm_name(algs[k]), (int)kind, before, after, rc);
        curvo_optimizer_free(opt);
        teardown(&f);
    }
}

int main(void) {
    check_kind(CURVO_LOSS_SELECTED_MSE);
    check_kind(CURVO_LOSS_SELECTED_HUBER);
    optimizers_train(CURVO_LOSS_SELECTED_MSE);
    optimizers_train(CURVO_LOSS_SELECTED_HUBER);
    return tu_finish("test_rl_loss");
}
