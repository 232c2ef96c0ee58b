/*
 * What the files of the JSL parser share, and nothing outside them includes: the
 * characters and tokens of web/jsl_lexer.c, the tree, source positions and error record of
 * web/jsl_tree.c, the grammar split between web/jsl_parser.c (sequences, values, calls)
 * and web/jsl_operators.c (operators by precedence), and the JSON writer of
 * web/jsl_writer.c.
 *
 * All of it is pure C, as jsl_parser.h promises: no I/O, no globals but constant tables,
 * no allocation. The parser's state lives in one struct jsli_parser on jsl_parse's stack.
 */
#ifndef SOCKGATE_JSL_INTERNAL_H
#define SOCKGATE_JSL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jsl_parser.h"

/* ---- Characters (jsl_lexer.c) ------------------------------------------------------ */

static inline int jsli_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ASCII only: the locale must not change how names compare, and the interpreter folds
 * the same way. */
static inline unsigned char jsli_to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The bytes of the white space character at s[i] (space, tab, CR, LF, FF, VT, or a
 * no-break space U+00A0 as pasted from web pages), or 0. */
size_t jsli_space_len(const char *s, size_t len, size_t i);

/* The bytes of the character at s[i] if it may go on a name (letters, digits and
 * _ ' % . \ as JMP documents, and letters beyond ASCII), or 0. */
size_t jsli_name_char_len(const char *s, size_t len, size_t i);

/* The offset of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), or len when all is valid. */
size_t jsli_utf8_invalid_at(const unsigned char *s, size_t len);

/* The code point that starts at s[i] (valid UTF-8), and its length in *n. */
uint32_t jsli_decode(const char *s, size_t len, size_t i, size_t *n);

/* ---- Tokens (jsl_lexer.c) ---------------------------------------------------------- */

enum jsli_tok {
    JSLI_TOK_END,     /* end of the source */
    JSLI_TOK_ERROR,   /* a lexical error: see jsli_token.error */
    JSLI_TOK_NAME,    /* a name, possibly with inner white space: "Char To Blob" */
    JSLI_TOK_QNAME,   /* a quoted name: "any text"n */
    JSLI_TOK_NUMBER,  /* 100, 1.5, .5, 1e3 */
    JSLI_TOK_STRING,  /* "..." with its quotes */
    JSLI_TOK_MISSING, /* . (JSL's missing value) */
    JSLI_TOK_LPAREN,
    JSLI_TOK_RPAREN,
    JSLI_TOK_LBRACK,
    JSLI_TOK_RBRACK,
    JSLI_TOK_LBRACE,
    JSLI_TOK_RBRACE,
    JSLI_TOK_COMMA,
    JSLI_TOK_SEMI,
    /* Operators, from here on: jsli_tok_text[] spells each. */
    JSLI_TOK_ASSIGN,    /* = */
    JSLI_TOK_ADD_TO,    /* += */
    JSLI_TOK_SUB_TO,    /* -= */
    JSLI_TOK_MUL_TO,    /* *= */
    JSLI_TOK_DIV_TO,    /* /= */
    JSLI_TOK_CONCAT_TO, /* ||= */
    JSLI_TOK_PLUS,
    JSLI_TOK_MINUS,
    JSLI_TOK_STAR,
    JSLI_TOK_SLASH,
    JSLI_TOK_EQ,     /* == */
    JSLI_TOK_NE,     /* != */
    JSLI_TOK_LT,
    JSLI_TOK_LE,
    JSLI_TOK_GT,
    JSLI_TOK_GE,
    JSLI_TOK_AND,    /* & */
    JSLI_TOK_OR,     /* | */
    JSLI_TOK_CONCAT, /* || */
    JSLI_TOK_SEND,   /* << */
    JSLI_TOK_NOT,    /* ! */
    JSLI_TOK_INC,    /* ++ */
    JSLI_TOK_DEC,    /* -- */
    JSLI_N_TOKS
};

/* How each token is written (operators and punctuation; "" for the others). */
extern const char *const jsli_tok_text[JSLI_N_TOKS];

struct jsli_token {
    enum jsli_tok type; /* what the token is */
    size_t pos;         /* offset of its first byte */
    size_t len;         /* its bytes; a name's trailing white space excluded */
    size_t end;         /* where lexing goes on after it */
    const char *error;  /* JSLI_TOK_ERROR: the message, or NULL for "unexpected character" */
};

