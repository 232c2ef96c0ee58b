/*
 * Routing: which endpoint a request is for, who asks (the credential), and the handlers
 * of the socket endpoints. Everything answers a JSON list, errors included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "auth.h"
#include "commands.h"
#include "events.h"
#include "metrics.h"
#include "node.h"
#include "render.h"
#include "server.h"
#include "websockify.h"
#include "ws_upgrade.h"

#define ROUTES_MAX_QUERY 32

struct query {
    struct args_kv kv[ROUTES_MAX_QUERY];
    size_t n;
    bool too_many;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct query *q = cls;
    if (strcmp(key, "node") == 0)
        return MHD_YES; /* checked by node_misdirected; no command's argument */
    if (q->n >= ROUTES_MAX_QUERY) {
        q->too_many = true;
        return MHD_NO;
    }
    q->kv[q->n++] = (struct args_kv){.key = key, .value = value};
    return MHD_YES;
}

static enum MHD_Result method_not_allowed(struct srv_req *r, const char *name, const char *allow)
{
    char detail[96];
    snprintf(detail, sizeof(detail), "method not allowed here; use %s", allow);
    size_t len;
    char *body = render_error(name, ENG_EINVAL, detail, &len);
    if (!body)
        return MHD_NO;
    return srv_reply_headers(r, 405, body, len, NULL,
                             (const char *const[]){MHD_HTTP_HEADER_ALLOW, allow, NULL});
}

