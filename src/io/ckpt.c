/* ckpt.c — the checkpoint container: sections collected in memory by a writer and committed
 * atomically (temporary file, fsync, rename, directory fsync); a reader that loads the whole file,
 * validates it without trusting any length in it, and hands out sections by name. Format in ckpt.h. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "core/errmsg.h"
#include "io/ckpt.h"

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "checkpoints store IEEE-754 binary32/64");

static const unsigned char MAGIC[8] = {'C', 'U', 'R', 'V', 'O', 'C', 'K', 'P'};

#define HEADER_LEN 24                                  /* magic, version, count, file length */
#define CRC_LEN 4
#define MIN_FILE_LEN (HEADER_LEN + CRC_LEN)
#define MIN_SECTION_LEN (2 + 1 + 8)                    /* name length, 1-byte name, data length */
#define LABEL_LEN 160                                  /* the path as shown in messages */

/* ---------------------------------------------------------------- bytes and checks */
static void st16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void st32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void st64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint16_t ld16(const unsigned char *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static uint32_t ld32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t ld64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* zlib's crc32 takes a uInt length: feed it in chunks. */
static uLong crc_update(uLong crc, const unsigned char *p, size_t n) {
    while (n > 0) {
        size_t k = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        crc = crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

static int name_char_ok(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

/* Length of a valid section name, or 0. */
static size_t name_len(const char *name) {
    size_t n = 0;
    while (name[n] != '\0') {
        if (n == CKPT_NAME_MAX || !name_char_ok((unsigned char)name[n])) return 0;
        n++;
    }
    return n;
}

/* The path as shown in messages: itself, or "..." and its last characters. */
static void set_label(char *dst, const char *path) {
    size_t n = strlen(path);
    if (n <= LABEL_LEN) memcpy(dst, path, n + 1);
    else snprintf(dst, LABEL_LEN + 1, "...%s", path + n - (LABEL_LEN - 3));
}

/* ---------------------------------------------------------------- writer */
typedef struct wsection {
    char name[CKPT_NAME_MAX + 1];
    unsigned char *data; /* (len), NULL when len is 0 */
    size_t len;
} wsection;

struct ckpt_writer {
    wsection *secs; /* (n) in the order they were put */
    size_t n, cap;
    uint64_t total; /* bytes the file will have */
    char errmsg[CURVO_ERRMSG_LEN];
};

int ckpt_writer_create(ckpt_writer **out) {
    if (!out) return CURVO_E_INVALID;
    ckpt_writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w) return CURVO_E_NOMEM;
    w->total = MIN_FILE_LEN;
    return CURVO_OK;
}

void ckpt_writer_free(ckpt_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->secs[i].data);
    free(w->secs);
    free(w);
}

const char *ckpt_writer_errmsg(const ckpt_writer *w) { return w ? w->errmsg : ""; }

/* Appends a section of len bytes and returns its storage in *dst for the caller to fill; on
 * failure nothing is appended. */
static int add_section(ckpt_writer *w, const char *name, size_t len, unsigned char **dst) {
    if (!w) return CURVO_E_INVALID;
    if (!name) {
        curvo_errf(w->errmsg, "section name is NULL");
        return CURVO_E_INVALID;
    }
    size_t nl = name_len(name);
    if (nl == 0) {
        curvo_errf(w->errmsg,
                "bad section name '%.64s' (1..%d printable ASCII characters, no spaces)",
                name, CKPT_NAME_MAX);
        return CURVO_E_INVALID;
    }
    for (size_t i = 0; i < w->n; i++) {
        if (!strcmp(w->secs[i].name, name)) {
            curvo_errf(w->errmsg, "section '%s' is already present", name);
            return CURVO_E_INVALID;
        }
    }
    if (w->n == CKPT_MAX_SECTIONS) {
        curvo_errf(w->errmsg, "more than %d sections", CKPT_MAX_SECTIONS);
        return CURVO_E_INVALID;
    }
    uint64_t add = 2 + (uint64_t)nl + 8;
    if ((uint64_t)len > CKPT_MAX_FILE_SIZE || w->total + add + (uint64_t)len > CKPT_MAX_FILE_SIZE) {
        curvo_errf(w->errmsg, "section '%s' of %zu bytes would make the file larger than "
                "%llu bytes", name, len, (unsigned long long)CKPT_MAX_FILE_SIZE);
        return CURVO_E_INVALID;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wsection *secs = realloc(w->secs, cap * sizeof *secs);
        if (!secs) {
            curvo_errf(w->errmsg, "out of memory for the section table");
            return CURVO_E_NOMEM;
        }
        w->secs = secs;
        w->cap = cap;
    }
    unsigned char *data = NULL;
    if (len > 0) {
        data = malloc(len);
        if (!data) {
            curvo_errf(w->errmsg, "out of memory for section '%s' (%zu bytes)", name, len);
            return CURVO_E_NOMEM;
        }
    }
    wsection *s = &w->secs[w->n++];
    memcpy(s->name, name, nl + 1);
    s->data = data;
    s->len = len;
    w->total += add + len;
    *dst = data;
    return CURVO_OK;
}

int ckpt_put(ckpt_writer *w, const char *name, const void *data, size_t len) {
    if (w && len > 0 && !data) {
        curvo_errf(w->errmsg, "section data is NULL");
        return CURVO_E_INVALID;
    }
    unsigned char *dst;
    int rc = add_section(w, name, len, &dst);
    if (rc == CURVO_OK && len > 0) memcpy(dst, data, len);
    return rc;
}

int ckpt_put_u64(ckpt_writer *w, const char *name, uint64_t v) {
    unsigned char *dst;
    int rc = add_section(w, name, 8, &dst);
    if (rc == CURVO_OK) st64(dst, v);
    return rc;
}

int ckpt_put_f64(ckpt_writer *w, const char *name, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return ckpt_put_u64(w, name, bits);
}

int ckpt_put_str(ckpt_writer *w, const char *name, const char *s) {
    if (w && !s) {
        curvo_errf(w->errmsg, "string for section '%.64s' is NULL", name ? name : "");
        return CURVO_E_INVALID;
    }
    return ckpt_put(w, name, s, s ? strlen(s) : 0);
}

/* n values of es (4 or 8) bytes each from v, stored little-endian. */
static int put_array(ckpt_writer *w, const char *name, const void *v, size_t n, size_t es) {
    if (w && n > 0 && !v) {
        curvo_errf(w->errmsg, "array for section '%.64s' is NULL", name ? name : "");
        return CURVO_E_INVALID;
    }
    if (w && n > SIZE_MAX / es) {
        curvo_errf(w->errmsg, "array for section '%.64s' is too long", name ? name : "");
        return CURVO_E_INVALID;
    }
    unsigned char *dst;
    int rc = add_section(w, name, n * es, &dst);
    if (rc != CURVO_OK) return rc;
    const unsigned char *src = v;
    for (size_t i = 0; i < n; i++) {
        if (es == 4) {
            uint32_t x;
            memcpy(&x, src + 4 * i, 4);
            st32(dst + 4 * i, x);
        } else {
            uint64_t x;
            memcpy(&x, src + 8 * i, 8);
            st64(dst + 8 * i, x);
        }
    }
    return CURVO_OK;
}

int ckpt_put_f32s(ckpt_writer *w, const char *name, const float *v, size_t n) {
    return put_array(w, name, v, n, 4);
}
int ckpt_put_f64s(ckpt_writer *w, const char *name, const double *v, size_t n) {
    return put_array(w, name, v, n, 8);
}
int ckpt_put_u32s(ckpt_writer *w, const char *name, const uint32_t *v, size_t n) {
    return put_array(w, name, v, n, 4);
}
int ckpt_put_u64s(ckpt_writer *w, const char *name, const uint64_t *v, size_t n) {
    return put_array(w, name, v, n, 8);
}

/* A FILE that keeps the CRC of everything written and the errno of the first failure. */
typedef struct sink {
    FILE *f;
    uLong crc;
    int err;
} sink;

static int sink_write(sink *s, const void *p, size_t n) {
    if (s->err || n == 0) return s->err;
    s->crc = crc_update(s->crc, p, n);
    errno = 0;
    if (fwrite(p, 1, n, s->f) != n) s->err = errno ? errno : EIO;
    return s->err;
}

static int write_all(const ckpt_writer *w, sink *s) {
    unsigned char hdr[HEADER_LEN];
    memcpy(hdr, MAGIC, 8);
    st32(hdr + 8, CKPT_FORMAT_VERSION);
    st32(hdr + 12, (uint32_t)w->n);
    st64(hdr + 16, w->total);
    sink_write(s, hdr, sizeof hdr);
    for (size_t i = 0; i < w->n; i++) {
        const wsection *sec = &w->secs[i];
        size_t nl = strlen(sec->name);
        unsigned char b[2 + CKPT_NAME_MAX + 8];
        st16(b, (uint16_t)nl);
        memcpy(b + 2, sec->name, nl);
        st64(b + 2 + nl, sec->len);
        sink_write(s, b, 2 + nl + 8);
        sink_write(s, sec->data, sec->len);
    }
    unsigned char crc[CRC_LEN];
    st32(crc, (uint32_t)s->crc);
    sink_write(s, crc, sizeof crc);
    return s->err;
}

/* The folder of path ("." when it has none), malloc'ed; NULL when out of memory. */
static char *folder_of(const char *path) {
    size_t pl = strlen(path);
    char *dir = malloc(pl + 2);
    if (!dir) return NULL;
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    return dir;
}

/* This machine's name as it goes into temporary file names. */
static void host_name(char *buf, size_t len) {
    if (gethostname(buf, len - 1) != 0 || !buf[0]) snprintf(buf, len, "unknown-host");
    buf[len - 1] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '/') *c = '_';
}

/* Removes the temporary files NAME.tmp.HOST.PID that commits to path killed mid-write (SIGKILL,
 * power loss) left in dir: only those of this host whose process is gone (kill(PID, 0) fails with
 * ESRCH). Another host's file, a live process's, and names of any other form are left alone. */
static void remove_stale_tmps(const char *path, const char *dir, const char *host) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t bl = strlen(base), hl = strlen(host), dl = strlen(dir);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) || strncmp(n + bl, ".tmp.", 5) || strncmp(n + bl + 5, host, hl) || n[bl + 5 + hl] != '.')
            continue;
        const char *digits = n + bl + 5 + hl + 1;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (!(*digits >= '0' && *digits <= '9') || *end || errno || pid <= 0 || pid == (long)getpid() ||
            (pid_t)pid != pid)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to tell */
        char *stale = malloc(dl + strlen(n) + 2);
        if (!stale) break;
        sprintf(stale, "%s/%s", dir, n);
        unlink(stale);
        free(stale);
    }
    closedir(d);
}

