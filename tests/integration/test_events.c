/*
 * The event stream over real HTTP, read by a real SSE client (sse.h) whose own parser is
 * checked first on canned bytes: several listeners, the buffer kept while nobody listens,
 * Last-Event-ID resume, overflow (a slow listener included), heartbeats and one stream
 * per credential. Events come from repeating background recvfrom on loopback sockets;
 * the background operations themselves are tested in test_callbacks.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "event_util.h"
#include "sse.h"

/* The server of the running test: stopped by the teardown even when the test fails. */
static struct hx_server server;

static int stop_server(void **state)
{
    (void)state;
    if (server.pid > 0)
        hx_stop(&server);
    return 0;
}

/* ---- the client's own parser, on canned bytes ---- */

static const char canned[] = "retry: 2000\n\n"
                             ": heartbeat\n\n"
                             "id: 1\nevent: onData\ndata: [\"recv\",\"ok\",\"a\",\"s1\"]\n\n"
                             "data:x\r\ndata: y\r\n\r\n"
                             ": comment\nid: 7\n\n"
                             "event: e\rdata: z\r\r"
                             "unknown: q\ndata\n\n"
                             "data: no blank line yet";

static void check_canned(struct sse_parser *p)
{
    struct sse_event ev;
    assert_true(sse_parser_take(p, &ev));
    assert_string_equal(ev.name, "onData");
    assert_string_equal(ev.id, "1");
    assert_true(ev.has_id);
    assert_int_equal(cJSON_GetArraySize(ev.json), 4);
    sse_event_free(&ev);
    assert_true(sse_parser_take(p, &ev));
    assert_string_equal(ev.name, "message");
    assert_string_equal(ev.data, "x\ny");
    assert_string_equal(ev.id, "1"); /* the last event id carries over */
    assert_false(ev.has_id);
    sse_event_free(&ev);
    assert_true(sse_parser_take(p, &ev)); /* the id-only block dispatched nothing */
    assert_string_equal(ev.name, "e");
    assert_string_equal(ev.data, "z");
    assert_string_equal(ev.id, "7");
    sse_event_free(&ev);
    assert_true(sse_parser_take(p, &ev));
    assert_string_equal(ev.name, "message");
    assert_string_equal(ev.data, "");
    sse_event_free(&ev);
    assert_false(sse_parser_take(p, &ev)); /* the last block is not finished */
    assert_int_equal(p->comments, 2);
    assert_int_equal(p->retry_ms, 2000);
}

static void test_parser_rules(void **state)
{
    (void)state;
    struct sse_parser *p = malloc(sizeof(*p));
    assert_non_null(p);

    sse_parser_init(p);
    assert_int_equal(sse_parser_feed(p, canned, strlen(canned)), 0);
    check_canned(p);
    sse_parser_deinit(p);

    /* Byte by byte, through chunked framing with an extension and odd chunk sizes. */
    sse_parser_init(p);
    char chunked[4096];
    size_t clen = 0, len = strlen(canned);
    for (size_t off = 0, k = 1; off < len; k = k % 13 + 1) {
        size_t take = len - off < k ? len - off : k;
        clen += (size_t)snprintf(chunked + clen, sizeof(chunked) - clen, "%zX%s\r\n", take,
                                 k == 5 ? ";ext=1" : "");
        memcpy(chunked + clen, canned + off, take);
        clen += take;
        memcpy(chunked + clen, "\r\n", 2);
        clen += 2;
        off += take;
    }
    clen += (size_t)snprintf(chunked + clen, sizeof(chunked) - clen, "0\r\n\r\n");
    struct sse_dechunk d = {0};
    for (size_t i = 0; i < clen; i++) {
        char c = chunked[i];
        size_t n = sse_dechunk_run(&d, &c, 1);
        assert_false(d.error);
        assert_int_equal(sse_parser_feed(p, &c, n), 0);
    }
    assert_true(d.done);
    check_canned(p);
    sse_parser_deinit(p);
    free(p);
}

/* ---- the stream ---- */

/* Socket and event ids of one run count on from the same base, the start time in
 * microseconds, so that they keep growing across restarts (SPEC §2): a run's first socket
 * is base + 1, and so is its first event. The tests name events by their place. */
