/*
 * Unit tests of engine/policy.c, the destination policy of SPEC.md section 7: the
 * defaults when listening on loopback and beyond it, IPv6 forms that embed an IPv4
 * address (v4-mapped, v4-compatible, NAT64, 6to4) judged by that address, --allow and
 * --deny rules with ports and ranges where the first match wins, and rejected rules.
 * These tests only build socket addresses: nothing is ever sent anywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "errname.h"
#include "policy.h"

/* The policy's answer for address `addr` (IPv4 or IPv6 text) and `port`. */
static int check(const struct eng_policy *p, const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    } else {
        fail_msg("test bug: '%s' is not an address", addr);
    }
    return eng_policy_check(p, (const struct sockaddr *)&ss);
}

static void expect_allowed(const struct eng_policy *p, const char *addr, uint16_t port)
{
    int rc = check(p, addr, port);
    if (rc != 0)
        fail_msg("%s port %u: expected allowed, got %d", addr, port, rc);
}

static void expect_denied(const struct eng_policy *p, const char *addr, uint16_t port)
{
    int rc = check(p, addr, port);
    if (rc != ENG_EDENIED)
        fail_msg("%s port %u: expected DENIED, got %d", addr, port, rc);
}

static struct eng_policy *policy(bool exposed)
{
    struct eng_policy *p = eng_policy_new(exposed);
    assert_non_null(p);
    return p;
}

static void add(struct eng_policy *p, bool allow, const char *rule)
{
    int rc = eng_policy_add(p, allow, rule);
    if (rc != 0)
        fail_msg("rule '%s' was rejected (%d)", rule, rc);
}

/* Refused whatever address the server listens on. */
static const char *const always_denied[] = {
    "169.254.169.254", "169.254.0.1", "169.254.255.255", /* link-local: cloud metadata */
    "fe80::1", "fe80::a9fe:a9fe", "febf:ffff::1",          /* fe80::/10 */
    "0.0.0.0", "0.1.2.3", "::",                             /* unspecified */
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",  /* multicast */
    "255.255.255.255",                                      /* broadcast */
};

/* Refused only when listening beyond loopback. */
static const char *const private_nets[] = {
    "127.0.0.1", "127.255.255.254", "::1",
    "10.0.0.1", "10.255.255.255",
    "172.16.0.1", "172.31.255.255",
    "192.168.0.1", "192.168.255.255",
    "100.64.0.1", "100.127.255.255",
    "fc00::1", "fd12:3456::1",
};

