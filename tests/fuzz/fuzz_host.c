/*
 * libFuzzer harness for host_is_loopback (server/host_check.c), the Host header check
 * that keeps a DNS-rebinding page away from a gateway with no token. It aborts when:
 *   - a header it takes for loopback names anything but localhost (or a name under it),
 *     127.0.0.0/8, ::1 or ::ffff:127.x.y.z, the port cut off as HTTP writes it;
 *   - the answer changes when asked again (it keeps a one-entry cache), or when the case
 *     of the header changes (names and IPv6 hex ignore case);
 *   - a plain name is judged differently with a port after it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *host)
{
    fprintf(stderr, "fuzz_host: %s (Host '%s')\n", what, host);
    abort();
}

/* The name a loopback answer must stand on, by the plainest reading. */
static int name_is_loopback(const char *name)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, name, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    return (n == 9 && strncasecmp(name, "localhost", 9) == 0) ||
           (n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0);
}

static int reference(const char *host)
{
    char name[300];
    size_t len;
    const char *start = host;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return 0;
        start = host + 1;
        len = (size_t)(close - start);
    } else {
        len = strcspn(host, ":");
    }
    if (len == 0 || len >= 256)
        return 0;
    memcpy(name, start, len);
    name[len] = '\0';
    return name_is_loopback(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 280)
        return 0;
    char host[300], other[300];
    memcpy(host, data, size);
    host[size] = '\0';
    bool got = host_is_loopback(host);
    if (got != (reference(host) != 0))
        fail(got ? "taken for loopback" : "refused though loopback", host);
    if (host_is_loopback(host) != got)
        fail("asked again, answered otherwise", host);
    for (size_t i = 0; i <= strlen(host); i++)
        other[i] = (char)toupper((unsigned char)host[i]);
    if (host_is_loopback(other) != got)
        fail("the case changed the answer", host);
    if (!strchr(host, ':') && host[0] != '[' && strlen(host) + 6 < sizeof(other)) {
        snprintf(other, sizeof(other), "%s:8080", host);
        if (host_is_loopback(other) != got)
            fail("a port changed the answer", host);
    }
    return 0;
}