static unsigned long long id_base;

static void learn_id_base(const char *first_socket_id)
{
    const char *num = strrchr(first_socket_id, '.');
    num = num ? num + 1 : first_socket_id;
    assert_int_equal(num[0], 's');
    id_base = strtoull(num + 1, NULL, 10) - 1;
}

/* The id of the n-th event of this run, as a Last-Event-ID. */
static const char *nth_id(unsigned long long n)
{
    static char text[32];
    snprintf(text, sizeof(text), "%llu", id_base + n);
    return text;
}

/* A DGRAM socket with a repeating recvfrom: every datagram sent to it is one event. */
struct source {
    char id[64];                     /* the gateway socket */
    uint16_t port;                   /* its port */
    int udp;                         /* the test's sender */
    double bytes;                    /* bytes sent so far */
};

static void source_open(const struct hx_server *srv, struct source *src, const char *callback)
{
    char body[128];
    uint16_t uport;
    src->port = eu_bound(srv, "DGRAM", src->id);
    learn_id_base(src->id); /* every test's first socket */
    src->udp = hx_udp_socket(false, &uport);
    src->bytes = 0;
    snprintf(body, sizeof(body), "{\"n\":1000,\"callback\":\"%s\",\"repeat\":true}", callback);
    eu_bg(srv, src->id, "recvfrom", body);
}

/* Sends datagram "<prefix><i>" and waits until the gateway has read it, so that its
 * event is published even when nobody listens. */
static void source_emit(const struct hx_server *srv, struct source *src, const char *prefix, int i)
{
    char text[64];
    snprintf(text, sizeof(text), "%s%d", prefix, i);
    eu_send_dgram(src->udp, src->port, text);
    src->bytes += (double)strlen(text);
    eu_wait_bytes_in(srv, src->id, src->bytes);
}

/* The next event must be datagram "<prefix><i>", the id-th event of the run (0: any). */
static void expect_dgram(struct sse_stream *es, const char *name, const char *prefix, int i,
                         unsigned long long id)
{
    char text[64];
    snprintf(text, sizeof(text), "%s%d", prefix, i);
    struct sse_event ev;
    sse_expect(es, EU_EVENT_MS, name, &ev);
    sse_expect_list(&ev, 6, "recvfrom", "ok", text, NULL, "127.0.0.1", NULL);
    if (id && eu_event_id(&ev) != id_base + id)
        fail_msg("event '%s' has id %s, expected %llu", text, ev.id, id_base + id);
    sse_event_free(&ev);
}

static void test_two_listeners(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    struct source src;
    source_open(&server, &src, "tick");
    struct sse_stream a, b, c;
    sse_open(&a, server.port, NULL);
    sse_open(&b, server.port, NULL);

    eu_send_dgram(src.udp, src.port, "t1");
    struct sse_event ea, eb;
    sse_expect(&a, EU_EVENT_MS, "tick", &ea);
    sse_expect(&b, EU_EVENT_MS, "tick", &eb);
    assert_string_equal(ea.id, eb.id);
    assert_string_equal(ea.data, eb.data);
    assert_string_equal(sse_elem(&ea, 2), "t1");
    sse_event_free(&ea);
    sse_event_free(&eb);

    /* One listener leaving does not disturb the other. */
    sse_close(&a);
    eu_send_dgram(src.udp, src.port, "t2");
    expect_dgram(&b, "tick", "t", 2, 2);
    /* A new listener starts after what has been delivered already. */
    sse_open(&c, server.port, NULL);
    sse_expect_quiet(&c, EU_QUIET_MS);
    eu_send_dgram(src.udp, src.port, "t3");
    expect_dgram(&b, "tick", "t", 3, 3);
    expect_dgram(&c, "tick", "t", 3, 3);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&b);
    sse_close(&c);
    close(src.udp);
}

