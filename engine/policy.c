/*
 * Destination policy (see policy.h). Every address is judged in one 16-byte form: IPv4
 * as ::ffff:a.b.c.d, and IPv6 forms that carry an IPv4 address inside (v4-mapped,
 * v4-compatible, IPv4-translated, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
 * 2002::/16, Teredo 2001::/32, ISATAP) are turned into that IPv4 address first, so that
 * none of them is a way around an IPv4 rule; such an address must then pass as itself
 * too.
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

/* ISATAP (RFC 5214): any /64 prefix, then the interface identifier 0000:5efe or
 * 0200:5efe (u/g bits free) and the IPv4 address of the tunnel end. */
static bool is_isatap(const uint8_t a[16])
{
    return (a[8] & 0xfc) == 0 && a[9] == 0 && a[10] == 0x5e && a[11] == 0xfe;
}

/* Finds the IPv4 addresses an IPv6 address carries and writes each in the v4-mapped
 * form; returns how many (at most 2: a 6to4 or Teredo prefix with an ISATAP identifier). */
static int embedded_ipv4(const uint8_t a[16], uint8_t out[2][16])
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};
    static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const uint8_t teredo[4] = {0x20, 0x01, 0x00, 0x00};
    static const uint8_t zero[12] = {0};
    uint8_t v4[4];
    int n = 0;
    if (memcmp(a, nat64, 12) == 0 || memcmp(a, nat64_local, 6) == 0 ||
        memcmp(a, translated, 12) == 0 || is_isatap(a) ||
        (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0)) {
        /* NAT64 well-known prefix 64:ff9b::/96, the local-use NAT64 prefix
         * 64:ff9b:1::/48 (RFC 8215) in its usual /96 form, IPv4-translated
         * ::ffff:0:a.b.c.d (SIIT), ISATAP, or v4-compatible ::a.b.c.d (not :: or ::1):
         * the IPv4 address is the last 32 bits. */
        v4_to_16(a + 12, out[n++]);
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        v4_to_16(a + 2, out[n++]); /* 6to4: 2002:AABB:CCDD::/48 */
    } else if (memcmp(a, teredo, 4) == 0) {
        /* Teredo 2001:0::/32 (RFC 4380): the client's IPv4 address, the one traffic is
         * relayed to, is the last 32 bits inverted. */
        for (int i = 0; i < 4; i++)
            v4[i] = (uint8_t)~a[12 + i];
        v4_to_16(v4, out[n++]);
    }
    return n;
}

/* Brings an IPv6 address that embeds an IPv4 one to the v4-mapped form (the first one
 * embedded_ipv4 finds). */
static void unwrap_embedded(uint8_t a[16])
{
    uint8_t v4[2][16];
    if (embedded_ipv4(a, v4) > 0)
        memcpy(a, v4[0], 16);
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
        uint8_t v4[4];
        memcpy(v4, a + 2, 4);
        v4_to_16(v4, a);
        *prefix = 96 + v4bits;
    } else if (*prefix >= 96) {
        unwrap_embedded(a); /* NAT64, v4-compatible, ...: the IPv4 bits stay at 96..127 */
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

/* The first explicit rule that matches decides, then the default networks. */
static int judge(const struct eng_policy *p, const uint8_t a[16], uint16_t port)
{
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

int eng_policy_check(const struct eng_policy *p, const struct sockaddr *sa)
{
    if (!p)
        return 0;
    uint8_t raw[16];
    uint16_t port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        v4_to_16((const uint8_t *)&in4->sin_addr, raw);
        port = ntohs(in4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(raw, &in6->sin6_addr, 16);
        port = ntohs(in6->sin6_port);
    } else {
        return ENG_EDENIED;
    }
    /* An address is judged by every IPv4 address it carries and then as itself:
     * unwrapping may only add refusals, never lift one (fe80::5efe:8.8.8.8 stays
     * link-local; a --deny of the Teredo prefix 2001::/32 still covers Teredo). */
    uint8_t v4[2][16];
    int n = embedded_ipv4(raw, v4);
    for (int i = 0; i < n; i++) {
        int rc = judge(p, v4[i], port);
        if (rc < 0)
            return rc;
    }
    return judge(p, raw, port);
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