/* Public everywhere. */
static const char *const public_addrs[] = {
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.1", "100.63.255.255",
    "100.128.0.1", "169.253.255.255", "169.255.0.1", "223.255.255.255", "11.0.0.1",
    "2001:4860:4860::8888", "2606:4700::1111",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_null_policy_allows_all(void **state)
{
    (void)state;
    expect_allowed(NULL, "169.254.169.254", 80);
    expect_allowed(NULL, "fe80::1", 80);
}

static void test_defaults_on_loopback(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    for (size_t i = 0; i < COUNT(always_denied); i++)
        expect_denied(p, always_denied[i], 80);
    for (size_t i = 0; i < COUNT(private_nets); i++)
        expect_allowed(p, private_nets[i], 6379);
    for (size_t i = 0; i < COUNT(public_addrs); i++)
        expect_allowed(p, public_addrs[i], 443);
    /* Every port, 0 and 65535 included, is judged the same by default. */
    expect_denied(p, "169.254.169.254", 0);
    expect_denied(p, "169.254.169.254", 65535);
    expect_allowed(p, "127.0.0.1", 0);
    expect_allowed(p, "127.0.0.1", 65535);
    eng_policy_free(p);
}

static void test_defaults_when_exposed(void **state)
{
    (void)state;
    struct eng_policy *p = policy(true);
    for (size_t i = 0; i < COUNT(always_denied); i++)
        expect_denied(p, always_denied[i], 80);
    for (size_t i = 0; i < COUNT(private_nets); i++)
        expect_denied(p, private_nets[i], 6379);
    for (size_t i = 0; i < COUNT(public_addrs); i++)
        expect_allowed(p, public_addrs[i], 443);
    eng_policy_free(p);
}

static void test_embedded_ipv4_judged_as_ipv4(void **state)
{
    (void)state;
    struct eng_policy *lo = policy(false), *ex = policy(true);
    static const char *const metadata_forms[] = {
        "::ffff:169.254.169.254",  /* v4-mapped */
        "::ffff:a9fe:a9fe",        /* the same, in hex */
        "::169.254.169.254",       /* v4-compatible */
        "64:ff9b::a9fe:a9fe",      /* NAT64 well-known prefix */
        "64:ff9b::169.254.169.254",
        "2002:a9fe:a9fe::",        /* 6to4 */
        "2002:a9fe:a9fe:1:2:3:4:5",
    };
    for (size_t i = 0; i < COUNT(metadata_forms); i++) {
        expect_denied(lo, metadata_forms[i], 80);
        expect_denied(ex, metadata_forms[i], 80);
    }
    /* Public IPv4 in the same wrappers stays allowed. */
    static const char *const public_forms[] = {
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "::8.8.8.8",
    };
    for (size_t i = 0; i < COUNT(public_forms); i++) {
        expect_allowed(lo, public_forms[i], 53);
        expect_allowed(ex, public_forms[i], 53);
    }
    /* Private IPv4 in wrappers: allowed on loopback, refused when exposed. */
    static const char *const private_forms[] = {
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "64:ff9b::c0a8:101", "2002:ac10:1::",
        "::ffff:100.64.0.1",
    };
    for (size_t i = 0; i < COUNT(private_forms); i++) {
        expect_allowed(lo, private_forms[i], 80);
        expect_denied(ex, private_forms[i], 80);
    }
    /* Multicast and unspecified IPv4 in wrappers. */
    expect_denied(lo, "::ffff:224.0.0.1", 80);
    expect_denied(lo, "::ffff:0.0.0.0", 80);
    expect_denied(lo, "64:ff9b::ffff:ffff", 80);
    eng_policy_free(lo);
    eng_policy_free(ex);
}

/* More IPv6 forms that carry an IPv4 address: Teredo (the client address, inverted),
 * IPv4-translated ::ffff:0:a.b.c.d, the local-use NAT64 prefix 64:ff9b:1::/48 and
 * ISATAP identifiers. Each is judged by its IPv4 address, and still as itself. */
static void test_more_embedded_forms(void **state)
{
    (void)state;
    struct eng_policy *lo = policy(false), *ex = policy(true);
    static const char *const metadata_forms[] = {
        "2001:0:4136:e378:8000:63bf:5601:5601", /* Teredo, client 169.254.169.254 */
        "2001::5601:5601",
        "::ffff:0:169.254.169.254",             /* IPv4-translated (SIIT) */
        "::ffff:0:a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",                 /* local-use NAT64 */
        "64:ff9b:1:ffff::169.254.169.254",
        "2001:db8::5efe:169.254.169.254",       /* ISATAP */
        "2001:db8::200:5efe:a9fe:a9fe",
        "2002:a9fe:a9fe::5efe:8.8.8.8",         /* 6to4 with an ISATAP identifier */
        "2002:808:808::5efe:169.254.169.254",
        "2001:0:4136:e378:0:5efe:a9fe:a9fe",    /* Teredo with an ISATAP identifier */
    };
    for (size_t i = 0; i < COUNT(metadata_forms); i++) {
        expect_denied(lo, metadata_forms[i], 80);
        expect_denied(ex, metadata_forms[i], 80);
    }
    static const char *const private_forms[] = {
        "2001:0:4136:e378:8000:63bf:f5ff:fffe", /* Teredo, client 10.0.0.1 */
        "2001::80ff:fffe",                      /* Teredo, client 127.0.0.1 */
        "::ffff:0:10.0.0.1", "::ffff:0:127.0.0.1",
        "64:ff9b:1::c0a8:101", "2001:db8::5efe:192.168.1.1",
    };
    for (size_t i = 0; i < COUNT(private_forms); i++) {
        expect_allowed(lo, private_forms[i], 80);
        expect_denied(ex, private_forms[i], 80);
    }
    static const char *const public_forms[] = {
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "::ffff:0:8.8.8.8", "64:ff9b:1::808:808",
        "2001:db8::5efe:8.8.8.8", "2001:db8::200:5efe:808:808",
    };
    for (size_t i = 0; i < COUNT(public_forms); i++) {
        expect_allowed(lo, public_forms[i], 53);
        expect_allowed(ex, public_forms[i], 53);
    }
    /* Unwrapping never lifts a refusal of the IPv6 address itself. */
    expect_denied(lo, "fe80::5efe:8.8.8.8", 80);
    expect_denied(ex, "fd00::5efe:8.8.8.8", 80);
    eng_policy_free(lo);
    eng_policy_free(ex);

    /* An IPv4 rule covers the new wrappers; an IPv6 rule on a wrapper prefix still
     * covers the addresses in it; an IPv4 allow does not open link-local IPv6. */
    struct eng_policy *p = policy(false);
    add(p, false, "8.8.8.0/24");
    add(p, false, "2001::/32");
    add(p, true, "0.0.0.0/0");
    expect_denied(p, "::ffff:0:8.8.8.8", 53);
    expect_denied(p, "2001:db8::5efe:8.8.8.8", 53);
    expect_denied(p, "2001:0:4136:e378:8000:63bf:fbfb:fbfb", 53); /* Teredo of 4.4.4.4 */
    expect_allowed(p, "::ffff:0:4.4.4.4", 53);
    expect_denied(p, "fe80::5efe:4.4.4.4", 53);
    eng_policy_free(p);
}

static void test_deny_cidr(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    add(p, false, "8.8.8.0/24");
    add(p, false, "2001:db8::/32");
    add(p, false, "1.2.3.4");
    expect_denied(p, "8.8.8.8", 53);
    expect_denied(p, "8.8.8.255", 53);
    expect_allowed(p, "8.8.9.1", 53);
    expect_allowed(p, "8.8.4.4", 53);
    expect_denied(p, "2001:db8::1", 80);
    expect_denied(p, "2001:db8:ffff::1", 80);
    expect_allowed(p, "2001:db9::1", 80);
    expect_denied(p, "1.2.3.4", 1);
    expect_allowed(p, "1.2.3.5", 1);
    /* An IPv4 rule covers that address in IPv6 clothing too. */
    expect_denied(p, "::ffff:8.8.8.8", 53);
    expect_denied(p, "64:ff9b::808:808", 53);
    expect_denied(p, "2002:808:808::", 53);
    eng_policy_free(p);
}

static void test_rules_with_ports(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    add(p, false, "93.184.216.34:80");
    add(p, false, "10.0.0.0/8:8000-8100");
    add(p, false, "192.168.1.0/24:22,80,443");
    add(p, false, "192.168.2.0/24:1-1023,5000-5001");
    add(p, false, "[2001:db8::1]:443");
    add(p, false, "2001:db8:1::/48:25");
    expect_denied(p, "93.184.216.34", 80);
    expect_allowed(p, "93.184.216.34", 443);
    expect_allowed(p, "93.184.216.34", 8080);
    expect_allowed(p, "10.1.2.3", 7999);
    expect_denied(p, "10.1.2.3", 8000);
    expect_denied(p, "10.1.2.3", 8050);
    expect_denied(p, "10.1.2.3", 8100);
    expect_allowed(p, "10.1.2.3", 8101);
    expect_denied(p, "192.168.1.9", 22);
    expect_denied(p, "192.168.1.9", 80);
    expect_denied(p, "192.168.1.9", 443);
    expect_allowed(p, "192.168.1.9", 444);
    expect_denied(p, "192.168.2.9", 1);
    expect_denied(p, "192.168.2.9", 1023);
    expect_allowed(p, "192.168.2.9", 1024);
    expect_denied(p, "192.168.2.9", 5001);
    expect_denied(p, "2001:db8::1", 443);
    expect_allowed(p, "2001:db8::1", 80);
    expect_allowed(p, "2001:db8::2", 443);
    expect_denied(p, "2001:db8:1:2::3", 25);
    expect_allowed(p, "2001:db8:1:2::3", 26);
    eng_policy_free(p);
}

static void test_allow_overrides_defaults(void **state)
{
    (void)state;
    /* Reaching a metadata service on purpose takes an explicit rule, and only that port. */
    struct eng_policy *p = policy(false);
    add(p, true, "169.254.169.254/32:80");
    expect_allowed(p, "169.254.169.254", 80);
    expect_denied(p, "169.254.169.254", 443);
    expect_denied(p, "169.254.169.253", 80);
    /* The same address in IPv6 clothing is the same destination. */
    expect_allowed(p, "::ffff:169.254.169.254", 80);
    expect_allowed(p, "64:ff9b::a9fe:a9fe", 80);
    eng_policy_free(p);

    /* An exposed gateway may be opened to one private network. */
    p = policy(true);
    add(p, true, "10.0.0.0/8");
    add(p, true, "[::1]:6379");
    expect_allowed(p, "10.9.8.7", 1);
    expect_denied(p, "192.168.0.1", 1);
    expect_allowed(p, "::1", 6379);
    expect_denied(p, "::1", 6380);
    expect_denied(p, "127.0.0.1", 6379);
    eng_policy_free(p);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    add(p, false, "10.0.0.0/8");
    add(p, true, "10.1.0.0/16");
    expect_denied(p, "10.1.2.3", 80);
    eng_policy_free(p);

    p = policy(false);
    add(p, true, "10.1.0.0/16");
    add(p, false, "10.0.0.0/8");
    expect_allowed(p, "10.1.2.3", 80);
    expect_denied(p, "10.2.0.1", 80);
    eng_policy_free(p);

    /* A rule whose port does not match lets later rules decide. */
    p = policy(false);
    add(p, true, "8.8.8.8:53");
    add(p, false, "8.0.0.0/8");
    expect_allowed(p, "8.8.8.8", 53);
    expect_denied(p, "8.8.8.8", 54);
    eng_policy_free(p);
}

static void test_catch_all_rules(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    add(p, true, "127.0.0.0/8");
    add(p, false, "0.0.0.0/0");
    add(p, false, "::/0");
    expect_allowed(p, "127.0.0.1", 80);
    expect_denied(p, "8.8.8.8", 80);
    expect_denied(p, "2001:4860::1", 80);
    expect_denied(p, "::1", 80);
    eng_policy_free(p);
}

/* A rule written with an IPv6 prefix that embeds IPv4 covers those IPv4 addresses,
 * and no others. */
static void test_embedded_prefix_rules(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    add(p, false, "2002:0808::/32"); /* 6to4 of 8.8.0.0/16 */
    add(p, false, "64:ff9b::101:0/112"); /* NAT64 of 1.1.0.0/16 */
    add(p, false, "::ffff:9.9.9.0/120");
    expect_denied(p, "8.8.8.8", 53);
    expect_denied(p, "2002:808:808::1", 53);
    expect_allowed(p, "8.9.0.1", 53);
    expect_allowed(p, "93.184.216.34", 443);
    expect_denied(p, "1.1.1.1", 53);
    expect_allowed(p, "1.2.1.1", 53);
    expect_denied(p, "9.9.9.9", 53);
    expect_allowed(p, "9.9.10.9", 53);
    eng_policy_free(p);

    /* A 6to4 rule longer than /48 still names one IPv4 address; one shorter than the
     * 2002::/16 prefix is a plain IPv6 rule. */
    p = policy(false);
    add(p, false, "2002:0808:0808:1::/64");
    add(p, false, "2000::/8");
    expect_denied(p, "8.8.8.8", 80);
    expect_denied(p, "2002:808:808::", 80);
    expect_allowed(p, "8.8.8.9", 80); /* 2000::/8 is no IPv4 rule */
    expect_denied(p, "2001:db8::1", 80);
    eng_policy_free(p);

    p = policy(false);
    add(p, true, "2002:0101:0101:ff00::/56");
    add(p, false, "0.0.0.0/0");
    expect_allowed(p, "1.1.1.1", 80);
    expect_allowed(p, "2002:101:101::9", 80);
    expect_denied(p, "1.1.1.2", 80);
    expect_denied(p, "8.8.8.8", 80);
    eng_policy_free(p);
}

static void test_bad_rules_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "abc", "localhost", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/x",
        "10.0.0.0/8/8", "10.0.0.0/8:", "10.0.0.0/8:70000", "10.0.0.0/8:80-70",
        "10.0.0.0/8:80-", "10.0.0.0/8:-80", "10.0.0.0/8:http", "10.0.0.0/8:80,",
        "10.0.0.0/8:,80", "10.0.0.0/8:80,,443", "1.2.3.4:80:90", "256.0.0.1", "1.2.3",
        "::1/129", "[::1", "[::1]x", "[::1]:", "[::1]:99999", "fe80::/10:abc", "2001:db8::g",
        "10.0.0.0/8:1,2,3,4,5,6,7,8,9", "10.0.0.0/8: 80", "10.0.0.0/8:+80", "10.0.0.0/+8",
        "10.0.0.0/ 8", "10.0.0.0/8:80- 90",
        "1.2.3.4/32:80                                                                     "
        "                                                  ",
    };
    struct eng_policy *p = policy(false);
    for (size_t i = 0; i < COUNT(bad); i++) {
        int rc = eng_policy_add(p, false, bad[i]);
        if (rc != -EINVAL)
            fail_msg("rule '%s' was accepted (%d)", bad[i], rc);
    }
    /* None of them took effect. */
    expect_allowed(p, "10.1.1.1", 80);
    expect_allowed(p, "1.2.3.4", 80);
    eng_policy_free(p);
}

