/* registry.c — named data sources: "fashion-mnist", "idx:DIR", "cifar10:DIR", "csv:PATH",
 * "csv:TRAIN,TEST".
 * Both sets of a pair get the same number of classes (the larger of the two) and must have the same
 * sample shape; CSV features, and regression targets, are standardized with the training set's
 * statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_MNIST_HINT "install it with: apt-get install dataset-fashion-mnist"
#define SOURCE_FORMS "fashion-mnist, idx:DIR, cifar10:DIR, csv:PATH or csv:TRAIN,TEST"

void curvo_data_options_init(curvo_data_options *opt) {
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->target = "target";
    opt->test_fraction = 0.2;
    opt->seed = 1;
    opt->force_regression = 0;
    opt->force_classes = 0;
    opt->standardize_target = 1;
    opt->fashion_mnist_dir = FASHION_MNIST_DIR;
}

static int file_exists(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fclose(fp);
    return 1;
}

/* Sets path to DIR/BASE.gz or DIR/BASE, whichever exists (gzip first); 0 if neither does. */
static int find_idx(const char *dir, const char *base, char *path, size_t len) {
    const char *sep = (dir[0] && dir[strlen(dir) - 1] == '/') ? "" : "/";
    snprintf(path, len, "%s%s%s.gz", dir, sep, base);
    if (file_exists(path)) return 1;
    snprintf(path, len, "%s%s%s", dir, sep, base);
    return file_exists(path);
}

/* Gives both sets the larger class count; 0 if either is a regression set (both then say why). */
static void same_classes(curvo_dataset *a, curvo_dataset *b) {
    if (!a->labels || !b->labels) {
        if (a->labels) memcpy(a->task_note, b->task_note, sizeof a->task_note);
        if (b->labels) memcpy(b->task_note, a->task_note, sizeof b->task_note);
        data_dataset_to_regression(a);
        data_dataset_to_regression(b);
        return;
    }
    int k = a->num_classes > b->num_classes ? a->num_classes : b->num_classes;
    a->num_classes = b->num_classes = k;
}

