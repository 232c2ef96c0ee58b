/*
 * The data encodings of sockgate: JMP's "ASCII~HEX", base64 and hex (see codec.h).
 *
 * Everything here sits on the data path of every stream and datagram, so each direction is
 * table-driven, and ascii~hex moves runs of bytes that need no escape eight at a time
 * (a 64-bit word tested with SWAR arithmetic). The lookup tables are built by the
 * preprocessor from the alphabets, so they are constants and cannot drift from the rules.
 * No I/O, no globals, no allocation: Emscripten compiles this file unchanged.
 */
#include "codec.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* ---- Compile-time table generation ------------------------------------------------- */

/* CODEC_R256(F) expands to F(0), F(1), ..., F(255): one initializer per byte value;
 * CODEC_R4096(F) likewise to F(0) ... F(4095). */
#define CODEC_R4(F, n) F(n), F((n) + 1), F((n) + 2), F((n) + 3)
#define CODEC_R16(F, n) \
    CODEC_R4(F, n), CODEC_R4(F, (n) + 4), CODEC_R4(F, (n) + 8), CODEC_R4(F, (n) + 12)
#define CODEC_R64(F, n) \
    CODEC_R16(F, n), CODEC_R16(F, (n) + 16), CODEC_R16(F, (n) + 32), CODEC_R16(F, (n) + 48)
#define CODEC_R256N(F, n)                                                  \
    CODEC_R64(F, n), CODEC_R64(F, (n) + 64), CODEC_R64(F, (n) + 128),        \
        CODEC_R64(F, (n) + 192)
#define CODEC_R1024(F, n)                                                        \
    CODEC_R256N(F, n), CODEC_R256N(F, (n) + 256), CODEC_R256N(F, (n) + 512),       \
        CODEC_R256N(F, (n) + 768)
#define CODEC_R256(F) CODEC_R256N(F, 0)
#define CODEC_R4096(F) \
    CODEC_R1024(F, 0), CODEC_R1024(F, 1024), CODEC_R1024(F, 2048), CODEC_R1024(F, 3072)

/* The upper-case hex digit for a value 0..15. */
#define CODEC_HEXCHAR(v) ((char)((v) < 10 ? '0' + (v) : 'A' + (v) - 10))

/* The value of hex digit c (either case), or 0xFF if c is not one. */
#define CODEC_HEXVAL(c)                                  \
    ((c) >= '0' && (c) <= '9'   ? (c) - '0'              \
     : (c) >= 'A' && (c) <= 'F' ? (c) - 'A' + 10         \
     : (c) >= 'a' && (c) <= 'f' ? (c) - 'a' + 10         \
                                : 0xFF)

/* The base64 character for a value 0..63 (RFC 4648 section 4). */
#define CODEC_B64CHAR(v)                     \
    ((char)((v) < 26   ? 'A' + (v)           \
            : (v) < 52 ? 'a' + (v) - 26      \
            : (v) < 62 ? '0' + (v) - 52      \
            : (v) == 62 ? '+'                \
                        : '/'))

/* The value of base64 character c, or 0xFF if c is not one ('=' included). */
#define CODEC_B64VAL(c)                                   \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'               \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26          \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52          \
     : (c) == '+'               ? 62                      \
     : (c) == '/'               ? 63                      \
                                : 0xFF)

/* Whether byte b goes out as itself in ascii~hex: printable, and not one of ~ \ " !. */
#define CODEC_AH_PLAIN(b) \
    ((b) >= 0x20 && (b) <= 0x7E && (b) != '~' && (b) != '\\' && (b) != '"' && (b) != '!')

/*
 * ascii~hex encoding of each byte: up to three characters and, in the fourth slot, how
 * many of them count. The encoder stores all four at once and advances by the count; the
 * extra characters are overwritten by what follows.
 */
#define CODEC_AH_ENC(b)                                                          \
    { CODEC_AH_PLAIN(b) ? (char)(b) : '~', CODEC_HEXCHAR((b) >> 4),                \
      CODEC_HEXCHAR((b) & 15), (char)(CODEC_AH_PLAIN(b) ? 1 : 3) }
static const char ah_enc[256][4] = { CODEC_R256(CODEC_AH_ENC) };

