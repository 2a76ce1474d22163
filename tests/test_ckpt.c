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

    /* Absent sections and wrong sizes: CURVO_E_FORMAT and a message naming the section. */
    TU_CHECK(ckpt_get(r, "epoch", &d, &len) == CURVO_E_FORMAT, "absent section");
    TU_CHECK(strstr(ckpt_errmsg(r), "no section 'epoch'") && strstr(ckpt_errmsg(r), path),
             "absent: '%s'", ckpt_errmsg(r));
    TU_CHECK(ckpt_get_u64(r, "epoch", &u) == CURVO_E_FORMAT, "absent u64");
    TU_CHECK(ckpt_get_str(r, "epoch", &s) == CURVO_E_FORMAT, "absent string");
    TU_CHECK(ckpt_get_f32s(r, "epoch", theta2, 1) == CURVO_E_FORMAT, "absent array");
    TU_CHECK(ckpt_get_u64(r, "spec", &u) == CURVO_E_FORMAT, "u64 from a string section");
    TU_CHECK(strstr(ckpt_errmsg(r), "section 'spec' has 41 bytes, expected 1 value of 8 bytes"),
             "wrong length: '%s'", ckpt_errmsg(r));
    TU_CHECK(ckpt_get_f64(r, "empty", &x) == CURVO_E_FORMAT, "f64 from an empty section");
    TU_CHECK(ckpt_get_f32s(r, "theta", theta2, ntheta - 1) == CURVO_E_FORMAT, "one float too few");
    TU_CHECK(ckpt_get_f32s(r, "theta", theta2, 0) == CURVO_E_FORMAT, "zero floats");
    TU_CHECK(ckpt_get_f64s(r, "theta", (double *)theta2, ntheta / 2) == CURVO_E_FORMAT ||
                 ntheta % 2 == 0,
             "f64s of an odd float count");
    TU_CHECK(ckpt_get_u64s(r, "order", state2, 4) == CURVO_E_FORMAT, "u64s from a u32 array");
    TU_CHECK(ckpt_get_u64s(r, "order", state2, SIZE_MAX / 4) == CURVO_E_FORMAT, "absurd count");
    TU_CHECK(ckpt_get_str(r, "nul", &s) == CURVO_E_FORMAT, "string with a NUL byte");
    TU_CHECK(strstr(ckpt_errmsg(r), "NUL"), "NUL message: '%s'", ckpt_errmsg(r));
    TU_CHECK(ckpt_get(r, NULL, &d, &len) == CURVO_E_INVALID, "NULL name");
    TU_CHECK(ckpt_get(r, "", &d, &len) == CURVO_E_FORMAT, "empty name is simply absent");
    ckpt_close(r);
    ckpt_close(NULL);
    free(theta2);
    free(theta);
    free(blob);
}

/* The exact bytes of a one-section file: the format as documented in ckpt.h. */
static void exact_bytes(void) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "tiny.ckpt");
    ckpt_writer *w;
    ckpt_writer_create(&w);
    ckpt_put_u64(w, "ab", 0x0102030405060708ULL);
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "commit: %s", err);
    ckpt_writer_free(w);
    unsigned char want[24 + 2 + 2 + 8 + 8 + 4] = {
        'C', 'U', 'R', 'V', 'O', 'C', 'K', 'P', 1, 0, 0, 0, 1, 0, 0, 0, sizeof want, 0, 0, 0, 0, 0, 0, 0,
        2, 0, 'a', 'b', 8, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    fix_crc(want, sizeof want);
    size_t len;
    unsigned char *got = read_all(path, &len);
    TU_CHECK(got && len == sizeof want && !memcmp(got, want, len), "tiny file bytes (%zu bytes)", len);
    free(got);

    /* An empty checkpoint is valid too. */
    ckpt_writer_create(&w);
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "empty commit: %s", err);
    ckpt_writer_free(w);
    ckpt_reader *r;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK && ckpt_num_sections(r) == 0, "empty open: %s", err);
    const void *d;
    TU_CHECK(r && ckpt_get(r, "x", &d, &len) == CURVO_E_FORMAT, "nothing in an empty checkpoint");
    ckpt_close(r);
}

