/*
 * The engine on its own event loop, for the unit tests that drive it without HTTP
 * (test_engine_sockets.c, test_engine_oom.c): a loop and an engine, answers kept as they
 * come, and gateway sockets connected to real loopback peers. Header-only (static
 * inline), so the Makefile needs no new rule.
 */
#ifndef SOCKGATE_ENGINE_RIG_H
#define SOCKGATE_ENGINE_RIG_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "loop.h"

struct rig {
    struct eng_loop *loop;
    struct eng *e;
};

/* A loop with room for `timers` timers besides the engine's own, and an engine. */
static inline void rig_init(struct rig *g, size_t timers)
{
    g->loop = eng_loop_new(timers);
    assert_non_null(g->loop);
    struct eng_config cfg = {.max_wait = 10, .max_sockets = 64, .max_waits = 64};
    g->e = eng_new(g->loop, &cfg);
    assert_non_null(g->e);
}

static inline void rig_free(struct rig *g)
{
    eng_free(g->e);
    eng_loop_free(g->loop);
}

/* Runs one loop turn, waiting at most ms. */
static inline void rig_turn(struct rig *g, int ms)
{
    assert_true(eng_loop_run_once(g->loop, ms) >= 0);
}

/* The answer a pending operation delivers, kept for the test. */
struct answer {
    struct eng_list *list;
    int count;
};

static inline void keep_answer(void *ctx, struct eng_list *list)
{
    struct answer *a = ctx;
    eng_list_free(a->list);
    a->list = list;
    a->count++;
}

/* Runs a command and returns its answer, now or after loop turns (at most 3 s). */
static inline struct eng_list *rig_run(struct rig *g, const char *id, const struct eng_request *req)
{
    struct answer a = {0};
    struct eng_list *now = NULL;
    struct eng_op *op;
    int rc = eng_exec(g->e, 0, id, req, keep_answer, &a, &now, &op);
    for (int i = 0; rc == ENG_PENDING && a.count == 0 && i < 300; i++)
        rig_turn(g, 10);
    return rc == ENG_PENDING ? a.list : now;
}

/* A gateway socket of `type` (SOCK_STREAM or SOCK_DGRAM) connected to a real loopback
 * peer, its id in id (64 bytes); returns the peer's fd. */
static inline int rig_connected(struct rig *g, int type, char *id)
{
    int lfd = socket(AF_INET, type, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(lfd, 8), 0);
    struct eng_list *l = eng_socket_create(g->e, 0, type, AF_INET);
    assert_non_null(l);
    assert_int_equal(l->err, 0);
    snprintf(id, 64, "%s", l->items[2].bytes);
    eng_list_free(l);
    struct eng_request req = {.cmd = ENG_CMD_CONNECT, .host = "127.0.0.1",
                              .port = ntohs(a.sin_port), .timeout = -1};
    l = rig_run(g, id, &req);
    assert_non_null(l);
    assert_int_equal(l->err, 0);
    eng_list_free(l);
    if (type == SOCK_DGRAM) {
        /* The peer sends to the gateway socket's own address. */
        struct eng_request gs = {.cmd = ENG_CMD_GETSOCKNAME};
        l = rig_run(g, id, &gs);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t)atoi(l->items[3].bytes))};
        eng_list_free(l);
        assert_int_equal(connect(lfd, (struct sockaddr *)&to, sizeof(to)), 0);
        return lfd;
    }
    int peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    close(lfd);
    return peer;
}

#endif
