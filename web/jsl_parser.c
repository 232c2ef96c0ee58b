/*
 * The JSL statement parser of the browser console (see jsl_parser.h): its entry points,
 * and the recursive-descent grammar that reads tokens from web/jsl_lexer.c and builds the
 * tree in the caller's work area, which web/jsl_writer.c then prints as JSON.
 *
 * The tree is kept apart from the JSON because several forms are only known after their
 * first part has been read (`rc = ...`, `s << recv(...)`, `rc[3]`). Nodes refer to the
 * source by offset; strings are unescaped and names normalised only while writing.
 */
#include "jsl_parser.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "jsl_internal.h"

/* ---- Grammar ----------------------------------------------------------------------- */

/* Moves to the next token, keeping where the consumed one ended: a statement's text
 * ends there, before any white space or comment that follows it. */
static void advance(struct jsli_parser *p)
{
    p->prev_end = p->tok.pos + p->tok.len;
    p->tok = jsli_lex(p->src, p->len, p->tok.end);
    if (p->tok.type == JSLI_TOK_ERROR)
        jsli_fail_token(p, &p->tok);
}

/* Fails with "expected ..." at the current token, or with the lexical error it holds. */
static void expected(struct jsli_parser *p, const char *what)
{
    if (p->tok.type == JSLI_TOK_ERROR)
        jsli_fail_token(p, &p->tok);
    else if (p->tok.type == JSLI_TOK_END)
        jsli_fail(p, p->tok.pos, "expected %s, found the end of the input", what);
    else if (p->tok.len <= 24)
        jsli_fail(p, p->tok.pos, "expected %s, found '%.*s'", what, (int)p->tok.len,
                  p->src + p->tok.pos);
    else
        jsli_fail(p, p->tok.pos, "expected %s, found '%.20s...'", what, p->src + p->tok.pos);
}

static uint32_t parse_expr(struct jsli_parser *p);

/*
 * The arguments after an opening parenthesis, up to and including the closing one.
 * Returns the first argument (0 for none: check p->failed), and sets *count and
 * *max_depth to their number and the height of the tallest.
 */
static uint32_t parse_args(struct jsli_parser *p, size_t *count, uint32_t *max_depth)
{
    uint32_t first = 0, last = 0;

    *count = 0;
    *max_depth = 0;
    if (p->tok.type == JSLI_TOK_RPAREN) {
        advance(p);
        return 0;
    }
    for (;;) {
        uint32_t arg = parse_expr(p);

        if (!arg)
            return 0;
        if (last)
            jsli_node_at(p, last)->next = arg;
        else
            first = arg;
        last = arg;
        (*count)++;
        if (jsli_node_at(p, arg)->depth > *max_depth)
            *max_depth = jsli_node_at(p, arg)->depth;
        if (p->tok.type == JSLI_TOK_COMMA) {
            advance(p);
        } else if (p->tok.type == JSLI_TOK_RPAREN) {
            advance(p);
            return first;
        } else {
            expected(p, "',' or ')' after an argument");
            return 0;
        }
    }
}

/* The n-th argument of a list (0-based). */
static uint32_t nth_arg(struct jsli_parser *p, uint32_t first, size_t n)
{
    while (first && n--)
        first = jsli_node_at(p, first)->next;
    return first;
}

/* Socket(), Socket(STREAM), Socket(DGRAM), Socket("DGRAM"): the socket type, or -1. */
static int socket_type(struct jsli_parser *p, uint32_t arg)
{
    const struct jsli_node *n = jsli_node_at(p, arg);

    for (size_t t = 0; t < 2; t++) {
        const char *want = t == 0 ? "stream" : "dgram";

        if (n->kind == JSLI_KIND_NAME && jsli_name_is(p->src + n->pos, n->len, want))
            return (int)t;
        /* Spaces count inside a string, so compare byte by byte, folding case only. */
        if (n->kind == JSLI_KIND_STRING && n->len - 2 == strlen(want)) {
            const char *text = p->src + n->pos + 1; /* after the opening quote */
            size_t k = 0;

            while (k < n->len - 2 &&
                   jsli_to_lower((unsigned char)text[k]) == (unsigned char)want[k])
                k++;
            if (k == n->len - 2)
                return (int)t;
        }
    }
    return -1;
}

