/*
 * bench_client healthz-flood (part f of `make bench`): /healthz latency while one gateway
 * socket is flooded. A peer of this process writes to the socket as fast as it can, and a
 * repeating background recv delivers every arrival as an event; meanwhile /healthz is
 * asked COUNT times, one after another, on a keep-alive connection. With FLOOD 0 the same
 * is measured without the flood, as the baseline. Prints the median, 99th percentile and
 * largest latency in milliseconds.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"

/* A listener on 127.0.0.1 whose one connection is written to until the process is told
 * to stop (or SECONDS pass); returns its port and the writer's pid. */
static int flood_peer(double seconds, pid_t *pid)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(BENCH_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
        bench_die("flood listener");
    *pid = fork();
    if (*pid < 0)
        bench_die("fork");
    if (*pid == 0) {
        alarm((unsigned)seconds + 1);
        int fd = accept(lfd, NULL, NULL);
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        double t0 = bench_now_s();
        while (fd >= 0 && bench_now_s() - t0 < seconds)
            if (write(fd, chunk, sizeof(chunk)) < 0)
                break;
        _exit(0);
    }
    close(lfd);
    return ntohs(a.sin_port);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_healthz_flood(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_client healthz-flood GW_PORT COUNT FLOOD(0|1)\n");
        return 2;
    }
    int gw_port = (int)bench_arg_long(argv[2], 1, 65535);
    long count = bench_arg_long(argv[3], 1, 100000);
    bool flood = bench_arg_long(argv[4], 0, 1) == 1;
    struct hconn h;
    hconn_open(&h, gw_port);
    pid_t writer = 0;
    char id[32] = "";
    if (flood) {
        int port = flood_peer(60, &writer);
        bench_gw_socket_connect(&h, port, id, sizeof(id));
        char path[64];
        snprintf(path, sizeof(path), "/sockets/%s/recv", id);
        hconn_call(&h, "POST", path, "{\"n\":65536,\"callback\":\"onData\",\"repeat\":true}");
        bench_expect_ok(&h, "background recv");
        usleep(200000); /* the flood is under way */
    }
    double *ms = calloc((size_t)count, sizeof(*ms));
    if (!ms)
        bench_die("calloc");
    for (long i = 0; i < count; i++) {
        double t0 = bench_now_s();
        if (hconn_call(&h, "GET", "/healthz", NULL) != 200)
            bench_die("healthz");
        ms[i] = (bench_now_s() - t0) * 1000;
        usleep(2000); /* spread the probes over the flood */
    }
    if (flood) {
        char path[64];
        snprintf(path, sizeof(path), "/sockets/%s", id);
        hconn_call(&h, "DELETE", path, NULL);
        kill(writer, SIGTERM);
        waitpid(writer, NULL, 0);
    }
    hconn_close(&h);
    qsort(ms, (size_t)count, sizeof(*ms), cmp_double);
    printf("probes=%ld\np50_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n", count, ms[count / 2],
           ms[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1], ms[count - 1]);
    free(ms);
    return 0;
}
