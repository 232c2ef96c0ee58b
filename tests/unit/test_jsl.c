/*
 * Unit tests of the console's JSL parser (web/jsl_*.c) in its native build: every vector
 * of tests/web/jsl_vectors.json (which node also runs against the wasm build), the
 * contract's shape on all of them, the snprintf-like sizing of the output, the limits
 * (nesting, tree height, source size) at and past their edges, malformed UTF-8, and
 * random sources that must always yield valid output. Run from the repository root.
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
#include "jsl_shape.h"

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
    struct parsed p = { 0, NULL, { 0, 0, 0, "" } };
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

/* Parses, checks the output's shape, and returns it; fails the test on a broken shape. */
static struct parsed parse_checked(const char *src, size_t len)
{
    struct parsed p = parse_exact(src, len);
    int is_error;
    const char *why = jsl_shape_check(p.json, src, len, &is_error);

    if (why)
        fail_msg("%s\n  input %.*s\n  got   %.400s", why, (int)(len > 200 ? 200 : len), src,
                 p.json);
    assert_int_equal(is_error, p.err.line != 0);
    assert_int_equal(is_error, p.err.column != 0);
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

/* Each vector: exactly its tree, or exactly its error, also in struct jsl_error. */
static void test_vectors(void **state)
{
    char *text = read_file(VECTORS_PATH);
    cJSON *doc = cJSON_Parse(text);
    const cJSON *vectors, *v;
    int trees = 0, errors = 0;

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
        p = parse_checked(input->valuestring, strlen(input->valuestring));
        got = cJSON_Parse(p.json);
        assert_non_null(got);
        if (ast) {
            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(got, "ast"), ast, 1)) {
                char *want = cJSON_PrintUnformatted(ast);

                fail_msg("%s:\n  input %s\n  got   %s\n  want  {\"ast\":%s}", name->valuestring,
                         input->valuestring, p.json, want);
            }
            trees++;
        } else {
            const cJSON *line = cJSON_GetObjectItemCaseSensitive(error, "line");
            const cJSON *col = cJSON_GetObjectItemCaseSensitive(error, "column");
            const cJSON *off = cJSON_GetObjectItemCaseSensitive(error, "offset");
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");

            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(got, "error"), error, 1))
                fail_msg("%s:\n  input %.200s\n  got   %s", name->valuestring,
                         input->valuestring, p.json);
            assert_int_equal(p.err.line, (size_t)line->valuedouble);
            assert_int_equal(p.err.column, (size_t)col->valuedouble);
            assert_int_equal(p.err.offset, (size_t)off->valuedouble);
            assert_string_equal(p.err.message, msg->valuestring);
            errors++;
        }
        cJSON_Delete(got);
        free(p.json);
    }
    assert_true(trees >= 80 && errors >= 50);
    cJSON_Delete(doc);
    free(text);
}

/* Like snprintf: every capacity yields the same length and a NUL-terminated prefix. */
static void check_sizing(const char *src)
{
    size_t len = strlen(src);
    struct parsed full = parse_exact(src, len);
    void *work = malloc(jsl_work_size(len));

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
        } else {
            assert_int_equal(out[0], 'X');
        }
        free(out);
    }
    free(work);
    free(full.json);
}

static void test_output_sizing(void **state)
{
    (void)state;
    check_sizing("rc = s << recv(100); Show(rc[3], \"a\\!n\", {1, .}, -x++, \"q\"n)");
    check_sizing("While(1,\n  x = (a; b)");
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

/* A source of `n` copies of `open`, then `middle`, then `n` copies of `close`. */
static char *repeat3(const char *open, size_t n, const char *middle, const char *close)
{
    size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1), *o = s;

    assert_non_null(s);
    for (size_t i = 0; i < n; i++, o += lo)
        memcpy(o, open, lo);
    memcpy(o, middle, lm);
    o += lm;
    for (size_t i = 0; i < n; i++, o += lc)
        memcpy(o, close, lc);
    *o = '\0';
    return s;
}

/* Parses `n` levels of open/middle/close; returns the error message, or "" when it
 * parsed (the caller frees nothing: the message is copied to a static buffer). */
static const char *nest(const char *open, size_t n, const char *middle, const char *close)
{
    static char message[JSL_MESSAGE_MAX];
    char *src = repeat3(open, n, middle, close);
    struct parsed p = parse_checked(src, strlen(src));

    memcpy(message, p.err.message, sizeof message);
    free(p.json);
    free(src);
    return message;
}

/* Every kind of nesting works to at least 200 levels and fails cleanly just past the
 * limit: the top-level expression is level 1, each nesting adds one. */
