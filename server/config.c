/*
 * Command-line flags and their environment variables. One table describes each setting
 * once: its flag, its variable, its help line and how to parse it.
 */
#include "config.h"

#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SOCKGATE_VERSION
#define SOCKGATE_VERSION "0.1.0"
#endif

enum opt_kind { OPT_STR, OPT_SECONDS, OPT_SIZE, OPT_UINT, OPT_BOOL, OPT_LIST, OPT_LOGFMT };

struct opt {
    const char *flag;                /* long flag without "--" */
    const char *env;                 /* environment variable */
    enum opt_kind kind;              /* how the value parses */
    size_t offset;                   /* field in struct cfg */
    size_t size;                     /* field size, for strings */
    const char *arg;                 /* argument name in --help */
    const char *help;                /* one line */
};

#define F(field) offsetof(struct cfg, field), sizeof(((struct cfg *)0)->field)

static const struct opt opts[] = {
    {"listen", "SOCKGATE_LISTEN", OPT_STR, F(listen), "HOST:PORT",
     "address to serve HTTP on (default 127.0.0.1:8080)"},
    {"max-wait", "SOCKGATE_MAX_WAIT", OPT_SECONDS, F(max_wait), "SECONDS",
     "longest a blocking command waits before TIMEDOUT (default 30)"},
    {"node", "SOCKGATE_NODE", OPT_STR, F(node), "NAME",
     "prefix socket ids with NAME. so a router can find this gateway"},
    {"token", "SOCKGATE_TOKEN", OPT_LIST, F(tokens), "TOKEN",
     "accept this bearer token (repeatable; the variable takes a comma list)"},
    {"no-auth", "SOCKGATE_NO_AUTH", OPT_BOOL, F(no_auth), NULL,
     "serve without a token even on a non-loopback address"},
    {"allow", "SOCKGATE_ALLOW", OPT_LIST, F(allow), "CIDR[:PORTS]",
     "allow connect/sendto to these destinations (repeatable)"},
    {"deny", "SOCKGATE_DENY", OPT_LIST, F(deny), "CIDR[:PORTS]",
     "refuse connect/sendto to these destinations (repeatable)"},
    {"allow-bind", "SOCKGATE_ALLOW_BIND", OPT_BOOL, F(allow_bind), NULL,
     "let bind use non-loopback addresses and ports below 1024"},
    {"max-sockets", "SOCKGATE_MAX_SOCKETS", OPT_SIZE, F(max_sockets), "N",
     "open sockets in total (default 20000)"},
    {"max-sockets-per-token", "SOCKGATE_MAX_SOCKETS_PER_TOKEN", OPT_SIZE,
     F(max_sockets_per_token), "N", "open sockets per credential (default 20000; 0: no limit)"},
    {"max-body", "SOCKGATE_MAX_BODY", OPT_SIZE, F(max_body), "BYTES",
     "largest request body (default 16777216)"},
    {"max-recv", "SOCKGATE_MAX_RECV", OPT_SIZE, F(max_recv), "BYTES",
     "largest n of recv/recvfrom (default 16777216)"},
    {"max-header-size", "SOCKGATE_MAX_HEADER_SIZE", OPT_SIZE, F(max_header_size), "BYTES",
     "largest request head served (request line and up to 100 header lines); each HTTP "
     "connection keeps twice this plus 4 KiB (default 8192)"},
    {"max-waits", "SOCKGATE_MAX_WAITS", OPT_SIZE, F(max_waits), "N",
     "operations in progress at once (default 20000)"},
    {"max-connections", "SOCKGATE_MAX_CONNECTIONS", OPT_UINT, F(max_connections), "N",
     "HTTP connections at once (default 4096; 0: no limit)"},
    {"max-connections-per-ip", "SOCKGATE_MAX_CONNECTIONS_PER_IP", OPT_UINT,
     F(max_connections_per_ip), "N",
     "HTTP connections from one address (default 4096; 0: no limit)"},
    {"idle-timeout", "SOCKGATE_IDLE_TIMEOUT", OPT_SECONDS, F(idle_timeout), "SECONDS",
     "close sockets unused this long (default 0: never)"},
    {"event-buffer", "SOCKGATE_EVENT_BUFFER", OPT_SIZE, F(event_buffer), "N",
     "events kept per credential for /events (default 1024)"},
    {"heartbeat", "SOCKGATE_HEARTBEAT", OPT_SECONDS, F(heartbeat), "SECONDS",
     "keep-alive comment on idle /events streams this often (default 15)"},
    {"web-dir", "SOCKGATE_WEB_DIR", OPT_STR, F(web_dir), "DIR",
     "console assets (default: web/ beside the binary)"},
    {"cors", "SOCKGATE_CORS", OPT_STR, F(cors), "ORIGIN",
     "allow cross-origin requests from ORIGIN"},
    {"log-format", "SOCKGATE_LOG_FORMAT", OPT_LOGFMT, F(log_json), "text|json",
     "access log format (default text)"},
    {"quiet", "SOCKGATE_QUIET", OPT_BOOL, F(quiet), NULL, "no access log"},
    {"tls-cert", "SOCKGATE_TLS_CERT", OPT_STR, F(tls_cert), "FILE",
     "serve HTTPS with this PEM certificate (chain); needs --tls-key"},
    {"tls-key", "SOCKGATE_TLS_KEY", OPT_STR, F(tls_key), "FILE",
     "the PEM private key of --tls-cert (both are read again on SIGHUP)"},
    {"tls-handshake-timeout", "SOCKGATE_TLS_HANDSHAKE_TIMEOUT", OPT_SECONDS,
     F(tls_handshake_timeout), "SECONDS",
     "longest a TLS handshake may take, the gateway's own or a socket's (default 10)"},
    {"ws-ping", "SOCKGATE_WS_PING", OPT_SECONDS, F(ws_ping), "SECONDS",
     "ping a silent WebSocket client after this long; close if it stays silent (default 20; 0: never)"},
    {"ws-idle-timeout", "SOCKGATE_WS_IDLE_TIMEOUT", OPT_SECONDS, F(ws_idle_timeout), "SECONDS",
     "close a WebSocket bridge that carried no data this long (default 0: never)"},
    {"websockify-path", "SOCKGATE_WEBSOCKIFY_PATH", OPT_STR, F(websockify_path), "PATH",
     "serve websockify clients on PATH too (always on /websockify)"},
    {"websockify-target", "SOCKGATE_WEBSOCKIFY_TARGET", OPT_STR, F(websockify_target), "HOST:PORT",
     "bridge websockify clients to HOST:PORT, as `websockify PORT HOST:PORT` does"},
    {"websockify-tokens", "SOCKGATE_WEBSOCKIFY_TOKENS", OPT_STR, F(websockify_tokens), "FILE",
     "websockify token file (\"token: host:port\" lines): ?token= picks the target"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Every size and count has a ceiling, so that no setting can make a sum wrap or ask for
 * more memory than a machine has; a few have a floor. */
static const struct {
    size_t offset;                   /* the field in struct cfg */
    unsigned long long min, max;     /* the range taken */
} bounds[] = {
    {offsetof(struct cfg, max_sockets), 0, CFG_MAX_COUNT},
    {offsetof(struct cfg, max_sockets_per_token), 0, CFG_MAX_COUNT},
    {offsetof(struct cfg, max_body), 0, CFG_MAX_BYTES},
    {offsetof(struct cfg, max_recv), 0, CFG_MAX_BYTES},
    {offsetof(struct cfg, max_header_size), 1024, 65536},
    {offsetof(struct cfg, max_waits), 1, CFG_MAX_COUNT},
    {offsetof(struct cfg, max_connections), 0, CFG_MAX_COUNT},
    {offsetof(struct cfg, max_connections_per_ip), 0, CFG_MAX_COUNT},
    {offsetof(struct cfg, event_buffer), 1, CFG_MAX_EVENTS},
};

/* 0 when v is in the range of the setting at `offset`, else -1 after saying so. */
static int check_bounds(const struct opt *o, unsigned long long v, bool from_env)
{
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        if (bounds[i].offset != o->offset)
            continue;
        if (v >= bounds[i].min && v <= bounds[i].max)
            return 0;
        fprintf(stderr, "sockgate: %s%s must be %llu to %llu, not %llu\n", from_env ? "" : "--",
                from_env ? o->env : o->flag, bounds[i].min, bounds[i].max, v);
        return -1;
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sockgate [FLAGS]\n\nAn HTTP gateway to real TCP and UDP sockets.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].flag, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(out, "  %-36s %s [%s]\n", left, opts[i].help, opts[i].env);
    }
    fprintf(out, "  %-36s %s\n  %-36s %s\n", "--help", "this text", "--version", "the version");
}

