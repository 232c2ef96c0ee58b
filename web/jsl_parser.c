/*
 * The JSL parser's entry points (see jsl_parser.h) and the half of its recursive-descent
 * grammar that is not about operators: expressions glued with `;`, values (numbers,
 * strings, names, lists, parenthesised expressions), calls of any function by name, and
 * subscripts with postfix ++/--. Operators, by precedence, are in web/jsl_operators.c.
 *
 * The parser does not know which functions exist: If, While, For, Function, Socket, Show
 * are all calls here, and the interpreter gives them their meaning. Nodes refer to the
 * source by offset; strings are unescaped and names normalised only while writing.
 */
#include "jsl_parser.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "jsl_internal.h"

/* ---- Helpers ----------------------------------------------------------------------- */

int jsli_enter(struct jsli_parser *p)
{
    if (p->depth >= JSL_MAX_DEPTH) {
        jsli_fail(p, p->tok.pos, "nested too deeply (more than %d levels)", JSL_MAX_DEPTH);
        return 0;
    }
    p->depth++;
    return 1;
}

/* Fails because the current token does not close the `opener` found at `open`: at the end
 * of the input, the message says where that bracket was; otherwise what was expected. */
static void not_closed(struct jsli_parser *p, enum jsli_tok opener, struct jsli_loc open,
                       enum jsli_tok closer, const char *what)
{
    if (p->tok.type == JSLI_TOK_END)
        jsli_fail(p, p->tok.pos, "expected '%s' to close the '%s' at %u:%u, found the end of "
                  "the input", jsli_tok_text[closer], jsli_tok_text[opener],
                  (unsigned)open.line, (unsigned)open.col);
    else
        jsli_expected(p, what);
}

/* Appends node `item` to the list whose last node is *last (first in *first). */
static void append(struct jsli_parser *p, uint32_t *first, uint32_t *last, uint32_t item)
{
    if (*last)
        jsli_node_at(p, *last)->next = item;
    else
        *first = item;
    *last = item;
}

/* ---- Sequences --------------------------------------------------------------------- */

/*
 * Expressions glued with `;`: the whole script (`root`), or one argument, list item,
 * subscript or parenthesised expression, which ends before `,` `)` `]` `}`. Empty
 * expressions and a trailing `;` are dropped. The root is always a glue node; elsewhere
 * one expression stands for itself and several make a glue node.
 */
static uint32_t parse_sequence(struct jsli_parser *p, int root)
{
    uint32_t first = 0, last = 0, count = 0, glue;

    for (;;) {
        uint32_t item;
        enum jsli_tok t;

        while (p->tok.type == JSLI_TOK_SEMI && !p->failed)
            jsli_advance(p);
        t = p->tok.type;
        if (p->failed || t == JSLI_TOK_END || t == JSLI_TOK_COMMA || t == JSLI_TOK_RPAREN ||
            t == JSLI_TOK_RBRACK || t == JSLI_TOK_RBRACE)
            break;
        item = jsli_parse_expr(p);
        if (!item)
            return 0;
        append(p, &first, &last, item);
        count++;
        if (p->tok.type != JSLI_TOK_SEMI)
            break;
    }
    if (p->failed)
        return 0;
    if (root && p->tok.type != JSLI_TOK_END) {
        if (p->tok.type == JSLI_TOK_RPAREN || p->tok.type == JSLI_TOK_RBRACK ||
            p->tok.type == JSLI_TOK_RBRACE)
            jsli_fail(p, p->tok.pos, "unmatched '%s'", jsli_tok_text[p->tok.type]);
        else if (p->tok.type == JSLI_TOK_COMMA)
            jsli_fail(p, p->tok.pos, "unexpected ',' outside a call or a list");
        else
            jsli_expected(p, "';' between expressions");
        return 0;
    }
    if (!root && count == 0) {
        jsli_expected(p, "a value");
        return 0;
    }
    if (!root && count == 1)
        return first;
    if (first) {
        glue = jsli_node_from(p, JSLI_KIND_GLUE, first);
    } else {
        struct jsli_loc nowhere = { 1, 1, 0 };

        glue = jsli_new_node(p, JSLI_KIND_GLUE, nowhere);
    }
    if (!glue || !jsli_finish(p, glue, jsli_list_height(p, first)))
        return 0;
    /* Up to the last expression: the `;` and comments after it are not part of it. */
    jsli_node_at(p, glue)->end = last ? jsli_node_at(p, last)->end : 0;
    jsli_node_at(p, glue)->a = first;
    return glue;
}

