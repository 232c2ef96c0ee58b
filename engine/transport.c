/*
 * The transport under every read and write of a socket's bytes: the kernel's for a plain
 * socket, GnuTLS's records for a TLS one. recv, send, FIONREAD, background operations and
 * streams all come through here, so all of them see plaintext. Two things epoll cannot
 * know are kept here too: records GnuTLS has already decrypted (engi_tx_held, which the
 * caller turns into a kick) and a record that waits to go out (engi_tx_events asks for
 * EPOLLOUT until it has).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "engine_int.h"
#include "tls_int.h"

/* FIONREAD on a TLS socket decrypts ahead at most this much into the given-back list. */
#define TX_READABLE_CAP 65536u

static ssize_t plain_recv(struct eng_socket *s, void *buf, size_t cap, struct sockaddr *from,
                          socklen_t *fromlen)
{
    for (;;) {
        ssize_t r = recvfrom(s->fd, buf, cap, 0, from, fromlen);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Reads records until cap is filled or nothing more is there. */
static ssize_t tls_recv(struct eng_socket *s, uint8_t *buf, size_t cap)
{
    struct engi_tls *t = s->tls;
    if (t->state == ENGI_TLS_HANDSHAKING)
        return -EAGAIN;
    if (t->state == ENGI_TLS_FAILED)
        return ENG_ETLS;
    if (t->eof)
        return 0;
    size_t got = 0;
    t->read_wants_write = false;
    while (got < cap) {
        ssize_t r = gnutls_record_recv(t->session, buf + got, cap - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
            /* close_notify, or a FIN without it (many servers end so): either way the
             * stream has ended; what came before is delivered first. */
            t->eof = true;
            break;
        }
        if (r == GNUTLS_E_AGAIN) {
            t->read_wants_write = gnutls_record_get_direction(t->session) == 1;
            break;
        }
        if (r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)r))
            continue; /* a warning alert, or a renegotiation request we decline */
        engi_tls_fail(t, (int)r);
        break;
    }
    if (got > 0)
        return (ssize_t)got;
    if (t->state == ENGI_TLS_FAILED)
        return ENG_ETLS;
    return t->eof ? 0 : -EAGAIN;
}

ssize_t engi_tx_recv(struct eng_socket *s, void *buf, size_t cap, struct sockaddr *from,
                     socklen_t *fromlen)
{
    if (!s->tls)
        return plain_recv(s, buf, cap, from, fromlen);
    if (fromlen)
        *fromlen = 0;
    return tls_recv(s, buf, cap);
}

