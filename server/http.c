/*
 * The libmicrohttpd daemon, run from sockgate's own event loop: its epoll fd sits in the
 * loop's epoll set, so one thread serves HTTP and every socket. A command that has to
 * wait suspends its connection, which then costs no thread and no polling; the engine's
 * answer resumes it. libmicrohttpd does not notice a client leaving while suspended, so
 * each suspended connection's socket is watched here for a hang-up, which withdraws the
 * wait before any byte is read for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <poll.h>
#include <sys/epoll.h>

#include "cors.h"
#include "http_conn.h"
#include "log.h"
#include "metrics.h"
#include "raw_bytes.h"
#include "render.h"
#include "server.h"
#include "ws_upgrade.h"

unsigned srv_status_for(int code, unsigned ok_status)
{
    switch (code) {
    case 0:
        return ok_status;
    case ENG_EINVAL:
        return 400;
    case ENG_EAUTH:
        return 401;
    case ENG_EDENIED:
        return 403;
    case ENG_ENOTSOCK:
        return 404;
    case ENG_ELIMIT:
        return 429;
    case ENG_ESHUTDOWN:
        return 503;
    default:
        return 200; /* the command ran; element 2 says how the socket call went */
    }
}

/* How a JSON answer goes out. */
static const struct srv_resp_opts json_answer = {
    .content_type = "application/json",
    .cache = "no-store",
};

enum MHD_Result srv_reply(struct srv_req *r, unsigned status, char *body, size_t len,
                          const char *content_type)
{
    return srv_reply_headers(r, status, body, len, content_type, NULL);
}

enum MHD_Result srv_queue(struct srv_req *r, unsigned status, struct MHD_Response *resp,
                          const struct srv_resp_opts *o, size_t bytes)
{
    if (!resp)
        return MHD_NO;
    if (o->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, o->content_type);
    if (o->cache)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, o->cache);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; o->extra && o->extra[i] && o->extra[i + 1]; i += 2)
        MHD_add_response_header(resp, o->extra[i], o->extra[i + 1]);
    if (r->srv->cfg->cors[0] && !o->skip_cors)
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->srv->cfg->cors);
    /* Over a limit or shutting down: free the connection rather than keep it alive. */
    if (status == 413 || status == 429 || status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->state = REQ_ANSWERED;
    r->status = (int)status;
    r->bytes_out = bytes;
    return ret;
}

enum MHD_Result srv_reply_headers(struct srv_req *r, unsigned status, char *body, size_t len,
                                  const char *content_type, const char *const *extra)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    struct srv_resp_opts o = json_answer;
    if (content_type)
        o.content_type = content_type;
    o.extra = extra;
    return srv_queue(r, status, resp, &o, len);
}

enum MHD_Result srv_reply_error(struct srv_req *r, unsigned status, const char *name, int code,
                                const char *detail)
{
    size_t len;
    char *body = render_error(name, code, detail, &len);
    if (!body)
        return MHD_NO;
    return srv_reply(r, status, body, len, NULL);
}

enum MHD_Result srv_reply_list(struct srv_req *r, struct eng_list *list)
{
    if (r->raw_answer && list->err == 0)
        return raw_reply(r, list);
    /* A small answer is written into the request's own room: no allocation of its own. */
    size_t len;
    char *body = NULL;
    bool in_room = render_list_max(list, r->enc) <= sizeof(r->reply);
    if (in_room)
        len = render_list_into(list, r->enc, r->reply);
    else
        body = render_list(list, r->enc, &len);
    unsigned status = srv_status_for(list->err, r->ok_status ? (unsigned)r->ok_status : 200);
    metrics_count_command(r->srv->metrics, list->cmd, list->err);
    bool has_data = false;
    for (int i = 0; i < list->nitems; i++)
        has_data |= list->items[i].is_data && list->items[i].len > 0 && list->sock_num;
    if (has_data) {
        /* Kept until the response is known to be delivered; see request_completed. Also
         * when it could not be rendered: the connection then closes and it goes back. */
        r->delivering = list;
    } else {
        eng_list_free(list);
    }
    if (in_room)
        return srv_queue(r, status,
                         MHD_create_response_from_buffer(len, r->reply, MHD_RESPMEM_PERSISTENT),
                         &json_answer, len);
    if (!body)
        return MHD_NO;
    return srv_reply(r, status, body, len, NULL);
}

static void client_gone(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct srv_req *r = (struct srv_req *)((char *)w - offsetof(struct srv_req, gone));
    eng_watch_set(r->srv->loop, &r->gone, 0);
    if (r->state != REQ_WAITING)
        return;
    if (r->op) {
        eng_op_cancel(r->srv->eng, r->op);
        r->op = NULL;
    }
    /* Resuming lets libmicrohttpd find the closed socket and complete the request. */
    r->state = REQ_CLIENT_LEFT;
    r->srv->suspended--;
    srv_resume(r->srv, r->conn);
}

