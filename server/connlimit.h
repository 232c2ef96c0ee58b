/*
 * HTTP connection limits, in total and per client address. libmicrohttpd's own limits
 * drop an extra connection without a word; counting here instead lets the extra
 * connection be answered 429 with a LIMIT list, so a client learns why.
 */
#ifndef SOCKGATE_CONNLIMIT_H
#define SOCKGATE_CONNLIMIT_H

#include <microhttpd.h>
#include <stdbool.h>

struct connlimit;

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_ip);
void connlimit_free(struct connlimit *cl);

/* MHD_NotifyConnectionCallback: counts connections as they open and close. */
void connlimit_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* True when this connection is beyond a limit; `why` gets a short reason. */
bool connlimit_exceeded(const struct connlimit *cl, struct MHD_Connection *conn, const char **why);

#endif
