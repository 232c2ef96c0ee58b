/*
 * TLS as an operation: the handshake that follows a connect with `tls`, and starttls on a
 * connected plain socket. Both wait in the socket's write queue (so sends queued before
 * them go out first, in plaintext) and answer when the handshake is done, has failed, or
 * has run past its own deadline. Failures leave the socket open, answering `TLS: why.`
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static struct eng_list *tls_err(struct eng_op *op, int code, const char *why)
{
    return engi_list_err(op->cmd, code, "%s", why);
}

/* The handshake ends: the connect (or starttls) answers, and reads may start. */
static int handshake_over(struct eng_op *op, int rc)
{
    struct eng_socket *s = op->sock;
    op->phase = ENGI_PH_READINESS;
    op->handshake_deadline = false;
    if (s->state == ENGI_CONNECTING)
        s->state = ENGI_CONNECTED;
    engi_op_finish(op, rc == 1 ? engi_list_new(op->cmd) : tls_err(op, ENG_ETLS, engi_tls_why(s)));
    /* Records that came with the handshake's end are held by GnuTLS, invisible to epoll;
     * a read waiting behind the handshake must look now. */
    engi_kick(s);
    return 1;
}

int engi_try_handshake(struct eng_op *op)
{
    int rc = engi_tls_handshake(op->sock);
    return rc == 0 ? 0 : handshake_over(op, rc);
}

int engi_tls_start(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    char why[200];
    int rc = engi_tls_begin(s, op->tls, why, sizeof(why));
    if (rc < 0) {
        if (s->state == ENGI_CONNECTING)
            s->state = ENGI_CONNECTED;
        engi_op_finish(op, tls_err(op, rc, why));
        return 1;
    }
    op->phase = ENGI_PH_HANDSHAKE;
    /* The handshake's own deadline: a peer that accepts and then says nothing must not
     * hold a connect for the whole of --max-wait. The earlier deadline wins. */
    uint64_t deadline = eng_now_ms() + engi_tls_handshake_ms(s->e);
    if (!eng_timer_armed(&op->timer) || op->timer.deadline_ms > deadline) {
        if (eng_timer_start(s->e->loop, &op->timer, deadline) < 0) {
            engi_op_finish(op, engi_list_err(op->cmd, ENG_ELIMIT,
                                             "no timer is free for the TLS handshake"));
            return 1;
        }
        op->handshake_deadline = true;
    }
    return engi_try_handshake(op);
}

int engi_try_starttls(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    if (op->phase == ENGI_PH_HANDSHAKE)
        return engi_try_handshake(op);
    struct eng_list *l = NULL;
    char why[200];
    if (s->type != SOCK_STREAM) {
        l = engi_list_err(op->cmd, ENG_EINVAL, "TLS needs a STREAM socket");
    } else if (s->tls) {
        l = tls_err(op, ENG_ETLS, strcmp(engi_tls_state_name(s), "failed") == 0
                                      ? engi_tls_why(s) : "the socket speaks TLS already");
    } else if (s->state != ENGI_CONNECTED) {
        l = engi_list_err(op->cmd, -ENOTCONN, NULL);
    } else {
        /* The STARTTLS injection: bytes that arrived before the handshake are plaintext
         * anyone on the path could have written. Read them first, as plaintext. */
        long unread = engi_tx_readable(s);
        if (unread > 0) {
            snprintf(why, sizeof(why), "%ld received bytes are still unread; recv them "
                     "first, so that no plaintext slips into the TLS stream", unread);
            l = tls_err(op, ENG_ETLS, why);
        } else if (unread < 0) {
            l = engi_list_err(op->cmd, (int)unread, NULL);
        }
    }
    if (!l) {
        int rc = engi_tls_opts_prepare(s->e, op->tls, why, sizeof(why));
        if (rc < 0)
            l = engi_list_err(op->cmd, rc, "%s", why);
    }
    if (l) {
        engi_op_finish(op, l);
        return 1;
    }
    return engi_tls_start(op);
}

struct eng_list *engi_handshake_timed_out(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    char why[120];
    if (op->handshake_deadline)
        snprintf(why, sizeof(why), "handshake failure: the server did not finish the handshake "
                 "within %g s", (double)engi_tls_handshake_ms(s->e) / 1000.0);
    else
        snprintf(why, sizeof(why), "handshake failure: the wait ran out before the handshake "
                 "finished");
    engi_tls_abandon(s, why);
    op->phase = ENGI_PH_READINESS;
    if (s->state == ENGI_CONNECTING)
        s->state = ENGI_CONNECTED;
    return op->handshake_deadline ? tls_err(op, ENG_ETLS, why)
                                  : engi_list_err(op->cmd, -ETIMEDOUT, "the wait ran out during "
                                                  "the TLS handshake");
}

void engi_handshake_cancel(struct eng_op *op)
{
    struct eng_socket *s = op->sock;
    engi_tls_abandon(s, "handshake failure: the request that started the handshake went away "
                        "before it finished");
    op->phase = ENGI_PH_READINESS;
    if (s->state == ENGI_CONNECTING)
        s->state = ENGI_CONNECTED;
}
