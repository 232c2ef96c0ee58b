/*
 * The shared part of bench_client (see bench_http.h): a keep-alive HTTP/1.1 client that
 * parses just enough of a response (status, Content-Length) to pipeline requests from
 * an epoll loop, the few lines of JSON reading the benchmarks need, and small helpers.
 */
#include "bench_http.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX (16u << 20)   /* the largest response a client accepts */

void bench_die(const char *what)
{
    fprintf(stderr, "bench_client: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long bench_arg_long(const char *s, long lo, long hi)
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

int bench_tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        bench_die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(BENCH_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        bench_die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

void bench_set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Writes all of buf, waiting for room on a non-blocking socket. */
void bench_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 1000);
            continue;
        }
        if (w <= 0)
            bench_die("write");
        buf += w;
        len -= (size_t)w;
    }
}

/* ---- HTTP/1.1 client connection --------------------------------------------------- */

#define TLS_READ_AHEAD (256 * 1024)

/* One read() of all that is there, served to GnuTLS record by record. */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct hconn *h = ptr;
    if (h->tls_off == h->tls_len) {
        ssize_t r = read(h->fd, h->tls_in, TLS_READ_AHEAD);
        if (r <= 0)
            return r;
        h->tls_len = (size_t)r;
        h->tls_off = 0;
    }
    size_t n = h->tls_len - h->tls_off < len ? h->tls_len - h->tls_off : len;
    memcpy(buf, h->tls_in + h->tls_off, n);
    h->tls_off += n;
    return (ssize_t)n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    return write(((struct hconn *)ptr)->fd, buf, len);
}

/* HTTPS for the TLS listener's figures: the same client, so that the ratio is the
 * listener's. */
static void hconn_tls_start(struct hconn *h)
{
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
    if (gnutls_init(&s, GNUTLS_CLIENT) < 0 || gnutls_certificate_allocate_credentials(&cred) < 0)
        bench_die("gnutls_init");
    gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    h->tls_in = malloc(TLS_READ_AHEAD);
    if (!h->tls_in)
        bench_die("malloc");
    gnutls_transport_set_ptr(s, h);
    gnutls_transport_set_pull_function(s, tls_pull);
    gnutls_transport_set_push_function(s, tls_push);
    int rc;
    do
        rc = gnutls_handshake(s);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        fprintf(stderr, "bench_client: TLS handshake: %s\n", gnutls_strerror(rc));
        exit(1);
    }
    h->tls = s;
}

void hconn_open(struct hconn *h, int port)
{
    memset(h, 0, sizeof(*h));
    h->fd = bench_tcp_connect(port);
    const char *tls = getenv("BENCH_TLS");
    if (tls && strcmp(tls, "1") == 0)
        hconn_tls_start(h);
    h->incap = 64 * 1024;
    h->in = malloc(h->incap);
    h->outcap = 64 * 1024;
    h->out = malloc(h->outcap);
    if (!h->in || !h->out)
        bench_die("malloc");
}

void hconn_close(struct hconn *h)
{
    if (h->tls) {
        gnutls_bye(h->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(h->tls); /* the credentials go with the process */
        h->tls = NULL;
        free(h->tls_in);
        h->tls_in = NULL;
    }
    if (h->fd >= 0)
        close(h->fd);
    free(h->in);
    free(h->out);
    h->fd = -1;
    h->in = h->out = NULL;
}

/* Formats a request into h->out; returns its length. */
static size_t hconn_format(struct hconn *h, const char *method, const char *path, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    if (blen + 512 > h->outcap) {
        h->outcap = blen + 512;
        h->out = realloc(h->out, h->outcap);
        if (!h->out)
            bench_die("realloc");
    }
    int n = snprintf(h->out, h->outcap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%sContent-Length: %zu\r\n\r\n",
                     method, path, body ? "Content-Type: application/json\r\n" : "",
                     h->extra ? h->extra : "", blen);
    if (n < 0 || (size_t)n + blen >= h->outcap)
        bench_die("request too long");
    memcpy(h->out + n, body ? body : "", blen);
    return (size_t)n + blen;
}

void hconn_send(struct hconn *h, const char *method, const char *path, const char *body)
{
    size_t len = hconn_format(h, method, path, body);
    if (!h->tls) {
        bench_write_all(h->fd, h->out, len);
        return;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = gnutls_record_send(h->tls, h->out + off, len - off);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
            continue;
        if (w < 0)
            bench_die("TLS write");
        off += (size_t)w;
    }
}

/* 1 when a whole response is in h->in (status, hdrlen, bodylen set), 0 when more is
 * needed. Responses without Content-Length are not expected here. */
int hconn_parse(struct hconn *h)
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
        bench_die("response too large");
    }
    return h->inlen >= h->hdrlen + h->bodylen;
}

