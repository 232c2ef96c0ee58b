/*
 * The WebSocket bridge's pumps (see ws_bridge_int.h): the client's connection as the
 * framer sees it, and the moves of bytes both ways under fixed caps. Down (socket to
 * client): bytes are spliced from the socket into a pipe and from the pipe into the
 * client's connection behind a frame header, never copied through user space; a datagram
 * socket, given-back bytes and TLS go through a buffer instead. Up (client to socket):
 * frame payload collects in a buffer that is written to the socket, one message per
 * datagram on a datagram socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stream.h"
#include "ws_bridge_int.h"

/* ---- the client's connection, for the framer ------------------------------------------ */

/* A read that found nothing is not tried again until epoll says the connection is
 * readable: every step of a bulk download would otherwise cost a recv that fails. */
static ssize_t client_read(void *ctx, void *buf, size_t len)
{
    struct ws_bridge *b = ctx;
    if (!b->client_readable)
        return -EAGAIN;
    ssize_t r = recv(b->fd, buf, len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        b->client_readable = false;
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return r;
}

static ssize_t client_writev(void *ctx, const struct iovec *iov, int iovcnt, bool more)
{
    struct ws_bridge *b = ctx;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t w = sendmsg(b->fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return w;
}

static ssize_t client_splice(void *ctx, int pipe_rd, size_t len)
{
    struct ws_bridge *b = ctx;
    ssize_t w = splice(pipe_rd, NULL, b->fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return w;
}

/* Room for the client's payload: the up buffer, compacted when that makes room. */
size_t wsb_up_room(void *ctx)
{
    struct ws_bridge *b = ctx;
    if (b->dgram_count + WS_DGRAM_PER_CHUNK >= WS_DGRAM_QUEUE)
        return 0; /* the message ring is full */
    if (b->up_start == b->up_end)
        b->up_start = b->up_end = 0;
    if (b->up_start > 0 && b->up_cap - b->up_end < WS_FRAMER_CHUNK) {
        memmove(b->up, b->up + b->up_start, b->up_end - b->up_start);
        b->up_end -= b->up_start;
        b->up_start = 0;
    }
    return b->up_cap - b->up_end;
}

static void up_payload(void *ctx, const uint8_t *data, size_t len)
{
    struct ws_bridge *b = ctx;
    /* The framer hands on at most WS_FRAMER_CHUNK bytes after wsb_up_room said there was room. */
    if (len > b->up_cap - b->up_end)
        len = b->up_cap - b->up_end;
    memcpy(b->up + b->up_end, data, len);
    b->up_end += len;
    b->last_data_ms = eng_now_ms();
}

/* On a datagram socket a message is a datagram: its length joins the ring. */
static void up_message_end(void *ctx)
{
    struct ws_bridge *b = ctx;
    if (b->type != SOCK_DGRAM)
        return;
    size_t len = b->up_end - b->up_start - b->dgram_bytes;
    b->dgram_len[(b->dgram_head + b->dgram_count) % WS_DGRAM_QUEUE] = len;
    b->dgram_count++;
    b->dgram_bytes += len;
}

const struct ws_framer_io wsb_client_io = {
    .read = client_read,
    .writev = client_writev,
    .splice = client_splice,
    .room = wsb_up_room,
    .payload = up_payload,
    .message_end = up_message_end,
};

/* ---- pumps ------------------------------------------------------------------------- */

static bool sock_failed(struct ws_bridge *b, ssize_t r)
{
    if (!b->peer_err)
        b->peer_err = (int)r;
    return true;
}

/* Client payload to the socket. Returns true on progress. */
bool wsb_pump_up_write(struct ws_bridge *b)
{
    if (!b->st || b->peer_err) {
        b->up_start = b->up_end = 0; /* nowhere to go */
        b->dgram_count = b->dgram_bytes = 0;
        return false;
    }
    if (b->type == SOCK_DGRAM) {
        bool progress = false;
        while (b->dgram_count > 0) {
            size_t len = b->dgram_len[b->dgram_head];
            ssize_t w = eng_stream_write(b->st, b->up + b->up_start, len);
            if (w == -EAGAIN) {
                b->sock_blocked = true;
                break;
            }
            /* A refused datagram is lost, as UDP loses it; the bridge goes on. */
            if (w < 0 && w != -ECONNREFUSED)
                return sock_failed(b, w);
            b->up_start += len;
            b->dgram_bytes -= len;
            b->dgram_head = (b->dgram_head + 1) % WS_DGRAM_QUEUE;
            b->dgram_count--;
            progress = true;
        }
        return progress;
    }
    if (b->up_start == b->up_end)
        return false;
    ssize_t w = eng_stream_write(b->st, b->up + b->up_start, b->up_end - b->up_start);
    if (w == -EAGAIN) {
        b->sock_blocked = true;
        return false;
    }
    if (w < 0)
        return sock_failed(b, w);
    b->up_start += (size_t)w;
    return true;
}

static bool down_buffer_ready(struct ws_bridge *b)
{
    if (b->down)
        return true;
    b->down_cap = b->type == SOCK_DGRAM ? WS_DGRAM_READ : WS_DOWN_CAP;
    b->down = malloc(b->down_cap);
    return b->down != NULL;
}

/* True when the socket is still to be read: open, not at its end, and the client able to
 * receive what it sends. */
bool wsb_down_wanted(struct ws_bridge *b)
{
    if (!b->st || b->peer_eof || b->peer_err)
        return false;
    enum ws_read_state rs = ws_framer_read_state(b->fr);
    return rs == WS_READING || (rs == WS_READ_CLOSE && b->opts.halfclose);
}

bool wsb_down_has_room(struct ws_bridge *b)
{
    if (b->type == SOCK_DGRAM)
        return !b->dgram_down;
    if (b->pipe_rd >= 0 && b->down_start == b->down_end)
        return b->pipe_bytes < b->pipe_cap;
    return b->down_end < b->down_cap || !b->down;
}

/* Socket bytes into the pipe or the buffer. Returns true on progress. */
bool wsb_pump_down_read(struct ws_bridge *b)
{
    if (!wsb_down_wanted(b) || !wsb_down_has_room(b))
        return false;
    ssize_t r = -EOPNOTSUPP;
    /* The pipe first; the buffer once the pipe is empty (bytes keep their order). */
    if (b->pipe_rd >= 0 && b->down_start == b->down_end)
        r = eng_stream_read_to_pipe(b->st, b->pipe_wr, b->pipe_cap - b->pipe_bytes);
    if (r > 0)
        b->pipe_bytes += (size_t)r;
    if (r == -EOPNOTSUPP) {
        if (b->pipe_bytes > 0 || b->frame_src == 2 || !down_buffer_ready(b))
            return false;
        if (b->frame_src == 0 && b->down_start == b->down_end)
            b->down_start = b->down_end = 0;
        r = eng_stream_read(b->st, b->down + b->down_end, b->down_cap - b->down_end);
        if (r >= 0 && b->type == SOCK_DGRAM) {
            b->dgram_down = true; /* an empty datagram is a message too */
            b->down_end += (size_t)r;
            b->last_data_ms = eng_now_ms();
            return true;
        }
        if (r > 0)
            b->down_end += (size_t)r;
    }
    if (r == 0)
        b->peer_eof = true;
    if (r == -EAGAIN)
        return false;
    if (r < 0)
        return sock_failed(b, r);
    b->last_data_ms = eng_now_ms();
    return true;
}

/* Frames and control frames to the client. Returns true on progress. */
bool wsb_pump_down_write(struct ws_bridge *b)
{
    bool progress = false;
    for (int i = 0; i < 4; i++) {
        int rc = ws_framer_flush(b->fr);
        if (rc < 0) {
            b->client_failed = true;
            return progress;
        }
        b->client_blocked = rc == 0;
        if (b->frame_src && ws_framer_frame_left(b->fr) == 0) {
            if (b->frame_src == 1) {
                b->down_start = b->frame_end;
                b->dgram_down = false;
            } else {
                b->pipe_bytes -= b->frame_end;
            }
            b->frame_src = 0;
            progress = true;
        }
        if (b->client_blocked || !ws_framer_can_begin(b->fr))
            return progress;
        /* After the client's Close only a half-closing bridge sends data on. */
        if (ws_framer_read_state(b->fr) == WS_READ_CLOSE && !b->opts.halfclose)
            return progress;
        if (b->down_end > b->down_start || b->dgram_down) {
            ws_framer_begin(b->fr, b->down + b->down_start, -1, b->down_end - b->down_start);
            b->frame_src = 1;
            b->frame_end = b->down_end;
        } else if (b->pipe_bytes > 0) {
            ws_framer_begin(b->fr, NULL, b->pipe_rd, b->pipe_bytes);
            b->frame_src = 2;
            b->frame_end = b->pipe_bytes;
        } else {
            return progress;
        }
    }
    return true;
}

bool wsb_down_empty(const struct ws_bridge *b)
{
    return b->down_start == b->down_end && !b->dgram_down && b->pipe_bytes == 0 &&
           b->frame_src == 0;
}

/* No whole message (or stream byte) waits for the socket. */
bool wsb_up_empty(const struct ws_bridge *b)
{
    return b->type == SOCK_DGRAM ? b->dgram_count == 0 : b->up_start == b->up_end;
}
