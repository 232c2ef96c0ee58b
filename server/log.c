/*
 * Log lines (see log.h). Each line is written with one fprintf so lines never interleave.
 */
#include "log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy.h"

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_line(const struct cfg *cfg, const char *fmt, ...)
{
    char msg[1024], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof(ts));
    if (cfg->log_json) {
        char esc[2048];
        size_t o = 0;
        for (const char *p = msg; *p && o < sizeof(esc) - 7; p++) {
            if (*p == '"' || *p == '\\')
                esc[o++] = '\\';
            esc[o++] = (unsigned char)*p < 0x20 ? ' ' : *p;
        }
        esc[o] = '\0';
        fprintf(stderr, "{\"time\":\"%s\",\"msg\":\"%s\"}\n", ts, esc);
    } else {
        fprintf(stderr, "%s sockgate: %s\n", ts, msg);
    }
}

void log_startup(const struct srv *s, bool token_generated)
{
    const struct cfg *cfg = s->cfg;
    char policy[1024];
    eng_policy_describe(s->policy, policy, sizeof(policy));
    log_line(cfg, "listening on http://%s (max wait %gs, up to %zu sockets)", cfg->listen,
             cfg->max_wait, cfg->max_sockets);
    log_line(cfg, "policy: %s; bind: %s", policy,
             cfg->allow_bind ? "any local address" : "loopback only, ports from 1024");
    const char *auth = cfg->ntokens ? (token_generated ? "generated token" : "token required")
                                    : "none (loopback only or --no-auth)";
    log_line(cfg, "auth: %s", auth);
    /* The generated token must reach the person who started the server, once. */
    if (token_generated)
        log_line(cfg, "console: http://%s/?token=%s", cfg->listen, cfg->tokens[0]);
    else
        log_line(cfg, "console: http://%s/", cfg->listen);
}

void log_access(const struct srv_req *r, const char *method, const char *url)
{
    const struct cfg *cfg = r->srv->cfg;
    if (cfg->quiet)
        return;
    char client[64] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, client, sizeof(client));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, client, sizeof(client));
    }
    /* libmicrohttpd hands the path without its query string, so no ?token= can leak. */
    char path[256];
    size_t n = 0;
    for (const char *p = url; *p && n < sizeof(path) - 1; p++)
        path[n++] = ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\') ? '_' : *p;
    path[n] = '\0';
    char ts[40];
    timestamp(ts, sizeof(ts));
    unsigned long long ms = eng_now_ms() - r->start_ms;
    if (cfg->log_json)
        fprintf(stderr,
                "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                "\"status\":%d,\"duration_ms\":%llu,\"bytes\":%zu}\n",
                ts, client, method, path, r->status, ms, r->bytes_out);
    else
        fprintf(stderr, "%s %s \"%s %s\" %d %llums %zu\n", ts, client, method, path, r->status, ms,
                r->bytes_out);
}
