/*
 * libFuzzer harness for web/jsl_parser.c, the console's JSL statement parser. The input is
 * the source text (any bytes). Work area and output are allocated at exactly the sizes the
 * parser asks for, so ASan sees any write past them, and the harness aborts when:
 *   - the snprintf-like contract breaks: the sizing call and the real call disagree, the
 *     text is not NUL-terminated at the returned length, or a cut output is not a prefix
 *     of the whole one;
 *   - the output is not JSON of one of the two documented shapes, {"statements":[...]}
 *     with err->column 0, or {"error":{"column":N,"message":"..."}} agreeing with err;
 *   - a work area one node short of jsl_work_size() makes it write past the area (ASan)
 *     or answer differently than -ENOBUFS or the same text;
 *   - two parses of the same source differ (no hidden state).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsl_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_jsl: %s\n", what);
    abort();
}

/* Parses into an exact-size buffer; returns the malloc'ed text and fills *err. */
static char *parse_exact(const char *src, size_t len, void *work, size_t work_size,
                         struct jsl_error *err, long *rc_out)
{
    long need = jsl_parse(src, len, work, work_size, NULL, 0, NULL);
    *rc_out = need;
    if (need < 0)
        return NULL;
    char *out = malloc((size_t)need + 1);
    if (!out)
        return NULL;
    long rc = jsl_parse(src, len, work, work_size, out, (size_t)need + 1, err);
    if (rc != need)
        fail("the sizing call and the real call return different lengths");
    if (strlen(out) != (size_t)need)
        fail("the text is not NUL-terminated at the returned length");
    return out;
}

/* Code points in the source, as the parser counts columns (UTF-8 lead bytes). */
static size_t code_points(const uint8_t *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (s[i] & 0xC0) != 0x80;
    return n;
}

static void check_shape(const char *json, const struct jsl_error *err, const uint8_t *src,
                        size_t len)
{
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root))
        fail("the output is not a JSON object");
    const cJSON *stmts = cJSON_GetObjectItemCaseSensitive(root, "statements");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if ((stmts != NULL) == (error != NULL))
        fail("the output has neither or both of statements and error");
    if (stmts) {
        if (!cJSON_IsArray(stmts))
            fail("statements is not an array");
        if (err->column != 0)
            fail("a parsed source reports an error column");
        const cJSON *st;
        cJSON_ArrayForEach(st, stmts) {
            if (!cJSON_IsObject(st) || !cJSON_IsNumber(cJSON_GetObjectItem(st, "col")) ||
                !cJSON_IsString(cJSON_GetObjectItem(st, "text")) ||
                !cJSON_IsObject(cJSON_GetObjectItem(st, "expr")))
                fail("a statement lacks col, text or expr");
        }
    } else {
        const cJSON *col = cJSON_GetObjectItemCaseSensitive(error, "column");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
        if (!cJSON_IsNumber(col) || !cJSON_IsString(msg))
            fail("error lacks column or message");
        if (err->column == 0 || (double)err->column != col->valuedouble)
            fail("err->column disagrees with the JSON");
        if (err->column > code_points(src, len) + 1 && err->column > len + 1)
            fail("the error column is past the end of the source");
        if (strcmp(err->message, msg->valuestring) != 0)
            fail("err->message disagrees with the JSON");
        if (!memchr(err->message, '\0', sizeof(err->message)) || err->message[0] == '\0')
            fail("err->message empty or not terminated");
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    size_t work_size = jsl_work_size(size);
    void *work = malloc(work_size ? work_size : 1);
    if (!work)
        return 0;
    struct jsl_error err = {.column = 77};
    long rc;
    char *json = parse_exact(src, size, work, work_size, &err, &rc);
    if (size > JSL_MAX_SOURCE) {
        if (rc != -E2BIG)
            fail("an oversized source is not -E2BIG");
        free(work);
        free(json);
        return 0;
    }
    if (rc < 0 || !json)
        fail("a source within the limits did not parse to text");
    check_shape(json, &err, data, size);

    /* Same source again: same text. */
    struct jsl_error err2;
    long rc2;
    char *again = parse_exact(src, size, work, work_size, &err2, &rc2);
    if (!again || rc2 != rc || strcmp(again, json) != 0 || err2.column != err.column)
        fail("two parses of the same source differ");
    free(again);

    /* Cut output: a NUL-terminated prefix, and the same full length returned. */
    size_t caps[] = {1, 2, (size_t)rc / 2 + 1, (size_t)rc};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t cap = caps[i];
        if (cap > (size_t)rc)
            continue;
        char *cut = malloc(cap);
        if (!cut)
            break;
        long r = jsl_parse(src, size, work, work_size, cut, cap, NULL);
        if (r != rc)
            fail("a cut output changed the returned length");
        if (strlen(cut) != cap - 1 || memcmp(cut, json, cap - 1) != 0)
            fail("a cut output is not a prefix of the whole text");
        free(cut);
    }
    free(work);

    /* A work area one node short: -ENOBUFS or the same answer, never a write past it. */
    /* The node type is private; its size is what one more source byte adds, halved
     * (two nodes per byte). Falls back to one byte short when that is not exact. */
    size_t step = jsl_work_size(1) - jsl_work_size(0);
    size_t node = step % 2 == 0 && step > 0 ? step / 2 : 1;
    if (work_size >= node) {
        size_t small_size = work_size - node;
        void *small = malloc(small_size ? small_size : 1);
        if (small) {
            char *out = malloc((size_t)rc + 1);
            if (out) {
                long r = jsl_parse(src, size, small, small_size, out, (size_t)rc + 1, NULL);
                if (r != -ENOBUFS && (r != rc || strcmp(out, json) != 0))
                    fail("a smaller work area gave another answer than -ENOBUFS");
                free(out);
            }
            free(small);
        }
    }
    free(json);
    return 0;
}
