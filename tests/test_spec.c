/* test_spec.c — model spec strings and presets: shapes and parameter counts of mlp and cnn, the
 * round trip through curvo_model_describe, one clear error naming the offending token for each kind
 * of bad spec, and deterministic seeded initialization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void presets(void) {
    curvo_model *m;
    char err[CURVO_ERRMSG_LEN], desc[512];
    TU_CHECK(curvo_model_from_spec("mlp", 1, 28, 28, &m, err) == CURVO_OK, "mlp: %s", err);
    TU_CHECK(curvo_model_num_params(m) == 784 * 256 + 256 + 256 * 10 + 10, "mlp has %zu parameters",
             curvo_model_num_params(m));
    TU_CHECK(curvo_model_output_size(m) == 10, "mlp outputs");
    curvo_model_free(m);
    TU_CHECK(curvo_model_from_spec("cnn", 1, 28, 28, &m, err) == CURVO_OK, "cnn: %s", err);
    /* conv 1->16 5x5: 416; conv 16->32 5x5: 12832; dense 32*4*4 -> 10: 5130 */
    TU_CHECK(curvo_model_num_params(m) == 416 + 12832 + 5130, "cnn has %zu parameters",
             curvo_model_num_params(m));
    curvo_model_describe(m, desc, sizeof desc);
    TU_CHECK(!strcmp(desc, "conv:16:5:1:0,relu,maxpool:2:2,conv:32:5:1:0,relu,maxpool:2:2,flatten,dense:10"),
             "describe: %s", desc);
    curvo_model *again;
    TU_CHECK(curvo_model_from_spec(desc, 1, 28, 28, &again, err) == CURVO_OK, "describe round trip: %s", err);
    TU_CHECK(again && curvo_model_num_params(again) == curvo_model_num_params(m), "round trip params");
    curvo_model_free(again);
    curvo_model_free(m);
    TU_CHECK(!strcmp(curvo_model_preset("nope"), "nope"), "non-preset passes through");
}

/* Each bad spec fails with CURVO_E_SPEC, no model, and a message containing `needle`. */
static void bad(const char *spec, const char *needle) {
    curvo_model *m = (curvo_model *)&m;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_model_from_spec(spec, 1, 28, 28, &m, err);
    TU_CHECK(rc == CURVO_E_SPEC, "'%s' gave %d, expected CURVO_E_SPEC", spec, rc);
    TU_CHECK(m == NULL, "'%s' left a model behind", spec);
    TU_CHECK(strstr(err, needle) != NULL, "'%s': message '%s' lacks '%s'", spec, err, needle);
}

static void errors(void) {
    bad("flatten,dense:256,rleu,dense:10", "'rleu'");
    bad("dense:abc", "'abc'");
    bad("dense:-3", "'-3'");
    bad("dense:0", "'0' is not a whole number in [1, 1000000]"); /* the true range */
    bad("conv:16:5:1:-1", "in [0, 1000000]");
    bad("dense:12x", "'12x'");
    bad("dense", "dense:UNITS");
    bad("dense:3:4", "dense:UNITS");
    bad("conv:16", "conv:OUT:K");
    bad("conv:16:29", "'conv:16:29'");          /* kernel larger than the input */
    bad("conv:16:5:0", "'0'");                  /* stride 0 */
    bad("maxpool:2,maxpool:2,maxpool:2,maxpool:2,maxpool:2", "'maxpool:2'");
    bad("dense:10,,relu", "empty");
    bad("", "empty");
    bad("dense:99999999999", "'99999999999'");
    bad("relu:3", "wrong number of fields");
    /* sizes that overflow or exceed the limits are refused before any allocation */
    bad("conv:329038:2:1:6089,flatten,dense:1", "exceed");  /* found by reading the fuzz target */
    bad("dense:999999", "parameters");                      /* 784M parameters */
    bad("conv:1000000:1:1:1000000,flatten,dense:3,dense:2", "exceed");
    bad("conv:1000:1000000:1:1000000", "conv:1000:1000000:1:1000000");
    char *huge = malloc(300);
    memset(huge, 'x', 299);
    huge[299] = '\0';
    bad(huge, "too long");
    free(huge);
}

