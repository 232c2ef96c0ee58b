/*
 * The lean WebSocket client (see ws_client.h). The frame reader keeps one input buffer
 * and returns payload where it lies: server frames are unmasked, so nothing is copied.
 */
#include "ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"

#define WSC_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return WSC_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int write_all(struct wsc *c, const void *data, size_t len)
{
    long long deadline = now_ms() + c->timeout_ms;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(c->fd, POLLOUT, deadline);
            if (r < 0)
                return r;
            continue;
        }
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The deadline of a read as the socket's receive timeout, set again only when
 * c->timeout_ms changed (a test may shorten it). */
static int set_read_deadline(struct wsc *c)
{
    int ms = c->timeout_ms > 0 ? c->timeout_ms : 1;
    if (c->rcvtimeo_ms == ms)
        return 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    c->rcvtimeo_ms = ms;
    return 0;
}

/* Reads more input after what is there; compacts first when the buffer is full. Returns
 * the bytes read, WSC_EEOF at end of stream, or an error. The read blocks (with the
 * deadline as its timeout), as the benchmark's direct read does: one system call per
 * wake-up, so that a bridge is not measured with a costlier reader than the baseline. */
static int fill(struct wsc *c)
{
    if (c->start > 0 && c->end == c->cap) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == c->cap)
        return -ENOBUFS;
    int rc = set_read_deadline(c);
    if (rc < 0)
        return rc;
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
        if (r > 0) {
            c->end += (size_t)r;
            return (int)(r > 0x7fffffff ? 0x7fffffff : r);
        }
        if (r == 0)
            return WSC_EEOF;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? WSC_ETIMEDOUT : -errno;
    }
}

/* The Sec-WebSocket-Accept for a key, as the server must compute it. */
static void expected_accept(const char *key, char out[32])
{
    char joined[128];
    uint8_t digest[20];
    int n = snprintf(joined, sizeof(joined), "%s%s", key, WSC_GUID);
    gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, (size_t)n, digest);
    size_t len = codec_encode(CODEC_BASE64, digest, sizeof(digest), out);
    out[len] = '\0';
}

/* The value of header `name` in a header block, copied into out; false when absent. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

static int connect_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Reads the answer to the upgrade: its header block into c->head, leaving whatever came
 * after it (the first frames) in the buffer. A refusal's body is read to its end. */
static int read_handshake(struct wsc *c)
{
    char *end;
    for (;;) {
        end = memmem(c->buf, c->end, "\r\n\r\n", 4);
        if (end)
            break;
        int r = fill(c);
        if (r < 0)
            return r == WSC_EEOF ? WSC_EHANDSHAKE : r;
    }
    size_t hlen = (size_t)(end - (char *)c->buf);
    size_t keep = hlen < sizeof(c->head) - 1 ? hlen : sizeof(c->head) - 1;
    memcpy(c->head, c->buf, keep);
    c->head[keep] = '\0';
    c->start = hlen + 4;
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
        return WSC_EHANDSHAKE;
    if (c->status == 101)
        return 0;
    /* A refusal: the body says why (Content-Length, or up to the end of the stream). */
    char value[32];
    size_t want = header_value(c->head, "Content-Length", value, sizeof(value))
                      ? (size_t)strtoul(value, NULL, 10) : SIZE_MAX;
    while (c->end - c->start < want && c->end - c->start < c->cap - 1 - hlen) {
        if (fill(c) < 0)
            break;
    }
    size_t blen = c->end - c->start < want ? c->end - c->start : want;
    c->body = malloc(blen + 1);
    if (c->body) {
        memcpy(c->body, c->buf + c->start, blen);
        c->body[blen] = '\0';
    }
    return WSC_EHANDSHAKE;
}

int wsc_connect(struct wsc *c, uint16_t port, const char *path, const char *extra_headers,
                size_t buf_cap, int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    c->cap = buf_cap < 8192 ? 8192 : buf_cap;
    c->buf = malloc(c->cap);
    if (!c->buf)
        return -ENOMEM;
    int fd = connect_loopback(port);
    if (fd < 0)
        return fd;
    c->fd = fd;
    uint8_t raw[16];
    char key[32], accept[32], got[64];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -EIO;
    key[codec_encode(CODEC_BASE64, raw, sizeof(raw), key)] = '\0';
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, (unsigned)port, key, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(req))
        return -E2BIG;
    int r = write_all(c, req, (size_t)n);
    if (r == 0)
        r = read_handshake(c);
    if (r < 0)
        return r;
    expected_accept(key, accept);
    if (!header_value(c->head, "Sec-WebSocket-Accept", got, sizeof(got)) ||
        strcmp(got, accept) != 0)
        return WSC_EHANDSHAKE;
    return 0;
}

void wsc_close(struct wsc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    free(c->body);
    c->buf = NULL;
    c->body = NULL;
}

