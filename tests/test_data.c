/* test_data.c — the data layer: IDX files (raw and gzip) and CSV files written to a temporary
 * directory, loaded and compared value by value; every malformed input fails with the right code,
 * no dataset and a message naming the problem; split, standardize, the batcher (each sample once
 * per epoch, seeded order, drop_last, checkpoint restore), the named sources, and Fashion-MNIST
 * when Debian's dataset-fashion-mnist package is installed; the CSV task rule (classes, values, or
 * refused as ambiguous) and the standardization of regression targets; datasets made from arrays in
 * memory (curvo_dataset_create), good and bad. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, clock_gettime, unlink, rmdir */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"
#include "testutil.h"

static char tmpdir[64];
static char created[128][128]; /* files to remove at the end */
static int n_created;

/* tmpdir/name, remembered for cleanup */
static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    int known = 0;
    for (int i = 0; i < n_created; i++) known |= !strcmp(created[i], name);
    if (!known && n_created < 128) snprintf(created[n_created++], 128, "%s", name);
    return p;
}

static void write_raw(const char *name, const void *data, size_t len) {
    FILE *fp = fopen(tmp_path(name), "wb");
    TU_CHECK(fp != NULL, "cannot create %s", name);
    if (!fp) return;
    TU_CHECK(fwrite(data, 1, len, fp) == len, "short write %s", name);
    fclose(fp);
}

static void write_gz(const char *name, const void *data, size_t len) {
    gzFile gz = gzopen(tmp_path(name), "wb");
    TU_CHECK(gz != NULL, "cannot create %s", name);
    if (!gz) return;
    TU_CHECK(len == 0 || gzwrite(gz, data, (unsigned)len) == (int)len, "short gzwrite %s", name);
    gzclose(gz);
}

static unsigned char *read_all(const char *name, size_t *len) {
    FILE *fp = fopen(tmp_path(name), "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

static void write_text(const char *name, const char *text) { write_raw(name, text, strlen(text)); }

/* An IDX file in memory: magic 0 0 type rank, big-endian dims, then data_len bytes of data. */
static size_t make_idx(unsigned char *buf, int type, int rank, const uint32_t *dims,
                       const unsigned char *data, size_t data_len) {
    size_t k = 0;
    buf[k++] = 0, buf[k++] = 0, buf[k++] = (unsigned char)type, buf[k++] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) {
        buf[k++] = (unsigned char)(dims[i] >> 24), buf[k++] = (unsigned char)(dims[i] >> 16);
        buf[k++] = (unsigned char)(dims[i] >> 8), buf[k++] = (unsigned char)dims[i];
    }
    if (data_len) memcpy(buf + k, data, data_len);
    return k + data_len;
}

/* 5 images of 3x4 and their labels, written raw and gzip-compressed. */
enum { NI = 5, IH = 3, IW = 4 };
static unsigned char pixels[NI * IH * IW], labels5[NI] = {3, 0, 6, 2, 6};

static void write_good_idx(void) {
    unsigned char buf[512];
    for (int i = 0; i < NI * IH * IW; i++) pixels[i] = (unsigned char)(i * 37 % 256);
    pixels[0] = 255;
    uint32_t dims[3] = {NI, IH, IW}, ldims[1] = {NI};
    size_t len = make_idx(buf, 8, 3, dims, pixels, sizeof pixels);
    write_raw("img", buf, len);
    write_gz("img.gz", buf, len);
    len = make_idx(buf, 8, 1, ldims, labels5, NI);
    write_raw("lab", buf, len);
    write_gz("lab.gz", buf, len);
}

static void check_good(curvo_dataset *d, const char *what) {
    int c, h, w;
    curvo_dataset_shape(d, &c, &h, &w);
    TU_CHECK(curvo_dataset_count(d) == NI, "%s: count %zu", what, curvo_dataset_count(d));
    TU_CHECK(c == 1 && h == IH && w == IW, "%s: shape %dx%dx%d", what, c, h, w);
    TU_CHECK(curvo_dataset_features_per_sample(d) == IH * IW, "%s: features", what);
    TU_CHECK(curvo_dataset_num_classes(d) == 7, "%s: %d classes", what, curvo_dataset_num_classes(d));
    const float *x = curvo_dataset_features(d);
    int bad = 0;
    for (int i = 0; i < NI * IH * IW; i++) bad += x[i] != (float)pixels[i] / 255.0f;
    TU_CHECK(bad == 0, "%s: %d pixel values differ", what, bad);
    TU_CHECK(x[0] == 1.0f, "%s: pixel 255 -> %g", what, x[0]);
    const int32_t *l = curvo_dataset_labels(d);
    const float *t = curvo_dataset_targets(d);
    TU_CHECK(l != NULL && t != NULL, "%s: labels", what);
    for (int i = 0; l && t && i < NI; i++)
        TU_CHECK(l[i] == labels5[i] && t[i] == (float)labels5[i], "%s: label %d", what, i);
}

static void idx_good(void) {
    write_good_idx();
    const char *pairs[4][2] = {{"img", "lab"}, {"img.gz", "lab.gz"}, {"img.gz", "lab"}, {"img", "lab.gz"}};
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *ref = NULL;
    for (int k = 0; k < 4; k++) {
        curvo_dataset *d;
        char ip[256], lp[256];
        snprintf(ip, sizeof ip, "%s", tmp_path(pairs[k][0]));
        snprintf(lp, sizeof lp, "%s", tmp_path(pairs[k][1]));
        int rc = curvo_idx_load(ip, lp, &d, err);
        TU_CHECK(rc == CURVO_OK, "idx %s + %s: %d %s", pairs[k][0], pairs[k][1], rc, err);
        if (rc) continue;
        check_good(d, pairs[k][0]);
        if (!ref) {
            ref = d;
            continue;
        }
        TU_CHECK(!memcmp(curvo_dataset_features(d), curvo_dataset_features(ref),
                         NI * IH * IW * sizeof(float)), "gzip == raw features");
        curvo_dataset_free(d);
    }
    curvo_dataset_free(ref);

    /* rank 2 (n, d) -> (d, 1, 1); rank 4 (n, c, h, w) stays */
    unsigned char buf[512];
    uint32_t d2[2] = {NI, 12}, d4[4] = {NI, 2, 2, 3};
    write_gz("r2.gz", buf, make_idx(buf, 8, 2, d2, pixels, sizeof pixels));
    write_raw("r4", buf, make_idx(buf, 8, 4, d4, pixels, sizeof pixels));
    curvo_dataset *d;
    int c, h, w;
    char ip[256], lp[256];
    snprintf(lp, sizeof lp, "%s", tmp_path("lab"));
    snprintf(ip, sizeof ip, "%s", tmp_path("r2.gz"));
    TU_CHECK(curvo_idx_load(ip, lp, &d, err) == CURVO_OK, "rank 2: %s", err);
    curvo_dataset_shape(d, &c, &h, &w);
    TU_CHECK(c == 12 && h == 1 && w == 1, "rank 2 shape %dx%dx%d", c, h, w);
    curvo_dataset_free(d);
    snprintf(ip, sizeof ip, "%s", tmp_path("r4"));
    TU_CHECK(curvo_idx_load(ip, lp, &d, err) == CURVO_OK, "rank 4: %s", err);
    curvo_dataset_shape(d, &c, &h, &w);
    TU_CHECK(c == 2 && h == 2 && w == 3, "rank 4 shape %dx%dx%d", c, h, w);
    TU_CHECK(d && curvo_dataset_features(d)[5] == (float)pixels[5] / 255.0f, "rank 4 values");
    curvo_dataset_free(d);
}

/* Loading images img_name with labels lab_name fails with code and a message containing needle. */
static void idx_bad(const char *what, const char *img_name, const char *lab_name, int code,
                    const char *needle) {
    char ip[256], lp[256], err[CURVO_ERRMSG_LEN];
    snprintf(ip, sizeof ip, "%s", tmp_path(img_name));
    snprintf(lp, sizeof lp, "%s", tmp_path(lab_name));
    curvo_dataset *d = (curvo_dataset *)&d;
    strcpy(err, "(unset)");
    int rc = curvo_idx_load(ip, lp, &d, err);
    TU_CHECK(rc == code, "%s: got %d (%s), expected %d", what, rc, err, code);
    TU_CHECK(d == NULL, "%s: a dataset was returned", what);
    TU_CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what, err, needle);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  %-28s %s\n", what, err);
}

