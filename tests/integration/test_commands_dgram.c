/*
 * SPEC §3 on DGRAM sockets, IPv4 and IPv6, through the real server against real loopback
 * UDP sockets: sendto and recvfrom (with the sender's address and port), recv, datagram
 * boundaries, sendto on a connected socket with the datagram alone, the argument forms of
 * sendto, non-blocking recvfrom and FIONREAD.
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
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"

CU_SERVER_GROUP(srv)

static const char *loop_addr(bool v6)
{
    return v6 ? "::1" : "127.0.0.1";
}

/* Receives one datagram on a plain UDP fd within 5 s; returns its length and sender port. */
static size_t udp_recv(int fd, void *buf, size_t cap, unsigned *from_port)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        fail_msg("no datagram within 5 s");
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &len);
    assert_true(n >= 0);
    if (from_port)
        *from_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                    : ((struct sockaddr_in *)&ss)->sin_port);
    return (size_t)n;
}

/* Sends one datagram from a plain UDP fd to the loopback port. */
static void udp_send(int fd, bool v6, unsigned port, const void *buf, size_t len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)port);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)port);
        sl = sizeof(*a);
    }
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

static void new_dgram(bool v6, char *id)
{
    hx_socket(&srv, v6 ? "[\"DGRAM\",\"IPV6\"]" : "[\"DGRAM\"]", id);
}

/* recvfrom through the gateway must answer exactly this datagram from this sender. */
static void expect_recvfrom(const char *id, const char *body, const char *data, bool v6,
                            unsigned port)
{
    struct hx_response r;
    hx_cmd(&srv, id, "recvfrom", body, &r);
    hx_expect(&r, 200, "recvfrom", "ok");
    assert_int_equal(hx_len(&r), 5);
    assert_string_equal(hx_elem(&r, 2), data);
    assert_string_equal(hx_elem(&r, 3), loop_addr(v6));
    char p[8];
    snprintf(p, sizeof(p), "%u", port);
    assert_string_equal(hx_elem(&r, 4), p);
    hx_response_free(&r);
}

static void expect_recv(const char *id, const char *body, const char *data)
{
    struct hx_response r;
    hx_cmd(&srv, id, "recv", body, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), data);
    hx_response_free(&r);
}

