/* idx.c — IDX reader (the MNIST file format), raw or gzip-compressed, through zlib's gz* functions
 * (which read uncompressed files transparently).
 *
 * An IDX file is a 4-byte magic 0x00 0x00 TYPE RANK, RANK big-endian uint32 dimensions, then the
 * data in row-major order. Only TYPE 0x08 (unsigned byte) is accepted. Every header is validated
 * before its data is read or any buffer of data size is allocated:
 *   - dims >= 1, rank 1..4 (labels: rank 1), at most IDX_MAX_SAMPLES samples and IDX_MAX_BYTES
 *     bytes of data (the product is formed in 64 bits against the cap, so it cannot overflow);
 *   - a raw file's size must equal header + data exactly ("truncated" / "trailing data");
 *   - a gzip file is inflated into a buffer that grows with what actually arrives (capped at the
 *     announced size), so a small file claiming a huge size fails as "truncated" having allocated
 *     no more than it contained; decompressed bytes past the announced size are "trailing data".
 * Images become floats in [0, 1] (byte / 255); labels int32, num_classes = max label + 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"

#define IDX_MAX_BYTES ((uint64_t)INT32_MAX)  /* data bytes of one file (about 2 GiB) */
#define IDX_MAX_SAMPLES ((uint64_t)100000000) /* first dimension */
#define IDX_CHUNK ((size_t)1 << 20)           /* first buffer size and largest gzread */

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int rank;
    uint32_t dims[4];
    uint64_t bytes;  /* product of dims: data bytes */
} idx_file;

static const char *type_name(unsigned t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown type";
    }
}

