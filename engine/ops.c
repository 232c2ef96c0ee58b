/*
 * Waiting operations: each socket keeps a FIFO per direction, the head of which is tried
 * whenever epoll says the socket is ready, so that several waits on one socket are served
 * in the order they arrived. An operation ends exactly once, through engi_op_finish,
 * which hands its answer to eng_exec (while still inside it) or to the done callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "engine_int.h"

static void op_timed_out(struct eng_timer *t);

struct engi_queue *engi_op_queue_for(struct eng_op *op)
{
    switch (op->cmd) {
    case ENG_CMD_RECV:
    case ENG_CMD_RECVFROM:
    case ENG_CMD_ACCEPT:
    case ENG_CMD_ACCEPTFAST:
        return &op->sock->readq;
    default:
        return &op->sock->writeq;
    }
}

struct eng_op *engi_op_new(struct eng_socket *s, const struct eng_request *req,
                           eng_done_fn done, void *ctx)
{
    struct eng_op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->e = s->e;
    op->sock = s;
    op->cmd = req->cmd;
    op->done = done;
    op->ctx = ctx;
    op->background = req->background;
    op->repeat = req->background && req->repeat;
    op->n = req->n;
    eng_timer_init(&op->timer, op_timed_out);
    if (req->cmd == ENG_CMD_SEND || req->cmd == ENG_CMD_SENDTO) {
        /* The request is borrowed; a send that has to wait needs its own copy. */
        op->data = malloc(req->data_len ? req->data_len : 1);
        if (!op->data) {
            free(op);
            return NULL;
        }
        if (req->data_len)
            memcpy(op->data, req->data, req->data_len);
        op->data_len = req->data_len;
    }
    if (((req->cmd == ENG_CMD_CONNECT && req->tls.on) || req->cmd == ENG_CMD_STARTTLS) &&
        engi_tls_opts_new(&req->tls, req->cmd == ENG_CMD_CONNECT ? req->host : s->connected_name,
                          &op->tls) < 0) {
        free(op->data);
        free(op);
        return NULL;
    }
    if ((req->cmd == ENG_CMD_CONNECT || (req->cmd == ENG_CMD_SENDTO && req->has_port)) &&
        req->host) {
        size_t len = strlen(req->host);
        op->dest = calloc(1, sizeof(*op->dest) + len + 1);
        if (!op->dest) {
            engi_tls_opts_free(op->tls);
            free(op->data);
            free(op);
            return NULL;
        }
        memcpy(op->dest->host, req->host, len + 1);
        op->dest->port = req->port;
    }
    s->e->nwaits++;
    return op;
}

static void op_unlink(struct eng_op *op)
{
    struct engi_queue *q = op->queue;
    if (!q)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else
        q->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        q->tail = op->prev;
    op->prev = op->next = NULL;
    op->queue = NULL;
}

void engi_op_free(struct eng_op *op)
{
    if (!op)
        return;
    op_unlink(op);
    eng_timer_stop(op->e->loop, &op->timer);
    engi_resolve_detach(op);
    if (op->accepted) {
        /* A connection accepted for an answer that will never be made (cancelled, or its
         * listener closed while the peer's name was looked up): no one knows its id. */
        struct eng_socket *ns = engi_socket_by_num(op->e, op->accepted->num);
        if (ns)
            engi_socket_close(ns, ENG_ECLOSED);
        free(op->accepted);
    }
    op->e->nwaits--;
    engi_tls_opts_free(op->tls);
    free(op->data);
    free(op->dest);
    free(op);
}

