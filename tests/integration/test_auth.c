/*
 * SPEC §7 credentials through the real server: tokens by flag and by SOCKGATE_TOKEN,
 * Bearer and ?token=, sockets and events invisible across tokens, and the token generated
 * when listening beyond loopback (or not, with --no-auth or a token of one's own).
 * Allowed and refused cases alike. Every socket here talks to 127.0.0.1 only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"
#include "srv_util.h"
#include "sse.h"

#define QUIET_MS 500
#define EVENT_MS 5000

/* ---- helpers ---------------------------------------------------------------------- */

/* True when GET /sockets (with token) lists a socket with this id. */
static bool listed(const struct hx_server *s, const char *token, const char *id)
{
    struct hx_response r;
    su_req_auth(s, "GET", "/sockets", token, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r.json, "sockets");
    assert_true(cJSON_IsArray(arr));
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(sid) && strcmp(sid->valuestring, id) == 0)
            found = true;
    }
    hx_response_free(&r);
    return found;
}

/* Waits for the start-up line "console: http://HOST:PORT/..." (HOST is whatever address
 * the server offers to click) and copies that line, checked to name srv's port. */
static void console_line(const struct hx_server *s, char *line, size_t cap)
{
    static char log[65536];
    const char *hit = su_wait_log(s, "console: http://", log, sizeof(log));
    for (int i = 0; i < 300 && !strchr(hit, '\n'); i++) {
        usleep(10000); /* the line is being written */
        su_read_log(s, log, sizeof(log));
        hit = strstr(log, "console: http://");
    }
    snprintf(line, cap, "%.*s", (int)strcspn(hit, "\n"), hit);
    char port[16];
    snprintf(port, sizeof(port), ":%u/", (unsigned)s->port);
    if (!strstr(line, port))
        fail_msg("console line does not name port %u: %s", (unsigned)s->port, line);
}

/* The generated token of the console line (32 hex digits), or fails. */
static void console_token(const struct hx_server *s, char *token, size_t cap)
{
    char line[256];
    console_line(s, line, sizeof(line));
    const char *t = strstr(line, "/?token=");
    if (!t)
        fail_msg("no token in the console line: %s", line);
    t += strlen("/?token=");
    size_t n = 0;
    while (isxdigit((unsigned char)t[n]) && n + 1 < cap)
        n++;
    if (n != 32 || t[n] != '\0')
        fail_msg("the token is not 32 hex digits: %s", line);
    snprintf(token, cap, "%.*s", (int)n, t);
}

/* ---- credentials ------------------------------------------------------------------ */

