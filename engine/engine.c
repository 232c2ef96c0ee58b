/*
 * The engine object: the socket table (ids, owners, creation order), socket creation and
 * closing, and eng_exec, which sends each command to its implementation. Closed sockets
 * are freed by a before-sleep hook of the loop, never inside a callback that may still
 * hold them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine_int.h"

static void collect_dead(struct eng *e);
static void collect_before_sleep(struct eng_hook *h);

static const char *const cmd_names[ENG_CMD_COUNT] = {
    [ENG_CMD_BIND] = "bind",           [ENG_CMD_LISTEN] = "listen",
    [ENG_CMD_ACCEPT] = "accept",       [ENG_CMD_ACCEPTFAST] = "acceptfast",
    [ENG_CMD_CONNECT] = "connect",     [ENG_CMD_SEND] = "send",
    [ENG_CMD_SENDTO] = "sendto",       [ENG_CMD_RECV] = "recv",
    [ENG_CMD_RECVFROM] = "recvfrom",   [ENG_CMD_GETPEERNAME] = "getpeername",
    [ENG_CMD_GETSOCKNAME] = "getsockname", [ENG_CMD_IOCTL] = "ioctl",
    [ENG_CMD_CLOSE] = "close",          [ENG_CMD_STARTTLS] = "starttls",
    [ENG_CMD_SOCKET] = "socket",       [ENG_CMD_GETADDRINFO] = "getaddrinfo",
    [ENG_CMD_GETNAMEINFO] = "getnameinfo",
};

const char *eng_cmd_name(enum eng_cmd cmd)
{
    return (unsigned)cmd < ENG_CMD_COUNT ? cmd_names[cmd] : "unknown";
}

int eng_cmd_from_name(const char *name, enum eng_cmd *out)
{
    /* Every request looks its command up here: a test of the first and fourth letters
     * (every name has four or more) leaves one name to strcasecmp, two for accept, send
     * and recv. The names are lower-case letters. */
    if (!name[0] || !name[1] || !name[2])
        return -EINVAL;
    int first = name[0] | 0x20, fourth = name[3] | 0x20;
    for (int i = 0; i < ENG_CMD_COUNT; i++) {
        if (cmd_names[i][0] == first && cmd_names[i][3] == fourth &&
            strcasecmp(name, cmd_names[i]) == 0) {
            *out = (enum eng_cmd)i;
            return 0;
        }
    }
    return -EINVAL;
}

int64_t engi_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void kick_run(struct eng_timer *t)
{
    struct eng *e = (struct eng *)((char *)t - offsetof(struct eng, kick_timer));
    struct eng_socket *list = e->kick_head;
    e->kick_head = NULL;
    while (list) {
        struct eng_socket *s = list;
        list = s->kick_next;
        s->kicked = false;
        if (s->state != ENGI_CLOSED)
            engi_socket_run(s);
    }
}

/* Runs a socket's queues on the next loop turn: for work that readiness will not signal
 * (given-back bytes, a background operation queued behind nothing). */
void engi_kick(struct eng_socket *s)
{
    struct eng *e = s->e;
    if (s->kicked)
        return;
    s->kicked = true;
    s->kick_next = e->kick_head;
    e->kick_head = s;
    if (!eng_timer_armed(&e->kick_timer))
        eng_timer_start(e->loop, &e->kick_timer, 0);
}

struct eng *eng_new(struct eng_loop *loop, const struct eng_config *cfg)
{
    struct eng *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->loop = loop;
    e->cfg = *cfg;
    if (cfg->node && cfg->node[0])
        snprintf(e->node, sizeof(e->node), "%s", cfg->node);
    e->cfg.node = e->node;
    e->next_num = cfg->first_id ? cfg->first_id : 1;
    eng_timer_init(&e->kick_timer, kick_run);
    eng_hook_init(&e->collect_hook, collect_before_sleep);
    /* Room for a timer per wait and the engine's own: a wait never lacks its timeout. */
    if (eng_loop_reserve_timers(loop, cfg->max_waits + ENGI_OWN_TIMERS) < 0) {
        free(e);
        return NULL;
    }
    e->buckets = calloc(ENGI_HASH_BUCKETS, sizeof(*e->buckets));
    e->resolver = engi_resolver_new(e);
    if (!e->buckets || !e->resolver) {
        engi_resolver_free(e->resolver);
        free(e->buckets);
        eng_loop_release_timers(loop, cfg->max_waits + ENGI_OWN_TIMERS);
        free(e);
        return NULL;
    }
    engi_tls_engine_init(e);
    eng_loop_add_before_sleep(loop, &e->collect_hook);
    return e;
}

