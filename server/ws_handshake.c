/*
 * The opening handshake (see ws_handshake.h). The accept key is SHA-1 (GnuTLS, which
 * libmicrohttpd already brings) over the client's key and the RFC's GUID, in base64
 * (the project's codec).
 */
#include "ws_handshake.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24                /* base64 of 16 bytes */

bool ws_header_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += len;
    }
    return false;
}

static bool refuse(struct ws_handshake_answer *out, unsigned status, const char *why)
{
    out->status = status;
    out->error = why;
    return false;
}

bool ws_handshake_check(const struct ws_handshake *in, struct ws_handshake_answer *out)
{
    memset(out, 0, sizeof(*out));
    if (!in->method || strcmp(in->method, "GET") != 0)
        return refuse(out, 405, "a WebSocket is opened with GET");
    if (!in->upgrade || !ws_header_has_token(in->upgrade, "websocket"))
        return refuse(out, 426, "this endpoint is a WebSocket: send Upgrade: websocket");
    if (!in->version || strcmp(in->version, "HTTP/1.1") != 0)
        return refuse(out, 400, "a WebSocket upgrade needs HTTP/1.1");
    if (!in->connection || !ws_header_has_token(in->connection, "upgrade"))
        return refuse(out, 400, "a WebSocket upgrade needs Connection: Upgrade");
    if (!in->ws_version || strcmp(in->ws_version, "13") != 0)
        return refuse(out, 426, "only WebSocket version 13 is spoken");
    uint8_t raw[18];
    size_t err_off;
    if (!in->key || strlen(in->key) != WS_KEY_LEN ||
        codec_decode(CODEC_BASE64, in->key, WS_KEY_LEN, raw, &err_off) != 16)
        return refuse(out, 400, "Sec-WebSocket-Key must be 16 bytes in base64");
    char joined[WS_KEY_LEN + sizeof(WS_GUID)];
    uint8_t digest[20];
    memcpy(joined, in->key, WS_KEY_LEN);
    memcpy(joined + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, WS_KEY_LEN + sizeof(WS_GUID) - 1, digest) < 0)
        return refuse(out, 500, "cannot compute Sec-WebSocket-Accept");
    out->accept[codec_encode(CODEC_BASE64, digest, sizeof(digest), out->accept)] = '\0';
    /* Binary frames are all we speak; a client that offers "binary" gets it echoed, as
     * websockify does. Other offers are left unanswered, which RFC 6455 allows. */
    if (in->protocols && ws_header_has_token(in->protocols, "binary"))
        out->protocol = "binary";
    out->status = 101;
    return true;
}
