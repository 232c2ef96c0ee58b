/*
 * The HTTP side's shared structures: the server (daemon, engine, settings) and one
 * in-flight request. Names here carry the srv_ prefix.
 */
#ifndef SOCKGATE_SERVER_H
#define SOCKGATE_SERVER_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "engine.h"
#include "loop.h"

struct events;
struct metrics;
struct http_conns;
struct tlsl;
struct static_files;
struct ws_hub;
struct ws_pending;
struct websockify;

struct srv {
    struct cfg *cfg;                 /* settings */
    struct eng_loop *loop;           /* the one event loop */
    struct eng *eng;                 /* the socket engine */
    struct eng_policy *policy;       /* destination policy */
    struct MHD_Daemon *mhd;          /* the HTTP daemon, run from the loop */
    struct eng_watch mhd_watch;      /* the daemon's epoll fd in our set */
    struct eng_timer mhd_timer;      /* the daemon's own timeout, or now after a resume */
    struct events *events;           /* event streams per credential */
    uint64_t boot_base;              /* this start's first socket and event ids follow it */
    struct metrics *metrics;         /* counters for /metrics */
    struct http_conns *conns;        /* per HTTP connection: counts, end of stream */
    struct tlsl *tlsl;               /* the HTTPS listener in front of the daemon, or NULL */
    struct static_files *files;      /* the console's files, read at start */
    unsigned http_fds;               /* HTTP connections the open-file limit leaves room for */
    size_t socket_fds;               /* sockets it leaves room for */
    struct eng_timer idle_timer;     /* closes unused sockets (--idle-timeout) */
    struct eng_watch signal_watch;   /* SIGTERM/SIGINT as a descriptor */
    struct eng_hook log_hook;        /* plans the log flush before the loop sleeps */
    struct eng_timer log_timer;      /* the planned log flush */
    struct eng_hook drained_hook;    /* shutting down: ends the loop when requests are done */
    struct eng_timer grace_timer;    /* shutting down: ends it anyway after a grace period */
    struct ws_hub *ws;               /* WebSocket bridges (ws_bridge.c) */
    struct websockify *websockify;   /* websockify targets, or NULL (websockify.c) */
    bool stopping;                   /* shutting down: new requests get 503 */
    unsigned active_requests;        /* requests begun and not completed */
    unsigned suspended;              /* requests waiting on the engine */
    bool resumed;                    /* a connection was resumed during MHD_run */
    uint64_t run_ms;                 /* when the daemon's current run began (eng_now_ms): the
                                      * access log's clock, read once a run, not per request */
    struct srv_req *spare_req;       /* a completed request's memory, for the next to begin */
};

/* Where a request is, from the first call of the access handler to its completion. */
enum srv_req_state {
    REQ_RECEIVING,                   /* headers seen; the body, if any, arriving */
    REQ_TOO_LARGE,                   /* the body passed --max-body: read and dropped, 413 */
    REQ_WAITING,                     /* suspended until the engine answers (op) */
    REQ_ANSWER_READY,                /* the engine answered while it waited: answer */
    REQ_CLIENT_LEFT,                 /* the client hung up while it waited: 499 */
    REQ_OUT_OF_MEMORY,               /* the engine could not build the answer: 500 */
    REQ_ANSWERED,                    /* a response is queued (an event stream included) */
};

/* One HTTP request, from the first call of the access handler to its completion. */
struct srv_req {
    struct srv *srv;                 /* the server */
    struct MHD_Connection *conn;     /* its connection */
    enum srv_req_state state;        /* its progress */
    char *body;                      /* request body, NUL-terminated */
    size_t body_len;                 /* bytes in body */
    size_t body_cap;                 /* bytes allocated */
    struct eng_op *op;               /* the command it waits on, or NULL */
    struct eng_list *answer;         /* a late answer to send on resume */
    enum codec_encoding enc;         /* encoding of the answer's data */
    bool raw_answer;                 /* an ok receive answers its bytes (raw_bytes.h) */
    int ok_status;                   /* status of an ok answer: 200, 201 or 202 */
    struct eng_watch gone;           /* notices the client leaving while suspended */
    struct eng_list *delivering;     /* an answer with data on its way: given back if lost */
    uint64_t start_ms;               /* for the access log */
    const char *origin;              /* its Origin header, Host header and ?node= argument */
    const char *host;                /* (NULL: none), found in one pass over what */
    const char *node_arg;            /* libmicrohttpd parsed: see request_heads */
    unsigned heads_seen;             /* which of the three request_heads has found */
    int status;                      /* the status sent, for the access log */
    size_t bytes_out;                /* the body size sent, for the access log */
    struct ws_pending *ws;           /* becoming a WebSocket: owned by ws_upgrade.c */
    /* Called instead of the usual answer when a suspended request resumes. */
    enum MHD_Result (*resume_with)(struct srv_req *r);
    /* Last, and not cleared when a request begins: its texts, which it copies at once,
     * and room for a small answer's JSON, which its response points into (it lives until
     * request_completed, after the response is done with it). */
    char method[12];                 /* for the access log */
    char version[12];                /* "HTTP/1.1", for the WebSocket handshake */
    char path[200];                  /* for the access log, without the query */
    uint8_t method_len, path_len;    /* their lengths, known from the copying */
    char reply[256];
};

