/*
 * HTTPS in front of libmicrohttpd (see tls_listener.h). Each accepted client gets a
 * GnuTLS server session and, once its handshake is done, a socketpair: one end goes to
 * libmicrohttpd, the other is relayed to and from the session here. The relay is a pump
 * with fixed buffers (one per connection down, one shared up, as GnuTLS copies what it
 * is given), so a slow side slows the other instead of growing memory. Closing follows
 * the bytes: the client's end of stream becomes a FIN towards libmicrohttpd, and
 * libmicrohttpd's becomes close_notify and a FIN towards the client.
 *
 * The loop's turns are shared, not taken one a request: the requests every client sent
 * in one turn are handed down first, then one MHD_run serves them all (the relay turn, a
 * zero timer, which runs after the turn's events), and each answer is read and encrypted
 * at once, in the same turn. A command then costs seven system calls (a record read and
 * sent, and the socketpair's four) where it cost ten (see sockopt_nonip.c for two).
 */
#include "tls_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define TLSL_BUF 16384u              /* one TLS record of plaintext */
#define TLSL_IN (16384u + 2048u)     /* ciphertext read ahead: a whole record and its header */
#define TLSL_UP (4u * TLSL_BUF)      /* libmicrohttpd's bytes read at once: four records */

/* Credentials shared by the sessions made while they were current; a reload makes new
 * ones, and the old go when their last session does. */
struct tlsl_cred {
    gnutls_certificate_credentials_t cred;
    unsigned refs;                   /* the listener's, plus one per session */
};

enum tlsl_state { TLSL_HANDSHAKE, TLSL_OPEN, TLSL_DEAD };

struct tlsl_conn {
    struct tlsl *l;                  /* the listener */
    enum tlsl_state state;           /* see above */
    gnutls_session_t session;        /* the client's TLS session on net */
    struct tlsl_cred *cred;          /* its credentials (a reference) */
    struct eng_watch net, app;       /* the client's socket; our end of the socketpair */
    struct eng_timer deadline;       /* the handshake's */
    struct sockaddr_storage peer;    /* the client's address, for libmicrohttpd */
    socklen_t peerlen;
    uint8_t down[TLSL_BUF];          /* decrypted, on its way to libmicrohttpd */
    size_t down_len, down_off;
    bool flushing;                   /* corked records wait for gnutls_record_uncork */
    bool net_eof;                    /* the client ended its stream */
    bool app_eof;                    /* libmicrohttpd ended its stream (or closed) */
    bool app_shut;                   /* the client's end was passed on as a FIN */
    bool bye_sent;                   /* close_notify went out */
    bool read_wants_write;           /* GnuTLS's last read stopped until net is writable */
    bool net_in, app_in;             /* epoll said readable this turn: worth a read() */
    bool handed;                     /* on the listener's handed list */
    bool timer_reserved;             /* holds a slot of the loop's timers (handshake) */
    bool read_any;                   /* the client has sent something */
    bool plain_http;                 /* ... and its first byte began an HTTP method */
    uint8_t in[TLSL_IN];             /* ciphertext read from net, not yet taken by GnuTLS */
    size_t in_len, in_off;
    struct tlsl_conn *prev, *next;   /* the listener's connections */
    struct tlsl_conn *handed_next;   /* handed bytes down this turn: answers to read */
    struct tlsl_conn *dead_next;     /* freed before the loop sleeps */
};

struct tlsl {
    struct srv *srv;                 /* the server */
    struct eng_watch listen;         /* the listening socket */
    struct tlsl_cred *cred;          /* current credentials */
    struct tlsl_conn *conns;         /* open connections */
    size_t nconns;                   /* their number */
    size_t max_conns;                /* the most, handshakes included */
    struct tlsl_conn *dead;          /* closed, to free */
    struct eng_hook reap;            /* frees them where no callback is on the stack */
    struct tlsl_conn *handed;        /* handed requests down this turn (see the top) */
    struct eng_timer turn;           /* the relay turn: one MHD_run for all of them */
    bool turn_reserved;              /* the turn's timer slot is reserved */
    /* libmicrohttpd's bytes on their way into records: GnuTLS copies them as soon as they
     * are handed over (corked), so one buffer serves every connection. */
    uint8_t up[TLSL_UP];
};

