/*
 * SPEC §7 destination policy and bind rules through the real server: the defaults by
 * listen address, --allow/--deny (addresses, networks, ports, deny before allow), rules
 * that do not parse, and the bind restrictions with and without --allow-bind. Allowed
 * and refused cases alike.
 *
 * Every socket here talks to 127.0.0.0/8 or ::1 only. Refused destinations outside
 * loopback (169.254.169.254, 10.x, ...) are named to prove they are refused, so the test
 * runs in a network namespace of its own where only lo exists (hx_netns_enter, i.e.
 * unshare --net): should the policy regress, the answer fails the test and no packet
 * leaves the machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netns.h"
#include "cmd_util.h"
#include "srv_util.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* A socket of `type` bound to the loopback address `addr` (127.0.0.2, ...) with an
 * OS-chosen port; TCP ones listen. */
static int loopback_socket(const char *addr, int type, uint16_t *port)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

/* Asserts that nothing arrives on fd (no connection, no datagram) within ms. */
static void expect_nothing(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 0)
        fail_msg("traffic reached fd %d although policy refused it", fd);
}

/* ---- destination policy ----------------------------------------------------------- */

/* connect must be refused by policy with 403 DENIED. */
static void expect_connect_denied(const struct hx_server *s, const char *token, const char *id,
                                  const char *host, unsigned port)
{
    struct hx_response r;
    su_cmd_auth(s, token, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":%u}", host, port);
    if (r.status != 403)
        fail_msg("connect %s:%u: expected 403 DENIED, got %d %s", host, port, r.status, r.body);
    cu_expect_err(&r, 403, "connect", "DENIED");
    hx_response_free(&r);
}

static void expect_sendto_denied(const struct hx_server *s, const char *token, const char *id,
                                 const char *host, unsigned port)
{
    struct hx_response r;
    su_cmd_auth(s, token, id, "sendto", &r, "[\"%s\",%u,\"leak\"]", host, port);
    if (r.status != 403)
        fail_msg("sendto %s:%u: expected 403 DENIED, got %d %s", host, port, r.status, r.body);
    cu_expect_err(&r, 403, "sendto", "DENIED");
    hx_response_free(&r);
}

/* Refused whatever the listen address: link-local (cloud metadata), in every IPv6 form
 * that embeds it, the unspecified address and multicast. All refused before a packet. */
static void check_always_denied(const struct hx_server *s, const char *token)
{
    char v4[64], v6[64], u4[64], u6[64];
    su_socket_auth(s, token, NULL, v4);
    su_socket_auth(s, token, "{\"family\":\"IPV6\"}", v6);
    su_socket_auth(s, token, "[\"DGRAM\"]", u4);
    su_socket_auth(s, token, "[\"DGRAM\",\"IPV6\"]", u6);
    expect_connect_denied(s, token, v4, "169.254.169.254", 80);
    expect_connect_denied(s, token, v4, "169.254.0.1", 443);
    expect_connect_denied(s, token, v4, "0.0.0.0", 80);
    expect_connect_denied(s, token, v6, "::ffff:169.254.169.254", 80);
    expect_connect_denied(s, token, v6, "fe80::a9fe:a9fe", 80);
    expect_connect_denied(s, token, v6, "::", 80);
    expect_sendto_denied(s, token, u4, "169.254.169.254", 53);
    expect_sendto_denied(s, token, u4, "224.0.0.251", 5353);
    expect_sendto_denied(s, token, u4, "255.255.255.255", 67);
    expect_sendto_denied(s, token, u6, "::ffff:169.254.169.254", 53);
    expect_sendto_denied(s, token, u6, "ff02::fb", 5353);
    /* A refused connect leaves the socket usable. */
    struct hx_response r;
    su_cmd_auth(s, token, v4, "getsockname", &r, NULL);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    const char *ids[] = {v4, v6, u4, u6};
    for (int i = 0; i < 4; i++) {
        su_cmd_auth(s, token, ids[i], "close", &r, NULL);
        hx_expect(&r, 200, "close", "ok");
        hx_response_free(&r);
    }
}