/* How a response goes out. Every response is queued through srv_queue, which adds what
 * all share (nosniff, the --cors origin, Connection: close past a limit) and records the
 * status and size for the access log. */
struct srv_resp_opts {
    const char *content_type;        /* NULL: none */
    const char *cache;               /* Cache-Control, or NULL: none */
    const char *const *extra;        /* more headers: name, value pairs, NULL-terminated */
    bool skip_cors;                  /* no --cors origin header: a preflight sets its own,
                                      * the console's files are for their own origin */
};
/* Queues resp (consumed; NULL gives MHD_NO) with `status`; `bytes` is the body size. */
enum MHD_Result srv_queue(struct srv_req *r, unsigned status, struct MHD_Response *resp,
                          const struct srv_resp_opts *o, size_t bytes);
/* Queues a JSON response. Takes ownership of body (malloc'd). Returns an MHD result. */
enum MHD_Result srv_reply(struct srv_req *r, unsigned status, char *body, size_t len,
                          const char *content_type);
/* The same, with extra headers: a NULL-terminated list of name, value pairs. */
enum MHD_Result srv_reply_headers(struct srv_req *r, unsigned status, char *body, size_t len,
                                  const char *content_type, const char *const *extra);
/* Queues an error list [name, "NAME: detail."] with `status`. */
enum MHD_Result srv_reply_error(struct srv_req *r, unsigned status, const char *name, int code,
                                const char *detail);
/* Queues an engine answer with the status its outcome calls for. Consumes list. */
enum MHD_Result srv_reply_list(struct srv_req *r, struct eng_list *list);

/* Suspends r until its command answers (srv_answer_later resumes it). */
void srv_suspend(struct srv_req *r);
/* Resumes a suspended connection. Always use this, not MHD_resume_connection: in
 * external-epoll mode libmicrohttpd has no wake-up of its own, so a resume (made by an
 * engine answer, or while MHD_run is on the stack: one request's handler answering
 * another's wait) would sit until some unrelated event; this runs the daemon on the
 * loop's next turn. */
void srv_resume(struct srv *s, struct MHD_Connection *conn);
/* Plans a run of the daemon on the next turn: for work it has been given outside MHD_run
 * (a resume, an upgraded connection given back). */
void srv_http_wake(struct srv *s);
/* eng_done_fn for a suspended request. */
void srv_answer_later(void *ctx, struct eng_list *list);

/* The HTTP status for an answer whose element 2 carries `code` (0 for ok). */
unsigned srv_status_for(int code, unsigned ok_status);

/* Routing: every request's final handler call ends here. */
enum MHD_Result routes_handle(struct srv_req *r, const char *method, const char *url);
/* The name element 1 carries when a request is refused before it runs: the command
 * ("recv"), "socket", "close", "sockets", "events", "metrics", or "request". */
const char *routes_endpoint_name(const char *method, const char *url);

/* GET /openapi.json: the API's description, built in (openapi.c). */
enum MHD_Result openapi_serve(struct srv_req *r);

/* The console's files (static.c): read once from `dir` at start (never NULL but on
 * allocation failure; a missing folder gives an empty set, logged), then served from
 * memory. */
struct static_files *static_load(const char *dir, const struct cfg *cfg);
void static_free(struct static_files *sf);
enum MHD_Result static_serve(struct srv_req *r, const char *url);

/* Builds the server on a new loop (lifecycle.c): policy, engine, events, metrics, the
 * HTTP daemon, signals. Returns 0, or -1 after printing why; srv_close cleans up either
 * way. Run the loop with srv_run in between: it ends after SIGTERM or SIGINT, once every
 * wait has been answered. */
int srv_open(struct srv *s, struct cfg *cfg);
/* Runs the loop. Returns 0 after a shutdown by signal. When the loop itself fails, logs
 * why, answers what is in flight as a shutdown does, and returns the loop's -errno. */
int srv_run(struct srv *s);
/* Every exit ends here: whatever has not been answered is, as SIGTERM does, before the
 * daemon stops; then everything is freed and the log flushed. */
void srv_close(struct srv *s);

/* Starts the daemon on the loop: it runs when its epoll fd is ready, when its own
 * timeout is due, and right after a resume; nothing else drives it. Returns 0 or -1
 * after printing why. */
int srv_http_start(struct srv *s);
/* Drives the daemon on its own, without the loop, until no request is in flight or the
 * deadline (eng_now_ms) passes: how answers still go out when the loop cannot run. */
void srv_http_drain(struct srv *s, uint64_t deadline_ms);
/* Stops the daemon, closing every connection and completing its request
 * (request_completed gives unsent data back). Call it with no connection suspended:
 * libmicrohttpd aborts on one (srv_close answers them first). */
void srv_http_stop(struct srv *s);
/* Runs the daemon now: the HTTPS listener has just handed it a request. */
void srv_http_run_now(struct srv *s);
/* Runs the daemon on the next loop turn: a connection was handed to it (HTTPS). */
void srv_http_kick(struct srv *s);

#endif
