/*
 * Scale, over real HTTP and real loopback sockets: 10,000 sockets open at once, and
 * 1,000 HTTP requests waiting in a blocking recv at the same time, all completing with
 * their own data once their peers write, on a server whose thread count stays small and
 * does not grow with the waits. The server must also have raised its open-file limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define N_SOCKETS 10000              /* sockets open at once */
#define N_WAITS 1000                 /* blocking recvs pending at once */
#define MAX_THREADS 4                /* "small": the server runs one event loop */
#define TIME_BUDGET_MS 60000         /* each test, AddressSanitizer included */

static struct hx_server server;

static int stop_server(void **state)
{
    (void)state;
    if (server.pid > 0)
        hx_stop(&server);
    return 0;
}

/* ---- this process and the server's, through /proc ---- */

/* The test holds thousands of descriptors itself. Returns the hard limit. */
static rlim_t raise_own_fd_limit(void)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_max;
}

/* Starts the server with a low soft open-file limit, which it inherits, so that its
 * raising the limit is seen; then gives this process its hard limit back. */
static void start_low_limit(const char *const *args)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    struct rlimit low = {.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024, .rlim_max = rl.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    hx_start(&server, args);
    raise_own_fd_limit();
}

static int proc_threads(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int threads = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Threads: %d", &threads) == 1)
            break;
    fclose(f);
    assert_true(threads > 0);
    return threads;
}

static void proc_fd_limits(pid_t pid, long long *soft, long long *hard)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    *soft = *hard = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Max open files", 14) == 0) {
            char s[32], h[32];
            assert_int_equal(sscanf(line + 14, "%31s %31s", s, h), 2);
            *soft = strcmp(s, "unlimited") == 0 ? LLONG_MAX : atoll(s);
            *hard = strcmp(h, "unlimited") == 0 ? LLONG_MAX : atoll(h);
        }
    }
    fclose(f);
    assert_true(*soft > 0 && *hard > 0);
}

static int proc_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de = readdir(d); de; de = readdir(d))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- one keep-alive HTTP/1.1 connection, for thousands of quick requests ---- */

struct keepalive {
    int fd;                          /* the connection, -1 before the first request */
    char *buf;                       /* bytes read and not yet consumed */
    size_t len, cap;
};

static void ka_fill(struct keepalive *ka, long long deadline)
{
    if (ka->len == ka->cap) {
        ka->cap = ka->cap ? ka->cap * 2 : 65536;
        ka->buf = realloc(ka->buf, ka->cap + 1);
        assert_non_null(ka->buf);
    }
    for (;;) {
        long long left = deadline - hx_now_ms();
        struct pollfd p = {.fd = ka->fd, .events = POLLIN};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            fail_msg("keep-alive connection: no answer in time");
        ssize_t n = read(ka->fd, ka->buf + ka->len, ka->cap - ka->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail_msg("keep-alive connection: %s", n == 0 ? "closed by the server" : strerror(errno));
        ka->len += (size_t)n;
        ka->buf[ka->len] = '\0';
        return;
    }
}

/* One request on the connection (opened on first use); the answer as hx_request gives it. */
static void ka_request(struct keepalive *ka, const char *method, const char *path,
                       const char *body, struct hx_response *out)
{
    if (ka->fd < 0) {
        ka->fd = hx_tcp_connect(false, server.port);
        assert_true(ka->fd >= 0);
    }
    char head[512];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s", method,
                     path, blen, body ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof(head));
    hx_write_all(ka->fd, head, (size_t)n);

    long long deadline = hx_now_ms() + 20000;
    char *end = ka->buf ? strstr(ka->buf, "\r\n\r\n") : NULL;
    while (!end) {
        ka_fill(ka, deadline);
        end = strstr(ka->buf, "\r\n\r\n");
    }
    memset(out, 0, sizeof(*out));
    size_t hlen = (size_t)(end - ka->buf);
    assert_true(hlen < sizeof(out->headers));
    memcpy(out->headers, ka->buf, hlen);
    out->headers[hlen] = '\0';
    assert_int_equal(sscanf(ka->buf, "HTTP/1.%*d %d", &out->status), 1);
    const char *cl = strcasestr(out->headers, "\r\nContent-Length:");
    if (!cl)
        fail_msg("keep-alive answer without Content-Length: %s", out->headers);
    size_t clen = (size_t)strtoull(cl + 17, NULL, 10);
    size_t need = hlen + 4 + clen;
    while (ka->len < need) {
        if (ka->cap < need) {
            ka->cap = need;
            ka->buf = realloc(ka->buf, ka->cap + 1);
            assert_non_null(ka->buf);
        }
        ka_fill(ka, deadline);
    }
    out->body = malloc(clen + 1);
    assert_non_null(out->body);
    memcpy(out->body, ka->buf + hlen + 4, clen);
    out->body[clen] = '\0';
    out->body_len = clen;
    out->json = cJSON_ParseWithLength(out->body, clen);
    memmove(ka->buf, ka->buf + need, ka->len - need);
    ka->len -= need;
    ka->buf[ka->len] = '\0';
    if (strcasestr(out->headers, "\r\nConnection: close")) {
        close(ka->fd);
        ka->fd = -1;
        ka->len = 0;
    }
}

