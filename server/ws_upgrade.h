/*
 * The WebSocket endpoints' HTTP side: GET /sockets/<id>/ws (SPEC §10), and the parts
 * websockify.c shares: checking the upgrade request, lending the socket to a bridge and
 * queuing the 101 whose upgrade handler starts the bridge on the loop. Refusals are JSON
 * lists like every other answer, named "ws" (or "websockify").
 */
#ifndef SOCKGATE_WS_UPGRADE_H
#define SOCKGATE_WS_UPGRADE_H

#include <stdbool.h>

#include "server.h"
#include "ws_bridge.h"
#include "ws_handshake.h"

/* What a request that is becoming a WebSocket holds until its connection is handed over
 * (srv_req.ws); ws_request_completed frees it. */
struct ws_pending {
    struct ws_bridge *bridge;        /* attached, waiting for the connection */
    struct ws_handshake_answer hs;   /* the 101's headers */
    int owner;                       /* the socket's owner */
    char id[64];                     /* the socket to bridge */
    bool made_socket;                /* websockify made it: closed if no bridge takes it */
};

/* GET /sockets/<id>/ws for `owner` (whose credential routes has checked). */
enum MHD_Result ws_upgrade_socket(struct srv_req *r, int owner, const char *id);

/* Checks the upgrade headers of r. Returns true with r->ws allocated and its hs filled;
 * otherwise queues the refusal into *ret (under `name`) and returns false. */
bool ws_upgrade_begin(struct srv_req *r, const char *name, enum MHD_Result *ret);

/* Lends socket r->ws->id (of r->ws->owner) to a new bridge and queues the 101; or
 * answers why not (404 NOTSOCK, 409 NOTCONN or ALREADY). halfclose: SPEC §10. */
enum MHD_Result ws_upgrade_answer(struct srv_req *r, const char *name, bool halfclose);

/* The bridge options the settings call for. */
void ws_upgrade_opts(const struct srv *s, struct ws_bridge_opts *o, bool halfclose);

/* Starts the WebSocket endpoints (the bridges' hub, websockify's settings); from
 * srv_open. Returns 0, or -1 after printing why. */
int ws_start(struct srv *s);
/* Ends every bridge and frees what ws_start made; from srv_close, before the HTTP daemon
 * stops. Accepts a server whose ws_start never ran. */
void ws_stop(struct srv *s);

/* A request ends: an upgrade that never happened gives its socket back (or closes the one
 * made for it). */
void ws_request_completed(struct srv_req *r);

#endif