/* Writes an IDX file both raw (name) and gzip-compressed (name.gz). */
static void write_both(const char *name, const unsigned char *buf, size_t len) {
    char gzname[64];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    write_raw(name, buf, len);
    write_gz(gzname, buf, len);
}

static void idx_errors(void) {
    unsigned char buf[1024];
    uint32_t dims[3] = {NI, IH, IW}, ldims[1] = {NI};
    size_t len;

    idx_bad("missing images", "nope", "lab", CURVO_E_IO, "No such file");
    idx_bad("missing labels", "img", "nope.gz", CURVO_E_IO, "nope.gz");

    /* truncated data: raw by file size; gz by the inflated length; gz cut mid-stream */
    len = make_idx(buf, 8, 3, dims, pixels, sizeof pixels);
    write_both("trunc", buf, len - 3);
    idx_bad("truncated raw", "trunc", "lab", CURVO_E_FORMAT, "truncated");
    idx_bad("truncated gz", "trunc.gz", "lab", CURVO_E_FORMAT, "truncated");
    size_t gzlen;
    unsigned char *gz = read_all("img.gz", &gzlen);
    TU_CHECK(gz != NULL, "read img.gz");
    if (gz) {
        write_raw("cut.gz", gz, gzlen / 2);
        idx_bad("gz file cut in half", "cut.gz", "lab", CURVO_E_FORMAT, "truncated");
        unsigned char *bad = malloc(gzlen);
        memcpy(bad, gz, gzlen);
        bad[gzlen - 6] ^= 0x5a; /* the CRC-32 of the trailer */
        write_raw("corrupt.gz", bad, gzlen);
        idx_bad("corrupt gz", "corrupt.gz", "lab", CURVO_E_FORMAT, "corrupt gzip data (incorrect data check)");
        free(bad);
        free(gz);
    }
    write_both("hdr2", buf, 2);
    idx_bad("2-byte file", "hdr2", "lab", CURVO_E_FORMAT, "truncated header");
    idx_bad("2-byte file gz", "hdr2.gz", "lab", CURVO_E_FORMAT, "truncated header");
    write_both("hdr9", buf, 9);
    idx_bad("header cut in the dims", "hdr9", "lab", CURVO_E_FORMAT, "truncated header");
    write_raw("empty", buf, 0);
    idx_bad("empty file", "empty", "lab", CURVO_E_FORMAT, "truncated header");

    /* trailing bytes: more data than the dims describe */
    len = make_idx(buf, 8, 3, dims, pixels, sizeof pixels);
    buf[len++] = 7;
    write_both("trail", buf, len);
    idx_bad("trailing raw", "trail", "lab", CURVO_E_FORMAT, "trailing data");
    idx_bad("trailing gz", "trail.gz", "lab", CURVO_E_FORMAT, "trailing data");
    /* dims that do not match the size: 4 images announced, 5 stored */
    uint32_t dims4[3] = {4, IH, IW};
    write_both("mismatch", buf, make_idx(buf, 8, 3, dims4, pixels, sizeof pixels));
    uint32_t l4[1] = {NI - 1};
    write_both("lab4", buf, make_idx(buf, 8, 1, l4, labels5, NI - 1));
    idx_bad("dims < file (raw)", "mismatch", "lab4", CURVO_E_FORMAT, "trailing data");
    idx_bad("dims < file (gz)", "mismatch.gz", "lab4", CURVO_E_FORMAT, "trailing data");
    uint32_t dims6[3] = {NI, IH + 1, IW};
    write_both("mismatch6", buf, make_idx(buf, 8, 3, dims6, pixels, sizeof pixels));
    idx_bad("dims > file (raw)", "mismatch6", "lab", CURVO_E_FORMAT, "truncated");
    idx_bad("dims > file (gz)", "mismatch6.gz", "lab", CURVO_E_FORMAT, "truncated");

    /* wrong magic, other types, rank */
    len = make_idx(buf, 8, 3, dims, pixels, sizeof pixels);
    buf[0] = 0x1a, buf[1] = 0x2b;
    write_both("magic", buf, len);
    idx_bad("wrong magic", "magic", "lab", CURVO_E_FORMAT, "magic");
    idx_bad("wrong magic gz", "magic.gz", "lab", CURVO_E_FORMAT, "magic");
    write_both("float", buf, make_idx(buf, 0x0D, 3, dims, pixels, sizeof pixels));
    idx_bad("float32 images", "float", "lab", CURVO_E_FORMAT, "0x0d (float32) is not supported");
    write_both("int32", buf, make_idx(buf, 0x0C, 3, dims, pixels, sizeof pixels));
    idx_bad("int32 images", "int32.gz", "lab", CURVO_E_FORMAT, "not supported");
    uint32_t d5[5] = {NI, 1, 1, IH, IW};
    write_both("rank5", buf, make_idx(buf, 8, 5, d5, pixels, sizeof pixels));
    idx_bad("rank 5", "rank5", "lab", CURVO_E_FORMAT, "rank 5");
    write_both("rank0", buf, make_idx(buf, 8, 0, dims, NULL, 0));
    idx_bad("rank 0", "rank0", "lab", CURVO_E_FORMAT, "rank 0");
    uint32_t dz[3] = {NI, 0, IW};
    write_both("zero", buf, make_idx(buf, 8, 3, dz, NULL, 0));
    idx_bad("zero dim", "zero", "lab", CURVO_E_FORMAT, "dimension 2 of the header is 0");

    /* absurd sizes in tiny files: must fail before allocating (ASan would abort on a huge malloc) */
    uint32_t huge[3] = {0xFFFFFFFFu, 28, 28};
    write_both("huge", buf, make_idx(buf, 8, 3, huge, pixels, 16));
    idx_bad("0xFFFFFFFF x 28 x 28", "huge", "lab", CURVO_E_FORMAT, "absurd dimensions");
    idx_bad("0xFFFFFFFF x 28 x 28 gz", "huge.gz", "lab", CURVO_E_FORMAT, "absurd dimensions");
    uint32_t wide[4] = {2, 0x10000u, 0x10000u, 0xFFFFFFFFu}; /* the product overflows 64 bits */
    write_both("wide", buf, make_idx(buf, 8, 4, wide, pixels, 16));
    idx_bad("product overflow", "wide.gz", "lab", CURVO_E_FORMAT, "absurd dimensions");
    /* within the caps but much larger than the file: 2000 x 1000 x 1000 bytes, 16 present */
    uint32_t big[3] = {2000, 1000, 1000};
    uint32_t bigl[1] = {2000};
    unsigned char lab2000[2000] = {0};
    write_both("big", buf, make_idx(buf, 8, 3, big, pixels, 16));
    {
        unsigned char *lb = malloc(2100);
        write_both("lab2000", lb, make_idx(lb, 8, 1, bigl, lab2000, sizeof lab2000));
        free(lb);
    }
    idx_bad("2e9 bytes announced (raw)", "big", "lab2000", CURVO_E_FORMAT, "truncated");
    idx_bad("2e9 bytes announced (gz)", "big.gz", "lab2000.gz", CURVO_E_FORMAT, "truncated");

    /* labels: count, rank, type */
    idx_bad("label count", "img", "lab4", CURVO_E_FORMAT, "label count 4 differs from the image count 5");
    uint32_t l2[2] = {NI, 1};
    write_both("labr2", buf, make_idx(buf, 8, 2, l2, labels5, NI));
    idx_bad("label rank 2", "img", "labr2.gz", CURVO_E_FORMAT, "rank 1");
    write_both("labf", buf, make_idx(buf, 0x0D, 1, ldims, labels5, NI));
    idx_bad("float labels", "img", "labf", CURVO_E_FORMAT, "not supported");
    len = make_idx(buf, 8, 1, ldims, labels5, NI);
    write_both("labtrunc", buf, len - 1);
    idx_bad("truncated labels", "img.gz", "labtrunc.gz", CURVO_E_FORMAT, "truncated");

    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    TU_CHECK(curvo_idx_load(NULL, "x", &d, err) == CURVO_E_INVALID, "NULL path");
}

/* ---------------------------------------------------------------- CSV */

