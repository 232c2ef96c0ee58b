/*
 * SPEC §7 cross-origin checks and log secrecy through the real server: foreign origins
 * refused before anything runs, the same origin and --cors origins allowed (preflight
 * included, the token still required), and no token, right or wrong, in the access log
 * in either log format. Every request goes to 127.0.0.1.
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
#include "srv_util.h"

/* ---- cross-origin ----------------------------------------------------------------- */

static void test_cors_default(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    struct hx_response r;
    char h[256], val[256];

    /* A foreign origin is refused, whatever the method, before anything runs. */
    const char *origins[] = {"http://evil.test", "null", "http://127.0.0.1.evil.test",
                             "http://127.0.0.1:1"};
    for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        snprintf(h, sizeof(h), "Origin: %s\r\n", origins[i]);
        hx_request_h(&srv, "POST", "/sockets", h, NULL, &r);
        su_expect_refused(&r, 403, "DENIED");
        assert_false(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
        hx_response_free(&r);
        hx_request_h(&srv, "GET", "/sockets", h, NULL, &r);
        su_expect_refused(&r, 403, "DENIED");
        hx_response_free(&r);
    }
    snprintf(h, sizeof(h), "Origin: http://evil.test\r\nAccess-Control-Request-Method: POST\r\n");
    hx_request_h(&srv, "OPTIONS", "/sockets", h, NULL, &r);
    su_expect_refused(&r, 403, "DENIED");
    assert_false(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "sockets")), 0);
    hx_response_free(&r);

    /* The right origin with the wrong Host is still foreign. */
    snprintf(h, sizeof(h), "Host: 127.0.0.1:%u\r\nOrigin: http://127.0.0.1:%u\r\n",
             (unsigned)srv.port, (unsigned)srv.port + 1);
    hx_request_h(&srv, "POST", "/sockets", h, NULL, &r);
    su_expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);

    /* Same origin (the console page itself): allowed. */
    snprintf(h, sizeof(h), "Host: 127.0.0.1:%u\r\nOrigin: http://127.0.0.1:%u\r\n",
             (unsigned)srv.port, (unsigned)srv.port);
    hx_request_h(&srv, "POST", "/sockets", h, NULL, &r);
    hx_expect(&r, 201, "socket", "ok");
    hx_response_free(&r);
    hx_request_h(&srv, "GET", "/sockets", h, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    /* No Origin at all (curl): allowed. */
    char id[64];
    hx_socket(&srv, NULL, id);
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_cors_allowed_origin(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--cors", "http://example.test", "--token", "t0k", NULL});
    struct hx_response r;
    char val[256];

    /* The preflight needs no token (browsers send none) and lists what may be sent. */
    hx_request_h(&srv, "OPTIONS", "/sockets/s1/recv",
                 "Origin: http://example.test\r\nAccess-Control-Request-Method: POST\r\n"
                 "Access-Control-Request-Headers: authorization, content-type\r\n",
                 NULL, &r);
    assert_int_equal(r.status, 204);
    assert_true(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
    assert_string_equal(val, "http://example.test");
    assert_true(cu_header(&r, "Access-Control-Allow-Methods", val, sizeof(val)));
    assert_non_null(strstr(val, "POST"));
    assert_non_null(strstr(val, "DELETE"));
    assert_true(cu_header(&r, "Access-Control-Allow-Headers", val, sizeof(val)));
    assert_non_null(strcasestr(val, "Authorization"));
    assert_non_null(strcasestr(val, "Content-Type"));
    hx_response_free(&r);

    /* The real request from that origin: allowed, with the token, and says so. */
    char id[64];
    su_req_auth(&srv, "POST", "/sockets", "t0k", "Origin: http://example.test\r\n", NULL, &r);
    hx_expect(&r, 201, "socket", "ok");
    assert_true(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
    assert_string_equal(val, "http://example.test");
    snprintf(id, sizeof(id), "%s", hx_elem(&r, 2));
    hx_response_free(&r);
    su_cmd_auth(&srv, "t0k", id, "getsockname", &r, NULL);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    /* The origin does not replace the token. */
    hx_request_h(&srv, "GET", "/sockets", "Origin: http://example.test\r\n", NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    /* Any other origin is still refused, preflight included. */
    hx_request_h(&srv, "OPTIONS", "/sockets",
                 "Origin: http://other.test\r\nAccess-Control-Request-Method: POST\r\n", NULL, &r);
    su_expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    su_req_auth(&srv, "POST", "/sockets", "t0k", "Origin: http://example.test.evil\r\n", NULL, &r);
    su_expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- logs ------------------------------------------------------------------------- */

static void check_token_not_logged(const char *format)
{
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "secret123", "--log-format", format, NULL});
    struct hx_response r;
    char id[64], path[160];
    hx_request(&srv, "GET", "/sockets?token=secret123", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets?token=secret123", NULL, &r);
    hx_expect(&r, 201, "socket", "ok");
    snprintf(id, sizeof(id), "%s", hx_elem(&r, 2));
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/recv?token=secret123&n=5&timeout=0.01", id);
    hx_request(&srv, "POST", path, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    su_socket_auth(&srv, "secret123", NULL, id);
    hx_request(&srv, "GET", "/sockets?token=wrongsecret456", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/sockets", "wrongsecret789", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    /* A token is a credential, not an argument: in a body it is refused, and not logged
     * either. */
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=secret123", id);
    hx_request(&srv, "POST", path, "{\"token\":\"secret123\"}", &r);
    hx_expect(&r, 400, "getsockname", "INVAL");
    hx_response_free(&r);

    int st = hx_stop(&srv);
    static char log[65536];
    su_read_log(&srv, log, sizeof(log));
    /* The access log is on and recorded these requests... */
    assert_non_null(strstr(log, "/sockets"));
    assert_non_null(strstr(log, "401"));
    /* ...without any of the tokens, right or wrong. */
    if (strstr(log, "secret123") || strstr(log, "wrongsecret456") || strstr(log, "wrongsecret789"))
        fail_msg("a token reached the log (%s):\n%s", format, log);
    assert_int_equal(st, 0);
    assert_int_equal(cu_log_clean(&srv), 0);
    unlink(srv.log_path);
}

static void test_token_not_logged(void **state)
{
    (void)state;
    check_token_not_logged("text");
    check_token_not_logged("json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cors_default, su_stop_leftovers),
        cmocka_unit_test_teardown(test_cors_allowed_origin, su_stop_leftovers),
        cmocka_unit_test_teardown(test_token_not_logged, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("cors", tests, NULL, NULL);
}