/* Hex: the two characters of each byte. */
#define CODEC_HEX_ENC(b) { CODEC_HEXCHAR((b) >> 4), CODEC_HEXCHAR((b) & 15) }
static const char hex_enc[256][2] = { CODEC_R256(CODEC_HEX_ENC) };

/*
 * Hex digit values, pre-shifted for the high and the low half of a byte. A non-digit has
 * bit 8 set, so `hi[a] | lo[b]` is the byte when it is below 0x100 and bad otherwise.
 */
#define CODEC_HEX_HI(c) ((uint16_t)(CODEC_HEXVAL(c) == 0xFF ? 0x100 : CODEC_HEXVAL(c) << 4))
#define CODEC_HEX_LO(c) ((uint16_t)(CODEC_HEXVAL(c) == 0xFF ? 0x100 : CODEC_HEXVAL(c)))
static const uint16_t hex_hi[256] = { CODEC_R256(CODEC_HEX_HI) };
static const uint16_t hex_lo[256] = { CODEC_R256(CODEC_HEX_LO) };

/* Base64: the alphabet, and a pair table giving the two characters of 12 bits at once. */
#define CODEC_B64_ENC(v) CODEC_B64CHAR(v)
static const char b64_enc[64] = { CODEC_R64(CODEC_B64_ENC, 0) };
#define CODEC_B64_PAIR(v) { CODEC_B64CHAR((v) >> 6), CODEC_B64CHAR((v) & 63) }
static const char b64_pair[4096][2] = { CODEC_R4096(CODEC_B64_PAIR) };

/*
 * Base64 character values pre-shifted into their place in a 24-bit group, one table per
 * position of the quad. A non-alphabet character sets bit 24, so OR-ing the four lookups
 * gives the group, or a value of 1 << 24 or more when any character is bad.
 */
#define CODEC_B64_BAD 0x1000000u
#define CODEC_B64_D(c, shift) \
    (CODEC_B64VAL(c) == 0xFF ? CODEC_B64_BAD : (uint32_t)CODEC_B64VAL(c) << (shift))
#define CODEC_B64_D0(c) CODEC_B64_D(c, 18)
#define CODEC_B64_D1(c) CODEC_B64_D(c, 12)
#define CODEC_B64_D2(c) CODEC_B64_D(c, 6)
#define CODEC_B64_D3(c) CODEC_B64_D(c, 0)
static const uint32_t b64_d0[256] = { CODEC_R256(CODEC_B64_D0) };
static const uint32_t b64_d1[256] = { CODEC_R256(CODEC_B64_D1) };
static const uint32_t b64_d2[256] = { CODEC_R256(CODEC_B64_D2) };
static const uint32_t b64_d3[256] = { CODEC_R256(CODEC_B64_D3) };

/* ---- Word-at-a-time helpers ---------------------------------------------------------- */

#define CODEC_ONES 0x0101010101010101ull
#define CODEC_HIGHS 0x8080808080808080ull

static inline uint64_t load64(const void *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof x);
    return x;
}

/*
 * The high bit of each byte of the result is set where that byte of x is a plain
 * ascii~hex byte: 0x20, or 0x23..0x7D other than 0x5C. Every step keeps each byte below
 * 0x100 for bytes below 0x80 (and bytes at or above 0x80 are masked out first), so no
 * carry crosses into the next byte and the test is exact for every byte.
 */
static inline uint64_t ah_plain_mask(uint64_t x)
{
    uint64_t low7 = ~x & CODEC_HIGHS;                          /* byte < 0x80 */
    uint64_t y = x & ~CODEC_HIGHS;
    uint64_t ge23 = y + 0x5D * CODEC_ONES;                     /* >= 0x23 */
    uint64_t ge7e = y + 0x02 * CODEC_ONES;                     /* >= 0x7E */
    uint64_t ne5c = (y ^ 0x5C * CODEC_ONES) + 0x7F * CODEC_ONES; /* != '\\' */
    uint64_t ne20 = (y ^ 0x20 * CODEC_ONES) + 0x7F * CODEC_ONES; /* != ' ' */

    return low7 & ((ge23 & ~ge7e & ne5c) | ~ne20);
}

/*
 * The high bit of each byte of the result is set where that byte of x is '~' (0x7E).
 * Exact for every byte, not only for the first match: the 7-bit sum cannot carry.
 */