/* ---------------------------------------------------------------- names */
static void names(void) {
    ckpt_writer *w;
    TU_CHECK(ckpt_writer_create(&w) == CURVO_OK, "writer");
    char name64[65], name65[66];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    memset(name65, 'n', 65);
    name65[65] = '\0';
    TU_CHECK(ckpt_put_u64(w, name64, 1) == CURVO_OK, "64-byte name");
    TU_CHECK(ckpt_put_u64(w, name65, 1) == CURVO_E_INVALID, "65-byte name");
    TU_CHECK(strstr(ckpt_writer_errmsg(w), "bad section name"), "message: '%s'", ckpt_writer_errmsg(w));
    TU_CHECK(ckpt_put_u64(w, "", 1) == CURVO_E_INVALID, "empty name");
    TU_CHECK(ckpt_put_u64(w, "a b", 1) == CURVO_E_INVALID, "name with a space");
    TU_CHECK(ckpt_put_u64(w, "a\n", 1) == CURVO_E_INVALID, "name with a newline");
    TU_CHECK(ckpt_put_u64(w, "caf\xc3\xa9", 1) == CURVO_E_INVALID, "non-ASCII name");
    TU_CHECK(ckpt_put_u64(w, NULL, 1) == CURVO_E_INVALID, "NULL name");
    TU_CHECK(ckpt_put(w, "x", NULL, 4) == CURVO_E_INVALID, "NULL data with a length");
    TU_CHECK(ckpt_put_str(w, "x", NULL) == CURVO_E_INVALID, "NULL string");
    TU_CHECK(ckpt_put_f32s(w, "x", NULL, 2) == CURVO_E_INVALID, "NULL array");
    TU_CHECK(ckpt_put_f64s(w, "x", (const double *)name64, SIZE_MAX / 4) == CURVO_E_INVALID,
             "array too long to count");
    TU_CHECK(ckpt_put(w, "x", name64, (size_t)CKPT_MAX_FILE_SIZE) == CURVO_E_INVALID,
             "section beyond 16 GiB");
    TU_CHECK(ckpt_put_u64(w, "optim/adam.m~1", 1) == CURVO_OK, "punctuation is fine");

    TU_CHECK(ckpt_put_u64(w, "step", 1) == CURVO_OK, "step");
    TU_CHECK(ckpt_put_u64(w, "step", 2) == CURVO_E_INVALID, "duplicate u64");
    TU_CHECK(strstr(ckpt_writer_errmsg(w), "'step' is already present"), "dup message: '%s'",
             ckpt_writer_errmsg(w));
    TU_CHECK(ckpt_put(w, "step", "abc", 3) == CURVO_E_INVALID, "duplicate raw");
    TU_CHECK(ckpt_put_str(w, "step", "x") == CURVO_E_INVALID, "duplicate string");
    TU_CHECK(ckpt_put_f64(w, "step", 1.0) == CURVO_E_INVALID, "duplicate f64");
    TU_CHECK(ckpt_put_u32s(w, "step", NULL, 0) == CURVO_E_INVALID, "duplicate array");
    TU_CHECK(ckpt_put_u64(w, "Step", 3) == CURVO_OK, "names are case-sensitive");

    /* The refused puts left nothing behind. */
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "names.ckpt");
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "commit: %s", err);
    ckpt_writer_free(w);
    ckpt_reader *r;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK, "open: %s", err);
    TU_CHECK(ckpt_num_sections(r) == 4, "4 sections, got %zu", ckpt_num_sections(r));
    uint64_t v = 0;
    TU_CHECK(ckpt_get_u64(r, "step", &v) == CURVO_OK && v == 1, "the first 'step' stayed");
    TU_CHECK(ckpt_get_u64(r, name64, &v) == CURVO_OK && v == 1, "64-byte name read back");
    ckpt_close(r);
    TU_CHECK(ckpt_writer_create(NULL) == CURVO_E_INVALID, "create(NULL)");
    ckpt_writer_free(NULL);
}

