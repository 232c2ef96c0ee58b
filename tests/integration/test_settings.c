/*
 * Start-up settings, each through the real binary: settings that would break ids or
 * limits are refused, 0 means "no limit" where the help says so, a policy variable keeps
 * a rule's port list whole, a failed start frees what it made, and --max-connections is
 * never shrunk by the daemon's own cap. Every request goes to 127.0.0.1.
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

/* ---- settings ---------------------------------------------------------------------- */

/* --node prefixes every id, which travels in URL paths, JSON written by hand (the idle
 * close event) and Location headers: only characters safe in all three are taken. A size
 * with a sign is not a size, even behind a blank. */
static void test_bad_settings_refused(void **state)
{
    (void)state;
    static char out[4096];
    const char *bad_node[] = {"g\"w", "a/b", "a b", "a\\b", "a?b", "a%2fb"};
    for (size_t i = 0; i < sizeof(bad_node) / sizeof(bad_node[0]); i++) {
        if (su_run_binary((const char *[]){"--node", bad_node[i], "--listen", "127.0.0.1:1", NULL},
                       NULL, out, sizeof(out)) != 2)
            fail_msg("--node '%s' was accepted", bad_node[i]);
        assert_non_null(strstr(out, "node"));
    }
    assert_int_equal(su_run_binary((const char *[]){"--listen", "127.0.0.1:1", NULL},
                                "SOCKGATE_NODE=g\"w", out, sizeof(out)), 2);
    const char *size_flags[] = {"--max-body", "--max-sockets", "--max-recv", "--event-buffer",
                                "--max-connections"};
    for (size_t i = 0; i < sizeof(size_flags) / sizeof(size_flags[0]); i++) {
        if (su_run_binary((const char *[]){size_flags[i], " -1", "--listen", "127.0.0.1:1", NULL},
                       NULL, out, sizeof(out)) != 2)
            fail_msg("%s ' -1' was accepted", size_flags[i]);
    }

    /* The characters a router's rule and a URL take as they are still work. */
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--node", "gw-2.east_1", "--idle-timeout", "0.2", NULL});
    char id[64];
    hx_socket(&srv, NULL, id);
    assert_memory_equal(id, "gw-2.east_1.s", 13); /* then the run's id base and a count */
    struct hx_response r;
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* --max-sockets-per-token 0 is no limit per credential, as the engine takes it for the
 * sockets accept makes; POST /sockets must not read it as "none at all". */
static void test_zero_per_token_limit_is_none(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-sockets-per-token", "0", "--max-sockets", "3", NULL});
    char id[64];
    for (int i = 0; i < 3; i++)
        hx_socket(&srv, NULL, id);
    struct hx_response r;
    hx_request(&srv, "POST", "/sockets", NULL, &r);
    cu_expect_err(&r, 429, "socket", "LIMIT"); /* --max-sockets still holds */
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* SOCKGATE_DENY is a comma list, and a rule's PORTS may be one too: the README's
 * "--deny '::/0:1-79,81-442,444-65535'" must mean the same in the variable. */
static void test_policy_variable_with_port_list(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_env(&srv, NULL,
                 (const char *[]){"SOCKGATE_DENY=127.0.0.0/8:1-79,81-442,444-65535,::1/128", NULL},
                 0);
    static char log[16384];
    su_wait_log(&srv, "deny 127.0.0.0/8:1-79,81-442,444-65535", log, sizeof(log));
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", (unsigned)port);
    cu_expect_err(&r, 403, "connect", "DENIED");
    hx_response_free(&r);
    close(lfd);
    assert_int_equal(cu_stop(&srv), 0);
}

/* A port already taken: the server says so and exits 1, having freed what it made
 * before it tried (the sanitizer build reports a leak as a non-zero status and a log). */
static void test_listen_failure_exits_clean(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
    static char out[8192];
    int st = su_run_binary((const char *[]){"--listen", listen, NULL}, NULL, out, sizeof(out));
    close(lfd);
    if (strstr(out, "Sanitizer"))
        fail_msg("sanitizer report after a failed start:\n%s", out);
    assert_non_null(strstr(out, "cannot listen"));
    assert_int_equal(st, 1);
}

/* The daemon's own hard cap sits 256 above --max-connections so that the extra
 * connections can be told 429; it must not wrap around for the largest setting taken
 * (1000000: larger ones are refused at start), and 0 (no limit of sockgate's) must not
 * turn into a cap of 256. */
static void check_connections_not_capped(const char *value)
{
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--max-connections", value, NULL});
    enum { IDLE = 300 };
    int fds[IDLE];
    for (int i = 0; i < IDLE; i++) {
        fds[i] = hx_tcp_connect(false, srv.port);
        assert_true(fds[i] >= 0);
    }
    /* The 301st connection is served. */
    int fd = hx_tcp_connect(false, srv.port);
    assert_true(fd >= 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    hx_write_all(fd, req, strlen(req));
    char out[2048];
    su_read_all(fd, out, sizeof(out), 3000);
    close(fd);
    if (!strstr(out, "{\"status\":\"ok\"}"))
        fail_msg("--max-connections %s: connection %d was not served: '%.80s'", value, IDLE + 1,
                 out);
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_max_connections_not_shrunk(void **state)
{
    (void)state;
    check_connections_not_capped("1000000");
    check_connections_not_capped("0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_settings_refused, su_stop_leftovers),
        cmocka_unit_test_teardown(test_zero_per_token_limit_is_none, su_stop_leftovers),
        cmocka_unit_test_teardown(test_policy_variable_with_port_list, su_stop_leftovers),
        cmocka_unit_test_teardown(test_listen_failure_exits_clean, su_stop_leftovers),
        cmocka_unit_test_teardown(test_max_connections_not_shrunk, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
