/*
 * Connecting and listening at their edges: connect after a failed connect, connect to
 * a name with several addresses from a bound socket, and listen on a socket that was
 * never bound (which must not listen on every address without --allow-bind). Real
 * server, real loopback sockets only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cmd_util.h"

static struct hx_server srv;          /* defaults: bind to loopback only */
static struct hx_server open_srv;     /* --allow-bind */

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-wait", "5", NULL};
    hx_start(&srv, args);
    static const char *const open_args[] = {"--max-wait", "5", "--allow-bind", NULL};
    hx_start(&open_srv, open_args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cu_teardown(&open_srv);
    return cu_teardown(&srv);
}

/* The "state" of a socket in GET /sockets/<id>. */
static void expect_state(const struct hx_server *s, const char *id, const char *state)
{
    struct hx_response r;
    cu_reqf(s, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r.json, "state");
    assert_true(cJSON_IsString(st));
    if (strcmp(st->valuestring, state) != 0)
        fail_msg("%s: state %s, expected %s", id, st->valuestring, state);
    hx_response_free(&r);
}

/* A STREAM socket whose connect was refused can connect again, as in JMP: Linux
 * answers a second connect() on a failed non-blocking attempt with ECONNABORTED unless
 * the attempt is dissolved first. */
static void test_connect_again_after_refused(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        uint16_t port;
        int lfd = hx_tcp_listener(v, &port);
        unsigned closed = hx_free_port();
        char id[64];
        hx_socket(&srv, v ? "{\"family\":\"IPV6\"}" : NULL, id);
        const char *host = v ? "::1" : "127.0.0.1";
        struct hx_response r;
        cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":%u}", host, closed);
        cu_expect_err(&r, 200, "connect", "CONNREFUSED");
        hx_response_free(&r);
        expect_state(&srv, id, "new");
        cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":%u}", host, port);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        int peer = hx_accept(lfd);
        cu_ok(&srv, id, "send", "[\"again\"]");
        char got[5];
        hx_read_exact(peer, got, 5);
        assert_memory_equal(got, "again", 5);
        cu_ok(&srv, id, "close", NULL);
        close(peer);
        close(lfd);
    }
}

/* A bound socket that connects to a name tries every address of it, and keeps its
 * binding: "localhost" on an IPv6 socket is ::1 and then 127.0.0.1. */
static void test_bound_socket_tries_every_address(void **state)
{
    (void)state;
    /* Bound to ::ffff:127.0.0.1, ::1 fails at once (another family); 127.0.0.1 is
     * tried next, from the bound port. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    unsigned bport = hx_free_port();
    char id[64];
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    struct hx_response r;
    cu_cmdf(&srv, id, "bind", &r, "[\"::ffff:127.0.0.1\",%u]", bport);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":%u}", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    char addr[64];
    unsigned got_port;
    cu_name(&srv, id, false, addr, sizeof(addr), &got_port);
    assert_int_equal(got_port, bport);
    cu_ok(&srv, id, "close", NULL);
    close(peer);
    close(lfd);

    /* Bound to every address (--allow-bind), ::1 is refused only after connect() has
     * begun; 127.0.0.1 must still go out from the bound port, not a fresh socket's. */
    lfd = hx_tcp_listener(false, &port);
    bport = hx_free_port();
    hx_socket(&open_srv, "{\"family\":\"IPV6\"}", id);
    cu_cmdf(&open_srv, id, "bind", &r, "[\"*\",%u]", bport);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    cu_cmdf(&open_srv, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":%u}", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    peer = hx_accept(lfd);
    struct sockaddr_in from;
    socklen_t len = sizeof(from);
    assert_int_equal(getpeername(peer, (struct sockaddr *)&from, &len), 0);
    assert_int_equal(ntohs(from.sin_port), bport);
    cu_ok(&open_srv, id, "close", NULL);
    close(peer);
    close(lfd);

    /* A bound socket whose connect failed is still bound. */
    bport = hx_free_port();
    hx_socket(&srv, NULL, id);
    cu_cmdf(&srv, id, "bind", &r, "[\"127.0.0.1\",%u]", bport);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"127.0.0.1\",\"port\":%u}",
            hx_free_port());
    cu_expect_err(&r, 200, "connect", "CONNREFUSED");
    hx_response_free(&r);
    expect_state(&srv, id, "bound");
    cu_name(&srv, id, false, addr, sizeof(addr), &got_port);
    assert_int_equal(got_port, bport);
    cu_ok(&srv, id, "close", NULL);
}

