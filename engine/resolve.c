/*
 * Name resolution that never blocks the loop: c-ares, with its sockets as loop watches
 * and its next timeout as a loop timer, both kept here, so no one else ticks it. Numeric
 * addresses skip c-ares.
 * Every address a lookup returns is checked against the destination policy here, and the
 * caller connects to exactly these checked addresses: there is no second lookup, so no
 * DNS-rebinding window.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "engine_int.h"
#include "policy.h"

struct resolver_watch {
    struct eng_watch watch;          /* one c-ares socket */
    struct engi_resolver *r;         /* back pointer */
    struct resolver_watch *next;     /* list of c-ares sockets */
};

struct engi_resolver {
    struct eng *e;                   /* owning engine */
    ares_channel channel;            /* the c-ares state */
    struct resolver_watch *watches;  /* sockets c-ares has open */
    struct resolver_watch *dead;     /* removed watches, freed in engi_resolver_collect */
    struct eng_timer timer;          /* c-ares's next timeout while queries are pending */
};

struct engi_resolve {
    struct engi_resolver *r;         /* the resolver */
    struct eng_op *op;               /* the waiting operation; NULL once detached */
    engi_resolved_fn fn;             /* completion, when not finished at once */
    bool starting;                   /* inside the c-ares call that started it */
    bool finished;                   /* the answer came while starting */
    int code;                        /* that answer */
};

/* Arms the timer for c-ares's next deadline (a retry, a query's end), or stops it when
 * nothing is pending. Called after every call into c-ares. */
static void rearm_timer(struct engi_resolver *r)
{
    struct timeval tv;
    if (!ares_timeout(r->channel, NULL, &tv)) {
        eng_timer_stop(r->e->loop, &r->timer);
        return;
    }
    uint64_t ms = (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
    eng_timer_start(r->e->loop, &r->timer, eng_now_ms() + ms);
}

static void timer_due(struct eng_timer *t)
{
    struct engi_resolver *r = (struct engi_resolver *)((char *)t - offsetof(struct engi_resolver, timer));
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer(r);
}

static void watch_ready(struct eng_watch *w, uint32_t events)
{
    struct resolver_watch *rw = (struct resolver_watch *)w;
    struct engi_resolver *r = rw->r;
    ares_socket_t rfd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? w->fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (events & EPOLLOUT) ? w->fd : ARES_SOCKET_BAD;
    ares_process_fd(r->channel, rfd, wfd);
    rearm_timer(r);
}

/* c-ares says which sockets it wants watched; mirror that in the epoll set. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct engi_resolver *r = data;
    struct resolver_watch **pp = &r->watches;
    while (*pp && (*pp)->watch.fd != fd)
        pp = &(*pp)->next;
    uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
    if (!*pp) {
        if (!ev)
            return;
        struct resolver_watch *rw = calloc(1, sizeof(*rw));
        if (!rw)
            return; /* the query then times out inside c-ares */
        eng_watch_init(&rw->watch, fd, watch_ready);
        rw->r = r;
        rw->next = r->watches;
        r->watches = rw;
        pp = &r->watches;
    }
    struct resolver_watch *rw = *pp;
    eng_watch_set(r->e->loop, &rw->watch, ev);
    if (!ev) {
        /* c-ares closes sockets from inside ares_process_fd (when its last query ends it
         * closes every server's), so an event for this watch may still be waiting in the
         * loop's current batch: free it only before the loop next sleeps. */
        *pp = rw->next;
        rw->watch.events = 0;
        rw->next = r->dead;
        r->dead = rw;
    }
}

void engi_resolver_collect(struct engi_resolver *r)
{
    while (r->dead) {
        struct resolver_watch *rw = r->dead;
        r->dead = rw->next;
        free(rw);
    }
}

