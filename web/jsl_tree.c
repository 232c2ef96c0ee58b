/*
 * The bookkeeping of the JSL parser (see jsl_parser.h) that the grammar in
 * web/jsl_parser.c and web/jsl_operators.c builds on: moving from token to token while
 * counting source positions, adding nodes to the tree in the caller's work area, and
 * recording the first error with a message that shows what was found.
 */
#include "jsl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- Positions --------------------------------------------------------------------- */

struct jsli_loc jsli_locate(struct jsli_cursor *c, const char *src, size_t len, size_t to)
{
    struct jsli_loc loc;

    for (; c->byte < to; c->byte++) {
        unsigned char b = (unsigned char)src[c->byte];

        if ((b & 0xC0) != 0x80)
            c->cp++;
        if (b == '\n' || (b == '\r' && !(c->byte + 1 < len && src[c->byte + 1] == '\n'))) {
            c->line++;
            c->line_cp = c->cp;
        }
    }
    loc.line = c->line;
    loc.col = c->cp - c->line_cp + 1;
    loc.cp = c->cp;
    return loc;
}

void jsli_advance(struct jsli_parser *p)
{
    p->prev_end_cp = p->tok_end_cp;
    p->tok = jsli_lex(p->src, p->len, p->tok.end);
    if (p->tok.type == JSLI_TOK_ERROR) {
        jsli_fail_token(p, &p->tok);
        return;
    }
    p->tok_loc = jsli_locate(&p->cursor, p->src, p->len, p->tok.pos);
    p->tok_end_cp = jsli_locate(&p->cursor, p->src, p->len, p->tok.pos + p->tok.len).cp;
}

/* ---- Nodes ------------------------------------------------------------------------- */

uint32_t jsli_new_node(struct jsli_parser *p, enum jsli_kind kind, struct jsli_loc loc)
{
    struct jsli_node *n;

    if (p->failed)
        return 0;
    if (p->n_nodes >= p->max_nodes) {
        jsli_fail(p, p->tok.pos, "program too long");
        return 0;
    }
    n = &p->nodes[p->n_nodes++];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = loc.line;
    n->col = loc.col;
    n->start = loc.cp;
    n->end = loc.cp;
    n->height = 1;
    return (uint32_t)p->n_nodes;
}

uint32_t jsli_token_node(struct jsli_parser *p, enum jsli_kind kind)
{
    uint32_t ref = jsli_new_node(p, kind, p->tok_loc);

    if (!ref)
        return 0;
    jsli_node_at(p, ref)->src = (uint32_t)p->tok.pos;
    jsli_node_at(p, ref)->src_len = (uint32_t)p->tok.len;
    if (p->tok.type == JSLI_TOK_QNAME)
        jsli_node_at(p, ref)->flags |= JSLI_FLAG_QUOTED;
    jsli_advance(p);
    return jsli_finish(p, ref, 0);
}

uint32_t jsli_node_from(struct jsli_parser *p, enum jsli_kind kind, uint32_t first)
{
    const struct jsli_node *f = jsli_node_at(p, first);
    struct jsli_loc loc = { f->line, f->col, f->start };

    return jsli_new_node(p, kind, loc);
}

uint32_t jsli_finish(struct jsli_parser *p, uint32_t ref, uint32_t child_height)
{
    struct jsli_node *n;

    if (!ref || p->failed)
        return 0;
    n = jsli_node_at(p, ref);
    n->end = p->prev_end_cp;
    n->height = child_height + 1;
    if (n->height > JSL_MAX_HEIGHT) {
        jsli_fail(p, p->tok.pos, "expression too deep (more than %d levels): split it into "
                  "several statements", JSL_MAX_HEIGHT);
        /* At the start of the expression that grew too tall, not where parsing is. */
        p->err_at_loc = 1;
        p->err_loc.line = n->line;
        p->err_loc.col = n->col;
        p->err_loc.cp = n->start;
        return 0;
    }
    return ref;
}

uint32_t jsli_list_height(const struct jsli_parser *p, uint32_t first)
{
    uint32_t height = 0;

    for (uint32_t r = first; r; r = jsli_node_at(p, r)->next) {
        if (jsli_node_at(p, r)->height > height)
            height = jsli_node_at(p, r)->height;
    }
    return height;
}

/* ---- Errors ------------------------------------------------------------------------ */

/* Cuts a trailing partial UTF-8 sequence off a NUL-terminated message, so that a message
 * cut to fit never holds broken text. */
static void trim_utf8(char *s)
{
    size_t n = strlen(s), lead = n, need;

    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead == 0 || (unsigned char)s[lead - 1] < 0xC0)
        return;
    need = (unsigned char)s[lead - 1] >= 0xF0 ? 4 : (unsigned char)s[lead - 1] >= 0xE0 ? 3 : 2;
    if (n - (lead - 1) < need)
        s[lead - 1] = '\0';
}

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
    trim_utf8(p->message);
}

void jsli_fail_token(struct jsli_parser *p, const struct jsli_token *t)
{
    unsigned char c;
    size_t n;

    if (t->error) {
        jsli_fail(p, t->pos, "%s", t->error);
        return;
    }
    c = (unsigned char)p->src[t->pos];
    if (c > 0x20 && c < 0x7F)
        jsli_fail(p, t->pos, "unexpected character '%c'", c);
    else
        jsli_fail(p, t->pos, "unexpected character U+%04X",
                  (unsigned)jsli_decode(p->src, p->len, t->pos, &n));
}

/* The current token as an error message shows it: its text with white space folded,
 * cut (at a character boundary) to fit `cap` bytes. */
static void describe_token(const struct jsli_parser *p, char *buf, size_t cap)
{
    const struct jsli_token *t = &p->tok;
    size_t o = 0, i = t->pos, end = t->pos + t->len;

    if (t->type == JSLI_TOK_END) {
        snprintf(buf, cap, "the end of the input");
        return;
    }
    if (t->type == JSLI_TOK_STRING || t->type == JSLI_TOK_QNAME) {
        snprintf(buf, cap, "a string");
        return;
    }
    buf[o++] = '\'';
    while (i < end) {
        size_t n = jsli_space_len(p->src, end, i);
        int is_space = n > 0;

        if (is_space) {
            while (i < end && (n = jsli_space_len(p->src, end, i)) > 0)
                i += n;
            n = 1;
        } else {
            jsli_decode(p->src, end, i, &n);
        }
        if (o + n + 5 > cap) { /* room for "...", the quote and the NUL */
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (is_space) {
            buf[o] = ' ';
        } else {
            memcpy(buf + o, p->src + i, n);
            i += n;
        }
        o += n;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

void jsli_expected(struct jsli_parser *p, const char *what)
{
    char found[40];

    if (p->tok.type == JSLI_TOK_ERROR) {
        jsli_fail_token(p, &p->tok);
        return;
    }
    describe_token(p, found, sizeof found);
    jsli_fail(p, p->tok.pos, "expected %s, found %s", what, found);
}
