/*
 * SPEC §7 through the real server: credentials (tokens by flag and by SOCKGATE_TOKEN,
 * Bearer and ?token=, sockets and events invisible across tokens, the token generated
 * when listening beyond loopback), the destination policy (defaults by listen address,
 * --allow/--deny), bind restrictions, cross-origin checks, and that no token reaches the
 * access log. Allowed and refused cases alike. The limits are in test_limits.c.
 *
 * Every socket here talks to 127.0.0.0/8 or ::1 only. Refused destinations outside
 * loopback (169.254.169.254, ...) are refused by policy before any packet is sent, which
 * the DENIED answer shows; nothing is ever sent to an address that could be allowed
 * unless it is loopback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"
#include "sse.h"

#define QUIET_MS 500
#define EVENT_MS 5000

/* ---- helpers ---------------------------------------------------------------------- */

/* Servers started by this process. A failed assertion jumps past a test's own hx_stop,
 * so each test's teardown kills whatever it left running (a leftover server would also
 * hold the test's stdout open for whoever reads it). */
static pid_t started[16];
static int nstarted;

static void track(const struct hx_server *s)
{
    if (nstarted < (int)(sizeof(started) / sizeof(started[0])))
        started[nstarted++] = s->pid;
}

static void srv_start(struct hx_server *s, const char *const *args)
{
    hx_start(s, args);
    track(s);
}

static void srv_start_env(struct hx_server *s, const char *const *args, const char *const *env,
                          uint16_t port)
{
    hx_start_env(s, args, env, port);
    track(s);
}

static int stop_leftovers(void **state)
{
    (void)state;
    for (int i = 0; i < nstarted; i++) {
        int st;
        /* Still running and still ours: waitpid reaps only our own children. */
        if (started[i] > 0 && waitpid(started[i], &st, WNOHANG) == 0) {
            kill(started[i], SIGKILL);
            waitpid(started[i], &st, 0);
        }
    }
    nstarted = 0;
    return 0;
}

/* A refusal given before the command runs (AUTH, a cross-origin DENIED, a connection
 * LIMIT): the status, ["<name>", "NAME: description."], JSON. Element 1 names the
 * endpoint or command, which is not what these tests are about, so it is not pinned. */
static void expect_refused(const struct hx_response *r, int status, const char *name)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%s: ", name);
    const char *e = hx_elem(r, 1);
    if (r->status != status || hx_len(r) != 2 || !hx_elem(r, 0) || !e ||
        strncmp(e, prefix, strlen(prefix)) != 0 || e[strlen(e) - 1] != '.')
        fail_msg("expected %d [\"...\",\"%s...\"], got %d %s", status, prefix, r->status,
                 r->body);
    if (!strstr(r->headers, "Content-Type: application/json"))
        fail_msg("answer is not application/json: %s", r->headers);
}

/* A request with `Authorization: Bearer token` (token NULL: none) and extra headers. */
static void req_auth(const struct hx_server *s, const char *method, const char *path,
                     const char *token, const char *headers, const char *body,
                     struct hx_response *r)
{
    char h[1024];
    snprintf(h, sizeof(h), "%s%s%s%s", token ? "Authorization: Bearer " : "", token ? token : "",
             token ? "\r\n" : "", headers ? headers : "");
    hx_request_h(s, method, path, h, body, r);
}

/* POST /sockets with a token; expects 201 and returns the id (64 bytes). */
static void socket_auth(const struct hx_server *s, const char *token, const char *body, char *id)
{
    struct hx_response r;
    req_auth(s, "POST", "/sockets", token, NULL, body, &r);
    hx_expect(&r, 201, "socket", "ok");
    assert_int_equal(hx_len(&r), 3);
    snprintf(id, 64, "%s", hx_elem(&r, 2));
    hx_response_free(&r);
}

/* POST /sockets/<id>/<cmd> with a token and a printf-formatted body (fmt NULL: none). */
static void cmd_auth(const struct hx_server *s, const char *token, const char *id,
                     const char *cmd, struct hx_response *r, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void cmd_auth(const struct hx_server *s, const char *token, const char *id,
                     const char *cmd, struct hx_response *r, const char *fmt, ...)
{
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/sockets/%s/%s", id, cmd);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
        assert_true(n >= 0 && (size_t)n < sizeof(body));
    }
    req_auth(s, "POST", path, token, NULL, fmt ? body : NULL, r);
}

/* True when GET /sockets (with token) lists a socket with this id. */
static bool listed(const struct hx_server *s, const char *token, const char *id)
{
    struct hx_response r;
    req_auth(s, "GET", "/sockets", token, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r.json, "sockets");
    assert_true(cJSON_IsArray(arr));
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(sid) && strcmp(sid->valuestring, id) == 0)
            found = true;
    }
    hx_response_free(&r);
    return found;
}

/* A socket of `type` bound to the loopback address `addr` (127.0.0.2, ...) with an
 * OS-chosen port; TCP ones listen. */
static int loopback_socket(const char *addr, int type, uint16_t *port)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

/* Asserts that nothing arrives on fd (no connection, no datagram) within ms. */
static void expect_nothing(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 0)
        fail_msg("traffic reached fd %d although policy refused it", fd);
}

