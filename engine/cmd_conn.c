/*
 * The commands that set a socket up or ask about it: bind, listen, accept, acceptfast,
 * connect, getpeername, getsockname and ioctl. connect resolves without blocking and
 * tries each checked address in turn.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine_int.h"

struct eng_list *engi_cmd_bind(struct eng_socket *s, const struct eng_request *req)
{
    struct sockaddr_storage ss;
    const char *host = req->host ? req->host : "";
    bool any = host[0] == '\0' || strcmp(host, "*") == 0;
    if (strcasecmp(host, "localhost") == 0) {
        engi_addr_literal(s->family == AF_INET6 ? "::1" : "127.0.0.1", s->family, req->port, &ss);
    } else if (any) {
        engi_addr_literal(s->family == AF_INET6 ? "::" : "0.0.0.0", s->family, req->port, &ss);
    } else {
        int rc = engi_addr_literal(host, s->family, req->port, &ss);
        if (rc == -EAFNOSUPPORT)
            return engi_list_err(ENG_CMD_BIND, rc, "%s is not an address of this socket's family",
                                 host);
        if (rc < 0)
            return engi_list_err(ENG_CMD_BIND, ENG_EINVAL,
                                 "bind takes localhost or a local address, not %.64s: you cannot "
                                 "bind to another machine", host);
    }
    if (!s->e->cfg.allow_bind_any) {
        if (!eng_addr_is_loopback((struct sockaddr *)&ss))
            return engi_list_err(ENG_CMD_BIND, ENG_EDENIED,
                                 "binding to %s needs --allow-bind; loopback is allowed",
                                 any ? "every address" : host);
        if (req->port != 0 && req->port < 1024)
            return engi_list_err(ENG_CMD_BIND, ENG_EDENIED,
                                 "port %u is below 1024 and needs --allow-bind", req->port);
    }
    if (s->type == SOCK_STREAM) {
        /* A restarted listener should not wait out TIME_WAIT on its own port. */
        int one = 1;
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(s->fd, (struct sockaddr *)&ss, engi_addr_len(&ss)) < 0)
        return engi_list_err(ENG_CMD_BIND, -errno, NULL);
    s->bound = true;
    if (s->state == ENGI_NEW)
        s->state = ENGI_BOUND;
    return engi_list_new(ENG_CMD_BIND);
}

/* listen() on a socket that was never bound binds it to the wildcard address, which is
 * what bind refuses without --allow-bind: bind such a socket to loopback instead. */
static int listen_bind_loopback(struct eng_socket *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (s->e->cfg.allow_bind_any || s->type != SOCK_STREAM)
        return 0;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port != 0
                                : ((struct sockaddr_in6 *)&ss)->sin6_port != 0)
        return 0; /* bound already, by bind or by an earlier connect */
    engi_addr_literal(s->family == AF_INET6 ? "::1" : "127.0.0.1", s->family, 0, &ss);
    if (bind(s->fd, (struct sockaddr *)&ss, engi_addr_len(&ss)) < 0)
        return -errno;
    s->bound = true;
    return 0;
}

struct eng_list *engi_cmd_listen(struct eng_socket *s, const struct eng_request *req)
{
    int backlog = req->backlog >= 0 ? req->backlog : SOMAXCONN;
    int rc = listen_bind_loopback(s);
    if (rc < 0)
        return engi_list_err(ENG_CMD_LISTEN, rc, NULL);
    if (listen(s->fd, backlog) < 0)
        return engi_list_err(ENG_CMD_LISTEN, -errno, NULL);
    s->state = ENGI_LISTENING;
    return engi_list_new(ENG_CMD_LISTEN);
}

