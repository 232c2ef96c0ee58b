/*
 * The lexer of the JSL parser (see jsl_parser.h): it reads the source one token at a time
 * for the grammar in web/jsl_parser.c and web/jsl_operators.c, and knows the source as
 * text: its UTF-8, its white space and comments, which characters make up names, and how
 * string literals escape.
 *
 * A token is only offsets into the source; nothing is copied, unescaped or normalised
 * here. The JSON writer does that while printing, with jsli_string_byte for strings.
 */
#include "jsl_internal.h"

#include <string.h>

const char *const jsli_tok_text[JSLI_N_TOKS] = {
    [JSLI_TOK_LPAREN] = "(",  [JSLI_TOK_RPAREN] = ")",   [JSLI_TOK_LBRACK] = "[",
    [JSLI_TOK_RBRACK] = "]",  [JSLI_TOK_LBRACE] = "{",   [JSLI_TOK_RBRACE] = "}",
    [JSLI_TOK_COMMA] = ",",   [JSLI_TOK_SEMI] = ";",     [JSLI_TOK_ASSIGN] = "=",
    [JSLI_TOK_ADD_TO] = "+=", [JSLI_TOK_SUB_TO] = "-=",  [JSLI_TOK_MUL_TO] = "*=",
    [JSLI_TOK_DIV_TO] = "/=", [JSLI_TOK_CONCAT_TO] = "||=", [JSLI_TOK_PLUS] = "+",
    [JSLI_TOK_MINUS] = "-",   [JSLI_TOK_STAR] = "*",     [JSLI_TOK_SLASH] = "/",
    [JSLI_TOK_EQ] = "==",     [JSLI_TOK_NE] = "!=",      [JSLI_TOK_LT] = "<",
    [JSLI_TOK_LE] = "<=",     [JSLI_TOK_GT] = ">",       [JSLI_TOK_GE] = ">=",
    [JSLI_TOK_AND] = "&",     [JSLI_TOK_OR] = "|",       [JSLI_TOK_CONCAT] = "||",
    [JSLI_TOK_SEND] = "<<",   [JSLI_TOK_NOT] = "!",      [JSLI_TOK_INC] = "++",
    [JSLI_TOK_DEC] = "--",
};

/* ---- Characters -------------------------------------------------------------------- */

size_t jsli_space_len(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];

    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v')
        return 1;
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA0)
        return 2;
    return 0;
}

uint32_t jsli_decode(const char *s, size_t len, size_t i, size_t *n)
{
    unsigned char c = (unsigned char)s[i];
    uint32_t cp;
    size_t more;

    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if (c >= 0xF0) { cp = c & 0x07; more = 3; }
    else if (c >= 0xE0) { cp = c & 0x0F; more = 2; }
    else { cp = c & 0x1F; more = 1; }
    for (size_t k = 1; k <= more && i + k < len; k++)
        cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
    *n = more + 1;
    return cp;
}

/* Code points beyond ASCII that may not be part of a name: punctuation, symbols and
 * spaces, so that a pasted “smart quote” is an error at its place rather than a strange
 * name. The rest (letters of every script, and the mathematical symbols JMP allows) may. */
static int non_ascii_in_names(uint32_t cp)
{
    static const uint32_t excluded[][2] = {
        { 0x0080, 0x00BF }, { 0x00D7, 0x00D7 }, { 0x00F7, 0x00F7 }, { 0x2000, 0x206F },
        { 0x2E00, 0x2E7F }, { 0x3000, 0x303F }, { 0xFE10, 0xFE1F }, { 0xFE30, 0xFE6F },
        { 0xFEFF, 0xFEFF }, { 0xFF00, 0xFF0F }, { 0xFF1A, 0xFF20 }, { 0xFF3B, 0xFF40 },
        { 0xFF5B, 0xFF65 }, { 0xFFF0, 0xFFFF },
    };

    for (size_t k = 0; k < sizeof excluded / sizeof excluded[0]; k++) {
        if (cp >= excluded[k][0] && cp <= excluded[k][1])
            return 0;
    }
    return 1;
}

/* The bytes of a character that may start a name at s[i], or 0. */
static size_t name_start_len(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    size_t n;

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (c < 0x80)
        return 0;
    return non_ascii_in_names(jsli_decode(s, len, i, &n)) ? n : 0;
}

size_t jsli_name_char_len(const char *s, size_t len, size_t i)
{
    unsigned char c = (unsigned char)s[i];

    if (jsli_is_digit(c) || c == '\'' || c == '%' || c == '.' || c == '\\')
        return 1;
    return name_start_len(s, len, i);
}

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

/* ---- Strings ----------------------------------------------------------------------- */

