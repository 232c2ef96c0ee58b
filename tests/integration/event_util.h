/*
 * Helpers shared by the background-operation and event-stream tests (test_callbacks,
 * test_events), on top of harness.h and sse.h: commands that must start a background
 * operation or succeed, gateway sockets connected or bound on loopback, datagrams to
 * them, a socket's counters, and event ids. Every wait is bounded.
 */
#ifndef SOCKGATE_EVENT_UTIL_H
#define SOCKGATE_EVENT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "sse.h"

#define EU_EVENT_MS 5000             /* longest wait for an event that must come */
#define EU_QUIET_MS 300              /* how long "no event" is watched */

/* POST path, a command that must start a background operation: 202 ["cmd","ok"],
 * answered at once (within 2 s), or the test fails. */
void eu_bg_path(const struct hx_server *srv, const char *path, const char *cmd,
                const char *body);
/* The same for POST /sockets/<id>/<cmd>. */
void eu_bg(const struct hx_server *srv, const char *id, const char *cmd, const char *body);
/* A command that must answer 200 ["cmd","ok",...]; copies element `want` into out
 * (out NULL: nothing is copied). */
void eu_ok_cmd(const struct hx_server *srv, const char *id, const char *cmd, const char *body,
               int want, char *out, size_t outlen);
/* A gateway STREAM socket (id: 64 bytes) connected to the test's listener lfd on
 * 127.0.0.1:port; returns the peer's fd, which the caller closes. */
int eu_connected(const struct hx_server *srv, int lfd, uint16_t port, char *id);
/* A gateway socket of `type` ("STREAM", "DGRAM") bound to 127.0.0.1 with an OS-chosen
 * port, which is returned. */
uint16_t eu_bound(const struct hx_server *srv, const char *type, char *id);
/* Sends `text` as one datagram from udp to 127.0.0.1:to. */
void eu_send_dgram(int udp, uint16_t to, const char *text);
/* The number `field` of GET /sockets/<id> (which must answer 200). */
double eu_socket_number(const struct hx_server *srv, const char *id, const char *field);
/* Waits until socket `id` has received `bytes`: every event for them is then published. */
void eu_wait_bytes_in(const struct hx_server *srv, const char *id, double bytes);
/* The event's own id as a number; fails when the event has none or it is not a number. */
unsigned long long eu_event_id(const struct sse_event *ev);

/* The next event must be `name` with the one-element-per-argument list given. */
#define EU_EXPECT_EVENT(stream, name, n, ...)                                                  \
    do {                                                                                       \
        struct sse_event ev_;                                                                  \
        sse_expect((stream), EU_EVENT_MS, (name), &ev_);                                       \
        sse_expect_list(&ev_, (n), __VA_ARGS__);                                               \
        sse_event_free(&ev_);                                                                  \
    } while (0)

#endif
