/*
 * An independent check that jsl_parse's output keeps the contract of web/README.md ("The
 * syntax tree"): JSON of one of its two shapes, every node of a known kind with exactly
 * its fields, children in source order inside their parent, and every position within
 * the source and agreeing with it (line and column recounted here, not by the parser).
 *
 * Shared, as static functions, by tests/unit/test_jsl.c and tests/fuzz/fuzz_jsl.c.
 */
#ifndef SOCKGATE_TESTS_JSL_SHAPE_H
#define SOCKGATE_TESTS_JSL_SHAPE_H

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "jsl_parser.h"

/* Where each code point of the source is: line[i] and col[i] for code point i, up to and
 * including the end of the source. */
struct jsl_shape_map {
    size_t n;      /* code points in the source */
    size_t *line;
    size_t *col;
};

static int jsl_shape_map_build(struct jsl_shape_map *m, const char *src, size_t len)
{
    size_t cp = 0, line = 1, col = 1;

    m->n = 0;
    for (size_t i = 0; i < len; i++)
        m->n += ((unsigned char)src[i] & 0xC0) != 0x80;
    m->line = malloc((m->n + 1) * sizeof *m->line);
    m->col = malloc((m->n + 1) * sizeof *m->col);
    if (!m->line || !m->col)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        if ((c & 0xC0) == 0x80)
            continue;
        m->line[cp] = line;
        m->col[cp] = col;
        cp++;
        if (c == '\n' || (c == '\r' && !(i + 1 < len && src[i + 1] == '\n'))) {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    m->line[cp] = line;
    m->col[cp] = col;
    return 0;
}

static void jsl_shape_map_free(struct jsl_shape_map *m)
{
    free(m->line);
    free(m->col);
}

static int jsl_shape_utf8_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    while (*u) {
        size_t more = *u < 0x80 ? 0 : *u >= 0xF0 ? 3 : *u >= 0xE0 ? 2 : *u >= 0xC2 ? 1 : 9;

        if (more == 9)
            return 0;
        for (size_t k = 1; k <= more; k++) {
            if ((u[k] & 0xC0) != 0x80)
                return 0;
        }
        u += more + 1;
    }
    return 1;
}

static int jsl_shape_is_uint(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 &&
           v->valuedouble == (double)(size_t)v->valuedouble;
}

/* Whether `key` is one of the space-separated words of `allowed`. */
static int jsl_shape_key_allowed(const char *allowed, const char *key)
{
    size_t n = strlen(key);

    for (const char *a = allowed; (a = strstr(a, key)) != NULL; a += n) {
        if ((a == allowed || a[-1] == ' ') && (a[n] == ' ' || a[n] == '\0'))
            return 1;
    }
    return 0;
}

/* name is text with its spaces dropped and ASCII letters lowered. */
static int jsl_shape_name_matches(const char *name, const char *text)
{
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;

        if (c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((unsigned char)*name++ != c)
            return 0;
    }
    return *name == '\0';
}

static const char *jsl_shape_node(const cJSON *n, const struct jsl_shape_map *m, size_t lo,
                                  size_t hi, int height, size_t *start_out, size_t *end_out);

/* Each node of an array, in order, within [lo, hi). */
static const char *jsl_shape_list(const cJSON *a, const struct jsl_shape_map *m, size_t lo,
                                  size_t hi, int height, int may_be_empty)
{
    const cJSON *item;
    size_t prev_end = lo, s, e;
    const char *why;

    if (!cJSON_IsArray(a))
        return "a list of nodes is not an array";
    if (!may_be_empty && cJSON_GetArraySize(a) == 0)
        return "an empty list where one node is needed";
    cJSON_ArrayForEach(item, a) {
        if ((why = jsl_shape_node(item, m, prev_end, hi, height, &s, &e)) != NULL)
            return why;
        prev_end = e;
    }
    return NULL;
}

