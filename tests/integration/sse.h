/*
 * A Server-Sent Events client for the integration tests: a raw socket GET /events that
 * reads the HTTP head, undoes chunked transfer encoding, and parses `id:`, `event:`,
 * `data:`, `retry:` and comment lines into events as the WHATWG EventSource rules do.
 * Every read has a poll() deadline, so a silent server fails a test instead of hanging it.
 *
 * Ownership: an sse_stream and its events are the caller's; free events with
 * sse_event_free and streams with sse_close. The parser (sse_parser) is independent of
 * any socket, so it can be fed canned bytes.
 */
#ifndef SOCKGATE_SSE_H
#define SOCKGATE_SSE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_MAX_EVENT (1 << 20)      /* bytes of data one event may carry */
#define SSE_MAX_QUEUE 256            /* parsed events not yet taken */

struct sse_event {
    char id[32];                     /* the stream's last event id when it dispatched */
    bool has_id;                     /* the block itself had an id: line */
    char name[160];                  /* event: value, "message" when absent */
    char *data;                      /* data: lines joined by \n, NUL-terminated (owned) */
    size_t data_len;                 /* its length */
    cJSON *json;                     /* data parsed as JSON, or NULL (owned) */
};

/* The line-level parser: bytes in, events out. */
struct sse_parser {
    char line[SSE_MAX_EVENT];        /* the line being read */
    size_t line_len;
    bool line_too_long;              /* the line passed SSE_MAX_EVENT: a test failure */
    bool after_cr;                   /* the last byte was CR (CRLF counts once) */
    char data[SSE_MAX_EVENT];        /* data of the event being built */
    size_t data_len;
    bool has_data;                   /* a data: line was seen in this block */
    char name[160];                  /* event: of the block being built */
    char last_id[32];                /* last event id, kept across blocks */
    bool block_has_id;               /* an id: line in this block */
    long retry_ms;                   /* last retry: value, -1 when none */
    unsigned comments;               /* comment lines seen (heartbeats) */
    struct sse_event queue[SSE_MAX_QUEUE]; /* dispatched events, oldest first */
    size_t qhead, qcount;
};

void sse_parser_init(struct sse_parser *p);
/* Feeds decoded stream bytes; events are queued. Returns 0, or -1 when the queue or a
 * line is full. */
int sse_parser_feed(struct sse_parser *p, const char *bytes, size_t len);
/* Takes the oldest queued event into *ev. Returns true when there was one. */
bool sse_parser_take(struct sse_parser *p, struct sse_event *ev);
/* Frees queued events. */
void sse_parser_deinit(struct sse_parser *p);

/* Undoes chunked transfer encoding incrementally. */
struct sse_dechunk {
    int state;                       /* where in the chunk grammar */
    size_t left;                     /* bytes left in the current chunk */
    bool done;                       /* the last (zero) chunk was read */
    bool error;                      /* malformed framing */
};

/* Decodes `len` bytes of chunked framing in place into `buf`; returns decoded bytes. */
size_t sse_dechunk_run(struct sse_dechunk *d, char *buf, size_t len);

struct sse_stream {
    int fd;                          /* the connection, -1 when closed */
    int status;                      /* HTTP status of the answer */
    char headers[4096];              /* raw header block */
    bool chunked;                    /* Transfer-Encoding: chunked */
    bool eof;                        /* the server ended the stream */
    struct sse_dechunk dechunk;      /* chunked framing state */
    struct sse_parser *parser;       /* heap: it is large */
};

/* Opens GET <path> (normally "/events") on 127.0.0.1:port with optional extra header
 * lines ("Name: value\r\n" each) and reads the answer's head within timeout_ms. rcvbuf > 0
 * sets SO_RCVBUF first (a slow reader). Fails the test on a transport error; the status is
 * in s->status. */
void sse_open_path(struct sse_stream *s, uint16_t port, const char *path, const char *headers,
                   int rcvbuf, int timeout_ms);
/* GET /events, with `Last-Event-ID: last_id` when last_id is not NULL; expects 200 and
 * text/event-stream. */
void sse_open(struct sse_stream *s, uint16_t port, const char *last_id);

/* Waits up to timeout_ms for the next event. Returns 1 with *ev filled, 0 on timeout,
 * -1 when the stream ended (or was malformed) with nothing queued. */
int sse_next(struct sse_stream *s, int timeout_ms, struct sse_event *ev);
/* Next event within timeout_ms, which must be named `name`; fails the test otherwise. */
void sse_expect(struct sse_stream *s, int timeout_ms, const char *name, struct sse_event *ev);
/* Asserts no event arrives within ms. */
void sse_expect_quiet(struct sse_stream *s, int ms);
/* Reads and parses whatever arrives for `ms` (comments included) without taking events. */
void sse_pump(struct sse_stream *s, int ms);
void sse_close(struct sse_stream *s);

void sse_event_free(struct sse_event *ev);
/* Element i of the event's JSON list as a string, or NULL. */
const char *sse_elem(const struct sse_event *ev, int i);
/* Number of elements of the event's JSON list, or -1. */
int sse_len(const struct sse_event *ev);
/* Asserts the event's data is a list of exactly `n` strings equal to the arguments
 * (a NULL argument matches any string; one ending in "..." matches a prefix). */
void sse_expect_list(const struct sse_event *ev, int n, ...);

#endif
