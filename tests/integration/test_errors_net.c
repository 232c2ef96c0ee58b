/*
 * SPEC §5, the errors of the socket calls themselves and of policy and limits, through
 * the real server against real loopback peers: CONNREFUSED, NOTCONN, CLOSED,
 * HOSTNOTFOUND, ADDRINUSE, ISCONN, DENIED, WOULDBLOCK (and a non-blocking send that
 * answers the part that did not fit), and a body over --max-body. After each the server
 * keeps serving.
 *
 * HOSTNOTFOUND uses only names c-ares answers without a query: "" and "bad..name" (an
 * empty label). The name server in /etc/resolv.conf here is not on loopback, and these
 * tests send nothing beyond 127.0.0.0/8 and ::1, so no name under .invalid is tried.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"

static struct hx_server srv;
static struct hx_server small;           /* test_max_body's own server */

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-wait", "5", NULL};
    hx_start(&srv, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cu_teardown(&small);
    return cu_teardown(&srv);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&srv);
}

static void test_connrefused(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        char id[64];
        unsigned port = hx_free_port();
        hx_socket(&srv, v ? "{\"family\":\"IPV6\"}" : NULL, id);
        struct hx_response r;
        cu_cmdf(&srv, id, "connect", &r, "[\"%s\",%u]", v ? "::1" : "127.0.0.1", port);
        cu_expect_err(&r, 200, "connect", "CONNREFUSED");
        assert_int_equal(hx_len(&r), 2);
        hx_response_free(&r);
        /* By name, too. */
        char id2[64];
        hx_socket(&srv, NULL, id2);
        cu_cmdf(&srv, id2, "connect", &r, "{\"socketname\":\"localhost\",\"port\":%u}", port);
        cu_expect_err(&r, 200, "connect", "CONNREFUSED");
        hx_response_free(&r);
        cu_ok(&srv, id, "close", NULL);
        cu_ok(&srv, id2, "close", NULL);
    }
    cu_healthz(&srv);
}

static void test_notconn(void **state)
{
    (void)state;
    char id[64], did[64];
    hx_socket(&srv, NULL, id);
    hx_socket(&srv, "[\"DGRAM\"]", did);
    struct hx_response r;
    hx_cmd(&srv, id, "getpeername", NULL, &r);
    cu_expect_err(&r, 200, "getpeername", "NOTCONN");
    hx_response_free(&r);
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/getpeername", id);
    cu_expect_err(&r, 200, "getpeername", "NOTCONN");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[10]", &r);
    cu_expect_err(&r, 200, "recv", "NOTCONN");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recvfrom", "[10]", &r);
    cu_expect_err(&r, 200, "recvfrom", "NOTCONN");
    hx_response_free(&r);
    hx_cmd(&srv, did, "getpeername", NULL, &r);
    cu_expect_err(&r, 200, "getpeername", "NOTCONN");
    hx_response_free(&r);
    cu_ok(&srv, id, "close", NULL);
    cu_ok(&srv, did, "close", NULL);
    cu_healthz(&srv);
}

static void test_closed(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        char id[64];
        int peer;
        cu_connected_pair(&srv, v == 1, id, &peer);
        /* Data sent before the close is still read first. */
        hx_write_all(peer, "last", 4);
        close(peer);
        struct hx_response r;
        cu_wait_fionread(&srv, id, 4);
        hx_cmd(&srv, id, "recv", "[100]", &r);
        hx_expect(&r, 200, "recv", "ok");
        assert_string_equal(hx_elem(&r, 2), "last");
        hx_response_free(&r);
        hx_cmd(&srv, id, "recv", "[100]", &r);
        cu_expect_err(&r, 200, "recv", "CLOSED");
        assert_int_equal(hx_len(&r), 2);
        hx_response_free(&r);
        /* And again: end of stream stays end of stream. */
        hx_cmd(&srv, id, "recv", "{\"n\":1}", &r);
        cu_expect_err(&r, 200, "recv", "CLOSED");
        hx_response_free(&r);
        cu_ok(&srv, id, "close", NULL);
    }
    /* A recv waiting when the peer closes answers CLOSED then. */
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    int hfd = hx_send_only(&srv, "POST", path, "[10]");
    usleep(100000);
    close(peer);
    struct hx_response r;
    hx_read_response(hfd, 5000, &r);
    close(hfd);
    cu_expect_err(&r, 200, "recv", "CLOSED");
    hx_response_free(&r);
    cu_ok(&srv, id, "close", NULL);
    cu_healthz(&srv);
}

static void test_hostnotfound(void **state)
{
    (void)state;
    static const char *const names[] = {"", "bad..name", "a..b.c"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (int v = 0; v < 2; v++) {
            char id[64];
            hx_socket(&srv, v ? "{\"family\":\"IPV6\"}" : NULL, id);
            struct hx_response r;
            cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":80}", names[i]);
            cu_expect_err(&r, 200, "connect", "HOSTNOTFOUND");
            hx_response_free(&r);
            cu_ok(&srv, id, "close", NULL);
        }
        char did[64];
        hx_socket(&srv, "[\"DGRAM\"]", did);
        struct hx_response r;
        cu_cmdf(&srv, did, "sendto", &r, "[\"%s\",9,\"dgram~00\"]", names[i]);
        cu_expect_err(&r, 200, "sendto", "HOSTNOTFOUND");
        assert_int_equal(hx_len(&r), 3);
        assert_string_equal(hx_elem(&r, 2), "dgram~00"); /* nothing was sent */
        hx_response_free(&r);
        cu_ok(&srv, did, "close", NULL);
    }
    cu_healthz(&srv);
}