static void csv_good(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    write_text("good.csv",
               "\xEF\xBB\xBF \"a\" , b,target, \"c, d\"\r\n"
               "1.5, -2, 1, 3e2\r\n"
               "\r\n"
               "0,0.25,0,\"7\"\r\n"
               "  -1e-3 ,4,  2  ,0x10\n");
    int rc = curvo_csv_load(tmp_path("good.csv"), NULL, 0, &d, err);
    TU_CHECK(rc == CURVO_OK, "good.csv: %s", err);
    if (rc) return;
    int c, h, w;
    curvo_dataset_shape(d, &c, &h, &w);
    TU_CHECK(curvo_dataset_count(d) == 3 && c == 3 && h == 1 && w == 1, "csv shape %zu %dx%dx%d",
             curvo_dataset_count(d), c, h, w);
    float want[9] = {1.5f, -2, 300, 0, 0.25f, 7, -1e-3f, 4, 16};
    TU_CHECK(!memcmp(curvo_dataset_features(d), want, sizeof want), "csv values");
    TU_CHECK(curvo_dataset_num_classes(d) == 3, "csv classes %d", curvo_dataset_num_classes(d));
    const int32_t *l = curvo_dataset_labels(d);
    TU_CHECK(l && l[0] == 1 && l[1] == 0 && l[2] == 2, "csv labels");
    TU_CHECK(!strcmp(d->names[0], "a") && !strcmp(d->names[2], "c, d"), "csv names '%s' '%s'",
             d->names[0], d->names[2]);
    curvo_dataset_free(d);

    /* force_regression */
    TU_CHECK(curvo_csv_load(tmp_path("good.csv"), "target", 1, &d, err) == CURVO_OK, "%s", err);
    TU_CHECK(curvo_dataset_labels(d) == NULL && curvo_dataset_num_classes(d) == 0, "forced regression");
    TU_CHECK(curvo_dataset_targets(d)[2] == 2.0f, "forced regression targets");
    curvo_dataset_free(d);

    /* regression: a fractional, a negative, or a large target; another target column */
    const char *reg[3] = {"x,y\n1,0.5\n2,1\n", "x,y\n1,-1\n2,1\n", "x,y\n1,1000\n2,1\n"};
    for (int k = 0; k < 3; k++) {
        write_text("reg.csv", reg[k]);
        rc = curvo_csv_load(tmp_path("reg.csv"), "y", 0, &d, err);
        TU_CHECK(rc == CURVO_OK, "reg %d: %s", k, err);
        if (rc) continue;
        TU_CHECK(curvo_dataset_labels(d) == NULL && curvo_dataset_num_classes(d) == 0,
                 "reg %d is regression", k);
        TU_CHECK(curvo_dataset_targets(d)[1] == 1.0f, "reg %d targets", k);
        curvo_dataset_free(d);
    }
    write_text("cls.csv", "x,y\n1,999\n2,0\n");
    TU_CHECK(curvo_csv_load(tmp_path("cls.csv"), "y", 0, &d, err) == CURVO_OK, "%s", err);
    TU_CHECK(curvo_dataset_num_classes(d) == 1000, "999 -> 1000 classes");
    curvo_dataset_free(d);
}

static void csv_bad(const char *what, const char *text, const char *target, int code,
                    const char *needle1, const char *needle2) {
    char err[CURVO_ERRMSG_LEN];
    strcpy(err, "(unset)");
    write_text("bad.csv", text);
    curvo_dataset *d = (curvo_dataset *)&d;
    int rc = curvo_csv_load(tmp_path("bad.csv"), target, 0, &d, err);
    TU_CHECK(rc == code, "%s: got %d (%s), expected %d", what, rc, err, code);
    TU_CHECK(d == NULL, "%s: a dataset was returned", what);
    TU_CHECK(strstr(err, needle1) != NULL, "%s: message '%s' lacks '%s'", what, err, needle1);
    TU_CHECK(!needle2 || strstr(err, needle2) != NULL, "%s: message '%s' lacks '%s'", what, err,
             needle2);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  %-28s %s\n", what, err);
}

static void csv_errors(void) {
    csv_bad("non-numeric", "a,b,target\n1,2,0\n3,abc,1\n", NULL, CURVO_E_FORMAT, "line 3",
            "column 2 ('b'): 'abc' is not a number");
    csv_bad("partly numeric", "a,b,target\n1,2x,0\n", NULL, CURVO_E_FORMAT, "line 2", "'2x'");
    csv_bad("empty cell", "a,b,target\n1,,0\n", NULL, CURVO_E_FORMAT, "line 2, column 2", "empty cell");
    csv_bad("nan", "a,b,target\n1,2,0\n\n1,nan,0\n", NULL, CURVO_E_FORMAT, "line 4", "not a finite");
    csv_bad("inf target", "a,target\n1,inf\n", NULL, CURVO_E_FORMAT, "column 2 ('target')", "finite");
    csv_bad("1e999", "a,target\n1e999,1\n", NULL, CURVO_E_FORMAT, "line 2", "finite");
    csv_bad("1e39", "a,target\n1e39,1\n", NULL, CURVO_E_FORMAT, "line 2", "float range");
    csv_bad("too few cells", "a,b,target\n1,2,0\n1,2,0\n1,2\n", NULL, CURVO_E_FORMAT,
            "line 4 has 2 cells, the header has 3", NULL);
    csv_bad("too many cells", "a,b,target\n1,2,0,5\n", NULL, CURVO_E_FORMAT, "line 2 has 4 cells", NULL);
    csv_bad("missing target", "a,b,label\n1,2,0\n", NULL, CURVO_E_FORMAT,
            "no target column 'target'", "a, b, label");
    csv_bad("missing named target", "a,b,target\n1,2,0\n", "y", CURVO_E_FORMAT, "'y'", NULL);
    csv_bad("empty file", "", NULL, CURVO_E_FORMAT, "empty file", NULL);
    csv_bad("blank file", " \n\r\n", NULL, CURVO_E_FORMAT, "empty file", NULL);
    csv_bad("header only", "a,b,target\n", NULL, CURVO_E_FORMAT, "no data rows", NULL);
    csv_bad("header and blanks", "a,b,target\n\n  \n", NULL, CURVO_E_FORMAT, "no data rows", NULL);
    csv_bad("duplicate column", "a,b,\"a\",target\n1,2,3,0\n", NULL, CURVO_E_FORMAT,
            "duplicate column name 'a'", "columns 1 and 3");
    csv_bad("empty column name", "a,,target\n1,2,0\n", NULL, CURVO_E_FORMAT, "column 2: empty column name", NULL);
    csv_bad("target only", "target\n1\n", NULL, CURVO_E_FORMAT, "no feature columns", NULL);
    csv_bad("unterminated quote", "a,\"b,target\n1,2,0\n", NULL, CURVO_E_FORMAT, "line 1, column 2",
            "unterminated");
    csv_bad("text after quote", "a,b,target\n1,\"2\"x,0\n", NULL, CURVO_E_FORMAT, "line 2, column 2",
            "after a closing");

    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no-such.csv", tmpdir);
    TU_CHECK(curvo_csv_load(missing, NULL, 0, &d, err) == CURVO_E_IO && strstr(err, "no-such.csv"),
             "missing csv: %s", err);
}

/* ---------------------------------------------------------------- split, standardize */

/* n samples of d features; feature 0 of sample i is i, label i % classes */
static curvo_dataset *make_dataset(size_t n, int d, int classes, curvo_rng *rng) {
    curvo_dataset *ds;
    if (data_dataset_alloc(n, d, 1, 1, classes > 0, &ds)) return NULL;
    for (size_t i = 0; i < n; i++) {
        ds->x[i * (size_t)d] = (float)i;
        for (int j = 1; j < d; j++)
            ds->x[i * (size_t)d + (size_t)j] = (float)(3.0 * j + j * curvo_rng_normal(rng));
        ds->targets[i] = (float)(classes > 0 ? (int)(i % (size_t)classes) : 0.5 * (double)i);
        if (classes > 0) ds->labels[i] = (int32_t)(i % (size_t)classes);
    }
    ds->num_classes = classes;
    return ds;
}

