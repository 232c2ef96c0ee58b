/*
 * Cross-origin requests. A page on another site must not drive a gateway the user's
 * browser can reach (that would make every visited site a socket client on the user's
 * network), so a request whose Origin is neither this server nor the --cors origin is
 * refused with 403 DENIED, and so is its preflight. A gateway without tokens on loopback
 * also refuses a Host that is not a loopback name, which is what a page that rebinds its
 * DNS name to 127.0.0.1 sends.
 */
#ifndef SOCKGATE_CORS_H
#define SOCKGATE_CORS_H

#include <stdbool.h>

#include "server.h"

/* Checks the request's Origin and, on a loopback server without tokens, that its Host is
 * a loopback name. Returns true when routing should go on; false when a response (a
 * refusal, or the answer to an allowed preflight) has been queued, with *ret set to the
 * MHD result to return. */
bool cors_admit(struct srv_req *r, const char *method, enum MHD_Result *ret);

#endif
