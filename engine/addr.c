/*
 * Socket address helpers: literals to sockaddr, sockaddr to the (address, port) strings
 * of answers, and the loopback test that bind relies on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine_int.h"

socklen_t engi_addr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

void engi_addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* Writes v (< 100000) in decimal at o; returns the digits written. Counting the digits
 * first writes them in place, last to first, with no reversing copy. */
static size_t put_decimal(char *o, unsigned v)
{
    size_t n = v >= 10000 ? 5 : v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;
    for (size_t i = n; i-- > 0; v /= 10)
        o[i] = (char)('0' + v % 10);
    return n;
}

/* Writes a byte of an IPv4 address in decimal at o; returns the digits written. Most are
 * one digit (127.0.0.1): those cost a test and a store. */
static size_t put_octet(char *o, unsigned v)
{
    if (v < 10) {
        o[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        o[0] = (char)('0' + v / 10);
        o[1] = (char)('0' + v % 10);
        return 2;
    }
    o[0] = (char)('0' + v / 100);
    o[1] = (char)('0' + v / 10 % 10);
    o[2] = (char)('0' + v % 10);
    return 3;
}

int eng_addr_format(const struct sockaddr *sa, char *host, size_t hostlen, char *port,
                    size_t portlen)
{
    /* getsockname and getpeername answer through here on every call: IPv4 and the port
     * are written by hand, which costs a tenth of inet_ntop and snprintf. */
    if (sa->sa_family == AF_INET && hostlen >= INET_ADDRSTRLEN && portlen >= 6) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        const uint8_t *b = (const uint8_t *)&in4->sin_addr;
        size_t o = put_octet(host, b[0]);
        for (int i = 1; i < 4; i++) {
            host[o++] = '.';
            o += put_octet(host + o, b[i]);
        }
        host[o] = '\0';
        port[put_decimal(port, ntohs(in4->sin_port))] = '\0';
        return (int)o;
    }

    const void *raw;
    unsigned p;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        raw = &in6->sin6_addr;
        p = ntohs(in6->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        raw = &in4->sin_addr;
        p = ntohs(in4->sin_port);
    } else {
        return -EAFNOSUPPORT;
    }
    if (!inet_ntop(sa->sa_family, raw, host, (socklen_t)hostlen))
        return -errno;
    snprintf(port, portlen, "%u", p);
    return (int)strlen(host);
}

/* Parses a numeric address for a socket of `family`. An IPv4 literal on an IPv6 socket
 * becomes the v4-mapped address, which a dual-stack socket understands. */
int engi_addr_literal(const char *host, int family, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        if (family == AF_INET) {
            struct sockaddr_in *in4 = (struct sockaddr_in *)out;
            in4->sin_family = AF_INET;
            in4->sin_addr = a4;
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
            in6->sin6_family = AF_INET6;
            in6->sin6_addr.s6_addr[10] = 0xff;
            in6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(&in6->sin6_addr.s6_addr[12], &a4, 4);
        }
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (family != AF_INET6)
            return -EAFNOSUPPORT;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = a6;
    } else {
        return -EINVAL;
    }
    engi_addr_set_port(out, port);
    return 0;
}

bool eng_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

bool eng_name_is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '.')
        n--; /* the absolute form, "localhost." */
    return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0);
}

bool eng_host_is_loopback(const char *host)
{
    struct sockaddr_storage ss;
    if (engi_addr_literal(host, AF_INET6, 0, &ss) == 0 || engi_addr_literal(host, AF_INET, 0, &ss) == 0)
        return eng_addr_is_loopback((const struct sockaddr *)&ss);
    return eng_name_is_localhost(host);
}