int ckpt_commit(ckpt_writer *w, const char *path, char *errmsg) {
    if (errmsg) errmsg[0] = '\0';
    if (!w || !path || !path[0]) {
        curvo_errf(errmsg, "checkpoint: no path to write to");
        return CURVO_E_INVALID;
    }
    char label[LABEL_LEN + 1];
    set_label(label, path);
    size_t pl = strlen(path);
    char host[256];
    host_name(host, sizeof host);
    char *dir = folder_of(path), *tmp = malloc(pl + strlen(host) + 32);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return CURVO_E_NOMEM;
    }
    snprintf(tmp, pl + strlen(host) + 32, "%s.tmp.%s.%ld", path, host, (long)getpid());
    remove_stale_tmps(path, dir, host);

    unlink(tmp); /* a stale one from a crashed run with the same pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        curvo_errf(errmsg, "%s: cannot create a temporary file next to it: %s", label, strerror(errno));
        free(tmp);
        free(dir);
        return CURVO_E_IO;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        curvo_errf(errmsg, "%s: cannot write the checkpoint: %s", label, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        free(dir);
        return CURVO_E_IO;
    }
    sink s = {f, crc32(0L, Z_NULL, 0), 0};
    int err = write_all(w, &s);
    if (!err && fflush(f) != 0) err = errno ? errno : EIO;
    if (!err && fsync(fileno(f)) != 0) err = errno;
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (err) {
        curvo_errf(errmsg, "%s: cannot write the checkpoint: %s", label, strerror(err));
        unlink(tmp);
        free(tmp);
        free(dir);
        return CURVO_E_IO;
    }
    if (rename(tmp, path) != 0) {
        curvo_errf(errmsg, "%s: cannot replace it with the new checkpoint: %s", label, strerror(errno));
        unlink(tmp);
        free(tmp);
        free(dir);
        return CURVO_E_IO;
    }
    free(tmp);

    /* Make the rename durable. A directory we cannot open or a file system without directory
     * fsync (EINVAL) is not an error; a failed fsync is. */
    int rc = CURVO_OK;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            curvo_errf(errmsg, "%s: written, but its directory could not be synced: %s", label,
                    strerror(errno));
            rc = CURVO_E_IO;
        }
        close(dfd);
    }
    free(dir);
    return rc;
}