static void test_buffered_until_listener(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    struct source src;
    source_open(&server, &src, "kept");
    for (int i = 1; i <= 3; i++)
        source_emit(&server, &src, "k", i);

    /* The first listener, without Last-Event-ID, gets what nobody has received yet. */
    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    for (int i = 1; i <= 3; i++)
        expect_dgram(&es, "kept", "k", i, (unsigned long long)i);
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);

    /* The next one gets only what came after. */
    source_emit(&server, &src, "k", 4);
    sse_open(&es, server.port, NULL);
    expect_dgram(&es, "kept", "k", 4, 4);
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);

    /* A listener that hangs up at once: k5 may have gone out to it (then it was sent,
     * and a client resumes with Last-Event-ID), but nothing breaks, and the next
     * listener gets k6. */
    source_emit(&server, &src, "k", 5);
    struct sse_stream gone;
    sse_open_path(&gone, server.port, "/events", NULL, 0, 5000);
    assert_int_equal(gone.status, 200);
    sse_close(&gone);
    usleep(100000);
    source_emit(&server, &src, "k", 6);
    sse_open(&es, server.port, NULL);
    struct sse_event ev;
    sse_expect(&es, EU_EVENT_MS, "kept", &ev);
    if (strcmp(sse_elem(&ev, 2), "k5") == 0) {
        sse_event_free(&ev);
        sse_expect(&es, EU_EVENT_MS, "kept", &ev);
    }
    sse_expect_list(&ev, 6, "recvfrom", "ok", "k6", NULL, NULL, NULL);
    assert_int_equal(eu_event_id(&ev), id_base + 6);
    sse_event_free(&ev);
    sse_close(&es);
    /* Resuming from 4 gets both. */
    sse_open(&es, server.port, nth_id(4));
    expect_dgram(&es, "kept", "k", 5, 5);
    expect_dgram(&es, "kept", "k", 6, 6);
    sse_close(&es);

    assert_int_equal(hx_stop(&server), 0);
    close(src.udp);
}

static void test_resume_with_last_event_id(void **state)
{
    (void)state;
    hx_start(&server, NULL);
    struct source src;
    source_open(&server, &src, "ev");
    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    for (int i = 1; i <= 3; i++) {
        source_emit(&server, &src, "e", i);
        expect_dgram(&es, "ev", "e", i, (unsigned long long)i);
    }
    sse_close(&es);
    /* Published while disconnected. */
    source_emit(&server, &src, "e", 4);
    source_emit(&server, &src, "e", 5);

    /* Everything after the id the client saw last, although 3 had been delivered. */
    sse_open(&es, server.port, nth_id(2));
    for (int i = 3; i <= 5; i++)
        expect_dgram(&es, "ev", "e", i, (unsigned long long)i);
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);

    sse_open(&es, server.port, nth_id(5));
    sse_expect_quiet(&es, EU_QUIET_MS);
    source_emit(&server, &src, "e", 6);
    expect_dgram(&es, "ev", "e", 6, 6);
    sse_close(&es);

    /* An id from before this run (here 0, below every id of the run): the gateway
     * restarted since, and says so first; then everything of this run. */
    sse_open(&es, server.port, "0");
    struct sse_event restart;
    sse_expect(&es, EU_EVENT_MS, "restart", &restart);
    assert_int_equal(eu_event_id(&restart), id_base);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(restart.json, "node")->valuestring, "");
    assert_non_null(strstr(restart.data, "sockets and events from before are gone"));
    sse_event_free(&restart);
    for (int i = 1; i <= 6; i++)
        expect_dgram(&es, "ev", "e", i, (unsigned long long)i);
    sse_close(&es);
    /* Resuming from the restart event's own id is not told again. */
    sse_open(&es, server.port, nth_id(0));
    for (int i = 1; i <= 6; i++)
        expect_dgram(&es, "ev", "e", i, (unsigned long long)i);
    sse_close(&es);

    /* An id the server never gave (from the future, garbage) is as if none was sent. */
    sse_open(&es, server.port, nth_id(9999));
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);
    sse_open(&es, server.port, "abc");
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);

    assert_int_equal(hx_stop(&server), 0);
    close(src.udp);
}

static unsigned long long overflow_dropped(const struct sse_event *ev)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev->json, "dropped");
    if (!cJSON_IsNumber(d))
        fail_msg("overflow event without a \"dropped\" count: %s", ev->data);
    return (unsigned long long)d->valuedouble;
}