static void split(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    curvo_dataset *all = make_dataset(100, 3, 4, &rng), *a, *b, *a2, *b2;
    char err[CURVO_ERRMSG_LEN];
    TU_CHECK(curvo_dataset_split(all, 0.2, 7, &a, &b, err) == CURVO_OK, "split: %s", err);
    TU_CHECK(curvo_dataset_count(a) == 80 && curvo_dataset_count(b) == 20, "split sizes %zu %zu",
             curvo_dataset_count(a), curvo_dataset_count(b));
    int seen[100] = {0}, ok = 1;
    for (size_t i = 0; i < 80; i++) seen[(int)a->x[i * 3]]++;
    for (size_t i = 0; i < 20; i++) seen[(int)b->x[i * 3]]++;
    for (int i = 0; i < 100; i++) ok &= seen[i] == 1;
    TU_CHECK(ok, "split parts are disjoint and cover every sample");
    ok = 1;
    for (size_t i = 0; i < 20; i++) {
        size_t src = (size_t)b->x[i * 3];
        ok &= b->labels[i] == all->labels[src] && b->targets[i] == all->targets[src] &&
              b->x[i * 3 + 2] == all->x[src * 3 + 2];
    }
    TU_CHECK(ok, "split rows keep their labels and features");
    TU_CHECK(a->num_classes == 4 && b->num_classes == 4, "split keeps the class count");
    TU_CHECK(curvo_dataset_split(all, 0.2, 7, &a2, &b2, err) == CURVO_OK, "split again");
    TU_CHECK(!memcmp(b->x, b2->x, 20 * 3 * sizeof(float)), "same seed, same split");
    curvo_dataset_free(a2);
    curvo_dataset_free(b2);
    TU_CHECK(curvo_dataset_split(all, 0.2, 8, &a2, &b2, err) == CURVO_OK, "split seed 8");
    TU_CHECK(memcmp(b->x, b2->x, 20 * 3 * sizeof(float)) != 0, "another seed, another split");
    curvo_dataset_free(a2);
    curvo_dataset_free(b2);
    curvo_dataset_free(a);
    curvo_dataset_free(b);

    TU_CHECK(curvo_dataset_split(all, 0.001, 1, &a, &b, err) == CURVO_OK && curvo_dataset_count(b) == 1,
             "a tiny fraction still gives one test sample");
    curvo_dataset_free(a);
    curvo_dataset_free(b);
    double badf[3] = {0.0, 1.0, NAN};
    for (int k = 0; k < 3; k++) {
        a = b = (curvo_dataset *)&a;
        TU_CHECK(curvo_dataset_split(all, badf[k], 1, &a, &b, err) == CURVO_E_INVALID && !a && !b &&
                     strstr(err, "fraction"),
                 "fraction %g: %s", badf[k], err);
    }
    curvo_dataset *one = make_dataset(1, 2, 2, &rng);
    TU_CHECK(curvo_dataset_split(one, 0.5, 1, &a, &b, err) == CURVO_E_INVALID, "one sample: %s", err);
    curvo_dataset_free(one);
    curvo_dataset_free(all);
}

static void standardize(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 5);
    curvo_dataset *tr = make_dataset(200, 4, 0, &rng), *te = make_dataset(50, 4, 0, &rng);
    for (size_t i = 0; i < 200; i++) tr->x[i * 4 + 3] = 2.5f; /* a constant feature */
    for (size_t i = 0; i < 50; i++) te->x[i * 4 + 3] = 3.5f;
    double mean[4] = {0}, sd[4] = {0};
    for (size_t i = 0; i < 200; i++)
        for (int j = 0; j < 4; j++) mean[j] += tr->x[i * 4 + (size_t)j] / 200.0;
    for (size_t i = 0; i < 200; i++)
        for (int j = 0; j < 4; j++) sd[j] += pow(tr->x[i * 4 + (size_t)j] - mean[j], 2) / 200.0;
    for (int j = 0; j < 4; j++) sd[j] = sqrt(sd[j]);
    float te_before[50 * 4];
    memcpy(te_before, te->x, sizeof te_before);

    TU_CHECK(curvo_dataset_standardize(tr, te) == CURVO_OK, "standardize");
    for (int j = 0; j < 4; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < 200; i++) m += tr->x[i * 4 + (size_t)j] / 200.0;
        for (size_t i = 0; i < 200; i++) v += pow(tr->x[i * 4 + (size_t)j] - m, 2) / 200.0;
        TU_CHECK(fabs(m) < 1e-5, "feature %d: train mean %g", j, m);
        if (j < 3) TU_CHECK(fabs(sqrt(v) - 1.0) < 1e-5, "feature %d: train std %g", j, sqrt(v));
        else TU_CHECK(v == 0.0, "constant feature stays constant (var %g)", v);
    }
    double worst = 0;
    for (size_t i = 0; i < 50; i++)
        for (int j = 0; j < 3; j++) {
            double want = (te_before[i * 4 + (size_t)j] - mean[j]) / sd[j];
            double e = fabs(te->x[i * 4 + (size_t)j] - want);
            if (e > worst) worst = e;
        }
    TU_CHECK(worst < 1e-4, "test set transformed with the train statistics (err %g)", worst);
    TU_CHECK(te->x[3] == 1.0f, "constant feature only centred: %g", te->x[3]);
    curvo_dataset *wrong = make_dataset(5, 3, 0, &rng);
    TU_CHECK(curvo_dataset_standardize(tr, wrong) == CURVO_E_SHAPE, "feature count mismatch");
    curvo_dataset_free(wrong);

    /* the statistics are recorded, and applying them to a fresh copy of the test set reproduces it */
    curvo_standardization st;
    curvo_dataset_standardization(tr, &st);
    TU_CHECK(st.features == 4 && st.feature_mean && st.feature_std && !st.target && st.target_std == 1.0,
             "standardization recorded (%zu features)", st.features);
    for (int j = 0; j < 3 && st.features == 4; j++)
        TU_CHECK(fabs(st.feature_mean[j] - mean[j]) < 1e-9 && fabs(st.feature_std[j] - sd[j]) < 1e-9,
                 "feature %d: recorded mean %g std %g, measured %g %g", j, st.feature_mean[j],
                 st.feature_std[j], mean[j], sd[j]);
    TU_CHECK(curvo_dataset_standardize(tr, NULL) == CURVO_E_STATE, "standardizing twice is refused");
    curvo_rng_seed(&rng, 5);
    curvo_dataset *tr2 = make_dataset(200, 4, 0, &rng), *te2 = make_dataset(50, 4, 0, &rng);
    for (size_t i = 0; i < 50; i++) te2->x[i * 4 + 3] = 3.5f;
    TU_CHECK(curvo_dataset_apply_standardization(te2, &st) == CURVO_OK, "apply recorded statistics");
    TU_CHECK(!memcmp(te2->x, te->x, sizeof te_before), "applied statistics reproduce the test set bit for bit");
    TU_CHECK(curvo_dataset_apply_standardization(te2, &st) == CURVO_E_STATE, "applying twice is refused");
    curvo_dataset *narrow = make_dataset(5, 3, 0, &rng);
    TU_CHECK(curvo_dataset_apply_standardization(narrow, &st) == CURVO_E_SHAPE, "feature count mismatch on apply");
    curvo_dataset *first, *second;
    TU_CHECK(curvo_dataset_split(te, 0.5, 3, &first, &second, NULL) == CURVO_OK, "split a standardized set");
    curvo_standardization s2;
    curvo_dataset_standardization(second, &s2);
    TU_CHECK(s2.features == 4 && s2.feature_mean != st.feature_mean && s2.feature_mean[0] == st.feature_mean[0],
             "a split carries its own copy of the statistics");
    curvo_dataset_free(first);
    curvo_dataset_free(second);
    curvo_dataset_free(narrow);
    curvo_dataset_free(tr2);
    curvo_dataset_free(te2);
    curvo_dataset_free(tr);
    curvo_dataset_free(te);
}

/* ---------------------------------------------------------------- batcher */

/* Runs one epoch; returns the number of batches, checks each sample appears at most once, and
 * records the sample ids (feature 0) in visit order. */
static int epoch(curvo_batcher *bt, const curvo_dataset *d, int *visits, size_t *count,
                 int *sizes, int *ids) {
    curvo_batch batch;
    int nb = 0;
    size_t k = 0;
    size_t dd = curvo_dataset_features_per_sample(d);
    while (curvo_batcher_next(bt, &batch)) {
        if (sizes) sizes[nb] = batch.b;
        nb++;
        for (int r = 0; r < batch.b; r++) {
            int id = (int)batch.x[(size_t)r * dd];
            visits[id]++;
            if (ids) ids[k] = id;
            k++;
            if (d->labels)
                TU_CHECK(batch.labels && batch.labels[r] == d->labels[id], "batch label of %d", id);
            TU_CHECK(batch.targets[r] == d->targets[id], "batch target of %d", id);
            TU_CHECK(batch.x[(size_t)r * dd + 1] == d->x[(size_t)id * dd + 1], "batch features of %d", id);
        }
        if (nb > 1000) break;
    }
    *count = k;
    return nb;
}