int cfg_parse_listen(const char *text, struct sockaddr_storage *out)
{
    char host[128];
    const char *port;
    memset(out, 0, sizeof(*out));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof(host))
            return -EINVAL;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (errno || end == port || *end || p < 0 || p > 65535)
        return -EINVAL;
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    struct sockaddr_in *in4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)p);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)p);
    } else {
        return -EINVAL;
    }
    return 0;
}

static int set_list(struct cfg *cfg, const struct opt *o, const char *value, bool split)
{
    char **list = (char **)((char *)cfg + o->offset);
    size_t *count = o->offset == offsetof(struct cfg, tokens) ? &cfg->ntokens
                    : o->offset == offsetof(struct cfg, allow) ? &cfg->nallow
                                                              : &cfg->ndeny;
    size_t cap = o->size / sizeof(char *);
    size_t first = *count;
    const char *p = value;
    while (*p) {
        size_t len = split ? strcspn(p, ",") : strlen(p);
        /* A rule's PORTS may be a list too ("::/0:1-79,81-442"): in a comma list, an
         * item of digits and '-' alone is no address, so it continues the rule before. */
        if (len > 0 && o->offset != offsetof(struct cfg, tokens) && *count > first &&
            strspn(p, "0123456789-") >= len) {
            size_t plen = strlen(list[*count - 1]);
            char *joined = realloc(list[*count - 1], plen + 1 + len + 1);
            if (!joined)
                return -1;
            joined[plen] = ',';
            memcpy(joined + plen + 1, p, len);
            joined[plen + 1 + len] = '\0';
            list[*count - 1] = joined;
        } else if (len > 0) {
            if (*count >= cap) {
                fprintf(stderr, "sockgate: too many --%s values (at most %zu)\n", o->flag, cap);
                return -1;
            }
            list[*count] = strndup(p, len);
            if (!list[*count])
                return -1;
            (*count)++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int set_opt(struct cfg *cfg, const struct opt *o, const char *value, bool from_env)
{
    void *field = (char *)cfg + o->offset;
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_STR:
        if (strlen(value) >= o->size)
            goto bad;
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_SECONDS: {
        double d = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(d) || d < 0 || d > 86400 * 365)
            goto bad;
        *(double *)field = d;
        return 0;
    }
    case OPT_SIZE:
    case OPT_UINT: {
        /* strtoull skips blanks and takes a sign, so " -1" would wrap to the largest
         * size: only digits are a size. */
        if (value[0] < '0' || value[0] > '9')
            goto bad;
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end || (o->kind == OPT_UINT && v > UINT_MAX))
            goto bad;
        if (check_bounds(o, v, from_env) < 0)
            return -1;
        if (o->kind == OPT_UINT)
            *(unsigned *)field = (unsigned)v;
        else
            *(size_t *)field = (size_t)v;
        return 0;
    }
    case OPT_BOOL:
        if (!value || strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0 ||
            strcasecmp(value, "yes") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "0") == 0 || strcasecmp(value, "false") == 0 ||
                 strcasecmp(value, "no") == 0 || value[0] == '\0')
            *(bool *)field = false;
        else
            goto bad;
        return 0;
    case OPT_LIST:
        return set_list(cfg, o, value, from_env);
    case OPT_LOGFMT:
        if (strcasecmp(value, "json") == 0)
            *(bool *)field = true;
        else if (strcasecmp(value, "text") == 0)
            *(bool *)field = false;
        else
            goto bad;
        return 0;
    }
