/* test_curvature.c — the curvature operators of whole tiny networks (n <= 200) against dense
 * references built column by column, and against central finite differences:
 *   gradient vs FD of the loss; J from k = n JVPs vs J from k = b*c VJPs vs FD of the outputs;
 *   <u, Jv> = <J^T u, v>; G = J^T Q J / b (Q from the test's own softmax/sigmoid) vs GGN products,
 *   symmetric; H from k = n Hessian-vector products vs FD of gradients, symmetric, blocked = single;
 *   the Gram vs J~ J~^T from explicit J; g = -(1/b) J^T r; and the EGN direction through the
 *   Duncan-Guttman identity vs a dense (G + lambda I)^-1 (-g) solve.
 * Each network runs with cross-entropy, mean squared error and binary cross-entropy. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    const char *spec;
    int in_c, in_h, in_w;
    int smooth;   /* no relu/maxpool: finite differences are accurate */
} net_case;

typedef struct {
    curvo_model *m;
    curvo_curv *cv;
    curvo_loss_kind loss;
    curvo_batch bt;
    size_t n;
    int b, c;
    float *x, *targets;
    int32_t *labels;
} fixture;

static const char *loss_name(curvo_loss_kind k) {
    return k == CURVO_LOSS_CE ? "ce" : k == CURVO_LOSS_MSE ? "mse" : "bce";
}

static int setup(fixture *f, const net_case *nc, curvo_loss_kind loss, int b, uint64_t seed) {
    memset(f, 0, sizeof *f);
    char err[CURVO_ERRMSG_LEN];
    if (curvo_model_from_spec(nc->spec, nc->in_c, nc->in_h, nc->in_w, &f->m, err)) {
        TU_CHECK(0, "spec %s: %s", nc->spec, err);
        return 0;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    curvo_model_init(f->m, &rng);
    f->n = curvo_model_num_params(f->m);
    f->c = (int)curvo_model_output_size(f->m);
    f->b = b;
    float *theta = curvo_model_params(f->m);
    for (size_t j = 0; j < f->n; j++) theta[j] += (float)(0.1 * curvo_rng_normal(&rng));
    size_t d = curvo_model_input_size(f->m);
    f->x = malloc((size_t)b * d * sizeof(float));
    f->targets = malloc((size_t)b * f->c * sizeof(float));
    f->labels = malloc((size_t)b * sizeof(int32_t));
    tu_fill_normal(&rng, f->x, (size_t)b * d, 1.0);
    if (loss == CURVO_LOSS_BCE)
        tu_fill_uniform(&rng, f->targets, (size_t)b * f->c, 0.0, 1.0);
    else
        tu_fill_normal(&rng, f->targets, (size_t)b * f->c, 1.0);
    for (int i = 0; i < b; i++) f->labels[i] = (int32_t)curvo_rng_below(&rng, (uint64_t)f->c);
    f->loss = loss;
    f->bt = (curvo_batch){f->x, f->labels, f->targets, b};
    TU_CHECK(curvo_curv_create(f->m, loss, &f->cv) == CURVO_OK, "curv_create");
    TU_CHECK(curvo_curv_set_batch(f->cv, &f->bt) == CURVO_OK, "set_batch: %s", curvo_curv_errmsg(f->cv));
    return 1;
}

static void teardown(fixture *f) {
    curvo_curv_free(f->cv);
    curvo_model_free(f->m);
    free(f->x);
    free(f->targets);
    free(f->labels);
}

/* Loss (and optionally outputs) at theta + h e, restoring theta afterwards. */
static double loss_at(fixture *f, const float *dir, double h, float *outputs) {
    float *theta = curvo_model_params(f->m);
    float *saved = malloc(f->n * sizeof(float));
    memcpy(saved, theta, f->n * sizeof(float));
    for (size_t j = 0; j < f->n; j++) theta[j] += (float)(h * dir[j]);
    curvo_curv_set_batch(f->cv, &f->bt);
    double L = curvo_curv_loss(f->cv);
    if (outputs) memcpy(outputs, curvo_curv_outputs(f->cv), (size_t)f->b * f->c * sizeof(float));
    memcpy(theta, saved, f->n * sizeof(float));
    free(saved);
    curvo_curv_set_batch(f->cv, &f->bt);
    return L;
}

/* Gradient at theta + h dir (theta restored). */
static void grad_at(fixture *f, const float *dir, double h, float *g) {
    float *theta = curvo_model_params(f->m);
    float *saved = malloc(f->n * sizeof(float));
    memcpy(saved, theta, f->n * sizeof(float));
    for (size_t j = 0; j < f->n; j++) theta[j] += (float)(h * dir[j]);
    curvo_curv_set_batch(f->cv, &f->bt);
    curvo_curv_grad(f->cv, g);
    memcpy(theta, saved, f->n * sizeof(float));
    free(saved);
    curvo_curv_set_batch(f->cv, &f->bt);
}

/* Q_i (c x c) of the loss at outputs fo, computed here independently of the library. */
static void output_hessian(curvo_loss_kind loss, const float *fo, int c, double *Q) {
    double p[64];
    if (loss == CURVO_LOSS_CE) {
        double mx = fo[0], s = 0.0;
        for (int k = 1; k < c; k++) mx = fo[k] > mx ? fo[k] : mx;
        for (int k = 0; k < c; k++) s += exp(fo[k] - mx);
        for (int k = 0; k < c; k++) p[k] = exp(fo[k] - mx) / s;
    } else {
        for (int k = 0; k < c; k++) p[k] = 1.0 / (1.0 + exp(-(double)fo[k]));
    }
    for (int r = 0; r < c; r++)
        for (int s = 0; s < c; s++) {
            double q;
            if (loss == CURVO_LOSS_CE) q = (r == s ? p[r] : 0.0) - p[r] * p[s];
            else if (loss == CURVO_LOSS_MSE) q = r == s;
            else q = r == s ? p[r] * (1.0 - p[r]) : 0.0;
            Q[r * c + s] = q;
        }
}

static double sym_err(const double *A, size_t n) {
    double num = 0.0, den = 1e-30;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double d = fabs(A[i * n + j] - A[j * n + i]);
            num = d > num ? d : num;
            den = fabs(A[i * n + j]) > den ? fabs(A[i * n + j]) : den;
        }
    return num / den;
}