static void test_auth_required(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "abc", NULL});
    struct hx_response r;

    /* Refused: no credential, a wrong one, a prefix, a longer one, another scheme. */
    const char *bad_headers[] = {
        NULL,
        "Authorization: Bearer abd\r\n",
        "Authorization: Bearer ab\r\n",
        "Authorization: Bearer abcd\r\n",
        "Authorization: Bearer \r\n",
        "Authorization: Basic YWJjOmFiYw==\r\n",
        "Authorization: abc\r\n",
    };
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        hx_request_h(&srv, "GET", "/sockets", bad_headers[i], NULL, &r);
        su_expect_refused(&r, 401, "AUTH");
        hx_response_free(&r);
    }
    const char *bad_paths[] = {"/sockets?token=abd", "/sockets?token=", "/sockets?token=ABC",
                               "/sockets?token=abc%20", "/sockets?tok=abc"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        hx_request(&srv, "GET", bad_paths[i], NULL, &r);
        su_expect_refused(&r, 401, "AUTH");
        hx_response_free(&r);
    }
    /* Every endpoint behind the token refuses: create, command, info, delete, events. */
    hx_request(&srv, "POST", "/sockets", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets/s1/recv", "[10]", &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets/s1", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    hx_request(&srv, "DELETE", "/sockets/s1", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    hx_request(&srv, "GET", "/events", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    /* Allowed: Bearer, ?token=, and both ways for a command on the socket. */
    char id[64];
    su_socket_auth(&srv, "abc", NULL, id);
    su_req_auth(&srv, "GET", "/sockets", "abc", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets?token=abc", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request_h(&srv, "GET", "/sockets", "Authorization: bearer abc\r\n", NULL, &r);
    assert_int_equal(r.status, 200); /* the scheme name is case-insensitive (RFC 7235) */
    hx_response_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=abc", id);
    hx_request(&srv, "POST", path, NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets?token=abc", "[\"DGRAM\"]", &r);
    hx_expect(&r, 201, "socket", "ok");
    hx_response_free(&r);
    /* The refused socket id of a wrong token does not exist for it either. */
    snprintf(path, sizeof(path), "/sockets/%s/close?token=nope", id);
    hx_request(&srv, "POST", path, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    assert_true(listed(&srv, "abc", id));

    /* Public endpoints stay public. */
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_two_tokens_sockets(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "alpha", "--token", "beta", NULL});
    struct hx_response r;
    char a[64], b[64], path[128];
    su_socket_auth(&srv, "alpha", NULL, a);
    su_socket_auth(&srv, "beta", "[\"DGRAM\"]", b);

    /* Each sees its own socket and not the other's. */
    assert_true(listed(&srv, "alpha", a));
    assert_false(listed(&srv, "alpha", b));
    assert_true(listed(&srv, "beta", b));
    assert_false(listed(&srv, "beta", a));

    /* For beta, alpha's socket does not exist: info, commands (GET and POST), delete. */
    snprintf(path, sizeof(path), "/sockets/%s", a);
    su_req_auth(&srv, "GET", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "socket", "NOTSOCK");
    hx_response_free(&r);
    const char *cmds[][2] = {
        {"getsockname", NULL}, {"ioctl", "[\"FIONREAD\"]"}, {"bind", "[\"localhost\",0]"},
        {"connect", "[\"127.0.0.1\",9]"}, {"send", "[\"x\"]"}, {"recv", "[1]"},
        {"recv", "{\"n\":1,\"callback\":\"stolen\"}"}, {"close", NULL},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        snprintf(path, sizeof(path), "/sockets/%s/%s", a, cmds[i][0]);
        su_req_auth(&srv, "POST", path, "beta", NULL, cmds[i][1], &r);
        cu_expect_err(&r, 404, cmds[i][0], "NOTSOCK");
        hx_response_free(&r);
    }
    snprintf(path, sizeof(path), "/sockets/%s/getpeername", a);
    su_req_auth(&srv, "GET", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "getpeername", "NOTSOCK");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s", a);
    su_req_auth(&srv, "DELETE", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "close", "NOTSOCK");
    hx_response_free(&r);

    /* ...and the same the other way round, by ?token=. */
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=alpha", b);
    hx_request(&srv, "POST", path, NULL, &r);
    cu_expect_err(&r, 404, "getsockname", "NOTSOCK");
    hx_response_free(&r);

    /* Nothing beta tried touched alpha's socket. */
    assert_true(listed(&srv, "alpha", a));
    su_cmd_auth(&srv, "alpha", a, "bind", &r, "[\"localhost\",0]");
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s", a);
    su_req_auth(&srv, "GET", path, "alpha", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    su_req_auth(&srv, "DELETE", path, "alpha", NULL, NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    assert_false(listed(&srv, "alpha", a));
    assert_true(listed(&srv, "beta", b));
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_two_tokens_events(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "alpha", "--token", "beta", NULL});
    struct hx_response r;
    struct sse_stream ea, eb, none;
    struct sse_event ev;

    sse_open_path(&none, srv.port, "/events", NULL, 0, EVENT_MS);
    assert_int_equal(none.status, 401);
    sse_close(&none);
    sse_open_path(&ea, srv.port, "/events", "Authorization: Bearer alpha\r\n", 0, EVENT_MS);
    assert_int_equal(ea.status, 200);
    sse_open_path(&eb, srv.port, "/events?token=beta", NULL, 0, EVENT_MS);
    assert_int_equal(eb.status, 200);

    char a[64], b[64];
    int pa = su_connect_pair(&srv, "alpha", a);
    int pb = su_connect_pair(&srv, "beta", b);

    /* alpha's background recv: its event reaches alpha's stream only. */
    su_cmd_auth(&srv, "alpha", a, "recv", &r, "{\"n\":100,\"callback\":\"onAlpha\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pa, "for-alpha", 9);
    sse_expect(&ea, EVENT_MS, "onAlpha", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "for-alpha", a);
    char alpha_last[64];
    snprintf(alpha_last, sizeof(alpha_last), "Last-Event-ID: %s\r\n", ev.id);
    sse_event_free(&ev);
    sse_expect_quiet(&eb, QUIET_MS);

    /* beta's likewise, the other way. */
    su_cmd_auth(&srv, "beta", b, "recv", &r, "{\"n\":100,\"callback\":\"onBeta\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pb, "for-beta", 8);
    sse_expect(&eb, EVENT_MS, "onBeta", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "for-beta", b);
    sse_event_free(&ev);
    sse_expect_quiet(&ea, QUIET_MS);

    /* A background op beta tries on alpha's socket never starts, and alpha's data stays
     * with alpha. */
    su_cmd_auth(&srv, "beta", a, "recv", &r, "{\"n\":100,\"callback\":\"onSteal\"}");
    cu_expect_err(&r, 404, "recv", "NOTSOCK");
    hx_response_free(&r);
    hx_write_all(pa, "still-alpha", 11);
    sse_expect_quiet(&eb, QUIET_MS);
    su_cmd_auth(&srv, "alpha", a, "recv", &r, "[100]");
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "still-alpha");
    hx_response_free(&r);

    /* Events buffered for alpha while it has no stream are not handed to a new beta
     * stream, and alpha gets them when it comes back. */
    sse_close(&ea);
    usleep(300000);
    su_cmd_auth(&srv, "alpha", a, "recv", &r, "{\"n\":100,\"callback\":\"onLater\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pa, "buffered", 8);
    usleep(200000);
    struct sse_stream eb2;
    sse_open_path(&eb2, srv.port, "/events", "Authorization: Bearer beta\r\n", 0, EVENT_MS);
    assert_int_equal(eb2.status, 200);
    sse_expect_quiet(&eb2, QUIET_MS);
    sse_expect_quiet(&eb, 1);
    sse_close(&eb2);
    char h[128];
    snprintf(h, sizeof(h), "Authorization: Bearer alpha\r\n%s", alpha_last);
    sse_open_path(&ea, srv.port, "/events", h, 0, EVENT_MS);
    assert_int_equal(ea.status, 200);
    sse_expect(&ea, EVENT_MS, "onLater", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "buffered", a);
    sse_event_free(&ev);

    sse_close(&ea);
    sse_close(&eb);
    close(pa);
    close(pb);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_env_tokens(void **state)
{
    (void)state;
    struct hx_server srv;
    struct hx_response r;
    char one[64], two[64];

    /* SOCKGATE_TOKEN is a comma list; each entry is its own credential. */
    su_start_env(&srv, NULL, (const char *[]){"SOCKGATE_TOKEN=env-one,env-two", NULL}, 0);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/sockets", "env-one,env-two", NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    su_socket_auth(&srv, "env-one", NULL, one);
    su_socket_auth(&srv, "env-two", NULL, two);
    assert_true(listed(&srv, "env-one", one));
    assert_false(listed(&srv, "env-one", two));
    assert_true(listed(&srv, "env-two", two));
    assert_false(listed(&srv, "env-two", one));
    assert_int_equal(cu_stop(&srv), 0);

    /* --token on the command line replaces the variable's list. */
    su_start_env(&srv, (const char *[]){"--token", "flag-tok", NULL},
                 (const char *[]){"SOCKGATE_TOKEN=env-one", NULL}, 0);
    su_req_auth(&srv, "GET", "/sockets", "env-one", NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/sockets", "flag-tok", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- listening beyond loopback ---------------------------------------------------- */

static void test_exposed_generates_token(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_exposed(&srv, NULL);
    static char log[65536];
    char token[64];
    console_token(&srv, token, sizeof(token));
    su_read_log(&srv, log, sizeof(log));
    assert_non_null(strstr(log, "auth: generated token"));
    /* The policy line says the exposed defaults are on. */
    assert_non_null(strstr(log, "policy: destinations: public addresses only"));

    struct hx_response r;
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/sockets", "0123456789abcdef0123456789abcdef", NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    char id[64], path[128];
    su_socket_auth(&srv, token, NULL, id);
    snprintf(path, sizeof(path), "/sockets?token=%s", token);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    /* The console page itself is public (the token rides in its URL for the page's own
     * requests); a build without the web assets answers 404, never 401. */
    snprintf(path, sizeof(path), "/?token=%s", token);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_true(r.status == 200 || r.status == 404);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);

    /* Each start makes a new token. */
    char token2[64];
    su_start_exposed(&srv, NULL);
    console_token(&srv, token2, sizeof(token2));
    assert_string_not_equal(token, token2);
    su_req_auth(&srv, "GET", "/sockets", token, NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_exposed_no_auth_and_own_token(void **state)
{
    (void)state;
    struct hx_server srv;
    static char log[65536];
    char line[256];
    struct hx_response r;

    /* --no-auth: no token is made, anyone may use it. */
    su_start_exposed(&srv, (const char *[]){"--no-auth", NULL});
    console_line(&srv, line, sizeof(line));
    su_read_log(&srv, log, sizeof(log));
    assert_null(strstr(log, "?token="));
    assert_non_null(strstr(log, "auth: none"));
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    char id[64];
    hx_socket(&srv, NULL, id);
    assert_int_equal(cu_stop(&srv), 0);

    /* SOCKGATE_NO_AUTH does the same. */
    uint16_t port = hx_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "0.0.0.0:%u", (unsigned)port);
    su_start_env(&srv, (const char *[]){"--listen", listen, NULL},
                 (const char *[]){"SOCKGATE_NO_AUTH=1", NULL}, port);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);

    /* A configured token is used as is: nothing generated, the token is not printed. */
    su_start_exposed(&srv, (const char *[]){"--token", "my-own-secret-77", NULL});
    console_line(&srv, line, sizeof(line));
    assert_null(strstr(line, "?token="));
    su_read_log(&srv, log, sizeof(log));
    assert_non_null(strstr(log, "auth: token required"));
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/sockets", "my-own-secret-77", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    int st = hx_stop(&srv);
    su_read_log(&srv, log, sizeof(log));
    assert_null(strstr(log, "my-own-secret-77"));
    assert_int_equal(st, 0);
    assert_int_equal(cu_log_clean(&srv), 0);
    unlink(srv.log_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_auth_required, su_stop_leftovers),
        cmocka_unit_test_teardown(test_auth_two_tokens_sockets, su_stop_leftovers),
        cmocka_unit_test_teardown(test_auth_two_tokens_events, su_stop_leftovers),
        cmocka_unit_test_teardown(test_auth_env_tokens, su_stop_leftovers),
        cmocka_unit_test_teardown(test_exposed_generates_token, su_stop_leftovers),
        cmocka_unit_test_teardown(test_exposed_no_auth_and_own_token, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
