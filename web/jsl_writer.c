/*
 * The JSON writer of the JSL parser (see jsl_parser.h): it prints the tree that the
 * grammar built, or the error it recorded, into the caller's buffer, cutting and counting
 * as snprintf does. The shape is the contract in web/README.md ("The syntax tree").
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


/* How a name is written: "name" as JSL compares it (white space dropped, ASCII letters in
 * lower case), "text" as typed (runs of white space folded to one space). */
enum name_form { NAME_NORMALISED, NAME_AS_TYPED };

static void put_name_byte(struct jsli_writer *w, unsigned char c, enum name_form form)
{
    if (form == NAME_NORMALISED)
        c = jsli_to_lower(c);
    put_json_byte(w, c);
}

/* The name of a name or call node, from a name token or a "..."n token. */
static void put_name(struct jsli_writer *w, const struct jsli_parser *p,
                     const struct jsli_node *n, enum name_form form)
{
    const char *s = p->src + n->src;
    size_t i = 0, len = n->src_len;
    int spaces = 0;

    put(w, "\"", 1);
    if (n->flags & JSLI_FLAG_QUOTED) {
        /* The string's value, between its quotes and before its n. */
        size_t end = len - 2;
        int raw = 0, c;

        i = 1;
        while ((c = jsli_string_byte(s, end, &i, &raw)) >= 0) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
                spaces = 1;
                continue;
            }
            if (spaces && form == NAME_AS_TYPED)
                put(w, " ", 1);
            spaces = 0;
            put_name_byte(w, (unsigned char)c, form);
        }
    } else {
        while (i < len) {
            size_t space = jsli_space_len(s, len, i);

            if (space) {
                i += space;
                spaces = 1;
                continue;
            }
            if (spaces && form == NAME_AS_TYPED)
                put(w, " ", 1);
            spaces = 0;
            put_name_byte(w, (unsigned char)s[i++], form);
        }
    }
    put(w, "\"", 1);
}

/* A JSL string literal's value: the text between the quotes, escapes undone. */
static void put_jsl_string(struct jsli_writer *w, const char *s, size_t n)
{
    size_t i = 1;
    int raw = 0, c;

    put(w, "\"", 1);
    while ((c = jsli_string_byte(s, n - 1, &i, &raw)) >= 0)
        put_json_byte(w, (unsigned char)c);
    put(w, "\"", 1);
}

