/* test_gn.c — the Gauss-Newton optimizers EGN and SGN:
 *   one EGN step (fixed step 1, fixed lambda) equals theta - (G~ + lambda I)^-1 g solved densely in
 *   double from an explicit J, for cross-entropy, MSE and binary cross-entropy, and its true-class
 *   variant equals the dense solve with the true-class rows; one SGN step with n CG iterations on an
 *   n-parameter problem equals theta - (G + rho I)^-1 g; the Armijo line search accepts exactly the
 *   first trial step that satisfies the condition; lambda and rho follow the gain-ratio rules on a
 *   scripted sequence of gains and inside the optimizers; a NaN batch leaves theta and the state
 *   unchanged; EGN fits an exponential decay to noiseless data to 1e-6 in few, superlinearly
 *   converging iterations; the EGN comparison runs with 1, 2, 65 and 200 outputs too (any number of outputs
 *   the model allows). The Gauss-Newton system operators EGN is written in (curvo_curv_gn_system, _solve,
 *   _direction, _curvature) each match a dense reference from an explicit J for CE, MSE, BCE and the true-class
 *   rows, with 3 and 65 outputs; the SPD solver behind gn_solve matches dposv. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/spd.h"
#include "optim/optim.h"
#include "testutil.h"

#define NB 6 /* samples */

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    curvo_batch bt;
    float x[NB * 4], *targets; /* (NB, c) */
    int32_t labels[NB];
    size_t n;
    int c;
} net;

static void net_init(net *t, const char *spec, curvo_loss_kind loss, uint64_t seed) {
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec(spec, 4, 1, 1, &t->m, err) == CURVO_OK, "%s", err);
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(t->m, &rng);
    t->n = curvo_model_num_params(t->m);
    t->c = (int)curvo_model_output_size(t->m);
    t->targets = malloc((size_t)NB * t->c * sizeof(float));
    tu_fill_normal(&rng, t->x, NB * 4, 1.0);
    if (loss == CURVO_LOSS_BCE) tu_fill_uniform(&rng, t->targets, (size_t)NB * t->c, 0, 1);
    else tu_fill_normal(&rng, t->targets, (size_t)NB * t->c, 1.0);
    for (int i = 0; i < NB; i++) t->labels[i] = (int32_t)curvo_rng_below(&rng, (uint64_t)t->c);
    t->bt = (curvo_batch){t->x, t->labels, t->targets, NB};
    curvo_curv_create(t->m, loss, &t->cv);
    curvo_curv_set_batch(t->cv, &t->bt);
}

static void net_free(net *t) {
    free(t->targets);
    curvo_curv_free(t->cv);
    curvo_model_free(t->m);
}

/* Explicit J (b*c, n) from n JVPs, in double. */
static double *explicit_J(net *t) {
    size_t n = t->n, bc = (size_t)NB * t->c;
    float *eye = calloc(n * n, sizeof(float)), *jv = malloc(n * bc * sizeof(float));
    double *J = malloc(bc * n * sizeof(double));
    for (size_t j = 0; j < n; j++) eye[j * n + j] = 1.0f;
    curvo_curv_jvp(t->cv, eye, (int)n, jv);
    for (size_t j = 0; j < n; j++)
        for (size_t r = 0; r < bc; r++) J[r * n + j] = jv[j * bc + r];
    free(eye), free(jv);
    return J;
}

/* d = -(R^T R / b + lambda I)^-1 g in double, R (rows, n). */
static void dense_direction(const double *R, size_t rows, size_t n, double lambda, const float *g, double *d) {
    double *A = malloc(n * n * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0 / NB, R, (int)n, R, (int)n,
                0.0, A, (int)n);
    for (size_t p = 0; p < n; p++) A[p * n + p] += lambda;
    for (size_t p = 0; p < n; p++) d[p] = -(double)g[p];
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)n, 1, A, (int)n, d, 1) == 0, "dense solve");
    free(A);
}

/* theta_after - theta_before of one step, in double */
static void step_delta(net *t, const curvo_opt_params *p, double *delta, float *g) {
    curvo_optimizer *opt;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_optimizer_create(p, t->n, &opt, err) == CURVO_OK, "create: %s", err);
    float *theta = curvo_model_params(t->m), *before = malloc(t->n * sizeof(float));
    memcpy(before, theta, t->n * sizeof(float));
    curvo_curv_set_batch(t->cv, &t->bt);
    curvo_curv_grad(t->cv, g);
    curvo_step_info info;
    TU_CHECK(curvo_optimizer_step(opt, t->cv, &t->bt, &info) == CURVO_OK, "step: %s", curvo_strerror(info.status));
    for (size_t i = 0; i < t->n; i++) delta[i] = (double)theta[i] - before[i];
    memcpy(theta, before, t->n * sizeof(float));
    curvo_curv_set_batch(t->cv, &t->bt);
    free(before);
    curvo_optimizer_free(opt);
}

