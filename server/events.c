/*
 * Server-Sent Events (see events.h). Each credential has a ring of the latest events,
 * numbered on from this run's base (node.h), so that ids keep growing across restarts; a
 * client that resumes with an id from an earlier run gets a `restart` event first. A
 * listener is a libmicrohttpd callback response whose reader copies events after its
 * cursor and suspends the connection when there is nothing to send; publishing or a
 * heartbeat resumes it. A suspended listener's socket is watched for a hang-up, as
 * libmicrohttpd does not notice it while suspended.
 */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "http_conn.h"
#include "log.h"
#include "render.h"

#define EVENTS_HEARTBEAT_MS 15000 /* when --heartbeat is not given */
/* Bytes of events kept per credential: recv events can be megabytes each. */
#define EVENTS_MAX_BYTES (64u << 20)
#define EVENTS_MAX_OWNERS ENG_MAX_OWNERS

struct event {
    unsigned long long id;           /* base + 1, base + 2, ... per credential */
    char *text;                      /* the whole "id:/event:/data:" block */
    size_t len;                      /* its length */
};

struct listener;

struct owner_events {
    struct event *ring;              /* capacity events, oldest at head */
    size_t head, count;              /* ring position and fill */
    size_t bytes;                    /* text bytes held */
    size_t orphan_bytes;             /* held by listeners as orphans (see listener) */
    unsigned long long next_id;      /* id of the next event */
    unsigned long long delivered;    /* highest id any listener has received */
    struct listener *listeners;      /* open streams */
};

struct events {
    struct srv *srv;                 /* the server */
    size_t capacity;                 /* events kept per credential */
    struct owner_events owners[EVENTS_MAX_OWNERS];
    struct eng_timer heartbeat;      /* wakes listeners with a comment */
    unsigned long long dropped;      /* events pushed out of a full ring */
};

struct listener {
    struct events *ev;               /* the hub */
    struct owner_events *oe;         /* its credential's events */
    struct MHD_Connection *conn;     /* the stream's connection */
    struct listener *next, *prev;    /* oe->listeners */
    unsigned long long cursor;       /* id of the next event to send */
    size_t partial;                  /* bytes of the current event already sent */
    char *orphan;                    /* the current event's text, when the ring dropped it
                                      * half sent (owned) */
    size_t orphan_len;               /* its length */
    bool suspended;                  /* waiting for an event */
    bool heartbeat_due;              /* send a comment line */
    bool gone;                       /* the client hung up */
    bool ending;                     /* the server is shutting down: end the stream */
    bool hello_sent;                 /* the opening retry line went out */
    bool restart_due;                /* its Last-Event-ID is from before this run */
    struct eng_watch hangup;         /* the socket, while suspended */
};

struct binding {
    struct events *ev;               /* the hub */
    int owner;                       /* credential */
    enum codec_encoding enc;         /* encoding of data in the event */
    char name[];                     /* callback name */
};

static void listener_wake(struct listener *l)
{
    if (l->suspended) {
        l->suspended = false;
        eng_watch_set(l->ev->srv->loop, &l->hangup, 0);
        srv_resume(l->ev->srv, l->conn);
    }
}

/* --heartbeat in ms: 0 means the default, and a floor keeps a typo from busy-looping. */
static uint64_t heartbeat_ms(const struct events *ev)
{
    double secs = ev->srv->cfg ? ev->srv->cfg->heartbeat : 0;
    if (!(secs > 0))
        return EVENTS_HEARTBEAT_MS;
    return secs < 0.05 ? 50 : (uint64_t)(secs * 1000.0 + 0.5);
}

static void heartbeat_fire(struct eng_timer *t)
{
    struct events *ev = (struct events *)((char *)t - offsetof(struct events, heartbeat));
    for (size_t i = 0; i < EVENTS_MAX_OWNERS; i++)
        for (struct listener *l = ev->owners[i].listeners; l; l = l->next) {
            l->heartbeat_due = true;
            listener_wake(l);
        }
    eng_timer_start(ev->srv->loop, &ev->heartbeat, eng_now_ms() + heartbeat_ms(ev));
}

struct events *events_new(struct srv *s, size_t capacity)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    ev->srv = s;
    ev->capacity = capacity ? capacity : 1;
    for (size_t i = 0; i < EVENTS_MAX_OWNERS; i++) {
        /* Ids keep growing across restarts; nothing of this run was delivered yet. */
        ev->owners[i].next_id = s->boot_base + 1;
        ev->owners[i].delivered = s->boot_base;
    }
    eng_timer_init(&ev->heartbeat, heartbeat_fire);
    eng_timer_start(s->loop, &ev->heartbeat, eng_now_ms() + heartbeat_ms(ev));
    return ev;
}