static void batcher(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 11);
    curvo_dataset *d = make_dataset(10, 2, 3, &rng);
    curvo_batcher *bt;
    TU_CHECK(curvo_batcher_create(d, 3, &bt) == CURVO_OK, "batcher create");
    int visits[10] = {0}, sizes[8], ids1[10], ids2[10];
    size_t count;

    curvo_batcher_sequential(bt);
    int nb = epoch(bt, d, visits, &count, sizes, ids1);
    TU_CHECK(nb == 4 && count == 10 && sizes[3] == 1, "sequential: %d batches, %zu samples", nb, count);
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= ids1[i] == i && visits[i] == 1;
    TU_CHECK(ok, "sequential order");
    curvo_batch batch;
    TU_CHECK(curvo_batcher_next(bt, &batch) == 0, "end of epoch stays ended");

    curvo_rng r1, r2;
    curvo_rng_seed(&r1, 42);
    curvo_rng_seed(&r2, 42);
    memset(visits, 0, sizeof visits);
    curvo_batcher_shuffle(bt, &r1);
    nb = epoch(bt, d, visits, &count, NULL, ids1);
    ok = 1;
    for (int i = 0; i < 10; i++) ok &= visits[i] == 1;
    TU_CHECK(ok && count == 10 && nb == 4, "shuffled epoch: every sample exactly once");
    int identity = 1;
    for (int i = 0; i < 10; i++) identity &= ids1[i] == i;
    TU_CHECK(!identity, "shuffled order differs from the stored order");
    memset(visits, 0, sizeof visits);
    curvo_batcher_shuffle(bt, &r2);
    epoch(bt, d, visits, &count, NULL, ids2);
    TU_CHECK(!memcmp(ids1, ids2, sizeof ids1), "same seed, same order");
    memset(visits, 0, sizeof visits);
    curvo_batcher_shuffle(bt, &r1); /* the next epoch of stream r1 */
    epoch(bt, d, visits, &count, NULL, ids2);
    TU_CHECK(memcmp(ids1, ids2, sizeof ids1) != 0, "next epoch, new order");

    /* drop_last: 3 full batches of 3, one sample left out */
    curvo_batcher_set_drop_last(bt, 1);
    memset(visits, 0, sizeof visits);
    curvo_batcher_shuffle(bt, &r1);
    nb = epoch(bt, d, visits, &count, sizes, NULL);
    ok = 1;
    for (int i = 0; i < 10; i++) ok &= visits[i] <= 1;
    TU_CHECK(nb == 3 && count == 9 && ok && sizes[2] == 3, "drop_last: %d batches, %zu samples", nb,
             count);
    TU_CHECK(curvo_batcher_position(bt) == 10, "drop_last ends the epoch");
    curvo_batcher_set_drop_last(bt, 0);

    /* restore round trip: save mid-epoch, continue both, compare */
    curvo_batcher_shuffle(bt, &r1);
    curvo_batcher_next(bt, &batch);
    size_t pos = curvo_batcher_position(bt);
    uint32_t saved[10];
    memcpy(saved, curvo_batcher_order(bt), sizeof saved);
    TU_CHECK(pos == 3, "position after one batch: %zu", pos);
    curvo_batcher *bt2;
    TU_CHECK(curvo_batcher_create(d, 3, &bt2) == CURVO_OK, "second batcher");
    TU_CHECK(curvo_batcher_restore(bt2, saved, 10, pos) == CURVO_OK, "restore");
    memset(visits, 0, sizeof visits);
    epoch(bt, d, visits, &count, NULL, ids1);
    memset(visits, 0, sizeof visits);
    size_t count2;
    epoch(bt2, d, visits, &count2, NULL, ids2);
    TU_CHECK(count == 7 && count2 == 7 && !memcmp(ids1, ids2, 7 * sizeof *ids1),
             "restored batcher continues the same epoch");
    uint32_t badorder[10];
    memcpy(badorder, saved, sizeof badorder);
    badorder[4] = badorder[5];
    TU_CHECK(curvo_batcher_restore(bt2, badorder, 10, 0) == CURVO_E_INVALID, "duplicate index rejected");
    memcpy(badorder, saved, sizeof badorder);
    badorder[0] = 10;
    TU_CHECK(curvo_batcher_restore(bt2, badorder, 10, 0) == CURVO_E_INVALID, "index n rejected");
    TU_CHECK(curvo_batcher_restore(bt2, saved, 9, 0) == CURVO_E_INVALID, "wrong n rejected");
    TU_CHECK(curvo_batcher_restore(bt2, saved, 10, 11) == CURVO_E_INVALID, "position > n rejected");
    TU_CHECK(curvo_batcher_restore(bt2, saved, 10, 10) == CURVO_OK &&
                 curvo_batcher_next(bt2, &batch) == 0, "position n is the end of the epoch");
    curvo_batcher_free(bt2);
    curvo_batcher_free(bt);

    /* a batch larger than the dataset; regression labels; bad arguments */
    TU_CHECK(curvo_batcher_create(d, 64, &bt) == CURVO_OK, "batch > n");
    TU_CHECK(curvo_batcher_next(bt, &batch) == 1 && batch.b == 10, "one batch of all samples");
    curvo_batcher_sequential(bt);
    curvo_batcher_set_drop_last(bt, 1);
    TU_CHECK(curvo_batcher_next(bt, &batch) == 0, "batch > n with drop_last: no batch");
    curvo_batcher_free(bt);
    curvo_dataset *reg = make_dataset(7, 2, 0, &rng);
    TU_CHECK(curvo_batcher_create(reg, 4, &bt) == CURVO_OK, "regression batcher");
    TU_CHECK(curvo_batcher_next(bt, &batch) == 1 && batch.labels == NULL && batch.targets &&
                 batch.targets[3] == reg->targets[3], "regression batch: targets, no labels");
    curvo_batcher_free(bt);
    curvo_dataset_free(reg);
    TU_CHECK(curvo_batcher_create(d, 0, &bt) == CURVO_E_INVALID && bt == NULL, "batch size 0");
    curvo_dataset_free(d);
}

/* ---------------------------------------------------------------- mutations */

/* Seeded random byte edits, cuts and extensions of a good IDX file (raw and gzip) and a good CSV:
 * every load must succeed or fail with CURVO_E_FORMAT and a message, never crash (ASan/UBSan). */
static void mutations(void) {
    curvo_rng rng;
    curvo_rng_seed(&rng, 99);
    unsigned char good[512], buf[600];
    uint32_t dims[3] = {NI, IH, IW};
    size_t glen = make_idx(good, 8, 3, dims, pixels, sizeof pixels);
    const char *csv = "a,b,target\n1,2,0\n\"3\",4.5e1,1\n-5, 6 ,2\n";
    size_t clen = strlen(csv);
    char lp[256], ip[256], err[CURVO_ERRMSG_LEN];
    snprintf(lp, sizeof lp, "%s", tmp_path("lab"));
    int bad_rc = 0, no_msg = 0, ok = 0;
    for (int it = 0; it < 600; it++) {
        int is_csv = it % 3 == 2;
        size_t len = is_csv ? clen : glen;
        memcpy(buf, is_csv ? (const void *)csv : (const void *)good, len);
        int edits = 1 + (int)curvo_rng_below(&rng, 3);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? (size_t)curvo_rng_below(&rng, len) : 0;
            switch (curvo_rng_below(&rng, 4)) {
            case 0: if (at < len) buf[at] = (unsigned char)curvo_rng_below(&rng, 256); break;
            case 1: if (at < len) buf[at] = is_csv ? ",\"\n.e-x "[curvo_rng_below(&rng, 9)] : (unsigned char)(buf[at] ^ 0x80); break;
            case 2: len = at; break;
            default:
                if (len < sizeof buf) buf[len++] = (unsigned char)curvo_rng_below(&rng, 256);
            }
        }
        curvo_dataset *d = NULL;
        int rc;
        err[0] = '\0';
        if (is_csv) {
            write_raw("mut.csv", buf, len);
            rc = curvo_csv_load(tmp_path("mut.csv"), NULL, 0, &d, err);
        } else {
            const char *name = it % 3 ? "mut.gz" : "mut";
            if (it % 3) write_gz(name, buf, len);
            else write_raw(name, buf, len);
            snprintf(ip, sizeof ip, "%s", tmp_path(name));
            rc = curvo_idx_load(ip, lp, &d, err);
        }
        if (rc == CURVO_OK) {
            ok++;
            if (!d || curvo_dataset_count(d) < 1) bad_rc++;
        } else {
            if (rc != CURVO_E_FORMAT || d) bad_rc++;
            if (!err[0]) no_msg++;
        }
        curvo_dataset_free(d);
    }
    TU_CHECK(bad_rc == 0, "mutations: %d loads gave a wrong code or a dataset with an error", bad_rc);
    TU_CHECK(no_msg == 0, "mutations: %d failures without a message", no_msg);
    if (getenv("CURVO_TEST_VERBOSE")) printf("  mutations: %d of 600 still loaded\n", ok);
}