/* p_{y_i} of sample i's softmax, from the outputs, computed here independently of the library */
static double true_class_prob(const net *t, int i) {
    const float *fi = curvo_curv_outputs(t->cv) + (size_t)i * t->c;
    double mx = fi[0], s = 0;
    for (int k = 1; k < t->c; k++) mx = fmax(mx, fi[k]);
    for (int k = 0; k < t->c; k++) s += exp(fi[k] - mx);
    return exp(fi[t->labels[i]] - mx) / s;
}

/* The rows of J~ (rows, n) in cotangent-major order from an explicit J and the factors Lf: row k*b + i =
 * sum_m L_i[m][k] J_(i,m) (column k of L_i); true class: row i = sqrt(p_y (1 - p_y) + eps) J_(i,y).
 * Returns the number of rows. */
static size_t whitened_rows(net *t, const double *J, const double *Lf, int true_class, double *R) {
    size_t n = t->n;
    int c = t->c;
    memset(R, 0, (size_t)NB * c * n * sizeof(double));
    for (int i = 0; i < NB; i++) {
        if (true_class) {
            double py = true_class_prob(t, i), w = sqrt(py * (1 - py) + 1e-6);
            for (size_t j = 0; j < n; j++) R[(size_t)i * n + j] = w * J[((size_t)i * c + t->labels[i]) * n + j];
            continue;
        }
        for (int k = 0; k < c; k++)
            for (int m2 = 0; m2 < c; m2++)
                for (size_t j = 0; j < n; j++)
                    R[((size_t)k * NB + i) * n + j] += Lf[(size_t)i * c * c + m2 * c + k] * J[((size_t)i * c + m2) * n + j];
    }
    return true_class ? NB : (size_t)NB * c;
}

/* hidden units and outputs: the outputs range from 1 to 200, beyond any fixed per-sample buffer (EGN's
 * forward substitution once kept 64 values on the stack: 65 outputs wrote past it, 200 crashed) */
static void egn_matches_dense(curvo_loss_kind loss, const char *label, int true_class, int hidden, int outputs) {
    net t;
    char spec[64];
    snprintf(spec, sizeof spec, "dense:%d,%s,dense:%d", hidden, loss == CURVO_LOSS_CE ? "tanh" : "softplus", outputs);
    net_init(&t, spec, loss, 21 + loss);
    size_t n = t.n, bc = (size_t)NB * t.c;
    int c = t.c;
    double *J = explicit_J(&t), *Lf = malloc((size_t)NB * c * c * sizeof(double));
    double *R = malloc(bc * n * sizeof(double)), *dref = malloc(n * sizeof(double)), *delta = malloc(n * sizeof(double));
    float *g = malloc(n * sizeof(float));
    curvo_curv_hessian_factor(t.cv, Lf);
    size_t rows = whitened_rows(&t, J, Lf, true_class, R);
    curvo_opt_params p;
    curvo_opt_params_init(&p, CURVO_OPT_EGN);
    p.egn.line_search = 0, p.egn.adaptive = 0, p.egn.lr = 1.0, p.egn.lambda = 0.1, p.egn.true_class = true_class;
    step_delta(&t, &p, delta, g);
    if (true_class) { /* the true-class system's right-hand side is the true-class part of g */
        double *gt = calloc(n, sizeof(double));
        for (int i = 0; i < NB; i++) {
            double py = true_class_prob(&t, i);
            for (size_t j = 0; j < n; j++) gt[j] -= (1 - py) * J[((size_t)i * c + t.labels[i]) * n + j] / NB;
        }
        for (size_t j = 0; j < n; j++) g[j] = (float)gt[j];
        free(gt);
    }
    dense_direction(R, rows, n, 0.1, g, dref);
    char what[128];
    snprintf(what, sizeof what, "EGN step%s vs dense (G~ + lambda I)^-1 g [%s, %d outputs]",
             true_class ? " (true class)" : "", label, outputs);
    tu_close(what, delta, dref, n, 1e-5);
    free(J), free(Lf), free(R), free(dref), free(delta), free(g);
    net_free(&t);
}