static enum MHD_Result create_socket(struct srv_req *r, int owner, const struct query *q)
{
    int type, family;
    char err[160];
    if (args_parse_socket(r->body, r->body_len, q->kv, q->n, &type, &family, err, sizeof(err)) < 0)
        return srv_reply_error(r, 400, "socket", ENG_EINVAL, err);
    struct eng_list *l = eng_socket_create(r->srv->eng, owner, type, family);
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

static enum MHD_Result run_command(struct srv_req *r, int owner, const char *id,
                                   enum eng_cmd cmd, const struct query *q)
{
    struct srv *s = r->srv;
    struct args_result a;
    struct args_limits lim = {.max_recv = s->cfg->max_recv};
    const char *name = eng_cmd_name(cmd);
    if (args_parse(cmd, r->body, r->body_len, q->kv, q->n, &lim, &a) < 0) {
        metrics_count_command(s->metrics, cmd, a.code);
        enum MHD_Result ret = srv_reply_error(r, (unsigned)a.status, name, a.code, a.err);
        args_result_free(&a);
        return ret;
    }
    r->enc = a.enc;
    struct eng_list *now = NULL;
    struct eng_op *op = NULL;
    void *ctx = r;
    eng_done_fn done = srv_answer_later;
    if (a.req.background) {
        ctx = events_bind(s->events, owner, a.callback, a.enc);
        done = events_deliver;
        if (!ctx) {
            args_result_free(&a);
            return srv_reply_error(r, 500, name, -ENOMEM, NULL);
        }
        r->ok_status = 202;
    }
    int rc = eng_exec(s->eng, owner, id, &a.req, done, ctx, &now, &op);
    args_result_free(&a);
    if (rc < 0) {
        if (a.req.background)
            events_unbind(ctx);
        return srv_reply_error(r, 500, name, rc, NULL);
    }
    if (a.req.background && (!now || now->err))
        events_unbind(ctx); /* it never started: no event will come */
    if (rc == ENG_PENDING) {
        r->op = op;
        srv_suspend(r);
        return MHD_YES;
    }
    return srv_reply_list(r, now);
}

/* GET /getaddrinfo and /getnameinfo (SPEC §13): the engine answers at once (a literal,
 * localhost, bad input) or after c-ares has, the request suspended meanwhile. */
static enum MHD_Result run_lookup(struct srv_req *r, enum eng_cmd cmd, const struct query *q)
{
    struct srv *s = r->srv;
    struct args_result a;
    struct args_limits lim = {.max_recv = s->cfg->max_recv};
    const char *name = eng_cmd_name(cmd);
    if (args_parse(cmd, r->body, r->body_len, q->kv, q->n, &lim, &a) < 0) {
        metrics_count_command(s->metrics, cmd, a.code);
        enum MHD_Result ret = srv_reply_error(r, (unsigned)a.status, name, a.code, a.err);
        args_result_free(&a);
        return ret;
    }
    struct eng_list *now = NULL;
    struct eng_op *op = NULL;
    int rc = eng_lookup(s->eng, &a.req, srv_answer_later, r, &now, &op);
    args_result_free(&a);
    if (rc < 0)
        return srv_reply_error(r, 500, name, rc, NULL);
    if (rc == ENG_PENDING) {
        r->op = op;
        srv_suspend(r);
        return MHD_YES;
    }
    return srv_reply_list(r, now);
}

/* Splits "/sockets/s1/recv" into at most 4 segments; returns their number or -1. */
static int split_path(const char *url, char segs[4][72])
{
    int n = 0;
    const char *p = url;
    while (*p == '/')
        p++;
    while (*p) {
        if (n == 4)
            return -1;
        size_t len = strcspn(p, "/");
        if (len >= sizeof(segs[0]))
            return -1;
        memcpy(segs[n], p, len);
        segs[n][len] = '\0';
        n++;
        p += len;
        while (*p == '/')
            p++;
    }
    return n;
}

/* The command a socket path names: /sockets/<id>/<name> for a command on a socket. */
static int socket_command(const char *name, enum eng_cmd *cmd)
{
    return eng_cmd_from_name(name, cmd) == 0 && cmd_info(*cmd)->on_socket ? 0 : -1;
}

/* The name element 1 carries for an endpoint that is refused before it runs (SPEC §1:
 * element 1 echoes the command): "recv" for /sockets/s1/recv, "socket" for POST
 * /sockets, "close" for DELETE /sockets/s1, and "request" for anything unknown. */
static const char *endpoint_name(char segs[4][72], int nseg, const char *method)
{
    if (nseg < 1)
        return "request";
    if (nseg == 1 && (strcmp(segs[0], "events") == 0 || strcmp(segs[0], "metrics") == 0 ||
                      strcmp(segs[0], "getaddrinfo") == 0 || strcmp(segs[0], "getnameinfo") == 0))
        return segs[0];
    if (strcmp(segs[0], "sockets") != 0)
        return "request";
    if (nseg == 1)
        return strcmp(method, "POST") == 0 ? "socket" : "sockets";
    if (nseg == 2)
        return strcmp(method, "DELETE") == 0 ? "close" : "socket";
    enum eng_cmd cmd;
    if (nseg == 3 && strcmp(segs[2], "ws") == 0)
        return "ws";
    return nseg == 3 && socket_command(segs[2], &cmd) == 0 ? eng_cmd_name(cmd) : "request";
}

const char *routes_endpoint_name(const char *method, const char *url)
{
    char segs[4][72];
    return endpoint_name(segs, split_path(url, segs), method);
}

/* The same for any path, the service endpoints and unknown ones included. */
static const char *any_endpoint_name(char segs[4][72], int nseg, const char *method)
{
    if (nseg >= 1 && (strcmp(segs[0], "sockets") == 0 || strcmp(segs[0], "events") == 0 ||
                      strcmp(segs[0], "metrics") == 0))
        return endpoint_name(segs, nseg, method);
    if (nseg == 1 && strcmp(segs[0], "healthz") == 0)
        return "healthz";
    if (nseg == 1 && strcmp(segs[0], "openapi.json") == 0)
        return "openapi";
    return "request";
}

enum MHD_Result routes_handle(struct srv_req *r, const char *method, const char *url)
{
    struct srv *s = r->srv;
    char segs[4][72];
    int nseg = split_path(url, segs);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;

    /* Before anything else: a request for another node must not touch this one's sockets. */
    if (node_misdirected(s, r->conn, url)) {
        char detail[96];
        if (s->cfg->node[0])
            snprintf(detail, sizeof(detail), "this gateway is node %s, not the one the request names",
                     s->cfg->node);
        else
            snprintf(detail, sizeof(detail), "this gateway has no node name (--node)");
        return srv_reply_error(r, 421, any_endpoint_name(segs, nseg, method), ENG_EMISDIRECTED,
                               detail);
    }
    if (nseg == 1 && strcmp(segs[0], "openapi.json") == 0)
        return get ? openapi_serve(r) : method_not_allowed(r, "openapi", "GET");
    if (nseg == 1 && strcmp(segs[0], "healthz") == 0) {
        if (!get)
            return method_not_allowed(r, "healthz", "GET");
        char *body = strdup("{\"status\":\"ok\"}");
        return body ? srv_reply(r, 200, body, strlen(body), NULL) : MHD_NO;
    }
    /* websockify's clients bring their own credential (the token file's) or the usual. */
    if (websockify_path(s->cfg, url))
        return websockify_handle(r);
    enum eng_cmd lookup;
    bool is_lookup = nseg == 1 && eng_cmd_from_name(segs[0], &lookup) == 0 &&
                     (lookup == ENG_CMD_GETADDRINFO || lookup == ENG_CMD_GETNAMEINFO);
    bool api = nseg >= 1 && (strcmp(segs[0], "sockets") == 0 || strcmp(segs[0], "events") == 0 ||
                             (nseg == 1 && strcmp(segs[0], "metrics") == 0) || is_lookup);
    if (!api) {
        if (get && nseg >= 0 && nseg <= 1)
            return static_serve(r, url);
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    }