/* listen() on a socket that was never bound makes Linux bind it to the wildcard, which
 * bind refuses without --allow-bind (SPEC section 7): it must listen on loopback. */
static void test_listen_without_bind_stays_on_loopback(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        char id[64], addr[64];
        unsigned port;
        hx_socket(&srv, v ? "{\"family\":\"IPV6\"}" : NULL, id);
        cu_ok(&srv, id, "listen", NULL);
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_string_equal(addr, v ? "::1" : "127.0.0.1");
        assert_true(port > 0);
        expect_state(&srv, id, "listening");
        /* It works: a loopback client is accepted. */
        int c = hx_tcp_connect(v, (uint16_t)port);
        struct hx_response r;
        hx_cmd(&srv, id, "acceptfast", NULL, &r);
        hx_expect(&r, 200, "acceptfast", "ok");
        hx_response_free(&r);
        close(c);
        cu_ok(&srv, id, "close", NULL);
    }
    /* With --allow-bind, it is the operating system's choice, as in JMP. */
    char id[64], addr[64];
    unsigned port;
    hx_socket(&open_srv, NULL, id);
    cu_ok(&open_srv, id, "listen", NULL);
    cu_name(&open_srv, id, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "0.0.0.0");
    cu_ok(&open_srv, id, "close", NULL);
}

/* Writes one HTTP request with Connection: close on an open connection to the server. */
static void write_request(int fd, const char *path, const char *body)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    hx_write_all(fd, req, (size_t)n);
}

/* A recv that runs while a connect is in progress must not take the connect's error
 * (SO_ERROR) from it: the connect then never learned it failed, epoll kept reporting
 * the dead socket's hang-up, and the loop spun until the connect's timeout, which it
 * answered TIMEDOUT instead of CONNREFUSED. The two requests arrive together so that
 * the server runs both in one turn, after the refusal came back. */
static void test_recv_does_not_steal_connect_error(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        char id[64];
        hx_socket(&srv, NULL, id);
        int a = hx_tcp_connect(false, srv.port), b = hx_tcp_connect(false, srv.port);
        usleep(100 * 1000); /* both connections accepted and idle */
        char path[128], body[96];
        snprintf(path, sizeof(path), "/sockets/%s/connect", id);
        snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%u}",
                 hx_free_port());
        long long start = hx_now_ms();
        write_request(a, path, body);
        snprintf(path, sizeof(path), "/sockets/%s/recv", id);
        write_request(b, path, "[10]");
        struct hx_response r;
        hx_read_response(a, 10000, &r);
        cu_expect_err(&r, 200, "connect", "CONNREFUSED");
        hx_response_free(&r);
        /* --max-wait is 5 s: a connect that spun until it ran out took that long. */
        assert_true(hx_now_ms() - start < 2000);
        hx_read_response(b, 10000, &r);
        cu_expect_err(&r, 200, "recv", "NOTCONN");
        hx_response_free(&r);
        close(a);
        close(b);
        cu_ok(&srv, id, "close", NULL);
    }
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&open_srv);
    cu_test_clean_exit(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_again_after_refused),
        cmocka_unit_test(test_bound_socket_tries_every_address),
        cmocka_unit_test(test_listen_without_bind_stays_on_loopback),
        cmocka_unit_test(test_recv_does_not_steal_connect_error),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("connect_listen", tests, group_setup, group_teardown);
}
