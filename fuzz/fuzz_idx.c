/* fuzz_idx.c — libFuzzer harness for the IDX reader, curvo_idx_load (raw and gzip-compressed).
 *
 * curvo_idx_load takes two paths, so the input is split into an image file and a label file
 * (fuzz_pair_write in fuzzutil.h):
 *   bytes 0..1   big-endian u16 s; the split point is s % (size - 2 + 1)
 *   bytes 2..    the image file's bytes [0, split), then the label file's bytes [split, end)
 * Both are written to temporary files (under $TMPDIR, default /tmp) and loaded; a successful load
 * is checked for consistency (labels within [0, classes)) and freed. Seeds: fuzz/corpus/idx.
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvo.h"
#include "fuzzutil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_pair_init("idx_images", "idx_labels");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fuzz_pair_write(data, size)) return 0;

    curvo_dataset *d = NULL;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_idx_load(fuzz_pair_path[0], fuzz_pair_path[1], &d, err);
    if (rc == CURVO_OK) {
        size_t n = curvo_dataset_count(d);
        int classes = curvo_dataset_num_classes(d);
        const int32_t *labels = curvo_dataset_labels(d);
        const float *x = curvo_dataset_features(d);
        size_t f = curvo_dataset_features_per_sample(d);
        volatile float sink = 0.0f;
        for (size_t i = 0; i < n; i++) {
            if (labels && (labels[i] < 0 || labels[i] >= classes)) abort();
            if (f) sink += x[i * f + f - 1];  /* touch the last feature of every sample */
        }
        (void)sink;
        curvo_dataset_free(d);
    } else if (d != NULL) {
        abort();  /* a failed load leaves *out NULL */
    }
    return 0;
}
