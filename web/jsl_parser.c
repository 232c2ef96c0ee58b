/*
 * The JSL statement parser of the browser console (see jsl_parser.h): a lexer that reads
 * one token at a time, a recursive-descent parser that builds the tree in the caller's
 * work area, and a writer that prints that tree as JSON into the caller's buffer.
 *
 * The tree is kept apart from the JSON because several forms are only known after their
 * first part has been read (`rc = ...`, `s << recv(...)`, `rc[3]`). Nodes refer to the
 * source by offset; strings are unescaped and names normalised only while writing.
 */
#include "jsl_parser.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- Tokens ------------------------------------------------------------------------ */

enum jsl_tok {
    TOK_END,    /* end of the source */
    TOK_NAME,   /* a name, possibly with inner spaces: "Char To Blob" */
    TOK_NUMBER, /* 100, 1.5, .5, 1e3 */
    TOK_STRING, /* "..." with its quotes */
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACK,
    TOK_RBRACK,
    TOK_COMMA,
    TOK_SEMI,
    TOK_ASSIGN, /* = */
    TOK_SEND,   /* << */
    TOK_MINUS,
    TOK_ERROR, /* a lexical error: see jsl_token.error */
};

struct jsl_token {
    enum jsl_tok type;   /* what the token is */
    size_t pos;          /* offset of its first byte */
    size_t len;          /* its bytes; a name's trailing white space excluded */
    size_t end;          /* where lexing goes on after it */
    const char *error;   /* TOK_ERROR: the message, or NULL for "unexpected character" */
};

/* ---- Tree -------------------------------------------------------------------------- */

/* One node of the syntax tree; the work area is an array of these. Children are indexes
 * into that array plus one, so that 0 means "none". */
struct jsl_node {
    uint32_t kind;  /* enum jsl_kind */
    uint32_t pos;   /* byte offset in the source of the token the node stands for */
    uint32_t len;   /* bytes of that token (a statement: of the whole statement) */
    uint32_t a;     /* first child: target, assigned name, statement expression */
    uint32_t b;     /* second child: value, index, first argument */
    uint32_t next;  /* next argument of the same list, or next statement */
    uint32_t extra; /* command, function or socket type number */
    uint32_t depth; /* height of the subtree, checked against JSL_MAX_DEPTH */
};

enum jsl_kind {
    KIND_STATEMENT, /* a: expression; pos/len: the statement's source */
    KIND_ASSIGN,    /* a: the name node, b: value */
    KIND_SEND,      /* a: target, b: first argument, extra: command */
    KIND_INDEX,     /* a: target, b: index */
    KIND_CALL,      /* b: first argument, extra: function */
    KIND_SOCKET,    /* extra: socket type */
    KIND_NAME,
    KIND_NUMBER,    /* extra: 1 when negated by a unary minus */
    KIND_STRING,    /* pos/len include the quotes */
};

/* The messages a socket understands, as JSL spells them once normalised. */
static const char *const jsl_commands[] = {
    "socket",  "bind",     "listen",      "accept",      "acceptfast", "connect", "send",
    "sendto",  "recv",     "recvfrom",    "getpeername", "getsockname", "ioctl",  "close",
};
#define JSL_N_COMMANDS (sizeof jsl_commands / sizeof jsl_commands[0])

enum jsl_function { FN_SOCKET, FN_CHARTOBLOB, FN_BLOBTOCHAR, FN_SHOW };
static const char *const jsl_functions[] = { "socket", "chartoblob", "blobtochar", "show" };
static const char *const jsl_function_titles[] = { "Socket()", "Char To Blob()",
                                                   "Blob To Char()", "Show()" };
#define JSL_N_FUNCTIONS (sizeof jsl_functions / sizeof jsl_functions[0])

static const char *const jsl_socket_types[] = { "STREAM", "DGRAM" };

