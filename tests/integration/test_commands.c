/*
 * SPEC §2 and §3 on STREAM sockets, IPv4 and IPv6, through the real server: creating and
 * listing sockets, bind, listen, accept/acceptfast with a real client, connect by name and
 * by literal, send/recv against a real peer, the name commands, ioctl and close.
 * Argument forms and encodings are in test_commands_args.c, datagrams in
 * test_commands_dgram.c.
 *
 * No accept (with its reverse lookup) is made from ::1: /etc/hosts here has no ::1 line,
 * so that lookup would go to the configured name server, which is not on loopback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"

CU_SERVER_GROUP(srv)

/* The local port of a plain fd. */
static unsigned fd_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* GET /sockets/<id> as a parsed object (caller frees the response). */
static const cJSON *get_info(const char *id, struct hx_response *r)
{
    cu_reqf(&srv, "GET", NULL, r, "/sockets/%s", id);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->headers, "Content-Type: application/json"));
    assert_true(cJSON_IsObject(r->json));
    return r->json;
}

static const char *info_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        fail_msg("field %s missing or not a string", key);
    return v->valuestring;
}

/* Sends text through the gateway socket and checks the peer gets it. */
static void send_and_check(const char *id, int peer, const char *encoded, const char *raw)
{
    struct hx_response r;
    cu_cmdf(&srv, id, "send", &r, "[\"%s\"]", encoded);
    hx_expect(&r, 200, "send", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    char got[256];
    size_t n = strlen(raw);
    assert_true(n < sizeof(got));
    hx_read_exact(peer, got, n);
    assert_memory_equal(got, raw, n);
}

/* The peer writes raw; recv through the gateway answers it encoded. */
static void recv_and_check(const char *id, int peer, const char *raw, const char *encoded)
{
    hx_write_all(peer, raw, strlen(raw));
    cu_wait_fionread(&srv, id, (unsigned)strlen(raw));
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "[1000]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), encoded);
    hx_response_free(&r);
}

static void test_create_forms_and_listing(void **state)
{
    (void)state;
    static const struct {
        const char *path, *body, *type, *family;
    } forms[] = {
        {"/sockets", NULL, "STREAM", "IPV4"},
        {"/sockets", "{\"type\":\"DGRAM\",\"family\":\"IPV6\"}", "DGRAM", "IPV6"},
        {"/sockets", "{\"type\":\"STREAM\",\"family\":\"IPV6\"}", "STREAM", "IPV6"},
        {"/sockets", "{\"family\":\"IPV4\"}", "STREAM", "IPV4"},
        {"/sockets", "[\"DGRAM\"]", "DGRAM", "IPV4"},
        {"/sockets", "[\"stream\",\"ipv6\"]", "STREAM", "IPV6"},
        {"/sockets?type=DGRAM", NULL, "DGRAM", "IPV4"},
        {"/sockets?type=DGRAM&family=IPV6", NULL, "DGRAM", "IPV6"},
        {"/sockets", "{}", "STREAM", "IPV4"},
    };
    enum { NFORMS = sizeof(forms) / sizeof(forms[0]) };
    char ids[NFORMS][64];
    for (size_t i = 0; i < NFORMS; i++) {
        struct hx_response r;
        hx_request(&srv, "POST", forms[i].path, forms[i].body, &r);
        hx_expect(&r, 201, "socket", "ok");
        assert_int_equal(hx_len(&r), 3);
        snprintf(ids[i], sizeof(ids[i]), "%s", hx_elem(&r, 2));
        assert_true(ids[i][0] != '\0' && strlen(ids[i]) < 32);
        char loc[128], want[160];
        assert_true(cu_header(&r, "Location", loc, sizeof(loc)));
        snprintf(want, sizeof(want), "/sockets/%.63s", ids[i]);
        assert_string_equal(loc, want);
        hx_response_free(&r);

        const cJSON *o = get_info(ids[i], &r);
        assert_string_equal(info_str(o, "id"), ids[i]);
        assert_string_equal(info_str(o, "type"), forms[i].type);
        assert_string_equal(info_str(o, "family"), forms[i].family);
        assert_string_equal(info_str(o, "state"), "new");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "blocking")));
        info_str(o, "local_address");
        info_str(o, "local_port");
        info_str(o, "peer_address");
        info_str(o, "peer_port");
        info_str(o, "created");
        info_str(o, "last_used");
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "bytes_in")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "bytes_out")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "pending")));
        hx_response_free(&r);
    }
    for (size_t i = 0; i < NFORMS; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);

    /* GET /sockets lists every one of them, in creation order. */
    struct hx_response r;
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r.json, "sockets");
    assert_true(cJSON_IsArray(arr));
    size_t found = 0;
    int last = -1;
    for (size_t i = 0; i < NFORMS; i++) {
        int idx = 0;
        for (const cJSON *it = arr->child; it; it = it->next, idx++) {
            if (strcmp(info_str(it, "id"), ids[i]) == 0) {
                assert_string_equal(info_str(it, "type"), forms[i].type);
                assert_true(idx > last);
                last = idx;
                found++;
            }
        }
    }
    assert_int_equal(found, NFORMS);
    hx_response_free(&r);

    /* DELETE closes, as close does; the id is then gone. */
    for (size_t i = 0; i < NFORMS; i++) {
        cu_reqf(&srv, "DELETE", NULL, &r, "/sockets/%s", ids[i]);
        hx_expect(&r, 200, "close", "ok");
        assert_int_equal(hx_len(&r), 2);
        hx_response_free(&r);
        cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s", ids[i]);
        cu_expect_err(&r, 404, "socket", "NOTSOCK");
        hx_response_free(&r);
    }
    cu_healthz(&srv);
}