/* ---------------------------------------------------------------- corruption */
/* A small checkpoint: spec (14 bytes), step (8) and an empty section. Offsets:
 *   0 magic, 8 version, 12 count, 16 file length, 24 name length "spec", 26 name, 30 data length,
 *   38 data, 52 "step" section, 74 "empty" section (81 its data length), 89 CRC; 93 bytes. */
#define SMALL_LEN 93
static unsigned char *small_file(size_t *len) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "small.ckpt");
    ckpt_writer *w;
    ckpt_writer_create(&w);
    ckpt_put_str(w, "spec", "conv:16:5,relu");
    ckpt_put_u64(w, "step", 42);
    ckpt_put(w, "empty", NULL, 0);
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "commit: %s", err);
    ckpt_writer_free(w);
    unsigned char *b = read_all(path, len);
    TU_CHECK(b && *len == SMALL_LEN, "small file has %zu bytes", *len);
    return b;
}

/* The image must be refused with CURVO_E_FORMAT, no reader, and a message containing needle. */
static void refused_mem(const unsigned char *b, size_t len, const char *needle, const char *what) {
    ckpt_reader *r = (ckpt_reader *)&r;
    char err[CURVO_ERRMSG_LEN];
    int rc = ckpt_open_mem(b, len, "img", &r, err);
    TU_CHECK(rc == CURVO_E_FORMAT, "%s: rc %d", what, rc);
    TU_CHECK(r == NULL, "%s: reader left behind", what);
    TU_CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what, err, needle);
    if (rc == CURVO_OK) ckpt_close(r);
}

/* The same through a file. */
static void refused_file(const unsigned char *b, size_t len, const char *needle, const char *what) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "bad.ckpt");
    write_all(path, b, len);
    ckpt_reader *r = (ckpt_reader *)&r;
    int rc = ckpt_open(path, &r, err);
    TU_CHECK(rc == CURVO_E_FORMAT, "%s: rc %d", what, rc);
    TU_CHECK(r == NULL, "%s: reader left behind", what);
    TU_CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what, err, needle);
    TU_CHECK(strstr(err, path) == err, "%s: message '%s' does not start with the path", what, err);
    if (rc == CURVO_OK) ckpt_close(r);
}

#define NOT_CKPT "not a curvo checkpoint"
#define CORRUPT "checksum mismatch: the file is corrupt"
#define TRUNC "truncated"

