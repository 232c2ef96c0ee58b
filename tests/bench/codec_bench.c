/*
 * Native speed of the ascii~hex codec (engine/codec.c, built with the server's flags):
 * encode and decode of the first BYTES of a text file and of a binary file, the same
 * data tests/bench/codec_wasm.js runs through the WebAssembly build. Each figure is the
 * best of repeated passes over the data for about half a second; GB/s counts the raw
 * (decoded) bytes in both directions.
 *
 *   codec_bench TEXT_FILE BINARY_FILE BYTES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"

#define PASS_SECONDS 0.5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *load(const char *path, size_t len)
{
    unsigned char *buf = malloc(len);
    FILE *f = fopen(path, "rb");
    if (!buf || !f || fread(buf, 1, len, f) != len) {
        fprintf(stderr, "codec_bench: cannot read %zu bytes of %s\n", len, path);
        exit(1);
    }
    fclose(f);
    return buf;
}

/* Best GB/s of raw bytes over passes of encode (decode = 0) or decode (decode = 1). */
static double measure(const unsigned char *raw, size_t len, char *enc, size_t enclen,
                      unsigned char *dec, int decode)
{
    double best = 0, start = now_s();
    do {
        double t0 = now_s();
        if (decode) {
            if (codec_decode(CODEC_ASCIIHEX, enc, enclen, dec, NULL) != (long)len)
                exit(1);
        } else {
            if (codec_encode(CODEC_ASCIIHEX, raw, len, enc) != enclen)
                exit(1);
        }
        double t = now_s() - t0;
        if (t > 0 && (double)len / t / 1e9 > best)
            best = (double)len / t / 1e9;
    } while (now_s() - start < PASS_SECONDS);
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: codec_bench TEXT_FILE BINARY_FILE BYTES\n");
        return 2;
    }
    size_t len = (size_t)strtoull(argv[3], NULL, 10);
    const char *names[2] = {"text", "binary"};
    for (int k = 0; k < 2; k++) {
        unsigned char *raw = load(argv[1 + k], len);
        char *enc = malloc(codec_encoded_max(CODEC_ASCIIHEX, len));
        unsigned char *dec = malloc(len);
        if (!enc || !dec)
            return 1;
        size_t enclen = codec_encode(CODEC_ASCIIHEX, raw, len, enc);
        if (codec_decode(CODEC_ASCIIHEX, enc, enclen, dec, NULL) != (long)len ||
            memcmp(raw, dec, len) != 0) {
            fprintf(stderr, "codec_bench: %s does not round-trip\n", names[k]);
            return 1;
        }
        printf("%s_encode_gbps=%.3f\n", names[k], measure(raw, len, enc, enclen, dec, 0));
        printf("%s_decode_gbps=%.3f\n", names[k], measure(raw, len, enc, enclen, dec, 1));
        printf("%s_expansion=%.2f\n", names[k], (double)enclen / (double)len);
        free(raw);
        free(enc);
        free(dec);
    }
    return 0;
}