static void test_overflow(void **state)
{
    (void)state;
    const char *args[] = {"--event-buffer", "4", NULL};
    hx_start(&server, args);
    struct source src;
    source_open(&server, &src, "ov");
    for (int i = 1; i <= 10; i++)
        source_emit(&server, &src, "o", i);

    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    struct sse_event ev;
    sse_expect(&es, EU_EVENT_MS, "overflow", &ev);
    assert_int_equal(overflow_dropped(&ev), 6);
    sse_event_free(&ev);
    for (int i = 7; i <= 10; i++)
        expect_dgram(&es, "ov", "o", i, (unsigned long long)i);
    sse_expect_quiet(&es, EU_QUIET_MS);
    sse_close(&es);

    /* Resuming from an id that has been dropped says how many were missed. */
    sse_open(&es, server.port, nth_id(2));
    sse_expect(&es, EU_EVENT_MS, "overflow", &ev);
    assert_int_equal(overflow_dropped(&ev), 4);
    sse_event_free(&ev);
    for (int i = 7; i <= 10; i++)
        expect_dgram(&es, "ov", "o", i, (unsigned long long)i);
    sse_close(&es);

    struct hx_response r;
    hx_request(&server, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nsockgate_events_dropped_total 6\n"));
    hx_response_free(&r);

    assert_int_equal(hx_stop(&server), 0);
    close(src.udp);
}

/* A listener that does not read while the buffer overflows under the event it was in
 * the middle of: when it reads again, the stream must still be well formed. */
static void test_overflow_slow_listener(void **state)
{
    (void)state;
    const char *args[] = {"--event-buffer", "2", NULL};
    hx_start(&server, args);
    uint16_t lport;
    int lfd = hx_tcp_listener(false, &lport);
    char id[64];
    int peer = eu_connected(&server, lfd, lport, id);
    learn_id_base(id);
    struct sse_stream es;
    sse_open_path(&es, server.port, "/events", NULL, 4096, 5000);
    assert_int_equal(es.status, 200);

    /* Large events (every zero byte is "~00") the reader cannot take in. */
    eu_bg(&server, id, "recv", "{\"n\":200000,\"callback\":\"big\",\"repeat\":true}");
    static char zeros[200000];
    /* More than the kernel buffers between the server and the reader hold (up to
     * tcp_wmem's 4 MB), so the server stops in the middle of an event. */
    for (int i = 0; i < 24; i++) {
        hx_write_all(peer, zeros, sizeof(zeros));
        usleep(10000);
    }
    eu_wait_bytes_in(&server, id, 24.0 * sizeof(zeros));
    usleep(200000);

    /* Now read everything: each event must be whole JSON, and the ids must account for
     * every event: the next id is the last one plus one plus what an overflow notice
     * said was dropped. */
    unsigned long long last = id_base, dropped = 0, overflows = 0, events = 0;
    double bytes = 0;
    for (;;) {
        struct sse_event ev;
        int r = sse_next(&es, 1500, &ev);
        if (r <= 0)
            break;
        if (strcmp(ev.name, "overflow") == 0) {
            overflows++;
            dropped += overflow_dropped(&ev);
        } else {
            if (strcmp(ev.name, "big") != 0 || sse_len(&ev) != 4)
                fail_msg("malformed event '%s' after an overflow: %.200s", ev.name, ev.data);
            unsigned long long eid = eu_event_id(&ev);
            if (eid != last + 1 + dropped)
                fail_msg("event id %llu after id %llu and %llu dropped", eid, last, dropped);
            last = eid;
            dropped = 0;
            bytes += (double)strlen(sse_elem(&ev, 2)) / 3;
            events++;
        }
        sse_event_free(&ev);
    }
    assert_true(events >= 1);
    assert_true(overflows >= 1);
    assert_true(bytes < 24.0 * sizeof(zeros));

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(peer);
    close(lfd);
}

/* ---- heartbeats, credentials ---- */

static void test_heartbeat(void **state)
{
    (void)state;
    const char *args[] = {"--heartbeat", "0.2", NULL};
    hx_start(&server, args);
    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    sse_pump(&es, 1100);
    /* Comments only: the parser counts them and dispatches nothing. */
    if (es.parser->comments < 3)
        fail_msg("%u heartbeat comments in 1.1 s at 0.2 s intervals", es.parser->comments);
    assert_int_equal(es.parser->qcount, 0);
    assert_int_equal(es.parser->retry_ms, 2000);
    /* An event between heartbeats comes through as usual. */
    struct source src;
    source_open(&server, &src, "hb");
    eu_send_dgram(src.udp, src.port, "h1");
    expect_dgram(&es, "hb", "h", 1, 1);
    assert_int_equal(hx_stop(&server), 0);
    sse_close(&es);
    close(src.udp);
}

static void req_as(const struct hx_server *srv, const char *token, const char *method,
                   const char *path, const char *body, struct hx_response *r)
{
    char h[128];
    snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n", token);
    hx_request_h(srv, method, path, h, body, r);
}

static void test_stream_per_credential(void **state)
{
    (void)state;
    const char *args[] = {"--token", "alpha-token", "--token", "beta-token", NULL};
    hx_start(&server, args);
    struct sse_stream ea, eb, none;
    sse_open_path(&ea, server.port, "/events", "Authorization: Bearer alpha-token\r\n", 0, 5000);
    assert_int_equal(ea.status, 200);
    /* EventSource cannot send headers: the token may be a query parameter. */
    sse_open_path(&eb, server.port, "/events?token=beta-token", NULL, 0, 5000);
    assert_int_equal(eb.status, 200);
    sse_open_path(&none, server.port, "/events", NULL, 0, 5000);
    assert_int_equal(none.status, 401);
    sse_close(&none);
    sse_open_path(&none, server.port, "/events", "Authorization: Bearer wrong\r\n", 0, 5000);
    assert_int_equal(none.status, 401);
    sse_close(&none);

    struct hx_response r;
    req_as(&server, "alpha-token", "POST", "/sockets", "[\"DGRAM\"]", &r);
    hx_expect(&r, 201, "socket", "ok");
    char id[64], path[128];
    snprintf(id, sizeof(id), "%s", hx_elem(&r, 2));
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/bind", id);
    req_as(&server, "alpha-token", "POST", path, "[\"127.0.0.1\",0]", &r);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/getsockname", id);
    req_as(&server, "alpha-token", "GET", path, NULL, &r);
    hx_expect(&r, 200, "getsockname", "ok");
    uint16_t port = (uint16_t)strtoul(hx_elem(&r, 3), NULL, 10);
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/recvfrom", id);
    req_as(&server, "alpha-token", "POST", path, "[10,\"mine\"]", &r);
    hx_expect(&r, 202, "recvfrom", "ok");
    hx_response_free(&r);
    /* The other credential cannot see the socket, let alone start a callback on it. */
    req_as(&server, "beta-token", "POST", path, "[10,\"theirs\"]", &r);
    hx_expect(&r, 404, "recvfrom", "NOTSOCK");
    hx_response_free(&r);

    uint16_t uport;
    int udp = hx_udp_socket(false, &uport);
    eu_send_dgram(udp, port, "secret");
    EU_EXPECT_EVENT(&ea, "mine", 6, "recvfrom", "ok", "secret", id, "127.0.0.1", NULL);
    sse_expect_quiet(&eb, EU_QUIET_MS);

    assert_int_equal(hx_stop(&server), 0);
    sse_close(&ea);
    sse_close(&eb);
    close(udp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_rules),
        cmocka_unit_test_teardown(test_two_listeners, stop_server),
        cmocka_unit_test_teardown(test_buffered_until_listener, stop_server),
        cmocka_unit_test_teardown(test_resume_with_last_event_id, stop_server),
        cmocka_unit_test_teardown(test_overflow, stop_server),
        cmocka_unit_test_teardown(test_overflow_slow_listener, stop_server),
        cmocka_unit_test_teardown(test_heartbeat, stop_server),
        cmocka_unit_test_teardown(test_stream_per_credential, stop_server),
    };
    /* TEST_FILTER=test_overflow* runs a subset. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
