/*
 * Bad input at the WebSocket bridge: malformed upgrades answer a JSON list with the right
 * status; a bridge on a socket that cannot stream is refused; credentials and Origin are
 * checked as on every endpoint; frames a client must not send end the bridge with the
 * close code RFC 6455 names; a flood of pings neither grows the server nor stops it. The
 * server must exit cleanly afterwards (the sanitizer build turns a leak into a failure).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"
#include "ws_util.h"

/* One server for the file (--max-wait 5), and test_clean_exit last. */
CU_SERVER_GROUP(srv)

/* A raw request with `connection` as its Connection header and the given header lines;
 * "close" among the connection tokens makes the server end the connection after it. */
static void raw_upgrade(const char *method, const char *path, const char *connection,
                        const char *headers, struct hx_response *r)
{
    char req[1024];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: %s\r\n%s\r\n",
                     method, path, connection, headers);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    int fd = hx_tcp_connect(false, srv.port);
    assert_true(fd >= 0);
    hx_write_all(fd, req, (size_t)n);
    hx_read_response(fd, 10000, r);
    close(fd);
}

static void test_malformed_upgrades(void **state)
{
    (void)state;
    char id[64], path[96];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    const char *good_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    struct {
        const char *method;
        const char *headers;
        int status;
        const char *header_expected;
    } cases[] = {
        /* A plain GET: this endpoint wants an upgrade. */
        {"GET", "", 426, NULL},
        {"POST", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", 405, "Allow: GET"},
        /* Version 8 (an old draft): 426 with the version we speak. */
        {"GET", "Upgrade: websocket\r\nSec-WebSocket-Version: 8\r\n", 426,
         "Sec-WebSocket-Version: 13"},
        /* Keys that are not 16 bytes of base64. */
        {"GET", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", 400, NULL},
        {"GET", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n",
         400, NULL},
        {"GET",
         "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n",
         400, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hx_response r;
        raw_upgrade(cases[i].method, path, "Upgrade, close", cases[i].headers, &r);
        if (r.status != cases[i].status)
            fail_msg("case %zu: expected %d, got %d: %s", i, cases[i].status, r.status, r.body);
        assert_int_equal(hx_len(&r), 2);
        assert_string_equal(hx_elem(&r, 0), "ws");
        assert_true(strncmp(hx_elem(&r, 1), "INVAL: ", 7) == 0);
        if (cases[i].header_expected)
            assert_non_null(strstr(r.headers, cases[i].header_expected));
        hx_response_free(&r);
    }
    /* Connection: close instead of Upgrade is not an upgrade. */
    struct hx_response r;
    char headers[256];
    snprintf(headers, sizeof(headers), "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n%s",
             good_key);
    raw_upgrade("GET", path, "close", headers, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(hx_elem(&r, 1), "Connection: Upgrade"));
    hx_response_free(&r);
    /* After all that the socket still works over REST. */
    cu_ok(&srv, id, "send", "[\"still here\"]");
    char got[10];
    hx_read_exact(peer, got, 10);
    assert_memory_equal(got, "still here", 10);
    close(peer);
}

static void test_sockets_that_cannot_stream(void **state)
{
    (void)state;
    char id[64], path[96];
    /* No such socket. */
    wu_expect_refused(&srv, "/sockets/s999999/ws", NULL, 404, "ws", "NOTSOCK");
    /* Not connected: a new socket, and a listening one. */
    hx_socket(&srv, NULL, id);
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    wu_expect_refused(&srv, path, NULL, 409, "ws", "NOTCONN");
    cu_ok(&srv, id, "listen", NULL);
    wu_expect_refused(&srv, path, NULL, 409, "ws", "NOTCONN");
    /* A datagram socket that is only bound. */
    hx_socket(&srv, "[\"DGRAM\"]", id);
    cu_ok(&srv, id, "bind", "[\"localhost\",0]");
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    wu_expect_refused(&srv, path, NULL, 409, "ws", "NOTCONN");
    /* The socket is untouched by the refusal. */
    char state_now[32];
    wu_socket_state(&srv, id, state_now, sizeof(state_now), NULL, NULL);
    assert_string_equal(state_now, "bound");
}

/* Sends raw bytes and expects the bridge's Close with `code`. */
static void expect_close_after(const void *bytes, size_t len, unsigned code)
{
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    assert_int_equal(wsc_send_raw(&c, bytes, len), 0);
    wu_expect_close(&c, code, NULL);
    wsc_close(&c);
    /* The socket is closed with the bridge; the peer sees its end. */
    assert_int_equal(wu_read_to_eof(peer, NULL, 0), 0);
    close(peer);
}

static void test_frames_a_client_must_not_send(void **state)
{
    (void)state;
    /* Unmasked: 1002. */
    expect_close_after("\x82\x02hi", 4, 1002);
    /* Reserved opcode 3: 1002. */
    expect_close_after("\x83\x80\x01\x02\x03\x04", 6, 1002);
    /* RSV1 without an extension: 1002. */
    expect_close_after("\xc2\x80\x01\x02\x03\x04", 6, 1002);
    /* A continuation with nothing to continue: 1002. */
    expect_close_after("\x80\x80\x01\x02\x03\x04", 6, 1002);
    /* A control frame that is fragmented: 1002. */
    expect_close_after("\x09\x80\x01\x02\x03\x04", 6, 1002);
    /* A text frame that is not UTF-8 (0xff masked with 0): 1007. */
    expect_close_after("\x81\x81\x00\x00\x00\x00\xff", 7, 1007);
    /* A frame claiming 2^40 bytes (wslay judges it with its first payload byte): 1009. */
    expect_close_after("\x82\xff\x00\x00\x01\x00\x00\x00\x00\x00\x01\x02\x03\x04xx", 16, 1009);
}

/* Pings sent as fast as possible by a client that reads nothing: the server answers what
 * it can, stops reading the client when pongs pile up, stays small and keeps serving. */
static void test_ping_flood(void **state)
{
    (void)state;
    /* A server of its own whose memory is measured: under AddressSanitizer its freed
     * blocks would sit in the quarantine and look like growth, so that stays small. */
    struct hx_server s;
    char asan[512];
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%squarantine_size_mb=4", prev ? prev : "",
             prev && prev[0] ? ":" : "");
    su_start_env(&s, NULL, (const char *const[]){asan, NULL}, 0);
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&s, id, &c);
    long rss0 = wu_rss_kb(&s);
    uint8_t ping[6 + 125];
    ping[0] = 0x89;
    ping[1] = 0x80 | 125;
    memset(ping + 2, 0, 4 + 125);
    /* Non-blocking sends: the flood stops when the server stops reading. */
    size_t sent = 0;
    for (int i = 0; i < 200000; i++) {
        ssize_t w = send(c.fd, ping, sizeof(ping), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            break;
        sent += (size_t)w;
    }
    assert_true(sent < 200000 * sizeof(ping)); /* the server pushed back */
    cu_healthz(&s);
    long rss1 = wu_rss_kb(&s);
    if (rss1 - rss0 > 16 * 1024) {
        wsc_close(&c);
        fail_msg("a ping flood grew the server by %ld kB", rss1 - rss0);
    }
    /* The bridge still carries data once the client reads its pongs. */
    hx_write_all(peer, "data", 4);
    uint8_t buf[8];
    int op;
    long n = wsc_read_message(&c, &op, buf, sizeof(buf)); /* pongs are skipped */
    wsc_close(&c);
    if (n != 4)
        fail_msg("got %ld bytes, opcode %d: %.*s", n, op, (int)(n > 0 ? n : 0), buf);
    assert_memory_equal(buf, "data", 4);
    assert_int_equal(wu_read_to_eof(peer, NULL, 0), 0);
    close(peer);
    assert_int_equal(cu_stop(&s), 0);
}

/* The client vanishes (no Close) while the peer streams: the socket closes, the server
 * stays healthy, and what the client had sent still reached the peer. */
static void test_client_vanishes_mid_transfer(void **state)
{
    (void)state;
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    wu_send(&c, "hello peer", 10);
    uint8_t chunk[65536];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 16; i++)
        hx_write_all(peer, chunk, sizeof(chunk));
    /* Gone: a reset rather than a FIN, the rudest way. */
    struct linger lg = {1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    wsc_close(&c);
    uint8_t got[16];
    uint64_t n = wu_read_to_eof(peer, got, sizeof(got));
    assert_true(n >= 10);
    assert_memory_equal(got, "hello peer", 10);
    close(peer);
    wu_wait_state(&srv, id, "gone");
    cu_healthz(&srv);
}

static void test_credentials_and_origin(void **state)
{
    (void)state;
    struct hx_server s;
    su_start(&s, (const char *const[]){"--token", "sekrit", NULL});
    char id[64], path[128];
    int peer = su_connect_pair(&s, "sekrit", id);
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    /* No credential, a wrong one: 401. */
    wu_expect_refused(&s, path, NULL, 401, "ws", "AUTH");
    snprintf(path, sizeof(path), "/sockets/%s/ws?token=wrong", id);
    wu_expect_refused(&s, path, NULL, 401, "ws", "AUTH");
    /* A cross-origin page: 403, even with the token. */
    snprintf(path, sizeof(path), "/sockets/%s/ws?token=sekrit", id);
    wu_expect_refused(&s, path, "Origin: http://evil.example\r\n", 403, "request", "DENIED");
    /* ?token= as a browser sends it, same origin: open. */
    struct wsc c;
    char origin[64];
    snprintf(origin, sizeof(origin), "Origin: http://127.0.0.1:%u\r\n", (unsigned)s.port);
    wu_open_path(&c, &s, path, origin);
    wu_send(&c, "authorized", 10);
    char got[10];
    hx_read_exact(peer, got, 10);
    assert_memory_equal(got, "authorized", 10);
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    assert_int_equal(cu_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_upgrades),
        cmocka_unit_test(test_sockets_that_cannot_stream),
        cmocka_unit_test(test_frames_a_client_must_not_send),
        cmocka_unit_test_teardown(test_ping_flood, su_stop_leftovers),
        cmocka_unit_test(test_client_vanishes_mid_transfer),
        cmocka_unit_test_teardown(test_credentials_and_origin, su_stop_leftovers),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("ws_errors", tests, group_setup, group_teardown);
}
