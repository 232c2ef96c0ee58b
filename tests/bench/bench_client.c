/*
 * The load generator of `make bench`: keep-alive HTTP/1.1 clients for sockgate, and the
 * same work done over plain TCP sockets for the baselines. Every mode is bounded both in
 * count and in time, talks to 127.0.0.1 only, and prints its results as key=value lines
 * for tests/bench/run.sh to put in the table.
 *
 *   bench_client freeport
 *   bench_client gen text|binary FILE BYTES
 *   bench_client echo-gw  GW_PORT ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE
 *   bench_client echo-tcp ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE
 *   bench_client bulk-gw  GW_PORT HTTP_PORT URL_PATH ENCODING N
 *   bench_client bulk-tcp HTTP_PORT URL_PATH N
 *   bench_client rate     PORT URL_PATH CONNS COUNT SECONDS
 *   bench_client footprint GW_PORT GW_PID ECHO_PORT SOCKETS WAITS BASE_PORT BASE_PID
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchdata.h"
#include "codec.h"

#define RESP_MAX (16u << 20)   /* the largest response a client accepts */
#define LOOPBACK 0x7f000001u   /* every connection goes to 127.0.0.1 */

static void die(const char *what)
{
    fprintf(stderr, "bench_client: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_long(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_client: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Writes all of buf, waiting for room on a non-blocking socket. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 1000);
            continue;
        }
        if (w <= 0)
            die("write");
        buf += w;
        len -= (size_t)w;
    }
}

/* ---- HTTP/1.1 client connection --------------------------------------------------- */

struct hconn {
    int fd;                     /* keep-alive connection to the server */
    char *in;                   /* bytes read and not yet consumed */
    size_t inlen, incap;        /* their number, the buffer's size */
    int status;                 /* the parsed response's status */
    size_t hdrlen, bodylen;     /* its header and body sizes */
    char *out;                  /* request being built */
    size_t outcap;              /* its buffer's size */
};

static void hconn_open(struct hconn *h, int port)
{
    memset(h, 0, sizeof(*h));
    h->fd = tcp_connect(port);
    h->incap = 64 * 1024;
    h->in = malloc(h->incap);
    h->outcap = 64 * 1024;
    h->out = malloc(h->outcap);
    if (!h->in || !h->out)
        die("malloc");
}

static void hconn_close(struct hconn *h)
{
    if (h->fd >= 0)
        close(h->fd);
    free(h->in);
    free(h->out);
    h->fd = -1;
    h->in = h->out = NULL;
}

/* Formats a request into h->out; returns its length. */
static size_t http_format(struct hconn *h, const char *method, const char *path, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    if (blen + 512 > h->outcap) {
        h->outcap = blen + 512;
        h->out = realloc(h->out, h->outcap);
        if (!h->out)
            die("realloc");
    }
    int n = snprintf(h->out, h->outcap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, body ? "Content-Type: application/json\r\n" : "", blen);
    if (n < 0 || (size_t)n + blen >= h->outcap)
        die("request too long");
    memcpy(h->out + n, body ? body : "", blen);
    return (size_t)n + blen;
}

static void http_send(struct hconn *h, const char *method, const char *path, const char *body)
{
    write_all(h->fd, h->out, http_format(h, method, path, body));
}

/* 1 when a whole response is in h->in (status, hdrlen, bodylen set), 0 when more is
 * needed. Responses without Content-Length are not expected here. */
static int http_parse(struct hconn *h)
{
    char *end = memmem(h->in, h->inlen, "\r\n\r\n", 4);
    if (!end)
        return 0;
    h->hdrlen = (size_t)(end - h->in) + 4;
    h->status = h->inlen > 12 ? (int)strtol(h->in + 9, NULL, 10) : 0;
    h->bodylen = 0;
    for (char *p = h->in; p < end; p++) {
        if (*p == '\n' && strncasecmp(p + 1, "Content-Length:", 15) == 0) {
            h->bodylen = (size_t)strtoull(p + 16, NULL, 10);
            break;
        }
    }
    if (h->hdrlen + h->bodylen > RESP_MAX) {
        errno = EMSGSIZE;
        die("response too large");
    }
    return h->inlen >= h->hdrlen + h->bodylen;
}

