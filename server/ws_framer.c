/*
 * The bridge's WebSocket framing on libwslay (see ws_framer.h). Two wslay contexts share
 * the client connection: the event context parses the client's frames and makes control
 * frames (pongs, Close), which it "sends" into a small buffer of complete frames; the
 * frame context makes the headers of our data frames, whose payload goes to the wire
 * straight from where it lies. The wire carries one frame at a time: control frames are
 * written only between data frames, and a data frame begins only when no control bytes
 * are half written.
 */
#include "ws_framer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define WS_CTRL_CAP 1024u            /* complete control frames waiting for the wire */
#define WS_CTRL_MAX_PAYLOAD 125u     /* RFC 6455 §5.5 */
#define WS_MAX_QUEUED 16u            /* control frames wslay may hold before we stop reading */
#define WS_REASON_MAX 123u           /* a Close reason's bytes after the code */

struct ws_framer {
    wslay_event_context_ptr ev;      /* client frames in, control frames out */
    wslay_frame_context_ptr out;     /* our data frames */
    struct ws_framer_io io;          /* the connection and the sink */
    void *ctx;                       /* io's argument */
    uint64_t max_message;            /* bound of a data message, 0: none */
    /* Input. */
    uint8_t in[WS_FRAMER_IN_CAP];    /* client bytes read and not yet parsed */
    size_t in_start, in_end;         /* unparsed bytes are [in_start, in_end) */
    size_t consumed;                 /* client bytes read during this ws_framer_read */
    enum ws_read_state read_state;   /* how reading ended */
    bool eof;                        /* the connection ended (or failed) under wslay */
    bool frame_error;                /* wslay's frame layer refused a header */
    int frame_opcode;                /* opcode of the frame being received */
    bool dropping;                   /* a message over max_message: its bytes are dropped */
    uint64_t message_len;            /* bytes of the data message being received */
    unsigned peer_code;              /* the client's Close code */
    /* Output. */
    uint8_t ctrl[WS_CTRL_CAP];       /* control frames made by wslay, complete */
    size_t ctrl_start, ctrl_end;     /* unwritten bytes are [ctrl_start, ctrl_end) */
    struct wslay_frame_iocb iocb;    /* the data frame on its way */
    bool frame_active;               /* a data frame is (partly) unwritten */
    bool from_pipe;                  /* its payload comes from pipe_rd */
    int pipe_rd;                     /* the pipe, when from_pipe */
    bool hdr_seen;                   /* wslay has handed over the frame's header */
    uint8_t hdr[16];                 /* that header, while it waits for its payload */
    size_t hdr_len, hdr_off;         /* its size and how much of it is written */
    int wire_err;                    /* a write to the client failed: -errno */
    bool close_queued;               /* we queued a Close */
    unsigned sent_code;              /* its code */
    bool answer;                     /* the client's Close may be answered */
};

static const uint8_t pipe_payload_marker; /* iocb.data of a spliced frame; never read */

/* ---- input ------------------------------------------------------------------------- */

/* Flow control: a sink that is full, or pongs the client does not read, stop us
 * reading it, and so the client. */
static bool may_read(const struct ws_framer *f)
{
    return f->io.room(f->ctx) >= WS_FRAMER_CHUNK &&
           wslay_event_get_queued_msg_count(f->ev) <= WS_MAX_QUEUED;
}

