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

/* Returns the length written (0 when buf is too small). */
static size_t timestamp(char *buf, size_t len)
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
        return 0;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
    memcpy(buf, cached_text, n);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    buf[n + 2] = (char)('0' + ms / 10 % 10);
    buf[n + 3] = (char)('0' + ms % 10);
    buf[n + 4] = 'Z';
    buf[n + 5] = '\0';
    return n + 5;
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

/* What each byte of client-given text becomes in a log line: itself, or '_' for control
 * bytes (a terminal escape, a line break), DEL, bytes beyond ASCII (not always UTF-8) and
 * the quote and backslash that would end or escape a quoted field, so a line keeps its
 * format, JSON included. A table of the bytes written, not a test and a choice a byte:
 * every access line copies its path through it. */
static const char log_safe[256] = {
    [0x00 ... 0x1f] = '_',
    ' ', '!', '_', '#', '$', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    '@', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '[', '_', ']', '^', '_',
    '`', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '{', '|', '}', '~', '_',
    [0x80 ... 0xff] = '_',
};

/* Writes the first n bytes of client-given text at o, made safe (log_safe); returns the
 * end. */
static char *put_safe(char *o, const char *s, size_t n)
{
#pragma GCC unroll 4
    for (size_t i = 0; i < n; i++)
        o[i] = log_safe[(unsigned char)s[i]];
    return o + n;
}

static char *put_bytes(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

/* Writes v in decimal at o, digits counted first so that they are written in place;
 * returns the end. Most numbers of a line are short (a status, a duration of 0 ms, a
 * small answer's size): their digits are counted by comparisons, not divisions. */
static char *put_number(char *o, unsigned long long v)
{
    size_t n = v < 10 ? 1 : v < 100 ? 2 : 3;
    for (unsigned long long rest = v / 1000; rest; rest /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10)
        o[i] = (char)('0' + v % 10);
    return o + n;
}

/* The longest a time (timestamp) and a client's text (client_text) can be. */
#define LOG_TIME_MAX 39
#define LOG_CLIENT_MAX 63

/* TIME CLIENT "METHOD PATH" STATUS DURATIONms BYTES, assembled by hand and written with
 * one fwrite: at tens of thousands of requests a second, fprintf's reading of the
 * format cost more than the rest of the access path of a small command. method and path
 * are the client's text as it came, made safe as they are written (put_safe). The line
 * is sized for the longest of each part, so no part needs a check of the room left. */
static void write_text_line(const char *ts, size_t ts_len, const char *client,
                            size_t client_len, const struct srv_req *r, unsigned long long ms)
{
    char line[LOG_TIME_MAX + LOG_CLIENT_MAX + LOG_METHOD_MAX + LOG_PATH_MAX +
              3 * 20 /* the numbers, a sign */ + 16 /* spaces, quotes, "ms", '\n' */];
    char *o = line;
    o = put_bytes(o, ts, ts_len);
    *o++ = ' ';
    o = put_bytes(o, client, client_len);
    o = put_bytes(o, " \"", 2);
    o = put_safe(o, r->method, r->method_len);
    *o++ = ' ';
    o = put_safe(o, r->path, r->path_len);
    o = put_bytes(o, "\" ", 2);
    int status = r->status;
    if (status < 0)
        *o++ = '-';
    o = put_number(o, (unsigned long long)(status < 0 ? -(long long)status : status));
    *o++ = ' ';
    o = put_number(o, ms);
    o = put_bytes(o, "ms ", 3);
    o = put_number(o, r->bytes_out);
    *o++ = '\n';
    fwrite_unlocked(line, 1, (size_t)(o - line), stderr); /* one thread writes the log */
}

/* The client's address as the access log writes it, and its length. The port is not
 * logged, so the text depends on the address alone, and the last one is remembered (one
 * thread logs): most lines come from the same few clients. */
static const char *client_text(const struct sockaddr *sa, size_t *len)
{
    static struct sockaddr_storage last; /* AF_UNSPEC until an address is formatted */
    static char text[LOG_CLIENT_MAX + 1];
    static size_t text_len;
    *len = 1;
    if (sa->sa_family == AF_INET) {
        /* One comparison of the four bytes, not a call of memcmp. */
        const struct in_addr *a = &((const struct sockaddr_in *)sa)->sin_addr;
        struct in_addr *known = &((struct sockaddr_in *)&last)->sin_addr;
        if (last.ss_family == AF_INET && known->s_addr == a->s_addr) {
            *len = text_len;
            return text;
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        struct in6_addr *known = &((struct sockaddr_in6 *)&last)->sin6_addr;
        if (last.ss_family == AF_INET6 && memcmp(a, known, sizeof(*a)) == 0) {
            *len = text_len;
            return text;
        }
    } else {
        return "-";
    }
    char port[8];
    int n = eng_addr_format(sa, text, sizeof(text), port, sizeof(port));
    if (n < 0) {
        last.ss_family = AF_UNSPEC;
        return "-";
    }
    last.ss_family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&last)->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
    else
        ((struct sockaddr_in6 *)&last)->sin6_addr = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    text_len = (size_t)n;
    *len = text_len;
    return text;
}

void log_access(const struct srv_req *r)
{
    const struct cfg *cfg = r->srv->cfg;
    if (cfg->quiet)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    size_t client_len = 1;
    const char *client = ci && ci->client_addr ? client_text(ci->client_addr, &client_len) : "-";
    /* The lines of one run of the daemon share its clock (server.h, run_ms): their time is
     * read once a run, as nginx reads it once an event loop turn. */
    static uint64_t stamped_run = UINT64_MAX;
    static char ts[LOG_TIME_MAX + 1];
    static size_t ts_len;
    uint64_t run_ms = r->srv->run_ms;
    if (run_ms != stamped_run) {
        ts_len = timestamp(ts, sizeof(ts));
        stamped_run = run_ms;
    }
    unsigned long long ms = run_ms - r->start_ms;
    /* libmicrohttpd hands the path without its query string, so no ?token= can leak. The
     * method is the client's too: libmicrohttpd takes any bytes up to the first space. */
    if (!cfg->log_json) {
        write_text_line(ts, ts_len, client, client_len, r, ms);
        return;
    }
    char path[LOG_PATH_MAX + 1], meth[LOG_METHOD_MAX + 1];
    *put_safe(path, r->path, r->path_len) = '\0';
    *put_safe(meth, r->method, r->method_len) = '\0';
    fprintf(stderr,
            "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
            "\"status\":%d,\"duration_ms\":%llu,\"bytes\":%zu}\n",
            ts, client, meth, path, r->status, ms, r->bytes_out);
}