struct jsl_parser {
    const char *src;         /* the source, not NUL-terminated */
    size_t len;              /* its bytes */
    struct jsl_node *nodes;  /* the caller's work area */
    size_t max_nodes;        /* nodes it holds */
    size_t n_nodes;          /* nodes used */
    struct jsl_token tok;    /* the current token */
    size_t prev_end;         /* end of the last token consumed */
    int depth;               /* current recursion depth of parse_expr */
    int failed;              /* an error was recorded: stop parsing */
    size_t err_pos;          /* offset of the error */
    char message[JSL_MESSAGE_MAX]; /* its message */
};

/* ---- Characters -------------------------------------------------------------------- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || is_digit(c);
}

static unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The offset of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), or len when all is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

/* The 1-based column of byte offset `pos`: code points before it, plus one. */
static size_t column_of(const char *src, size_t from, size_t from_col, size_t pos)
{
    size_t col = from_col;

    for (size_t i = from; i < pos; i++) {
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            col++;
    }
    return col;
}

/* ---- Lexer ------------------------------------------------------------------------- */

/* Skips white space and comments from `pos`. Returns the new offset, or sets *error for a
 * comment left open. */
static size_t skip_space(const char *src, size_t len, size_t pos, const char **error)
{
    while (pos < len) {
        unsigned char c = (unsigned char)src[pos];

        if (is_space(c)) {
            pos++;
        } else if (c == '/' && pos + 1 < len && src[pos + 1] == '/') {
            while (pos < len && src[pos] != '\n')
                pos++;
        } else if (c == '/' && pos + 1 < len && src[pos + 1] == '*') {
            size_t start = pos;

            pos += 2;
            while (pos + 1 < len && !(src[pos] == '*' && src[pos + 1] == '/'))
                pos++;
            if (pos + 1 >= len) {
                *error = "unterminated comment";
                return start;
            }
            pos += 2;
        } else {
            break;
        }
    }
    return pos;
}

static void lex_error(struct jsl_token *t, size_t pos, const char *message)
{
    t->type = TOK_ERROR;
    t->pos = pos;
    t->len = 0;
    t->end = pos;
    t->error = message;
}

/* A string from its opening quote at `pos`: checks its escapes and finds its end. */
static void lex_string(const char *src, size_t len, size_t pos, struct jsl_token *t)
{
    size_t i = pos + 1;

    while (i < len && src[i] != '"') {
        if (src[i] == '\\' && i + 1 < len && src[i + 1] == '!') {
            if (i + 2 >= len)
                break;
            if (!strchr("nNrt\"\\0", src[i + 2]) || src[i + 2] == '\0') {
                lex_error(t, i, "unknown escape: JSL knows \\!n \\!N \\!r \\!t \\!\" \\!\\ \\!0");
                return;
            }
            i += 3;
        } else {
            i++;
        }
    }
    if (i >= len) {
        lex_error(t, pos, "unterminated string");
        return;
    }
    t->type = TOK_STRING;
    t->len = i + 1 - pos;
    t->end = i + 1;
}