struct engi_resolver *engi_resolver_new(struct eng *e)
{
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return NULL;
    struct engi_resolver *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->e = e;
    eng_timer_init(&r->timer, timer_due);
    struct ares_options opts = {0};
    opts.sock_state_cb = sock_state;
    opts.sock_state_cb_data = r;
    if (ares_init_options(&r->channel, &opts, ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS) {
        free(r);
        return NULL;
    }
    return r;
}

void engi_resolver_free(struct engi_resolver *r)
{
    if (!r)
        return;
    ares_destroy(r->channel);
    eng_timer_stop(r->e->loop, &r->timer);
    while (r->watches) {
        struct resolver_watch *rw = r->watches;
        r->watches = rw->next;
        eng_watch_set(r->e->loop, &rw->watch, 0);
        free(rw);
    }
    engi_resolver_collect(r);
    free(r);
    ares_library_cleanup();
}

/* Adds one candidate address for op, converting IPv4 to v4-mapped for an IPv6 socket,
 * after the policy check. Returns 0, or ENG_EDENIED when policy refused it. */
static int add_candidate(struct eng_op *op, const struct sockaddr *sa)
{
    struct engi_dest *d = op->dest;
    if (d->naddrs >= ENGI_MAX_ADDRS)
        return 0;
    int family = op->sock->family;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (sa->sa_family == family) {
        memcpy(&ss, sa, family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    } else if (sa->sa_family == AF_INET && family == AF_INET6) {
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
        engi_addr_literal(host, AF_INET6, 0, &ss);
    } else {
        return 0;
    }
    engi_addr_set_port(&ss, d->port);
    int rc = eng_policy_check(op->e->cfg.policy, (const struct sockaddr *)&ss);
    if (rc < 0)
        return rc;
    d->addrs[d->naddrs++] = ss;
    return 0;
}

/* Fills op->dest->addrs from a lookup result: same-family addresses first. */
static int take_addresses(struct eng_op *op, const struct ares_addrinfo *res)
{
    op->dest->naddrs = 0;
    op->dest->addr_index = 0;
    int denied = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
            if ((pass == 0) != (n->ai_family == op->sock->family))
                continue;
            if (add_candidate(op, n->ai_addr) < 0)
                denied++;
        }
    }
    if (op->dest->naddrs > 0)
        return op->dest->naddrs;
    return denied ? ENG_EDENIED : ENG_EHOSTNOTFOUND;
}

static void addrinfo_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct engi_resolve *q = arg;
    int code = ENG_EHOSTNOTFOUND;
    if (q->op && status == ARES_SUCCESS)
        code = q->op->cmd == ENG_CMD_GETADDRINFO ? engi_lookup_take(q->op, res)
                                                 : take_addresses(q->op, res);
    if (res)
        ares_freeaddrinfo(res);
    if (q->starting) {
        q->finished = true;
        q->code = code;
        return;
    }
    struct eng_op *op = q->op;
    engi_resolved_fn fn = q->fn;
    free(q);
    if (op) {
        op->resolve = NULL;
        fn(op, code < 0 ? code : 0);
    }
}

/* An IPv6 socket tries ::1 first, then 127.0.0.1 (v4-mapped), so a server listening on
 * either answers; an IPv4 socket takes 127.0.0.1. */
static int take_localhost(struct eng_op *op)
{
    struct sockaddr_storage ss;
    struct engi_dest *d = op->dest;
    d->naddrs = 0;
    const char *order[2] = {"::1", "127.0.0.1"};
    for (int i = op->sock->family == AF_INET6 ? 0 : 1; i < 2; i++) {
        engi_addr_literal(order[i], op->sock->family, d->port, &ss);
        if (eng_policy_check(op->e->cfg.policy, (const struct sockaddr *)&ss) == 0)
            d->addrs[d->naddrs++] = ss;
    }
    return d->naddrs ? d->naddrs : ENG_EDENIED;
}

/* A query for op, before the c-ares call that starts it (which may answer at once). */
static struct engi_resolve *query_new(struct eng_op *op, engi_resolved_fn fn)
{
    struct engi_resolve *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->r = op->e->resolver;
    q->op = op;
    q->fn = fn;
    q->starting = true;
    return q;
}

/* After the c-ares call: 1 when it answered at once (q freed, *code what the callback
 * made of it), 0 when the callback comes later (op->resolve holds q meanwhile). */
static int query_started(struct engi_resolve *q, struct eng_op *op, int *code)
{
    q->starting = false;
    rearm_timer(q->r);
    if (q->finished) {
        *code = q->code;
        free(q);
        return 1;
    }
    op->resolve = q;
    return 0;
}

