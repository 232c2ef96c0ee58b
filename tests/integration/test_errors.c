/*
 * SPEC §5, the request-level error paths, through the real server: bad JSON, bodies of
 * the wrong shape, unknown and ill-typed arguments, out-of-range ports and n, bad
 * escapes, unknown sockets, commands and endpoints, wrong methods. Each checks the HTTP
 * status and the JSON list [command, "NAME: description."], and that the server keeps
 * serving. Errors of the socket calls themselves are in test_errors_net.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"

static struct hx_server srv;
static char sock_id[64];                 /* a STREAM socket, never connected */
static char dgram_id[64];                /* a DGRAM socket */

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--max-wait", "5", NULL};
    hx_start(&srv, args);
    hx_socket(&srv, NULL, sock_id);
    hx_socket(&srv, "[\"DGRAM\"]", dgram_id);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return cu_teardown(&srv);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&srv);
}

struct bad_case {
    const char *method;               /* NULL: POST */
    const char *path;                 /* "%s" stands for the socket id */
    const char *body;                 /* NULL: none */
    int status;
    const char *cmd;                  /* element 1 */
    const char *name;                 /* element 2's NAME */
    const char *detail;               /* a part of element 2 it must hold, or NULL */
};

/* Runs each case against `id` and checks status, list and content type. */
static void run_cases(const struct bad_case *cases, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        struct hx_response r;
        char path[512];
        const char *at = strstr(c->path, "%s");
        if (at)
            snprintf(path, sizeof(path), "%.*s%s%s", (int)(at - c->path), c->path, id, at + 2);
        else
            snprintf(path, sizeof(path), "%s", c->path);
        hx_request(&srv, c->method ? c->method : "POST", path, c->body, &r);
        if (r.status != c->status || hx_len(&r) != 2)
            fail_msg("case %zu: %s %s %s: want %d, got %d %s", i, c->method ? c->method : "POST",
                     path, c->body ? c->body : "", c->status, r.status, r.body);
        cu_expect_err(&r, c->status, c->cmd, c->name);
        if (c->detail && !strstr(hx_elem(&r, 1), c->detail))
            fail_msg("case %zu: %s: element 2 lacks '%s': %s", i, path, c->detail, r.body);
        hx_response_free(&r);
    }
    cu_healthz(&srv);
}

#define RUN(cases, id) run_cases(cases, sizeof(cases) / sizeof(cases[0]), id)

