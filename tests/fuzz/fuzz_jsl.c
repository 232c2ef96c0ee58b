/*
 * libFuzzer harness for the console's JSL parser (web/jsl_*.c), over its whole grammar.
 * The input is the source text (any bytes); tests/fuzz/corpus/jsl and jsl.dict seed it
 * with scripts and JSL's tokens. Work area and output are allocated at exactly the sizes
 * the parser asks for, so ASan sees any write past them, and the harness aborts when:
 *   - the snprintf-like contract breaks: the sizing call and the real call disagree, the
 *     text is not NUL-terminated at the returned length, or a cut output is not a prefix
 *     of the whole one;
 *   - the output breaks the contract of web/README.md, as tests/unit/jsl_shape.h checks
 *     it: not JSON of one of its two shapes, a node of an unknown kind or with the wrong
 *     fields, a position out of the source or out of its parent, a line or column that
 *     does not match the offset, a message that is not UTF-8; or err disagrees with it;
 *   - the work area jsl_work_size promised was too small ("program too long"), or a
 *     smaller one is not refused;
 *   - two parses of the same source differ (no hidden state).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsl_parser.h"
#include "jsl_shape.h"

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

/* The output keeps the contract (tests/unit/jsl_shape.h), and err agrees with it. */
static void check_shape(const char *json, const struct jsl_error *err, const uint8_t *src,
                        size_t len)
{
    int is_error;
    const char *why = jsl_shape_check(json, (const char *)src, len, &is_error);

    if (why)
        fail(why);
    if (strcmp(err->message, "program too long") == 0)
        fail("the work area jsl_work_size promised was not enough");
    if (!is_error) {
        if (err->line != 0 || err->column != 0 || err->message[0] != '\0')
            fail("a parsed source reports an error in err");
        return;
    }
    cJSON *root = cJSON_Parse(json);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if ((double)err->line != cJSON_GetObjectItemCaseSensitive(error, "line")->valuedouble ||
        (double)err->column != cJSON_GetObjectItemCaseSensitive(error, "column")->valuedouble ||
        (double)err->offset != cJSON_GetObjectItemCaseSensitive(error, "offset")->valuedouble)
        fail("err's position disagrees with the JSON");
    if (strcmp(err->message, cJSON_GetObjectItemCaseSensitive(error, "message")->valuestring))
        fail("err->message disagrees with the JSON");
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
    if (!again || rc2 != rc || strcmp(again, json) != 0 || err2.line != err.line ||
        err2.column != err.column)
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

    /* A work area one byte short of jsl_work_size: refused, never written past. */
    if (work_size > 0) {
        void *small = malloc(work_size - 1 ? work_size - 1 : 1);
        if (small) {
            long r = jsl_parse(src, size, small, work_size - 1, NULL, 0, NULL);
            if (r != -ENOBUFS)
                fail("a work area smaller than jsl_work_size was not refused");
            free(small);
        }
    }
    free(json);
    return 0;
}
