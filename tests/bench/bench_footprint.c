/*
 * bench_client footprint (part d of `make bench`): sockgate's resident memory as it
 * takes SOCKETS idle connected sockets and then WAITS parked recvs, each on its own
 * keep-alive connection, and for scale what one used keep-alive connection costs the
 * minimal libmicrohttpd server. Reads /proc/PID/status of both servers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"


/* A field of /proc/PID/status in kB (or a plain count for Threads). */
static long proc_status(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        bench_die(path);
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
    double t0 = bench_now_s();
    for (;;) {
        hconn_call(h, "GET", "/metrics", NULL);
        const char *p = memmem(hconn_body(h), h->bodylen, "\nsockgate_waits ", 16);
        if (p && strtol(p + 16, NULL, 10) >= want)
            return;
        if (bench_now_s() - t0 > 10) {
            errno = ETIMEDOUT;
            bench_die("waits did not all start");
        }
        usleep(20000);
    }
}

int bench_footprint(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: bench_client footprint GW_PORT GW_PID ECHO_PORT SOCKETS WAITS "
                        "BASE_PORT BASE_PID\n");
        return 2;
    }
    int gw_port = (int)bench_arg_long(argv[2], 1, 65535);
    int gw_pid = (int)bench_arg_long(argv[3], 1, 1 << 30);
    int echo_port = (int)bench_arg_long(argv[4], 1, 65535);
    long nsock = bench_arg_long(argv[5], 1, 100000);
    long nwait = bench_arg_long(argv[6], 1, nsock);
    int base_port = (int)bench_arg_long(argv[7], 1, 65535);
    int base_pid = (int)bench_arg_long(argv[8], 1, 1 << 30);
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
        bench_die("calloc");
    hconn_call(&h, "GET", "/healthz", NULL);
    usleep(100000);
    long rss0 = proc_status(gw_pid, "VmRSS");
    double t0 = bench_now_s();
    for (long i = 0; i < nsock; i++) {
        bench_gw_socket_connect(&h, echo_port, ids[i], sizeof(ids[i]));
        if (bench_now_s() - t0 > 60) {
            errno = ETIMEDOUT;
            bench_die("creating sockets");
        }
    }
    usleep(100000);
    long rss1 = proc_status(gw_pid, "VmRSS");

    /* Waits: one keep-alive connection each, holding a recv that nothing will answer.
     * Each connection first serves one request, as a client's recv loop would have, so
     * that its memory is what a busy connection holds (as in the baseline below). */
    struct hconn *w = calloc((size_t)nwait, sizeof(*w));
    if (!w)
        bench_die("calloc");
    for (long i = 0; i < nwait; i++) {
        char path[64];
        hconn_open(&w[i], gw_port);
        hconn_call(&w[i], "GET", "/healthz", NULL);
        hconn_consume(&w[i]);
        snprintf(path, sizeof(path), "/sockets/%s/recv", ids[i]);
        hconn_send(&w[i], "POST", path, "{\"n\":100,\"timeout\":25}");
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
    hconn_call(&h, "GET", "/", NULL);
    usleep(100000);
    long b0 = proc_status(base_pid, "VmRSS");
    for (long i = 0; i < nwait; i++) {
        hconn_open(&w[i], base_port);
        hconn_call(&w[i], "GET", "/sockets/s1/getsockname", NULL);
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
