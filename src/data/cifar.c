/* cifar.c — CIFAR-10 reader, binary version (cifar-10-binary.tar.gz): batch files of records of
 * 3073 bytes, a label byte (0 to 9) then 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each
 * plane 32 x 32 row-major. The pixels are therefore already in the (c, h, w) order a sample has.
 *
 * Every file is checked before any buffer of data size is allocated: a regular file, not empty, a
 * whole number of records (the official files hold 10000; any whole number is accepted so that
 * small generated files work), at most CIFAR_MAX_RECORDS in all. Labels are checked as the records
 * are read. Images become floats in [0, 1] (byte / 255, as the IDX reader does; no per-channel
 * standardization); labels int32; num_classes is always 10.
 *
 * Also here: the six files "cifar10:DIR" stands for (data_batch_1.bin .. data_batch_5.bin,
 * test_batch.bin), for the registry and the fingerprint, and the source itself. */
#define _POSIX_C_SOURCE 200809L /* stat */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)   /* 3072 bytes: (3, 32, 32) */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)              /* 3073 bytes: label, pixels */
#define CIFAR_CLASSES 10
#define CIFAR_MAX_RECORDS ((unsigned long long)2000000) /* all files together: 24 GiB of floats */
#define CIFAR_CHUNK 256                               /* records read per fread */

/* Checks one file (see the top of the file) and sets *records. */
static int check_file(const char *path, unsigned long long *records, char *errmsg) {
    struct stat st;
    if (stat(path, &st) != 0) {
        data_seterr(errmsg, "%s: cannot open: %s", path, strerror(errno));
        return CURVO_E_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        data_seterr(errmsg, "%s: not a regular file", path);
        return CURVO_E_IO;
    }
    unsigned long long size = (unsigned long long)st.st_size;
    if (size == 0) {
        data_seterr(errmsg, "%s: empty file (a CIFAR-10 batch holds records of %d bytes: a label and %d pixels)",
                    path, CIFAR_RECORD, CIFAR_PIXELS);
        return CURVO_E_FORMAT;
    }
    if (size % CIFAR_RECORD) {
        data_seterr(errmsg,
                    "%s: truncated or not a CIFAR-10 binary batch: %llu bytes is not a whole number of "
                    "%d-byte records (%llu records and %llu bytes)",
                    path, size, CIFAR_RECORD, size / CIFAR_RECORD, size % CIFAR_RECORD);
        return CURVO_E_FORMAT;
    }
    *records = size / CIFAR_RECORD;
    return CURVO_OK;
}

/* Reads the records of one checked file into ds from sample first on; buf holds CIFAR_CHUNK records. */
static int read_file(const char *path, size_t records, curvo_dataset *ds, size_t first, unsigned char *buf,
                     const float *scale, char *errmsg) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        data_seterr(errmsg, "%s: cannot open: %s", path, strerror(errno));
        return CURVO_E_IO;
    }
    int rc = CURVO_OK;
    for (size_t done = 0; done < records && rc == CURVO_OK;) {
        size_t want = records - done < CIFAR_CHUNK ? records - done : CIFAR_CHUNK;
        size_t got = fread(buf, CIFAR_RECORD, want, fp);
        if (got < want) {
            if (ferror(fp))
                data_seterr(errmsg, "%s: read error: %s", path, strerror(errno));
            else
                data_seterr(errmsg, "%s: truncated while reading: %zu of %zu records (did the file change?)",
                            path, done + got, records);
            rc = ferror(fp) ? CURVO_E_IO : CURVO_E_FORMAT;
            break;
        }
        for (size_t r = 0; r < got; r++) {
            const unsigned char *rec = buf + r * CIFAR_RECORD;
            size_t i = first + done + r;
            if (rec[0] >= CIFAR_CLASSES) {
                data_seterr(errmsg, "%s: record %zu (byte %llu) has label %u; CIFAR-10 labels are 0 to 9", path,
                            done + r + 1, (unsigned long long)(done + r) * CIFAR_RECORD, (unsigned)rec[0]);
                rc = CURVO_E_FORMAT;
                break;
            }
            ds->labels[i] = rec[0];
            ds->targets[i] = (float)rec[0];
            float *x = ds->x + i * CIFAR_PIXELS; /* (3, 32, 32), as stored */
            for (int j = 0; j < CIFAR_PIXELS; j++) x[j] = scale[rec[1 + j]];
        }
        done += got;
    }
    fclose(fp);
    return rc;
}