static void run_case(const net_case *nc, curvo_loss_kind loss, uint64_t seed) {
    fixture F, *f = &F;
    char what[200];
    const int b = 5;
    if (!setup(f, nc, loss, b, seed)) return;
    size_t n = f->n, bc = (size_t)b * f->c;
    int c = f->c;
    printf("%s [%s], n = %zu, b*c = %zu\n", nc->spec, loss_name(loss), n, bc);
    TU_CHECK(n <= 200, "tiny net has %zu > 200 parameters", n);
    double fd_tol = 2e-3, h = nc->smooth ? 1e-2 : 1e-3;
    const double exact_tol = 1e-5;

    float *g = malloc(n * sizeof(float)), *e = calloc(n, sizeof(float));
    double *gd = malloc(n * sizeof(double)), *gfd = malloc(n * sizeof(double));
    float *eye = calloc(n * n, sizeof(float)), *jv = malloc(n * bc * sizeof(float));
    float *eyo = calloc(bc * bc, sizeof(float)), *jtu = malloc(bc * n * sizeof(float));
    float *fp = malloc(bc * sizeof(float)), *fm = malloc(bc * sizeof(float));
    double *J = malloc(bc * n * sizeof(double)), *J2 = malloc(bc * n * sizeof(double));
    double *Jfd = malloc(bc * n * sizeof(double));
    for (size_t j = 0; j < n; j++) eye[j * n + j] = 1.0f;
    for (size_t r = 0; r < bc; r++) eyo[r * bc + r] = 1.0f;

    /* gradient vs FD of the loss */
    TU_CHECK(curvo_curv_grad(f->cv, g) == CURVO_OK, "grad");
    for (size_t j = 0; j < n; j++) {
        e[j] = 1.0f;
        gfd[j] = (loss_at(f, e, h, NULL) - loss_at(f, e, -h, NULL)) / (2 * h);
        e[j] = 0.0f;
        gd[j] = g[j];
    }
    tu_close("gradient vs central differences", gd, gfd, n, fd_tol);

    /* J from n JVPs (blocked), from b*c VJPs (blocked), and from FD of outputs */
    TU_CHECK(curvo_curv_jvp(f->cv, eye, (int)n, jv) == CURVO_OK, "jvp");
    TU_CHECK(curvo_curv_vjp(f->cv, eyo, (int)bc, jtu) == CURVO_OK, "vjp");
    for (size_t j = 0; j < n; j++) {
        e[j] = 1.0f;
        loss_at(f, e, h, fp);
        loss_at(f, e, -h, fm);
        e[j] = 0.0f;
        for (size_t r = 0; r < bc; r++) {
            J[r * n + j] = jv[j * bc + r];
            J2[r * n + j] = jtu[r * n + j];
            Jfd[r * n + j] = ((double)fp[r] - fm[r]) / (2 * h);
        }
    }
    tu_close("J from JVPs vs J from VJPs", J, J2, bc * n, exact_tol);
    tu_close("J from JVPs vs central differences of outputs", J, Jfd, bc * n, fd_tol);

    /* single-vector JVP equals the blocked one; dot-product identity */
    curvo_rng rng;
    curvo_rng_seed(&rng, seed + 99);
    float *v = malloc(n * sizeof(float)), *u = malloc(bc * sizeof(float));
    float *Jv1 = malloc(bc * sizeof(float)), *Jtu1 = malloc(n * sizeof(float));
    tu_fill_normal(&rng, v, n, 1.0);
    tu_fill_normal(&rng, u, bc, 1.0);
    curvo_curv_jvp(f->cv, v, 1, Jv1);
    curvo_curv_vjp(f->cv, u, 1, Jtu1);
    double lhs = 0, rhs = 0, jvref[4096];
    for (size_t r = 0; r < bc; r++) {
        lhs += (double)u[r] * Jv1[r];
        jvref[r] = 0;
        for (size_t j = 0; j < n; j++) jvref[r] += J[r * n + j] * v[j];
    }
    for (size_t j = 0; j < n; j++) rhs += (double)Jtu1[j] * v[j];
    TU_CHECK(fabs(lhs - rhs) <= 1e-5 * (fabs(lhs) + fabs(rhs) + 1e-3), "<u,Jv> = %.9g but <J^T u,v> = %.9g", lhs, rhs);
    double jv1d[4096];
    for (size_t r = 0; r < bc; r++) jv1d[r] = Jv1[r];
    tu_close("single Jv vs explicit J v", jv1d, jvref, bc, exact_tol);

    /* g = -(1/b) J^T r */
    double *r = malloc(bc * sizeof(double)), *gr = malloc(n * sizeof(double));
    curvo_curv_residual(f->cv, r);
    for (size_t j = 0; j < n; j++) {
        gr[j] = 0;
        for (size_t q = 0; q < bc; q++) gr[j] -= J[q * n + j] * r[q] / b;
    }
    tu_close("gradient vs -(1/b) J^T r", gd, gr, n, exact_tol);

    /* G dense vs GGN products */
    const float *fo = curvo_curv_outputs(f->cv);
    double *Qb = malloc((size_t)b * c * c * sizeof(double));
    for (int i = 0; i < b; i++) output_hessian(loss, fo + (size_t)i * c, c, Qb + (size_t)i * c * c);
    double *G = calloc(n * n, sizeof(double)), *Gmf = malloc(n * n * sizeof(double));
    for (int i = 0; i < b; i++)
        for (int k1 = 0; k1 < c; k1++)
            for (int k2 = 0; k2 < c; k2++) {
                double q = Qb[(size_t)i * c * c + k1 * c + k2] / b;
                if (q == 0.0) continue;
                const double *a1 = J + ((size_t)i * c + k1) * n, *a2 = J + ((size_t)i * c + k2) * n;
                for (size_t p = 0; p < n; p++)
                    for (size_t s = 0; s < n; s++) G[p * n + s] += a1[p] * q * a2[s];
            }
    float *prod = malloc(n * n * sizeof(float));
    TU_CHECK(curvo_curv_ggn(f->cv, eye, (int)n, prod) == CURVO_OK, "ggn");
    for (size_t q = 0; q < n * n; q++) Gmf[q] = prod[q];
    tu_close("GGN products vs dense J^T Q J / b", Gmf, G, n * n, exact_tol);
    snprintf(what, sizeof what, "GGN symmetry (err %.2g)", sym_err(Gmf, n));
    TU_CHECK(sym_err(Gmf, n) < 1e-5, "%s", what);

    /* H from n Hessian-vector products vs FD of gradients; symmetry; single vs blocked */
    double *H = malloc(n * n * sizeof(double)), *Hfd = malloc(n * n * sizeof(double));
    TU_CHECK(curvo_curv_hvp(f->cv, eye, (int)n, prod) == CURVO_OK, "hvp");
    for (size_t q = 0; q < n * n; q++) H[q] = prod[q];
    float *gp = malloc(n * sizeof(float)), *gm = malloc(n * sizeof(float));
    for (size_t j = 0; j < n; j++) {
        e[j] = 1.0f;
        grad_at(f, e, h, gp);
        grad_at(f, e, -h, gm);
        e[j] = 0.0f;
        for (size_t s = 0; s < n; s++) Hfd[j * n + s] = ((double)gp[s] - gm[s]) / (2 * h);
    }
    tu_close("Hessian products vs central differences of gradients", H, Hfd, n * n, fd_tol);
    snprintf(what, sizeof what, "Hessian symmetry (err %.2g)", sym_err(H, n));
    TU_CHECK(sym_err(H, n) < 1e-5, "%s", what);
    float *Hv1 = malloc(n * sizeof(float));
    curvo_curv_hvp(f->cv, v, 1, Hv1);
    double *hv1 = malloc(n * sizeof(double)), *hvref = malloc(n * sizeof(double));
    for (size_t s = 0; s < n; s++) {
        hv1[s] = Hv1[s];
        hvref[s] = 0;
        for (size_t j = 0; j < n; j++) hvref[s] += H[j * n + s] * v[j];
    }
    tu_close("single Hv vs blocked H v", hv1, hvref, n, exact_tol);

    /* Gram vs explicit J~ J~^T */
    double *Lf = malloc((size_t)b * c * c * sizeof(double)), *Jt = calloc(bc * n, sizeof(double));
    TU_CHECK(curvo_curv_hessian_factor(f->cv, Lf) == CURVO_OK, "hessian factor");
    double fac_err = 0;
    for (int i = 0; i < b; i++)
        for (int r1 = 0; r1 < c; r1++)
            for (int r2 = 0; r2 < c; r2++) {
                const double *Li = Lf + (size_t)i * c * c;
                double s = 0;
                for (int q = 0; q < c; q++) s += Li[r1 * c + q] * Li[r2 * c + q];
                double want = Qb[(size_t)i * c * c + r1 * c + r2] + (loss != CURVO_LOSS_MSE && r1 == r2 ? 1e-6 : 0);
                fac_err = fmax(fac_err, fabs(s - want));
            }
    TU_CHECK(fac_err < 1e-6, "L L^T != Q + eps I (err %.3g)", fac_err);
    for (int i = 0; i < b; i++) /* J~ rows (i,k) = sum_m L_i[m][k] J[(i,m)] */
        for (int k = 0; k < c; k++)
            for (int m2 = 0; m2 < c; m2++) {
                double l = Lf[(size_t)i * c * c + m2 * c + k];
                for (size_t j = 0; j < n; j++) Jt[((size_t)i * c + k) * n + j] += l * J[((size_t)i * c + m2) * n + j];
            }
    double *gram = malloc(bc * bc * sizeof(double)), *gref = calloc(bc * bc, sizeof(double));
    TU_CHECK(curvo_curv_gram(f->cv, gram) == CURVO_OK, "gram: %s", curvo_curv_errmsg(f->cv));
    for (size_t p = 0; p < bc; p++)
        for (size_t q = 0; q < bc; q++)
            for (size_t j = 0; j < n; j++) gref[p * bc + q] += Jt[p * n + j] * Jt[q * n + j];
    tu_close("Gram (per-layer factors) vs explicit J~ J~^T", gram, gref, bc * bc, exact_tol);

    /* seeded Gram and seeded VJP (k = 2 random seeds per sample) vs explicit rows s^T J_i */
    {
        const int ks = 2;
        size_t kb = (size_t)ks * b;
        double *seeds = malloc(kb * c * sizeof(double)), *rows = calloc(kb * n, sizeof(double));
        double *sg = malloc(kb * kb * sizeof(double)), *sgref = calloc(kb * kb, sizeof(double));
        double *us = malloc(kb * sizeof(double)), *svref = calloc(n, sizeof(double)), *svd = malloc(n * sizeof(double));
        float *sv = malloc(n * sizeof(float));
        for (size_t q = 0; q < kb * c; q++) seeds[q] = curvo_rng_normal(&rng);
        for (size_t q = 0; q < kb; q++) us[q] = curvo_rng_normal(&rng);
        for (int j = 0; j < ks; j++)
            for (int i = 0; i < b; i++)
                for (int m2 = 0; m2 < c; m2++)
                    for (size_t p = 0; p < n; p++)
                        rows[((size_t)j * b + i) * n + p] += seeds[((size_t)j * b + i) * c + m2] * J[((size_t)i * c + m2) * n + p];
        for (size_t p = 0; p < kb; p++)
            for (size_t q = 0; q < kb; q++)
                for (size_t j = 0; j < n; j++) sgref[p * kb + q] += rows[p * n + j] * rows[q * n + j];
        for (size_t p = 0; p < kb; p++)
            for (size_t j = 0; j < n; j++) svref[j] += us[p] * rows[p * n + j];
        TU_CHECK(curvo_curv_seeded_gram(f->cv, seeds, ks, sg) == CURVO_OK, "seeded gram");
        TU_CHECK(curvo_curv_seeded_vjp(f->cv, seeds, us, ks, sv) == CURVO_OK, "seeded vjp");
        for (size_t j = 0; j < n; j++) svd[j] = sv[j];
        tu_close("seeded Gram vs explicit rows", sg, sgref, kb * kb, exact_tol);
        tu_close("seeded VJP vs explicit rows", svd, svref, n, exact_tol);
        free(seeds), free(rows), free(sg), free(sgref), free(us), free(svref), free(svd), free(sv);
    }

    /* EGN direction: (J~J~^T + b lambda I) u = L^-1 r, d = J~^T u  vs  (G_L + lambda I) d = -g */
    const double lambda = 0.1;
    double *A = malloc(bc * bc * sizeof(double)), *s = malloc(bc * sizeof(double));
    memcpy(A, gram, bc * bc * sizeof(double));
    for (size_t p = 0; p < bc; p++) A[p * bc + p] += b * lambda;
    for (int i = 0; i < b; i++) { /* s_i = L_i^-1 r_i, forward substitution */
        const double *Li = Lf + (size_t)i * c * c;
        for (int k = 0; k < c; k++) {
            double t = r[(size_t)i * c + k];
            for (int q = 0; q < k; q++) t -= Li[k * c + q] * s[(size_t)i * c + q];
            s[(size_t)i * c + k] = t / Li[k * c + k];
        }
    }
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)bc, 1, A, (int)bc, s, 1) == 0, "dposv small");
    float *d = malloc(n * sizeof(float));
    TU_CHECK(curvo_curv_whitened_vjp(f->cv, s, 1, d) == CURVO_OK, "whitened vjp");
    double *GL = calloc(n * n, sizeof(double)), *dref = malloc(n * sizeof(double)), *dd = malloc(n * sizeof(double));
    for (size_t p = 0; p < n; p++)
        for (size_t q = 0; q < n; q++) {
            double t = 0;
            for (size_t row = 0; row < bc; row++) t += Jt[row * n + p] * Jt[row * n + q];
            GL[p * n + q] = t / b + (p == q ? lambda : 0.0);
        }
    for (size_t p = 0; p < n; p++) dref[p] = -gd[p], dd[p] = d[p];
    TU_CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (int)n, 1, GL, (int)n, dref, 1) == 0, "dposv dense");
    tu_close("EGN direction (Duncan-Guttman) vs dense (G + lambda I)^-1 (-g)", dd, dref, n, 1e-5);

    free(A), free(s), free(d), free(GL), free(dref), free(dd);
    free(Lf), free(Jt), free(gram), free(gref);
    free(H), free(Hfd), free(gp), free(gm), free(Hv1), free(hv1), free(hvref);
    free(G), free(Gmf), free(prod), free(Qb), free(r), free(gr);
    free(v), free(u), free(Jv1), free(Jtu1);
    free(g), free(e), free(gd), free(gfd), free(eye), free(jv), free(eyo), free(jtu), free(fp), free(fm);
    free(J), free(J2), free(Jfd);
    teardown(f);
}