/* The Gauss-Newton system operators (curvo_curv_gn_*) against dense references from an explicit J:
 *   gn_system     A = J~ J~^T and rhs = blockdiag(L_i^-1) r (by LAPACK's triangular solve), cotangent-major;
 *                 true class: rows sqrt(q_i) J_(i,y), rhs (1 - p_y) / sqrt(q_i) from the test's own softmax
 *   gn_solve      (A + b lambda I)^-1 rhs by a dense dposv
 *   gn_direction  J~^T u for a random u
 *   gn_curvature  p^T J^T (Q + eps I) J p / b with Q from the test's own softmax / sigmoid (true class:
 *                 q_i (J p)_{i,y}^2), for a random p */
static void gn_operators_match_dense(curvo_loss_kind loss, const char *label, int true_class, int hidden, int outputs) {
    net t;
    char spec[64], what[160];
    snprintf(spec, sizeof spec, "dense:%d,%s,dense:%d", hidden, loss == CURVO_LOSS_CE ? "tanh" : "softplus", outputs);
    net_init(&t, spec, loss, 41 + loss + (uint64_t)outputs);
    size_t n = t.n, bc = (size_t)NB * t.c;
    int c = t.c;
    double *J = explicit_J(&t), *Lf = malloc((size_t)NB * c * c * sizeof(double)), *r = malloc(bc * sizeof(double));
    double *R = malloc(bc * n * sizeof(double));
    curvo_curv_hessian_factor(t.cv, Lf);
    curvo_curv_residual(t.cv, r);
    size_t m = whitened_rows(&t, J, Lf, true_class, R);
    double *Aref = calloc(m * m, sizeof(double)), *rhsref = malloc(m * sizeof(double));
    double *A = malloc(m * m * sizeof(double)), *rhs = malloc(m * sizeof(double)), *Af = malloc(m * m * sizeof(double));
    double *u = malloc(m * sizeof(double)), *uref = malloc(m * sizeof(double)), *dref = calloc(n, sizeof(double));
    double *dd = malloc(n * sizeof(double)), *z = malloc(bc * sizeof(double)), *pr = malloc((size_t)c * sizeof(double));
    float *d = malloc(n * sizeof(float)), *p = malloc(n * sizeof(float));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)n, 1.0, R, (int)n, R, (int)n, 0.0, Aref,
                (int)m);
    for (int i = 0; i < NB; i++) {
        if (true_class) {
            double py = true_class_prob(&t, i);
            rhsref[i] = (1 - py) / sqrt(py * (1 - py) + 1e-6);
            continue;
        }
        double *ri = z + (size_t)i * c; /* L_i^-1 r_i */
        memcpy(ri, r + (size_t)i * c, (size_t)c * sizeof(double));
        TU_CHECK(LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'L', 'N', 'N', c, 1, Lf + (size_t)i * c * c, c, ri, 1) == 0, "dtrtrs");
        for (int k = 0; k < c; k++) rhsref[(size_t)k * NB + i] = ri[k];
    }
    int mo = -1;
    snprintf(what, sizeof what, "[%s%s, %d outputs]", label, true_class ? ", true class" : "", outputs);
    TU_CHECK(curvo_curv_gn_solve(t.cv, 0.1, u) == CURVO_E_STATE, "gn_solve before gn_system: CURVO_E_STATE %s", what);
    TU_CHECK(curvo_curv_gn_system(t.cv, true_class, &mo) == CURVO_OK && mo == (int)m, "gn_system: order %d, expected %zu %s: %s",
             mo, m, what, curvo_curv_errmsg(t.cv));
    TU_CHECK(curvo_curv_gn_copy(t.cv, A, rhs) == CURVO_OK, "gn_copy");
    char w2[256];
    snprintf(w2, sizeof w2, "gn_system A vs explicit J~ J~^T %s", what);
    tu_close(w2, A, Aref, m * m, 1e-5);
    snprintf(w2, sizeof w2, "gn_system rhs vs blockdiag(L_i^-1) r %s", what);
    tu_close(w2, rhs, rhsref, m, 1e-5);

    /* gn_solve vs dposv of (A + b lambda I) on the system's own A (and the reference's, looser) */
    const double lambda = 0.1;
    TU_CHECK(curvo_curv_gn_solve(t.cv, lambda, u) == CURVO_OK, "gn_solve: %s", curvo_curv_errmsg(t.cv));
    memcpy(Af, A, m * m * sizeof(double)), memcpy(uref, rhs, m * sizeof(double));
    for (size_t q = 0; q < m; q++) Af[q * m + q] += NB * lambda;
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)m, 1, Af, (int)m, uref, 1) == 0, "dposv");
    snprintf(w2, sizeof w2, "gn_solve vs dense (A + b lambda I)^-1 rhs %s", what);
    tu_close(w2, u, uref, m, 1e-10);
    memcpy(Af, Aref, m * m * sizeof(double)), memcpy(uref, rhsref, m * sizeof(double));
    for (size_t q = 0; q < m; q++) Af[q * m + q] += NB * lambda;
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)m, 1, Af, (int)m, uref, 1) == 0, "dposv");
    snprintf(w2, sizeof w2, "gn_solve vs dense solve of the explicit system %s", what);
    tu_close(w2, u, uref, m, 1e-4);
    TU_CHECK(curvo_curv_gn_solve(t.cv, -1e6, u) == CURVO_E_NUMERIC, "gn_solve of an indefinite matrix: CURVO_E_NUMERIC %s", what);

    /* gn_direction: J~^T u for a random u */
    curvo_rng rng;
    curvo_rng_seed(&rng, 5 + (uint64_t)outputs);
    for (size_t q = 0; q < m; q++) u[q] = curvo_rng_normal(&rng);
    for (size_t q = 0; q < m; q++)
        for (size_t j = 0; j < n; j++) dref[j] += R[q * n + j] * u[q];
    TU_CHECK(curvo_curv_gn_direction(t.cv, u, d) == CURVO_OK, "gn_direction: %s", curvo_curv_errmsg(t.cv));
    for (size_t j = 0; j < n; j++) dd[j] = d[j];
    snprintf(w2, sizeof w2, "gn_direction vs explicit J~^T u %s", what);
    tu_close(w2, dd, dref, n, 1e-5);

    /* gn_curvature: p^T J^T (Q + eps I) J p / b */
    tu_fill_normal(&rng, p, n, 1.0);
    for (size_t q = 0; q < bc; q++) {
        z[q] = 0;
        for (size_t j = 0; j < n; j++) z[q] += J[q * n + j] * p[j];
    }
    double ref = 0, eps = loss == CURVO_LOSS_MSE ? 0.0 : 1e-6, pGp = NAN;
    const float *fo = curvo_curv_outputs(t.cv);
    for (int i = 0; i < NB; i++) {
        const double *zi = z + (size_t)i * c;
        if (true_class) {
            double py = true_class_prob(&t, i), y = zi[t.labels[i]];
            ref += (py * (1 - py) + 1e-6) * y * y;
            continue;
        }
        const float *fi = fo + (size_t)i * c;
        double mx = fi[0], s = 0, pz = 0;
        for (int k = 1; k < c; k++) mx = fmax(mx, fi[k]);
        for (int k = 0; k < c; k++) {
            pr[k] = loss == CURVO_LOSS_CE ? exp(fi[k] - mx) : 1.0 / (1.0 + exp(-(double)fi[k]));
            s += pr[k];
        }
        for (int k = 0; k < c; k++) {
            if (loss == CURVO_LOSS_CE) pr[k] /= s;
            pz += pr[k] * zi[k];
        }
        for (int k = 0; k < c; k++) { /* z^T Q z: CE diag(p) - p p^T, BCE diag(p (1 - p)), MSE I */
            double q = loss == CURVO_LOSS_CE ? pr[k] : loss == CURVO_LOSS_BCE ? pr[k] * (1 - pr[k]) : 1.0;
            ref += (q + eps) * zi[k] * zi[k];
        }
        if (loss == CURVO_LOSS_CE) ref -= pz * pz;
    }
    ref /= NB;
    TU_CHECK(curvo_curv_gn_curvature(t.cv, p, &pGp) == CURVO_OK, "gn_curvature: %s", curvo_curv_errmsg(t.cv));
    snprintf(w2, sizeof w2, "gn_curvature vs p^T J^T (Q + eps I) J p / b %s", what);
    tu_close(w2, &pGp, &ref, 1, 1e-5);

    /* a new batch invalidates the system; a smaller batch, then this one again, rebuilds it the same */
    curvo_batch half = t.bt;
    half.b = NB / 2;
    TU_CHECK(curvo_curv_set_batch(t.cv, &half) == CURVO_OK, "set_batch");
    TU_CHECK(curvo_curv_gn_direction(t.cv, u, d) == CURVO_E_STATE && curvo_curv_gn_curvature(t.cv, p, &pGp) == CURVO_E_STATE &&
                 curvo_curv_gn_copy(t.cv, A, NULL) == CURVO_E_STATE,
             "after set_batch the old system is gone: CURVO_E_STATE %s", what);
    TU_CHECK(curvo_curv_gn_system(t.cv, true_class, &mo) == CURVO_OK && mo == (int)(true_class ? NB / 2 : NB / 2 * c),
             "gn_system on half the batch: order %d", mo);
    TU_CHECK(curvo_curv_set_batch(t.cv, &t.bt) == CURVO_OK && curvo_curv_gn_system(t.cv, true_class, &mo) == CURVO_OK &&
                 curvo_curv_gn_copy(t.cv, Af, uref) == CURVO_OK,
             "gn_system again");
    TU_CHECK(!memcmp(Af, A, m * m * sizeof(double)) && !memcmp(uref, rhs, m * sizeof(double)),
             "the system rebuilt after a smaller batch is the same %s", what);
    if (loss != CURVO_LOSS_CE)
        TU_CHECK(curvo_curv_gn_system(t.cv, 1, &mo) == CURVO_E_UNSUPPORTED, "true-class system without cross-entropy refused");
    free(J), free(Lf), free(r), free(R), free(Aref), free(rhsref), free(A), free(rhs), free(Af), free(u), free(uref);
    free(dref), free(dd), free(z), free(pr), free(d), free(p);
    net_free(&t);
}

