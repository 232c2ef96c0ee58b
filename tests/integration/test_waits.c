/*
 * Waiting commands through the real server (SPEC.md section 3, "Semantics" and the rules
 * on waits): blocking recv, accept and send wait for their peer, timeouts and --max-wait
 * end a wait with TIMEDOUT, non-blocking sockets never wait, waits on one socket are
 * served in arrival order, a wait whose client leaves loses no byte, and SIGTERM answers
 * every wait before the server exits 0. Every peer is a real loopback socket.
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
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Long enough for the server to have taken a request in and suspended it. */
#define SETTLE_US 150000

/* True when fd has something to read (an answer, or end of stream) within ms. */
static bool readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

/* Starts a command whose answer is read later with finish(); returns the fd. */
static int cmd_start(const struct hx_server *s, const char *id, const char *cmd,
                     const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/%s", id, cmd);
    return hx_send_only(s, "POST", path, body);
}

/* Checks an answer: 200, `outcome` ("ok" whole, else a prefix), and element 2 when
 * `data` is not NULL. Frees it. */
static void check(struct hx_response *r, const char *cmd, const char *outcome, const char *data)
{
    hx_expect(r, 200, cmd, outcome);
    if (data)
        assert_string_equal(hx_elem(r, 2), data);
    hx_response_free(r);
}

/* Reads and checks the answer of a command begun with cmd_start, and closes its fd. */
static void finish(int fd, const char *cmd, const char *outcome, const char *data)
{
    struct hx_response r;
    hx_read_response(fd, 20000, &r);
    close(fd);
    check(&r, cmd, outcome, data);
}

/* Runs a command and checks its answer as check() does. */
static void expect_cmd(const struct hx_server *s, const char *id, const char *cmd,
                       const char *body, const char *outcome, const char *data)
{
    struct hx_response r;
    hx_cmd(s, id, cmd, body, &r);
    check(&r, cmd, outcome, data);
}

/* The time a command takes to answer, checked as check() does. */
static long long timed_cmd(const struct hx_server *s, const char *id, const char *cmd,
                           const char *body, const char *outcome)
{
    long long t0 = hx_now_ms();
    expect_cmd(s, id, cmd, body, outcome, NULL);
    return hx_now_ms() - t0;
}