static void test_bad_json(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/recv", "{", 400, "recv", "INVAL", "not valid JSON"},
        {NULL, "/sockets/%s/recv", "[1,", 400, "recv", "INVAL", "not valid JSON"},
        {NULL, "/sockets/%s/recv", "{\"n\":}", 400, "recv", "INVAL", "not valid JSON"},
        {NULL, "/sockets/%s/recv", "[10] trailing", 400, "recv", "INVAL", "not valid JSON"},
        {NULL, "/sockets/%s/connect", "{'socketname':'x'}", 400, "connect", "INVAL", NULL},
        {NULL, "/sockets/%s/send", "[\"abc]", 400, "send", "INVAL", NULL},
        {NULL, "/sockets/%s/ioctl", "[\"FIONREAD\"", 400, "ioctl", "INVAL", NULL},
        {NULL, "/sockets", "{", 400, "socket", "INVAL", "not valid JSON"},
        {NULL, "/sockets", "[\"DGRAM\"", 400, "socket", "INVAL", NULL},
        {"DELETE", "/sockets/%s", "{x", 400, "close", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

static void test_body_not_object_or_array(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/recv", "\"hello\"", 400, "recv", "INVAL", "object or array"},
        {NULL, "/sockets/%s/recv", "42", 400, "recv", "INVAL", "object or array"},
        {NULL, "/sockets/%s/bind", "true", 400, "bind", "INVAL", "object or array"},
        {NULL, "/sockets/%s/send", "null", 400, "send", "INVAL", "object or array"},
        {NULL, "/sockets/%s/close", "\"x\"", 400, "close", "INVAL", NULL},
        {NULL, "/sockets", "\"DGRAM\"", 400, "socket", "INVAL", NULL},
        {NULL, "/sockets", "7", 400, "socket", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

static void test_unknown_argument(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/recv", "{\"n\":1,\"bogus\":1}", 400, "recv", "INVAL", "bogus"},
        {NULL, "/sockets/%s/recv?bogus=1", "[1]", 400, "recv", "INVAL", "bogus"},
        {NULL, "/sockets/%s/recv", "{\"stream\":\"x\",\"n\":1}", 400, "recv", "INVAL", "stream"},
        {NULL, "/sockets/%s/bind", "{\"socketname\":\"localhost\",\"port\":0}", 400, "bind",
         "INVAL", "socketname"},
        {NULL, "/sockets/%s/connect", "[\"localhost\",80,\"extra\"]", 400, "connect", "INVAL",
         NULL},
        {NULL, "/sockets/%s/getpeername", "[1]", 400, "getpeername", "INVAL", NULL},
        {NULL, "/sockets/%s/listen", "{\"timeout\":1}", 400, "listen", "INVAL", "timeout"},
        {NULL, "/sockets/%s/ioctl", "{\"FIONBIO\":1,\"FIONREAD\":true}", 400, "ioctl", "INVAL",
         NULL},
        {NULL, "/sockets/%s/ioctl", "[\"FIONXXX\"]", 400, "ioctl", "INVAL", "FIONXXX"},
        {NULL, "/sockets/%s/ioctl", "{}", 400, "ioctl", "INVAL", NULL},
        {NULL, "/sockets/%s/recv", "{\"n\":1,\"repeat\":true}", 400, "recv", "INVAL", NULL},
        {NULL, "/sockets", "{\"type\":\"STREAM\",\"bogus\":\"x\"}", 400, "socket", "INVAL", NULL},
        {NULL, "/sockets?bogus=1", NULL, 400, "socket", "INVAL", "bogus"},
        {NULL, "/sockets", "[\"STREAM\",\"IPV4\",\"x\"]", 400, "socket", "INVAL", NULL},
        {NULL, "/sockets/%s/recv?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&"
               "o=14&p=15&q=16&r=17&s=18&t=19&u=20&v=21&w=22&x=23&y=24&z=25&aa=26&ab=27&"
               "ac=28&ad=29&ae=30&af=31&ag=32&ah=33", "[1]", 400, "request", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

static void test_ill_typed_argument(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/connect", "{\"socketname\":\"localhost\",\"port\":{}}", 400, "connect",
         "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"localhost\",[6379]]", 400, "connect", "INVAL", NULL},
        {NULL, "/sockets/%s/connect", "{\"socketname\":7,\"port\":80}", 400, "connect", "INVAL",
         "socketname"},
        {NULL, "/sockets/%s/connect", "{\"socketname\":\"localhost\",\"port\":true}", 400,
         "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "{\"socketname\":\"localhost\"}", 400, "connect", "INVAL",
         "port"},
        {NULL, "/sockets/%s/bind", "{\"port\":1.5}", 400, "bind", "INVAL", "port"},
        {NULL, "/sockets/%s/recv", "{\"n\":\"abc\"}", 400, "recv", "INVAL", NULL},
        {NULL, "/sockets/%s/recv", "{\"n\":2.5}", 400, "recv", "INVAL", NULL},
        {NULL, "/sockets/%s/recv", "{\"n\":{}}", 400, "recv", "INVAL", NULL},
        {NULL, "/sockets/%s/recv", "{\"n\":1,\"timeout\":\"soon\"}", 400, "recv", "INVAL",
         "timeout"},
        {NULL, "/sockets/%s/recv", "{\"n\":1,\"timeout\":-1}", 400, "recv", "INVAL", "timeout"},
        {NULL, "/sockets/%s/recv", "[1,\"\"]", 400, "recv", "INVAL", "callback"},
        {NULL, "/sockets/%s/recv", "{\"n\":1,\"encoding\":\"rot13\"}", 400, "recv", "INVAL",
         "encoding"},
        {NULL, "/sockets/%s/send", "{\"stream\":5}", 400, "send", "INVAL", "stream"},
        {NULL, "/sockets/%s/send", "{}", 400, "send", "INVAL", "stream"},
        {NULL, "/sockets/%s/listen", "[\"many\"]", 400, "listen", "INVAL", "backlog"},
        {NULL, "/sockets/%s/ioctl", "{\"FIONBIO\":2}", 400, "ioctl", "INVAL", "FIONBIO"},
        {NULL, "/sockets/%s/ioctl", "[\"FIONBIO\"]", 400, "ioctl", "INVAL", "FIONBIO"},
        {NULL, "/sockets/%s/ioctl", "{\"FIONREAD\":false}", 400, "ioctl", "INVAL", "FIONREAD"},
        {NULL, "/sockets", "{\"type\":\"RAW\"}", 400, "socket", "INVAL", "RAW"},
        {NULL, "/sockets", "{\"type\":1}", 400, "socket", "INVAL", NULL},
        {NULL, "/sockets", "{\"family\":\"IPX\"}", 400, "socket", "INVAL", "IPX"},
        {NULL, "/sockets?type=SEQPACKET", NULL, 400, "socket", "INVAL", NULL},
        {NULL, "/sockets", "[1]", 400, "socket", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

static void test_port_out_of_range(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",70000]", 400, "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",-1]", 400, "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",65536]", 400, "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",\"70000\"]", 400, "connect", "INVAL",
         "port"},
        {NULL, "/sockets/%s/connect", "{\"socketname\":\"127.0.0.1\",\"port\":\"-1\"}", 400,
         "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect?socketname=127.0.0.1&port=70000", NULL, 400, "connect",
         "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",\"no-such-service\"]", 400, "connect",
         "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",\"\"]", 400, "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/connect", "[\"127.0.0.1\",1e300]", 400, "connect", "INVAL", "port"},
        {NULL, "/sockets/%s/bind", "[\"localhost\",70000]", 400, "bind", "INVAL", "port"},
        {NULL, "/sockets/%s/bind", "[\"localhost\",-1]", 400, "bind", "INVAL", "port"},
    };
    RUN(cases, sock_id);
    static const struct bad_case dcases[] = {
        {NULL, "/sockets/%s/sendto", "[\"127.0.0.1\",70000,\"x\"]", 400, "sendto", "INVAL",
         "port"},
        {NULL, "/sockets/%s/sendto", "{\"address\":\"127.0.0.1\",\"port\":-1,\"dgram\":\"x\"}",
         400, "sendto", "INVAL", "port"},
        {NULL, "/sockets/%s/sendto", "{\"address\":\"127.0.0.1\",\"dgram\":\"x\"}", 400, "sendto",
         "INVAL", "port"},
    };
    RUN(dcases, dgram_id);
}

static void test_bad_n(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/recv", "[0]", 400, "recv", "INVAL", "n must"},
        {NULL, "/sockets/%s/recv", "[-5]", 400, "recv", "INVAL", "n must"},
        {NULL, "/sockets/%s/recv", "{\"n\":\"0\"}", 400, "recv", "INVAL", "n must"},
        {NULL, "/sockets/%s/recv?n=-1", NULL, 400, "recv", "INVAL", "n must"},
        {NULL, "/sockets/%s/recv", "[]", 400, "recv", "INVAL", "'n'"},
        {NULL, "/sockets/%s/recv", NULL, 400, "recv", "INVAL", "'n'"},
        {NULL, "/sockets/%s/recv", "[16777217]", 413, "recv", "LIMIT", NULL},
        {NULL, "/sockets/%s/recv", "{\"n\":1000000000000}", 413, "recv", "LIMIT", NULL},
        {NULL, "/sockets/%s/recv?n=99999999999", NULL, 413, "recv", "LIMIT", NULL},
        {NULL, "/sockets/%s/recvfrom", "[0]", 400, "recvfrom", "INVAL", "n must"},
        {NULL, "/sockets/%s/recvfrom", "[16777217]", 413, "recvfrom", "LIMIT", NULL},
    };
    RUN(cases, sock_id);
}

/* A bad ascii~hex escape names the offset of its '~' in the decoded JSON string. */
static void test_bad_escape(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        unsigned offset;
    } cases[] = {
        {"~G1", 0},
        {"ab~G1", 2},
        {"abc~", 3},
        {"abc~4", 3},
        {"~41~4", 3},
        {"~~41", 0},
        {"x~4G", 1},
        {"0123456789abcdefghijklmnopqrstuvwxyz~zz0123456789", 36},
        {"~41~42~43~44~45~46~47~48~49~4A~4B~4C~4D~4E~4F~50~5~51", 48},
        {"\xc3\xa9~G1", 2}, /* offsets count bytes: é is two */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[96];
        snprintf(want, sizeof(want), "INVAL: bad ascii~hex escape at offset %u.", cases[i].offset);
        struct hx_response r;
        cu_cmdf(&srv, sock_id, "send", &r, "[\"%s\"]", cases[i].data);
        cu_expect_err(&r, 400, "send", "INVAL");
        if (strcmp(hx_elem(&r, 1), want) != 0)
            fail_msg("send %s: want \"%s\", got %s", cases[i].data, want, r.body);
        hx_response_free(&r);
        cu_cmdf(&srv, dgram_id, "sendto", &r, "{\"address\":\"127.0.0.1\",\"port\":9,\"dgram\":\"%s\"}",
                cases[i].data);
        cu_expect_err(&r, 400, "sendto", "INVAL");
        assert_string_equal(hx_elem(&r, 1), want);
        hx_response_free(&r);
    }
    cu_healthz(&srv);
}

static void test_bad_base64_and_hex(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/send", "{\"stream\":\"@@@@\",\"encoding\":\"base64\"}", 400, "send",
         "INVAL", "bad base64 character at offset 0"},
        {NULL, "/sockets/%s/send", "{\"stream\":\"aGV$bG8=\",\"encoding\":\"base64\"}", 400, "send",
         "INVAL", "bad base64 character at offset 3"},
        {NULL, "/sockets/%s/send?encoding=base64", "[\"a~b=\"]", 400, "send", "INVAL",
         "bad base64"},
        {NULL, "/sockets/%s/send", "{\"stream\":\"0g\",\"encoding\":\"hex\"}", 400, "send", "INVAL",
         "bad hex"},
        {NULL, "/sockets/%s/send", "{\"stream\":\"abc\",\"encoding\":\"hex\"}", 400, "send",
         "INVAL", "bad hex"},
    };
    RUN(cases, sock_id);
}

static void test_unknown_socket(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/s99999/recv", "[1]", 404, "recv", "NOTSOCK", NULL},
        {NULL, "/sockets/s99999/close", NULL, 404, "close", "NOTSOCK", NULL},
        {NULL, "/sockets/s99999/getpeername", NULL, 404, "getpeername", "NOTSOCK", NULL},
        {"GET", "/sockets/s99999/getsockname", NULL, 404, "getsockname", "NOTSOCK", NULL},
        {"GET", "/sockets/s99999/ioctl", NULL, 404, "ioctl", "NOTSOCK", NULL},
        {NULL, "/sockets/s99999/connect", "[\"127.0.0.1\",9]", 404, "connect", "NOTSOCK", NULL},
        {"GET", "/sockets/s99999", NULL, 404, "socket", "NOTSOCK", NULL},
        {"DELETE", "/sockets/s99999", NULL, 404, "close", "NOTSOCK", NULL},
        {NULL, "/sockets/abc/bind", "[\"localhost\",0]", 404, "bind", "NOTSOCK", NULL},
        {NULL, "/sockets/s0/listen", NULL, 404, "listen", "NOTSOCK", NULL},
        {NULL, "/sockets/s1x/listen", NULL, 404, "listen", "NOTSOCK", NULL},
        {NULL, "/sockets/s99999999999999999999999/listen", NULL, 404, "listen", "NOTSOCK", NULL},
        {"GET", "/sockets/%s.x", NULL, 404, "socket", "NOTSOCK", NULL},
    };
    RUN(cases, sock_id);
}

static void test_unknown_command(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {NULL, "/sockets/%s/frobnicate", NULL, 404, "frobnicate", "INVAL", "no such command"},
        {NULL, "/sockets/%s/FROB", "[1]", 404, "frob", "INVAL", "no such command"},
        {"GET", "/sockets/%s/nothing", NULL, 404, "nothing", "INVAL", "no such command"},
        {NULL, "/sockets/s99999/frobnicate", NULL, 404, "frobnicate", "INVAL", NULL},
        {NULL, "/sockets/%s/socket", NULL, 404, "socket", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

/* 405, with an Allow header naming the methods that work. */
static void test_wrong_method(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *cmd, *allow;
    } cases[] = {
        {"GET", "/sockets/%s/recv", "recv", "POST"},
        {"GET", "/sockets/%s/send", "send", "POST"},
        {"GET", "/sockets/%s/close", "close", "POST"},
        {"GET", "/sockets/%s/ioctl?FIONBIO=1", "ioctl", "POST"},
        {"DELETE", "/sockets/%s/getpeername", "getpeername", "GET, POST"},
        {"PUT", "/sockets/%s/getsockname", "getsockname", "GET, POST"},
        {"PUT", "/sockets/%s/connect", "connect", "POST"},
        {"PUT", "/sockets", "sockets", "GET, POST"},
        {"DELETE", "/sockets", "sockets", "GET, POST"},
        {"PATCH", "/sockets/%s", "socket", "GET, DELETE"},
        {"POST", "/sockets/%s", "socket", "GET, DELETE"},
        {"POST", "/healthz", "healthz", "GET"},
        {"POST", "/metrics", "metrics", "GET"},
        {"POST", "/events", "events", "GET"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256], allow[64];
        const char *at = strstr(cases[i].path, "%s");
        if (at)
            snprintf(path, sizeof(path), "%.*s%s%s", (int)(at - cases[i].path), cases[i].path,
                     sock_id, at + 2);
        else
            snprintf(path, sizeof(path), "%s", cases[i].path);
        struct hx_response r;
        hx_request(&srv, cases[i].method, path, NULL, &r);
        if (r.status != 405)
            fail_msg("%s %s: want 405, got %d %s", cases[i].method, path, r.status, r.body);
        cu_expect_err(&r, 405, cases[i].cmd, "INVAL");
        if (!cu_header(&r, "Allow", allow, sizeof(allow)))
            fail_msg("%s %s: no Allow header: %s", cases[i].method, path, r.headers);
        assert_string_equal(allow, cases[i].allow);
        hx_response_free(&r);
    }
    /* The socket was not touched by any of them. */
    struct hx_response r;
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s", sock_id);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    cu_healthz(&srv);
}

static void test_unknown_endpoint(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"GET", "/nope/a/b", NULL, 404, "request", "INVAL", "no such endpoint"},
        {NULL, "/nope", "[]", 404, "request", "INVAL", "no such endpoint"},
        {"GET", "/no-such-file.html", NULL, 404, "request", "INVAL", NULL},
        {"GET", "/no-such-thing", NULL, 404, "request", "INVAL", NULL},
        {"GET", "/.hidden.html", NULL, 404, "request", "INVAL", NULL},
        {NULL, "/sockets/%s/recv/extra", "[1]", 404, "request", "INVAL", "no such endpoint"},
        {NULL, "/sockets/%s/recv/a/b/c", "[1]", 404, "request", "INVAL", NULL},
        {"GET", "/events/more", NULL, 404, "events", "INVAL", "no such endpoint"},
        {"GET", "/healthz/x", NULL, 404, "request", "INVAL", NULL},
        {NULL, "/sockets/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaa/recv", "[1]", 404, "request", "INVAL", NULL},
    };
    RUN(cases, sock_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_body_not_object_or_array),
        cmocka_unit_test(test_unknown_argument),
        cmocka_unit_test(test_ill_typed_argument),
        cmocka_unit_test(test_port_out_of_range),
        cmocka_unit_test(test_bad_n),
        cmocka_unit_test(test_bad_escape),
        cmocka_unit_test(test_bad_base64_and_hex),
        cmocka_unit_test(test_unknown_socket),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_unknown_endpoint),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("errors", tests, group_setup, group_teardown);
}