static void cred_unref(struct tlsl_cred *c)
{
    if (c && --c->refs == 0) {
        gnutls_certificate_free_credentials(c->cred);
        free(c);
    }
}

static struct tlsl_cred *cred_load(const struct cfg *cfg, char *why, size_t whylen)
{
    struct tlsl_cred *c = calloc(1, sizeof(*c));
    if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
        free(c);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    int rc = gnutls_certificate_set_x509_key_file(c->cred, cfg->tls_cert, cfg->tls_key,
                                                  GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        snprintf(why, whylen, "%s", gnutls_strerror(rc));
        gnutls_certificate_free_credentials(c->cred);
        free(c);
        return NULL;
    }
    c->refs = 1;
    return c;
}

static void conn_close(struct tlsl_conn *c);
static void app_ready(struct eng_watch *w, uint32_t events);

/* A connection the loop cannot watch or time would hang until its client gives up: it
 * is closed instead, and the log says why. */
static void conn_fail(struct tlsl_conn *c, const char *what, int rc)
{
    log_line(c->l->srv->cfg, "HTTPS listener: cannot %s a client connection (%s): closed",
             what, strerror(-rc));
    conn_close(c);
}

/* GnuTLS reads a record's header and then its body: one recv() of everything there is,
 * served from a buffer, saves a system call per record. A read is only tried when epoll
 * said so (net_in): the kernel is not asked again just to hear EAGAIN. */
static ssize_t net_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct tlsl_conn *c = ptr;
    if (c->in_off == c->in_len) {
        ssize_t r = -1;
        errno = EAGAIN;
        if (c->net_in) {
            do
                r = recv(c->net.fd, c->in, sizeof(c->in), 0);
            while (r < 0 && errno == EINTR);
            c->net_in = r > 0 && (size_t)r == sizeof(c->in); /* more may be waiting */
        }
        if (r < 0) {
            gnutls_transport_set_errno(c->session, errno);
            return -1;
        }
        c->in_len = (size_t)r;
        c->in_off = 0;
        if (r > 0 && !c->read_any) {
            /* A TLS stream opens with a handshake record (22); HTTP with a method. */
            c->read_any = true;
            c->plain_http = c->in[0] >= 'A' && c->in[0] <= 'Z';
        }
        if (r == 0)
            return 0;
    }
    size_t n = c->in_len - c->in_off < len ? c->in_len - c->in_off : len;
    memcpy(buf, c->in + c->in_off, n);
    c->in_off += n;
    return (ssize_t)n;
}

static ssize_t net_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    struct tlsl_conn *c = ptr;
    ssize_t w;
    do
        w = send(c->net.fd, buf, len, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        gnutls_transport_set_errno(c->session, errno);
    return w;
}

/* The epoll interest that follows from where each direction stands. Closes the
 * connection when the loop refuses it: call it last. */
static void conn_watch(struct tlsl_conn *c)
{
    struct eng_loop *loop = c->l->srv->loop;
    uint32_t net = 0, app = 0;
    if (c->state == TLSL_HANDSHAKE) {
        net = gnutls_record_get_direction(c->session) ? EPOLLOUT : EPOLLIN;
    } else if (c->state == TLSL_OPEN) {
        if (!c->net_eof && c->down_len == 0 && c->in_off == c->in_len)
            net |= EPOLLIN;
        if (c->flushing || c->read_wants_write || (c->app_eof && !c->bye_sent))
            net |= EPOLLOUT;
        if (c->down_len > 0)
            app |= EPOLLOUT;
        if (!c->app_eof && !c->flushing)
            app |= EPOLLIN;
    }
    int rc = eng_watch_set(loop, &c->net, net);
    if (rc == 0 && c->app.fd >= 0)
        rc = eng_watch_set(loop, &c->app, app);
    if (rc < 0)
        conn_fail(c, "watch", rc);
}

