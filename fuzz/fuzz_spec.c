/* fuzz_spec.c — libFuzzer harness for the model-spec parser, curvo_model_from_spec.
 *
 * The input, copied into a NUL-terminated string (so an embedded NUL just ends the spec early), is
 * parsed for a 1x28x28 input; a model that builds is checked to have a parameter vector and freed.
 * Seeds: fuzz/corpus/spec (presets and a few hand-written specs).
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "curvo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *spec = malloc(size + 1);
    if (!spec) return 0;
    if (size) memcpy(spec, data, size);
    spec[size] = '\0';

    curvo_model *m = NULL;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_model_from_spec(spec, 1, 28, 28, &m, err);
    if (rc == CURVO_OK) {
        if (!m) abort();
        if (curvo_model_num_params(m) > 0 && !curvo_model_params(m)) abort();
        curvo_model_free(m);
    } else {
        if (m) abort();  /* documented: on failure *out is NULL */
        if (!memchr(err, '\0', sizeof err)) abort();
    }
    free(spec);
    return 0;
}
