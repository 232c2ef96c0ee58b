/*
 * The bookkeeping of the JSL parser (see jsl_parser.h) that the grammar in
 * web/jsl_parser.c builds on: nodes added to the tree in the caller's work area, the
 * names that a node's numbers stand for, and the record of the first error.
 *
 * The JSON writer reads the same tables to print those numbers back as names.
 */
#include "jsl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- Names ------------------------------------------------------------------------- */

/* The other files see these tables without their sizes, so each is checked here against
 * the count they use: a name added or dropped without it fails the build. */
#define JSLI_LENGTH(a) (sizeof (a) / sizeof (a)[0])

const char *const jsli_commands[] = {
    "socket",  "bind",     "listen",      "accept",      "acceptfast", "connect", "send",
    "sendto",  "recv",     "recvfrom",    "getpeername", "getsockname", "ioctl",  "close",
};
_Static_assert(JSLI_LENGTH(jsli_commands) == JSLI_N_COMMANDS, "jsli_commands");

const char *const jsli_functions[] = { "socket", "chartoblob", "blobtochar", "show" };
const char *const jsli_function_titles[] = { "Socket()", "Char To Blob()", "Blob To Char()",
                                             "Show()" };
_Static_assert(JSLI_LENGTH(jsli_functions) == JSLI_N_FUNCTIONS, "jsli_functions");
_Static_assert(JSLI_LENGTH(jsli_function_titles) == JSLI_N_FUNCTIONS, "jsli_function_titles");

const char *const jsli_socket_types[] = { "STREAM", "DGRAM" };
_Static_assert(JSLI_LENGTH(jsli_socket_types) == JSLI_N_SOCKET_TYPES, "jsli_socket_types");

/* Whether the `len` source bytes at `s` spell `word` once white space is dropped and case
 * folded, as JSL compares names. `word` is lower case. */
int jsli_name_is(const char *s, size_t len, const char *word)
{
    size_t w = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t')
            continue;
        if (word[w] == '\0' || jsli_to_lower(c) != (unsigned char)word[w])
            return 0;
        w++;
    }
    return word[w] == '\0';
}

/* The index of the name at s/len in `table`, or -1. */
int jsli_lookup(const char *s, size_t len, const char *const *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jsli_name_is(s, len, table[i]))
            return (int)i;
    }
    return -1;
}

/* ---- Errors ------------------------------------------------------------------------ */

/* Records the first error; later ones are consequences of it. */
void jsli_fail(struct jsli_parser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;

    if (p->failed)
        return;
    p->failed = 1;
    p->err_pos = pos;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

/* Reports a lexical error token, naming the character for "unexpected character". */
void jsli_fail_token(struct jsli_parser *p, const struct jsli_token *t)
{
    unsigned char c;

    if (t->error) {
        jsli_fail(p, t->pos, "%s", t->error);
        return;
    }
    c = (unsigned char)p->src[t->pos];
    if (c > 0x20 && c < 0x7F) {
        jsli_fail(p, t->pos, "unexpected character '%c'", c);
    } else {
        /* The source is valid UTF-8 here, so this decodes one whole code point. */
        uint32_t cp = c;
        size_t n = 0;

        if (c >= 0xF0) { cp = c & 0x07; n = 3; }
        else if (c >= 0xE0) { cp = c & 0x0F; n = 2; }
        else if (c >= 0xC0) { cp = c & 0x1F; n = 1; }
        for (size_t k = 1; k <= n; k++)
            cp = (cp << 6) | ((unsigned char)p->src[t->pos + k] & 0x3F);
        jsli_fail(p, t->pos, "unexpected character U+%04X", (unsigned)cp);
    }
}

/* ---- Nodes ------------------------------------------------------------------------- */


/* A new node for the token at pos/len; returns its reference, or 0 when the work area is
 * full (jsl_work_size makes that impossible; this is the safety net). */
uint32_t jsli_new_node(struct jsli_parser *p, enum jsli_kind kind, size_t pos, size_t len)
{
    struct jsli_node *n;

    if (p->n_nodes >= p->max_nodes) {
        jsli_fail(p, pos, "program too long");
        return 0;
    }
    n = &p->nodes[p->n_nodes++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = (uint32_t)pos;
    n->len = (uint32_t)len;
    n->depth = 1;
    return (uint32_t)p->n_nodes;
}

/* Gives node `ref` the height of its tallest child plus one; fails past JSL_MAX_DEPTH. */
int jsli_set_depth(struct jsli_parser *p, uint32_t ref, uint32_t child_depth)
{
    struct jsli_node *n = jsli_node_at(p, ref);

    n->depth = child_depth + 1;
    if (n->depth > JSL_MAX_DEPTH) {
        jsli_fail(p, n->pos, "nested too deeply (at most %d levels)", JSL_MAX_DEPTH);
        return -1;
    }
    return 0;
}