/* bind, listen, accept (or acceptfast), then talk both ways with a real client. */
static void server_side(bool v6, bool fast, const char *bind_host)
{
    char lid[64], addr[64];
    unsigned port;
    hx_socket(&srv, v6 ? "{\"family\":\"IPV6\"}" : NULL, lid);
    struct hx_response r;
    cu_cmdf(&srv, lid, "bind", &r, "[\"%s\",0]", bind_host);
    hx_expect(&r, 200, "bind", "ok");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    cu_name(&srv, lid, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, v6 ? "::1" : "127.0.0.1");
    assert_true(port > 0);

    /* getsockname also answers GET, with the same result. */
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/getsockname", lid);
    hx_expect(&r, 200, "getsockname", "ok");
    assert_string_equal(hx_elem(&r, 2), addr);
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    assert_string_equal(hx_elem(&r, 3), portstr);
    hx_response_free(&r);

    cu_ok(&srv, lid, "listen", NULL);
    const cJSON *o = get_info(lid, &r);
    assert_string_equal(info_str(o, "state"), "listening");
    assert_string_equal(info_str(o, "local_port"), portstr);
    hx_response_free(&r);

    int client = hx_tcp_connect(v6, (uint16_t)port);
    assert_true(client >= 0);
    const char *cmd = fast ? "acceptfast" : "accept";
    hx_cmd(&srv, lid, cmd, "{\"timeout\":3}", &r);
    hx_expect(&r, 200, cmd, "ok");
    assert_int_equal(hx_len(&r), 4);
    if (fast)
        assert_string_equal(hx_elem(&r, 2), "");
    else
        assert_string_equal(hx_elem(&r, 2), "localhost"); /* 127.0.0.1 in /etc/hosts */
    char cid[64];
    snprintf(cid, sizeof(cid), "%s", hx_elem(&r, 3));
    assert_string_not_equal(cid, lid);
    hx_response_free(&r);

    /* The accepted socket knows its peer: the client's own address and port. */
    cu_name(&srv, cid, true, addr, sizeof(addr), &port);
    assert_string_equal(addr, v6 ? "::1" : "127.0.0.1");
    assert_int_equal(port, fd_port(client));
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/getpeername", cid);
    hx_expect(&r, 200, "getpeername", "ok");
    assert_string_equal(hx_elem(&r, 2), addr);
    hx_response_free(&r);
    o = get_info(cid, &r);
    assert_string_equal(info_str(o, "state"), "connected");
    assert_string_equal(info_str(o, "peer_address"), addr);
    hx_response_free(&r);

    recv_and_check(cid, client, "hello\r\n", "hello~0D~0A");
    send_and_check(cid, client, "world~0a", "world\n");
    o = get_info(cid, &r);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "bytes_in")->valuedouble, 7);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "bytes_out")->valuedouble, 6);
    hx_response_free(&r);

    cu_ok(&srv, cid, "close", NULL);
    cu_ok(&srv, lid, "close", NULL);
    /* The client sees the end of the stream. */
    char c;
    assert_int_equal(read(client, &c, 1), 0);
    close(client);
}

static void test_stream_v4_accept(void **state)
{
    (void)state;
    server_side(false, false, "localhost");
    server_side(false, false, "127.0.0.1");
    cu_healthz(&srv);
}

static void test_stream_v4_acceptfast(void **state)
{
    (void)state;
    server_side(false, true, "localhost");
    cu_healthz(&srv);
}

