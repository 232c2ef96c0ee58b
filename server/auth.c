/*
 * Bearer tokens (see auth.h). The owner of a request is the index of its token in the
 * configured list, so sockets created with one token are invisible to every other.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* An owner is the index of its token (0 with none configured). The engine counts sockets
 * and the events keep a stream for each owner below ENG_MAX_OWNERS, so every token must
 * have a number below it; the socket quota itself is the engine's (eng_socket_create). */
_Static_assert(CFG_MAX_TOKENS <= ENG_MAX_OWNERS, "every token needs its own owner number");
_Static_assert(CFG_MAX_TOKENS >= 1, "owner 0 is the only owner when no token is configured");

bool auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int auth_owner(struct srv *s, struct MHD_Connection *conn, const struct args_kv *q, size_t nq)
{
    const struct cfg *cfg = s->cfg;
    if (cfg->ntokens == 0)
        return 0;
    const char *given = NULL;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        given = h + 7;
        while (*given == ' ')
            given++;
    }
    for (size_t i = 0; !given && i < nq; i++)
        if (strcmp(q[i].key, "token") == 0)
            given = q[i].value;
    if (!given)
        return -1;
    int owner = -1;
    size_t glen = strlen(given);
    /* Every token is compared, so the time does not tell which one came close. */
    for (size_t i = 0; i < cfg->ntokens; i++)
        if (auth_equal(given, glen, cfg->tokens[i], strlen(cfg->tokens[i])) && owner < 0)
            owner = (int)i;
    return owner;
}

int auth_generate_token(char *buf, size_t len)
{
    unsigned char raw[16];
    if (len < 2 * sizeof(raw) + 1)
        return -EINVAL;
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -errno;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}