static void conn_pump(struct tlsl_conn *c);

/* The relay turn (see the top): libmicrohttpd serves what every connection handed down
 * this turn, in one run, and each answer is read and sent on at once. A connection that
 * hands down more meanwhile goes on a new list, and the timer runs again. */
static void relay_turn(struct eng_timer *t)
{
    struct tlsl *l = (struct tlsl *)((char *)t - offsetof(struct tlsl, turn));
    struct tlsl_conn *c = l->handed;
    l->handed = NULL;
    srv_http_run_now(l->srv);
    while (c) {
        struct tlsl_conn *next = c->handed_next;
        c->handed = false;
        c->handed_next = NULL;
        if (c->state == TLSL_OPEN) {
            c->app_in = true; /* libmicrohttpd has most likely answered */
            conn_pump(c);
        }
        c = next;
    }
}

/* Bytes went down to libmicrohttpd: its answer is read in this turn's relay turn. */
static void hand_over(struct tlsl_conn *c)
{
    struct tlsl *l = c->l;
    if (c->handed)
        return;
    /* The timer's slot is reserved (tlsl_start): this cannot fail, but if it did, the
     * connection would still be served at once, as by a relay turn of its own. */
    if (eng_timer_start(l->srv->loop, &l->turn, 0) < 0) {
        srv_http_run_now(l->srv);
        c->app_in = true;
        return;
    }
    c->handed = true;
    c->handed_next = l->handed;
    l->handed = c;
}

/* Client to libmicrohttpd. Returns -1 when the connection is over. */
static int pump_down(struct tlsl_conn *c)
{
    bool handed = false;
    /* GnuTLS stopped reading to write (an alert, a key update): only another call of
     * gnutls_record_recv sends that, whatever there is to read. */
    bool must_call = c->read_wants_write;
    c->read_wants_write = false;
    bool full = false;               /* libmicrohttpd's end takes no more for now */
    while (!full) {
        while (c->down_off < c->down_len) {
            ssize_t w = send(c->app.fd, c->down + c->down_off, c->down_len - c->down_off,
                             MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                full = true;
                break;
            }
            if (w < 0)
                return -1; /* libmicrohttpd closed the connection */
            c->down_off += (size_t)w;
            handed = true;
        }
        if (full)
            break;
        c->down_len = c->down_off = 0;
        if (c->net_eof)
            break;
        /* Nothing read ahead, nothing new from epoll, nothing decrypted in GnuTLS: the
         * call could only end in GNUTLS_E_AGAIN (a partial record waits for more too). */
        if (!must_call && c->in_off == c->in_len && !c->net_in &&
            gnutls_record_check_pending(c->session) == 0)
            break;
        must_call = false;
        ssize_t r = gnutls_record_recv(c->session, c->down, sizeof(c->down));
        if (r > 0) {
            c->down_len = (size_t)r;
            continue;
        }
        if (r == GNUTLS_E_AGAIN) {
            c->read_wants_write = gnutls_record_get_direction(c->session) == 1;
            break;
        }
        if (r == GNUTLS_E_INTERRUPTED || (r < 0 && !gnutls_error_is_fatal((int)r)))
            continue;
        if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
            c->net_eof = true;
            break;
        }
        return -1; /* a broken record or a fatal alert */
    }
    if (handed)
        hand_over(c);
    if (c->net_eof && c->down_len == 0 && !c->app_shut) {
        /* The client has finished: libmicrohttpd sees it as any client's FIN (and a
         * suspended request's watch as its hang-up). */
        shutdown(c->app.fd, SHUT_WR);
        c->app_shut = true;
    }
    return 0;
}

