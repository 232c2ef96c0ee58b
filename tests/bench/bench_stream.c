/*
 * bench_client stream-* (the streaming part of `make bench`): one large HTTP response from
 * nginx read to its end (a) directly, (b/c) through a WebSocket bridge (websockify, or
 * sockgate's /websockify or /sockets/<id>/ws) with the lean frame reader of ws_client.c,
 * and (d) through sockgate's recv with raw bytes (Accept: application/octet-stream). Each mode checks every byte of the body
 * against the file nginx serves, and prints key=value lines: bytes (all received, headers
 * included), body_ok, seconds, mb_per_s, cpu_ms (this client's CPU time from the start of
 * the transfer: user + system), and for WebSockets how the stream ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"
#include "ws_client.h"

#define STREAM_READ (1u << 20)       /* bytes per read, as bulk-tcp reads */
#define STREAM_LIMIT_S 60            /* no transfer may take longer */

/* Compares the received stream with the file nginx serves: the HTTP header block first
 * (skipped), then the body byte for byte. */
struct verifier {
    const uint8_t *file;             /* the expected body (mmap) */
    size_t file_len;                 /* its size */
    unsigned long long bytes;        /* everything received */
    size_t body;                     /* body bytes received */
    int crlf;                        /* how much of "\r\n\r\n" was just seen */
    bool in_body;                    /* past the header block */
    bool mismatch;                   /* a body byte differed, or too many came */
    double cpu0_ms;                  /* this process's CPU time when the transfer began */
};

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void verifier_open(struct verifier *v, const char *path)
{
    memset(v, 0, sizeof(*v));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        bench_die(path);
    v->file_len = (size_t)st.st_size;
    v->file = mmap(NULL, v->file_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (v->file == MAP_FAILED)
        bench_die("mmap");
    close(fd);
    v->cpu0_ms = cpu_ms();
}

static void verifier_add(struct verifier *v, const uint8_t *p, size_t n)
{
    v->bytes += n;
    static const char end[] = "\r\n\r\n";
    while (!v->in_body && n > 0) {
        v->crlf = *p == (uint8_t)end[v->crlf] ? v->crlf + 1 : *p == '\r' ? 1 : 0;
        p++;
        n--;
        v->in_body = v->crlf == 4;
    }
    if (n == 0)
        return;
    if (v->body + n > v->file_len || memcmp(v->file + v->body, p, n) != 0)
        v->mismatch = true;
    v->body += n;
}

static void verifier_report(struct verifier *v, double seconds)
{
    bool ok = v->in_body && !v->mismatch && v->body == v->file_len;
    printf("bytes=%llu\nbody_bytes=%zu\nbody_ok=%d\nseconds=%.3f\nmb_per_s=%.1f\ncpu_ms=%.1f\n",
           v->bytes, v->body, ok ? 1 : 0, seconds, (double)v->bytes / 1e6 / seconds,
           cpu_ms() - v->cpu0_ms);
    munmap((void *)v->file, v->file_len);
}

static int http_get(char *req, size_t cap, const char *url)
{
    return snprintf(req, cap, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", url);
}

/* stream-tcp HTTP_PORT URL_PATH FILE */
static int stream_tcp(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_client stream-tcp HTTP_PORT URL_PATH FILE\n");
        return 2;
    }
    struct verifier v;
    verifier_open(&v, argv[4]);
    uint8_t *buf = malloc(STREAM_READ);
    if (!buf)
        bench_die("malloc");
    char req[512];
    int len = http_get(req, sizeof(req), argv[3]);
    double t0 = bench_now_s();
    int fd = bench_tcp_connect((int)bench_arg_long(argv[2], 1, 65535));
    bench_write_all(fd, req, (size_t)len);
    for (;;) {
        ssize_t r = recv(fd, buf, STREAM_READ, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            bench_die("recv");
        if (r == 0)
            break;
        verifier_add(&v, buf, (size_t)r);
        if (bench_now_s() - t0 > STREAM_LIMIT_S)
            bench_die("transfer took too long");
    }
    double elapsed = bench_now_s() - t0;
    close(fd);
    free(buf);
    verifier_report(&v, elapsed);
    return 0;
}

/* Sends the GET through an open WebSocket and reads frames until the Close or the end
 * of the connection; prints how it ended. */
static int ws_transfer(struct wsc *c, const char *url, struct verifier *v, double t0)
{
    char req[512];
    int len = http_get(req, sizeof(req), url);
    if (wsc_send(c, WSC_OP_BINARY, req, (size_t)len, true) < 0)
        bench_die("ws send");
    unsigned close_code = 0;
    const char *end = "close";
    for (;;) {
        struct wsc_chunk ch;
        int r = wsc_next(c, &ch);
        if (r == WSC_EEOF) {
            end = "eof";  /* the connection ended without a Close frame */
            break;
        }
        if (r < 0) {
            end = r == WSC_ETIMEDOUT ? "timeout" : "error";
            break;
        }
        if (ch.opcode == WSC_OP_CLOSE) {
            close_code = wsc_close_code(ch.data, ch.len);
            wsc_send_close(c, close_code == 1005 ? 1000 : close_code, NULL);
            break;
        }
        if (ch.opcode == WSC_OP_BINARY || ch.opcode == WSC_OP_TEXT || ch.opcode == WSC_OP_CONT)
            verifier_add(v, ch.data, ch.len);
        if (bench_now_s() - t0 > STREAM_LIMIT_S)
            bench_die("transfer took too long");
    }
    double elapsed = bench_now_s() - t0;
    verifier_report(v, elapsed);
    printf("end=%s\nclose_code=%u\n", end, close_code);
    return 0;
}

/* Opens the WebSocket and runs the transfer over it; the exit status. */
static int ws_run(uint16_t port, const char *path, const char *extra, const char *url,
                  struct verifier *v, double t0)
{
    struct wsc c;
    int r = wsc_connect(&c, port, path, extra, STREAM_READ, 20000);
    if (r < 0) {
        fprintf(stderr, "bench_client: upgrade failed (%d, status %d): %s\n", r, c.status,
                c.body ? c.body : "");
        wsc_close(&c);
        return 1;
    }
    ws_transfer(&c, url, v, t0);
    wsc_close(&c);
    return 0;
}

/* stream-ws WS_PORT WS_PATH URL_PATH FILE [PROTOCOL]: a bridge that already knows its
 * target (websockify, sockgate's /websockify). */
static int stream_ws(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_client stream-ws WS_PORT WS_PATH URL_PATH FILE [PROTOCOL]\n");
        return 2;
    }
    struct verifier v;
    verifier_open(&v, argv[5]);
    char extra[128] = "";
    if (argc == 7)
        snprintf(extra, sizeof(extra), "Sec-WebSocket-Protocol: %s\r\n", argv[6]);
    double t0 = bench_now_s();
    return ws_run((uint16_t)bench_arg_long(argv[2], 1, 65535), argv[3], extra, argv[4], &v, t0);
}

/* stream-gw GW_PORT HTTP_PORT URL_PATH FILE: a sockgate socket connected to nginx over
 * REST, then bridged with GET /sockets/<id>/ws. */
static int stream_gw(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_client stream-gw GW_PORT HTTP_PORT URL_PATH FILE\n");
        return 2;
    }
    struct verifier v;
    verifier_open(&v, argv[5]);
    int gw_port = (int)bench_arg_long(argv[2], 1, 65535);
    double t0 = bench_now_s();
    struct hconn h;
    char id[64], path[128];
    hconn_open(&h, gw_port);
    bench_gw_socket_connect(&h, (int)bench_arg_long(argv[3], 1, 65535), id, sizeof(id));
    hconn_close(&h);
    snprintf(path, sizeof(path), "/sockets/%s/ws", id);
    return ws_run((uint16_t)gw_port, path, NULL, argv[4], &v, t0);
}