static void test_nesting(void **state)
{
    static const char *const kinds[][3] = {
        { "(", "x", ")" },           /* parentheses */
        { "f(", "x", ")" },          /* calls */
        { "{", "x", "}" },           /* lists */
        { "x[", "1", "]" },          /* subscripts */
        { "!", "x", "" },            /* prefix operators */
        { "- ", "x", "" },
        { "a = ", "1", "" },         /* chained assignments */
        { "x += ", "1", "" },
        { "s << f(", "x", ")" },     /* messages */
        { "s << <<(", "x", ")" },
        { "If(c, ", "x", ")" },      /* control forms with several expressions */
        { "For(i = 1, i < 2, i++, a; ", "x", ")" },
        { "While(c, Wait(0); ", "x", ")" },
        { "Function({a}, y = a; ", "x", ")" },
    };
    const char *deeper = "nested too deeply (more than 256 levels)";

    (void)state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *const *n = kinds[k];

        assert_string_equal(nest(n[0], 200, n[1], n[2]), "");
        /* Nesting is counted on the way down, so it is the first limit met... */
        assert_string_equal(nest(n[0], JSL_MAX_DEPTH, n[1], n[2]), deeper);
        if (strchr(n[0], ';') || strstr(n[0], "<<")) {
            /* ...but with two tree levels per nesting (a call and its glue, a send and
             * its message), the tree's height may be met before it. */
            assert_string_equal(nest(n[0], JSL_MAX_HEIGHT / 2 - 2, n[1], n[2]), "");
            assert_non_null(strstr(nest(n[0], JSL_MAX_DEPTH - 1, n[1], n[2]), "too deep"));
        } else {
            assert_string_equal(nest(n[0], JSL_MAX_DEPTH - 1, n[1], n[2]), "");
        }
        /* Far deeper input (within JSL_MAX_SOURCE) ends in an error, never a crash. */
        assert_string_equal(nest(n[0], 30000, n[1], n[2]), deeper);
    }
}

/* A long chain of binary operators grows the tree without nesting: it parses up to
 * JSL_MAX_HEIGHT levels, then fails at the start of the expression. */
static void test_tree_height(void **state)
{
    size_t terms = JSL_MAX_HEIGHT - 1; /* the glue adds one level; n terms make n levels */
    char *src = malloc(terms * 5 + 64), *o = src;
    struct parsed p;

    (void)state;
    assert_non_null(src);
    o += sprintf(o, "a");
    for (size_t i = 1; i < terms; i++)
        o += sprintf(o, " || a");
    p = parse_checked(src, strlen(src));
    assert_int_equal(p.err.line, 0);
    free(p.json);
    sprintf(o, " || a");
    p = parse_checked(src, strlen(src));
    assert_string_equal(p.err.message,
                        "expression too deep (more than 480 levels): split it into several statements");
    assert_int_equal(p.err.column, 1);
    free(p.json);
    free(src);
}

static void expect_error(const char *src, size_t len, size_t line, size_t column,
                         const char *message)
{
    struct parsed p = parse_checked(src, len);

    if (p.err.line != line || p.err.column != column || strcmp(p.err.message, message) != 0)
        fail_msg("%s: got %zu:%zu, %s", message, p.err.line, p.err.column, p.json);
    free(p.json);
}

/* Bytes that are not UTF-8 are refused where they start; JSON output stays valid. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_error("x = \"\xff\"", 7, 1, 6, "invalid UTF-8");
    expect_error("\"\xc0\x80\"", 4, 1, 2, "invalid UTF-8");         /* overlong NUL */
    expect_error("\"\xed\xa0\x80\"", 5, 1, 2, "invalid UTF-8");     /* a surrogate */
    expect_error("\"\xf4\x90\x80\x80\"", 6, 1, 2, "invalid UTF-8"); /* past U+10FFFF */
    expect_error("a;\n\"\xc3\xa9\xe2\x82", 8, 2, 3, "invalid UTF-8"); /* cut short */
    expect_error("x\0", 2, 1, 2, "unexpected character U+0000");
}

/* A NUL inside a string is data, written as \u0000 (cJSON cannot compare past it). */
static void test_nul_in_string(void **state)
{
    struct parsed p = parse_checked("\"a\0b\"", 5);

    (void)state;
    assert_int_equal(p.err.line, 0);
    assert_non_null(strstr(p.json, "\"value\":\"a\\u0000b\""));
    free(p.json);
}

/* A message that shows a token cuts it at a character boundary, never inside one. */
static void test_messages_stay_utf8(void **state)
{
    const char *src = "Show(1 \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9)";
    struct parsed p = parse_checked(src, strlen(src));

    (void)state;
    assert_non_null(strstr(p.err.message, "...'"));
    assert_true(jsl_shape_utf8_ok(p.err.message));
    free(p.json);
}

/* Random sources built from JSL's tokens and some noise: the parser must always answer
 * within the work area it asked for, with output that keeps the contract. */
static void test_random_sources(void **state)
{
    static const char *const pieces[] = {
        "s", "rc", "If", "While", "Char To Blob", "<<", "recv", "close", "(", ")", "[", "]",
        "{", "}", ",", ";", "=", "+=", "||=", "-", "--", "++", "!", "!=", "==", "<", "<=",
        ">", "&", "|", "||", "*", "/", "1", "2.5", ".5", "1e3", ".", "\"x\"", "\"\\!n\"",
        "\"q\"n", "\"\\[r\"]\\\"", "\"", "\\!", " ", "\n", "\r\n", "/*", "*/", "//",
        "\xc3\xa9", "\xe2\x80\x9c", "\xc2\xa0", "@", "^", ":", "FIONBIO",
    };
    uint32_t seed = 0x12345678u;
    char src[256];

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        struct parsed p;

        while (len < 200) {
            const char *piece;
            size_t n;

            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            if (seed % 11 == 0 && len > 0)
                break;
            piece = pieces[seed % (sizeof pieces / sizeof pieces[0])];
            n = strlen(piece);
            memcpy(src + len, piece, n);
            len += n;
        }
        p = parse_checked(src, len);
        assert_string_not_equal(p.err.message, "program too long");
        free(p.json);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_output_sizing),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_tree_height),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_messages_stay_utf8),
        cmocka_unit_test(test_random_sources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
