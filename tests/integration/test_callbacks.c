/*
 * Background operations over real HTTP and real loopback sockets: callbacks on recv,
 * recvfrom, accept and acceptfast answer 202 at once and deliver their result as a
 * Server-Sent Event read by a real SSE client (sse.h); their timeouts, repeat, close
 * cancelling them, and idle sockets closed with an event. The stream itself (listeners,
 * resume, overflow, heartbeats) is tested in test_events.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"
#include "event_util.h"
#include "sse.h"

/* The server of the running test: stopped by the teardown even when the test fails. */
static struct hx_server server;

static int stop_server(void **state)
{
    (void)state;
    if (server.pid > 0)
        hx_stop(&server);
    return 0;
}

/* ---- helpers ---- */

static int socket_status(const struct hx_server *srv, const char *id)
{
    char path[128];
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hx_request(srv, "GET", path, NULL, &r);
    int st = r.status;
    hx_response_free(&r);
    return st;
}

/* The next event must be `name` with an error list [cmd, "<outcome>: ..."]. Today such a
 * list has no socket id; should one be added, it must be the operation's socket. */
static void expect_error_event(struct sse_stream *es, const char *name, const char *cmd,
                               const char *outcome, const char *sock)
{
    struct sse_event ev;
    sse_expect(es, EU_EVENT_MS, name, &ev);
    int n = sse_len(&ev);
    if (n < 2 || !sse_elem(&ev, 0) || !sse_elem(&ev, 1) || strcmp(sse_elem(&ev, 0), cmd) != 0 ||
        strncmp(sse_elem(&ev, 1), outcome, strlen(outcome)) != 0 || sse_elem(&ev, 1)[strlen(outcome)] != ':')
        fail_msg("event '%s': expected [\"%s\",\"%s: ...\"], got %s", name, cmd, outcome, ev.data);
    bool has_sock = n == 2;
    for (int i = 2; i < n; i++)
        has_sock = has_sock || (sse_elem(&ev, i) && strcmp(sse_elem(&ev, i), sock) == 0);
    if (!has_sock)
        fail_msg("event '%s' names another socket than %s: %s", name, sock, ev.data);
    sse_event_free(&ev);
}

/* ---- callbacks ---- */

static void test_recv_callback(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char id[64];
    int peer = eu_connected(&server, lfd, lport, id);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    /* Named form: 202 at once, and nothing until the peer writes. */
    eu_bg(&server, id, "recv", "{\"n\":100,\"callback\":\"onData\"}");
    sse_expect_quiet(&es, EU_QUIET_MS);
    hx_write_all(peer, "hello\r\n", 7);
    struct sse_event ev;
    sse_expect(&es, EU_EVENT_MS, "onData", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "hello~0D~0A", id);
    unsigned long long first = eu_event_id(&ev);
    assert_true(first >= 1);
    sse_event_free(&ev);

    /* Not repeating: the next arrival is left for a plain recv. */
    hx_write_all(peer, "more", 4);
    sse_expect_quiet(&es, EU_QUIET_MS);
    struct hx_response r;
    hx_cmd(&server, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "more");
    hx_response_free(&r);

    /* Positional form: n, callback. Only n bytes go to the event... */
    eu_bg(&server, id, "recv", "[\"5\",\"onFive\"]");
    hx_write_all(peer, "123456789", 9);
    sse_expect(&es, EU_EVENT_MS, "onFive", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "12345", id);
    assert_int_equal(eu_event_id(&ev), first + 1);
    sse_event_free(&ev);
    /* ...and a query-form callback gets the rest, already waiting, at once. */
    char path[160];
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=100&callback=onQuery", id);
    eu_bg_path(&server, path, "recv", NULL);
    EU_EXPECT_EVENT(&es, "onQuery", 4, "recv", "ok", "6789", id);

    /* The encoding argument applies to the event's data. */
    eu_bg(&server, id, "recv", "{\"n\":10,\"callback\":\"onHex\",\"encoding\":\"hex\"}");
    hx_write_all(peer, "\x00\xff~", 3);
    sse_expect(&es, EU_EVENT_MS, "onHex", &ev);
    assert_int_equal(sse_len(&ev), 4);
    assert_int_equal(strcasecmp(sse_elem(&ev, 2), "00ff7e"), 0);
    sse_event_free(&ev);

    /* A bad callback is refused before anything starts: no event follows. */
    hx_cmd(&server, id, "recv", "{\"n\":10,\"callback\":\"\"}", &r);
    hx_expect(&r, 400, "recv", "INVAL");
    hx_response_free(&r);
    hx_cmd(&server, id, "recv", "{\"n\":10,\"repeat\":true}", &r);
    hx_expect(&r, 400, "recv", "INVAL");
    hx_response_free(&r);
    hx_cmd(&server, "s999", "recv", "{\"n\":10,\"callback\":\"onNothing\"}", &r);
    hx_expect(&r, 404, "recv", "NOTSOCK");
    hx_response_free(&r);
    sse_expect_quiet(&es, EU_QUIET_MS);

    /* Shutting down ends the stream. */
    assert_int_equal(hx_stop(&server), 0);
    assert_int_equal(sse_next(&es, EU_EVENT_MS, &ev), -1);
    sse_close(&es);
    close(peer);
    close(lfd);
}