static const char *jsl_shape_node(const cJSON *n, const struct jsl_shape_map *m, size_t lo,
                                  size_t hi, int height, size_t *start_out, size_t *end_out)
{
    static const char *const kinds[][2] = {
        { "glue", "items" },
        { "number", "value" },
        { "missing", "" },
        { "string", "value" },
        { "name", "name text" },
        { "list", "items" },
        { "call", "name text args bare" },
        { "index", "target indices" },
        { "unary", "op operand" },
        { "binary", "op left right" },
        { "assign", "op target value" },
        { "incdec", "op prefix target" },
        { "send", "target message" },
    };
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(n, "kind");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(n, "pos"), *f;
    const char *fields = NULL, *k, *why = NULL;
    size_t v[4], ls, le, rs, re;

    if (height > JSL_MAX_HEIGHT)
        return "the tree is taller than JSL_MAX_HEIGHT";
    if (!cJSON_IsObject(n) || !cJSON_IsString(kind))
        return "a node is not an object with a kind";
    k = kind->valuestring;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(k, kinds[i][0]) == 0)
            fields = kinds[i][1];
    }
    if (!fields)
        return "a node of an unknown kind";
    cJSON_ArrayForEach(f, n) {
        if (strcmp(f->string, "kind") != 0 && strcmp(f->string, "pos") != 0 &&
            !jsl_shape_key_allowed(fields, f->string))
            return "a node has a field its kind does not have";
    }
    if (!cJSON_IsArray(pos) || cJSON_GetArraySize(pos) != 4)
        return "a node has no pos of four numbers";
    for (int i = 0; i < 4; i++) {
        if (!jsl_shape_is_uint(cJSON_GetArrayItem(pos, i)))
            return "a pos holds something else than a whole number";
        v[i] = (size_t)cJSON_GetArrayItem(pos, i)->valuedouble;
    }
    if (v[2] > v[3] || v[2] < lo || v[3] > hi)
        return "a node's text is not inside its parent's, after its older siblings";
    if (v[0] != m->line[v[2]] || v[1] != m->col[v[2]])
        return "a node's line and column do not match its start";
    *start_out = v[2];
    *end_out = v[3];
    lo = v[2];
    hi = v[3];
#define FIELD(name) cJSON_GetObjectItemCaseSensitive(n, name)
#define CHILD(name) jsl_shape_node(FIELD(name), m, lo, hi, height + 1, &ls, &le)
    if (!strcmp(k, "glue") || !strcmp(k, "list")) {
        why = jsl_shape_list(FIELD("items"), m, lo, hi, height + 1, 1);
    } else if (!strcmp(k, "number")) {
        why = cJSON_IsNumber(FIELD("value")) ? NULL : "a number's value is not a number";
    } else if (!strcmp(k, "string")) {
        why = cJSON_IsString(FIELD("value")) ? NULL : "a string's value is not a string";
    } else if (!strcmp(k, "name") || !strcmp(k, "call")) {
        const cJSON *name = FIELD("name"), *text = FIELD("text"), *bare = FIELD("bare");

        if (!cJSON_IsString(name) || !cJSON_IsString(text) || !name->valuestring[0])
            return "a name or call lacks its name or text";
        if (!jsl_shape_name_matches(name->valuestring, text->valuestring))
            return "a name is not its text without spaces, in lower case";
        if (!strcmp(k, "call")) {
            why = jsl_shape_list(FIELD("args"), m, lo, hi, height + 1, 1);
            if (!why && bare && (!cJSON_IsTrue(bare) || cJSON_GetArraySize(FIELD("args"))))
                why = "bare is not true, or a bare message has arguments";
        }
    } else if (!strcmp(k, "index")) {
        why = CHILD("target");
        if (!why)
            why = jsl_shape_list(FIELD("indices"), m, le, hi, height + 1, 0);
    } else if (!strcmp(k, "unary") || !strcmp(k, "binary") || !strcmp(k, "assign") ||
               !strcmp(k, "incdec")) {
        static const char *const ops[] = {
            "- !", "+ - * / == != < <= > >= & | ||", "= += -= *= /= ||=", "++ --",
        };
        const cJSON *o = FIELD("op");
        int which = k[0] == 'u' ? 0 : k[0] == 'b' ? 1 : k[0] == 'a' ? 2 : 3;

        if (!cJSON_IsString(o) || !jsl_shape_key_allowed(ops[which], o->valuestring))
            return "an operator node has an unknown op";
        if (which == 0) {
            why = CHILD("operand");
        } else if (which == 1) {
            why = jsl_shape_node(FIELD("left"), m, lo, hi, height + 1, &ls, &le);
            if (!why)
                why = jsl_shape_node(FIELD("right"), m, le, hi, height + 1, &rs, &re);
        } else {
            const cJSON *target = FIELD("target");
            const cJSON *tk = cJSON_GetObjectItemCaseSensitive(target, "kind");

            if (which == 3 && !cJSON_IsBool(FIELD("prefix")))
                return "an incdec node has no prefix flag";
            why = CHILD("target");
            if (!why && (!cJSON_IsString(tk) || (strcmp(tk->valuestring, "name") &&
                                                  strcmp(tk->valuestring, "index"))))
                why = "something else than a name or a subscript is assigned to";
            if (!why && which == 2)
                why = jsl_shape_node(FIELD("value"), m, le, hi, height + 1, &rs, &re);
        }
    } else if (!strcmp(k, "send")) {
        const cJSON *msg = FIELD("message");
        const cJSON *mk = cJSON_GetObjectItemCaseSensitive(msg, "kind");

        why = CHILD("target");
        if (!why)
            why = jsl_shape_node(msg, m, le, hi, height + 1, &rs, &re);
        if (!why && (!cJSON_IsString(mk) || strcmp(mk->valuestring, "call")))
            why = "a message is not a call";
    }
