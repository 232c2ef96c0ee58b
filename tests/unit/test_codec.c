/*
 * Unit tests of engine/codec.c: ascii~hex against the rule of SPEC.md section 4 for every
 * byte value, base64 and hex against the RFC 4648 vectors, the error offsets of malformed
 * input, and round trips of every byte value and of random strings in each encoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const enum codec_encoding all_encodings[] = {
    CODEC_ASCIIHEX,
    CODEC_BASE64,
    CODEC_HEX,
};
#define N_ENCODINGS (sizeof all_encodings / sizeof all_encodings[0])

/*
 * Buffers are allocated at exactly the size codec_*_max promises, so the sanitizer build
 * catches any write past it.
 */
static char *encode_exact(enum codec_encoding enc, const uint8_t *in, size_t len,
                          size_t *out_len)
{
    size_t max = codec_encoded_max(enc, len);
    char *out = malloc(max ? max : 1);

    assert_non_null(out);
    *out_len = codec_encode(enc, in, len, out);
    assert_true(*out_len <= max);
    return out;
}

static uint8_t *decode_exact(enum codec_encoding enc, const char *in, size_t len, long *rc,
                             size_t *err_offset)
{
    size_t max = codec_decoded_max(enc, len);
    uint8_t *out = malloc(max ? max : 1);

    assert_non_null(out);
    *rc = codec_decode(enc, in, len, out, err_offset);
    if (*rc >= 0)
        assert_true((size_t)*rc <= max);
    return out;
}

/* Encodes the C string `in` and checks the result is exactly `want`. */
static void check_encode(enum codec_encoding enc, const char *in, const char *want)
{
    size_t n;
    char *got = encode_exact(enc, (const uint8_t *)in, strlen(in), &n);

    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    free(got);
}

/* Decodes `in` (of length inlen) and checks the result is exactly `want` (of wantlen). */
static void check_decode(enum codec_encoding enc, const char *in, size_t inlen,
                         const char *want, size_t wantlen)
{
    long rc;
    size_t off = 12345;
    uint8_t *got = decode_exact(enc, in, inlen, &rc, &off);

    assert_int_equal(rc, (long)wantlen);
    if (wantlen > 0)
        assert_memory_equal(got, want, wantlen);
    assert_int_equal(off, 12345); /* untouched on success */
    free(got);
}

static void check_decode_str(enum codec_encoding enc, const char *in, const char *want)
{
    check_decode(enc, in, strlen(in), want, strlen(want));
}

/* Decoding `in` must fail with -EINVAL and point at offset `want_off`. */
static void check_decode_error(enum codec_encoding enc, const char *in, size_t want_off)
{
    long rc;
    size_t off = 12345;
    uint8_t *got = decode_exact(enc, in, strlen(in), &rc, &off);

    if (rc != -EINVAL)
        print_error("decoding \"%s\" as %s gave %ld\n", in, codec_encoding_name(enc), rc);
    assert_int_equal(rc, -EINVAL);
    if (off != want_off)
        print_error("decoding \"%s\" as %s: error at %zu\n", in, codec_encoding_name(enc),
                    off);
    assert_int_equal(off, want_off);
    /* A NULL err_offset is allowed. */
    assert_int_equal(codec_decode(enc, in, strlen(in), got, NULL), -EINVAL);
    free(got);
}

static void check_round_trip(enum codec_encoding enc, const uint8_t *in, size_t len)
{
    size_t n;
    long rc;
    char *text = encode_exact(enc, in, len, &n);
    uint8_t *back = decode_exact(enc, text, n, &rc, NULL);

    assert_int_equal(rc, (long)len);
    if (len > 0)
        assert_memory_equal(back, in, len);
    free(back);
    free(text);
}

/* ---- ascii~hex ----------------------------------------------------------------------- */

static int is_plain(unsigned b)
{
    return b >= 0x20 && b <= 0x7E && b != '~' && b != '\\' && b != '"' && b != '!';
}

