/*
 * Routing: which resource a request is for, who asks (the credential), and the small
 * resources (healthz, metrics, events, the name look-ups); the socket resources are in
 * routes_sockets.c. Everything answers a JSON list, errors included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "commands.h"
#include "events.h"
#include "metrics.h"
#include "node.h"
#include "raw_bytes.h"
#include "render.h"
#include "routes.h"
#include "websockify.h"

/* strcmp(s, lit) == 0 with the first bytes compared here: most of a request's comparisons
 * (its method with GET, HEAD and POST, its resource with each route's name) fail there,
 * and then cost no call. */
static inline bool str_is(const char *s, const char *lit)
{
    return s[0] == lit[0] && strcmp(s, lit) == 0;
}

struct query_collect {
    struct route_req *rq;
    bool too_many;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct query_collect *c = cls;
    if (strcmp(key, "node") == 0)
        return MHD_YES; /* checked by node_misdirected; no command's argument */
    if (c->rq->nkv >= ROUTES_MAX_QUERY) {
        c->too_many = true;
        return MHD_NO;
    }
    c->rq->kv[c->rq->nkv++] = (struct args_kv){.key = key, .value = value};
    return MHD_YES;
}

enum MHD_Result routes_method_not_allowed(struct srv_req *r, const char *name, const char *allow)
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

bool routes_parse_args(struct route_req *rq, enum eng_cmd cmd, struct args_result *a,
                       enum MHD_Result *ret)
{
    struct srv_req *r = rq->r;
    struct args_limits lim = {.max_recv = r->srv->cfg->max_recv};
    const char *body = r->body;
    size_t len = r->body_len;
    if (raw_body(r, cmd)) {
        /* The body is the data (SPEC §3); the arguments come from the query alone. */
        lim.raw_data = (const uint8_t *)(r->body ? r->body : "");
        lim.raw_len = r->body_len;
        body = NULL;
        len = 0;
    }
    if (args_parse(cmd, body, len, rq->kv, rq->nkv, &lim, a) == 0)
        return true;
    metrics_count_command(r->srv->metrics, cmd, a->code);
    *ret = srv_reply_error(r, (unsigned)a->status, eng_cmd_name(cmd), a->code, a->err);
    args_result_free(a);
    return false;
}

enum MHD_Result routes_answer(struct srv_req *r, enum eng_cmd cmd, int rc, struct eng_list *now,
                              struct eng_op *op)
{
    if (rc < 0)
        return srv_reply_error(r, 500, eng_cmd_name(cmd), rc, NULL);
    if (rc == ENG_PENDING) {
        r->op = op;
        srv_suspend(r);
        return MHD_YES;
    }
    return srv_reply_list(r, now);
}

static enum MHD_Result route_healthz(struct route_req *rq)
{
    if (rq->nseg != 1)
        return srv_reply_error(rq->r, 404, "request", ENG_EINVAL, "no such endpoint");
    if (!rq->get)
        return routes_method_not_allowed(rq->r, "healthz", "GET");
    char *body = strdup("{\"status\":\"ok\"}");
    return body ? srv_reply(rq->r, 200, body, strlen(body), NULL) : MHD_NO;
}

/* The API's description (SPEC §12), for anyone. */
static enum MHD_Result route_openapi(struct route_req *rq)
{
    if (rq->nseg != 1)
        return srv_reply_error(rq->r, 404, "request", ENG_EINVAL, "no such endpoint");
    if (!rq->get)
        return routes_method_not_allowed(rq->r, "openapi", "GET");
    return openapi_serve(rq->r);
}

/* Metrics need the credential too: they tell what the gateway is doing. */
static enum MHD_Result route_metrics(struct route_req *rq)
{
    if (rq->nseg != 1)
        return srv_reply_error(rq->r, 404, "request", ENG_EINVAL, "no such endpoint");
    if (!rq->get)
        return routes_method_not_allowed(rq->r, "metrics", "GET");
    return metrics_serve(rq->r);
}

static enum MHD_Result route_events(struct route_req *rq)
{
    if (rq->nseg != 1)
        return srv_reply_error(rq->r, 404, "events", ENG_EINVAL, "no such endpoint");
    if (!rq->get)
        return routes_method_not_allowed(rq->r, "events", "GET");
    return events_serve(rq->r, rq->owner);
}

/* GET /getaddrinfo and /getnameinfo (SPEC §13): the engine answers at once (a literal,
 * localhost, bad input) or after c-ares has, the request suspended meanwhile. */
static enum MHD_Result route_lookup(struct route_req *rq)
{
    struct srv_req *r = rq->r;
    enum eng_cmd cmd;
    eng_cmd_from_name(rq->segs[0], &cmd);
    if (rq->nseg != 1)
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    if (!rq->get)
        return routes_method_not_allowed(r, eng_cmd_name(cmd), "GET");
    struct args_result a;
    enum MHD_Result ret;
    if (!routes_parse_args(rq, cmd, &a, &ret))
        return ret;
    struct eng_list *now = NULL;
    struct eng_op *op = NULL;
    int rc = eng_lookup(r->srv->eng, &a.req, srv_answer_later, r, &now, &op);
    args_result_free(&a);
    return routes_answer(r, cmd, rc, now, op);
}