/* ---- Values ------------------------------------------------------------------------ */

/*
 * The items between an opening bracket (the current token) and its `closer`, separated
 * by commas, each a sequence: a call's arguments, a list's items, a subscript's indices.
 * Returns the first, or 0 for none (allowed when `empty_ok`) or on failure (check
 * p->failed). `what` names what a comma follows, for the error.
 */
static uint32_t parse_items(struct jsli_parser *p, enum jsli_tok closer, int empty_ok,
                            const char *what)
{
    struct jsli_loc open = p->tok_loc;
    enum jsli_tok opener = p->tok.type;
    uint32_t first = 0, last = 0;

    jsli_advance(p);
    if (empty_ok && p->tok.type == closer) {
        jsli_advance(p);
        return 0;
    }
    while (!p->failed) {
        uint32_t item = parse_sequence(p, 0);

        if (!item)
            return 0;
        append(p, &first, &last, item);
        if (p->tok.type == JSLI_TOK_COMMA) {
            jsli_advance(p);
        } else if (p->tok.type == closer) {
            jsli_advance(p);
            return p->failed ? 0 : first;
        } else {
            not_closed(p, opener, open, closer, what);
        }
    }
    return 0;
}

uint32_t jsli_parse_args(struct jsli_parser *p)
{
    return parse_items(p, JSLI_TOK_RPAREN, 1, "',' or ')' after an argument");
}

/* A name, or a call when an opening parenthesis follows it (white space between them is
 * allowed, as JMP allows it: `Char To Blob (x)`). */
static uint32_t parse_name(struct jsli_parser *p)
{
    uint32_t node = jsli_token_node(p, JSLI_KIND_NAME), args;

    if (!node || p->tok.type != JSLI_TOK_LPAREN)
        return node;
    jsli_node_at(p, node)->kind = JSLI_KIND_CALL;
    args = jsli_parse_args(p);
    if (p->failed)
        return 0;
    jsli_node_at(p, node)->a = args;
    return jsli_finish(p, node, jsli_list_height(p, args));
}

/* ( expressions ): the node of what is inside, widened to take in the parentheses, so
 * that its text is what was written. */
static uint32_t parse_parens(struct jsli_parser *p)
{
    struct jsli_loc open = p->tok_loc;
    struct jsli_node *n;
    uint32_t inner;

    jsli_advance(p);
    inner = parse_sequence(p, 0);
    if (!inner)
        return 0;
    if (p->tok.type != JSLI_TOK_RPAREN) {
        not_closed(p, JSLI_TOK_LPAREN, open, JSLI_TOK_RPAREN, "')'");
        return 0;
    }
    jsli_advance(p);
    n = jsli_node_at(p, inner);
    n->line = open.line;
    n->col = open.col;
    n->start = open.cp;
    n->end = p->prev_end_cp;
    return p->failed ? 0 : inner;
}

/* { item, item, ... } */
static uint32_t parse_list(struct jsli_parser *p)
{
    uint32_t list = jsli_new_node(p, JSLI_KIND_LIST, p->tok_loc);
    uint32_t first = parse_items(p, JSLI_TOK_RBRACE, 1, "',' or '}' after a list item");

    if (!list || p->failed)
        return 0;
    jsli_node_at(p, list)->a = first;
    return jsli_finish(p, list, jsli_list_height(p, first));
}

static uint32_t parse_primary(struct jsli_parser *p)
{
    switch (p->tok.type) {
    case JSLI_TOK_NUMBER:
        return jsli_token_node(p, JSLI_KIND_NUMBER);
    case JSLI_TOK_MISSING:
        return jsli_token_node(p, JSLI_KIND_MISSING);
    case JSLI_TOK_STRING:
        return jsli_token_node(p, JSLI_KIND_STRING);
    case JSLI_TOK_NAME:
    case JSLI_TOK_QNAME:
        return parse_name(p);
    case JSLI_TOK_LPAREN:
        return parse_parens(p);
    case JSLI_TOK_LBRACE:
        return parse_list(p);
    case JSLI_TOK_LBRACK:
        jsli_fail(p, p->tok.pos, "matrix literals ([1 2 3]) are not supported");
        return 0;
    case JSLI_TOK_SEND:
        jsli_fail(p, p->tok.pos, "'<<' needs an object on its left: x << message");
        return 0;
    default:
        jsli_expected(p, "a value");
        return 0;
    }
}