static void test_asciihex_encode_every_byte(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t in = (uint8_t)b;
        char want[4];
        size_t n;
        char *got = encode_exact(CODEC_ASCIIHEX, &in, 1, &n);

        if (is_plain(b)) {
            want[0] = (char)b;
            want[1] = '\0';
        } else {
            snprintf(want, sizeof want, "~%02X", b);
        }
        assert_int_equal(n, strlen(want));
        assert_memory_equal(got, want, n);
        free(got);
    }
}

/* Every byte value at every position of a long buffer, so the word-at-a-time paths see
 * each byte in each lane and next to both plain and escaped neighbours. */
static void test_asciihex_encode_every_byte_in_context(void **state)
{
    uint8_t in[64];
    char want[64 * 3];
    char got[64 * 3];

    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        for (size_t pos = 0; pos < sizeof in; pos++) {
            for (int fill = 0; fill < 2; fill++) {
                size_t w = 0;

                memset(in, fill ? '\n' : 'a', sizeof in);
                in[pos] = (uint8_t)b;
                for (size_t i = 0; i < sizeof in; i++) {
                    if (is_plain(in[i])) {
                        want[w++] = (char)in[i];
                    } else {
                        char esc[4];

                        snprintf(esc, sizeof esc, "~%02X", in[i]);
                        memcpy(want + w, esc, 3);
                        w += 3;
                    }
                }
                assert_int_equal(codec_encode(CODEC_ASCIIHEX, in, sizeof in, got), w);
                assert_memory_equal(got, want, w);
                check_round_trip(CODEC_ASCIIHEX, in, sizeof in);
            }
        }
    }
}

static void test_asciihex_examples(void **state)
{
    (void)state;
    check_encode(CODEC_ASCIIHEX, "abc\\def\n", "abc~5Cdef~0A");
    check_encode(CODEC_ASCIIHEX, "HTTP/1.0 200 OK\r\n", "HTTP/1.0 200 OK~0D~0A");
    check_encode(CODEC_ASCIIHEX, "say \"hi!\" ~x~", "say ~22hi~21~22 ~7Ex~7E");
    check_encode(CODEC_ASCIIHEX, "", "");
    check_decode_str(CODEC_ASCIIHEX, "abc~5Cdef~0A", "abc\\def\n");
    check_decode_str(CODEC_ASCIIHEX, "HTTP/1.0 200 OK~0D~0A", "HTTP/1.0 200 OK\r\n");
    check_decode_str(CODEC_ASCIIHEX, "", "");
}

static void test_asciihex_decode_lower_case(void **state)
{
    (void)state;
    check_decode_str(CODEC_ASCIIHEX, "~0d~0a~ff~Ff~fF~aB", "\r\n\xff\xff\xff\xab");
    check_decode_str(CODEC_ASCIIHEX, "~7e~7E~5c", "~~\\");
    check_decode(CODEC_ASCIIHEX, "~00", 3, "\0", 1);
}

static void test_asciihex_decode_passes_other_bytes(void **state)
{
    static const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80";

    (void)state;
    /* UTF-8, and bytes that the encoder would escape, stand for themselves. */
    check_decode_str(CODEC_ASCIIHEX, utf8, utf8);
    check_decode_str(CODEC_ASCIIHEX, "raw \"quotes\" and \\ and ! and \r\n\t",
                     "raw \"quotes\" and \\ and ! and \r\n\t");
    check_decode(CODEC_ASCIIHEX, "a\0b", 3, "a\0b", 3);
}

