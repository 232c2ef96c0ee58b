/*
 * The JSON writer of the JSL parser (see jsl_parser.h): it prints the tree that
 * web/jsl_parser.c built, or the error it recorded, into the caller's buffer, cutting
 * and counting as snprintf does.
 *
 * The source's text is only turned into output here: string literals are unescaped,
 * names normalised and numbers put in JSON's form while they are written.
 */
#include "jsl_internal.h"

#include <string.h>

/* Writes into a fixed buffer and counts past its end, as snprintf does. */
struct jsli_writer {
    char *out;  /* the caller's buffer */
    size_t cap; /* its size */
    size_t len; /* bytes the whole text needs so far */
};

static void put(struct jsli_writer *w, const char *s, size_t n)
{
    if (w->cap > 0 && w->len < w->cap - 1) {
        size_t room = w->cap - 1 - w->len;

        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void put_str(struct jsli_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_uint(struct jsli_writer *w, size_t v)
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
static void put_json_byte(struct jsli_writer *w, unsigned char c)
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

static void put_json_bytes(struct jsli_writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++)
        put_json_byte(w, (unsigned char)s[i]);
    put(w, "\"", 1);
}

/* A name without its white space, in lower case when `fold` is set. */
static void put_name(struct jsli_writer *w, const char *s, size_t n, int fold)
{
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t')
            continue;
        c = fold ? jsli_to_lower(c) : c;
        put(w, (const char *)&c, 1);
    }
    put(w, "\"", 1);
}

/* A JSL string literal's value: the text between the quotes with \! escapes undone. */
static void put_jsl_string(struct jsli_writer *w, const char *s, size_t n)
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
static void put_number(struct jsli_writer *w, const char *s, size_t n, int negative)
{
    size_t i = 0, int_start, int_end, frac_start, frac_end;

    if (negative)
        put(w, "-", 1);
    while (i < n && s[i] == '0')
        i++;
    int_start = i;
    while (i < n && jsli_is_digit((unsigned char)s[i]))
        i++;
    int_end = i;
    if (int_end > int_start)
        put(w, s + int_start, int_end - int_start);
    else
        put(w, "0", 1);
    frac_start = frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && jsli_is_digit((unsigned char)s[i]))
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

static void write_expr(const struct jsli_parser *p, struct jsli_writer *w, uint32_t ref);

static void write_args(const struct jsli_parser *p, struct jsli_writer *w, uint32_t first)
{
    put(w, "[", 1);
    for (uint32_t a = first; a; a = jsli_node_at(p, a)->next) {
        if (a != first)
            put(w, ",", 1);
        write_expr(p, w, a);
    }
    put(w, "]", 1);
}

/* One expression; recursion is bounded by JSL_MAX_DEPTH, checked while parsing. */
static void write_expr(const struct jsli_parser *p, struct jsli_writer *w, uint32_t ref)
{
    const struct jsli_node *n = jsli_node_at(p, ref);
    const struct jsli_node *name;

    switch ((enum jsli_kind)n->kind) {
    case JSLI_KIND_ASSIGN:
        name = jsli_node_at(p, n->a);
        put_str(w, "{\"kind\":\"assign\",\"name\":");
        put_name(w, p->src + name->pos, name->len, 1);
        put_str(w, ",\"value\":");
        write_expr(p, w, n->b);
        put(w, "}", 1);
        break;
    case JSLI_KIND_SEND:
        put_str(w, "{\"kind\":\"send\",\"target\":");
        write_expr(p, w, n->a);
        put_str(w, ",\"command\":\"");
        put_str(w, jsli_commands[n->extra]);
        put_str(w, "\",\"args\":");
        write_args(p, w, n->b);
        put(w, "}", 1);
        break;
    case JSLI_KIND_INDEX:
        put_str(w, "{\"kind\":\"index\",\"target\":");
        write_expr(p, w, n->a);
        put_str(w, ",\"index\":");
        write_expr(p, w, n->b);
        put(w, "}", 1);
        break;
    case JSLI_KIND_CALL:
        put_str(w, "{\"kind\":\"call\",\"name\":\"");
        put_str(w, jsli_functions[n->extra]);
        put_str(w, "\",\"args\":");
        write_args(p, w, n->b);
        put(w, "}", 1);
        break;
    case JSLI_KIND_SOCKET:
        put_str(w, "{\"kind\":\"socket\",\"type\":\"");
        put_str(w, jsli_socket_types[n->extra]);
        put_str(w, "\"}");
        break;
    case JSLI_KIND_NAME:
        put_str(w, "{\"kind\":\"name\",\"name\":");
        put_name(w, p->src + n->pos, n->len, 1);
        put_str(w, ",\"text\":");
        put_name(w, p->src + n->pos, n->len, 0);
        put(w, "}", 1);
        break;
    case JSLI_KIND_NUMBER:
        put_str(w, "{\"kind\":\"number\",\"value\":");
        put_number(w, p->src + n->pos, n->len, (int)n->extra);
        put(w, "}", 1);
        break;
    case JSLI_KIND_STRING:
        put_str(w, "{\"kind\":\"string\",\"value\":");
        put_jsl_string(w, p->src + n->pos, n->len);
        put(w, "}", 1);
        break;
    case JSLI_KIND_STATEMENT:
        break;
    }
}

/* ---- Entry points ------------------------------------------------------------------ */

size_t jsli_write_program(const struct jsli_parser *p, uint32_t first, char *out,
                          size_t out_cap)
{
    struct jsli_writer w = { out, out_cap, 0 };
    size_t pos = 0, col = 1;

    put_str(&w, "{\"statements\":[");
    for (uint32_t s = first; s; s = jsli_node_at(p, s)->next) {
        const struct jsli_node *n = jsli_node_at(p, s);

        /* Statements come in source order, so each column is counted on from the last. */
        col = jsli_column_of(p->src, pos, col, n->pos);
        pos = n->pos;
        if (s != first)
            put(&w, ",", 1);
        put_str(&w, "{\"col\":");
        put_uint(&w, col);
        put_str(&w, ",\"text\":");
        put_json_bytes(&w, p->src + n->pos, n->len);
        put_str(&w, ",\"expr\":");
        write_expr(p, &w, n->a);
        put(&w, "}", 1);
    }
    put_str(&w, "]}");
    return w.len;
}

size_t jsli_write_error(const struct jsli_parser *p, size_t column, char *out,
                        size_t out_cap)
{
    struct jsli_writer w = { out, out_cap, 0 };

    put_str(&w, "{\"error\":{\"column\":");
    put_uint(&w, column);
    put_str(&w, ",\"message\":");
    put_json_bytes(&w, p->message, strlen(p->message));
    put_str(&w, "}}");
    return w.len;
}
