/*
 * Nothing a request does may block the event loop, and no timeout may follow the wall
 * clock. Through the real server: ports given as service names are served without a call
 * into NSS (counted by an LD_PRELOAD shim), the console's files are read once at start
 * (a file removed afterwards is still served), and --idle-timeout counts on the monotonic
 * clock (a wall-clock jump of a day, made by a shim, closes nothing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"

static void test_service_names_make_no_nss_call(void **state)
{
    (void)state;
    char count_file[128], count_env[160];
    snprintf(count_file, sizeof(count_file), "/tmp/sockgate-nss-count-%d", (int)getpid());
    snprintf(count_env, sizeof(count_env), "SOCKGATE_SHIM_COUNT_FILE=%s", count_file);
    unlink(count_file);
    struct hx_server srv;
    su_start_shim(&srv, "nss_count", NULL, count_env);
    cu_healthz(&srv);
    unsigned long at_start = su_read_count(count_file);

    /* "http" is port 80: refused below 1024, which says the name was resolved. */
    char id[64], dg[64];
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    hx_cmd(&srv, id, "bind", "[\"localhost\",\"http\"]", &r);
    cu_expect_err(&r, 403, "bind", "DENIED");
    assert_non_null(strstr(hx_elem(&r, 1), "port 80 "));
    hx_response_free(&r);
    /* connect and sendto take names too (nothing listens there on loopback). */
    hx_cmd(&srv, id, "connect", "{\"socketname\":\"127.0.0.1\",\"port\":\"http\"}", &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_socket(&srv, "[\"DGRAM\"]", dg);
    hx_cmd(&srv, dg, "sendto", "[\"127.0.0.1\",\"domain\",\"x\"]", &r);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    hx_cmd(&srv, dg, "sendto", "[\"127.0.0.1\",\"no-such-service\",\"x\"]", &r);
    cu_expect_err(&r, 400, "sendto", "INVAL");
    hx_response_free(&r);

    unsigned long after = su_read_count(count_file);
    if (after != at_start)
        fail_msg("serving the requests made %lu NSS calls (see %s)", after - at_start,
                 srv.log_path);
    unlink(count_file);
    assert_int_equal(cu_stop(&srv), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_console_files_are_read_once_at_start(void **state)
{
    (void)state;
    char dir[] = "/tmp/sockgate-web-XXXXXX", index[96], script[96];
    assert_non_null(mkdtemp(dir));
    snprintf(index, sizeof(index), "%s/index.html", dir);
    snprintf(script, sizeof(script), "%s/app.js", dir);
    write_text(index, "<!doctype html><title>the first console</title>");
    write_text(script, "console.log('first');");
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--web-dir", dir, NULL});
    struct hx_response r;
    hx_request(&srv, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "the first console"));
    hx_response_free(&r);

    /* Changed on disk after start: served as it was, with no file opened per request. */
    assert_int_equal(unlink(index), 0);
    write_text(script, "console.log('second');");
    hx_request(&srv, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "the first console"));
    assert_non_null(strstr(r.headers, "Content-Security-Policy"));
    hx_response_free(&r);
    hx_request(&srv, "GET", "/app.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "console.log('first');");
    hx_response_free(&r);
    hx_request(&srv, "GET", "/other.js", NULL, &r);
    assert_int_equal(r.status, 404);
    hx_response_free(&r);
    unlink(script);
    rmdir(dir);
    assert_int_equal(cu_stop(&srv), 0);
}

static int socket_status(const struct hx_server *srv, const char *id)
{
    struct hx_response r;
    cu_reqf(srv, "GET", NULL, &r, "/sockets/%s", id);
    int status = r.status;
    hx_response_free(&r);
    return status;
}

static void test_idle_timeout_ignores_wall_clock_jumps(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_shim(&srv, "clock_jump", (const char *[]){"--idle-timeout", "2", NULL}, NULL);
    char id[64];
    hx_socket(&srv, NULL, id);
    assert_int_equal(kill(srv.pid, SIGUSR2), 0); /* the wall clock is a day ahead now */
    /* The idle sweep runs every 500 ms: it has looked at the socket twice by now. */
    usleep(1200 * 1000);
    if (socket_status(&srv, id) != 200)
        fail_msg("a wall-clock jump closed a socket used 1.2 s ago (--idle-timeout 2)");
    /* It still closes once really idle for 2 s. */
    int status = 200;
    for (int i = 0; i < 50 && status == 200; i++) {
        usleep(100 * 1000);
        status = socket_status(&srv, id);
    }
    assert_int_equal(status, 404);
    assert_int_equal(cu_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_service_names_make_no_nss_call, su_stop_leftovers),
        cmocka_unit_test_teardown(test_console_files_are_read_once_at_start, su_stop_leftovers),
        cmocka_unit_test_teardown(test_idle_timeout_ignores_wall_clock_jumps, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("loop_never_blocks", tests, NULL, NULL);
}