static void test_asciihex_decode_errors(void **state)
{
    (void)state;
    check_decode_error(CODEC_ASCIIHEX, "~", 0);
    check_decode_error(CODEC_ASCIIHEX, "~4", 0);
    check_decode_error(CODEC_ASCIIHEX, "~G0", 0);
    check_decode_error(CODEC_ASCIIHEX, "~0G", 0);
    check_decode_error(CODEC_ASCIIHEX, "ab~zz", 2);
    check_decode_error(CODEC_ASCIIHEX, "ab~0a~", 5);
    check_decode_error(CODEC_ASCIIHEX, "~~41", 0);
    check_decode_error(CODEC_ASCIIHEX, "~ 41", 0);
    check_decode_error(CODEC_ASCIIHEX, "long enough to use the word loop ~0x", 33);
    check_decode_error(CODEC_ASCIIHEX, "long enough to use the word loop~4", 32);
    check_decode_error(CODEC_ASCIIHEX, "0123456~", 7);
    check_decode_error(CODEC_ASCIIHEX, "01234567~", 8);
    check_decode_error(CODEC_ASCIIHEX, "01234567~41~4", 11);
}

/* ---- base64 -------------------------------------------------------------------------- */

/* RFC 4648 section 10, and the same without padding. */
static const char *const rfc4648_plain[] = {
    "", "f", "fo", "foo", "foob", "fooba", "foobar",
};
static const char *const rfc4648_b64[] = {
    "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
};
static const char *const rfc4648_b64_unpadded[] = {
    "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy",
};
static const char *const rfc4648_hex[] = {
    "", "66", "666F", "666F6F", "666F6F62", "666F6F6261", "666F6F626172",
};

static void test_base64_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648_plain / sizeof rfc4648_plain[0]; i++) {
        check_encode(CODEC_BASE64, rfc4648_plain[i], rfc4648_b64[i]);
        check_decode_str(CODEC_BASE64, rfc4648_b64[i], rfc4648_plain[i]);
        check_decode_str(CODEC_BASE64, rfc4648_b64_unpadded[i], rfc4648_plain[i]);
    }
    /* Both alphabet ends, and every byte value through the 62 and 63 characters. */
    check_encode(CODEC_BASE64, "\xfb\xff\xbf", "+/+/");
    check_decode_str(CODEC_BASE64, "+/+/", "\xfb\xff\xbf");
    check_decode(CODEC_BASE64, "AAAA", 4, "\0\0\0", 3);
}

static void test_base64_errors(void **state)
{
    (void)state;
    check_decode_error(CODEC_BASE64, "Zm9v!mFy", 4);
    check_decode_error(CODEC_BASE64, "Zm9vYmF*", 7);
    check_decode_error(CODEC_BASE64, "Zm 9v", 2);
    check_decode_error(CODEC_BASE64, "Zm9v\nYmFy", 4);
    check_decode_error(CODEC_BASE64, "Zm9vYm-y", 6); /* base64url is not accepted */
    check_decode_error(CODEC_BASE64, "Zm9vYm_y", 6);
    check_decode_error(CODEC_BASE64, "Zg=a", 2);     /* '=' inside the data */
    check_decode_error(CODEC_BASE64, "Zg==Zg==", 2);
    check_decode_error(CODEC_BASE64, "Z", 0);        /* one character holds no byte */
    check_decode_error(CODEC_BASE64, "Zm9vY", 4);
    check_decode_error(CODEC_BASE64, "Zm9vY=", 4);
    check_decode_error(CODEC_BASE64, "Zm9vY===", 4);
    check_decode_error(CODEC_BASE64, "Zg=", 2);      /* padding too short */
    check_decode_error(CODEC_BASE64, "Zg===", 4);    /* padding too long */
    check_decode_error(CODEC_BASE64, "Zm8==", 4);
    check_decode_error(CODEC_BASE64, "Zm9v=", 4);    /* padding after a full group */
    check_decode_error(CODEC_BASE64, "=", 0);
    check_decode_error(CODEC_BASE64, "====", 0);
    check_decode_error(CODEC_BASE64, "Zm\xc3\xa9", 2);
}

/* ---- hex ----------------------------------------------------------------------------- */

