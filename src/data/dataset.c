/* dataset.c — the in-memory dataset: allocation, the public constructor from arrays
 * (curvo_dataset_create), accessors, the seeded train/test split and per-feature and target
 * standardization (statistics in double, two passes). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "data/dataset.h"

void data_seterr(char *errmsg, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    curvo_verrf(errmsg, fmt, ap);
    va_end(ap);
}

int data_dataset_alloc(size_t n, int c, int h, int w, int classification, curvo_dataset **out) {
    *out = NULL;
    if (n < 1 || c < 1 || h < 1 || w < 1) return CURVO_E_INVALID;
    size_t d = (size_t)c * (size_t)h;
    if (d / (size_t)h != (size_t)c) return CURVO_E_NOMEM;
    size_t dw = d * (size_t)w;
    if (dw / (size_t)w != d) return CURVO_E_NOMEM;
    d = dw;
    if (n > SIZE_MAX / sizeof(float) / d) return CURVO_E_NOMEM;
    curvo_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return CURVO_E_NOMEM;
    ds->n = n;
    ds->c = c, ds->h = h, ds->w = w;
    ds->d = d;
    ds->x = malloc(n * d * sizeof *ds->x);
    ds->targets = malloc(n * sizeof *ds->targets);
    if (classification) ds->labels = malloc(n * sizeof *ds->labels);
    if (!ds->x || !ds->targets || (classification && !ds->labels)) {
        curvo_dataset_free(ds);
        return CURVO_E_NOMEM;
    }
    *out = ds;
    return CURVO_OK;
}

void data_dataset_to_regression(curvo_dataset *d) {
    free(d->labels);
    d->labels = NULL;
    d->num_classes = 0;
}

int data_dataset_copy_names(curvo_dataset *dst, const curvo_dataset *src) {
    if (!src->names) return CURVO_OK;
    dst->names = calloc(src->d, sizeof *dst->names);
    if (!dst->names) return CURVO_E_NOMEM;
    for (size_t j = 0; j < src->d; j++) {
        size_t len = strlen(src->names[j]) + 1;
        dst->names[j] = malloc(len);
        if (!dst->names[j]) return CURVO_E_NOMEM; /* the caller frees dst */
        memcpy(dst->names[j], src->names[j], len);
    }
    return CURVO_OK;
}

int data_dataset_copy_standardization(curvo_dataset *dst, const curvo_dataset *src) {
    dst->target_standardized = src->target_standardized;
    dst->target_mean = src->target_mean;
    dst->target_std = src->target_std;
    if (!src->feat_mean) return CURVO_OK;
    dst->feat_mean = malloc(src->d * sizeof *dst->feat_mean);
    dst->feat_std = malloc(src->d * sizeof *dst->feat_std);
    if (!dst->feat_mean || !dst->feat_std) return CURVO_E_NOMEM; /* the caller frees dst */
    memcpy(dst->feat_mean, src->feat_mean, src->d * sizeof *dst->feat_mean);
    memcpy(dst->feat_std, src->feat_std, src->d * sizeof *dst->feat_std);
    return CURVO_OK;
}

