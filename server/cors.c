/*
 * Origin checks and preflight answers (see cors.h).
 */
#include "cors.h"

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
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    const char *allowed = r->srv->cfg->cors;
    bool ok = !origin || same_origin(origin, host) ||
              (allowed[0] && (strcmp(allowed, "*") == 0 || strcasecmp(allowed, origin) == 0));
    if (!ok) {
        char detail[200];
        snprintf(detail, sizeof(detail), "cross-origin request from %.100s refused; see --cors",
                 origin);
        *ret = srv_reply_error(r, 403, "request", ENG_EDENIED, detail);
        return false;
    }
    if (strcmp(method, "OPTIONS") != 0)
        return true;
    /* An allowed preflight: say what a cross-origin caller may send. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *ret = MHD_NO;
        return false;
    }
    if (origin)
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", allowed[0] ? allowed : origin);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Last-Event-ID");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    *ret = MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = 204;
    return false;
}