/* ---------------------------------------------------------------- the task rule */

/* A CSV "x,y" of n rows whose target is value(i). */
static void write_targets(const char *name, int n, double (*value)(int)) {
    FILE *fp = fopen(tmp_path(name), "w");
    fprintf(fp, "x,y\n");
    for (int i = 0; i < n; i++) fprintf(fp, "%d,%.17g\n", i % 7, value(i));
    fclose(fp);
}
/* whole numbers from 25 to 346 over 442 rows, like sklearn's diabetes disease progression */
static double score(int i) { return 25 + (i * 37) % 322; }
static double three_labels(int i) { return i % 3; }
static double hundred_labels(int i) { return 2 * (i % 100); }
static double sparse_labels(int i) { return i % 2 ? 7 : 900; }
static double big_whole(int i) { return 250000 + 1000 * (i % 50); }
static double halves(int i) { return 0.5 * (i % 9); }

/* Loads NAME with target y as task: it must give that many classes (0: regression) and a
 * curvo_dataset_task description starting with want. */
static void expect_task(const char *name, int task, int classes, const char *want) {
    char err[CURVO_ERRMSG_LEN], got[256] = "";
    curvo_dataset *d;
    int rc = curvo_csv_load(tmp_path(name), "y", task, &d, err);
    TU_CHECK(rc == CURVO_OK, "%s as task %d: %s", name, task, err);
    if (rc) return;
    curvo_dataset_task(d, got, sizeof got);
    TU_CHECK(curvo_dataset_num_classes(d) == classes && (classes == 0) == (curvo_dataset_labels(d) == NULL) &&
                 !strncmp(got, want, strlen(want)),
             "%s as task %d: %d classes, '%s'; expected %d, '%s...'", name, task, curvo_dataset_num_classes(d), got,
             classes, want);
    if (classes) TU_CHECK(curvo_dataset_labels(d)[1] == (int32_t)curvo_dataset_targets(d)[1], "%s: labels", name);
    curvo_dataset_free(d);
}

static void task_rule(void) {
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d;
    /* the diabetes-like score: ambiguous, refused with a message asking which task */
    write_targets("score.csv", 442, score);
    int distinct = 0;
    unsigned char seen[400] = {0};
    double lo = 1e9, hi = -1e9;
    for (int i = 0; i < 442; i++) {
        int v = (int)score(i);
        distinct += !seen[v];
        seen[v] = 1;
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    TU_CHECK(distinct > 100 && lo >= 0 && hi < 1000, "the score fixture has %d distinct values in [%g, %g]", distinct,
             lo, hi);
    char want[64];
    snprintf(want, sizeof want, "%d distinct whole numbers", distinct);
    int rc = curvo_csv_load(tmp_path("score.csv"), "y", CURVO_TASK_AUTO, &d, err);
    TU_CHECK(rc == CURVO_E_INVALID && d == NULL && strstr(err, want) && strstr(err, "--regression") &&
                 strstr(err, "--classes") && strstr(err, "'y'"),
             "many distinct whole numbers are refused: %d '%s'", rc, err);
    if (!rc) curvo_dataset_free(d);
    /* asked for, either task is taken */
    expect_task("score.csv", CURVO_TASK_REGRESSION, 0, "regression (as asked)");
    expect_task("score.csv", CURVO_TASK_CLASSIFICATION, (int)hi + 1, "classification, 347 classes (as asked)");
    /* small label sets stay classification, and say why */
    write_targets("three.csv", 30, three_labels);
    expect_task("three.csv", CURVO_TASK_AUTO, 3, "classification, 3 classes (target 'y' has 3 distinct whole numbers)");
    write_targets("hundred.csv", 300, hundred_labels); /* 100 distinct values, the most taken unasked */
    expect_task("hundred.csv", CURVO_TASK_AUTO, 199, "classification, 199 classes (target 'y' has 100 distinct");
    write_targets("sparse.csv", 20, sparse_labels);
    expect_task("sparse.csv", CURVO_TASK_AUTO, 901, "classification, 901 classes");
    /* values: non-integer, or whole numbers of 1000 and more (prices in whole dollars) */
    write_targets("halves.csv", 20, halves);
    expect_task("halves.csv", CURVO_TASK_AUTO, 0, "regression (target 'y' has non-integer values)");
    write_targets("big.csv", 200, big_whole);
    expect_task("big.csv", CURVO_TASK_AUTO, 0, "regression (target 'y' has values up to 299000");
    /* class labels asked of values: refused, naming the line and the value */
    rc = curvo_csv_load(tmp_path("halves.csv"), "y", CURVO_TASK_CLASSIFICATION, &d, err);
    TU_CHECK(rc == CURVO_E_INVALID && d == NULL && strstr(err, "line 3") && strstr(err, "0.5"),
             "labels asked of 0.5: %d '%s'", rc, err);
    rc = curvo_csv_load(tmp_path("big.csv"), "y", CURVO_TASK_CLASSIFICATION, &d, err);
    TU_CHECK(rc == CURVO_E_INVALID && d == NULL && strstr(err, "250000"), "labels asked of 250000: '%s'", err);
    TU_CHECK(curvo_csv_load(tmp_path("big.csv"), "y", 3, &d, err) == CURVO_E_INVALID && d == NULL, "unknown task");

    /* through curvo_data_open: both options at once are refused; a split keeps the reason */
    curvo_data_options opt;
    curvo_data_options_init(&opt);
    opt.target = "y";
    char src[300];
    curvo_dataset *tr, *te;
    snprintf(src, sizeof src, "csv:%s", tmp_path("score.csv"));
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_E_INVALID && strstr(err, "--classes"),
             "data_open refuses the score: '%s'", err);
    opt.force_regression = opt.force_classes = 1;
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_E_INVALID && !tr && !te, "both tasks: '%s'", err);
    opt.force_regression = 0;
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_OK && curvo_dataset_num_classes(tr) == (int)hi + 1,
             "force_classes: %s", err);
    if (tr) {
        char task[256];
        curvo_dataset_task(te, task, sizeof task);
        TU_CHECK(strstr(task, "(as asked)") != NULL, "the test split says why: '%s'", task);
    }
    curvo_dataset_free(tr);
    curvo_dataset_free(te);
}

/* ---------------------------------------------------------------- target standardization */

static double price(int i) { return 300000.0 + 80000.0 * sin(0.7 * i) + 0.25 * (i % 4); }