/* Reads the token that starts at or after byte `pos` of the `len` bytes at `src`. */
struct jsli_token jsli_lex(const char *src, size_t len, size_t pos);

/* Decodes the next byte of a string literal's value from the source bytes s[*i..end)
 * (between the quotes), undoing \! escapes and \[...]\ raw parts; *raw carries the raw
 * state from one call to the next (start at 0). Returns -1 when nothing is left. */
int jsli_string_byte(const char *s, size_t end, size_t *i, int *raw);

/* ---- Source positions (jsl_tree.c) ------------------------------------------------- */

/* Where a byte of the source is, in the units of the JSON: 1-based line and column, and
 * the 0-based code point offset. */
struct jsli_loc {
    uint32_t line;
    uint32_t col;
    uint32_t cp;
};

/* Walks the source forward, counting code points and lines. A line ends at LF, at CR LF,
 * or at a CR alone. */
struct jsli_cursor {
    size_t byte;      /* where it is */
    uint32_t cp;      /* code points before it */
    uint32_t line;    /* its line, 1-based */
    uint32_t line_cp; /* code points before that line's first character */
};

/* Moves the cursor forward to byte `to` (never back) and tells where that is. */
struct jsli_loc jsli_locate(struct jsli_cursor *c, const char *src, size_t len, size_t to);

/* ---- Tree (jsl_tree.c) ------------------------------------------------------------- */

enum jsli_kind {
    JSLI_KIND_GLUE,    /* a: first item */
    JSLI_KIND_NUMBER,  /* src: its token */
    JSLI_KIND_MISSING,
    JSLI_KIND_STRING,  /* src: its token, quotes included */
    JSLI_KIND_NAME,    /* src: its token (JSLI_FLAG_QUOTED: a "..."n token) */
    JSLI_KIND_LIST,    /* a: first item */
    JSLI_KIND_CALL,    /* src: the name's token, a: first argument */
    JSLI_KIND_INDEX,   /* a: target, b: first index */
    JSLI_KIND_UNARY,   /* op: - or !, a: operand */
    JSLI_KIND_BINARY,  /* op, a: left, b: right */
    JSLI_KIND_ASSIGN,  /* op, a: target, b: value */
    JSLI_KIND_INCDEC,  /* op: ++ or --, a: target */
    JSLI_KIND_SEND,    /* a: target, b: the message (a call) */
};

enum jsli_flag {
    JSLI_FLAG_QUOTED = 1, /* a name or call whose name is a "..."n token */
    JSLI_FLAG_BARE = 2,   /* a message without parentheses: s << close */
    JSLI_FLAG_PREFIX = 4, /* ++x, --x */
    JSLI_FLAG_SUGAR = 8,  /* the Send(x) that `s << <<x` stands for */
};

/* One node of the syntax tree; the work area is an array of these. Children are indexes
 * into that array plus one, so that 0 means "none"; a node's siblings in a list of items,
 * arguments or indices follow its `next`. */
struct jsli_node {
    uint8_t kind;    /* enum jsli_kind */
    uint8_t op;      /* enum jsli_tok of its operator */
    uint8_t flags;   /* enum jsli_flag */
    uint8_t unused;
    uint32_t src;     /* byte offset of the token a leaf or a call is written from */
    uint32_t src_len; /* its bytes */
    uint32_t line;    /* "pos": where the node's source text starts... */
    uint32_t col;
    uint32_t start;   /* ...its code point offset... */
    uint32_t end;     /* ...and where it ends (exclusive) */
    uint32_t a;       /* first child (see enum jsli_kind) */
    uint32_t b;       /* second child */
    uint32_t next;    /* next sibling in a list */
    uint32_t height;  /* of the subtree, checked against JSL_MAX_HEIGHT */
};

/* The parser's whole state: the source, the caller's work area, the current token and
 * the first error. jsl_parse zeroes it and fills in src, len, nodes and max_nodes. */
