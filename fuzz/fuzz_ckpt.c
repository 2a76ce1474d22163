/* fuzz_ckpt.c — libFuzzer harness for the checkpoint reader (src/io/ckpt.h) and
 * curvo_checkpoint_load_model.
 *
 * Each input is tried twice:
 *   1. as is, through ckpt_open_mem(): magic, version, length and CRC checks on hostile bytes;
 *   2. "fixed up": when it is at least 28 bytes, a copy gets its u64 file-length field (offset 16)
 *      set to its size and its last 4 bytes replaced by the CRC32 of the rest, so that mutations
 *      reach the section table and the getters instead of stopping at "checksum mismatch". The
 *      fixed copy goes through ckpt_open_mem(), then every section (ckpt_get, and the typed
 *      getters with the lengths the section implies) and the names the trainer reads
 *      (ckpt_get_str/u64/f64/f32s/u32s/u64s); it is also written to a temporary file (under
 *      $TMPDIR, default /tmp) and read with curvo_checkpoint_load_model (spec parsing and model
 *      construction from a checkpoint) and curvo_checkpoint_read_info (the table of training keys
 *      and their ranges, the data record, the standardization arrays).
 * Seeds: fuzz/corpus/ckpt (a checkpoint from `curvo train --save` and damaged copies).
 * Build and run: fuzz/run.sh (CMake option CURVO_FUZZ=ON with clang). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "curvo.h"
#include "fuzzutil.h"
#include "io/ckpt.h"

static char ckpt_path[4096];

static void cleanup(void) { unlink(ckpt_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_make_temp(ckpt_path, sizeof ckpt_path, "ckpt");
    atexit(cleanup);
    return 0;
}

static const char *const names[] = {
    "kind", "model.spec", "model.input", "model.params", "loss", "opt.algorithm", "opt.state",
    "rng", "train.epoch", "train.step", "train.loss_sum", "data.order", "data.position", "model.best_params",
    "data.source", "data.feature_mean", "data.feature_std", "run.log", "x", "",
};

/* Runs every getter; values are consumed so the reads are not optimised away. */
static void exercise(ckpt_reader *r) {
    volatile uint64_t sink = 0;
    size_t ns = ckpt_num_sections(r);
    if (ckpt_section_name(r, ns) != NULL) abort();
    for (size_t i = 0; i < ns && i < 256; i++) {
        const char *name = ckpt_section_name(r, i);
        if (!name) abort();
        const void *p;
        size_t len;
        if (ckpt_get(r, name, &p, &len) != CURVO_OK) abort();  /* a listed section is present */
        if (len) sink += ((const uint8_t *)p)[len - 1];
        const char *s;
        if (ckpt_get_str(r, name, &s) == CURVO_OK) sink += strlen(s);
        uint64_t u;
        double d;
        if (ckpt_get_u64(r, name, &u) == CURVO_OK) sink += u;
        if (ckpt_get_f64(r, name, &d) == CURVO_OK) sink += (uint64_t)(d == d);
        if (len <= ((size_t)1 << 20)) {  /* typed arrays of the section's own length */
            void *buf = malloc(len ? len : 1);
            if (!buf) continue;
            if (ckpt_get_f32s(r, name, buf, len / 4) == CURVO_OK && len >= 4) sink += ((uint8_t *)buf)[0];
            if (ckpt_get_u32s(r, name, buf, len / 4) == CURVO_OK && len >= 4) sink += ((uint32_t *)buf)[0];
            if (ckpt_get_f64s(r, name, buf, len / 8) == CURVO_OK && len >= 8) sink += ((uint8_t *)buf)[0];
            if (ckpt_get_u64s(r, name, buf, len / 8) == CURVO_OK && len >= 8) sink += ((uint64_t *)buf)[0];
            /* wrong counts must be refused, not read past the section */
            if (ckpt_get_f32s(r, name, buf, len / 4 + 1) == CURVO_OK) abort();
            free(buf);
        }
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *s;
        uint64_t u, v3[3];
        double d;
        float f[4];
        if (ckpt_get_str(r, names[k], &s) == CURVO_OK) sink += strlen(s);
        if (ckpt_get_u64(r, names[k], &u) == CURVO_OK) sink += u;
        if (ckpt_get_f64(r, names[k], &d) == CURVO_OK) sink += (uint64_t)(d == d);
        if (ckpt_get_u64s(r, names[k], v3, 3) == CURVO_OK) sink += v3[2];
        if (ckpt_get_f32s(r, names[k], f, 4) == CURVO_OK) sink += (uint64_t)(f[3] == f[3]);
    }
    (void)ckpt_errmsg(r);
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[CURVO_ERRMSG_LEN];
    ckpt_reader *r = NULL;

    /* 1. the bytes as given */
    if (ckpt_open_mem(data, size, "fuzz", &r, err) == CURVO_OK) {
        exercise(r);
        ckpt_close(r);
    }
    r = NULL;

    /* 2. with a consistent length field and CRC */
    if (size < 28) return 0;
    uint8_t *img = malloc(size);
    if (!img) return 0;
    memcpy(img, data, size);
    for (int i = 0; i < 8; i++) img[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0L, img, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) img[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    if (ckpt_open_mem(img, size, NULL, &r, err) == CURVO_OK) {
        exercise(r);
        ckpt_close(r);
    }

    fuzz_write_file(ckpt_path, img, size);
    free(img);
    curvo_model *m = NULL;
    curvo_loss_kind loss;
    if (curvo_checkpoint_load_model(ckpt_path, &m, &loss, err) == CURVO_OK) {
        if (!m) abort();
        curvo_model_free(m);
    } else if (m) {
        abort();
    }
    curvo_checkpoint_info *info = NULL;
    if (curvo_checkpoint_read_info(ckpt_path, &info, err) == CURVO_OK) {
        if (!info || !info->model_spec || !info->kind) abort();
        if (info->standardization.features && !info->standardization.feature_std) abort();
        curvo_checkpoint_info_free(info);
    } else if (info) {
        abort();
    }
    return 0;
}