/* The SPD solver alone: (A + shift I) x = b against dposv for orders that grow and shrink, and
 * CURVO_E_NUMERIC for an indefinite matrix. */
static void spd_solver_matches_dense(void) {
    spd_solver s = {0};
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    static const int orders[] = {3, 9, 4, 9};
    for (size_t t = 0; t < sizeof orders / sizeof orders[0]; t++) {
        int n = orders[t];
        double B[81], A[81], Af[81], b[9], x[9], xref[9], shift = 0.5;
        for (int q = 0; q < n * n; q++) B[q] = curvo_rng_normal(&rng);
        for (int i = 0; i < n; i++) /* A = B B^T: symmetric positive semi-definite */
            for (int j = 0; j < n; j++) {
                A[i * n + j] = 0;
                for (int k = 0; k < n; k++) A[i * n + j] += B[i * n + k] * B[j * n + k];
            }
        for (int i = 0; i < n; i++) b[i] = xref[i] = curvo_rng_normal(&rng);
        memcpy(Af, A, (size_t)n * n * sizeof(double));
        for (int i = 0; i < n; i++) Af[i * n + i] += shift;
        TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', n, 1, Af, n, xref, 1) == 0, "dposv");
        TU_CHECK(spd_init(&s, &spd_dense_cholesky, n) == CURVO_OK && spd_factor(&s, A, shift) == CURVO_OK &&
                     spd_solve(&s, b, x) == CURVO_OK,
                 "spd: order %d", n);
        char what[64];
        snprintf(what, sizeof what, "spd dense Cholesky vs dposv (order %d)", n);
        tu_close(what, x, xref, (size_t)n, 1e-10);
        TU_CHECK(spd_factor(&s, A, -1e3) == CURVO_E_NUMERIC && spd_solve(&s, b, x) == CURVO_E_STATE,
                 "spd: an indefinite matrix fails to factor, and nothing is solved with it (order %d)", n);
    }
    spd_free(&s);
}

