/*
 * The socket resources: POST and GET /sockets, GET and DELETE /sockets/<id>, and the
 * commands, POST (or, for the ones that only read, GET) /sockets/<id>/<command>.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "events.h"
#include "metrics.h"
#include "raw_bytes.h"
#include "render.h"
#include "routes.h"
#include "ws_upgrade.h"

int routes_socket_command(const char *name, enum eng_cmd *cmd)
{
    return eng_cmd_from_name(name, cmd) == 0 && cmd_info(*cmd)->on_socket ? 0 : -1;
}

static enum MHD_Result create_socket(struct route_req *rq)
{
    struct srv_req *r = rq->r;
    struct args_result a;
    enum MHD_Result ret;
    if (!routes_parse_args(rq, ENG_CMD_SOCKET, &a, &ret))
        return ret;
    struct eng_list *l = eng_socket_create(r->srv->eng, rq->owner, a.sock_type, a.sock_family);
    args_result_free(&a);
    if (!l)
        return MHD_NO;
    if (l->err || l->nitems < 3)
        return srv_reply_list(r, l);
    metrics_count_command(r->srv->metrics, ENG_CMD_SOCKET, 0);
    size_t len;
    char *body = render_list(l, CODEC_ASCIIHEX, &len);
    char location[96];
    snprintf(location, sizeof(location), "/sockets/%s", l->items[2].bytes);
    eng_list_free(l);
    if (!body)
        return MHD_NO;
    return srv_reply_headers(r, 201, body, len, NULL,
                             (const char *const[]){MHD_HTTP_HEADER_LOCATION, location, NULL});
}

static enum MHD_Result run_command(struct route_req *rq, const char *id, enum eng_cmd cmd)
{
    struct srv_req *r = rq->r;
    struct srv *s = r->srv;
    struct args_result a;
    enum MHD_Result ret;
    if (!routes_parse_args(rq, cmd, &a, &ret))
        return ret;
    r->enc = a.enc;
    r->raw_answer = !a.req.background && raw_answer_wanted(r, cmd);
    struct eng_list *now = NULL;
    struct eng_op *op = NULL;
    void *ctx = r;
    eng_done_fn done = srv_answer_later;
    if (a.req.background) {
        ctx = events_bind(s->events, rq->owner, a.callback, a.enc);
        done = events_deliver;
        if (!ctx) {
            args_result_free(&a);
            return srv_reply_error(r, 500, eng_cmd_name(cmd), -ENOMEM, NULL);
        }
        r->ok_status = 202;
    }
    int rc = eng_exec(s->eng, rq->owner, id, &a.req, done, ctx, &now, &op);
    bool background = a.req.background;
    args_result_free(&a);
    if (background && (rc < 0 || !now || now->err))
        events_unbind(ctx); /* it never started: no event will come */
    return routes_answer(r, cmd, rc, now, op);
}

/* GET /sockets (the list) and POST /sockets (a new one). */
static enum MHD_Result route_collection(struct route_req *rq)
{
    if (rq->post)
        return create_socket(rq);
    if (!rq->get)
        return routes_method_not_allowed(rq->r, "sockets", "GET, POST");
    size_t len;
    char *body = render_socket_list(rq->r->srv->eng, rq->owner, &len);
    return body ? srv_reply(rq->r, 200, body, len, NULL) : MHD_NO;
}

/* GET /sockets/<id> (its state) and DELETE /sockets/<id> (close). */
static enum MHD_Result route_socket(struct route_req *rq, const char *id)
{
    struct srv_req *r = rq->r;
    if (strcmp(rq->method, "DELETE") == 0)
        return run_command(rq, id, ENG_CMD_CLOSE);
    if (!rq->get)
        return routes_method_not_allowed(r, "socket", "GET, DELETE");
    struct eng_socket_info info;
    if (eng_socket_info(r->srv->eng, rq->owner, id, &info) < 0)
        return srv_reply_error(r, 404, "socket", ENG_ENOTSOCK, "no such socket");
    size_t len;
    char *body = render_socket_info(&info, &len);
    return body ? srv_reply(r, 200, body, len, NULL) : MHD_NO;
}

/* POST /sockets/<id>/<command>; GET for the commands that only read. */
static enum MHD_Result route_command(struct route_req *rq, const char *id, const char *name)
{
    struct srv_req *r = rq->r;
    /* The WebSocket bridge (SPEC §10): not a command, an upgrade of the connection. */
    if (strcmp(name, "ws") == 0)
        return ws_upgrade_socket(r, rq->owner, id);
    enum eng_cmd cmd;
    if (routes_socket_command(name, &cmd) < 0) {
        char lower[72];
        size_t i;
        for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
            lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
        lower[i] = '\0';
        return srv_reply_error(r, 404, lower, ENG_EINVAL, "no such command");
    }
    /* Reading a socket's names or its waiting byte count changes nothing: GET may ask. */
    bool get_ok = cmd_info(cmd)->get;
    if (rq->get && get_ok) {
        if (cmd == ENG_CMD_IOCTL) {
            for (size_t i = 0; i < rq->nkv; i++)
                if (strcasecmp(rq->kv[i].key, "FIONBIO") == 0)
                    return routes_method_not_allowed(r, "ioctl", "POST");
            if (r->body_len == 0 && rq->nkv < ROUTES_MAX_QUERY)
                rq->kv[rq->nkv++] = (struct args_kv){.key = "FIONREAD", .value = NULL};
        }
        return run_command(rq, id, cmd);
    }
    if (!rq->post)
        return routes_method_not_allowed(r, eng_cmd_name(cmd), get_ok ? "GET, POST" : "POST");
    return run_command(rq, id, cmd);
}

enum MHD_Result routes_sockets(struct route_req *rq)
{
    switch (rq->nseg) {
    case 1:
        return route_collection(rq);
    case 2:
        return route_socket(rq, rq->segs[1]);
    case 3:
        return route_command(rq, rq->segs[1], rq->segs[2]);
    default:
        return srv_reply_error(rq->r, 404, "request", ENG_EINVAL, "no such endpoint");
    }
}
