/*
 * The tests' Server-Sent Events client (see sse.h). Three layers, each fed by the one
 * below: the socket with its poll() deadlines, the chunked-encoding decoder, and the
 * event-stream line parser, which follows the WHATWG "interpret an event stream" rules.
 */
#include "sse.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

/* ---- the line parser ---- */

void sse_parser_init(struct sse_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->retry_ms = -1;
}

void sse_event_free(struct sse_event *ev)
{
    free(ev->data);
    cJSON_Delete(ev->json);
    ev->data = NULL;
    ev->json = NULL;
}

void sse_parser_deinit(struct sse_parser *p)
{
    struct sse_event ev;
    while (sse_parser_take(p, &ev))
        sse_event_free(&ev);
}

bool sse_parser_take(struct sse_parser *p, struct sse_event *ev)
{
    if (p->qcount == 0)
        return false;
    *ev = p->queue[p->qhead];
    p->qhead = (p->qhead + 1) % SSE_MAX_QUEUE;
    p->qcount--;
    return true;
}

/* A blank line: the block so far becomes an event, if it carried data. */
static int dispatch(struct sse_parser *p)
{
    if (p->has_data) {
        if (p->qcount == SSE_MAX_QUEUE)
            return -1;
        struct sse_event *ev = &p->queue[(p->qhead + p->qcount) % SSE_MAX_QUEUE];
        memset(ev, 0, sizeof(*ev));
        snprintf(ev->id, sizeof(ev->id), "%s", p->last_id);
        ev->has_id = p->block_has_id;
        snprintf(ev->name, sizeof(ev->name), "%s", p->name[0] ? p->name : "message");
        ev->data = malloc(p->data_len + 1);
        if (!ev->data)
            return -1;
        memcpy(ev->data, p->data, p->data_len);
        ev->data[p->data_len] = '\0';
        ev->data_len = p->data_len;
        ev->json = cJSON_ParseWithLength(ev->data, ev->data_len);
        p->qcount++;
    }
    p->data_len = 0;
    p->has_data = false;
    p->name[0] = '\0';
    p->block_has_id = false;
    return 0;
}

static int process_line(struct sse_parser *p)
{
    const char *line = p->line;
    size_t len = p->line_len;
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':') {
        p->comments++;
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - value);
    if (vlen > 0 && value[0] == ' ') {
        value++;
        vlen--;
    }
    if (flen == 5 && memcmp(line, "event", 5) == 0) {
        if (vlen >= sizeof(p->name))
            return -1;
        memcpy(p->name, value, vlen);
        p->name[vlen] = '\0';
    } else if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (p->data_len + vlen + 1 >= sizeof(p->data))
            return -1;
        if (p->has_data)
            p->data[p->data_len++] = '\n';
        memcpy(p->data + p->data_len, value, vlen);
        p->data_len += vlen;
        p->has_data = true;
    } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
        if (!memchr(value, '\0', vlen) && vlen < sizeof(p->last_id)) {
            memcpy(p->last_id, value, vlen);
            p->last_id[vlen] = '\0';
            p->block_has_id = true;
        }
    } else if (flen == 5 && memcmp(line, "retry", 5) == 0) {
        bool digits = vlen > 0 && vlen < 10;
        for (size_t i = 0; i < vlen; i++)
            digits = digits && value[i] >= '0' && value[i] <= '9';
        if (digits)
            p->retry_ms = strtol(value, NULL, 10);
    }
    /* Any other field is ignored, as EventSource does. */
    return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = bytes[i];
        if (c == '\n' && p->after_cr) {
            p->after_cr = false; /* the LF of a CRLF: the line already ended */
            continue;
        }
        p->after_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            if (p->line_too_long || process_line(p) < 0)
                return -1;
            p->line_len = 0;
            continue;
        }
        if (p->line_len + 1 >= sizeof(p->line)) {
            p->line_too_long = true;
            continue;
        }
        p->line[p->line_len++] = c;
    }
    return 0;
}

/* ---- chunked transfer encoding ---- */

enum { DC_SIZE, DC_EXT, DC_SIZE_LF, DC_DATA, DC_DATA_CR, DC_DATA_LF, DC_TRAILER };

