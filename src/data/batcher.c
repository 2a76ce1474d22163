/* batcher.c — mini-batches over a dataset in a seeded random order.
 * The order is a permutation of [0, n) (uint32), redrawn by each curvo_batcher_shuffle from the
 * identity with Fisher-Yates and curvo_rng_below, so it depends only on the rng state. Batches are
 * gathered row by row into buffers of batch_size rows: x (B, d), labels (B), targets (B). The
 * order and the position in it are what a checkpoint saves to resume mid-epoch. */
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

struct curvo_batcher {
    const curvo_dataset *d;
    size_t n;          /* samples */
    int bs;            /* rows of the buffers: min(batch_size, n) */
    int batch_size;    /* as asked */
    int drop_last;
    size_t pos;        /* next index into order */
    uint32_t *order;   /* (n) */
    float *x;          /* (bs, d) */
    int32_t *labels;   /* (bs), NULL for regression */
    float *targets;    /* (bs) */
};

static void identity(curvo_batcher *bt) {
    for (size_t i = 0; i < bt->n; i++) bt->order[i] = (uint32_t)i;
    bt->pos = 0;
}

int curvo_batcher_create(const curvo_dataset *d, int batch_size, curvo_batcher **out) {
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!d || batch_size < 1) return CURVO_E_INVALID;
    if (d->n > UINT32_MAX) return CURVO_E_UNSUPPORTED;
    curvo_batcher *bt = calloc(1, sizeof *bt);
    if (!bt) return CURVO_E_NOMEM;
    bt->d = d;
    bt->n = d->n;
    bt->batch_size = batch_size;
    bt->bs = (size_t)batch_size < d->n ? batch_size : (int)d->n;
    bt->order = malloc(d->n * sizeof *bt->order);
    bt->x = malloc((size_t)bt->bs * d->d * sizeof *bt->x);
    bt->targets = malloc((size_t)bt->bs * sizeof *bt->targets);
    if (d->labels) bt->labels = malloc((size_t)bt->bs * sizeof *bt->labels);
    if (!bt->order || !bt->x || !bt->targets || (d->labels && !bt->labels)) {
        curvo_batcher_free(bt);
        return CURVO_E_NOMEM;
    }
    identity(bt);
    *out = bt;
    return CURVO_OK;
}

void curvo_batcher_free(curvo_batcher *bt) {
    if (!bt) return;
    free(bt->order);
    free(bt->x);
    free(bt->labels);
    free(bt->targets);
    free(bt);
}

void curvo_batcher_shuffle(curvo_batcher *bt, curvo_rng *rng) {
    if (!bt || !rng) return;
    identity(bt);
    for (size_t i = bt->n; i > 1; i--) {
        size_t j = (size_t)curvo_rng_below(rng, (uint64_t)i);
        uint32_t t = bt->order[i - 1];
        bt->order[i - 1] = bt->order[j];
        bt->order[j] = t;
    }
}

void curvo_batcher_sequential(curvo_batcher *bt) {
    if (bt) identity(bt);
}

void curvo_batcher_set_drop_last(curvo_batcher *bt, int drop_last) {
    if (bt) bt->drop_last = drop_last != 0;
}

int curvo_batcher_next(curvo_batcher *bt, curvo_batch *batch) {
    if (!bt || !batch || bt->pos >= bt->n) return 0;
    size_t left = bt->n - bt->pos;
    size_t b = left < (size_t)bt->batch_size ? left : (size_t)bt->batch_size;
    if (bt->drop_last && b < (size_t)bt->batch_size) {
        bt->pos = bt->n;
        return 0;
    }
    const curvo_dataset *d = bt->d;
    for (size_t r = 0; r < b; r++) {
        size_t i = bt->order[bt->pos + r];
        memcpy(bt->x + r * d->d, d->x + i * d->d, d->d * sizeof *d->x);
        bt->targets[r] = d->targets[i];
        if (bt->labels) bt->labels[r] = d->labels[i];
    }
    bt->pos += b;
    batch->x = bt->x;
    batch->labels = bt->labels;
    batch->targets = bt->targets;
    batch->b = (int)b;
    return 1;
}

size_t curvo_batcher_position(const curvo_batcher *bt) { return bt ? bt->pos : 0; }

const uint32_t *curvo_batcher_order(const curvo_batcher *bt) { return bt ? bt->order : NULL; }

int curvo_batcher_restore(curvo_batcher *bt, const uint32_t *order, size_t n, size_t position) {
    if (!bt || !order || n != bt->n || position > n) return CURVO_E_INVALID;
    unsigned char *seen = calloc(n, 1);
    if (!seen) return CURVO_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (order[i] >= n || seen[order[i]]) {
            free(seen);
            return CURVO_E_INVALID;
        }
        seen[order[i]] = 1;
    }
    free(seen);
    memcpy(bt->order, order, n * sizeof *order);
    bt->pos = position;
    return CURVO_OK;
}
