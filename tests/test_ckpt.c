/* test_ckpt.c — the checkpoint container (src/io/ckpt.c): round trip of every kind of section
 * (a 1 MB one and empty ones included) and the exact bytes of a tiny file; name rules and
 * duplicates; every single-byte flip and every truncation of a small file gives CURVO_E_FORMAT with
 * the right message, and so do a wrong magic, another version, absurd lengths and counts, trailing
 * bytes and a sparse 17 GiB file; unreadable paths give CURVO_E_IO; failed commits (missing
 * directory, parent a file, target a directory, the temporary name taken, a write failing at
 * RLIMIT_FSIZE) leave an earlier checkpoint byte-for-byte intact and no *.tmp.* files; committing
 * again replaces the file. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/ckpt.h"
#include "testutil.h"

static char dir[512]; /* this run's scratch directory */

static void path_in(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static unsigned char *read_all(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    TU_CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    if (len) TU_CHECK(fwrite(b, 1, len, f) == len, "short write to %s", path);
    fclose(f);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of d whose name contains ".tmp.". */
static int count_tmp(const char *d) {
    DIR *dp = opendir(d);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(dp);
    return n;
}

static void rm_tree(const char *d) {
    DIR *dp = opendir(d);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
        }
        closedir(dp);
    }
    rmdir(d);
}