void eng_close_all(struct eng *e, int code)
{
    while (e->all_head)
        engi_socket_close(e->all_head, code);
}

void eng_free(struct eng *e)
{
    if (!e)
        return;
    eng_close_all(e, ENG_ECLOSED);
    collect_dead(e);
    eng_loop_remove_before_sleep(e->loop, &e->collect_hook);
    eng_timer_stop(e->loop, &e->kick_timer);
    engi_tls_engine_free(e);
    engi_resolver_free(e->resolver);
    free(e->buckets);
    eng_loop_release_timers(e->loop, e->cfg.max_waits + ENGI_OWN_TIMERS);
    free(e);
}

static size_t bucket_of(uint64_t num)
{
    return (size_t)((num * 0x9E3779B97F4A7C15ull) >> 48) & (ENGI_HASH_BUCKETS - 1);
}

/* Parses "s12" or "node.s12" into 12; 0 when the id is not one of ours. */
static uint64_t id_to_num(const struct eng *e, const char *id)
{
    if (e->node[0]) {
        size_t nl = strlen(e->node);
        if (strncmp(id, e->node, nl) != 0 || id[nl] != '.')
            return 0;
        id += nl + 1;
    }
    if (id[0] != 's' || id[1] < '1' || id[1] > '9')
        return 0;
    /* Every command parses its socket's id, so a digit costs one test: 19 digits always
     * fit in 64 bits, and a longer number (whose value wrapped) is no socket's: ids count
     * up from the clock in microseconds, far below 10^19. */
    uint64_t num = 0;
    const unsigned char *p = (const unsigned char *)id + 1;
    for (unsigned d; (d = *p - (unsigned)'0') <= 9; p++)
        num = num * 10 + d;
    return *p || p - (const unsigned char *)id > 20 ? 0 : num;
}

struct eng_socket *engi_socket_find(struct eng *e, int owner, const char *id)
{
    struct eng_socket *s = engi_socket_by_num(e, id_to_num(e, id));
    return s && (owner < 0 || s->owner == owner) ? s : NULL;
}

struct eng_socket *engi_socket_by_num(struct eng *e, uint64_t num)
{
    if (num == 0)
        return NULL;
    for (struct eng_socket *s = e->buckets[bucket_of(num)]; s; s = s->hash_next)
        if (s->num == num)
            return s;
    return NULL;
}

struct eng_socket *engi_socket_add(struct eng *e, int owner, int fd, int type, int family)
{
    struct eng_socket *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->e = e;
    s->num = e->next_num++;
    if (e->node[0])
        snprintf(s->id, sizeof(s->id), "%s.s%llu", e->node, (unsigned long long)s->num);
    else
        snprintf(s->id, sizeof(s->id), "s%llu", (unsigned long long)s->num);
    s->owner = owner;
    s->fd = fd;
    s->type = type;
    s->family = family;
    s->state = ENGI_NEW;
    s->created_ms = engi_wall_ms();
    s->created_mono_ms = s->used_mono_ms = eng_now_ms();
    eng_watch_init(&s->watch, fd, engi_socket_ready);
    size_t b = bucket_of(s->num);
    s->hash_next = e->buckets[b];
    e->buckets[b] = s;
    s->all_prev = e->all_tail;
    if (e->all_tail)
        e->all_tail->all_next = s;
    else
        e->all_head = s;
    e->all_tail = s;
    e->nsockets++;
    if (owner >= 0 && owner < ENG_MAX_OWNERS)
        e->owner_sockets[owner]++;
    return s;
}

static void socket_unlink(struct eng_socket *s)
{
    struct eng *e = s->e;
    struct eng_socket **pp = &e->buckets[bucket_of(s->num)];
    while (*pp && *pp != s)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = s->hash_next;
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        e->all_head = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    else
        e->all_tail = s->all_prev;
    s->all_prev = s->all_next = NULL;
    e->nsockets--;
    if (s->owner >= 0 && s->owner < ENG_MAX_OWNERS)
        e->owner_sockets[s->owner]--;
}

static void queue_fail_all(struct engi_queue *q, int code, const char *why)
{
    while (q->head) {
        struct eng_op *op = q->head;
        struct eng_list *l = (op->cmd == ENG_CMD_SEND || op->cmd == ENG_CMD_SENDTO)
                                 ? engi_send_answer(op, code, why)
                                 : engi_list_err(op->cmd, code, "%s", why);
        op->repeat = false;
        engi_op_finish(op, l);
    }
}

