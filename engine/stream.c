/*
 * Streams (see stream.h): a connected socket lent to a byte pump. The socket keeps its
 * watch; while it streams, readiness goes to the pump instead of the REST queues, and
 * given-back bytes are read before the descriptor. The hooks at the end are how the rest
 * of the engine treats a streaming socket.
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "engine_int.h"

#define STREAM_DISCARD_MAX (1u << 20) /* unread input a close reads away at most */

struct eng_stream {
    struct eng_socket *sock;         /* the socket lent */
    struct eng_stream_ops ops;       /* the pump's callbacks */
    void *ctx;                       /* their argument */
    unsigned want;                   /* ENG_STREAM_IN | ENG_STREAM_OUT */
};

int eng_stream_attach(struct eng *e, int owner, const char *id, const struct eng_stream_ops *ops,
                      void *ctx, struct eng_stream **out)
{
    *out = NULL;
    struct eng_socket *s = engi_socket_find(e, owner, id);
    if (!s)
        return ENG_ENOTSOCK;
    if (s->stream)
        return -EALREADY;
    if (s->state != ENGI_CONNECTED || engi_tls_handshaking(s))
        return -ENOTCONN;
    struct eng_stream *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->sock = s;
    st->ops = *ops;
    st->ctx = ctx;
    /* Whatever waited on the socket would now race the pump for its bytes. */
    engi_socket_fail_queued(s, -EALREADY, "the socket is streaming over a WebSocket");
    s->stream = st;
    engi_socket_used(s);
    engi_socket_update_watch(s);
    *out = st;
    return 0;
}

void eng_stream_want(struct eng_stream *st, unsigned events)
{
    struct eng_socket *s = st->sock;
    st->want = events & (ENG_STREAM_IN | ENG_STREAM_OUT);
    engi_socket_update_watch(s);
    /* Given-back bytes and plaintext TLS holds wait in memory, where epoll cannot see
     * them. */
    if ((st->want & ENG_STREAM_IN) && (s->pushback || engi_tx_held(s) > 0))
        engi_kick(s);
}

/* One chunk of given-back bytes (a whole datagram on a DGRAM socket). */
static size_t read_pushback(struct eng_socket *s, uint8_t *buf, size_t cap)
{
    struct engi_chunk *c = s->pushback;
    size_t take = c->len - c->off;
    if (take > cap)
        take = cap;
    memcpy(buf, c->data + c->off, take);
    c->off += take;
    s->pushback_bytes -= take;
    if (c->off == c->len || s->type == SOCK_DGRAM) {
        /* The rest of a datagram too long for cap is dropped, as recv drops it. */
        s->pushback_bytes -= c->len - c->off;
        s->pushback = c->next;
        free(c);
    }
    return take;
}

ssize_t eng_stream_read(struct eng_stream *st, void *buf, size_t cap)
{
    struct eng_socket *s = st->sock;
    if (cap == 0)
        return -EINVAL;
    /* Given-back bytes were counted when they were first read. */
    if (s->pushback)
        return (ssize_t)read_pushback(s, buf, cap);
    ssize_t r = engi_tx_recv(s, buf, cap, NULL, NULL);
    if (r < 0)
        return r;
    s->bytes_in += (uint64_t)r;
    s->e->bytes_in += (uint64_t)r;
    engi_socket_used(s);
    return r;
}