static void ka_close(struct keepalive *ka)
{
    if (ka->fd >= 0)
        close(ka->fd);
    free(ka->buf);
    ka->fd = -1;
    ka->buf = NULL;
    ka->len = ka->cap = 0;
}

/* A gauge from /metrics, or -1. */
static long long metric(struct keepalive *ka, const char *name)
{
    struct hx_response r;
    ka_request(ka, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    char needle[96];
    snprintf(needle, sizeof(needle), "\n%s ", name);
    const char *p = strstr(r.body, needle);
    long long v = p ? atoll(p + strlen(needle)) : -1;
    hx_response_free(&r);
    return v;
}

/* ---- the tests ---- */

static void test_ten_thousand_sockets(void **state)
{
    (void)state;
    if (raise_own_fd_limit() < N_SOCKETS + 2000) {
        fprintf(stderr, "skipped: the hard open-file limit is below %d\n", N_SOCKETS + 2000);
        skip();
    }
    long long t0 = hx_now_ms();
    const char *args[] = {"--quiet", NULL};
    start_low_limit(args);

    /* The server took its hard limit although it was started with a soft 1024. */
    long long soft, hard;
    proc_fd_limits(server.pid, &soft, &hard);
    if (soft != hard)
        fail_msg("the server's open-file limit is soft %lld, hard %lld: it did not raise it",
                 soft, hard);
    int threads_idle = proc_threads(server.pid);

    struct keepalive ka = {.fd = -1};
    char last[64] = "";
    for (int i = 0; i < N_SOCKETS; i++) {
        struct hx_response r;
        ka_request(&ka, "POST", "/sockets", i % 2 ? "[\"DGRAM\"]" : NULL, &r);
        if (r.status != 201)
            fail_msg("socket %d of %d: %d %s", i + 1, N_SOCKETS, r.status, r.body);
        hx_expect(&r, 201, "socket", "ok");
        assert_string_not_equal(hx_elem(&r, 2), last);
        snprintf(last, sizeof(last), "%s", hx_elem(&r, 2));
        hx_response_free(&r);
    }
    long long created = hx_now_ms() - t0;

    assert_int_equal(metric(&ka, "sockgate_open_sockets"), N_SOCKETS);
    assert_true(proc_fd_count(server.pid) >= N_SOCKETS);
    struct hx_response r;
    ka_request(&ka, "GET", "/sockets", NULL, &r);
    assert_int_equal(r.status, 200);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "sockets");
    assert_int_equal(cJSON_GetArraySize(list), N_SOCKETS);
    hx_response_free(&r);
    /* The last one still answers commands. */
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/bind", last);
    ka_request(&ka, "POST", path, "[\"127.0.0.1\",0]", &r);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);

    int threads = proc_threads(server.pid);
    if (threads > MAX_THREADS || threads > threads_idle)
        fail_msg("%d threads with %d sockets open (%d idle)", threads, N_SOCKETS, threads_idle);
    ka_close(&ka);
    /* Shutting down closes all of them. */
    assert_int_equal(hx_stop(&server), 0);
    long long took = hx_now_ms() - t0;
    fprintf(stderr, "  %d sockets created in %lld ms; whole test %lld ms; %d thread(s)\n",
            N_SOCKETS, created, took, threads);
    assert_true(took < TIME_BUDGET_MS);
}

