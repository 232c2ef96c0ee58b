/*
 * Faults from the network, through the real server: a peer that resets or half-closes a
 * connection while a recv waits, HTTP clients that vanish mid-wait while their peers keep
 * sending, SIGTERM with 200 waits in flight, and a process at its open-file limit. Every
 * peer is a real loopback socket; every wait is bounded, and progress is observed
 * (pending counts, answers), never timed.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"

/* The "pending" count of GET /sockets/<id>. */
static int pending_of(const struct hx_server *s, const char *id)
{
    struct hx_response r;
    cu_reqf(s, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending");
    assert_true(cJSON_IsNumber(pending));
    int n = (int)pending->valuedouble;
    hx_response_free(&r);
    return n;
}

/* Waits (bounded: 5 s) until the socket has `want` operations pending. */
static void wait_pending(const struct hx_server *s, const char *id, int want)
{
    for (int i = 0; i < 500; i++) {
        if (pending_of(s, id) == want)
            return;
        usleep(10000);
    }
    fail_msg("%s never had %d operations pending", id, want);
}

/* The server's sockgate_waits metric: operations in progress. */
static long waits_of(const struct hx_server *s)
{
    struct hx_response r;
    hx_request(s, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    const char *p = strstr(r.body, "\nsockgate_waits ");
    long n = p ? strtol(p + 16, NULL, 10) : -1;
    hx_response_free(&r);
    return n;
}

/* Closes with a reset (SO_LINGER 0), as a crashed process's socket does. */
static void reset_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static int start_recv(const struct hx_server *s, const char *id, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    return hx_send_only(s, "POST", path, body);
}

/* A peer that resets the connection while a recv waits: the recv answers CONNRESET, the
 * next one too (or CLOSED), and the server goes on serving. */
static void test_peer_reset_mid_recv(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    int waiting = start_recv(&srv, id, "[100]");
    wait_pending(&srv, id, 1);
    reset_close(peer);
    struct hx_response r;
    hx_read_response(waiting, 5000, &r);
    close(waiting);
    cu_expect_err(&r, 200, "recv", "CONNRESET");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "{\"n\":100,\"timeout\":1}", &r);
    assert_int_equal(r.status, 200);
    assert_true(strcmp(hx_elem(&r, 1), "ok") != 0);
    hx_response_free(&r);
    cu_ok(&srv, id, "close", NULL);
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

/* A peer that half-closes (shutdown for writing) after its last words: the recv gets
 * them, the next recv answers CLOSED, and the gateway can still send its answer, which
 * the peer reads to the end. */
static void test_peer_half_close(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    int waiting = start_recv(&srv, id, "[100]");
    wait_pending(&srv, id, 1);
    hx_write_all(peer, "bye", 3);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    struct hx_response r;
    hx_read_response(waiting, 5000, &r);
    close(waiting);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "bye");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[100]", &r);
    cu_expect_err(&r, 200, "recv", "CLOSED");
    hx_response_free(&r);
    hx_cmd(&srv, id, "send", "[\"answer\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    char buf[8];
    hx_read_exact(peer, buf, 6);
    assert_memory_equal(buf, "answer", 6);
    cu_ok(&srv, id, "close", NULL);
    assert_int_equal(read(peer, buf, 1), 0); /* then the end of the stream */
    close(peer);
    assert_int_equal(cu_stop(&srv), 0);
}

/* Clients that vanish mid-wait (some with a reset, some with a plain close) while their
 * peer keeps sending: their waits are withdrawn, no byte is read for them, and a recv
 * afterwards gets every byte the peer sent, in order. */
static void test_clients_gone_mid_wait_lose_nothing(void **state)
{
    (void)state;
    enum { CLIENTS = 40 };
    struct hx_server srv;
    su_start(&srv, NULL);
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = start_recv(&srv, id, "[1000]");
    wait_pending(&srv, id, CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        if (i % 2)
            reset_close(fds[i]);
        else
            close(fds[i]);
    }
    wait_pending(&srv, id, 0);
    char sent[64];
    int n = snprintf(sent, sizeof(sent), "every byte arrives");
    hx_write_all(peer, sent, (size_t)n);
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "{\"n\":1000,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), sent);
    hx_response_free(&r);
    assert_int_equal(waits_of(&srv), 0);
    close(peer);
    assert_int_equal(cu_stop(&srv), 0);
}

/* The peer's bytes and the client's leaving reach the gateway in the same turn, bytes
 * first (the gateway is stopped while both happen, so that epoll hands over both at
 * once): the recv reads them, but its client has gone, so they must go back to the
 * socket rather than into a closed connection, where the write would still succeed and
 * the bytes be lost. Found by make soak's vanishing clients. */
static void test_client_gone_as_data_arrives_loses_nothing(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    for (int round = 0; round < 3; round++) {
        int waiting = start_recv(&srv, id, "[100]");
        wait_pending(&srv, id, 1);
        assert_int_equal(kill(srv.pid, SIGSTOP), 0);
        hx_write_all(peer, "precious", 8);
        usleep(20000);
        close(waiting); /* a plain close: FIN, no reset */
        usleep(20000);
        assert_int_equal(kill(srv.pid, SIGCONT), 0);
        wait_pending(&srv, id, 0);
        struct hx_response r;
        hx_cmd(&srv, id, "recv", "{\"n\":100,\"timeout\":2}", &r);
        if (r.status != 200 || !hx_elem(&r, 1) || strcmp(hx_elem(&r, 1), "ok") != 0)
            fail_msg("round %d: the bytes read for a client that had gone were lost: %s", round,
                     r.body);
        assert_string_equal(hx_elem(&r, 2), "precious");
        hx_response_free(&r);
    }
    close(peer);
    assert_int_equal(cu_stop(&srv), 0);
}

/* SIGTERM with 200 recvs waiting, on 100 sockets: every one is answered CLOSED (the server
 * is shutting down) and the server exits 0. */
static void test_sigterm_under_200_waits(void **state)
{
    (void)state;
    enum { SOCKETS = 100, WAITS = 200 };
    struct hx_server srv;
    su_start(&srv, NULL);
    static char ids[SOCKETS][64];
    static int peers[SOCKETS], fds[WAITS];
    for (int i = 0; i < SOCKETS; i++)
        cu_connected_pair(&srv, false, ids[i], &peers[i]);
    for (int i = 0; i < WAITS; i++)
        fds[i] = start_recv(&srv, ids[i % SOCKETS], "[100]");
    for (int i = 0; i < 500 && waits_of(&srv) < WAITS; i++)
        usleep(10000);
    assert_int_equal(waits_of(&srv), WAITS);
    assert_int_equal(hx_stop(&srv), 0);
    for (int i = 0; i < WAITS; i++) {
        struct hx_response r;
        hx_read_response(fds[i], 5000, &r);
        close(fds[i]);
        cu_expect_err(&r, 200, "recv", "CLOSED");
        if (!strstr(hx_elem(&r, 1), "shutting down"))
            fail_msg("wait %d: %s", i, r.body);
        hx_response_free(&r);
    }
    for (int i = 0; i < SOCKETS; i++)
        close(peers[i]);
    assert_int_equal(cu_log_clean(&srv), 0);
}

/* A process at its open-file limit: socket creation answers 429 LIMIT before the
 * descriptors run out, and what is reserved keeps working: /healthz, new HTTP connections,
 * waits on existing sockets, their data, and accept on a listening socket (LIMIT, the
 * connection closed). It used to answer 200 MFILE and then stop accepting HTTP at all. */
static void test_open_file_limit_answers_429_and_keeps_serving(void **state)
{
    (void)state;
    enum { NOFILE = 256, MAX_TRY = 400, WAITERS = 20 };
    struct hx_server srv;
    su_start_nofile(&srv, NULL, NOFILE);
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    static char ids[MAX_TRY][64];
    int n = 0;
    struct hx_response r;
    for (; n < MAX_TRY; n++) {
        hx_request(&srv, "POST", "/sockets", NULL, &r);
        if (r.status != 201)
            break;
        snprintf(ids[n], sizeof(ids[n]), "%s", hx_elem(&r, 2));
        hx_response_free(&r);
    }
    /* The first refusal is the limit, not the system's error. */
    if (r.status != 429)
        fail_msg("after %d sockets: expected 429 LIMIT, got %d %s", n, r.status, r.body);
    su_expect_refused(&r, 429, "LIMIT");
    hx_response_free(&r);
    assert_true(n >= 32 && n < NOFILE);

    /* Existing sockets work: connect two, with a peer each. */
    int peers[2];
    for (int i = 0; i < 2; i++) {
        cu_cmdf(&srv, ids[i], "connect", &r, "[\"127.0.0.1\",%u]", port);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        peers[i] = hx_accept(lfd);
    }
    /* HTTP keeps its share: WAITERS waits at once on new connections, and /healthz. */
    int fds[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        fds[i] = start_recv(&srv, ids[0], "[1]");
    for (int i = 0; i < 500 && pending_of(&srv, ids[0]) < WAITERS; i++)
        usleep(10000);
    assert_int_equal(pending_of(&srv, ids[0]), WAITERS);
    cu_healthz(&srv);
    char data[WAITERS];
    memset(data, 'z', sizeof(data));
    hx_write_all(peers[0], data, sizeof(data));
    for (int i = 0; i < WAITERS; i++) {
        hx_read_response(fds[i], 5000, &r);
        close(fds[i]);
        hx_expect(&r, 200, "recv", "ok");
        assert_string_equal(hx_elem(&r, 2), "z");
        hx_response_free(&r);
    }
    /* A listening socket at the limit: the connection is answered LIMIT and closed. */
    cu_ok(&srv, ids[2], "bind", "[\"127.0.0.1\",0]");
    cu_ok(&srv, ids[2], "listen", NULL);
    char addr[64];
    unsigned lport;
    cu_name(&srv, ids[2], false, addr, sizeof(addr), &lport);
    int c = hx_tcp_connect(false, (uint16_t)lport);
    assert_true(c >= 0);
    hx_cmd(&srv, ids[2], "accept", "{\"timeout\":5}", &r);
    cu_expect_err(&r, 429, "accept", "LIMIT");
    hx_response_free(&r);
    char byte;
    struct pollfd p = {.fd = c, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(read(c, &byte, 1) <= 0); /* closed by the gateway */
    close(c);
    /* Closing one makes room for one. */
    cu_ok(&srv, ids[n - 1], "close", NULL);
    char again[64];
    hx_socket(&srv, NULL, again);
    cu_healthz(&srv);
    close(peers[0]);
    close(peers[1]);
    close(lfd);
    assert_int_equal(cu_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_peer_reset_mid_recv, su_stop_leftovers),
        cmocka_unit_test_teardown(test_peer_half_close, su_stop_leftovers),
        cmocka_unit_test_teardown(test_clients_gone_mid_wait_lose_nothing, su_stop_leftovers),
        cmocka_unit_test_teardown(test_client_gone_as_data_arrives_loses_nothing,
                                  su_stop_leftovers),
        cmocka_unit_test_teardown(test_sigterm_under_200_waits, su_stop_leftovers),
        cmocka_unit_test_teardown(test_open_file_limit_answers_429_and_keeps_serving,
                                  su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
