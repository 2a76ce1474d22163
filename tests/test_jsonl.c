/* test_jsonl.c — the JSON Lines reader of the CLI (cli/jsonl.c): every value type and escape of a
 * flat object is decoded, malformed lines are rejected with a reason and a column, and the line
 * reader skips blank lines, numbers lines, and rejects overlong lines and NUL bytes. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, unlink */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"
#include "testutil.h"

static jsonl_object obj;
static char err[JSONL_ERRLEN];

static int parse(const char *line) { return jsonl_parse(line, strlen(line), &obj, err, sizeof err); }

static void test_values(void) {
    TU_CHECK(parse(" {\"event\" : \"eval\",\"n\":-12.5e-1, \"z\":0,\"t\":true,\"f\":false,\"x\":null,"
                   "\"big\":1E+2}\r") == 0,
             "valid line rejected: %s", err);
    TU_CHECK(obj.n == 7, "%d fields", obj.n);
    TU_CHECK(jsonl_str(&obj, "event") && !strcmp(jsonl_str(&obj, "event"), "eval"), "event");
    TU_CHECK(jsonl_num(&obj, "n") == -1.25, "n = %g", jsonl_num(&obj, "n"));
    TU_CHECK(jsonl_num(&obj, "z") == 0 && jsonl_num(&obj, "big") == 100, "z, big");
    TU_CHECK(isnan(jsonl_num(&obj, "x")), "null is NaN");
    TU_CHECK(isnan(jsonl_num(&obj, "absent")) && !jsonl_str(&obj, "absent") && !jsonl_get(&obj, "absent"), "absent");
    TU_CHECK(isnan(jsonl_num(&obj, "event")) && !jsonl_str(&obj, "n"), "type mismatch");
    const jsonl_field *t = jsonl_get(&obj, "t"), *f = jsonl_get(&obj, "f"), *x = jsonl_get(&obj, "x");
    TU_CHECK(t && t->type == JSONL_BOOL && t->num == 1 && f && f->type == JSONL_BOOL && f->num == 0, "booleans");
    TU_CHECK(x && x->type == JSONL_NULL, "null");
    TU_CHECK(parse("{}") == 0 && obj.n == 0, "empty object");
}

static void test_strings(void) {
    TU_CHECK(parse("{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\\ud800x\",\"k\\u0041\":\"caf\xc3\xa9\"}") == 0,
             "escapes rejected: %s", err);
    const char *s = jsonl_str(&obj, "s");
    TU_CHECK(s && !strcmp(s, "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx"), "decoded '%s'", s ? s : "(null)");
    TU_CHECK(jsonl_str(&obj, "kA") && !strcmp(jsonl_str(&obj, "kA"), "caf\xc3\xa9"), "escaped key, raw UTF-8");
}

static void rejects(const char *line, const char *reason) {
    int rc = parse(line);
    TU_CHECK(rc == -1, "accepted: %s", line);
    TU_CHECK(rc == 0 || strstr(err, reason), "'%s': error '%s' lacks '%s'", line, err, reason);
    TU_CHECK(rc == 0 || strstr(err, "column") || strstr(err, "memory"), "'%s': no column in '%s'", line, err);
}

