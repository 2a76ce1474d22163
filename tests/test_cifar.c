/* test_cifar.c — the CIFAR-10 reader (curvo_cifar10_load) and the "cifar10:DIR" source on small
 * batch files written to a temporary directory: every label and pixel read back at the place the
 * format puts it (channels first: 1024 red, 1024 green, 1024 blue bytes, each 32 x 32 row-major)
 * and scaled by 1/255; several files concatenated in order; the registry's train/test sets and
 * fingerprint (which changes with one byte of the data); and every malformed input (empty,
 * truncated, a label above 9, a missing file or directory, a directory for a file) failing with the
 * right code, no dataset, and a message naming the file. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir, unlink */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curvo.h"
#include "testutil.h"

#define RECORD 3073
#define PIXELS 3072

static char tmpdir[64];

static const char *path_of(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* The byte of sample i (over all files), channel c, row y, column x: differs between channels,
 * rows, columns and samples, so a transposed or shifted read cannot match. */
static unsigned char pixel(size_t i, int c, int y, int x) {
    return (unsigned char)((i * 31 + (size_t)c * 101 + (size_t)y * 7 + (size_t)x * 3) % 256);
}
static unsigned char label_of(size_t i) { return (unsigned char)((i * 7 + 3) % 10); }

/* Writes n records for samples first .. first + n - 1, plus extra bytes of garbage. */
static void write_batch(const char *name, size_t first, size_t n, size_t extra) {
    FILE *fp = fopen(path_of(name), "wb");
    TU_CHECK(fp != NULL, "cannot create %s", name);
    if (!fp) return;
    unsigned char rec[RECORD];
    for (size_t i = first; i < first + n; i++) {
        rec[0] = label_of(i);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = pixel(i, c, y, x);
        TU_CHECK(fwrite(rec, 1, RECORD, fp) == RECORD, "short write %s", name);
    }
    for (size_t k = 0; k < extra; k++) fputc(0, fp);
    fclose(fp);
}

/* Checks d against samples first .. first + n - 1 of the pattern. */
static void check_samples(const char *what, const curvo_dataset *d, size_t first, size_t n) {
    TU_CHECK(curvo_dataset_count(d) == n, "%s: %zu samples, expected %zu", what, curvo_dataset_count(d), n);
    int c, h, w;
    curvo_dataset_shape(d, &c, &h, &w);
    TU_CHECK(c == 3 && h == 32 && w == 32, "%s: shape %dx%dx%d", what, c, h, w);
    TU_CHECK(curvo_dataset_num_classes(d) == 10, "%s: %d classes", what, curvo_dataset_num_classes(d));
    if (curvo_dataset_count(d) != n || c != 3 || h != 32 || w != 32) return;
    const float *xs = curvo_dataset_features(d);
    const int32_t *labels = curvo_dataset_labels(d);
    const float *targets = curvo_dataset_targets(d);
    int bad_label = 0, bad_pixel = 0;
    for (size_t s = 0; s < n; s++) {
        size_t i = first + s;
        if (labels[s] != label_of(i) || targets[s] != (float)label_of(i)) bad_label++;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    float got = xs[s * PIXELS + (size_t)ch * 1024 + (size_t)y * 32 + (size_t)x]; /* (3, 32, 32) */
                    if (fabsf(got - pixel(i, ch, y, x) / 255.0f) > 1e-7f) bad_pixel++;
                }
    }
    TU_CHECK(bad_label == 0, "%s: %d wrong labels", what, bad_label);
    TU_CHECK(bad_pixel == 0, "%s: %d wrong pixels", what, bad_pixel);
    /* scaling: the extremes of [0, 255] map to [0, 1] */
    float lo = 1, hi = 0;
    for (size_t k = 0; k < n * PIXELS; k++) {
        if (xs[k] < lo) lo = xs[k];
        if (xs[k] > hi) hi = xs[k];
    }
    TU_CHECK(lo == 0.0f && hi == 1.0f, "%s: pixels in [%g, %g], expected [0, 1]", what, lo, hi);
}