static void test_policy_loopback_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    static char log[65536];
    su_wait_log(&srv, "policy: destinations: all but link-local", log, sizeof(log));
    check_always_denied(&srv, NULL);

    /* Listening on loopback, loopback destinations are allowed: by address, v4-mapped,
     * ::1 and by name. */
    struct hx_response r;
    char id[64];
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);
    const char *targets[][2] = {
        {"", "127.0.0.1"}, {"{\"family\":\"IPV6\"}", "::ffff:127.0.0.1"}, {"", "localhost"},
    };
    for (int i = 0; i < 3; i++) {
        hx_socket(&srv, targets[i][0][0] ? targets[i][0] : NULL, id);
        cu_cmdf(&srv, id, "connect", &r, "[\"%s\",%u]", targets[i][1], port);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        close(hx_accept(lfd));
        cu_ok(&srv, id, "close", NULL);
    }
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    cu_cmdf(&srv, id, "connect", &r, "[\"::1\",%u]", port6);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd6));
    hx_socket(&srv, "[\"DGRAM\"]", id);
    cu_cmdf(&srv, id, "sendto", &r, "[\"127.0.0.1\",%u,\"hello\"]", uport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[16];
    hx_read_exact(ufd, buf, 5);
    assert_memory_equal(buf, "hello", 5);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_exposed_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_exposed(&srv, (const char *[]){"--token", "tok", NULL});
    check_always_denied(&srv, "tok");

    /* Listening beyond loopback, loopback itself is refused, in every form, and no
     * connection or datagram reaches the loopback peers. */
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);
    char v4[64], v6[64], u4[64];
    su_socket_auth(&srv, "tok", NULL, v4);
    su_socket_auth(&srv, "tok", "{\"family\":\"IPV6\"}", v6);
    su_socket_auth(&srv, "tok", "[\"DGRAM\"]", u4);
    expect_connect_denied(&srv, "tok", v4, "127.0.0.1", port);
    expect_connect_denied(&srv, "tok", v4, "127.1.2.3", port);
    expect_connect_denied(&srv, "tok", v4, "localhost", port);
    expect_connect_denied(&srv, "tok", v6, "::1", port6);
    expect_connect_denied(&srv, "tok", v6, "::ffff:127.0.0.1", port);
    expect_connect_denied(&srv, "tok", v6, "localhost", port6);
    /* The private and CGNAT ranges too (refused before any packet is sent). */
    expect_connect_denied(&srv, "tok", v4, "10.0.0.1", 80);
    expect_connect_denied(&srv, "tok", v4, "172.16.0.1", 80);
    expect_connect_denied(&srv, "tok", v4, "192.168.1.1", 80);
    expect_connect_denied(&srv, "tok", v4, "100.64.0.1", 80);
    expect_connect_denied(&srv, "tok", v6, "fd00::1", 80);
    expect_connect_denied(&srv, "tok", v6, "::ffff:10.0.0.1", 80);
    expect_sendto_denied(&srv, "tok", u4, "127.0.0.1", uport);
    expect_sendto_denied(&srv, "tok", u4, "localhost", uport);
    expect_sendto_denied(&srv, "tok", u4, "192.168.0.1", 53);
    expect_nothing(lfd, 300);
    expect_nothing(lfd6, 1);
    expect_nothing(ufd, 1);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_exposed_allow_loopback(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_exposed(&srv, (const char *[]){"--no-auth", "--allow", "127.0.0.0/8", NULL});
    static char log[65536];
    su_wait_log(&srv, "allow 127.0.0.0/8", log, sizeof(log));
    struct hx_response r;
    char id[64];
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);

    hx_socket(&srv, NULL, id);
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd));
    /* The rule is judged on the IPv4 inside the v4-mapped form too. */
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    cu_cmdf(&srv, id, "connect", &r, "[\"::ffff:127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd));
    hx_socket(&srv, "[\"DGRAM\"]", id);
    cu_cmdf(&srv, id, "sendto", &r, "[\"127.0.0.1\",%u,\"ok\"]", uport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[4];
    hx_read_exact(ufd, buf, 2);
    /* ::1 is not in 127.0.0.0/8: still refused. So are the other defaults. */
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    expect_connect_denied(&srv, NULL, id, "::1", port6);
    expect_nothing(lfd6, 200);
    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "169.254.169.254", 80);
    expect_connect_denied(&srv, NULL, id, "10.1.1.1", 80);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_before_allow(void **state)
{
    (void)state;
    /* --deny rules are checked before --allow rules, whatever their order on the command
     * line: a deny inside an allowed network wins. */
    struct hx_server srv;
    su_start_exposed(&srv, (const char *[]){"--no-auth", "--allow", "127.0.0.0/8", "--deny",
                                            "127.0.0.2", NULL});
    uint16_t port2, port1;
    int l2 = loopback_socket("127.0.0.2", SOCK_STREAM, &port2);
    int l1 = hx_tcp_listener(false, &port1);
    char id[64];
    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.2", port2);
    expect_nothing(l2, 200);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port1);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(l1));
    close(l1);
    close(l2);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_address(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--deny", "127.0.0.2", NULL});
    static char log[65536];
    su_wait_log(&srv, "deny 127.0.0.2", log, sizeof(log));
    struct hx_response r;
    char id[64];
    /* Real peers on 127.0.0.2, which would answer if policy let anything through. */
    uint16_t tport, uport, okport, okuport;
    int lfd = loopback_socket("127.0.0.2", SOCK_STREAM, &tport);
    int ufd = loopback_socket("127.0.0.2", SOCK_DGRAM, &uport);
    int okl = hx_tcp_listener(false, &okport);
    int oku = hx_udp_socket(false, &okuport);

    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.2", tport);
    char v6[64], u4[64], u6[64];
    hx_socket(&srv, "{\"family\":\"IPV6\"}", v6);
    expect_connect_denied(&srv, NULL, v6, "::ffff:127.0.0.2", tport);
    hx_socket(&srv, "[\"DGRAM\"]", u4);
    expect_sendto_denied(&srv, NULL, u4, "127.0.0.2", uport);
    hx_socket(&srv, "[\"DGRAM\",\"IPV6\"]", u6);
    expect_sendto_denied(&srv, NULL, u6, "::ffff:127.0.0.2", uport);
    /* A connected DGRAM socket cannot be pointed there either. */
    expect_connect_denied(&srv, NULL, u4, "127.0.0.2", uport);
    expect_nothing(lfd, 300);
    expect_nothing(ufd, 1);

    /* 127.0.0.1 still works, TCP and UDP, from the same sockets. */
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", okport);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(okl));
    cu_cmdf(&srv, u4, "sendto", &r, "[\"127.0.0.1\",%u,\"fine\"]", okuport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[8];
    hx_read_exact(oku, buf, 4);
    assert_memory_equal(buf, "fine", 4);
    close(lfd);
    close(ufd);
    close(okl);
    close(oku);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_port(void **state)
{
    (void)state;
    uint16_t denied_port, other_port, uport;
    int lfd = hx_tcp_listener(false, &denied_port);
    int other = hx_tcp_listener(false, &other_port);
    int ufd = hx_udp_socket(false, &uport);
    char rule[64], rule2[64];
    snprintf(rule, sizeof(rule), "127.0.0.1:%u", (unsigned)denied_port);
    snprintf(rule2, sizeof(rule2), "127.0.0.0/8:%u-%u", (unsigned)uport, (unsigned)uport);
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--deny", rule, "--deny", rule2, NULL});
    struct hx_response r;
    char id[64], u[64];

    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.1", denied_port);
    expect_connect_denied(&srv, NULL, id, "localhost", denied_port);
    expect_nothing(lfd, 200);
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", other_port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(other));

    /* The UDP port rule (a range, on a network): that port refused, others not. */
    hx_socket(&srv, "[\"DGRAM\"]", u);
    expect_sendto_denied(&srv, NULL, u, "127.0.0.1", uport);
    expect_sendto_denied(&srv, NULL, u, "127.0.0.9", uport);
    expect_nothing(ufd, 200);
    uint16_t okport;
    int ok = hx_udp_socket(false, &okport);
    cu_cmdf(&srv, u, "sendto", &r, "[\"127.0.0.1\",%u,\"x\"]", okport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char c;
    hx_read_exact(ok, &c, 1);
    close(ok);
    close(lfd);
    close(other);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_bad_rule_refused(void **state)
{
    (void)state;
    /* A rule that does not parse stops the server at start instead of being ignored. */
    const char *bad[] = {"300.1.1.1", "127.0.0.1/33", "127.0.0.1:70000", "nonsense",
                         "10.0.0.0/8:", "[::1]:99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *bin = getenv("SOCKGATE_BIN") ? getenv("SOCKGATE_BIN") : "build/sockgate";
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "'%s' --listen 127.0.0.1:%u --deny '%s' >/dev/null 2>&1 "
                 "</dev/null", bin, (unsigned)hx_free_port(), bad[i]);
        /* It must exit by itself with an error; timeout kills a server that would run. */
        char full[640];
        snprintf(full, sizeof(full), "timeout -s KILL 5 sh -c \"%s\"", cmd);
        int st = system(full);
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 1 && WEXITSTATUS(st) != 2))
            fail_msg("--deny '%s' should stop the server with an error (got %d)", bad[i], st);
    }
}

/* ---- bind ------------------------------------------------------------------------- */

static void expect_bind(const struct hx_server *s, const char *id, const char *host,
                        unsigned port, int status, const char *outcome)
{
    struct hx_response r;
    cu_cmdf(s, id, "bind", &r, "{\"localhost\":\"%s\",\"port\":%u}", host, port);
    if (strcmp(outcome, "ok") == 0)
        hx_expect(&r, status, "bind", "ok");
    else
        cu_expect_err(&r, status, "bind", outcome);
    hx_response_free(&r);
}

/* A port below 1024 that nothing on 127.0.0.1 uses now, or 0 when none (or not root). */
static uint16_t free_low_port(void)
{
    if (geteuid() != 0)
        return 0;
    for (unsigned p = 1023; p >= 900; p--) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return (uint16_t)p;
    }
    return 0;
}

