/*
 * The event tests' helpers (see event_util.h): each is a request or a loopback socket
 * call followed by the checks every caller would otherwise repeat. A failed check fails
 * the running test.
 */
#include "event_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A command that must start a background operation: 202 ["cmd","ok"], answered at once. */
void eu_bg_path(const struct hx_server *srv, const char *path, const char *cmd,
                const char *body)
{
    struct hx_response r;
    long long t0 = hx_now_ms();
    hx_request(srv, "POST", path, body, &r);
    long long took = hx_now_ms() - t0;
    hx_expect(&r, 202, cmd, "ok");
    assert_int_equal(hx_len(&r), 2);
    hx_response_free(&r);
    if (took > 2000)
        fail_msg("POST %s took %lld ms: a background operation must answer at once", path, took);
}

void eu_bg(const struct hx_server *srv, const char *id, const char *cmd, const char *body)
{
    char path[160];
    snprintf(path, sizeof(path), "/sockets/%s/%s", id, cmd);
    eu_bg_path(srv, path, cmd, body);
}

/* A command that must answer 200 ["cmd","ok",...]; returns element `want` (or NULL) in out. */
void eu_ok_cmd(const struct hx_server *srv, const char *id, const char *cmd, const char *body,
               int want, char *out, size_t outlen)
{
    struct hx_response r;
    hx_cmd(srv, id, cmd, body, &r);
    hx_expect(&r, 200, cmd, "ok");
    if (out) {
        const char *v = hx_elem(&r, want);
        assert_non_null(v);
        snprintf(out, outlen, "%s", v);
    }
    hx_response_free(&r);
}

/* A gateway STREAM socket connected to the test's listener; returns the peer's fd. */
int eu_connected(const struct hx_server *srv, int lfd, uint16_t port, char *id)
{
    char body[96];
    hx_socket(srv, NULL, id);
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", (unsigned)port);
    eu_ok_cmd(srv, id, "connect", body, 0, NULL, 0);
    return hx_accept(lfd);
}

/* A gateway socket bound to 127.0.0.1 with an OS-chosen port, which is returned. */
uint16_t eu_bound(const struct hx_server *srv, const char *type, char *id)
{
    char body[64], port[16];
    snprintf(body, sizeof(body), "{\"type\":\"%s\"}", type);
    hx_socket(srv, body, id);
    eu_ok_cmd(srv, id, "bind", "[\"127.0.0.1\",0]", 0, NULL, 0);
    eu_ok_cmd(srv, id, "getsockname", NULL, 3, port, sizeof(port));
    return (uint16_t)strtoul(port, NULL, 10);
}

void eu_send_dgram(int udp, uint16_t to, const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(to)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ssize_t n = sendto(udp, text, strlen(text), 0, (struct sockaddr *)&a, sizeof(a));
    assert_int_equal(n, (ssize_t)strlen(text));
}

double eu_socket_number(const struct hx_server *srv, const char *id, const char *field)
{
    char path[128];
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hx_request(srv, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r.json, field);
    assert_true(cJSON_IsNumber(v));
    double d = v->valuedouble;
    hx_response_free(&r);
    return d;
}

/* Waits until socket `id` has received `bytes`: every event for them is then published. */
void eu_wait_bytes_in(const struct hx_server *srv, const char *id, double bytes)
{
    long long deadline = hx_now_ms() + EU_EVENT_MS;
    while (eu_socket_number(srv, id, "bytes_in") < bytes) {
        if (hx_now_ms() > deadline)
            fail_msg("socket %s did not receive %.0f bytes in time", id, bytes);
        usleep(10000);
    }
}

unsigned long long eu_event_id(const struct sse_event *ev)
{
    if (!ev->has_id)
        fail_msg("event '%s' has no id: line", ev->name);
    char *end;
    unsigned long long v = strtoull(ev->id, &end, 10);
    if (end == ev->id || *end)
        fail_msg("event id '%s' is not a number", ev->id);
    return v;
}