void engi_socket_fail_queued(struct eng_socket *s, int code, const char *why)
{
    queue_fail_all(&s->readq, code, why);
    queue_fail_all(&s->writeq, code, why);
}

void engi_socket_close(struct eng_socket *s, int code)
{
    if (s->state == ENGI_CLOSED)
        return;
    if (s->stream)
        engi_stream_socket_closed(s, code);
    const char *why = code == ENG_ESHUTDOWN ? "the server is shutting down"
                                            : "the socket was closed while the operation waited";
    /* Waiters learn the socket is gone as CLOSED, whatever closed it. */
    engi_socket_fail_queued(s, ENG_ECLOSED, why);
    if (s->kicked) {
        struct eng_socket **pp = &s->e->kick_head;
        while (*pp && *pp != s)
            pp = &(*pp)->kick_next;
        if (*pp)
            *pp = s->kick_next;
        s->kicked = false;
    }
    eng_watch_set(s->e->loop, &s->watch, 0);
    engi_tls_close(s);
    close(s->fd);
    s->fd = -1;
    s->state = ENGI_CLOSED;
    socket_unlink(s);
    s->dead_next = s->e->dead;
    s->e->dead = s;
}

/* Frees the sockets closed since the last turn, and the resolver's dead watches. */
static void collect_dead(struct eng *e)
{
    while (e->dead) {
        struct eng_socket *s = e->dead;
        e->dead = s->dead_next;
        while (s->pushback) {
            struct engi_chunk *c = s->pushback;
            s->pushback = c->next;
            free(c);
        }
        free(s->connected_name);
        free(s);
    }
    engi_resolver_collect(e->resolver);
}

static void collect_before_sleep(struct eng_hook *h)
{
    collect_dead((struct eng *)((char *)h - offsetof(struct eng, collect_hook)));
}

int engi_socket_room(const struct eng *e, char *why, size_t size)
{
    if (e->nsockets >= e->cfg.max_sockets) {
        snprintf(why, size, "%zu sockets are open, the most allowed", e->cfg.max_sockets);
        return ENG_ELIMIT;
    }
    if (e->cfg.max_fd_sockets && e->nsockets >= e->cfg.max_fd_sockets) {
        snprintf(why, size, "%zu sockets are open, all that the open-file limit leaves room "
                            "for", e->cfg.max_fd_sockets);
        return ENG_ELIMIT;
    }
    return 0;
}

bool engi_owner_quota_reached(const struct eng *e, int owner)
{
    /* 0 is no limit per credential. */
    size_t max = e->cfg.max_sockets_per_owner;
    return max > 0 && eng_socket_count(e, owner) >= max;
}

struct eng_list *eng_socket_create(struct eng *e, int owner, int type, int family)
{
    char why[128];
    if (engi_owner_quota_reached(e, owner))
        return engi_list_err(ENG_CMD_SOCKET, ENG_ELIMIT,
                             "this credential has %zu sockets open, the most allowed",
                             e->cfg.max_sockets_per_owner);
    if (engi_socket_room(e, why, sizeof(why)) < 0)
        return engi_list_err(ENG_CMD_SOCKET, ENG_ELIMIT, "%s", why);
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? -errno : 0; /* before malloc, which may change errno */
    /* The process or the system is out of descriptors after all: a limit, not the
     * socket's outcome. */
    if (err == -EMFILE || err == -ENFILE)
        return engi_list_err(ENG_CMD_SOCKET, ENG_ELIMIT, "too many open files");
    struct eng_list *l = engi_list_new(ENG_CMD_SOCKET);
    if (!l) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (fd < 0) {
        engi_list_set_err(l, err, NULL);
        return l;
    }
    struct eng_socket *s = engi_socket_add(e, owner, fd, type, family);
    if (!s) {
        close(fd);
        eng_list_free(l);
        return NULL;
    }
    engi_list_add_str(l, s->id);
    return l;
}

static const char *state_name(enum engi_state st)
{
    switch (st) {
    case ENGI_NEW: return "new";
    case ENGI_BOUND: return "bound";
    case ENGI_LISTENING: return "listening";
    case ENGI_CONNECTING: return "connecting";
    case ENGI_CONNECTED: return "connected";
    case ENGI_CLOSED: return "closed";
    }
    return "unknown";
}

static unsigned queue_len(const struct engi_queue *q)
{
    unsigned n = 0;
    for (const struct eng_op *op = q->head; op; op = op->next)
        n++;
    return n;
}

