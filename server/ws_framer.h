/*
 * WebSocket framing for the bridge, on libwslay: frames from the client are parsed and
 * checked by wslay's event API (masking, opcodes, UTF-8 of text, close codes, pings
 * answered), their payload handed on as it arrives; frames to the client are made by
 * wslay's frame API, their payload written straight from the bridge's buffer or spliced
 * from its pipe, never copied. Control frames wslay makes go out between data frames.
 *
 * The framer knows no descriptors: it reads and writes through the io callbacks, so the
 * fuzzer (tests/fuzz/fuzz_ws.c) drives it from memory. Errors are -errno.
 */
#ifndef SOCKGATE_WS_FRAMER_H
#define SOCKGATE_WS_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define WS_FRAMER_IN_CAP 65536u      /* client bytes read per system call, at most */
#define WS_FRAMER_CHUNK 4096u        /* payload one step of wslay can hand on, at most */

struct ws_framer;

struct ws_framer_io {
    /* The client's bytes: >0, 0 at the end of the connection, -EAGAIN, -errno. */
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    /* Bytes to the client: the count written, -EAGAIN, -errno. `more` says that payload
     * follows at once (a header before spliced bytes): the bytes may wait to share its
     * packet. */
    ssize_t (*writev)(void *ctx, const struct iovec *iov, int iovcnt, bool more);
    /* Bytes to the client from a pipe (NULL when the bridge never uses one). */
    ssize_t (*splice)(void *ctx, int pipe_rd, size_t len);
    /* Payload bytes the sink can take now; the framer reads no frame while this is
     * below WS_FRAMER_CHUNK. */
    size_t (*room)(void *ctx);
    /* Payload of a data frame (text or binary), in order. */
    void (*payload)(void *ctx, const uint8_t *data, size_t len);
    /* The data message whose payload came last is complete. */
    void (*message_end)(void *ctx);
};

/* How reading stopped (ws_framer_read_state). */
enum ws_read_state {
    WS_READING,                      /* open */
    WS_READ_CLOSE,                   /* the client sent a Close (its code: ws_framer_peer_code) */
    WS_READ_FAILED,                  /* a protocol error; wslay queued a Close with its code */
    WS_READ_EOF,                     /* the connection ended (or failed) without a Close */
    WS_READ_STOPPED,                 /* we stopped reading (ws_framer_stop_read) */
};

/* A framer for the server side. max_message bounds a data message (0: no bound beyond
 * wslay's per-frame one); longer ones are closed with 1009. extra_in/extra_len are client
 * bytes already read (after the HTTP headers). NULL on failure. */
struct ws_framer *ws_framer_new(const struct ws_framer_io *io, void *ctx, uint64_t max_message,
                                const void *extra_in, size_t extra_len);
void ws_framer_free(struct ws_framer *f);

/* Reads and parses what the client sent, as far as room allows. Returns the client bytes
 * consumed (0: none), or -ENOMEM. See ws_framer_read_state for how reading ended. */
ssize_t ws_framer_read(struct ws_framer *f);
enum ws_read_state ws_framer_read_state(const struct ws_framer *f);
/* True while the framer would read more if room allowed (it is not blocked on input). */
bool ws_framer_has_input(const struct ws_framer *f);
/* True when client bytes wait inside the framer (no readiness will announce them) and
 * reading could go on now. */
bool ws_framer_input_ready(const struct ws_framer *f);
/* The status code of the client's Close (1005 when it carried none). */
unsigned ws_framer_peer_code(const struct ws_framer *f);
/* Reads nothing more from the client. */
void ws_framer_stop_read(struct ws_framer *f);

/* Begins a binary frame of len bytes, from buf (which must stay unchanged until the
 * frame is out) or, when buf is NULL, from the pipe pipe_rd. Only when
 * ws_framer_can_begin. */
void ws_framer_begin(struct ws_framer *f, const uint8_t *buf, int pipe_rd, size_t len);
/* True when no data frame is on its way and no Close is on its way (an unanswered
 * client Close does not stop data: that is the half-close). */
bool ws_framer_can_begin(const struct ws_framer *f);
/* Payload bytes of the current data frame still to write (0: none on its way). */
size_t ws_framer_frame_left(const struct ws_framer *f);

/* Queues a ping (payload up to 125 bytes). Returns 0 or -EPIPE once a Close is queued. */
int ws_framer_ping(struct ws_framer *f, const void *data, size_t len);
/* Queues our Close with a code and a reason (cut to 123 bytes at a UTF-8 boundary).
 * Data frames stop; the one on its way is finished first. Returns 0 or -EALREADY. */
int ws_framer_close(struct ws_framer *f, unsigned code, const char *reason);
/* Lets the answer to the client's Close go out. wslay queues it as the Close arrives; the
 * framer holds it back until this call, so the bridge can first deliver what the client
 * sent (and, half-closing, relay the peer's answer). */
void ws_framer_answer_close(struct ws_framer *f);

/* Writes what is ready: the data frame on its way, then control frames. Returns 1 when
 * everything is written, 0 when the client's side is full (wait for writability), or
 * -errno. */
int ws_framer_flush(struct ws_framer *f);
/* True when a Close of ours is completely written. */
bool ws_framer_close_sent(const struct ws_framer *f);
/* The code of our Close (0 before one is queued). */
unsigned ws_framer_sent_code(const struct ws_framer *f);

#endif