static void every_flip_and_cut(void) {
    size_t len;
    unsigned char *good = small_file(&len);
    if (!good || len != SMALL_LEN) return;
    ckpt_reader *r;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(ckpt_open_mem(good, len, NULL, &r, err) == CURVO_OK, "the small image opens: %s", err);
    ckpt_close(r);

    unsigned char b[SMALL_LEN];
    static const unsigned char masks[] = {0x01, 0x80, 0xff};
    int fails = tu_failures;
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(b, good, len);
            b[i] ^= masks[m];
            const char *want = i < 8 ? NOT_CKPT : i < 12 ? "checkpoint format version" : CORRUPT;
            char what[64];
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x", i, masks[m]);
            refused_mem(b, len, want, what);
        }
    }
    for (size_t cut = 0; cut < len; cut++) {
        char what[64];
        snprintf(what, sizeof what, "cut at %zu", cut);
        refused_mem(good, cut, TRUNC, what);
    }
    TU_CHECK(tu_failures == fails, "all %zu flips and cuts refused", 4 * len);

    /* Through files, at named places. */
    static const struct { size_t at; const char *what, *want; } flips[] = {
        {0, "magic", NOT_CKPT},     {9, "version", "checkpoint format version 257, this curvo reads version 1"},
        {12, "count", CORRUPT},     {17, "file length", CORRUPT},
        {23, "file length top", CORRUPT},
        {24, "name length", CORRUPT}, {27, "name", CORRUPT},
        {30, "data length", CORRUPT}, {37, "data length top", CORRUPT},
        {40, "data", CORRUPT},      {81, "empty's data length", CORRUPT},
        {89, "CRC", CORRUPT},       {92, "CRC last byte", CORRUPT}};
    for (size_t k = 0; k < sizeof flips / sizeof *flips; k++) {
        memcpy(b, good, len);
        b[flips[k].at] ^= 0x01;
        refused_file(b, len, flips[k].want, flips[k].what);
    }
    static const size_t cuts[] = {0, 7, 8, 12, 24, 46, SMALL_LEN - 4, SMALL_LEN - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        char what[64];
        snprintf(what, sizeof what, "file cut at %zu", cuts[k]);
        refused_file(good, cuts[k], TRUNC, what);
    }
    refused_file(good, 0, "(empty file)", "empty file");
    refused_file(good, 46, "(46 of 93 bytes)", "cut in the middle");

    /* Wrong magic: another file entirely, and the magic alone changed. */
    static const char zip[] = "PK\003\004 this is a zip";
    refused_file((const unsigned char *)zip, sizeof zip, NOT_CKPT, "zip");
    refused_file((const unsigned char *)"hello", 5, NOT_CKPT, "short text");
    memcpy(b, good, len);
    memcpy(b, "CURVOCKQ", 8);
    fix_crc(b, len);
    refused_file(b, len, NOT_CKPT, "magic CURVOCKQ");

    /* Another version, CRC recomputed so that the version check is what fires; also without. */
    memcpy(b, good, len);
    le32(b + 8, 7);
    fix_crc(b, len);
    refused_file(b, len, "checkpoint format version 7, this curvo reads version 1", "version 7");
    refused_file(b, 12, "checkpoint format version 7, this curvo reads version 1", "version 7, cut");
    le32(b + 8, 0);
    refused_file(b, len, "checkpoint format version 0, this curvo reads version 1", "version 0");

    /* Absurd lengths and counts in a file whose CRC is valid (made by something else). */
    static const struct { size_t at, width; uint64_t v; const char *what, *want; } crafted[] = {
        {30, 8, (uint64_t)1 << 62, "data length 2^62", "claims"},
        {30, 8, UINT64_MAX, "data length 2^64-1", "claims"},
        {30, 8, 15, "data length one too many", "corrupt section table"},
        {30, 8, 13, "data length one too few", "corrupt section table"},
        {81, 8, 1, "last data length past the end", "claims 1 bytes, 0 are left"},
        {12, 4, 0xffffffffu, "count 2^32-1", "corrupt section table: 4294967295 sections"},
        {12, 4, 4, "count one too many", "corrupt section table"},
        {12, 4, 2, "count one too few", "bytes after the last section"},
        {12, 4, 0, "count zero", "bytes after the last section"},
        {24, 2, 0, "name length 0", "header is damaged"},
        {24, 2, 65, "name length 65", "header is damaged"},
        {24, 2, 0xffff, "name length 65535", "header is damaged"},
        {16, 8, SMALL_LEN + 1, "file length one too many", TRUNC},
        {16, 8, SMALL_LEN - 1, "file length one too few", "length field differs"},
        {16, 8, 24, "file length 24", "length field differs"},
    };
    for (size_t k = 0; k < sizeof crafted / sizeof *crafted; k++) {
        memcpy(b, good, len);
        if (crafted[k].width == 8) le64(b + crafted[k].at, crafted[k].v);
        else if (crafted[k].width == 4) le32(b + crafted[k].at, (uint32_t)crafted[k].v);
        else {
            b[crafted[k].at] = (unsigned char)crafted[k].v;
            b[crafted[k].at + 1] = (unsigned char)(crafted[k].v >> 8);
        }
        fix_crc(b, len);
        refused_file(b, len, crafted[k].want, crafted[k].what);
        /* and without fixing the CRC: a damaged file (a file length field that claims more than
         * the file has included: the CRC shows that field is what changed) */
        memcpy(b + len - 4, good + len - 4, 4);
        refused_mem(b, len, CORRUPT, crafted[k].what);
    }
    /* A name byte that is not printable ASCII, and the same name twice. */
    memcpy(b, good, len);
    b[27] = ' ';
    fix_crc(b, len);
    refused_file(b, len, "name has byte 0x20", "space in a name");
    memcpy(b, good, len);
    memcpy(b + 54, "spec", 4); /* "step" -> "spec" */
    fix_crc(b, len);
    refused_file(b, len, "section 'spec' appears twice", "duplicate names");

    /* Bytes appended after a valid file. */
    unsigned char longer[SMALL_LEN + 10];
    memcpy(longer, good, len);
    memset(longer + len, 0, 10);
    refused_file(longer, sizeof longer, CORRUPT, "10 bytes appended");
    free(good);
}