/* Reads what is there; returns bytes read, 0 on EAGAIN. Dies on end of stream. */
static ssize_t http_fill(struct hconn *h)
{
    if (h->incap - h->inlen < 65536) {
        h->incap *= 2;
        h->in = realloc(h->in, h->incap);
        if (!h->in)
            die("realloc");
    }
    ssize_t r = read(h->fd, h->in + h->inlen, h->incap - h->inlen);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0) {
        if (r == 0)
            errno = ECONNRESET;
        die("read response");
    }
    h->inlen += (size_t)r;
    return r;
}

static void http_wait(struct hconn *h)
{
    while (!http_parse(h)) {
        if (http_fill(h) == 0) {
            struct pollfd p = {.fd = h->fd, .events = POLLIN};
            poll(&p, 1, 1000);
        }
    }
}

/* Drops the parsed response from the input buffer. */
static void http_consume(struct hconn *h)
{
    size_t used = h->hdrlen + h->bodylen;
    memmove(h->in, h->in + used, h->inlen - used);
    h->inlen -= used;
    h->hdrlen = h->bodylen = 0;
}

static char *http_body(struct hconn *h)
{
    return h->in + h->hdrlen;
}

/* A blocking call; the response stays in h until the next call. */
static int http_call(struct hconn *h, const char *method, const char *path, const char *body)
{
    if (h->hdrlen + h->bodylen > 0 && h->inlen >= h->hdrlen + h->bodylen)
        http_consume(h);
    h->hdrlen = h->bodylen = 0;
    http_send(h, method, path, body);
    http_wait(h);
    return h->status;
}

/* Finds element `index` of a JSON list of strings (no escapes inside the ones we read). */
static bool list_item(const char *s, size_t len, int index, const char **start, size_t *n)
{
    const char *end = s + len;
    const char *p = memchr(s, '[', len);
    if (!p)
        return false;
    for (int i = 0; p < end; i++) {
        p = memchr(p, '"', (size_t)(end - p));
        if (!p)
            return false;
        /* The closing quote is the next one not escaped by an odd run of backslashes;
         * memchr, since data elements are megabytes. */
        const char *q = ++p;
        for (;;) {
            q = memchr(q, '"', (size_t)(end - q));
            if (!q)
                return false;
            size_t bs = 0;
            while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
                bs++;
            if (bs % 2 == 0)
                break;
            q++;
        }
        if (i == index) {
            *start = p;
            *n = (size_t)(q - p);
            return true;
        }
        p = q + 1;
    }
    return false;
}

static bool answer_ok(struct hconn *h)
{
    const char *v;
    size_t n;
    return list_item(http_body(h), h->bodylen, 1, &v, &n) && n == 2 && memcmp(v, "ok", 2) == 0;
}

static void expect_ok(struct hconn *h, const char *what)
{
    if (!answer_ok(h)) {
        fprintf(stderr, "bench_client: %s answered %d %.*s\n", what, h->status,
                (int)(h->bodylen > 300 ? 300 : h->bodylen), http_body(h));
        exit(1);
    }
}

/* Creates a gateway socket connected to 127.0.0.1:port; writes its id. */
static void gw_socket_connect(struct hconn *h, int port, char *id, size_t idlen)
{
    http_call(h, "POST", "/sockets", NULL);
    expect_ok(h, "POST /sockets");
    const char *v;
    size_t n;
    if (!list_item(http_body(h), h->bodylen, 2, &v, &n) || n >= idlen)
        die("socket id");
    memcpy(id, v, n);
    id[n] = '\0';
    char path[128], body[96];
    snprintf(path, sizeof(path), "/sockets/%s/connect", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%d}", port);
    http_call(h, "POST", path, body);
    expect_ok(h, "connect");
}

/* ---- echo: send + recv pairs ------------------------------------------------------ */

struct echo_client {
    struct hconn h;             /* gateway connection (echo-gw) */
    int fd;                     /* plain socket (echo-tcp) */
    char id[64];                /* gateway socket id */
    char send_path[96], recv_path[96];
    int phase;                  /* 0: send sent, 1: recv sent */
    size_t got;                 /* bytes of this pair's echo received */
    double started;             /* this pair's start */
    long pairs;                 /* pairs done */
    double latency_sum;         /* their total time */
    bool done;                  /* out of time or pairs */
};

static char *payload;           /* SIZE letters, encoded as themselves */
static char *send_body;         /* {"stream":"<payload>"} */
static char recv_body[64];      /* {"n":SIZE} */

static void echo_gw_start_pair(struct echo_client *c)
{
    c->phase = 0;
    c->got = 0;
    c->started = now_s();
    http_send(&c->h, "POST", c->send_path, send_body);
}