size_t sse_dechunk_run(struct sse_dechunk *d, char *buf, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len && !d->done && !d->error;) {
        char c = buf[i];
        switch (d->state) {
        case DC_SIZE: {
            int v = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (v >= 0) {
                if (d->left > (SIZE_MAX >> 5)) {
                    d->error = true;
                    break;
                }
                d->left = d->left * 16 + (size_t)v;
            } else if (c == ';' || c == ' ') {
                d->state = DC_EXT;
            } else if (c == '\r') {
                d->state = DC_SIZE_LF;
            } else {
                d->error = true;
            }
            i++;
            break;
        }
        case DC_EXT:
            if (c == '\r')
                d->state = DC_SIZE_LF;
            i++;
            break;
        case DC_SIZE_LF:
            if (c != '\n') {
                d->error = true;
                break;
            }
            i++;
            if (d->left == 0) {
                d->state = DC_TRAILER;
                d->done = true; /* trailers are of no interest to an event stream */
            } else {
                d->state = DC_DATA;
            }
            break;
        case DC_DATA: {
            size_t take = len - i < d->left ? len - i : d->left;
            memmove(buf + out, buf + i, take);
            out += take;
            i += take;
            d->left -= take;
            if (d->left == 0)
                d->state = DC_DATA_CR;
            break;
        }
        case DC_DATA_CR:
            if (c != '\r') {
                d->error = true;
                break;
            }
            d->state = DC_DATA_LF;
            i++;
            break;
        case DC_DATA_LF:
            if (c != '\n') {
                d->error = true;
                break;
            }
            d->state = DC_SIZE;
            d->left = 0;
            i++;
            break;
        default:
            i++;
            break;
        }
    }
    return out;
}

/* ---- the socket ---- */

static int connect_loopback(uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail_msg("connect to 127.0.0.1:%u: %s", (unsigned)port, strerror(errno));
    return fd;
}

static void write_all(int fd, const char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail_msg("write: %s", strerror(errno));
        done += (size_t)w;
    }
}

/* Reads once with a deadline; returns bytes read, 0 at end of stream, -1 on timeout. */
static ssize_t read_some(int fd, char *buf, size_t cap, long long deadline)
{
    for (;;) {
        long long left = deadline - hx_now_ms();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return -1;
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET)
            return 0;
        if (n < 0)
            fail_msg("read: %s", strerror(errno));
        return n;
    }
}

/* Hands body bytes to the parser, through the chunk decoder when there is one. */
static void stream_feed(struct sse_stream *s, char *buf, size_t n)
{
    if (s->chunked) {
        n = sse_dechunk_run(&s->dechunk, buf, n);
        if (s->dechunk.error)
            fail_msg("malformed chunked framing on the event stream");
        if (s->dechunk.done)
            s->eof = true;
    }
    if (sse_parser_feed(s->parser, buf, n) < 0)
        fail_msg("event stream: a line or the event queue passed the test client's limits");
}

void sse_open_path(struct sse_stream *s, uint16_t port, const char *path, const char *headers,
                   int rcvbuf, int timeout_ms)
{
    memset(s, 0, sizeof(*s));
    s->parser = malloc(sizeof(*s->parser));
    assert_non_null(s->parser);
    sse_parser_init(s->parser);
    s->fd = connect_loopback(port, rcvbuf);
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n%s\r\n",
                     path, headers ? headers : "");
    assert_true(n > 0 && (size_t)n < sizeof(req));
    write_all(s->fd, req, (size_t)n);

    /* The head ends at the first blank line; what follows it is already body. */
    char buf[8192];
    size_t len = 0;
    long long deadline = hx_now_ms() + timeout_ms;
    char *end = NULL;
    while (!end) {
        if (len + 1 >= sizeof(buf))
            fail_msg("event stream head too large");
        ssize_t r = read_some(s->fd, buf + len, sizeof(buf) - 1 - len, deadline);
        if (r < 0)
            fail_msg("no answer head for GET %s within %d ms", path, timeout_ms);
        if (r == 0)
            fail_msg("connection closed before the answer head (GET %s)", path);
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t hlen = (size_t)(end - buf);
    if (hlen >= sizeof(s->headers))
        hlen = sizeof(s->headers) - 1;
    memcpy(s->headers, buf, hlen);
    s->headers[hlen] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &s->status) != 1)
        fail_msg("malformed status line: %.100s", buf);
    s->chunked = strcasestr(s->headers, "\r\nTransfer-Encoding: chunked") != NULL;
    size_t body = (size_t)(end + 4 - buf);
    if (len > body)
        stream_feed(s, buf + body, len - body);
}