static void socket_fill_info(const struct eng_socket *s, struct eng_socket_info *info)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->id, sizeof(info->id), "%s", s->id);
    info->type = s->type == SOCK_DGRAM ? "DGRAM" : "STREAM";
    info->family = s->family == AF_INET6 ? "IPV6" : "IPV4";
    info->state = s->stream ? "streaming" : state_name(s->state);
    info->blocking = !s->nonblocking;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == 0)
        eng_addr_format((struct sockaddr *)&ss, info->local_address,
                         sizeof(info->local_address), info->local_port, sizeof(info->local_port));
    len = sizeof(ss);
    if (getpeername(s->fd, (struct sockaddr *)&ss, &len) == 0)
        eng_addr_format((struct sockaddr *)&ss, info->peer_address, sizeof(info->peer_address),
                         info->peer_port, sizeof(info->peer_port));
    info->bytes_in = s->bytes_in;
    info->bytes_out = s->bytes_out;
    info->pending = queue_len(&s->readq) + queue_len(&s->writeq);
    info->created_unix_ms = s->created_ms;
    /* Reckoned from the creation time, so that using a socket reads no wall clock. */
    info->last_used_unix_ms = s->created_ms + (int64_t)(s->used_mono_ms - s->created_mono_ms);
    info->tls = engi_tls_state_name(s);
}

int eng_socket_info(struct eng *e, int owner, const char *id, struct eng_socket_info *info)
{
    struct eng_socket *s = engi_socket_find(e, owner, id);
    if (!s)
        return ENG_ENOTSOCK;
    socket_fill_info(s, info);
    return 0;
}

void eng_socket_foreach(struct eng *e, int owner,
                        void (*fn)(void *ctx, const struct eng_socket_info *info), void *ctx)
{
    struct eng_socket_info info;
    for (struct eng_socket *s = e->all_head; s; s = s->all_next) {
        if (owner >= 0 && s->owner != owner)
            continue;
        socket_fill_info(s, &info);
        fn(ctx, &info);
    }
}

void engi_socket_used(struct eng_socket *s)
{
    s->used_mono_ms = eng_now_ms();
}

void eng_close_idle(struct eng *e, uint64_t before_ms,
                    void (*fn)(void *ctx, int owner, const char *id), void *ctx)
{
    struct eng_socket *s = e->all_head;
    while (s) {
        struct eng_socket *next = s->all_next;
        /* A socket someone waits on is in use, however long the wait; a streaming one
         * has the idle timeout of its pump. */
        if (s->used_mono_ms < before_ms && !s->readq.head && !s->writeq.head && !s->stream) {
            fn(ctx, s->owner, s->id);
            engi_socket_close(s, ENG_ECLOSED);
        }
        s = next;
    }
}

size_t eng_socket_count(const struct eng *e, int owner)
{
    return owner >= 0 && owner < ENG_MAX_OWNERS ? e->owner_sockets[owner] : e->nsockets;
}

void eng_get_stats(const struct eng *e, struct eng_stats *st)
{
    st->open_sockets = e->nsockets;
    st->waits = e->nwaits;
    st->bytes_in = e->bytes_in;
    st->bytes_out = e->bytes_out;
}

bool eng_cmd_waits(enum eng_cmd cmd)
{
    switch (cmd) {
    case ENG_CMD_ACCEPT:
    case ENG_CMD_ACCEPTFAST:
    case ENG_CMD_CONNECT:
    case ENG_CMD_SEND:
    case ENG_CMD_SENDTO:
    case ENG_CMD_RECV:
    case ENG_CMD_RECVFROM:
    case ENG_CMD_STARTTLS:
        return true;
    default:
        return false;
    }
}

static struct eng_list *exec_now(struct eng_socket *s, const struct eng_request *req)
{
    switch (req->cmd) {
    case ENG_CMD_BIND:
        return engi_cmd_bind(s, req);
    case ENG_CMD_LISTEN:
        return engi_cmd_listen(s, req);
    case ENG_CMD_GETPEERNAME:
    case ENG_CMD_GETSOCKNAME:
        return engi_cmd_name(s, req->cmd);
    case ENG_CMD_IOCTL:
        return engi_cmd_ioctl(s, req);
    case ENG_CMD_CLOSE: {
        struct eng_list *l = engi_list_new(ENG_CMD_CLOSE);
        engi_socket_close(s, ENG_ECLOSED);
        return l;
    }
    default:
        return engi_list_err(req->cmd, ENG_EINVAL, "not a command");
    }
}

