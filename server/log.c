/*
 * Log lines (see log.h). Each line is written with one fprintf so lines never interleave.
 * stderr is fully buffered and flushed from the loop (log_flush_start).
 */
#include "log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "render.h"

/* The date and time down to the second, formatted once per second: every access line
 * needs one, and gmtime_r + strftime cost more than the rest of the line. One thread
 * writes the log, so a static cache is safe. */
static time_t cached_sec = -1;
static char cached_text[24];

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        if (strftime(cached_text, sizeof(cached_text), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            cached_text[0] = '\0';
        cached_sec = ts.tv_sec;
    }
    size_t n = strlen(cached_text);
    if (len < n + 6) {
        buf[0] = '\0';
        return;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
    memcpy(buf, cached_text, n);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    buf[n + 2] = (char)('0' + ms / 10 % 10);
    buf[n + 3] = (char)('0' + ms % 10);
    buf[n + 4] = 'Z';
    buf[n + 5] = '\0';
}

#define LOG_FLUSH_MS 50
/* The most of a request's method and path an access line shows. */
#define LOG_METHOD_MAX (sizeof(((struct srv_req *)0)->method) - 1)
#define LOG_PATH_MAX 255

void log_buffer_stderr(void)
{
    /* Lines collect here until the flush timer below, a full buffer, or exit. */
    static char buf[1 << 16];
    setvbuf(stderr, buf, _IOFBF, sizeof(buf));
}

static void flush_due(struct eng_timer *t)
{
    (void)t;
    fflush(stderr);
}

/* Before the loop sleeps: lines are waiting and no flush is planned, so plan one. */
static void plan_flush(struct eng_hook *h)
{
    struct srv *s = (struct srv *)((char *)h - offsetof(struct srv, log_hook));
    if (__fpending(stderr) > 0 && !eng_timer_armed(&s->log_timer))
        eng_timer_start(s->loop, &s->log_timer, eng_now_ms() + LOG_FLUSH_MS);
}

void log_flush_start(struct srv *s)
{
    eng_timer_init(&s->log_timer, flush_due);
    eng_hook_init(&s->log_hook, plan_flush);
    eng_loop_add_before_sleep(s->loop, &s->log_hook);
}

void log_flush_stop(struct srv *s)
{
    eng_loop_remove_before_sleep(s->loop, &s->log_hook);
    eng_timer_stop(s->loop, &s->log_timer);
    fflush(stderr);
}

void log_line(const struct cfg *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vline(cfg, fmt, ap);
    va_end(ap);
}

void log_vline(const struct cfg *cfg, const char *fmt, va_list ap)
{
    char msg[1024], ts[40];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One line each, whatever the message held: libmicrohttpd's end in a newline and may
     * quote a client's path, so control bytes and bytes beyond ASCII (not always UTF-8,
     * which a JSON line must be) are blanked as in the access log. */
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
            msg[i] = ' ';
    timestamp(ts, sizeof(ts));
    if (cfg->log_json) {
        char esc[6 * sizeof(msg) + 1];
        esc[render_json_escape(msg, len, esc)] = '\0';
        fprintf(stderr, "{\"time\":\"%s\",\"msg\":\"%s\"}\n", ts, esc);
    } else {
        fprintf(stderr, "%s sockgate: %s\n", ts, msg);
    }
}

/* HOST:PORT as given, with the port the kernel gave: --listen 127.0.0.1:0 asks for any. */
static void listen_address(const char *given, unsigned port, char *out, size_t len)
{
    const char *colon = strrchr(given, ':');
    int host_len = colon ? (int)(colon - given) : (int)strlen(given);
    snprintf(out, len, "%.*s:%u", host_len, given, port);
}

void log_startup(const struct srv *s, bool token_generated, unsigned port)
{
    const struct cfg *cfg = s->cfg;
    char policy[1024];
    eng_policy_describe(s->policy, policy, sizeof(policy));
    const char *scheme = cfg->tls_cert[0] ? "https" : "http";
    char bound[160];
    listen_address(cfg->listen, port, bound, sizeof(bound));
    log_line(cfg, "listening on %s://%s (max wait %gs, up to %zu sockets)", scheme, bound,
             cfg->max_wait, cfg->max_sockets);
    if (!cfg->listen_loopback && !cfg->tls_cert[0])
        log_line(cfg, "warning: listening beyond loopback without TLS: tokens and data travel "
                 "in clear; give --tls-cert and --tls-key to serve HTTPS");
    log_line(cfg, "policy: %s; bind: %s", policy,
             cfg->allow_bind ? "any local address" : "loopback only, ports from 1024");
    const char *auth = cfg->ntokens ? (token_generated ? "generated token" : "token required")
                                    : "none (loopback only or --no-auth)";
    log_line(cfg, "auth: %s", auth);
    /* A wildcard address is no place to browse to: show this machine's loopback. */
    char where[160];
    if (strncmp(cfg->listen, "0.0.0.0:", 8) == 0 || strncmp(cfg->listen, "[::]:", 5) == 0 ||
        strncmp(cfg->listen, "*:", 2) == 0 || cfg->listen[0] == ':')
        snprintf(where, sizeof(where), "127.0.0.1:%u", port);
    else
        snprintf(where, sizeof(where), "%s", bound);
    /* The generated token must reach the person who started the server, once. */
    if (token_generated)
        log_line(cfg, "console: %s://%s/?token=%s", scheme, where, cfg->tokens[0]);
    else
        log_line(cfg, "console: %s://%s/", scheme, where);
}

/* The bytes log_safe_copy replaces: a table, not four comparisons a byte, since every
 * access line copies its path through it. */