/* Reads what is there; returns bytes read, 0 on EAGAIN. Dies on end of stream. */
ssize_t hconn_fill(struct hconn *h)
{
    if (h->incap - h->inlen < 65536) {
        h->incap *= 2;
        h->in = realloc(h->in, h->incap);
        if (!h->in)
            bench_die("realloc");
    }
    ssize_t r;
    if (h->tls) {
        r = gnutls_record_recv(h->tls, h->in + h->inlen, h->incap - h->inlen);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            return 0;
        if (r < 0)
            r = -1;
    } else {
        r = read(h->fd, h->in + h->inlen, h->incap - h->inlen);
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0) {
        if (r == 0)
            errno = ECONNRESET;
        bench_die("read response");
    }
    h->inlen += (size_t)r;
    return r;
}

void hconn_wait(struct hconn *h)
{
    while (!hconn_parse(h)) {
        if (hconn_fill(h) == 0) {
            struct pollfd p = {.fd = h->fd, .events = POLLIN};
            poll(&p, 1, 1000);
        }
    }
}

/* Drops the parsed response from the input buffer. */
void hconn_consume(struct hconn *h)
{
    size_t used = h->hdrlen + h->bodylen;
    memmove(h->in, h->in + used, h->inlen - used);
    h->inlen -= used;
    h->hdrlen = h->bodylen = 0;
}

char *hconn_body(struct hconn *h)
{
    return h->in + h->hdrlen;
}

/* A blocking call; the response stays in h until the next call. */
int hconn_call(struct hconn *h, const char *method, const char *path, const char *body)
{
    if (h->hdrlen + h->bodylen > 0 && h->inlen >= h->hdrlen + h->bodylen)
        hconn_consume(h);
    h->hdrlen = h->bodylen = 0;
    hconn_send(h, method, path, body);
    hconn_wait(h);
    return h->status;
}

/* Finds element `index` of a JSON list of strings (no escapes inside the ones we read). */
bool bench_list_item(const char *s, size_t len, int index, const char **start, size_t *n)
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

bool bench_answer_ok(struct hconn *h)
{
    const char *v;
    size_t n;
    return bench_list_item(hconn_body(h), h->bodylen, 1, &v, &n) && n == 2 &&
           memcmp(v, "ok", 2) == 0;
}

void bench_expect_ok(struct hconn *h, const char *what)
{
    if (!bench_answer_ok(h)) {
        fprintf(stderr, "bench_client: %s answered %d %.*s\n", what, h->status,
                (int)(h->bodylen > 300 ? 300 : h->bodylen), hconn_body(h));
        exit(1);
    }
}

/* Creates a gateway socket connected to 127.0.0.1:port; writes its id. */
void bench_gw_socket_connect(struct hconn *h, int port, char *id, size_t idlen)
{
    hconn_call(h, "POST", "/sockets", NULL);
    bench_expect_ok(h, "POST /sockets");
    const char *v;
    size_t n;
    if (!bench_list_item(hconn_body(h), h->bodylen, 2, &v, &n) || n >= idlen)
        bench_die("socket id");
    memcpy(id, v, n);
    id[n] = '\0';
    char path[128], body[96];
    snprintf(path, sizeof(path), "/sockets/%s/connect", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%d}", port);
    hconn_call(h, "POST", path, body);
    bench_expect_ok(h, "connect");
}
