/*
 * The engine when memory runs out, with real loopback peers: every allocation from the
 * k-th on fails, for each k in turn, while a recv (blocking, in the background, and a
 * recvfrom) is answered. Each answer must be whole or an error, never "ok" with an
 * element missing, and the bytes must never be lost: what an answer does not carry a
 * later recv returns. The failures come from malloc, calloc and realloc defined here,
 * which take the place of libc's for the engine linked into this test (glibc's own stay
 * reachable as __libc_*). AddressSanitizer's allocator would see memory it did not hand
 * out, so under it the test only says so.
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

#if defined(__SANITIZE_ADDRESS__)
#define OOM_INJECTION 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_INJECTION 0
#else
#define OOM_INJECTION 1
#endif
#else
#define OOM_INJECTION 1
#endif

#if OOM_INJECTION
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long allocations = -1;        /* counted while >= 0 */
static long fail_from = -1;          /* allocations from this one on fail; -1: none */

static int should_fail(void)
{
    if (allocations < 0)
        return 0;
    return allocations++ >= fail_from && fail_from >= 0;
}

void *malloc(size_t n)
{
    return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __libc_realloc(p, n);
}
#endif

static void fail_allocations_from(long k)
{
#if OOM_INJECTION
    allocations = 0;
    fail_from = k;
#else
    (void)k;
#endif
}

static void allocations_succeed(void)
{
#if OOM_INJECTION
    allocations = -1;
    fail_from = -1;
#endif
}

/* An answer under memory pressure: none, a whole one carrying `data`, or an error whose
 * extra elements are only those an error of its kind has. Returns 1 when it carried the
 * data. */
static int check_answer(const struct eng_list *l, int whole_items, int data_index,
                        const char *data, long k)
{
    if (!l)
        return 0;
    if (l->err == 0) {
        if (l->nitems != whole_items || strcmp(l->items[data_index].bytes, data) != 0)
            fail_msg("allocation %ld failing: an ok answer of %d elements (not %d)", k,
                     l->nitems, whole_items);
        for (int i = 0; i < l->nitems; i++)
            assert_non_null(l->items[i].bytes);
        return 1;
    }
    if (strncmp(l->items[1].bytes, "NOMEM: ", 7) != 0)
        fail_msg("allocation %ld failing: answered %s", k, l->items[1].bytes);
    for (int i = 2; i < l->nitems; i++)
        if (l->items[i].is_data && l->items[i].len > 0)
            fail_msg("allocation %ld failing: an error carries data", k);
    return 0;
}

/* After the failures: the bytes not carried come back whole from a recv. */
static void expect_bytes_back(struct rig *g, const char *id, enum eng_cmd cmd, const char *data,
                              long k)
{
    struct eng_request req = {.cmd = cmd, .n = 100, .timeout = 2};
    struct eng_list *l = rig_run(g, id, &req);
    if (!l || l->err != 0 || strcmp(l->items[2].bytes, data) != 0)
        fail_msg("allocation %ld failing: the bytes were lost (%s)", k,
                 l ? l->items[1].bytes : "no answer");
    eng_list_free(l);
}

static void run_case(int type, enum eng_cmd cmd, bool background)
{
    const char *data = "precious";
    int whole = 3 + (background ? 1 : 0) + (cmd == ENG_CMD_RECVFROM ? 2 : 0);
    for (long k = 0; k < 24; k++) {
        struct rig g;
        rig_init(&g, 64);
        char id[64];
        int peer = rig_connected(&g, type, id);
        assert_int_equal(write(peer, data, strlen(data)), (ssize_t)strlen(data));
        usleep(2000); /* on loopback the bytes are there at once; the wait is for safety */
        struct answer a = {0};
        struct eng_list *now = NULL;
        struct eng_op *op;
        struct eng_request req = {.cmd = cmd, .n = 100, .timeout = 2, .background = background};
        fail_allocations_from(k);
        int rc = eng_exec(g.e, 0, id, &req, keep_answer, &a, &now, &op);
        for (int i = 0; background && rc == 0 && now && now->err == 0 && a.count == 0 && i < 20; i++)
            eng_loop_run_once(g.loop, 10);
        allocations_succeed();
        int carried;
        if (background) {
            /* The command's own answer (202) or an error, then the event. */
            if (now && now->err == 0)
                carried = check_answer(a.list, whole, 2, data, k);
            else
                carried = 0;
        } else {
            carried = check_answer(rc == 0 ? now : NULL, whole, 2, data, k);
        }
        if (background && now && now->err == 0 && a.count == 0)
            fail_msg("allocation %ld failing: a background recv delivered nothing", k);
        eng_list_free(now);
        eng_list_free(a.list);
        if (!carried)
            expect_bytes_back(&g, id, cmd, data, k);
        close(peer);
        rig_free(&g);
    }
}

static void test_answers_whole_or_error_bytes_never_lost(void **state)
{
    (void)state;
    if (!OOM_INJECTION)
        skip();
    run_case(SOCK_STREAM, ENG_CMD_RECV, false);
    run_case(SOCK_STREAM, ENG_CMD_RECV, true);
    run_case(SOCK_DGRAM, ENG_CMD_RECVFROM, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_whole_or_error_bytes_never_lost),
    };
    return cmocka_run_group_tests_name("engine_oom", tests, NULL, NULL);
}