void srv_resume(struct srv *s, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    srv_http_wake(s);
}

void srv_http_wake(struct srv *s)
{
    s->resumed = true;
    eng_timer_start(s->loop, &s->mhd_timer, 0);
}

void srv_suspend(struct srv_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    MHD_suspend_connection(r->conn);
    r->state = REQ_WAITING;
    r->srv->suspended++;
    if (ci) {
        http_conn_step_aside(r->srv->conns, r->conn);
        eng_watch_init(&r->gone, ci->connect_fd, client_gone);
        int rc = eng_watch_set(r->srv->loop, &r->gone, EPOLLRDHUP);
        if (rc < 0)
            log_line(r->srv->cfg, "cannot watch a waiting client for its leaving (%s): its "
                                  "wait runs to its end", strerror(-rc));
    }
}

/* True when the client's end of stream (or a reset) waits on its connection: it has left,
 * though its leaving may not have been seen yet, when the engine answers in the same turn
 * (the bytes and the hang-up arrived together). */
static bool client_has_left(const struct srv_req *r)
{
    if (r->gone.fd < 0)
        return false;
    struct pollfd p = {.fd = r->gone.fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void srv_answer_later(void *ctx, struct eng_list *list)
{
    struct srv_req *r = ctx;
    r->op = NULL;
    r->answer = list;
    eng_watch_set(r->srv->loop, &r->gone, 0);
    bool waited = r->state == REQ_WAITING;
    r->state = list ? REQ_ANSWER_READY : REQ_OUT_OF_MEMORY;
    /* Writing the answer into a connection its client has closed would succeed, and the
     * bytes read for it be lost: it stays unsent, and request_completed gives it back. */
    if (waited && list && client_has_left(r))
        r->state = REQ_CLIENT_LEFT;
    if (waited) {
        r->srv->suspended--;
        srv_resume(r->srv, r->conn);
    }
}

/* Copies what fits of src, NUL-terminated: snprintf("%s") would cost more than the rest of
 * the first call of the handler. */
static size_t copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

_Static_assert(sizeof(((struct srv_req *)0)->path) <= 256, "path_len is a uint8_t");

/* First call of the handler: headers only. Answering here would close the connection. */
static struct srv_req *request_begin(struct srv *s, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version)
{
    struct srv_req *r = s->spare_req;
    s->spare_req = NULL;
    if (!r && !(r = malloc(sizeof(*r))))
        return NULL;
    /* Cleared up to its texts and reply room, which are written before they are read. */
    memset(r, 0, offsetof(struct srv_req, method));
    r->srv = s;
    r->conn = conn;
    r->state = REQ_RECEIVING;
    r->start_ms = s->run_ms;
    r->ok_status = 200;
    r->method_len = (uint8_t)copy_text(r->method, sizeof(r->method), method);
    copy_text(r->version, sizeof(r->version), version);
    r->path_len = (uint8_t)copy_text(r->path, sizeof(r->path), url);
    eng_watch_init(&r->gone, -1, client_gone);
    s->active_requests++;
    return r;
}

/* A piece of the body: kept up to --max-body, then read and dropped, so that the 413
 * can be delivered. Returns MHD_NO only when memory ran out. */
static enum MHD_Result request_body(struct srv_req *r, const char *data, size_t n)
{
    size_t need = eng_size_add(eng_size_add(r->body_len, n), 1);
    if (r->state == REQ_TOO_LARGE || need - 1 > r->srv->cfg->max_body) {
        r->state = REQ_TOO_LARGE;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return MHD_YES;
    }
    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < need)
            cap = eng_size_mul(cap, 2);
        char *nb = realloc(r->body, cap);
        if (!nb)
            return MHD_NO;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return MHD_YES;
}

/* True when key (key_size bytes) is `lower`, a word of lower-case letters, in any case: a
 * letter with 0x20 set is its lower case, and nothing else is. Every request's every
 * header is checked: this costs no call. */
static bool name_is(const char *key, size_t key_size, const char *lower, size_t n)
{
    if (key_size != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((key[i] | 0x20) != lower[i])
            return false;
    return true;
}

/* The first of each of Origin, Host and ?node= (as MHD_lookup_connection_value finds it:
 * names without regard to case, NULL for an argument without a value). */
static enum MHD_Result note_head(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)value_size;
    struct srv_req *r = cls;
    const char **slot = NULL;
    unsigned bit = 0;
    if (kind == MHD_GET_ARGUMENT_KIND) {
        if (name_is(key, key_size, "node", 4))
            slot = &r->node_arg, bit = 1;
    } else if (name_is(key, key_size, "origin", 6)) {
        slot = &r->origin, bit = 2;
    } else if (name_is(key, key_size, "host", 4)) {
        slot = &r->host, bit = 4;
    }
    if (slot && !(r->heads_seen & bit)) {
        *slot = value;
        r->heads_seen |= bit;
    }
    return MHD_YES;
}

/* One walk over the headers and arguments for the three every request is checked by,
 * instead of a look-up (a walk) each. */
static void request_heads(struct srv_req *r)
{
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, note_head, r);
}