/* Connects a new gateway socket to listener lfd (on port); returns the accepted end. */
static int connect_to_listener(const struct hx_server *s, char *id, int lfd, uint16_t port)
{
    char body[96];
    hx_socket(s, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(s, id, "connect", body, "ok", NULL);
    int peer = hx_accept(lfd);
    close(lfd);
    return peer;
}

/* A new gateway socket connected to a real listener; returns the accepted end. */
static int connected_socket(const struct hx_server *s, char *id)
{
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    return connect_to_listener(s, id, lfd, port);
}

/* The port element 3 of a getsockname answer names. */
static uint16_t sockname_port(const struct hx_server *s, const char *id)
{
    struct hx_response r;
    hx_cmd(s, id, "getsockname", NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    assert_int_equal(hx_len(&r), 4);
    uint16_t port = (uint16_t)atoi(hx_elem(&r, 3));
    hx_response_free(&r);
    assert_true(port > 0);
    return port;
}

/* A gateway socket listening on a loopback port it returns. */
static uint16_t listening_socket(const struct hx_server *s, char *id)
{
    hx_socket(s, NULL, id);
    expect_cmd(s, id, "bind", "[\"localhost\",0]", "ok", NULL);
    expect_cmd(s, id, "listen", NULL, "ok", NULL);
    return sockname_port(s, id);
}

static void test_recv_waits_for_data(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer = connected_socket(&srv, id);
    int fd = cmd_start(&srv, id, "recv", "[100]");
    /* Nothing to read yet, so the answer must not come. */
    assert_false(readable_within(fd, 300));
    hx_write_all(peer, "hello\r\n", 7);
    finish(fd, "recv", "ok", "hello~0D~0A");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recvfrom_waits_for_datagram(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    hx_socket(&srv, "[\"DGRAM\"]", id);
    expect_cmd(&srv, id, "bind", "{\"localhost\":\"127.0.0.1\",\"port\":0}", "ok", NULL);
    uint16_t port = sockname_port(&srv, id);

    int fd = cmd_start(&srv, id, "recvfrom", "{\"n\":100,\"timeout\":10}");
    assert_false(readable_within(fd, 300));
    uint16_t uport;
    int u = hx_udp_socket(false, &uport);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(u, "dg~1", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    struct hx_response r;
    hx_read_response(fd, 20000, &r);
    close(fd);
    hx_expect(&r, 200, "recvfrom", "ok");
    assert_int_equal(hx_len(&r), 5);
    assert_string_equal(hx_elem(&r, 3), "127.0.0.1");
    assert_int_equal(atoi(hx_elem(&r, 4)), uport);
    check(&r, "recvfrom", "ok", "dg~7E1");
    close(u);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recv_timeout_fractional(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], path[128];
    int peer = connected_socket(&srv, id);
    long long took = timed_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":0.3}", "TIMEDOUT: ");
    assert_true(took >= 250 && took < 3000);
    /* The positional form and the query form time out the same way. */
    expect_cmd(&srv, id, "recv", "[10, null, \"0.2\"]", "TIMEDOUT: ", NULL);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10&timeout=0.2", id);
    struct hx_response r;
    hx_request(&srv, "POST", path, NULL, &r);
    check(&r, "recv", "TIMEDOUT: ", NULL);
    /* A timed-out wait took nothing: data sent afterwards is all there. */
    hx_write_all(peer, "late", 4);
    expect_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":5}", "ok", "late");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_max_wait_caps_timeout(void **state)
{
    (void)state;
    struct hx_server srv;
    const char *args[] = {"--max-wait", "1", NULL};
    hx_start(&srv, args);
    char id[64];
    int peer = connected_socket(&srv, id);
    long long took = timed_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":20}", "TIMEDOUT: ");
    assert_true(took >= 900 && took < 5000);
    /* No timeout at all is capped the same way. */
    took = timed_cmd(&srv, id, "recv", "[10]", "TIMEDOUT: ");
    assert_true(took >= 900 && took < 5000);
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_accept_waits_for_client(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char lid[64], nid[64];
    uint16_t port = listening_socket(&srv, lid);

    int fd = cmd_start(&srv, lid, "accept", NULL);
    assert_false(readable_within(fd, 300));
    int client = hx_tcp_connect(false, port);
    assert_true(client >= 0);
    struct hx_response r;
    hx_read_response(fd, 20000, &r);
    close(fd);
    hx_expect(&r, 200, "accept", "ok");
    assert_int_equal(hx_len(&r), 4);
    assert_true(strlen(hx_elem(&r, 2)) > 0);
    snprintf(nid, sizeof(nid), "%s", hx_elem(&r, 3));
    check(&r, "accept", "ok", NULL);
    /* The accepted socket is a working connection. */
    expect_cmd(&srv, nid, "send", "[\"hi~21\"]", "ok", "");
    char buf[3];
    hx_read_exact(client, buf, 3);
    assert_memory_equal(buf, "hi!", 3);

    /* acceptfast waits the same way and looks up no name. */
    fd = cmd_start(&srv, lid, "acceptfast", "{\"timeout\":10}");
    assert_false(readable_within(fd, 200));
    int client2 = hx_tcp_connect(false, port);
    assert_true(client2 >= 0);
    hx_read_response(fd, 20000, &r);
    close(fd);
    hx_expect(&r, 200, "acceptfast", "ok");
    assert_int_equal(hx_len(&r), 4);
    assert_true(strlen(hx_elem(&r, 3)) > 0);
    check(&r, "acceptfast", "ok", "");
    /* With no client, accept times out. */
    expect_cmd(&srv, lid, "accept", "[null, 0.2]", "TIMEDOUT: ", NULL);
    close(client);
    close(client2);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_connect_refused(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], id2[64], body[96];
    hx_socket(&srv, NULL, id);
    /* A port just released has no listener. */
    snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%u}", hx_free_port());
    expect_cmd(&srv, id, "connect", body, "CONNREFUSED: ", NULL);
    /* A blocking connect to a listener answers ok once connected. */
    int peer = connected_socket(&srv, id2);
    expect_cmd(&srv, id2, "getpeername", NULL, "ok", "127.0.0.1");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_nonblocking_never_waits(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], lid[64], did[64], cid[64];
    int peer = connected_socket(&srv, id);

    long long t0 = hx_now_ms();
    expect_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", "ok", NULL);
    expect_cmd(&srv, id, "recv", "[10]", "WOULDBLOCK: ", NULL);
    expect_cmd(&srv, id, "send", "[\"abc\"]", "ok", "");
    char buf[3];
    hx_read_exact(peer, buf, 3);
    assert_memory_equal(buf, "abc", 3);
    /* Data already there is returned at once. */
    hx_write_all(peer, "xy", 2);
    usleep(50000);
    expect_cmd(&srv, id, "recv", "{\"n\":10}", "ok", "xy");

    listening_socket(&srv, lid);
    expect_cmd(&srv, lid, "ioctl", "{\"FIONBIO\":1}", "ok", NULL);
    expect_cmd(&srv, lid, "accept", NULL, "WOULDBLOCK: ", NULL);
    expect_cmd(&srv, lid, "acceptfast", NULL, "WOULDBLOCK: ", NULL);

    hx_socket(&srv, "{\"type\":\"DGRAM\"}", did);
    expect_cmd(&srv, did, "bind", "[\"localhost\",0]", "ok", NULL);
    expect_cmd(&srv, did, "ioctl", "[\"FIONBIO\",\"1\"]", "ok", NULL);
    expect_cmd(&srv, did, "recvfrom", "[10]", "WOULDBLOCK: ", NULL);
    /* Even a timeout does not make a non-blocking socket wait. */
    expect_cmd(&srv, did, "recvfrom", "[10, null, 5]", "WOULDBLOCK: ", NULL);
    assert_true(hx_now_ms() - t0 < 3000);

    /* connect on a non-blocking socket still answers ok once connected, as JMP's
     * examples expect. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char body[96];
    hx_socket(&srv, NULL, cid);
    expect_cmd(&srv, cid, "ioctl", "[\"FIONBIO\",1]", "ok", NULL);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(&srv, cid, "connect", body, "ok", NULL);
    int p2 = hx_accept(lfd);
    expect_cmd(&srv, cid, "getpeername", NULL, "ok", "127.0.0.1");
    /* Back to blocking: recv waits again. */
    expect_cmd(&srv, cid, "ioctl", "[\"FIONBIO\",0]", "ok", NULL);
    expect_cmd(&srv, cid, "recv", "[10, null, 0.2]", "TIMEDOUT: ", NULL);
    close(p2);
    close(lfd);
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

/* A payload larger than the loopback buffers can hold while the peer does not read. */
#define BIG_LEN (12u * 1024 * 1024)
static const char *const big_args[] = {"--max-body", "40000000", NULL};

/* A send body of BIG_LEN letters, which are their own ascii~hex encoding. */
static char *big_send_body(void)
{
    char *body = malloc(BIG_LEN + 16);
    assert_non_null(body);
    memcpy(body, "[\"", 2);
    for (size_t i = 0; i < BIG_LEN; i++)
        body[2 + i] = (char)('a' + i % 26);
    memcpy(body + 2 + BIG_LEN, "\"]", 3);
    return body;
}

/* A gateway socket connected to a peer with a small receive buffer, so the peer cannot
 * swallow the payload by autotuning its window. */
static int connected_small_window(const struct hx_server *s, char *id)
{
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    int sz = 64 * 1024;
    setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    return connect_to_listener(s, id, lfd, port);
}

static void test_blocking_send_large_to_slow_reader(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, big_args);
    char id[64];
    int peer = connected_small_window(&srv, id);
    char *big = big_send_body();
    int fd = cmd_start(&srv, id, "send", big);
    free(big);
    /* The peer has not read: the send cannot have finished. */
    assert_false(readable_within(fd, 300));

    /* Read slowly, checking every byte. */
    enum { CHUNK = 64 * 1024 };
    char *chunk = malloc(CHUNK);
    assert_non_null(chunk);
    for (size_t got = 0; got < BIG_LEN; got += CHUNK) {
        size_t want = BIG_LEN - got < CHUNK ? BIG_LEN - got : CHUNK;
        hx_read_exact(peer, chunk, want);
        for (size_t i = 0; i < want; i++)
            if (chunk[i] != (char)('a' + (got + i) % 26))
                fail_msg("byte %zu of the payload is wrong", got + i);
        usleep(1000);
    }
    free(chunk);
    finish(fd, "send", "ok", "");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_nonblocking_send_returns_unsent_part(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, big_args);
    char id[64];
    int peer = connected_small_window(&srv, id);
    expect_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", "ok", NULL);
    char *big = big_send_body();
    struct hx_response r;
    hx_cmd(&srv, id, "send", big, &r);
    free(big);
    hx_expect(&r, 200, "send", "ok");
    const char *unsent = hx_elem(&r, 2);
    size_t ulen = strlen(unsent);
    assert_true(ulen > 0 && ulen < BIG_LEN);
    size_t sent = BIG_LEN - ulen;
    /* The unsent part is the tail of the payload. */
    for (size_t i = 0; i < ulen; i += 4093)
        assert_int_equal(unsent[i], (char)('a' + (sent + i) % 26));
    hx_response_free(&r);
    /* The peer receives exactly the part that was sent, and no more. */
    char *all = malloc(sent);
    assert_non_null(all);
    hx_read_exact(peer, all, sent);
    for (size_t i = 0; i < sent; i += 4099)
        assert_int_equal(all[i], (char)('a' + i % 26));
    free(all);
    assert_false(readable_within(peer, 200));
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_waits_served_in_arrival_order(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer = connected_socket(&srv, id);
    int first = cmd_start(&srv, id, "recv", "[1]");
    usleep(SETTLE_US);
    int second = cmd_start(&srv, id, "recv", "[1]");
    usleep(SETTLE_US);
    hx_write_all(peer, "AB", 2);
    finish(first, "recv", "ok", "A");
    finish(second, "recv", "ok", "B");

    /* A head that times out lets the next in line have the data. */
    first = cmd_start(&srv, id, "recv", "{\"n\":5,\"timeout\":0.3}");
    usleep(SETTLE_US);
    second = cmd_start(&srv, id, "recv", "{\"n\":5,\"timeout\":10}");
    finish(first, "recv", "TIMEDOUT: ", NULL);
    hx_write_all(peer, "Z", 1);
    finish(second, "recv", "ok", "Z");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

/* The "pending" count of GET /sockets/<id>. */
static int pending_of(const struct hx_server *s, const char *id)
{
    char path[128];
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hx_request(s, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending");
    assert_true(cJSON_IsNumber(pending));
    int n = (int)pending->valuedouble;
    hx_response_free(&r);
    return n;
}

static void test_cancelled_wait_loses_nothing(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer = connected_socket(&srv, id);
    int fd = cmd_start(&srv, id, "recv", "[100]");
    usleep(SETTLE_US);
    assert_int_equal(pending_of(&srv, id), 1);
    close(fd);
    usleep(200000);
    /* The cancelled wait no longer counts as pending... */
    assert_int_equal(pending_of(&srv, id), 0);
    hx_write_all(peer, "xyz", 3);
    usleep(100000);
    /* ...and took no byte. */
    expect_cmd(&srv, id, "recv", "{\"n\":100,\"timeout\":5}", "ok", "xyz");
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recv_after_peer_closed(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], id2[64], id3[64];
    int peer = connected_socket(&srv, id);
    /* Data sent before the close is still returned, then CLOSED. */
    hx_write_all(peer, "bye", 3);
    close(peer);
    usleep(50000);
    expect_cmd(&srv, id, "recv", "[100]", "ok", "bye");
    expect_cmd(&srv, id, "recv", "[100]", "CLOSED: ", NULL);
    expect_cmd(&srv, id, "recv", "[100]", "CLOSED: ", NULL);

    /* A recv already waiting learns of the close too. */
    int peer2 = connected_socket(&srv, id2);
    int fd = cmd_start(&srv, id2, "recv", "[100]");
    usleep(SETTLE_US);
    close(peer2);
    finish(fd, "recv", "CLOSED: ", NULL);

    /* Closing the socket answers a wait on it CLOSED. */
    int peer3 = connected_socket(&srv, id3);
    fd = cmd_start(&srv, id3, "recv", "[100]");
    usleep(SETTLE_US);
    expect_cmd(&srv, id3, "close", NULL, "ok", NULL);
    finish(fd, "recv", "CLOSED: ", NULL);
    close(peer3);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_sigterm_answers_waits(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], lid[64];
    int peer = connected_socket(&srv, id);
    listening_socket(&srv, lid);
    int fd = cmd_start(&srv, id, "recv", "[100]");
    int afd = cmd_start(&srv, lid, "accept", NULL);
    usleep(SETTLE_US);
    assert_int_equal(hx_stop(&srv), 0);

    struct hx_response r;
    hx_read_response(fd, 5000, &r);
    close(fd);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    assert_non_null(strstr(hx_elem(&r, 1), "shutting down"));
    check(&r, "recv", "CLOSED: ", NULL);
    hx_read_response(afd, 5000, &r);
    close(afd);
    hx_expect(&r, 200, "accept", "CLOSED: ");
    assert_non_null(strstr(hx_elem(&r, 1), "shutting down"));
    check(&r, "accept", "CLOSED: ", NULL);
    /* The gateway's socket was closed: the peer sees the end of the stream. */
    assert_true(readable_within(peer, 2000));
    char c;
    assert_int_equal(read(peer, &c, 1), 0);
    close(peer);
}

static void test_healthz_while_waits_pending(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    enum { NWAITS = 4 };
    char id[64];
    int peer = connected_socket(&srv, id);
    int fds[NWAITS];
    for (int i = 0; i < NWAITS; i++) {
        fds[i] = cmd_start(&srv, id, "recv", "[1]");
        usleep(SETTLE_US / 3);
    }
    usleep(SETTLE_US);

    struct hx_response r;
    long long t0 = hx_now_ms();
    hx_request(&srv, "GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(hx_now_ms() - t0 < 2000);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(r.json, "status");
    assert_true(cJSON_IsString(status));
    assert_string_equal(status->valuestring, "ok");
    hx_response_free(&r);
    assert_int_equal(pending_of(&srv, id), NWAITS);

    /* One byte each, in the order the waits arrived. */
    hx_write_all(peer, "0123", NWAITS);
    for (int i = 0; i < NWAITS; i++) {
        char want[2] = {(char)('0' + i), '\0'};
        finish(fds[i], "recv", "ok", want);
    }
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_waits_for_data),
        cmocka_unit_test(test_recvfrom_waits_for_datagram),
        cmocka_unit_test(test_recv_timeout_fractional),
        cmocka_unit_test(test_max_wait_caps_timeout),
        cmocka_unit_test(test_accept_waits_for_client),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_nonblocking_never_waits),
        cmocka_unit_test(test_blocking_send_large_to_slow_reader),
        cmocka_unit_test(test_nonblocking_send_returns_unsent_part),
        cmocka_unit_test(test_waits_served_in_arrival_order),
        cmocka_unit_test(test_cancelled_wait_loses_nothing),
        cmocka_unit_test(test_recv_after_peer_closed),
        cmocka_unit_test(test_sigterm_answers_waits),
        cmocka_unit_test(test_healthz_while_waits_pending),
    };
    return cmocka_run_group_tests_name("waits", tests, NULL, NULL);
}
