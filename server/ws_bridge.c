/*
 * The WebSocket bridge (see ws_bridge.h): its life, and the step every event runs (the
 * client's connection, the socket's stream, a timer). bridge_step moves bytes as far as
 * the buffers allow (the pumps are in ws_pump.c), then decides from the state of both
 * ends whether the bridge is closing: every byte already received is delivered before
 * the Close, and a bridge that cannot close cleanly ends within a bound.
 */
#include "ws_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"
#include "ws_bridge_int.h"

static void bridge_step(struct ws_bridge *b);

/* ---- the socket's stream ------------------------------------------------------------- */

static void stream_ready(void *ctx, unsigned events)
{
    struct ws_bridge *b = ctx;
    if (events & ENG_STREAM_OUT)
        b->sock_blocked = false;
    if (b->phase == WS_OPEN)
        bridge_step(b);
}

static void bridge_fail(struct ws_bridge *b, const char *what, int rc);

/* Runs the bridge on the next loop turn rather than inside the caller's stack; without a
 * timer for that, the bridge ends (nothing else would run it again). */
static void bridge_kick(struct ws_bridge *b)
{
    int rc = eng_timer_start(b->srv->loop, &b->timer, 0);
    if (rc < 0)
        bridge_fail(b, "time this bridge", rc);
}

static void stream_closed(void *ctx, int code)
{
    struct ws_bridge *b = ctx;
    b->st = NULL;
    b->gone_code = code;
    if (b->phase == WS_OPEN)
        bridge_kick(b);
}

static const struct eng_stream_ops stream_ops = {
    .ready = stream_ready,
    .closed = stream_closed,
};

/* Closes the socket, once the bridge is done with it. */
static void end_socket(struct ws_bridge *b)
{
    if (b->st) {
        eng_stream_close(b->st);
        b->st = NULL;
    }
}

/* Queues our Close (once); the socket is read no more. */
static void send_close(struct ws_bridge *b, unsigned code, const char *reason)
{
    if (ws_framer_close(b->fr, code, reason) == 0 && !b->close_deadline)
        b->close_deadline = eng_now_ms() + WS_CLOSE_WAIT_MS;
}

/* The client's connection is done with: FIN to it, and its last bytes read away so that
 * the close cannot turn into a reset that loses what we sent. */
static void begin_drain(struct ws_bridge *b)
{
    end_socket(b);
    ws_framer_stop_read(b->fr);
    shutdown(b->fd, SHUT_WR);
    b->phase = WS_DRAINING;
    b->drain_deadline = eng_now_ms() + WS_DRAIN_MS;
}

static void bridge_done(struct ws_bridge *b)
{
    struct ws_hub *hub = b->srv->ws;
    end_socket(b);
    /* Taking a watch out cannot leave anything waiting: its result does not matter, and
     * the descriptor closes next anyway. */
    (void)eng_watch_set(b->srv->loop, &b->watch, 0);
    eng_timer_stop(b->srv->loop, &b->timer);
    b->phase = WS_DONE;
    /* libmicrohttpd closes the descriptor and completes the request on its next run. */
    MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
    srv_http_wake(b->srv);
    if (b->prev)
        b->prev->next = b->next;
    else
        hub->live = b->next;
    if (b->next)
        b->next->prev = b->prev;
    hub->count--;
    b->next = hub->dead;
    hub->dead = b;
}

/* The loop refused the bridge a watch or a timer (epoll_ctl failing, as at
 * max_user_watches; no timer free): no event could ever move it again, so it ends now
 * rather than hang. Our Close 1011 says why, as far as the connection takes it at once,
 * then FIN; the client's unread bytes are read away first so that the close sends no
 * reset over them. The log says which bridge and why. */
