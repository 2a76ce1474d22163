/* test_loss.c — loss values against closed forms (uniform logits, zero logits), stability at huge
 * logits, the status strings, and the RNG's determinism and range. */
#include <math.h>
#include <string.h>

#include "testutil.h"

/* A 1-module model "flatten" makes the outputs equal the inputs, so x sets the logits directly. */
static double loss_of(curvo_loss_kind kind, const float *f, int b, int c, const int32_t *labels,
                      const float *targets, int *status) {
    curvo_model *m;
    curvo_model_create(c, 1, 1, &m);
    curvo_model_add_flatten(m);
    curvo_curv *cv;
    curvo_curv_create(m, kind, &cv);
    curvo_batch bt = {f, labels, targets, b};
    *status = curvo_curv_set_batch(cv, &bt);
    double L = curvo_curv_loss(cv);
    curvo_curv_free(cv);
    curvo_model_free(m);
    return L;
}

static void values(void) {
    int st;
    float zeros[8] = {0};
    int32_t labels[2] = {1, 3};
    double L = loss_of(CURVO_LOSS_CE, zeros, 2, 4, labels, NULL, &st);
    TU_CHECK(st == CURVO_OK && fabs(L - log(4.0)) < 1e-12, "CE of uniform logits = log 4, got %.15g", L);
    float f[4] = {1000.0f, -1000.0f, 0.0f, 0.0f};
    int32_t l2[1] = {1};
    L = loss_of(CURVO_LOSS_CE, f, 1, 4, l2, NULL, &st);
    TU_CHECK(st == CURVO_OK && fabs(L - 2000.0) < 1e-9, "CE at huge logits = 2000, got %.15g", L);
    float t[8] = {0, 1, 1, 0, 0.5f, 0.5f, 1, 1};
    L = loss_of(CURVO_LOSS_BCE, zeros, 2, 4, NULL, t, &st);
    TU_CHECK(st == CURVO_OK && fabs(L - 4 * log(2.0)) < 1e-12, "BCE at zero logits = 4 log 2, got %.15g", L);
    float big[2] = {500.0f, -500.0f}, tb[2] = {1.0f, 1.0f};
    L = loss_of(CURVO_LOSS_BCE, big, 1, 2, NULL, tb, &st);
    TU_CHECK(st == CURVO_OK && fabs(L - 500.0) < 1e-9, "BCE stable at huge logits, got %.15g", L);
    float y[4] = {1, 2, 3, 4};
    L = loss_of(CURVO_LOSS_MSE, zeros, 2, 2, NULL, y, &st);
    TU_CHECK(st == CURVO_OK && fabs(L - (0.5 * (1 + 4) + 0.5 * (9 + 16)) / 2) < 1e-12, "MSE, got %.15g", L);
    float nan_in[2] = {NAN, 0.0f};
    loss_of(CURVO_LOSS_MSE, nan_in, 1, 2, NULL, y, &st);
    TU_CHECK(st == CURVO_E_NUMERIC, "a NaN output gives CURVO_E_NUMERIC, got %d", st);
}

static void strings_and_rng(void) {
    TU_CHECK(!strcmp(curvo_strerror(CURVO_OK), "success"), "strerror(OK)");
    for (int s = CURVO_E_REJECTED; s < 0; s++)
        TU_CHECK(strcmp(curvo_strerror(s), "unknown status code") != 0, "status %d has a message", s);
    TU_CHECK(!strcmp(curvo_strerror(12345), "unknown status code"), "unknown code");
    curvo_rng a, b;
    curvo_rng_seed(&a, 7);
    curvo_rng_seed(&b, 7);
    int same = 1, in_range = 1;
    double mean = 0;
    for (int i = 0; i < 100000; i++) {
        double u = curvo_rng_uniform(&a);
        same &= u == curvo_rng_uniform(&b);
        in_range &= u >= 0.0 && u < 1.0;
        mean += u;
        in_range &= curvo_rng_below(&a, 10) < 10;
        curvo_rng_below(&b, 10);
    }
    TU_CHECK(same, "same seed, same stream");
    TU_CHECK(in_range, "uniform in [0,1), below(10) < 10");
    TU_CHECK(fabs(mean / 100000 - 0.5) < 0.01, "uniform mean %.4f", mean / 100000);
    /* the bulk normal fill: mean 0, variance 1, an odd count filled completely, reproducible */
    static float z[200001], z2[200001];
    z[200000] = NAN;
    curvo_rng_seed(&a, 9);
    curvo_rng_fill_normal(&a, z, 200001);
    curvo_rng_seed(&a, 9);
    curvo_rng_fill_normal(&a, z2, 200001);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < 200001; i++) m1 += z[i], m2 += (double)z[i] * z[i];
    m1 /= 200001, m2 = m2 / 200001 - m1 * m1;
    TU_CHECK(fabs(m1) < 0.01 && fabs(m2 - 1.0) < 0.02 && isfinite(z[200000]), "normal fill: mean %.4f var %.4f", m1, m2);
    TU_CHECK(!memcmp(z, z2, sizeof z), "normal fill reproducible");
}

int main(void) {
    values();
    strings_and_rng();
    return tu_finish("test_loss");
}
