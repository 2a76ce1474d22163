/* ckpt.h — the checkpoint container (internal): a versioned file of named binary sections with a
 * CRC32, written atomically. It knows nothing of models or optimizers; the trainer stores the model
 * spec, parameters, optimizer state, RNG state, epoch/step and data order as sections.
 *
 * File format (version 1); every integer little-endian, written byte by byte:
 *   "CURVOCKP"                 8 bytes, magic
 *   u32 format version         1
 *   u32 section count          at most CKPT_MAX_SECTIONS
 *   u64 file length            total bytes of the file, CRC included
 *   per section, in the order they were put:
 *     u16 name length          1..CKPT_NAME_MAX
 *     name bytes               printable ASCII without space (0x21..0x7e), unique in the file
 *     u64 data length
 *     data bytes
 *   u32 CRC32                  zlib's crc32() of every preceding byte
 * The file length field lets the reader tell a truncated file ("truncated") from a damaged one
 * ("checksum mismatch"). Magic and version stay at offsets 0 and 8 in every future version.
 *
 * Typed values (_u64, _f64, and the _f32s/_f64s/_u32s/_u64s arrays) are stored little-endian, so a
 * checkpoint moves between machines; ckpt_put stores raw bytes as given.
 *
 * Errors: CURVO_E_INVALID for bad arguments (NULL, a bad or duplicate name, too much data),
 * CURVO_E_NOMEM, CURVO_E_IO when a file cannot be read or written, CURVO_E_FORMAT when its contents
 * are not a valid checkpoint or a section is absent or of the wrong size. Messages go to the
 * caller's errmsg (CURVO_ERRMSG_LEN bytes, may be NULL) or to the handle (ckpt_writer_errmsg,
 * ckpt_errmsg). Nothing prints. */
#ifndef CURVO_IO_CKPT_H
#define CURVO_IO_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "curvo.h"

#define CKPT_FORMAT_VERSION 1
#define CKPT_NAME_MAX 64                          /* bytes in a section name */
#define CKPT_MAX_SECTIONS 65536
#define CKPT_MAX_FILE_SIZE ((uint64_t)16 << 30)  /* 16 GiB: larger files are refused */

/* ---------------------------------------------------------------- writing */
typedef struct ckpt_writer ckpt_writer;

int ckpt_writer_create(ckpt_writer **out);
void ckpt_writer_free(ckpt_writer *w);
/* The message of the writer's last failed put ("" if none), e.g. "section 'step' is already
 * present"; it carries no prefix, the caller adds its own context. */
const char *ckpt_writer_errmsg(const ckpt_writer *w);

/* Adds a section holding a copy of len bytes (data may be NULL when len is 0). Names are 1..64
 * bytes of printable ASCII without space and unique within the writer; a bad or repeated name, more
 * than CKPT_MAX_SECTIONS sections or more than CKPT_MAX_FILE_SIZE in all is CURVO_E_INVALID. */
int ckpt_put(ckpt_writer *w, const char *name, const void *data, size_t len);
int ckpt_put_u64(ckpt_writer *w, const char *name, uint64_t v);     /* 8 bytes */
int ckpt_put_f64(ckpt_writer *w, const char *name, double v);       /* 8 bytes, IEEE-754 bits */
int ckpt_put_str(ckpt_writer *w, const char *name, const char *s);  /* strlen(s) bytes, no NUL */
/* Arrays of n values (v may be NULL when n is 0): 4 or 8 bytes each. */
int ckpt_put_f32s(ckpt_writer *w, const char *name, const float *v, size_t n);
int ckpt_put_f64s(ckpt_writer *w, const char *name, const double *v, size_t n);
int ckpt_put_u32s(ckpt_writer *w, const char *name, const uint32_t *v, size_t n);
int ckpt_put_u64s(ckpt_writer *w, const char *name, const uint64_t *v, size_t n);

/* Writes every section put so far to path, atomically: the file goes to path.tmp.<host>.<pid> in
 * the same directory, is flushed and fsync'ed, renamed over path, and the directory is fsync'ed.
 * Temporary files of this path that commits killed mid-write left behind are removed first: those
 * named with this host whose process is gone (kill(pid, 0) fails with ESRCH); a live process's
 * and another host's are left alone. On failure
 * (CURVO_E_IO, with the path and the system's reason in errmsg) the temporary file is removed and
 * an existing file at path is left untouched; the one exception is a failed fsync of the directory
 * after the rename, where path already holds the new checkpoint (errmsg says so). The writer stays
 * valid and can be committed again. Not for concurrent commits to one path from one process. */
int ckpt_commit(ckpt_writer *w, const char *path, char *errmsg);

/* ---------------------------------------------------------------- reading */
typedef struct ckpt_reader ckpt_reader;

/* Reads the whole file and checks magic, format version, length, CRC and the section table.
 * CURVO_E_IO if it cannot be read (missing, a directory, a read error); CURVO_E_FORMAT with one of
 * these messages (after "PATH: ") otherwise:
 *   "not a curvo checkpoint"
 *   "checkpoint format version 7, this curvo reads version 1"
 *   "truncated checkpoint (... bytes)"
 *   "checksum mismatch: the file is corrupt"
 *   "file of N bytes is larger than ..." / "corrupt section table: ..." (a file with a valid CRC
 *   whose contents are inconsistent, i.e. made by something other than ckpt_commit)
 * A hostile file never makes the reader read out of bounds or allocate more than the file's size
 * plus a table bounded by CKPT_MAX_SECTIONS. */
int ckpt_open(const char *path, ckpt_reader **out, char *errmsg);
/* The same checks on a checkpoint image in memory (copied); label stands for the path in messages
 * (NULL: "checkpoint"). For tests and fuzzing. */
int ckpt_open_mem(const void *data, size_t size, const char *label, ckpt_reader **out,
                  char *errmsg);
void ckpt_close(ckpt_reader *r);

/* Getters return CURVO_E_FORMAT, with a message in ckpt_errmsg(r), when the section is absent or
 * its length does not fit the type. A reader's getters must not run concurrently (they record the
 * message and cache strings). */
const char *ckpt_errmsg(const ckpt_reader *r);
/* The section's bytes, valid while the reader lives (*data is NULL when *len is 0). */
int ckpt_get(const ckpt_reader *r, const char *name, const void **data, size_t *len);
int ckpt_get_u64(const ckpt_reader *r, const char *name, uint64_t *v);
int ckpt_get_f64(const ckpt_reader *r, const char *name, double *v);
/* A NUL-terminated copy, valid while the reader lives; a section holding a NUL byte is
 * CURVO_E_FORMAT. */
int ckpt_get_str(const ckpt_reader *r, const char *name, const char **s);
/* Exactly n values into out (n * 4 or n * 8 bytes in the section, else CURVO_E_FORMAT). */
int ckpt_get_f32s(const ckpt_reader *r, const char *name, float *out, size_t n);
int ckpt_get_f64s(const ckpt_reader *r, const char *name, double *out, size_t n);
int ckpt_get_u32s(const ckpt_reader *r, const char *name, uint32_t *out, size_t n);
int ckpt_get_u64s(const ckpt_reader *r, const char *name, uint64_t *out, size_t n);

/* Sections in file order, for listing. */
size_t ckpt_num_sections(const ckpt_reader *r);
const char *ckpt_section_name(const ckpt_reader *r, size_t i); /* NULL if i is out of range */

#endif
