/* curvature_loop.c — the curvature operators of a mini-batch, and a training loop of your own.
 *
 * The README's "Using the library" snippet, complete: the "cnn" preset on a batch of 32 28x28 images
 * (generated here: each class is a bright square at its own place, in noise), its gradient, 10
 * exact Hessian-vector products and the Gram matrix of the per-sample output Jacobians. Then a
 * loop that uses the operators directly instead of curvo_optimizer: a damped Gauss-Newton step
 * per mini-batch, (G + lambda I) d = -g with Levenberg-Marquardt damping lambda, solved by conjugate gradient with G v from curvo_curv_ggn.
 * Exits 0 only if the Hessian products are symmetric, the Gram is a Gram matrix, and the loop
 * lowered the loss.
 *
 *     ./curvature_loop            (a second or two; no data files needed)
 */
#include <curvo.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 32      /* mini-batch (the Gram is (B*C)^2 doubles) */
#define C 10      /* classes */
#define D (28 * 28)
#define K 10      /* Hessian-vector products at once */

/* b images (b, 28*28): noise, plus a 5x5 square of ones at a place that depends on the label. */
static void make_batch(curvo_rng *rng, float *x, int32_t *labels, int b)
{
    curvo_rng_fill_normal(rng, x, (size_t)b * D);
    for (int i = 0; i < b; i++) {
        float *img = x + (size_t)i * D;
        for (int j = 0; j < D; j++)
            img[j] *= 0.3f;
        int c = (int)(fabsf(img[0]) * 1000.0f) % C; /* a pseudo-random label from the noise */
        labels[i] = c;
        /* classes 0-8 on a 3x3 grid of corners (1, 8, 15), class 9 at (22, 22): rows and columns
         * r0 .. r0 + 4 stay inside the 28x28 image */
        int r0 = c == 9 ? 22 : 1 + 7 * (c / 3), c0 = c == 9 ? 22 : 1 + 7 * (c % 3);
        for (int r = 0; r < 5; r++)
            for (int q = 0; q < 5; q++)
                img[(r0 + r) * 28 + c0 + q] += 1.0f;
    }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Conjugate gradient on (G + lambda I) d = -g, `iters` iterations from d = 0. r, p, gp: (n) work. */
static int gn_direction(curvo_curv *cv, const float *g, double lambda, int iters, float *d, float *r, float *p,
                        float *gp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d[i] = 0.0f;
        r[i] = -g[i];
        p[i] = r[i];
    }
    double rr = dot(r, r, n);
    for (int it = 0; it < iters && rr > 1e-20; it++) {
        int st = curvo_curv_ggn(cv, p, 1, gp); /* G p, one vector (k = 1) */
        if (st != CURVO_OK)
            return st;
        for (size_t i = 0; i < n; i++)
            gp[i] += (float)(lambda * p[i]);
        double alpha = rr / dot(p, gp, n);
        for (size_t i = 0; i < n; i++) {
            d[i] += (float)(alpha * p[i]);
            r[i] -= (float)(alpha * gp[i]);
        }
        double rr_new = dot(r, r, n);
        for (size_t i = 0; i < n; i++)
            p[i] = r[i] + (float)(rr_new / rr) * p[i];
        rr = rr_new;
    }
    return CURVO_OK;
}

