/*
 * The lexer of the JSL parser (see jsl_parser.h): it reads the source one token at a time
 * for web/jsl_parser.c, and knows the source as text, checking its UTF-8 and counting
 * the columns that errors and statements are reported at.
 *
 * A token is only offsets into the source; nothing is copied, unescaped or normalised
 * here, which the JSON writer does when it prints the tree.
 */
#include "jsl_internal.h"

#include <string.h>

/* ---- Characters -------------------------------------------------------------------- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || jsli_is_digit(c);
}

/* The offset of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), or len when all is valid. */
size_t jsli_utf8_invalid_at(const unsigned char *s, size_t len)
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
size_t jsli_column_of(const char *src, size_t from, size_t from_col, size_t pos)
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

static void lex_error(struct jsli_token *t, size_t pos, const char *message)
{
    t->type = JSLI_TOK_ERROR;
    t->pos = pos;
    t->len = 0;
    t->end = pos;
    t->error = message;
}

/* A string from its opening quote at `pos`: checks its escapes and finds its end. */
static void lex_string(const char *src, size_t len, size_t pos, struct jsli_token *t)
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
    t->type = JSLI_TOK_STRING;
    t->len = i + 1 - pos;
    t->end = i + 1;
}

/* A number at `pos`: digits, an optional fraction and an optional exponent. */
static void lex_number(const char *src, size_t len, size_t pos, struct jsli_token *t)
{
    size_t i = pos;
    size_t digits = 0;

    while (i < len && jsli_is_digit((unsigned char)src[i])) {
        i++;
        digits++;
    }
    if (i < len && src[i] == '.') {
        i++;
        while (i < len && jsli_is_digit((unsigned char)src[i])) {
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
        if (e >= len || !jsli_is_digit((unsigned char)src[e])) {
            lex_error(t, pos, "malformed number");
            return;
        }
        while (e < len && jsli_is_digit((unsigned char)src[e]))
            e++;
        i = e;
    }
    if (i < len && is_name_char((unsigned char)src[i])) {
        lex_error(t, pos, "malformed number");
        return;
    }
    t->type = JSLI_TOK_NUMBER;
    t->len = i - pos;
    t->end = i;
}

/* Reads the token that starts at or after `pos`. */
struct jsli_token jsli_lex(const char *src, size_t len, size_t pos)
{
    struct jsli_token t = { JSLI_TOK_END, len, 0, len, NULL };
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
        t.type = JSLI_TOK_NAME;
        t.len = last - pos;
        t.end = last;
        return t;
    }
    if (jsli_is_digit(c) || c == '.') {
        lex_number(src, len, pos, &t);
        return t;
    }
    switch (c) {
    case '"': lex_string(src, len, pos, &t); return t;
    case '(': t.type = JSLI_TOK_LPAREN; return t;
    case ')': t.type = JSLI_TOK_RPAREN; return t;
    case '[': t.type = JSLI_TOK_LBRACK; return t;
    case ']': t.type = JSLI_TOK_RBRACK; return t;
    case ',': t.type = JSLI_TOK_COMMA; return t;
    case ';': t.type = JSLI_TOK_SEMI; return t;
    case '=': t.type = JSLI_TOK_ASSIGN; return t;
    case '-': t.type = JSLI_TOK_MINUS; return t;
    case '<':
        if (pos + 1 < len && src[pos + 1] == '<') {
            t.type = JSLI_TOK_SEND;
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
