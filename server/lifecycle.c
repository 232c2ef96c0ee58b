/*
 * The server's life: start-up (settings that need the machine, the policy, a generated
 * token, the loop with the engine, events, metrics and the HTTP daemon on it, the signal
 * watch) and shutdown (on SIGTERM or SIGINT: answer every wait CLOSED, close every
 * socket, end the event streams, let the answers go out, stop the loop). main.c calls
 * srv_open, runs the loop and calls srv_close; everything else happens from the loop.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "auth.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "policy.h"
#include "server.h"
#include "tls_listener.h"
#include "services.h"
#include "ws_upgrade.h"

#define SHUTDOWN_GRACE_MS 3000     /* the longest answers may take to go out at shutdown */
#define SRV_TIMERS 1024            /* timers armed outside the engine at once, at most */
#define FD_RESERVE 64              /* descriptors kept for the rest: listener, epoll, signals,
                                    * resolver, stdio */
#define HTTP_FD_MARGIN 256         /* HTTP connections beyond --max-connections, to answer 429 */

/* Thousands of sockets need thousands of descriptors: take the hard limit. Then share it
 * out, so that running short is a LIMIT answer, never EMFILE: sockets get what HTTP and
 * the reserve leave. HTTP connections get room for --max-connections and the margin that
 * lets the ones beyond be told 429, but at most half of what is left when the limit is
 * low, so that every waiting client can have its socket. Over HTTPS a connection costs
 * three descriptors: the client's and the socketpair to libmicrohttpd (tls_listener.c). */
static void plan_descriptors(struct srv *s)
{
    const struct cfg *cfg = s->cfg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                        ? (size_t)rl.rlim_cur : SIZE_MAX;
    size_t usable = nofile > FD_RESERVE ? nofile - FD_RESERVE : 0;
    size_t per_conn = cfg->tls_cert[0] ? 3 : 1;
    size_t http = cfg->max_connections ? (size_t)cfg->max_connections + HTTP_FD_MARGIN : usable;
    if (http > usable / 2 / per_conn)
        http = usable / 2 / per_conn;
    if (http > UINT_MAX)
        http = UINT_MAX;
    s->http_fds = (unsigned)http;
    s->socket_fds = usable - http * per_conn;
}

/* The console's files sit next to the binary (build/web beside build/sockgate). */
static void default_web_dir(struct cfg *cfg)
{
    if (cfg->web_dir[0])
        return;
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(cfg->web_dir, sizeof(cfg->web_dir), "%.490s/web", exe);
    } else {
        snprintf(cfg->web_dir, sizeof(cfg->web_dir), "web");
    }
}

static struct eng_policy *build_policy(const struct cfg *cfg)
{
    struct eng_policy *p = eng_policy_new(!cfg->listen_loopback);
    if (!p)
        return NULL;
    for (size_t i = 0; i < cfg->ndeny; i++)
        if (eng_policy_add(p, false, cfg->deny[i]) < 0) {
            fprintf(stderr, "sockgate: bad --deny '%s': want CIDR[:PORTS]\n", cfg->deny[i]);
            goto bad;
        }
    for (size_t i = 0; i < cfg->nallow; i++)
        if (eng_policy_add(p, true, cfg->allow[i]) < 0) {
            fprintf(stderr, "sockgate: bad --allow '%s': want CIDR[:PORTS]\n", cfg->allow[i]);
            goto bad;
        }
    return p;
bad:
    eng_policy_free(p);
    return NULL;
}

/* Listening beyond loopback with no token and no --no-auth: make one, as Jupyter does. */
static int ensure_token(struct cfg *cfg, bool *generated)
{
    *generated = false;
    if (cfg->listen_loopback || cfg->ntokens > 0 || cfg->no_auth)
        return 0;
    char tok[33];
    if (auth_generate_token(tok, sizeof(tok)) < 0 || !(cfg->tokens[0] = strdup(tok)))
        return -1;
    cfg->ntokens = 1;
    *generated = true;
    return 0;
}

static void idle_closed(void *ctx, int owner, const char *id)
{
    struct srv *s = ctx;
    char data[200];
    int n = snprintf(data, sizeof(data),
                     "[\"close\",\"TIMEDOUT: the socket was unused for %g s and was closed.\",\"%s\"]",
                     s->cfg->idle_timeout, id);
    events_publish(s->events, owner, "close", data, (size_t)n);
}

/* Closes sockets nobody has used for --idle-timeout, a few times per period. */
static void idle_sweep(struct eng_timer *t)
{
    struct srv *s = (struct srv *)((char *)t - offsetof(struct srv, idle_timer));
    double period = s->cfg->idle_timeout;
    uint64_t now = eng_now_ms(), idle_ms = (uint64_t)(period * 1000);
    if (now > idle_ms)
        eng_close_idle(s->eng, now - idle_ms, idle_closed, s);
    uint64_t step = (uint64_t)(period * 250);
    eng_timer_start(s->loop, t, eng_now_ms() + (step < 100 ? 100 : step > 1000 ? 1000 : step));
}

/* Shutting down, before each sleep: once every request has completed, the loop ends. */
static void stop_when_drained(struct eng_hook *h)
{
    struct srv *s = (struct srv *)((char *)h - offsetof(struct srv, drained_hook));
    if (s->active_requests == 0)
        eng_loop_stop(s->loop);
}

/* Shutting down, when the answers took longer than SHUTDOWN_GRACE_MS: end anyway. */
static void grace_over(struct eng_timer *t)
{
    struct srv *s = (struct srv *)((char *)t - offsetof(struct srv, grace_timer));
    eng_loop_stop(s->loop);
}

/* Answers every wait and closes every socket; new requests get 503. The loop keeps
 * running so that the answers go out. */
