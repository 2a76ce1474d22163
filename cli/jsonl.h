/* jsonl.h — a reader for JSON Lines files of flat objects, one {"key": value, ...} per line, as
 * curvo's metrics and benchmark logs are written (see docs/BENCHMARKS.md): values are strings,
 * numbers, true/false or null; nested objects and arrays are rejected. Every error is one line,
 * "FILE:LINE: reason". Used by `curvo plot`; it has no dependency beyond the C library. */
#ifndef CURVO_JSONL_H
#define CURVO_JSONL_H

#include <stddef.h>
#include <stdio.h>

/* Longest line accepted, newline excluded; a longer line is an error, not a crash or a split. */
#define JSONL_MAX_LINE 65536
/* Size of the error buffers the functions below write to. */
#define JSONL_ERRLEN 512

typedef enum { JSONL_NULL, JSONL_BOOL, JSONL_NUMBER, JSONL_STRING } jsonl_type;

typedef struct {
    const char *key; /* decoded, UTF-8, NUL-terminated; owned by the object */
    jsonl_type type;
    double num;      /* JSONL_NUMBER: the value; JSONL_BOOL: 0 or 1 */
    const char *str; /* JSONL_STRING: decoded, UTF-8, NUL-terminated (an escaped \u0000 ends it) */
} jsonl_field;

/* One parsed line. Zero-initialize it ({0}); each parse reuses its buffers; free with jsonl_free. */
typedef struct {
    jsonl_field *fields; /* (n) in the order of the line */
    int n, cap;
    char *text; /* decoded keys and strings */
    size_t text_cap;
} jsonl_object;

/* Parses one line (len bytes, no newline needed) into obj. 0 on success; -1 with a reason in
 * err (no file or line prefix) when the line is not one flat JSON object or has a key twice. */
int jsonl_parse(const char *line, size_t len, jsonl_object *obj, char *err, size_t errlen);
/* The field named key, or NULL. */
const jsonl_field *jsonl_get(const jsonl_object *obj, const char *key);
/* The number under key; NaN when the key is absent, null or not a number. */
double jsonl_num(const jsonl_object *obj, const char *key);
/* The string under key; NULL when the key is absent or not a string. */
const char *jsonl_str(const jsonl_object *obj, const char *key);
void jsonl_free(jsonl_object *obj);

/* A file read line by line. Blank lines (spaces, tabs, CR only) are skipped. */
typedef struct {
    FILE *f;
    const char *path;
    long line; /* number of the line last read, 1-based */
    char *buf; /* (JSONL_MAX_LINE + 1) */
} jsonl_reader;

/* 0, or -1 with "PATH: reason" in err. */
int jsonl_open(jsonl_reader *r, const char *path, char *err, size_t errlen);
/* 1 and the next object in obj; 0 at the end of the file; -1 with "PATH:LINE: reason" in err
 * (malformed JSON, a line over JSONL_MAX_LINE bytes, a NUL byte, a read error). */
int jsonl_next(jsonl_reader *r, jsonl_object *obj, char *err, size_t errlen);
void jsonl_close(jsonl_reader *r);

#endif
