/*
 * recv, recvfrom, send and sendto. Each try function reads or writes what the socket
 * allows right now, finishes its operation when it has an answer, and returns 0 when it
 * has to wait for readiness. Given-back bytes are always returned before fresh ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* Adds the sender of a datagram (or the peer of a stream) as address and port. */
static void list_add_from(struct eng_list *l, const struct sockaddr_storage *from, socklen_t len)
{
    char host[64] = "", port[8] = "";
    if (len > 0)
        eng_addr_format((const struct sockaddr *)from, host, sizeof(host), port, sizeof(port));
    engi_list_add_str(l, host);
    engi_list_add_str(l, port);
}

/* Fills l, made before the read, with the answer of a receive that got `len` bytes from
 * read number `seq` on (ownership of `buf` passes to the list). Short text takes no memory
 * (list.c): nothing here can fail once the bytes are read. */
static struct eng_list *recv_answer(struct eng_op *op, struct eng_list *l, char *buf, size_t len,
                                    uint64_t seq, const struct sockaddr_storage *from,
                                    socklen_t fromlen)
{
    engi_list_add_owned(l, buf, len, true);
    l->sock_num = op->sock->num;
    l->read_seq = seq;
    if (fromlen > 0) {
        memcpy(&l->from, from, fromlen);
        l->fromlen = fromlen;
    }
    if (op->background)
        engi_list_add_str(l, op->sock->id);
    if (op->cmd == ENG_CMD_RECVFROM)
        list_add_from(l, from, fromlen);
    return l;
}

/* Serves a receive from given-back bytes: a stream takes up to n across chunks, a
 * datagram socket takes one whole datagram. The answer and its buffer are made before a
 * chunk is touched, so running out of memory leaves every byte in place. */
static struct eng_list *recv_from_pushback(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    size_t want = op->n < s->pushback_bytes ? op->n : s->pushback_bytes;
    struct engi_chunk *first = s->pushback;
    if (s->type == SOCK_DGRAM)
        want = first->len - first->off < op->n ? first->len - first->off : op->n;
    struct eng_list *l = engi_list_new(op->cmd);
    char *buf = l ? malloc(want + 1) : NULL;
    if (!buf) {
        eng_list_free(l);
        return NULL;
    }
    struct sockaddr_storage from = first->from;
    socklen_t fromlen = first->fromlen;
    uint64_t seq = first->seq;
    size_t got = 0;
    while (got < want) {
        struct engi_chunk *c = s->pushback;
        size_t take = c->len - c->off;
        if (take > want - got)
            take = want - got;
        memcpy(buf + got, c->data + c->off, take);
        c->off += take;
        got += take;
        s->pushback_bytes -= take;
        if (c->off == c->len || s->type == SOCK_DGRAM) {
            /* The rest of a datagram is dropped, as recv truncates a datagram. */
            s->pushback_bytes -= c->len - c->off;
            s->pushback = c->next;
            free(c);
        }
    }
    if (op->cmd == ENG_CMD_RECVFROM && fromlen == 0 && s->type == SOCK_STREAM) {
        fromlen = sizeof(from);
        if (getpeername(s->fd, (struct sockaddr *)&from, &fromlen) < 0)
            fromlen = 0;
    }
    return recv_answer(op, l, buf, got, seq, &from, fromlen);
}

int engi_try_recv(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    if (s->pushback) {
        engi_op_finish(op, recv_from_pushback(op));
        return 1;
    }
    /* While a connect is in progress a recv would take the connect's error (the
     * kernel's pending SO_ERROR) for itself: the connect, which learns its outcome only
     * from SO_ERROR, would then wait on a dead socket whose hang-up epoll reports on every
     * turn. The recv waits; readiness runs the connect first (engi_socket_run). */
    if (s->state == ENGI_CONNECTING)
        return 0;
    /* The answer and its buffer are made before a byte is read, so that running out of
     * memory answers an error with the bytes still in the socket, never an answer with a
     * piece missing nor bytes read and lost. The buffer is sized by what the kernel says
     * is waiting (end of stream and a spurious wake-up need little), and shrunk to what
     * came when that was much less. */
    size_t cap = engi_tx_read_hint(s, op->n);
    struct eng_list *l = engi_list_new(op->cmd);
    char *owned = l ? malloc(cap + 1) : NULL;
    if (!owned) {
        eng_list_free(l);
        engi_op_finish(op, NULL);
        return 1;
    }
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t r = engi_tx_recv(s, (uint8_t *)owned, cap, (struct sockaddr *)&from, &fromlen);
    if (r < 0) {
        free(owned);
        eng_list_free(l);
        if (r == -EAGAIN)
            return 0;
        engi_op_finish(op, r == ENG_ETLS ? engi_list_err(op->cmd, ENG_ETLS, "%s", engi_tls_why(s))
                                         : engi_list_err(op->cmd, (int)r, NULL));
        return 1;
    }
    if (r == 0 && s->type == SOCK_STREAM) {
        free(owned);
        eng_list_free(l);
        engi_op_finish(op, engi_list_err(op->cmd, ENG_ECLOSED, "the peer closed the connection"));
        return 1;
    }
    if ((size_t)r < cap / 2) {
        char *fit = realloc(owned, (size_t)r + 1); /* a failed shrink keeps the buffer */
        if (fit)
            owned = fit;
    }
    if (s->type == SOCK_STREAM) {
        /* Linux leaves the address of a stream recvfrom empty: use the peer's. */
        fromlen = sizeof(from);
        if (op->cmd != ENG_CMD_RECVFROM || getpeername(s->fd, (struct sockaddr *)&from, &fromlen) < 0)
            fromlen = 0;
    }
    s->bytes_in += (uint64_t)r;
    s->e->bytes_in += (uint64_t)r;
    engi_op_finish(op, recv_answer(op, l, owned, (size_t)r, ++s->reads, &from, fromlen));
    return 1;
}

