/*
 * What the files of the JSL parser share, and nothing outside them includes: the tokens
 * of web/jsl_lexer.c, the tree and error record of web/jsl_tree.c that web/jsl_parser.c
 * fills in, and the JSON writer of web/jsl_writer.c that prints it.
 *
 * All of it is pure C, as jsl_parser.h promises: no I/O, no globals but constant tables,
 * no allocation. The parser's state lives in one struct jsli_parser on jsl_parse's stack.
 */
#ifndef SOCKGATE_JSL_INTERNAL_H
#define SOCKGATE_JSL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jsl_parser.h"

/* ---- Characters -------------------------------------------------------------------- */

static inline int jsli_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ASCII only: JSL names are ASCII, and the locale must not change how they compare. */
static inline unsigned char jsli_to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* ---- Tokens (jsl_lexer.c) ---------------------------------------------------------- */

enum jsli_tok {
    JSLI_TOK_END,    /* end of the source */
    JSLI_TOK_NAME,   /* a name, possibly with inner spaces: "Char To Blob" */
    JSLI_TOK_NUMBER, /* 100, 1.5, .5, 1e3 */
    JSLI_TOK_STRING, /* "..." with its quotes */
    JSLI_TOK_LPAREN,
    JSLI_TOK_RPAREN,
    JSLI_TOK_LBRACK,
    JSLI_TOK_RBRACK,
    JSLI_TOK_COMMA,
    JSLI_TOK_SEMI,
    JSLI_TOK_ASSIGN, /* = */
    JSLI_TOK_SEND,   /* << */
    JSLI_TOK_MINUS,
    JSLI_TOK_ERROR, /* a lexical error: see jsli_token.error */
};

struct jsli_token {
    enum jsli_tok type;  /* what the token is */
    size_t pos;          /* offset of its first byte */
    size_t len;          /* its bytes; a name's trailing white space excluded */
    size_t end;          /* where lexing goes on after it */
    const char *error;   /* JSLI_TOK_ERROR: the message, or NULL for "unexpected character" */
};

/* Reads the token that starts at or after byte `pos` of the `len` bytes at `src`. */
struct jsli_token jsli_lex(const char *src, size_t len, size_t pos);

/* The offset of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), or len when all is valid. */
size_t jsli_utf8_invalid_at(const unsigned char *s, size_t len);

/* The 1-based column of byte offset `pos`, counting code points on from byte `from`,
 * whose column is `from_col`; callers walking forward pass their last answer back. */
size_t jsli_column_of(const char *src, size_t from, size_t from_col, size_t pos);

/* ---- Tree (jsl_tree.c) ------------------------------------------------------------- */

/* One node of the syntax tree; the work area is an array of these. Children are indexes
 * into that array plus one, so that 0 means "none". */
struct jsli_node {
    uint32_t kind;  /* enum jsli_kind */
    uint32_t pos;   /* byte offset in the source of the token the node stands for */
    uint32_t len;   /* bytes of that token (a statement: of the whole statement) */
    uint32_t a;     /* first child: target, assigned name, statement expression */
    uint32_t b;     /* second child: value, index, first argument */
    uint32_t next;  /* next argument of the same list, or next statement */
    uint32_t extra; /* command, function or socket type number */
    uint32_t depth; /* height of the subtree, checked against JSL_MAX_DEPTH */
};

enum jsli_kind {
    JSLI_KIND_STATEMENT, /* a: expression; pos/len: the statement's source */
    JSLI_KIND_ASSIGN,    /* a: the name node, b: value */
    JSLI_KIND_SEND,      /* a: target, b: first argument, extra: command */
    JSLI_KIND_INDEX,     /* a: target, b: index */
    JSLI_KIND_CALL,      /* b: first argument, extra: function */
    JSLI_KIND_SOCKET,    /* extra: socket type */
    JSLI_KIND_NAME,
    JSLI_KIND_NUMBER,    /* extra: 1 when negated by a unary minus */
    JSLI_KIND_STRING,    /* pos/len include the quotes */
};

/* The names a node's `extra` numbers, as JSL spells them once normalised. jsl_tree.c
 * checks each table's length against its count when it compiles. */
#define JSLI_N_COMMANDS 14
extern const char *const jsli_commands[]; /* the messages a socket understands */

enum jsli_function { JSLI_FN_SOCKET, JSLI_FN_CHARTOBLOB, JSLI_FN_BLOBTOCHAR, JSLI_FN_SHOW };
#define JSLI_N_FUNCTIONS 4
extern const char *const jsli_functions[];
extern const char *const jsli_function_titles[]; /* for error messages */

#define JSLI_N_SOCKET_TYPES 2
extern const char *const jsli_socket_types[]; /* "STREAM", "DGRAM" */

/* The parser's whole state: the source, the caller's work area, the current token and
 * the first error. jsl_parse zeroes it and fills in src, len, nodes and max_nodes. */
struct jsli_parser {
    const char *src;          /* the source, not NUL-terminated */
    size_t len;               /* its bytes */
    struct jsli_node *nodes;  /* the caller's work area */
    size_t max_nodes;         /* nodes it holds */
    size_t n_nodes;           /* nodes used */
    struct jsli_token tok;    /* the current token */
    size_t prev_end;          /* end of the last token consumed */
    int depth;                /* current recursion depth of parse_expr */
    int failed;               /* an error was recorded: stop parsing */
    size_t err_pos;           /* offset of the error */
    char message[JSL_MESSAGE_MAX]; /* its message */
};

/* The node that reference `ref` (index plus one, never 0) names. */
static inline struct jsli_node *jsli_node_at(const struct jsli_parser *p, uint32_t ref)
{
    return &p->nodes[ref - 1];
}

/* A new node for the token at pos/len; returns its reference, or 0 when the work area is
 * full (jsl_work_size makes that impossible; this is the safety net). */
uint32_t jsli_new_node(struct jsli_parser *p, enum jsli_kind kind, size_t pos, size_t len);

/* Gives node `ref` the height of its tallest child plus one; fails past JSL_MAX_DEPTH. */
int jsli_set_depth(struct jsli_parser *p, uint32_t ref, uint32_t child_depth);

/* Records the first error, at byte offset `pos`; later ones are consequences of it. */
void jsli_fail(struct jsli_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a lexical error token, naming the character for "unexpected character". */
void jsli_fail_token(struct jsli_parser *p, const struct jsli_token *t);

/* Whether the `len` source bytes at `s` spell `word` once white space is dropped and case
 * folded, as JSL compares names. `word` is lower case. */
int jsli_name_is(const char *s, size_t len, const char *word);

/* The index of the name at s/len in the `n` entries of `table`, or -1. */
int jsli_lookup(const char *s, size_t len, const char *const *table, size_t n);

/* ---- JSON (jsl_writer.c) ----------------------------------------------------------- */

/* Both write into `out` as snprintf does, without the final NUL, which jsl_parse adds,
 * and return the length of the whole text. */

/* The statements from `first` on, as {"statements":[...]}. */
size_t jsli_write_program(const struct jsli_parser *p, uint32_t first, char *out,
                          size_t out_cap);

/* p's recorded error, at 1-based `column`, as {"error":{...}}. */
size_t jsli_write_error(const struct jsli_parser *p, size_t column, char *out,
                        size_t out_cap);

#endif