/* The resources, by the first segment of the path. Only healthz and the API's
 * description answer without the credential; a path that names none of them is a console
 * file or 404. */
static const struct route {
    const char *name;                /* the first segment */
    const char *label;               /* element 1 of a refusal before it runs */
    bool open;                       /* no credential needed */
    enum MHD_Result (*handle)(struct route_req *rq);
} routes[] = {
    {"healthz", "healthz", true, route_healthz},
    {"openapi.json", "openapi", true, route_openapi},
    {"sockets", "sockets", false, routes_sockets},
    {"events", "events", false, route_events},
    {"metrics", "metrics", false, route_metrics},
    {"getaddrinfo", "getaddrinfo", false, route_lookup},
    {"getnameinfo", "getnameinfo", false, route_lookup},
};

/* The name element 1 carries for a request refused before it runs (SPEC §1: element 1
 * echoes the command): "recv" for /sockets/s1/recv, "socket" for POST /sockets, "close"
 * for DELETE /sockets/s1, the resource for the others, "request" for anything unknown. */
static const char *endpoint_name(char segs[ROUTES_MAX_SEGS][PATH_SEG_SIZE], int nseg, const char *method)
{
    if (nseg < 1)
        return "request";
    if (strcmp(segs[0], "sockets") != 0) {
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
            if (nseg == 1 && strcmp(segs[0], routes[i].name) == 0)
                return routes[i].label;
        return "request";
    }
    if (nseg == 1)
        return strcmp(method, "POST") == 0 ? "socket" : "sockets";
    if (nseg == 2)
        return strcmp(method, "DELETE") == 0 ? "close" : "socket";
    if (nseg == 3 && strcmp(segs[2], "ws") == 0)
        return "ws";
    enum eng_cmd cmd;
    return nseg == 3 && routes_socket_command(segs[2], &cmd) == 0 ? eng_cmd_name(cmd) : "request";
}

const char *routes_endpoint_name(const char *method, const char *url)
{
    char segs[ROUTES_MAX_SEGS][PATH_SEG_SIZE];
    return endpoint_name(segs, path_split(url, segs, ROUTES_MAX_SEGS), method);
}

/* A 401 names the scheme to use (RFC 9110 §11.6.1). */
static enum MHD_Result refuse_credential(struct route_req *rq)
{
    size_t len;
    char *body = render_error(endpoint_name(rq->segs, rq->nseg, rq->method), ENG_EAUTH,
                              "send Authorization: Bearer TOKEN or ?token=TOKEN", &len);
    if (!body)
        return MHD_NO;
    return srv_reply_headers(rq->r, 401, body, len, NULL,
                             (const char *const[]){MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                                   "Bearer realm=\"sockgate\"", NULL});
}

enum MHD_Result routes_handle(struct srv_req *r, const char *method, const char *url)
{
    /* Not cleared as a whole: the segment and query arrays (850 bytes) are read only as far
     * as nseg and nkv say, and clearing them for every request costs more than using them. */
    struct route_req rq;
    rq.r = r;
    rq.method = method;
    rq.owner = 0;
    rq.nkv = 0;
    rq.nseg = path_split(url, rq.segs, ROUTES_MAX_SEGS);
    rq.get = str_is(method, "GET") || str_is(method, "HEAD");
    rq.post = str_is(method, "POST");
    /* Before anything else: a request for another node must not touch this one's sockets. */
    const struct cfg *cfg = r->srv->cfg;
    if (node_misdirected(r->srv, r->node_arg, url)) {
        char detail[96];
        if (cfg->node[0])
            snprintf(detail, sizeof(detail), "this gateway is node %s, not the one the request "
                     "names", cfg->node);
        else
            snprintf(detail, sizeof(detail), "this gateway has no node name (--node)");
        return srv_reply_error(r, 421, endpoint_name(rq.segs, rq.nseg, method),
                               ENG_EMISDIRECTED, detail);
    }
    /* websockify's clients bring their own credential (the token file's) or the usual. */
    if (websockify_path(cfg, url))
        return websockify_handle(r);
    const struct route *route = NULL;
    for (size_t i = 0; rq.nseg >= 1 && i < sizeof(routes) / sizeof(routes[0]); i++)
        if (str_is(rq.segs[0], routes[i].name)) {
            route = &routes[i];
            break;
        }
    if (!route) {
        if (rq.get && rq.nseg >= 0 && rq.nseg <= 1)
            return static_serve(r, url);
        return srv_reply_error(r, 404, "request", ENG_EINVAL, "no such endpoint");
    }
    if (route->open)
        return route->handle(&rq);
    struct query_collect c = {.rq = &rq};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
    if (c.too_many)
        return srv_reply_error(r, 400, "request", ENG_EINVAL, "too many query parameters");
    rq.owner = auth_owner(r->srv, r->conn, rq.kv, rq.nkv);
    if (rq.owner < 0)
        return refuse_credential(&rq);
    return route->handle(&rq);
}