static void target_standardization(void) {
    char err[CURVO_ERRMSG_LEN], src[300];
    write_targets("prices.csv", 250, price);
    snprintf(src, sizeof src, "csv:%s", tmp_path("prices.csv"));
    curvo_data_options opt;
    curvo_data_options_init(&opt);
    TU_CHECK(opt.standardize_target == 1 && opt.force_classes == 0, "defaults: standardized targets");
    opt.target = "y";
    curvo_dataset *tr, *te, *rtr, *rte;
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_OK, "%s", err);
    opt.standardize_target = 0;
    TU_CHECK(curvo_data_open(src, &opt, &rtr, &rte, err) == CURVO_OK, "%s", err);
    if (!tr || !rtr) return;
    /* the raw training targets, as read, give the statistics */
    size_t n = curvo_dataset_count(rtr), nt = curvo_dataset_count(rte);
    const float *raw = curvo_dataset_targets(rtr), *z = curvo_dataset_targets(tr);
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += raw[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (raw[i] - mean) * (raw[i] - mean);
    double sd = sqrt(ss / (double)n);
    curvo_standardization st, rst;
    curvo_dataset_standardization(tr, &st);
    curvo_dataset_standardization(rtr, &rst);
    TU_CHECK(st.target && fabs(st.target_mean - mean) < 1e-6 * mean && fabs(st.target_std - sd) < 1e-6 * sd,
             "recorded target mean %g std %g, measured %g %g", st.target_mean, st.target_std, mean, sd);
    TU_CHECK(!rst.target && rst.target_mean == 0 && rst.target_std == 1, "standardize_target = 0 records none");
    double zmean = 0, zss = 0, worst = 0;
    for (size_t i = 0; i < n; i++) zmean += z[i], zss += (double)z[i] * z[i];
    zmean /= (double)n;
    TU_CHECK(fabs(zmean) < 1e-5 && fabs(zss / (double)n - 1.0) < 1e-4, "training targets have mean %g, mean square %g",
             zmean, zss / (double)n);
    /* the test set uses the training statistics; unstandardizing gives the values as read */
    float *back = malloc(nt * sizeof *back);
    memcpy(back, curvo_dataset_targets(te), nt * sizeof *back);
    curvo_unstandardize_targets(&st, back, nt);
    for (size_t i = 0; i < nt; i++) worst = fmax(worst, fabs(back[i] - curvo_dataset_targets(rte)[i]));
    TU_CHECK(worst < 0.1, "test targets round trip within %g (values near 3e5)", worst);
    memcpy(back, curvo_dataset_targets(rte), nt * sizeof *back);
    curvo_unstandardize_targets(&rst, back, nt);
    TU_CHECK(!memcmp(back, curvo_dataset_targets(rte), nt * sizeof *back), "no target record: values untouched");
    free(back);
    /* the recorded statistics, passed back, reproduce the standardized sets bit for bit */
    curvo_dataset *atr, *ate;
    opt.standardization = &st;
    TU_CHECK(curvo_data_open(src, &opt, &atr, &ate, err) == CURVO_OK, "%s", err);
    if (atr) {
        TU_CHECK(!memcmp(curvo_dataset_targets(atr), z, n * sizeof *z) &&
                     !memcmp(curvo_dataset_targets(ate), curvo_dataset_targets(te), nt * sizeof *z),
                 "recorded target statistics reproduce the targets");
        curvo_dataset_free(atr);
        curvo_dataset_free(ate);
    }
    /* directly: twice is refused, a classification set is refused, a constant target is only centred */
    TU_CHECK(curvo_dataset_standardize_target(tr, NULL) == CURVO_E_STATE, "standardizing targets twice");
    curvo_rng rng;
    curvo_rng_seed(&rng, 3);
    curvo_dataset *cls = make_dataset(10, 2, 3, &rng), *flat = make_dataset(10, 2, 0, &rng);
    TU_CHECK(curvo_dataset_standardize_target(cls, NULL) == CURVO_E_INVALID, "class labels are not standardized");
    for (int i = 0; i < 10; i++) flat->targets[i] = 42.0f;
    TU_CHECK(curvo_dataset_standardize_target(flat, NULL) == CURVO_OK && flat->targets[3] == 0.0f &&
                 flat->target_std == 1.0,
             "a constant target is centred");
    curvo_dataset_free(cls);
    curvo_dataset_free(flat);
    curvo_dataset_free(tr);
    curvo_dataset_free(te);
    curvo_dataset_free(rtr);
    curvo_dataset_free(rte);
}

/* ---------------------------------------------------------------- named sources */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void registry(void) {
    curvo_data_options opt;
    curvo_data_options_init(&opt);
    TU_CHECK(!strcmp(opt.target, "target") && opt.test_fraction == 0.2 && opt.seed == 1 &&
                 !opt.force_regression && !strcmp(opt.fashion_mnist_dir, "/usr/share/datasets/fashion-mnist"),
             "option defaults");
    char err[CURVO_ERRMSG_LEN], src[512];
    curvo_dataset *tr, *te;

    /* idx:DIR in MNIST's layout: gzip training files, raw test files */
    unsigned char buf[512];
    uint32_t dims[3] = {NI, IH, IW}, ldims[1] = {NI};
    write_gz("train-images-idx3-ubyte.gz", buf, make_idx(buf, 8, 3, dims, pixels, sizeof pixels));
    write_gz("train-labels-idx1-ubyte.gz", buf, make_idx(buf, 8, 1, ldims, labels5, NI));
    uint32_t tdims[3] = {2, IH, IW}, tl[1] = {2};
    unsigned char tlab[2] = {8, 1};
    write_raw("t10k-images-idx3-ubyte", buf, make_idx(buf, 8, 3, tdims, pixels, 2 * IH * IW));
    write_raw("t10k-labels-idx1-ubyte", buf, make_idx(buf, 8, 1, tl, tlab, 2));
    snprintf(src, sizeof src, "idx:%s", tmpdir);
    int rc = curvo_data_open(src, NULL, &tr, &te, err);
    TU_CHECK(rc == CURVO_OK, "%s: %s", src, err);
    if (!rc) {
        TU_CHECK(curvo_dataset_count(tr) == NI && curvo_dataset_count(te) == 2, "idx:DIR counts");
        TU_CHECK(curvo_dataset_num_classes(tr) == 9 && curvo_dataset_num_classes(te) == 9,
                 "both sets get the larger class count: %d %d", curvo_dataset_num_classes(tr),
                 curvo_dataset_num_classes(te));
        curvo_dataset_free(tr);
        curvo_dataset_free(te);
    }
    snprintf(src, sizeof src, "idx:%s/missing", tmpdir);
    TU_CHECK(curvo_data_open(src, NULL, &tr, &te, err) == CURVO_E_IO && strstr(err, "train-images"),
             "idx: missing dir: %s", err);

    /* csv:PATH — split 25/75 and standardized with the training part */
    char text[8192];
    size_t k = (size_t)snprintf(text, sizeof text, "f1,f2,target\n");
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%d,%g,%d\n", i, 100.0 + 0.5 * i * i, i % 2);
    write_text("all.csv", text);
    opt.test_fraction = 0.25;
    snprintf(src, sizeof src, "csv:%s", tmp_path("all.csv"));
    rc = curvo_data_open(src, &opt, &tr, &te, err);
    TU_CHECK(rc == CURVO_OK, "%s: %s", src, err);
    if (!rc) {
        TU_CHECK(curvo_dataset_count(tr) == 30 && curvo_dataset_count(te) == 10, "csv split sizes");
        TU_CHECK(curvo_dataset_num_classes(tr) == 2, "csv classes");
        double m = 0;
        for (int i = 0; i < 30; i++) m += curvo_dataset_features(tr)[2 * i + 1];
        TU_CHECK(fabs(m / 30) < 1e-5, "csv train features standardized (mean %g)", m / 30);
        curvo_dataset_free(tr);
        curvo_dataset_free(te);
    }
    /* csv:TRAIN,TEST */
    write_text("te.csv", "f1,f2,target\n1,2,0\n3,4,1.5\n");
    snprintf(src, sizeof src, "csv:%s,%s", tmp_path("all.csv"), tmp_path("te.csv"));
    rc = curvo_data_open(src, &opt, &tr, &te, err);
    TU_CHECK(rc == CURVO_OK, "%s: %s", src, err);
    if (!rc) {
        TU_CHECK(curvo_dataset_count(tr) == 40 && curvo_dataset_count(te) == 2, "csv pair counts");
        TU_CHECK(!curvo_dataset_labels(tr) && !curvo_dataset_labels(te),
                 "a regression test file makes both regression");
        double m = 0;
        for (int i = 0; i < 40; i++) m += curvo_dataset_features(tr)[2 * i];
        float want = (float)((1.0 - 19.5) / sqrt((40.0 * 40.0 - 1.0) / 12.0));
        TU_CHECK(fabs(m / 40) < 1e-5 && fabsf(curvo_dataset_features(te)[0] - want) < 1e-5f,
                 "csv pair standardized with train statistics (%g vs %g)",
                 curvo_dataset_features(te)[0], want);
        curvo_dataset_free(tr);
        curvo_dataset_free(te);
    }
    write_text("te2.csv", "f1,g,target\n1,2,0\n");
    snprintf(src, sizeof src, "csv:%s,%s", tmp_path("all.csv"), tmp_path("te2.csv"));
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_E_FORMAT && strstr(err, "'g'") &&
                 !tr && !te, "csv pair with other columns: %s", err);
    snprintf(src, sizeof src, "csv:%s,", tmp_path("all.csv"));
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_E_INVALID, "csv:PATH, : %s", err);
    snprintf(src, sizeof src, "csv:%s", tmp_path("bad.csv"));
    write_text("bad.csv", "a,target\n1,x\n");
    TU_CHECK(curvo_data_open(src, &opt, &tr, &te, err) == CURVO_E_FORMAT && strstr(err, "line 2"),
             "csv:PATH with a bad cell: %s", err);

    rc = curvo_data_open("mnist-fashion", &opt, &tr, &te, err);
    TU_CHECK(rc == CURVO_E_INVALID && strstr(err, "'mnist-fashion'") && strstr(err, "idx:DIR") &&
                 strstr(err, "csv:TRAIN,TEST"), "unknown source: %d %s", rc, err);
    TU_CHECK(curvo_data_open("idx:", &opt, &tr, &te, err) == CURVO_E_INVALID, "idx: without dir");

    opt.fashion_mnist_dir = "/nonexistent/fashion-mnist";
    rc = curvo_data_open("fashion-mnist", &opt, &tr, &te, err);
    TU_CHECK(rc == CURVO_E_IO && strstr(err, "apt-get install dataset-fashion-mnist") && !tr && !te,
             "fashion-mnist missing: %d %s", rc, err);

    /* the real thing, when installed */
    const char *fm = "/usr/share/datasets/fashion-mnist";
    FILE *probe = fopen("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "rb");
    if (!probe) {
        printf("note: %s is not installed; Fashion-MNIST check skipped\n", fm);
        return;
    }
    fclose(probe);
    double t0 = now();
    rc = curvo_data_open("fashion-mnist", NULL, &tr, &te, err);
    double t1 = now();
    TU_CHECK(rc == CURVO_OK, "fashion-mnist: %s", err);
    if (rc) return;
    printf("fashion-mnist: train %zu + test %zu loaded in %.3f s\n", curvo_dataset_count(tr),
           curvo_dataset_count(te), t1 - t0);
    int c, h, w;
    curvo_dataset_shape(tr, &c, &h, &w);
    TU_CHECK(curvo_dataset_count(tr) == 60000 && curvo_dataset_count(te) == 10000, "fashion counts");
    TU_CHECK(c == 1 && h == 28 && w == 28, "fashion shape %dx%dx%d", c, h, w);
    TU_CHECK(curvo_dataset_num_classes(tr) == 10 && curvo_dataset_num_classes(te) == 10, "fashion classes");
    int hist[2][10] = {{0}};
    const curvo_dataset *sets[2] = {tr, te};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < curvo_dataset_count(sets[s]); i++) hist[s][curvo_dataset_labels(sets[s])[i]]++;
    int balanced = 1;
    for (int j = 0; j < 10; j++) balanced &= hist[0][j] == 6000 && hist[1][j] == 1000;
    TU_CHECK(balanced, "fashion: 6000 train and 1000 test samples per class");
    double m = 0;
    const float *x = curvo_dataset_features(tr);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < 60000u * 784u; i++) {
        m += x[i];
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    m /= 60000.0 * 784.0;
    TU_CHECK(lo == 0.0f && hi == 1.0f && fabs(m - 0.2860) < 0.001, "fashion pixels in [%g, %g], mean %.4f",
             lo, hi, m);
    curvo_dataset_free(tr);
    curvo_dataset_free(te);
}

