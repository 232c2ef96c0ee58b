/*
 * A whole conversation with a real redis-server through the gateway, as a JMP user would
 * hold it: socket, connect, PING, SET of a binary value in RESP, GET of the exact bytes,
 * INCR, QUIT and close. The test starts its own redis-server on a free loopback port and
 * skips when redis-server is not installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define REDIS_BIN_DEFAULT "/usr/bin/redis-server"

struct redis {
    pid_t pid;                       /* the redis-server process */
    uint16_t port;                   /* its port on 127.0.0.1 */
};

static const char *redis_bin(void)
{
    const char *bin = getenv("REDIS_SERVER_BIN");
    return bin && bin[0] ? bin : REDIS_BIN_DEFAULT;
}

/* True when redis answers PING on a direct connection. */
static bool redis_answers(uint16_t port)
{
    int fd = hx_tcp_connect(false, port);
    if (fd < 0)
        return false;
    bool ok = false;
    if (write(fd, "PING\r\n", 6) == 6) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[16] = "";
        if (poll(&p, 1, 1000) > 0 && read(fd, buf, sizeof(buf) - 1) >= 7)
            ok = memcmp(buf, "+PONG\r\n", 7) == 0;
    }
    close(fd);
    return ok;
}

static void redis_stop(struct redis *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGTERM);
    long long deadline = hx_now_ms() + 5000;
    int st;
    while (hx_now_ms() < deadline) {
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
}

/* Starts redis-server with no persistence on a free port; fails the test when it does
 * not answer within 10 s. */
static void redis_start(struct redis *r)
{
    r->port = hx_free_port();
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)r->port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Its working directory is where it would write; nothing is written anyway. */
        if (chdir("/tmp") != 0)
            _exit(126);
        execl(redis_bin(), redis_bin(), "--port", port, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    long long deadline = hx_now_ms() + 10000;
    while (hx_now_ms() < deadline) {
        if (redis_answers(r->port))
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            fail_msg("redis-server exited at start (status %d)", st);
        }
        usleep(20000);
    }
    redis_stop(r);
    fail_msg("redis-server did not answer within 10 s");
}

/* ascii~hex of the test's own, independent of the server's codec: every byte that is
 * not a letter, digit or one of a few safe marks is escaped (lower case, which the
 * gateway must accept too). */
static void escape(const void *data, size_t len, char *out, size_t outlen)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        assert_true(o + 4 < outlen);
        unsigned char c = p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '$' || c == '*' || c == ':' || c == '+')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "~%02x", c);
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* the gateway answers upper-case digits only */
}

/* Decodes the gateway's ascii~hex into out; returns the byte count. */
static size_t unescape(const char *s, unsigned char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        assert_true(o < outlen);
        unsigned char c = (unsigned char)s[i];
        if (c == '~') {
            int hi = hexval(s[i + 1]), lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                fail_msg("bad escape at offset %zu of \"%s\"", i, s);
            out[o++] = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else {
            /* Escaped on the way out, so never bare in an answer. */
            if (c < 0x20 || c > 0x7e || c == '\\' || c == '"' || c == '!')
                fail_msg("byte 0x%02x should have been escaped in \"%s\"", c, s);
            out[o++] = c;
        }
    }
    return o;
}

/* Sends raw bytes through the gateway socket and checks all were sent. */
static void gw_send(const struct hx_server *s, const char *id, const void *data, size_t len)
{
    char esc[1024], body[1100];
    escape(data, len, esc, sizeof(esc));
    snprintf(body, sizeof(body), "{\"stream\":\"%s\"}", esc);
    struct hx_response r;
    hx_cmd(s, id, "send", body, &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
}

/* Receives through the gateway until exactly `want` bytes have come, and compares. */
static void gw_expect(const struct hx_server *s, const char *id, const void *want, size_t len)
{
    unsigned char got[1024];
    size_t have = 0;
    for (int tries = 0; have < len && tries < 50; tries++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"n\":%zu,\"timeout\":5}", len - have);
        struct hx_response r;
        hx_cmd(s, id, "recv", body, &r);
        hx_expect(&r, 200, "recv", "ok");
        have += unescape(hx_elem(&r, 2), got + have, sizeof(got) - have);
        hx_response_free(&r);
    }
    assert_int_equal(have, len);
    assert_memory_equal(got, want, len);
}

