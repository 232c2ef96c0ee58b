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
 *   bench_client healthz-flood GW_PORT COUNT FLOOD
 *   bench_client stream-tcp HTTP_PORT URL_PATH FILE
 *   bench_client stream-ws WS_PORT WS_PATH URL_PATH FILE [PROTOCOL]
 *   bench_client stream-gw GW_PORT HTTP_PORT URL_PATH FILE
 *   bench_client stream-raw GW_PORT HTTP_PORT URL_PATH FILE
 */
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_client.h"
#include "bench_http.h"
#include "benchdata.h"

/* ---- helpers for run.sh ------------------------------------------------------------ */

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(BENCH_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        bench_die("freeport");
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
    size_t total = (size_t)bench_arg_long(argv[4], 1, 1L << 32);
    FILE *f = fopen(argv[3], "wb");
    if (!f)
        bench_die(argv[3]);
    size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        bench_die("malloc");
    struct bench_rng rng = {0x2545F491u};
    for (size_t done = 0; done < total;) {
        size_t n = total - done < chunk ? total - done : chunk;
        if (argv[2][0] == 't')
            bench_fill_text(&rng, buf, n);
        else
            bench_fill_binary(&rng, buf, n);
        if (fwrite(buf, 1, n, f) != n)
            bench_die("fwrite");
        done += n;
    }
    if (fclose(f) != 0)
        bench_die("fclose");
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
        return bench_echo(true, argc, argv);
    if (strcmp(m, "echo-tcp") == 0)
        return bench_echo(false, argc, argv);
    if (strcmp(m, "bulk-gw") == 0)
        return bench_bulk_gw(argc, argv);
    if (strcmp(m, "bulk-tcp") == 0)
        return bench_bulk_tcp(argc, argv);
    if (strcmp(m, "rate") == 0)
        return bench_rate(argc, argv);
    if (strcmp(m, "footprint") == 0)
        return bench_footprint(argc, argv);
    if (strcmp(m, "healthz-flood") == 0)
        return bench_healthz_flood(argc, argv);
    if (strncmp(m, "stream-", 7) == 0)
        return bench_stream(argc, argv);
    fprintf(stderr, "usage: bench_client freeport|gen|echo-gw|echo-tcp|bulk-gw|bulk-tcp|rate|"
                    "footprint|healthz-flood|stream-tcp|stream-ws|stream-gw|stream-raw ...\n");
    return 2;
}
