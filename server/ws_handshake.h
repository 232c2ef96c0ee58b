/*
 * The server's half of the RFC 6455 opening handshake: is this request a WebSocket
 * upgrade we accept, and what do we answer. Pure: header values in, the answer or the
 * refusal out, so tests/fuzz/fuzz_ws.c can drive it with anything.
 */
#ifndef SOCKGATE_WS_HANDSHAKE_H
#define SOCKGATE_WS_HANDSHAKE_H

#include <stdbool.h>

/* The request's parts; a header that is absent is NULL. */
struct ws_handshake {
    const char *method;              /* "GET" */
    const char *version;             /* "HTTP/1.1" */
    const char *upgrade;             /* Upgrade */
    const char *connection;          /* Connection */
    const char *key;                 /* Sec-WebSocket-Key */
    const char *ws_version;          /* Sec-WebSocket-Version */
    const char *protocols;           /* Sec-WebSocket-Protocol */
};

struct ws_handshake_answer {
    unsigned status;                 /* 101, or the refusal's HTTP status (400, 405, 426) */
    const char *error;               /* the refusal's description, NULL on 101 */
    char accept[32];                 /* Sec-WebSocket-Accept */
    const char *protocol;            /* Sec-WebSocket-Protocol to echo ("binary"), or NULL */
};

/* Checks an upgrade request. Returns true when it is accepted (out->status 101); false
 * with out->status and out->error otherwise. A 426 answer should carry
 * Sec-WebSocket-Version: 13. */
bool ws_handshake_check(const struct ws_handshake *in, struct ws_handshake_answer *out);

/* True when a comma-separated header value holds `token` (case-insensitive). */
bool ws_header_has_token(const char *value, const char *token);

#endif