static void sgn_matches_dense(curvo_loss_kind loss, const char *label) {
    net t;
    net_init(&t, "dense:4,tanh,dense:3", loss, 31 + loss);
    size_t n = t.n, bc = (size_t)NB * t.c;
    int c = t.c;
    double *J = explicit_J(&t), *Q = malloc((size_t)NB * c * c * sizeof(double));
    double *A = calloc(n * n, sizeof(double)), *dref = malloc(n * sizeof(double)), *delta = malloc(n * sizeof(double));
    float *g = malloc(n * sizeof(float));
    const double rho = 0.05;
    /* G = J^T Q J / b from the loss Hessian, computed through the library's factor: Q = L L^T - eps I */
    double *Lf = malloc((size_t)NB * c * c * sizeof(double));
    curvo_curv_hessian_factor(t.cv, Lf);
    double eps = loss == CURVO_LOSS_MSE ? 0.0 : 1e-6;
    for (int i = 0; i < NB; i++)
        for (int a = 0; a < c; a++)
            for (int b2 = 0; b2 < c; b2++) {
                double s = 0;
                for (int k = 0; k < c; k++) s += Lf[(size_t)i * c * c + a * c + k] * Lf[(size_t)i * c * c + b2 * c + k];
                Q[(size_t)i * c * c + a * c + b2] = s - (a == b2 ? eps : 0.0);
            }
    for (int i = 0; i < NB; i++)
        for (int a = 0; a < c; a++)
            for (int b2 = 0; b2 < c; b2++) {
                double q = Q[(size_t)i * c * c + a * c + b2] / NB;
                for (size_t p1 = 0; p1 < n; p1++)
                    for (size_t p2 = 0; p2 < n; p2++)
                        A[p1 * n + p2] += J[((size_t)i * c + a) * n + p1] * q * J[((size_t)i * c + b2) * n + p2];
            }
    for (size_t p1 = 0; p1 < n; p1++) A[p1 * n + p1] += rho;
    curvo_opt_params p;
    curvo_opt_params_init(&p, CURVO_OPT_SGN);
    p.sgn.line_search = 0, p.sgn.adaptive = 0, p.sgn.lr = 1.0, p.sgn.rho = rho, p.sgn.cg_iters = (int)n, p.sgn.cg_tol = 0;
    step_delta(&t, &p, delta, g);
    for (size_t j = 0; j < n; j++) dref[j] = -(double)g[j];
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)n, 1, A, (int)n, dref, 1) == 0, "dense solve");
    char what[128];
    snprintf(what, sizeof what, "SGN step, %zu CG iterations, vs dense (G + rho I)^-1 g [%s]", n, label);
    tu_close(what, delta, dref, n, 1e-5);
    (void)bc;
    free(J), free(Q), free(A), free(dref), free(delta), free(g), free(Lf);
    net_free(&t);
}

