/*
 * HTTP connection limits, in total and per client address. libmicrohttpd's own limits
 * drop an extra connection without a word; counting here instead lets the extra
 * connection be answered 429 with a LIMIT list, so a client learns why. http_conn.c calls
 * it for each connection libmicrohttpd opens and closes.
 */
#ifndef SOCKGATE_CONNLIMIT_H
#define SOCKGATE_CONNLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct connlimit;
struct connlimit_entry;              /* one client address and its open connections */

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_ip);
void connlimit_free(struct connlimit *cl);

/* Counts a connection from `client` as it opens, and returns its address's entry for
 * connlimit_close; NULL (out of memory) leaves it uncounted, served without a per-address
 * check. */
struct connlimit_entry *connlimit_open(struct connlimit *cl, const struct sockaddr *client);
/* Counts a connection as closed; NULL does nothing. */
void connlimit_close(struct connlimit *cl, struct connlimit_entry *e);

/* True when a connection (its entry, or NULL) is beyond a limit; `why` gets a short
 * reason. */
bool connlimit_exceeded(const struct connlimit *cl, const struct connlimit_entry *e,
                        const char **why);

#endif
