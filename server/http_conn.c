/*
 * Per-connection state for libmicrohttpd's connections (see http_conn.h).
 */
#include "http_conn.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "connlimit.h"

struct http_conn {
    struct connlimit_entry *counted; /* its client address's count, or NULL: uncounted */
    struct eng_watch eof;            /* the client's end of stream (http_conn.h) */
    struct http_conn *next_dead;     /* closed, freed before the loop sleeps */
    struct http_conns *owner;        /* whose loop the watch is in */
    bool ended;                      /* the client's end came, or the socket was handed over:
                                      * never watched again */
};

struct http_conns {
    struct eng_loop *loop;
    struct connlimit *limit;
    struct http_conn *dead;          /* closed during this turn */
    struct eng_hook reap;            /* frees them where no callback holds one */
};

/* The loop may still hold this turn's event for a connection closed in it (loop.h): its
 * memory goes before the loop sleeps, not at once. */
static void reap_dead(struct eng_hook *h)
{
    struct http_conns *hc = (struct http_conns *)((char *)h - offsetof(struct http_conns, reap));
    while (hc->dead) {
        struct http_conn *c = hc->dead;
        hc->dead = c->next_dead;
        free(c);
    }
}

struct http_conns *http_conns_new(struct eng_loop *loop, unsigned max_total, unsigned max_per_ip)
{
    struct http_conns *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return NULL;
    hc->limit = connlimit_new(max_total, max_per_ip);
    if (!hc->limit) {
        free(hc);
        return NULL;
    }
    hc->loop = loop;
    eng_hook_init(&hc->reap, reap_dead);
    eng_loop_add_before_sleep(loop, &hc->reap);
    return hc;
}

void http_conns_free(struct http_conns *hc)
{
    if (!hc)
        return;
    eng_loop_remove_before_sleep(hc->loop, &hc->reap);
    reap_dead(&hc->reap);
    connlimit_free(hc->limit);
    free(hc);
}

/* The client's side has closed (or the socket failed): shut the reading side too, so that
 * libmicrohttpd's epoll entry wakes and its next read sees the end. Once is enough. */
static void client_closed(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct http_conn *c = (struct http_conn *)((char *)w - offsetof(struct http_conn, eof));
    shutdown(w->fd, SHUT_RD);
    c->ended = true;
    eng_watch_set(c->owner->loop, w, 0);
}

void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct http_conns *hc = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *c = calloc(1, sizeof(*c));
        if (!c)
            return; /* served without a count or a watch */
        c->owner = hc;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->counted = connlimit_open(hc->limit, ci ? ci->client_addr : NULL);
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        eng_watch_init(&c->eof, ci ? ci->connect_fd : -1, client_closed);
        /* Edge-triggered: one call when the client's side closes. Without a watch (no fd,
         * or epoll refused it) the connection is served as before. */
        if (ci)
            eng_watch_set(hc->loop, &c->eof, EPOLLRDHUP | EPOLLET);
        *socket_context = c;
        return;
    }
    struct http_conn *c = *socket_context;
    if (!c)
        return;
    *socket_context = NULL;
    eng_watch_set(hc->loop, &c->eof, 0);
    connlimit_close(hc->limit, c->counted);
    c->next_dead = hc->dead;
    hc->dead = c;
}

static struct http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

bool http_conn_over_limit(const struct http_conns *hc, struct MHD_Connection *conn,
                          const char **why)
{
    const struct http_conn *c = conn_of(conn);
    return connlimit_exceeded(hc->limit, c ? c->counted : NULL, why);
}

void http_conn_step_aside(struct http_conns *hc, struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c)
        eng_watch_set(hc->loop, &c->eof, 0);
}

void http_conn_watch_again(struct http_conns *hc, struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    /* Nothing when it is watched already (eng_watch_set sees the same events). */
    if (c && !c->ended && c->eof.fd >= 0)
        eng_watch_set(hc->loop, &c->eof, EPOLLRDHUP | EPOLLET);
}

void http_conn_hand_over(struct http_conns *hc, struct MHD_Connection *conn)
{
    struct http_conn *c = conn_of(conn);
    if (c) {
        c->ended = true;
        eng_watch_set(hc->loop, &c->eof, 0);
    }
}