    struct query q = {0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.too_many)
        return srv_reply_error(r, 400, "request", ENG_EINVAL, "too many query parameters");
    int owner = auth_owner(s, r->conn, q.kv, q.n);
    if (owner < 0) {
        /* A 401 names the scheme to use (RFC 9110 §11.6.1). */
        size_t len;
        char *body = render_error(endpoint_name(segs, nseg, method), ENG_EAUTH,
                                  "send Authorization: Bearer TOKEN or ?token=TOKEN", &len);
        if (!body)
            return MHD_NO;
        return srv_reply_headers(r, 401, body, len, NULL,
                                 (const char *const[]){MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                                       "Bearer realm=\"sockgate\"", NULL});
    }

    if (is_lookup) {
        if (!get)
            return method_not_allowed(r, eng_cmd_name(lookup), "GET");
        return run_lookup(r, lookup, &q);
    }
    /* Metrics need the credential too: they tell what the gateway is doing. */
    if (strcmp(segs[0], "metrics") == 0) {
        if (!get)
            return method_not_allowed(r, "metrics", "GET");
        return metrics_serve(r);
    }
    if (strcmp(segs[0], "events") == 0) {
        if (nseg != 1)
            return srv_reply_error(r, 404, "events", ENG_EINVAL, "no such endpoint");
        if (!get)
            return method_not_allowed(r, "events", "GET");
        return events_serve(r, owner);
    }
    if (nseg == 1) {
        if (post)
            return create_socket(r, owner, &q);
        if (get) {
            size_t len;
            char *body = render_socket_list(s->eng, owner, &len);
            return body ? srv_reply(r, 200, body, len, NULL) : MHD_NO;
        }
        return method_not_allowed(r, "sockets", "GET, POST");
    }
    const char *id = segs[1];
    if (nseg == 2) {
        if (get) {
            struct eng_socket_info info;
            if (eng_socket_info(s->eng, owner, id, &info) < 0)
                return srv_reply_error(r, 404, "socket", ENG_ENOTSOCK, "no such socket");
            size_t len;
            char *body = render_socket_info(&info, &len);
            return body ? srv_reply(r, 200, body, len, NULL) : MHD_NO;
        }
        if (strcmp(method, "DELETE") == 0)
            return run_command(r, owner, id, ENG_CMD_CLOSE, &q);
        return method_not_allowed(r, "socket", "GET, DELETE");
    }
    if (nseg != 3)
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    if (strcmp(segs[2], "ws") == 0)
        return ws_upgrade_socket(r, owner, id);
    enum eng_cmd cmd;
    if (socket_command(segs[2], &cmd) < 0) {
        char name[72];
        size_t i;
        for (i = 0; segs[2][i] && i < sizeof(name) - 1; i++)
            name[i] = (char)((segs[2][i] >= 'A' && segs[2][i] <= 'Z') ? segs[2][i] + 32 : segs[2][i]);
        name[i] = '\0';
        return srv_reply_error(r, 404, name, ENG_EINVAL, "no such command");
    }
    /* Reading a socket's names or its waiting byte count changes nothing: GET may ask. */
    bool get_ok = cmd_info(cmd)->get;
    if (get && get_ok) {
        if (cmd == ENG_CMD_IOCTL) {
            for (size_t i = 0; i < q.n; i++)
                if (strcasecmp(q.kv[i].key, "FIONBIO") == 0)
                    return method_not_allowed(r, "ioctl", "POST");
            if (r->body_len == 0 && q.n < ROUTES_MAX_QUERY) {
                q.kv[q.n++] = (struct args_kv){.key = "FIONREAD", .value = NULL};
            }
        }
        return run_command(r, owner, id, cmd, &q);
    }
    if (!post)
        return method_not_allowed(r, eng_cmd_name(cmd), get_ok ? "GET, POST" : "POST");
    return run_command(r, owner, id, cmd, &q);
}
