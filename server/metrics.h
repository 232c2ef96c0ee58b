/*
 * Counters for GET /metrics in the Prometheus text format: commands by name and outcome,
 * HTTP requests by status, and the engine's gauges read at scrape time.
 */
#ifndef SOCKGATE_METRICS_H
#define SOCKGATE_METRICS_H

#include "server.h"

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Counts one command answer (the command an answer list carries): code 0 is "ok",
 * others count under their error name. */
void metrics_count_command(struct metrics *m, enum eng_cmd cmd, int code);
/* Counts one HTTP response by status. */
void metrics_count_status(struct metrics *m, int status);

enum MHD_Result metrics_serve(struct srv_req *r);

#endif
