/*
 * libFuzzer harness for server/args.c, the parsing of a command's arguments from the JSON
 * body and the query string. Every input is run for every command and for POST /sockets,
 * under two recv limits, and aborts when:
 *   - a result breaks the contract of args.h (a status other than 0/400/413/500, an error
 *     code that is not negative, an unterminated error text, a host or callback that is
 *     not the owned copy it should be, decoded data longer than its text);
 *   - the query form and the named JSON form of the same arguments disagree: the query
 *     pairs are also sent as a JSON object of strings (a bare key as true), and both must
 *     parse to the same request or fail with the same status and code.
 *
 * Input layout, so that seeds stay readable:
 *     byte 0          command selector (any byte; reduced modulo ENG_CMD_COUNT + 1, where
 *                     the last value stands for POST /sockets); the input is run for every
 *                     command regardless, this only picks which one is checked first
 *     up to '\n'      the query string: pairs split at '&', key and value at the first '='
 *     after '\n'      the body, any bytes (NUL included), possibly empty
 * Without a '\n' the whole rest is the body and there is no query.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_QUERY 32           /* routes.c takes at most 32 query parameters */

static void fail(const char *what, int cmd)
{
    fprintf(stderr, "fuzz_args: %s (command %d)\n", what, cmd);
    abort();
}

/* The contract of args.h on one result. */
static void check_result(enum eng_cmd cmd, int rc, const struct args_result *a,
                         const struct args_limits *lim)
{
    if (memchr(a->err, '\0', sizeof(a->err)) == NULL)
        fail("error text not terminated", (int)cmd);
    if (rc < 0) {
        if (a->status != 400 && a->status != 413 && a->status != 500)
            fail("failure with an unexpected status", (int)cmd);
        if (a->code >= 0)
            fail("failure without a negative code", (int)cmd);
        if (a->err[0] == '\0')
            fail("failure without a description", (int)cmd);
        return;
    }
    if (rc != 0 || a->status != 0)
        fail("success with a status", (int)cmd);
    const struct eng_request *r = &a->req;
    if (r->cmd != cmd)
        fail("request for another command", (int)cmd);
    if (r->host != a->host)
        fail("host not the owned copy", (int)cmd);
    if (a->host && strlen(a->host) > 253)
        fail("host longer than 253", (int)cmd);
    if ((r->data != NULL) != (a->data != NULL) || (r->data && r->data != a->data))
        fail("data not the owned copy", (int)cmd);
    if (a->callback && (a->callback[0] == '\0' || strlen(a->callback) > 128 ||
                        strpbrk(a->callback, "\r\n")))
        fail("callback not a name of 1 to 128 characters", (int)cmd);
    if (r->background != (a->callback != NULL))
        fail("background without callback, or the reverse", (int)cmd);
    if (r->repeat && !r->background)
        fail("repeat without callback", (int)cmd);
    if (r->timeout >= 0 && !(isfinite(r->timeout) && r->timeout <= 1e9))
        fail("timeout out of range", (int)cmd);
    if ((cmd == ENG_CMD_RECV || cmd == ENG_CMD_RECVFROM) && (r->n < 1 || r->n > lim->max_recv))
        fail("recv n outside 1..max_recv", (int)cmd);
    if ((cmd == ENG_CMD_CONNECT || cmd == ENG_CMD_BIND) && (!a->host || !r->has_port))
        fail("connect/bind without host and port", (int)cmd);
    if ((cmd == ENG_CMD_SEND || cmd == ENG_CMD_SENDTO) && !a->data)
        fail("send without data", (int)cmd);
    if (cmd == ENG_CMD_LISTEN && r->backlog > 65535)
        fail("backlog out of range", (int)cmd);
    if (r->tls.servername != a->servername || r->tls.ca != a->ca || r->tls.cert != a->cert ||
        r->tls.key != a->key)
        fail("TLS texts not the owned copies", (int)cmd);
    if ((r->tls.cert != NULL) != (r->tls.key != NULL))
        fail("cert without key, or the reverse", (int)cmd);
    if (cmd != ENG_CMD_CONNECT && r->tls.on)
        fail("tls on a command other than connect", (int)cmd);
}

static bool same_request(const struct args_result *x, const struct args_result *y)
{
    const struct eng_request *a = &x->req, *b = &y->req;
    if ((x->host == NULL) != (y->host == NULL) || (x->host && strcmp(x->host, y->host) != 0))
        return false;
    if ((x->callback == NULL) != (y->callback == NULL) ||
        (x->callback && strcmp(x->callback, y->callback) != 0))
        return false;
    if (a->data_len != b->data_len || (a->data_len && memcmp(a->data, b->data, a->data_len) != 0))
        return false;
    return a->cmd == b->cmd && a->port == b->port && a->has_port == b->has_port &&
           a->backlog == b->backlog && a->n == b->n && a->ioctl_op == b->ioctl_op &&
           a->ioctl_value == b->ioctl_value && a->background == b->background &&
           a->repeat == b->repeat && x->enc == y->enc &&
           (a->timeout == b->timeout || (a->timeout != a->timeout && b->timeout != b->timeout));
}