/* "60000 x 28 x 28" */
static void dims_str(const idx_file *f, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < f->rank && k < len; i++) {
        int w = snprintf(buf + k, len - k, i ? " x %u" : "%u", (unsigned)f->dims[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
}

/* Reports a failed gzread: a system read error is CURVO_E_IO, bad compressed data CURVO_E_FORMAT. */
static int read_error(const idx_file *f, char *errmsg) {
    int zerr = Z_OK;
    const char *msg = gzerror(f->gz, &zerr);
    if (zerr == Z_ERRNO) {
        data_seterr(errmsg, "%s: read error: %s", f->path, strerror(errno));
        return CURVO_E_IO;
    }
    if (zerr == Z_MEM_ERROR) {
        data_seterr(errmsg, "%s: out of memory while decompressing", f->path);
        return CURVO_E_NOMEM;
    }
    if (!msg) msg = "unknown error";
    size_t plen = strlen(f->path); /* zlib prefixes its message with the path */
    if (!strncmp(msg, f->path, plen) && !strncmp(msg + plen, ": ", 2)) msg += plen + 2;
    data_seterr(errmsg, "%s: corrupt gzip data (%s)", f->path, msg);
    return CURVO_E_FORMAT;
}

/* Reads up to len bytes; returns the count read (short only at the end of the data) or a negative
 * status with errmsg set. */
static long long read_bytes(idx_file *f, unsigned char *buf, size_t len, char *errmsg) {
    size_t have = 0;
    while (have < len) {
        size_t want = len - have < IDX_CHUNK ? len - have : IDX_CHUNK;
        int r = gzread(f->gz, buf + have, (unsigned)want);
        if (r < 0) return read_error(f, errmsg);
        if (r == 0) break;
        have += (size_t)r;
    }
    return (long long)have;
}

static void idx_close(idx_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Size in bytes of a plain file, or -1. */
static long long file_size(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    long long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    fclose(fp);
    return size;
}

/* Opens path and validates its header (see the top of the file); f->gz is left open. */
static int idx_open(idx_file *f, const char *path, char *errmsg) {
    memset(f, 0, sizeof *f);
    f->path = path;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz) {
        if (errno == 0) {
            data_seterr(errmsg, "%s: out of memory opening the file", path);
            return CURVO_E_NOMEM;
        }
        data_seterr(errmsg, "%s: cannot open: %s", path, strerror(errno));
        return CURVO_E_IO;
    }
    gzbuffer(f->gz, 1u << 17);

    unsigned char hdr[16];
    long long r = read_bytes(f, hdr, 4, errmsg);
    if (r < 0) return (int)r;
    if (r < 4) {
        data_seterr(errmsg, "%s: truncated header: %lld of 4 magic bytes", path, r);
        return CURVO_E_FORMAT;
    }
    if (hdr[0] != 0 || hdr[1] != 0) {
        data_seterr(errmsg,
                    "%s: not an IDX file: wrong magic 0x%02x 0x%02x 0x%02x 0x%02x "
                    "(expected 0x00 0x00 TYPE RANK)",
                    path, hdr[0], hdr[1], hdr[2], hdr[3]);
        return CURVO_E_FORMAT;
    }
    if (hdr[2] != 0x08) {
        data_seterr(errmsg, "%s: IDX data type 0x%02x (%s) is not supported, only 0x08 (unsigned byte)",
                    path, hdr[2], type_name(hdr[2]));
        return CURVO_E_FORMAT;
    }
    f->rank = hdr[3];
    if (f->rank < 1 || f->rank > 4) {
        data_seterr(errmsg, "%s: IDX rank %d is not supported (1 to 4)", path, f->rank);
        return CURVO_E_FORMAT;
    }
    size_t hlen = 4 * (size_t)f->rank;
    r = read_bytes(f, hdr, hlen, errmsg);
    if (r < 0) return (int)r;
    if ((size_t)r < hlen) {
        data_seterr(errmsg, "%s: truncated header: %lld of %zu dimension bytes", path, r, hlen);
        return CURVO_E_FORMAT;
    }
    uint64_t bytes = 1;
    int too_big = 0;
    for (int i = 0; i < f->rank; i++) {
        const unsigned char *p = hdr + 4 * i;
        f->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (f->dims[i] == 0) {
            data_seterr(errmsg, "%s: dimension %d of the header is 0", path, i + 1);
            return CURVO_E_FORMAT;
        }
        /* bytes <= IDX_MAX_BYTES < 2^32 before the product, dims < 2^32: no overflow */
        if (!too_big) {
            bytes *= f->dims[i];
            if (bytes > IDX_MAX_BYTES) too_big = 1;
        }
    }
    char dbuf[64];
    dims_str(f, dbuf, sizeof dbuf);
    if (f->dims[0] > IDX_MAX_SAMPLES) {
        data_seterr(errmsg, "%s: absurd dimensions %s: more than %llu samples", path, dbuf,
                    (unsigned long long)IDX_MAX_SAMPLES);
        return CURVO_E_FORMAT;
    }
    if (too_big) {
        data_seterr(errmsg, "%s: absurd dimensions %s: more than %llu bytes of data", path, dbuf,
                    (unsigned long long)IDX_MAX_BYTES);
        return CURVO_E_FORMAT;
    }
    f->bytes = bytes;

    if (gzdirect(f->gz)) { /* raw file: its size must be exactly header + data */
        long long size = file_size(path);
        unsigned long long want = 4 + hlen + bytes;
        if (size < 0) {
            data_seterr(errmsg, "%s: cannot determine the file size", path);
            return CURVO_E_IO;
        }
        if ((unsigned long long)size < want) {
            data_seterr(errmsg, "%s: truncated: dimensions %s need %llu data bytes, the file has %llu",
                        path, dbuf, (unsigned long long)bytes,
                        (unsigned long long)size - 4 - hlen);
            return CURVO_E_FORMAT;
        }
        if ((unsigned long long)size > want) {
            data_seterr(errmsg, "%s: trailing data: %llu byte(s) after the %llu data bytes of dimensions %s",
                        path, (unsigned long long)size - want, (unsigned long long)bytes, dbuf);
            return CURVO_E_FORMAT;
        }
    }
    return CURVO_OK;
}

/* Reads the data of an opened file into *out (f->bytes bytes, caller frees). */
static int idx_read_data(idx_file *f, unsigned char **out, char *errmsg) {
    *out = NULL;
    size_t want = (size_t)f->bytes, cap = 0, have = 0;
    unsigned char *buf = NULL;
    if (gzdirect(f->gz)) cap = want; /* the size was checked against the file */
    else cap = want < IDX_CHUNK ? want : IDX_CHUNK;
    while (1) {
        if (cap > have || !buf) {
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                data_seterr(errmsg, "%s: out of memory (%zu bytes)", f->path, cap);
                return CURVO_E_NOMEM;
            }
            buf = nb;
        }
        long long r = read_bytes(f, buf + have, cap - have, errmsg);
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        have += (size_t)r;
        if (have < cap || have == want) break; /* end of the data, or all of it */
        cap = cap > want / 2 ? want : 2 * cap;
    }
    char dbuf[64];
    dims_str(f, dbuf, sizeof dbuf);
    if (have < want) {
        free(buf);
        data_seterr(errmsg, "%s: truncated: dimensions %s need %zu data bytes, got %zu", f->path,
                    dbuf, want, have);
        return CURVO_E_FORMAT;
    }
    unsigned char extra;
    long long r = read_bytes(f, &extra, 1, errmsg);
    if (r != 0) {
        free(buf);
        if (r < 0) return (int)r;
        data_seterr(errmsg, "%s: trailing data after the %zu data bytes of dimensions %s", f->path,
                    want, dbuf);
        return CURVO_E_FORMAT;
    }
    *out = buf;
    return CURVO_OK;
}

int curvo_idx_load(const char *images_path, const char *labels_path, curvo_dataset **out,
                   char *errmsg) {
    data_seterr(errmsg, "%s", "");
    if (out) *out = NULL;
    if (!images_path || !labels_path || !out) {
        data_seterr(errmsg, "idx: NULL argument");
        return CURVO_E_INVALID;
    }
    idx_file fi, fl;
    unsigned char *pix = NULL, *lab = NULL;
    curvo_dataset *ds = NULL;
    memset(&fl, 0, sizeof fl);
    int rc = idx_open(&fi, images_path, errmsg);
    if (rc) goto done;
    rc = idx_open(&fl, labels_path, errmsg);
    if (rc) goto done;
    if (fl.rank != 1) {
        char dbuf[64];
        dims_str(&fl, dbuf, sizeof dbuf);
        data_seterr(errmsg, "%s: labels must have rank 1, this file has rank %d (%s)", labels_path,
                    fl.rank, dbuf);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    if (fl.dims[0] != fi.dims[0]) {
        data_seterr(errmsg, "%s: label count %u differs from the image count %u of %s", labels_path,
                    (unsigned)fl.dims[0], (unsigned)fi.dims[0], images_path);
        rc = CURVO_E_FORMAT;
        goto done;
    }
    int c = 1, h = 1, w = 1;
    switch (fi.rank) {
    case 1: break;                                          /* (n) -> (1, 1, 1) */
    case 2: c = (int)fi.dims[1]; break;                     /* (n, d) -> (d, 1, 1) */
    case 3: h = (int)fi.dims[1], w = (int)fi.dims[2]; break; /* (n, h, w) -> (1, h, w) */
    default: c = (int)fi.dims[1], h = (int)fi.dims[2], w = (int)fi.dims[3]; break;
    }
    if ((rc = idx_read_data(&fi, &pix, errmsg))) goto done;
    if ((rc = idx_read_data(&fl, &lab, errmsg))) goto done;

    size_t n = fi.dims[0];
    if ((rc = data_dataset_alloc(n, c, h, w, 1, &ds))) {
        data_seterr(errmsg, "%s: out of memory for %zu samples", images_path, n);
        goto done;
    }
    float scale[256];
    for (int v = 0; v < 256; v++) scale[v] = (float)v / 255.0f;
    size_t total = n * ds->d;
    for (size_t i = 0; i < total; i++) ds->x[i] = scale[pix[i]];
    int maxlab = 0;
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = lab[i];
        ds->targets[i] = (float)lab[i];
        if (lab[i] > maxlab) maxlab = lab[i];
    }
    ds->num_classes = maxlab + 1;
    *out = ds;
    ds = NULL;
done:
    idx_close(&fi);
    idx_close(&fl);
    free(pix);
    free(lab);
    curvo_dataset_free(ds);
    return rc;
}
