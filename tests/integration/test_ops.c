/*
 * Operations: /metrics counters move as commands run, the access log (text and JSON,
 * never a token), --quiet, start-up lines, --help/--version, and settings taken from
 * environment variables.
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

#include "harness.h"
#include "srv_util.h"

/* The value of a metric line that starts with `prefix`, or -1 when absent. */
static double metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_metrics_count_commands(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    struct hx_response r;
    hx_request(&srv, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/plain"));
    assert_true(metric(r.body, "sockgate_open_sockets") == 0);
    assert_true(metric(r.body, "sockgate_commands_total{command=\"recv\",outcome=\"WOULDBLOCK\"}") < 0);
    hx_response_free(&r);

    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64], body[96];
    hx_socket(&srv, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", port);
    hx_cmd(&srv, id, "connect", body, &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    hx_cmd(&srv, id, "send", "[\"12345\"]", &r);
    hx_response_free(&r);
    hx_cmd(&srv, id, "ioctl", "[\"FIONBIO\",1]", &r);
    hx_response_free(&r);
    hx_cmd(&srv, id, "recv", "[10]", &r);
    hx_expect(&r, 200, "recv", "WOULDBLOCK");
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets/s99/getsockname", NULL, &r);
    assert_int_equal(r.status, 404);
    hx_response_free(&r);

    hx_request(&srv, "GET", "/metrics", NULL, &r);
    assert_true(metric(r.body, "sockgate_open_sockets") == 1);
    assert_true(metric(r.body, "sockgate_bytes_sent_total") == 5);
    assert_true(metric(r.body, "sockgate_commands_total{command=\"connect\",outcome=\"ok\"}") == 1);
    assert_true(metric(r.body, "sockgate_commands_total{command=\"recv\",outcome=\"WOULDBLOCK\"}") == 1);
    assert_true(metric(r.body, "sockgate_commands_total{command=\"socket\",outcome=\"ok\"}") == 1);
    assert_true(metric(r.body, "sockgate_http_requests_total{status=\"404\"}") == 1);
    assert_true(metric(r.body, "sockgate_http_requests_total{status=\"201\"}") == 1);
    hx_response_free(&r);
    close(peer);
    close(lfd);
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_access_log_text_without_token(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, (const char *[]){"--token", "sekrit-token-42", NULL});
    struct hx_response r;
    hx_request(&srv, "GET", "/sockets?token=sekrit-token-42", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request_h(&srv, "POST", "/sockets", "Authorization: Bearer sekrit-token-42\r\n", NULL, &r);
    assert_int_equal(r.status, 201);
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    assert_int_equal(hx_stop(&srv), 0);
    const char *log = read_file(srv.log_path);
    assert_non_null(strstr(log, "listening on http://127.0.0.1:"));
    assert_non_null(strstr(log, "policy: "));
    assert_non_null(strstr(log, "\"GET /sockets\" 200"));
    assert_non_null(strstr(log, "\"POST /sockets\" 201"));
    assert_non_null(strstr(log, "\"GET /sockets\" 401"));
    assert_null(strstr(log, "sekrit-token-42"));
}

static void test_access_log_json_and_quiet(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, (const char *[]){"--log-format", "json", NULL});
    struct hx_response r;
    hx_request(&srv, "GET", "/healthz", NULL, &r);
    hx_response_free(&r);
    assert_int_equal(hx_stop(&srv), 0);
    const char *log = read_file(srv.log_path);
    const char *line = strstr(log, "{\"time\":\"");
    assert_non_null(line);
    const char *access = strstr(log, "\"path\":\"/healthz\"");
    assert_non_null(access);
    while (access > log && access[-1] != '\n')
        access--;
    cJSON *j = cJSON_ParseWithOpts(access, NULL, 0);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "method")->valuestring, "GET");
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 200);
    assert_string_equal(cJSON_GetObjectItem(j, "client")->valuestring, "127.0.0.1");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "duration_ms")));
    assert_true(cJSON_GetObjectItem(j, "bytes")->valueint > 0);
    cJSON_Delete(j);

    hx_start(&srv, (const char *[]){"--quiet", NULL});
    hx_request(&srv, "GET", "/healthz", NULL, &r);
    hx_response_free(&r);
    assert_int_equal(hx_stop(&srv), 0);
    assert_null(strstr(read_file(srv.log_path), "/healthz"));
}

