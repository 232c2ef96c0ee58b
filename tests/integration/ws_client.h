/*
 * A lean WebSocket client (RFC 6455) for tests and benchmarks: the handshake, masked
 * frames out, and a frame reader that hands payload back in place, chunk by chunk, so a
 * 100 MB transfer costs one recv per buffer and no copy. It checks what a strict client
 * checks (status 101, Sec-WebSocket-Accept, unmasked frames from the server) and reports
 * problems as negative numbers rather than failing a test itself, so the integration tests
 * (cmocka) and the benchmarks (plain programs) can both use it. Blocking sockets, with a
 * deadline on every wait.
 */
#ifndef SOCKGATE_WS_CLIENT_H
#define SOCKGATE_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSC_OP_CONT 0x0
#define WSC_OP_TEXT 0x1
#define WSC_OP_BINARY 0x2
#define WSC_OP_CLOSE 0x8
#define WSC_OP_PING 0x9
#define WSC_OP_PONG 0xA

/* Errors besides -errno. */
#define WSC_ETIMEDOUT (-10001)       /* a wait ran past its deadline */
#define WSC_EHANDSHAKE (-10002)      /* not a valid 101 answer (see wsc.status, wsc.head) */
#define WSC_EPROTO (-10003)          /* a frame the server must not send */
#define WSC_EEOF (-10004)            /* the connection ended without a Close frame */

struct wsc {
    int fd;                          /* the connection, blocking */
    int timeout_ms;                  /* deadline of each wait */
    int rcvtimeo_ms;                 /* the receive timeout the socket has now (0: none) */
    uint8_t *buf;                    /* input buffer (cap bytes) */
    size_t cap, start, end;          /* its size; unread bytes are [start, end) */
    int status;                      /* the handshake's HTTP status */
    char head[4096];                 /* the handshake answer's header block */
    char *body;                      /* a refused handshake's body (malloc'd) or NULL */
    /* The frame being read. */
    int opcode;                      /* its opcode */
    bool fin;                        /* its FIN bit */
    uint64_t left;                   /* payload bytes not yet returned */
    bool in_frame;                   /* a header was read and payload remains */
};

/* One piece of a frame's payload, valid until the next wsc call. */
struct wsc_chunk {
    int opcode;                      /* the frame's opcode */
    bool fin;                        /* the frame's FIN bit */
    bool frame_start;                /* first chunk of its frame */
    bool frame_end;                  /* last chunk of its frame */
    const uint8_t *data;             /* payload bytes */
    size_t len;                      /* their number */
};

/* Connects to 127.0.0.1:port and upgrades `path`. extra_headers are whole lines
 * ("Sec-WebSocket-Protocol: binary\r\n"), may be NULL. buf_cap is the input buffer size
 * (at least 4096). Returns 0, WSC_EHANDSHAKE (the answer is in c->status/head/body), or
 * -errno. Free with wsc_close. */
int wsc_connect(struct wsc *c, uint16_t port, const char *path, const char *extra_headers,
                size_t buf_cap, int timeout_ms);
/* Closes the connection (no Close frame) and frees the buffers. */
void wsc_close(struct wsc *c);

/* Sends one masked frame. Returns 0 or -errno. */
int wsc_send(struct wsc *c, int opcode, const void *data, size_t len, bool fin);
/* Sends a Close frame with code (0: none) and reason. */
int wsc_send_close(struct wsc *c, unsigned code, const char *reason);
/* Writes raw bytes, for malformed input. */
int wsc_send_raw(struct wsc *c, const void *data, size_t len);

/* Reads the next chunk of payload (a control frame comes whole). Returns 1 with *out
 * set, or WSC_EEOF, WSC_ETIMEDOUT, WSC_EPROTO, -errno. */
int wsc_next(struct wsc *c, struct wsc_chunk *out);

/* Reads a whole message (data frames joined; control frames other than Close skipped,
 * pings answered) into buf. Returns its length with *opcode set (WSC_OP_CLOSE for a Close,
 * its payload in buf), or a negative error; -EMSGSIZE when it does not fit. */
long wsc_read_message(struct wsc *c, int *opcode, uint8_t *buf, size_t cap);

/* The status code of a Close payload (1005 when it has none). */
unsigned wsc_close_code(const uint8_t *payload, size_t len);

#endif