/* ---------------------------------------------------------------- reader */
typedef struct rsection {
    char name[CKPT_NAME_MAX + 1];
    const unsigned char *data; /* (len) into the reader's buffer, NULL when len is 0 */
    size_t len;
    char *str; /* NUL-terminated copy made by ckpt_get_str */
} rsection;

struct ckpt_reader {
    unsigned char *buf; /* (size) the whole file */
    size_t size;
    rsection *secs;     /* (n) in file order */
    rsection **sorted;  /* (n) by name, for lookup */
    size_t n;
    char *errmsg;       /* (CURVO_ERRMSG_LEN) last getter failure; written through const readers */
    char label[LABEL_LEN + 1];
};

void ckpt_close(ckpt_reader *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->secs[i].str);
    free(r->secs);
    free(r->sorted);
    free(r->buf);
    free(r->errmsg);
    free(r);
}

enum { ID_OK, ID_SHORT, ID_NOT, ID_VERSION };

/* What the first n bytes say: a checkpoint of our version, too short to tell, not a checkpoint,
 * or another version. */
static int check_ident(const unsigned char *b, size_t n, uint32_t *version) {
    size_t m = n < 8 ? n : 8;
    if (m > 0 && memcmp(b, MAGIC, m) != 0) return ID_NOT;
    if (n < 12) return ID_SHORT;
    *version = ld32(b + 8);
    return *version == CKPT_FORMAT_VERSION ? ID_OK : ID_VERSION;
}

