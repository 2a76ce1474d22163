/* fuzz_cifar.c — libFuzzer harness for the CIFAR-10 reader, curvo_cifar10_load.
 *
 * The reader concatenates batch files, so the input is split into two files as for fuzz_idx
 * (fuzz_pair_write in fuzzutil.h: the first two bytes choose the split point), written to temporary
 * files (under $TMPDIR, default /tmp) and loaded together; a successful load is checked against
 * the files (records = total size / 3073, labels in [0, 10), pixels in [0, 1], shape 3 x 32 x 32)
 * and freed. A failed one must leave no dataset and a one-line message. Seeds: fuzz/corpus/cifar.
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
    fuzz_pair_init("cifar_a", "cifar_b");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fuzz_pair_write(data, size)) return 0;
    size_t rest = size - 2; /* bytes of the two files */
    const char *paths[2] = {fuzz_pair_path[0], fuzz_pair_path[1]};
    curvo_dataset *d = NULL;
    char err[CURVO_ERRMSG_LEN];
    int rc = curvo_cifar10_load(paths, 2, &d, err);
    if (rc == CURVO_OK) {
        size_t n = curvo_dataset_count(d);
        int c, h, w;
        curvo_dataset_shape(d, &c, &h, &w);
        if (n != rest / 3073 || c != 3 || h != 32 || w != 32 || curvo_dataset_num_classes(d) != 10) abort();
        const int32_t *labels = curvo_dataset_labels(d);
        const float *x = curvo_dataset_features(d);
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] > 9) abort();
        for (size_t k = 0; k < n * 3072; k++)
            if (!(x[k] >= 0.0f && x[k] <= 1.0f)) abort();
        curvo_dataset_free(d);
    } else if (d != NULL || !err[0] || strchr(err, '\n')) {
        abort(); /* a failed load leaves *out NULL and says why, on one line */
    }
    return 0;
}
