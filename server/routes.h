/*
 * Routing's shared parts (routes.c, routes_sockets.c): a request on its way to its
 * resource's handler, with its path split, its query collected and its credential known.
 */
#ifndef SOCKGATE_ROUTES_H
#define SOCKGATE_ROUTES_H

#include <stdbool.h>

#include "args.h"
#include "path.h"
#include "server.h"

#define ROUTES_MAX_QUERY 32
#define ROUTES_MAX_SEGS 4

struct route_req {
    struct srv_req *r;               /* the request */
    const char *method;              /* its method */
    char segs[ROUTES_MAX_SEGS][PATH_SEG_SIZE]; /* the path's segments (path.h) */
    int nseg;                        /* how many */
    bool get;                        /* GET or HEAD */
    bool post;                       /* POST */
    int owner;                       /* the credential's owner number */
    struct args_kv kv[ROUTES_MAX_QUERY]; /* the query parameters */
    size_t nkv;                      /* how many */
};

/* 405 with an Allow header; element 1 is `name`. */
enum MHD_Result routes_method_not_allowed(struct srv_req *r, const char *name, const char *allow);
/* Parses cmd's arguments from the request; on failure answers the error (counted in the
 * metrics), sets *ret and returns false. args_result_free releases a either way. */
bool routes_parse_args(struct route_req *rq, enum eng_cmd cmd, struct args_result *a,
                       enum MHD_Result *ret);
/* Answers an engine call's outcome: rc < 0 a 500, ENG_PENDING suspends the request until
 * op answers, else the list now. */
enum MHD_Result routes_answer(struct srv_req *r, enum eng_cmd cmd, int rc, struct eng_list *now,
                              struct eng_op *op);

/* The command /sockets/<id>/<name> names: 0 with *cmd, or -1 for none. */
int routes_socket_command(const char *name, enum eng_cmd *cmd);
/* /sockets, /sockets/<id>, /sockets/<id>/<command> (routes_sockets.c). */
enum MHD_Result routes_sockets(struct route_req *rq);

#endif
