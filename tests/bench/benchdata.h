/*
 * The benchmark's test data, the same on every run: English-like text (words, spaces,
 * punctuation and newlines, as a log or a document would be) and uniformly random bytes.
 * Used by bench_client (the files nginx serves) and codec_bench.
 */
#ifndef SOCKGATE_BENCHDATA_H
#define SOCKGATE_BENCHDATA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bench_rng {
    uint32_t state;             /* xorshift32; never 0 */
};

static inline uint32_t bench_next(struct bench_rng *r)
{
    uint32_t x = r->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->state = x;
}

static inline void bench_fill_binary(struct bench_rng *r, uint8_t *out, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t v = bench_next(r);
        memcpy(out + i, &v, 4);
    }
    for (; i < len; i++)
        out[i] = (uint8_t)bench_next(r);
}

static inline void bench_fill_text(struct bench_rng *r, uint8_t *out, size_t len)
{
    static const char *const words[] = {
        "the", "socket", "gateway", "answers", "a", "list", "of", "strings", "and", "data",
        "travels", "as", "ascii~hex", "in", "JSON", "HTTP/1.1", "200", "OK", "server", "client",
        "connection", "request", "response", "to", "from", "with", "is", "it", "for", "on",
        "bytes", "time", "\"quoted\"", "value", "error:", "C:\\path", "recv", "send", "wait", "event",
    };
    size_t nwords = sizeof(words) / sizeof(words[0]);
    size_t i = 0, col = 0;
    while (i < len) {
        const char *w = words[bench_next(r) % nwords];
        size_t wl = strlen(w);
        for (size_t k = 0; k < wl && i < len; k++)
            out[i++] = (uint8_t)w[k];
        col += wl + 1;
        if (i >= len)
            break;
        uint32_t p = bench_next(r) % 16;
        if (col > 72) {
            out[i++] = '\n';
            col = 0;
        } else {
            if (p < 2 && i < len)
                out[i++] = p == 0 ? ',' : '.';
            if (i < len)
                out[i++] = ' ';
        }
    }
}

#endif