int main(void)
{
    char err[CURVO_ERRMSG_LEN];
    curvo_model *m;
    if (curvo_model_from_spec("cnn", 1, 28, 28, &m, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    curvo_rng rng;
    curvo_rng_seed(&rng, 1);
    curvo_model_init(m, &rng);
    size_t n = curvo_model_num_params(m);

    curvo_curv *cv;
    if (curvo_curv_create(m, CURVO_LOSS_CE, &cv)) {
        fprintf(stderr, "%s\n", curvo_model_errmsg(m));
        return 1;
    }
    float *x = malloc(sizeof(float) * B * D);
    int32_t *labels = malloc(sizeof(int32_t) * B);
    float *g = malloc(sizeof(float) * n), *V = malloc(sizeof(float) * K * n), *HV = malloc(sizeof(float) * K * n);
    double *gram = malloc(sizeof(double) * (B * C) * (B * C));
    float *d = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * n),
          *gp = malloc(sizeof(float) * n);
    if (!x || !labels || !g || !V || !HV || !gram || !d || !r || !p || !gp)
        return 1;
    int ok = 1;

    /* ---- the operators of one batch (the README's snippet) */
    make_batch(&rng, x, labels, B);
    curvo_batch batch = {x, labels, NULL, B};   /* x (32, 784) floats, labels (32) ints */
    if (curvo_curv_set_batch(cv, &batch)) {      /* forward pass + loss */
        fprintf(stderr, "%s\n", curvo_curv_errmsg(cv));
        return 1;
    }
    curvo_curv_grad(cv, g);                      /* g (n) */
    curvo_rng_fill_normal(&rng, V, (size_t)K * n);
    curvo_curv_hvp(cv, V, K, HV);                /* 10 exact Hessian-vector products, V, HV (10, n) */
    curvo_curv_gram(cv, gram);                   /* (b*c, b*c) whitened Jacobian Gram, in double */
    printf("cnn: %zu parameters, batch loss %.4f, |g| %.4f\n", n, curvo_curv_loss(cv), sqrt(dot(g, g, n)));

    /* H is symmetric: v0 . H v1 = v1 . H v0 up to rounding. */
    double a = dot(V, HV + n, n), b = dot(V + n, HV, n);
    printf("v0.Hv1 = %.6g, v1.Hv0 = %.6g\n", a, b);
    if (fabs(a - b) > 1e-3 * (fabs(a) + fabs(b)) + 1e-6) {
        fprintf(stderr, "Hessian products not symmetric\n");
        ok = 0;
    }
    /* The Gram is symmetric with a non-negative diagonal. */
    double trace = 0.0, asym = 0.0;
    for (int i = 0; i < B * C; i++) {
        trace += gram[(size_t)i * B * C + i];
        if (gram[(size_t)i * B * C + i] < 0.0)
            ok = 0;
        for (int j = 0; j < i; j++)
            asym = fmax(asym, fabs(gram[(size_t)i * B * C + j] - gram[(size_t)j * B * C + i]));
    }
    printf("Gram (%d x %d): trace %.6g, largest asymmetry %.3g\n", B * C, B * C, trace, asym);
    if (!(trace > 0.0) || asym > 1e-6 * trace) {
        fprintf(stderr, "the Gram is not a Gram matrix\n");
        ok = 0;
    }

    /* ---- a training loop of our own: one damped Gauss-Newton step per fresh mini-batch, with
     * Levenberg-Marquardt damping: a step that does not lower the batch's loss is undone and
     * lambda grows; one that does lets lambda shrink. */
    float *theta = curvo_model_params(m); /* the flat parameter vector, updated in place */
    double first = 0.0, last = 0.0, lambda = 1.0;
    for (int step = 0; step < 8; step++) {
        make_batch(&rng, x, labels, B);
        if (curvo_curv_set_batch(cv, &batch) || curvo_curv_grad(cv, g)) {
            fprintf(stderr, "%s\n", curvo_curv_errmsg(cv));
            return 1;
        }
        double loss = curvo_curv_loss(cv); /* on a batch never trained on: a test loss */
        if (step == 0)
            first = loss;
        last = loss;
        if (gn_direction(cv, g, lambda, 5, d, r, p, gp, n)) {
            fprintf(stderr, "%s\n", curvo_curv_errmsg(cv));
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            theta[i] += d[i];
        int st = curvo_curv_set_batch(cv, &batch); /* the same batch at the new parameters */
        double after = st == CURVO_OK ? curvo_curv_loss(cv) : INFINITY;
        int accepted = after < loss;
        if (!accepted) { /* undo, and damp more */
            for (size_t i = 0; i < n; i++)
                theta[i] -= d[i];
            lambda *= 4.0;
        } else {
            lambda = fmax(0.5 * lambda, 1e-2);
        }
        printf("step %d  loss %.4f -> %.4f  |d| %.4f  %s  lambda now %g\n", step, loss, after, sqrt(dot(d, d, n)),
               accepted ? "accepted" : "rejected", lambda);
    }
    printf("loss on a fresh batch: %.4f -> %.4f\n", first, last);
    if (!(last < 0.5 * first)) {
        fprintf(stderr, "the Gauss-Newton loop did not halve the loss\n");
        ok = 0;
    }

    curvo_curv_free(cv); /* the context before its model */
    curvo_model_free(m);
    free(x), free(labels), free(g), free(V), free(HV), free(gram), free(d), free(r), free(p), free(gp);
    return ok ? 0 : 1;
}