/* A function call, from its name (already consumed) and its opening parenthesis. */
static uint32_t parse_call(struct jsli_parser *p, const struct jsli_token *name)
{
    int fn = jsli_lookup(p->src + name->pos, name->len, jsli_functions, JSLI_N_FUNCTIONS);
    uint32_t args, call, depth;
    size_t count;

    if (fn < 0) {
        jsli_fail(p, name->pos, "unknown function '%.*s'",
                  (int)(name->len > 40 ? 40 : name->len), p->src + name->pos);
        return 0;
    }
    advance(p);
    args = parse_args(p, &count, &depth);
    if (p->failed)
        return 0;
    switch (fn) {
    case JSLI_FN_SOCKET: {
        int type = 0;

        if (count > 1) {
            jsli_fail(p, jsli_node_at(p, nth_arg(p, args, 1))->pos,
                      "Socket() takes one argument, STREAM or DGRAM");
            return 0;
        }
        if (count == 1) {
            type = socket_type(p, args);
            if (type < 0) {
                jsli_fail(p, jsli_node_at(p, args)->pos, "Socket() takes STREAM or DGRAM");
                return 0;
            }
        }
        call = jsli_new_node(p, JSLI_KIND_SOCKET, name->pos, name->len);
        if (call)
            jsli_node_at(p, call)->extra = (uint32_t)type;
        return call;
    }
    case JSLI_FN_CHARTOBLOB:
    case JSLI_FN_BLOBTOCHAR:
        if (count < 1 || count > 2) {
            jsli_fail(p, count > 2 ? jsli_node_at(p, nth_arg(p, args, 2))->pos : name->pos,
                      "%s takes one or two arguments", jsli_function_titles[fn]);
            return 0;
        }
        break;
    case JSLI_FN_SHOW:
        if (count < 1) {
            jsli_fail(p, name->pos, "Show() needs at least one argument");
            return 0;
        }
        break;
    default:
        break;
    }
    call = jsli_new_node(p, JSLI_KIND_CALL, name->pos, name->len);
    if (!call)
        return 0;
    jsli_node_at(p, call)->extra = (uint32_t)fn;
    jsli_node_at(p, call)->b = args;
    if (jsli_set_depth(p, call, depth) < 0)
        return 0;
    return call;
}

/* A number, a string, a name, a call, or an expression in parentheses. */
static uint32_t parse_primary(struct jsli_parser *p)
{
    struct jsli_token t = p->tok;
    uint32_t n;

    switch (t.type) {
    case JSLI_TOK_NUMBER:
        n = jsli_new_node(p, JSLI_KIND_NUMBER, t.pos, t.len);
        advance(p);
        return n;
    case JSLI_TOK_MINUS:
        advance(p);
        if (p->tok.type != JSLI_TOK_NUMBER) {
            expected(p, "a number after '-'");
            return 0;
        }
        n = jsli_new_node(p, JSLI_KIND_NUMBER, p->tok.pos, p->tok.len);
        if (n)
            jsli_node_at(p, n)->extra = 1;
        advance(p);
        return n;
    case JSLI_TOK_STRING:
        n = jsli_new_node(p, JSLI_KIND_STRING, t.pos, t.len);
        advance(p);
        return n;
    case JSLI_TOK_LPAREN:
        advance(p);
        n = parse_expr(p);
        if (!n)
            return 0;
        if (p->tok.type != JSLI_TOK_RPAREN) {
            expected(p, "')'");
            return 0;
        }
        advance(p);
        return n;
    case JSLI_TOK_NAME:
        advance(p);
        if (p->tok.type == JSLI_TOK_LPAREN)
            return parse_call(p, &t);
        return jsli_new_node(p, JSLI_KIND_NAME, t.pos, t.len);
    default:
        expected(p, "a value");
        return 0;
    }
}

/* A value followed by any number of [index]. */
static uint32_t parse_postfix(struct jsli_parser *p)
{
    uint32_t target = parse_primary(p);

    while (target && p->tok.type == JSLI_TOK_LBRACK) {
        uint32_t index, target_depth, index_depth;
        uint32_t n = jsli_new_node(p, JSLI_KIND_INDEX, p->tok.pos, 1);

        advance(p);
        if (!n || p->failed)
            return 0;
        index = parse_expr(p);
        if (!index)
            return 0;
        if (p->tok.type != JSLI_TOK_RBRACK) {
            expected(p, "']'");
            return 0;
        }
        advance(p);
        jsli_node_at(p, n)->a = target;
        jsli_node_at(p, n)->b = index;
        target_depth = jsli_node_at(p, target)->depth;
        index_depth = jsli_node_at(p, index)->depth;
        if (jsli_set_depth(p, n, target_depth > index_depth ? target_depth : index_depth) < 0)
            return 0;
        target = n;
    }
    return target;
}

