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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True when fd has something to read (an answer, or end of stream) within ms. */
static bool readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static void cmd_path(char *path, size_t len, const char *id, const char *cmd)
{
    snprintf(path, len, "/sockets/%s/%s", id, cmd);
}

/* Starts a command whose answer is read later with hx_read_response; returns the fd. */
static int cmd_start(const struct hx_server *s, const char *id, const char *cmd,
                     const char *body)
{
    char path[128];
    cmd_path(path, sizeof(path), id, cmd);
    return hx_send_only(s, "POST", path, body);
}

/* Reads the answer of a command started with cmd_start and closes its fd. */
static void cmd_finish(int fd, struct hx_response *r)
{
    hx_read_response(fd, 20000, r);
    close(fd);
}

static void expect_cmd(const struct hx_server *s, const char *id, const char *cmd,
                       const char *body, const char *outcome)
{
    struct hx_response r;
    hx_cmd(s, id, cmd, body, &r);
    hx_expect(&r, 200, cmd, outcome);
    hx_response_free(&r);
}

/* A new gateway socket connected to a real listener; *peer is the accepted end. */
static void connected_socket(const struct hx_server *s, char *id, int *peer)
{
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char body[96];
    hx_socket(s, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(s, id, "connect", body, "ok");
    *peer = hx_accept(lfd);
    close(lfd);
}

/* A gateway socket listening on a loopback port it returns. */
static uint16_t listening_socket(const struct hx_server *s, char *id)
{
    struct hx_response r;
    hx_socket(s, NULL, id);
    expect_cmd(s, id, "bind", "[\"localhost\",0]", "ok");
    expect_cmd(s, id, "listen", NULL, "ok");
    hx_cmd(s, id, "getsockname", NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    assert_int_equal(hx_len(&r), 4);
    uint16_t port = (uint16_t)atoi(hx_elem(&r, 3));
    hx_response_free(&r);
    assert_true(port > 0);
    return port;
}

static void test_recv_waits_for_data(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer;
    connected_socket(&srv, id, &peer);

    int fd = cmd_start(&srv, id, "recv", "[100]");
    /* Nothing to read yet, so the answer must not come. */
    assert_false(readable_within(fd, 300));
    hx_write_all(peer, "hello\r\n", 7);
    struct hx_response r;
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "hello~0D~0A");
    hx_response_free(&r);

    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recvfrom_waits_for_datagram(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    struct hx_response r;
    hx_socket(&srv, "[\"DGRAM\"]", id);
    expect_cmd(&srv, id, "bind", "{\"localhost\":\"127.0.0.1\",\"port\":0}", "ok");
    hx_cmd(&srv, id, "getsockname", NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    uint16_t port = (uint16_t)atoi(hx_elem(&r, 3));
    hx_response_free(&r);

    int fd = cmd_start(&srv, id, "recvfrom", "{\"n\":100,\"timeout\":10}");
    assert_false(readable_within(fd, 300));
    uint16_t uport;
    int u = hx_udp_socket(false, &uport);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(sendto(u, "dg~1", 4, 0, (struct sockaddr *)a, sizeof(*a)), 4);
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "recvfrom", "ok");
    assert_int_equal(hx_len(&r), 5);
    assert_string_equal(hx_elem(&r, 2), "dg~7E1");
    assert_string_equal(hx_elem(&r, 3), "127.0.0.1");
    char pbuf[8];
    snprintf(pbuf, sizeof(pbuf), "%u", uport);
    assert_string_equal(hx_elem(&r, 4), pbuf);
    hx_response_free(&r);
    close(u);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recv_timeout_fractional(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer;
    connected_socket(&srv, id, &peer);

    struct hx_response r;
    long long t0 = now_ms();
    hx_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":0.3}", &r);
    long long took = now_ms() - t0;
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);
    assert_true(took >= 250);
    assert_true(took < 3000);

    /* The positional form and the query form time out the same way. */
    hx_cmd(&srv, id, "recv", "[10, null, \"0.2\"]", &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10&timeout=0.2", id);
    hx_request(&srv, "POST", path, NULL, &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);

    /* A timed-out wait took nothing: data sent afterwards is all there. */
    hx_write_all(peer, "late", 4);
    hx_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "late");
    hx_response_free(&r);

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
    int peer;
    connected_socket(&srv, id, &peer);

    struct hx_response r;
    long long t0 = now_ms();
    hx_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":20}", &r);
    long long took = now_ms() - t0;
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);
    assert_true(took >= 900);
    assert_true(took < 5000);

    /* No timeout at all is capped the same way. */
    t0 = now_ms();
    hx_cmd(&srv, id, "recv", "[10]", &r);
    took = now_ms() - t0;
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);
    assert_true(took >= 900);
    assert_true(took < 5000);

    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_accept_waits_for_client(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char lid[64];
    uint16_t port = listening_socket(&srv, lid);

    int fd = cmd_start(&srv, lid, "accept", NULL);
    assert_false(readable_within(fd, 300));
    int client = hx_tcp_connect(false, port);
    assert_true(client >= 0);
    struct hx_response r;
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "accept", "ok");
    assert_int_equal(hx_len(&r), 4);
    assert_true(strlen(hx_elem(&r, 2)) > 0);
    char nid[64];
    snprintf(nid, sizeof(nid), "%s", hx_elem(&r, 3));
    hx_response_free(&r);

    /* The accepted socket is a working connection. */
    expect_cmd(&srv, nid, "send", "[\"hi~21\"]", "ok");
    char buf[3];
    hx_read_exact(client, buf, 3);
    assert_memory_equal(buf, "hi!", 3);

    /* acceptfast waits the same way and looks up no name. */
    fd = cmd_start(&srv, lid, "acceptfast", "{\"timeout\":10}");
    assert_false(readable_within(fd, 200));
    int client2 = hx_tcp_connect(false, port);
    assert_true(client2 >= 0);
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "acceptfast", "ok");
    assert_int_equal(hx_len(&r), 4);
    assert_string_equal(hx_elem(&r, 2), "");
    assert_true(strlen(hx_elem(&r, 3)) > 0);
    hx_response_free(&r);

    /* With no client, accept times out. */
    hx_cmd(&srv, lid, "accept", "[null, 0.2]", &r);
    hx_expect(&r, 200, "accept", "TIMEDOUT: ");
    hx_response_free(&r);

    close(client);
    close(client2);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_connect_refused(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], body[96];
    hx_socket(&srv, NULL, id);
    /* A port just released has no listener. */
    snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%u}", hx_free_port());
    struct hx_response r;
    hx_cmd(&srv, id, "connect", body, &r);
    hx_expect(&r, 200, "connect", "CONNREFUSED: ");
    hx_response_free(&r);

    /* The socket is usable again: a second connect, to a listener, succeeds. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    snprintf(body, sizeof(body), "[\"localhost\",\"%u\"]", port);
    hx_cmd(&srv, id, "connect", body, &r);
    if (r.status == 200 && hx_elem(&r, 1) && strcmp(hx_elem(&r, 1), "ok") != 0) {
        /* A TCP socket whose connect failed cannot always connect again; a new one can. */
        hx_response_free(&r);
        hx_socket(&srv, NULL, id);
        hx_cmd(&srv, id, "connect", body, &r);
    }
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd));
    close(lfd);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_nonblocking_never_waits(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    struct hx_response r;
    char id[64], lid[64], did[64], cid[64], body[96];
    int peer;
    connected_socket(&srv, id, &peer);

    long long t0 = now_ms();
    expect_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", "ok");
    hx_cmd(&srv, id, "recv", "[10]", &r);
    hx_expect(&r, 200, "recv", "WOULDBLOCK: ");
    hx_response_free(&r);
    hx_cmd(&srv, id, "send", "[\"abc\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    char buf[3];
    hx_read_exact(peer, buf, 3);
    assert_memory_equal(buf, "abc", 3);

    /* Data already there is returned at once. */
    hx_write_all(peer, "xy", 2);
    usleep(50000);
    hx_cmd(&srv, id, "recv", "{\"n\":10}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "xy");
    hx_response_free(&r);

    listening_socket(&srv, lid);
    expect_cmd(&srv, lid, "ioctl", "{\"FIONBIO\":1}", "ok");
    hx_cmd(&srv, lid, "accept", NULL, &r);
    hx_expect(&r, 200, "accept", "WOULDBLOCK: ");
    hx_response_free(&r);
    hx_cmd(&srv, lid, "acceptfast", NULL, &r);
    hx_expect(&r, 200, "acceptfast", "WOULDBLOCK: ");
    hx_response_free(&r);

    hx_socket(&srv, "{\"type\":\"DGRAM\"}", did);
    expect_cmd(&srv, did, "bind", "[\"localhost\",0]", "ok");
    expect_cmd(&srv, did, "ioctl", "[\"FIONBIO\",\"1\"]", "ok");
    hx_cmd(&srv, did, "recvfrom", "[10]", &r);
    hx_expect(&r, 200, "recvfrom", "WOULDBLOCK: ");
    hx_response_free(&r);
    /* Even a timeout does not make a non-blocking socket wait. */
    hx_cmd(&srv, did, "recvfrom", "[10, null, 5]", &r);
    hx_expect(&r, 200, "recvfrom", "WOULDBLOCK: ");
    hx_response_free(&r);
    assert_true(now_ms() - t0 < 3000);

    /* connect on a non-blocking socket still answers ok once connected, as JMP's
     * examples expect. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    hx_socket(&srv, NULL, cid);
    expect_cmd(&srv, cid, "ioctl", "[\"FIONBIO\",1]", "ok");
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(&srv, cid, "connect", body, "ok");
    int p2 = hx_accept(lfd);
    hx_cmd(&srv, cid, "getpeername", NULL, &r);
    hx_expect(&r, 200, "getpeername", "ok");
    assert_string_equal(hx_elem(&r, 2), "127.0.0.1");
    hx_response_free(&r);

    /* Back to blocking: recv waits again. */
    expect_cmd(&srv, cid, "ioctl", "[\"FIONBIO\",0]", "ok");
    hx_cmd(&srv, cid, "recv", "[10, null, 0.2]", &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);

    close(p2);
    close(lfd);
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

/* A payload larger than the loopback buffers can hold while the peer does not read. */
#define BIG_LEN (12u * 1024 * 1024)
#define BIG_BODY_MAX "40000000"

static char *big_send_body(size_t *payload_len)
{
    /* Letters only, so the payload is its own ascii~hex encoding. */
    char *body = malloc(BIG_LEN + 16);
    assert_non_null(body);
    memcpy(body, "[\"", 2);
    for (size_t i = 0; i < BIG_LEN; i++)
        body[2 + i] = (char)('a' + i % 26);
    memcpy(body + 2 + BIG_LEN, "\"]", 3);
    *payload_len = BIG_LEN;
    return body;
}

/* A listener whose accepted sockets have a small receive buffer, so the peer cannot
 * swallow the payload by autotuning its window. */
static int small_window_listener(uint16_t *port)
{
    int lfd = hx_tcp_listener(false, port);
    int sz = 64 * 1024;
    setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    return lfd;
}

static void test_blocking_send_large_to_slow_reader(void **state)
{
    (void)state;
    struct hx_server srv;
    const char *args[] = {"--max-body", BIG_BODY_MAX, NULL};
    hx_start(&srv, args);
    uint16_t port;
    int lfd = small_window_listener(&port);
    char id[64], body[96];
    hx_socket(&srv, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(&srv, id, "connect", body, "ok");
    int peer = hx_accept(lfd);
    close(lfd);

    size_t len;
    char *big = big_send_body(&len);
    int fd = cmd_start(&srv, id, "send", big);
    free(big);
    /* The peer has not read: the send cannot have finished. */
    assert_false(readable_within(fd, 300));

    /* Read slowly, checking every byte. */
    char *chunk = malloc(64 * 1024);
    assert_non_null(chunk);
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < 64 * 1024 ? len - got : 64 * 1024;
        hx_read_exact(peer, chunk, want);
        for (size_t i = 0; i < want; i++)
            if (chunk[i] != (char)('a' + (got + i) % 26))
                fail_msg("byte %zu of the payload is wrong", got + i);
        got += want;
        if ((got / want) % 16 == 0)
            usleep(2000);
    }
    free(chunk);

    struct hx_response r;
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "send", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_nonblocking_send_returns_unsent_part(void **state)
{
    (void)state;
    struct hx_server srv;
    const char *args[] = {"--max-body", BIG_BODY_MAX, NULL};
    hx_start(&srv, args);
    uint16_t port;
    int lfd = small_window_listener(&port);
    char id[64], body[96];
    hx_socket(&srv, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    expect_cmd(&srv, id, "connect", body, "ok");
    int peer = hx_accept(lfd);
    close(lfd);
    expect_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", "ok");

    size_t len;
    char *big = big_send_body(&len);
    struct hx_response r;
    hx_cmd(&srv, id, "send", big, &r);
    free(big);
    hx_expect(&r, 200, "send", "ok");
    const char *unsent = hx_elem(&r, 2);
    size_t ulen = strlen(unsent);
    assert_true(ulen > 0 && ulen < len);
    size_t sent = len - ulen;
    /* The unsent part is the tail of the payload. */
    for (size_t i = 0; i < ulen; i += 4093)
        assert_int_equal(unsent[i], (char)('a' + (sent + i) % 26));
    hx_response_free(&r);

    /* The peer receives exactly the part that was sent. */
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
    int peer;
    connected_socket(&srv, id, &peer);

    int first = cmd_start(&srv, id, "recv", "[1]");
    usleep(SETTLE_US);
    int second = cmd_start(&srv, id, "recv", "[1]");
    usleep(SETTLE_US);
    hx_write_all(peer, "AB", 2);
    struct hx_response r;
    cmd_finish(first, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "A");
    hx_response_free(&r);
    cmd_finish(second, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "B");
    hx_response_free(&r);

    /* A head that times out lets the next in line have the data. */
    first = cmd_start(&srv, id, "recv", "{\"n\":5,\"timeout\":0.3}");
    usleep(SETTLE_US);
    second = cmd_start(&srv, id, "recv", "{\"n\":5,\"timeout\":10}");
    cmd_finish(first, &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT: ");
    hx_response_free(&r);
    hx_write_all(peer, "Z", 1);
    cmd_finish(second, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "Z");
    hx_response_free(&r);

    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_cancelled_wait_loses_nothing(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64];
    int peer;
    connected_socket(&srv, id, &peer);

    int fd = cmd_start(&srv, id, "recv", "[100]");
    usleep(SETTLE_US);
    close(fd);
    usleep(200000);
    hx_write_all(peer, "xyz", 3);
    usleep(100000);
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "{\"n\":100,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "xyz");
    hx_response_free(&r);

    /* The cancelled wait no longer counts as pending. */
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending");
    assert_true(cJSON_IsNumber(pending));
    assert_int_equal((int)pending->valuedouble, 0);
    hx_response_free(&r);

    close(peer);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_recv_after_peer_closed(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], id2[64];
    int peer, peer2;
    connected_socket(&srv, id, &peer);

    /* Data sent before the close is still returned, then CLOSED. */
    hx_write_all(peer, "bye", 3);
    close(peer);
    usleep(50000);
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "bye");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    hx_response_free(&r);

    /* A recv already waiting learns of the close too. */
    connected_socket(&srv, id2, &peer2);
    int fd = cmd_start(&srv, id2, "recv", "[100]");
    usleep(SETTLE_US);
    close(peer2);
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    hx_response_free(&r);

    /* Closing the socket answers a wait on it CLOSED. */
    char id3[64];
    int peer3;
    connected_socket(&srv, id3, &peer3);
    fd = cmd_start(&srv, id3, "recv", "[100]");
    usleep(SETTLE_US);
    expect_cmd(&srv, id3, "close", NULL, "ok");
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    hx_response_free(&r);
    close(peer3);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_sigterm_answers_waits(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    char id[64], lid[64];
    int peer;
    connected_socket(&srv, id, &peer);
    listening_socket(&srv, lid);

    int fd = cmd_start(&srv, id, "recv", "[100]");
    int afd = cmd_start(&srv, lid, "accept", NULL);
    usleep(SETTLE_US);
    assert_int_equal(hx_stop(&srv), 0);

    struct hx_response r;
    cmd_finish(fd, &r);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    assert_non_null(strstr(hx_elem(&r, 1), "shutting down"));
    hx_response_free(&r);
    cmd_finish(afd, &r);
    hx_expect(&r, 200, "accept", "CLOSED: ");
    assert_non_null(strstr(hx_elem(&r, 1), "shutting down"));
    hx_response_free(&r);

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
    int peer;
    connected_socket(&srv, id, &peer);
    int fds[NWAITS];
    for (int i = 0; i < NWAITS; i++)
        fds[i] = cmd_start(&srv, id, "recv", "[1]");
    usleep(SETTLE_US);

    struct hx_response r;
    long long t0 = now_ms();
    hx_request(&srv, "GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(now_ms() - t0 < 2000);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(r.json, "status");
    assert_true(cJSON_IsString(status));
    assert_string_equal(status->valuestring, "ok");
    hx_response_free(&r);

    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending");
    assert_true(cJSON_IsNumber(pending));
    assert_int_equal((int)pending->valuedouble, NWAITS);
    hx_response_free(&r);

    /* One byte each, in the order the waits arrived. */
    hx_write_all(peer, "0123", NWAITS);
    char got[NWAITS + 1];
    for (int i = 0; i < NWAITS; i++) {
        cmd_finish(fds[i], &r);
        hx_expect(&r, 200, "recv", "ok");
        assert_int_equal(strlen(hx_elem(&r, 2)), 1);
        got[i] = hx_elem(&r, 2)[0];
        hx_response_free(&r);
    }
    got[NWAITS] = '\0';
    /* The requests were sent back to back, so the server may have taken them in any
     * order; every byte must have gone to exactly one of them. */
    for (int i = 0; i < NWAITS; i++)
        assert_non_null(memchr(got, '0' + i, NWAITS));
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
