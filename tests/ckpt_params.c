/* ckpt_params PATH — a test helper for kill_resume.sh: opens a checkpoint (every check of
 * ckpt_open: magic, version, length, CRC, section table) and prints one line
 *   params=<FNV-1a 64 of the model.params section's bytes, hex> n=<bytes> epoch=<E> step=<S>
 * Exit 0 on success, 1 with a message on stderr if the file is not a readable checkpoint. */
#include <inttypes.h>
#include <stdio.h>

#include "io/ckpt.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ckpt_params CHECKPOINT\n");
        return 2;
    }
    char msg[CURVO_ERRMSG_LEN];
    ckpt_reader *r = NULL;
    if (ckpt_open(argv[1], &r, msg)) {
        fprintf(stderr, "ckpt_params: %s\n", msg);
        return 1;
    }
    const void *data = NULL;
    size_t len = 0;
    uint64_t epoch = 0, step = 0;
    if (ckpt_get(r, "model.params", &data, &len) || ckpt_get_u64(r, "train.epoch", &epoch) ||
        ckpt_get_u64(r, "train.step", &step)) {
        fprintf(stderr, "ckpt_params: %s: %s\n", argv[1], ckpt_errmsg(r));
        ckpt_close(r);
        return 1;
    }
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    printf("params=%016" PRIx64 " n=%zu epoch=%" PRIu64 " step=%" PRIu64 "\n", h, len, epoch, step);
    ckpt_close(r);
    return 0;
}
