/*
 * What sockgate keeps for each connection libmicrohttpd holds: its place in the
 * connection counts (connlimit.h), and a watch for the client's end of stream.
 *
 * The watch is there because libmicrohttpd 0.9.75, on its edge-triggered epoll, misses an
 * end of stream that arrives together with the last bytes of an unfinished request head:
 * it reads the bytes, waits for an edge that never comes, and holds the connection in
 * CLOSE-WAIT until its 120 s timeout. When the client's side closes, the watch shuts the
 * connection's reading side down (shutdown SHUT_RD): that changes the socket's state,
 * which wakes libmicrohttpd's own epoll entry, and its next read sees the end. Nothing
 * else changes: the client sends nothing more after its end anyway, and an answer still
 * goes out.
 */
#ifndef SOCKGATE_HTTP_CONN_H
#define SOCKGATE_HTTP_CONN_H

#include <microhttpd.h>
#include <stdbool.h>

#include "loop.h"

struct http_conns;

/* NULL when out of memory. Limits of 0 mean none. */
struct http_conns *http_conns_new(struct eng_loop *loop, unsigned max_total,
                                  unsigned max_per_ip);
/* After MHD_stop_daemon, which closes every connection; NULL does nothing. */
void http_conns_free(struct http_conns *hc);

/* MHD_NotifyConnectionCallback, with the http_conns as its cls. */
void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* True when this connection is beyond a connection limit; `why` gets a short reason. */
bool http_conn_over_limit(const struct http_conns *hc, struct MHD_Connection *conn,
                          const char **why);

/* The connection's socket is watched in the same event loop by whoever holds it for a
 * while: a suspended request and an event stream watch it for their client's leaving
 * (step aside; back with http_conn_watch_again when the request completes), and a
 * WebSocket bridge takes it for good after an upgrade (hand over). One descriptor can be
 * in one epoll set only once, so the end-of-stream watch makes way. */
void http_conn_step_aside(struct http_conns *hc, struct MHD_Connection *conn);
void http_conn_watch_again(struct http_conns *hc, struct MHD_Connection *conn);
void http_conn_hand_over(struct http_conns *hc, struct MHD_Connection *conn);

#endif