static void test_addrinuse(void **state)
{
    (void)state;
    char a[64], b[64], addr[64];
    unsigned port;
    struct hx_response r;
    /* A gateway listener's port. */
    hx_socket(&srv, NULL, a);
    cu_ok(&srv, a, "bind", "[\"localhost\",0]");
    cu_ok(&srv, a, "listen", NULL);
    cu_name(&srv, a, false, addr, sizeof(addr), &port);
    hx_socket(&srv, NULL, b);
    cu_cmdf(&srv, b, "bind", &r, "[\"localhost\",%u]", port);
    cu_expect_err(&r, 200, "bind", "ADDRINUSE");
    hx_response_free(&r);
    cu_cmdf(&srv, b, "bind", &r, "[\"127.0.0.1\",\"%u\"]", port);
    cu_expect_err(&r, 200, "bind", "ADDRINUSE");
    hx_response_free(&r);
    /* The failed socket still works: another port binds. */
    cu_ok(&srv, b, "bind", "[\"localhost\",0]");
    cu_ok(&srv, b, "close", NULL);
    cu_ok(&srv, a, "close", NULL);

    /* A real listener's port, IPv4 and IPv6. */
    for (int v = 0; v < 2; v++) {
        uint16_t p;
        int lfd = hx_tcp_listener(v == 1, &p);
        hx_socket(&srv, v ? "[\"STREAM\",\"IPV6\"]" : NULL, b);
        cu_cmdf(&srv, b, "bind", &r, "[\"localhost\",%u]", p);
        cu_expect_err(&r, 200, "bind", "ADDRINUSE");
        hx_response_free(&r);
        cu_ok(&srv, b, "close", NULL);
        close(lfd);
    }
    /* Datagram sockets. */
    hx_socket(&srv, "[\"DGRAM\"]", a);
    cu_ok(&srv, a, "bind", "[\"localhost\",0]");
    cu_name(&srv, a, false, addr, sizeof(addr), &port);
    hx_socket(&srv, "[\"DGRAM\"]", b);
    cu_cmdf(&srv, b, "bind", &r, "{\"localhost\":\"localhost\",\"port\":%u}", port);
    cu_expect_err(&r, 200, "bind", "ADDRINUSE");
    hx_response_free(&r);
    cu_ok(&srv, a, "close", NULL);
    cu_ok(&srv, b, "close", NULL);
    cu_healthz(&srv);
}

static void test_isconn(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        char id[64];
        int peer;
        cu_connected_pair(&srv, v == 1, id, &peer);
        uint16_t port;
        int lfd = hx_tcp_listener(v == 1, &port);
        struct hx_response r;
        cu_cmdf(&srv, id, "connect", &r, "[\"%s\",%u]", v ? "::1" : "127.0.0.1", port);
        cu_expect_err(&r, 200, "connect", "ISCONN");
        hx_response_free(&r);
        /* The first connection is unharmed. */
        hx_cmd(&srv, id, "send", "[\"still\"]", &r);
        hx_expect(&r, 200, "send", "ok");
        hx_response_free(&r);
        char got[5];
        hx_read_exact(peer, got, 5);
        assert_memory_equal(got, "still", 5);
        cu_ok(&srv, id, "close", NULL);
        close(peer);
        close(lfd);
    }
    cu_healthz(&srv);
}