/* Reads the server log (up to 64 KiB) into buf; returns its length. */
static size_t read_log(const struct hx_server *s, char *buf, size_t cap)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* Waits (at most 3 s) until the server log holds `needle`; returns a pointer into buf. */
static const char *wait_log(const struct hx_server *s, const char *needle, char *buf, size_t cap)
{
    for (int i = 0; i < 300; i++) {
        read_log(s, buf, cap);
        const char *hit = strstr(buf, needle);
        if (hit)
            return hit;
        usleep(10000);
    }
    fail_msg("server log %s never showed '%s'", s->log_path, needle);
    return NULL;
}

/* Starts with a later "--listen 0.0.0.0:<port>" so the server listens beyond loopback;
 * the test still talks to it on 127.0.0.1:<port>. extra: NULL-terminated, at most 8. */
static void start_exposed(struct hx_server *s, const char *const *extra)
{
    uint16_t port = hx_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "0.0.0.0:%u", (unsigned)port);
    const char *args[12] = {"--listen", listen};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 11; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    srv_start_env(s, args, NULL, port);
}

/* Waits for the start-up line "console: http://HOST:PORT/..." (HOST is whatever address
 * the server offers to click) and copies that line, checked to name srv's port. */
static void console_line(const struct hx_server *s, char *line, size_t cap)
{
    static char log[65536];
    const char *hit = wait_log(s, "console: http://", log, sizeof(log));
    for (int i = 0; i < 300 && !strchr(hit, '\n'); i++) {
        usleep(10000); /* the line is being written */
        read_log(s, log, sizeof(log));
        hit = strstr(log, "console: http://");
    }
    snprintf(line, cap, "%.*s", (int)strcspn(hit, "\n"), hit);
    char port[16];
    snprintf(port, sizeof(port), ":%u/", (unsigned)s->port);
    if (!strstr(line, port))
        fail_msg("console line does not name port %u: %s", (unsigned)s->port, line);
}

/* The generated token of the console line (32 hex digits), or fails. */
static void console_token(const struct hx_server *s, char *token, size_t cap)
{
    char line[256];
    console_line(s, line, sizeof(line));
    const char *t = strstr(line, "/?token=");
    if (!t)
        fail_msg("no token in the console line: %s", line);
    t += strlen("/?token=");
    size_t n = 0;
    while (isxdigit((unsigned char)t[n]) && n + 1 < cap)
        n++;
    if (n != 32 || t[n] != '\0')
        fail_msg("the token is not 32 hex digits: %s", line);
    snprintf(token, cap, "%.*s", (int)n, t);
}

