/*
 * Failures the kernel can hand the real server, made to happen with LD_PRELOAD shims
 * (tests/shim/): sendto answering ENOBUFS on an always-writable datagram socket, the
 * event loop's epoll_wait failing while requests wait, epoll_ctl refusing watches to waits
 * and to a WebSocket bridge, and libmicrohttpd's panic. Each test counts what happened
 * (system calls made, answers received, lines logged) rather than timing it.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"
#include "sse.h"
#include "ws_util.h"

/* ENOBUFS on a datagram socket, which still polls writable: the sendto answers the error
 * after one attempt. Waiting for EPOLLOUT instead retried at full speed until the wait ran
 * out, thousands of calls a second. */
static void test_sendto_enobufs_does_not_spin(void **state)
{
    (void)state;
    char count_file[128], count_env[160];
    snprintf(count_file, sizeof(count_file), "/tmp/sockgate-shim-count-%d", (int)getpid());
    snprintf(count_env, sizeof(count_env), "SOCKGATE_SHIM_COUNT_FILE=%s", count_file);
    unlink(count_file);
    struct hx_server srv;
    su_start_shim(&srv, "sendto_nobufs", (const char *[]){"--max-wait", "2", NULL}, count_env);
    uint16_t port;
    int peer = hx_udp_socket(false, &port);
    char id[64];
    hx_socket(&srv, "[\"DGRAM\"]", id);
    struct hx_response r;
    cu_cmdf(&srv, id, "sendto", &r, "[\"127.0.0.1\",%u,\"hello\"]", port);
    cu_expect_err(&r, 200, "sendto", "NOBUFS");
    assert_int_equal(hx_len(&r), 3);
    assert_string_equal(hx_elem(&r, 2), "hello"); /* nothing went: all of it is unsent */
    hx_response_free(&r);
    unsigned long calls = su_read_count(count_file);
    if (calls < 1 || calls > 2)
        fail_msg("one sendto should have been tried, not %lu", calls);
    /* The socket is still usable, and the server did not busy itself meanwhile. */
    cu_healthz(&srv);
    assert_int_equal(su_read_count(count_file), calls);
    close(peer);
    unlink(count_file);
    assert_int_equal(cu_stop(&srv), 0);
}

/* The exit status of a server that exits by itself within ms, or -1. */
static int wait_exit(struct hx_server *s, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    return -1;
}

/* The event loop's epoll_wait fails while a recv waits and an event stream listens: the
 * server says why in its log, answers the recv as SIGTERM would (CLOSED, the server is
 * shutting down), ends the stream, and exits 1 by itself. It used to exit without a word,
 * or abort inside libmicrohttpd (a suspended connection at MHD_stop_daemon), the waiting
 * client left with a reset. */
static void test_failing_loop_is_loud_and_answers(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_shim(&srv, "epoll_fail", NULL, NULL);
    char id[64], path[128];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    int waiting = hx_send_only(&srv, "POST", path, "[100]");
    struct sse_stream st;
    sse_open(&st, srv.port, NULL);
    for (int i = 0; i < 300; i++) {
        struct hx_response r;
        cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s", id);
        const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending");
        bool waits = cJSON_IsNumber(pending) && pending->valuedouble == 1;
        hx_response_free(&r);
        if (waits)
            break;
        usleep(10000);
    }
    assert_int_equal(kill(srv.pid, SIGUSR2), 0);

    struct hx_response r;
    hx_read_response(waiting, 5000, &r);
    close(waiting);
    cu_expect_err(&r, 200, "recv", "CLOSED");
    assert_non_null(strstr(hx_elem(&r, 1), "shutting down"));
    hx_response_free(&r);
    struct sse_event ev;
    assert_int_equal(sse_next(&st, 5000, &ev), -1); /* the stream ended */
    sse_close(&st);
    assert_int_equal(wait_exit(&srv, 10000), 1);
    static char log[65536];
    su_read_log(&srv, log, sizeof(log));
    if (!strstr(log, "event loop failed") || !strstr(log, "Invalid argument"))
        fail_msg("the log does not say that the loop failed, and why:\n%s", log);
    assert_int_equal(cu_log_clean(&srv), 0);
    close(peer);
}

/* libmicrohttpd's panic (here: a close() that reports EBADF, which it takes for a corrupt
 * descriptor table) aborts the process: the gateway's panic handler says so, with
 * libmicrohttpd's reason, in a log that reaches stderr before the abort (the log is
 * buffered, so without the handler's flush the line was lost with the process). */
