/* fuzzutil.h — what the file-reading harnesses share: a temporary file per harness (removed at
 * exit) that each input is written to before the reader under test opens it. Header-only: each
 * harness is one translation unit. */
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

#endif