/* The processes of the test, stopped by the teardown even when an assertion fails. */
struct procs {
    struct redis redis;              /* the redis-server */
    struct hx_server srv;            /* the gateway */
};

static int procs_setup(void **state)
{
    static struct procs p;
    memset(&p, 0, sizeof(p));
    *state = &p;
    return 0;
}

static int procs_teardown(void **state)
{
    struct procs *p = *state;
    if (p->srv.pid > 0)
        hx_stop(&p->srv);
    redis_stop(&p->redis);
    return 0;
}

static void test_redis_conversation(void **state)
{
    struct procs *p = *state;
    if (access(redis_bin(), X_OK) != 0) {
        print_message("redis-server not found at %s; install Debian's redis-server\n",
                      redis_bin());
        skip();
    }
    struct redis *redis = &p->redis;
    redis_start(redis);
    struct hx_server *srv = &p->srv;
    hx_start(srv, NULL);

    char id[64], body[128];
    hx_socket(srv, "{\"type\":\"STREAM\"}", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"localhost\",\"port\":\"%u\"}",
             (unsigned)redis->port);
    struct hx_response r;
    hx_cmd(srv, id, "connect", body, &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);

    /* JMP's own example, as the user types it: PING~0d~0a. */
    hx_cmd(srv, id, "send", "[\"PING~0d~0a\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    gw_expect(srv, id, "+PONG\r\n", 7);

    /* A value with a NUL, a 0xFF and a space in it. */
    static const char value[] = "binary\x00\xff value";
    const size_t vlen = sizeof(value) - 1;
    assert_int_equal(vlen, 14);
    char cmd[256];
    int n = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);
    memcpy(cmd + n, value, vlen);
    memcpy(cmd + n + vlen, "\r\n", 2);
    gw_send(srv, id, cmd, (size_t)n + vlen + 2);
    gw_expect(srv, id, "+OK\r\n", 5);

    gw_send(srv, id, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 20);
    char reply[64];
    n = snprintf(reply, sizeof(reply), "$%zu\r\n", vlen);
    memcpy(reply + n, value, vlen);
    memcpy(reply + n + vlen, "\r\n", 2);
    gw_expect(srv, id, reply, (size_t)n + vlen + 2);

    /* The same GET answered in one recv, checked in its encoded form too. */
    gw_send(srv, id, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 20);
    usleep(100000);
    hx_cmd(srv, id, "recv", "[1000]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "$14~0D~0Abinary~00~FF value~0D~0A");
    hx_response_free(&r);

    gw_send(srv, id, "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n", 27);
    gw_expect(srv, id, ":1\r\n", 4);
    gw_send(srv, id, "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n", 27);
    gw_expect(srv, id, ":2\r\n", 4);

    /* QUIT: redis answers and hangs up, which recv reports as CLOSED. */
    gw_send(srv, id, "QUIT\r\n", 6);
    gw_expect(srv, id, "+OK\r\n", 5);
    hx_cmd(srv, id, "recv", "{\"n\":100,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "CLOSED: ");
    hx_response_free(&r);

    hx_cmd(srv, id, "close", NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    /* Closed means gone. */
    hx_cmd(srv, id, "recv", "[1]", &r);
    hx_expect(&r, 404, "recv", "NOTSOCK: ");
    hx_response_free(&r);

    assert_int_equal(hx_stop(srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redis_conversation, procs_setup, procs_teardown),
    };
    return cmocka_run_group_tests_name("redis", tests, NULL, NULL);
}
