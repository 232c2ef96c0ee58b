/*
 * The engine on its own event loop, with real loopback peers and no HTTP in between, for
 * properties that HTTP timing cannot pin down: the order in which given-back bytes
 * return, and that one busy socket cannot keep the others from their turn. Each test
 * counts what happened; none measures time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_rig.h"

/* An engine socket connected to a real peer; returns the peer's fd, id in id. */
static int connected(struct rig *g, char *id)
{
    return rig_connected(g, SOCK_STREAM, id);
}

/* A blocking recv of up to n bytes; returns ENG_PENDING or 0 with *now set. */
static int start_recv(struct rig *g, const char *id, size_t n, struct answer *ans,
                      struct eng_list **now)
{
    struct eng_request req = {.cmd = ENG_CMD_RECV, .n = n, .timeout = -1};
    struct eng_op *op;
    return eng_exec(g->e, 0, id, &req, keep_answer, ans, now, &op);
}

static void write_all(int fd, const void *buf, size_t n)
{
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

/* Two answers read in order A, B that both fail to reach their clients, given back in
 * either order, come back A then B. */
static void check_give_back_order(bool first_given_back_first)
{
    struct rig g;
    rig_init(&g, 1024);
    char id[64];
    int peer = connected(&g, id);
    struct answer a = {0}, b = {0};
    struct eng_list *now = NULL;
    assert_int_equal(start_recv(&g, id, 100, &a, &now), ENG_PENDING);
    assert_int_equal(start_recv(&g, id, 100, &b, &now), ENG_PENDING);
    write_all(peer, "first", 5);
    for (int i = 0; i < 100 && a.count == 0; i++)
        rig_turn(&g, 10);
    write_all(peer, "second", 6);
    for (int i = 0; i < 100 && b.count == 0; i++)
        rig_turn(&g, 10);
    assert_int_equal(a.count, 1);
    assert_int_equal(b.count, 1);
    assert_string_equal(a.list->items[2].bytes, "first");
    assert_string_equal(b.list->items[2].bytes, "second");
    if (first_given_back_first) {
        eng_give_back(g.e, a.list);
        eng_give_back(g.e, b.list);
    } else {
        eng_give_back(g.e, b.list);
        eng_give_back(g.e, a.list);
    }
    a.list = b.list = NULL;
    struct answer c = {0};
    assert_int_equal(start_recv(&g, id, 100, &c, &now), 0);
    assert_non_null(now);
    assert_int_equal(now->err, 0);
    assert_string_equal(now->items[2].bytes, "firstsecond");
    eng_list_free(now);
    close(peer);
    rig_free(&g);
}

static void test_given_back_bytes_return_in_read_order(void **state)
{
    (void)state;
    check_give_back_order(true);
    check_give_back_order(false);
}

/* The deliveries of background recvs on several sockets, in the order they came. */
struct interleaving {
    char order[65536];               /* 'a' or 'b' per delivery */
    size_t n;
};

struct delivery_log {
    struct interleaving *log;
    char tag;
};

static void log_delivery(void *ctx, struct eng_list *list)
{
    struct delivery_log *d = ctx;
    if (list && list->err == 0 && d->log->n < sizeof(d->log->order))
        d->log->order[d->log->n++] = d->tag;
    eng_list_free(list);
}

/* Fills a peer's socket buffers, as a peer faster than the gateway does. */
static size_t flood(int fd)
{
    static const char chunk[4096] = {0};
    size_t sent = 0;
    for (;;) {
        ssize_t w = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (w <= 0)
            return sent;
        sent += (size_t)w;
    }
}

/* Two sockets whose peers flood them, each with a repeating background recv of one byte:
 * one socket's turn must end after a bounded number of deliveries, so that the other
 * (and the HTTP side, and every other socket) gets its turn while data still flows.
 * Before the turn budget, the first socket ready delivered all it held, byte by byte,
 * before the second delivered anything. */
static void test_one_busy_socket_cannot_starve_another(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, 1024);
    char ida[64], idb[64];
    int pa = connected(&g, ida), pb = connected(&g, idb);
    static struct interleaving log;
    log.n = 0;
    struct delivery_log da = {&log, 'a'}, db = {&log, 'b'};
    struct eng_request req = {.cmd = ENG_CMD_RECV, .n = 1, .timeout = -1, .background = true,
                              .repeat = true};
    struct eng_list *now;
    struct eng_op *op;
    assert_int_equal(eng_exec(g.e, 0, ida, &req, log_delivery, &da, &now, &op), 0);
    eng_list_free(now);
    assert_int_equal(eng_exec(g.e, 0, idb, &req, log_delivery, &db, &now, &op), 0);
    eng_list_free(now);
    size_t held = flood(pa);
    assert_true(flood(pb) > 0);
    assert_true(held > 10000);
    for (int i = 0; i < 10000 && log.n < sizeof(log.order); i++)
        rig_turn(&g, 10);
    /* The longest run of deliveries from one socket while both had data waiting. */
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < log.n; i++) {
        run = i > 0 && log.order[i] == log.order[i - 1] ? run + 1 : 1;
        if (run > longest)
            longest = run;
    }
    if (longest > 256)
        fail_msg("one socket delivered %zu times in a row of %zu deliveries while the other "
                 "had data too; a turn should end after a bounded few", longest, log.n);
    close(pa);
    close(pb);
    rig_free(&g);
}

static void never(struct eng_timer *t)
{
    (void)t;
}

/* A wait whose timeout cannot be armed (the loop's timers all taken, as when something
 * arms more than it reserved) is answered at once, LIMIT, instead of waiting with no
 * timeout at all; the engine's own reservation keeps the room for one timer per wait. */
static void test_wait_without_a_timer_is_refused(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, 1024);
    char id[64];
    int peer = connected(&g, id);
    static struct eng_timer others[4096];
    size_t n = 0;
    for (; n < sizeof(others) / sizeof(others[0]); n++) {
        eng_timer_init(&others[n], never);
        if (eng_timer_start(g.loop, &others[n], eng_now_ms() + 60000) < 0)
            break;
    }
    assert_true(n >= 64 + 2); /* the engine's reservation was there to take */
    struct answer a = {0};
    struct eng_list *now = NULL;
    struct eng_request req = {.cmd = ENG_CMD_RECV, .n = 10, .timeout = 1};
    struct eng_op *op;
    int rc = eng_exec(g.e, 0, id, &req, keep_answer, &a, &now, &op);
    if (rc != 0 || !now)
        fail_msg("a wait with no timer left was accepted (%d): it would never time out", rc);
    assert_int_equal(now->err, ENG_ELIMIT);
    eng_list_free(now);
    /* A background one too: refused at once, not 202 with no timeout. */
    req.background = true;
    assert_int_equal(eng_exec(g.e, 0, id, &req, keep_answer, &a, &now, &op), 0);
    assert_int_equal(now->err, ENG_ELIMIT);
    eng_list_free(now);
    assert_int_equal(a.count, 0);
    for (size_t i = 0; i < n; i++)
        eng_timer_stop(g.loop, &others[i]);
    close(peer);
    rig_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_given_back_bytes_return_in_read_order),
        cmocka_unit_test(test_one_busy_socket_cannot_starve_another),
        cmocka_unit_test(test_wait_without_a_timer_is_refused),
    };
    return cmocka_run_group_tests_name("engine_sockets", tests, NULL, NULL);
}
