/*
 * libFuzzer harness of the WebSocket bridge's input handling: the opening handshake
 * (server/ws_handshake.c) and the framer (server/ws_framer.c, on libwslay) fed any bytes
 * as if a client sent them, in pieces of fuzzer-chosen sizes, with a sink whose room and
 * a wire whose writability come and go. Checks: no crash or sanitizer report, no more
 * payload handed on than was sent, the sink never overfilled, an accepted handshake well
 * formed.
 *
 * Input: byte 0 chooses handshake (odd) or frames (even) and, for frames, the piece
 * sizes and the end of input (EOF or EAGAIN); the rest is the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_framer.h"
#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SINK_CAP (256u << 10)

/* Handshake: newline-separated header values; "-" stands for an absent header. */
static void fuzz_handshake(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *field[7] = {0};
    char *p = copy;
    for (int i = 0; i < 7 && p; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        field[i] = strcmp(p, "-") == 0 ? NULL : p;
        p = nl ? nl + 1 : NULL;
    }
    struct ws_handshake in = {field[0], field[1], field[2], field[3], field[4], field[5], field[6]};
    struct ws_handshake_answer out;
    if (ws_handshake_check(&in, &out)) {
        if (out.status != 101 || strlen(out.accept) != 28 ||
            (out.protocol && strcmp(out.protocol, "binary") != 0))
            abort();
    } else if (!out.error || out.status < 400 || out.status > 500) {
        abort();
    }
    free(copy);
}

struct fuzz_conn {
    const uint8_t *in;               /* the client's bytes */
    size_t len, off;                 /* their number, and how many were read */
    unsigned piece;                  /* bytes handed per read, at most */
    bool eof_at_end;                 /* the connection ends after the input (else EAGAIN) */
    unsigned tick;                   /* drives the wire's and the sink's moods */
    size_t sink;                     /* payload bytes held by the sink */
    size_t payload_total;            /* payload bytes handed on in all */
    size_t messages;                 /* message ends */
    size_t written;                  /* bytes written to the wire */
};

static ssize_t conn_read(void *ctx, void *buf, size_t len)
{
    struct fuzz_conn *c = ctx;
    if (c->off == c->len)
        return c->eof_at_end ? 0 : -EAGAIN;
    size_t n = c->len - c->off;
    if (n > c->piece)
        n = c->piece;
    if (n > len)
        n = len;
    memcpy(buf, c->in + c->off, n);
    c->off += n;
    return (ssize_t)n;
}

static ssize_t conn_writev(void *ctx, const struct iovec *iov, int iovcnt, bool more)
{
    (void)more;
    struct fuzz_conn *c = ctx;
    if (++c->tick % 5 == 0)
        return -EAGAIN; /* the client is slow now and then */
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    if (n > 3 && c->tick % 3 == 0)
        n = n / 2; /* a partial write */
    c->written += n;
    return (ssize_t)n;
}

static size_t conn_room(void *ctx)
{
    struct fuzz_conn *c = ctx;
    /* The sink drains on every other look, so room comes and goes. */
    if (++c->tick % 2 == 0)
        c->sink = 0;
    return SINK_CAP - c->sink;
}

static void conn_payload(void *ctx, const uint8_t *data, size_t len)
{
    struct fuzz_conn *c = ctx;
    (void)data;
    c->sink += len;
    c->payload_total += len;
    if (c->sink > SINK_CAP)
        abort(); /* the framer must not hand on more than room allowed */
}

static void conn_message_end(void *ctx)
{
    struct fuzz_conn *c = ctx;
    c->messages++;
}

static void fuzz_frames(uint8_t mode, const uint8_t *data, size_t size)
{
    static const unsigned pieces[] = {1, 2, 3, 7, 64, 1000, 4096, 65536};
    struct fuzz_conn c = {
        .in = data, .len = size, .piece = pieces[(mode >> 1) & 7], .eof_at_end = (mode & 16) != 0,
    };
    static const struct ws_framer_io io = {
        .read = conn_read, .writev = conn_writev, .splice = NULL, .room = conn_room,
        .payload = conn_payload, .message_end = conn_message_end,
    };
    uint64_t max_message = (mode & 32) ? 65507 : 0;
    size_t extra = size < 8 ? size : (size_t)(mode >> 6) * 2;
    if (extra > size)
        extra = size;
    c.off = extra; /* bytes libmicrohttpd read ahead of the upgrade */
    struct ws_framer *f = ws_framer_new(&io, &c, max_message, data, extra);
    if (!f)
        return;
    static const uint8_t payload[300] = {'d'};
    for (int round = 0; round < 10000; round++) {
        ssize_t got = ws_framer_read(f);
        if (got < 0)
            break;
        if ((round & 7) == 3 && ws_framer_can_begin(f))
            ws_framer_begin(f, payload, -1, (size_t)(round % 300));
        if (round == 5)
            ws_framer_ping(f, "fuzz", 4);
        if (round == 20)
            ws_framer_close(f, 1000, "the fuzzer is done with this one, and this reason is long "
                                     "enough to be cut at 123 bytes: \xc3\xa9\xc3\xa9\xc3\xa9"
                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
        if (ws_framer_read_state(f) == WS_READ_CLOSE && round > 30)
            ws_framer_answer_close(f);
        if (ws_framer_flush(f) < 0)
            break;
        if (got == 0 && c.off == c.len && round > 40 && ws_framer_frame_left(f) == 0)
            break;
    }
    if (c.payload_total > size)
        abort(); /* payload cannot outgrow what was sent */
    ws_framer_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_handshake(data + 1, size - 1);
    else
        fuzz_frames(data[0], data + 1, size - 1);
    return 0;
}