void events_end_streams(struct events *ev)
{
    for (size_t i = 0; i < EVENTS_MAX_OWNERS; i++)
        for (struct listener *l = ev->owners[i].listeners; l; l = l->next) {
            l->ending = true;
            listener_wake(l);
        }
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    eng_timer_stop(ev->srv->loop, &ev->heartbeat);
    for (size_t i = 0; i < EVENTS_MAX_OWNERS; i++) {
        struct owner_events *oe = &ev->owners[i];
        for (struct listener *l = oe->listeners; l; l = l->next) {
            l->ev = NULL; /* the response's free callback must not touch the hub */
            l->oe = NULL;
        }
        for (size_t k = 0; k < oe->count; k++)
            free(oe->ring[(oe->head + k) % ev->capacity].text);
        free(oe->ring);
    }
    free(ev);
}

void events_publish(struct events *ev, int owner, const char *name, const char *data, size_t len)
{
    if (owner < 0 || owner >= EVENTS_MAX_OWNERS)
        return;
    struct owner_events *oe = &ev->owners[owner];
    if (!oe->ring) {
        oe->ring = calloc(ev->capacity, sizeof(*oe->ring));
        if (!oe->ring)
            return;
    }
    size_t cap = eng_size_add(len, eng_size_add(strlen(name), 64));
    char *text = malloc(cap);
    if (!text)
        return;
    unsigned long long id = oe->next_id++;
    int n = snprintf(text, cap, "id: %llu\nevent: %s\ndata: %.*s\n\n", id, name, (int)len, data);
    while (oe->count > 0 && (oe->count == ev->capacity || oe->bytes + (size_t)n > EVENTS_MAX_BYTES)) {
        struct event *old = &oe->ring[oe->head];
        /* A listener half way through the oldest event finishes it from its own copy,
         * or its stream would splice two events together. */
        for (struct listener *l = oe->listeners; l; l = l->next) {
            if (l->partial == 0 || l->cursor != old->id || l->orphan)
                continue;
            /* Each copy is a whole event, so copies for many slow listeners are held
             * to the same budget as the ring. */
            l->orphan = oe->orphan_bytes + old->len <= EVENTS_MAX_BYTES ? malloc(old->len) : NULL;
            if (l->orphan) {
                memcpy(l->orphan, old->text, old->len);
                l->orphan_len = old->len;
                oe->orphan_bytes += old->len;
            } else {
                l->gone = true; /* end the stream; the client resumes by Last-Event-ID */
            }
        }
        oe->bytes -= old->len;
        free(old->text);
        oe->head = (oe->head + 1) % ev->capacity;
        oe->count--;
        ev->dropped++;
    }
    oe->bytes += (size_t)n;
    oe->ring[(oe->head + oe->count) % ev->capacity] =
        (struct event){.id = id, .text = text, .len = (size_t)n};
    oe->count++;
    for (struct listener *l = oe->listeners; l; l = l->next)
        listener_wake(l);
}

void *events_bind(struct events *ev, int owner, const char *callback, enum codec_encoding enc)
{
    size_t len = strlen(callback);
    struct binding *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    b->ev = ev;
    b->owner = owner;
    b->enc = enc;
    memcpy(b->name, callback, len + 1);
    return b;
}

void events_unbind(void *binding)
{
    free(binding);
}

void events_deliver(void *binding, struct eng_list *list)
{
    struct binding *b = binding;
    bool last = !list || list->last;
    if (list) {
        size_t len;
        char *json = render_list(list, b->enc, &len);
        if (json)
            events_publish(b->ev, b->owner, b->name, json, len);
        free(json);
        eng_list_free(list);
    }
    if (last)
        free(b);
}

unsigned long long events_dropped(const struct events *ev)
{
    return ev->dropped;
}

static void listener_hangup(struct eng_watch *w, uint32_t events)
{
    (void)events;
    struct listener *l = (struct listener *)((char *)w - offsetof(struct listener, hangup));
    l->gone = true;
    listener_wake(l);
}

static void listener_suspend(struct listener *l)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(l->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    MHD_suspend_connection(l->conn);
    l->suspended = true;
    if (ci) {
        http_conn_step_aside(l->ev->srv->conns, l->conn);
        eng_watch_init(&l->hangup, ci->connect_fd, listener_hangup);
        int rc = eng_watch_set(l->ev->srv->loop, &l->hangup, EPOLLRDHUP);
        if (rc < 0)
            log_line(l->ev->srv->cfg, "cannot watch an event listener for its leaving (%s): "
                                      "its stream ends at the next event", strerror(-rc));
    }
}

/* Copies what fits of the current event's text (len bytes, from l->partial on) to
 * buf + *used. Returns true when the event has gone out whole: the cursor moves on. */
static bool copy_event(struct listener *l, const char *text, size_t len, char *buf,
                       size_t *used, size_t max)
{
    size_t take = len - l->partial;
    if (take > max - *used)
        take = max - *used;
    memcpy(buf + *used, text + l->partial, take);
    *used += take;
    l->partial += take;
    if (l->partial < len)
        return false;
    l->partial = 0;
    if (l->cursor > l->oe->delivered)
        l->oe->delivered = l->cursor;
    l->cursor++;
    return true;
}

