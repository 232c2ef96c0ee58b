/*
 * The WebSocket bridge (SPEC §10) with a real client over real loopback: bytes both ways
 * unencoded, text frames as their UTF-8 bytes, the "binary" subprotocol, one datagram per
 * message, the "streaming" state with its byte counts, ALREADY for REST data commands,
 * and every way a bridge ends: the peer closing (everything, then 1000), the client
 * closing (flushed to the peer first), half-close, REST close and DELETE (1001), shutdown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "ws_util.h"

static struct hx_server srv;

static int group_setup(void **state)
{
    (void)state;
    hx_start(&srv, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return cu_teardown(&srv);
}

static void test_bytes_both_ways(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    struct wsc c;
    char path[96];
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    wu_open_path(&c, &srv, path, "Sec-WebSocket-Protocol: base64, binary\r\n");
    assert_non_null(strstr(c.head, "Sec-WebSocket-Protocol: binary"));

    /* Every byte value, both ways, unencoded. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    wu_send(&c, all, sizeof(all));
    uint8_t got[256];
    hx_read_exact(peer, got, sizeof(got));
    assert_memory_equal(got, all, sizeof(all));
    hx_write_all(peer, all, sizeof(all));
    int op;
    size_t n = 0;
    while (n < sizeof(all)) {
        long r = wsc_read_message(&c, &op, got + n, sizeof(got) - n);
        assert_true(r > 0);
        assert_int_equal(op, WSC_OP_BINARY);
        n += (size_t)r;
    }
    assert_memory_equal(got, all, sizeof(all));

    /* A text frame travels as its UTF-8 bytes. */
    const char *text = "h\xc3\xa9llo \xe2\x82\xac";
    assert_int_equal(wsc_send(&c, WSC_OP_TEXT, text, strlen(text), true), 0);
    char tgot[32];
    hx_read_exact(peer, tgot, strlen(text));
    assert_memory_equal(tgot, text, strlen(text));

    /* A fragmented message arrives whole, in order. */
    assert_int_equal(wsc_send(&c, WSC_OP_BINARY, "frag", 4, false), 0);
    assert_int_equal(wsc_send(&c, WSC_OP_PING, "p", 1, true), 0);
    assert_int_equal(wsc_send(&c, WSC_OP_CONT, "ment", 4, true), 0);
    hx_read_exact(peer, tgot, 8);
    assert_memory_equal(tgot, "fragment", 8);

    /* The listing says streaming, and counts the bytes. */
    char st[32];
    uint64_t in, out;
    wu_socket_state(&srv, id, st, sizeof(st), &in, &out);
    assert_string_equal(st, "streaming");
    assert_int_equal(in, 256);
    assert_int_equal(out, 256 + strlen(text) + 8);

    /* The peer closes: a Close 1000 ends it, the socket is gone. */
    close(peer);
    wu_expect_close(&c, 1000, "the peer closed");
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
}