/* curvo_dataset_create: arrays copied value by value, labels or targets; each bad argument refused
 * with CURVO_E_INVALID, no dataset and a message naming it. */
static void from_arrays(void) {
    float x[6] = {0.5f, -1.0f, 2.0f, 3.0f, -4.0f, 0.25f}; /* (3, 2) */
    int32_t lab[3] = {1, 0, 2};
    float y[3] = {1.5f, -2.0f, 1e6f};
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d = NULL;
    int rc = curvo_dataset_create(3, 2, 1, 1, x, lab, NULL, 3, &d, err);
    TU_CHECK(rc == CURVO_OK && d, "labels: rc %d (%s)", rc, err);
    if (d) {
        int c, h, w;
        curvo_dataset_shape(d, &c, &h, &w);
        TU_CHECK(curvo_dataset_count(d) == 3 && c == 2 && h == 1 && w == 1 && curvo_dataset_num_classes(d) == 3,
                 "labels: shape or classes");
        TU_CHECK(!memcmp(curvo_dataset_features(d), x, sizeof x) && curvo_dataset_features(d) != x, "features copied");
        TU_CHECK(!memcmp(curvo_dataset_labels(d), lab, sizeof lab), "labels copied");
        TU_CHECK(curvo_dataset_targets(d)[0] == 1.0f && curvo_dataset_targets(d)[2] == 2.0f, "labels as targets");
        char task[128];
        curvo_dataset_task(d, task, sizeof task);
        TU_CHECK(!strcmp(task, "classification, 3 classes"), "task '%s'", task);
        curvo_dataset_free(d);
    }
    x[0] = 9.0f; /* the caller's arrays stay the caller's */
    rc = curvo_dataset_create(2, 1, 1, 3, x, NULL, y, 0, &d, err);
    TU_CHECK(rc == CURVO_OK && d, "targets: rc %d (%s)", rc, err);
    if (d) {
        TU_CHECK(curvo_dataset_num_classes(d) == 0 && !curvo_dataset_labels(d) &&
                     curvo_dataset_features_per_sample(d) == 3 && curvo_dataset_features(d)[0] == 9.0f,
                 "targets: a regression set of 2 x 3");
        TU_CHECK(curvo_dataset_targets(d)[0] == 1.5f && curvo_dataset_targets(d)[1] == -2.0f, "targets copied");
        TU_CHECK(curvo_dataset_standardize_target(d, NULL) == CURVO_OK, "the targets standardize");
        curvo_dataset_free(d);
    }
    float nan_x[6] = {0, 0, 0, NAN, 0, 0}, inf_y[3] = {0, INFINITY, 0};
    int32_t bad_lab[3] = {0, 3, 1}, neg_lab[3] = {0, -1, 1};
    struct {
        size_t n;
        int c, classes;
        const float *x, *y;
        const int32_t *lab;
        const char *msg;
    } bad[] = {
        {0, 2, 3, x, NULL, lab, "0 samples"},
        {3, 0, 3, x, NULL, lab, "each must be at least 1"},
        {3, 2, 3, NULL, NULL, lab, "no features"},
        {3, 2, 3, x, y, lab, "both given"},
        {3, 2, 0, x, NULL, NULL, "neither labels"},
        {3, 2, 0, x, NULL, lab, "need at least 1 class"},
        {3, 2, 2, x, y, NULL, "need 0 classes"},
        {3, 2, 3, x, NULL, bad_lab, "sample 1: label 3 is not in [0, 3)"},
        {3, 2, 3, x, NULL, neg_lab, "sample 1: label -1"},
        {3, 2, 3, nan_x, NULL, lab, "sample 1, feature 1: nan is not finite"},
        {3, 2, 0, x, inf_y, NULL, "sample 1: target inf is not finite"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        d = (curvo_dataset *)1;
        rc = curvo_dataset_create(bad[k].n, bad[k].c, 1, 1, bad[k].x, bad[k].lab, bad[k].y, bad[k].classes, &d, err);
        TU_CHECK(rc == CURVO_E_INVALID && d == NULL && strstr(err, bad[k].msg), "bad input %zu: rc %d, '%s' (want '%s')",
                 k, rc, err, bad[k].msg);
    }
    rc = curvo_dataset_create((size_t)1 << 62, 1024, 1024, 1024, x, lab, NULL, 3, &d, err);
    TU_CHECK(rc == CURVO_E_NOMEM && d == NULL && strstr(err, "out of memory"), "absurd size: rc %d, '%s'", rc, err);
    TU_CHECK(curvo_dataset_create(3, 2, 1, 1, x, lab, NULL, 3, NULL, err) == CURVO_E_INVALID, "NULL out");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/curvo-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    idx_good();
    idx_errors();
    csv_good();
    csv_errors();
    split();
    standardize();
    batcher();
    mutations();
    registry();
    task_rule();
    target_standardization();
    from_arrays();
    for (int i = 0; i < n_created; i++) {
        char p[256];
        if (snprintf(p, sizeof p, "%s/%s", tmpdir, created[i]) < (int)sizeof p) unlink(p);
    }
    if (rmdir(tmpdir)) fprintf(stderr, "note: could not remove %s\n", tmpdir);
    return tu_finish("test_data");
}