static void sendto_roundtrip(bool v6)
{
    char id[64], addr[64];
    unsigned gport, from;
    uint16_t pport;
    int peer = hx_udp_socket(v6, &pport);
    new_dgram(v6, id);
    cu_ok(&srv, id, "bind", "[\"localhost\",0]");
    cu_name(&srv, id, false, addr, sizeof(addr), &gport);
    assert_string_equal(addr, loop_addr(v6));
    assert_true(gport > 0);

    struct hx_response r;
    cu_cmdf(&srv, id, "sendto", &r, "{\"address\":\"%s\",\"port\":%u,\"dgram\":\"hi~00\"}",
            loop_addr(v6), pport);
    hx_expect(&r, 200, "sendto", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    char buf[64];
    assert_int_equal(udp_recv(peer, buf, sizeof(buf), &from), 3);
    assert_memory_equal(buf, "hi\0", 3);
    assert_int_equal(from, gport);

    /* recvfrom names the sender; a blocking one waits for it. */
    udp_send(peer, v6, gport, "reply\xff", 6);
    expect_recvfrom(id, "[100]", "reply~FF", v6, pport);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recvfrom", id);
    int hfd = hx_send_only(&srv, "POST", path, "{\"n\":100,\"timeout\":4}");
    usleep(100000);
    udp_send(peer, v6, gport, "late", 4);
    hx_read_response(hfd, 5000, &r);
    close(hfd);
    hx_expect(&r, 200, "recvfrom", "ok");
    assert_string_equal(hx_elem(&r, 2), "late");
    assert_string_equal(hx_elem(&r, 3), loop_addr(v6));
    hx_response_free(&r);

    /* Datagram boundaries hold, and a short n truncates one datagram only. */
    udp_send(peer, v6, gport, "one", 3);
    udp_send(peer, v6, gport, "abcdef", 6);
    udp_send(peer, v6, gport, "two", 3);
    cu_wait_fionread(&srv, id, 3);
    expect_recv(id, "[100]", "one");
    expect_recvfrom(id, "{\"n\":3}", "abc", v6, pport);
    expect_recv(id, "{\"n\":100}", "two");

    /* recvfrom answers in the encoding asked for; the address and port stay text. */
    udp_send(peer, v6, gport, "\x01\xab", 2);
    expect_recvfrom(id, "{\"n\":100,\"encoding\":\"hex\"}", "01AB", v6, pport);

    cu_ok(&srv, id, "close", NULL);
    close(peer);
}

static void test_sendto_recvfrom_v4(void **state)
{
    (void)state;
    sendto_roundtrip(false);
    cu_healthz(&srv);
}

static void test_sendto_recvfrom_v6(void **state)
{
    (void)state;
    sendto_roundtrip(true);
    cu_healthz(&srv);
}

/* An unbound socket gets a port on its first sendto and can be answered there. */
static void test_unbound_sendto(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        bool v6 = v == 1;
        char id[64], addr[64];
        unsigned from, gport;
        uint16_t pport;
        int peer = hx_udp_socket(v6, &pport);
        new_dgram(v6, id);
        struct hx_response r;
        cu_cmdf(&srv, id, "sendto", &r, "[\"%s\",%u,\"ping\"]", loop_addr(v6), pport);
        hx_expect(&r, 200, "sendto", "ok");
        hx_response_free(&r);
        char buf[16];
        assert_int_equal(udp_recv(peer, buf, sizeof(buf), &from), 4);
        assert_memory_equal(buf, "ping", 4);
        cu_name(&srv, id, false, addr, sizeof(addr), &gport);
        assert_int_equal(gport, from);
        udp_send(peer, v6, from, "pong", 4);
        expect_recvfrom(id, "[10]", "pong", v6, pport);
        cu_ok(&srv, id, "close", NULL);
        close(peer);
    }
}