/* A value's subscript: x[i], or x[i, j] with several indices. */
static uint32_t parse_subscript(struct jsli_parser *p, uint32_t target)
{
    uint32_t index = jsli_node_from(p, JSLI_KIND_INDEX, target);
    uint32_t first = parse_items(p, JSLI_TOK_RBRACK, 0, "',' or ']' after a subscript");
    uint32_t height;

    if (!index || p->failed)
        return 0;
    jsli_node_at(p, index)->a = target;
    jsli_node_at(p, index)->b = first;
    height = jsli_list_height(p, first);
    if (jsli_node_at(p, target)->height > height)
        height = jsli_node_at(p, target)->height;
    return jsli_finish(p, index, height);
}

uint32_t jsli_parse_postfix(struct jsli_parser *p)
{
    uint32_t value = parse_primary(p), node;

    while (value && p->tok.type == JSLI_TOK_LBRACK)
        value = parse_subscript(p, value);
    if (!value || (p->tok.type != JSLI_TOK_INC && p->tok.type != JSLI_TOK_DEC))
        return p->failed ? 0 : value;
    if (!jsli_assignable(p, value)) {
        jsli_fail(p, p->tok.pos, "only a name or a subscript can take '%s'",
                  jsli_tok_text[p->tok.type]);
        return 0;
    }
    node = jsli_node_from(p, JSLI_KIND_INCDEC, value);
    if (!node)
        return 0;
    jsli_node_at(p, node)->op = (uint8_t)p->tok.type;
    jsli_node_at(p, node)->a = value;
    jsli_advance(p);
    return jsli_finish(p, node, jsli_node_at(p, value)->height);
}

/* ---- Entry points ------------------------------------------------------------------ */

size_t jsl_work_size(size_t len)
{
    if (len > JSL_MAX_SOURCE)
        len = JSL_MAX_SOURCE;
    /* A node per token at most, plus the root glue node. */
    return (len + 2) * sizeof(struct jsli_node);
}

long jsl_parse(const char *src, size_t len, void *work, size_t work_size, char *out,
               size_t out_cap, struct jsl_error *err)
{
    struct jsli_parser p;
    uint32_t root = 0;
    size_t bad, written;

    if (len > JSL_MAX_SOURCE)
        return -E2BIG;
    if (work_size < jsl_work_size(len) || (uintptr_t)work % _Alignof(struct jsli_node) != 0)
        return -ENOBUFS;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.len = len;
    p.nodes = work;
    p.max_nodes = work_size / sizeof(struct jsli_node);
    p.cursor.line = 1;

    bad = jsli_utf8_invalid_at((const unsigned char *)src, len);
    if (bad < len) {
        jsli_fail(&p, bad, "invalid UTF-8");
    } else {
        /* The first token, as jsli_advance reads the others. */
        p.tok.end = 0;
        jsli_advance(&p);
        if (!p.failed)
            root = parse_sequence(&p, 1);
    }

    if (p.failed) {
        struct jsli_cursor from_start = { 0, 0, 1, 0 };
        struct jsli_loc loc = p.err_at_loc ? p.err_loc
                                           : jsli_locate(&from_start, src, len, p.err_pos);

        written = jsli_write_error(&p, loc, out, out_cap);
        if (err) {
            err->line = loc.line;
            err->column = loc.col;
            err->offset = loc.cp;
            memcpy(err->message, p.message, sizeof err->message);
        }
    } else {
        written = jsli_write_tree(&p, root, out, out_cap);
        if (err) {
            err->line = 0;
            err->column = 0;
            err->offset = 0;
            err->message[0] = '\0';
        }
    }
    if (out_cap > 0)
        out[written < out_cap ? written : out_cap - 1] = '\0';
    return (long)written;
}
