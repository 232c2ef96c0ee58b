/*
 * Destination policy (see policy.h). Every address is judged in one 16-byte form: IPv4
 * as ::ffff:a.b.c.d, and IPv6 forms that carry an IPv4 address inside (v4-mapped,
 * v4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are turned into that IPv4 address
 * first, so that none of them is a way around an IPv4 rule.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errname.h"

#define POLICY_MAX_RULES 64
#define POLICY_MAX_PORT_RANGES 8

struct policy_rule {
    uint8_t addr[16];                /* network, in the 16-byte form */
    unsigned prefix;                 /* bits of addr that must match, 0..128 */
    unsigned nports;                 /* port ranges; 0 means every port */
    uint16_t port_lo[POLICY_MAX_PORT_RANGES], port_hi[POLICY_MAX_PORT_RANGES];
    bool allow;                      /* allow or deny on a match */
    char text[80];                   /* as given, for the start-up line */
};

struct eng_policy {
    bool exposed;                    /* listening beyond loopback */
    size_t nrules;                   /* explicit rules */
    struct policy_rule rules[POLICY_MAX_RULES];
};

/* Networks refused by default; `exposed_only` ones only when listening beyond loopback. */
static const struct {
    const char *cidr;
    bool exposed_only;
} default_denied[] = {
    {"169.254.0.0/16", false}, {"fe80::/10", false},   /* link-local: cloud metadata */
    {"0.0.0.0/8", false},      {"::/128", false},      /* unspecified */
    {"224.0.0.0/4", false},    {"ff00::/8", false},    /* multicast */
    {"255.255.255.255/32", false},                     /* broadcast */
    {"127.0.0.0/8", true},     {"::1/128", true},      /* loopback */
    {"10.0.0.0/8", true},      {"172.16.0.0/12", true}, {"192.168.0.0/16", true},
    {"100.64.0.0/10", true},   {"fc00::/7", true},     /* CGNAT, unique-local */
};

static void v4_to_16(const uint8_t v4[4], uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

/* Brings an IPv6 address that embeds an IPv4 one to the v4-mapped form. */
static void unwrap_embedded(uint8_t a[16])
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t zero[12] = {0};
    uint8_t v4[4];
    if (memcmp(a, nat64, 12) == 0 ||
        (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0)) {
        /* NAT64 well-known prefix, or v4-compatible ::a.b.c.d (not :: or ::1). */
        memcpy(v4, a + 12, 4);
        v4_to_16(v4, a);
    } else if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4); /* 6to4: 2002:AABB:CCDD::/48 */
        v4_to_16(v4, a);
    }
}

/* Brings an IPv6 rule whose network lies inside an IPv4-embedding prefix to the
 * v4-mapped form, moving its prefix length to where the IPv4 bits now sit, so that
 * "2002:a9fe::/32" covers 169.254.0.0/16 and nothing else. A rule broader than the
 * embedding prefix stays an IPv6 rule. */
static void unwrap_rule(uint8_t a[16], unsigned *prefix)
{
    if (a[0] == 0x20 && a[1] == 0x02) {
        if (*prefix < 16)
            return;
        unsigned v4bits = (*prefix > 48 ? 48 : *prefix) - 16;
        unwrap_embedded(a);
        *prefix = 96 + v4bits;
    } else if (*prefix >= 96) {
        unwrap_embedded(a); /* NAT64, v4-compatible: the IPv4 bits stay at 96..127 */
    }
}

/* strtol for the rule syntax: a plain decimal number, no sign or blank before it. */
static long parse_decimal(const char *s, char **end)
{
    if (*s < '0' || *s > '9') {
        *end = (char *)s;
        return 0;
    }
    return strtol(s, end, 10);
}

static int parse_addr(const char *s, uint8_t out[16], unsigned *bits)
{
    uint8_t v4[4];
    if (inet_pton(AF_INET, s, v4) == 1) {
        v4_to_16(v4, out);
        *bits = 32;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *bits = 128;
        return 0;
    }
    return -EINVAL;
}

static int parse_ports(const char *s, struct policy_rule *r)
{
    while (*s) {
        if (r->nports >= POLICY_MAX_PORT_RANGES)
            return -EINVAL;
        char *end;
        long lo = parse_decimal(s, &end), hi = lo;
        if (end == s || lo < 0 || lo > 65535)
            return -EINVAL;
        s = end;
        if (*s == '-') {
            const char *start = ++s;
            hi = parse_decimal(start, &end);
            if (end == start || hi < lo || hi > 65535)
                return -EINVAL;
            s = end;
        }
        r->port_lo[r->nports] = (uint16_t)lo;
        r->port_hi[r->nports] = (uint16_t)hi;
        r->nports++;
        if (*s == ',' && s[1])
            s++;
        else if (*s)
            return -EINVAL; /* junk, or a trailing comma */
    }
    return r->nports ? 0 : -EINVAL;
}

