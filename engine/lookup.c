/*
 * Name look-ups (SPEC §13): getaddrinfo answers one row per address, as JMP's
 * Get Addr Info does (["PF_INET","SOCK_0","IPPROTO_0","127.0.0.1","80"]), and
 * getnameinfo one row with the name. Literals and localhost need no lookup; anything else
 * goes to c-ares on the loop (resolve.c), never blocking. Only addresses the destination
 * policy lets a client reach are answered, so a gateway beyond loopback tells nothing of
 * the networks behind it.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "policy.h"

#define LOOKUP_ROW 5                 /* family, socket type, protocol, address, port */

/* True for a name that only a number could be ("0177.0.0.1", "1.2.3", "0x7f.1"): its
 * last label is all digits, or it starts like a hex number. Such a name is an address
 * or nothing; it must never reach DNS, whose resolvers read these forms differently. */
static bool numeric_looking(const char *name)
{
    const char *last = strrchr(name, '.');
    last = last && last[1] ? last + 1 : name;
    bool digits = *last != '\0';
    for (const char *p = last; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    return digits || (name[0] == '0' && (name[1] == 'x' || name[1] == 'X'));
}

/* A DNS name: labels of 1 to 63 letters, digits, '-' or '_', dot-separated, one trailing
 * dot allowed. */
static bool host_name_ok(const char *name)
{
    size_t label = 0, n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok || ++label > 63)
            return false;
    }
    return n > 0 && n <= 253;
}

/* Adds one row for sa (port taken from sa) with `name`, or sa's address when NULL. */
static int add_row(struct eng_list *l, const struct sockaddr *sa, const char *name)
{
    char host[INET6_ADDRSTRLEN], port[8];
    if (eng_addr_format(sa, host, sizeof(host), port, sizeof(port)) < 0)
        return -EINVAL;
    const char *family = sa->sa_family == AF_INET6 ? "PF_INET6" : "PF_INET";
    if (engi_list_add_str(l, family) < 0 || engi_list_add_str(l, "SOCK_0") < 0 ||
        engi_list_add_str(l, "IPPROTO_0") < 0 || engi_list_add_str(l, name ? name : host) < 0 ||
        engi_list_add_str(l, port) < 0)
        return -ENOMEM;
    return 0;
}

/* Adds sa as a row when policy allows it (else counts it in *denied) and no earlier row
 * holds it. Returns 0 or -errno. */
static int add_address(struct eng_op *op, struct sockaddr_storage *ss, int *denied)
{
    struct eng_list *l = op->sync_result;
    engi_addr_set_port(ss, op->dest->port);
    if (eng_policy_check(op->e->cfg.policy, (const struct sockaddr *)ss) < 0) {
        (*denied)++;
        return 0;
    }
    for (int i = 0; i < op->dest->naddrs; i++)
        if (memcmp(&op->dest->addrs[i], ss, sizeof(*ss)) == 0)
            return 0;
    if (op->dest->naddrs >= ENGI_MAX_ADDRS)
        return 0;
    op->dest->addrs[op->dest->naddrs++] = *ss;
    return add_row(l, (const struct sockaddr *)ss, NULL);
}

/* What no row could be answered with: DENIED when policy refused some, else not found. */
static int rows_or(struct eng_op *op, int denied)
{
    if (op->dest->naddrs > 0)
        return 0;
    return denied ? ENG_EDENIED : ENG_EHOSTNOTFOUND;
}

int engi_lookup_take(struct eng_op *op, const struct ares_addrinfo *res)
{
    int denied = 0;
    for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
        if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
            continue;
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, n->ai_addr, n->ai_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in));
        int rc = add_address(op, &ss, &denied);
        if (rc < 0)
            return rc;
    }
    return rows_or(op, denied);
}

int engi_lookup_named(struct eng_op *op, const char *name)
{
    return add_row(op->sync_result, (const struct sockaddr *)&op->dest->addrs[0], name);
}

/* getaddrinfo of a literal or of localhost: the rows at once. */
static int take_local(struct eng_op *op)
{
    const char *const localhost[] = {"127.0.0.1", "::1"};
    struct sockaddr_storage ss;
    int denied = 0;
    bool literal = !eng_name_is_localhost(op->dest->host);
    for (int i = 0; i < (literal ? 1 : 2); i++) {
        const char *text = literal ? op->dest->host : localhost[i];
        int family = strchr(text, ':') ? AF_INET6 : AF_INET;
        if (engi_addr_literal(text, family, 0, &ss) < 0)
            return ENG_EINVAL;
        int rc = add_address(op, &ss, &denied);
        if (rc < 0)
            return rc;
    }
    return rows_or(op, denied);
}