static void test_hex_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648_plain / sizeof rfc4648_plain[0]; i++) {
        check_encode(CODEC_HEX, rfc4648_plain[i], rfc4648_hex[i]);
        check_decode_str(CODEC_HEX, rfc4648_hex[i], rfc4648_plain[i]);
    }
    check_encode(CODEC_HEX, "\xab\xcd\xef\x01", "ABCDEF01");
    check_decode_str(CODEC_HEX, "abcdef01", "\xab\xcd\xef\x01");
    check_decode_str(CODEC_HEX, "AbCdEf01", "\xab\xcd\xef\x01");
    check_decode(CODEC_HEX, "00", 2, "\0", 1);
}

static void test_hex_errors(void **state)
{
    (void)state;
    check_decode_error(CODEC_HEX, "6", 0);
    check_decode_error(CODEC_HEX, "666", 2);
    check_decode_error(CODEC_HEX, "6G", 1);
    check_decode_error(CODEC_HEX, "G6", 0);
    check_decode_error(CODEC_HEX, "66 6F", 2);
    check_decode_error(CODEC_HEX, "666x6F", 3);
    check_decode_error(CODEC_HEX, "0x66", 1);
    check_decode_error(CODEC_HEX, "66g", 2);
    check_decode_error(CODEC_HEX, "6g6", 1); /* a bad digit comes before the odd length */
}

/* ---- Every encoding ------------------------------------------------------------------ */

static void test_every_byte_round_trips(void **state)
{
    uint8_t all[256];
    uint8_t rev[256];

    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        all[b] = (uint8_t)b;
        rev[b] = (uint8_t)(255 - b);
    }
    for (size_t e = 0; e < N_ENCODINGS; e++) {
        for (unsigned b = 0; b < 256; b++)
            check_round_trip(all_encodings[e], all + b, 1);
        check_round_trip(all_encodings[e], all, sizeof all);
        check_round_trip(all_encodings[e], rev, sizeof rev);
        /* Every length 0..256, so each group and word tail is seen. */
        for (size_t len = 0; len <= sizeof all; len++)
            check_round_trip(all_encodings[e], all + (sizeof all - len), len);
    }
}

/* A small deterministic generator (xorshift64*), so a failure can be reproduced. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void test_random_round_trips(void **state)
{
    uint64_t seed = 0x50C6A7E;
    uint8_t buf[4096];

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = (size_t)(next_random(&seed) % (iter < 2000 ? 64 : sizeof buf));
        unsigned kind = (unsigned)(next_random(&seed) % 3);

        for (size_t i = 0; i < len; i++) {
            uint64_t r = next_random(&seed);

            /* Uniform bytes, mostly printable text, or text with rare control bytes. */
            if (kind == 0)
                buf[i] = (uint8_t)r;
            else if (kind == 1)
                buf[i] = (uint8_t)(0x20 + (r >> 8) % 0x5F);
            else
                buf[i] = (r % 17 == 0) ? (uint8_t)(r >> 8) : (uint8_t)('a' + (r >> 8) % 26);
        }
        for (size_t e = 0; e < N_ENCODINGS; e++)
            check_round_trip(all_encodings[e], buf, len);
    }
}

/* The decoders never write more than codec_decoded_max promises for any input, even
 * malformed: checked with a canary byte after the promised size. */