static void test_rest_data_commands_already(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    /* A background recv armed before the bridge ends with ALREADY when it opens. */
    struct hx_response r;
    cu_cmdf(&srv, id, "recv", &r, "{\"n\":10,\"callback\":\"onData\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    struct wsc c;
    wu_open(&c, &srv, id, NULL);
    const char *cmds[] = {"send", "recv", "sendto", "recvfrom"};
    const char *bodies[] = {"[\"x\"]", "[10]", "[\"x\"]", "[10]"};
    for (int i = 0; i < 4; i++) {
        hx_cmd(&srv, id, cmds[i], bodies[i], &r);
        hx_expect(&r, 200, cmds[i], "ALREADY");
        hx_response_free(&r);
    }
    /* So do the commands that would change what the bytes are (connect, starttls), and
     * the raw forms of send and recv. */
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", (unsigned)hx_free_port());
    hx_expect(&r, 200, "connect", "ALREADY");
    hx_response_free(&r);
    hx_cmd(&srv, id, "starttls", "{}", &r);
    hx_expect(&r, 200, "starttls", "ALREADY");
    hx_response_free(&r);
    char path[96];
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    hx_request_h(&srv, "POST", path, "Content-Type: application/octet-stream\r\n", "raw", &r);
    hx_expect(&r, 200, "send", "ALREADY");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10", id);
    hx_request_h(&srv, "POST", path, "Accept: application/octet-stream\r\n", NULL, &r);
    hx_expect(&r, 200, "recv", "ALREADY");
    hx_response_free(&r);
    /* What does not touch the data still answers. */
    snprintf(path, sizeof(path), "/sockets/%s/getpeername", id);
    hx_request(&srv, "GET", path, NULL, &r);
    hx_expect(&r, 200, "getpeername", "ok");
    hx_response_free(&r);
    /* A second bridge on the same socket is refused. */
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    wu_expect_refused(&srv, path, NULL, 409, "ws", "ALREADY");
    /* The bridge still works. */
    wu_send(&c, "ok", 2);
    char got[2];
    hx_read_exact(peer, got, 2);
    assert_memory_equal(got, "ok", 2);
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
}

/* The peer sends a burst and closes at once: every byte comes before the Close. */
static void test_peer_close_delivers_everything(void **state)
{
    (void)state;
    size_t len = 8u << 20;
    uint8_t *data = malloc(len), *got = malloc(len);
    assert_non_null(data);
    assert_non_null(got);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 11));
    for (int round = 0; round < 3; round++) {
        char id[64];
        struct wsc c;
        int peer = wu_bridge(&srv, id, &c);
        hx_write_all(peer, data, len);
        close(peer);
        unsigned code;
        uint64_t n = wu_read_to_close(&c, got, len, &code, NULL, 0);
        assert_int_equal(n, len);
        assert_int_equal(code, 1000);
        assert_memory_equal(got, data, len);
        wsc_send_close(&c, 1000, NULL);
        wsc_close(&c);
    }
    free(data);
    free(got);
}

/* The client sends a burst and its Close at once: the peer gets every byte, then the
 * end of the stream; the client gets the Close answered. */
static void test_client_close_flushes_first(void **state)
{
    (void)state;
    size_t len = 4u << 20;
    uint8_t *data = malloc(len), *got = malloc(len);
    assert_non_null(data);
    assert_non_null(got);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 9));
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    for (size_t off = 0; off < len; off += 100000)
        wu_send(&c, data + off, len - off < 100000 ? len - off : 100000);
    assert_int_equal(wsc_send_close(&c, 1000, "done"), 0);
    uint64_t n = wu_read_to_eof(peer, got, len);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    unsigned code;
    wu_read_to_close(&c, NULL, 0, &code, NULL, 0);
    assert_int_equal(code, 1000);
    close(peer);
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
    free(data);
    free(got);
}

/* ?halfclose=1: the client's Close half-closes the socket; the peer's answer comes back
 * until the peer closes, and only then is the Close answered. */
static void test_halfclose_relays_the_answer(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    struct wsc c;
    wu_open(&c, &srv, id, "halfclose=1");
    wu_send(&c, "QUESTION", 8);
    assert_int_equal(wsc_send_close(&c, 1000, NULL), 0);
    uint8_t q[16];
    assert_int_equal(wu_read_to_eof(peer, q, sizeof(q)), 8); /* FIN after the question */
    assert_memory_equal(q, "QUESTION", 8);
    usleep(100000);
    hx_write_all(peer, "ANSWER, ", 8);
    hx_write_all(peer, "IN TWO PARTS", 12);
    close(peer);
    uint8_t a[64];
    unsigned code;
    uint64_t n = wu_read_to_close(&c, a, sizeof(a), &code, NULL, 0);
    assert_int_equal(n, 20);
    assert_memory_equal(a, "ANSWER, IN TWO PARTS", 20);
    assert_int_equal(code, 1000);
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
}