static void good_files(void) {
    write_batch("a.bin", 0, 5, 0);
    write_batch("b.bin", 5, 3, 0);
    const char *one[1] = {path_of("a.bin")};
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d = NULL;
    int rc = curvo_cifar10_load(one, 1, &d, err);
    TU_CHECK(rc == CURVO_OK, "one file: %d %s", rc, err);
    if (d) check_samples("one file", d, 0, 5);
    curvo_dataset_free(d);
    const char *two[2] = {path_of("a.bin"), path_of("b.bin")};
    d = NULL;
    rc = curvo_cifar10_load(two, 2, &d, err);
    TU_CHECK(rc == CURVO_OK, "two files: %d %s", rc, err);
    if (d) check_samples("two files in order", d, 0, 8);
    char task[128];
    if (d) curvo_dataset_task(d, task, sizeof task);
    TU_CHECK(d && strstr(task, "classification, 10 classes"), "task: %s", d ? task : "(none)");
    curvo_dataset_free(d);
    unlink(path_of("a.bin"));
    unlink(path_of("b.bin"));
}

/* One bad file among good ones must fail with code, no dataset and a message holding want and the
 * file's name. */
static void bad_file(const char *what, const char *name, int code, const char *want) {
    write_batch("good.bin", 0, 2, 0);
    const char *paths[2] = {path_of("good.bin"), path_of(name)};
    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d = (curvo_dataset *)&err; /* must be reset to NULL */
    int rc = curvo_cifar10_load(paths, 2, &d, err);
    TU_CHECK(rc == code, "%s: code %d, expected %d (%s)", what, rc, code, err);
    TU_CHECK(d == NULL, "%s: a dataset was returned", what);
    TU_CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
    TU_CHECK(strstr(err, name) != NULL, "%s: message '%s' does not name %s", what, err, name);
    TU_CHECK(strchr(err, '\n') == NULL, "%s: message has several lines", what);
    unlink(path_of(name));
    unlink(path_of("good.bin"));
}

static void bad_files(void) {
    write_batch("empty.bin", 0, 0, 0);
    bad_file("empty file", "empty.bin", CURVO_E_FORMAT, "empty file");
    write_batch("short.bin", 0, 0, 100);
    bad_file("less than one record", "short.bin", CURVO_E_FORMAT, "not a whole number of 3073-byte records");
    write_batch("trunc.bin", 0, 3, 0);
    TU_CHECK(truncate(path_of("trunc.bin"), 3 * RECORD - 1) == 0, "truncate");
    bad_file("truncated record", "trunc.bin", CURVO_E_FORMAT, "truncated");
    write_batch("extra.bin", 0, 2, 5);
    bad_file("extra bytes", "extra.bin", CURVO_E_FORMAT, "(2 records and 5 bytes)");
    write_batch("label.bin", 0, 4, 0);
    {
        FILE *fp = fopen(path_of("label.bin"), "r+b");
        TU_CHECK(fp != NULL, "reopen label.bin");
        if (fp) {
            fseek(fp, 2 * RECORD, SEEK_SET);
            fputc(10, fp);
            fclose(fp);
        }
    }
    bad_file("label 10", "label.bin", CURVO_E_FORMAT, "record 3 (byte 6146) has label 10");
    bad_file("missing file", "nope.bin", CURVO_E_IO, "No such file");
    TU_CHECK(mkdir(path_of("dir.bin"), 0700) == 0, "mkdir dir.bin");
    bad_file("a directory", "dir.bin", CURVO_E_IO, "not a regular file");
    rmdir(path_of("dir.bin"));

    char err[CURVO_ERRMSG_LEN];
    curvo_dataset *d = NULL;
    TU_CHECK(curvo_cifar10_load(NULL, 1, &d, err) == CURVO_E_INVALID, "NULL paths");
    const char *none[1] = {NULL};
    TU_CHECK(curvo_cifar10_load(none, 1, &d, err) == CURVO_E_INVALID, "NULL path");
    TU_CHECK(curvo_cifar10_load(none, 0, &d, err) == CURVO_E_INVALID, "no files");
}

