/*
 * bench_client rate (for `make bench-profile`): a fixed GET sent COUNT times on CONNS
 * keep-alive connections from one epoll loop, bounded by SECONDS. Prints requests per
 * second and how many did not answer 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"

int bench_rate(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_client rate PORT URL_PATH CONNS COUNT SECONDS\n");
        return 2;
    }
    int port = (int)bench_arg_long(argv[2], 1, 65535);
    const char *url = argv[3];
    int nconn = (int)bench_arg_long(argv[4], 1, 4096);
    long count = bench_arg_long(argv[5], 1, 100000000);
    double seconds = (double)bench_arg_long(argv[6], 1, 3600);
    struct hconn *hs = calloc((size_t)nconn, sizeof(*hs));
    if (!hs)
        bench_die("calloc");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long sent = 0, done = 0, bad = 0;
    double t0 = bench_now_s();
    for (int i = 0; i < nconn; i++) {
        hconn_open(&hs[i], port);
        bench_set_nonblocking(hs[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &hs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, hs[i].fd, &ev);
        if (sent < count) {
            hconn_send(&hs[i], "GET", url, NULL);
            sent++;
        }
    }
    struct epoll_event evs[256];
    while (done < sent && bench_now_s() - t0 < seconds) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            struct hconn *h = evs[k].data.ptr;
            hconn_fill(h);
            while (hconn_parse(h)) {
                done++;
                bad += h->status != 200;
                hconn_consume(h);
                if (sent < count && bench_now_s() - t0 < seconds) {
                    hconn_send(h, "GET", url, NULL);
                    sent++;
                }
            }
        }
    }
    double elapsed = bench_now_s() - t0;
    printf("requests=%ld\nnon_200=%ld\nseconds=%.3f\nreq_per_s=%.0f\n", done, bad, elapsed,
           (double)done / elapsed);
    for (int i = 0; i < nconn; i++)
        hconn_close(&hs[i]);
    free(hs);
    close(ep);
    return 0;
}
