/*
 * Background results as Server-Sent Events: one bounded buffer per credential, any
 * number of GET /events listeners, resumption by Last-Event-ID, heartbeats, and an
 * `overflow` event that says how many events a listener missed.
 */
#ifndef SOCKGATE_EVENTS_H
#define SOCKGATE_EVENTS_H

#include <stddef.h>

#include "codec.h"
#include "server.h"

struct events;

struct events *events_new(struct srv *s, size_t buffer_per_owner);
/* Ends every stream (for shutdown; the daemon still has to run to close them). */
void events_end_streams(struct events *ev);
/* Frees everything, after the daemon has stopped. Accepts NULL. */
void events_free(struct events *ev);

/* A binding of a background operation to its credential and callback name, to pass as
 * the ctx of events_deliver. NULL on allocation failure. */
void *events_bind(struct events *ev, int owner, const char *callback, enum codec_encoding enc);
/* Frees a binding whose operation never started. */
void events_unbind(void *binding);
/* eng_done_fn: publishes the list as an event named by the callback; consumes list and,
 * with the operation's last answer, the binding. */
void events_deliver(void *binding, struct eng_list *list);

/* Publishes an event of `name` with `data` (one line of JSON) for `owner`. */
void events_publish(struct events *ev, int owner, const char *name, const char *data, size_t len);

/* Serves GET /events for `owner`. */
enum MHD_Result events_serve(struct srv_req *r, int owner);

/* Counters for metrics. */
unsigned long long events_dropped(const struct events *ev);

#endif
