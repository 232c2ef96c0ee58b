/*
 * Name look-ups (SPEC §13) through the real server over real HTTP: GET /getaddrinfo and
 * GET /getnameinfo answer JMP's list shapes, one row per address; literals, localhost and
 * service names; bad input answers INVAL with 400; credentials as every endpoint; a
 * gateway listening beyond loopback answers only addresses its policy lets a client
 * reach. Names that are not loopback's are named here (10.x, a name only DNS could
 * answer), so the whole test runs in a network namespace of its own where only lo
 * exists (hx_netns_enter): no query or packet leaves the machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "netns.h"
#include "srv_util.h"

/* Row i (0-based, after "ok") of a look-up answer as five strings joined by '|'. */
static const char *row(const struct hx_response *r, int i, char *buf, size_t size)
{
    cJSON *item = r->json ? cJSON_GetArrayItem(r->json, 2 + i) : NULL;
    buf[0] = '\0';
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 5)
        return buf;
    size_t o = 0;
    for (int k = 0; k < 5; k++) {
        cJSON *s = cJSON_GetArrayItem(item, k);
        if (!cJSON_IsString(s))
            return buf;
        o += (size_t)snprintf(buf + o, size - o, "%s%s", k ? "|" : "", s->valuestring);
    }
    return buf;
}

/* GET path with token (NULL: none); expects status and element 2 starting with outcome. */
static void expect(const struct hx_server *s, const char *token, const char *path, int status,
                   const char *cmd, const char *outcome, struct hx_response *r)
{
    su_req_auth(s, "GET", path, token, NULL, NULL, r);
    if (r->status != status || !hx_elem(r, 0) || strcmp(hx_elem(r, 0), cmd) != 0 ||
        !hx_elem(r, 1) || strncmp(hx_elem(r, 1), outcome, strlen(outcome)) != 0)
        fail_msg("GET %s: %d %s, expected %d [%s, %s...]", path, r->status,
                 r->body ? r->body : "", status, cmd, outcome);
    const char *type = strstr(r->headers, "Content-Type: application/json");
    assert_non_null(type);
}

/* The rows of an ok answer, each checked against `want` (NULL-terminated, in order). */
static void expect_rows(const struct hx_server *s, const char *path, const char *const *want)
{
    struct hx_response r;
    expect(s, NULL, path, 200, strstr(path, "nameinfo") ? "getnameinfo" : "getaddrinfo", "ok",
           &r);
    int n = 0;
    char buf[256];
    while (want[n]) {
        if (strcmp(row(&r, n, buf, sizeof(buf)), want[n]) != 0)
            fail_msg("GET %s: row %d is '%s', expected '%s' (%s)", path, n, buf, want[n], r.body);
        n++;
    }
    assert_int_equal(hx_len(&r), 2 + n);
    hx_response_free(&r);
}

