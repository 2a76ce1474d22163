/* fuzzutil.h — what the file-reading harnesses share: a temporary file per harness (removed at
 * exit) that each input is written to before the reader under test opens it, and a pair of them for
 * readers of two files (idx, cifar). Header-only: each harness is one translation unit. */
#ifndef CURVO_FUZZUTIL_H
#define CURVO_FUZZUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Creates $TMPDIR/curvo_fuzz_TAG_XXXXXX (default /tmp) into path; aborts if it cannot. */
static void fuzz_make_temp(char *path, size_t cap, const char *tag) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(path, cap, "%s/curvo_fuzz_%s_XXXXXX", dir, tag);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("fuzz: mkstemp");
        abort();
    }
    close(fd);
}

/* Replaces the contents of path with size bytes of data; aborts if it cannot. */
static void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size) abort();
}

/* A pair of temporary files, for a reader that takes two paths: one input is split in two.
 *   bytes 0..1   big-endian u16 s; the split point is s % (size - 2 + 1)
 *   bytes 2..    the first file's bytes [0, split), then the second file's bytes [split, end) */
static char fuzz_pair_path[2][4096];

static inline void fuzz_pair_cleanup(void) {
    unlink(fuzz_pair_path[0]);
    unlink(fuzz_pair_path[1]);
}

/* Creates the two files (tags as for fuzz_make_temp), removed at exit. */
static inline void fuzz_pair_init(const char *tag_first, const char *tag_second) {
    fuzz_make_temp(fuzz_pair_path[0], sizeof fuzz_pair_path[0], tag_first);
    fuzz_make_temp(fuzz_pair_path[1], sizeof fuzz_pair_path[1], tag_second);
    atexit(fuzz_pair_cleanup);
}

/* Writes the input's two parts into the pair; 0 (nothing written) when size < 2. */
static inline int fuzz_pair_write(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t rest = size - 2;
    size_t split = (((size_t)data[0] << 8) | data[1]) % (rest + 1);
    fuzz_write_file(fuzz_pair_path[0], data + 2, split);
    fuzz_write_file(fuzz_pair_path[1], data + 2 + split, rest - split);
    return 1;
}

#endif
