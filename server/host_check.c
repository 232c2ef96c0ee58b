/*
 * The Host header check (see host_check.h). The name is cut from the port (an IPv6
 * address in brackets), then judged by the engine's one loopback test.
 */
#include "host_check.h"

#include <string.h>

#include "engine.h"

bool host_is_loopback(const char *host)
{
    /* Every request asks, and nearly always with the same Host: the last one found to be
     * loopback is remembered (the answer depends on the text alone; one thread asks). */
    static char known[80];
    if (known[0] && strcmp(host, known) == 0)
        return true;
    const char *start = host;
    size_t len;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return false;
        start = host + 1;
        len = (size_t)(close - start);
    } else {
        len = strcspn(host, ":");
    }
    char name[256];
    if (len == 0 || len >= sizeof(name))
        return false;
    memcpy(name, start, len);
    name[len] = '\0';
    if (!eng_host_is_loopback(name))
        return false;
    size_t whole = strlen(host);
    if (whole < sizeof(known))
        memcpy(known, host, whole + 1);
    return true;
}
