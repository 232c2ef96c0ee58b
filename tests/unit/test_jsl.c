/*
 * Unit tests of web/jsl_parser.c, the console's JSL parser, in its native build: every
 * vector of tests/web/jsl_vectors.json (which node also runs against the wasm build), the
 * snprintf-like sizing of the output, the limits, malformed UTF-8, and random input that
 * must always yield valid JSON. Run from the repository root, which holds the vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsl_parser.h"

#define VECTORS_PATH "tests/web/jsl_vectors.json"
#define VECTORS_MAX (1 << 20)

/* The result of one parse, in buffers of exactly the sizes the parser asks for, so that
 * the sanitizer build catches a write past either. */
struct parsed {
    long rc;              /* what jsl_parse returned */
    char *json;           /* the JSON text, NUL-terminated */
    struct jsl_error err; /* the error report */
};

static struct parsed parse_exact(const char *src, size_t len)
{
    struct parsed p = { 0, NULL, { 0, "" } };
    size_t work_size = jsl_work_size(len);
    void *work = malloc(work_size);
    long need;

    assert_non_null(work);
    need = jsl_parse(src, len, work, work_size, NULL, 0, NULL);
    assert_true(need > 0);
    p.json = malloc((size_t)need + 1);
    assert_non_null(p.json);
    p.rc = jsl_parse(src, len, work, work_size, p.json, (size_t)need + 1, &p.err);
    assert_int_equal(p.rc, need);
    assert_int_equal(strlen(p.json), (size_t)need);
    free(work);
    return p;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    buf = malloc(VECTORS_MAX + 1);
    assert_non_null(buf);
    n = fread(buf, 1, VECTORS_MAX, f);
    assert_true(n < VECTORS_MAX);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Each vector: the tree, or the error column and message, exactly. */
static void test_vectors(void **state)
{
    char *text = read_file(VECTORS_PATH);
    cJSON *doc = cJSON_Parse(text);
    const cJSON *vectors, *v;
    int count = 0;

    (void)state;
    assert_non_null(doc);
    vectors = cJSON_GetObjectItemCaseSensitive(doc, "vectors");
    assert_true(cJSON_IsArray(vectors));
    cJSON_ArrayForEach(v, vectors) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(v, "input");
        const cJSON *ast = cJSON_GetObjectItemCaseSensitive(v, "ast");
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(v, "error");
        struct parsed p;
        cJSON *got;

        assert_true(cJSON_IsString(name) && cJSON_IsString(input));
        assert_true((ast != NULL) != (error != NULL));
        p = parse_exact(input->valuestring, strlen(input->valuestring));
        got = cJSON_Parse(p.json);
        if (!got)
            fail_msg("%s: output is not JSON: %s", name->valuestring, p.json);
        if (ast) {
            if (!cJSON_Compare(got, ast, 1)) {
                char *want = cJSON_PrintUnformatted(ast);

                fail_msg("%s:\n  input %s\n  got   %s\n  want  %s", name->valuestring,
                         input->valuestring, p.json, want);
            }
            assert_int_equal(p.err.column, 0);
        } else {
            const cJSON *col = cJSON_GetObjectItemCaseSensitive(error, "column");
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");

            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(got, "error"), error, 1))
                fail_msg("%s:\n  input %s\n  got   %s", name->valuestring, input->valuestring,
                         p.json);
            assert_true(cJSON_IsNumber(col) && cJSON_IsString(msg));
            assert_int_equal(p.err.column, (size_t)col->valuedouble);
            assert_string_equal(p.err.message, msg->valuestring);
        }
        cJSON_Delete(got);
        free(p.json);
        count++;
    }
    assert_true(count >= 50);
    cJSON_Delete(doc);
    free(text);
}

