/* jsonl.c — a reader for JSON Lines files of flat objects (see jsonl.h): a strict parser of one
 * object per line (RFC 8259 numbers, strings with every escape, UTF-8 checked) and a line reader
 * with a length limit. Errors name the file, the line and, for syntax errors, the column. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include "jsonl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *s, *end, *start; /* the line [start, end) and the cursor s */
    char *out;                   /* next free byte of obj->text */
    char *err;
    size_t errlen;
} parser;

static int fail(parser *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < p->errlen)
        snprintf(p->err + n, p->errlen - (size_t)n, " at column %ld", (long)(p->s - p->start) + 1);
    return -1;
}

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n')) p->s++;
}

static int hex4(const char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

static void put_utf8(parser *p, unsigned cp) {
    unsigned char *o = (unsigned char *)p->out;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    p->out = (char *)o;
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0. */
static int utf8_len(const unsigned char *s, ptrdiff_t avail) {
    unsigned c = s[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* A string starting at the opening quote, decoded into p->out and NUL-terminated. */
static int parse_string(parser *p, const char **value) {
    p->s++; /* the opening quote */
    *value = p->out;
    for (;;) {
        if (p->s >= p->end) return fail(p, "unterminated string");
        unsigned char c = (unsigned char)*p->s;
        if (c == '"') {
            p->s++;
            *p->out++ = '\0';
            return 0;
        }
        if (c < 0x20) return fail(p, "control character 0x%02x in a string (must be escaped)", c);
        if (c != '\\') {
            int n = utf8_len((const unsigned char *)p->s, p->end - p->s);
            if (!n) return fail(p, "invalid UTF-8 in a string");
            memcpy(p->out, p->s, (size_t)n);
            p->out += n;
            p->s += n;
            continue;
        }
        if (p->s + 1 >= p->end) return fail(p, "unterminated string");
        char e = p->s[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            *p->out++ = decoded[simple - "\"\\/bfnrt"];
            p->s += 2;
            continue;
        }
        if (e != 'u') return fail(p, "invalid escape '\\%c' in a string", e ? e : '0');
        unsigned cp, lo;
        if (p->end - p->s < 6 || !hex4(p->s + 2, &cp)) return fail(p, "invalid \\u escape (four hex digits expected)");
        p->s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u' &&
            hex4(p->s + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p->s += 6;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD; /* a lone surrogate: tolerated, replaced */
        }
        put_utf8(p, cp);
    }
}

/* An RFC 8259 number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(parser *p, double *v) {
    const char *s = p->s, *b = s;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || *s < '0' || *s > '9') return fail(p, "invalid value (expected a string, number, true, false or null)");
    if (*s == '0') s++;
    else
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    if (s < p->end && *s == '.') {
        s++;
        if (s >= p->end || *s < '0' || *s > '9') return fail(p, "invalid number (digits expected after '.')");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') return fail(p, "invalid number (digits expected in the exponent)");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    char buf[512];
    size_t n = (size_t)(s - b);
    if (n >= sizeof buf) return fail(p, "number too long");
    memcpy(buf, b, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    if (!isfinite(*v)) return fail(p, "number out of range");
    p->s = s;
    return 0;
}

static int literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n)) return 0;
    p->s += n;
    return 1;
}

int jsonl_parse(const char *line, size_t len, jsonl_object *obj, char *err, size_t errlen) {
    parser p = {line, line + len, line, NULL, err, errlen};
    /* Decoded strings never outgrow their quoted source, so len + 1 bytes hold them all. */
    if (obj->text_cap < len + 1) {
        char *t = realloc(obj->text, len + 1);
        if (!t) return snprintf(err, errlen, "out of memory"), -1;
        obj->text = t;
        obj->text_cap = len + 1;
    }
    obj->n = 0;
    p.out = obj->text;
    skip_ws(&p);
    if (p.s >= p.end || *p.s != '{') return fail(&p, "not a JSON object (expected '{')");
    p.s++;
    skip_ws(&p);
    if (p.s < p.end && *p.s == '}') {
        p.s++;
    } else {
        for (;;) {
            skip_ws(&p);
            if (p.s >= p.end || *p.s != '"') return fail(&p, "expected a key in double quotes");
            const char *key;
            if (parse_string(&p, &key)) return -1;
            if (jsonl_get(obj, key)) return fail(&p, "duplicate key \"%.64s\"", key);
            skip_ws(&p);
            if (p.s >= p.end || *p.s != ':') return fail(&p, "expected ':' after key \"%.64s\"", key);
            p.s++;
            skip_ws(&p);
            if (obj->n == obj->cap) {
                int cap = obj->cap ? 2 * obj->cap : 32;
                jsonl_field *f = realloc(obj->fields, (size_t)cap * sizeof *f);
                if (!f) return snprintf(err, errlen, "out of memory"), -1;
                obj->fields = f;
                obj->cap = cap;
            }
            jsonl_field *f = &obj->fields[obj->n];
            *f = (jsonl_field){key, JSONL_NULL, NAN, NULL};
            if (p.s >= p.end) return fail(&p, "missing value for key \"%.64s\"", key);
            if (*p.s == '"') {
                f->type = JSONL_STRING;
                if (parse_string(&p, &f->str)) return -1;
            } else if (*p.s == '{' || *p.s == '[') {
                return fail(&p, "nested objects and arrays are not supported (key \"%.64s\")", key);
            } else if (literal(&p, "true")) {
                f->type = JSONL_BOOL, f->num = 1;
            } else if (literal(&p, "false")) {
                f->type = JSONL_BOOL, f->num = 0;
            } else if (literal(&p, "null")) {
                f->type = JSONL_NULL;
            } else {
                f->type = JSONL_NUMBER;
                if (parse_number(&p, &f->num)) return -1;
            }
            obj->n++;
            skip_ws(&p);
            if (p.s < p.end && *p.s == ',') {
                p.s++;
                continue;
            }
            if (p.s < p.end && *p.s == '}') {
                p.s++;
                break;
            }
            return fail(&p, p.s < p.end ? "expected ',' or '}'" : "unterminated object (missing '}')");
        }
    }
    skip_ws(&p);
    if (p.s < p.end) return fail(&p, "unexpected characters after the object");
    return 0;
}

const jsonl_field *jsonl_get(const jsonl_object *obj, const char *key) {
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->fields[i].key, key)) return &obj->fields[i];
    return NULL;
}

double jsonl_num(const jsonl_object *obj, const char *key) {
    const jsonl_field *f = jsonl_get(obj, key);
    return f && f->type == JSONL_NUMBER ? f->num : NAN;
}

const char *jsonl_str(const jsonl_object *obj, const char *key) {
    const jsonl_field *f = jsonl_get(obj, key);
    return f && f->type == JSONL_STRING ? f->str : NULL;
}

void jsonl_free(jsonl_object *obj) {
    free(obj->fields);
    free(obj->text);
    *obj = (jsonl_object){0};
}

int jsonl_open(jsonl_reader *r, const char *path, char *err, size_t errlen) {
    *r = (jsonl_reader){0};
    r->path = path;
    if (!(r->f = fopen(path, "rb"))) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a log file", path);
        fclose(r->f);
        r->f = NULL;
        return -1;
    }
    if (!(r->buf = malloc(JSONL_MAX_LINE + 1))) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(r->f);
        r->f = NULL;
        return -1;
    }
    return 0;
}

