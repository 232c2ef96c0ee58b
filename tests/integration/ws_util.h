/*
 * Helpers for the WebSocket bridge tests, on top of harness.h and the lean client of
 * ws_client.h: open a bridge and assert the 101, expect a refusal, read to the Close,
 * and look at a socket's listing. Each failure fails the test (cmocka).
 */
#ifndef SOCKGATE_WS_UTIL_H
#define SOCKGATE_WS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "ws_client.h"

#define WU_TIMEOUT_MS 20000          /* every wait of a bridge test */

/* Upgrades `path` (e.g. "/sockets/s1/ws?halfclose=1"); asserts a valid 101. */
void wu_open_path(struct wsc *c, const struct hx_server *s, const char *path,
                  const char *extra_headers);
/* Upgrades /sockets/<id>/ws with an optional query ("halfclose=1", NULL for none). */
void wu_open(struct wsc *c, const struct hx_server *s, const char *id, const char *query);

/* A gateway socket connected to a fresh loopback peer and bridged (wu_open, no query):
 * writes its id (64 bytes) and returns the peer's fd, which the caller closes. */
int wu_bridge(const struct hx_server *s, char *id, struct wsc *c);

/* Asserts that upgrading `path` is refused with `status` and a JSON list [name, outcome...]
 * (outcome a prefix, e.g. "NOTCONN"). */
void wu_expect_refused(const struct hx_server *s, const char *path, const char *extra_headers,
                       int status, const char *name, const char *outcome);

/* Sends one binary message. */
void wu_send(struct wsc *c, const void *data, size_t len);
/* Reads one message and asserts it is binary and equal to data. */
void wu_expect_message(struct wsc *c, const void *data, size_t len);

/* Reads data frames until the Close: their bytes go to buf (at most cap; the rest is
 * counted and dropped). Returns the data byte count; *code and reason get the Close's.
 * Fails on a connection that ends without a Close. */
uint64_t wu_read_to_close(struct wsc *c, uint8_t *buf, size_t cap, unsigned *code,
                          char *reason, size_t reason_cap);
/* Asserts the next thing read is a Close with `code` (and a reason containing `reason`,
 * when not NULL), then answers it and expects the server to end the connection. */
void wu_expect_close(struct wsc *c, unsigned code, const char *reason);

/* The socket's state and byte counts from GET /sockets/<id> (404: state "gone"). */
void wu_socket_state(const struct hx_server *s, const char *id, char *state, size_t cap,
                     uint64_t *bytes_in, uint64_t *bytes_out);
/* Waits (at most 5 s) until GET /sockets/<id> says `state` ("gone" for a 404). */
void wu_wait_state(const struct hx_server *s, const char *id, const char *state);

/* Reads from fd until end of stream (at most cap bytes kept, all counted), within
 * WU_TIMEOUT_MS. Returns the count. */
uint64_t wu_read_to_eof(int fd, uint8_t *buf, size_t cap);

/* The server's resident memory in kB (VmRSS). */
long wu_rss_kb(const struct hx_server *s);

#endif