int curvo_cifar10_load(const char *const *paths, int count, curvo_dataset **out, char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (out) *out = NULL;
    if (!paths || count < 1 || !out) {
        data_seterr(errmsg, "cifar10: NULL argument or no file");
        return CURVO_E_INVALID;
    }
    for (int k = 0; k < count; k++)
        if (!paths[k]) {
            data_seterr(errmsg, "cifar10: file %d is NULL", k + 1);
            return CURVO_E_INVALID;
        }
    size_t *records = malloc((size_t)count * sizeof *records); /* (count) records per file */
    if (!records) {
        data_seterr(errmsg, "cifar10: out of memory");
        return CURVO_E_NOMEM;
    }
    unsigned long long total = 0;
    int rc = CURVO_OK;
    for (int k = 0; k < count && rc == CURVO_OK; k++) {
        unsigned long long r;
        if ((rc = check_file(paths[k], &r, errmsg))) break;
        records[k] = (size_t)r;
        total += r;
        if (total > CIFAR_MAX_RECORDS) {
            data_seterr(errmsg, "%s: more than %llu records in all (CIFAR-10 has 60000)", paths[k],
                        CIFAR_MAX_RECORDS);
            rc = CURVO_E_FORMAT;
        }
    }
    curvo_dataset *ds = NULL;
    unsigned char *buf = NULL; /* (CIFAR_CHUNK, CIFAR_RECORD) */
    if (rc) goto done;
    if (data_dataset_alloc((size_t)total, 3, CIFAR_SIDE, CIFAR_SIDE, 1, &ds) ||
        !(buf = malloc((size_t)CIFAR_CHUNK * CIFAR_RECORD))) {
        data_seterr(errmsg, "%s: out of memory for %llu images", paths[0], total);
        rc = CURVO_E_NOMEM;
        goto done;
    }
    float scale[256];
    for (int v = 0; v < 256; v++) scale[v] = (float)v / 255.0f;
    size_t first = 0;
    for (int k = 0; k < count && rc == CURVO_OK; k++) {
        rc = read_file(paths[k], records[k], ds, first, buf, scale, errmsg);
        first += records[k];
    }
    if (rc) goto done;
    ds->num_classes = CIFAR_CLASSES;
    *out = ds;
    ds = NULL;
done:
    free(records);
    free(buf);
    curvo_dataset_free(ds);
    return rc;
}

int data_cifar10_files(const char *dir, char paths[DATA_MAX_FILES][1024], char *errmsg) {
    static const char *const base[DATA_CIFAR10_FILES] = {"data_batch_1.bin", "data_batch_2.bin",
                                                         "data_batch_3.bin", "data_batch_4.bin",
                                                         "data_batch_5.bin", "test_batch.bin"};
    if (!dir[0]) {
        data_seterr(errmsg, "cifar10: needs a directory: cifar10:DIR");
        return CURVO_E_INVALID;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        data_seterr(errmsg, "cifar10:%s: cannot open the directory: %s", dir, strerror(errno));
        return CURVO_E_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        data_seterr(errmsg, "cifar10:%s: not a directory (DIR must hold data_batch_1.bin to data_batch_5.bin "
                    "and test_batch.bin)", dir);
        return CURVO_E_IO;
    }
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    for (int i = 0; i < DATA_CIFAR10_FILES; i++) {
        if (strlen(dir) + strlen(base[i]) + 2 > 1024) {
            data_seterr(errmsg, "cifar10:%s: directory name too long", dir);
            return CURVO_E_INVALID;
        }
        snprintf(paths[i], 1024, "%s%s%s", dir, sep, base[i]);
        if (stat(paths[i], &st) == 0) continue;
        char inner[1024 + 32];
        snprintf(inner, sizeof inner, "%s%scifar-10-batches-bin/%s", dir, sep, base[i]);
        if (stat(inner, &st) == 0)
            data_seterr(errmsg, "cifar10:%s: %s not found there, but in its cifar-10-batches-bin: give "
                        "cifar10:%s%scifar-10-batches-bin", dir, base[i], dir, sep);
        else
            data_seterr(errmsg, "cifar10:%s: %s not found there (DIR must hold data_batch_1.bin to data_batch_5.bin "
                        "and test_batch.bin, as unpacked from cifar-10-binary.tar.gz)", dir, base[i]);
        return CURVO_E_IO;
    }
    return CURVO_OK;
}

int data_cifar10_open(const char *dir, curvo_dataset **train, curvo_dataset **test, char *errmsg) {
    char paths[DATA_MAX_FILES][1024];
    int rc = data_cifar10_files(dir, paths, errmsg);
    for (int k = 0; k < DATA_CIFAR10_FILES && !rc; k++) { /* all sizes before either set is allocated */
        unsigned long long records;
        rc = check_file(paths[k], &records, errmsg);
    }
    if (rc) return rc;
    const char *train_paths[DATA_CIFAR10_FILES - 1], *test_path = paths[DATA_CIFAR10_FILES - 1];
    for (int k = 0; k < DATA_CIFAR10_FILES - 1; k++) train_paths[k] = paths[k];
    if ((rc = curvo_cifar10_load(train_paths, DATA_CIFAR10_FILES - 1, train, errmsg))) return rc;
    if ((rc = curvo_cifar10_load(&test_path, 1, test, errmsg))) {
        curvo_dataset_free(*train);
        *train = NULL;
    }
    return rc;
}