int wsc_send_raw(struct wsc *c, const void *data, size_t len)
{
    return write_all(c, data, len);
}

int wsc_send(struct wsc *c, int opcode, const void *data, size_t len, bool fin)
{
    uint8_t head[14];
    size_t hl = 0;
    head[hl++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0xf));
    if (len < 126) {
        head[hl++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        head[hl++] = 0x80 | 126;
        head[hl++] = (uint8_t)(len >> 8);
        head[hl++] = (uint8_t)len;
    } else {
        head[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            head[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t mask[4];
    if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
        return -EIO;
    memcpy(head + hl, mask, 4);
    hl += 4;
    int r = write_all(c, head, hl);
    /* Masked in slices, so a large frame needs no buffer of its size. */
    uint8_t slice[65536];
    const uint8_t *p = data;
    for (size_t off = 0; r == 0 && off < len;) {
        size_t n = len - off < sizeof(slice) ? len - off : sizeof(slice);
        for (size_t i = 0; i < n; i++)
            slice[i] = p[off + i] ^ mask[(off + i) & 3];
        r = write_all(c, slice, n);
        off += n;
    }
    return r;
}

int wsc_send_close(struct wsc *c, unsigned code, const char *reason)
{
    uint8_t payload[125];
    size_t len = 0;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        len = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > sizeof(payload) - 2)
            rl = sizeof(payload) - 2;
        if (rl)
            memcpy(payload + 2, reason, rl);
        len += rl;
    }
    return wsc_send(c, WSC_OP_CLOSE, payload, len, true);
}

/* Parses a frame header at c->start when it is all there; 1 when parsed, 0 when more
 * input is needed, or WSC_EPROTO. */
static int parse_header(struct wsc *c)
{
    const uint8_t *p = c->buf + c->start;
    size_t avail = c->end - c->start;
    if (avail < 2)
        return 0;
    if (p[1] & 0x80)
        return WSC_EPROTO; /* a server never masks */
    if (p[0] & 0x70)
        return WSC_EPROTO; /* no extension was negotiated */
    size_t hl = 2;
    uint64_t len = p[1] & 0x7f;
    if (len == 126)
        hl = 4;
    else if (len == 127)
        hl = 10;
    if (avail < hl)
        return 0;
    if (len == 126)
        len = (uint64_t)p[2] << 8 | p[3];
    else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p[i];
    }
    c->opcode = p[0] & 0xf;
    c->fin = (p[0] & 0x80) != 0;
    if ((c->opcode & 0x8) && (len > 125 || !c->fin))
        return WSC_EPROTO;
    c->left = len;
    c->in_frame = true;
    c->start += hl;
    return 1;
}

int wsc_next(struct wsc *c, struct wsc_chunk *out)
{
    bool start = false;
    if (!c->in_frame) {
        for (;;) {
            int r = parse_header(c);
            if (r < 0)
                return r;
            if (r > 0)
                break;
            r = fill(c);
            if (r < 0)
                return r;
        }
        start = true;
    }
    /* A control frame comes whole, so its payload can be read as one piece. */
    size_t need = (c->opcode & 0x8) ? (size_t)c->left : 1;
    while (c->left > 0 && c->end - c->start < need) {
        int r = fill(c);
        if (r < 0)
            return r;
    }
    size_t n = c->end - c->start;
    if (n > c->left)
        n = (size_t)c->left;
    out->opcode = c->opcode;
    out->fin = c->fin;
    out->frame_start = start;
    out->data = c->buf + c->start;
    out->len = n;
    c->start += n;
    c->left -= n;
    out->frame_end = c->left == 0;
    if (c->left == 0)
        c->in_frame = false;
    if (c->start == c->end)
        c->start = c->end = 0;
    return 1;
}

unsigned wsc_close_code(const uint8_t *payload, size_t len)
{
    return len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
}

long wsc_read_message(struct wsc *c, int *opcode, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    int first = -1;
    for (;;) {
        struct wsc_chunk ch;
        int r = wsc_next(c, &ch);
        if (r < 0)
            return r;
        if (ch.opcode == WSC_OP_PING) {
            uint8_t copy[125];
            memcpy(copy, ch.data, ch.len);
            r = wsc_send(c, WSC_OP_PONG, copy, ch.len, true);
            if (r < 0)
                return r;
            continue;
        }
        if (ch.opcode == WSC_OP_PONG)
            continue;
        if (ch.opcode == WSC_OP_CLOSE) {
            size_t n = ch.len < cap ? ch.len : cap;
            memcpy(buf, ch.data, n);
            *opcode = WSC_OP_CLOSE;
            return (long)n;
        }
        if (first < 0)
            first = ch.opcode;
        if (len + ch.len > cap)
            return -EMSGSIZE;
        memcpy(buf + len, ch.data, ch.len);
        len += ch.len;
        if (ch.frame_end && ch.fin) {
            *opcode = first;
            return (long)len;
        }
    }
}