int curvo_dataset_create(size_t n, int channels, int height, int width, const float *x, const int32_t *labels,
                         const float *targets, int num_classes, curvo_dataset **out, char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (!out) {
        data_seterr(errmsg, "dataset: NULL output");
        return CURVO_E_INVALID;
    }
    *out = NULL;
    if (n < 1 || channels < 1 || height < 1 || width < 1) {
        data_seterr(errmsg, "dataset: %zu samples of shape (%d, %d, %d): each must be at least 1", n, channels,
                    height, width);
        return CURVO_E_INVALID;
    }
    if (!x || !labels == !targets) {
        data_seterr(errmsg, "dataset: %s", !x ? "no features (x is NULL)"
                                           : labels ? "labels and targets both given: give one"
                                                    : "neither labels (classification) nor targets (regression) given");
        return CURVO_E_INVALID;
    }
    if (labels ? num_classes < 1 : num_classes != 0) {
        data_seterr(errmsg, "dataset: %d classes: %s", num_classes,
                    labels ? "labels need at least 1 class" : "targets (regression) need 0 classes");
        return CURVO_E_INVALID;
    }
    curvo_dataset *ds;
    int rc = data_dataset_alloc(n, channels, height, width, labels != NULL, &ds);
    if (rc) {
        data_seterr(errmsg, "dataset: %zu samples of shape (%d, %d, %d): out of memory", n, channels, height, width);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels && (labels[i] < 0 || labels[i] >= num_classes)) {
            data_seterr(errmsg, "dataset: sample %zu: label %d is not in [0, %d)", i, (int)labels[i], num_classes);
            curvo_dataset_free(ds);
            return CURVO_E_INVALID;
        }
        if (targets && !isfinite(targets[i])) {
            data_seterr(errmsg, "dataset: sample %zu: target %g is not finite", i, (double)targets[i]);
            curvo_dataset_free(ds);
            return CURVO_E_INVALID;
        }
        for (size_t j = 0; j < ds->d; j++)
            if (!isfinite(x[i * ds->d + j])) {
                data_seterr(errmsg, "dataset: sample %zu, feature %zu: %g is not finite", i, j, (double)x[i * ds->d + j]);
                curvo_dataset_free(ds);
                return CURVO_E_INVALID;
            }
        ds->targets[i] = labels ? (float)labels[i] : targets[i];
    }
    memcpy(ds->x, x, n * ds->d * sizeof *ds->x);
    if (labels) memcpy(ds->labels, labels, n * sizeof *ds->labels);
    ds->num_classes = num_classes;
    *out = ds;
    return CURVO_OK;
}

void curvo_dataset_free(curvo_dataset *d) {
    if (!d) return;
    if (d->names) {
        for (size_t j = 0; j < d->d; j++) free(d->names[j]);
        free(d->names);
    }
    free(d->x);
    free(d->labels);
    free(d->feat_mean);
    free(d->feat_std);
    free(d->targets);
    free(d);
}

size_t curvo_dataset_count(const curvo_dataset *d) { return d ? d->n : 0; }

void curvo_dataset_shape(const curvo_dataset *d, int *channels, int *height, int *width) {
    if (channels) *channels = d ? d->c : 0;
    if (height) *height = d ? d->h : 0;
    if (width) *width = d ? d->w : 0;
}

size_t curvo_dataset_features_per_sample(const curvo_dataset *d) { return d ? d->d : 0; }
int curvo_dataset_num_classes(const curvo_dataset *d) { return d ? d->num_classes : 0; }
const float *curvo_dataset_features(const curvo_dataset *d) { return d ? d->x : NULL; }
const int32_t *curvo_dataset_labels(const curvo_dataset *d) { return d ? d->labels : NULL; }
const float *curvo_dataset_targets(const curvo_dataset *d) { return d ? d->targets : NULL; }

/* Copies sample i of src to row r of dst. */
static void copy_sample(curvo_dataset *dst, size_t r, const curvo_dataset *src, size_t i) {
    memcpy(dst->x + r * dst->d, src->x + i * src->d, src->d * sizeof *src->x);
    dst->targets[r] = src->targets[i];
    if (src->labels) dst->labels[r] = src->labels[i];
}