static void test_thousand_concurrent_waits(void **state)
{
    (void)state;
    if (raise_own_fd_limit() < 3 * N_WAITS + 200) {
        fprintf(stderr, "skipped: the hard open-file limit is below %d\n", 3 * N_WAITS + 200);
        skip();
    }
    long long t0 = hx_now_ms();
    const char *args[] = {"--quiet", "--max-wait", "120", NULL};
    start_low_limit(args);
    long long soft, hard;
    proc_fd_limits(server.pid, &soft, &hard);
    assert_true(soft == hard);

    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    assert_int_equal(listen(lfd, N_WAITS + 64), 0);

    /* 1,000 gateway sockets, each connected to its own accepted peer. */
    static char ids[N_WAITS][64];
    static int peers[N_WAITS], waits[N_WAITS];
    struct keepalive ka = {.fd = -1};
    char body[96], path[128];
    snprintf(body, sizeof(body), "[\"127.0.0.1\",%u]", (unsigned)lport);
    for (int i = 0; i < N_WAITS; i++) {
        struct hx_response r;
        ka_request(&ka, "POST", "/sockets", NULL, &r);
        hx_expect(&r, 201, "socket", "ok");
        snprintf(ids[i], sizeof(ids[i]), "%s", hx_elem(&r, 2));
        hx_response_free(&r);
        snprintf(path, sizeof(path), "/sockets/%.60s/connect", ids[i]);
        ka_request(&ka, "POST", path, body, &r);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        peers[i] = hx_accept(lfd);
    }
    int threads_idle = proc_threads(server.pid);
    long long set_up = hx_now_ms() - t0;

    /* 1,000 blocking recvs, each on its own HTTP connection. */
    for (int i = 0; i < N_WAITS; i++) {
        snprintf(path, sizeof(path), "/sockets/%.60s/recv", ids[i]);
        waits[i] = hx_send_only(&server, "POST", path, "{\"n\":100}");
    }
    long long deadline = hx_now_ms() + 30000;
    long long suspended = metric(&ka, "sockgate_suspended_requests");
    while (suspended < N_WAITS) {
        if (hx_now_ms() > deadline)
            fail_msg("only %lld of %d recvs are waiting after 30 s", suspended, N_WAITS);
        usleep(20000);
        suspended = metric(&ka, "sockgate_suspended_requests");
    }
    assert_int_equal(suspended, N_WAITS);
    assert_true(metric(&ka, "sockgate_waits") >= N_WAITS);
    /* While all of them wait, the thread count is what it was with none. */
    int max_threads = 0;
    for (int k = 0; k < 5; k++) {
        int t = proc_threads(server.pid);
        if (t > max_threads)
            max_threads = t;
        usleep(20000);
    }
    if (max_threads > MAX_THREADS || max_threads > threads_idle)
        fail_msg("%d threads with %d recvs waiting (%d before)", max_threads, N_WAITS, threads_idle);
    /* None has answered yet. */
    for (int i = 0; i < N_WAITS; i++) {
        struct pollfd p = {.fd = waits[i], .events = POLLIN};
        if (poll(&p, 1, 0) != 0)
            fail_msg("recv %d answered before its peer wrote", i);
    }
    long long all_waiting = hx_now_ms() - t0;

    /* Every peer writes its own data, last first; every wait gets exactly its own. */
    char data[32];
    for (int i = N_WAITS - 1; i >= 0; i--) {
        int n = snprintf(data, sizeof(data), "data-%04d~", i);
        hx_write_all(peers[i], data, (size_t)n);
    }
    for (int i = 0; i < N_WAITS; i++) {
        struct hx_response r;
        hx_read_response(waits[i], 30000, &r);
        hx_expect(&r, 200, "recv", "ok");
        snprintf(data, sizeof(data), "data-%04d~7E", i);
        if (strcmp(hx_elem(&r, 2), data) != 0)
            fail_msg("recv %d on %s got '%s', expected '%s'", i, ids[i], hx_elem(&r, 2), data);
        hx_response_free(&r);
        close(waits[i]);
    }
    assert_int_equal(metric(&ka, "sockgate_suspended_requests"), 0);
    int threads_after = proc_threads(server.pid);

    ka_close(&ka);
    for (int i = 0; i < N_WAITS; i++)
        close(peers[i]);
    close(lfd);
    assert_int_equal(hx_stop(&server), 0);
    long long took = hx_now_ms() - t0;
    fprintf(stderr,
            "  set-up %lld ms; %d waits pending at %lld ms with %d thread(s); all answered; "
            "%d thread(s) after; whole test %lld ms\n",
            set_up, N_WAITS, all_waiting, max_threads, threads_after, took);
    assert_true(took < TIME_BUDGET_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ten_thousand_sockets, stop_server),
        cmocka_unit_test_teardown(test_thousand_concurrent_waits, stop_server),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("scale", tests, NULL, NULL);
}