static void test_recvfrom_callback(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    char id[64], uport_s[16];
    uint16_t gport = eu_bound(&server, "DGRAM", id);
    uint16_t uport;
    int udp = hx_udp_socket(false, &uport);
    snprintf(uport_s, sizeof(uport_s), "%u", (unsigned)uport);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    eu_bg(&server, id, "recvfrom", "{\"n\":100,\"callback\":\"onDgram\"}");
    sse_expect_quiet(&es, EU_QUIET_MS);
    eu_send_dgram(udp, gport, "ping!\n");
    EU_EXPECT_EVENT(&es, "onDgram", 6, "recvfrom", "ok", "ping~21~0A", id, "127.0.0.1", uport_s);

    /* Positional form, and n truncates the datagram as recvfrom does. */
    eu_bg(&server, id, "recvfrom", "[3,\"onShort\"]");
    eu_send_dgram(udp, gport, "abcdef");
    EU_EXPECT_EVENT(&es, "onShort", 6, "recvfrom", "ok", "abc", id, "127.0.0.1", uport_s);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(udp);
}

static void test_accept_callback(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    char lid[64];
    uint16_t lport = eu_bound(&server, "STREAM", lid);
    eu_ok_cmd(&server, lid, "listen", NULL, 0, NULL, 0);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    eu_bg(&server, lid, "accept", "{\"callback\":\"onAccept\"}");
    sse_expect_quiet(&es, EU_QUIET_MS);
    int c1 = hx_tcp_connect(false, lport);
    assert_true(c1 >= 0);
    struct sse_event ev;
    sse_expect(&es, EU_EVENT_MS, "onAccept", &ev);
    sse_expect_list(&ev, 5, "accept", "ok", NULL, NULL, lid);
    const char *peer = sse_elem(&ev, 2);
    if (strcmp(peer, "localhost") != 0 && strcmp(peer, "127.0.0.1") != 0 &&
        strncmp(peer, "localhost", 9) != 0)
        fail_msg("accept peer name '%s' is not 127.0.0.1's", peer);
    char nid[64];
    snprintf(nid, sizeof(nid), "%s", sse_elem(&ev, 3));
    assert_string_not_equal(nid, lid);
    sse_event_free(&ev);
    /* The new socket is real: it talks to the client that connected. */
    eu_ok_cmd(&server, nid, "send", "[\"hi~0A\"]", 0, NULL, 0);
    char got[3];
    hx_read_exact(c1, got, 3);
    assert_memory_equal(got, "hi\n", 3);

    /* acceptfast: no name lookup, element 3 is "". Positional form. */
    eu_bg(&server, lid, "acceptfast", "[\"onFast\"]");
    int c2 = hx_tcp_connect(false, lport);
    assert_true(c2 >= 0);
    sse_expect(&es, EU_EVENT_MS, "onFast", &ev);
    sse_expect_list(&ev, 5, "acceptfast", "ok", "", NULL, lid);
    assert_string_not_equal(sse_elem(&ev, 3), nid);
    assert_string_not_equal(sse_elem(&ev, 3), lid);
    sse_event_free(&ev);

    /* A connection that is already waiting is accepted at once. */
    int c3 = hx_tcp_connect(false, lport);
    assert_true(c3 >= 0);
    usleep(50000);
    eu_bg(&server, lid, "acceptfast", "{\"callback\":\"onQueued\"}");
    EU_EXPECT_EVENT(&es, "onQueued", 5, "acceptfast", "ok", "", NULL, lid);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(c1);
    close(c2);
    close(c3);
}

