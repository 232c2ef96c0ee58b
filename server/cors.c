/*
 * Origin checks and preflight answers (see cors.h).
 */
#include "cors.h"

#include "host_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The Origin of a same-origin request is "http://" + Host. */
static bool same_origin(const char *origin, const char *host)
{
    if (!host)
        return false;
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    return rest && strcasecmp(rest, host) == 0;
}

bool cors_admit(struct srv_req *r, const char *method, enum MHD_Result *ret)
{
    const char *origin = r->origin;
    const char *host = r->host;
    const char *allowed = r->srv->cfg->cors;
    /* DNS rebinding: a page whose own name its owner points at 127.0.0.1 is same-origin
     * with this server as far as the browser knows, Origin check included; with no
     * token, nothing else would stop it. Its requests still name that page's host. */
    if (host && r->srv->cfg->ntokens == 0 && r->srv->cfg->listen_loopback &&
        !host_is_loopback(host)) {
        char detail[200];
        snprintf(detail, sizeof(detail),
                 "Host %.80s is not a loopback name; give the server a --token to serve "
                 "other names", host);
        *ret = srv_reply_error(r, 403, "request", ENG_EDENIED, detail);
        return false;
    }
    bool ok = !origin || same_origin(origin, host) ||
              (allowed[0] && (strcmp(allowed, "*") == 0 || strcasecmp(allowed, origin) == 0));
    if (!ok) {
        char detail[200];
        snprintf(detail, sizeof(detail), "cross-origin request from %.100s refused; see --cors",
                 origin);
        *ret = srv_reply_error(r, 403, "request", ENG_EDENIED, detail);
        return false;
    }
    if (method[0] != 'O' || strcmp(method, "OPTIONS") != 0)
        return true;
    /* An allowed preflight: say what a cross-origin caller may send. */
    const char *const extra[] = {
        "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS",
        "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID",
        "Access-Control-Max-Age", "600",
        MHD_HTTP_HEADER_VARY, "Origin",
        origin ? "Access-Control-Allow-Origin" : NULL, allowed[0] ? allowed : origin,
        NULL,
    };
    const struct srv_resp_opts o = {.extra = extra, .skip_cors = true};
    *ret = srv_queue(r, 204, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
                     &o, 0);
    return false;
}