static ssize_t plain_send(struct eng_socket *s, const void *buf, size_t len,
                          const struct sockaddr *dest, socklen_t destlen)
{
    for (;;) {
        ssize_t w = sendto(s->fd, buf, len, MSG_NOSIGNAL, dest, destlen);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        /* Only a full send buffer is worth waiting for: its EPOLLOUT comes once there is
         * room. ENOBUFS (a full device queue) is answered, since a datagram socket polls
         * writable all along and waiting for EPOLLOUT would spin. */
        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* A failed write of a record: the connection is gone (the kernel's errno, as a plain
 * socket would answer) or the session is broken (TLS). */
static int tls_write_error(struct engi_tls *t, int rc)
{
    if (rc == GNUTLS_E_PUSH_ERROR)
        return errno == ECONNRESET ? -ECONNRESET : -EPIPE;
    engi_tls_fail(t, rc);
    return ENG_ETLS;
}

int engi_tx_flush(struct eng_socket *s)
{
    struct engi_tls *t = s->tls;
    if (!t || t->out_len == 0)
        return 0;
    for (;;) {
        ssize_t r = gnutls_record_send(t->session, t->out, t->out_len);
        if (r >= 0)
            break;
        if (r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r == GNUTLS_E_AGAIN)
            return -EAGAIN;
        t->out_len = 0;
        return tls_write_error(t, (int)r);
    }
    free(t->out);
    t->out = NULL;
    t->out_len = 0;
    return 0;
}

static ssize_t tls_send(struct eng_socket *s, const uint8_t *buf, size_t len)
{
    struct engi_tls *t = s->tls;
    if (t->state == ENGI_TLS_HANDSHAKING)
        return -EAGAIN;
    if (t->state == ENGI_TLS_FAILED)
        return ENG_ETLS;
    int f = engi_tx_flush(s);
    if (f < 0)
        return f;
    if (len == 0)
        return 0;
    size_t chunk = len < ENGI_TLS_RECORD ? len : ENGI_TLS_RECORD;
    for (;;) {
        ssize_t r = gnutls_record_send(t->session, buf, chunk);
        if (r >= 0)
            return r;
        if (r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r != GNUTLS_E_AGAIN)
            return tls_write_error(t, (int)r);
        /* GnuTLS may have taken these bytes into a record already, and wants the same
         * call again: keep a copy and count them as taken, as the kernel's buffer would.
         * The next write, or the socket becoming writable, offers them again. */
        t->out = malloc(chunk);
        if (!t->out)
            return -ENOMEM;
        memcpy(t->out, buf, chunk);
        t->out_len = chunk;
        return (ssize_t)chunk;
    }
}

ssize_t engi_tx_send(struct eng_socket *s, const void *buf, size_t len,
                     const struct sockaddr *dest, socklen_t destlen)
{
    if (!s->tls)
        return plain_send(s, buf, len, dest, destlen);
    return tls_send(s, buf, len);
}

/* Appends decrypted bytes behind everything given back, in read order. */
static int pushback_append(struct eng_socket *s, const uint8_t *data, size_t len)
{
    struct engi_chunk *c = malloc(sizeof(*c) + len);
    if (!c)
        return -ENOMEM;
    memcpy(c->data, data, len);
    c->len = len;
    c->off = 0;
    c->seq = ++s->reads; /* a read of its own, after every read before it */
    c->fromlen = 0;
    c->next = NULL;
    struct engi_chunk **pp = &s->pushback;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    s->pushback_bytes += len;
    return 0;
}

long engi_tx_readable(struct eng_socket *s)
{
    if (!s->tls) {
        int avail = 0;
        if (ioctl(s->fd, FIONREAD, &avail) < 0)
            return -errno;
        return (long)avail + (long)s->pushback_bytes;
    }
    /* The kernel counts ciphertext. Decrypting what it holds now (it would be read next
     * anyway) makes the answer the number of bytes a recv would return. */
    uint8_t *tmp = s->e->scratch;
    bool grew = false;
    while (s->tls->state == ENGI_TLS_OPEN && s->pushback_bytes < TX_READABLE_CAP) {
        ssize_t r = tls_recv(s, tmp, ENGI_TLS_RECORD);
        if (r <= 0 || pushback_append(s, tmp, (size_t)r) < 0)
            break;
        /* Counted as received now; a recv from the given-back list counts nothing. */
        s->bytes_in += (uint64_t)r;
        s->e->bytes_in += (uint64_t)r;
        grew = true;
    }
    if (grew)
        engi_kick(s);
    return (long)(s->pushback_bytes + engi_tx_held(s));
}

size_t engi_tx_read_hint(struct eng_socket *s, size_t cap)
{
    int avail = 0;
    if (ioctl(s->fd, FIONREAD, &avail) < 0 || avail < 0)
        avail = 0;
    /* Ciphertext is never shorter than its plaintext: a fair bound either way. */
    size_t have = (size_t)avail + engi_tx_held(s);
    if (have >= cap)
        return cap;
    /* Nothing said to be waiting is an end of stream or a wake-up for nothing (or bytes
     * that arrive this instant): a small buffer learns which, never n bytes of one. */
    if (have == 0)
        return cap < ENGI_READ_PROBE ? cap : ENGI_READ_PROBE;
    return have;
}

size_t engi_tx_held(const struct eng_socket *s)
{
    if (!s->tls || s->tls->state != ENGI_TLS_OPEN)
        return 0;
    return gnutls_record_check_pending(s->tls->session);
}

uint32_t engi_tx_events(const struct eng_socket *s)
{
    const struct engi_tls *t = s->tls;
    if (!t)
        return 0;
    if (t->state == ENGI_TLS_HANDSHAKING)
        return gnutls_record_get_direction(t->session) == 1 ? EPOLLOUT : EPOLLIN;
    if (t->state == ENGI_TLS_OPEN && (t->out_len > 0 || t->read_wants_write))
        return EPOLLOUT;
    return 0;
}

int engi_tx_shutdown_write(struct eng_socket *s)
{
    struct engi_tls *t = s->tls;
    if (t && t->state == ENGI_TLS_OPEN) {
        int f = engi_tx_flush(s);
        if (f < 0)
            return f;
        int r;
        do
            r = gnutls_bye(t->session, GNUTLS_SHUT_WR);
        while (r == GNUTLS_E_INTERRUPTED);
        if (r == GNUTLS_E_AGAIN)
            return -EAGAIN;
    }
    return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}