/* What each \!x escape stands for; x not listed is an error. */
static int escape_value(char x)
{
    switch (x) {
    case 'n': case 'N': return '\n'; /* \!N, the platform's newline, is LF here */
    case 'r': return '\r';
    case 't': return '\t';
    case '0': return '\0';
    case '"': return '"';
    case '\\': return '\\';
    default: return -1;
    }
}

/* The offset of the "]\" that closes a raw part opened at `from`, or `end`. */
static size_t raw_close(const char *s, size_t end, size_t from)
{
    for (size_t i = from; i + 1 < end; i++) {
        if (s[i] == ']' && s[i + 1] == '\\')
            return i;
    }
    return end;
}

int jsli_string_byte(const char *s, size_t end, size_t *i, int *raw)
{
    size_t k = *i;

    while (k < end) {
        if (*raw) {
            if (k + 1 < end && s[k] == ']' && s[k + 1] == '\\') {
                *raw = 0;
                k += 2;
                continue;
            }
            *i = k + 1;
            return (unsigned char)s[k];
        }
        if (s[k] == '\\' && k + 2 < end && s[k + 1] == '!' && escape_value(s[k + 2]) >= 0) {
            *i = k + 3;
            return escape_value(s[k + 2]);
        }
        if (s[k] == '\\' && k + 1 < end && s[k + 1] == '[') {
            *raw = 1;
            k += 2;
            continue;
        }
        *i = k + 1;
        return (unsigned char)s[k];
    }
    *i = k;
    return -1;
}

static void lex_error(struct jsli_token *t, size_t pos, const char *message)
{
    t->type = JSLI_TOK_ERROR;
    t->pos = pos;
    t->len = 0;
    t->end = pos;
    t->error = message;
}

/* What is wrong with the quoted name "..."n whose string (quotes included) is the `n`
 * bytes at `s`, or NULL: a name needs a character that is not white space, and control
 * characters (\!0 among them) have no place in one. */
static const char *quoted_name_problem(const char *s, size_t n)
{
    size_t i = 1;
    int raw = 0, c, visible = 0;

    while ((c = jsli_string_byte(s, n - 1, &i, &raw)) >= 0) {
        int space = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';

        if (c < 0x20 && !space)
            return "a quoted name cannot hold control characters";
        visible |= !space;
    }
    return visible ? NULL : "a quoted name cannot be empty";
}

/* A string from its opening quote at `pos`: checks its escapes and raw parts, finds its
 * end, and tells a quoted name ("..."n) from a string. */
static void lex_string(const char *src, size_t len, size_t pos, struct jsli_token *t)
{
    size_t i = pos + 1, end;

    while (i < len && src[i] != '"') {
        if (src[i] == '\\' && i + 1 < len && src[i + 1] == '!') {
            if (i + 2 >= len)
                break;
            if (escape_value(src[i + 2]) < 0) {
                lex_error(t, i, "unknown escape: JSL knows \\!n \\!N \\!r \\!t \\!\" \\!\\ \\!0");
                return;
            }
            i += 3;
        } else if (src[i] == '\\' && i + 1 < len && src[i + 1] == '[') {
            size_t close = raw_close(src, len, i + 2);

            if (close >= len) {
                lex_error(t, i, "unterminated \\[...]\\ in a string");
                return;
            }
            i = close + 2;
        } else {
            i++;
        }
    }
    if (i >= len) {
        lex_error(t, pos, "unterminated string");
        return;
    }
    end = i + 1;
    t->type = JSLI_TOK_STRING;
    if (end < len && (src[end] == 'n' || src[end] == 'N') &&
        !(end + 1 < len && jsli_name_char_len(src, len, end + 1))) {
        const char *why = quoted_name_problem(src + pos, end - pos);

        if (why) {
            lex_error(t, pos, why);
            return;
        }
        t->type = JSLI_TOK_QNAME;
        end++;
    }
    t->len = end - pos;
    t->end = end;
}

/* ---- Numbers and names ------------------------------------------------------------- */

/* A number at `pos`: digits, an optional fraction and an optional exponent; a "." with
 * no digit after it is JSL's missing value. */
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
        t->type = JSLI_TOK_MISSING;
        t->len = 1;
        t->end = pos + 1;
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
    if (i < len && jsli_name_char_len(src, len, i)) {
        lex_error(t, pos, "malformed number");
        return;
    }
    t->type = JSLI_TOK_NUMBER;
    t->len = i - pos;
    t->end = i;
}

/* A name from its first character: JMP ignores white space inside names ("Get Sock Name"
 * is getsockname), so words separated by white space alone, line ends included, are one
 * name. A comment or any other character ends it. */