void eng_give_back(struct eng *e, struct eng_list *list)
{
    if (!list)
        return;
    struct eng_socket *s = list->sock_num ? engi_socket_by_num(e, list->sock_num) : NULL;
    struct eng_item *data = NULL;
    for (int i = 0; i < list->nitems; i++)
        if (list->items[i].is_data)
            data = &list->items[i];
    if (s && data && data->len > 0) {
        struct engi_chunk *c = malloc(sizeof(*c) + data->len);
        if (c) {
            memcpy(c->data, data->bytes, data->len);
            c->len = data->len;
            c->off = 0;
            c->seq = list->read_seq;
            c->from = list->from;
            c->fromlen = list->fromlen;
            /* Answers may fail in any order: each goes back before the bytes of later
             * reads, and before the rest of its own read (an equal number), which it
             * preceded. */
            struct engi_chunk **pp = &s->pushback;
            while (*pp && (*pp)->seq < c->seq)
                pp = &(*pp)->next;
            c->next = *pp;
            *pp = c;
            s->pushback_bytes += c->len;
            engi_kick(s);
        }
    }
    eng_list_free(list);
}

struct eng_list *engi_send_answer(struct eng_op *op, int code, const char *detail)
{
    struct eng_list *l = engi_list_new(op->cmd);
    if (!l)
        return NULL;
    if (code)
        engi_list_set_err(l, code, detail ? "%s" : NULL, detail);
    engi_list_add(l, (const char *)op->data + op->data_off, op->data_len - op->data_off, true);
    return l;
}

static void sendto_resolved(struct eng_op *op, int code)
{
    struct eng_socket *s = op->sock;
    op->phase = ENGI_PH_READINESS;
    if (code < 0)
        engi_op_finish(op, engi_send_answer(op, code, NULL));
    engi_kick(s);
}

int engi_try_send(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    if (op->phase == ENGI_PH_RESOLVING)
        return 0;
    const struct sockaddr *dest = NULL;
    socklen_t destlen = 0;
    if (op->cmd == ENG_CMD_SENDTO && op->dest) {
        if (op->dest->naddrs == 0) {
            int r = engi_resolve(op, sendto_resolved);
            if (r == 0) {
                op->phase = ENGI_PH_RESOLVING;
                return 0;
            }
            if (r < 0) {
                engi_op_finish(op, engi_send_answer(op, r, NULL));
                return 1;
            }
        }
        dest = (const struct sockaddr *)&op->dest->addrs[0];
        destlen = engi_addr_len(&op->dest->addrs[0]);
    }
    /* A datagram goes whole or not at all; a stream takes what fits and waits for more. */
    for (;;) {
        size_t left = op->data_len - op->data_off;
        ssize_t w = engi_tx_send(s, op->data + op->data_off, left, dest, destlen);
        if (w < 0) {
            if (w == -EAGAIN)
                return 0;
            engi_op_finish(op, engi_send_answer(op, (int)w,
                                                w == ENG_ETLS ? engi_tls_why(s) : NULL));
            return 1;
        }
        op->data_off += (size_t)w;
        s->bytes_out += (uint64_t)w;
        s->e->bytes_out += (uint64_t)w;
        if (s->type == SOCK_DGRAM || op->data_off >= op->data_len)
            break;
    }
    if (s->type == SOCK_DGRAM)
        op->data_off = op->data_len;
    engi_op_finish(op, engi_send_answer(op, 0, NULL));
    return 1;
}