/* A wait that cannot be set up (no timer for its timeout, or the loop refused the
 * socket's watch: rc) is answered now, LIMIT, rather than left waiting for what would
 * never come. Frees op. */
static struct eng_list *wait_refused(struct eng_op *op, bool no_timer, int rc)
{
    struct eng_socket *s = op->sock;
    enum eng_cmd cmd = op->cmd;
    engi_op_free(op);
    /* Back to what the operations before it wait for; if that fails too, their own run
     * answers them (engi_socket_update_watch). */
    engi_socket_update_watch(s);
    if (no_timer)
        return engi_list_err(cmd, ENG_ELIMIT, "no timer is free for this wait");
    return engi_list_err(cmd, ENG_ELIMIT, "the event loop cannot watch this socket: %s",
                         strerror(-rc));
}

int eng_exec(struct eng *e, int owner, const char *id, const struct eng_request *req,
             eng_done_fn done, void *ctx, struct eng_list **now, struct eng_op **opp)
{
    *now = NULL;
    *opp = NULL;
    struct eng_socket *s = engi_socket_find(e, owner, id);
    if (!s) {
        *now = engi_list_err(req->cmd, ENG_ENOTSOCK, "no socket %.64s", id);
        return *now ? 0 : -ENOMEM;
    }
    engi_socket_used(s);
    if (engi_stream_refuses(s, req->cmd)) {
        *now = engi_list_err(req->cmd, -EALREADY, "the socket is streaming over a WebSocket");
        return *now ? 0 : -ENOMEM;
    }
    if (!eng_cmd_waits(req->cmd)) {
        *now = exec_now(s, req);
        return *now ? 0 : -ENOMEM;
    }
    if (e->nwaits >= e->cfg.max_waits) {
        *now = engi_list_err(req->cmd, ENG_ELIMIT, "%zu operations are in progress, the most allowed",
                             e->cfg.max_waits);
        return *now ? 0 : -ENOMEM;
    }
    struct eng_op *op = engi_op_new(s, req, done, ctx);
    if (!op)
        return -ENOMEM;
    if (req->background) {
        /* The command answers at once; the outcome comes later as an event. */
        *now = engi_list_new(req->cmd);
        if (!*now) {
            engi_op_free(op);
            return -ENOMEM;
        }
        engi_op_enqueue(op);
        if (engi_op_start_timer(op, req->timeout > 0 ? req->timeout : -1) < 0) {
            eng_list_free(*now);
            *now = wait_refused(op, true, -ENOMEM);
            return *now ? 0 : -ENOMEM;
        }
        engi_kick(s);
        return 0;
    }
    if (engi_op_queue_for(op)->head == NULL) {
        /* Nothing waits ahead of it: try now, and answer now if it is done. */
        op->in_exec = true;
        int finished = engi_op_try(op);
        op->in_exec = false;
        if (finished) {
            *now = op->sync_result;
            engi_op_free(op);
            return *now ? 0 : -ENOMEM;
        }
    }
    /* connect and starttls answer once done, even on a non-blocking socket (SPEC 3). */
    if (s->nonblocking && req->cmd != ENG_CMD_CONNECT && req->cmd != ENG_CMD_STARTTLS) {
        if (op->accepted)
            /* An accept that took a connection and waits only on the peer's name answers
             * now, with the address: WOULDBLOCK would lose the connection. */
            *now = engi_accept_settle(op);
        else if (req->cmd == ENG_CMD_SEND || req->cmd == ENG_CMD_SENDTO)
            *now = engi_send_answer(op, 0, NULL);
        else
            *now = engi_list_err(req->cmd, -EAGAIN, "nothing to %s now on a non-blocking socket",
                                 req->cmd == ENG_CMD_ACCEPT || req->cmd == ENG_CMD_ACCEPTFAST
                                     ? "accept" : "receive");
        engi_op_free(op);
        return *now ? 0 : -ENOMEM;
    }
    engi_op_enqueue(op);
    double limit = e->cfg.max_wait;
    if (req->timeout >= 0 && req->timeout < limit)
        limit = req->timeout;
    if (engi_op_start_timer(op, limit) < 0) {
        *now = wait_refused(op, true, -ENOMEM);
        return *now ? 0 : -ENOMEM;
    }
    int rc = engi_socket_set_watch(s);
    if (rc < 0) {
        *now = wait_refused(op, false, rc);
        return *now ? 0 : -ENOMEM;
    }
    *opp = op;
    return ENG_PENDING;
}
