/*
 * What makes a gateway one node among several (SPEC §2, §12): its name, which requests
 * may name (?node=NAME, or a socket id's NAME. prefix), and the base of this run's ids,
 * which keeps ids from ever being given out twice, across restarts too.
 */
#ifndef SOCKGATE_NODE_H
#define SOCKGATE_NODE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

struct srv;

/* The base of this run's socket and event ids: the wall clock in microseconds at start.
 * Every id a run gives out is its base plus a count, and a run cannot give out more ids
 * than there are microseconds until the next one starts, so the next run's ids are all
 * higher. (This holds unless the clock goes back by more than the previous run lasted.) */
uint64_t node_boot_base(void);

/* True when the request is for another node than this gateway: ?node= (`asked`, NULL when
 * none) names another, or its path is /sockets/<id>... with an id whose NAME. prefix is
 * not this gateway's --node. Such a request is answered 421 MISDIRECTED and never touches
 * a socket. */
bool node_misdirected(const struct srv *s, const char *asked, const char *url);

#endif