/* Advances a gateway client on a complete response. Returns true when a pair ended. */
static bool echo_gw_step(struct echo_client *c, size_t size)
{
    struct hconn *h = &c->h;
    if (!answer_ok(h)) {
        fprintf(stderr, "bench_client: echo answered %d %.*s\n", h->status, (int)h->bodylen,
                http_body(h));
        exit(1);
    }
    if (c->phase == 1) {
        const char *v;
        size_t n;
        if (!list_item(http_body(h), h->bodylen, 2, &v, &n))
            die("recv answer");
        c->got += n; /* letters are their own ascii~hex */
    }
    http_consume(h);
    if (c->phase == 0 || c->got < size) {
        c->phase = 1;
        http_send(h, "POST", c->recv_path, recv_body);
        return false;
    }
    return true;
}

static int cmd_echo(bool gw, int argc, char **argv)
{
    int a = gw ? 1 : 0;
    if (argc != 7 + a) {
        fprintf(stderr, "usage: bench_client echo-gw GW_PORT ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE\n"
                        "       bench_client echo-tcp ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE\n");
        return 2;
    }
    int gw_port = gw ? (int)arg_long(argv[2], 1, 65535) : 0;
    int echo_port = (int)arg_long(argv[2 + a], 1, 65535);
    int nclients = (int)arg_long(argv[3 + a], 1, 4096);
    double seconds = (double)arg_long(argv[4 + a], 1, 600);
    long max_pairs = arg_long(argv[5 + a], 1, 100000000);
    size_t size = (size_t)arg_long(argv[6 + a], 1, 65536);

    payload = malloc(size + 1);
    send_body = malloc(size + 32);
    char *echo_buf = malloc(size);
    struct echo_client *cl = calloc((size_t)nclients, sizeof(*cl));
    if (!payload || !send_body || !echo_buf || !cl)
        die("malloc");
    for (size_t i = 0; i < size; i++)
        payload[i] = (char)('a' + i % 26);
    payload[size] = '\0';
    snprintf(send_body, size + 32, "{\"stream\":\"%s\"}", payload);
    snprintf(recv_body, sizeof(recv_body), "{\"n\":%zu}", size);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < nclients; i++) {
        struct echo_client *c = &cl[i];
        if (gw) {
            hconn_open(&c->h, gw_port);
            gw_socket_connect(&c->h, echo_port, c->id, sizeof(c->id));
            snprintf(c->send_path, sizeof(c->send_path), "/sockets/%s/send", c->id);
            snprintf(c->recv_path, sizeof(c->recv_path), "/sockets/%s/recv", c->id);
            http_consume(&c->h);
            /* One warm-up pair, untimed. */
            echo_gw_start_pair(c);
            do
                http_wait(&c->h);
            while (!echo_gw_step(c, size));
            set_nonblocking(c->h.fd);
        } else {
            c->fd = tcp_connect(echo_port);
            write_all(c->fd, payload, size);
            for (size_t got = 0; got < size;) {
                ssize_t r = read(c->fd, echo_buf, size - got);
                if (r <= 0)
                    die("echo warm-up");
                got += (size_t)r;
            }
            set_nonblocking(c->fd);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, gw ? c->h.fd : c->fd, &ev);
    }

    double t0 = now_s(), deadline = t0 + seconds;
    for (int i = 0; i < nclients; i++) {
        struct echo_client *c = &cl[i];
        if (gw) {
            echo_gw_start_pair(c);
        } else {
            c->started = now_s();
            c->got = 0;
            write_all(c->fd, payload, size);
        }
    }
    int active = nclients;
    struct epoll_event evs[256];
    while (active > 0) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int k = 0; k < n; k++) {
            struct echo_client *c = evs[k].data.ptr;
            bool pair_done = false;
            if (gw) {
                http_fill(&c->h);
                while (!pair_done && http_parse(&c->h))
                    pair_done = echo_gw_step(c, size);
            } else {
                ssize_t r = read(c->fd, echo_buf, size);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0)
                    die("echo read");
                c->got += (size_t)r;
                pair_done = c->got >= size;
            }
            if (!pair_done)
                continue;
            double t = now_s();
            c->pairs++;
            c->latency_sum += t - c->started;
            if (t >= deadline || c->pairs >= max_pairs) {
                c->done = true;
                active--;
                epoll_ctl(ep, EPOLL_CTL_DEL, gw ? c->h.fd : c->fd, NULL);
                continue;
            }
            if (gw) {
                echo_gw_start_pair(c);
            } else {
                c->started = t;
                c->got = 0;
                write_all(c->fd, payload, size);
            }
        }
        if (now_s() > deadline + 10)
            die("echo clients stalled");
    }
    double elapsed = now_s() - t0;
    long pairs = 0;
    double lat = 0;
    for (int i = 0; i < nclients; i++) {
        pairs += cl[i].pairs;
        lat += cl[i].latency_sum;
        if (gw)
            hconn_close(&cl[i].h);
        else
            close(cl[i].fd);
    }
    printf("pairs=%ld\nseconds=%.3f\nus_per_pair=%.2f\npairs_per_s=%.0f\n", pairs, elapsed,
           lat / (double)pairs * 1e6, (double)pairs / elapsed);
    close(ep);
    free(cl);
    free(echo_buf);
    free(send_body);
    free(payload);
    return 0;
}

