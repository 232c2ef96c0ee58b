/*
 * websockify compatibility (see websockify.h): the target, the token file and its
 * reloading, and the request's way from upgrade to bridge: check the handshake, pick the
 * target, make and connect a socket (suspending the request while it connects), then
 * answer the upgrade through ws_upgrade.c.
 */
#include "websockify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "auth.h"
#include "render.h"
#include "ws_upgrade.h"

#define WSFY_FILE_MAX (1u << 20)     /* largest token file read */
#define WSFY_TOKENS_MAX 100000u      /* most tokens kept */

struct wsfy_target {
    char host[256];                  /* a name or an address, without brackets */
    uint16_t port;
};

struct wsfy_token {
    char *token;                     /* owned */
    struct wsfy_target target;
};

struct websockify {
    bool fixed;                      /* --websockify-target */
    struct wsfy_target target;       /* its target */
    const char *tokens_path;         /* --websockify-tokens, or NULL */
    struct wsfy_token *tokens;       /* the file's entries */
    size_t ntokens;
    struct stat seen;                /* the file as it was when read */
};

/* "host:port", "[v6]:port" or "v6-literal-with-colons:port" into t. */
static int parse_target(const char *text, struct wsfy_target *t)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -EINVAL;
    const char *host = text;
    size_t hlen = (size_t)(colon - text);
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(t->host))
        return -EINVAL;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
        return -EINVAL;
    memcpy(t->host, host, hlen);
    t->host[hlen] = '\0';
    t->port = (uint16_t)port;
    return 0;
}

static void tokens_clear(struct websockify *w)
{
    for (size_t i = 0; i < w->ntokens; i++)
        free(w->tokens[i].token);
    free(w->tokens);
    w->tokens = NULL;
    w->ntokens = 0;
}

/* One line of websockify's token file: "token: host:port". Blank lines and lines
 * starting with '#' are skipped, as websockify skips them. */
static int parse_token_line(char *line, struct wsfy_token *out)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (len == 0 || line[0] == '#')
        return 0;
    /* websockify splits at the first ':' followed by white space. */
    char *sep = line;
    while ((sep = strchr(sep, ':')) && sep[1] != ' ' && sep[1] != '\t')
        sep++;
    if (!sep || sep == line)
        return -EINVAL;
    *sep = '\0';
    char *target = sep + 1;
    while (*target == ' ' || *target == '\t')
        target++;
    if (parse_target(target, &out->target) < 0)
        return -EINVAL;
    out->token = strdup(line);
    return out->token ? 1 : -ENOMEM;
}

/* Reads the token file anew when it changed since the last read (a stat per request, as
 * websockify reads its file per connection). Keeps the old table if it cannot be read. */
static int tokens_load(struct websockify *w, bool verbose)
{
    struct stat st;
    if (stat(w->tokens_path, &st) < 0)
        return -errno;
    if (w->tokens && st.st_mtim.tv_sec == w->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == w->seen.st_mtim.tv_nsec && st.st_size == w->seen.st_size &&
        st.st_ino == w->seen.st_ino)
        return 0;
    FILE *f = fopen(w->tokens_path, "re");
    if (!f)
        return -errno;
    struct wsfy_token *table = NULL;
    size_t n = 0, cap = 0, lineno = 0, total = 0;
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        total += strlen(line);
        if (total > WSFY_FILE_MAX || n >= WSFY_TOKENS_MAX) {
            rc = -EFBIG;
            break;
        }
        line[strcspn(line, "\n")] = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct wsfy_token *grown = realloc(table, cap * sizeof(*table));
            if (!grown) {
                rc = -ENOMEM;
                break;
            }
            table = grown;
        }
        int got = parse_token_line(line, &table[n]);
        if (got > 0)
            n++;
        else if (got < 0 && verbose)
            fprintf(stderr, "sockgate: %s:%zu: not \"token: host:port\", skipped\n",
                    w->tokens_path, lineno);
    }
    fclose(f);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(table[i].token);
        free(table);
        return rc;
    }
    tokens_clear(w);
    w->tokens = table;
    w->ntokens = n;
    w->seen = st;
    return 0;
}

struct websockify *websockify_new(const struct cfg *cfg, bool *err)
{
    *err = false;
    if (!cfg->websockify_target[0] && !cfg->websockify_tokens[0])
        return NULL;
    *err = true;
    if (cfg->websockify_target[0] && cfg->websockify_tokens[0]) {
        fprintf(stderr, "sockgate: give --websockify-target or --websockify-tokens, not both\n");
        return NULL;
    }
    struct websockify *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    if (cfg->websockify_target[0]) {
        if (parse_target(cfg->websockify_target, &w->target) < 0) {
            fprintf(stderr, "sockgate: bad --websockify-target '%s': want HOST:PORT\n",
                    cfg->websockify_target);
            free(w);
            return NULL;
        }
        w->fixed = true;
    } else {
        w->tokens_path = cfg->websockify_tokens;
        int rc = tokens_load(w, true);
        if (rc < 0) {
            fprintf(stderr, "sockgate: cannot read --websockify-tokens %s: %s\n",
                    cfg->websockify_tokens, strerror(-rc));
            free(w);
            return NULL;
        }
    }
    *err = false;
    return w;
}

void websockify_free(struct websockify *w)
{
    if (!w)
        return;
    tokens_clear(w);
    free(w);
}

