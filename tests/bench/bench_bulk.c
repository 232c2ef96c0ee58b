/*
 * bench_client bulk-gw / bulk-tcp (part c of `make bench`): one large HTTP response from
 * nginx read to its end, through a gateway socket (recv of N bytes in an encoding, each
 * answer decoded) or with recv() of N bytes on a plain socket. Prints MB/s of the bytes
 * received.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"
#include "codec.h"

int bench_bulk_gw(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_client bulk-gw GW_PORT HTTP_PORT URL_PATH ENCODING N\n");
        return 2;
    }
    int gw_port = (int)bench_arg_long(argv[2], 1, 65535);
    int http_port = (int)bench_arg_long(argv[3], 1, 65535);
    const char *url = argv[4];
    enum codec_encoding enc;
    if (codec_encoding_from_name(argv[5], &enc) < 0) {
        fprintf(stderr, "bench_client: unknown encoding %s\n", argv[5]);
        return 2;
    }
    size_t nmax = (size_t)bench_arg_long(argv[6], 1, 16 << 20);
    uint8_t *data = malloc(nmax + 16);
    if (!data)
        bench_die("malloc");

    struct hconn h;
    char id[64], path[128], body[512];
    hconn_open(&h, gw_port);
    bench_gw_socket_connect(&h, http_port, id, sizeof(id));
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    snprintf(body, sizeof(body),
             "{\"stream\":\"GET %s HTTP/1.0~0D~0AHost: 127.0.0.1~0D~0A~0D~0A\"}", url);
    double t0 = bench_now_s();
    hconn_call(&h, "POST", path, body);
    bench_expect_ok(&h, "send");
    snprintf(path, sizeof(path), "/sockets/%s/recv", id);
    snprintf(body, sizeof(body), "{\"n\":%zu,\"encoding\":\"%s\",\"timeout\":20}", nmax,
             codec_encoding_name(enc));
    unsigned long long total = 0, calls = 0;
    for (;;) {
        hconn_call(&h, "POST", path, body);
        calls++;
        if (!bench_answer_ok(&h))
            break; /* CLOSED: nginx sent it all */
        const char *v;
        size_t n;
        if (!bench_list_item(hconn_body(&h), h.bodylen, 2, &v, &n))
            bench_die("recv answer");
        long got = codec_decode(enc, v, n, data, NULL);
        if (got < 0)
            bench_die("decode");
        total += (unsigned long long)got;
        if (bench_now_s() - t0 > 60)
            bench_die("bulk receive took over 60 s");
    }
    double elapsed = bench_now_s() - t0;
    const char *v;
    size_t n;
    if (!bench_list_item(hconn_body(&h), h.bodylen, 1, &v, &n) || n < 6 ||
        memcmp(v, "CLOSED", 6) != 0) {
        fprintf(stderr, "bench_client: bulk recv ended with %.*s\n", (int)h.bodylen,
                hconn_body(&h));
        return 1;
    }
    snprintf(path, sizeof(path), "/sockets/%s", id);
    hconn_call(&h, "DELETE", path, NULL);
    hconn_close(&h);
    printf("bytes=%llu\nseconds=%.3f\nmb_per_s=%.1f\nrecv_calls=%llu\n", total, elapsed,
           (double)total / 1e6 / elapsed, calls);
    free(data);
    return 0;
}

int bench_bulk_tcp(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_client bulk-tcp HTTP_PORT URL_PATH N\n");
        return 2;
    }
    int http_port = (int)bench_arg_long(argv[2], 1, 65535);
    size_t nmax = (size_t)bench_arg_long(argv[4], 1, 16 << 20);
    char *buf = malloc(nmax);
    if (!buf)
        bench_die("malloc");
    char req[512];
    int len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", argv[3]);
    double t0 = bench_now_s();
    int fd = bench_tcp_connect(http_port);
    bench_write_all(fd, req, (size_t)len);
    unsigned long long total = 0, calls = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, nmax, 0);
        calls++;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            bench_die("recv");
        if (r == 0)
            break;
        total += (unsigned long long)r;
        if (bench_now_s() - t0 > 60)
            bench_die("bulk receive took over 60 s");
    }
    double elapsed = bench_now_s() - t0;
    close(fd);
    printf("bytes=%llu\nseconds=%.3f\nmb_per_s=%.1f\nrecv_calls=%llu\n", total, elapsed,
           (double)total / 1e6 / elapsed, calls);
    free(buf);
    return 0;
}