int jsonl_next(jsonl_reader *r, jsonl_object *obj, char *err, size_t errlen) {
    for (;;) {
        size_t n = 0;
        int c, blank = 1, nul = 0;
        while ((c = getc(r->f)) != EOF && c != '\n') {
            if (n == JSONL_MAX_LINE) { /* too long: skip the rest of the line, then report it */
                while ((c = getc(r->f)) != EOF && c != '\n') {}
                r->line++;
                snprintf(err, errlen, "%s:%ld: line longer than %d bytes", r->path, r->line, JSONL_MAX_LINE);
                return -1;
            }
            if (c == 0) nul = 1;
            if (c != ' ' && c != '\t' && c != '\r') blank = 0;
            r->buf[n++] = (char)c;
        }
        if (ferror(r->f)) {
            snprintf(err, errlen, "%s:%ld: read error: %s", r->path, r->line + 1, strerror(errno));
            return -1;
        }
        if (c == EOF && n == 0) return 0;
        r->line++;
        if (nul) {
            snprintf(err, errlen, "%s:%ld: NUL byte in the line (not a text log)", r->path, r->line);
            return -1;
        }
        if (blank) continue;
        r->buf[n] = '\0';
        char msg[JSONL_ERRLEN];
        if (jsonl_parse(r->buf, n, obj, msg, sizeof msg)) {
            snprintf(err, errlen, "%s:%ld: %s", r->path, r->line, msg);
            return -1;
        }
        return 1;
    }
}

void jsonl_close(jsonl_reader *r) {
    if (r->f) fclose(r->f);
    free(r->buf);
    *r = (jsonl_reader){0};
}
