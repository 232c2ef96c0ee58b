/*
 * Small helpers shared by the command and error integration tests, on top of harness.h:
 * formatted command bodies, the answer checks of SPEC §1/§5, socket names, a canonical
 * ascii~hex encoder, and a clean-exit check that also reads the server's log for
 * sanitizer reports. Header-only (static inline), so the Makefile needs no new rule.
 */
#ifndef SOCKGATE_CMD_UTIL_H
#define SOCKGATE_CMD_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The group most command tests run in: one server `srv` (--max-wait 5) for the whole
 * file, started by group_setup and stopped by group_teardown, and test_clean_exit, which
 * checks that it leaked nothing (put it last). */
#define CU_SERVER_GROUP(srv)                                                        \
    static struct hx_server srv;                                                    \
    static int group_setup(void **state)                                            \
    {                                                                               \
        (void)state;                                                                \
        static const char *const args[] = {"--max-wait", "5", NULL};                \
        hx_start(&srv, args);                                                       \
        return 0;                                                                   \
    }                                                                               \
    static int group_teardown(void **state)                                         \
    {                                                                               \
        (void)state;                                                                \
        return cu_teardown(&srv);                                                   \
    }                                                                               \
    static void test_clean_exit(void **state)                                       \
    {                                                                               \
        (void)state;                                                                \
        cu_test_clean_exit(&srv);                                                   \
    }

/* POST /sockets/<id>/<cmd> with a printf-formatted body (fmt NULL: no body). */
static inline void cu_cmdf(const struct hx_server *s, const char *id, const char *cmd,
                           struct hx_response *r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline void cu_cmdf(const struct hx_server *s, const char *id, const char *cmd,
                           struct hx_response *r, const char *fmt, ...)
{
    char body[8192];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
        assert_true(n >= 0 && (size_t)n < sizeof(body));
    }
    hx_cmd(s, id, cmd, fmt ? body : NULL, r);
}

/* Any request with a printf-formatted path. */
static inline void cu_reqf(const struct hx_server *s, const char *method, const char *body,
                           struct hx_response *r, const char *pathfmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline void cu_reqf(const struct hx_server *s, const char *method, const char *body,
                           struct hx_response *r, const char *pathfmt, ...)
{
    char path[2048];
    va_list ap;
    va_start(ap, pathfmt);
    int n = vsnprintf(path, sizeof(path), pathfmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(path));
    hx_request(s, method, path, body, r);
}

/* Checks an error answer: status, ["cmd", "NAME: description."], application/json. */
static inline void cu_expect_err(const struct hx_response *r, int status, const char *cmd,
                                 const char *name)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s: ", name);
    hx_expect(r, status, cmd, prefix);
    const char *e = hx_elem(r, 1);
    size_t len = strlen(e);
    if (len <= strlen(prefix) || e[len - 1] != '.')
        fail_msg("error element should read '%sdescription.': %s", prefix, r->body);
}

/* Runs a command that must answer 200 ["cmd","ok",...] and frees the answer. */
static inline void cu_ok(const struct hx_server *s, const char *id, const char *cmd,
                         const char *body)
{
    struct hx_response r;
    hx_cmd(s, id, cmd, body, &r);
    hx_expect(&r, 200, cmd, "ok");
    hx_response_free(&r);
}

/* A gateway STREAM socket (IPv6 when v6) connected to a real loopback peer; *peer is
 * the peer's fd, which the caller closes. */