/* The request is whole: what every request passes (shutdown, connection limits, CORS,
 * body size), then routing. */
static enum MHD_Result request_dispatch(struct srv_req *r, const char *method, const char *url)
{
    struct srv *s = r->srv;
    if (s->stopping)
        return srv_reply_error(r, 503, routes_endpoint_name(method, url), ENG_ESHUTDOWN, NULL);
    const char *why;
    if (http_conn_over_limit(s->conns, r->conn, &why))
        return srv_reply_error(r, 429, "request", ENG_ELIMIT, why);
    request_heads(r);
    enum MHD_Result ret;
    if (!cors_admit(r, method, &ret))
        return ret;
    if (r->state == REQ_TOO_LARGE) {
        char detail[96];
        snprintf(detail, sizeof(detail), "the request body is larger than the %zu bytes allowed",
                 s->cfg->max_body);
        return srv_reply_error(r, 413, routes_endpoint_name(method, url), ENG_ELIMIT, detail);
    }
    return routes_handle(r, method, url);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct srv_req *r = *con_cls;
    if (!r) {
        *con_cls = request_begin(cls, conn, url, method, version);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return request_body(r, upload_data, n);
    }
    if (r->resume_with && (r->state == REQ_ANSWER_READY || r->state == REQ_OUT_OF_MEMORY)) {
        /* A step of its own comes next (websockify's upgrade after its connect). */
        enum MHD_Result (*resume)(struct srv_req *) = r->resume_with;
        r->resume_with = NULL;
        return resume(r);
    }
    switch (r->state) {
    case REQ_RECEIVING:
    case REQ_TOO_LARGE:
        return request_dispatch(r, method, url);
    case REQ_ANSWER_READY: {
        struct eng_list *l = r->answer;
        r->answer = NULL;
        return srv_reply_list(r, l);
    }
    case REQ_CLIENT_LEFT:
        /* Resumed only so that libmicrohttpd finds the socket closed. nginx's 499
         * "client closed request" is what the access log shows for it. */
        return srv_reply_error(r, 499, "request", -ECANCELED, "the client went away");
    case REQ_OUT_OF_MEMORY:
        return srv_reply_error(r, 500, "request", -ENOMEM, NULL);
    case REQ_WAITING:
    case REQ_ANSWERED:
        break;
    }
    return MHD_YES;
}

/* A completed request's memory is kept for the next to begin: a malloc and a free per
 * request cost more than all of its access line's numbers. Not under AddressSanitizer,
 * which must see each request's memory freed to catch a use after it. */
static void keep_spare(struct srv *s, struct srv_req *r)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)s;
    free(r);
#else
    if (s->spare_req)
        free(r);
    else
        s->spare_req = r;
#endif
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct srv *s = cls;
    struct srv_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    eng_watch_set(s->loop, &r->gone, 0);
    /* A wait or an event stream watched the socket itself (http_conn.h). */
    http_conn_watch_again(s->conns, conn);
    if (r->op)
        eng_op_cancel(s->eng, r->op);
    if (r->delivering) {
        /* Data whose response did not go out whole goes back to its socket. */
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            eng_give_back(s->eng, r->delivering);
        else
            eng_list_free(r->delivering);
    }
    if (r->answer) {
        /* An answer that was never sent: its data, too, goes back. */
        eng_give_back(s->eng, r->answer);
    }
    ws_request_completed(r);
    if (r->state == REQ_WAITING)
        s->suspended--;
    s->active_requests--;
    if (r->state == REQ_ANSWERED)
        metrics_count_status(s->metrics, r->status);
    if (r->state == REQ_ANSWERED || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_access(r);
    free(r->body);
    keep_spare(s, r);
}

/* libmicrohttpd's own messages ("Closing connection (application error generating
 * response).") go through the log, so that they take its format: JSON lines stay JSON. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Behind the HTTPS listener every connection is a socketpair, which has no TCP
     * options to set: libmicrohttpd's complaints about them say nothing. */
    const struct cfg *cfg = cls;
    if (cfg->tls_cert[0] && (strncmp(msg, "Setting TCP_", 12) == 0 ||
                             strncmp(msg, "Failed to push the data", 23) == 0))
        return;
    log_line(cls, "libmicrohttpd: %s", msg);
}

/* Runs the daemon's pending work, then plans its next run: at once when a handler
 * resumed a connection meanwhile (MHD_run has not seen that yet), else at its own
 * timeout (a connection's idle limit, or 0 when it holds data it has not processed). */