/* f(alpha) = scripted values; records the trial steps */
typedef struct {
    const double *values;
    double alphas[32];
    int calls;
} script;
static double scripted(void *ctx, double alpha) {
    script *s = ctx;
    s->alphas[s->calls] = alpha;
    return s->values[s->calls++];
}

static void armijo_rule(void) {
    /* f0 = 1, slope = -1, c = 0.1: accept when f(alpha) <= 1 - 0.1 alpha */
    const double v1[] = {2.0, NAN, 0.95, 0.5}; /* alpha 1: no; 0.5: NaN; 0.25: 0.95 > 0.975? no: 0.95 <= 0.975 yes */
    script s = {v1, {0}, 0};
    ls_result r = optim_armijo(scripted, &s, 1.0, -1.0, 1.0, 0.1, 0.5, 10);
    TU_CHECK(r.accepted && r.alpha == 0.25 && r.f == 0.95 && r.tries == 3 && s.calls == 3,
             "Armijo accepts the first trial meeting the condition (alpha %g after %d tries)", r.alpha, r.tries);
    TU_CHECK(s.alphas[0] == 1.0 && s.alphas[1] == 0.5 && s.alphas[2] == 0.25, "trials shrink by the factor");
    const double v2[] = {0.99, 0.99, 0.99};
    script s2 = {v2, {0}, 0};
    r = optim_armijo(scripted, &s2, 1.0, -1.0, 1.0, 0.1, 0.5, 3);
    /* 0.99 <= 1 - 0.1*0.25 = 0.975? no, at every trial */
    TU_CHECK(!r.accepted && r.tries == 3 && r.alpha == 0.0, "no acceptable point: rejected after max tries");
    const double v3[] = {0.9};
    script s3 = {v3, {0}, 0};
    r = optim_armijo(scripted, &s3, 1.0, -1.0, 1.0, 0.1, 0.5, 5);
    TU_CHECK(r.accepted && r.alpha == 1.0 && r.tries == 1, "a good first trial is taken at once");
}

