/*
 * SPEC §7 limits through the real server: sockets in total and per credential, request
 * body size, recv n, waits in progress, HTTP connections in total and per client address.
 * Each refusal is LIMIT with 413 or 429, and after each the server keeps serving everyone
 * else. Clients use 127.0.0.1 and, as a second client address, 127.0.0.2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"
#include "srv_util.h"
#include "sse.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void expect_socket_limit(const struct hx_server *s, const char *token)
{
    struct hx_response r;
    su_req_auth(s, "POST", "/sockets", token, NULL, NULL, &r);
    cu_expect_err(&r, 429, "socket", "LIMIT");
    hx_response_free(&r);
}

static void close_auth(const struct hx_server *s, const char *token, const char *id)
{
    struct hx_response r;
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s", id);
    su_req_auth(s, "DELETE", path, token, NULL, NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
}

/* A TCP connection to the server from the local address `from` (127.0.0.x). */
static int connect_from(const struct hx_server *s, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, from, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(s->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
    return fd;
}

/* Sends GET <path> on an open connection and reads the answer. */
static void get_on(int fd, const char *path, struct hx_response *r)
{
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    hx_write_all(fd, req, (size_t)n);
    hx_read_response(fd, 10000, r);
}

/* A GET from client address `from`, on a new connection. */
static void get_from(const struct hx_server *s, const char *from, const char *path,
                     struct hx_response *r)
{
    int fd = connect_from(s, from);
    get_on(fd, path, r);
    close(fd);
}

/* ---- sockets ---------------------------------------------------------------------- */

static void test_max_sockets(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-sockets", "3", NULL});
    char ids[3][64], extra[64];
    for (int i = 0; i < 3; i++)
        hx_socket(&srv, i == 1 ? "[\"DGRAM\"]" : NULL, ids[i]);
    expect_socket_limit(&srv, NULL);
    expect_socket_limit(&srv, NULL);
    /* The refused ones were not created, and the others still work. */
    struct hx_response r;
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "sockets")), 3);
    hx_response_free(&r);
    cu_ok(&srv, ids[0], "getsockname", NULL);
    cu_healthz(&srv);
    /* Closing one makes room for one. */
    close_auth(&srv, NULL, ids[2]);
    hx_socket(&srv, NULL, extra);
    expect_socket_limit(&srv, NULL);

    /* accept counts too: with the table full, an incoming connection is refused with
     * LIMIT and closed, and the listener keeps working. */
    cu_ok(&srv, ids[0], "bind", "[\"localhost\",0]");
    cu_ok(&srv, ids[0], "listen", NULL);
    char addr[64];
    unsigned lport;
    cu_name(&srv, ids[0], false, addr, sizeof(addr), &lport);
    int c1 = hx_tcp_connect(false, (uint16_t)lport);
    assert_true(c1 >= 0);
    hx_cmd(&srv, ids[0], "accept", "{\"timeout\":5}", &r);
    cu_expect_err(&r, 429, "accept", "LIMIT");
    hx_response_free(&r);
    char c;
    struct pollfd p = {.fd = c1, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(read(c1, &c, 1) <= 0); /* closed by the gateway */
    close(c1);
    close_auth(&srv, NULL, ids[1]);
    int c2 = hx_tcp_connect(false, (uint16_t)lport);
    hx_cmd(&srv, ids[0], "accept", "{\"timeout\":5}", &r);
    hx_expect(&r, 200, "accept", "ok");
    hx_response_free(&r);
    close(c2);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_max_sockets_per_token(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-sockets-per-token", "2", "--token", "a", "--token",
                                   "b", NULL});
    char a[2][64], b[2][64], more[64];
    su_socket_auth(&srv, "a", NULL, a[0]);
    su_socket_auth(&srv, "a", NULL, a[1]);
    expect_socket_limit(&srv, "a");
    /* Another credential has its own quota. */
    su_socket_auth(&srv, "b", NULL, b[0]);
    su_socket_auth(&srv, "b", NULL, b[1]);
    expect_socket_limit(&srv, "b");
    expect_socket_limit(&srv, "a");
    /* A freed slot is usable again by its own credential only. */
    close_auth(&srv, "a", a[1]);
    expect_socket_limit(&srv, "b");
    su_socket_auth(&srv, "a", NULL, more);
    expect_socket_limit(&srv, "a");
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_max_sockets_per_token_accept(void **state)
{
    (void)state;
    /* A listening socket must not be a way around the per-credential quota: accept
     * creates a socket for the credential too. */
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-sockets-per-token", "2", "--token", "a", "--token",
                                   "b", NULL});
    char l[64], other[64], path[128];
    struct hx_response r;
    su_socket_auth(&srv, "a", NULL, l);
    su_socket_auth(&srv, "a", NULL, other);
    snprintf(path, sizeof(path), "/sockets/%s/bind", l);
    su_req_auth(&srv, "POST", path, "a", NULL, "[\"localhost\",0]", &r);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/listen", l);
    su_req_auth(&srv, "POST", path, "a", NULL, NULL, &r);
    hx_expect(&r, 200, "listen", "ok");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/getsockname", l);
    su_req_auth(&srv, "POST", path, "a", NULL, NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    uint16_t lport = (uint16_t)atoi(hx_elem(&r, 3));
    hx_response_free(&r);

    int c1 = hx_tcp_connect(false, lport);
    assert_true(c1 >= 0);
    snprintf(path, sizeof(path), "/sockets/%s/accept", l);
    su_req_auth(&srv, "POST", path, "a", NULL, "{\"timeout\":5}", &r);
    cu_expect_err(&r, 429, "accept", "LIMIT");
    hx_response_free(&r);
    close(c1);
    su_req_auth(&srv, "GET", "/sockets", "a", NULL, NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "sockets")), 2);
    hx_response_free(&r);
    /* With room again, accept works. */
    close_auth(&srv, "a", other);
    int c2 = hx_tcp_connect(false, lport);
    su_req_auth(&srv, "POST", path, "a", NULL, "{\"timeout\":5}", &r);
    hx_expect(&r, 200, "accept", "ok");
    hx_response_free(&r);
    close(c2);
    su_socket_auth(&srv, "b", NULL, other);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- request sizes ---------------------------------------------------------------- */

