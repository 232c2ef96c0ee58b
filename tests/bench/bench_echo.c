/*
 * bench_client echo-gw / echo-tcp (part b of `make bench`): CLIENTS connections, each
 * repeating a send of SIZE bytes and the recv(s) that bring them back from the echo
 * server, through sockgate (POST send, POST recv) or over a plain TCP socket, all from
 * one epoll loop. Prints the pairs done and the mean time of one pair.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"

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
    c->started = bench_now_s();
    hconn_send(&c->h, "POST", c->send_path, send_body);
}

/* Advances a gateway client on a complete response. Returns true when a pair ended. */
static bool echo_gw_step(struct echo_client *c, size_t size)
{
    struct hconn *h = &c->h;
    if (!bench_answer_ok(h)) {
        fprintf(stderr, "bench_client: echo answered %d %.*s\n", h->status, (int)h->bodylen,
                hconn_body(h));
        exit(1);
    }
    if (c->phase == 1) {
        const char *v;
        size_t n;
        if (!bench_list_item(hconn_body(h), h->bodylen, 2, &v, &n))
            bench_die("recv answer");
        c->got += n; /* letters are their own ascii~hex */
    }
    hconn_consume(h);
    if (c->phase == 0 || c->got < size) {
        c->phase = 1;
        hconn_send(h, "POST", c->recv_path, recv_body);
        return false;
    }
    return true;
}

int bench_echo(bool gw, int argc, char **argv)
{
    int a = gw ? 1 : 0;
    if (argc != 7 + a) {
        fprintf(stderr, "usage: bench_client echo-gw GW_PORT ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE\n"
                        "       bench_client echo-tcp ECHO_PORT CLIENTS SECONDS MAX_PAIRS SIZE\n");
        return 2;
    }
    int gw_port = gw ? (int)bench_arg_long(argv[2], 1, 65535) : 0;
    int echo_port = (int)bench_arg_long(argv[2 + a], 1, 65535);
    int nclients = (int)bench_arg_long(argv[3 + a], 1, 4096);
    double seconds = (double)bench_arg_long(argv[4 + a], 1, 600);
    long max_pairs = bench_arg_long(argv[5 + a], 1, 100000000);
    size_t size = (size_t)bench_arg_long(argv[6 + a], 1, 65536);

    payload = malloc(size + 1);
    send_body = malloc(size + 32);
    char *echo_buf = malloc(size);
    struct echo_client *cl = calloc((size_t)nclients, sizeof(*cl));
    if (!payload || !send_body || !echo_buf || !cl)
        bench_die("malloc");
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
            bench_gw_socket_connect(&c->h, echo_port, c->id, sizeof(c->id));
            snprintf(c->send_path, sizeof(c->send_path), "/sockets/%s/send", c->id);
            snprintf(c->recv_path, sizeof(c->recv_path), "/sockets/%s/recv", c->id);
            hconn_consume(&c->h);
            /* One warm-up pair, untimed. */
            echo_gw_start_pair(c);
            do
                hconn_wait(&c->h);
            while (!echo_gw_step(c, size));
            bench_set_nonblocking(c->h.fd);
        } else {
            c->fd = bench_tcp_connect(echo_port);
            bench_write_all(c->fd, payload, size);
            for (size_t got = 0; got < size;) {
                ssize_t r = read(c->fd, echo_buf, size - got);
                if (r <= 0)
                    bench_die("echo warm-up");
                got += (size_t)r;
            }
            bench_set_nonblocking(c->fd);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, gw ? c->h.fd : c->fd, &ev);
    }

    double t0 = bench_now_s(), deadline = t0 + seconds;
    for (int i = 0; i < nclients; i++) {
        struct echo_client *c = &cl[i];
        if (gw) {
            echo_gw_start_pair(c);
        } else {
            c->started = bench_now_s();
            c->got = 0;
            bench_write_all(c->fd, payload, size);
        }
    }
    int active = nclients;
    struct epoll_event evs[256];
    while (active > 0) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno != EINTR)
            bench_die("epoll_wait");
        for (int k = 0; k < n; k++) {
            struct echo_client *c = evs[k].data.ptr;
            bool pair_done = false;
            if (gw) {
                hconn_fill(&c->h);
                while (!pair_done && hconn_parse(&c->h))
                    pair_done = echo_gw_step(c, size);
            } else {
                ssize_t r = read(c->fd, echo_buf, size);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (r <= 0)
                    bench_die("echo read");
                c->got += (size_t)r;
                pair_done = c->got >= size;
            }
            if (!pair_done)
                continue;
            double t = bench_now_s();
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
                bench_write_all(c->fd, payload, size);
            }
        }
        if (bench_now_s() > deadline + 10)
            bench_die("echo clients stalled");
    }
    double elapsed = bench_now_s() - t0;
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