static void damping_rules(void) {
    /* EGN: gains 0.1 (x1.5), 0.5 (same), 0.9 (x0.5), NaN (x1.5), then clamp */
    const double gains[] = {0.1, 0.5, 0.9, NAN, 0.9};
    const double want[] = {1.5, 1.5, 0.75, 1.125, 0.5625};
    double lam = 1.0;
    for (int i = 0; i < 5; i++) {
        lam = optim_adapt_damping(lam, gains[i], 0.25, 0.75, 1.5, 0.5, 1e-12, 1e6);
        TU_CHECK(fabs(lam - want[i]) < 1e-15, "EGN lambda after gain %g: %g, expected %g", gains[i], lam, want[i]);
    }
    TU_CHECK(optim_adapt_damping(1e6, 0.0, 0.25, 0.75, 1.5, 0.5, 1e-12, 1e6) == 1e6, "lambda capped at 1e6");
    TU_CHECK(optim_adapt_damping(1e-12, 1.0, 0.25, 0.75, 1.5, 0.5, 1e-12, 1e6) == 1e-12, "lambda floored at 1e-12");
    /* SGN: rho = max(2 rho / 3, rho_min) on a good ratio */
    double rho = 1e-4;
    rho = optim_adapt_damping(rho, 0.9, 0.25, 0.75, 1.5, 2.0 / 3.0, 1e-6, 1e6);
    TU_CHECK(fabs(rho - 2e-4 / 3) < 1e-18, "SGN rho * 2/3");
    rho = optim_adapt_damping(1.2e-6, 0.9, 0.25, 0.75, 1.5, 2.0 / 3.0, 1e-6, 1e6);
    TU_CHECK(rho == 1e-6, "SGN rho floored at rho_min");
}

/* Inside the optimizer: on a linear least-squares problem the Gauss-Newton model is exact, so a full
 * step's gain ratio is 1 and lambda halves; with a NaN batch lambda grows and theta stays. */
static void rules_inside(curvo_algorithm alg) {
    net t;
    net_init(&t, "dense:2", CURVO_LOSS_MSE, 77);
    curvo_opt_params p;
    curvo_opt_params_init(&p, alg);
    if (alg == CURVO_OPT_EGN) p.egn.adaptive = 1;
    curvo_optimizer *opt;
    curvo_optimizer_create(&p, t.n, &opt, NULL);
    curvo_step_info a, b2;
    curvo_optimizer_step(opt, t.cv, &t.bt, &a);
    curvo_optimizer_step(opt, t.cv, &t.bt, &b2);
    double down = alg == CURVO_OPT_EGN ? 0.5 : 2.0 / 3.0;
    TU_CHECK(a.accepted && fabs(b2.damping - a.damping * down) < 1e-12 * a.damping,
             "%s: exact model, gain 1: damping %g -> %g (x%g)", curvo_algorithm_name(alg), a.damping, b2.damping, down);
    float before[64];
    memcpy(before, curvo_model_params(t.m), t.n * sizeof(float));
    size_t sz = curvo_optimizer_state_size(opt);
    unsigned char *s0 = malloc(sz), *s1 = malloc(sz);
    curvo_optimizer_save_state(opt, s0, sz);
    float xbad[NB * 4];
    memcpy(xbad, t.x, sizeof xbad);
    xbad[3] = NAN;
    curvo_batch bad = {xbad, t.labels, t.targets, NB};
    curvo_step_info info;
    int rc = curvo_optimizer_step(opt, t.cv, &bad, &info);
    TU_CHECK(rc == CURVO_E_NUMERIC && !info.accepted, "%s: NaN batch rejected (%d)", curvo_algorithm_name(alg), rc);
    TU_CHECK(!memcmp(before, curvo_model_params(t.m), t.n * sizeof(float)), "%s: NaN batch leaves theta",
             curvo_algorithm_name(alg));
    curvo_optimizer_save_state(opt, s1, sz);
    TU_CHECK(!memcmp(s0, s1, sz), "%s: NaN batch leaves the state", curvo_algorithm_name(alg));
    free(s0), free(s1);
    curvo_optimizer_free(opt);
    net_free(&t);
}

/* Nonlinear least squares with a known minimum: y = a exp(-k t) on noiseless data, fitted by the
 * model exp(w t + b) (w = -k, b = log a). EGN with adaptive damping reaches 1e-6 relative in few iterations, with the
 * error shrinking superlinearly near the solution (zero residual). */