static void shape_limits(void) {
    curvo_model *m = (curvo_model *)&m;
    TU_CHECK(curvo_model_create(70000, 70000, 70000, &m) == CURVO_E_INVALID && m == NULL, "absurd input shape");
    TU_CHECK(curvo_model_create(1, 1, 1 << 26, &m) == CURVO_OK, "an input of exactly the limit");
    curvo_model_free(m);
    TU_CHECK(curvo_model_create(1, 1, 1 << 20, &m) == CURVO_OK, "an input of 2^20 values");
    TU_CHECK(curvo_model_add_dense(m, 3) == CURVO_OK, "a dense layer on it");
    TU_CHECK(curvo_model_add_dense(m, 1 << 30) == CURVO_E_SHAPE && strstr(curvo_model_errmsg(m), "exceed"),
             "a layer past the parameter limit: %s", curvo_model_errmsg(m));
    TU_CHECK(curvo_model_num_modules(m) == 1, "the refused layer left no trace");
    curvo_model_free(m);
}

static void init_is_seeded(void) {
    curvo_model *a, *b;
    char err[CURVO_ERRMSG_LEN];
    curvo_model_from_spec("mlp", 1, 28, 28, &a, err);
    curvo_model_from_spec("mlp", 1, 28, 28, &b, err);
    curvo_rng r1, r2;
    curvo_rng_seed(&r1, 42);
    curvo_rng_seed(&r2, 42);
    curvo_model_init(a, &r1);
    curvo_model_init(b, &r2);
    size_t n = curvo_model_num_params(a);
    TU_CHECK(!memcmp(curvo_model_params(a), curvo_model_params(b), n * sizeof(float)),
             "same seed, same parameters");
    /* first layer: He normal, std sqrt(2/784) ~ 0.0505; its biases zero */
    const float *t = curvo_model_params(a);
    double ss = 0;
    for (size_t i = 0; i < 784 * 256; i++) ss += (double)t[i] * t[i];
    double sd = sqrt(ss / (784 * 256));
    TU_CHECK(fabs(sd - sqrt(2.0 / 784)) < 0.002, "He std %.4f, expected %.4f", sd, sqrt(2.0 / 784));
    int zero = 1;
    for (size_t i = 784 * 256; i < 784 * 256 + 256; i++) zero &= t[i] == 0.0f;
    TU_CHECK(zero, "biases start at zero");
    /* output layer (no rectifier after it): Xavier uniform, |w| <= sqrt(6/(256+10)) */
    double lim = sqrt(6.0 / 266), mx = 0;
    for (size_t i = 784 * 256 + 256; i < 784 * 256 + 256 + 2560; i++) mx = fmax(mx, fabs(t[i]));
    TU_CHECK(mx <= lim && mx > 0.9 * lim, "Xavier max |w| %.4f, limit %.4f", mx, lim);
    curvo_rng_seed(&r2, 43);
    curvo_model_init(b, &r2);
    TU_CHECK(memcmp(curvo_model_params(a), curvo_model_params(b), n * sizeof(float)) != 0,
             "another seed, other parameters");
    curvo_model_free(a);
    curvo_model_free(b);
}

/* A preset for a task ends in as many outputs as the task has; a spec is taken as it is. */
static void for_task(void) {
    curvo_model *m = NULL;
    char err[CURVO_ERRMSG_LEN], desc[512];
    TU_CHECK(curvo_model_for_task("mlp", 3, 1, 1, 3, &m, err) == CURVO_OK, "mlp for 3 classes: %s", err);
    curvo_model_describe(m, desc, sizeof desc);
    TU_CHECK(!strcmp(desc, "flatten,dense:256,relu,dense:3"), "mlp for 3 classes is '%s'", desc);
    curvo_model_free(m);
    TU_CHECK(curvo_model_for_task("cnn", 1, 28, 28, 1, &m, err) == CURVO_OK, "cnn for regression: %s", err);
    TU_CHECK(curvo_model_output_size(m) == 1 && curvo_model_num_params(m) == 416 + 12832 + 513,
             "cnn for regression: %zu outputs, %zu parameters", curvo_model_output_size(m), curvo_model_num_params(m));
    curvo_model_free(m);
    TU_CHECK(curvo_model_for_task("dense:4", 3, 1, 1, 3, &m, err) == CURVO_OK && curvo_model_output_size(m) == 4,
             "a spec is built as it is: %s", err);
    curvo_model_free(m);
    m = (curvo_model *)&m;
    TU_CHECK(curvo_model_for_task("mlp", 3, 1, 1, 0, &m, err) == CURVO_E_INVALID && m == NULL && strstr(err, "[1, "),
             "a preset for 0 outputs is refused: %s", err);
    m = (curvo_model *)&m;
    TU_CHECK(curvo_model_for_task("dense:3,rleu", 3, 1, 1, 3, &m, err) == CURVO_E_SPEC && m == NULL &&
                 strstr(err, "rleu"),
             "a bad spec for a task: %s", err);
}

int main(void) {
    presets();
    for_task();
    errors();
    shape_limits();
    init_is_seeded();
    return tu_finish("test_spec");
}