static inline uint64_t ah_tilde_mask(uint64_t x)
{
    uint64_t y = x ^ 0x7E * CODEC_ONES;

    return ~(((y & ~CODEC_HIGHS) + ~CODEC_HIGHS) | y) & CODEC_HIGHS;
}

/* The index, in memory order, of the first byte whose high bit is set in mask m != 0. */
static inline unsigned first_marked_byte(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(m) >> 3;
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (unsigned)__builtin_clzll(m) >> 3;
#else
    uint8_t bytes[8];
    unsigned i;

    memcpy(bytes, &m, sizeof bytes);
    for (i = 0; i < 7 && !(bytes[i] & 0x80); i++)
        ;
    return i;
#endif
}

/* ---- Names and sizes ----------------------------------------------------------------- */

/* ASCII-only case-insensitive equality, so the answer never depends on the C locale. */
static int name_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char ca = (unsigned char)*a;
        unsigned char cb = (unsigned char)*b;

        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char)(cb - 'A' + 'a');
        if (ca != cb)
            return 0;
        if (ca == '\0')
            return 1;
    }
}

int codec_encoding_from_name(const char *name, enum codec_encoding *out)
{
    static const enum codec_encoding all[] = { CODEC_ASCIIHEX, CODEC_BASE64, CODEC_HEX };
    size_t i;

    if (name == NULL)
        return -EINVAL;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (name_equal(name, codec_encoding_name(all[i]))) {
            if (out != NULL)
                *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

const char *codec_encoding_name(enum codec_encoding enc)
{
    switch (enc) {
    case CODEC_ASCIIHEX:
        return "ascii~hex";
    case CODEC_BASE64:
        return "base64";
    case CODEC_HEX:
        return "hex";
    }
    return "unknown";
}

/* Sizes saturate at SIZE_MAX rather than wrap, so that an absurd length makes the
 * caller's allocation fail instead of producing a buffer too small (size_t is 32 bits in
 * WebAssembly). */
size_t codec_encoded_max(enum codec_encoding enc, size_t len)
{
    size_t groups;

    switch (enc) {
    case CODEC_ASCIIHEX:
        return len > SIZE_MAX / 3 ? SIZE_MAX : len * 3;
    case CODEC_BASE64:
        groups = len / 3 + (len % 3 != 0);
        return groups > SIZE_MAX / 4 ? SIZE_MAX : groups * 4;
    case CODEC_HEX:
        return len > SIZE_MAX / 2 ? SIZE_MAX : len * 2;
    }
    return 0;
}

size_t codec_decoded_max(enum codec_encoding enc, size_t len)
{
    switch (enc) {
    case CODEC_ASCIIHEX:
        return len;
    case CODEC_BASE64:
        /* A trailing group of 2 or 3 characters (unpadded input) holds 1 or 2 bytes. */
        return len / 4 * 3 + (len % 4 == 3 ? 2 : len % 4 == 2 ? 1 : 0);
    case CODEC_HEX:
        return len / 2;
    }
    return 0;
}

/* ---- ascii~hex ----------------------------------------------------------------------- */

static size_t asciihex_encode(const uint8_t *in, size_t len, char *out)
{
    char *o = out;
    size_t i = 0;

    /*
     * The word loop stores 8 bytes ahead and the byte loop 4, so both stop while at least
     * one input byte remains: output so far is at most 3 * i, and 3 * i + 8 fits the
     * 3 * len promised by codec_encoded_max whenever i + 8 < len.
     */
    while (len > 8 && i < len - 8) {
        uint64_t x = load64(in + i);
        uint64_t plain = ah_plain_mask(x);
        unsigned run;

        memcpy(o, &x, 8);
        if (plain == CODEC_HIGHS) {
            o += 8;
            i += 8;
            continue;
        }
        run = first_marked_byte(~plain & CODEC_HIGHS);
        if (run >= 4) {
            /* Keep a long plain run up to the first escape, then go round to test the
             * next word from there. */
            o += run;
            i += run;
            continue;
        }
        /* An escape comes early in the word: take all 8 bytes through the table. Binary
         * data lands here nearly always, so the branch stays predictable for it. */
        for (unsigned k = 0; k < 8; k++) {
            const char *e = ah_enc[in[i + k]];

            memcpy(o, e, 4);
            o += e[3];
        }
        i += 8;
    }
    for (; i < len; i++) {
        const char *e = ah_enc[in[i]];

        memcpy(o, e, (size_t)e[3]);
        o += e[3];
    }
    return (size_t)(o - out);
}

/* Decodes the escape at in[i] (whose two following characters exist), or returns -1. */
static inline int asciihex_escape(const char *in, size_t i)
{
    unsigned v = hex_hi[(uint8_t)in[i + 1]] | hex_lo[(uint8_t)in[i + 2]];

    return v > 0xFF ? -1 : (int)v;
}

static long asciihex_decode(const char *in, size_t len, uint8_t *out, size_t *err_offset)
{
    uint8_t *o = out;
    size_t i = 0;
    int v;

    /*
     * Word loop. In valid input the two digits after a '~' are never '~', so every '~'
     * found in a word starts an escape, and the escapes of a word are found from its mask
     * of '~' bytes alone instead of by rescanning after each one (binary data is mostly
     * escapes). A '~' that is in fact the digit of an earlier escape makes that escape
     * fail first. Plain runs are moved with unconditional 8-byte copies: the output never
     * runs ahead of the input, and the loop keeps 16 bytes of input in reach.
     */
    while (len >= 16 && i <= len - 16) {
        uint64_t x = load64(in + i);
        uint64_t tilde = ah_tilde_mask(x);
        size_t next = i;

        if (tilde == 0) {
            memcpy(o, &x, 8);
            o += 8;
            i += 8;
            continue;
        }
        do {
            size_t t = i + first_marked_byte(tilde);

            tilde &= tilde - 1;
            memcpy(o, in + next, 8);
            o += t - next;
            v = asciihex_escape(in, t);
            if (v < 0) {
                i = t;
                goto bad_escape;
            }
            *o++ = (uint8_t)v;
            next = t + 3;
        } while (tilde != 0);
        if (next < i + 8) {
            memcpy(o, in + next, 8);
            o += i + 8 - next;
            next = i + 8;
        }
        i = next;
    }
    while (i < len) {
        if (in[i] != '~') {
            *o++ = (uint8_t)in[i++];
            continue;
        }
        if (len - i < 3)
            goto bad_escape;
        v = asciihex_escape(in, i);
        if (v < 0)
            goto bad_escape;
        *o++ = (uint8_t)v;
        i += 3;
    }
    return (long)(o - out);

bad_escape:
    if (err_offset != NULL)
        *err_offset = i;
    return -EINVAL;
}

/* ---- hex ----------------------------------------------------------------------------- */

static size_t hex_encode(const uint8_t *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        memcpy(out + 2 * i, hex_enc[in[i]], 2);
    return 2 * len;
}

/* The offset of the first non-digit in `in` (when the caller knows there is one). */
static size_t hex_bad_digit(const char *in, size_t len)
{
    size_t k;

    for (k = 0; k < len && hex_lo[(uint8_t)in[k]] <= 0xFF; k++)
        ;
    return k;
}

static long hex_decode(const char *in, size_t len, uint8_t *out, size_t *err_offset)
{
    size_t n = len / 2;
    size_t i = 0;
    unsigned bad = 0;

    /* Eight bytes per step with the validity of the whole step checked once: decoding
     * writes within n bytes whatever the input, and a bad step is then searched again. */
    for (; n >= 8 && i <= n - 8; i += 8) {
        for (unsigned k = 0; k < 8; k++) {
            const uint8_t *p = (const uint8_t *)in + 2 * (i + k);
            unsigned v = hex_hi[p[0]] | hex_lo[p[1]];

            bad |= v;
            out[i + k] = (uint8_t)v;
        }
        if (bad > 0xFF)
            goto fail;
    }
    for (; i < n; i++) {
        unsigned v = hex_hi[(uint8_t)in[2 * i]] | hex_lo[(uint8_t)in[2 * i + 1]];

        bad |= v;
        out[i] = (uint8_t)v;
    }
    if (bad > 0xFF)
        goto fail;
    if (len % 2 != 0) {
        /* The last digit has no partner (or is not a digit either). */
        if (err_offset != NULL)
            *err_offset = len - 1;
        return -EINVAL;
    }
    return (long)n;

fail:
    if (err_offset != NULL)
        *err_offset = hex_bad_digit(in, len);
    return -EINVAL;
}

/* ---- base64 -------------------------------------------------------------------------- */

static size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t full = len / 3 * 3;
    size_t i = 0;
    char *o = out;

    for (; i < full; i += 3, o += 4) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        memcpy(o, b64_pair[v >> 12], 2);
        memcpy(o + 2, b64_pair[v & 0xFFF], 2);
    }
    if (len - full == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        o[0] = b64_enc[v >> 18];
        o[1] = b64_enc[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (len - full == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        o[0] = b64_enc[v >> 18];
        o[1] = b64_enc[(v >> 12) & 63];
        o[2] = b64_enc[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

/* The offset of the first non-alphabet character among the n (<= 4) at in. */
static size_t base64_bad_char(const char *in, size_t n)
{
    size_t k;

    for (k = 0; k < n && CODEC_B64VAL((uint8_t)in[k]) != 0xFF; k++)
        ;
    return k;
}

/*
 * Padding is optional, but when present it must be right: exactly as many '=' as the last
 * group needs (two after 2 characters, one after 3). Otherwise the error points at the
 * first '=' that should not be there, or at the first '=' of too short a padding. A last
 * group of a single character can hold no byte, so it is the bad character. Bits left
 * over in the last character are ignored, as RFC 4648 section 3.5 allows.
 */
static long base64_decode(const char *in, size_t len, uint8_t *out, size_t *err_offset)
{
    size_t pad = 0;
    size_t data, full, rem, need, i;
    uint8_t *o = out;
    size_t bad;

    while (pad < len && in[len - 1 - pad] == '=')
        pad++;
    data = len - pad;
    full = data / 4 * 4;
    rem = data - full;

    for (i = 0; i < full; i += 4, o += 3) {
        uint32_t v = b64_d0[(uint8_t)in[i]] | b64_d1[(uint8_t)in[i + 1]] |
                     b64_d2[(uint8_t)in[i + 2]] | b64_d3[(uint8_t)in[i + 3]];

        if (v >= CODEC_B64_BAD) {
            bad = i + base64_bad_char(in + i, 4);
            goto fail;
        }
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
    }
    if (rem > 0) {
        size_t k = base64_bad_char(in + i, rem);

        if (k < rem) {
            bad = i + k;
            goto fail;
        }
        if (rem == 1) {
            bad = i;
            goto fail;
        }
    }
    need = rem == 0 ? 0 : 4 - rem;
    if (pad != 0 && pad != need) {
        bad = pad > need ? data + need : data;
        goto fail;
    }
    if (rem >= 2) {
        uint32_t v = b64_d0[(uint8_t)in[i]] | b64_d1[(uint8_t)in[i + 1]];

        if (rem == 3)
            v |= b64_d2[(uint8_t)in[i + 2]];
        *o++ = (uint8_t)(v >> 16);
        if (rem == 3)
            *o++ = (uint8_t)(v >> 8);
    }
    return (long)(o - out);

fail:
    if (err_offset != NULL)
        *err_offset = bad;
    return -EINVAL;
}

/* ---- Dispatch ------------------------------------------------------------------------ */

size_t codec_encode(enum codec_encoding enc, const uint8_t *in, size_t len, char *out)
{
    switch (enc) {
    case CODEC_ASCIIHEX:
        return asciihex_encode(in, len, out);
    case CODEC_BASE64:
        return base64_encode(in, len, out);
    case CODEC_HEX:
        return hex_encode(in, len, out);
    }
    return 0;
}

long codec_decode(enum codec_encoding enc, const char *in, size_t len, uint8_t *out,
                  size_t *err_offset)
{
    /* The count is returned as a long; where long is 32 bits (WebAssembly) a decoded
     * length past LONG_MAX could not be told apart from an error, so refuse it. */
    if (codec_decoded_max(enc, len) > (size_t)LONG_MAX) {
        if (err_offset != NULL)
            *err_offset = 0;
        return -EOVERFLOW;
    }
    switch (enc) {
    case CODEC_ASCIIHEX:
        return asciihex_decode(in, len, out, err_offset);
    case CODEC_BASE64:
        return base64_decode(in, len, out, err_offset);
    case CODEC_HEX:
        return hex_decode(in, len, out, err_offset);
    }
    if (err_offset != NULL)
        *err_offset = 0;
    return -EINVAL;
}