/* Like snprintf: every capacity yields the same length and a NUL-terminated prefix. */
static void test_output_sizing(void **state)
{
    const char *src = "rc = s << recv(100); Show(rc[3], \"a\\!n\")";
    size_t len = strlen(src);
    struct parsed full = parse_exact(src, len);
    void *work = malloc(jsl_work_size(len));

    (void)state;
    assert_non_null(work);
    for (size_t cap = 0; cap <= (size_t)full.rc + 2; cap++) {
        char *out = malloc(cap ? cap : 1);
        long rc;

        assert_non_null(out);
        out[0] = 'X';
        rc = jsl_parse(src, len, work, jsl_work_size(len), cap ? out : NULL, cap, NULL);
        assert_int_equal(rc, full.rc);
        if (cap > 0) {
            size_t kept = cap - 1 < (size_t)rc ? cap - 1 : (size_t)rc;

            assert_int_equal(strlen(out), kept);
            assert_memory_equal(out, full.json, kept);
        }
        free(out);
    }
    free(work);
    free(full.json);
}

static void test_limits(void **state)
{
    static uint32_t work[64];
    char out[64];

    (void)state;
    assert_int_equal(jsl_parse("x", (size_t)JSL_MAX_SOURCE + 1, work, sizeof work, out,
                               sizeof out, NULL), -E2BIG);
    assert_int_equal(jsl_parse("abcdef", 6, work, jsl_work_size(6) - 1, out, sizeof out,
                               NULL), -ENOBUFS);
    assert_int_equal(jsl_parse("a", 1, (char *)work + 1, sizeof work - 1, out, sizeof out,
                               NULL), -ENOBUFS);
    assert_true(jsl_work_size((size_t)-1) >= jsl_work_size(JSL_MAX_SOURCE));
}

static void expect_error(const char *src, size_t len, size_t column, const char *message)
{
    struct parsed p = parse_exact(src, len);

    if (p.err.column != column || strcmp(p.err.message, message) != 0)
        fail_msg("%s: got column %zu, %s", message, p.err.column, p.json);
    free(p.json);
}

/* Bytes that are not UTF-8 are refused where they start; JSON output stays valid. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_error("x = \"\xff\"", 7, 6, "invalid UTF-8");
    expect_error("\"\xc0\x80\"", 4, 2, "invalid UTF-8");         /* overlong NUL */
    expect_error("\"\xed\xa0\x80\"", 5, 2, "invalid UTF-8");     /* a surrogate */
    expect_error("\"\xf4\x90\x80\x80\"", 6, 2, "invalid UTF-8"); /* past U+10FFFF */
    expect_error("\"\xc3\xa9\xe2\x82", 5, 3, "invalid UTF-8");   /* cut short */
    expect_error("x\0", 2, 2, "unexpected character U+0000");
}

/* A NUL inside a string is data, written as \u0000. */
static void test_nul_in_string(void **state)
{
    struct parsed p = parse_exact("\"a\0b\"", 5);

    (void)state;
    assert_int_equal(p.err.column, 0);
    assert_non_null(strstr(p.json, "\"value\":\"a\\u0000b\""));
    free(p.json);
}

/* Random sources built from JSL's tokens and some noise: the parser must never fail to
 * answer, never need more work area than promised, and always write valid JSON. */
static void test_random_sources(void **state)
{
    static const char *const pieces[] = {
        "s", "rc", "Socket", "Char To Blob", "Show", "<<", "recv", "send", "connect", "(",
        ")", "[", "]", ",", ";", "=", "-", "1", "2.5", ".5", "1e3", "\"x\"", "\"\\!n\"",
        "\"", "\\!", " ", "\n", "/*", "*/", "//", "\xc3\xa9", "@", "<", "FIONBIO", "DGRAM",
    };
    uint32_t seed = 0x12345678u;
    char src[256];

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        struct parsed p;
        cJSON *doc;

        while (len < 200) {
            const char *piece;
            size_t n;

            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            if (seed % 7 == 0 && len > 0)
                break;
            piece = pieces[seed % (sizeof pieces / sizeof pieces[0])];
            n = strlen(piece);
            memcpy(src + len, piece, n);
            len += n;
        }
        p = parse_exact(src, len);
        doc = cJSON_Parse(p.json);
        if (!doc)
            fail_msg("not JSON for %.*s: %s", (int)len, src, p.json);
        assert_true(cJSON_HasObjectItem(doc, "statements") != cJSON_HasObjectItem(doc, "error"));
        assert_null(strstr(p.json, "program too long"));
        cJSON_Delete(doc);
        free(p.json);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_output_sizing),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_random_sources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
