/*
 * The WebSocket bridge under load: 100 MB each way with the sender closing right after
 * its last byte, every byte counted and checked, several times; flow control with fixed
 * caps both ways (a reader that stops stops the writer, and the server's memory stays
 * flat); the bridge's own pings and idle timeout. `make soak` runs the transfers many
 * more times (WS_SOAK_ROUNDS).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "srv_util.h"
#include "ws_util.h"

#define BIG (100u * 1000 * 1000)     /* bytes of a long transfer */
#define FLOW_SLACK (48u << 20)       /* bytes kernel and bridge buffers may hold in total */
#define RSS_SLACK_KB (8 * 1024)      /* server growth a stalled bridge may cause */

static struct hx_server srv;
static int rounds = 2;

static int group_setup(void **state)
{
    (void)state;
    const char *soak = getenv("WS_SOAK_ROUNDS");
    if (soak && atoi(soak) > 0)
        rounds = atoi(soak);
    hx_start(&srv, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return cu_teardown(&srv);
}

/* The test pattern: byte i of a transfer, cheap to make and to check. */
static void pattern(uint8_t *out, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t k = off + i;
        out[i] = (uint8_t)((k * 2654435761u) >> 13 ^ k >> 20);
    }
}

/* A child process that writes BIG bytes of the pattern to fd, then closes it at once. */
static pid_t write_in_child(int fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static uint8_t chunk[1 << 20];
        for (uint64_t off = 0; off < BIG; off += sizeof(chunk)) {
            size_t n = BIG - off < sizeof(chunk) ? (size_t)(BIG - off) : sizeof(chunk);
            pattern(chunk, off, n);
            for (size_t done = 0; done < n;) {
                ssize_t w = write(fd, chunk + done, n - done);
                if (w <= 0)
                    _exit(1);
                done += (size_t)w;
            }
        }
        close(fd);
        _exit(0);
    }
    return pid;
}

static void expect_child_ok(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* 100 MB from the peer, which closes right after its last byte: all of it arrives,
 * intact, before the Close 1000. */
static void test_100mb_peer_to_client(void **state)
{
    (void)state;
    uint8_t *want = malloc(1 << 20);
    assert_non_null(want);
    for (int round = 0; round < rounds; round++) {
        char id[64];
        struct wsc c;
        int peer = wu_bridge(&srv, id, &c);
        pid_t child = write_in_child(peer);
        close(peer);
        uint64_t total = 0;
        unsigned code = 0;
        for (;;) {
            struct wsc_chunk ch;
            int r = wsc_next(&c, &ch);
            if (r < 0)
                fail_msg("round %d: ended without a Close (%d) after %llu bytes", round, r,
                         (unsigned long long)total);
            if (ch.opcode == WSC_OP_CLOSE) {
                code = wsc_close_code(ch.data, ch.len);
                break;
            }
            assert_int_equal(ch.opcode, WSC_OP_BINARY);
            pattern(want, total, ch.len);
            if (memcmp(want, ch.data, ch.len) != 0)
                fail_msg("round %d: bytes differ near offset %llu", round,
                         (unsigned long long)total);
            total += ch.len;
        }
        if (total != BIG || code != 1000)
            fail_msg("round %d: %llu of %u bytes, Close %u", round, (unsigned long long)total,
                     BIG, code);
        wsc_send_close(&c, 1000, NULL);
        wsc_close(&c);
        expect_child_ok(child);
    }
    free(want);
}

/* 100 MB from the client, whose Close follows its last frame at once: the peer reads all
 * of it, intact, then the end of the stream. */
static void test_100mb_client_to_peer(void **state)
{
    (void)state;
    uint8_t *chunk = malloc(1 << 20), *want = malloc(1 << 20), *got = malloc(1 << 20);
    assert_non_null(chunk);
    assert_non_null(want);
    assert_non_null(got);
    for (int round = 0; round < rounds; round++) {
        char id[64];
        struct wsc c;
        int peer = wu_bridge(&srv, id, &c);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (uint64_t off = 0; off < BIG; off += 1u << 20) {
                size_t n = BIG - off < (1u << 20) ? (size_t)(BIG - off) : (1u << 20);
                pattern(chunk, off, n);
                if (wsc_send(&c, WSC_OP_BINARY, chunk, n, true) < 0)
                    _exit(1);
            }
            _exit(wsc_send_close(&c, 1000, "sent it all") < 0 ? 1 : 0);
        }
        uint64_t total = 0;
        for (;;) {
            struct pollfd p = {.fd = peer, .events = POLLIN};
            if (poll(&p, 1, WU_TIMEOUT_MS) <= 0)
                fail_msg("round %d: stalled at %llu bytes", round, (unsigned long long)total);
            ssize_t r = read(peer, got, 1 << 20);
            if (r < 0 && errno == EINTR)
                continue;
            assert_true(r >= 0);
            if (r == 0)
                break;
            pattern(want, total, (size_t)r);
            if (memcmp(want, got, (size_t)r) != 0)
                fail_msg("round %d: bytes differ near offset %llu", round,
                         (unsigned long long)total);
            total += (uint64_t)r;
        }
        if (total != BIG)
            fail_msg("round %d: the peer got %llu of %u bytes", round, (unsigned long long)total,
                     BIG);
        expect_child_ok(pid);
        unsigned code;
        wu_read_to_close(&c, NULL, 0, &code, NULL, 0);
        assert_int_equal(code, 1000);
        wsc_close(&c);
        close(peer);
    }
    free(chunk);
    free(want);
    free(got);
}

