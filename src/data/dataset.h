/* dataset.h — the dataset's internals, shared by the readers (idx.c, csv.c), the registry and the
 * batcher, plus the small helpers they have in common (error messages, allocation). */
#ifndef CURVO_DATA_DATASET_H
#define CURVO_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "curvo.h"

struct curvo_dataset {
    size_t n;            /* samples, >= 1 */
    int c, h, w;         /* shape of one sample */
    size_t d;            /* features per sample, c*h*w */
    int num_classes;     /* 0 for regression */
    float *x;            /* (n, d) */
    int32_t *labels;     /* (n), NULL for regression */
    float *targets;      /* (n) */
    char **names;        /* (d) feature names of a CSV dataset, NULL otherwise */
    double *feat_mean, *feat_std; /* (d) the standardization applied to x, NULL when none */
    int target_standardized;      /* targets hold (y - target_mean) / target_std */
    double target_mean, target_std;
    char task_note[160];          /* why the reader chose the task ("" if it had no choice) */
};

/* Writes a printf-style message into errmsg (CURVO_ERRMSG_LEN bytes) if it is not NULL: curvo_errf
 * (core/errmsg.h) under the name the data readers use. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void data_seterr(char *errmsg, const char *fmt, ...);

/* A dataset of n samples of shape (c, h, w) with x, targets and (if classification) labels
 * allocated but not filled; names NULL, num_classes 0. n * c*h*w is checked for overflow. */
int data_dataset_alloc(size_t n, int c, int h, int w, int classification, curvo_dataset **out);

/* Turns a classification dataset into a regression one (targets kept, labels dropped). */
void data_dataset_to_regression(curvo_dataset *d);

/* Copies the feature names of src into dst (dst->names must be NULL; src->names may be NULL). */
int data_dataset_copy_names(curvo_dataset *dst, const curvo_dataset *src);

/* Copies the standardization record of src into dst (dst's must be empty). */
int data_dataset_copy_standardization(curvo_dataset *dst, const curvo_dataset *src);

#define DATA_MAX_FILES 6     /* files a named source reads, at most (cifar10:DIR) */
#define DATA_CIFAR10_FILES 6 /* data_batch_1.bin .. data_batch_5.bin, test_batch.bin */

/* The files a named source reads (registry.c), in order: the CSV file or pair, the four IDX files
 * as found (.gz first), or the six CIFAR-10 batches. CURVO_E_IO if an IDX or CIFAR-10 file is
 * missing, CURVO_E_INVALID for an unknown form. */
int data_source_files(const char *source, const curvo_data_options *opt, char paths[DATA_MAX_FILES][1024],
                      int *count, char *errmsg);

/* The six files of "cifar10:DIR" (cifar.c), in order: DIR/data_batch_1.bin .. data_batch_5.bin, then
 * DIR/test_batch.bin. CURVO_E_IO naming the directory or the first missing file. */
int data_cifar10_files(const char *dir, char paths[DATA_MAX_FILES][1024], char *errmsg);

/* "cifar10:DIR" (cifar.c): the five training batches are *train, test_batch.bin *test. All six
 * files are checked (present, sizes) before either set is allocated. */
int data_cifar10_open(const char *dir, curvo_dataset **train, curvo_dataset **test, char *errmsg);

#endif
