/*
 * websockify compatibility (SPEC §10) with real servers and a real client: /websockify and
 * --websockify-path to a --websockify-target, a websockify token file whose ?token= picks
 * the target and is the credential for it alone (the file is re-read when it changes),
 * the destination policy over targets, and a target that refuses. Every answer that is
 * not a 101 is a JSON list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"
#include "ws_util.h"

/* One exchange through an open websockify bridge whose peer is `peer`. */
static void exchange(struct wsc *c, int peer, const char *hello)
{
    size_t n = strlen(hello);
    wu_send(c, hello, n);
    char got[64];
    hx_read_exact(peer, got, n);
    assert_memory_equal(got, hello, n);
    hx_write_all(peer, "RFB 003.008\n", 12);
    wu_expect_message(c, "RFB 003.008\n", 12);
}

static void test_fixed_target(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", port);
    struct hx_server s;
    su_start(&s, (const char *const[]){"--websockify-target", target, "--websockify-path",
                                        "/vnc/websockify", NULL});
    for (int i = 0; i < 2; i++) {
        struct wsc c;
        /* noVNC sends no subprotocol; older clients offer "binary", which is echoed. */
        wu_open_path(&c, &s, i == 0 ? "/websockify" : "/vnc/websockify",
                     i == 0 ? NULL : "Sec-WebSocket-Protocol: binary\r\n");
        assert_true(i == 0 ? !strstr(c.head, "Sec-WebSocket-Protocol")
                           : strstr(c.head, "Sec-WebSocket-Protocol: binary") != NULL);
        int peer = hx_accept(lfd);
        exchange(&c, peer, "hello target");
        /* The socket shows as streaming to the credential that opened it. */
        struct hx_response r;
        hx_request(&s, "GET", "/sockets", NULL, &r);
        assert_non_null(strstr(r.body, "\"streaming\""));
        hx_response_free(&r);
        close(peer);
        wu_expect_close(&c, 1000, "the peer closed");
        wsc_close(&c);
    }
    /* Not a websockify path: the usual 404. */
    wu_expect_refused(&s, "/websockify2", NULL, 404, "request", "INVAL");
    close(lfd);
    assert_int_equal(cu_stop(&s), 0);
}

static void test_target_refused_and_denied(void **state)
{
    (void)state;
    uint16_t closed_port = hx_free_port();
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", closed_port);
    struct hx_server s;
    su_start(&s, (const char *const[]){"--websockify-target", target, NULL});
    wu_expect_refused(&s, "/websockify", NULL, 502, "websockify", "CONNREFUSED");
    assert_int_equal(cu_stop(&s), 0);
    /* The destination policy covers the target. */
    char deny[48];
    snprintf(deny, sizeof(deny), "127.0.0.1/32:%u", closed_port);
    su_start(&s, (const char *const[]){"--websockify-target", target, "--deny", deny, NULL});
    wu_expect_refused(&s, "/websockify", NULL, 403, "websockify", "DENIED");
    /* No socket is left behind by a refused target. */
    struct hx_response r;
    hx_request(&s, "GET", "/sockets", NULL, &r);
    assert_string_equal(r.body, "{\"sockets\":[]}");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&s), 0);
    /* Unconfigured: /websockify says how to configure it. */
    su_start(&s, NULL);
    wu_expect_refused(&s, "/websockify", NULL, 404, "websockify", "INVAL");
    assert_int_equal(cu_stop(&s), 0);
}