static void test_bind_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    static char log[65536];
    su_wait_log(&srv, "bind: loopback only, ports from 1024", log, sizeof(log));
    char id[64], v6[64];
    hx_socket(&srv, NULL, id);
    hx_socket(&srv, "{\"family\":\"IPV6\"}", v6);

    /* Refused: the wildcard in every spelling, a non-loopback address, low ports. */
    expect_bind(&srv, id, "0.0.0.0", 0, 403, "DENIED");
    expect_bind(&srv, id, "*", 0, 403, "DENIED");
    expect_bind(&srv, id, "", 0, 403, "DENIED");
    expect_bind(&srv, id, "10.1.2.3", 0, 403, "DENIED");
    expect_bind(&srv, v6, "::", 0, 403, "DENIED");
    expect_bind(&srv, v6, "::ffff:0.0.0.0", 0, 403, "DENIED");
    expect_bind(&srv, id, "localhost", 80, 403, "DENIED");
    expect_bind(&srv, id, "127.0.0.1", 1023, 403, "DENIED");
    expect_bind(&srv, id, "127.0.0.1", 1, 403, "DENIED");
    struct hx_response r;
    hx_cmd(&srv, id, "bind", "[\"localhost\",\"http\"]", &r); /* a service name below 1024 */
    cu_expect_err(&r, 403, "bind", "DENIED");
    hx_response_free(&r);
    /* The refusals changed nothing: the socket still has no address. */
    char addr[64];
    unsigned port;
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_int_equal(port, 0);

    /* Allowed: loopback, by name and address, any free port from 1024 or 0. */
    expect_bind(&srv, id, "localhost", 0, 200, "ok");
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "127.0.0.1");
    assert_true(port >= 1024);
    expect_bind(&srv, v6, "::1", 0, 200, "ok");
    uint16_t p = hx_free_port();
    char other[64];
    hx_socket(&srv, NULL, other);
    expect_bind(&srv, other, "127.0.0.5", p, 200, "ok");
    cu_name(&srv, other, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "127.0.0.5");
    assert_int_equal(port, p);
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_bind_allow_bind(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--allow-bind", NULL});
    static char log[65536];
    su_wait_log(&srv, "bind: any local address", log, sizeof(log));
    char id[64], addr[64];
    unsigned port;

    /* The wildcard, on a high port the system picks: allowed. */
    hx_socket(&srv, NULL, id);
    expect_bind(&srv, id, "0.0.0.0", 0, 200, "ok");
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "0.0.0.0");
    assert_true(port >= 1024);
    cu_ok(&srv, id, "close", NULL);

    /* A port below 1024 on loopback: allowed (the test runs as root; otherwise the
     * system itself refuses, which is not what this checks). */
    uint16_t low = free_low_port();
    if (low) {
        hx_socket(&srv, NULL, id);
        expect_bind(&srv, id, "127.0.0.1", low, 200, "ok");
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_int_equal(port, low);
        cu_ok(&srv, id, "close", NULL);
    } else {
        fprintf(stderr, "test_bind_allow_bind: no free port below 1024 or not root; "
                        "low-port case skipped\n");
    }
    /* An address that is not local still fails, by the system's answer, not policy. */
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "bind", &r, "[\"192.0.2.1\",0]");
    hx_expect(&r, 200, "bind", "ADDRNOTAVAIL");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- the harness's own guard ------------------------------------------------------- */