static void test_getaddrinfo_loopback_forms(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    expect_rows(&srv, "/getaddrinfo?name=localhost&port=80",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|127.0.0.1|80",
                                 "PF_INET6|SOCK_0|IPPROTO_0|::1|80", NULL});
    expect_rows(&srv, "/getaddrinfo?name=LocalHost.&port=443",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|127.0.0.1|443",
                                 "PF_INET6|SOCK_0|IPPROTO_0|::1|443", NULL});
    expect_rows(&srv, "/getaddrinfo?name=127.0.0.1&port=http",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|127.0.0.1|80", NULL});
    expect_rows(&srv, "/getaddrinfo?name=127.1.2.3&port=6379",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|127.1.2.3|6379", NULL});
    expect_rows(&srv, "/getaddrinfo?name=::1",
                (const char *[]){"PF_INET6|SOCK_0|IPPROTO_0|::1|0", NULL});
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_getnameinfo_loopback_forms(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    expect_rows(&srv, "/getnameinfo?address=127.0.0.1&port=80",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|localhost|80", NULL});
    expect_rows(&srv, "/getnameinfo?address=::1&port=22",
                (const char *[]){"PF_INET6|SOCK_0|IPPROTO_0|localhost|22", NULL});
    expect_rows(&srv, "/getnameinfo?address=127.0.0.9",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|localhost|0", NULL});
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_lookup_bad_input(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, NULL);
    struct hx_response r;
    const char *const bad[] = {
        "/getaddrinfo",                              /* no name */
        "/getaddrinfo?name=",                        /* an empty one */
        "/getaddrinfo?name=bad%20name&port=80",      /* not a DNS name */
        "/getaddrinfo?name=a..b",
        "/getaddrinfo?name=0177.0.0.1&port=80",      /* octal: 177.0.0.1 to some readers */
        "/getaddrinfo?name=2130706433",              /* a number is no name either */
        "/getaddrinfo?name=0x7f.1",
        "/getaddrinfo?name=localhost&port=65536",
        "/getaddrinfo?name=localhost&port=nosuchservice",
        "/getaddrinfo?name=localhost&bogus=1",
        "/getnameinfo?address=localhost&port=80",    /* an address, not a name */
        "/getnameinfo?address=127.0.0.1&port=-1",
        "/getnameinfo?port=80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect(&srv, NULL, bad[i], 400, strstr(bad[i], "nameinfo") ? "getnameinfo" : "getaddrinfo",
               "INVAL", &r);
        hx_response_free(&r);
    }
    hx_request(&srv, "POST", "/getaddrinfo?name=localhost", NULL, &r);
    hx_expect(&r, 405, "getaddrinfo", "INVAL");
    assert_non_null(strstr(r.headers, "Allow: GET"));
    hx_response_free(&r);
    hx_request(&srv, "GET", "/getaddrinfo/x?name=localhost", NULL, &r);
    assert_int_equal(r.status, 404);
    hx_response_free(&r);
    /* The server is still well: a good look-up answers after all that. */
    expect_rows(&srv, "/getaddrinfo?name=localhost&port=1",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|127.0.0.1|1",
                                 "PF_INET6|SOCK_0|IPPROTO_0|::1|1", NULL});
    assert_int_equal(hx_stop(&srv), 0);
}

/* A name only DNS could answer: in this namespace no resolver is reachable, so c-ares
 * gives up on the loop (never blocking) and the answer is HOSTNOTFOUND, status 200 (the
 * look-up ran). A reverse look-up that finds no name answers the numeric address. */
static void test_lookup_not_found(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--allow", "10.0.0.0/8", NULL});
    struct hx_response r;
    expect(&srv, NULL, "/getaddrinfo?name=no-such-host.invalid&port=80", 200, "getaddrinfo",
           "HOSTNOTFOUND", &r);
    hx_response_free(&r);
    expect_rows(&srv, "/getnameinfo?address=10.1.2.3&port=80",
                (const char *[]){"PF_INET|SOCK_0|IPPROTO_0|10.1.2.3|80", NULL});
    assert_int_equal(hx_stop(&srv), 0);
}

static void test_lookup_needs_credential(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start(&srv, (const char *[]){"--token", "tok", NULL});
    struct hx_response r;
    su_req_auth(&srv, "GET", "/getaddrinfo?name=localhost", NULL, NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    assert_string_equal(hx_elem(&r, 0), "getaddrinfo");
    hx_response_free(&r);
    su_req_auth(&srv, "GET", "/getnameinfo?address=127.0.0.1", "wrong", NULL, NULL, &r);
    su_expect_refused(&r, 401, "AUTH");
    assert_string_equal(hx_elem(&r, 0), "getnameinfo");
    hx_response_free(&r);
    expect(&srv, "tok", "/getaddrinfo?name=127.0.0.1&port=80", 200, "getaddrinfo", "ok", &r);
    hx_response_free(&r);
    expect(&srv, NULL, "/getnameinfo?address=127.0.0.1&token=tok", 200, "getnameinfo", "ok", &r);
    hx_response_free(&r);
    assert_int_equal(hx_stop(&srv), 0);
}

/* Beyond loopback the policy refuses loopback and private networks: a look-up tells
 * nothing of them (DENIED, 403), and what --allow opens is answered. */
static void test_lookup_exposed_gateway(void **state)
{
    (void)state;
    struct hx_server srv;
    su_start_exposed(&srv, (const char *[]){"--token", "tok", "--allow", "10.9.0.0/16", NULL});
    struct hx_response r;
    const char *const denied[] = {
        "/getaddrinfo?name=localhost&port=80",
        "/getaddrinfo?name=127.0.0.1&port=80",
        "/getaddrinfo?name=::1",
        "/getaddrinfo?name=10.1.2.3&port=80",
        "/getaddrinfo?name=169.254.169.254&port=80",
        "/getnameinfo?address=127.0.0.1&port=80",
        "/getnameinfo?address=192.168.1.1",
    };
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        expect(&srv, "tok", denied[i], 403, strstr(denied[i], "nameinfo") ? "getnameinfo"
                                                                          : "getaddrinfo",
               "DENIED", &r);
        hx_response_free(&r);
    }
    expect(&srv, "tok", "/getaddrinfo?name=10.9.1.2&port=80", 200, "getaddrinfo", "ok", &r);
    char buf[256];
    assert_string_equal(row(&r, 0, buf, sizeof(buf)), "PF_INET|SOCK_0|IPPROTO_0|10.9.1.2|80");
    assert_int_equal(hx_len(&r), 3);
    hx_response_free(&r);
    assert_int_equal(hx_stop(&srv), 0);
}

int main(void)
{
    hx_netns_enter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_getaddrinfo_loopback_forms, su_stop_leftovers),
        cmocka_unit_test_teardown(test_getnameinfo_loopback_forms, su_stop_leftovers),
        cmocka_unit_test_teardown(test_lookup_bad_input, su_stop_leftovers),
        cmocka_unit_test_teardown(test_lookup_not_found, su_stop_leftovers),
        cmocka_unit_test_teardown(test_lookup_needs_credential, su_stop_leftovers),
        cmocka_unit_test_teardown(test_lookup_exposed_gateway, su_stop_leftovers),
    };
    return cmocka_run_group_tests_name("lookups", tests, NULL, NULL);
}