static int ident_error(int id, uint32_t version, const char *label, char *errmsg) {
    if (id == ID_NOT) curvo_errf(errmsg, "%s: not a curvo checkpoint", label);
    else curvo_errf(errmsg, "%s: checkpoint format version %lu, this curvo reads version %d", label,
                 (unsigned long)version, CKPT_FORMAT_VERSION);
    return CURVO_E_FORMAT;
}

static int cmp_sorted(const void *a, const void *b) {
    return strcmp((*(rsection *const *)a)->name, (*(rsection *const *)b)->name);
}

/* Validates buf (size bytes, owned: freed on failure) and builds the reader. Every length read
 * from the file is checked against what is left before it is used. */
static int parse(unsigned char *buf, size_t size, const char *label, ckpt_reader **out,
                 char *errmsg) {
    uint32_t version = 0;
    int id = check_ident(buf, size, &version);
    if (id == ID_NOT || id == ID_VERSION) {
        free(buf);
        return ident_error(id, version, label, errmsg);
    }
    if (size < HEADER_LEN) {
        if (size == 0) curvo_errf(errmsg, "%s: truncated checkpoint (empty file)", label);
        else curvo_errf(errmsg, "%s: truncated checkpoint (%zu bytes, shorter than its header)", label,
                     size);
        free(buf);
        return CURVO_E_FORMAT;
    }
    uint64_t declared = ld64(buf + 16);
    const char *bad = NULL;
    if (declared > size) {
        /* Truncated, or a damaged length field: the CRC with the real size in that field tells. */
        int damaged = 0;
        if (size >= MIN_FILE_LEN) {
            unsigned char len_le[8];
            st64(len_le, size);
            uLong crc = crc_update(crc32(0L, Z_NULL, 0), buf, 16);
            crc = crc_update(crc, len_le, 8);
            crc = crc_update(crc, buf + HEADER_LEN, size - CRC_LEN - HEADER_LEN);
            damaged = (uint32_t)crc == ld32(buf + size - CRC_LEN);
        }
        if (!damaged) {
            curvo_errf(errmsg, "%s: truncated checkpoint (%zu of %llu bytes)", label, size,
                    (unsigned long long)declared);
            free(buf);
            return CURVO_E_FORMAT;
        }
        bad = "checksum mismatch: the file is corrupt";
    } else if (size < MIN_FILE_LEN) {
        bad = "corrupt header: the file is shorter than any checkpoint";
    } else {
        uLong crc = crc_update(crc32(0L, Z_NULL, 0), buf, size - CRC_LEN);
        if ((uint32_t)crc != ld32(buf + size - CRC_LEN)) bad = "checksum mismatch: the file is corrupt";
        else if (declared != size) bad = "corrupt header: its length field differs from the file's size";
    }
    if (bad) {
        curvo_errf(errmsg, "%s: %s", label, bad);
        free(buf);
        return CURVO_E_FORMAT;
    }

    /* The CRC holds: what remains can only fail for a file not made by ckpt_commit. */
    uint32_t count = ld32(buf + 12);
    if (count > CKPT_MAX_SECTIONS || count > (size - MIN_FILE_LEN) / MIN_SECTION_LEN) {
        curvo_errf(errmsg, "%s: corrupt section table: %lu sections in %zu bytes", label,
                (unsigned long)count, size);
        free(buf);
        return CURVO_E_FORMAT;
    }
    ckpt_reader *r = calloc(1, sizeof *r);
    if (r) {
        r->buf = buf;
        r->size = size;
        r->errmsg = calloc(1, CURVO_ERRMSG_LEN);
        r->secs = calloc(count ? count : 1, sizeof *r->secs);
        r->sorted = malloc((count ? count : 1) * sizeof *r->sorted);
        memcpy(r->label, label, strlen(label) + 1);
    }
    if (!r || !r->errmsg || !r->secs || !r->sorted) {
        if (r) ckpt_close(r);
        else free(buf);
        curvo_errf(errmsg, "%s: out of memory", label);
        return CURVO_E_NOMEM;
    }
    size_t pos = HEADER_LEN, end = size - CRC_LEN;
    for (uint32_t i = 0; i < count; i++) {
        rsection *s = &r->secs[i];
        size_t nl = end - pos >= 2 ? ld16(buf + pos) : 0;
        if (end - pos < 2 || nl == 0 || nl > CKPT_NAME_MAX || end - pos - 2 < nl + 8) {
            curvo_errf(errmsg, "%s: corrupt section table: section %lu's header is damaged", label,
                    (unsigned long)i);
            ckpt_close(r);
            return CURVO_E_FORMAT;
        }
        pos += 2;
        for (size_t k = 0; k < nl; k++) {
            if (!name_char_ok(buf[pos + k])) {
                curvo_errf(errmsg, "%s: corrupt section table: section %lu's name has byte 0x%02x",
                        label, (unsigned long)i, buf[pos + k]);
                ckpt_close(r);
                return CURVO_E_FORMAT;
            }
        }
        memcpy(s->name, buf + pos, nl);
        s->name[nl] = '\0';
        pos += nl;
        uint64_t len = ld64(buf + pos);
        pos += 8;
        if (len > end - pos) {
            curvo_errf(errmsg, "%s: corrupt section table: section '%s' claims %llu bytes, %zu are left",
                    label, s->name, (unsigned long long)len, end - pos);
            ckpt_close(r);
            return CURVO_E_FORMAT;
        }
        s->len = (size_t)len;
        s->data = len ? buf + pos : NULL;
        pos += s->len;
        r->sorted[i] = s;
        r->n = i + 1;
    }
    if (pos != end) {
        curvo_errf(errmsg, "%s: corrupt section table: %zu bytes after the last section", label,
                end - pos);
        ckpt_close(r);
        return CURVO_E_FORMAT;
    }
    if (r->n > 1) qsort(r->sorted, r->n, sizeof *r->sorted, cmp_sorted);
    for (size_t i = 1; i < r->n; i++) {
        if (!strcmp(r->sorted[i - 1]->name, r->sorted[i]->name)) {
            curvo_errf(errmsg, "%s: corrupt section table: section '%s' appears twice", label,
                    r->sorted[i]->name);
            ckpt_close(r);
            return CURVO_E_FORMAT;
        }
    }
    *out = r;
    return CURVO_OK;
}

