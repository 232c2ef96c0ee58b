/*
 * websockify compatibility (SPEC §10): GET /websockify (and --websockify-path) bridges to a
 * target the operator chose, never the client: --websockify-target HOST:PORT, or
 * --websockify-tokens FILE in websockify's format ("token: host:port" a line), where the
 * ?token= picks the target and is the client's credential for that one target. The
 * gateway makes the socket, connects it under the destination policy, and only then
 * answers the upgrade, so a refused or failed target is an HTTP answer.
 */
#ifndef SOCKGATE_WEBSOCKIFY_H
#define SOCKGATE_WEBSOCKIFY_H

#include <stdbool.h>

#include "config.h"
#include "server.h"

/* The owner of sockets made for token-file clients: no REST credential maps to it, so
 * they are reachable through their WebSocket only. */
#define WEBSOCKIFY_OWNER (ENG_MAX_OWNERS - 1)
_Static_assert(CFG_MAX_TOKENS < WEBSOCKIFY_OWNER, "REST owners must not reach the websockify owner");

struct websockify;

/* Checks the settings (target syntax, the token file readable). NULL after printing why,
 * or when nothing is configured (*err false). */
struct websockify *websockify_new(const struct cfg *cfg, bool *err);
void websockify_free(struct websockify *w);

/* True when url is a websockify path: /websockify or --websockify-path. */
bool websockify_path(const struct cfg *cfg, const char *url);

/* Serves a request on a websockify path. */
enum MHD_Result websockify_handle(struct srv_req *r);

#endif