ssize_t eng_stream_read_to_pipe(struct eng_stream *st, int pipe_wr, size_t len)
{
    struct eng_socket *s = st->sock;
    /* TLS bytes must be decrypted on their way: only a plain socket's can be spliced. */
    if (s->type != SOCK_STREAM || s->pushback || s->tls)
        return -EOPNOTSUPP;
    ssize_t r;
    do
        r = splice(s->fd, NULL, pipe_wr, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    s->bytes_in += (uint64_t)r;
    s->e->bytes_in += (uint64_t)r;
    engi_socket_used(s);
    return r;
}

ssize_t eng_stream_write(struct eng_stream *st, const void *buf, size_t len)
{
    struct eng_socket *s = st->sock;
    ssize_t w = engi_tx_send(s, buf, len, NULL, 0);
    if (w == -ENOBUFS)
        w = -EAGAIN; /* a full device queue: a datagram waits for the next turn */
    if (w < 0)
        return w;
    s->bytes_out += (uint64_t)w;
    s->e->bytes_out += (uint64_t)w;
    engi_socket_used(s);
    return w;
}

int eng_stream_shutdown_write(struct eng_stream *st)
{
    if (st->sock->type != SOCK_STREAM)
        return 0;
    return engi_tx_shutdown_write(st->sock);
}

/* Takes the stream off its socket and frees it; the socket is REST's again. */
static void stream_unhook(struct eng_stream *st)
{
    struct eng_socket *s = st->sock;
    s->stream = NULL;
    free(st);
    engi_socket_update_watch(s);
}

void eng_stream_detach(struct eng_stream *st)
{
    stream_unhook(st);
}

void eng_stream_close(struct eng_stream *st)
{
    struct eng_socket *s = st->sock;
    stream_unhook(st);
    /* close() with unread input sends a reset, and a reset makes the kernel drop what it
     * still had to send: read the input away so the written bytes end with a FIN. */
    if (s->type == SOCK_STREAM) {
        size_t discarded = 0;
        while (discarded < STREAM_DISCARD_MAX) {
            ssize_t r = recv(s->fd, s->e->scratch, sizeof(s->e->scratch), 0);
            if (r <= 0)
                break;
            discarded += (size_t)r;
        }
    }
    engi_socket_close(s, ENG_ECLOSED);
}

int eng_stream_type(const struct eng_stream *st)
{
    return st->sock->type;
}

const char *eng_stream_id(const struct eng_stream *st)
{
    return st->sock->id;
}

/* ---- How the rest of the engine treats a streaming socket ---------------------------- */

bool engi_stream_refuses(const struct eng_socket *s, enum eng_cmd cmd)
{
    if (!s->stream)
        return false;
    switch (cmd) {
    case ENG_CMD_SEND:
    case ENG_CMD_SENDTO:
    case ENG_CMD_RECV:
    case ENG_CMD_RECVFROM:
    case ENG_CMD_CONNECT: /* a datagram socket would change the peer under the pump */
    case ENG_CMD_ACCEPT:
    case ENG_CMD_ACCEPTFAST:
    case ENG_CMD_STARTTLS: /* the pump's bytes would slip into the handshake */
        return true;
    default:
        return false;
    }
}

uint32_t engi_stream_epoll_events(const struct eng_socket *s)
{
    uint32_t ev = engi_tx_events(s); /* a TLS record waiting to go out */
    if (s->stream->want & ENG_STREAM_IN)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (s->stream->want & ENG_STREAM_OUT)
        ev |= EPOLLOUT;
    return ev;
}

void engi_stream_run(struct eng_socket *s, uint32_t epoll_events)
{
    struct eng_stream *st = s->stream;
    unsigned ev = 0;
    /* A TLS record that waits to go out goes first, even when the pump has no more. */
    if ((epoll_events & EPOLLOUT) && engi_tx_flush(s) == -EAGAIN)
        epoll_events &= ~(uint32_t)EPOLLOUT;
    if (epoll_events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        ev |= ENG_STREAM_IN;
    if (epoll_events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        ev |= ENG_STREAM_OUT;
    if (s->pushback || engi_tx_held(s) > 0)
        ev |= ENG_STREAM_IN;
    ev &= st->want;
    if (ev)
        st->ops.ready(st->ctx, ev);
}

void engi_stream_socket_closed(struct eng_socket *s, int code)
{
    struct eng_stream *st = s->stream;
    s->stream = NULL;
    st->ops.closed(st->ctx, code);
    free(st);
}
