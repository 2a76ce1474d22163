/* fuzz_csv.c — libFuzzer harness for the CSV reader, curvo_csv_load.
 *
 * The whole input is written to a temporary file (under $TMPDIR, default /tmp) and loaded with the
 * target column "target" (the task decided by the rule, CURVO_TASK_AUTO); a successful load is
 * checked for consistency (labels within [0, classes), finite targets) and freed. Seeds: fuzz/corpus/csv.
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvo.h"
#include "fuzzutil.h"

static char csv_path[4096];

static void cleanup(void) { unlink(csv_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_make_temp(csv_path, sizeof csv_path, "csv");
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write_file(csv_path, data, size);

    curvo_dataset *d = NULL;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_csv_load(csv_path, "target", 0, &d, err);
    if (rc == CURVO_OK) {
        size_t n = curvo_dataset_count(d);
        int classes = curvo_dataset_num_classes(d);
        const int32_t *labels = curvo_dataset_labels(d);
        const float *t = curvo_dataset_targets(d);
        const float *x = curvo_dataset_features(d);
        size_t nf = curvo_dataset_features_per_sample(d);
        volatile float sink = 0.0f;
        for (size_t i = 0; i < n; i++) {
            if (labels && (labels[i] < 0 || labels[i] >= classes)) abort();
            if (!isfinite(t[i])) abort();
            if (nf) sink += x[i * nf + nf - 1];
        }
        (void)sink;
        curvo_dataset_free(d);
    } else if (d != NULL) {
        abort();
    }
    return 0;
}