static int open_idx_dir(const char *dir, int fashion, curvo_dataset **train, curvo_dataset **test,
                        char *errmsg) {
    static const char *const base[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    char path[4][1024];
    for (int i = 0; i < 4; i++) {
        if (strlen(dir) + strlen(base[i]) + 5 > sizeof path[i]) {
            data_seterr(errmsg, "%s: directory name too long", dir);
            return CURVO_E_INVALID;
        }
        if (!find_idx(dir, base[i], path[i], sizeof path[i])) {
            if (fashion)
                data_seterr(errmsg, "fashion-mnist: %s/%s.gz not found; " FASHION_MNIST_HINT, dir,
                            base[i]);
            else
                data_seterr(errmsg, "idx:%s: neither %s.gz nor %s found there", dir, base[i], base[i]);
            return CURVO_E_IO;
        }
    }
    int rc = curvo_idx_load(path[0], path[1], train, errmsg);
    if (rc) return rc;
    rc = curvo_idx_load(path[2], path[3], test, errmsg);
    if (rc) {
        curvo_dataset_free(*train);
        *train = NULL;
        return rc;
    }
    if ((*train)->c != (*test)->c || (*train)->h != (*test)->h || (*train)->w != (*test)->w) {
        data_seterr(errmsg, "%s: test images are %dx%dx%d, training images %dx%dx%d", dir,
                    (*test)->c, (*test)->h, (*test)->w, (*train)->c, (*train)->h, (*train)->w);
        curvo_dataset_free(*train);
        curvo_dataset_free(*test);
        *train = *test = NULL;
        return CURVO_E_FORMAT;
    }
    same_classes(*train, *test);
    return CURVO_OK;
}

static int csv_task(const curvo_data_options *opt) {
    return opt->force_regression ? CURVO_TASK_REGRESSION
           : opt->force_classes  ? CURVO_TASK_CLASSIFICATION
                                 : CURVO_TASK_AUTO;
}

/* csv:TRAIN,TEST — the test file must have the training file's feature columns, in order. */
static int open_csv_pair(const char *trainp, const char *testp, const curvo_data_options *opt,
                         curvo_dataset **train, curvo_dataset **test, char *errmsg) {
    int rc = curvo_csv_load(trainp, opt->target, csv_task(opt), train, errmsg);
    if (rc) return rc;
    rc = curvo_csv_load(testp, opt->target, csv_task(opt), test, errmsg);
    if (rc) goto fail;
    const curvo_dataset *a = *train, *b = *test;
    if (a->d != b->d) {
        data_seterr(errmsg, "%s: %zu feature columns, the training file %s has %zu", testp, b->d,
                    trainp, a->d);
        rc = CURVO_E_FORMAT;
        goto fail;
    }
    for (size_t j = 0; j < a->d; j++)
        if (strcmp(a->names[j], b->names[j])) {
            data_seterr(errmsg, "%s: feature %zu is '%s', in the training file it is '%s'", testp,
                        j + 1, b->names[j], a->names[j]);
            rc = CURVO_E_FORMAT;
            goto fail;
        }
    same_classes(*train, *test);
    return CURVO_OK;
fail:
    curvo_dataset_free(*train);
    curvo_dataset_free(*test);
    *train = *test = NULL;
    return rc;
}

int data_source_files(const char *source, const curvo_data_options *opt, char paths[DATA_MAX_FILES][1024],
                      int *count, char *errmsg) {
    static const char *const base[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    int fashion = !strcmp(source, "fashion-mnist");
    *count = 0;
    if (!strncmp(source, "cifar10:", 8)) {
        int rc = data_cifar10_files(source + 8, paths, errmsg);
        if (!rc) *count = DATA_CIFAR10_FILES;
        return rc;
    }
    if (fashion || !strncmp(source, "idx:", 4)) {
        const char *dir = fashion ? (opt && opt->fashion_mnist_dir ? opt->fashion_mnist_dir : FASHION_MNIST_DIR)
                                  : source + 4;
        for (int i = 0; i < 4; i++)
            if (strlen(dir) + strlen(base[i]) + 5 > 1024 || !find_idx(dir, base[i], paths[i], 1024)) {
                data_seterr(errmsg, "%s: %s not found", source, base[i]);
                return CURVO_E_IO;
            }
        *count = 4;
        return CURVO_OK;
    }
    const char *spec = source + 4, *comma = strchr(spec, ',');
    if (strncmp(source, "csv:", 4) || !spec[0] || strlen(spec) >= 1024 || comma == spec || (comma && !comma[1])) {
        data_seterr(errmsg, "unknown data source '%s'; expected " SOURCE_FORMS, source);
        return CURVO_E_INVALID;
    }
    snprintf(paths[0], 1024, "%.*s", comma ? (int)(comma - spec) : (int)strlen(spec), spec);
    if (comma) snprintf(paths[1], 1024, "%s", comma + 1);
    *count = comma ? 2 : 1;
    return CURVO_OK;
}

int curvo_data_open(const char *source, const curvo_data_options *opt, curvo_dataset **train,
                    curvo_dataset **test, char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (train) *train = NULL;
    if (test) *test = NULL;
    if (!source || !train || !test) {
        data_seterr(errmsg, "data: NULL argument");
        return CURVO_E_INVALID;
    }
    curvo_data_options defaults;
    curvo_data_options_init(&defaults);
    if (!opt) opt = &defaults;

    if (!strcmp(source, "fashion-mnist")) {
        const char *dir = opt->fashion_mnist_dir ? opt->fashion_mnist_dir : FASHION_MNIST_DIR;
        return open_idx_dir(dir, 1, train, test, errmsg);
    }
    if (!strncmp(source, "idx:", 4)) {
        if (!source[4]) {
            data_seterr(errmsg, "idx: needs a directory: idx:DIR");
            return CURVO_E_INVALID;
        }
        return open_idx_dir(source + 4, 0, train, test, errmsg);
    }
    if (!strncmp(source, "cifar10:", 8)) return data_cifar10_open(source + 8, train, test, errmsg);
    if (!strncmp(source, "csv:", 4)) {
        const char *spec = source + 4, *comma = strchr(spec, ',');
        int rc;
        if (opt->force_regression && opt->force_classes) {
            data_seterr(errmsg, "a target cannot be both a real value and class labels (regression or classes, not both)");
            return CURVO_E_INVALID;
        }
        if (!spec[0] || comma == spec || (comma && !comma[1])) {
            data_seterr(errmsg, "'%s': expected csv:PATH or csv:TRAIN,TEST", source);
            return CURVO_E_INVALID;
        }
        if (comma) {
            size_t n = (size_t)(comma - spec);
            char *trainp = malloc(n + 1);
            if (!trainp) {
                data_seterr(errmsg, "data: out of memory");
                return CURVO_E_NOMEM;
            }
            memcpy(trainp, spec, n);
            trainp[n] = '\0';
            rc = open_csv_pair(trainp, comma + 1, opt, train, test, errmsg);
            free(trainp);
            if (rc) return rc;
        } else {
            curvo_dataset *all;
            rc = curvo_csv_load(spec, opt->target, csv_task(opt), &all, errmsg);
            if (rc) return rc;
            char sub[CURVO_ERRMSG_LEN];
            rc = curvo_dataset_split(all, opt->test_fraction, opt->seed, train, test, sub);
            curvo_dataset_free(all);
            if (rc) {
                data_seterr(errmsg, "%s: %s", spec, sub);
                return rc;
            }
        }
        if (opt->standardization) {
            rc = curvo_dataset_apply_standardization(*train, opt->standardization);
            if (!rc && *test) rc = curvo_dataset_apply_standardization(*test, opt->standardization);
        } else {
            rc = curvo_dataset_standardize(*train, *test);
            if (!rc && !(*train)->labels && opt->standardize_target)
                rc = curvo_dataset_standardize_target(*train, *test);
        }
        if (rc) {
            if (opt->standardization && rc == CURVO_E_SHAPE)
                data_seterr(errmsg, "%s: %zu feature columns, the training data (its recorded standardization) had %zu", spec,
                            (*train)->d, opt->standardization->features);
            else
                data_seterr(errmsg, "%s: standardizing the data failed (%s)", spec, curvo_strerror(rc));
            curvo_dataset_free(*train);
            curvo_dataset_free(*test);
            *train = *test = NULL;
        }
        return rc;
    }
    data_seterr(errmsg, "unknown data source '%s'; expected " SOURCE_FORMS, source);
    return CURVO_E_INVALID;
}