static void connected_dgram(bool v6)
{
    char id[64], addr[64];
    unsigned from, gport, p;
    uint16_t pport;
    int peer = hx_udp_socket(v6, &pport);
    new_dgram(v6, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"%s\",%u]", loop_addr(v6), pport);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    cu_name(&srv, id, true, addr, sizeof(addr), &p);
    assert_string_equal(addr, loop_addr(v6));
    assert_int_equal(p, pport);
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.json, "state")->valuestring,
                        "connected");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r.json, "type")->valuestring, "DGRAM");
    hx_response_free(&r);
    cu_name(&srv, id, false, addr, sizeof(addr), &gport);

    /* sendto with the datagram alone: positional, named, query; then send. */
    static const struct {
        const char *query, *body, *want;
    } forms[] = {
        {"", "[\"only~21\"]", "only!"},
        {"", "{\"dgram\":\"named\"}", "named"},
        {"?dgram=query%7E0a", NULL, "query\n"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        cu_reqf(&srv, "POST", forms[i].body, &r, "/sockets/%s/sendto%s", id, forms[i].query);
        hx_expect(&r, 200, "sendto", "ok");
        assert_string_equal(hx_elem(&r, 2), "");
        hx_response_free(&r);
        size_t n = udp_recv(peer, buf, sizeof(buf), &from);
        assert_int_equal(n, strlen(forms[i].want));
        assert_memory_equal(buf, forms[i].want, n);
        assert_int_equal(from, gport);
    }
    hx_cmd(&srv, id, "send", "[\"by send\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    assert_int_equal(udp_recv(peer, buf, sizeof(buf), NULL), 7);
    assert_memory_equal(buf, "by send", 7);

    udp_send(peer, v6, gport, "back", 4);
    expect_recv(id, "[10]", "back");
    udp_send(peer, v6, gport, "again", 5);
    expect_recvfrom(id, "[10]", "again", v6, pport);
    cu_ok(&srv, id, "close", NULL);
    close(peer);
}

static void test_connected_dgram_v4(void **state)
{
    (void)state;
    connected_dgram(false);
}

static void test_connected_dgram_v6(void **state)
{
    (void)state;
    connected_dgram(true);
}

/* Every form of sendto's three arguments gives the same answer and the same datagram. */
static void test_sendto_forms(void **state)
{
    (void)state;
    char id[64];
    uint16_t pport;
    int peer = hx_udp_socket(false, &pport);
    new_dgram(false, id);
    char bodies[5][128], queries[5][128];
    snprintf(bodies[0], sizeof(bodies[0]), "{\"address\":\"127.0.0.1\",\"port\":%u,\"dgram\":\"d~0A\"}",
             pport);
    snprintf(bodies[1], sizeof(bodies[1]), "[\"127.0.0.1\",%u,\"d~0A\"]", pport);
    snprintf(bodies[2], sizeof(bodies[2]), "[\"127.0.0.1\",\"%u\",\"d~0a\"]", pport);
    snprintf(bodies[3], sizeof(bodies[3]), "[\"localhost\",%u,\"d~0A\"]", pport);
    bodies[4][0] = '\0';
    for (int i = 0; i < 5; i++)
        queries[i][0] = '\0';
    snprintf(queries[4], sizeof(queries[4]), "?address=127.0.0.1&port=%u&dgram=d%%7E0A", pport);
    for (int i = 0; i < 5; i++) {
        struct hx_response r;
        cu_reqf(&srv, "POST", bodies[i][0] ? bodies[i] : NULL, &r, "/sockets/%s/sendto%s", id,
                queries[i]);
        hx_expect(&r, 200, "sendto", "ok");
        assert_string_equal(r.body, "[\"sendto\",\"ok\",\"\"]");
        hx_response_free(&r);
        char buf[8];
        assert_int_equal(udp_recv(peer, buf, sizeof(buf), NULL), 2);
        assert_memory_equal(buf, "d\n", 2);
    }
    cu_ok(&srv, id, "close", NULL);
    close(peer);
}

static void test_dgram_nonblocking_and_fionread(void **state)
{
    (void)state;
    char id[64], addr[64];
    unsigned gport;
    uint16_t pport;
    int peer = hx_udp_socket(false, &pport);
    new_dgram(false, id);
    cu_ok(&srv, id, "bind", "{\"localhost\":\"localhost\",\"port\":0}");
    cu_name(&srv, id, false, addr, sizeof(addr), &gport);
    cu_ok(&srv, id, "ioctl", "{\"FIONBIO\":1}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct hx_response r;
    hx_cmd(&srv, id, "recvfrom", "[100]", &r);
    cu_expect_err(&r, 200, "recvfrom", "WOULDBLOCK");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[100]", &r);
    cu_expect_err(&r, 200, "recv", "WOULDBLOCK");
    hx_response_free(&r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);

    hx_cmd(&srv, id, "ioctl", "[\"FIONREAD\"]", &r);
    hx_expect(&r, 200, "ioctl", "ok");
    assert_string_equal(hx_elem(&r, 2), "0");
    hx_response_free(&r);
    udp_send(peer, false, gport, "12345", 5);
    cu_wait_fionread(&srv, id, 5);
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/ioctl", id);
    hx_expect(&r, 200, "ioctl", "ok");
    assert_string_equal(hx_elem(&r, 2), "5");
    hx_response_free(&r);
    expect_recvfrom(id, "[100]", "12345", false, pport);
    hx_cmd(&srv, id, "recvfrom", "[100]", &r);
    cu_expect_err(&r, 200, "recvfrom", "WOULDBLOCK");
    hx_response_free(&r);
    cu_ok(&srv, id, "close", NULL);
    close(peer);
    cu_healthz(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendto_recvfrom_v4),
        cmocka_unit_test(test_sendto_recvfrom_v6),
        cmocka_unit_test(test_unbound_sendto),
        cmocka_unit_test(test_connected_dgram_v4),
        cmocka_unit_test(test_connected_dgram_v6),
        cmocka_unit_test(test_sendto_forms),
        cmocka_unit_test(test_dgram_nonblocking_and_fionread),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("commands_dgram", tests, group_setup, group_teardown);
}