/* Copies as much of the stream as fits: an overflow notice, then events after the
 * cursor, each possibly across several calls. */
static ssize_t listener_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct listener *l = cls;
    if (!l->ev || l->ending)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (l->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    struct owner_events *oe = l->oe;
    size_t used = 0;
    if (!l->hello_sent) {
        used = (size_t)snprintf(buf, max, "retry: 2000\n\n");
        l->hello_sent = true;
    }
    if (l->restart_due && max - used > 200) {
        /* First of all (the first call has the whole 16 KiB block). Its id is this run's
         * base, below every event of this run, so a client that resumes from it is not
         * told again. The node's name needs no escaping (config.c allows [A-Za-z0-9._-]). */
        const struct srv *s = l->ev->srv;
        used += (size_t)snprintf(buf + used, max - used,
                                 "id: %llu\nevent: restart\ndata: {\"node\":\"%s\",\"detail\":"
                                 "\"the gateway restarted; its sockets and events from before are "
                                 "gone\"}\n\n",
                                 (unsigned long long)s->boot_base, s->cfg->node);
        l->restart_due = false;
    }
    if (l->orphan) {
        if (!copy_event(l, l->orphan, l->orphan_len, buf, &used, max))
            return (ssize_t)used;
        free(l->orphan);
        l->orphan = NULL;
        oe->orphan_bytes -= l->orphan_len;
    }
    unsigned long long oldest = oe->count ? oe->ring[oe->head].id : oe->next_id;
    if (l->cursor < oldest && l->partial == 0 && max - used > 80) {
        used += (size_t)snprintf(buf + used, max - used,
                                 "event: overflow\ndata: {\"dropped\":%llu}\n\n", oldest - l->cursor);
        l->cursor = oldest;
    }
    /* Only events still in the ring: when the overflow notice did not fit, it goes first
     * on the next call. */
    while (l->cursor >= oldest && l->cursor < oe->next_id && used < max) {
        const struct event *e = &oe->ring[(oe->head + (l->cursor - oldest)) % l->ev->capacity];
        if (!copy_event(l, e->text, e->len, buf, &used, max))
            break;
    }
    if (used == 0 && l->heartbeat_due && max > 16) {
        used = (size_t)snprintf(buf, max, ": heartbeat\n\n");
    }
    l->heartbeat_due = false;
    if (used == 0)
        listener_suspend(l); /* returning 0 without suspending would spin */
    return (ssize_t)used;
}

static void listener_free(void *cls)
{
    struct listener *l = cls;
    if (l->ev) {
        eng_watch_set(l->ev->srv->loop, &l->hangup, 0);
        if (l->prev)
            l->prev->next = l->next;
        else
            l->oe->listeners = l->next;
        if (l->next)
            l->next->prev = l->prev;
        if (l->orphan)
            l->oe->orphan_bytes -= l->orphan_len;
    }
    free(l->orphan);
    free(l);
}

/* The head of a stream (and of HEAD /events). Proxies must not buffer it (nginx reads
 * X-Accel-Buffering). */
static const struct srv_resp_opts stream_opts = {
    .content_type = "text/event-stream",
    .cache = "no-store",
    .extra = (const char *const[]){"X-Accel-Buffering", "no", NULL},
};

enum MHD_Result events_serve(struct srv_req *r, int owner)
{
    struct events *ev = r->srv->events;
    if (owner < 0 || owner >= EVENTS_MAX_OWNERS)
        return srv_reply_error(r, 500, "events", ENG_EINVAL, "no event stream for this credential");
    struct owner_events *oe = &ev->owners[owner];
    if (strcmp(r->method, "HEAD") == 0) {
        /* The head alone, and no listener: libmicrohttpd would send the end chunk of a
         * stream response even to HEAD, a body that a keep-alive client takes for the
         * start of the next answer. */
        return srv_queue(r, 200, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
                         &stream_opts, 0);
    }
    struct listener *l = calloc(1, sizeof(*l));
    if (!l)
        return MHD_NO;
    l->ev = ev;
    l->oe = oe;
    l->conn = r->conn;
    eng_watch_init(&l->hangup, -1, listener_hangup);
    /* Resume after the last id the client saw, or start at what nobody has seen yet. */
    l->cursor = oe->delivered + 1;
    const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (last && *last) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(last, &end, 10);
        if (!errno && *end == '\0' && v < oe->next_id) {
            /* An id from an earlier run: its events and sockets are gone, say so. */
            l->restart_due = v < r->srv->boot_base;
            l->cursor = l->restart_due ? r->srv->boot_base + 1 : v + 1;
        }
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, listener_read, l, listener_free);
    if (!resp) {
        free(l);
        return MHD_NO;
    }
    l->next = oe->listeners;
    if (oe->listeners)
        oe->listeners->prev = l;
    oe->listeners = l;
    return srv_queue(r, 200, resp, &stream_opts, 0);
}