static const char *const batches[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                       "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

/* The source "cifar10:DIR" on a folder of six batches of 4 records (test: 3). */
static void source(void) {
    for (int k = 0; k < 5; k++) write_batch(batches[k], (size_t)k * 4, 4, 0);
    write_batch(batches[5], 100, 3, 0);
    char src[256], err[CURVO_ERRMSG_LEN];
    snprintf(src, sizeof src, "cifar10:%s", tmpdir);
    curvo_dataset *train = NULL, *test = NULL;
    int rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_OK, "%s: %d %s", src, rc, err);
    if (train) check_samples("source train", train, 0, 20);
    if (test) check_samples("source test", test, 100, 3);
    curvo_dataset_free(train);
    curvo_dataset_free(test);

    uint32_t crc1, crc2;
    uint64_t bytes1, bytes2;
    rc = curvo_data_fingerprint(src, NULL, &crc1, &bytes1, err);
    TU_CHECK(rc == CURVO_OK, "fingerprint: %s", err);
    TU_CHECK(bytes1 == 23 * RECORD, "fingerprint: %llu bytes, expected %d", (unsigned long long)bytes1, 23 * RECORD);
    FILE *fp = fopen(path_of(batches[5]), "r+b");
    if (fp) {
        fseek(fp, RECORD + 7, SEEK_SET);
        fputc(pixel(101, 0, 0, 6) ^ 1, fp);
        fclose(fp);
    }
    rc = curvo_data_fingerprint(src, NULL, &crc2, &bytes2, err);
    TU_CHECK(rc == CURVO_OK && bytes2 == bytes1 && crc2 != crc1, "fingerprint after one changed byte: %08x %08x",
             (unsigned)crc1, (unsigned)crc2);

    /* a missing test batch is named, by the source and the fingerprint */
    unlink(path_of(batches[5]));
    rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_IO && train == NULL && test == NULL, "missing test batch: %d", rc);
    TU_CHECK(strstr(err, "test_batch.bin not found") != NULL, "missing test batch: '%s'", err);
    rc = curvo_data_fingerprint(src, NULL, &crc2, &bytes2, err);
    TU_CHECK(rc == CURVO_E_IO && strstr(err, "test_batch.bin"), "fingerprint, missing test batch: %d '%s'", rc, err);

    /* a bad training batch fails the whole source, naming it */
    write_batch(batches[5], 100, 3, 0);
    write_batch(batches[2], 8, 4, 1);
    rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_FORMAT && train == NULL && test == NULL && strstr(err, "data_batch_3.bin"),
             "bad batch 3: %d '%s'", rc, err);

    /* the archive's own folder one level down gets a hint */
    char inner[128];
    snprintf(inner, sizeof inner, "%s/cifar-10-batches-bin", tmpdir);
    TU_CHECK(mkdir(inner, 0700) == 0, "mkdir %s", inner);
    for (int k = 0; k < 6; k++) {
        char moved[192];
        snprintf(moved, sizeof moved, "%s/%s", inner, batches[k]);
        TU_CHECK(rename(path_of(batches[k]), moved) == 0, "move %s", batches[k]);
    }
    snprintf(src, sizeof src, "cifar10:%s", tmpdir);
    rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_IO && strstr(err, "give cifar10:") && strstr(err, "cifar-10-batches-bin"),
             "folder one level down: %d '%s'", rc, err);
    for (int k = 0; k < 6; k++) {
        snprintf(src, sizeof src, "%s/%s", inner, batches[k]);
        unlink(src);
    }
    rmdir(inner);

    /* the directory itself */
    snprintf(src, sizeof src, "cifar10:%s/none", tmpdir);
    rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_IO && strstr(err, "none") && strstr(err, "No such file"), "missing dir: %d '%s'", rc, err);
    write_batch("plain", 0, 1, 0);
    snprintf(src, sizeof src, "cifar10:%s/plain", tmpdir);
    rc = curvo_data_open(src, NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_IO && strstr(err, "not a directory"), "a file for the dir: %d '%s'", rc, err);
    unlink(path_of("plain"));
    rc = curvo_data_open("cifar10:", NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_INVALID && strstr(err, "cifar10:DIR"), "no dir: %d '%s'", rc, err);
    rc = curvo_data_open("cifar:x", NULL, &train, &test, err);
    TU_CHECK(rc == CURVO_E_INVALID && strstr(err, "cifar10:DIR"), "unknown source lists cifar10:DIR: '%s'", err);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/curvo_cifar_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    good_files();
    bad_files();
    source();
    if (rmdir(tmpdir) != 0) perror("rmdir (files left behind)");
    return tu_finish("test_cifar");
}