static void test_good_rule_forms(void **state)
{
    (void)state;
    static const char *const good[] = {
        "10.0.0.0/8", "1.2.3.4", "1.2.3.4:80", "1.2.3.4/32:80", "0.0.0.0/0", "::/0",
        "2001:db8::/32", "2001:db8::1", "[2001:db8::1]:443", "[::1]/128:80",
        "2001:db8::/32:80-90,443", "10.0.0.0/8:0-65535", "10.0.0.0/8:1,2,3,4,5,6,7,8",
    };
    struct eng_policy *p = policy(false);
    for (size_t i = 0; i < COUNT(good); i++)
        add(p, true, good[i]);
    eng_policy_free(p);
}

static void test_rule_limit(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    int added = 0;
    char rule[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(rule, sizeof(rule), "10.%d.%d.0/24", i / 256, i % 256);
        if (eng_policy_add(p, false, rule) != 0)
            break;
        added++;
    }
    /* A bounded table: some rules fit, and the one past the cap is an error. */
    assert_true(added >= 16);
    assert_true(added < 1000);
    assert_int_equal(eng_policy_add(p, true, "8.8.8.8"), -EINVAL);
    expect_denied(p, "10.0.0.1", 80);
    expect_allowed(p, "8.8.8.8", 80);
    eng_policy_free(p);
}