static ssize_t ev_recv(wslay_event_context_ptr ev, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct ws_framer *f = user;
    if (!may_read(f)) {
        wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (f->in_start == f->in_end) {
        ssize_t r = f->io.read(f->ctx, f->in, sizeof(f->in));
        if (r == -EAGAIN) {
            wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        if (r <= 0) {
            f->eof = true;
            wslay_event_set_error(ev, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        f->in_start = 0;
        f->in_end = (size_t)r;
        f->consumed += (size_t)r;
    }
    size_t n = f->in_end - f->in_start;
    if (n > len)
        n = len;
    memcpy(buf, f->in + f->in_start, n);
    f->in_start += n;
    return (ssize_t)n;
}

static bool is_data_opcode(int opcode)
{
    return opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME ||
           opcode == WSLAY_CONTINUATION_FRAME;
}

/* Refuses a data message that grows past max_message: Close 1009, read no further. */
static void message_too_big(struct ws_framer *f)
{
    static const char reason[] = "message too big for one datagram";
    f->dropping = true;
    wslay_event_queue_close(f->ev, WSLAY_CODE_MESSAGE_TOO_BIG, (const uint8_t *)reason,
                            sizeof(reason) - 1);
    wslay_event_shutdown_read(f->ev);
}

static void ev_frame_start(wslay_event_context_ptr ev,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ev;
    struct ws_framer *f = user;
    f->frame_opcode = arg->opcode;
    if (!is_data_opcode(arg->opcode))
        return;
    if (arg->opcode != WSLAY_CONTINUATION_FRAME)
        f->message_len = 0;
    if (f->max_message && !f->dropping &&
        arg->payload_length > f->max_message - f->message_len)
        message_too_big(f);
}

static void ev_frame_chunk(wslay_event_context_ptr ev,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    (void)ev;
    struct ws_framer *f = user;
    if (!is_data_opcode(f->frame_opcode) || f->dropping || arg->data_length == 0)
        return;
    f->message_len += arg->data_length;
    f->io.payload(f->ctx, arg->data, arg->data_length);
}

static void ev_message(wslay_event_context_ptr ev, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
    (void)ev;
    struct ws_framer *f = user;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE)
        f->peer_code = arg->status_code ? arg->status_code : 1005;
    else if ((arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) &&
             !f->dropping)
        f->io.message_end(f->ctx);
}

ssize_t ws_framer_read(struct ws_framer *f)
{
    if (f->read_state != WS_READING)
        return 0;
    f->consumed = 0;
    int rc = wslay_event_recv(f->ev);
    if (rc == WSLAY_ERR_CALLBACK_FAILURE && !f->eof)
        f->frame_error = true;
    if (!wslay_event_get_read_enabled(f->ev)) {
        if (wslay_event_get_close_received(f->ev))
            f->read_state = WS_READ_CLOSE;
        else if (f->eof)
            f->read_state = WS_READ_EOF;
        else
            f->read_state = WS_READ_FAILED;
    }
    if (rc == WSLAY_ERR_NOMEM)
        return -ENOMEM;
    return (ssize_t)f->consumed;
}

bool ws_framer_input_ready(const struct ws_framer *f)
{
    return f->read_state == WS_READING && f->in_start < f->in_end && may_read(f);
}

enum ws_read_state ws_framer_read_state(const struct ws_framer *f)
{
    return f->read_state;
}

unsigned ws_framer_peer_code(const struct ws_framer *f)
{
    return f->peer_code ? f->peer_code : 1005;
}

void ws_framer_stop_read(struct ws_framer *f)
{
    wslay_event_shutdown_read(f->ev);
    if (f->read_state == WS_READING)
        f->read_state = WS_READ_STOPPED;
}

/* ---- output ------------------------------------------------------------------------ */

/* wslay's control frames land in f->ctrl, whole: a header is taken only when its largest
 * payload fits behind it, so no frame is ever half there. */
static ssize_t ev_send(wslay_event_context_ptr ev, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct ws_framer *f = user;
    size_t need = len + ((flags & WSLAY_MSG_MORE) ? WS_CTRL_MAX_PAYLOAD : 0);
    if (sizeof(f->ctrl) - f->ctrl_end < need) {
        wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    /* wslay answers a header its frame layer refuses (a fragmented or long control
     * frame, a length not in its shortest form) with an empty Close, which tells the
     * client nothing; it gets 1002 with the reason instead. */
    static const uint8_t empty_close[2] = {0x88, 0x00};
    static const char why[] = "\x88\x11\x03\xeamalformed frame";
    if (f->frame_error && len == 2 && memcmp(data, empty_close, 2) == 0) {
        memcpy(f->ctrl + f->ctrl_end, why, sizeof(why) - 1);
        f->ctrl_end += sizeof(why) - 1;
        f->sent_code = WSLAY_CODE_PROTOCOL_ERROR;
        return (ssize_t)len;
    }
    memcpy(f->ctrl + f->ctrl_end, data, len);
    f->ctrl_end += len;
    return (ssize_t)len;
}

/* Notes how a write went: -EAGAIN waits for writability, anything else is final. */
static ssize_t wire_result(struct ws_framer *f, ssize_t r)
{
    if (r < 0 && r != -EAGAIN)
        f->wire_err = (int)r;
    return r;
}

/* Writes what is left of the stashed header of a spliced frame; true when none is left.
 * The header waits in the kernel for the payload that follows, so that both leave in one
 * packet: a header alone would cost a packet and a wake-up of the client per frame. */
static bool header_flushed(struct ws_framer *f)
{
    while (f->hdr_off < f->hdr_len) {
        struct iovec iov = {f->hdr + f->hdr_off, f->hdr_len - f->hdr_off};
        ssize_t w = wire_result(f, f->io.writev(f->ctx, &iov, 1, true));
        if (w <= 0)
            return false;
        f->hdr_off += (size_t)w;
    }
    return true;
}

/* The frame context's writes. wslay hands over a header (with WSLAY_MSG_MORE when payload
 * follows) and then the payload; the header waits here so header and payload go out in
 * one system call. Returning -1 tells wslay nothing of this call's bytes was written. */
static ssize_t out_send(const uint8_t *data, size_t len, int flags, void *user)
{
    struct ws_framer *f = user;
    if (!f->hdr_seen) {
        f->hdr_seen = true;
        if ((flags & WSLAY_MSG_MORE) && len <= sizeof(f->hdr)) {
            memcpy(f->hdr, data, len);
            f->hdr_len = len;
            f->hdr_off = 0;
            return (ssize_t)len;
        }
    }
    size_t hdr_left = f->hdr_len - f->hdr_off;
    if (f->from_pipe) {
        if (!header_flushed(f))
            return -1;
        ssize_t r = wire_result(f, f->io.splice(f->ctx, f->pipe_rd, len));
        return r > 0 ? r : -1;
    }
    struct iovec iov[2] = {{f->hdr + f->hdr_off, hdr_left}, {(void *)data, len}};
    ssize_t w = wire_result(
        f, f->io.writev(f->ctx, hdr_left ? iov : iov + 1, hdr_left ? 2 : 1, false));
    if (w <= 0)
        return -1;
    if ((size_t)w <= hdr_left) {
        f->hdr_off += (size_t)w;
        return -1;
    }
    f->hdr_off = f->hdr_len;
    return w - (ssize_t)hdr_left;
}

bool ws_framer_can_begin(const struct ws_framer *f)
{
    if (f->frame_active || f->close_queued || f->ctrl_start != f->ctrl_end || f->wire_err)
        return false;
    /* wslay queues a Close of its own on a protocol error, an end without Close, and in
     * answer to the client's Close: only a held answer lets data go on (half-close). */
    switch (f->read_state) {
    case WS_READING:
    case WS_READ_STOPPED:
        return true;
    case WS_READ_CLOSE:
        return !f->answer;
    default:
        return false;
    }
}

void ws_framer_begin(struct ws_framer *f, const uint8_t *buf, int pipe_rd, size_t len)
{
    memset(&f->iocb, 0, sizeof(f->iocb));
    f->iocb.fin = 1;
    f->iocb.opcode = WSLAY_BINARY_FRAME;
    f->iocb.payload_length = len;
    f->iocb.data = buf ? buf : &pipe_payload_marker;
    f->iocb.data_length = len;
    f->from_pipe = buf == NULL;
    f->pipe_rd = pipe_rd;
    f->hdr_seen = false;
    f->hdr_len = f->hdr_off = 0;
    f->frame_active = true;
}

size_t ws_framer_frame_left(const struct ws_framer *f)
{
    return f->frame_active ? f->iocb.data_length : 0;
}

/* Moves the data frame on; true when it is done. */
static bool frame_step(struct ws_framer *f)
{
    ssize_t r = wslay_frame_send(f->out, &f->iocb);
    if (r < 0)
        return false;
    if (!f->from_pipe)
        f->iocb.data += r;
    f->iocb.data_length -= (size_t)r;
    if (f->iocb.data_length == 0)
        f->frame_active = false;
    return !f->frame_active;
}

int ws_framer_flush(struct ws_framer *f)
{
    for (;;) {
        if (f->wire_err)
            return f->wire_err;
        if (f->frame_active) {
            size_t before = f->iocb.data_length;
            if (frame_step(f))
                continue;
            if (f->wire_err)
                return f->wire_err;
            if (f->iocb.data_length < before)
                continue; /* a partial write: try again until the kernel says full */
            return 0;
        }
        if (f->ctrl_start < f->ctrl_end) {
            struct iovec iov = {f->ctrl + f->ctrl_start, f->ctrl_end - f->ctrl_start};
            ssize_t w = wire_result(f, f->io.writev(f->ctx, &iov, 1, false));
            if (w <= 0)
                return w == -EAGAIN ? 0 : f->wire_err;
            f->ctrl_start += (size_t)w;
            continue;
        }
        bool held = f->read_state == WS_READ_CLOSE && !f->answer;
        if (!held && wslay_event_want_write(f->ev)) {
            f->ctrl_start = f->ctrl_end = 0; /* all written: ev_send fills from the start */
            size_t before = f->ctrl_end;
            if (wslay_event_send(f->ev) == WSLAY_ERR_NOMEM)
                return -ENOMEM;
            if (f->ctrl_end > before)
                continue;
        }
        return 1;
    }
}

int ws_framer_ping(struct ws_framer *f, const void *data, size_t len)
{
    struct wslay_event_msg msg = {WSLAY_PING, data, len > WS_CTRL_MAX_PAYLOAD ? WS_CTRL_MAX_PAYLOAD : len};
    return wslay_event_queue_msg(f->ev, &msg) == 0 ? 0 : -EPIPE;
}

int ws_framer_close(struct ws_framer *f, unsigned code, const char *reason)
{
    size_t len = reason ? strlen(reason) : 0;
    if (len > WS_REASON_MAX) {
        len = WS_REASON_MAX;
        /* Cut before a UTF-8 continuation byte, so the reason stays valid UTF-8. */
        while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
            len--;
    }
    if (f->close_queued ||
        wslay_event_queue_close(f->ev, (uint16_t)code, (const uint8_t *)reason, len) != 0)
        return -EALREADY;
    f->close_queued = true;
    f->sent_code = code;
    return 0;
}

void ws_framer_answer_close(struct ws_framer *f)
{
    f->answer = true;
}

bool ws_framer_close_sent(const struct ws_framer *f)
{
    return wslay_event_get_close_sent(f->ev) && f->ctrl_start == f->ctrl_end;
}

unsigned ws_framer_sent_code(const struct ws_framer *f)
{
    if (f->frame_error && f->sent_code)
        return f->sent_code;
    if (wslay_event_get_close_sent(f->ev))
        return wslay_event_get_status_code_sent(f->ev);
    return f->sent_code;
}

/* ---- life ------------------------------------------------------------------------ */

struct ws_framer *ws_framer_new(const struct ws_framer_io *io, void *ctx, uint64_t max_message,
                                const void *extra_in, size_t extra_len)
{
    struct ws_framer *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->io = *io;
    f->ctx = ctx;
    f->max_message = max_message;
    f->pipe_rd = -1;
    if (extra_len > sizeof(f->in))
        goto fail; /* libmicrohttpd reads less than this ahead */
    memcpy(f->in, extra_in, extra_len);
    f->in_end = extra_len;
    struct wslay_event_callbacks evcb = {
        .recv_callback = ev_recv,
        .send_callback = ev_send,
        .on_frame_recv_start_callback = ev_frame_start,
        .on_frame_recv_chunk_callback = ev_frame_chunk,
        .on_msg_recv_callback = ev_message,
    };
    struct wslay_frame_callbacks outcb = {.send_callback = out_send};
    if (wslay_event_context_server_init(&f->ev, &evcb, f) != 0) {
        f->ev = NULL;
        goto fail;
    }
    if (wslay_frame_context_init(&f->out, &outcb, f) != 0) {
        f->out = NULL;
        goto fail;
    }
    /* Payload goes on as it arrives; a message is never held whole. */
    wslay_event_config_set_no_buffering(f->ev, 1);
    return f;
fail:
    ws_framer_free(f);
    return NULL;
}

void ws_framer_free(struct ws_framer *f)
{
    if (!f)
        return;
    if (f->ev)
        wslay_event_context_free(f->ev);
    if (f->out)
        wslay_frame_context_free(f->out);
    free(f);
}