static void mhd_drive(struct srv *s)
{
    s->resumed = false;
    s->run_ms = eng_now_ms();
    MHD_run(s->mhd);
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (!s->resumed && MHD_get_timeout(s->mhd, &t) != MHD_YES) {
        eng_timer_stop(s->loop, &s->mhd_timer);
        return;
    }
    eng_timer_start(s->loop, &s->mhd_timer, t ? eng_now_ms() + t : 0);
}

static void mhd_ready(struct eng_watch *w, uint32_t events)
{
    (void)events;
    mhd_drive((struct srv *)((char *)w - offsetof(struct srv, mhd_watch)));
}

static void mhd_due(struct eng_timer *t)
{
    mhd_drive((struct srv *)((char *)t - offsetof(struct srv, mhd_timer)));
}

/* libmicrohttpd's panic aborts the process: its reason must reach the log first, which
 * is buffered (log.h). */
static void mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    log_line(cls, "libmicrohttpd panic at %s:%u: %s", file ? file : "?", line,
             reason ? reason : "no reason given");
    fflush(stderr);
    abort();
}

int srv_http_start(struct srv *s)
{
    const struct cfg *cfg = s->cfg;
    /* The connections the descriptors leave room for (lifecycle.c) cap both limits: the
     * last eighth of them (256 at most) is kept to answer the ones beyond 429. */
    unsigned fd_cap = s->http_fds - (s->http_fds / 8 < 256 ? s->http_fds / 8 : 256);
    unsigned max_total = cfg->max_connections && cfg->max_connections < fd_cap
                             ? cfg->max_connections : fd_cap;
    s->conns = http_conns_new(s->loop, max_total, cfg->max_connections_per_ip);
    if (!s->conns)
        return -1;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    /* With HTTPS the TLS listener accepts and hands over plaintext (tls_listener.h). */
    if (cfg->tls_cert[0])
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    if (cfg->listen_addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The hard cap sits above the limit so that the connections beyond it can still be
     * told 429 (see connlimit.h). */
    unsigned hard_cap = s->http_fds;
    MHD_set_panic_func(mhd_panic, (void *)s->cfg);
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, s,
        /* First, as libmicrohttpd asks, so that no message escapes it. */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)s->cfg,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cfg->listen_addr,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)hard_cap,
        MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, s->conns,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        /* libmicrohttpd 0.9.75 zeroes a connection's whole pool when a keep-alive request
         * ends, so all of it stays resident: the pool is what a waiting recv costs. Twice
         * the head, and 4 KiB, holds a head of --max-header-size in up to 100 lines (the
         * read buffer starts at half the pool; each header line takes a record). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(2 * cfg->max_header_size + 4096),
        MHD_OPTION_END);
    if (!s->mhd) {
        fprintf(stderr, "sockgate: cannot listen on %s: %s\n", cfg->listen,
                errno ? strerror(errno) : "libmicrohttpd failed to start");
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di) {
        fprintf(stderr, "sockgate: libmicrohttpd gave no epoll fd\n");
        return -1;
    }
    eng_timer_init(&s->mhd_timer, mhd_due);
    eng_watch_init(&s->mhd_watch, di->epoll_fd, mhd_ready);
    if (eng_watch_set(s->loop, &s->mhd_watch, EPOLLIN) < 0) {
        fprintf(stderr, "sockgate: cannot watch the HTTP daemon\n");
        return -1;
    }
    return 0;
}

void srv_http_drain(struct srv *s, uint64_t deadline_ms)
{
    while (s->mhd && s->active_requests > 0) {
        uint64_t now = eng_now_ms();
        if (now >= deadline_ms)
            break;
        s->run_ms = now;
        MHD_run(s->mhd);
        if (s->active_requests == 0)
            break;
        /* The daemon's own epoll fd says when there is more to do; a resume made by the
         * run above has no descriptor, hence the short wait. */
        struct pollfd p = {.fd = s->mhd_watch.fd, .events = POLLIN};
        uint64_t left = deadline_ms - now;
        poll(&p, 1, left < 20 ? (int)left : 20);
    }
}

void srv_http_run_now(struct srv *s)
{
    mhd_drive(s);
}

void srv_http_kick(struct srv *s)
{
    eng_timer_start(s->loop, &s->mhd_timer, 0);
}

void srv_http_stop(struct srv *s)
{
    if (s->mhd) {
        eng_watch_set(s->loop, &s->mhd_watch, 0);
        eng_timer_stop(s->loop, &s->mhd_timer);
        s->run_ms = eng_now_ms(); /* the requests it ends are logged */
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    free(s->spare_req);
    s->spare_req = NULL;
    /* Also when the daemon never started (the port was taken): it was made first. */
    http_conns_free(s->conns);
    s->conns = NULL;
}