static void test_callback_timeout(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char id[64];
    int peer = eu_connected(&server, lfd, lport, id);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    long long t0 = hx_now_ms();
    eu_bg(&server, id, "recv", "{\"n\":10,\"callback\":\"onRecv\",\"timeout\":0.3}");
    expect_error_event(&es, "onRecv", "recv", "TIMEDOUT", id);
    long long took = hx_now_ms() - t0;
    if (took < 250 || took > 3000)
        fail_msg("a 0.3 s callback timeout fired after %lld ms", took);

    /* Nothing was read for it: data sent afterwards goes to the next recv. */
    hx_write_all(peer, "late", 4);
    struct hx_response r;
    hx_cmd(&server, id, "recv", "[10]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "late");
    hx_response_free(&r);

    /* accept and recvfrom time out the same way; the timeout may be given positionally. */
    char lid[64], did[64];
    eu_bound(&server, "STREAM", lid);
    eu_ok_cmd(&server, lid, "listen", NULL, 0, NULL, 0);
    eu_bg(&server, lid, "accept", "[\"onAccept\",\"0.2\"]");
    expect_error_event(&es, "onAccept", "accept", "TIMEDOUT", lid);
    eu_bound(&server, "DGRAM", did);
    eu_bg(&server, did, "recvfrom", "[100,\"onDgram\",0.2]");
    expect_error_event(&es, "onDgram", "recvfrom", "TIMEDOUT", did);
    sse_expect_quiet(&es, EU_QUIET_MS);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(peer);
    close(lfd);
}

static void test_timeout_zero_means_no_limit(void **state)
{
    (void)state;
    /* --max-wait bounds blocking commands, not background ones. */
    const char *args[] = {"--max-wait", "0.5", NULL};
    hx_start(&server, args);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char a[64], b[64];
    int pa = eu_connected(&server, lfd, lport, a);
    int pb = eu_connected(&server, lfd, lport, b);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    eu_bg(&server, a, "recv", "{\"n\":10,\"callback\":\"zero\",\"timeout\":0}");
    eu_bg(&server, b, "recv", "{\"n\":10,\"callback\":\"absent\"}");
    /* A blocking recv on a third socket runs out at --max-wait meanwhile. */
    char c[64];
    int pc = eu_connected(&server, lfd, lport, c);
    struct hx_response r;
    long long t0 = hx_now_ms();
    hx_cmd(&server, c, "recv", "[10]", &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT");
    hx_response_free(&r);
    assert_true(hx_now_ms() - t0 >= 400);
    sse_expect_quiet(&es, 1500);

    hx_write_all(pa, "A", 1);
    EU_EXPECT_EVENT(&es, "zero", 4, "recv", "ok", "A", a);
    hx_write_all(pb, "B", 1);
    EU_EXPECT_EVENT(&es, "absent", 4, "recv", "ok", "B", b);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(pa);
    close(pb);
    close(pc);
    close(lfd);
}

static void test_repeat(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char a[64], b[64], text[16];
    int pa = eu_connected(&server, lfd, lport, a);
    int pb = eu_connected(&server, lfd, lport, b);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    /* recv: every arrival, until the gateway closes the socket. */
    eu_bg(&server, a, "recv", "{\"n\":100,\"callback\":\"onA\",\"repeat\":true}");
    for (int i = 1; i <= 3; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        hx_write_all(pa, text, strlen(text));
        EU_EXPECT_EVENT(&es, "onA", 4, "recv", "ok", text, a);
    }
    assert_int_equal(eu_socket_number(&server, a, "pending"), 1);
    eu_ok_cmd(&server, a, "close", NULL, 0, NULL, 0);
    expect_error_event(&es, "onA", "recv", "CLOSED", a);

    /* recv with repeat given as a query flag: ends when the peer closes. */
    char path[160];
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=100&callback=onB&repeat", b);
    eu_bg_path(&server, path, "recv", NULL);
    hx_write_all(pb, "x", 1);
    EU_EXPECT_EVENT(&es, "onB", 4, "recv", "ok", "x", b);
    close(pb);
    expect_error_event(&es, "onB", "recv", "CLOSED", b);
    sse_expect_quiet(&es, EU_QUIET_MS);

    /* accept: every connection. */
    char lid[64];
    uint16_t gport = eu_bound(&server, "STREAM", lid);
    eu_ok_cmd(&server, lid, "listen", NULL, 0, NULL, 0);
    eu_bg(&server, lid, "acceptfast", "{\"callback\":\"onConn\",\"repeat\":\"true\"}");
    int clients[3];
    char seen[3][64];
    for (int i = 0; i < 3; i++) {
        clients[i] = hx_tcp_connect(false, gport);
        assert_true(clients[i] >= 0);
        struct sse_event ev;
        sse_expect(&es, EU_EVENT_MS, "onConn", &ev);
        sse_expect_list(&ev, 5, "acceptfast", "ok", "", NULL, lid);
        snprintf(seen[i], sizeof(seen[i]), "%s", sse_elem(&ev, 3));
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[k], seen[i]);
        sse_event_free(&ev);
    }

    /* recvfrom: every datagram, each whole. */
    char did[64], uport_s[16];
    uint16_t dport = eu_bound(&server, "DGRAM", did);
    uint16_t uport;
    int udp = hx_udp_socket(false, &uport);
    snprintf(uport_s, sizeof(uport_s), "%u", (unsigned)uport);
    eu_bg(&server, did, "recvfrom", "{\"n\":100,\"callback\":\"onDg\",\"repeat\":1}");
    for (int i = 1; i <= 3; i++) {
        snprintf(text, sizeof(text), "d%d", i);
        eu_send_dgram(udp, dport, text);
        EU_EXPECT_EVENT(&es, "onDg", 6, "recvfrom", "ok", text, did, "127.0.0.1", uport_s);
    }
    /* Two datagrams at once are still two events, in order. */
    eu_send_dgram(udp, dport, "d4");
    eu_send_dgram(udp, dport, "d5");
    EU_EXPECT_EVENT(&es, "onDg", 6, "recvfrom", "ok", "d4", did, "127.0.0.1", uport_s);
    EU_EXPECT_EVENT(&es, "onDg", 6, "recvfrom", "ok", "d5", did, "127.0.0.1", uport_s);
    sse_expect_quiet(&es, EU_QUIET_MS);
    close(udp);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    for (int i = 0; i < 3; i++)
        close(clients[i]);
    close(pa);
    close(lfd);
}

/* ---- close ---- */

static void expect_eof(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, EU_EVENT_MS), 1);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
}