static bool is_literal(const char *text)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* The answer of a look-up that ends now: its rows, or an error list. */
static struct eng_list *lookup_answer(struct eng_op *op, int code)
{
    struct eng_list *l = op->sync_result;
    op->sync_result = NULL;
    if (code == 0 && l)
        return l;
    eng_list_free(l);
    switch (code) {
    case ENG_EHOSTNOTFOUND:
        return engi_list_err(op->cmd, code, "no address for %.200s", op->dest->host);
    case ENG_EDENIED:
        return engi_list_err(op->cmd, code, "%.200s is not an address this gateway reaches",
                             op->dest->host);
    case ENG_EINVAL:
        if (op->cmd == ENG_CMD_GETNAMEINFO)
            return engi_list_err(op->cmd, code, "address must be an IPv4 or IPv6 address, "
                                 "such as 127.0.0.1 or ::1");
        return engi_list_err(op->cmd, code, "'%.200s' is not a host name (write an IPv4 "
                             "address in the plain form, such as 127.0.0.1)", op->dest->host);
    default:
        return engi_list_err(op->cmd, code, NULL);
    }
}

/* A look-up that had to wait has ended. */
static void lookup_resolved(struct eng_op *op, int code)
{
    eng_done_fn done = op->done;
    void *ctx = op->ctx;
    struct eng_list *l = lookup_answer(op, code);
    if (l)
        l->last = true;
    engi_op_free(op);
    done(ctx, l);
}

/* Checks the request and starts the look-up: 1 when answered at once (the rows or a
 * code in *code), 0 when c-ares will call lookup_resolved. */
static int lookup_start(struct eng_op *op, int *code)
{
    const char *host = op->dest->host;
    if (op->cmd == ENG_CMD_GETNAMEINFO) {
        if (!is_literal(host)) {
            *code = ENG_EINVAL;
            return 1;
        }
        struct sockaddr_storage *ss = &op->dest->addrs[0];
        engi_addr_literal(host, strchr(host, ':') ? AF_INET6 : AF_INET, op->dest->port, ss);
        if (eng_policy_check(op->e->cfg.policy, (const struct sockaddr *)ss) < 0) {
            *code = ENG_EDENIED;
            return 1;
        }
        op->dest->naddrs = 1;
        int rc = engi_resolve_name(op, (const struct sockaddr *)ss, lookup_resolved);
        *code = 0;
        return rc != 0;
    }
    if (is_literal(host) || eng_name_is_localhost(host)) {
        *code = take_local(op);
        return 1;
    }
    if (numeric_looking(host) || !host_name_ok(host)) {
        *code = ENG_EINVAL;
        return 1;
    }
    int rc = engi_lookup_addrinfo(op, lookup_resolved);
    *code = rc < 0 ? rc : 0;
    return rc != 0;
}

int eng_lookup(struct eng *e, const struct eng_request *req, eng_done_fn done, void *ctx,
               struct eng_list **now, struct eng_op **opp)
{
    *now = NULL;
    *opp = NULL;
    if (e->nwaits >= e->cfg.max_waits) {
        *now = engi_list_err(req->cmd, ENG_ELIMIT, "%zu operations are in progress, the most "
                             "allowed", e->cfg.max_waits);
        return *now ? 0 : -ENOMEM;
    }
    const char *host = req->host ? req->host : "";
    size_t len = strlen(host);
    struct eng_op *op = calloc(1, sizeof(*op));
    struct engi_dest *d = calloc(1, sizeof(*d) + len + 1);
    struct eng_list *l = engi_list_new(req->cmd);
    if (!op || !d || !l) {
        free(op);
        free(d);
        eng_list_free(l);
        return -ENOMEM;
    }
    memcpy(d->host, host, len + 1);
    d->port = req->port;
    l->row_len = LOOKUP_ROW;
    *op = (struct eng_op){.e = e, .cmd = req->cmd, .done = done, .ctx = ctx, .dest = d,
                          .sync_result = l};
    eng_timer_init(&op->timer, NULL);
    e->nwaits++;
    int code;
    if (!lookup_start(op, &code)) {
        *opp = op;
        return ENG_PENDING;
    }
    *now = lookup_answer(op, code);
    engi_op_free(op);
    return *now ? 0 : -ENOMEM;
}