static void test_stream_v6_acceptfast(void **state)
{
    (void)state;
    server_side(true, true, "localhost");
    server_side(true, true, "::1");
    cu_healthz(&srv);
}

/* An accept that has to wait: the client connects while it waits. */
static void test_accept_waits_for_client(void **state)
{
    (void)state;
    char lid[64], addr[64];
    unsigned port;
    hx_socket(&srv, NULL, lid);
    cu_ok(&srv, lid, "bind", "[\"localhost\",0]");
    cu_ok(&srv, lid, "listen", "[5]");
    cu_name(&srv, lid, false, addr, sizeof(addr), &port);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/acceptfast", lid);
    int hfd = hx_send_only(&srv, "POST", path, "{\"timeout\":4}");
    usleep(100000);
    int client = hx_tcp_connect(false, (uint16_t)port);
    assert_true(client >= 0);
    struct hx_response r;
    hx_read_response(hfd, 5000, &r);
    close(hfd);
    hx_expect(&r, 200, "acceptfast", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    char cid[64];
    snprintf(cid, sizeof(cid), "%s", hx_elem(&r, 3));
    hx_response_free(&r);
    recv_and_check(cid, client, "x", "x");
    cu_ok(&srv, cid, "close", NULL);
    cu_ok(&srv, lid, "close", NULL);
    close(client);
}

/* connect to a real listener; the listener sees the gateway's socket as its peer. */
static void connect_to(bool v6_socket, bool v6_listener, const char *name)
{
    uint16_t port;
    int lfd = hx_tcp_listener(v6_listener, &port);
    char id[64], addr[64];
    unsigned p;
    hx_socket(&srv, v6_socket ? "[\"STREAM\",\"IPV6\"]" : NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":%u}", name, port);
    hx_expect(&r, 200, "connect", "ok");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    cu_name(&srv, id, true, addr, sizeof(addr), &p);
    assert_int_equal(p, port);
    if (v6_socket && !v6_listener)
        assert_string_equal(addr, "::ffff:127.0.0.1");
    else
        assert_string_equal(addr, v6_listener ? "::1" : "127.0.0.1");
    cu_name(&srv, id, false, addr, sizeof(addr), &p);
    /* The listener's peer is the gateway socket's own name. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getpeername(peer, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(p, ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port));
    send_and_check(id, peer, "ping", "ping");
    recv_and_check(id, peer, "pong", "pong");
    cu_ok(&srv, id, "close", NULL);
    close(peer);
    close(lfd);
}

static void test_connect_by_name_and_literal(void **state)
{
    (void)state;
    connect_to(false, false, "localhost");
    connect_to(false, false, "127.0.0.1");
    connect_to(false, false, "LocalHost");
    connect_to(true, true, "::1");
    /* /etc/hosts gives localhost as 127.0.0.1 only: an IPv6 socket reaches it v4-mapped. */
    connect_to(true, false, "localhost");
    connect_to(true, false, "127.0.0.1");
    cu_healthz(&srv);
}

/* A blocking recv waits for the peer; then it answers what arrived (up to n). */
static void test_recv_waits_then_answers(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    int hfd = hx_send_only(&srv, "POST", path, "[3]");
    usleep(100000);
    hx_write_all(peer, "abcdef", 6);
    hx_read_response(hfd, 5000, &r);
    close(hfd);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "abc");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "def");
    hx_response_free(&r);
    cu_ok(&srv, id, "close", NULL);
    close(peer);
    close(lfd);
}