static void lex_name(const char *src, size_t len, size_t pos, struct jsli_token *t)
{
    size_t i = pos, last = pos, n;

    for (;;) {
        while (i < len && (n = jsli_name_char_len(src, len, i)) > 0)
            i += n;
        last = i;
        while (i < len && (n = jsli_space_len(src, len, i)) > 0)
            i += n;
        if (i == last || i >= len || !jsli_name_char_len(src, len, i))
            break;
    }
    t->type = JSLI_TOK_NAME;
    t->len = last - pos;
    t->end = last;
}

/* ---- Tokens ------------------------------------------------------------------------ */

/* Skips white space and comments from `pos`. Returns the new offset, or sets *error for a
 * comment left open. */
static size_t skip_space(const char *src, size_t len, size_t pos, const char **error)
{
    /* A byte order mark opens files saved by some Windows editors. */
    if (pos == 0 && len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        size_t n = jsli_space_len(src, len, pos);

        if (n > 0) {
            pos += n;
        } else if (src[pos] == '/' && pos + 1 < len && src[pos + 1] == '/') {
            while (pos < len && src[pos] != '\n' && src[pos] != '\r')
                pos++;
        } else if (src[pos] == '/' && pos + 1 < len && src[pos + 1] == '*') {
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

/* The operator or punctuation at `pos`: the longest that matches, as JMP reads them (two
 * character operators never have a space inside). JSL operators the console does not run
 * are errors that say so. */
static void lex_operator(const char *src, size_t len, size_t pos, struct jsli_token *t)
{
    char c = src[pos], d = pos + 1 < len ? src[pos + 1] : '\0';
    char e = pos + 2 < len ? src[pos + 2] : '\0';
    enum jsli_tok one = JSLI_TOK_ERROR, two = JSLI_TOK_ERROR;

    switch (c) {
    case '(': one = JSLI_TOK_LPAREN; break;
    case ')': one = JSLI_TOK_RPAREN; break;
    case '[': one = JSLI_TOK_LBRACK; break;
    case ']': one = JSLI_TOK_RBRACK; break;
    case '{': one = JSLI_TOK_LBRACE; break;
    case '}': one = JSLI_TOK_RBRACE; break;
    case ',': one = JSLI_TOK_COMMA; break;
    case ';': one = JSLI_TOK_SEMI; break;
    case '=': one = JSLI_TOK_ASSIGN; two = d == '=' ? JSLI_TOK_EQ : two; break;
    case '+':
        one = JSLI_TOK_PLUS;
        two = d == '+' ? JSLI_TOK_INC : d == '=' ? JSLI_TOK_ADD_TO : two;
        break;
    case '-':
        one = JSLI_TOK_MINUS;
        two = d == '-' ? JSLI_TOK_DEC : d == '=' ? JSLI_TOK_SUB_TO : two;
        break;
    case '*': one = JSLI_TOK_STAR; two = d == '=' ? JSLI_TOK_MUL_TO : two; break;
    case '/': one = JSLI_TOK_SLASH; two = d == '=' ? JSLI_TOK_DIV_TO : two; break;
    case '!': one = JSLI_TOK_NOT; two = d == '=' ? JSLI_TOK_NE : two; break;
    case '<':
        one = JSLI_TOK_LT;
        two = d == '<' ? JSLI_TOK_SEND : d == '=' ? JSLI_TOK_LE : two;
        break;
    case '>': one = JSLI_TOK_GT; two = d == '=' ? JSLI_TOK_GE : two; break;
    case '&':
        if (d == '&') {
            lex_error(t, pos, "JSL writes 'and' as a single '&'");
            return;
        }
        one = JSLI_TOK_AND;
        break;
    case '|':
        if (d == '|' && e == '=') {
            t->type = JSLI_TOK_CONCAT_TO;
            t->len = 3;
            t->end = pos + 3;
            return;
        }
        if (d == '/') {
            lex_error(t, pos, "'|/' (vertical concatenation of matrices) is not supported");
            return;
        }
        one = JSLI_TOK_OR;
        two = d == '|' ? JSLI_TOK_CONCAT : two;
        break;
    case '^':
        lex_error(t, pos, "'^' (power) is not supported");
        return;
    case ':':
        lex_error(t, pos, d == '*' || d == '/' ? "matrix operators are not supported"
                                               : "scoped names (':' and '::') are not supported");
        return;
    default:
        break;
    }
    if (two != JSLI_TOK_ERROR) {
        t->type = two;
        t->len = 2;
    } else if (one != JSLI_TOK_ERROR) {
        t->type = one;
        t->len = 1;
    } else {
        lex_error(t, pos, NULL);
        return;
    }
    t->end = pos + t->len;
}

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
    if (name_start_len(src, len, pos))
        lex_name(src, len, pos, &t);
    else if (jsli_is_digit(c) || c == '.')
        lex_number(src, len, pos, &t);
    else if (c == '"')
        lex_string(src, len, pos, &t);
    else
        lex_operator(src, len, pos, &t);
    return t;
}