/* For a network linear in its parameters with MSE, the Hessian equals the GGN exactly. */
static void linear_mse_ggn_equals_hessian(void) {
    net_case nc = {"dense:3", 4, 1, 1, 1};
    fixture F;
    if (!setup(&F, &nc, CURVO_LOSS_MSE, 6, 7)) return;
    size_t n = F.n;
    float *eye = calloc(n * n, sizeof(float)), *Gf = malloc(n * n * sizeof(float)), *Hf = malloc(n * n * sizeof(float));
    for (size_t j = 0; j < n; j++) eye[j * n + j] = 1.0f;
    curvo_curv_ggn(F.cv, eye, (int)n, Gf);
    curvo_curv_hvp(F.cv, eye, (int)n, Hf);
    tu_close_f("linear model + MSE: Hessian == GGN", Hf, Gf, n * n, 1e-6);
    free(eye), free(Gf), free(Hf);
    teardown(&F);
}

/* Calls out of order and bad arguments return codes, never crash. */
static void misuse(void) {
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_model_from_spec("dense:3", 2, 1, 1, &m, err) == CURVO_OK, "spec");
    curvo_curv *cv;
    TU_CHECK(curvo_curv_create(m, CURVO_LOSS_CE, &cv) == CURVO_OK, "create");
    float g[9], x[4] = {1, 2, 3, 4};
    TU_CHECK(curvo_curv_grad(cv, g) == CURVO_E_STATE, "grad before set_batch must be CURVO_E_STATE");
    int32_t bad[2] = {0, 3};
    curvo_batch bt = {x, bad, NULL, 2};
    TU_CHECK(curvo_curv_set_batch(cv, &bt) == CURVO_E_INVALID, "label 3 of 3 classes must be rejected");
    TU_CHECK(strstr(curvo_curv_errmsg(cv), "label") != NULL, "message names the label: %s", curvo_curv_errmsg(cv));
    curvo_batch nolabels = {x, NULL, NULL, 2};
    TU_CHECK(curvo_curv_set_batch(cv, &nolabels) == CURVO_E_INVALID, "missing labels");
    int32_t ok[2] = {0, 2};
    curvo_batch good = {x, ok, NULL, 2};
    TU_CHECK(curvo_curv_set_batch(cv, &good) == CURVO_OK, "good batch");
    TU_CHECK(curvo_curv_hvp(cv, g, 0, g) == CURVO_E_INVALID, "k = 0");
    curvo_curv *none = (curvo_curv *)&good;
    TU_CHECK(curvo_curv_create(NULL, CURVO_LOSS_CE, &none) == CURVO_E_INVALID && none == NULL,
             "create without a model must fail and clear the handle");
    curvo_curv_free(cv);
    curvo_model_free(m);
}