static void test_close_cancels(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char a[64];
    int pa = eu_connected(&server, lfd, lport, a);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);

    /* Two background recvs queued on one socket, a repeating one included. */
    eu_bg(&server, a, "recv", "{\"n\":10,\"callback\":\"first\"}");
    eu_bg(&server, a, "recv", "{\"n\":10,\"callback\":\"second\",\"repeat\":true}");
    assert_int_equal(eu_socket_number(&server, a, "pending"), 2);
    eu_ok_cmd(&server, a, "close", NULL, 0, NULL, 0);
    /* Each delivers CLOSED, in the order they were queued. */
    expect_error_event(&es, "first", "recv", "CLOSED", a);
    expect_error_event(&es, "second", "recv", "CLOSED", a);
    assert_int_equal(socket_status(&server, a), 404);
    expect_eof(pa); /* the peer sees the connection end */

    /* DELETE is close: a repeating accept on a listening socket ends CLOSED too. */
    char lid[64], did[64];
    eu_bound(&server, "STREAM", lid);
    eu_ok_cmd(&server, lid, "listen", NULL, 0, NULL, 0);
    eu_bg(&server, lid, "accept", "{\"callback\":\"acc\",\"repeat\":true,\"timeout\":30}");
    eu_bound(&server, "DGRAM", did);
    eu_bg(&server, did, "recvfrom", "[100,\"dg\"]");
    struct hx_response r;
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s", lid);
    hx_request(&server, "DELETE", path, NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    expect_error_event(&es, "acc", "accept", "CLOSED", lid);
    eu_ok_cmd(&server, did, "close", NULL, 0, NULL, 0);
    expect_error_event(&es, "dg", "recvfrom", "CLOSED", did);
    /* Nothing more comes: the 30 s timeout of the cancelled accept is gone with it. */
    sse_expect_quiet(&es, EU_QUIET_MS);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(pa);
    close(lfd);
}