static void test_fixed_target_needs_the_credential(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char target[32];
    snprintf(target, sizeof(target), "localhost:%u", port);
    struct hx_server s;
    su_start(&s, (const char *const[]){"--websockify-target", target, "--token", "t0k", NULL});
    wu_expect_refused(&s, "/websockify", NULL, 401, "websockify", "AUTH");
    wu_expect_refused(&s, "/websockify?token=nope", NULL, 401, "websockify", "AUTH");
    struct wsc c;
    wu_open_path(&c, &s, "/websockify?token=t0k", NULL);
    int peer = hx_accept(lfd);
    exchange(&c, peer, "with token");
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    close(lfd);
    assert_int_equal(cu_stop(&s), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_token_file(void **state)
{
    (void)state;
    uint16_t pa, pb;
    int la = hx_tcp_listener(false, &pa), lb6 = hx_tcp_listener(true, &pb);
    char path[64], text[512];
    snprintf(path, sizeof(path), "/tmp/sockgate-tokens-%d", (int)getpid());
    snprintf(text, sizeof(text),
             "# websockify's format: token: host:port\n"
             "alpha: 127.0.0.1:%u\n"
             "\n"
             "beta:\t[::1]:%u\n"
             "not a token line\n",
             pa, pb);
    write_file(path, text);
    struct hx_server s;
    /* A REST token too: the file's tokens are credentials for their target only. */
    su_start(&s, (const char *const[]){"--websockify-tokens", path, "--token", "rest", NULL});
    struct wsc c;
    wu_open_path(&c, &s, "/websockify?token=alpha", NULL);
    int peer = hx_accept(la);
    exchange(&c, peer, "to alpha");
    /* That socket is nobody's over REST. */
    struct hx_response r;
    su_req_auth(&s, "GET", "/sockets", "rest", NULL, NULL, &r);
    assert_string_equal(r.body, "{\"sockets\":[]}");
    hx_response_free(&r);
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    wu_open_path(&c, &s, "/websockify?token=beta", NULL);
    peer = hx_accept(lb6);
    exchange(&c, peer, "to beta over IPv6");
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    /* Unknown, missing, and a REST token: 401. */
    wu_expect_refused(&s, "/websockify?token=gamma", NULL, 401, "websockify", "AUTH");
    wu_expect_refused(&s, "/websockify", NULL, 401, "websockify", "AUTH");
    wu_expect_refused(&s, "/websockify?token=rest", NULL, 401, "websockify", "AUTH");
    /* The file is read again when it changes, as websockify reads it per connection. */
    usleep(20000);
    snprintf(text, sizeof(text), "gamma: 127.0.0.1:%u\n", pa);
    write_file(path, text);
    wu_expect_refused(&s, "/websockify?token=alpha", NULL, 401, "websockify", "AUTH");
    wu_open_path(&c, &s, "/websockify?token=gamma", NULL);
    peer = hx_accept(la);
    exchange(&c, peer, "to gamma");
    close(peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    assert_int_equal(cu_stop(&s), 0);
    unlink(path);
    close(la);
    close(lb6);
}

static void test_bad_settings(void **state)
{
    (void)state;
    const char *bin = getenv("SOCKGATE_BIN") ? getenv("SOCKGATE_BIN") : "build/sockgate";
    const char *bad[][4] = {
        {"--websockify-target", "nohostport", NULL, NULL},
        {"--websockify-target", "127.0.0.1:70000", NULL, NULL},
        {"--websockify-tokens", "/nonexistent/tokens", NULL, NULL},
        {"--websockify-target", "127.0.0.1:1", "--websockify-tokens", "/etc/hostname"},
        {"--websockify-path", "no-slash", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "%s --listen 127.0.0.1:%u %s %s %s %s >/dev/null 2>&1", bin,
                 (unsigned)hx_free_port(), bad[i][0], bad[i][1], bad[i][2] ? bad[i][2] : "",
                 bad[i][3] ? bad[i][3] : "");
        /* Refused at start: a non-zero status (2 for a flag's syntax, 1 for a file). */
        int st = system(cmd);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || WEXITSTATUS(st) > 2)
            fail_msg("%s: expected a refusal at start, got status %d", cmd, st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fixed_target, su_stop_leftovers),
        cmocka_unit_test_teardown(test_target_refused_and_denied, su_stop_leftovers),
        cmocka_unit_test_teardown(test_fixed_target_needs_the_credential, su_stop_leftovers),
        cmocka_unit_test_teardown(test_token_file, su_stop_leftovers),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests_name("websockify", tests, NULL, NULL);
}