/* libmicrohttpd to client. One read takes up to four records' worth, corked into
 * GnuTLS's buffer: the records still leave one send() each (GnuTLS flushes them one by
 * one), but a bulk answer costs one read per 64 KiB rather than one per record, and a
 * short answer one read in all. Returns -1 when the connection is over. */
static int pump_up(struct tlsl_conn *c)
{
    for (;;) {
        if (c->flushing) {
            /* After GNUTLS_E_AGAIN GnuTLS keeps the corked records and wants this again. */
            int rc = gnutls_record_uncork(c->session, 0);
            if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
                return 0;
            if (rc < 0)
                return -1;
            c->flushing = false;
        }
        if (c->app_eof)
            break;
        if (!c->app_in)
            return 0;
        uint8_t *up = c->l->up;
        ssize_t r;
        do
            r = recv(c->app.fd, up, TLSL_UP, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->app_in = false;
            return 0;
        }
        if (r <= 0) {
            c->app_eof = true; /* closed, or a FIN */
            break;
        }
        /* A short read emptied the socket: epoll says when there is more. */
        c->app_in = (size_t)r == TLSL_UP;
        /* Corked, the records only join GnuTLS's buffer: this cannot block. */
        gnutls_record_cork(c->session);
        c->flushing = true;
        if (gnutls_record_send(c->session, up, (size_t)r) < 0)
            return -1;
    }
    if (!c->bye_sent) {
        int rc = gnutls_bye(c->session, GNUTLS_SHUT_WR);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
            return 0;
        c->bye_sent = true;
        shutdown(c->net.fd, SHUT_WR);
    }
    /* libmicrohttpd is done with the connection: what the client still sends has no one
     * to read it. */
    return -1;
}

static void conn_pump(struct tlsl_conn *c)
{
    if (pump_down(c) < 0 || pump_up(c) < 0) {
        conn_close(c);
        return;
    }
    conn_watch(c);
}

/* The handshake's deadline has ended (done, or closed): its timer slot goes back. */
static void handshake_timer_release(struct tlsl_conn *c)
{
    struct eng_loop *loop = c->l->srv->loop;
    eng_timer_stop(loop, &c->deadline);
    if (c->timer_reserved)
        eng_loop_release_timers(loop, 1);
    c->timer_reserved = false;
}

/* The handshake is done: libmicrohttpd gets its end of a socketpair. */
static void conn_open(struct tlsl_conn *c)
{
    struct srv *s = c->l->srv;
    handshake_timer_release(c);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0) {
        conn_close(c);
        return;
    }
    eng_watch_init(&c->app, pair[0], app_ready);
    c->state = TLSL_OPEN;
    /* libmicrohttpd closes pair[1] itself, also when it refuses it (its limit). */
    if (MHD_add_connection(s->mhd, pair[1], (const struct sockaddr *)&c->peer, c->peerlen) !=
        MHD_YES) {
        conn_close(c);
        return;
    }
    srv_http_kick(s);
    conn_pump(c);
}