/* ---- idle sockets ---- */

static void test_idle_timeout(void **state)
{
    (void)state;
    const char *args[] = {"--idle-timeout", "1", NULL};
    hx_start(&server, args);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    char idle[64], used[64], waiting[64];
    long long t0 = hx_now_ms();
    hx_socket(&server, NULL, idle);
    hx_socket(&server, NULL, used);
    int peer = eu_connected(&server, lfd, lport, waiting);
    eu_bg(&server, waiting, "recv", "{\"n\":10,\"callback\":\"w\"}");

    /* `used` is used every 300 ms; `waiting` has an operation in progress. */
    struct sse_event ev;
    bool closed = false;
    while (hx_now_ms() - t0 < 2500) {
        eu_ok_cmd(&server, used, "getsockname", NULL, 0, NULL, 0);
        int r = sse_next(&es, 300, &ev);
        if (r == 1) {
            if (closed)
                fail_msg("a second event: %s %s", ev.name, ev.data);
            assert_string_equal(ev.name, "close");
            sse_expect_list(&ev, 3, "close",
                            "TIMEDOUT: the socket was unused for 1 s and was closed.", idle);
            long long at = hx_now_ms() - t0;
            if (at < 900)
                fail_msg("an idle socket was closed after %lld ms, before 1 s", at);
            sse_event_free(&ev);
            closed = true;
        }
    }
    assert_true(closed);
    assert_int_equal(socket_status(&server, idle), 404);
    assert_int_equal(socket_status(&server, used), 200);
    assert_int_equal(socket_status(&server, waiting), 200);
    /* The waiting one still delivers. */
    hx_write_all(peer, "ok", 2);
    EU_EXPECT_EVENT(&es, "w", 4, "recv", "ok", "ok", waiting);
    /* Left alone, both go too, `waiting` a full second after its delivery. */
    long long delivered = hx_now_ms();
    bool gone_used = false, gone_waiting = false;
    for (int i = 0; i < 2; i++) {
        sse_expect(&es, EU_EVENT_MS, "close", &ev);
        sse_expect_list(&ev, 3, "close", "TIMEDOUT...", NULL);
        if (strcmp(sse_elem(&ev, 2), used) == 0) {
            gone_used = true;
        } else {
            assert_string_equal(sse_elem(&ev, 2), waiting);
            gone_waiting = true;
            if (hx_now_ms() - delivered < 900)
                fail_msg("a socket was closed as idle %lld ms after it delivered an event",
                         hx_now_ms() - delivered);
        }
        sse_event_free(&ev);
    }
    assert_true(gone_used && gone_waiting);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(peer);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_recv_callback, stop_server),
        cmocka_unit_test_teardown(test_recvfrom_callback, stop_server),
        cmocka_unit_test_teardown(test_accept_callback, stop_server),
        cmocka_unit_test_teardown(test_callback_timeout, stop_server),
        cmocka_unit_test_teardown(test_timeout_zero_means_no_limit, stop_server),
        cmocka_unit_test_teardown(test_repeat, stop_server),
        cmocka_unit_test_teardown(test_close_cancels, stop_server),
        cmocka_unit_test_teardown(test_idle_timeout, stop_server),
    };
    /* TEST_FILTER=test_repeat* runs a subset. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("callbacks", tests, NULL, NULL);
}
