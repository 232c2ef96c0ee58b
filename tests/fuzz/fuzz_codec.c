/*
 * libFuzzer harness for engine/codec.c. For every encoding it decodes the input as text and
 * encodes it as bytes, into buffers of exactly the size codec_*_max promises (so ASan sees
 * any write past them), and aborts when:
 *   - decode(encode(b)) != b, or decode(encode(decode(t))) != decode(t);
 *   - the codec disagrees with the naive byte-at-a-time reference below (the rules of
 *     SPEC.md section 4 and RFC 4648 written as plainly as possible), on output, on
 *     success or failure, or on the offset of an error.
 * The reference exists because the codec's word-at-a-time and table paths are where bugs
 * would hide, and a round trip alone cannot tell an encoder from a wrong one that its
 * decoder happens to undo.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum codec_encoding all_encodings[] = {
    CODEC_ASCIIHEX,
    CODEC_BASE64,
    CODEC_HEX,
};

static void fail(const char *what, enum codec_encoding enc)
{
    fprintf(stderr, "fuzz_codec: %s (%s)\n", what, codec_encoding_name(enc));
    abort();
}

/* ---- The reference ------------------------------------------------------------------- */

static int ref_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int ref_b64val(uint8_t c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != 0 ? strchr(alphabet, c) : NULL;

    return p != NULL ? (int)(p - alphabet) : -1;
}

static size_t ref_encode(enum codec_encoding enc, const uint8_t *in, size_t len, char *out)
{
    static const char hexdig[] = "0123456789ABCDEF";
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;

    switch (enc) {
    case CODEC_ASCIIHEX:
        for (size_t i = 0; i < len; i++) {
            uint8_t b = in[i];

            if (b >= 0x20 && b <= 0x7E && b != '~' && b != '\\' && b != '"' && b != '!') {
                out[n++] = (char)b;
            } else {
                out[n++] = '~';
                out[n++] = hexdig[b >> 4];
                out[n++] = hexdig[b & 15];
            }
        }
        break;
    case CODEC_HEX:
        for (size_t i = 0; i < len; i++) {
            out[n++] = hexdig[in[i] >> 4];
            out[n++] = hexdig[in[i] & 15];
        }
        break;
    case CODEC_BASE64:
        for (size_t i = 0; i < len; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16;
            size_t have = len - i < 3 ? len - i : 3;

            if (have > 1)
                v |= (uint32_t)in[i + 1] << 8;
            if (have > 2)
                v |= in[i + 2];
            out[n++] = alphabet[v >> 18];
            out[n++] = alphabet[(v >> 12) & 63];
            out[n++] = have > 1 ? alphabet[(v >> 6) & 63] : '=';
            out[n++] = have > 2 ? alphabet[v & 63] : '=';
        }
        break;
    }
    return n;
}

static long ref_decode(enum codec_encoding enc, const uint8_t *in, size_t len, uint8_t *out,
                       size_t *err_offset)
{
    size_t n = 0;

    switch (enc) {
    case CODEC_ASCIIHEX:
        for (size_t i = 0; i < len;) {
            if (in[i] != '~') {
                out[n++] = in[i++];
                continue;
            }
            if (i + 2 >= len || ref_hexval(in[i + 1]) < 0 || ref_hexval(in[i + 2]) < 0) {
                *err_offset = i;
                return -EINVAL;
            }
            out[n++] = (uint8_t)(ref_hexval(in[i + 1]) * 16 + ref_hexval(in[i + 2]));
            i += 3;
        }
        return (long)n;
    case CODEC_HEX:
        for (size_t i = 0; i + 1 < len; i += 2) {
            if (ref_hexval(in[i]) < 0 || ref_hexval(in[i + 1]) < 0) {
                *err_offset = ref_hexval(in[i]) < 0 ? i : i + 1;
                return -EINVAL;
            }
            out[n++] = (uint8_t)(ref_hexval(in[i]) * 16 + ref_hexval(in[i + 1]));
        }
        if (len % 2 != 0) {
            *err_offset = len - 1;
            return -EINVAL;
        }
        return (long)n;
    case CODEC_BASE64: {
        size_t pad = 0, data, rem, need;
        uint32_t acc = 0;
        unsigned bits = 0;

        while (pad < len && in[len - 1 - pad] == '=')
            pad++;
        data = len - pad;
        for (size_t i = 0; i < data; i++) {
            if (ref_b64val(in[i]) < 0) {
                *err_offset = i;
                return -EINVAL;
            }
        }
        rem = data % 4;
        if (rem == 1) {
            *err_offset = data - 1;
            return -EINVAL;
        }
        need = rem == 0 ? 0 : 4 - rem;
        if (pad != 0 && pad != need) {
            *err_offset = pad > need ? data + need : data;
            return -EINVAL;
        }
        for (size_t i = 0; i < data; i++) {
            acc = (acc << 6) | (uint32_t)ref_b64val(in[i]);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[n++] = (uint8_t)(acc >> bits);
                acc &= (1u << bits) - 1;
            }
        }
        return (long)n;
    }
    }
    return -EINVAL;
}

/* ---- The checks ---------------------------------------------------------------------- */

/* Encodes `in` with the codec and with the reference, checks they agree and that the
 * codec decodes its own output back to `in`. */
static void check_encode(enum codec_encoding enc, const uint8_t *in, size_t len)
{
    size_t max = codec_encoded_max(enc, len);
    char *text = malloc(max ? max : 1);
    char *want = malloc(max ? max : 1);
    uint8_t *back;
    size_t n, back_max;
    long rc;

    if (text == NULL || want == NULL)
        abort();
    n = codec_encode(enc, in, len, text);
    if (n > max)
        fail("encode wrote more than codec_encoded_max", enc);
    if (ref_encode(enc, in, len, want) != n || memcmp(text, want, n) != 0)
        fail("encode differs from the reference", enc);

    back_max = codec_decoded_max(enc, n);
    back = malloc(back_max ? back_max : 1);
    if (back == NULL)
        abort();
    rc = codec_decode(enc, text, n, back, NULL);
    if (rc != (long)len || memcmp(back, in, len) != 0)
        fail("decode(encode(b)) != b", enc);
    free(back);
    free(want);
    free(text);
}

/* Decodes `in` as text with the codec and with the reference, checks they agree, and
 * that what decodes survives encode then decode. */
static void check_decode(enum codec_encoding enc, const uint8_t *in, size_t len)
{
    size_t max = codec_decoded_max(enc, len);
    uint8_t *got = malloc(max ? max : 1);
    uint8_t *want = malloc(len ? len : 1);
    size_t got_off = SIZE_MAX, want_off = SIZE_MAX;
    long rc, want_rc;

    if (got == NULL || want == NULL)
        abort();
    rc = codec_decode(enc, (const char *)in, len, got, &got_off);
    want_rc = ref_decode(enc, in, len, want, &want_off);
    if (rc != want_rc)
        fail("decode result differs from the reference", enc);
    if (rc < 0) {
        if (got_off != want_off || got_off >= len)
            fail("decode error offset differs from the reference", enc);
    } else {
        if ((size_t)rc > max)
            fail("decode wrote more than codec_decoded_max", enc);
        if (memcmp(got, want, (size_t)rc) != 0)
            fail("decode output differs from the reference", enc);
        check_encode(enc, got, (size_t)rc);
    }
    free(want);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t e = 0; e < sizeof all_encodings / sizeof all_encodings[0]; e++) {
        check_decode(all_encodings[e], data, size);
        check_encode(all_encodings[e], data, size);
    }
    return 0;
}
