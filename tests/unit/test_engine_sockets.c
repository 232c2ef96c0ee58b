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

#include "engine.h"
#include "loop.h"

struct rig {
    struct eng_loop *loop;
    struct eng *e;
};

static void rig_init(struct rig *g)
{
    g->loop = eng_loop_new(1024);
    assert_non_null(g->loop);
    struct eng_config cfg = {.max_wait = 10, .max_sockets = 64, .max_waits = 64};
    g->e = eng_new(g->loop, &cfg);
    assert_non_null(g->e);
}

static void rig_free(struct rig *g)
{
    eng_free(g->e);
    eng_loop_free(g->loop);
}

/* Runs one loop turn (waiting at most ms) and collects what closing left. */
static void rig_turn(struct rig *g, int ms)
{
    assert_true(eng_loop_run_once(g->loop, eng_loop_next_timeout(g->loop, ms)) >= 0);
    eng_collect(g->e);
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(listen(fd, 8), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The answer a pending operation delivers, kept for the test. */
struct answer {
    struct eng_list *list;
    int count;
};

static void keep_answer(void *ctx, struct eng_list *list)
{
    struct answer *a = ctx;
    eng_list_free(a->list);
    a->list = list;
    a->count++;
}

/* An engine socket connected to a real peer; returns the peer's fd, id in id. */
static int connected(struct rig *g, char *id)
{
    uint16_t port;
    int lfd = listener(&port);
    struct eng_list *l = eng_socket_create(g->e, 0, SOCK_STREAM, AF_INET);
    assert_non_null(l);
    assert_int_equal(l->err, 0);
    snprintf(id, 64, "%s", l->items[2].bytes);
    eng_list_free(l);
    struct eng_request req = {.cmd = ENG_CMD_CONNECT, .host = "127.0.0.1", .port = port,
                              .timeout = -1};
    struct answer ans = {0};
    struct eng_op *op;
    int rc = eng_exec(g->e, 0, id, &req, keep_answer, &ans, &l, &op);
    for (int i = 0; rc == ENG_PENDING && ans.count == 0 && i < 100; i++)
        rig_turn(g, 10);
    if (rc == 0) {
        ans.list = l;
        ans.count = 1;
    }
    assert_int_equal(ans.count, 1);
    assert_int_equal(ans.list->err, 0);
    eng_list_free(ans.list);
    int peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    close(lfd);
    return peer;
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
    rig_init(&g);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_given_back_bytes_return_in_read_order),
    };
    return cmocka_run_group_tests_name("engine_sockets", tests, NULL, NULL);
}