/* stream-raw GW_PORT HTTP_PORT URL_PATH FILE: a sockgate socket connected to nginx over
 * REST, read by recv n=1 MiB with Accept: application/octet-stream until CLOSED. */
static int stream_raw(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_client stream-raw GW_PORT HTTP_PORT URL_PATH FILE\n");
        return 2;
    }
    struct verifier v;
    verifier_open(&v, argv[5]);
    double t0 = bench_now_s();
    struct hconn h;
    char id[64], path[160], body[512];
    hconn_open(&h, (int)bench_arg_long(argv[2], 1, 65535));
    bench_gw_socket_connect(&h, (int)bench_arg_long(argv[3], 1, 65535), id, sizeof(id));
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    snprintf(body, sizeof(body),
             "{\"stream\":\"GET %s HTTP/1.0~0D~0AHost: 127.0.0.1~0D~0A~0D~0A\"}", argv[4]);
    hconn_call(&h, "POST", path, body);
    bench_expect_ok(&h, "send");
    h.extra = "Accept: application/octet-stream\r\n";
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=%u&timeout=20", id, STREAM_READ);
    for (;;) {
        hconn_call(&h, "POST", path, NULL);
        /* The bytes come as the body; the end is the usual JSON list (CLOSED). */
        if (h.status != 200 || !memmem(h.in, h.hdrlen, "application/octet-stream", 24))
            break;
        verifier_add(&v, (const uint8_t *)hconn_body(&h), h.bodylen);
        if (bench_now_s() - t0 > STREAM_LIMIT_S)
            bench_die("transfer took too long");
    }
    double elapsed = bench_now_s() - t0;
    h.extra = NULL;
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hconn_call(&h, "DELETE", path, NULL);
    hconn_close(&h);
    verifier_report(&v, elapsed);
    return 0;
}

int bench_stream(int argc, char **argv)
{
    const char *m = argv[1];
    if (strcmp(m, "stream-tcp") == 0)
        return stream_tcp(argc, argv);
    if (strcmp(m, "stream-ws") == 0)
        return stream_ws(argc, argv);
    if (strcmp(m, "stream-gw") == 0)
        return stream_gw(argc, argv);
    if (strcmp(m, "stream-raw") == 0)
        return stream_raw(argc, argv);
    fprintf(stderr, "bench_client: unknown stream mode %s\n", m);
    return 2;
}