static void test_decode_stays_in_bounds(void **state)
{
    uint64_t seed = 42;
    char in[80];
    uint8_t out[81];
    static const char alphabet[] = "~0aF=+/Zz9\xc3 g";

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(next_random(&seed) % sizeof in);

        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[next_random(&seed) % (sizeof alphabet - 1)];
        for (size_t e = 0; e < N_ENCODINGS; e++) {
            size_t max = codec_decoded_max(all_encodings[e], len);
            long rc;

            memset(out, 0xA5, sizeof out);
            rc = codec_decode(all_encodings[e], in, len, out, NULL);
            assert_true(rc == -EINVAL || (rc >= 0 && (size_t)rc <= max));
            assert_int_equal(out[max], 0xA5);
        }
    }
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(codec_encoded_max(CODEC_ASCIIHEX, 0), 0);
    assert_int_equal(codec_encoded_max(CODEC_ASCIIHEX, 10), 30);
    assert_int_equal(codec_encoded_max(CODEC_HEX, 10), 20);
    assert_int_equal(codec_encoded_max(CODEC_BASE64, 0), 0);
    assert_int_equal(codec_encoded_max(CODEC_BASE64, 1), 4);
    assert_int_equal(codec_encoded_max(CODEC_BASE64, 3), 4);
    assert_int_equal(codec_encoded_max(CODEC_BASE64, 4), 8);
    assert_int_equal(codec_decoded_max(CODEC_ASCIIHEX, 9), 9);
    assert_int_equal(codec_decoded_max(CODEC_HEX, 9), 4);
    assert_int_equal(codec_decoded_max(CODEC_BASE64, 4), 3);
    assert_int_equal(codec_decoded_max(CODEC_BASE64, 6), 4);
    assert_int_equal(codec_decoded_max(CODEC_BASE64, 7), 5);
    /* Absurd lengths saturate instead of wrapping to a small size. */
    assert_true(codec_encoded_max(CODEC_ASCIIHEX, SIZE_MAX / 2) == SIZE_MAX);
    assert_true(codec_encoded_max(CODEC_HEX, SIZE_MAX / 2 + 1) == SIZE_MAX);
    assert_true(codec_encoded_max(CODEC_BASE64, SIZE_MAX - 1) == SIZE_MAX);
}

static void test_encoding_names(void **state)
{
    enum codec_encoding enc = CODEC_HEX;

    (void)state;
    assert_string_equal(codec_encoding_name(CODEC_ASCIIHEX), "ascii~hex");
    assert_string_equal(codec_encoding_name(CODEC_BASE64), "base64");
    assert_string_equal(codec_encoding_name(CODEC_HEX), "hex");

    assert_int_equal(codec_encoding_from_name("ascii~hex", &enc), 0);
    assert_int_equal(enc, CODEC_ASCIIHEX);
    assert_int_equal(codec_encoding_from_name("base64", &enc), 0);
    assert_int_equal(enc, CODEC_BASE64);
    assert_int_equal(codec_encoding_from_name("hex", &enc), 0);
    assert_int_equal(enc, CODEC_HEX);
    assert_int_equal(codec_encoding_from_name("BASE64", &enc), 0);
    assert_int_equal(enc, CODEC_BASE64);
    assert_int_equal(codec_encoding_from_name("ASCII~Hex", &enc), 0);
    assert_int_equal(enc, CODEC_ASCIIHEX);
    assert_int_equal(codec_encoding_from_name("Hex", &enc), 0);
    assert_int_equal(enc, CODEC_HEX);

    enc = CODEC_BASE64;
    assert_int_equal(codec_encoding_from_name("", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name("base32", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name("hexx", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name("he", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name("base64 ", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name("asciihex", &enc), -EINVAL);
    assert_int_equal(codec_encoding_from_name(NULL, &enc), -EINVAL);
    assert_int_equal(enc, CODEC_BASE64); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asciihex_encode_every_byte),
        cmocka_unit_test(test_asciihex_encode_every_byte_in_context),
        cmocka_unit_test(test_asciihex_examples),
        cmocka_unit_test(test_asciihex_decode_lower_case),
        cmocka_unit_test(test_asciihex_decode_passes_other_bytes),
        cmocka_unit_test(test_asciihex_decode_errors),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_errors),
        cmocka_unit_test(test_hex_vectors),
        cmocka_unit_test(test_hex_errors),
        cmocka_unit_test(test_every_byte_round_trips),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_decode_stays_in_bounds),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_encoding_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