int curvo_dataset_split(const curvo_dataset *d, double fraction, uint64_t seed,
                        curvo_dataset **first, curvo_dataset **second, char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (first) *first = NULL;
    if (second) *second = NULL;
    if (!d || !first || !second) {
        data_seterr(errmsg, "split: NULL argument");
        return CURVO_E_INVALID;
    }
    if (!(fraction > 0.0 && fraction < 1.0)) {
        data_seterr(errmsg, "split: fraction must be in (0, 1), got %g", fraction);
        return CURVO_E_INVALID;
    }
    if (d->n < 2) {
        data_seterr(errmsg, "split: %zu sample(s) cannot make two non-empty parts", d->n);
        return CURVO_E_INVALID;
    }
    size_t n2 = (size_t)floor(fraction * (double)d->n + 0.5);
    if (n2 < 1) n2 = 1;
    if (n2 > d->n - 1) n2 = d->n - 1;
    size_t n1 = d->n - n2;

    /* The first n2 entries of a seeded Fisher-Yates permutation go to the second part; both parts
     * keep the samples in their original order. */
    size_t *perm = malloc(d->n * sizeof *perm);
    unsigned char *in_second = calloc(d->n, 1);
    curvo_dataset *a = NULL, *b = NULL;
    int rc = CURVO_E_NOMEM;
    if (!perm || !in_second) goto fail;
    for (size_t i = 0; i < d->n; i++) perm[i] = i;
    curvo_rng rng;
    curvo_rng_seed(&rng, seed);
    for (size_t i = 0; i < n2; i++) { /* partial shuffle: positions [0, n2) are a uniform draw */
        size_t j = i + (size_t)curvo_rng_below(&rng, (uint64_t)(d->n - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        in_second[perm[i]] = 1;
    }
    int classification = d->labels != NULL;
    if ((rc = data_dataset_alloc(n1, d->c, d->h, d->w, classification, &a)) != CURVO_OK) goto fail;
    if ((rc = data_dataset_alloc(n2, d->c, d->h, d->w, classification, &b)) != CURVO_OK) goto fail;
    a->num_classes = b->num_classes = d->num_classes;
    memcpy(a->task_note, d->task_note, sizeof a->task_note);
    memcpy(b->task_note, d->task_note, sizeof b->task_note);
    if ((rc = data_dataset_copy_names(a, d)) != CURVO_OK) goto fail;
    if ((rc = data_dataset_copy_names(b, d)) != CURVO_OK) goto fail;
    if ((rc = data_dataset_copy_standardization(a, d)) != CURVO_OK) goto fail;
    if ((rc = data_dataset_copy_standardization(b, d)) != CURVO_OK) goto fail;
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (in_second[i]) copy_sample(b, ib++, d, i);
        else copy_sample(a, ia++, d, i);
    }
    free(perm);
    free(in_second);
    *first = a;
    *second = b;
    return CURVO_OK;
fail:
    if (rc == CURVO_E_NOMEM) data_seterr(errmsg, "split: out of memory");
    free(perm);
    free(in_second);
    curvo_dataset_free(a);
    curvo_dataset_free(b);
    return rc;
}

/* x (n, d): x[:, j] = (x[:, j] - mean[j]) / sd[j], and the statistics recorded on ds. */
static int apply_standardize(curvo_dataset *ds, const double *mean, const double *sd) {
    if (ds->feat_mean) return CURVO_E_STATE;
    ds->feat_mean = malloc(ds->d * sizeof *ds->feat_mean);
    ds->feat_std = malloc(ds->d * sizeof *ds->feat_std);
    if (!ds->feat_mean || !ds->feat_std) {
        free(ds->feat_mean);
        free(ds->feat_std);
        ds->feat_mean = ds->feat_std = NULL;
        return CURVO_E_NOMEM;
    }
    memcpy(ds->feat_mean, mean, ds->d * sizeof *mean);
    memcpy(ds->feat_std, sd, ds->d * sizeof *sd);
    for (size_t i = 0; i < ds->n; i++) {
        float *row = ds->x + i * ds->d;
        for (size_t j = 0; j < ds->d; j++) row[j] = (float)(((double)row[j] - mean[j]) / sd[j]);
    }
    return CURVO_OK;
}

/* targets (n) = (targets - mean) / sd, and the statistics recorded on ds. */
static void apply_target(curvo_dataset *ds, double mean, double sd) {
    for (size_t i = 0; i < ds->n; i++) ds->targets[i] = (float)(((double)ds->targets[i] - mean) / sd);
    ds->target_standardized = 1;
    ds->target_mean = mean;
    ds->target_std = sd;
}

int curvo_dataset_standardize(curvo_dataset *d, curvo_dataset *other) {
    if (!d) return CURVO_E_INVALID;
    if (other && other->d != d->d) return CURVO_E_SHAPE;
    if (d->feat_mean || (other && other->feat_mean)) return CURVO_E_STATE;
    double *mean = calloc(d->d, sizeof *mean), *sd = calloc(d->d, sizeof *sd);
    if (!mean || !sd) {
        free(mean);
        free(sd);
        return CURVO_E_NOMEM;
    }
    /* mean (d), then sd (d) holds the sum of squared deviations, then the std used */
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->d; j++) mean[j] += d->x[i * d->d + j];
    for (size_t j = 0; j < d->d; j++) mean[j] /= (double)d->n;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->d; j++) {
            double t = d->x[i * d->d + j] - mean[j];
            sd[j] += t * t;
        }
    for (size_t j = 0; j < d->d; j++) {
        double s = sqrt(sd[j] / (double)d->n);
        /* a spread at the level of float rounding of the mean counts as none */
        sd[j] = (s > 0.0 && s > 1e-6 * fabs(mean[j])) ? s : 1.0;
    }
    int rc = apply_standardize(d, mean, sd);
    if (!rc && other) rc = apply_standardize(other, mean, sd);
    free(mean);
    free(sd);
    return rc;
}