static void test_ioctl(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"localhost\",\"%u\"]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);

    /* FIONBIO 1: recv answers WOULDBLOCK at once, and the listing says non-blocking. */
    hx_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", &r);
    hx_expect(&r, 200, "ioctl", "ok");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    long long t0 = hx_now_ms();
    hx_cmd(&srv, id, "recv", "[10]", &r);
    cu_expect_err(&r, 200, "recv", "WOULDBLOCK");
    hx_response_free(&r);
    assert_true(hx_now_ms() - t0 < 1000);
    const cJSON *o = get_info(id, &r);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "blocking")));
    hx_response_free(&r);

    /* FIONREAD in every form: nothing waiting yet. */
    static const char *const post_forms[] = {"[\"FIONREAD\"]", "{\"FIONREAD\":true}",
                                             "[\"fionread\"]"};
    for (size_t i = 0; i < sizeof(post_forms) / sizeof(post_forms[0]); i++) {
        hx_cmd(&srv, id, "ioctl", post_forms[i], &r);
        hx_expect(&r, 200, "ioctl", "ok");
        assert_int_equal(hx_len(&r), 3);
        assert_string_equal(hx_elem(&r, 2), "0");
        hx_response_free(&r);
    }
    hx_write_all(peer, "12345", 5);
    cu_wait_fionread(&srv, id, 5);
    for (size_t i = 0; i < sizeof(post_forms) / sizeof(post_forms[0]); i++) {
        hx_cmd(&srv, id, "ioctl", post_forms[i], &r);
        hx_expect(&r, 200, "ioctl", "ok");
        assert_string_equal(hx_elem(&r, 2), "5");
        hx_response_free(&r);
    }
    static const char *const get_paths[] = {"ioctl", "ioctl?FIONREAD", "ioctl?FIONREAD=true",
                                            "IOCTL"};
    for (size_t i = 0; i < sizeof(get_paths) / sizeof(get_paths[0]); i++) {
        cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/%s", id, get_paths[i]);
        hx_expect(&r, 200, "ioctl", "ok");
        assert_int_equal(hx_len(&r), 3);
        assert_string_equal(hx_elem(&r, 2), "5");
        hx_response_free(&r);
    }
    /* POST with a query parameter, too. */
    cu_reqf(&srv, "POST", NULL, &r, "/sockets/%s/ioctl?FIONREAD=1", id);
    hx_expect(&r, 200, "ioctl", "ok");
    assert_string_equal(hx_elem(&r, 2), "5");
    hx_response_free(&r);

    /* Non-blocking recv with data waiting answers the data; then WOULDBLOCK again. */
    hx_cmd(&srv, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "12345");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "{\"n\":100}", &r);
    cu_expect_err(&r, 200, "recv", "WOULDBLOCK");
    hx_response_free(&r);

    /* Named FIONBIO 0 makes it blocking again: recv waits (here until its timeout). */
    cu_ok(&srv, id, "ioctl", "{\"FIONBIO\":0}");
    o = get_info(id, &r);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "blocking")));
    hx_response_free(&r);
    t0 = hx_now_ms();
    hx_cmd(&srv, id, "recv", "{\"n\":10,\"timeout\":0.3}", &r);
    cu_expect_err(&r, 200, "recv", "TIMEDOUT");
    hx_response_free(&r);
    assert_true(hx_now_ms() - t0 >= 250);
    /* Query form of FIONBIO. */
    cu_reqf(&srv, "POST", NULL, &r, "/sockets/%s/ioctl?FIONBIO=1", id);
    hx_expect(&r, 200, "ioctl", "ok");
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[10]", &r);
    cu_expect_err(&r, 200, "recv", "WOULDBLOCK");
    hx_response_free(&r);

    cu_ok(&srv, id, "close", NULL);
    close(peer);
    close(lfd);
    cu_healthz(&srv);
}

static void test_close(void **state)
{
    (void)state;
    char id[64];
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    hx_cmd(&srv, id, "close", NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    /* The socket is gone for every command and for the listings. */
    hx_cmd(&srv, id, "getsockname", NULL, &r);
    cu_expect_err(&r, 404, "getsockname", "NOTSOCK");
    hx_response_free(&r);
    hx_cmd(&srv, id, "close", NULL, &r);
    cu_expect_err(&r, 404, "close", "NOTSOCK");
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r.json, "sockets");
    assert_true(cJSON_IsArray(arr));
    for (const cJSON *it = arr->child; it; it = it->next)
        assert_string_not_equal(info_str(it, "id"), id);
    hx_response_free(&r);

    /* close with a recv waiting: the wait answers CLOSED. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    hx_socket(&srv, NULL, id);
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    int hfd = hx_send_only(&srv, "POST", path, "[10]");
    usleep(100000);
    cu_ok(&srv, id, "close", NULL);
    hx_read_response(hfd, 5000, &r);
    close(hfd);
    cu_expect_err(&r, 200, "recv", "CLOSED");
    hx_response_free(&r);
    close(peer);
    close(lfd);
    cu_healthz(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_forms_and_listing),
        cmocka_unit_test(test_stream_v4_accept),
        cmocka_unit_test(test_stream_v4_acceptfast),
        cmocka_unit_test(test_stream_v6_acceptfast),
        cmocka_unit_test(test_accept_waits_for_client),
        cmocka_unit_test(test_connect_by_name_and_literal),
        cmocka_unit_test(test_recv_waits_then_answers),
        cmocka_unit_test(test_ioctl),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("commands", tests, group_setup, group_teardown);
}