int main(void) {
    static const net_case cases[] = {
        {"dense:6,tanh,dense:5,softplus,dense:3", 4, 1, 1, 1},
        {"conv:2:3:1:1,sigmoid,avgpool:2,flatten,dense:3", 1, 4, 4, 1},
        {"conv:3:3:2:1,relu,maxpool:2:1,flatten,dense:4,tanh,dense:3", 2, 5, 5, 0},
        {"conv:4:3:1:1,relu,groupnorm:2,gap,flatten,dense:3", 1, 4, 4, 0},
        {"conv:4:3:1:1,groupnorm:2,softplus,gap,flatten,dense:3", 1, 4, 4, 1},
        {"conv:4:3:1:1,layernorm,tanh,gap,flatten,dense:3", 2, 3, 3, 0}, /* h = 1e-3: curved */
        {"dense:8,groupnorm:2,softplus,dense:3", 4, 1, 1, 0}, /* h = 1e-3: curved */
        /* residual blocks (res(SPEC), src/nn/residual.c): identity, strided projection, nested */
        {"conv:2:3:1:1,tanh,res(conv:2:3:1:1,tanh,conv:2:3:1:1),avgpool:2,flatten,dense:3", 1, 4, 4, 1},
        {"res(conv:3:3:2:1,softplus,conv:3:3:1:1),sigmoid,flatten,dense:3", 1, 4, 4, 1},
        {"dense:4,res(dense:4,tanh,res(dense:4,sigmoid),dense:3),softplus,dense:3", 4, 1, 1, 1},
        /* a projection shortcut that copies the body's closing groupnorm */
        {"res(conv:2:3:2:1,softplus,conv:2:3:1:1,groupnorm:2),tanh,gap,flatten,dense:3", 1, 4, 4, 0}, /* h = 1e-3 */
    };
    static const curvo_loss_kind losses[] = {CURVO_LOSS_CE, CURVO_LOSS_MSE, CURVO_LOSS_BCE};
    curvo_set_threads(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t l = 0; l < 3; l++) run_case(&cases[i], losses[l], 1000 + 10 * i + l);
    linear_mse_ggn_equals_hessian();
    misuse();
    return tu_finish("test_curvature");
}
