/*
 * Command arguments from an HTTP request: a JSON object of named arguments, a JSON array
 * in JSL's positional order, or query parameters, all three equivalent. The result is a
 * checked eng_request, or an error with the HTTP status and the text of element 2.
 *
 * No HTTP library here, so that a fuzzer can drive it with plain buffers.
 */
#ifndef SOCKGATE_ARGS_H
#define SOCKGATE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "engine.h"

/* One query parameter; value NULL for "?FIONREAD" without "=". */
struct args_kv {
    const char *key;
    const char *value;
};

/* What the request brings besides its arguments. */
struct args_limits {
    size_t max_recv;                 /* largest n */
    /* send/sendto with an application/octet-stream body (SPEC §3): the bytes to send,
     * borrowed, and then `stream`/`dgram` may not be given. NULL: the data is an argument. */
    const uint8_t *raw_data;
    size_t raw_len;
};

struct args_result {
    struct eng_request req;          /* the command, ready for eng_exec */
    enum codec_encoding enc;         /* encoding of data in and out */
    char *host;                      /* owned copy behind req.host */
    uint8_t *data;                   /* owned decoded bytes behind req.data */
    char *callback;                  /* owned event name, or NULL */
    char *servername, *ca, *cert, *key; /* owned TLS texts behind req.tls, or NULL */
    int sock_type, sock_family;      /* POST /sockets: SOCK_ and AF_ values */
    int status;                      /* 0 when parsed; else the HTTP status */
    int code;                        /* the error code for element 2 */
    char err[256];                   /* the error detail for element 2; last, as args_parse
                                      * clears only what comes before it */
};

/* Parses the arguments of `cmd`. body may be NULL or empty; when not, body[len] must be
 * '\0'. Returns 0, or -1 with out->status/code/err set. Either way args_result_free
 * releases what out holds. */
int args_parse(enum eng_cmd cmd, const char *body, size_t len, const struct args_kv *query,
               size_t nquery, const struct args_limits *lim, struct args_result *out);
void args_result_free(struct args_result *out);

/* Parses POST /sockets (args_parse of ENG_CMD_SOCKET): type STREAM|DGRAM and family
 * IPV4|IPV6, named, positional or in the query. Returns 0 with the SOCK_ type and AF_
 * family set, or -1 with err filled. */
int args_parse_socket(const char *body, size_t len, const struct args_kv *query, size_t nquery,
                      int *type, int *family, char *err, size_t errlen);

#endif