/* Flips and cuts in the large round-trip file, through files. */
static void big_file_damage(void) {
    char path[600];
    path_in(path, sizeof path, "model.ckpt");
    size_t len;
    unsigned char *b = read_all(path, &len);
    TU_CHECK(b && len > (1 << 20), "model.ckpt has %zu bytes", len);
    if (!b) return;
    size_t at[] = {13, 20, 300, len / 2, len - 5, len - 1};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        b[at[k]] ^= 0x10;
        char what[64];
        snprintf(what, sizeof what, "model.ckpt byte %zu", at[k]);
        refused_file(b, len, CORRUPT, what);
        b[at[k]] ^= 0x10;
    }
    refused_file(b, len / 2, TRUNC, "model.ckpt cut in half");
    refused_file(b, len - 1, TRUNC, "model.ckpt one byte short");
    free(b);
}

/* A sparse file over 16 GiB is refused before anything is allocated for it. */
static void huge_file(void) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "huge.ckpt");
    FILE *f = fopen(path, "wb");
    if (!f) return;
    unsigned char hdr[24] = {'C', 'U', 'R', 'V', 'O', 'C', 'K', 'P', 1};
    fwrite(hdr, 1, sizeof hdr, f);
    fclose(f);
    if (truncate(path, (off_t)17 << 30) != 0) {
        fprintf(stderr, "test_ckpt: no sparse 17 GiB file here (%s); skipped\n", strerror(errno));
        unlink(path);
        return;
    }
    ckpt_reader *r;
    int rc = ckpt_open(path, &r, err);
    TU_CHECK(rc == CURVO_E_FORMAT && strstr(err, "larger than a checkpoint may be"), "17 GiB: %d '%s'",
             rc, err);
    memset(hdr, 0, 8);
    f = fopen(path, "r+b");
    if (f) {
        fwrite(hdr, 1, 8, f);
        fclose(f);
    }
    rc = ckpt_open(path, &r, err);
    TU_CHECK(rc == CURVO_E_FORMAT && strstr(err, NOT_CKPT), "17 GiB of zeros: %d '%s'", rc, err);
    unlink(path);
}

/* ---------------------------------------------------------------- I/O errors */
static void unreadable(void) {
    char path[600], err[CURVO_ERRMSG_LEN];
    ckpt_reader *r = (ckpt_reader *)&r;
    path_in(path, sizeof path, "no-such.ckpt");
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_E_IO && r == NULL, "missing file");
    TU_CHECK(strstr(err, path) && strstr(err, "No such file"), "missing: '%s'", err);
    TU_CHECK(ckpt_open(dir, &r, err) == CURVO_E_IO, "a directory");
    TU_CHECK(strstr(err, "directory"), "directory: '%s'", err);
    TU_CHECK(ckpt_open(NULL, &r, err) == CURVO_E_INVALID, "NULL path");
    TU_CHECK(ckpt_open(path, NULL, err) == CURVO_E_INVALID, "NULL out");
    TU_CHECK(ckpt_open_mem(NULL, 0, NULL, &r, err) == CURVO_E_FORMAT && strstr(err, "(empty file)"),
             "empty image: '%s'", err);
    /* A long path is shortened in messages, keeping its end. */
    char longp[1024];
    size_t dl = strlen(dir);
    memcpy(longp, dir, dl);
    longp[dl] = '/';
    memset(longp + dl + 1, '0', 300);
    strcpy(longp + dl + 301, ".ckpt");
    TU_CHECK(ckpt_open(longp, &r, err) == CURVO_E_IO && strstr(err, "...") && strstr(err, "0.ckpt: cannot open"),
             "long path: '%s'", err);
}

