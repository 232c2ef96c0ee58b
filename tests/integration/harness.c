/*
 * The integration test harness (see harness.h). HTTP is spoken by hand over a blocking
 * socket with a poll() deadline on every read, so a hung server fails a test instead of
 * hanging it.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"

#define HX_IO_TIMEOUT_MS 40000

long long hx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint16_t hx_free_port(void)
{
    uint16_t port;
    int fd = hx_tcp_listener(false, &port);
    close(fd);
    return port;
}

static int connect_to(bool v6, uint16_t port, int type)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        len = sizeof(*a);
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int hx_tcp_connect(bool v6, uint16_t port)
{
    return connect_to(v6, port, SOCK_STREAM);
}

static int bound_socket(bool v6, int type, uint16_t *port)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    len = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int hx_tcp_listener(bool v6, uint16_t *port)
{
    int fd = bound_socket(v6, SOCK_STREAM, port);
    assert_int_equal(listen(fd, 64), 0);
    return fd;
}

int hx_udp_socket(bool v6, uint16_t *port)
{
    return bound_socket(v6, SOCK_DGRAM, port);
}

static void wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0)
        fail_msg("fd %d: nothing to read within %d ms", fd, timeout_ms);
}

int hx_accept(int listen_fd)
{
    wait_readable(listen_fd, 5000);
    int fd = accept(listen_fd, NULL, NULL);
    assert_true(fd >= 0);
    return fd;
}

void hx_read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        wait_readable(fd, 5000);
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            fail_msg("read: %s", r == 0 ? "end of stream" : strerror(errno));
        got += (size_t)r;
    }
}

void hx_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        done += (size_t)w;
    }
}

void hx_start(struct hx_server *s, const char *const *extra_args)
{
    hx_start_env(s, extra_args, NULL, 0);
}

/* The open-file limit the next server started gets; 0: this process's own. */
static unsigned next_nofile;

void hx_start_nofile(struct hx_server *s, const char *const *extra_args, unsigned nofile)
{
    next_nofile = nofile;
    hx_start_env(s, extra_args, NULL, 0);
}

void hx_start_env(struct hx_server *s, const char *const *extra_args, const char *const *env,
                  uint16_t port)
{
    unsigned nofile = next_nofile;
    next_nofile = 0;
    const char *bin = getenv("SOCKGATE_BIN");
    if (!bin)
        bin = "build/sockgate";
    memset(s, 0, sizeof(*s));
    s->port = port ? port : hx_free_port();
    snprintf(s->log_path, sizeof(s->log_path), "/tmp/sockgate-test-%d-%u.log", (int)getpid(),
             (unsigned)s->port);
    char listen_arg[64];
    snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%u", (unsigned)s->port);
    const char *argv[64] = {bin, "--listen", listen_arg};
    int argc = 3;
    for (int i = 0; extra_args && extra_args[i] && argc < 62; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A failed assertion skips hx_stop: the server must not outlive its test. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1); /* never the test's own stdout: a pipe reader would wait on it */
            dup2(log, 2);
        }
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        struct rlimit rl = {.rlim_cur = nofile, .rlim_max = nofile};
        if (nofile && setrlimit(RLIMIT_NOFILE, &rl) < 0)
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    long long deadline = hx_now_ms() + 10000;
    while (hx_now_ms() < deadline) {
        int fd = hx_tcp_connect(false, s->port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            fail_msg("sockgate exited at start (status %d); log in %s", st, s->log_path);
        usleep(20000);
    }
    fail_msg("sockgate did not start listening within 10 s");
}

int hx_stop(struct hx_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    long long deadline = hx_now_ms() + 10000;
    int st = 0;
    while (hx_now_ms() < deadline) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return -1;
}

/* A request that names an address beyond loopback (to prove it is refused) may only
 * leave a test that runs in a network namespace of its own (netns.h): should the policy
 * regress, nothing must reach the network. */
static void refuse_remote_outside_netns(const char *path, const char *body)
{
    char addr[64];
    if ((hx_names_remote_address(path, strlen(path), addr, sizeof(addr)) ||
         (body && hx_names_remote_address(body, strlen(body), addr, sizeof(addr)))) &&
        !hx_netns_isolated())
        fail_msg("this request names %s, beyond loopback, outside a network namespace of its "
                 "own: call hx_netns_enter() first in the test's main()", addr);
}