static void begin_shutdown(struct srv *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    log_line(s->cfg, "shutting down: closing %zu sockets", eng_socket_count(s->eng, -1));
    eng_close_all(s->eng, ENG_ESHUTDOWN);
    events_end_streams(s->events);
    eng_timer_start(s->loop, &s->grace_timer, eng_now_ms() + SHUTDOWN_GRACE_MS);
    eng_loop_add_before_sleep(s->loop, &s->drained_hook);
}

static void signal_ready(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct srv *s = (struct srv *)((char *)w - offsetof(struct srv, signal_watch));
    struct signalfd_siginfo si;
    bool got = false;
    while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            tlsl_reload(s); /* new certificates; nothing else reloads */
        else
            got = true;
    }
    if (got)
        begin_shutdown(s);
}

/* SIGTERM and SIGINT arrive through a descriptor on the loop rather than a handler. */
static int watch_signals(struct srv *s)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    eng_watch_init(&s->signal_watch, fd, signal_ready);
    return eng_watch_set(s->loop, &s->signal_watch, EPOLLIN);
}

/* The port listened on: the TLS listener's, or libmicrohttpd's own socket's. */
static unsigned listen_port(const struct srv *s)
{
    if (s->tlsl)
        return tlsl_port(s);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}

int srv_open(struct srv *s, struct cfg *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    eng_watch_init(&s->signal_watch, -1, signal_ready);
    eng_timer_init(&s->idle_timer, idle_sweep);
    eng_timer_init(&s->grace_timer, grace_over);
    eng_hook_init(&s->drained_hook, stop_when_drained);
    default_web_dir(cfg);
    plan_descriptors(s);
    /* Read here, not per request on the loop (services.h). */
    if (services_load(SERVICES_PATH) < 0)
        fprintf(stderr, "sockgate: cannot read %s: service names will not work as ports\n",
                SERVICES_PATH);
    bool generated = false;
    s->policy = build_policy(cfg);
    if (!s->policy || ensure_token(cfg, &generated) < 0)
        return -1;
    /* The server's own timers, the HTTPS handshakes' and the WebSocket bridges' share
     * these; the engine reserves its own, one per wait (eng_new). */
    s->loop = eng_loop_new(SRV_TIMERS);
    if (!s->loop)
        return -1;
    log_flush_start(s);
    s->boot_base = node_boot_base();
    struct eng_config ec = {
        .node = cfg->node,
        .first_id = s->boot_base + 1,
        .max_wait = cfg->max_wait,
        .max_sockets = cfg->max_sockets,
        .max_fd_sockets = s->socket_fds,
        .max_sockets_per_owner = cfg->max_sockets_per_token,
        .max_waits = cfg->max_waits,
        .allow_bind_any = cfg->allow_bind,
        .policy = s->policy,
        .tls_handshake_timeout = cfg->tls_handshake_timeout,
    };
    s->eng = eng_new(s->loop, &ec);
    s->metrics = metrics_new();
    s->files = static_load(cfg->web_dir, cfg);
    s->events = s->eng ? events_new(s, cfg->event_buffer) : NULL;
    if (!s->eng || !s->metrics || !s->files || !s->events) {
        fprintf(stderr, "sockgate: cannot start the engine\n");
        return -1;
    }
    /* SIGTERM must always work: without its watch the server does not start. */
    int rc = watch_signals(s);
    if (rc < 0) {
        fprintf(stderr, "sockgate: cannot watch SIGTERM and SIGINT: %s\n", strerror(-rc));
        return -1;
    }
    if (ws_start(s) < 0)
        return -1;
    if (srv_http_start(s) < 0 || (cfg->tls_cert[0] && tlsl_start(s) < 0))
        return -1;
    if (cfg->idle_timeout > 0)
        eng_timer_start(s->loop, &s->idle_timer, eng_now_ms() + 100);
    log_startup(s, generated, listen_port(s));
    log_line(cfg, "open files: room for %zu sockets and %u HTTP connections", s->socket_fds,
             s->http_fds);
    return 0;
}

int srv_run(struct srv *s)
{
    int rc = eng_loop_run(s->loop);
    if (rc < 0) {
        /* The loop cannot wait any more (epoll_wait failed): nothing new can be served,
         * but what is in flight is answered, as on SIGTERM, by driving the daemon alone. */
        log_line(s->cfg, "the event loop failed (epoll_wait: %s): answering what is in flight "
                         "and stopping", strerror(-rc));
        begin_shutdown(s);
        srv_http_drain(s, eng_now_ms() + SHUTDOWN_GRACE_MS);
    }
    return rc;
}

void srv_close(struct srv *s)
{
    if (s->mhd && !s->stopping) {
        /* An exit that did not come through a shutdown still answers every wait and ends
         * every stream: libmicrohttpd cannot stop with a connection suspended. */
        begin_shutdown(s);
        srv_http_drain(s, eng_now_ms() + SHUTDOWN_GRACE_MS);
    }
    if (s->loop) {
        eng_timer_stop(s->loop, &s->idle_timer);
        eng_timer_stop(s->loop, &s->grace_timer);
        eng_loop_remove_before_sleep(s->loop, &s->drained_hook);
        log_flush_stop(s);
    }
    ws_stop(s);
    tlsl_stop(s);
    srv_http_stop(s);
    /* The engine first: closing its sockets ends any background operation still armed
     * (the loop ended early), and that last answer is published to the events. */
    eng_free(s->eng);
    events_free(s->events);
    metrics_free(s->metrics);
    static_free(s->files);
    if (s->signal_watch.fd >= 0) {
        eng_watch_set(s->loop, &s->signal_watch, 0);
        close(s->signal_watch.fd);
    }
    eng_loop_free(s->loop);
    eng_policy_free(s->policy);
    services_free();
}