static int same_file(const char *path, const unsigned char *want, size_t n) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    int same = b && len == n && !memcmp(b, want, n);
    free(b);
    return same;
}

static ckpt_writer *writer_with(const char *tag, size_t bytes) {
    ckpt_writer *w;
    ckpt_writer_create(&w);
    ckpt_put_str(w, "tag", tag);
    unsigned char *junk = calloc(bytes ? bytes : 1, 1);
    ckpt_put(w, "data", junk, bytes);
    free(junk);
    return w;
}

static void failed_commits(void) {
    char path[600], bad[700], err[CURVO_ERRMSG_LEN];
    ckpt_writer *w = writer_with("new", 1000);

    /* A directory that does not exist. */
    char missing[600];
    path_in(missing, sizeof missing, "nope");
    snprintf(bad, sizeof bad, "%s/model.ckpt", missing);
    TU_CHECK(ckpt_commit(w, bad, err) == CURVO_E_IO, "commit into a missing directory");
    TU_CHECK(strstr(err, bad) && strstr(err, "No such file"), "missing dir: '%s'", err);
    TU_CHECK(!exists(missing), "the directory was not created");
    TU_CHECK(count_tmp(dir) == 0, "no temporary file");

    /* A parent that is a regular file. */
    char regular[600];
    path_in(regular, sizeof regular, "regular.txt");
    write_all(regular, "x", 1);
    snprintf(bad, sizeof bad, "%s/model.ckpt", regular);
    TU_CHECK(ckpt_commit(w, bad, err) == CURVO_E_IO && err[0], "commit under a regular file: '%s'", err);
    TU_CHECK(same_file(regular, (const unsigned char *)"x", 1), "the regular file is intact");

    /* A target that is a directory (with something in it). */
    char target[600], inside[700];
    path_in(target, sizeof target, "target_dir");
    mkdir(target, 0755);
    snprintf(inside, sizeof inside, "%s/keep", target);
    write_all(inside, "k", 1);
    TU_CHECK(ckpt_commit(w, target, err) == CURVO_E_IO, "commit over a directory");
    TU_CHECK(strstr(err, "cannot replace"), "over a directory: '%s'", err);
    struct stat st;
    TU_CHECK(stat(target, &st) == 0 && S_ISDIR(st.st_mode) && same_file(inside, (const unsigned char *)"k", 1),
             "the directory is intact");
    TU_CHECK(count_tmp(dir) == 0, "no temporary file after a failed rename");

    /* An earlier checkpoint survives failed commits byte for byte. */
    path_in(path, sizeof path, "keep.ckpt");
    ckpt_writer *old = writer_with("old", 5000);
    TU_CHECK(ckpt_commit(old, path, err) == CURVO_OK, "first commit: %s", err);
    ckpt_writer_free(old);
    size_t n0;
    unsigned char *before = read_all(path, &n0);

    /* 1. The temporary name is taken by a directory. */
    char tmpname[1000], tmpfile[1100], host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown-host");
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%.255s.%ld", path, host, (long)getpid());
    mkdir(tmpname, 0755);
    snprintf(tmpfile, sizeof tmpfile, "%s/x", tmpname);
    write_all(tmpfile, "x", 1);
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_E_IO, "temporary name taken");
    TU_CHECK(strstr(err, "temporary file"), "taken: '%s'", err);
    TU_CHECK(same_file(path, before, n0), "old checkpoint intact after a failed create");
    rm_tree(tmpname);
    TU_CHECK(count_tmp(dir) == 0, "no temporary file");

    /* 2. A write fails halfway: RLIMIT_FSIZE stands in for a full disk. */
    struct rlimit saved, lim;
    if (getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        lim = saved;
        lim.rlim_cur = 64 * 1024;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            ckpt_writer *big = writer_with("big", 1 << 20);
            int rc = ckpt_commit(big, path, err);
            setrlimit(RLIMIT_FSIZE, &saved);
            TU_CHECK(rc == CURVO_E_IO, "commit past RLIMIT_FSIZE gave %d", rc);
            TU_CHECK(strstr(err, "cannot write") && strstr(err, path), "write failure: '%s'", err);
            TU_CHECK(same_file(path, before, n0), "old checkpoint intact after a failed write");
            TU_CHECK(count_tmp(dir) == 0, "no temporary file after a failed write");
            ckpt_writer_free(big);
        } else {
            fprintf(stderr, "test_ckpt: cannot lower RLIMIT_FSIZE; write-failure case skipped\n");
        }
        signal(SIGXFSZ, prev);
    }

    /* 3. A stale temporary file from a crashed run with our pid is replaced, not an obstacle. */
    write_all(tmpname, "stale", 5);
    TU_CHECK(ckpt_commit(w, path, err) == CURVO_OK, "commit over a stale temporary file: %s", err);
    TU_CHECK(count_tmp(dir) == 0, "the stale temporary file is gone");
    ckpt_reader *r;
    const char *tag = "";
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK && ckpt_get_str(r, "tag", &tag) == CURVO_OK &&
                 !strcmp(tag, "new"),
             "the new checkpoint is in place: %s", err);
    ckpt_close(r);
    TU_CHECK(ckpt_commit(w, NULL, err) == CURVO_E_INVALID, "NULL path");
    TU_CHECK(ckpt_commit(w, "", err) == CURVO_E_INVALID, "empty path");
    free(before);
    ckpt_writer_free(w);
}