/* close and DELETE from REST end the bridge with 1001; the peer sees the socket close. */
static void test_rest_close_ends_with_1001(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        char id[64], path[96];
        int peer;
        cu_connected_pair(&srv, false, id, &peer);
        struct wsc c;
        wu_open(&c, &srv, id, NULL);
        wu_send(&c, "x", 1);
        char x;
        hx_read_exact(peer, &x, 1);
        hx_write_all(peer, "before", 6);
        wu_expect_message(&c, "before", 6);
        struct hx_response r;
        snprintf(path, sizeof(path), "/sockets/%s%s", id, i == 0 ? "/close" : "");
        hx_request(&srv, i == 0 ? "POST" : "DELETE", path, NULL, &r);
        hx_expect(&r, 200, "close", "ok");
        hx_response_free(&r);
        wu_expect_close(&c, 1001, "the socket was closed");
        assert_int_equal(wu_read_to_eof(peer, NULL, 0), 0);
        close(peer);
        wsc_close(&c);
    }
}

/* A connected datagram socket: one message is one datagram, both ways, empty included. */
static void test_dgram_message_per_datagram(void **state)
{
    (void)state;
    uint16_t uport;
    int u = hx_udp_socket(false, &uport);
    char id[64];
    hx_socket(&srv, "{\"type\":\"DGRAM\"}", id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", uport);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    struct wsc c;
    wu_open(&c, &srv, id, NULL);
    /* Client to peer: three messages, three datagrams (one sent in two fragments). */
    wu_send(&c, "one", 3);
    assert_int_equal(wsc_send(&c, WSC_OP_BINARY, "tw", 2, false), 0);
    assert_int_equal(wsc_send(&c, WSC_OP_CONT, "o!", 2, true), 0);
    wu_send(&c, "", 0);
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    char buf[100];
    const char *want[] = {"one", "two!", ""};
    for (int i = 0; i < 3; i++) {
        struct pollfd p = {.fd = u, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        assert_int_equal(n, (ssize_t)strlen(want[i]));
        assert_memory_equal(buf, want[i], (size_t)n);
    }
    /* Peer to client: each datagram one message. */
    sendto(u, "alpha", 5, 0, (struct sockaddr *)&from, fl);
    sendto(u, "", 0, 0, (struct sockaddr *)&from, fl);
    sendto(u, "gamma!", 6, 0, (struct sockaddr *)&from, fl);
    wu_expect_message(&c, "alpha", 5);
    wu_expect_message(&c, "", 0);
    wu_expect_message(&c, "gamma!", 6);
    /* A message too long for one datagram is refused with 1009. */
    size_t big = 70000;
    uint8_t *huge = calloc(1, big);
    assert_non_null(huge);
    wu_send(&c, huge, big);
    free(huge);
    wu_expect_close(&c, 1009, "datagram");
    wsc_close(&c);
    close(u);
}

/* SIGTERM with a bridge open: Close 1001, and the server exits 0. */
static void test_shutdown_closes_with_1001(void **state)
{
    (void)state;
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    hx_write_all(peer, "last words", 10);
    wu_expect_message(&c, "last words", 10);
    kill(srv.pid, SIGTERM);
    unsigned code;
    char reason[128];
    wu_read_to_close(&c, NULL, 0, &code, reason, sizeof(reason));
    assert_int_equal(code, 1001);
    assert_non_null(strstr(reason, "shutting down"));
    wsc_send_close(&c, 1001, NULL);
    assert_int_equal(cu_stop(&srv), 0);
    wsc_close(&c);
    close(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_both_ways),
        cmocka_unit_test(test_rest_data_commands_already),
        cmocka_unit_test(test_peer_close_delivers_everything),
        cmocka_unit_test(test_client_close_flushes_first),
        cmocka_unit_test(test_halfclose_relays_the_answer),
        cmocka_unit_test(test_rest_close_ends_with_1001),
        cmocka_unit_test(test_dgram_message_per_datagram),
        cmocka_unit_test(test_shutdown_closes_with_1001),
    };
    return cmocka_run_group_tests_name("ws_bridge", tests, group_setup, group_teardown);
}