static void test_mhd_panic_is_logged_before_the_abort(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_shim(&srv, "close_ebadf", NULL, NULL);
    cu_healthz(&srv);
    assert_int_equal(kill(srv.pid, SIGUSR2), 0);
    /* The next HTTP connection libmicrohttpd closes is the one whose close() fails: that of
     * the request above if its client's leaving is seen only now, else this one's, which
     * connects and leaves (a connect that fails finds the server gone already). */
    usleep(50000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(srv.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    (void)connect(fd, (struct sockaddr *)&to, sizeof(to));
    close(fd);
    assert_int_equal(wait_exit(&srv, 10000), 128 + SIGABRT);
    static char log[65536];
    su_read_log(&srv, log, sizeof(log));
    if (!strstr(log, "libmicrohttpd panic at ") || !strstr(log, "Close socket failed"))
        fail_msg("the log does not carry libmicrohttpd's panic and its reason:\n%s", log);
}

/* The loop refuses to watch sockets (epoll_ctl fails with ENOSPC, as at max_user_watches):
 * a recv that would wait is answered at once, 429 LIMIT, rather than waiting for a wake-up
 * that cannot come; a background one ends with that error as its event; the server goes
 * on serving. It used to wait out --max-wait and answer TIMEDOUT. */
static void test_refused_watch_answers_the_wait(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_shim(&srv, "epoll_fail", (const char *[]){"--max-wait", "5", NULL},
                  "SOCKGATE_SHIM_EPOLL_CTL=1");
    char id[64], bg[64];
    int peer, bg_peer;
    cu_connected_pair(&srv, false, id, &peer);
    cu_connected_pair(&srv, false, bg, &bg_peer);
    struct sse_stream st;
    sse_open(&st, srv.port, NULL);
    assert_int_equal(kill(srv.pid, SIGUSR2), 0);
    cu_healthz(&srv); /* the signal has been taken */

    struct hx_response r;
    hx_cmd(&srv, id, "recv", "[10]", &r);
    cu_expect_err(&r, 429, "recv", "LIMIT"); /* not TIMEDOUT after --max-wait */
    assert_non_null(strstr(hx_elem(&r, 1), "cannot watch"));
    hx_response_free(&r);
    hx_cmd(&srv, bg, "recv", "{\"n\":10,\"callback\":\"onData\"}", &r);
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    struct sse_event ev;
    sse_expect(&st, 5000, "onData", &ev);
    assert_non_null(sse_elem(&ev, 1));
    assert_memory_equal(sse_elem(&ev, 1), "LIMIT: ", 7);
    assert_string_equal(sse_elem(&ev, 3), bg);
    sse_event_free(&ev);
    sse_close(&st);
    cu_healthz(&srv);
    close(peer);
    close(bg_peer);
    assert_int_equal(cu_stop(&srv), 0);
}

/* The loop refuses to watch a WebSocket bridge's connection (epoll_ctl fails with ENOSPC,
 * as at max_user_watches): the bridge ends at once with Close 1011 saying why, its socket
 * closes, and the log names the bridge. Its failure used to go unnoticed: the bridge then
 * waited for events that could never come, and the client heard nothing. */
static void test_refused_watch_ends_the_bridge(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_shim(&srv, "epoll_fail", NULL, "SOCKGATE_SHIM_EPOLL_CTL=1");
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    assert_int_equal(kill(srv.pid, SIGUSR2), 0);
    cu_healthz(&srv); /* the signal has been taken */

    struct wsc c;
    wu_open(&c, &srv, id, NULL);
    wu_expect_close(&c, 1011, "cannot watch the client's connection");
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
    uint8_t buf[16];
    assert_int_equal(wu_read_to_eof(peer, buf, sizeof(buf)), 0); /* the peer sees the end */
    close(peer);
    static char log[65536];
    char line[128];
    snprintf(line, sizeof(line), "WebSocket bridge on %s ended: the event loop cannot watch", id);
    if (!su_wait_log(&srv, line, log, sizeof(log)))
        fail_msg("the log does not say which bridge ended, and why:\n%s", log);
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sendto_enobufs_does_not_spin, su_stop_leftovers),
        cmocka_unit_test_teardown(test_failing_loop_is_loud_and_answers, su_stop_leftovers),
        cmocka_unit_test_teardown(test_refused_watch_answers_the_wait, su_stop_leftovers),
        cmocka_unit_test_teardown(test_refused_watch_ends_the_bridge, su_stop_leftovers),
        cmocka_unit_test_teardown(test_mhd_panic_is_logged_before_the_abort, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("faults_shim", tests, NULL, NULL);
}