static void commit_twice(void) {
    char path[600], err[CURVO_ERRMSG_LEN];
    path_in(path, sizeof path, "twice.ckpt");
    ckpt_writer *a = writer_with("first", 300000), *b = writer_with("second", 10);
    TU_CHECK(ckpt_commit(a, path, err) == CURVO_OK, "first: %s", err);
    TU_CHECK(ckpt_commit(b, path, err) == CURVO_OK, "second: %s", err);
    ckpt_reader *r;
    const char *tag = "";
    const void *d;
    size_t len = 0;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK, "open: %s", err);
    TU_CHECK(r && ckpt_get_str(r, "tag", &tag) == CURVO_OK && !strcmp(tag, "second"), "second wins");
    TU_CHECK(r && ckpt_get(r, "data", &d, &len) == CURVO_OK && len == 10, "no leftover of the first");
    ckpt_close(r);
    /* The same writer again, with one more section. */
    ckpt_put_u64(a, "epoch", 3);
    TU_CHECK(ckpt_commit(a, path, err) == CURVO_OK, "third: %s", err);
    uint64_t epoch = 0;
    TU_CHECK(ckpt_open(path, &r, err) == CURVO_OK && ckpt_get_u64(r, "epoch", &epoch) == CURVO_OK &&
                 epoch == 3 && ckpt_get_str(r, "tag", &tag) == CURVO_OK && !strcmp(tag, "first"),
             "third commit in place");
    ckpt_close(r);
    TU_CHECK(count_tmp(dir) == 0, "no temporary files");

    /* A relative path (directory ".") works too. */
    char cwd[1024];
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        TU_CHECK(ckpt_commit(b, "relative.ckpt", err) == CURVO_OK, "relative: %s", err);
        TU_CHECK(ckpt_open("relative.ckpt", &r, err) == CURVO_OK, "open relative: %s", err);
        ckpt_close(r);
        TU_CHECK(chdir(cwd) == 0, "back to %s", cwd);
    }
    ckpt_writer_free(a);
    ckpt_writer_free(b);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/curvo_ckpt_XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "test_ckpt: cannot make a scratch directory: %s\n", strerror(errno));
        return 1;
    }
    round_trip();
    exact_bytes();
    names();
    every_flip_and_cut();
    big_file_damage();
    huge_file();
    unreadable();
    failed_commits();
    commit_twice();
    TU_CHECK(count_tmp(dir) == 0, "no temporary files at the end");
    rm_tree(dir);
    return tu_finish("test_ckpt");
}
