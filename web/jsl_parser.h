/*
 * The JSL parser of the browser console: it reads a whole JSL script (SPEC.md section 8:
 * `;` glue, comments, operators with JSL's precedence, lists, subscripts, calls of any
 * function by name, `obj << message`) and writes its syntax tree as JSON text, which the
 * page's interpreter (and sockgate-jsl under node) then runs.
 *
 * Pure C with no I/O, no globals and no allocation: the caller owns the source, a work
 * area for the tree (sized with jsl_work_size) and the output buffer, so the native tests
 * and the WebAssembly build compile these same files. Nothing here keeps a pointer to any
 * of them after jsl_parse returns.
 *
 * The JSON written is the contract of /work/coord/jsl-ast.md, copied in web/README.md
 * ("The syntax tree"):
 *
 *     {"ast": NODE}          NODE is a "glue" node holding the script's expressions
 *     {"error": {"line": 2, "column": 7, "offset": 19, "message": "expected ')' ..."}}
 *
 * Every node carries "pos": [line, column, start, end]: 1-based line and column, and the
 * 0-based offsets of its source text (end exclusive), all counted in Unicode code points.
 */
#ifndef SOCKGATE_JSL_PARSER_H
#define SOCKGATE_JSL_PARSER_H

#include <stddef.h>

#define JSL_MAX_SOURCE (1u << 20) /* longest source jsl_parse accepts, in bytes */
/* Deepest nesting of brackets, calls, lists, subscripts, prefix operators and chained
 * assignments. The parser recurses once per level, so this bounds its stack. */
#define JSL_MAX_DEPTH 256
/* Tallest syntax tree (a + b + c + ... grows it by one per term without nesting). The
 * JSON writer and the interpreter recurse once per level, so this bounds their stacks;
 * and the JSON text then nests at most 2 * JSL_MAX_HEIGHT + 1 deep, within the 1000
 * levels that JSON readers such as cJSON accept. */
#define JSL_MAX_HEIGHT 480
#define JSL_MESSAGE_MAX 128 /* size of jsl_error.message, NUL included */

/* Why a source did not parse. Positions count Unicode code points, as the JSON does. */
struct jsl_error {
    size_t line;                   /* 1-based line of the error; 0: no error */
    size_t column;                 /* 1-based column in that line; 0: no error */
    size_t offset;                 /* 0-based offset in the whole source */
    char message[JSL_MESSAGE_MAX]; /* what went wrong, NUL-terminated UTF-8, no final period */
};

/* The bytes of work area that jsl_parse needs for a source of `len` bytes (a tree node
 * per token at most, and a token takes at least one byte). */
size_t jsl_work_size(size_t len);

/*
 * Parses the `len` bytes of JSL at `src` (UTF-8; NUL bytes allowed inside strings) and
 * writes the JSON text of its syntax tree, or of its first syntax error, into `out`.
 * `work` is scratch memory for the tree, of `work_size` bytes: at least
 * jsl_work_size(len), and 4-byte aligned (any malloc'ed block is).
 *
 * As snprintf does, it writes at most `out_cap` bytes, always NUL-terminated when
 * out_cap > 0, and returns the length of the whole JSON text: a return value >= out_cap
 * means the text was cut, and a buffer of (return value + 1) bytes holds it all.
 * When `err` is not NULL it is filled in: err->line and err->column are 0 when the source
 * parsed.
 *
 * Returns -E2BIG when len exceeds JSL_MAX_SOURCE, -ENOBUFS when the work area is too
 * small or misaligned; `out` and `err` then hold nothing useful.
 */
long jsl_parse(const char *src, size_t len, void *work, size_t work_size, char *out,
               size_t out_cap, struct jsl_error *err);

#endif
