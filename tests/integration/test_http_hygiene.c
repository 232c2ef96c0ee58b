/*
 * HTTP hygiene, each through the real server: the log keeps hostile request lines and
 * libmicrohttpd's own messages in its format, a page that rebinds its DNS name to
 * loopback cannot drive a gateway that has no token, a 401 says how to authenticate, and
 * HEAD /events leaves a keep-alive connection usable. Every request goes to 127.0.0.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"
#include "srv_util.h"
#include "sse.h"

/* Sends raw bytes on a new connection and returns what came back (Connection: close). */
static size_t raw_exchange(const struct hx_server *s, const char *req, char *out, size_t cap)
{
    int fd = hx_tcp_connect(false, s->port);
    assert_true(fd >= 0);
    hx_write_all(fd, req, strlen(req));
    size_t n = su_read_all(fd, out, cap, 3000);
    close(fd);
    return n;
}

/* ---- the access log ---------------------------------------------------------------- */

/* A request line may carry any byte but space and line ends in its method: a quote, an
 * escape sequence. Neither may reach the log as is: in JSON format every line must stay
 * one JSON object, in text format no terminal control byte may pass. libmicrohttpd's own
 * messages (a listener that hangs up makes one) must be JSON lines too. */
static void check_log_format(const char *format)
{
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--log-format", format, NULL});
    char out[4096];
    raw_exchange(&srv, "G\"E\x1b[31mT /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Connection: close\r\n\r\n", out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 "));
    raw_exchange(&srv, "GET /he\x7fz\xff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 out, sizeof(out));
    /* An event stream whose client leaves while it waits for events. */
    struct sse_stream st;
    sse_open(&st, srv.port, NULL);
    sse_pump(&st, 200);
    sse_close(&st);
    struct hx_response r;
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    static char log[65536];
    su_wait_log(&srv, strcmp(format, "json") == 0 ? "\"path\":\"/sockets\"" : "\"GET /sockets\"",
                log, sizeof(log));
    int st_code = hx_stop(&srv);
    su_read_log(&srv, log, sizeof(log));
    for (const char *p = log; *p;) {
        size_t n = strcspn(p, "\n");
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f)
                fail_msg("a control byte reached the %s log: %.*s", format, (int)n, p);
        if (strcmp(format, "json") == 0 && n > 0) {
            cJSON *j = cJSON_ParseWithLength(p, n);
            if (!cJSON_IsObject(j))
                fail_msg("a log line is not one JSON object: %.*s", (int)n, p);
            cJSON_Delete(j);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    assert_non_null(strstr(log, "/healthz"));
    assert_int_equal(st_code, 0);
    assert_int_equal(cu_log_clean(&srv), 0);
    unlink(srv.log_path);
}

static void test_log_lines_hold_their_format(void **state)
{
    (void)state;
    check_log_format("json");
    check_log_format("text");
}

/* ---- DNS rebinding ----------------------------------------------------------------- */

static int status_with_host(const struct hx_server *srv, const char *method, const char *path,
                            const char *host, const char *token)
{
    char h[256];
    snprintf(h, sizeof(h), "Host: %s\r\n", host);
    struct hx_response r;
    su_req_auth(srv, method, path, token, h, NULL, &r);
    int status = r.status;
    if (status == 403)
        su_expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    return status;
}

/* A page on evil.example whose name is made to resolve to 127.0.0.1 is same-origin with
 * the gateway as far as the browser knows: its requests carry Origin and Host
 * evil.example. With no token to stop it, the Host header is what tells. */
static void test_rebinding_host_refused_without_token(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    char host[64], origin[160];
    snprintf(host, sizeof(host), "evil.example:%u", (unsigned)srv.port);
    assert_int_equal(status_with_host(&srv, "GET", "/sockets", host, NULL), 403);
    assert_int_equal(status_with_host(&srv, "GET", "/events", host, NULL), 403);
    assert_int_equal(status_with_host(&srv, "GET", "/", host, NULL), 403);
    snprintf(origin, sizeof(origin), "Host: %s\r\nOrigin: http://%s\r\n", host, host);
    struct hx_response r;
    hx_request_h(&srv, "POST", "/sockets", origin, NULL, &r);
    su_expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    assert_int_equal(status_with_host(&srv, "GET", "/sockets", "127.0.0.1.evil.example", NULL),
                     403);
    assert_int_equal(status_with_host(&srv, "GET", "/sockets", "localhost.evil.example", NULL),
                     403);
    /* Nothing was created by the refused POST. */
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "sockets")), 0);
    hx_response_free(&r);

    /* The names of this machine's loopback still work, with or without a port. */
    const char *good[] = {"127.0.0.1", "localhost", "LocalHost", "127.1.2.3:80", "[::1]",
                          "app.localhost"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(host, sizeof(host), "%s", good[i]);
        if (status_with_host(&srv, "GET", "/sockets", host, NULL) != 200)
            fail_msg("Host: %s was refused", host);
        snprintf(host, sizeof(host), "%s:%u", good[i], (unsigned)srv.port);
        if (strchr(good[i], ':') == NULL && status_with_host(&srv, "GET", "/sockets", host, NULL) != 200)
            fail_msg("Host: %s was refused", host);
    }
    /* HTTP/1.0 without Host: a script, not a browser. */
    char out[2048];
    raw_exchange(&srv, "GET /healthz HTTP/1.0\r\n\r\n", out, sizeof(out));
    assert_non_null(strstr(out, " 200 "));
    assert_int_equal(cu_stop(&srv), 0);

    /* With a token, a rebinding page has no credential: any Host may be served (a
     * reverse proxy passes its own). */
    su_start(&srv, (const char *[]){"--token", "t0k", NULL});
    assert_int_equal(status_with_host(&srv, "GET", "/sockets", "gateway.example", "t0k"), 200);
    assert_int_equal(status_with_host(&srv, "GET", "/sockets", "gateway.example", NULL), 401);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- headers ----------------------------------------------------------------------- */

/* RFC 9110 §15.5.2: a 401 carries WWW-Authenticate with the scheme to use. */
static void test_401_says_bearer(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "t0k", NULL});
    const char *paths[][2] = {{"GET", "/sockets"}, {"POST", "/sockets"}, {"GET", "/events"},
                              {"POST", "/sockets/s1/recv"}, {"GET", "/metrics"}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct hx_response r;
        su_req_auth(&srv, paths[i][0], paths[i][1], "wrong", NULL, NULL, &r);
        su_expect_refused(&r, 401, "AUTH");
        char val[128];
        if (!cu_header(&r, "WWW-Authenticate", val, sizeof(val)))
            fail_msg("401 for %s %s has no WWW-Authenticate", paths[i][0], paths[i][1]);
        assert_int_equal(strncmp(val, "Bearer", 6), 0);
        hx_response_free(&r);
    }
    assert_int_equal(cu_stop(&srv), 0);
}

/* A HEAD answer has no body; the next response on the connection must follow its head
 * directly, or a keep-alive client reads garbage. */
static void test_head_events_has_no_body(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    static char out[8192];
    raw_exchange(&srv, "HEAD /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 out, sizeof(out));
    assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
    assert_non_null(strcasestr(out, "text/event-stream"));
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    if (strncmp(end + 4, "HTTP/1.1 200", 12) != 0)
        fail_msg("bytes after the HEAD answer's head: %.40s", end + 4);
    assert_non_null(strstr(end + 4, "{\"status\":\"ok\"}"));
    assert_int_equal(cu_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_log_lines_hold_their_format, su_stop_leftovers),
        cmocka_unit_test_teardown(test_rebinding_host_refused_without_token, su_stop_leftovers),
        cmocka_unit_test_teardown(test_401_says_bearer, su_stop_leftovers),
        cmocka_unit_test_teardown(test_head_events_has_no_body, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("http_hygiene", tests, NULL, NULL);
}