bool websockify_path(const struct cfg *cfg, const char *url)
{
    /* Every request asks: the byte after the first '/' settles it for nearly all. */
    return (url[0] && url[1] == 'w' && strcmp(url, "/websockify") == 0) ||
           (cfg->websockify_path[0] && url[0] && url[1] == cfg->websockify_path[1] &&
            strcmp(url, cfg->websockify_path) == 0);
}

/* The target of a token, compared in constant time against every entry. */
static const struct wsfy_target *token_target(struct websockify *w, const char *given)
{
    if (!given)
        return NULL;
    tokens_load(w, false);
    const struct wsfy_target *found = NULL;
    size_t glen = strlen(given);
    for (size_t i = 0; i < w->ntokens; i++)
        if (auth_equal(given, glen, w->tokens[i].token, strlen(w->tokens[i].token)) && !found)
            found = &w->tokens[i].target;
    return found;
}

/* The connect has answered: bridge, or say why the target could not be reached. */
static enum MHD_Result connected(struct srv_req *r)
{
    struct eng_list *l = r->answer;
    r->answer = NULL;
    if (!l)
        return srv_reply_error(r, 500, "websockify", -ENOMEM, NULL);
    int code = l->err;
    char detail[200] = "";
    if (code && l->nitems > 1) {
        /* Element 2 without its "NAME: " and final period. */
        const char *text = l->items[1].bytes;
        const char *colon = strstr(text, ": ");
        snprintf(detail, sizeof(detail), "the target: %s", colon ? colon + 2 : text);
        size_t len = strlen(detail);
        if (len > 0 && detail[len - 1] == '.')
            detail[len - 1] = '\0';
    }
    eng_list_free(l);
    if (code == 0)
        return ws_upgrade_answer(r, "websockify", false);
    unsigned status = code == ENG_EDENIED ? 403 : code == -ETIMEDOUT ? 504 : 502;
    return srv_reply_error(r, status, "websockify", code, detail);
}

/* Makes the socket and connects it to t; answers now, or suspends r until connected. */
static enum MHD_Result connect_target(struct srv_req *r, int owner, const struct wsfy_target *t)
{
    struct srv *s = r->srv;
    /* The per-credential quota is the engine's: eng_socket_create answers LIMIT. */
    int family = strchr(t->host, ':') ? AF_INET6 : AF_INET;
    struct eng_list *made = eng_socket_create(s->eng, owner, SOCK_STREAM, family);
    if (!made)
        return srv_reply_error(r, 500, "websockify", -ENOMEM, NULL);
    if (made->err || made->nitems < 3) {
        /* Its text, "LIMIT: this credential has 5 sockets open, ...", says which limit. */
        char detail[200] = "";
        const char *colon = made->nitems > 1 ? strstr(made->items[1].bytes, ": ") : NULL;
        if (colon)
            snprintf(detail, sizeof(detail), "%s", colon + 2);
        size_t dlen = strlen(detail);
        if (dlen > 0 && detail[dlen - 1] == '.')
            detail[dlen - 1] = '\0';
        int code = made->err;
        eng_list_free(made);
        return srv_reply_error(r, code == ENG_ELIMIT ? 429 : 500, "websockify", code,
                               detail[0] ? detail : NULL);
    }
    snprintf(r->ws->id, sizeof(r->ws->id), "%s", made->items[2].bytes);
    eng_list_free(made);
    r->ws->owner = owner;
    r->ws->made_socket = true;
    struct eng_request req = {.cmd = ENG_CMD_CONNECT, .host = t->host, .port = t->port,
                              .timeout = -1, .backlog = -1};
    struct eng_list *now = NULL;
    struct eng_op *op = NULL;
    int rc = eng_exec(s->eng, owner, r->ws->id, &req, srv_answer_later, r, &now, &op);
    if (rc < 0)
        return srv_reply_error(r, 500, "websockify", rc, NULL);
    if (rc == ENG_PENDING) {
        r->op = op;
        r->resume_with = connected;
        srv_suspend(r);
        return MHD_YES;
    }
    r->answer = now;
    return connected(r);
}

enum MHD_Result websockify_handle(struct srv_req *r)
{
    struct srv *s = r->srv;
    struct websockify *w = s->websockify;
    if (!w)
        return srv_reply_error(r, 404, "websockify", ENG_EINVAL,
                               "no websockify target is configured (--websockify-target or "
                               "--websockify-tokens)");
    enum MHD_Result ret;
    if (!ws_upgrade_begin(r, "websockify", &ret))
        return ret;
    const char *token = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "token");
    if (!w->fixed) {
        /* The token picks the target, and is the credential for that target only. */
        const struct wsfy_target *t = token_target(w, token);
        if (!t)
            return srv_reply_error(r, 401, "websockify", ENG_EAUTH,
                                   "?token= names no target of the token file");
        return connect_target(r, WEBSOCKIFY_OWNER, t);
    }
    struct args_kv q = {.key = "token", .value = token};
    int owner = auth_owner(s, r->conn, &q, token ? 1 : 0);
    if (owner < 0)
        return srv_reply_error(r, 401, "websockify", ENG_EAUTH,
                               "send Authorization: Bearer TOKEN or ?token=TOKEN");
    return connect_target(r, owner, &w->target);
}