static void bridge_fail(struct ws_bridge *b, const char *what, int rc)
{
    char reason[120];
    snprintf(reason, sizeof(reason), "the event loop cannot %s: %s", what, strerror(-rc));
    log_line(b->srv->cfg, "WebSocket bridge on %s ended: %s", b->id, reason);
    if (b->phase == WS_OPEN) {
        ws_framer_close(b->fr, 1011, reason);
        wsb_pump_down_write(b);
        shutdown(b->fd, SHUT_WR);
    }
    uint8_t scratch[4096];
    for (int i = 0; i < 64 && recv(b->fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0; i++)
        ;
    bridge_done(b);
}

/* The reason of a Close for a socket that failed: "CONNRESET: connection reset by peer." */
static void close_for_error(struct ws_bridge *b)
{
    char reason[124];
    eng_err_format(reason, sizeof(reason), b->peer_err, NULL);
    send_close(b, 1011, reason);
}

/* Decides, from both ends, whether the bridge closes. Returns true when it changed
 * something the pumps should see. */
static bool bridge_advance(struct ws_bridge *b, uint64_t now)
{
    enum ws_read_state rs = ws_framer_read_state(b->fr);
    bool client_ended = rs == WS_READ_CLOSE || rs == WS_READ_FAILED || rs == WS_READ_EOF ||
                        b->client_failed;
    if (client_ended && !b->ending_since)
        b->ending_since = now;
    /* What the client sent reaches the peer before the bridge ends, within a bound. */
    bool flush_late = b->ending_since && now >= b->ending_since + WS_CLOSE_WAIT_MS;
    bool up_pending = b->st && !b->peer_err && !wsb_up_empty(b) && !flush_late;
    if (rs == WS_READ_EOF || b->client_failed) {
        if (up_pending)
            return false;
        begin_drain(b); /* no Close can reach a client that is gone */
        return true;
    }
    if (rs == WS_READ_CLOSE || rs == WS_READ_FAILED) {
        if (up_pending)
            return false;
        if (rs == WS_READ_CLOSE && b->opts.halfclose && !b->given_up) {
            /* Half-close: FIN to the peer, and its answer relayed until it closes. */
            if (b->st && !b->shut_wr && !b->peer_err) {
                b->shut_wr = true;
                eng_stream_shutdown_write(b->st);
                return true;
            }
            bool peer_open = b->st && !b->peer_eof && !b->peer_err;
            if (peer_open || !wsb_down_empty(b))
                return false;
        }
        if (!b->close_deadline) {
            ws_framer_answer_close(b->fr);
            end_socket(b);
            b->close_deadline = now + WS_CLOSE_WAIT_MS;
        }
        wsb_pump_down_write(b);
        if (ws_framer_close_sent(b->fr) || now >= b->close_deadline) {
            begin_drain(b);
            return true;
        }
        return false;
    }
    /* The client is open: does the socket's end close the bridge? */
    if (b->close_deadline && now >= b->close_deadline) {
        begin_drain(b); /* the client did not answer our Close */
        return true;
    }
    if (b->close_deadline || !wsb_down_empty(b))
        return false;
    if (b->peer_err)
        close_for_error(b);
    else if (b->peer_eof)
        send_close(b, 1000, "the peer closed the connection");
    else if (!b->st)
        send_close(b, 1001, b->gone_code == ENG_ESHUTDOWN ? "the server is shutting down"
                                                          : "the socket was closed");
    else
        return false;
    return true;
}

/* ---- timers and interest --------------------------------------------------------------- */

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* Pings a quiet client, and closes a bridge whose client answers nothing or that carries
 * no data for --ws-idle-timeout (a half-close waiting on a silent peer included). */
static void check_liveness(struct ws_bridge *b, uint64_t now)
{
    if (b->close_deadline || b->given_up)
        return;
    enum ws_read_state rs = ws_framer_read_state(b->fr);
    uint64_t ping_ms = (uint64_t)(b->opts.ping_s * 1000);
    uint64_t idle_ms = (uint64_t)(b->opts.idle_s * 1000);
    if (idle_ms && now - b->last_data_ms >= idle_ms) {
        char reason[64];
        snprintf(reason, sizeof(reason), "no data for %g s", b->opts.idle_s);
        if (rs == WS_READING)
            send_close(b, 1001, reason);
        else
            b->given_up = true; /* the held Close is answered by bridge_advance */
        return;
    }
    if (rs != WS_READING)
        return;
    if (!ping_ms)
        return;
    if (b->pinged_ms && now - b->pinged_ms >= ping_ms) {
        send_close(b, 1001, "the client answered no ping");
        return;
    }
    if (!b->pinged_ms && now - b->last_client_ms >= ping_ms) {
        b->pinged_ms = now;
        ws_framer_ping(b->fr, "sockgate", 8);
    }
}

/* Tells the loop and the stream what the bridge waits for, and arms its next deadline.
 * Returns false when the loop refused and the bridge ended (bridge_fail). */
static bool set_interest(struct ws_bridge *b, uint64_t now)
{
    uint32_t ev = 0;
    if (b->phase == WS_DRAINING)
        ev = EPOLLIN;
    else if (ws_framer_read_state(b->fr) == WS_READING && wsb_up_room(b) >= WS_FRAMER_CHUNK)
        ev |= EPOLLIN;
    if (b->phase == WS_OPEN && b->client_blocked)
        ev |= EPOLLOUT;
    int rc = eng_watch_set(b->srv->loop, &b->watch, ev);
    if (rc < 0) {
        bridge_fail(b, "watch the client's connection", rc);
        return false;
    }
    if (b->st) {
        unsigned want = 0;
        if (wsb_down_wanted(b) && wsb_down_has_room(b))
            want |= ENG_STREAM_IN;
        if (b->sock_blocked && !wsb_up_empty(b))
            want |= ENG_STREAM_OUT;
        eng_stream_want(b->st, want);
    }
    uint64_t next = b->phase == WS_DRAINING ? b->drain_deadline : b->close_deadline;
    /* The bound on delivering what the client sent before it ended. */
    if (b->ending_since && !b->close_deadline && !wsb_up_empty(b) &&
        now < b->ending_since + WS_CLOSE_WAIT_MS)
        next = min_deadline(next, b->ending_since + WS_CLOSE_WAIT_MS);
    if (b->phase == WS_OPEN && !b->close_deadline && !b->given_up) {
        if (b->opts.ping_s > 0 && ws_framer_read_state(b->fr) == WS_READING)
            next = min_deadline(next, (b->pinged_ms ? b->pinged_ms : b->last_client_ms) +
                                          (uint64_t)(b->opts.ping_s * 1000));
        if (b->opts.idle_s > 0)
            next = min_deadline(next, b->last_data_ms + (uint64_t)(b->opts.idle_s * 1000));
    }
    if (!next) {
        eng_timer_stop(b->srv->loop, &b->timer);
        return true;
    }
    rc = eng_timer_start(b->srv->loop, &b->timer, next > now ? next : now);
    if (rc < 0) {
        bridge_fail(b, "time this bridge", rc);
        return false;
    }
    return true;
}

/* Reads away what the client still sends after our FIN, until its own FIN. */
static void drain_step(struct ws_bridge *b, uint64_t now)
{
    uint8_t scratch[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t r = recv(b->fd, scratch, sizeof(scratch), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || now >= b->drain_deadline) {
            bridge_done(b);
            return;
        }
        if (r < 0)
            break;
    }
    (void)set_interest(b, now); /* on failure it ended the bridge: nothing is left to do */
}

static void bridge_step(struct ws_bridge *b)
{
    uint64_t now = eng_now_ms();
    if (b->phase == WS_DRAINING) {
        drain_step(b, now);
        return;
    }
    if (b->phase != WS_OPEN)
        return;
    for (int round = 0; round < WS_STEP_ROUNDS; round++) {
        bool progress = false;
        ssize_t got = ws_framer_read(b->fr);
        if (got > 0) {
            b->last_client_ms = now;
            b->pinged_ms = 0; /* anything from the client shows it is alive */
            progress = true;
        }
        progress |= wsb_pump_up_write(b);
        progress |= wsb_pump_down_read(b);
        progress |= wsb_pump_down_write(b);
        if (got < 0)
            b->client_failed = true;
        progress |= bridge_advance(b, now);
        if (b->phase != WS_OPEN) {
            bridge_step(b); /* draining: start at once */
            return;
        }
        if (!progress)
            break;
    }
    check_liveness(b, now);
    wsb_pump_down_write(b); /* a ping or Close just queued */
    if (!set_interest(b, now))
        return;
    /* Client bytes already read wait in the framer, where epoll cannot see them. */
    if (ws_framer_input_ready(b->fr))
        bridge_kick(b);
}

static void client_ready(struct eng_watch *w, uint32_t events)
{
    struct ws_bridge *b = (struct ws_bridge *)((char *)w - offsetof(struct ws_bridge, watch));
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        b->client_blocked = false;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        b->client_readable = true;
    bridge_step(b);
}

static void timer_fired(struct eng_timer *t)
{
    struct ws_bridge *b = (struct ws_bridge *)((char *)t - offsetof(struct ws_bridge, timer));
    bridge_step(b);
}

/* ---- life ---------------------------------------------------------------------------- */

/* Before the loop sleeps no callback holds a bridge: the dead ones can go. */
static void collect_dead(struct eng_hook *h)
{
    ws_hub_collect((struct ws_hub *)((char *)h - offsetof(struct ws_hub, collect_hook)));
}

struct ws_hub *ws_hub_new(struct eng_loop *loop)
{
    struct ws_hub *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return NULL;
    hub->loop = loop;
    eng_hook_init(&hub->collect_hook, collect_dead);
    eng_loop_add_before_sleep(loop, &hub->collect_hook);
    return hub;
}

static void bridge_free(struct ws_bridge *b)
{
    ws_framer_free(b->fr);
    if (b->pipe_rd >= 0) {
        close(b->pipe_rd);
        close(b->pipe_wr);
    }
    free(b->down);
    free(b->up);
    free(b->dgram_len);
    free(b);
}

void ws_hub_collect(struct ws_hub *hub)
{
    while (hub->dead) {
        struct ws_bridge *b = hub->dead;
        hub->dead = b->next;
        bridge_free(b);
    }
}

void ws_hub_free(struct ws_hub *hub)
{
    if (!hub)
        return;
    while (hub->live)
        bridge_done(hub->live);
    ws_hub_collect(hub);
    eng_loop_remove_before_sleep(hub->loop, &hub->collect_hook);
    free(hub);
}

unsigned ws_hub_count(const struct ws_hub *hub)
{
    return hub ? hub->count : 0;
}

struct ws_bridge *ws_bridge_new(struct srv *s, const struct ws_bridge_opts *opts)
{
    struct ws_bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->srv = s;
    b->opts = *opts;
    b->phase = WS_PENDING;
    b->fd = -1;
    b->pipe_rd = b->pipe_wr = -1;
    eng_timer_init(&b->timer, timer_fired);
    return b;
}

int ws_bridge_attach(struct ws_bridge *b, int owner, const char *id)
{
    int rc = eng_stream_attach(b->srv->eng, owner, id, &stream_ops, b, &b->st);
    if (rc < 0)
        return rc;
    b->type = eng_stream_type(b->st);
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->up_cap = b->type == SOCK_DGRAM ? WS_DGRAM_MAX + WS_FRAMER_CHUNK : WS_UP_CAP;
    b->up = malloc(b->up_cap);
    if (b->type == SOCK_DGRAM)
        b->dgram_len = malloc(WS_DGRAM_QUEUE * sizeof(*b->dgram_len));
    if (!b->up || (b->type == SOCK_DGRAM && !b->dgram_len)) {
        eng_stream_detach(b->st);
        b->st = NULL;
        return -ENOMEM;
    }
    return 0;
}

void ws_bridge_abandon(struct ws_bridge *b)
{
    if (!b)
        return;
    if (b->st) {
        if (b->opts.close_on_abandon)
            eng_stream_close(b->st);
        else
            eng_stream_detach(b->st);
    }
    eng_timer_stop(b->srv->loop, &b->timer);
    bridge_free(b);
}

/* The pipe of the splice path: as large as the kernel allows up to WS_PIPE_CAP. Without
 * one (descriptors short, a datagram socket) the buffer path carries everything. */
static void open_pipe(struct ws_bridge *b)
{
    int p[2];
    if (b->type != SOCK_STREAM || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return;
    fcntl(p[1], F_SETPIPE_SZ, (int)WS_PIPE_CAP);
    int size = fcntl(p[1], F_GETPIPE_SZ);
    b->pipe_rd = p[0];
    b->pipe_wr = p[1];
    b->pipe_cap = size > 0 ? (size_t)size : 65536;
}

void ws_bridge_upgraded(struct ws_bridge *b, int fd, const char *extra, size_t extra_len,
                        struct MHD_UpgradeResponseHandle *urh)
{
    struct ws_hub *hub = b->srv->ws;
    b->fd = fd;
    b->urh = urh;
    b->phase = WS_OPEN;
    b->client_readable = true; /* nothing is known yet: the first read looks */
    b->next = hub->live;
    if (hub->live)
        hub->live->prev = b;
    hub->live = b;
    hub->count++;
    eng_watch_init(&b->watch, fd, client_ready);
    b->last_client_ms = b->last_data_ms = eng_now_ms();
    /* Small frames (a keystroke, a pong) go at once; big ones are sent whole anyway. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    b->fr = ws_framer_new(&wsb_client_io, b, b->type == SOCK_DGRAM ? WS_DGRAM_MAX : 0, extra,
                          extra_len);
    if (!b->fr) {
        bridge_done(b);
        return;
    }
    open_pipe(b);
    bridge_step(b);
}