/* ---- bulk receive ----------------------------------------------------------------- */

static int cmd_bulk_gw(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_client bulk-gw GW_PORT HTTP_PORT URL_PATH ENCODING N\n");
        return 2;
    }
    int gw_port = (int)arg_long(argv[2], 1, 65535);
    int http_port = (int)arg_long(argv[3], 1, 65535);
    const char *url = argv[4];
    enum codec_encoding enc;
    if (codec_encoding_from_name(argv[5], &enc) < 0) {
        fprintf(stderr, "bench_client: unknown encoding %s\n", argv[5]);
        return 2;
    }
    size_t nmax = (size_t)arg_long(argv[6], 1, 16 << 20);
    uint8_t *data = malloc(nmax + 16);
    if (!data)
        die("malloc");

    struct hconn h;
    char id[64], path[128], body[512];
    hconn_open(&h, gw_port);
    gw_socket_connect(&h, http_port, id, sizeof(id));
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    snprintf(body, sizeof(body),
             "{\"stream\":\"GET %s HTTP/1.0~0D~0AHost: 127.0.0.1~0D~0A~0D~0A\"}", url);
    double t0 = now_s();
    http_call(&h, "POST", path, body);
    expect_ok(&h, "send");
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    snprintf(body, sizeof(body), "{\"n\":%zu,\"encoding\":\"%s\",\"timeout\":20}", nmax,
             codec_encoding_name(enc));
    unsigned long long total = 0, calls = 0;
    for (;;) {
        http_call(&h, "POST", path, body);
        calls++;
        if (!answer_ok(&h))
            break; /* CLOSED: nginx sent it all */
        const char *v;
        size_t n;
        if (!list_item(http_body(&h), h.bodylen, 2, &v, &n))
            die("recv answer");
        long got = codec_decode(enc, v, n, data, NULL);
        if (got < 0)
            die("decode");
        total += (unsigned long long)got;
        if (now_s() - t0 > 60)
            die("bulk receive took over 60 s");
    }
    double elapsed = now_s() - t0;
    const char *v;
    size_t n;
    if (!list_item(http_body(&h), h.bodylen, 1, &v, &n) || n < 6 || memcmp(v, "CLOSED", 6) != 0) {
        fprintf(stderr, "bench_client: bulk recv ended with %.*s\n", (int)h.bodylen, http_body(&h));
        return 1;
    }
    snprintf(path, sizeof(path), "/sockets/%s", id);
    http_call(&h, "DELETE", path, NULL);
    hconn_close(&h);
    printf("bytes=%llu\nseconds=%.3f\nmb_per_s=%.1f\nrecv_calls=%llu\n", total, elapsed,
           (double)total / 1e6 / elapsed, calls);
    free(data);
    return 0;
}

static int cmd_bulk_tcp(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_client bulk-tcp HTTP_PORT URL_PATH N\n");
        return 2;
    }
    int http_port = (int)arg_long(argv[2], 1, 65535);
    size_t nmax = (size_t)arg_long(argv[4], 1, 16 << 20);
    char *buf = malloc(nmax);
    if (!buf)
        die("malloc");
    char req[512];
    int len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", argv[3]);
    double t0 = now_s();
    int fd = tcp_connect(http_port);
    write_all(fd, req, (size_t)len);
    unsigned long long total = 0, calls = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, nmax, 0);
        calls++;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("recv");
        if (r == 0)
            break;
        total += (unsigned long long)r;
        if (now_s() - t0 > 60)
            die("bulk receive took over 60 s");
    }
    double elapsed = now_s() - t0;
    close(fd);
    printf("bytes=%llu\nseconds=%.3f\nmb_per_s=%.1f\nrecv_calls=%llu\n", total, elapsed,
           (double)total / 1e6 / elapsed, calls);
    free(buf);
    return 0;
}