static void send_request(int fd, const char *method, const char *path, const char *headers,
                         const char *body)
{
    char head[8192];
    size_t blen = body ? strlen(body) : 0;
    refuse_remote_outside_netns(path, body);
    /* A Host line among the extra headers replaces the default one. */
    bool own_host = headers && (strncasecmp(headers, "Host:", 5) == 0 ||
                                strcasestr(headers, "\nHost:") != NULL);
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, own_host ? "" : "Host: 127.0.0.1\r\n",
                     headers ? headers : "", blen);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    hx_write_all(fd, head, (size_t)n);
    if (blen)
        hx_write_all(fd, body, blen);
}

int hx_send_only(const struct hx_server *s, const char *method, const char *path, const char *body)
{
    int fd = hx_tcp_connect(false, s->port);
    assert_true(fd >= 0);
    send_request(fd, method, path, NULL, body);
    return fd;
}

void hx_read_response(int fd, int timeout_ms, struct hx_response *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    long long deadline = hx_now_ms() + timeout_ms;
    /* Connection: close, so the answer ends at end of stream. */
    for (;;) {
        long long left = deadline - hx_now_ms();
        if (left <= 0)
            fail_msg("no complete HTTP response within %d ms", timeout_ms);
        wait_readable(fd, (int)left);
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == ECONNRESET)
            break;
        assert_true(r >= 0);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end)
        fail_msg("malformed HTTP response: %.200s", buf);
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &out->status), 1);
    size_t hlen = (size_t)(end - buf);
    if (hlen >= sizeof(out->headers))
        hlen = sizeof(out->headers) - 1;
    memcpy(out->headers, buf, hlen);
    out->headers[hlen] = '\0';
    out->body_len = len - (size_t)(end + 4 - buf);
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, end + 4, out->body_len);
    out->body[out->body_len] = '\0';
    free(buf);
    out->json = cJSON_ParseWithLength(out->body, out->body_len);
}

void hx_request_h(const struct hx_server *s, const char *method, const char *path,
                  const char *headers, const char *body, struct hx_response *out)
{
    int fd = hx_tcp_connect(false, s->port);
    assert_true(fd >= 0);
    send_request(fd, method, path, headers, body);
    hx_read_response(fd, HX_IO_TIMEOUT_MS, out);
    close(fd);
}

void hx_request(const struct hx_server *s, const char *method, const char *path,
                const char *body, struct hx_response *out)
{
    hx_request_h(s, method, path, NULL, body, out);
}

void hx_response_free(struct hx_response *r)
{
    cJSON_Delete(r->json);
    free(r->body);
    r->json = NULL;
    r->body = NULL;
}

int hx_len(const struct hx_response *r)
{
    if (!cJSON_IsArray(r->json))
        return -1;
    return cJSON_GetArraySize(r->json);
}

const char *hx_elem(const struct hx_response *r, int i)
{
    if (!cJSON_IsArray(r->json))
        return NULL;
    const cJSON *it = cJSON_GetArrayItem(r->json, i);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

void hx_expect(const struct hx_response *r, int status, const char *cmd, const char *outcome)
{
    if (r->status != status || hx_len(r) < 2 || !hx_elem(r, 0) || !hx_elem(r, 1) ||
        strcmp(hx_elem(r, 0), cmd) != 0 ||
        (strcmp(outcome, "ok") == 0 ? strcmp(hx_elem(r, 1), "ok") != 0
                                    : strncmp(hx_elem(r, 1), outcome, strlen(outcome)) != 0))
        fail_msg("expected %d [\"%s\",\"%s...\"], got %d %s", status, cmd, outcome, r->status,
                 r->body);
    for (int i = 0; i < hx_len(r); i++)
        if (!hx_elem(r, i))
            fail_msg("element %d is not a string: %s", i, r->body);
    if (!strstr(r->headers, "Content-Type: application/json"))
        fail_msg("answer is not application/json: %s", r->headers);
}

void hx_socket(const struct hx_server *s, const char *body, char *id)
{
    struct hx_response r;
    hx_request(s, "POST", "/sockets", body, &r);
    hx_expect(&r, 201, "socket", "ok");
    assert_int_equal(hx_len(&r), 3);
    snprintf(id, 64, "%s", hx_elem(&r, 2));
    hx_response_free(&r);
}

void hx_cmd(const struct hx_server *s, const char *id, const char *cmd, const char *body,
            struct hx_response *out)
{
    char path[256];
    snprintf(path, sizeof(path), "/sockets/%s/%s", id, cmd);
    hx_request(s, "POST", path, body, out);
}