void sse_open(struct sse_stream *s, uint16_t port, const char *last_id)
{
    char headers[128] = "";
    if (last_id)
        snprintf(headers, sizeof(headers), "Last-Event-ID: %s\r\n", last_id);
    sse_open_path(s, port, "/events", headers, 0, 10000);
    if (s->status != 200)
        fail_msg("GET /events answered %d:\n%s", s->status, s->headers);
    if (!strcasestr(s->headers, "\r\nContent-Type: text/event-stream"))
        fail_msg("GET /events is not text/event-stream:\n%s", s->headers);
}

int sse_next(struct sse_stream *s, int timeout_ms, struct sse_event *ev)
{
    long long deadline = hx_now_ms() + timeout_ms;
    for (;;) {
        if (sse_parser_take(s->parser, ev))
            return 1;
        if (s->eof || s->fd < 0)
            return -1;
        char buf[16384];
        ssize_t r = read_some(s->fd, buf, sizeof(buf), deadline);
        if (r < 0)
            return 0;
        if (r == 0) {
            s->eof = true;
            continue;
        }
        stream_feed(s, buf, (size_t)r);
    }
}

void sse_pump(struct sse_stream *s, int ms)
{
    long long deadline = hx_now_ms() + ms;
    while (!s->eof && hx_now_ms() < deadline) {
        char buf[16384];
        ssize_t r = read_some(s->fd, buf, sizeof(buf), deadline);
        if (r < 0)
            return;
        if (r == 0) {
            s->eof = true;
            return;
        }
        stream_feed(s, buf, (size_t)r);
    }
}

void sse_expect(struct sse_stream *s, int timeout_ms, const char *name, struct sse_event *ev)
{
    int r = sse_next(s, timeout_ms, ev);
    if (r == 0)
        fail_msg("no event '%s' within %d ms", name, timeout_ms);
    if (r < 0)
        fail_msg("the event stream ended while waiting for '%s'", name);
    if (strcmp(ev->name, name) != 0)
        fail_msg("expected event '%s', got '%s' (id %s): %s", name, ev->name, ev->id, ev->data);
}

void sse_expect_quiet(struct sse_stream *s, int ms)
{
    struct sse_event ev;
    int r = sse_next(s, ms, &ev);
    if (r > 0)
        fail_msg("unexpected event '%s' (id %s): %s", ev.name, ev.id, ev.data);
}

void sse_close(struct sse_stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->parser) {
        sse_parser_deinit(s->parser);
        free(s->parser);
        s->parser = NULL;
    }
}

int sse_len(const struct sse_event *ev)
{
    return cJSON_IsArray(ev->json) ? cJSON_GetArraySize(ev->json) : -1;
}

const char *sse_elem(const struct sse_event *ev, int i)
{
    if (!cJSON_IsArray(ev->json))
        return NULL;
    const cJSON *it = cJSON_GetArrayItem(ev->json, i);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

void sse_expect_list(const struct sse_event *ev, int n, ...)
{
    if (sse_len(ev) != n)
        fail_msg("event '%s': expected a list of %d, got %s", ev->name, n, ev->data);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        const char *got = sse_elem(ev, i);
        if (!got) {
            va_end(ap);
            fail_msg("event '%s': element %d is not a string: %s", ev->name, i, ev->data);
        }
        if (!want)
            continue;
        size_t wl = strlen(want);
        bool prefix = wl >= 3 && strcmp(want + wl - 3, "...") == 0;
        if (prefix ? strncmp(got, want, wl - 3) != 0 : strcmp(got, want) != 0) {
            va_end(ap);
            fail_msg("event '%s': element %d is \"%s\", expected \"%s\" (%s)", ev->name, i, got,
                     want, ev->data);
        }
    }
    va_end(ap);
}