static const bool log_unsafe[256] = {
    [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true, [0x7f ... 0xff] = true,
};

/* Copies client-given text for a log line: control bytes (a terminal escape, a line
 * break), DEL, bytes beyond ASCII (not always UTF-8) and the quote and backslash that
 * would end or escape a quoted field all become '_', so a line keeps its format, JSON
 * included. */
static void log_safe_copy(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && n < size - 1; p++)
        dst[n++] = log_unsafe[*p] ? '_' : (char)*p;
    dst[n] = '\0';
}

/* Appends n bytes of s to line[*o], as many as fit in cap. */
static void put_bytes(char *line, size_t *o, size_t cap, const char *s, size_t n)
{
    if (n > cap - *o)
        n = cap - *o;
    memcpy(line + *o, s, n);
    *o += n;
}

static void put_str(char *line, size_t *o, size_t cap, const char *s)
{
    put_bytes(line, o, cap, s, strlen(s));
}

/* Appends up to max bytes of client-given text, made safe as log_safe_copy makes it: the
 * text line takes them straight from the request, with no copy in between. */
static void put_safe(char *line, size_t *o, size_t cap, const char *s, size_t max)
{
    size_t n = *o, end = cap - n < max ? cap : n + max;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < end; p++)
        line[n++] = log_unsafe[*p] ? '_' : (char)*p;
    *o = n;
}

static void put_number(char *line, size_t *o, size_t cap, unsigned long long v)
{
    char digits[24];
    size_t n = 1;
    for (unsigned long long rest = v / 10; rest; rest /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10)
        digits[i] = (char)('0' + v % 10);
    put_bytes(line, o, cap, digits, n);
}

/* TIME CLIENT "METHOD PATH" STATUS DURATIONms BYTES, assembled by hand and written with
 * one fwrite: at tens of thousands of requests a second, fprintf's reading of the
 * format cost more than the rest of the access path of a small command. method and path
 * are the client's text as it came, made safe as they are written (put_safe). */
static void write_text_line(const char *ts, const char *client, const char *method,
                            const char *path, int status, unsigned long long ms, size_t bytes)
{
    char line[512];
    size_t o = 0, cap = sizeof(line) - 1;
    put_str(line, &o, cap, ts);
    put_bytes(line, &o, cap, " ", 1);
    put_str(line, &o, cap, client);
    put_bytes(line, &o, cap, " \"", 2);
    put_safe(line, &o, cap, method, LOG_METHOD_MAX);
    put_bytes(line, &o, cap, " ", 1);
    put_safe(line, &o, cap, path, LOG_PATH_MAX);
    put_bytes(line, &o, cap, "\" ", 2);
    if (status < 0)
        put_bytes(line, &o, cap, "-", 1);
    put_number(line, &o, cap, (unsigned long long)(status < 0 ? -(long long)status : status));
    put_bytes(line, &o, cap, " ", 1);
    put_number(line, &o, cap, ms);
    put_bytes(line, &o, cap, "ms ", 3);
    put_number(line, &o, cap, bytes);
    line[o++] = '\n';
    fwrite_unlocked(line, 1, o, stderr); /* one thread writes the log */
}

/* The client's address as the access log writes it. The port is not logged, so the text
 * depends on the address alone, and the last one is remembered (one thread logs): most
 * lines come from the same few clients. */
static const char *client_text(const struct sockaddr *sa)
{
    static struct sockaddr_storage last; /* AF_UNSPEC until an address is formatted */
    static char text[64];
    void *known;
    const void *addr;
    size_t alen;
    if (sa->sa_family == AF_INET) {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
        known = &((struct sockaddr_in *)&last)->sin_addr;
        alen = sizeof(struct in_addr);
    } else if (sa->sa_family == AF_INET6) {
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        known = &((struct sockaddr_in6 *)&last)->sin6_addr;
        alen = sizeof(struct in6_addr);
    } else {
        return "-";
    }
    if (last.ss_family == sa->sa_family && memcmp(addr, known, alen) == 0)
        return text;
    char port[8];
    if (eng_addr_format(sa, text, sizeof(text), port, sizeof(port)) < 0) {
        last.ss_family = AF_UNSPEC;
        return "-";
    }
    last.ss_family = sa->sa_family;
    memcpy(known, addr, alen);
    return text;
}

void log_access(const struct srv_req *r, const char *method, const char *url)
{
    const struct cfg *cfg = r->srv->cfg;
    if (cfg->quiet)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *client = ci && ci->client_addr ? client_text(ci->client_addr) : "-";
    /* The lines of one run of the daemon share its clock (server.h, run_ms): their time is
     * read once a run, as nginx reads it once an event loop turn. */
    static uint64_t stamped_run = UINT64_MAX;
    static char ts[40];
    uint64_t run_ms = r->srv->run_ms;
    if (run_ms != stamped_run) {
        timestamp(ts, sizeof(ts));
        stamped_run = run_ms;
    }
    unsigned long long ms = run_ms - r->start_ms;
    /* libmicrohttpd hands the path without its query string, so no ?token= can leak. The
     * method is the client's too: libmicrohttpd takes any bytes up to the first space. */
    if (!cfg->log_json) {
        write_text_line(ts, client, method, url, r->status, ms, r->bytes_out);
        return;
    }
    char path[LOG_PATH_MAX + 1], meth[LOG_METHOD_MAX + 1];
    log_safe_copy(path, sizeof(path), url);
    log_safe_copy(meth, sizeof(meth), method);
    fprintf(stderr,
            "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
            "\"status\":%d,\"duration_ms\":%llu,\"bytes\":%zu}\n",
            ts, client, meth, path, r->status, ms, r->bytes_out);
}