/* target << message(args), any number of times. */
static uint32_t parse_send(struct jsli_parser *p)
{
    uint32_t target = parse_postfix(p);

    while (target && p->tok.type == JSLI_TOK_SEND) {
        struct jsli_token op = p->tok;
        uint32_t args, n, depth;
        size_t count;
        int cmd;

        advance(p);
        if (p->tok.type != JSLI_TOK_NAME) {
            expected(p, "a socket command after '<<'");
            return 0;
        }
        cmd = jsli_lookup(p->src + p->tok.pos, p->tok.len, jsli_commands, JSLI_N_COMMANDS);
        if (cmd < 0) {
            jsli_fail(p, p->tok.pos, "unknown socket command '%.*s'",
                      (int)(p->tok.len > 40 ? 40 : p->tok.len), p->src + p->tok.pos);
            return 0;
        }
        advance(p);
        if (p->tok.type != JSLI_TOK_LPAREN) {
            expected(p, "'(' after the command name");
            return 0;
        }
        advance(p);
        if (p->failed)
            return 0;
        args = parse_args(p, &count, &depth);
        if (p->failed)
            return 0;
        n = jsli_new_node(p, JSLI_KIND_SEND, op.pos, op.len);
        if (!n)
            return 0;
        jsli_node_at(p, n)->a = target;
        jsli_node_at(p, n)->b = args;
        jsli_node_at(p, n)->extra = (uint32_t)cmd;
        if (jsli_node_at(p, target)->depth > depth)
            depth = jsli_node_at(p, target)->depth;
        if (jsli_set_depth(p, n, depth) < 0)
            return 0;
        target = n;
    }
    return target;
}

/* An expression: `name = expression`, or a send expression. */
static uint32_t parse_expr(struct jsli_parser *p)
{
    uint32_t e = 0;

    if (p->failed)
        return 0;
    if (++p->depth > JSL_MAX_DEPTH) {
        jsli_fail(p, p->tok.pos, "nested too deeply (at most %d levels)", JSL_MAX_DEPTH);
        goto out;
    }
    e = parse_send(p);
    if (e && p->tok.type == JSLI_TOK_ASSIGN) {
        uint32_t value, assign;

        if (jsli_node_at(p, e)->kind != JSLI_KIND_NAME) {
            jsli_fail(p, p->tok.pos, "only a name can be assigned to");
            e = 0;
            goto out;
        }
        assign = jsli_new_node(p, JSLI_KIND_ASSIGN, p->tok.pos, 1);
        advance(p);
        value = assign ? parse_expr(p) : 0;
        if (!value) {
            e = 0;
            goto out;
        }
        jsli_node_at(p, assign)->a = e;
        jsli_node_at(p, assign)->b = value;
        e = jsli_set_depth(p, assign, jsli_node_at(p, value)->depth) < 0 ? 0 : assign;
    }
out:
    p->depth--;
    return p->failed ? 0 : e;
}

/* Statements separated by ';'; empty ones are skipped. Returns the first statement. */
static uint32_t parse_program(struct jsli_parser *p)
{
    uint32_t first = 0, last = 0;

    p->tok = jsli_lex(p->src, p->len, 0);
    if (p->tok.type == JSLI_TOK_ERROR)
        jsli_fail_token(p, &p->tok);
    while (!p->failed) {
        size_t start;
        uint32_t e, s;

        while (p->tok.type == JSLI_TOK_SEMI)
            advance(p);
        if (p->failed || p->tok.type == JSLI_TOK_END)
            break;
        start = p->tok.pos;
        e = parse_expr(p);
        if (!e)
            break;
        if (p->tok.type != JSLI_TOK_SEMI && p->tok.type != JSLI_TOK_END) {
            expected(p, "';' between statements");
            break;
        }
        s = jsli_new_node(p, JSLI_KIND_STATEMENT, start, p->prev_end - start);
        if (!s)
            break;
        jsli_node_at(p, s)->a = e;
        if (last)
            jsli_node_at(p, last)->next = s;
        else
            first = s;
        last = s;
    }
    return p->failed ? 0 : first;
}

/* ---- Entry points ------------------------------------------------------------------ */

size_t jsl_work_size(size_t len)
{
    if (len > JSL_MAX_SOURCE)
        len = JSL_MAX_SOURCE;
    return (2 * len + 2) * sizeof(struct jsli_node);
}

long jsl_parse(const char *src, size_t len, void *work, size_t work_size, char *out,
               size_t out_cap, struct jsl_error *err)
{
    struct jsli_parser p;
    uint32_t first;
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

    bad = jsli_utf8_invalid_at((const unsigned char *)src, len);
    if (bad < len) {
        jsli_fail(&p, bad, "invalid UTF-8");
        first = 0;
    } else {
        first = parse_program(&p);
    }

    if (p.failed) {
        size_t column = jsli_column_of(src, 0, 1, p.err_pos);

        written = jsli_write_error(&p, column, out, out_cap);
        if (err) {
            err->column = column;
            memcpy(err->message, p.message, sizeof err->message);
        }
    } else {
        written = jsli_write_program(&p, first, out, out_cap);
        if (err) {
            err->column = 0;
            err->message[0] = '\0';
        }
    }
    if (out_cap > 0)
        out[written < out_cap ? written : out_cap - 1] = '\0';
    return (long)written;
}