/* Parses "CIDR[:PORTS]"; IPv6 takes "[addr]:PORTS" or "addr/len:PORTS" for ports. */
static int parse_rule(const char *text, struct policy_rule *r)
{
    char buf[80];
    if (strlen(text) >= sizeof(buf))
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    snprintf(r->text, sizeof(r->text), "%s", text);
    snprintf(buf, sizeof(buf), "%s", text);
    char *addr = buf, *ports = NULL, *slash;
    if (addr[0] == '[') {
        char *close = strchr(addr, ']');
        if (!close)
            return -EINVAL;
        *close = '\0';
        addr++;
        if (close[1] == ':')
            ports = close + 2;
        else if (close[1] == '/') {
            slash = close + 1; /* "[::1]/128:80" */
            memmove(addr + strlen(addr), slash, strlen(slash) + 1);
        } else if (close[1])
            return -EINVAL;
    }
    slash = strchr(addr, '/');
    if (slash) {
        *slash = '\0';
        char *colon = strchr(slash + 1, ':');
        if (colon) {
            *colon = '\0';
            ports = colon + 1;
        }
    } else if (!ports) {
        char *colon = strchr(addr, ':');
        if (colon && colon == strrchr(addr, ':')) { /* one colon: IPv4 with ports */
            *colon = '\0';
            ports = colon + 1;
        }
    }
    unsigned maxbits;
    if (parse_addr(addr, r->addr, &maxbits) < 0)
        return -EINVAL;
    r->prefix = maxbits;
    if (slash) {
        char *end;
        long bits = parse_decimal(slash + 1, &end);
        if (end == slash + 1 || *end || bits < 0 || bits > (long)maxbits)
            return -EINVAL;
        r->prefix = (unsigned)bits;
    }
    if (maxbits == 32)
        r->prefix += 96; /* IPv4 rules match in the v4-mapped space */
    else
        unwrap_rule(r->addr, &r->prefix);
    if (ports && parse_ports(ports, r) < 0)
        return -EINVAL;
    return 0;
}

static bool rule_matches(const struct policy_rule *r, const uint8_t a[16], uint16_t port)
{
    unsigned full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, a, full) != 0)
        return false;
    if (rest && ((r->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))))
        return false;
    if (r->nports == 0)
        return true;
    for (unsigned i = 0; i < r->nports; i++)
        if (port >= r->port_lo[i] && port <= r->port_hi[i])
            return true;
    return false;
}

struct eng_policy *eng_policy_new(bool exposed)
{
    struct eng_policy *p = calloc(1, sizeof(*p));
    if (p)
        p->exposed = exposed;
    return p;
}

void eng_policy_free(struct eng_policy *p)
{
    free(p);
}

int eng_policy_add(struct eng_policy *p, bool allow, const char *rule)
{
    if (p->nrules >= POLICY_MAX_RULES)
        return -EINVAL;
    struct policy_rule r;
    if (parse_rule(rule, &r) < 0)
        return -EINVAL;
    r.allow = allow;
    p->rules[p->nrules++] = r;
    return 0;
}

int eng_policy_check(const struct eng_policy *p, const struct sockaddr *sa)
{
    if (!p)
        return 0;
    uint8_t a[16];
    uint16_t port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        v4_to_16((const uint8_t *)&in4->sin_addr, a);
        port = ntohs(in4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(a, &in6->sin6_addr, 16);
        unwrap_embedded(a);
        port = ntohs(in6->sin6_port);
    } else {
        return ENG_EDENIED;
    }
    for (size_t i = 0; i < p->nrules; i++)
        if (rule_matches(&p->rules[i], a, port))
            return p->rules[i].allow ? 0 : ENG_EDENIED;
    for (size_t i = 0; i < sizeof(default_denied) / sizeof(default_denied[0]); i++) {
        if (default_denied[i].exposed_only && !p->exposed)
            continue;
        struct policy_rule r;
        if (parse_rule(default_denied[i].cidr, &r) == 0 && rule_matches(&r, a, port))
            return ENG_EDENIED;
    }
    return 0;
}

void eng_policy_describe(const struct eng_policy *p, char *buf, size_t len)
{
    size_t used = 0;
    int n = snprintf(buf, len, "destinations: %s",
                     p->exposed ? "public addresses only (listening beyond loopback)"
                                : "all but link-local, unspecified and multicast");
    for (size_t i = 0; n > 0 && i < p->nrules; i++) {
        used += (size_t)n;
        if (used >= len)
            break;
        n = snprintf(buf + used, len - used, "; %s %s", p->rules[i].allow ? "allow" : "deny",
                     p->rules[i].text);
    }
}