static void test_max_body(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-body", "100", NULL});
    char id[64];
    uint16_t uport;
    int ufd = hx_udp_socket(false, &uport);
    hx_socket(&srv, "[\"DGRAM\"]", id);

    /* Exactly 100 bytes: accepted and run. */
    char body[200], dgram[128];
    int prefix = snprintf(body, sizeof(body), "[\"127.0.0.1\",%u,\"", (unsigned)uport);
    size_t fill = 100 - (size_t)prefix - 2;
    memset(dgram, 'x', fill);
    dgram[fill] = '\0';
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u,\"%s\"]", (unsigned)uport, dgram);
    assert_int_equal(strlen(body), 100);
    struct hx_response r;
    hx_cmd(&srv, id, "sendto", body, &r);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char got[128];
    hx_read_exact(ufd, got, fill);

    /* 101 bytes: 413 LIMIT, and nothing is sent. */
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u,\"%sy\"]", (unsigned)uport, dgram);
    assert_int_equal(strlen(body), 101);
    hx_cmd(&srv, id, "sendto", body, &r);
    cu_expect_err(&r, 413, "sendto", "LIMIT");
    hx_response_free(&r);
    struct pollfd p = {.fd = ufd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 200), 0);

    /* A large body (1 MiB) too, on any endpoint, and the server goes on. */
    size_t big = 1u << 20;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[big] = '\0';
    hx_request(&srv, "POST", "/sockets", huge, &r);
    cu_expect_err(&r, 413, "socket", "LIMIT");
    hx_response_free(&r);
    free(huge);
    cu_healthz(&srv);
    cu_ok(&srv, id, "getsockname", NULL);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_max_recv(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-recv", "10", NULL});
    struct sse_stream es;
    sse_open(&es, srv.port, NULL);
    char id[64], path[160];
    int peer = su_connect_pair(&srv, NULL, id);
    hx_write_all(peer, "0123456789abcdefghij", 20);
    cu_wait_fionread(&srv, id, 20);

    /* n beyond the limit, in every form: 413 LIMIT, no data taken, no event started. */
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "[11]", &r);
    cu_expect_err(&r, 413, "recv", "LIMIT");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "{\"n\":\"1000000\"}", &r);
    cu_expect_err(&r, 413, "recv", "LIMIT");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=11", id);
    hx_request(&srv, "POST", path, NULL, &r);
    cu_expect_err(&r, 413, "recv", "LIMIT");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "{\"n\":11,\"callback\":\"onBig\"}", &r);
    cu_expect_err(&r, 413, "recv", "LIMIT");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recvfrom", "[11]", &r);
    cu_expect_err(&r, 413, "recvfrom", "LIMIT");
    hx_response_free(&r);
    sse_expect_quiet(&es, 300);
    cu_wait_fionread(&srv, id, 20);

    /* n at the limit: served, 10 bytes at a time. */
    hx_cmd(&srv, id, "recv", "[10]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "0123456789");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "{\"n\":10}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "abcdefghij");
    hx_response_free(&r);
    sse_close(&es);
    close(peer);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- waits ------------------------------------------------------------------------ */

static void test_max_waits(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-waits", "2", NULL});
    char a[64], b[64], c[64], path[160];
    int pa = su_connect_pair(&srv, NULL, a);
    int pb = su_connect_pair(&srv, NULL, b);
    int pc = su_connect_pair(&srv, NULL, c);

    /* Two blocking recvs wait... */
    snprintf(path, sizeof(path), "/sockets/%s/recv", a);
    int wa = hx_send_only(&srv, "POST", path, "{\"n\":10,\"timeout\":20}");
    snprintf(path, sizeof(path), "/sockets/%s/recv", b);
    int wb = hx_send_only(&srv, "POST", path, "{\"n\":10,\"timeout\":20}");
    /* ...which the metrics show (bounded poll). */
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        struct hx_response m;
        hx_request(&srv, "GET", "/metrics", NULL, &m);
        seen = strstr(m.body, "sockgate_waits 2") != NULL ||
               strstr(m.body, "waits_in_progress 2") != NULL;
        hx_response_free(&m);
        if (!seen)
            usleep(10000);
    }
    if (!seen)
        usleep(300000); /* the metric has another name: give the waits time to start */

    /* ...so a third, blocking or background, is refused with 429 LIMIT. */
    struct hx_response r;
    hx_cmd(&srv, c, "recv", "{\"n\":10,\"timeout\":20}", &r);
    cu_expect_err(&r, 429, "recv", "LIMIT");
    hx_response_free(&r);
    hx_cmd(&srv, c, "recv", "{\"n\":10,\"callback\":\"onC\"}", &r);
    cu_expect_err(&r, 429, "recv", "LIMIT");
    hx_response_free(&r);
    hx_cmd(&srv, c, "send", "[\"x\"]", &r);
    cu_expect_err(&r, 429, "send", "LIMIT");
    hx_response_free(&r);
    /* Commands that do not wait are still served, and so is everyone else. */
    cu_ok(&srv, c, "getsockname", NULL);
    cu_healthz(&srv);

    /* The waits complete normally... */
    hx_write_all(pa, "to-a", 4);
    hx_write_all(pb, "to-b", 4);
    hx_read_response(wa, 10000, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "to-a");
    hx_response_free(&r);
    hx_read_response(wb, 10000, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "to-b");
    hx_response_free(&r);
    close(wa);
    close(wb);
    /* ...and free their places. */
    hx_write_all(pc, "to-c", 4);
    hx_cmd(&srv, c, "recv", "{\"n\":10,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "to-c");
    hx_response_free(&r);
    close(pa);
    close(pb);
    close(pc);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- HTTP connections ------------------------------------------------------------- */

/* Opens n idle connections from `from` and gives the server time to accept them. */
static void hold_connections(const struct hx_server *s, const char *from, int *fds, int n)
{
    for (int i = 0; i < n; i++)
        fds[i] = connect_from(s, from);
    usleep(300000);
}

static void test_max_connections_per_ip(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-connections-per-ip", "3", NULL});
    int held[3];
    hold_connections(&srv, "127.0.0.1", held, 3);
    struct hx_response r;

    /* A fourth connection from the same address: 429 LIMIT, more than once. */
    for (int i = 0; i < 3; i++) {
        get_from(&srv, "127.0.0.1", "/healthz", &r);
        su_expect_refused(&r, 429, "LIMIT");
        hx_response_free(&r);
    }
    /* Another client address is served meanwhile... */
    get_from(&srv, "127.0.0.2", "/healthz", &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    get_from(&srv, "127.0.0.2", "/sockets", &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    /* ...and so are the connections that were there first. */
    get_on(held[0], "/healthz", &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    close(held[0]);
    get_on(held[1], "/sockets", &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    close(held[1]);
    close(held[2]);
    /* Once they are gone, the address is served again (bounded retry while the server
     * notices the closes). */
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        get_from(&srv, "127.0.0.1", "/healthz", &r);
        status = r.status;
        hx_response_free(&r);
        if (status != 200)
            usleep(20000);
    }
    assert_int_equal(status, 200);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_max_connections(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-connections", "3", NULL});
    int held[3];
    hold_connections(&srv, "127.0.0.1", held, 2);
    hold_connections(&srv, "127.0.0.2", held + 2, 1);
    struct hx_response r;
    /* The total is reached: every address is refused with 429 LIMIT... */
    get_from(&srv, "127.0.0.1", "/healthz", &r);
    su_expect_refused(&r, 429, "LIMIT");
    hx_response_free(&r);
    get_from(&srv, "127.0.0.3", "/healthz", &r);
    su_expect_refused(&r, 429, "LIMIT");
    hx_response_free(&r);
    /* ...while the connections already open are served. */
    for (int i = 0; i < 3; i++) {
        get_on(held[i], "/healthz", &r);
        assert_int_equal(r.status, 200);
        hx_response_free(&r);
        close(held[i]);
    }
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        get_from(&srv, "127.0.0.3", "/healthz", &r);
        status = r.status;
        hx_response_free(&r);
        if (status != 200)
            usleep(20000);
    }
    assert_int_equal(status, 200);
    assert_int_equal(cu_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_max_sockets, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_sockets_per_token, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_sockets_per_token_accept, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_body, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_recv, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_waits, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_connections_per_ip, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_connections, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