void curvo_dataset_standardization(const curvo_dataset *d, curvo_standardization *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->target_std = 1.0;
    if (!d) return;
    if (d->feat_mean) {
        out->features = d->d;
        out->feature_mean = d->feat_mean;
        out->feature_std = d->feat_std;
    }
    if (d->target_standardized) {
        out->target = 1;
        out->target_mean = d->target_mean;
        out->target_std = d->target_std;
    }
}

int curvo_dataset_apply_standardization(curvo_dataset *d, const curvo_standardization *s) {
    if (!d || !s) return CURVO_E_INVALID;
    if (d->feat_mean || d->target_standardized) return CURVO_E_STATE;
    if (s->features != 0 && s->features != d->d) return CURVO_E_SHAPE;
    if (s->features && (!s->feature_mean || !s->feature_std)) return CURVO_E_INVALID;
    for (size_t j = 0; j < s->features; j++)
        if (!isfinite(s->feature_mean[j]) || !isfinite(s->feature_std[j]) || s->feature_std[j] == 0.0)
            return CURVO_E_INVALID;
    if (s->target && (d->labels || !isfinite(s->target_mean) || !isfinite(s->target_std) || s->target_std == 0.0))
        return CURVO_E_INVALID;
    int rc = s->features ? apply_standardize(d, s->feature_mean, s->feature_std) : CURVO_OK;
    if (!rc && s->target) apply_target(d, s->target_mean, s->target_std);
    return rc;
}

int curvo_dataset_standardize_target(curvo_dataset *d, curvo_dataset *other) {
    if (!d || d->labels || (other && other->labels)) return CURVO_E_INVALID;
    if (d->target_standardized || (other && other->target_standardized)) return CURVO_E_STATE;
    double mean = 0.0, ss = 0.0;
    for (size_t i = 0; i < d->n; i++) mean += d->targets[i];
    mean /= (double)d->n;
    for (size_t i = 0; i < d->n; i++) ss += ((double)d->targets[i] - mean) * ((double)d->targets[i] - mean);
    double sd = sqrt(ss / (double)d->n);
    /* as for features: a spread at the level of float rounding of the mean counts as none */
    if (!(sd > 0.0 && sd > 1e-6 * fabs(mean))) sd = 1.0;
    apply_target(d, mean, sd);
    if (other) apply_target(other, mean, sd);
    return CURVO_OK;
}

void curvo_unstandardize_targets(const curvo_standardization *s, float *y, size_t n) {
    if (!s || !y || !s->target) return;
    for (size_t i = 0; i < n; i++) y[i] = (float)((double)y[i] * s->target_std + s->target_mean);
}

int curvo_dataset_task(const curvo_dataset *d, char *buf, size_t len) {
    if (!d || !buf || len == 0) return CURVO_E_INVALID;
    const char *open = d->task_note[0] ? " (" : "", *close = d->task_note[0] ? ")" : "";
    if (d->labels)
        snprintf(buf, len, "classification, %d classes%s%s%s", d->num_classes, open, d->task_note, close);
    else
        snprintf(buf, len, "regression%s%s%s", open, d->task_note, close);
    return CURVO_OK;
}
