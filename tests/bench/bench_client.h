/*
 * The modes of bench_client, one file each (bench_echo.c, bench_bulk.c, bench_rate.c,
 * bench_footprint.c, bench_fair.c); bench_client.c picks one by its first argument. Each takes the
 * whole argv, prints its results as key=value lines, and returns the exit status (2 for
 * bad usage).
 */
#ifndef SOCKGATE_BENCH_CLIENT_H
#define SOCKGATE_BENCH_CLIENT_H

#include <stdbool.h>

/* echo-gw (gw true) and echo-tcp: send + recv pairs. */
int bench_echo(bool gw, int argc, char **argv);
/* bulk-gw and bulk-tcp: one large response read to its end. */
int bench_bulk_gw(int argc, char **argv);
int bench_bulk_tcp(int argc, char **argv);
/* rate: a fixed GET on keep-alive connections (for profiling runs). */
int bench_rate(int argc, char **argv);
/* footprint: memory per idle socket and per waiting recv. */
int bench_footprint(int argc, char **argv);
/* healthz-flood: /healthz latency while one socket is flooded. */
int bench_healthz_flood(int argc, char **argv);
/* stream-tcp, stream-ws, stream-gw: one large response, read directly or through a
 * WebSocket bridge, every byte checked. */
int bench_stream(int argc, char **argv);

#endif