static void egn_fits_exponential_decay(void) {
    enum { NT = 20 };
    float t[NT], y[NT];
    const double a = 2.0, kk = 1.3;
    for (int i = 0; i < NT; i++) t[i] = (float)(0.1 * i), y[i] = (float)(a * exp(-kk * t[i]));
    curvo_model *m;
    curvo_model_from_spec("dense:1,exp", 1, 1, 1, &m, NULL);
    float *w = curvo_model_params(m);
    w[0] = -0.3f, w[1] = 0.0f; /* start: k = 0.3, a = 1 */
    curvo_curv *cv;
    curvo_curv_create(m, CURVO_LOSS_MSE, &cv);
    curvo_batch bt = {t, NULL, y, NT};
    curvo_opt_params p;
    curvo_opt_params_init(&p, CURVO_OPT_EGN);
    p.egn.adaptive = 1; /* a full-batch problem: the gain ratio is unbiased, so lambda may adapt */
    curvo_optimizer *opt;
    curvo_optimizer_create(&p, 2, &opt, NULL);
    const double want[2] = {-kk, log(a)};
    int reached = -1;
    double errs[40];
    for (int it = 0; it < 40; it++) {
        curvo_step_info info;
        int rc = curvo_optimizer_step(opt, cv, &bt, &info);
        double e = fmax(fabs(w[0] - want[0]) / fabs(want[0]), fabs(w[1] - want[1]) / fabs(want[1]));
        errs[it] = e;
        if (getenv("CURVO_TEST_VERBOSE"))
            printf("  exp-decay fit, EGN iteration %2d: rel err %.3g  lambda %.3g  alpha %.3g  %s\n", it + 1, e,
                   info.damping, info.lr, rc ? curvo_strerror(rc) : "");
        if (e < 1e-6) {
            reached = it + 1;
            break;
        }
    }
    TU_CHECK(reached > 0 && reached <= 25, "EGN fits the exponential decay to 1e-6 in %d iterations (<= 25)", reached);
    /* superlinear convergence: once the error is below 0.1 each contraction factor e_{k+1}/e_k is
     * smaller than the one before (the damping halves every step, and with it the factor) */
    int superlinear = 1, counted = 0;
    for (int it = 1; reached > 0 && it + 1 < reached; it++)
        if (errs[it - 1] < 0.1) {
            superlinear &= errs[it + 1] / errs[it] < errs[it] / errs[it - 1];
            counted++;
        }
    TU_CHECK(superlinear && counted >= 3, "EGN converges superlinearly near the zero-residual solution");
    curvo_optimizer_free(opt);
    curvo_curv_free(cv);
    curvo_model_free(m);
}

int main(void) {
    curvo_set_threads(1);
    egn_matches_dense(CURVO_LOSS_CE, "ce", 0, 5, 3);
    egn_matches_dense(CURVO_LOSS_MSE, "mse", 0, 5, 3);
    egn_matches_dense(CURVO_LOSS_BCE, "bce", 0, 5, 3);
    egn_matches_dense(CURVO_LOSS_CE, "ce", 1, 5, 3);
    static const int outputs[] = {1, 2, 65, 200};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++) {
        int c = outputs[i];
        egn_matches_dense(CURVO_LOSS_MSE, "mse", 0, 3, c);
        egn_matches_dense(CURVO_LOSS_BCE, "bce", 0, 3, c);
        if (c < 2) continue; /* softmax over one output: zero loss and gradient, no step to compare */
        egn_matches_dense(CURVO_LOSS_CE, "ce", 0, 3, c);
        egn_matches_dense(CURVO_LOSS_CE, "ce", 1, 3, c);
    }
    static const int gn_outputs[] = {3, 65};
    for (size_t i = 0; i < sizeof gn_outputs / sizeof gn_outputs[0]; i++) {
        gn_operators_match_dense(CURVO_LOSS_CE, "ce", 0, 5, gn_outputs[i]);
        gn_operators_match_dense(CURVO_LOSS_CE, "ce", 1, 5, gn_outputs[i]);
        gn_operators_match_dense(CURVO_LOSS_MSE, "mse", 0, 5, gn_outputs[i]);
        gn_operators_match_dense(CURVO_LOSS_BCE, "bce", 0, 5, gn_outputs[i]);
    }
    spd_solver_matches_dense();
    sgn_matches_dense(CURVO_LOSS_CE, "ce");
    sgn_matches_dense(CURVO_LOSS_MSE, "mse");
    sgn_matches_dense(CURVO_LOSS_BCE, "bce");
    armijo_rule();
    damping_rules();
    rules_inside(CURVO_OPT_EGN);
    rules_inside(CURVO_OPT_SGN);
    egn_fits_exponential_decay();
    return tu_finish("test_gn");
}