/* The check that keeps a test outside a namespace from naming the network: it must see
 * every numeric form of an address beyond loopback, and pass loopback and plain numbers. */
static void test_harness_spots_remote_addresses(void **state)
{
    (void)state;
    const char *remote[] = {"[\"10.0.0.1\",80]", "?address=0177.0.0.1&port=1",
                            "{\"socketname\":\"0xa9.0xfe.0xa9.0xfe\"}", "::ffff:10.1.2.3",
                            "[\"fe80::1\",80]", "{\"address\":\"ff02::fb\"}"};
    const char *local[] = {"[\"127.0.0.1\",80]", "{\"timeout\":0.5,\"n\":10}", "::1",
                           "::ffff:127.0.0.1", "0.0.0.0", "[\"localhost\",\"8080\"]",
                           "127.0.0.1.evil.example", "300.1.1.1"};
    char addr[64];
    for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
        if (!hx_names_remote_address(remote[i], strlen(remote[i]), addr, sizeof(addr)))
            fail_msg("the guard missed the address in %s", remote[i]);
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (hx_names_remote_address(local[i], strlen(local[i]), addr, sizeof(addr)))
            fail_msg("the guard took %s in %s for a remote address", addr, local[i]);
    assert_true(hx_netns_isolated());
}

int main(void)
{
    hx_netns_enter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_policy_loopback_defaults, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_exposed_defaults, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_exposed_allow_loopback, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_before_allow, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_address, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_port, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_bad_rule_refused, su_stop_leftovers),
        cmocka_unit_test_teardown(test_bind_defaults, su_stop_leftovers),
        cmocka_unit_test_teardown(test_bind_allow_bind, su_stop_leftovers),
        cmocka_unit_test(test_harness_spots_remote_addresses),
    };
    return cmocka_run_group_tests_name("policy_net", tests, NULL, NULL);
}
