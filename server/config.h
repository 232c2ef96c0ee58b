/*
 * The server's settings: every flag has an environment variable (SOCKGATE_LISTEN for
 * --listen, ...), flags win over the environment, and --help lists them all.
 */
#ifndef SOCKGATE_CONFIG_H
#define SOCKGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CFG_MAX_TOKENS 16
#define CFG_MAX_RULES 32
#define CFG_MAX_COUNT 1000000        /* sockets, waits, connections: the most any flag takes */
#define CFG_MAX_BYTES (1u << 30)     /* a body or a recv: the most any flag takes (1 GiB) */
#define CFG_MAX_EVENTS 100000        /* events kept per credential */

struct cfg {
    char listen[128];                /* HOST:PORT as given */
    struct sockaddr_storage listen_addr; /* parsed */
    bool listen_loopback;            /* the listen address is loopback */
    double max_wait;                 /* seconds a blocking command waits at most */
    char node[32];                   /* socket id prefix */
    char *tokens[CFG_MAX_TOKENS];    /* accepted credentials (owned) */
    size_t ntokens;
    bool no_auth;                    /* no credential even when exposed */
    char *allow[CFG_MAX_RULES], *deny[CFG_MAX_RULES]; /* policy rules (owned) */
    size_t nallow, ndeny;
    bool allow_bind;                 /* bind beyond loopback and below port 1024 */
    size_t max_sockets;              /* open sockets in total */
    size_t max_sockets_per_token;    /* open sockets per credential */
    size_t max_body;                 /* request body bytes */
    size_t max_recv;                 /* n of recv/recvfrom */
    size_t max_header_size;          /* request head served; sizes each connection's pool */
    size_t max_waits;                /* operations in progress */
    unsigned max_connections;        /* HTTP connections in total */
    unsigned max_connections_per_ip; /* HTTP connections from one address */
    double idle_timeout;             /* seconds before an unused socket closes; 0 = never */
    size_t event_buffer;             /* events kept per credential */
    double heartbeat;                /* seconds between /events keep-alive comments */
    char web_dir[512];               /* console assets */
    char cors[256];                  /* allowed cross-origin, or "" */
    bool log_json;                   /* access log as JSON lines */
    bool quiet;                      /* no access log */
    char tls_cert[512];              /* HTTPS: PEM certificate file, or "" for HTTP */
    char tls_key[512];               /* HTTPS: its PEM private key file */
    double tls_handshake_timeout;    /* seconds a TLS handshake may take */
    double ws_ping;                  /* seconds of WebSocket client silence before a ping */
    double ws_idle_timeout;          /* seconds without data before a bridge closes; 0 = never */
    char websockify_path[128];       /* another path websockify clients use, or "" */
    char websockify_target[256];     /* HOST:PORT every websockify client reaches, or "" */
    char websockify_tokens[512];     /* websockify's token file, or "" */
};

/* Fills cfg from the environment and then argv. Returns 0 to run, 1 when --help or
 * --version has been answered (exit 0), or -1 after printing an error (exit 2). */
int cfg_load(struct cfg *cfg, int argc, char **argv);
void cfg_free(struct cfg *cfg);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" into *out. Returns 0 or -EINVAL. */
int cfg_parse_listen(const char *text, struct sockaddr_storage *out);

#endif