#undef CHILD
#undef FIELD
    return why;
}

/*
 * NULL when `json`, jsl_parse's output for the `len` bytes at `src`, keeps the contract;
 * otherwise what is wrong. *is_error tells which of the two shapes it has.
 */
static const char *jsl_shape_check(const char *json, const char *src, size_t len,
                                   int *is_error)
{
    struct jsl_shape_map m;
    cJSON *root = cJSON_Parse(json);
    const cJSON *ast = cJSON_GetObjectItemCaseSensitive(root, "ast");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *why = NULL;
    size_t s, e;

    *is_error = error != NULL;
    if (!root || !cJSON_IsObject(root) || cJSON_GetArraySize(root) != 1 || (!ast && !error)) {
        cJSON_Delete(root);
        return "the output is not a JSON object with one of ast and error";
    }
    if (!jsl_shape_utf8_ok(json)) {
        cJSON_Delete(root);
        return "the output is not valid UTF-8";
    }
    if (jsl_shape_map_build(&m, src, len) < 0) {
        jsl_shape_map_free(&m);
        cJSON_Delete(root);
        return "out of memory";
    }
    if (ast) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ast, "kind");

        why = jsl_shape_node(ast, &m, 0, m.n, 1, &s, &e);
        if (!why && strcmp(kind->valuestring, "glue") != 0)
            why = "the root is not a glue node";
    } else {
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(error, "line");
        const cJSON *col = cJSON_GetObjectItemCaseSensitive(error, "column");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(error, "offset");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");

        if (!cJSON_IsObject(error) || cJSON_GetArraySize(error) != 4 ||
            !jsl_shape_is_uint(line) || !jsl_shape_is_uint(col) || !jsl_shape_is_uint(off) ||
            !cJSON_IsString(msg) || !msg->valuestring[0])
            why = "the error lacks its line, column, offset or message";
        else if ((size_t)off->valuedouble > m.n)
            why = "the error is past the end of the source";
        else if ((size_t)line->valuedouble != m.line[(size_t)off->valuedouble] ||
                 (size_t)col->valuedouble != m.col[(size_t)off->valuedouble])
            why = "the error's line and column do not match its offset";
        else if (strlen(msg->valuestring) >= JSL_MESSAGE_MAX)
            why = "the error's message is longer than struct jsl_error holds";
    }
    jsl_shape_map_free(&m);
    cJSON_Delete(root);
    return why;
}

#endif