static inline void cu_connected_pair(const struct hx_server *s, bool v6, char *id, int *peer)
{
    uint16_t port;
    int lfd = hx_tcp_listener(v6, &port);
    hx_socket(s, v6 ? "{\"family\":\"IPV6\"}" : NULL, id);
    struct hx_response r;
    cu_cmdf(s, id, "connect", &r, "[\"%s\",%u]", v6 ? "::1" : "127.0.0.1", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    *peer = hx_accept(lfd);
    close(lfd);
}

/* getsockname (peer false) or getpeername (peer true) by POST: address and port. */
static inline void cu_name(const struct hx_server *s, const char *id, bool peer, char *addr,
                           size_t addrlen, unsigned *port)
{
    struct hx_response r;
    const char *cmd = peer ? "getpeername" : "getsockname";
    hx_cmd(s, id, cmd, NULL, &r);
    hx_expect(&r, 200, cmd, "ok");
    assert_int_equal(hx_len(&r), 4);
    snprintf(addr, addrlen, "%s", hx_elem(&r, 2));
    char *end;
    unsigned long p = strtoul(hx_elem(&r, 3), &end, 10);
    assert_true(*end == '\0' && p <= 65535);
    *port = (unsigned)p;
    hx_response_free(&r);
}

/* The value of header `name` (case-insensitive), copied into out; false when absent. */
static inline bool cu_header(const struct hx_response *r, const char *name, char *out,
                             size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p; p = strstr(p, "\r\n")) {
        if (p[0] == '\r')
            p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

/* The server still answers /healthz. */
static inline void cu_healthz(const struct hx_server *s)
{
    struct hx_response r;
    hx_request(s, "GET", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    hx_response_free(&r);
}

/* SPEC §4 encoding: 0x20-0x7E as themselves except ~ \ " !, all else ~XX. out: 3n+1. */
static inline void cu_asciihex(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c >= 0x20 && c <= 0x7E && c != '~' && c != '\\' && c != '"' && c != '!') {
            *o++ = (char)c;
        } else {
            *o++ = '~';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
}

/* Polls FIONREAD until it reports `want` bytes (bounded: 3 s). */
static inline void cu_wait_fionread(const struct hx_server *s, const char *id, unsigned want)
{
    for (int i = 0; i < 300; i++) {
        struct hx_response r;
        hx_cmd(s, id, "ioctl", "[\"FIONREAD\"]", &r);
        hx_expect(&r, 200, "ioctl", "ok");
        unsigned got = (unsigned)strtoul(hx_elem(&r, 2), NULL, 10);
        hx_response_free(&r);
        if (got >= want)
            return;
        usleep(10000);
    }
    fail_msg("FIONREAD never reached %u on %s", want, id);
}

/* Fails when the server's stderr holds a sanitizer report. */
static inline int cu_log_clean(const struct hx_server *s)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    char line[1024];
    int bad = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "AddressSanitizer") || strstr(line, "LeakSanitizer") ||
            strstr(line, "runtime error:") || strstr(line, "UndefinedBehaviorSanitizer")) {
            fprintf(stderr, "sanitizer report in %s: %s", s->log_path, line);
            bad = 1;
        }
    }
    fclose(f);
    return bad ? -1 : 0;
}

/* Stops the server; 0 when it exited with status 0 and logged no sanitizer report. */
static inline int cu_stop(struct hx_server *s)
{
    char log_path[sizeof(s->log_path)];
    snprintf(log_path, sizeof(log_path), "%s", s->log_path);
    int st = hx_stop(s);
    if (st != 0)
        fprintf(stderr, "sockgate exited with status %d; log in %s\n", st, log_path);
    int clean = cu_log_clean(s);
    if (st == 0 && clean == 0)
        unlink(log_path);
    return st == 0 && clean == 0 ? 0 : -1;
}

/* The last test of a group: SIGTERM must end the server with status 0 (the sanitizer
 * build turns leaks into a non-zero status) and its log must hold no sanitizer report.
 * A test rather than the group teardown, as cmocka 1.1.5 does not count a failed group
 * teardown in its exit status. */
static inline void cu_test_clean_exit(struct hx_server *s)
{
    assert_true(s->pid > 0);
    assert_int_equal(cu_stop(s), 0);
}

/* Group teardown: stops the server if a failed test left it running. */
static inline int cu_teardown(struct hx_server *s)
{
    if (s->pid > 0)
        hx_stop(s);
    return 0;
}

#endif