/* Asks c-ares for op->dest->host. Returns 1 when it answered at once (*code holds what
 * addrinfo_done made of it), 0 when fn will be called later, or -ENOMEM. */
static int start_addrinfo(struct eng_op *op, int socktype, engi_resolved_fn fn, int *code)
{
    struct engi_resolve *q = query_new(op, fn);
    if (!q)
        return -ENOMEM;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
    ares_getaddrinfo(q->r->channel, op->dest->host, NULL, &hints, addrinfo_done, q);
    return query_started(q, op, code);
}

int engi_resolve(struct eng_op *op, engi_resolved_fn fn)
{
    struct sockaddr_storage lit;
    struct engi_dest *d = op->dest;
    d->naddrs = 0;
    d->addr_index = 0;
    if (engi_addr_literal(d->host, AF_INET6, 0, &lit) == 0 ||
        engi_addr_literal(d->host, AF_INET, 0, &lit) == 0) {
        /* A literal needs no lookup; parse it for the socket's own family. */
        int rc = engi_addr_literal(d->host, op->sock->family, d->port, &lit);
        if (rc < 0)
            return rc;
        rc = eng_policy_check(op->e->cfg.policy, (const struct sockaddr *)&lit);
        if (rc < 0)
            return rc;
        d->addrs[0] = lit;
        d->naddrs = 1;
        return 1;
    }
    if (d->host[0] == '\0')
        return ENG_EHOSTNOTFOUND;
    if (eng_name_is_localhost(d->host))
        return take_localhost(op);
    int code;
    int rc = start_addrinfo(op, op->sock->type, fn, &code);
    return rc == 1 ? code : rc;
}

static void nameinfo_done(void *arg, int status, int timeouts, char *node, char *service)
{
    (void)timeouts;
    (void)service;
    struct engi_resolve *q = arg;
    struct eng_op *op = q->op;
    if (op && op->cmd == ENG_CMD_GETNAMEINFO)
        engi_lookup_named(op, status == ARES_SUCCESS ? node : NULL);
    else if (op && status == ARES_SUCCESS && node)
        snprintf(op->accepted->peer_name, sizeof(op->accepted->peer_name), "%s", node);
    if (q->starting) {
        q->finished = true;
        return;
    }
    engi_resolved_fn fn = q->fn;
    free(q);
    if (op) {
        op->resolve = NULL;
        fn(op, 0);
    }
}

int engi_resolve_name(struct eng_op *op, const struct sockaddr *sa, engi_resolved_fn fn)
{
    bool lookup = op->cmd == ENG_CMD_GETNAMEINFO;
    if (!lookup) {
        char port[8];
        char *name = op->accepted->peer_name;
        size_t size = sizeof(op->accepted->peer_name);
        /* The numeric form stays when the lookup finds nothing. */
        if (eng_addr_format(sa, name, size, port, sizeof(port)) < 0)
            name[0] = '\0';
        if (eng_addr_is_loopback(sa)) {
            /* This machine's own name needs no lookup, and sends no query. */
            snprintf(name, size, "localhost");
            return 1;
        }
    } else if (eng_addr_is_loopback(sa)) {
        engi_lookup_named(op, "localhost");
        return 1;
    }
    struct engi_resolve *q = query_new(op, fn);
    if (!q) {
        if (lookup)
            engi_lookup_named(op, NULL);
        return 1;
    }
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    ares_getnameinfo(q->r->channel, sa, len, ARES_NI_LOOKUPHOST, nameinfo_done, q);
    int code;
    return query_started(q, op, &code);
}

int engi_lookup_addrinfo(struct eng_op *op, engi_resolved_fn fn)
{
    /* One row per address: SOCK_STREAM keeps c-ares from listing each once per type. */
    int code;
    int rc = start_addrinfo(op, SOCK_STREAM, fn, &code);
    return rc == 1 ? (code < 0 ? code : 1) : rc;
}

void engi_resolve_detach(struct eng_op *op)
{
    if (op->resolve) {
        op->resolve->op = NULL;
        op->resolve = NULL;
    }
}