/* A connected pair: the gateway's socket (id) and the test's accepted peer. */
static int connect_pair(const struct hx_server *s, const char *token, char *id)
{
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    socket_auth(s, token, NULL, id);
    struct hx_response r;
    cmd_auth(s, token, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    close(lfd);
    return peer;
}

/* ---- credentials ------------------------------------------------------------------ */

static void test_auth_required(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--token", "abc", NULL});
    struct hx_response r;

    /* Refused: no credential, a wrong one, a prefix, a longer one, another scheme. */
    const char *bad_headers[] = {
        NULL,
        "Authorization: Bearer abd\r\n",
        "Authorization: Bearer ab\r\n",
        "Authorization: Bearer abcd\r\n",
        "Authorization: Bearer \r\n",
        "Authorization: Basic YWJjOmFiYw==\r\n",
        "Authorization: abc\r\n",
    };
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        hx_request_h(&srv, "GET", "/sockets", bad_headers[i], NULL, &r);
        expect_refused(&r, 401, "AUTH");
        hx_response_free(&r);
    }
    const char *bad_paths[] = {"/sockets?token=abd", "/sockets?token=", "/sockets?token=ABC",
                               "/sockets?token=abc%20", "/sockets?tok=abc"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        hx_request(&srv, "GET", bad_paths[i], NULL, &r);
        expect_refused(&r, 401, "AUTH");
        hx_response_free(&r);
    }
    /* Every endpoint behind the token refuses: create, command, info, delete, events. */
    hx_request(&srv, "POST", "/sockets", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets/s1/recv", "[10]", &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets/s1", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    hx_request(&srv, "DELETE", "/sockets/s1", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    hx_request(&srv, "GET", "/events", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    /* Allowed: Bearer, ?token=, and both ways for a command on the socket. */
    char id[64];
    socket_auth(&srv, "abc", NULL, id);
    req_auth(&srv, "GET", "/sockets", "abc", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request(&srv, "GET", "/sockets?token=abc", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    hx_request_h(&srv, "GET", "/sockets", "Authorization: bearer abc\r\n", NULL, &r);
    assert_int_equal(r.status, 200); /* the scheme name is case-insensitive (RFC 7235) */
    hx_response_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=abc", id);
    hx_request(&srv, "POST", path, NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets?token=abc", "[\"DGRAM\"]", &r);
    hx_expect(&r, 201, "socket", "ok");
    hx_response_free(&r);
    /* The refused socket id of a wrong token does not exist for it either. */
    snprintf(path, sizeof(path), "/sockets/%s/close?token=nope", id);
    hx_request(&srv, "POST", path, NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    assert_true(listed(&srv, "abc", id));

    /* Public endpoints stay public. */
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_two_tokens_sockets(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--token", "alpha", "--token", "beta", NULL});
    struct hx_response r;
    char a[64], b[64], path[128];
    socket_auth(&srv, "alpha", NULL, a);
    socket_auth(&srv, "beta", "[\"DGRAM\"]", b);

    /* Each sees its own socket and not the other's. */
    assert_true(listed(&srv, "alpha", a));
    assert_false(listed(&srv, "alpha", b));
    assert_true(listed(&srv, "beta", b));
    assert_false(listed(&srv, "beta", a));

    /* For beta, alpha's socket does not exist: info, commands (GET and POST), delete. */
    snprintf(path, sizeof(path), "/sockets/%s", a);
    req_auth(&srv, "GET", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "socket", "NOTSOCK");
    hx_response_free(&r);
    const char *cmds[][2] = {
        {"getsockname", NULL}, {"ioctl", "[\"FIONREAD\"]"}, {"bind", "[\"localhost\",0]"},
        {"connect", "[\"127.0.0.1\",9]"}, {"send", "[\"x\"]"}, {"recv", "[1]"},
        {"recv", "{\"n\":1,\"callback\":\"stolen\"}"}, {"close", NULL},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        snprintf(path, sizeof(path), "/sockets/%s/%s", a, cmds[i][0]);
        req_auth(&srv, "POST", path, "beta", NULL, cmds[i][1], &r);
        cu_expect_err(&r, 404, cmds[i][0], "NOTSOCK");
        hx_response_free(&r);
    }
    snprintf(path, sizeof(path), "/sockets/%s/getpeername", a);
    req_auth(&srv, "GET", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "getpeername", "NOTSOCK");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s", a);
    req_auth(&srv, "DELETE", path, "beta", NULL, NULL, &r);
    cu_expect_err(&r, 404, "close", "NOTSOCK");
    hx_response_free(&r);

    /* ...and the same the other way round, by ?token=. */
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=alpha", b);
    hx_request(&srv, "POST", path, NULL, &r);
    cu_expect_err(&r, 404, "getsockname", "NOTSOCK");
    hx_response_free(&r);

    /* Nothing beta tried touched alpha's socket. */
    assert_true(listed(&srv, "alpha", a));
    cmd_auth(&srv, "alpha", a, "bind", &r, "[\"localhost\",0]");
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s", a);
    req_auth(&srv, "GET", path, "alpha", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    req_auth(&srv, "DELETE", path, "alpha", NULL, NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    assert_false(listed(&srv, "alpha", a));
    assert_true(listed(&srv, "beta", b));
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_two_tokens_events(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--token", "alpha", "--token", "beta", NULL});
    struct hx_response r;
    struct sse_stream ea, eb, none;
    struct sse_event ev;

    sse_open_path(&none, srv.port, "/events", NULL, 0, EVENT_MS);
    assert_int_equal(none.status, 401);
    sse_close(&none);
    sse_open_path(&ea, srv.port, "/events", "Authorization: Bearer alpha\r\n", 0, EVENT_MS);
    assert_int_equal(ea.status, 200);
    sse_open_path(&eb, srv.port, "/events?token=beta", NULL, 0, EVENT_MS);
    assert_int_equal(eb.status, 200);

    char a[64], b[64];
    int pa = connect_pair(&srv, "alpha", a);
    int pb = connect_pair(&srv, "beta", b);

    /* alpha's background recv: its event reaches alpha's stream only. */
    cmd_auth(&srv, "alpha", a, "recv", &r, "{\"n\":100,\"callback\":\"onAlpha\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pa, "for-alpha", 9);
    sse_expect(&ea, EVENT_MS, "onAlpha", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "for-alpha", a);
    char alpha_last[64];
    snprintf(alpha_last, sizeof(alpha_last), "Last-Event-ID: %s\r\n", ev.id);
    sse_event_free(&ev);
    sse_expect_quiet(&eb, QUIET_MS);

    /* beta's likewise, the other way. */
    cmd_auth(&srv, "beta", b, "recv", &r, "{\"n\":100,\"callback\":\"onBeta\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pb, "for-beta", 8);
    sse_expect(&eb, EVENT_MS, "onBeta", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "for-beta", b);
    sse_event_free(&ev);
    sse_expect_quiet(&ea, QUIET_MS);

    /* A background op beta tries on alpha's socket never starts, and alpha's data stays
     * with alpha. */
    cmd_auth(&srv, "beta", a, "recv", &r, "{\"n\":100,\"callback\":\"onSteal\"}");
    cu_expect_err(&r, 404, "recv", "NOTSOCK");
    hx_response_free(&r);
    hx_write_all(pa, "still-alpha", 11);
    sse_expect_quiet(&eb, QUIET_MS);
    cmd_auth(&srv, "alpha", a, "recv", &r, "[100]");
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "still-alpha");
    hx_response_free(&r);

    /* Events buffered for alpha while it has no stream are not handed to a new beta
     * stream, and alpha gets them when it comes back. */
    sse_close(&ea);
    usleep(300000);
    cmd_auth(&srv, "alpha", a, "recv", &r, "{\"n\":100,\"callback\":\"onLater\"}");
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    hx_write_all(pa, "buffered", 8);
    usleep(200000);
    struct sse_stream eb2;
    sse_open_path(&eb2, srv.port, "/events", "Authorization: Bearer beta\r\n", 0, EVENT_MS);
    assert_int_equal(eb2.status, 200);
    sse_expect_quiet(&eb2, QUIET_MS);
    sse_expect_quiet(&eb, 1);
    sse_close(&eb2);
    char h[128];
    snprintf(h, sizeof(h), "Authorization: Bearer alpha\r\n%s", alpha_last);
    sse_open_path(&ea, srv.port, "/events", h, 0, EVENT_MS);
    assert_int_equal(ea.status, 200);
    sse_expect(&ea, EVENT_MS, "onLater", &ev);
    sse_expect_list(&ev, 4, "recv", "ok", "buffered", a);
    sse_event_free(&ev);

    sse_close(&ea);
    sse_close(&eb);
    close(pa);
    close(pb);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_auth_env_tokens(void **state)
{
    (void)state;
    struct hx_server srv;
    struct hx_response r;
    char one[64], two[64];

    /* SOCKGATE_TOKEN is a comma list; each entry is its own credential. */
    srv_start_env(&srv, NULL, (const char *[]){"SOCKGATE_TOKEN=env-one,env-two", NULL}, 0);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    req_auth(&srv, "GET", "/sockets", "env-one,env-two", NULL, NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    socket_auth(&srv, "env-one", NULL, one);
    socket_auth(&srv, "env-two", NULL, two);
    assert_true(listed(&srv, "env-one", one));
    assert_false(listed(&srv, "env-one", two));
    assert_true(listed(&srv, "env-two", two));
    assert_false(listed(&srv, "env-two", one));
    assert_int_equal(cu_stop(&srv), 0);

    /* --token on the command line replaces the variable's list. */
    srv_start_env(&srv, (const char *[]){"--token", "flag-tok", NULL},
                 (const char *[]){"SOCKGATE_TOKEN=env-one", NULL}, 0);
    req_auth(&srv, "GET", "/sockets", "env-one", NULL, NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    req_auth(&srv, "GET", "/sockets", "flag-tok", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- listening beyond loopback ---------------------------------------------------- */

static void test_exposed_generates_token(void **state)
{
    (void)state;
    struct hx_server srv;
    start_exposed(&srv, NULL);
    static char log[65536];
    char token[64];
    console_token(&srv, token, sizeof(token));
    read_log(&srv, log, sizeof(log));
    assert_non_null(strstr(log, "auth: generated token"));
    /* The policy line says the exposed defaults are on. */
    assert_non_null(strstr(log, "policy: destinations: public addresses only"));

    struct hx_response r;
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    hx_request(&srv, "POST", "/sockets", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    req_auth(&srv, "GET", "/sockets", "0123456789abcdef0123456789abcdef", NULL, NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    char id[64], path[128];
    socket_auth(&srv, token, NULL, id);
    snprintf(path, sizeof(path), "/sockets?token=%s", token);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    /* The console page itself is public (the token rides in its URL for the page's own
     * requests); a build without the web assets answers 404, never 401. */
    snprintf(path, sizeof(path), "/?token=%s", token);
    hx_request(&srv, "GET", path, NULL, &r);
    assert_true(r.status == 200 || r.status == 404);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);

    /* Each start makes a new token. */
    char token2[64];
    start_exposed(&srv, NULL);
    console_token(&srv, token2, sizeof(token2));
    assert_string_not_equal(token, token2);
    req_auth(&srv, "GET", "/sockets", token, NULL, NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_exposed_no_auth_and_own_token(void **state)
{
    (void)state;
    struct hx_server srv;
    static char log[65536];
    char line[256];
    struct hx_response r;

    /* --no-auth: no token is made, anyone may use it. */
    start_exposed(&srv, (const char *[]){"--no-auth", NULL});
    console_line(&srv, line, sizeof(line));
    read_log(&srv, log, sizeof(log));
    assert_null(strstr(log, "?token="));
    assert_non_null(strstr(log, "auth: none"));
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    char id[64];
    hx_socket(&srv, NULL, id);
    assert_int_equal(cu_stop(&srv), 0);

    /* SOCKGATE_NO_AUTH does the same. */
    uint16_t port = hx_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "0.0.0.0:%u", (unsigned)port);
    srv_start_env(&srv, (const char *[]){"--listen", listen, NULL},
                 (const char *[]){"SOCKGATE_NO_AUTH=1", NULL}, port);
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);

    /* A configured token is used as is: nothing generated, the token is not printed. */
    start_exposed(&srv, (const char *[]){"--token", "my-own-secret-77", NULL});
    console_line(&srv, line, sizeof(line));
    assert_null(strstr(line, "?token="));
    read_log(&srv, log, sizeof(log));
    assert_non_null(strstr(log, "auth: token required"));
    hx_request(&srv, "GET", "/sockets", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);
    req_auth(&srv, "GET", "/sockets", "my-own-secret-77", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    hx_response_free(&r);
    int st = hx_stop(&srv);
    read_log(&srv, log, sizeof(log));
    assert_null(strstr(log, "my-own-secret-77"));
    assert_int_equal(st, 0);
    assert_int_equal(cu_log_clean(&srv), 0);
    unlink(srv.log_path);
}

/* ---- destination policy ----------------------------------------------------------- */

/* connect must be refused by policy with 403 DENIED. */
static void expect_connect_denied(const struct hx_server *s, const char *token, const char *id,
                                  const char *host, unsigned port)
{
    struct hx_response r;
    cmd_auth(s, token, id, "connect", &r, "{\"socketname\":\"%s\",\"port\":%u}", host, port);
    if (r.status != 403)
        fail_msg("connect %s:%u: expected 403 DENIED, got %d %s", host, port, r.status, r.body);
    cu_expect_err(&r, 403, "connect", "DENIED");
    hx_response_free(&r);
}

static void expect_sendto_denied(const struct hx_server *s, const char *token, const char *id,
                                 const char *host, unsigned port)
{
    struct hx_response r;
    cmd_auth(s, token, id, "sendto", &r, "[\"%s\",%u,\"leak\"]", host, port);
    if (r.status != 403)
        fail_msg("sendto %s:%u: expected 403 DENIED, got %d %s", host, port, r.status, r.body);
    cu_expect_err(&r, 403, "sendto", "DENIED");
    hx_response_free(&r);
}

/* Refused whatever the listen address: link-local (cloud metadata), in every IPv6 form
 * that embeds it, the unspecified address and multicast. All refused before a packet. */
static void check_always_denied(const struct hx_server *s, const char *token)
{
    char v4[64], v6[64], u4[64], u6[64];
    socket_auth(s, token, NULL, v4);
    socket_auth(s, token, "{\"family\":\"IPV6\"}", v6);
    socket_auth(s, token, "[\"DGRAM\"]", u4);
    socket_auth(s, token, "[\"DGRAM\",\"IPV6\"]", u6);
    expect_connect_denied(s, token, v4, "169.254.169.254", 80);
    expect_connect_denied(s, token, v4, "169.254.0.1", 443);
    expect_connect_denied(s, token, v4, "0.0.0.0", 80);
    expect_connect_denied(s, token, v6, "::ffff:169.254.169.254", 80);
    expect_connect_denied(s, token, v6, "fe80::a9fe:a9fe", 80);
    expect_connect_denied(s, token, v6, "::", 80);
    expect_sendto_denied(s, token, u4, "169.254.169.254", 53);
    expect_sendto_denied(s, token, u4, "224.0.0.251", 5353);
    expect_sendto_denied(s, token, u4, "255.255.255.255", 67);
    expect_sendto_denied(s, token, u6, "::ffff:169.254.169.254", 53);
    expect_sendto_denied(s, token, u6, "ff02::fb", 5353);
    /* A refused connect leaves the socket usable. */
    struct hx_response r;
    cmd_auth(s, token, v4, "getsockname", &r, NULL);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    const char *ids[] = {v4, v6, u4, u6};
    for (int i = 0; i < 4; i++) {
        cmd_auth(s, token, ids[i], "close", &r, NULL);
        hx_expect(&r, 200, "close", "ok");
        hx_response_free(&r);
    }
}

static void test_policy_loopback_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, NULL);
    static char log[65536];
    wait_log(&srv, "policy: destinations: all but link-local", log, sizeof(log));
    check_always_denied(&srv, NULL);

    /* Listening on loopback, loopback destinations are allowed: by address, v4-mapped,
     * ::1 and by name. */
    struct hx_response r;
    char id[64];
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);
    const char *targets[][2] = {
        {"", "127.0.0.1"}, {"{\"family\":\"IPV6\"}", "::ffff:127.0.0.1"}, {"", "localhost"},
    };
    for (int i = 0; i < 3; i++) {
        hx_socket(&srv, targets[i][0][0] ? targets[i][0] : NULL, id);
        cu_cmdf(&srv, id, "connect", &r, "[\"%s\",%u]", targets[i][1], port);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        close(hx_accept(lfd));
        cu_ok(&srv, id, "close", NULL);
    }
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    cu_cmdf(&srv, id, "connect", &r, "[\"::1\",%u]", port6);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd6));
    hx_socket(&srv, "[\"DGRAM\"]", id);
    cu_cmdf(&srv, id, "sendto", &r, "[\"127.0.0.1\",%u,\"hello\"]", uport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[16];
    hx_read_exact(ufd, buf, 5);
    assert_memory_equal(buf, "hello", 5);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_exposed_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    start_exposed(&srv, (const char *[]){"--token", "tok", NULL});
    check_always_denied(&srv, "tok");

    /* Listening beyond loopback, loopback itself is refused, in every form, and no
     * connection or datagram reaches the loopback peers. */
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);
    char v4[64], v6[64], u4[64];
    socket_auth(&srv, "tok", NULL, v4);
    socket_auth(&srv, "tok", "{\"family\":\"IPV6\"}", v6);
    socket_auth(&srv, "tok", "[\"DGRAM\"]", u4);
    expect_connect_denied(&srv, "tok", v4, "127.0.0.1", port);
    expect_connect_denied(&srv, "tok", v4, "127.1.2.3", port);
    expect_connect_denied(&srv, "tok", v4, "localhost", port);
    expect_connect_denied(&srv, "tok", v6, "::1", port6);
    expect_connect_denied(&srv, "tok", v6, "::ffff:127.0.0.1", port);
    expect_connect_denied(&srv, "tok", v6, "localhost", port6);
    /* The private and CGNAT ranges too (refused before any packet is sent). */
    expect_connect_denied(&srv, "tok", v4, "10.0.0.1", 80);
    expect_connect_denied(&srv, "tok", v4, "172.16.0.1", 80);
    expect_connect_denied(&srv, "tok", v4, "192.168.1.1", 80);
    expect_connect_denied(&srv, "tok", v4, "100.64.0.1", 80);
    expect_connect_denied(&srv, "tok", v6, "fd00::1", 80);
    expect_connect_denied(&srv, "tok", v6, "::ffff:10.0.0.1", 80);
    expect_sendto_denied(&srv, "tok", u4, "127.0.0.1", uport);
    expect_sendto_denied(&srv, "tok", u4, "localhost", uport);
    expect_sendto_denied(&srv, "tok", u4, "192.168.0.1", 53);
    expect_nothing(lfd, 300);
    expect_nothing(lfd6, 1);
    expect_nothing(ufd, 1);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_exposed_allow_loopback(void **state)
{
    (void)state;
    struct hx_server srv;
    start_exposed(&srv, (const char *[]){"--no-auth", "--allow", "127.0.0.0/8", NULL});
    static char log[65536];
    wait_log(&srv, "allow 127.0.0.0/8", log, sizeof(log));
    struct hx_response r;
    char id[64];
    uint16_t port, port6, uport;
    int lfd = hx_tcp_listener(false, &port);
    int lfd6 = hx_tcp_listener(true, &port6);
    int ufd = hx_udp_socket(false, &uport);

    hx_socket(&srv, NULL, id);
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd));
    /* The rule is judged on the IPv4 inside the v4-mapped form too. */
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    cu_cmdf(&srv, id, "connect", &r, "[\"::ffff:127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(lfd));
    hx_socket(&srv, "[\"DGRAM\"]", id);
    cu_cmdf(&srv, id, "sendto", &r, "[\"127.0.0.1\",%u,\"ok\"]", uport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[4];
    hx_read_exact(ufd, buf, 2);
    /* ::1 is not in 127.0.0.0/8: still refused. So are the other defaults. */
    hx_socket(&srv, "{\"family\":\"IPV6\"}", id);
    expect_connect_denied(&srv, NULL, id, "::1", port6);
    expect_nothing(lfd6, 200);
    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "169.254.169.254", 80);
    expect_connect_denied(&srv, NULL, id, "10.1.1.1", 80);
    close(lfd);
    close(lfd6);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_before_allow(void **state)
{
    (void)state;
    /* --deny rules are checked before --allow rules, whatever their order on the command
     * line: a deny inside an allowed network wins. */
    struct hx_server srv;
    start_exposed(&srv, (const char *[]){"--no-auth", "--allow", "127.0.0.0/8", "--deny",
                                         "127.0.0.2", NULL});
    uint16_t port2, port1;
    int l2 = loopback_socket("127.0.0.2", SOCK_STREAM, &port2);
    int l1 = hx_tcp_listener(false, &port1);
    char id[64];
    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.2", port2);
    expect_nothing(l2, 200);
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", port1);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(l1));
    close(l1);
    close(l2);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_address(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--deny", "127.0.0.2", NULL});
    static char log[65536];
    wait_log(&srv, "deny 127.0.0.2", log, sizeof(log));
    struct hx_response r;
    char id[64];
    /* Real peers on 127.0.0.2, which would answer if policy let anything through. */
    uint16_t tport, uport, okport, okuport;
    int lfd = loopback_socket("127.0.0.2", SOCK_STREAM, &tport);
    int ufd = loopback_socket("127.0.0.2", SOCK_DGRAM, &uport);
    int okl = hx_tcp_listener(false, &okport);
    int oku = hx_udp_socket(false, &okuport);

    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.2", tport);
    char v6[64], u4[64], u6[64];
    hx_socket(&srv, "{\"family\":\"IPV6\"}", v6);
    expect_connect_denied(&srv, NULL, v6, "::ffff:127.0.0.2", tport);
    hx_socket(&srv, "[\"DGRAM\"]", u4);
    expect_sendto_denied(&srv, NULL, u4, "127.0.0.2", uport);
    hx_socket(&srv, "[\"DGRAM\",\"IPV6\"]", u6);
    expect_sendto_denied(&srv, NULL, u6, "::ffff:127.0.0.2", uport);
    /* A connected DGRAM socket cannot be pointed there either. */
    expect_connect_denied(&srv, NULL, u4, "127.0.0.2", uport);
    expect_nothing(lfd, 300);
    expect_nothing(ufd, 1);

    /* 127.0.0.1 still works, TCP and UDP, from the same sockets. */
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", okport);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(okl));
    cu_cmdf(&srv, u4, "sendto", &r, "[\"127.0.0.1\",%u,\"fine\"]", okuport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char buf[8];
    hx_read_exact(oku, buf, 4);
    assert_memory_equal(buf, "fine", 4);
    close(lfd);
    close(ufd);
    close(okl);
    close(oku);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_deny_port(void **state)
{
    (void)state;
    uint16_t denied_port, other_port, uport;
    int lfd = hx_tcp_listener(false, &denied_port);
    int other = hx_tcp_listener(false, &other_port);
    int ufd = hx_udp_socket(false, &uport);
    char rule[64], rule2[64];
    snprintf(rule, sizeof(rule), "127.0.0.1:%u", (unsigned)denied_port);
    snprintf(rule2, sizeof(rule2), "127.0.0.0/8:%u-%u", (unsigned)uport, (unsigned)uport);
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--deny", rule, "--deny", rule2, NULL});
    struct hx_response r;
    char id[64], u[64];

    hx_socket(&srv, NULL, id);
    expect_connect_denied(&srv, NULL, id, "127.0.0.1", denied_port);
    expect_connect_denied(&srv, NULL, id, "localhost", denied_port);
    expect_nothing(lfd, 200);
    cu_cmdf(&srv, id, "connect", &r, "[\"127.0.0.1\",%u]", other_port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    close(hx_accept(other));

    /* The UDP port rule (a range, on a network): that port refused, others not. */
    hx_socket(&srv, "[\"DGRAM\"]", u);
    expect_sendto_denied(&srv, NULL, u, "127.0.0.1", uport);
    expect_sendto_denied(&srv, NULL, u, "127.0.0.9", uport);
    expect_nothing(ufd, 200);
    uint16_t okport;
    int ok = hx_udp_socket(false, &okport);
    cu_cmdf(&srv, u, "sendto", &r, "[\"127.0.0.1\",%u,\"x\"]", okport);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    char c;
    hx_read_exact(ok, &c, 1);
    close(ok);
    close(lfd);
    close(other);
    close(ufd);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_policy_bad_rule_refused(void **state)
{
    (void)state;
    /* A rule that does not parse stops the server at start instead of being ignored. */
    const char *bad[] = {"300.1.1.1", "127.0.0.1/33", "127.0.0.1:70000", "nonsense",
                         "10.0.0.0/8:", "[::1]:99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *bin = getenv("SOCKGATE_BIN") ? getenv("SOCKGATE_BIN") : "build/sockgate";
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "'%s' --listen 127.0.0.1:%u --deny '%s' >/dev/null 2>&1 "
                 "</dev/null", bin, (unsigned)hx_free_port(), bad[i]);
        /* It must exit by itself with an error; timeout kills a server that would run. */
        char full[640];
        snprintf(full, sizeof(full), "timeout -s KILL 5 sh -c \"%s\"", cmd);
        int st = system(full);
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 1 && WEXITSTATUS(st) != 2))
            fail_msg("--deny '%s' should stop the server with an error (got %d)", bad[i], st);
    }
}

/* ---- bind ------------------------------------------------------------------------- */

static void expect_bind(const struct hx_server *s, const char *id, const char *host,
                        unsigned port, int status, const char *outcome)
{
    struct hx_response r;
    cu_cmdf(s, id, "bind", &r, "{\"localhost\":\"%s\",\"port\":%u}", host, port);
    if (strcmp(outcome, "ok") == 0)
        hx_expect(&r, status, "bind", "ok");
    else
        cu_expect_err(&r, status, "bind", outcome);
    hx_response_free(&r);
}

/* A port below 1024 that nothing on 127.0.0.1 uses now, or 0 when none (or not root). */
static uint16_t free_low_port(void)
{
    if (geteuid() != 0)
        return 0;
    for (unsigned p = 1023; p >= 900; p--) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return (uint16_t)p;
    }
    return 0;
}

static void test_bind_defaults(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, NULL);
    static char log[65536];
    wait_log(&srv, "bind: loopback only, ports from 1024", log, sizeof(log));
    char id[64], v6[64];
    hx_socket(&srv, NULL, id);
    hx_socket(&srv, "{\"family\":\"IPV6\"}", v6);

    /* Refused: the wildcard in every spelling, a non-loopback address, low ports. */
    expect_bind(&srv, id, "0.0.0.0", 0, 403, "DENIED");
    expect_bind(&srv, id, "*", 0, 403, "DENIED");
    expect_bind(&srv, id, "", 0, 403, "DENIED");
    expect_bind(&srv, id, "10.1.2.3", 0, 403, "DENIED");
    expect_bind(&srv, v6, "::", 0, 403, "DENIED");
    expect_bind(&srv, v6, "::ffff:0.0.0.0", 0, 403, "DENIED");
    expect_bind(&srv, id, "localhost", 80, 403, "DENIED");
    expect_bind(&srv, id, "127.0.0.1", 1023, 403, "DENIED");
    expect_bind(&srv, id, "127.0.0.1", 1, 403, "DENIED");
    struct hx_response r;
    hx_cmd(&srv, id, "bind", "[\"localhost\",\"http\"]", &r); /* a service name below 1024 */
    cu_expect_err(&r, 403, "bind", "DENIED");
    hx_response_free(&r);
    /* The refusals changed nothing: the socket still has no address. */
    char addr[64];
    unsigned port;
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_int_equal(port, 0);

    /* Allowed: loopback, by name and address, any free port from 1024 or 0. */
    expect_bind(&srv, id, "localhost", 0, 200, "ok");
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "127.0.0.1");
    assert_true(port >= 1024);
    expect_bind(&srv, v6, "::1", 0, 200, "ok");
    uint16_t p = hx_free_port();
    char other[64];
    hx_socket(&srv, NULL, other);
    expect_bind(&srv, other, "127.0.0.5", p, 200, "ok");
    cu_name(&srv, other, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "127.0.0.5");
    assert_int_equal(port, p);
    cu_healthz(&srv);
    assert_int_equal(cu_stop(&srv), 0);
}

static void test_bind_allow_bind(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--allow-bind", NULL});
    static char log[65536];
    wait_log(&srv, "bind: any local address", log, sizeof(log));
    char id[64], addr[64];
    unsigned port;

    /* The wildcard, on a high port the system picks: allowed. */
    hx_socket(&srv, NULL, id);
    expect_bind(&srv, id, "0.0.0.0", 0, 200, "ok");
    cu_name(&srv, id, false, addr, sizeof(addr), &port);
    assert_string_equal(addr, "0.0.0.0");
    assert_true(port >= 1024);
    cu_ok(&srv, id, "close", NULL);

    /* A port below 1024 on loopback: allowed (the test runs as root; otherwise the
     * system itself refuses, which is not what this checks). */
    uint16_t low = free_low_port();
    if (low) {
        hx_socket(&srv, NULL, id);
        expect_bind(&srv, id, "127.0.0.1", low, 200, "ok");
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_int_equal(port, low);
        cu_ok(&srv, id, "close", NULL);
    } else {
        fprintf(stderr, "test_bind_allow_bind: no free port below 1024 or not root; "
                        "low-port case skipped\n");
    }
    /* An address that is not local still fails, by the system's answer, not policy. */
    hx_socket(&srv, NULL, id);
    struct hx_response r;
    cu_cmdf(&srv, id, "bind", &r, "[\"192.0.2.1\",0]");
    hx_expect(&r, 200, "bind", "ADDRNOTAVAIL");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- cross-origin ----------------------------------------------------------------- */

static void test_cors_default(void **state)
{
    (void)state;
    struct hx_server srv;
    srv_start(&srv, NULL);
    struct hx_response r;
    char h[256], val[256];

    /* A foreign origin is refused, whatever the method, before anything runs. */
    const char *origins[] = {"http://evil.test", "null", "http://127.0.0.1.evil.test",
                             "http://127.0.0.1:1"};
    for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        snprintf(h, sizeof(h), "Origin: %s\r\n", origins[i]);
        hx_request_h(&srv, "POST", "/sockets", h, NULL, &r);
        expect_refused(&r, 403, "DENIED");
        assert_false(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
        hx_response_free(&r);
        hx_request_h(&srv, "GET", "/sockets", h, NULL, &r);
        expect_refused(&r, 403, "DENIED");
        hx_response_free(&r);
    }
    snprintf(h, sizeof(h), "Origin: http://evil.test\r\nAccess-Control-Request-Method: POST\r\n");
    hx_request_h(&srv, "OPTIONS", "/sockets", h, NULL, &r);
    expect_refused(&r, 403, "DENIED");
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
    expect_refused(&r, 403, "DENIED");
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
    srv_start(&srv, (const char *[]){"--cors", "http://example.test", "--token", "t0k", NULL});
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
    req_auth(&srv, "POST", "/sockets", "t0k", "Origin: http://example.test\r\n", NULL, &r);
    hx_expect(&r, 201, "socket", "ok");
    assert_true(cu_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)));
    assert_string_equal(val, "http://example.test");
    snprintf(id, sizeof(id), "%s", hx_elem(&r, 2));
    hx_response_free(&r);
    cmd_auth(&srv, "t0k", id, "getsockname", &r, NULL);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    /* The origin does not replace the token. */
    hx_request_h(&srv, "GET", "/sockets", "Origin: http://example.test\r\n", NULL, &r);
    expect_refused(&r, 401, "AUTH");
    hx_response_free(&r);

    /* Any other origin is still refused, preflight included. */
    hx_request_h(&srv, "OPTIONS", "/sockets",
                 "Origin: http://other.test\r\nAccess-Control-Request-Method: POST\r\n", NULL, &r);
    expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    req_auth(&srv, "POST", "/sockets", "t0k", "Origin: http://example.test.evil\r\n", NULL, &r);
    expect_refused(&r, 403, "DENIED");
    hx_response_free(&r);
    assert_int_equal(cu_stop(&srv), 0);
}

/* ---- logs ------------------------------------------------------------------------- */

static void check_token_not_logged(const char *format)
{
    struct hx_server srv;
    srv_start(&srv, (const char *[]){"--token", "secret123", "--log-format", format, NULL});
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
    socket_auth(&srv, "secret123", NULL, id);
    hx_request(&srv, "GET", "/sockets?token=wrongsecret456", NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    req_auth(&srv, "GET", "/sockets", "wrongsecret789", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    hx_response_free(&r);
    /* The token as a body argument is accepted and ignored, and not logged either. */
    snprintf(path, sizeof(path), "/sockets/%s/getsockname?token=secret123", id);
    hx_request(&srv, "POST", path, "{\"token\":\"secret123\"}", &r);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);

    int st = hx_stop(&srv);
    static char log[65536];
    read_log(&srv, log, sizeof(log));
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
        cmocka_unit_test_teardown(test_auth_required, stop_leftovers),
        cmocka_unit_test_teardown(test_auth_two_tokens_sockets, stop_leftovers),
        cmocka_unit_test_teardown(test_auth_two_tokens_events, stop_leftovers),
        cmocka_unit_test_teardown(test_auth_env_tokens, stop_leftovers),
        cmocka_unit_test_teardown(test_exposed_generates_token, stop_leftovers),
        cmocka_unit_test_teardown(test_exposed_no_auth_and_own_token, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_loopback_defaults, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_exposed_defaults, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_exposed_allow_loopback, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_before_allow, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_address, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_deny_port, stop_leftovers),
        cmocka_unit_test_teardown(test_policy_bad_rule_refused, stop_leftovers),
        cmocka_unit_test_teardown(test_bind_defaults, stop_leftovers),
        cmocka_unit_test_teardown(test_bind_allow_bind, stop_leftovers),
        cmocka_unit_test_teardown(test_cors_default, stop_leftovers),
        cmocka_unit_test_teardown(test_cors_allowed_origin, stop_leftovers),
        cmocka_unit_test_teardown(test_token_not_logged, stop_leftovers),
    };
    return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