struct jsli_parser {
    const char *src;          /* the source, not NUL-terminated */
    size_t len;               /* its bytes */
    struct jsli_node *nodes;  /* the caller's work area */
    size_t max_nodes;         /* nodes it holds */
    size_t n_nodes;           /* nodes used */
    struct jsli_token tok;    /* the current token */
    struct jsli_loc tok_loc;  /* where it starts */
    uint32_t tok_end_cp;      /* the code point offset where it ends */
    uint32_t prev_end_cp;     /* where the last token consumed ends: a node's end */
    struct jsli_cursor cursor; /* how far positions have been counted */
    int depth;                /* current nesting, checked against JSL_MAX_DEPTH */
    int failed;               /* an error was recorded: stop parsing */
    size_t err_pos;           /* byte offset of the error... */
    int err_at_loc;           /* ...unless this is set: then it is at err_loc */
    struct jsli_loc err_loc;
    char message[JSL_MESSAGE_MAX]; /* its message */
};

/* The node that reference `ref` (index plus one, never 0) names. */
static inline struct jsli_node *jsli_node_at(const struct jsli_parser *p, uint32_t ref)
{
    return &p->nodes[ref - 1];
}

/* A new node of `kind` starting at `loc`; returns its reference, or 0 when the work area
 * is full (jsl_work_size makes that impossible; this is the safety net). */
uint32_t jsli_new_node(struct jsli_parser *p, enum jsli_kind kind, struct jsli_loc loc);

/* A new node for the current token (a leaf, or a call's name), which it consumes. */
uint32_t jsli_token_node(struct jsli_parser *p, enum jsli_kind kind);

/* A new node that starts where node `first` starts. */
uint32_t jsli_node_from(struct jsli_parser *p, enum jsli_kind kind, uint32_t first);

/* Ends node `ref` at the last token consumed and gives it the height of its tallest
 * child (0: none) plus one; fails past JSL_MAX_HEIGHT. Returns ref, or 0 on failure. */
uint32_t jsli_finish(struct jsli_parser *p, uint32_t ref, uint32_t child_height);

/* The height of the tallest node in the list that starts at `first`. */
uint32_t jsli_list_height(const struct jsli_parser *p, uint32_t first);

/* Moves to the next token, keeping where the consumed one ended. */
void jsli_advance(struct jsli_parser *p);

/* Records the first error, at byte offset `pos`; later ones are consequences of it. */
void jsli_fail(struct jsli_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a lexical error token, naming the character for "unexpected character". */
void jsli_fail_token(struct jsli_parser *p, const struct jsli_token *t);

/* Fails with "expected <what>, found <the current token>" (or its lexical error). */
void jsli_expected(struct jsli_parser *p, const char *what);

/* ---- Grammar (jsl_parser.c, jsl_operators.c) --------------------------------------- */

/* One expression: an assignment, or any operator expression (jsl_operators.c). */
uint32_t jsli_parse_expr(struct jsli_parser *p);

/* A value with its subscripts and postfix ++/-- (jsl_parser.c). */
uint32_t jsli_parse_postfix(struct jsli_parser *p);

/* The arguments of a call or a message, from its opening parenthesis (the current token)
 * to its closing one; returns the first argument, 0 for none (check p->failed). */
uint32_t jsli_parse_args(struct jsli_parser *p);

/* Whether node `ref` can be assigned to, incremented or decremented: a name or a
 * subscript. */
static inline int jsli_assignable(const struct jsli_parser *p, uint32_t ref)
{
    uint8_t kind = jsli_node_at(p, ref)->kind;

    return kind == JSLI_KIND_NAME || kind == JSLI_KIND_INDEX;
}

/* Counts one more level of nesting and returns 1, or fails past JSL_MAX_DEPTH and
 * returns 0. jsli_leave undoes a successful jsli_enter. */
int jsli_enter(struct jsli_parser *p);

static inline void jsli_leave(struct jsli_parser *p)
{
    p->depth--;
}

/* ---- JSON (jsl_writer.c) ----------------------------------------------------------- */

/* Both write into `out` as snprintf does, without the final NUL, which jsl_parse adds,
 * and return the length of the whole text. */

/* The tree from the root glue node `root`, as {"ast":...}. */
size_t jsli_write_tree(const struct jsli_parser *p, uint32_t root, char *out, size_t out_cap);

/* p's recorded error, found at `loc`, as {"error":{...}}. */
size_t jsli_write_error(const struct jsli_parser *p, struct jsli_loc loc, char *out,
                        size_t out_cap);

#endif