static void test_denied_bind(void **state)
{
    (void)state;
    static const struct {
        bool v6;
        const char *body;
    } cases[] = {
        {false, "[\"localhost\",80]"},
        {false, "[\"127.0.0.1\",1023]"},
        {false, "{\"localhost\":\"localhost\",\"port\":\"http\"}"},
        {false, "[\"0.0.0.0\",0]"},
        {false, "[\"\",0]"},
        {false, "[\"*\",0]"},
        {false, "[\"0.0.0.0\",8080]"},
        {true, "[\"::\",0]"},
        {true, "[\"::1\",443]"},
        {true, "[\"0.0.0.0\",0]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[64];
        hx_socket(&srv, cases[i].v6 ? "{\"family\":\"IPV6\"}" : NULL, id);
        struct hx_response r;
        hx_cmd(&srv, id, "bind", cases[i].body, &r);
        if (r.status != 403)
            fail_msg("bind %s: want 403, got %d %s", cases[i].body, r.status, r.body);
        cu_expect_err(&r, 403, "bind", "DENIED");
        hx_response_free(&r);
        /* Nothing was bound: the socket has no port. */
        char addr[64];
        unsigned port;
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_int_equal(port, 0);
        cu_ok(&srv, id, "close", NULL);
    }
    cu_healthz(&srv);
}

static void test_wouldblock(void **state)
{
    (void)state;
    struct hx_response r;
    char id[64], lid[64], did[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    cu_ok(&srv, id, "ioctl", "[\"FIONBIO\",1]");
    long long t0 = hx_now_ms();
    hx_cmd(&srv, id, "recv", "[10]", &r);
    cu_expect_err(&r, 200, "recv", "WOULDBLOCK");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    hx_cmd(&srv, id, "recvfrom", "[10]", &r);
    cu_expect_err(&r, 200, "recvfrom", "WOULDBLOCK");
    hx_response_free(&r);

    hx_socket(&srv, NULL, lid);
    cu_ok(&srv, lid, "bind", "[\"localhost\",0]");
    cu_ok(&srv, lid, "listen", NULL);
    cu_ok(&srv, lid, "ioctl", "{\"FIONBIO\":true}");
    hx_cmd(&srv, lid, "accept", NULL, &r);
    cu_expect_err(&r, 200, "accept", "WOULDBLOCK");
    hx_response_free(&r);
    hx_cmd(&srv, lid, "acceptfast", "[]", &r);
    cu_expect_err(&r, 200, "acceptfast", "WOULDBLOCK");
    hx_response_free(&r);

    hx_socket(&srv, "[\"DGRAM\"]", did);
    cu_ok(&srv, did, "bind", "[\"localhost\",0]");
    cu_ok(&srv, did, "ioctl", "[\"FIONBIO\",\"1\"]");
    hx_cmd(&srv, did, "recvfrom", "[10]", &r);
    cu_expect_err(&r, 200, "recvfrom", "WOULDBLOCK");
    hx_response_free(&r);
    assert_true(hx_now_ms() - t0 < 3000); /* none of them waited */

    /* A non-blocking send the peer does not read: ok, with the part that did not fit. */
    enum { CHUNK = 1 << 20 };
    char *body = malloc(CHUNK + 8);
    assert_non_null(body);
    memcpy(body, "[\"", 2);
    memset(body + 2, 'A', CHUNK);
    memcpy(body + 2 + CHUNK, "\"]", 3);
    bool full = false;
    for (int i = 0; i < 64 && !full; i++) {
        hx_cmd(&srv, id, "send", body, &r);
        hx_expect(&r, 200, "send", "ok");
        assert_int_equal(hx_len(&r), 3);
        size_t unsent = strlen(hx_elem(&r, 2));
        assert_true(unsent <= CHUNK);
        for (size_t k = 0; k < unsent; k++)
            assert_true(hx_elem(&r, 2)[k] == 'A');
        full = unsent > 0;
        hx_response_free(&r);
    }
    free(body);
    assert_true(full);
    assert_true(hx_now_ms() - t0 < 20000);
    cu_ok(&srv, id, "close", NULL);
    cu_ok(&srv, lid, "close", NULL);
    cu_ok(&srv, did, "close", NULL);
    close(peer);
    cu_healthz(&srv);
}

/* A server of its own with a small --max-body. */
static void test_max_body(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-body", "1024", "--max-wait", "5", NULL};
    hx_start(&small, args);
    char id[64];
    hx_socket(&small, NULL, id);
    char body[4096];
    struct hx_response r;

    /* 1024 bytes pass: a recv padded with spaces parses and runs (NOTCONN). */
    memset(body, ' ', 1024);
    memcpy(body, "[1]", 3);
    body[1024] = '\0';
    hx_cmd(&small, id, "recv", body, &r);
    cu_expect_err(&r, 200, "recv", "NOTCONN");
    hx_response_free(&r);

    /* 1025 bytes and more: 413 LIMIT, for a command and for socket creation. */
    static const size_t sizes[] = {1025, 2000, 4000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(body, ' ', sizes[i]);
        memcpy(body, "[1]", 3);
        body[sizes[i]] = '\0';
        hx_cmd(&small, id, "recv", body, &r);
        cu_expect_err(&r, 413, "recv", "LIMIT");
        hx_response_free(&r);
        hx_request(&small, "POST", "/sockets", body, &r);
        cu_expect_err(&r, 413, "socket", "LIMIT");
        hx_response_free(&r);
    }
    memset(body, 'A', 3000);
    memcpy(body, "[\"", 2);
    memcpy(body + 2997, "\"]", 3);
    hx_cmd(&small, id, "send", body, &r);
    cu_expect_err(&r, 413, "send", "LIMIT");
    hx_response_free(&r);

    /* The socket is still there and the server still serves. */
    cu_reqf(&small, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    cu_healthz(&small);
    assert_int_equal(cu_stop(&small), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connrefused),
        cmocka_unit_test(test_notconn),
        cmocka_unit_test(test_closed),
        cmocka_unit_test(test_hostnotfound),
        cmocka_unit_test(test_addrinuse),
        cmocka_unit_test(test_isconn),
        cmocka_unit_test(test_denied_bind),
        cmocka_unit_test(test_wouldblock),
        cmocka_unit_test(test_max_body),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("errors_net", tests, group_setup, group_teardown);
}
