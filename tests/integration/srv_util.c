/*
 * The per-test server helpers (see srv_util.h): a list of the servers this process
 * started, which each test's teardown empties, and requests that carry a credential.
 * Every wait is bounded; every failure fails the running test.
 */
#include "srv_util.h"

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

/* Servers started by this process since the last su_stop_leftovers. */
static pid_t started[16];
static int nstarted;

static void track(const struct hx_server *s)
{
    if (nstarted < (int)(sizeof(started) / sizeof(started[0])))
        started[nstarted++] = s->pid;
}

void su_start(struct hx_server *s, const char *const *args)
{
    hx_start(s, args);
    track(s);
}

void su_start_env(struct hx_server *s, const char *const *args, const char *const *env,
                  uint16_t port)
{
    hx_start_env(s, args, env, port);
    track(s);
}

void su_start_nofile(struct hx_server *s, const char *const *args, unsigned nofile)
{
    hx_start_nofile(s, args, nofile);
    track(s);
}

void su_start_shim(struct hx_server *s, const char *name, const char *const *args,
                   const char *extra_env)
{
    const char *dir = getenv("SOCKGATE_SHIM_DIR") ? getenv("SOCKGATE_SHIM_DIR") : "build/shim";
    static char preload[512], asan[512];
    snprintf(preload, sizeof(preload), "LD_PRELOAD=%s/%s.so", dir, name);
    if (access(preload + strlen("LD_PRELOAD="), R_OK) != 0)
        fail_msg("shim %s is not built (make %s/%s.so)", preload, dir, name);
    /* An ASan server wants its runtime first among the libraries; the shim comes before. */
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0", prev ? prev : "",
             prev && *prev ? ":" : "");
    const char *env[] = {preload, asan, extra_env, NULL};
    su_start_env(s, args, env, 0);
}

unsigned long su_read_count(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long n = 0;
    if (f) {
        if (fscanf(f, "%lu", &n) != 1)
            n = 0;
        fclose(f);
    }
    return n;
}

int su_stop_leftovers(void **state)
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

void su_expect_refused(const struct hx_response *r, int status, const char *name)
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

void su_req_auth(const struct hx_server *s, const char *method, const char *path,
                 const char *token, const char *headers, const char *body,
                 struct hx_response *r)
{
    char h[1024];
    snprintf(h, sizeof(h), "%s%s%s%s", token ? "Authorization: Bearer " : "", token ? token : "",
             token ? "\r\n" : "", headers ? headers : "");
    hx_request_h(s, method, path, h, body, r);
}

void su_socket_auth(const struct hx_server *s, const char *token, const char *body, char *id)
{
    struct hx_response r;
    su_req_auth(s, "POST", "/sockets", token, NULL, body, &r);
    hx_expect(&r, 201, "socket", "ok");
    assert_int_equal(hx_len(&r), 3);
    snprintf(id, 64, "%s", hx_elem(&r, 2));
    hx_response_free(&r);
}

void su_cmd_auth(const struct hx_server *s, const char *token, const char *id,
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
    su_req_auth(s, "POST", path, token, NULL, fmt ? body : NULL, r);
}

int su_connect_pair(const struct hx_server *s, const char *token, char *id)
{
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    su_socket_auth(s, token, NULL, id);
    struct hx_response r;
    su_cmd_auth(s, token, id, "connect", &r, "[\"127.0.0.1\",%u]", port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);
    close(lfd);
    return peer;
}

size_t su_read_log(const struct hx_server *s, char *buf, size_t cap)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

const char *su_wait_log(const struct hx_server *s, const char *needle, char *buf, size_t cap)
{
    for (int i = 0; i < 300; i++) {
        su_read_log(s, buf, cap);
        const char *hit = strstr(buf, needle);
        if (hit)
            return hit;
        usleep(10000);
    }
    fail_msg("server log %s never showed '%s'", s->log_path, needle);
    return NULL;
}

void su_start_exposed(struct hx_server *s, const char *const *extra)
{
    uint16_t port = hx_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "0.0.0.0:%u", (unsigned)port);
    const char *args[12] = {"--listen", listen};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 11; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    su_start_env(s, args, NULL, port);
}

/* Reads from fd until end of stream or timeout_ms; returns the bytes (NUL-terminated,
 * at most cap - 1). */
size_t su_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < cap - 1 && poll(&p, 1, timeout_ms) > 0) {
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return len;
}

/* Runs the binary with args (and one NAME=value in its environment, or NULL); returns its
 * exit status. Its output goes to out. */
int su_run_binary(const char *const *args, const char *env, char *out, size_t outlen)
{
    const char *bin = getenv("SOCKGATE_BIN") ? getenv("SOCKGATE_BIN") : "build/sockgate";
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        if (env)
            putenv((char *)env);
        const char *argv[16] = {bin};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    su_read_all(fds[0], out, outlen, 1500);
    close(fds[0]);
    /* A binary that took the settings runs on: that is a failure, not a hang. */
    int st;
    for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++)
        usleep(10000);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