/* A number token as a JSON number: JSL takes "007", ".5" and "5." that JSON does not. */
static void put_number(struct jsli_writer *w, const char *s, size_t n)
{
    size_t i = 0, int_start, int_end, frac_start, frac_end;

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

static void write_node(const struct jsli_parser *p, struct jsli_writer *w, uint32_t ref);

/* A list of nodes linked by `next`, as a JSON array. */
static void write_list(const struct jsli_parser *p, struct jsli_writer *w, uint32_t first)
{
    put(w, "[", 1);
    for (uint32_t r = first; r; r = jsli_node_at(p, r)->next) {
        if (r != first)
            put(w, ",", 1);
        write_node(p, w, r);
    }
    put(w, "]", 1);
}

/* ,"key":NODE */
static void write_child(const struct jsli_parser *p, struct jsli_writer *w, const char *key,
                        uint32_t ref)
{
    put_str(w, key);
    write_node(p, w, ref);
}

static void put_op(struct jsli_writer *w, const struct jsli_node *n)
{
    put_str(w, ",\"op\":\"");
    put_str(w, jsli_tok_text[n->op]);
    put(w, "\"", 1);
}

static const char *const kind_names[] = {
    [JSLI_KIND_GLUE] = "glue",     [JSLI_KIND_NUMBER] = "number", [JSLI_KIND_MISSING] = "missing",
    [JSLI_KIND_STRING] = "string", [JSLI_KIND_NAME] = "name",     [JSLI_KIND_LIST] = "list",
    [JSLI_KIND_CALL] = "call",     [JSLI_KIND_INDEX] = "index",   [JSLI_KIND_UNARY] = "unary",
    [JSLI_KIND_BINARY] = "binary", [JSLI_KIND_ASSIGN] = "assign", [JSLI_KIND_INCDEC] = "incdec",
    [JSLI_KIND_SEND] = "send",
};

/* One node; the recursion is bounded by JSL_MAX_HEIGHT, checked while parsing. */
static void write_node(const struct jsli_parser *p, struct jsli_writer *w, uint32_t ref)
{
    const struct jsli_node *n = jsli_node_at(p, ref);

    put_str(w, "{\"kind\":\"");
    put_str(w, kind_names[n->kind]);
    put(w, "\"", 1);
    switch ((enum jsli_kind)n->kind) {
    case JSLI_KIND_GLUE:
    case JSLI_KIND_LIST:
        put_str(w, ",\"items\":");
        write_list(p, w, n->a);
        break;
    case JSLI_KIND_NUMBER:
        put_str(w, ",\"value\":");
        put_number(w, p->src + n->src, n->src_len);
        break;
    case JSLI_KIND_MISSING:
        break;
    case JSLI_KIND_STRING:
        put_str(w, ",\"value\":");
        put_jsl_string(w, p->src + n->src, n->src_len);
        break;
    case JSLI_KIND_NAME:
    case JSLI_KIND_CALL:
        if (n->flags & JSLI_FLAG_SUGAR) {
            put_str(w, ",\"name\":\"send\",\"text\":\"Send\"");
        } else {
            put_str(w, ",\"name\":");
            put_name(w, p, n, NAME_NORMALISED);
            put_str(w, ",\"text\":");
            put_name(w, p, n, NAME_AS_TYPED);
        }
        if (n->kind == JSLI_KIND_CALL) {
            put_str(w, ",\"args\":");
            write_list(p, w, n->a);
            if (n->flags & JSLI_FLAG_BARE)
                put_str(w, ",\"bare\":true");
        }
        break;
    case JSLI_KIND_INDEX:
        write_child(p, w, ",\"target\":", n->a);
        put_str(w, ",\"indices\":");
        write_list(p, w, n->b);
        break;
    case JSLI_KIND_UNARY:
        put_op(w, n);
        write_child(p, w, ",\"operand\":", n->a);
        break;
    case JSLI_KIND_BINARY:
        put_op(w, n);
        write_child(p, w, ",\"left\":", n->a);
        write_child(p, w, ",\"right\":", n->b);
        break;
    case JSLI_KIND_ASSIGN:
        put_op(w, n);
        write_child(p, w, ",\"target\":", n->a);
        write_child(p, w, ",\"value\":", n->b);
        break;
    case JSLI_KIND_INCDEC:
        put_op(w, n);
        put_str(w, n->flags & JSLI_FLAG_PREFIX ? ",\"prefix\":true" : ",\"prefix\":false");
        write_child(p, w, ",\"target\":", n->a);
        break;
    case JSLI_KIND_SEND:
        write_child(p, w, ",\"target\":", n->a);
        write_child(p, w, ",\"message\":", n->b);
        break;
    }
    put_str(w, ",\"pos\":[");
    put_uint(w, n->line);
    put(w, ",", 1);
    put_uint(w, n->col);
    put(w, ",", 1);
    put_uint(w, n->start);
    put(w, ",", 1);
    put_uint(w, n->end);
    put_str(w, "]}");
}

/* ---- Entry points ------------------------------------------------------------------ */

size_t jsli_write_tree(const struct jsli_parser *p, uint32_t root, char *out, size_t out_cap)
{
    struct jsli_writer w = { out, out_cap, 0 };

    put_str(&w, "{\"ast\":");
    write_node(p, &w, root);
    put(&w, "}", 1);
    return w.len;
}

size_t jsli_write_error(const struct jsli_parser *p, struct jsli_loc loc, char *out,
                        size_t out_cap)
{
    struct jsli_writer w = { out, out_cap, 0 };

    put_str(&w, "{\"error\":{\"line\":");
    put_uint(&w, loc.line);
    put_str(&w, ",\"column\":");
    put_uint(&w, loc.col);
    put_str(&w, ",\"offset\":");
    put_uint(&w, loc.cp);
    put_str(&w, ",\"message\":");
    put_json_bytes(&w, p->message, strlen(p->message));
    put_str(&w, "}}");
    return w.len;
}