/* A number at `pos`: digits, an optional fraction and an optional exponent. */
static void lex_number(const char *src, size_t len, size_t pos, struct jsl_token *t)
{
    size_t i = pos;
    size_t digits = 0;

    while (i < len && is_digit((unsigned char)src[i])) {
        i++;
        digits++;
    }
    if (i < len && src[i] == '.') {
        i++;
        while (i < len && is_digit((unsigned char)src[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0) {
        lex_error(t, pos, NULL);
        return;
    }
    if (i < len && (src[i] == 'e' || src[i] == 'E')) {
        size_t e = i + 1;

        if (e < len && (src[e] == '+' || src[e] == '-'))
            e++;
        if (e >= len || !is_digit((unsigned char)src[e])) {
            lex_error(t, pos, "malformed number");
            return;
        }
        while (e < len && is_digit((unsigned char)src[e]))
            e++;
        i = e;
    }
    if (i < len && is_name_char((unsigned char)src[i])) {
        lex_error(t, pos, "malformed number");
        return;
    }
    t->type = TOK_NUMBER;
    t->len = i - pos;
    t->end = i;
}

/* Reads the token that starts at or after `pos`. */
static struct jsl_token lex(const char *src, size_t len, size_t pos)
{
    struct jsl_token t = { TOK_END, len, 0, len, NULL };
    const char *error = NULL;
    unsigned char c;

    pos = skip_space(src, len, pos, &error);
    if (error) {
        lex_error(&t, pos, error);
        return t;
    }
    t.pos = pos;
    if (pos >= len)
        return t;
    c = (unsigned char)src[pos];
    t.len = 1;
    t.end = pos + 1;
    if (is_name_start(c)) {
        /* JSL ignores white space inside names: "Get Peer Name" is one name. */
        size_t i = pos + 1, last;

        for (;;) {
            while (i < len && is_name_char((unsigned char)src[i]))
                i++;
            last = i;
            /* White space joins two words only when the next one starts like a name:
             * `recv 100` is a name and a number. */
            while (i < len && (src[i] == ' ' || src[i] == '\t'))
                i++;
            if (i == last || i >= len || !is_name_start((unsigned char)src[i]))
                break;
        }
        t.type = TOK_NAME;
        t.len = last - pos;
        t.end = last;
        return t;
    }
    if (is_digit(c) || c == '.') {
        lex_number(src, len, pos, &t);
        return t;
    }
    switch (c) {
    case '"': lex_string(src, len, pos, &t); return t;
    case '(': t.type = TOK_LPAREN; return t;
    case ')': t.type = TOK_RPAREN; return t;
    case '[': t.type = TOK_LBRACK; return t;
    case ']': t.type = TOK_RBRACK; return t;
    case ',': t.type = TOK_COMMA; return t;
    case ';': t.type = TOK_SEMI; return t;
    case '=': t.type = TOK_ASSIGN; return t;
    case '-': t.type = TOK_MINUS; return t;
    case '<':
        if (pos + 1 < len && src[pos + 1] == '<') {
            t.type = TOK_SEND;
            t.len = 2;
            t.end = pos + 2;
            return t;
        }
        break;
    default:
        break;
    }
    lex_error(&t, pos, NULL);
    return t;
}

/* ---- Parser ------------------------------------------------------------------------ */

static void fail(struct jsl_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error; later ones are consequences of it. */
static void fail(struct jsl_parser *p, size_t pos, const char *fmt, ...)
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
static void fail_token(struct jsl_parser *p, const struct jsl_token *t)
{
    unsigned char c;

    if (t->error) {
        fail(p, t->pos, "%s", t->error);
        return;
    }
    c = (unsigned char)p->src[t->pos];
    if (c > 0x20 && c < 0x7F) {
        fail(p, t->pos, "unexpected character '%c'", c);
    } else {
        /* The source is valid UTF-8 here, so this decodes one whole code point. */
        uint32_t cp = c;
        size_t n = 0;

        if (c >= 0xF0) { cp = c & 0x07; n = 3; }
        else if (c >= 0xE0) { cp = c & 0x0F; n = 2; }
        else if (c >= 0xC0) { cp = c & 0x1F; n = 1; }
        for (size_t k = 1; k <= n; k++)
            cp = (cp << 6) | ((unsigned char)p->src[t->pos + k] & 0x3F);
        fail(p, t->pos, "unexpected character U+%04X", (unsigned)cp);
    }
}

static void advance(struct jsl_parser *p)
{
    p->prev_end = p->tok.pos + p->tok.len;
    p->tok = lex(p->src, p->len, p->tok.end);
    if (p->tok.type == TOK_ERROR)
        fail_token(p, &p->tok);
}

/* Fails with "expected ..." at the current token, or with the lexical error it holds. */
static void expected(struct jsl_parser *p, const char *what)
{
    if (p->tok.type == TOK_ERROR)
        fail_token(p, &p->tok);
    else if (p->tok.type == TOK_END)
        fail(p, p->tok.pos, "expected %s, found the end of the input", what);
    else if (p->tok.len <= 24)
        fail(p, p->tok.pos, "expected %s, found '%.*s'", what, (int)p->tok.len,
             p->src + p->tok.pos);
    else
        fail(p, p->tok.pos, "expected %s, found '%.20s...'", what, p->src + p->tok.pos);
}

static struct jsl_node *node_at(struct jsl_parser *p, uint32_t ref)
{
    return &p->nodes[ref - 1];
}

/* A new node for the token at pos/len; returns its reference, or 0 when the work area is
 * full (jsl_work_size makes that impossible; this is the safety net). */
static uint32_t new_node(struct jsl_parser *p, enum jsl_kind kind, size_t pos, size_t len)
{
    struct jsl_node *n;

    if (p->n_nodes >= p->max_nodes) {
        fail(p, pos, "program too long");
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
static int set_depth(struct jsl_parser *p, uint32_t ref, uint32_t child_depth)
{
    struct jsl_node *n = node_at(p, ref);

    n->depth = child_depth + 1;
    if (n->depth > JSL_MAX_DEPTH) {
        fail(p, n->pos, "nested too deeply (at most %d levels)", JSL_MAX_DEPTH);
        return -1;
    }
    return 0;
}

/* Whether the `len` source bytes at `s` spell `word` once white space is dropped and case
 * folded, as JSL compares names. `word` is lower case. */
static int name_is(const char *s, size_t len, const char *word)
{
    size_t w = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t')
            continue;
        if (word[w] == '\0' || to_lower(c) != (unsigned char)word[w])
            return 0;
        w++;
    }
    return word[w] == '\0';
}

/* The index of the name at s/len in `table`, or -1. */
static int lookup(const char *s, size_t len, const char *const *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (name_is(s, len, table[i]))
            return (int)i;
    }
    return -1;
}

static uint32_t parse_expr(struct jsl_parser *p);

/*
 * The arguments after an opening parenthesis, up to and including the closing one.
 * Returns the first argument (0 for none: check p->failed), and sets *count and
 * *max_depth to their number and the height of the tallest.
 */
static uint32_t parse_args(struct jsl_parser *p, size_t *count, uint32_t *max_depth)
{
    uint32_t first = 0, last = 0;

    *count = 0;
    *max_depth = 0;
    if (p->tok.type == TOK_RPAREN) {
        advance(p);
        return 0;
    }
    for (;;) {
        uint32_t arg = parse_expr(p);

        if (!arg)
            return 0;
        if (last)
            node_at(p, last)->next = arg;
        else
            first = arg;
        last = arg;
        (*count)++;
        if (node_at(p, arg)->depth > *max_depth)
            *max_depth = node_at(p, arg)->depth;
        if (p->tok.type == TOK_COMMA) {
            advance(p);
        } else if (p->tok.type == TOK_RPAREN) {
            advance(p);
            return first;
        } else {
            expected(p, "',' or ')' after an argument");
            return 0;
        }
    }
}

/* The n-th argument of a list (0-based). */
static uint32_t nth_arg(struct jsl_parser *p, uint32_t first, size_t n)
{
    while (first && n--)
        first = node_at(p, first)->next;
    return first;
}

/* Socket(), Socket(STREAM), Socket(DGRAM), Socket("DGRAM"): the socket type, or -1. */
static int socket_type(struct jsl_parser *p, uint32_t arg)
{
    const struct jsl_node *n = node_at(p, arg);

    for (size_t t = 0; t < 2; t++) {
        const char *want = t == 0 ? "stream" : "dgram";

        if (n->kind == KIND_NAME && name_is(p->src + n->pos, n->len, want))
            return (int)t;
        /* Spaces count inside a string, so compare byte by byte, folding case only. */
        if (n->kind == KIND_STRING && n->len - 2 == strlen(want)) {
            size_t k = 0;

            while (k < n->len - 2 &&
                   to_lower((unsigned char)p->src[n->pos + 1 + k]) == (unsigned char)want[k])
                k++;
            if (k == n->len - 2)
                return (int)t;
        }
    }
    return -1;
}

/* A function call, from its name (already consumed) and its opening parenthesis. */
static uint32_t parse_call(struct jsl_parser *p, const struct jsl_token *name)
{
    int fn = lookup(p->src + name->pos, name->len, jsl_functions, JSL_N_FUNCTIONS);
    uint32_t args, call, depth;
    size_t count;

    if (fn < 0) {
        fail(p, name->pos, "unknown function '%.*s'",
             (int)(name->len > 40 ? 40 : name->len), p->src + name->pos);
        return 0;
    }
    advance(p);
    args = parse_args(p, &count, &depth);
    if (p->failed)
        return 0;
    switch (fn) {
    case FN_SOCKET: {
        int type = 0;

        if (count > 1) {
            fail(p, node_at(p, nth_arg(p, args, 1))->pos, "Socket() takes one argument, "
                 "STREAM or DGRAM");
            return 0;
        }
        if (count == 1) {
            type = socket_type(p, args);
            if (type < 0) {
                fail(p, node_at(p, args)->pos, "Socket() takes STREAM or DGRAM");
                return 0;
            }
        }
        call = new_node(p, KIND_SOCKET, name->pos, name->len);
        if (call)
            node_at(p, call)->extra = (uint32_t)type;
        return call;
    }
    case FN_CHARTOBLOB:
    case FN_BLOBTOCHAR:
        if (count < 1 || count > 2) {
            fail(p, count > 2 ? node_at(p, nth_arg(p, args, 2))->pos : name->pos,
                 "%s takes one or two arguments", jsl_function_titles[fn]);
            return 0;
        }
        break;
    case FN_SHOW:
        if (count < 1) {
            fail(p, name->pos, "Show() needs at least one argument");
            return 0;
        }
        break;
    default:
        break;
    }
    call = new_node(p, KIND_CALL, name->pos, name->len);
    if (!call)
        return 0;
    node_at(p, call)->extra = (uint32_t)fn;
    node_at(p, call)->b = args;
    if (set_depth(p, call, depth) < 0)
        return 0;
    return call;
}

/* A number, a string, a name, a call, or an expression in parentheses. */
static uint32_t parse_primary(struct jsl_parser *p)
{
    struct jsl_token t = p->tok;
    uint32_t n;

    switch (t.type) {
    case TOK_NUMBER:
        n = new_node(p, KIND_NUMBER, t.pos, t.len);
        advance(p);
        return n;
    case TOK_MINUS:
        advance(p);
        if (p->tok.type != TOK_NUMBER) {
            expected(p, "a number after '-'");
            return 0;
        }
        n = new_node(p, KIND_NUMBER, p->tok.pos, p->tok.len);
        if (n)
            node_at(p, n)->extra = 1;
        advance(p);
        return n;
    case TOK_STRING:
        n = new_node(p, KIND_STRING, t.pos, t.len);
        advance(p);
        return n;
    case TOK_LPAREN:
        advance(p);
        n = parse_expr(p);
        if (!n)
            return 0;
        if (p->tok.type != TOK_RPAREN) {
            expected(p, "')'");
            return 0;
        }
        advance(p);
        return n;
    case TOK_NAME:
        advance(p);
        if (p->tok.type == TOK_LPAREN)
            return parse_call(p, &t);
        return new_node(p, KIND_NAME, t.pos, t.len);
    default:
        expected(p, "a value");
        return 0;
    }
}

/* A value followed by any number of [index]. */
static uint32_t parse_postfix(struct jsl_parser *p)
{
    uint32_t target = parse_primary(p);

    while (target && p->tok.type == TOK_LBRACK) {
        uint32_t index, n = new_node(p, KIND_INDEX, p->tok.pos, 1);

        advance(p);
        if (!n || p->failed)
            return 0;
        index = parse_expr(p);
        if (!index)
            return 0;
        if (p->tok.type != TOK_RBRACK) {
            expected(p, "']'");
            return 0;
        }
        advance(p);
        node_at(p, n)->a = target;
        node_at(p, n)->b = index;
        if (set_depth(p, n, node_at(p, target)->depth > node_at(p, index)->depth
                                ? node_at(p, target)->depth : node_at(p, index)->depth) < 0)
            return 0;
        target = n;
    }
    return target;
}

/* target << message(args), any number of times. */
static uint32_t parse_send(struct jsl_parser *p)
{
    uint32_t target = parse_postfix(p);

    while (target && p->tok.type == TOK_SEND) {
        struct jsl_token op = p->tok;
        uint32_t args, n, depth;
        size_t count;
        int cmd;

        advance(p);
        if (p->tok.type != TOK_NAME) {
            expected(p, "a socket command after '<<'");
            return 0;
        }
        cmd = lookup(p->src + p->tok.pos, p->tok.len, jsl_commands, JSL_N_COMMANDS);
        if (cmd < 0) {
            fail(p, p->tok.pos, "unknown socket command '%.*s'",
                 (int)(p->tok.len > 40 ? 40 : p->tok.len), p->src + p->tok.pos);
            return 0;
        }
        advance(p);
        if (p->tok.type != TOK_LPAREN) {
            expected(p, "'(' after the command name");
            return 0;
        }
        advance(p);
        if (p->failed)
            return 0;
        args = parse_args(p, &count, &depth);
        if (p->failed)
            return 0;
        n = new_node(p, KIND_SEND, op.pos, op.len);
        if (!n)
            return 0;
        node_at(p, n)->a = target;
        node_at(p, n)->b = args;
        node_at(p, n)->extra = (uint32_t)cmd;
        if (set_depth(p, n, node_at(p, target)->depth > depth ? node_at(p, target)->depth
                                                               : depth) < 0)
            return 0;
        target = n;
    }
    return target;
}

/* An expression: `name = expression`, or a send expression. */
static uint32_t parse_expr(struct jsl_parser *p)
{
    uint32_t e = 0;

    if (p->failed)
        return 0;
    if (++p->depth > JSL_MAX_DEPTH) {
        fail(p, p->tok.pos, "nested too deeply (at most %d levels)", JSL_MAX_DEPTH);
        goto out;
    }
    e = parse_send(p);
    if (e && p->tok.type == TOK_ASSIGN) {
        uint32_t value, assign;

        if (node_at(p, e)->kind != KIND_NAME) {
            fail(p, p->tok.pos, "only a name can be assigned to");
            e = 0;
            goto out;
        }
        assign = new_node(p, KIND_ASSIGN, p->tok.pos, 1);
        advance(p);
        value = assign ? parse_expr(p) : 0;
        if (!value) {
            e = 0;
            goto out;
        }
        node_at(p, assign)->a = e;
        node_at(p, assign)->b = value;
        e = set_depth(p, assign, node_at(p, value)->depth) < 0 ? 0 : assign;
    }
out:
    p->depth--;
    return p->failed ? 0 : e;
}

/* Statements separated by ';'; empty ones are skipped. Returns the first statement. */
static uint32_t parse_program(struct jsl_parser *p)
{
    uint32_t first = 0, last = 0;

    p->tok = lex(p->src, p->len, 0);
    if (p->tok.type == TOK_ERROR)
        fail_token(p, &p->tok);
    while (!p->failed) {
        size_t start;
        uint32_t e, s;

        while (p->tok.type == TOK_SEMI)
            advance(p);
        if (p->failed || p->tok.type == TOK_END)
            break;
        start = p->tok.pos;
        e = parse_expr(p);
        if (!e)
            break;
        if (p->tok.type != TOK_SEMI && p->tok.type != TOK_END) {
            expected(p, "';' between statements");
            break;
        }
        s = new_node(p, KIND_STATEMENT, start, p->prev_end - start);
        if (!s)
            break;
        node_at(p, s)->a = e;
        if (last)
            node_at(p, last)->next = s;
        else
            first = s;
        last = s;
    }
    return p->failed ? 0 : first;
}

/* ---- JSON writer ------------------------------------------------------------------- */

/* Writes into a fixed buffer and counts past its end, as snprintf does. */
struct jsl_writer {
    char *out;  /* the caller's buffer */
    size_t cap; /* its size */
    size_t len; /* bytes the whole text needs so far */
};

static void put(struct jsl_writer *w, const char *s, size_t n)
{
    if (w->cap > 0 && w->len < w->cap - 1) {
        size_t room = w->cap - 1 - w->len;

        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void put_str(struct jsl_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_uint(struct jsl_writer *w, size_t v)
{
    char digits[24];
    size_t i = sizeof digits;

    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, digits + i, sizeof digits - i);
}

/* One byte of a JSON string's contents, escaped as JSON needs. The text is valid UTF-8,
 * so bytes from 0x80 up go out unchanged. */
static void put_json_byte(struct jsl_writer *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

    switch (c) {
    case '"': put(w, "\\\"", 2); return;
    case '\\': put(w, "\\\\", 2); return;
    case '\n': put(w, "\\n", 2); return;
    case '\r': put(w, "\\r", 2); return;
    case '\t': put(w, "\\t", 2); return;
    default: break;
    }
    if (c < 0x20) {
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        put(w, esc, 6);
        return;
    }
    put(w, (const char *)&c, 1);
}

static void put_json_bytes(struct jsl_writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++)
        put_json_byte(w, (unsigned char)s[i]);
    put(w, "\"", 1);
}

/* A name without its white space, in lower case when `fold` is set. */
static void put_name(struct jsl_writer *w, const char *s, size_t n, int fold)
{
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t')
            continue;
        c = fold ? to_lower(c) : c;
        put(w, (const char *)&c, 1);
    }
    put(w, "\"", 1);
}

/* A JSL string literal's value: the text between the quotes with \! escapes undone. */
static void put_jsl_string(struct jsl_writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\' && i + 2 < n && s[i + 1] == '!') {
            switch (s[i + 2]) {
            case 'n': case 'N': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '0': c = '\0'; break;
            default: c = (unsigned char)s[i + 2]; break; /* \!" and \!\ */
            }
            i += 2;
        }
        put_json_byte(w, c);
    }
    put(w, "\"", 1);
}

/* A number token as a JSON number: JSL takes "007", ".5" and "5." that JSON does not. */
static void put_number(struct jsl_writer *w, const char *s, size_t n, int negative)
{
    size_t i = 0, int_start, int_end, frac_start, frac_end;

    if (negative)
        put(w, "-", 1);
    while (i < n && s[i] == '0')
        i++;
    int_start = i;
    while (i < n && is_digit((unsigned char)s[i]))
        i++;
    int_end = i;
    if (int_end > int_start)
        put(w, s + int_start, int_end - int_start);
    else
        put(w, "0", 1);
    frac_start = frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        frac_end = i;
    }
    if (frac_end > frac_start) {
        put(w, ".", 1);
        put(w, s + frac_start, frac_end - frac_start);
    }
    if (i < n)
        put(w, s + i, n - i); /* the exponent, already in JSON's form */
}

static void write_expr(struct jsl_parser *p, struct jsl_writer *w, uint32_t ref);

static void write_args(struct jsl_parser *p, struct jsl_writer *w, uint32_t first)
{
    put(w, "[", 1);
    for (uint32_t a = first; a; a = node_at(p, a)->next) {
        if (a != first)
            put(w, ",", 1);
        write_expr(p, w, a);
    }
    put(w, "]", 1);
}

/* One expression; recursion is bounded by JSL_MAX_DEPTH, checked while parsing. */
static void write_expr(struct jsl_parser *p, struct jsl_writer *w, uint32_t ref)
{
    const struct jsl_node *n = node_at(p, ref);
    const struct jsl_node *name;

    switch ((enum jsl_kind)n->kind) {
    case KIND_ASSIGN:
        name = node_at(p, n->a);
        put_str(w, "{\"kind\":\"assign\",\"name\":");
        put_name(w, p->src + name->pos, name->len, 1);
        put_str(w, ",\"value\":");
        write_expr(p, w, n->b);
        put(w, "}", 1);
        break;
    case KIND_SEND:
        put_str(w, "{\"kind\":\"send\",\"target\":");
        write_expr(p, w, n->a);
        put_str(w, ",\"command\":\"");
        put_str(w, jsl_commands[n->extra]);
        put_str(w, "\",\"args\":");
        write_args(p, w, n->b);
        put(w, "}", 1);
        break;
    case KIND_INDEX:
        put_str(w, "{\"kind\":\"index\",\"target\":");
        write_expr(p, w, n->a);
        put_str(w, ",\"index\":");
        write_expr(p, w, n->b);
        put(w, "}", 1);
        break;
    case KIND_CALL:
        put_str(w, "{\"kind\":\"call\",\"name\":\"");
        put_str(w, jsl_functions[n->extra]);
        put_str(w, "\",\"args\":");
        write_args(p, w, n->b);
        put(w, "}", 1);
        break;
    case KIND_SOCKET:
        put_str(w, "{\"kind\":\"socket\",\"type\":\"");
        put_str(w, jsl_socket_types[n->extra]);
        put_str(w, "\"}");
        break;
    case KIND_NAME:
        put_str(w, "{\"kind\":\"name\",\"name\":");
        put_name(w, p->src + n->pos, n->len, 1);
        put_str(w, ",\"text\":");
        put_name(w, p->src + n->pos, n->len, 0);
        put(w, "}", 1);
        break;
    case KIND_NUMBER:
        put_str(w, "{\"kind\":\"number\",\"value\":");
        put_number(w, p->src + n->pos, n->len, (int)n->extra);
        put(w, "}", 1);
        break;
    case KIND_STRING:
        put_str(w, "{\"kind\":\"string\",\"value\":");
        put_jsl_string(w, p->src + n->pos, n->len);
        put(w, "}", 1);
        break;
    case KIND_STATEMENT:
        break;
    }
}

static void write_program(struct jsl_parser *p, struct jsl_writer *w, uint32_t first)
{
    size_t pos = 0, col = 1;

    put_str(w, "{\"statements\":[");
    for (uint32_t s = first; s; s = node_at(p, s)->next) {
        const struct jsl_node *n = node_at(p, s);

        col = column_of(p->src, pos, col, n->pos);
        pos = n->pos;
        if (s != first)
            put(w, ",", 1);
        put_str(w, "{\"col\":");
        put_uint(w, col);
        put_str(w, ",\"text\":");
        put_json_bytes(w, p->src + n->pos, n->len);
        put_str(w, ",\"expr\":");
        write_expr(p, w, n->a);
        put(w, "}", 1);
    }
    put_str(w, "]}");
}

static void write_error(struct jsl_parser *p, struct jsl_writer *w, size_t column)
{
    put_str(w, "{\"error\":{\"column\":");
    put_uint(w, column);
    put_str(w, ",\"message\":");
    put_json_bytes(w, p->message, strlen(p->message));
    put_str(w, "}}");
}

/* ---- Entry points ------------------------------------------------------------------ */

size_t jsl_work_size(size_t len)
{
    if (len > JSL_MAX_SOURCE)
        len = JSL_MAX_SOURCE;
    return (2 * len + 2) * sizeof(struct jsl_node);
}

long jsl_parse(const char *src, size_t len, void *work, size_t work_size, char *out,
               size_t out_cap, struct jsl_error *err)
{
    struct jsl_parser p;
    struct jsl_writer w = { out, out_cap, 0 };
    uint32_t first;
    size_t bad;

    if (len > JSL_MAX_SOURCE)
        return -E2BIG;
    if (work_size < jsl_work_size(len) || (uintptr_t)work % _Alignof(struct jsl_node) != 0)
        return -ENOBUFS;
    memset(&p, 0, sizeof p);
    p.src = src;
    p.len = len;
    p.nodes = work;
    p.max_nodes = work_size / sizeof(struct jsl_node);

    bad = utf8_invalid_at((const unsigned char *)src, len);
    if (bad < len) {
        fail(&p, bad, "invalid UTF-8");
        first = 0;
    } else {
        first = parse_program(&p);
    }

    if (p.failed) {
        size_t column = column_of(src, 0, 1, p.err_pos);

        write_error(&p, &w, column);
        if (err) {
            err->column = column;
            memcpy(err->message, p.message, sizeof err->message);
        }
    } else {
        write_program(&p, &w, first);
        if (err) {
            err->column = 0;
            err->message[0] = '\0';
        }
    }
    if (out_cap > 0)
        out[w.len < out_cap ? w.len : out_cap - 1] = '\0';
    return (long)w.len;
}