/* ---- rate: a fixed GET on keep-alive connections (for profiling runs) -------------- */

static int cmd_rate(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_client rate PORT URL_PATH CONNS COUNT SECONDS\n");
        return 2;
    }
    int port = (int)arg_long(argv[2], 1, 65535);
    const char *url = argv[3];
    int nconn = (int)arg_long(argv[4], 1, 4096);
    long count = arg_long(argv[5], 1, 100000000);
    double seconds = (double)arg_long(argv[6], 1, 3600);
    struct hconn *hs = calloc((size_t)nconn, sizeof(*hs));
    if (!hs)
        die("calloc");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long sent = 0, done = 0, bad = 0;
    double t0 = now_s();
    for (int i = 0; i < nconn; i++) {
        hconn_open(&hs[i], port);
        set_nonblocking(hs[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &hs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, hs[i].fd, &ev);
        if (sent < count) {
            http_send(&hs[i], "GET", url, NULL);
            sent++;
        }
    }
    struct epoll_event evs[256];
    while (done < sent && now_s() - t0 < seconds) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            struct hconn *h = evs[k].data.ptr;
            http_fill(h);
            while (http_parse(h)) {
                done++;
                bad += h->status != 200;
                http_consume(h);
                if (sent < count && now_s() - t0 < seconds) {
                    http_send(h, "GET", url, NULL);
                    sent++;
                }
            }
        }
    }
    double elapsed = now_s() - t0;
    printf("requests=%ld\nnon_200=%ld\nseconds=%.3f\nreq_per_s=%.0f\n", done, bad, elapsed,
           (double)done / elapsed);
    for (int i = 0; i < nconn; i++)
        hconn_close(&hs[i]);
    free(hs);
    close(ep);
    return 0;
}

/* ---- footprint: memory per idle socket and per waiting recv ----------------------- */