/* One short answer, sent as is (the socket's buffer is empty: nothing was sent yet). */
static void answer_plain_http(struct tlsl_conn *c)
{
    static const char body[] = "[\"request\",\"INVAL: this port speaks HTTPS; use https://.\"]";
    char msg[256];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    ssize_t w;
    do
        w = send(c->net.fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    /* A client gone already, or one that cannot take 200 bytes: it gets the close. */
    (void)w;
}

static void conn_handshake(struct tlsl_conn *c)
{
    for (;;) {
        int rc = gnutls_handshake(c->session);
        if (rc == GNUTLS_E_SUCCESS) {
            conn_open(c);
            return;
        }
        if (rc == GNUTLS_E_AGAIN) {
            conn_watch(c);
            return;
        }
        if (rc == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(rc))
            continue;
        /* A client that does not trust us has nothing to be told in HTTP; one that
         * speaks plain HTTP to the TLS port is told so, as nginx does (SPEC's lists). */
        if (c->plain_http)
            answer_plain_http(c);
        conn_close(c);
        return;
    }
}

static void net_ready(struct eng_watch *w, uint32_t events)
{
    struct tlsl_conn *c = (struct tlsl_conn *)((char *)w - offsetof(struct tlsl_conn, net));
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        c->net_in = true;
    if (c->state == TLSL_HANDSHAKE)
        conn_handshake(c);
    else if (c->state == TLSL_OPEN)
        conn_pump(c);
}

static void app_ready(struct eng_watch *w, uint32_t events)
{
    struct tlsl_conn *c = (struct tlsl_conn *)((char *)w - offsetof(struct tlsl_conn, app));
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        c->app_in = true;
    if (c->state == TLSL_OPEN)
        conn_pump(c);
}

static void handshake_late(struct eng_timer *t)
{
    conn_close((struct tlsl_conn *)((char *)t - offsetof(struct tlsl_conn, deadline)));
}

static void conn_close(struct tlsl_conn *c)
{
    if (c->state == TLSL_DEAD)
        return;
    struct tlsl *l = c->l;
    struct eng_loop *loop = l->srv->loop;
    c->state = TLSL_DEAD;
    handshake_timer_release(c);
    if (c->handed) {
        struct tlsl_conn **p = &l->handed;
        while (*p && *p != c)
            p = &(*p)->handed_next;
        if (*p)
            *p = c->handed_next;
        c->handed = false;
    }
    /* Taking a watch out of epoll does not fail on a descriptor that is still open. */
    eng_watch_set(loop, &c->net, 0);
    close(c->net.fd);
    if (c->app.fd >= 0) {
        eng_watch_set(loop, &c->app, 0);
        close(c->app.fd);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    /* The watches' memory must outlive this turn's dispatch: freed before the sleep. */
    c->dead_next = l->dead;
    l->dead = c;
}

static void conn_free(struct tlsl_conn *c)
{
    gnutls_deinit(c->session);
    cred_unref(c->cred);
    free(c);
}

static void reap(struct eng_hook *h)
{
    struct tlsl *l = (struct tlsl *)((char *)h - offsetof(struct tlsl, reap));
    while (l->dead) {
        struct tlsl_conn *c = l->dead;
        l->dead = c->dead_next;
        conn_free(c);
    }
}

static void conn_new(struct tlsl *l, int fd, const struct sockaddr_storage *peer,
                     socklen_t peerlen)
{
    struct tlsl_conn *c = calloc(1, sizeof(*c));
    if (!c || gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        free(c);
        close(fd);
        return;
    }
    /* As libmicrohttpd does for its own connections: the last, short record of an answer
     * must not wait for the ACK of the previous ones (Nagle against delayed ACKs costs
     * up to 40 ms an answer). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->l = l;
    c->cred = l->cred;
    c->cred->refs++;
    memcpy(&c->peer, peer, peerlen);
    c->peerlen = peerlen;
    gnutls_set_default_priority(c->session);
    gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->cred->cred);
    gnutls_certificate_server_set_request(c->session, GNUTLS_CERT_IGNORE);
    gnutls_handshake_set_timeout(c->session, 0);
    gnutls_transport_set_ptr(c->session, c);
    gnutls_transport_set_pull_function(c->session, net_pull);
    gnutls_transport_set_push_function(c->session, net_push);
    eng_watch_init(&c->net, fd, net_ready);
    eng_watch_init(&c->app, -1, app_ready);
    eng_timer_init(&c->deadline, handshake_late);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    /* Each handshake holds a slot of the loop's timers while it runs, so that a crowd of
     * slow clients cannot take the slots the rest of the server counts on. */
    double secs = l->srv->cfg->tls_handshake_timeout > 0 ? l->srv->cfg->tls_handshake_timeout : 10;
    int rc = eng_loop_reserve_timers(l->srv->loop, 1);
    if (rc == 0) {
        c->timer_reserved = true;
        rc = eng_timer_start(l->srv->loop, &c->deadline, eng_now_ms() + (uint64_t)(secs * 1000));
    }
    if (rc < 0) {
        conn_fail(c, "time the handshake of", rc);
        return;
    }
    c->net_in = true; /* a client often sends its hello with the connection */
    conn_handshake(c);
}

static void listen_ready(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct tlsl *l = (struct tlsl *)((char *)w - offsetof(struct tlsl, listen));
    /* A bounded batch per turn, so that a flood of connections cannot hold the loop. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(w->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (l->nconns >= l->max_conns || l->srv->stopping) {
            close(fd);
            continue;
        }
        conn_new(l, fd, &peer, len);
    }
}

static int listen_socket(const struct cfg *cfg)
{
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen_addr;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    if (bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int tlsl_start(struct srv *s)
{
    const struct cfg *cfg = s->cfg;
    char why[256];
    struct tlsl *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    l->srv = s;
    l->cred = cred_load(cfg, why, sizeof(why));
    if (!l->cred) {
        fprintf(stderr, "sockgate: cannot use --tls-cert %s with --tls-key %s: %s\n",
                cfg->tls_cert, cfg->tls_key, why);
        free(l);
        return -1;
    }
    int fd = listen_socket(cfg);
    if (fd < 0) {
        fprintf(stderr, "sockgate: cannot listen on %s: %s\n", cfg->listen, strerror(-fd));
        cred_unref(l->cred);
        free(l);
        return -1;
    }
    /* As libmicrohttpd's own cap (see http.c): room above --max-connections for the
     * connections that are told 429. */
    l->max_conns = cfg->max_connections ? (size_t)cfg->max_connections + 256 : SIZE_MAX;
    eng_watch_init(&l->listen, fd, listen_ready);
    eng_timer_init(&l->turn, relay_turn);
    int rc = eng_watch_set(s->loop, &l->listen, EPOLLIN);
    if (rc == 0) {
        rc = eng_loop_reserve_timers(s->loop, 1);
        l->turn_reserved = rc == 0;
    }
    if (rc < 0) {
        fprintf(stderr, "sockgate: cannot watch the HTTPS listener: %s\n", strerror(-rc));
        eng_watch_set(s->loop, &l->listen, 0);
        close(fd);
        cred_unref(l->cred);
        free(l);
        return -1;
    }
    eng_hook_init(&l->reap, reap);
    eng_loop_add_before_sleep(s->loop, &l->reap);
    s->tlsl = l;
    return 0;
}

unsigned tlsl_port(const struct srv *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (!s->tlsl || getsockname(s->tlsl->listen.fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

void tlsl_stop(struct srv *s)
{
    struct tlsl *l = s->tlsl;
    if (!l)
        return;
    eng_watch_set(s->loop, &l->listen, 0);
    close(l->listen.fd);
    eng_timer_stop(s->loop, &l->turn);
    if (l->turn_reserved)
        eng_loop_release_timers(s->loop, 1);
    while (l->conns)
        conn_close(l->conns);
    reap(&l->reap);
    eng_loop_remove_before_sleep(s->loop, &l->reap);
    cred_unref(l->cred);
    free(l);
    s->tlsl = NULL;
}

void tlsl_reload(struct srv *s)
{
    struct tlsl *l = s->tlsl;
    if (!l)
        return;
    char why[256];
    struct tlsl_cred *c = cred_load(s->cfg, why, sizeof(why));
    if (!c) {
        log_line(s->cfg, "SIGHUP: kept the old certificate: %s", why);
        return;
    }
    cred_unref(l->cred);
    l->cred = c;
    log_line(s->cfg, "SIGHUP: reloaded the certificate %s and key %s", s->cfg->tls_cert,
             s->cfg->tls_key);
}
