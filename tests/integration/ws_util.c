/*
 * WebSocket bridge test helpers (see ws_util.h).
 */
#include "ws_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void wu_open_path(struct wsc *c, const struct hx_server *s, const char *path,
                  const char *extra_headers)
{
    int r = wsc_connect(c, s->port, path, extra_headers, 1 << 20, WU_TIMEOUT_MS);
    if (r < 0)
        fail_msg("upgrade of %s failed (%d): status %d %s %s", path, r, c->status, c->head,
                 c->body ? c->body : "");
}

void wu_open(struct wsc *c, const struct hx_server *s, const char *id, const char *query)
{
    char path[160];
    snprintf(path, sizeof(path), "/sockets/%s/ws%s%s", id, query ? "?" : "", query ? query : "");
    wu_open_path(c, s, path, NULL);
}

int wu_bridge(const struct hx_server *s, char *id, struct wsc *c)
{
    int peer;
    cu_connected_pair(s, false, id, &peer);
    wu_open(c, s, id, NULL);
    return peer;
}

void wu_expect_refused(const struct hx_server *s, const char *path, const char *extra_headers,
                       int status, const char *name, const char *outcome)
{
    struct wsc c;
    int r = wsc_connect(&c, s->port, path, extra_headers, 65536, WU_TIMEOUT_MS);
    if (r != WSC_EHANDSHAKE || c.status != status)
        fail_msg("%s: expected %d, got %d (status %d): %s", path, status, r, c.status,
                 c.body ? c.body : "");
    cJSON *j = cJSON_Parse(c.body ? c.body : "");
    const cJSON *e0 = cJSON_GetArrayItem(j, 0), *e1 = cJSON_GetArrayItem(j, 1);
    if (!cJSON_IsString(e0) || !cJSON_IsString(e1) || strcmp(e0->valuestring, name) != 0 ||
        strncmp(e1->valuestring, outcome, strlen(outcome)) != 0)
        fail_msg("%s: expected [\"%s\",\"%s...\"], got %s", path, name, outcome,
                 c.body ? c.body : "(none)");
    if (!strstr(c.head, "Content-Type: application/json"))
        fail_msg("%s: refusal is not JSON: %s", path, c.head);
    cJSON_Delete(j);
    wsc_close(&c);
}

void wu_send(struct wsc *c, const void *data, size_t len)
{
    assert_int_equal(wsc_send(c, WSC_OP_BINARY, data, len, true), 0);
}

void wu_expect_message(struct wsc *c, const void *data, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    int op;
    long got = wsc_read_message(c, &op, buf, len + 1);
    if (got < 0 || op != WSC_OP_BINARY || (size_t)got != len || memcmp(buf, data, len) != 0)
        fail_msg("expected a binary message of %zu bytes, got %ld (opcode %d)", len, got, op);
    free(buf);
}

uint64_t wu_read_to_close(struct wsc *c, uint8_t *buf, size_t cap, unsigned *code,
                          char *reason, size_t reason_cap)
{
    uint64_t total = 0;
    for (;;) {
        struct wsc_chunk ch;
        int r = wsc_next(c, &ch);
        if (r < 0)
            fail_msg("the connection ended without a Close (%d) after %llu bytes", r,
                     (unsigned long long)total);
        if (ch.opcode == WSC_OP_CLOSE) {
            *code = wsc_close_code(ch.data, ch.len);
            if (reason) {
                size_t n = ch.len > 2 ? ch.len - 2 : 0;
                if (n >= reason_cap)
                    n = reason_cap - 1;
                memcpy(reason, ch.data + 2, n);
                reason[n] = '\0';
            }
            return total;
        }
        if (ch.opcode == WSC_OP_PING) {
            uint8_t copy[125];
            memcpy(copy, ch.data, ch.len);
            assert_int_equal(wsc_send(c, WSC_OP_PONG, copy, ch.len, true), 0);
            continue;
        }
        if (ch.opcode == WSC_OP_PONG)
            continue;
        if (ch.opcode == WSC_OP_TEXT)
            fail_msg("the bridge sent a text frame");
        if (buf && total < cap) {
            size_t n = cap - total < ch.len ? (size_t)(cap - total) : ch.len;
            memcpy(buf + total, ch.data, n);
        }
        total += ch.len;
    }
}

void wu_expect_close(struct wsc *c, unsigned code, const char *reason)
{
    unsigned got;
    char why[128];
    uint64_t n = wu_read_to_close(c, NULL, 0, &got, why, sizeof(why));
    if (got != code || (reason && !strstr(why, reason)))
        fail_msg("expected Close %u (%s), got %u (%s) after %llu bytes", code,
                 reason ? reason : "", got, why, (unsigned long long)n);
    wsc_send_close(c, got == 1005 ? 1000 : got, NULL);
    /* The server ends the TCP connection after the Close handshake. */
    struct wsc_chunk ch;
    int r = wsc_next(c, &ch);
    if (r != WSC_EEOF && r != -ECONNRESET)
        fail_msg("after the Close the server sent more (%d, opcode %d)", r, r > 0 ? ch.opcode : -1);
}

void wu_socket_state(const struct hx_server *s, const char *id, char *state, size_t cap,
                     uint64_t *bytes_in, uint64_t *bytes_out)
{
    char path[96];
    snprintf(path, sizeof(path), "/sockets/%s", id);
    struct hx_response r;
    hx_request(s, "GET", path, NULL, &r);
    if (r.status == 404) {
        snprintf(state, cap, "gone");
        hx_response_free(&r);
        return;
    }
    assert_int_equal(r.status, 200);
    const cJSON *st = cJSON_GetObjectItem(r.json, "state");
    const cJSON *in = cJSON_GetObjectItem(r.json, "bytes_in");
    const cJSON *out = cJSON_GetObjectItem(r.json, "bytes_out");
    assert_true(cJSON_IsString(st));
    snprintf(state, cap, "%s", st->valuestring);
    if (bytes_in)
        *bytes_in = cJSON_IsNumber(in) ? (uint64_t)in->valuedouble : UINT64_MAX;
    if (bytes_out)
        *bytes_out = cJSON_IsNumber(out) ? (uint64_t)out->valuedouble : UINT64_MAX;
    hx_response_free(&r);
}

void wu_wait_state(const struct hx_server *s, const char *id, const char *state)
{
    char got[32] = "";
    for (int i = 0; i < 500; i++) {
        wu_socket_state(s, id, got, sizeof(got), NULL, NULL);
        if (strcmp(got, state) == 0)
            return;
        usleep(10000);
    }
    fail_msg("socket %s: state %s, never %s", id, got, state);
}

uint64_t wu_read_to_eof(int fd, uint8_t *buf, size_t cap)
{
    uint64_t total = 0;
    long long deadline = hx_now_ms() + WU_TIMEOUT_MS;
    uint8_t scratch[65536];
    for (;;) {
        long long left = deadline - hx_now_ms();
        if (left <= 0)
            fail_msg("no end of stream within %d ms (%llu bytes read)", WU_TIMEOUT_MS,
                     (unsigned long long)total);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(fd, scratch, sizeof(scratch));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail_msg("read: %s", strerror(errno));
        if (r == 0)
            return total;
        if (buf && total < cap) {
            size_t n = cap - total < (size_t)r ? (size_t)(cap - total) : (size_t)r;
            memcpy(buf + total, scratch, n);
        }
        total += (uint64_t)r;
    }
}

long wu_rss_kb(const struct hx_server *s)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}
