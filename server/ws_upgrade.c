/*
 * GET /sockets/<id>/ws and the upgrade steps websockify shares (see ws_upgrade.h). The
 * socket is lent to its bridge before the 101 is queued, so every refusal can still be
 * an HTTP answer; libmicrohttpd calls upgrade_handler once the 101 is out, with the
 * connection's descriptor, and from then on the bridge runs on the loop.
 */
#include "ws_upgrade.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_conn.h"
#include "render.h"
#include "stream.h"
#include "websockify.h"

static const char *header(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool ws_upgrade_begin(struct srv_req *r, const char *name, enum MHD_Result *ret)
{
    struct ws_handshake in = {
        .method = r->method,
        .version = r->version,
        .upgrade = header(r, MHD_HTTP_HEADER_UPGRADE),
        .connection = header(r, MHD_HTTP_HEADER_CONNECTION),
        .key = header(r, "Sec-WebSocket-Key"),
        .ws_version = header(r, "Sec-WebSocket-Version"),
        .protocols = header(r, "Sec-WebSocket-Protocol"),
    };
    struct ws_handshake_answer hs;
    if (!ws_handshake_check(&in, &hs)) {
        size_t len;
        char *body = render_error(name, ENG_EINVAL, hs.error, &len);
        if (!body) {
            *ret = MHD_NO;
            return false;
        }
        const char *const allow[] = {MHD_HTTP_HEADER_ALLOW, "GET", NULL};
        const char *const version[] = {"Sec-WebSocket-Version", "13", NULL};
        *ret = srv_reply_headers(r, hs.status, body, len, NULL,
                                 hs.status == 405 ? allow : hs.status == 426 ? version : NULL);
        return false;
    }
    r->ws = calloc(1, sizeof(*r->ws));
    if (!r->ws) {
        *ret = srv_reply_error(r, 500, name, -ENOMEM, NULL);
        return false;
    }
    r->ws->hs = hs;
    return true;
}

void ws_upgrade_opts(const struct srv *s, struct ws_bridge_opts *o, bool halfclose)
{
    memset(o, 0, sizeof(*o));
    o->halfclose = halfclose;
    o->ping_s = s->cfg->ws_ping;
    o->idle_s = s->cfg->ws_idle_timeout;
}

/* libmicrohttpd has sent the 101: the connection is the bridge's. */
static void upgrade_handler(void *cls, struct MHD_Connection *conn, void *con_cls,
                            const char *extra_in, size_t extra_in_size, MHD_socket sock,
                            struct MHD_UpgradeResponseHandle *urh)
{
    struct srv *s = cls;
    /* The bridge watches the socket from now on, in the same loop. */
    http_conn_hand_over(s->conns, conn);
    struct srv_req *r = con_cls;
    struct ws_bridge *b = r->ws->bridge;
    r->ws->bridge = NULL;
    r->ws->made_socket = false; /* the bridge closes its socket itself now */
    ws_bridge_upgraded(b, sock, extra_in, extra_in_size, urh);
}

/* The answer to a bridge that cannot take the socket. */
static enum MHD_Result attach_refused(struct srv_req *r, const char *name, int rc)
{
    switch (rc) {
    case ENG_ENOTSOCK:
        return srv_reply_error(r, 404, name, rc, "no such socket");
    case -ENOTCONN:
        return srv_reply_error(r, 409, name, rc,
                               "only a connected socket can stream: connect it first");
    case -EALREADY:
        return srv_reply_error(r, 409, name, rc, "the socket is streaming over a WebSocket already");
    default:
        return srv_reply_error(r, 500, name, rc, NULL);
    }
}

enum MHD_Result ws_upgrade_answer(struct srv_req *r, const char *name, bool halfclose)
{
    struct srv *s = r->srv;
    struct ws_pending *p = r->ws;
    struct ws_bridge_opts opts;
    ws_upgrade_opts(s, &opts, halfclose);
    opts.close_on_abandon = p->made_socket;
    struct ws_bridge *b = ws_bridge_new(s, &opts);
    if (!b)
        return srv_reply_error(r, 500, name, -ENOMEM, NULL);
    int rc = ws_bridge_attach(b, p->owner, p->id);
    if (rc < 0) {
        ws_bridge_abandon(b);
        return attach_refused(r, name, rc);
    }
    struct MHD_Response *resp = MHD_create_response_for_upgrade(upgrade_handler, s);
    if (!resp) {
        ws_bridge_abandon(b);
        return MHD_NO;
    }
    /* libmicrohttpd adds "Connection: Upgrade" itself; a second one breaks clients. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", p->hs.accept);
    if (p->hs.protocol)
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol", p->hs.protocol);
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    if (ret != MHD_YES) {
        ws_bridge_abandon(b);
        return ret;
    }
    p->bridge = b;
    r->state = REQ_ANSWERED;
    r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    return MHD_YES;
}

static bool query_flag(struct srv_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || v[0] == '\0');
}

enum MHD_Result ws_upgrade_socket(struct srv_req *r, int owner, const char *id)
{
    enum MHD_Result ret;
    if (!ws_upgrade_begin(r, "ws", &ret))
        return ret;
    r->ws->owner = owner;
    snprintf(r->ws->id, sizeof(r->ws->id), "%s", id);
    return ws_upgrade_answer(r, "ws", query_flag(r, "halfclose"));
}

int ws_start(struct srv *s)
{
    s->ws = ws_hub_new(s->loop);
    if (!s->ws)
        return -1;
    bool bad;
    s->websockify = websockify_new(s->cfg, &bad);
    return bad ? -1 : 0;
}

void ws_stop(struct srv *s)
{
    ws_hub_free(s->ws); /* bridges still open give their connections back */
    s->ws = NULL;
    websockify_free(s->websockify);
    s->websockify = NULL;
}

void ws_request_completed(struct srv_req *r)
{
    struct ws_pending *p = r->ws;
    if (!p)
        return;
    r->ws = NULL;
    if (p->bridge) {
        ws_bridge_abandon(p->bridge); /* the 101 never went out */
    } else if (p->made_socket) {
        /* websockify made this socket, and no bridge took it. */
        struct eng_request req = {.cmd = ENG_CMD_CLOSE, .timeout = -1};
        struct eng_list *now = NULL;
        struct eng_op *op = NULL;
        if (eng_exec(r->srv->eng, p->owner, p->id, &req, NULL, NULL, &now, &op) == 0)
            eng_list_free(now);
    }
    free(p);
}