/* close from REST in the middle of a 100 MB transfer: what came is a true prefix of
 * what the peer sent, the Close is 1001, and the peer's writes fail rather than hang. */
static void test_rest_close_mid_transfer(void **state)
{
    (void)state;
    uint8_t *want = malloc(1 << 20);
    assert_non_null(want);
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    pid_t child = write_in_child(peer);
    close(peer);
    uint64_t total = 0;
    bool closed = false;
    unsigned code = 0;
    while (!closed) {
        struct wsc_chunk ch;
        int r = wsc_next(&c, &ch);
        if (r < 0)
            fail_msg("ended without a Close (%d) after %llu bytes", r, (unsigned long long)total);
        if (ch.opcode == WSC_OP_CLOSE) {
            code = wsc_close_code(ch.data, ch.len);
            closed = true;
            break;
        }
        pattern(want, total, ch.len);
        if (memcmp(want, ch.data, ch.len) != 0)
            fail_msg("bytes differ near offset %llu", (unsigned long long)total);
        uint64_t before = total;
        total += ch.len;
        if (before < (8u << 20) && total >= (8u << 20)) {
            char path[96];
            snprintf(path, sizeof(path), "/sockets/%s", id);
            struct hx_response r2;
            hx_request(&srv, "DELETE", path, NULL, &r2);
            hx_expect(&r2, 200, "close", "ok");
            hx_response_free(&r2);
        }
    }
    assert_int_equal(code, 1001);
    assert_true(total >= (8u << 20) && total < BIG);
    wsc_send_close(&c, 1001, NULL);
    wsc_close(&c);
    /* The writer finds the socket gone. */
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    free(want);
}

/* Writes to fd without blocking until it has taken nothing for 300 ms (or 5 s passed);
 * returns the bytes taken. */
static uint64_t write_until_stalled(int fd, const uint8_t *chunk, size_t len)
{
    uint64_t total = 0;
    long long last_progress = hx_now_ms(), end = hx_now_ms() + 5000;
    while (hx_now_ms() - last_progress < 300 && hx_now_ms() < end) {
        ssize_t w = send(fd, chunk, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            total += (uint64_t)w;
            last_progress = hx_now_ms();
        } else {
            usleep(2000);
        }
    }
    return total;
}

/* A client that stops reading stops the gateway reading the socket: the peer can write
 * only what the buffers hold, and the server does not grow. Then everything arrives. */
static void test_slow_client_stops_the_peer(void **state)
{
    (void)state;
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    long rss0 = wu_rss_kb(&srv);
    static uint8_t chunk[1 << 16];
    memset(chunk, 'd', sizeof(chunk));
    uint64_t taken = write_until_stalled(peer, chunk, sizeof(chunk));
    long grown = wu_rss_kb(&srv) - rss0;
    if (taken > FLOW_SLACK || grown > RSS_SLACK_KB)
        fail_msg("a client reading nothing let the peer write %llu bytes; server grew %ld kB",
                 (unsigned long long)taken, grown);
    close(peer);
    uint64_t got = wu_read_to_close(&c, NULL, 0, &(unsigned){0}, NULL, 0);
    assert_int_equal(got, taken);
    wsc_send_close(&c, 1000, NULL);
    wsc_close(&c);
}

