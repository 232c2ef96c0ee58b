/*
 * The JSL statement parser of the browser console: it reads the few JSL statements that
 * drive a Socket() object (SPEC.md section 8) and writes their syntax tree as JSON text,
 * which the page's JavaScript then runs against the REST API.
 *
 * Pure C with no I/O, no globals and no allocation: the caller owns the source, a work
 * area for the tree (sized with jsl_work_size) and the output buffer, so the native tests
 * and the WebAssembly build compile this same file. Nothing here keeps a pointer to any
 * of them after jsl_parse returns.
 *
 * The JSON written (web/README.md shows it at length):
 *
 *     {"statements":[{"col":1,"text":"s = Socket()","expr":EXPR}, ...]}
 *     {"error":{"column":7,"message":"expected ')' after the arguments"}}
 *
 * where EXPR is one of
 *
 *     {"kind":"assign","name":"rc","value":EXPR}
 *     {"kind":"send","target":EXPR,"command":"recv","args":[EXPR, ...]}
 *     {"kind":"index","target":EXPR,"index":EXPR}
 *     {"kind":"call","name":"chartoblob"|"blobtochar"|"show","args":[EXPR, ...]}
 *     {"kind":"socket","type":"STREAM"|"DGRAM"}
 *     {"kind":"name","name":"fionbio","text":"FIONBIO"}
 *     {"kind":"number","value":100}
 *     {"kind":"string","value":"GET / HTTP/1.0\r\n"}
 *
 * Names ("name", "command") are normalised as JSL compares them: lower case, white space
 * removed ("Get Peer Name" is "getpeername"); a name node's "text" keeps the case. Columns
 * are 1-based and count Unicode code points from the start of the source, which the
 * console treats as a single line (a newline counts as one column).
 */
#ifndef SOCKGATE_JSL_PARSER_H
#define SOCKGATE_JSL_PARSER_H

#include <stddef.h>

#define JSL_MAX_SOURCE (1u << 20) /* longest source jsl_parse accepts, in bytes */
#define JSL_MAX_DEPTH 64          /* deepest nesting of expressions and of the tree */
#define JSL_MESSAGE_MAX 128       /* size of jsl_error.message, NUL included */

/* Why a source did not parse. */
struct jsl_error {
    size_t column;                  /* 1-based column of the error; 0: no error */
    char message[JSL_MESSAGE_MAX];  /* what went wrong, NUL-terminated, no final period */
};

/* The bytes of work area that jsl_parse needs for a source of `len` bytes (at most one
 * token per byte, at most two nodes per token). */
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
 * When `err` is not NULL it is filled in: err->column is 0 when the source parsed.
 *
 * Returns -E2BIG when len exceeds JSL_MAX_SOURCE, -ENOBUFS when the work area is too
 * small or misaligned; `out` and `err` then hold nothing useful.
 */
long jsl_parse(const char *src, size_t len, void *work, size_t work_size, char *out,
               size_t out_cap, struct jsl_error *err);

#endif