static void test_malformed(void) {
    rejects("", "not a JSON object");
    rejects("[1,2]", "not a JSON object");
    rejects("{\"a\":{\"b\":1}}", "nested");
    rejects("{\"a\":[1]}", "nested");
    rejects("{\"a\":1,\"a\":2}", "duplicate key");
    rejects("{\"a\" 1}", "expected ':'");
    rejects("{\"a\":1,}", "expected a key");
    rejects("{a:1}", "expected a key");
    rejects("{\"a\":1} x", "after the object");
    rejects("{\"a\":1", "unterminated object");
    rejects("{\"a\":1 \"b\":2}", "expected ','");
    rejects("{\"a\":\"xyz}", "unterminated string");
    rejects("{\"a\":\"x\ty\"}", "control character");
    rejects("{\"a\":\"\\x\"}", "invalid escape");
    rejects("{\"a\":\"\\u12\"}", "\\u escape");
    rejects("{\"a\":\"\xff\"}", "UTF-8");
    rejects("{\"a\":\"\xc3\"}", "UTF-8");
    rejects("{\"a\":\"\xed\xa0\x80\"}", "UTF-8"); /* an encoded surrogate */
    rejects("{\"a\":}", "invalid value");
    rejects("{\"a\":tru}", "invalid value");
    rejects("{\"a\":NaN}", "invalid value");
    rejects("{\"a\":Infinity}", "invalid value");
    rejects("{\"a\":+1}", "invalid value");
    rejects("{\"a\":01}", "expected ','");
    rejects("{\"a\":1.}", "digits expected after '.'");
    rejects("{\"a\":.5}", "invalid value");
    rejects("{\"a\":1e}", "exponent");
    rejects("{\"a\":1e999}", "out of range");
    rejects("{\"a\":1}}", "after the object");
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void test_reader(void) {
    char path[] = "/tmp/curvo-test-jsonl-XXXXXX";
    int fd = mkstemp(path);
    TU_CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    close(fd);
    jsonl_reader r;
    char e[JSONL_ERRLEN];

    /* Blank lines skipped, CRLF accepted, the last line without a newline read, line numbers kept */
    const char *text = "{\"a\":1}\r\n\n  \t\n{\"a\":2}\n{\"a\":3 oops}\n{\"a\":4}";
    write_file(path, text, strlen(text));
    TU_CHECK(jsonl_open(&r, path, e, sizeof e) == 0, "open: %s", e);
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == 1 && jsonl_num(&obj, "a") == 1 && r.line == 1, "line 1");
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == 1 && jsonl_num(&obj, "a") == 2 && r.line == 4, "line 4");
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == -1, "line 5 accepted");
    char want[128];
    snprintf(want, sizeof want, "%s:5: expected ',' or '}' at column 8", path);
    TU_CHECK(!strcmp(e, want), "error '%s', expected '%s'", e, want);
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == 1 && jsonl_num(&obj, "a") == 4 && r.line == 6, "line 6");
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == 0, "end of file");
    jsonl_close(&r);

    /* A line over the limit is one error, and reading goes on after it */
    size_t n = JSONL_MAX_LINE + 100;
    char *big = malloc(n + 16);
    TU_CHECK(big != NULL, "malloc");
    if (big) {
        memset(big, ' ', n);
        memcpy(big + n, "\n{\"b\":5}\n", 9);
        write_file(path, big, n + 9);
        free(big);
        TU_CHECK(jsonl_open(&r, path, e, sizeof e) == 0, "open: %s", e);
        TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == -1 && strstr(e, ":1: line longer than"), "long line: %s", e);
        TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == 1 && jsonl_num(&obj, "b") == 5 && r.line == 2, "after it");
        jsonl_close(&r);
    }

    /* A NUL byte */
    write_file(path, "{\"a\":\0}\n", 8);
    TU_CHECK(jsonl_open(&r, path, e, sizeof e) == 0, "open: %s", e);
    TU_CHECK(jsonl_next(&r, &obj, e, sizeof e) == -1 && strstr(e, ":1: NUL byte"), "NUL: %s", e);
    jsonl_close(&r);

    /* An empty file; a missing one; a directory */
    write_file(path, "", 0);
    TU_CHECK(jsonl_open(&r, path, e, sizeof e) == 0 && jsonl_next(&r, &obj, e, sizeof e) == 0, "empty file");
    jsonl_close(&r);
    unlink(path);
    TU_CHECK(jsonl_open(&r, path, e, sizeof e) == -1 && strstr(e, path) && strstr(e, "No such file"), "missing: %s", e);
    TU_CHECK(jsonl_open(&r, "/tmp", e, sizeof e) == -1 && strstr(e, "directory"), "directory: %s", e);
}

int main(void) {
    test_values();
    test_strings();
    test_malformed();
    test_reader();
    jsonl_free(&obj);
    return tu_finish("test_jsonl");
}