void engi_op_enqueue(struct eng_op *op)
{
    struct engi_queue *q = engi_op_queue_for(op);
    op->queue = q;
    op->prev = q->tail;
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

int engi_op_start_timer(struct eng_op *op, double timeout)
{
    if (timeout < 0)
        return 0;
    uint64_t ms = (uint64_t)(timeout * 1000.0 + 0.5);
    op->timeout_ms = ms;
    uint64_t deadline = eng_now_ms() + ms;
    /* A handshake that began while eng_exec tried the operation has its own, earlier
     * deadline already. */
    if (op->handshake_deadline && eng_timer_armed(&op->timer) && op->timer.deadline_ms <= deadline)
        return 0;
    op->handshake_deadline = false;
    return eng_timer_start(op->e->loop, &op->timer, deadline);
}

/* A background error names its socket at the same place as a result does, with empty
 * strings where the data, peer or address would be, so one handler can tell which
 * socket's wait timed out or closed: ["recv","TIMEDOUT: ...","","s1"]. */
static void background_error_shape(const struct eng_op *op, struct eng_list *l)
{
    const char *id = op->sock->id;
    switch (op->cmd) {
    case ENG_CMD_RECV:
        engi_list_add(l, "", 0, true);
        engi_list_add_str(l, id);
        break;
    case ENG_CMD_RECVFROM:
        engi_list_add(l, "", 0, true);
        engi_list_add_str(l, id);
        engi_list_add_str(l, "");
        engi_list_add_str(l, "");
        break;
    case ENG_CMD_ACCEPT:
    case ENG_CMD_ACCEPTFAST:
        engi_list_add_str(l, "");
        engi_list_add_str(l, "");
        engi_list_add_str(l, id);
        break;
    default:
        break;
    }
}

void engi_op_finish(struct eng_op *op, struct eng_list *list)
{
    if (op->in_exec) {
        /* eng_exec answers this one itself and frees the operation. */
        op->sync_result = list;
        op_unlink(op);
        return;
    }
    struct eng_socket *s = op->sock;
    /* An answer is use: its client is about to act on it, so --idle-timeout counts from
     * here, not from the command that started a long wait. */
    engi_socket_used(s);
    if (op->repeat && list && list->err == 0 && s->state != ENGI_CLOSED) {
        /* A repeating background operation stays at its place for the next arrival;
         * its timeout counts again from this delivery. */
        if (op->timeout_ms)
            eng_timer_start(op->e->loop, &op->timer, eng_now_ms() + op->timeout_ms);
        op->done(op->ctx, list);
        return;
    }
    eng_done_fn done = op->done;
    void *ctx = op->ctx;
    if (list) {
        list->last = true;
        /* An error, out-of-memory included, still names its socket where a result does
         * (short text: it takes no memory). */
        list->failed = false;
        if (op->background && list->err)
            background_error_shape(op, list);
    }
    engi_op_free(op);
    done(ctx, list);
}

void eng_op_cancel(struct eng *e, struct eng_op *op)
{
    (void)e; /* the op knows its engine; the argument keeps the API's shape */
    struct eng_socket *s = op->sock;
    if (!s) {
        /* A look-up (lookup.c): its rows so far go with it. */
        eng_list_free(op->sync_result);
        op->sync_result = NULL;
        engi_op_free(op);
        return;
    }
    if (op->phase == ENGI_PH_CONNECTING)
        engi_connect_abort(op);
    else if (op->phase == ENGI_PH_HANDSHAKE)
        engi_handshake_cancel(op);
    engi_op_free(op);
    engi_socket_update_watch(s);
    /* The next operation in line may be able to run now. */
    engi_kick(s);
}

static void op_timed_out(struct eng_timer *t)
{
    struct eng_op *op = (struct eng_op *)((char *)t - offsetof(struct eng_op, timer));
    struct eng_socket *s = op->sock;
    struct eng_list *l;
    if (op->phase == ENGI_PH_RESOLVING && op->accepted) {
        /* The connection is accepted and only its peer's name is late: answer with the
         * address rather than drop a connection that arrived in time. */
        engi_op_finish(op, engi_accept_settle(op));
        engi_socket_update_watch(s);
        engi_kick(s);
        return;
    }
    op->repeat = false;
    if (op->cmd == ENG_CMD_SEND || op->cmd == ENG_CMD_SENDTO) {
        l = engi_send_answer(op, -ETIMEDOUT, NULL);
    } else if (op->phase == ENGI_PH_HANDSHAKE) {
        l = engi_handshake_timed_out(op);
    } else {
        if (op->phase == ENGI_PH_CONNECTING)
            engi_connect_abort(op);
        l = engi_list_err(op->cmd, -ETIMEDOUT, "the wait ran out");
    }
    engi_op_finish(op, l);
    engi_socket_update_watch(s);
    engi_kick(s);
}

int engi_op_try(struct eng_op *op)
{
    switch (op->cmd) {
    case ENG_CMD_RECV:
    case ENG_CMD_RECVFROM:
        return engi_try_recv(op);
    case ENG_CMD_SEND:
    case ENG_CMD_SENDTO:
        return engi_try_send(op);
    case ENG_CMD_ACCEPT:
    case ENG_CMD_ACCEPTFAST:
        return engi_try_accept(op);
    case ENG_CMD_CONNECT:
        return engi_try_connect(op);
    case ENG_CMD_STARTTLS:
        return engi_try_starttls(op);
    default:
        engi_op_finish(op, engi_list_err(op->cmd, ENG_EINVAL, "not a waiting command"));
        return 1;
    }
}

/* Runs the head of a queue while it finishes and the turn's budget lasts. A repeating
 * operation that delivered stays the head, so it is tried until it has to wait. Returns
 * true when the budget ran out with work perhaps left. */
static bool queue_run(struct engi_queue *q, unsigned *budget, uint64_t bytes_limit)
{
    while (q->head) {
        struct eng_op *head = q->head;
        struct eng_socket *s = head->sock;
        if (head->phase == ENGI_PH_RESOLVING)
            return false; /* waiting on a lookup, not on the socket */
        if (*budget == 0 || s->bytes_in + s->bytes_out >= bytes_limit)
            return true;
        if (!engi_op_try(head))
            return false;
        (*budget)--;
        if (q->head == head && head->sock->state == ENGI_CLOSED)
            return false;
    }
    return false;
}

void engi_socket_update_watch(struct eng_socket *s)
{
    int rc = engi_socket_set_watch(s);
    /* With nothing waiting, a refused change matters not: closing the fd drops it. */
    bool waiting = s->readq.head || s->writeq.head || s->stream;
    if (rc < 0 && waiting && !s->watch_failed) {
        /* Not answered here: this runs inside callers that hold operations. */
        s->watch_failed = rc;
        engi_kick(s);
    }
}

/* The loop refused the socket's watch: every operation waiting on it is answered LIMIT,
 * as none could ever be woken, and a stream ends with the socket. */
static void socket_watch_failed(struct eng_socket *s)
{
    char why[128];
    snprintf(why, sizeof(why), "the event loop cannot watch this socket: %s",
             strerror(-s->watch_failed));
    s->watch_failed = 0;
    if (s->stream) {
        engi_socket_close(s, ENG_ECLOSED);
        return;
    }
    engi_socket_fail_queued(s, ENG_ELIMIT, why);
    engi_socket_update_watch(s);
}

int engi_socket_set_watch(struct eng_socket *s)
{
    if (s->state == ENGI_CLOSED)
        return 0;
    if (s->stream)
        return eng_watch_set(s->e->loop, &s->watch, engi_stream_epoll_events(s));
    uint32_t ev = engi_tx_events(s); /* a handshake's direction, a TLS record to send */
    struct eng_op *r = s->readq.head, *w = s->writeq.head;
    bool reads = r && r->phase == ENGI_PH_READINESS && !engi_tls_handshaking(s);
    if (reads)
        ev |= EPOLLIN;
    if (w && (w->phase == ENGI_PH_READINESS || w->phase == ENGI_PH_CONNECTING))
        ev |= EPOLLOUT;
    int rc = eng_watch_set(s->e->loop, &s->watch, ev);
    /* Plaintext GnuTLS holds already never makes the fd readable: look on the next turn. */
    if (reads && engi_tx_held(s) > 0)
        engi_kick(s);
    return rc;
}

void engi_socket_run(struct eng_socket *s)
{
    if (s->watch_failed) {
        socket_watch_failed(s);
        return;
    }
    if (s->stream) {
        engi_stream_run(s, 0);
        return;
    }
    /* A socket's turn ends after a budget of finished operations or bytes moved, as
     * libuv's reads and redis's writes per event do: a fast peer feeding a repeating
     * recv would otherwise hold the loop for as long as it sends. What is left waits for
     * the next turn: the kernel's bytes are still readable (epoll is level-triggered and
     * says so again); given-back bytes signal nothing, so the socket is kicked for them. */
    unsigned budget = ENGI_TURN_OPS;
    /* A TLS record that waits to go out goes first: it is older than any send. */
    engi_tx_flush(s);
    uint64_t bytes_limit = s->bytes_in + s->bytes_out + ENGI_TURN_BYTES;
    bool more = queue_run(&s->writeq, &budget, bytes_limit);
    if (s->state != ENGI_CLOSED)
        more |= queue_run(&s->readq, &budget, bytes_limit);
    if (more && s->state != ENGI_CLOSED && s->pushback)
        engi_kick(s);
    engi_socket_update_watch(s);
}

void engi_socket_ready(struct eng_watch *w, uint32_t events)
{
    struct eng_socket *s = (struct eng_socket *)((char *)w - offsetof(struct eng_socket, watch));
    if (s->stream) {
        engi_stream_run(s, events);
        return;
    }
    engi_socket_run(s);
}