static void le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void fix_crc(unsigned char *b, size_t len) {
    le32(b + len - 4, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
}

static int same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* ---------------------------------------------------------------- round trip */
static void round_trip(void) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "model.ckpt");
    curvo_rng rng;
    curvo_rng_seed(&rng, 7);

    size_t nblob = 1 << 20;
    unsigned char *blob = malloc(nblob);
    for (size_t i = 0; i < nblob; i++) blob[i] = (unsigned char)curvo_rng_next(&rng);
    size_t ntheta = 18378;
    float *theta = malloc(ntheta * sizeof *theta);
    tu_fill_normal(&rng, theta, ntheta, 1.0);
    theta[0] = -0.0f;
    theta[1] = INFINITY;
    uint32_t order[1000];
    for (uint32_t i = 0; i < 1000; i++) order[i] = 999 - i;
    uint64_t state[4] = {1, UINT64_MAX, 0x0123456789abcdefULL, 0};
    double damping[3] = {1e-300, -2.5, 1.0 / 3.0};
    double nan_payload;
    uint64_t nan_bits = 0x7ff8000000c0ffeeULL;
    memcpy(&nan_payload, &nan_bits, 8);

    ckpt_writer *w;
    TU_CHECK(ckpt_writer_create(&w) == CURVO_OK, "writer");
    TU_CHECK(ckpt_put_str(w, "spec", "conv:16:5,relu,maxpool:2,flatten,dense:10") == CURVO_OK, "spec");
    TU_CHECK(ckpt_put(w, "blob", blob, nblob) == CURVO_OK, "1 MB blob");
    TU_CHECK(ckpt_put(w, "empty", NULL, 0) == CURVO_OK, "empty raw");
    TU_CHECK(ckpt_put_str(w, "empty_str", "") == CURVO_OK, "empty string");
    TU_CHECK(ckpt_put_f32s(w, "theta", theta, ntheta) == CURVO_OK, "theta");
    TU_CHECK(ckpt_put_f32s(w, "no_floats", NULL, 0) == CURVO_OK, "empty array");
    TU_CHECK(ckpt_put_u32s(w, "order", order, 1000) == CURVO_OK, "order");
    TU_CHECK(ckpt_put_u64s(w, "rng", state, 4) == CURVO_OK, "rng");
    TU_CHECK(ckpt_put_f64s(w, "damping", damping, 3) == CURVO_OK, "damping");
    TU_CHECK(ckpt_put_u64(w, "step", 123456789012ULL) == CURVO_OK, "step");
    TU_CHECK(ckpt_put_u64(w, "max", UINT64_MAX) == CURVO_OK, "max");
    TU_CHECK(ckpt_put_f64(w, "lr", 0.1) == CURVO_OK, "lr");
    TU_CHECK(ckpt_put_f64(w, "negzero", -0.0) == CURVO_OK, "-0");
    TU_CHECK(ckpt_put_f64(w, "inf", -INFINITY) == CURVO_OK, "-inf");
    TU_CHECK(ckpt_put_f64(w, "nan", nan_payload) == CURVO_OK, "nan");
    TU_CHECK(ckpt_put(w, "nul", "a\0b", 3) == CURVO_OK, "bytes with a NUL");
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "commit: %s", err);
    TU_CHECK(err[0] == '\0', "no message on success: %s", err);
    ckpt_writer_free(w);
    TU_CHECK(count_tmp(dir) == 0, "no temporary file after commit");

    ckpt_reader *r;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK, "open: %s", err);
    if (!r) return;
    static const char *names[] = {"spec", "blob", "empty", "empty_str", "theta", "no_floats",
                                  "order", "rng", "damping", "step", "max", "lr", "negzero", "inf",
                                  "nan", "nul"};
    size_t nn = sizeof names / sizeof *names;
    TU_CHECK(ckpt_num_sections(r) == nn, "%zu sections", ckpt_num_sections(r));
    for (size_t i = 0; i < nn; i++) {
        const char *got = ckpt_section_name(r, i);
        TU_CHECK(got && !strcmp(got, names[i]), "section %zu is %s, expected %s", i, got ? got : "NULL",
                 names[i]);
    }
    TU_CHECK(ckpt_section_name(r, nn) == NULL, "name past the end");

    const char *s, *s2;
    TU_CHECK(ckpt_get_str(r, "spec", &s) == CURVO_OK && !strcmp(s, "conv:16:5,relu,maxpool:2,flatten,dense:10"),
             "spec string");
    TU_CHECK(ckpt_get_str(r, "spec", &s2) == CURVO_OK && s2 == s, "the string copy is cached");
    TU_CHECK(ckpt_get_str(r, "empty_str", &s) == CURVO_OK && s[0] == '\0', "empty string");
    TU_CHECK(ckpt_get_str(r, "empty", &s) == CURVO_OK && s[0] == '\0', "empty section as a string");
    const void *d;
    size_t len;
    TU_CHECK(ckpt_get(r, "blob", &d, &len) == CURVO_OK && len == nblob && !memcmp(d, blob, nblob),
             "1 MB blob");
    TU_CHECK(ckpt_get(r, "empty", &d, &len) == CURVO_OK && len == 0, "empty section");
    TU_CHECK(ckpt_get(r, "nul", &d, &len) == CURVO_OK && len == 3 && !memcmp(d, "a\0b", 3), "nul bytes");
    float *theta2 = malloc(ntheta * sizeof *theta2);
    TU_CHECK(ckpt_get_f32s(r, "theta", theta2, ntheta) == CURVO_OK &&
                 !memcmp(theta2, theta, ntheta * sizeof *theta),
             "theta bit for bit");
    TU_CHECK(ckpt_get_f32s(r, "no_floats", NULL, 0) == CURVO_OK, "empty array");
    uint32_t order2[1000];
    TU_CHECK(ckpt_get_u32s(r, "order", order2, 1000) == CURVO_OK && !memcmp(order2, order, sizeof order),
             "order");
    uint64_t state2[4];
    TU_CHECK(ckpt_get_u64s(r, "rng", state2, 4) == CURVO_OK && !memcmp(state2, state, sizeof state), "rng");
    double damping2[3];
    TU_CHECK(ckpt_get_f64s(r, "damping", damping2, 3) == CURVO_OK && !memcmp(damping2, damping, sizeof damping),
             "damping");
    uint64_t u;
    TU_CHECK(ckpt_get_u64(r, "step", &u) == CURVO_OK && u == 123456789012ULL, "step");
    TU_CHECK(ckpt_get_u64(r, "max", &u) == CURVO_OK && u == UINT64_MAX, "max");
    double x;
    TU_CHECK(ckpt_get_f64(r, "lr", &x) == CURVO_OK && x == 0.1, "lr");
    TU_CHECK(ckpt_get_f64(r, "negzero", &x) == CURVO_OK && same_bits(x, -0.0), "-0 keeps its sign");
    TU_CHECK(ckpt_get_f64(r, "inf", &x) == CURVO_OK && same_bits(x, -INFINITY), "-inf");
    TU_CHECK(ckpt_get_f64(r, "nan", &x) == CURVO_OK && same_bits(x, nan_payload), "nan payload");

    /* Absent sections and wrong sizes. */
    TU_CHECK(ckpt_get(r, "epoch", &d, &len) == CURVO_FORMAT_CHECK_PLACEHOLDER, "absent");
    ckpt_close(r);
    free(theta2);
    free(theta);
    free(blob);
}
