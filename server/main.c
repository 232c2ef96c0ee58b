/*
 * sockgate's entry point: read the settings, raise the open-file limit, build the engine
 * and the HTTP daemon on one event loop, and run it until SIGTERM or SIGINT. Shutdown
 * answers every wait (CLOSED), closes every socket, lets the answers go out, exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
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
#include "policy.h"
#include "server.h"

#define SHUTDOWN_GRACE_MS 3000
#define LOG_FLUSH_MS 50

static bool stop_requested;

static void signal_ready(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct signalfd_siginfo si;
    while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        stop_requested = true;
}

/* Thousands of sockets need thousands of descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

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
    eng_close_idle(s->eng, eng_wall_ms() - (int64_t)(period * 1000), idle_closed, s);
    uint64_t step = (uint64_t)(period * 250);
    eng_timer_start(s->loop, t, eng_now_ms() + (step < 100 ? 100 : step > 1000 ? 1000 : step));
}

/* The log is buffered (see main): lines go out when the buffer fills, or at most
 * LOG_FLUSH_MS after they were written, as nginx's access_log buffer=/flush= does. A
 * write per loop turn, let alone per line, cost a tenth of a small command's time.
 * Flushes when due; returns the loop's wait `t`, shortened to the next flush. */
static int flush_log(uint64_t *due, int t)
{
    if (__fpending(stderr) == 0) {
        *due = 0;
        return t;
    }
    uint64_t now = eng_now_ms();
    if (*due == 0)
        *due = now + LOG_FLUSH_MS;
    if (now >= *due) {
        fflush(stderr);
        *due = 0;
        return t;
    }
    int left = (int)(*due - now);
    return t < 0 || t > left ? left : t;
}

static int run_loop(struct srv *s, int sigfd)
{
    eng_timer_init(&s->idle_timer, idle_sweep);
    if (s->cfg->idle_timeout > 0)
        eng_timer_start(s->loop, &s->idle_timer, eng_now_ms() + 100);
    struct eng_watch sigwatch;
    eng_watch_init(&sigwatch, sigfd, signal_ready);
    eng_watch_set(s->loop, &sigwatch, EPOLLIN);
    uint64_t deadline = 0, log_due = 0;
    for (;;) {
        if (stop_requested && !s->stopping) {
            /* Answer every wait and close every socket; new requests get 503. */
            s->stopping = true;
            log_line(s->cfg, "shutting down: closing %zu sockets", eng_socket_count(s->eng, -1));
            eng_close_all(s->eng, ENG_ESHUTDOWN);
            events_end_streams(s->events);
            deadline = eng_now_ms() + SHUTDOWN_GRACE_MS;
        }
        if (s->stopping && (s->active_requests == 0 || eng_now_ms() >= deadline))
            break;
        int t = srv_http_timeout(s);
        int rt = eng_resolver_timeout(s->eng);
        if (rt >= 0 && (t < 0 || rt < t))
            t = rt;
        if (s->stopping && (t < 0 || t > 50))
            t = 50;
        t = eng_loop_next_timeout(s->loop, t);
        t = flush_log(&log_due, t);
        if (eng_loop_run_once(s->loop, t) < 0)
            return -1;
        if (rt >= 0)
            eng_resolver_tick(s->eng);
        srv_http_run(s);
        eng_collect(s->eng);
    }
    eng_watch_set(s->loop, &sigwatch, 0);
    eng_timer_stop(s->loop, &s->idle_timer);
    return 0;
}

int main(int argc, char **argv)
{
    /* Log lines (the access log above all) collect in a buffer that run_loop flushes
     * within LOG_FLUSH_MS; stdio flushes what is left at exit. */
    static char log_buf[1 << 16];
    setvbuf(stderr, log_buf, _IOFBF, sizeof(log_buf));
    struct cfg cfg;
    int rc = cfg_load(&cfg, argc, argv);
    if (rc != 0) {
        cfg_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    default_web_dir(&cfg);
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    struct srv s = {.cfg = &cfg};
    bool generated = false;
    int exit_code = 1;
    s.policy = build_policy(&cfg);
    if (!s.policy || ensure_token(&cfg, &generated) < 0 || sigfd < 0)
        goto out;
    s.loop = eng_loop_new(cfg.max_waits + 1024);
    struct eng_config ec = {
        .node = cfg.node,
        .max_wait = cfg.max_wait,
        .max_sockets = cfg.max_sockets,
        .max_sockets_per_owner = cfg.max_sockets_per_token,
        .max_waits = cfg.max_waits,
        .allow_bind_any = cfg.allow_bind,
        .policy = s.policy,
    };
    s.eng = s.loop ? eng_new(s.loop, &ec) : NULL;
    s.metrics = metrics_new();
    s.events = s.eng ? events_new(&s, cfg.event_buffer) : NULL;
    if (!s.eng || !s.metrics || !s.events) {
        fprintf(stderr, "sockgate: cannot start the engine\n");
        goto out;
    }
    if (srv_http_start(&s) < 0)
        goto out;
    log_startup(&s, generated);
    if (run_loop(&s, sigfd) == 0)
        exit_code = 0;
out:
    srv_http_stop(&s);
    /* The engine first: closing its sockets ends any background operation still armed
     * (run_loop left early), and that last answer is published to the events. */
    eng_free(s.eng);
    events_free(s.events);
    metrics_free(s.metrics);
    eng_loop_free(s.loop);
    eng_policy_free(s.policy);
    if (sigfd >= 0)
        close(sigfd);
    if (exit_code == 0)
        log_line(&cfg, "stopped");
    cfg_free(&cfg);
    return exit_code;
}