/* A field of /proc/PID/status in kB (or a plain count for Threads). */
static long proc_status(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die(path);
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Waits until the gateway's /metrics reports `want` waits (bounded by 10 s). */
static void wait_for_waits(struct hconn *h, long want)
{
    double t0 = now_s();
    for (;;) {
        http_call(h, "GET", "/metrics", NULL);
        const char *p = memmem(http_body(h), h->bodylen, "\nsockgate_waits ", 16);
        if (p && strtol(p + 16, NULL, 10) >= want)
            return;
        if (now_s() - t0 > 10) {
            errno = ETIMEDOUT;
            die("waits did not all start");
        }
        usleep(20000);
    }
}

static int cmd_footprint(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: bench_client footprint GW_PORT GW_PID ECHO_PORT SOCKETS WAITS "
                        "BASE_PORT BASE_PID\n");
        return 2;
    }
    int gw_port = (int)arg_long(argv[2], 1, 65535);
    int gw_pid = (int)arg_long(argv[3], 1, 1 << 30);
    int echo_port = (int)arg_long(argv[4], 1, 65535);
    long nsock = arg_long(argv[5], 1, 100000);
    long nwait = arg_long(argv[6], 1, nsock);
    int base_port = (int)arg_long(argv[7], 1, 65535);
    int base_pid = (int)arg_long(argv[8], 1, 1 << 30);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Sockets: created and connected to the echo server, then left idle. */
    struct hconn h;
    hconn_open(&h, gw_port);
    char (*ids)[32] = calloc((size_t)nsock, sizeof(*ids));
    if (!ids)
        die("calloc");
    http_call(&h, "GET", "/healthz", NULL);
    usleep(100000);
    long rss0 = proc_status(gw_pid, "VmRSS");
    double t0 = now_s();
    for (long i = 0; i < nsock; i++) {
        gw_socket_connect(&h, echo_port, ids[i], sizeof(ids[i]));
        if (now_s() - t0 > 60) {
            errno = ETIMEDOUT;
            die("creating sockets");
        }
    }
    usleep(100000);
    long rss1 = proc_status(gw_pid, "VmRSS");

    /* Waits: one keep-alive connection each, holding a recv that nothing will answer.
     * Each connection first serves one request, as a client's recv loop would have, so
     * that its memory is what a busy connection holds (as in the baseline below). */
    struct hconn *w = calloc((size_t)nwait, sizeof(*w));
    if (!w)
        die("calloc");
    for (long i = 0; i < nwait; i++) {
        char path[64];
        hconn_open(&w[i], gw_port);
        http_call(&w[i], "GET", "/healthz", NULL);
        http_consume(&w[i]);
        snprintf(path, sizeof(path), "/sockets/%s/recv", ids[i]);
        http_send(&w[i], "POST", path, "{\"n\":100,\"timeout\":25}");
    }
    wait_for_waits(&h, nwait);
    usleep(100000);
    long rss2 = proc_status(gw_pid, "VmRSS");
    long threads = proc_status(gw_pid, "Threads");
    for (long i = 0; i < nwait; i++)
        hconn_close(&w[i]);
    hconn_close(&h);

    /* Baseline: open, used-once keep-alive connections to the minimal MHD server. */
    hconn_open(&h, base_port);
    http_call(&h, "GET", "/", NULL);
    usleep(100000);
    long b0 = proc_status(base_pid, "VmRSS");
    for (long i = 0; i < nwait; i++) {
        hconn_open(&w[i], base_port);
        http_call(&w[i], "GET", "/sockets/s1/getsockname", NULL);
    }
    usleep(100000);
    long b1 = proc_status(base_pid, "VmRSS");
    long bthreads = proc_status(base_pid, "Threads");
    for (long i = 0; i < nwait; i++)
        hconn_close(&w[i]);
    hconn_close(&h);

    printf("sockets=%ld\nwaits=%ld\nrss_start_kb=%ld\nrss_sockets_kb=%ld\nrss_waits_kb=%ld\n"
           "bytes_per_socket=%.0f\nbytes_per_wait=%.0f\nthreads=%ld\n"
           "base_conns=%ld\nbase_bytes_per_conn=%.0f\nbase_threads=%ld\n",
           nsock, nwait, rss0, rss1, rss2, (double)(rss1 - rss0) * 1024 / (double)nsock,
           (double)(rss2 - rss1) * 1024 / (double)nwait, threads, nwait,
           (double)(b1 - b0) * 1024 / (double)nwait, bthreads);
    free(w);
    free(ids);
    return 0;
}

/* ---- helpers for run.sh ------------------------------------------------------------ */

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("freeport");
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

static int cmd_gen(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[2], "text") != 0 && strcmp(argv[2], "binary") != 0)) {
        fprintf(stderr, "usage: bench_client gen text|binary FILE BYTES\n");
        return 2;
    }
    size_t total = (size_t)arg_long(argv[4], 1, 1L << 32);
    FILE *f = fopen(argv[3], "wb");
    if (!f)
        die(argv[3]);
    size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        die("malloc");
    struct bench_rng rng = {0x2545F491u};
    for (size_t done = 0; done < total;) {
        size_t n = total - done < chunk ? total - done : chunk;
        if (argv[2][0] == 't')
            bench_fill_text(&rng, buf, n);
        else
            bench_fill_binary(&rng, buf, n);
        if (fwrite(buf, 1, n, f) != n)
            die("fwrite");
        done += n;
    }
    if (fclose(f) != 0)
        die("fclose");
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* Whatever happens, no mode outlives this. */
    alarm(120);
    const char *m = argc > 1 ? argv[1] : "";
    if (strcmp(m, "freeport") == 0)
        return cmd_freeport();
    if (strcmp(m, "gen") == 0)
        return cmd_gen(argc, argv);
    if (strcmp(m, "echo-gw") == 0)
        return cmd_echo(true, argc, argv);
    if (strcmp(m, "echo-tcp") == 0)
        return cmd_echo(false, argc, argv);
    if (strcmp(m, "bulk-gw") == 0)
        return cmd_bulk_gw(argc, argv);
    if (strcmp(m, "bulk-tcp") == 0)
        return cmd_bulk_tcp(argc, argv);
    if (strcmp(m, "rate") == 0)
        return cmd_rate(argc, argv);
    if (strcmp(m, "footprint") == 0)
        return cmd_footprint(argc, argv);
    fprintf(stderr, "usage: bench_client freeport|gen|echo-gw|echo-tcp|bulk-gw|bulk-tcp|rate|"
                    "footprint ...\n");
    return 2;
}