/* The query pairs as the JSON object a client would send instead, NUL-terminated. */
static char *query_as_json(const struct args_kv *q, size_t nq)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < nq; i++) {
        if (strcmp(q[i].key, "token") == 0)
            continue; /* the credential: a query parameter only, never an argument */
        cJSON *v = q[i].value ? cJSON_CreateString(q[i].value) : cJSON_CreateTrue();
        if (!v || !cJSON_AddItemToObject(obj, q[i].key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return text;
}

static void run_command(enum eng_cmd cmd, const char *body, size_t blen,
                        const struct args_kv *q, size_t nq, const char *qjson,
                        const struct args_limits *lim)
{
    struct args_result a, b;
    int rc = args_parse(cmd, blen ? body : NULL, blen, q, nq, lim, &a);
    check_result(cmd, rc, &a, lim);
    args_result_free(&a);
    args_result_free(&a); /* must be safe twice: it clears what it frees */

    if (!qjson || nq == 0)
        return;
    /* Query form against the named JSON form of the same pairs. */
    int rq = args_parse(cmd, NULL, 0, q, nq, lim, &a);
    int rj = args_parse(cmd, qjson, strlen(qjson), NULL, 0, lim, &b);
    check_result(cmd, rq, &a, lim);
    check_result(cmd, rj, &b, lim);
    /* A key the query can carry but JSON names differently cannot occur: keys are the
     * same strings. Out of memory (500) is the one outcome allowed to differ. */
    if (a.status != 500 && b.status != 500) {
        if ((rq < 0) != (rj < 0))
            fail("query and JSON forms disagree on success", (int)cmd);
        if (rq < 0 && (a.status != b.status || a.code != b.code))
            fail("query and JSON forms fail differently", (int)cmd);
        if (rq == 0 && !same_request(&a, &b))
            fail("query and JSON forms give different requests", (int)cmd);
    }
    args_result_free(&a);
    args_result_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned first = data[0] % (ENG_CMD_COUNT + 1);
    const uint8_t *rest = data + 1;
    size_t rlen = size - 1;

    /* Query: up to the first '\n', as C strings (libmicrohttpd hands NUL-terminated ones,
     * so a NUL in the query ends that key or value, as here). */
    const uint8_t *nl = memchr(rest, '\n', rlen);
    size_t qlen = nl ? (size_t)(nl - rest) : 0;
    char *qbuf = malloc(qlen + 1);
    if (!qbuf)
        return 0;
    memcpy(qbuf, rest, qlen);
    qbuf[qlen] = '\0';
    struct args_kv q[FUZZ_MAX_QUERY];
    size_t nq = 0;
    if (nl) {
        char *p = qbuf, *end = qbuf + qlen;
        while (p <= end && nq < FUZZ_MAX_QUERY) {
            char *amp = memchr(p, '&', (size_t)(end - p));
            char *stop = amp ? amp : end;
            *stop = '\0';
            char *eq = strchr(p, '=');
            if (eq)
                *eq = '\0';
            if (*p)
                q[nq++] = (struct args_kv){.key = p, .value = eq ? eq + 1 : NULL};
            p = stop + 1;
        }
    }

    /* Body: the rest, in its own buffer with the '\0' after it that args.h requires, so
     * that ASan sees any read past it. */
    const uint8_t *b = nl ? nl + 1 : rest;
    size_t blen = rlen - (size_t)(b - rest);
    char *body = malloc(blen + 1);
    if (!body) {
        free(qbuf);
        return 0;
    }
    memcpy(body, b, blen);
    body[blen] = '\0';

    char *qjson = query_as_json(q, nq);
    static const struct args_limits limits[2] = {{.max_recv = 16u << 20}, {.max_recv = 10}};
    for (int l = 0; l < 2; l++) {
        for (unsigned k = 0; k <= ENG_CMD_COUNT; k++) {
            unsigned c = (first + k) % (ENG_CMD_COUNT + 1);
            if (c < ENG_CMD_COUNT) {
                run_command((enum eng_cmd)c, body, blen, q, nq, qjson, &limits[l]);
            } else if (l == 0) {
                int type = -1, family = -1;
                char err[160];
                err[0] = '\0';
                int rc = args_parse_socket(blen ? body : NULL, blen, q, nq, &type, &family,
                                           err, sizeof(err));
                if (rc == 0 && ((type != SOCK_STREAM && type != SOCK_DGRAM) ||
                                (family != AF_INET && family != AF_INET6)))
                    fail("socket: bad type or family", ENG_CMD_COUNT);
                if (rc < 0 && (err[0] == '\0' || !memchr(err, '\0', sizeof(err))))
                    fail("socket: failure without a description", ENG_CMD_COUNT);
            }
        }
    }
    cJSON_free(qjson);
    free(body);
    free(qbuf);
    return 0;
}