static void test_environment_variables(void **state)
{
    (void)state;
    struct hx_server srv;
    setenv("SOCKGATE_NODE", "gw7", 1);
    setenv("SOCKGATE_MAX_RECV", "5", 1);
    hx_start(&srv, NULL);
    unsetenv("SOCKGATE_NODE");
    unsetenv("SOCKGATE_MAX_RECV");
    char id[64];
    hx_socket(&srv, NULL, id);
    assert_memory_equal(id, "gw7.s", 5); /* then the run's id base and a count */
    struct hx_response r;
    hx_cmd(&srv, id, "recv", "[6]", &r);
    hx_expect(&r, 413, "recv", "LIMIT");
    hx_response_free(&r);
    /* A flag wins over its variable. */
    assert_int_equal(hx_stop(&srv), 0);
    setenv("SOCKGATE_NODE", "gw7", 1);
    hx_start(&srv, (const char *[]){"--node", "gw8", NULL});
    unsetenv("SOCKGATE_NODE");
    hx_socket(&srv, NULL, id);
    assert_memory_equal(id, "gw8.s", 5); /* then the run's id base and a count */
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_help_version_and_bad_flags(void **state)
{
    (void)state;
    static char out[16384];
    assert_int_equal(su_run_binary((const char *[]){"--help", NULL}, NULL, out, sizeof(out)), 0);
    const char *flags[] = {"--listen", "--max-wait", "--token", "--allow", "--deny", "--allow-bind",
                           "--max-sockets", "--max-body", "--max-recv", "--max-waits",
                           "--max-connections", "--max-connections-per-ip", "--idle-timeout",
                           "--cors", "--log-format", "--quiet", "--node", "--no-auth", "--version"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strstr(out, flags[i]))
            fail_msg("--help does not list %s", flags[i]);
    assert_non_null(strstr(out, "SOCKGATE_LISTEN"));
    assert_int_equal(su_run_binary((const char *[]){"--version", NULL}, NULL, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "sockgate "));
    assert_int_equal(su_run_binary((const char *[]){"--max-wait", "soon", NULL}, NULL, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "max-wait"));
    assert_int_equal(su_run_binary((const char *[]){"--listen", "nowhere", NULL}, NULL, out, sizeof(out)), 2);
    assert_int_equal(su_run_binary((const char *[]){"--deny", "300.1.1.1/8", NULL}, NULL, out, sizeof(out)), 1);
}

/* Every size and count setting has a ceiling: above it the server refuses to start and
 * says the range, so that no setting can make a size sum wrap or promise more memory than
 * a machine has. The environment is held to the same. (su_run_binary fails a binary that
 * takes the settings and serves.) */
static void test_size_flags_have_ceilings(void **state)
{
    (void)state;
    static char out[4096];
    const char *too_big[][2] = {
        {"--max-sockets", "1000001"},     {"--max-sockets-per-token", "1000001"},
        {"--max-body", "1073741825"},     {"--max-recv", "18446744073709551615"},
        {"--max-waits", "1000001"},       {"--max-connections", "1000001"},
        {"--max-connections-per-ip", "1000001"}, {"--event-buffer", "100001"},
        {"--max-header-size", "65537"},   {"--max-header-size", "1023"},
        {"--max-waits", "0"},
    };
    for (size_t i = 0; i < sizeof(too_big) / sizeof(too_big[0]); i++) {
        int rc = su_run_binary((const char *[]){too_big[i][0], too_big[i][1], NULL}, NULL, out,
                               sizeof(out));
        if (rc != 2 || !strstr(out, too_big[i][0] + 2) || !strstr(out, "must be"))
            fail_msg("%s %s: expected exit 2 naming the range, got %d: %s", too_big[i][0],
                     too_big[i][1], rc, out);
    }
    int rc = su_run_binary((const char *[]){"--listen", "127.0.0.1:1", NULL},
                           "SOCKGATE_MAX_BODY=99999999999", out, sizeof(out));
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "SOCKGATE_MAX_BODY must be 0 to 1073741824"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_count_commands),
        cmocka_unit_test(test_access_log_text_without_token),
        cmocka_unit_test(test_access_log_json_and_quiet),
        cmocka_unit_test(test_environment_variables),
        cmocka_unit_test(test_help_version_and_bad_flags),
        cmocka_unit_test(test_size_flags_have_ceilings),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
