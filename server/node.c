/*
 * Node awareness (see node.h): ?node=NAME and socket id prefixes checked against this
 * gateway's --node, and the per-run base that keeps ids growing across restarts.
 */
#include "node.h"

#include <string.h>
#include <time.h>

#include "server.h"

uint64_t node_boot_base(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool node_misdirected(const struct srv *s, const char *asked, const char *url)
{
    const char *self = s->cfg->node;
    if (asked && strcmp(asked, self) != 0)
        return true;
    /* The node an id names is what comes before its last '.' ("gw2" in "gw2.s17"); a
     * segment that does not end in ".s<digits>" is no id of any node. */
    const char *p = url;
    while (*p == '/')
        p++;
    if (strncmp(p, "sockets/", 8) != 0)
        return false;
    p += 8;
    size_t len = (size_t)(strchrnul(p, '/') - p); /* strcspn's set costs twice as much */
    const char *dot = memrchr(p, '.', len);
    if (!dot || dot[1] != 's' || dot + 2 == p + len ||
        strspn(dot + 2, "0123456789") != (size_t)(p + len - dot - 2))
        return false;
    size_t nl = (size_t)(dot - p);
    return nl != strlen(self) || memcmp(p, self, nl) != 0;
}