int ckpt_open_mem(const void *data, size_t size, const char *label, ckpt_reader **out,
                  char *errmsg) {
    if (errmsg) errmsg[0] = '\0';
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!data && size > 0) return CURVO_E_INVALID;
    char lab[LABEL_LEN + 1];
    set_label(lab, label ? label : "checkpoint");
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        curvo_errf(errmsg, "%s: out of memory", lab);
        return CURVO_E_NOMEM;
    }
    if (size) memcpy(buf, data, size);
    return parse(buf, size, lab, out, errmsg);
}

int ckpt_open(const char *path, ckpt_reader **out, char *errmsg) {
    if (errmsg) errmsg[0] = '\0';
    if (!out) return CURVO_E_INVALID;
    *out = NULL;
    if (!path) return CURVO_E_INVALID;
    char label[LABEL_LEN + 1];
    set_label(label, path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        curvo_errf(errmsg, "%s: cannot open the checkpoint: %s", label, strerror(errno));
        return CURVO_E_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        curvo_errf(errmsg, "%s: cannot read the checkpoint: %s", label, strerror(errno));
        fclose(f);
        return CURVO_E_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        curvo_errf(errmsg, "%s: cannot read the checkpoint: %s", label,
                S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
        fclose(f);
        return CURVO_E_IO;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    /* Judge magic and version from the first bytes before allocating for the whole file. */
    unsigned char head[12];
    size_t nh = fsize < sizeof head ? (size_t)fsize : sizeof head;
    if (fread(head, 1, nh, f) != nh) {
        curvo_errf(errmsg, "%s: cannot read the checkpoint: %s", label,
                ferror(f) ? strerror(errno) : "it shrank while being read");
        fclose(f);
        return CURVO_E_IO;
    }
    uint32_t version = 0;
    int id = check_ident(head, nh, &version);
    if (id == ID_NOT || id == ID_VERSION) {
        fclose(f);
        return ident_error(id, version, label, errmsg);
    }
    if (fsize > CKPT_MAX_FILE_SIZE || fsize > SIZE_MAX) {
        curvo_errf(errmsg, "%s: file of %llu bytes is larger than a checkpoint may be (%llu bytes)",
                label, (unsigned long long)fsize, (unsigned long long)CKPT_MAX_FILE_SIZE);
        fclose(f);
        return CURVO_E_FORMAT;
    }
    size_t size = (size_t)fsize;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        curvo_errf(errmsg, "%s: out of memory for a checkpoint of %zu bytes", label, size);
        fclose(f);
        return CURVO_E_NOMEM;
    }
    if (nh) memcpy(buf, head, nh);
    if (size > nh && fread(buf + nh, 1, size - nh, f) != size - nh) {
        curvo_errf(errmsg, "%s: cannot read the checkpoint: %s", label,
                ferror(f) ? strerror(errno) : "it shrank while being read");
        free(buf);
        fclose(f);
        return CURVO_E_IO;
    }
    fclose(f);
    return parse(buf, size, label, out, errmsg);
}

const char *ckpt_errmsg(const ckpt_reader *r) { return r ? r->errmsg : ""; }

size_t ckpt_num_sections(const ckpt_reader *r) { return r ? r->n : 0; }

const char *ckpt_section_name(const ckpt_reader *r, size_t i) {
    return r && i < r->n ? r->secs[i].name : NULL;
}

static int cmp_key(const void *key, const void *elem) {
    return strcmp(key, (*(rsection *const *)elem)->name);
}

static rsection *find(const ckpt_reader *r, const char *name) {
    if (r->n == 0) return NULL;
    rsection **hit = bsearch(name, r->sorted, r->n, sizeof *r->sorted, cmp_key);
    return hit ? *hit : NULL;
}

int ckpt_get(const ckpt_reader *r, const char *name, const void **data, size_t *len) {
    if (!r || !name || !data || !len) return CURVO_E_INVALID;
    const rsection *s = find(r, name);
    if (!s) {
        curvo_errf(r->errmsg, "%s: no section '%.64s'", r->label, name);
        return CURVO_E_FORMAT;
    }
    *data = s->data;
    *len = s->len;
    return CURVO_OK;
}

/* The section's bytes when it holds exactly n values of es bytes. */
static int get_exact(const ckpt_reader *r, const char *name, size_t n, size_t es,
                     const unsigned char **data) {
    const void *p;
    size_t len;
    int rc = ckpt_get(r, name, &p, &len);
    if (rc != CURVO_OK) return rc;
    if (n > SIZE_MAX / es || len != n * es) {
        curvo_errf(r->errmsg, "%s: section '%s' has %zu bytes, expected %zu value%s of %zu bytes",
                r->label, name, len, n, n == 1 ? "" : "s", es);
        return CURVO_E_FORMAT;
    }
    *data = p;
    return CURVO_OK;
}

int ckpt_get_u64(const ckpt_reader *r, const char *name, uint64_t *v) {
    if (!v) return CURVO_E_INVALID;
    const unsigned char *p;
    int rc = get_exact(r, name, 1, 8, &p);
    if (rc == CURVO_OK) *v = ld64(p);
    return rc;
}

int ckpt_get_f64(const ckpt_reader *r, const char *name, double *v) {
    if (!v) return CURVO_E_INVALID;
    uint64_t bits;
    int rc = ckpt_get_u64(r, name, &bits);
    if (rc == CURVO_OK) memcpy(v, &bits, 8);
    return rc;
}

int ckpt_get_str(const ckpt_reader *r, const char *name, const char **s) {
    if (!r || !name || !s) return CURVO_E_INVALID;
    rsection *sec = find(r, name);
    if (!sec) {
        curvo_errf(r->errmsg, "%s: no section '%.64s'", r->label, name);
        return CURVO_E_FORMAT;
    }
    if (!sec->str) {
        if (sec->len > 0 && memchr(sec->data, '\0', sec->len)) {
            curvo_errf(r->errmsg, "%s: section '%s' is not a string (it holds a NUL byte)", r->label,
                    sec->name);
            return CURVO_E_FORMAT;
        }
        char *copy = malloc(sec->len + 1);
        if (!copy) return CURVO_E_NOMEM;
        if (sec->len > 0) memcpy(copy, sec->data, sec->len);
        copy[sec->len] = '\0';
        sec->str = copy;
    }
    *s = sec->str;
    return CURVO_OK;
}

/* n values of es (4 or 8) bytes from little-endian storage into out. */
static int get_array(const ckpt_reader *r, const char *name, void *out, size_t n, size_t es) {
    if (!out && n > 0) return CURVO_E_INVALID;
    const unsigned char *p;
    int rc = get_exact(r, name, n, es, &p);
    if (rc != CURVO_OK) return rc;
    unsigned char *dst = out;
    for (size_t i = 0; i < n; i++) {
        if (es == 4) {
            uint32_t x = ld32(p + 4 * i);
            memcpy(dst + 4 * i, &x, 4);
        } else {
            uint64_t x = ld64(p + 8 * i);
            memcpy(dst + 8 * i, &x, 8);
        }
    }
    return CURVO_OK;
}

int ckpt_get_f32s(const ckpt_reader *r, const char *name, float *out, size_t n) {
    return get_array(r, name, out, n, 4);
}
int ckpt_get_f64s(const ckpt_reader *r, const char *name, double *out, size_t n) {
    return get_array(r, name, out, n, 8);
}
int ckpt_get_u32s(const ckpt_reader *r, const char *name, uint32_t *out, size_t n) {
    return get_array(r, name, out, n, 4);
}
int ckpt_get_u64s(const ckpt_reader *r, const char *name, uint64_t *out, size_t n) {
    return get_array(r, name, out, n, 8);
}