/* A peer that stops reading stops the gateway reading the client. */
static void test_slow_peer_stops_the_client(void **state)
{
    (void)state;
    char id[64];
    struct wsc c;
    int peer = wu_bridge(&srv, id, &c);
    long rss0 = wu_rss_kb(&srv);
    /* Masked frames written raw, so the client side never blocks in wsc_send. */
    static uint8_t frame[4 + 4 + 60000];
    frame[0] = 0x82;
    frame[1] = 0x80 | 126;
    frame[2] = (uint8_t)(60000 >> 8);
    frame[3] = (uint8_t)(60000 & 0xff);
    memset(frame + 4, 0, 4 + 60000); /* mask 0: the payload is zeros */
    uint64_t frames = 0;
    long long last_progress = hx_now_ms(), end = hx_now_ms() + 5000;
    size_t off = 0;
    while (hx_now_ms() - last_progress < 300 && hx_now_ms() < end) {
        ssize_t w = send(c.fd, frame + off, sizeof(frame) - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            if (off == sizeof(frame)) {
                off = 0;
                frames++;
            }
            last_progress = hx_now_ms();
        } else {
            usleep(2000);
        }
    }
    long grown = wu_rss_kb(&srv) - rss0;
    if (frames * 60000 > FLOW_SLACK || grown > RSS_SLACK_KB)
        fail_msg("a peer reading nothing let the client send %llu bytes; server grew %ld kB",
                 (unsigned long long)(frames * 60000), grown);
    /* Finish the frame in progress and send the Close, while the peer reads it all. */
    uint64_t got = 0;
    bool close_sent = false;
    for (;;) {
        bool sending = off > 0 || !close_sent;
        struct pollfd p[2] = {{.fd = peer, .events = POLLIN},
                              {.fd = c.fd, .events = sending ? POLLOUT : 0}};
        if (poll(p, 2, WU_TIMEOUT_MS) <= 0)
            fail_msg("stalled: the peer read %llu bytes", (unsigned long long)got);
        if (p[1].revents & POLLOUT) {
            if (off > 0) {
                ssize_t w = send(c.fd, frame + off, sizeof(frame) - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0 && (off += (size_t)w) == sizeof(frame)) {
                    off = 0;
                    frames++;
                }
            } else if (!close_sent) {
                assert_int_equal(wsc_send_close(&c, 1000, NULL), 0);
                close_sent = true;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            uint8_t sink[65536];
            ssize_t r = read(peer, sink, sizeof(sink));
            assert_true(r >= 0);
            if (r == 0)
                break;
            got += (uint64_t)r;
        }
    }
    assert_int_equal(got, frames * 60000);
    close(peer);
    wsc_close(&c);
}

static void test_pings_and_idle_timeout(void **state)
{
    (void)state;
    struct hx_server s;
    su_start(&s, (const char *const[]){"--ws-ping", "0.3", NULL});
    char id[64];
    int peer = su_connect_pair(&s, NULL, id);
    struct wsc c;
    wu_open(&c, &s, id, NULL);
    /* A client that answers pings (wsc_read_message does) stays: 1 s, three pings. */
    long long t0 = hx_now_ms();
    hx_write_all(peer, "still", 5);
    wu_expect_message(&c, "still", 5);
    int pings = 0;
    c.timeout_ms = 50;
    while (hx_now_ms() - t0 < 1000) {
        struct wsc_chunk ping;
        int r = wsc_next(&c, &ping);
        if (r == WSC_ETIMEDOUT)
            continue;
        assert_int_equal(r, 1);
        if (ping.opcode != WSC_OP_PING)
            fail_msg("expected a ping after %d, got opcode %d: %.*s", pings, ping.opcode,
                     (int)ping.len, ping.data);
        uint8_t copy[125];
        memcpy(copy, ping.data, ping.len);
        assert_int_equal(wsc_send(&c, WSC_OP_PONG, copy, ping.len, true), 0);
        pings++;
    }
    c.timeout_ms = WU_TIMEOUT_MS;
    assert_true(pings >= 2);
    hx_write_all(peer, "there", 5);
    wu_expect_message(&c, "there", 5);
    assert_true(hx_now_ms() - t0 >= 1000);
    /* A client that answers nothing is closed with 1001 after two periods. */
    struct wsc_chunk ch;
    assert_int_equal(wsc_next(&c, &ch), 1);
    assert_int_equal(ch.opcode, WSC_OP_PING);
    unsigned code;
    char reason[128];
    long long t1 = hx_now_ms();
    for (;;) {
        assert_int_equal(wsc_next(&c, &ch), 1);
        if (ch.opcode == WSC_OP_CLOSE)
            break;
    }
    code = wsc_close_code(ch.data, ch.len);
    snprintf(reason, sizeof(reason), "%.*s", (int)(ch.len > 2 ? ch.len - 2 : 0), ch.data + 2);
    assert_int_equal(code, 1001);
    assert_non_null(strstr(reason, "no ping"));
    assert_true(hx_now_ms() - t1 < 2000);
    wsc_close(&c);
    assert_int_equal(wu_read_to_eof(peer, NULL, 0), 0);
    close(peer);
    assert_int_equal(cu_stop(&s), 0);

    /* --ws-idle-timeout: no data either way closes with 1001, pongs or not. */
    su_start(&s, (const char *const[]){"--ws-idle-timeout", "0.5", "--ws-ping", "0.1", NULL});
    peer = su_connect_pair(&s, NULL, id);
    wu_open(&c, &s, id, NULL);
    t0 = hx_now_ms();
    wu_expect_close(&c, 1001, "no data for 0.5 s");
    assert_true(hx_now_ms() - t0 >= 450);
    wsc_close(&c);
    close(peer);
    assert_int_equal(cu_stop(&s), 0);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&srv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_100mb_peer_to_client),
        cmocka_unit_test(test_100mb_client_to_peer),
        cmocka_unit_test(test_rest_close_mid_transfer),
        cmocka_unit_test(test_slow_client_stops_the_peer),
        cmocka_unit_test(test_slow_peer_stops_the_client),
        cmocka_unit_test_teardown(test_pings_and_idle_timeout, su_stop_leftovers),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("ws_flow", tests, group_setup, group_teardown);
}
