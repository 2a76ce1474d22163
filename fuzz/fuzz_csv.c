/* fuzz_csv.c — libFuzzer harness for the CSV reader, curvo_csv_load.
 *
 * The whole input is written to a temporary file (under $TMPDIR, default /tmp) and loaded with the
 * target column "target" (force_regression off); a successful load is checked for consistency
 * (labels within [0, classes), finite targets) and freed. Seeds: fuzz/corpus/csv.
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvo.h"

static char csv_path[4096];

static void cleanup(void) { unlink(csv_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(csv_path, sizeof csv_path, "%s/curvo_fuzz_csv_XXXXXX", dir);
    int fd = mkstemp(csv_path);
    if (fd < 0) {
        perror("fuzz_csv: mkstemp");
        abort();
    }
    close(fd);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(csv_path, "wb");
    if (!f) abort();
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size) abort();

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
