/*
 * Raw bytes for curl users (see raw_bytes.h). The answer's body points into the engine's
 * answer list, which the request keeps until libmicrohttpd has sent it (srv_req.delivering),
 * so a received megabyte is neither encoded nor copied on its way out.
 */
#include "raw_bytes.h"

#include <string.h>
#include <strings.h>

#include "metrics.h"

#define RAW_TYPE "application/octet-stream"

/* True when a media type (before any ";parameters") is application/octet-stream. */
static bool is_octets(const char *type, size_t len)
{
    while (len > 0 && (type[len - 1] == ' ' || type[len - 1] == '\t'))
        len--;
    return len == sizeof(RAW_TYPE) - 1 && strncasecmp(type, RAW_TYPE, len) == 0;
}

bool raw_body(struct srv_req *r, enum eng_cmd cmd)
{
    if (cmd != ENG_CMD_SEND && cmd != ENG_CMD_SENDTO)
        return false;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return is_octets(ct, strcspn(ct, ";"));
}

/* True when a q parameter says the range is not acceptable ("q=0", "q=0.000"). */
static bool quality_zero(const char *params, size_t len)
{
    const char *q = params;
    while ((q = memchr(q, 'q', len - (size_t)(q - params))) != NULL) {
        const char *v = q + 1;
        while (v < params + len && *v == ' ')
            v++;
        if (v < params + len && *v == '=') {
            v++;
            while (v < params + len && *v == ' ')
                v++;
            bool zero = v < params + len && *v == '0';
            for (v++; zero && v < params + len && *v != ';' && *v != ' '; v++)
                zero = *v == '0' || *v == '.';
            return zero;
        }
        q++;
    }
    return false;
}

bool raw_answer_wanted(struct srv_req *r, enum eng_cmd cmd)
{
    if (cmd != ENG_CMD_RECV && cmd != ENG_CMD_RECVFROM)
        return false;
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_ACCEPT);
    /* A list of media ranges: "application/octet-stream", "text/x, application/octet-stream;q=1". */
    for (const char *p = accept; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t type_len = strcspn(p, ";");
        if (type_len > len)
            type_len = len;
        if (is_octets(p, type_len) && !quality_zero(p + type_len, len - type_len))
            return true;
        p += len;
    }
    return false;
}

enum MHD_Result raw_reply(struct srv_req *r, struct eng_list *list)
{
    int data = -1;
    for (int i = 0; i < list->nitems && data < 0; i++)
        if (list->items[i].is_data)
            data = i;
    metrics_count_command(r->srv->metrics, list->cmd, 0);
    size_t len = data >= 0 ? list->items[data].len : 0;
    const char *body = len > 0 ? list->items[data].bytes : "";
    /* recvfrom: ["recvfrom","ok",data,address,port]. */
    const char *extra[5] = {NULL};
    if (list->cmd == ENG_CMD_RECVFROM && data >= 0 && data + 2 < list->nitems) {
        extra[0] = "X-Sockgate-Address";
        extra[1] = list->items[data + 1].bytes;
        extra[2] = "X-Sockgate-Port";
        extra[3] = list->items[data + 2].bytes;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    /* The list stays until the response is done: the body is its bytes, and if the
     * answer does not go out whole they go back to the socket (request_completed). */
    if (len > 0 && list->sock_num)
        r->delivering = list;
    else
        eng_list_free(list);
    const struct srv_resp_opts o = {
        .content_type = RAW_TYPE,
        .cache = "no-store",
        .extra = extra,
    };
    return srv_queue(r, 200, resp, &o, len);
}
