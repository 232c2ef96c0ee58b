/*
 * Streams: a connected socket lent to a byte pump (the WebSocket bridge). While lent, the
 * socket is "streaming": REST data commands answer ALREADY, and close, the idle sweep or
 * shutdown end the stream. The pump never touches the descriptor: every byte goes through
 * these calls, so a transport layer (TLS) can sit under them.
 *
 * Ownership: the stream lives inside its socket and belongs to the engine. It is valid from
 * a successful attach until detach, close, or the return of the closed callback.
 */
#ifndef SOCKGATE_STREAM_H
#define SOCKGATE_STREAM_H

#include <stddef.h>
#include <sys/types.h>

#include "engine.h"

struct eng_stream;

#define ENG_STREAM_IN 1u        /* bytes (or the end of the stream, or an error) to read */
#define ENG_STREAM_OUT 2u       /* room to write */

struct eng_stream_ops {
    /* The socket may be read (IN) or written (OUT) now. Level-triggered: called again
     * while the interest stays and the condition holds. Read until -EAGAIN. */
    void (*ready)(void *ctx, unsigned events);
    /* The socket was closed under the stream: ENG_ECLOSED for a REST close or DELETE,
     * ENG_ESHUTDOWN when the server stops. The last call; the handle is gone after it. */
    void (*closed)(void *ctx, int code);
};

/* Lends socket `id` of `owner` to a pump. Any operation queued on it ends with ALREADY
 * (a send with its unsent part). Returns 0 with *out set, ENG_ENOTSOCK, -ENOTCONN when it
 * is not connected, -EALREADY when it already streams, or -ENOMEM. */
int eng_stream_attach(struct eng *e, int owner, const char *id, const struct eng_stream_ops *ops,
                      void *ctx, struct eng_stream **out);

/* The events the pump waits for (ENG_STREAM_IN | ENG_STREAM_OUT, 0 for none). */
void eng_stream_want(struct eng_stream *st, unsigned events);

/* Reads up to cap bytes: given-back bytes first, then the socket. On a datagram socket one
 * read is one datagram (cap should be 65536; 0 is an empty datagram). Returns the count,
 * 0 at the end of a stream, -EAGAIN when nothing is there now, or -errno. */
ssize_t eng_stream_read(struct eng_stream *st, void *buf, size_t cap);

/* Moves up to len bytes from a stream socket into the write end of a pipe without copying
 * them through user space (splice). Returns as eng_stream_read does, or -EOPNOTSUPP when
 * the stream cannot (a datagram socket, given-back bytes waiting, a TLS session): then use
 * eng_stream_read. A full pipe is -EAGAIN. */
ssize_t eng_stream_read_to_pipe(struct eng_stream *st, int pipe_wr, size_t len);

/* Writes up to len bytes; a datagram goes whole or not at all. Returns the count taken,
 * -EAGAIN when there is no room now, or -errno (-EPIPE, -ECONNRESET, -EMSGSIZE, ...). */
ssize_t eng_stream_write(struct eng_stream *st, const void *buf, size_t len);

/* Ends the sending direction once everything is written (FIN). Returns 0 or -errno. */
int eng_stream_shutdown_write(struct eng_stream *st);

/* Gives the socket back to REST use, open and in its state before the attach. */
void eng_stream_detach(struct eng_stream *st);

/* Ends the stream and closes its socket. Unread input is discarded first, so the close
 * sends FIN after the written bytes rather than a reset that could lose them. */
void eng_stream_close(struct eng_stream *st);

/* SOCK_STREAM or SOCK_DGRAM. */
int eng_stream_type(const struct eng_stream *st);

/* The socket's id ("s3"), for logs and close reasons. */
const char *eng_stream_id(const struct eng_stream *st);

#endif
