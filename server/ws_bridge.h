/*
 * The WebSocket bridge: one upgraded HTTP connection and one engine socket, pumped both
 * ways on the event loop (SPEC §10). Binary frames carry the socket's bytes; on a datagram
 * socket one message is one datagram. Every byte already received is delivered before
 * the Close; buffers have fixed caps both ways, so a slow reader slows the writer.
 *
 * Life: ws_bridge_new and ws_bridge_attach when the upgrade is accepted (before the 101 is
 * sent), ws_bridge_upgraded once libmicrohttpd hands the connection over; from then on
 * the bridge ends itself and is freed by ws_bridges_collect. ws_bridge_abandon frees one
 * whose upgrade never happened.
 */
#ifndef SOCKGATE_WS_BRIDGE_H
#define SOCKGATE_WS_BRIDGE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "server.h"

struct ws_bridge;

struct ws_bridge_opts {
    bool halfclose;                  /* ?halfclose=1: the client's Close half-closes the socket */
    bool close_on_abandon;           /* the socket was made for this bridge (websockify) */
    double ping_s;                   /* seconds of client silence before a ping; 0: none */
    double idle_s;                   /* seconds without data either way before Close; 0: none */
};

/* All bridges of a server; the bridges that end are freed before the loop sleeps. */
struct ws_hub;
struct ws_hub *ws_hub_new(struct eng_loop *loop);
/* Frees the bridges that have ended. */
void ws_hub_collect(struct ws_hub *hub);
/* Ends every bridge at once (their connections closed, sockets too); before the HTTP
 * daemon stops. Then frees the hub. Accepts NULL. */
void ws_hub_free(struct ws_hub *hub);
/* Bridges in progress. */
unsigned ws_hub_count(const struct ws_hub *hub);

struct ws_bridge *ws_bridge_new(struct srv *s, const struct ws_bridge_opts *opts);
/* Lends socket `id` of `owner` to the bridge. Returns 0 or an engine code (ENG_ENOTSOCK,
 * -ENOTCONN, -EALREADY, -ENOMEM); on failure the bridge is unchanged. */
int ws_bridge_attach(struct ws_bridge *b, int owner, const char *id);
/* Starts pumping: fd is the upgraded connection, extra its bytes libmicrohttpd already
 * read, urh the handle to give it back with. */
void ws_bridge_upgraded(struct ws_bridge *b, int fd, const char *extra, size_t extra_len,
                        struct MHD_UpgradeResponseHandle *urh);
/* Frees a bridge whose upgrade never happened: its socket goes back to REST use (or is
 * closed, with close_on_abandon). Accepts NULL. */
void ws_bridge_abandon(struct ws_bridge *b);

#endif