bad:
    fprintf(stderr, "sockgate: bad value for %s%s: '%s'\n", from_env ? "" : "--",
            from_env ? o->env : o->flag, value ? value : "");
    return -1;
}

static void set_defaults(struct cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8080");
    cfg->max_wait = 30;
    cfg->max_sockets = 20000;
    cfg->max_sockets_per_token = 20000;
    cfg->max_body = 16u << 20;
    cfg->max_recv = 16u << 20;
    cfg->max_header_size = 8192;
    cfg->max_waits = 20000;
    cfg->max_connections = 4096;
    cfg->max_connections_per_ip = 4096;
    cfg->event_buffer = 1024;
    cfg->heartbeat = 15;
    cfg->tls_handshake_timeout = 10;
    cfg->ws_ping = 20;
}

int cfg_load(struct cfg *cfg, int argc, char **argv)
{
    set_defaults(cfg);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = getenv(opts[i].env);
        if (v && set_opt(cfg, &opts[i], v, true) < 0)
            return -1;
    }
    /* A flag list repeated on the command line replaces the environment's. */
    bool list_from_flags[NOPTS] = {0};
    struct option longopts[NOPTS + 3];
    for (size_t i = 0; i < NOPTS; i++)
        longopts[i] = (struct option){opts[i].flag,
                                      opts[i].kind == OPT_BOOL ? no_argument : required_argument,
                                      NULL, (int)(i + 256)};
    longopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[NOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    longopts[NOPTS + 2] = (struct option){0};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf("sockgate %s\n", SOCKGATE_VERSION);
            return 1;
        }
        if (c < 256) {
            usage(stderr);
            return -1;
        }
        size_t i = (size_t)c - 256;
        if (opts[i].kind == OPT_LIST && !list_from_flags[i]) {
            list_from_flags[i] = true;
            size_t *count = opts[i].offset == offsetof(struct cfg, tokens) ? &cfg->ntokens
                            : opts[i].offset == offsetof(struct cfg, allow) ? &cfg->nallow
                                                                           : &cfg->ndeny;
            char **list = (char **)((char *)cfg + opts[i].offset);
            for (size_t k = 0; k < *count; k++)
                free(list[k]);
            *count = 0;
        }
        if (set_opt(cfg, &opts[i], opts[i].kind == OPT_BOOL ? NULL : optarg, false) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "sockgate: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    /* The node begins every socket id, which travels in URL paths, Location headers and
     * JSON: letters, digits, '-', '_' and '.' need no escaping in any of them. */
    if (strspn(cfg->node, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
        strlen(cfg->node)) {
        fprintf(stderr, "sockgate: bad --node '%s': use letters, digits, '-', '_' and '.'\n",
                cfg->node);
        return -1;
    }
    if (cfg_parse_listen(cfg->listen, &cfg->listen_addr) < 0) {
        fprintf(stderr, "sockgate: bad --listen '%s': want HOST:PORT\n", cfg->listen);
        return -1;
    }
    cfg->listen_loopback = eng_addr_is_loopback((const struct sockaddr *)&cfg->listen_addr);
    if (cfg->max_wait <= 0)
        cfg->max_wait = 30;
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        fprintf(stderr, "sockgate: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (cfg->websockify_path[0] && cfg->websockify_path[0] != '/') {
        fprintf(stderr, "sockgate: bad --websockify-path '%s': it starts with /\n",
                cfg->websockify_path);
        return -1;
    }
    return 0;
}

void cfg_free(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->ntokens; i++)
        free(cfg->tokens[i]);
    for (size_t i = 0; i < cfg->nallow; i++)
        free(cfg->allow[i]);
    for (size_t i = 0; i < cfg->ndeny; i++)
        free(cfg->deny[i]);
    cfg->ntokens = cfg->nallow = cfg->ndeny = 0;
}