struct eng_list *engi_cmd_name(struct eng_socket *s, enum eng_cmd cmd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc = cmd == ENG_CMD_GETPEERNAME ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
                                        : getsockname(s->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return engi_list_err(cmd, -errno, NULL);
    struct eng_list *l = engi_list_new(cmd);
    if (l && engi_list_add_addr(l, (struct sockaddr *)&ss) == -EAFNOSUPPORT) {
        eng_list_free(l);
        return engi_list_err(cmd, -EAFNOSUPPORT, NULL);
    }
    return l;
}

struct eng_list *engi_cmd_ioctl(struct eng_socket *s, const struct eng_request *req)
{
    if (req->ioctl_op == ENG_IOCTL_FIONBIO) {
        s->nonblocking = req->ioctl_value;
        return engi_list_new(ENG_CMD_IOCTL);
    }
    /* Bytes a recv would return: given back, and for TLS decrypted (see transport.c). */
    long avail = engi_tx_readable(s);
    if (avail < 0)
        return engi_list_err(ENG_CMD_IOCTL, (int)avail, NULL);
    char num[32];
    snprintf(num, sizeof(num), "%ld", avail);
    struct eng_list *l = engi_list_new(ENG_CMD_IOCTL);
    if (l)
        engi_list_add_str(l, num);
    return l;
}

/* ---- accept ---- */

static struct eng_list *accept_answer(struct eng_op *op, const char *peer, const char *new_id)
{
    struct eng_list *l = engi_list_new(op->cmd);
    if (!l)
        return NULL;
    engi_list_add_str(l, peer);
    engi_list_add_str(l, new_id);
    if (op->background)
        engi_list_add_str(l, op->sock->id);
    return l;
}

struct eng_list *engi_accept_settle(struct eng_op *op)
{
    engi_resolve_detach(op);
    op->phase = ENGI_PH_READINESS;
    struct eng_socket *ns = engi_socket_by_num(op->e, op->accepted->num);
    struct eng_list *l = accept_answer(op, op->accepted->peer_name, ns ? ns->id : "");
    /* Handed over (or lost with the answer): no longer the operation's to close. */
    free(op->accepted);
    op->accepted = NULL;
    return l;
}

static void accept_named(struct eng_op *op, int code)
{
    (void)code;
    struct eng_socket *s = op->sock;
    engi_op_finish(op, engi_accept_settle(op));
    engi_kick(s);
}

int engi_try_accept(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    if (op->phase == ENGI_PH_RESOLVING)
        return 0;
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int fd = accept4(s->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
            return 0;
        engi_op_finish(op, err == EMFILE || err == ENFILE
                               ? engi_list_err(op->cmd, ENG_ELIMIT, "too many open files")
                               : engi_list_err(op->cmd, -err, NULL));
        return 1;
    }
    struct eng *e = s->e;
    char why[128];
    if (engi_socket_room(e, why, sizeof(why)) < 0) {
        close(fd);
        engi_op_finish(op, engi_list_err(op->cmd, ENG_ELIMIT, "%s; the connection was closed",
                                         why));
        return 1;
    }
    /* An accepted socket belongs to the listener's owner, so it counts against that
     * owner's quota: a listener must not be a way past it. */
    if (engi_owner_quota_reached(e, s->owner)) {
        close(fd);
        engi_op_finish(op, engi_list_err(op->cmd, ENG_ELIMIT,
                                         "this credential has %zu sockets open, the most "
                                         "allowed; the connection was closed",
                                         e->cfg.max_sockets_per_owner));
        return 1;
    }
    struct eng_socket *ns = engi_socket_add(e, s->owner, fd, s->type, s->family);
    if (!ns) {
        close(fd);
        engi_op_finish(op, engi_list_err(op->cmd, -ENOMEM, NULL));
        return 1;
    }
    ns->state = ENGI_CONNECTED;
    if (op->cmd == ENG_CMD_ACCEPTFAST) {
        engi_op_finish(op, accept_answer(op, "", ns->id));
        return 1;
    }
    op->accepted = malloc(sizeof(*op->accepted));
    if (!op->accepted) {
        engi_socket_close(ns, ENG_ECLOSED);
        engi_op_finish(op, engi_list_err(op->cmd, -ENOMEM, NULL));
        return 1;
    }
    op->accepted->num = ns->num;
    if (engi_resolve_name(op, (struct sockaddr *)&peer, accept_named)) {
        engi_op_finish(op, engi_accept_settle(op));
        return 1;
    }
    op->phase = ENGI_PH_RESOLVING;
    return 0;
}

/* ---- connect ---- */

static void connect_resolved(struct eng_op *op, int code)
{
    struct eng_socket *s = op->sock;
    op->phase = ENGI_PH_READINESS;
    if (code < 0) {
        engi_op_finish(op, engi_list_err(ENG_CMD_CONNECT, code,
                                         code == ENG_EDENIED ? "every address of that name is "
                                                               "refused by policy" : NULL));
    }
    engi_kick(s);
}

/* The state of a socket that is not (or no longer) connecting. */
static enum engi_state unconnected_state(const struct eng_socket *s)
{
    return s->bound ? ENGI_BOUND : ENGI_NEW;
}

/* Dissolves a STREAM connect attempt, in progress or failed, so that the socket can
 * connect again. Linux answers the next connect() after a failed non-blocking attempt
 * with ECONNABORTED unless the attempt is dissolved first; connect(AF_UNSPEC) does that
 * and keeps an explicit binding, so the next address is tried on the same socket. */
static void connect_reset(struct eng_socket *s)
{
    if (s->type != SOCK_STREAM)
        return;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    connect(s->fd, &unspec, sizeof(unspec));
}

/* Dissolves a connect in progress, so the socket can be used again. */
void engi_connect_abort(struct eng_op *op)
{
    connect_reset(op->sock);
    op->phase = ENGI_PH_READINESS;
    if (op->sock->state == ENGI_CONNECTING)
        op->sock->state = unconnected_state(op->sock);
}

/* The TCP connection is made: the connect answers, or its TLS handshake begins. The
 * name it was given is kept as starttls's default name to check. */
static int connect_made(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    op->phase = ENGI_PH_READINESS;
    free(s->connected_name);
    s->connected_name = op->dest ? strdup(op->dest->host) : NULL;
    if (op->tls) {
        s->state = ENGI_CONNECTING; /* until the handshake is done */
        return engi_tls_start(op);
    }
    s->state = ENGI_CONNECTED;
    engi_op_finish(op, engi_list_new(ENG_CMD_CONNECT));
    return 1;
}

/* Tries the addresses from op->addr_index on; finishes op unless one is in progress. */
static int connect_next(struct eng_op *op, int last_err)
{
    struct eng_socket *s = op->sock;
    struct engi_dest *d = op->dest;
    while (d && d->addr_index < d->naddrs) {
        struct sockaddr_storage *ss = &d->addrs[d->addr_index];
        if (connect(s->fd, (struct sockaddr *)ss, engi_addr_len(ss)) == 0)
            return connect_made(op);
        if (errno == EINPROGRESS || errno == EINTR) {
            s->state = ENGI_CONNECTING;
            op->phase = ENGI_PH_CONNECTING;
            return 0;
        }
        last_err = -errno;
        if (last_err == -EISCONN || last_err == -EALREADY)
            break;
        connect_reset(s);
        d->addr_index++;
    }
    if (s->state == ENGI_CONNECTING)
        s->state = unconnected_state(s);
    engi_op_finish(op, engi_list_err(ENG_CMD_CONNECT, last_err, NULL));
    return 1;
}

int engi_try_connect(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    if (op->phase == ENGI_PH_RESOLVING)
        return 0;
    if (op->phase == ENGI_PH_HANDSHAKE)
        return engi_try_handshake(op);
    if (op->phase == ENGI_PH_READINESS && s->type == SOCK_STREAM && s->state == ENGI_CONNECTED) {
        /* After a non-blocking connect completed, Linux answers the next connect() with 0
         * whatever its address: a second connect would say "ok" and go nowhere. */
        engi_op_finish(op, engi_list_err(ENG_CMD_CONNECT, -EISCONN, NULL));
        return 1;
    }
    if (op->phase == ENGI_PH_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == 0) {
            struct sockaddr_storage peer;
            len = sizeof(peer);
            if (getpeername(s->fd, (struct sockaddr *)&peer, &len) < 0)
                return 0; /* still in progress: we were run for another reason */
            return connect_made(op);
        }
        op->phase = ENGI_PH_READINESS;
        connect_reset(s);
        op->dest->addr_index++;
        return connect_next(op, -err);
    }
    if (op->tls) {
        /* Bad TLS arguments are told before any connection is made. */
        char why[200];
        int rc = s->type == SOCK_STREAM ? engi_tls_opts_prepare(s->e, op->tls, why, sizeof(why))
                                        : ENG_EINVAL;
        if (rc < 0) {
            engi_op_finish(op, engi_list_err(ENG_CMD_CONNECT, rc, "%s",
                                             s->type == SOCK_STREAM ? why
                                                                    : "TLS needs a STREAM socket"));
            return 1;
        }
    }
    if (!op->dest)
        return connect_next(op, ENG_EINVAL);
    if (op->dest->naddrs > 0)
        return connect_next(op, ENG_EHOSTNOTFOUND); /* resolved while it waited */
    int r = engi_resolve(op, connect_resolved);
    if (r == 0) {
        op->phase = ENGI_PH_RESOLVING;
        return 0;
    }
    if (r < 0) {
        engi_op_finish(op, engi_list_err(ENG_CMD_CONNECT, r,
                                         r == ENG_EDENIED ? "%.64s is refused by policy"
                                                          : "%.64s did not resolve",
                                         op->dest->host));
        return 1;
    }
    return connect_next(op, ENG_EHOSTNOTFOUND);
}