static void test_other_families_denied(void **state)
{
    (void)state;
    struct eng_policy *p = policy(false);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof(un.sun_path), "/tmp/x");
    assert_int_equal(eng_policy_check(p, (const struct sockaddr *)&un), ENG_EDENIED);
    eng_policy_free(p);
}

static void test_describe(void **state)
{
    (void)state;
    char buf[512];
    struct eng_policy *p = policy(false);
    eng_policy_describe(p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "link-local"));
    add(p, true, "10.0.0.0/8:80");
    add(p, false, "[2001:db8::1]:443");
    eng_policy_describe(p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "allow 10.0.0.0/8:80"));
    assert_non_null(strstr(buf, "deny [2001:db8::1]:443"));
    /* A short buffer is cut, still terminated. */
    char small[20];
    memset(small, '#', sizeof(small));
    eng_policy_describe(p, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    eng_policy_free(p);

    p = policy(true);
    eng_policy_describe(p, buf, sizeof(buf));
    assert_non_null(strstr(buf, "beyond loopback"));
    eng_policy_free(p);
    eng_policy_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_policy_allows_all),
        cmocka_unit_test(test_defaults_on_loopback),
        cmocka_unit_test(test_defaults_when_exposed),
        cmocka_unit_test(test_embedded_ipv4_judged_as_ipv4),
        cmocka_unit_test(test_more_embedded_forms),
        cmocka_unit_test(test_deny_cidr),
        cmocka_unit_test(test_rules_with_ports),
        cmocka_unit_test(test_allow_overrides_defaults),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_catch_all_rules),
        cmocka_unit_test(test_embedded_prefix_rules),
        cmocka_unit_test(test_bad_rules_rejected),
        cmocka_unit_test(test_good_rule_forms),
        cmocka_unit_test(test_rule_limit),
        cmocka_unit_test(test_other_families_denied),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
