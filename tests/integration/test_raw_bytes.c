/*
 * Raw bytes for curl users (SPEC §3) over real HTTP and real sockets: send and sendto
 * with an application/octet-stream body (every byte value, NULs included, a megabyte of
 * random bytes), recv and recvfrom that accept application/octet-stream (the bytes as the
 * body, the sender in X-Sockgate-Address/-Port), answers that are not ok staying JSON, a
 * background recv staying an event, and a raw recv whose client leaves while it waits
 * reading nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"

/* One server for the file (--max-wait 5), and test_clean_exit last. */
CU_SERVER_GROUP(srv)

/* POST path with a binary body (len bytes) and extra header lines; the whole response. */
static void raw_post(const char *path, const char *headers, const void *body, size_t len,
                     struct hx_response *out)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     path, headers, len);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    int fd = hx_tcp_connect(false, srv.port);
    assert_true(fd >= 0);
    hx_write_all(fd, head, (size_t)n);
    if (len)
        hx_write_all(fd, body, len);
    hx_read_response(fd, 20000, out);
    close(fd);
}

#define OCTETS "Content-Type: application/octet-stream\r\n"
#define ACCEPT_OCTETS "Accept: application/octet-stream\r\n"

static void test_send_and_recv_raw(void **state)
{
    (void)state;
    char id[64], path[128];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    /* The body is the bytes: NULs, ~, quotes and all. */
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    raw_post(path, OCTETS, all, sizeof(all), &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    uint8_t got[256];
    hx_read_exact(peer, got, sizeof(got));
    assert_memory_equal(got, all, sizeof(all));
    /* And back: the answer's body is the bytes, not JSON. */
    hx_write_all(peer, all, sizeof(all));
    cu_wait_fionread(&srv, id, 256);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=1000", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: application/octet-stream"));
    assert_null(strstr(r.headers, "X-Sockgate-Address"));
    assert_int_equal(r.body_len, 256);
    assert_memory_equal(r.body, all, 256);
    hx_response_free(&r);
    /* A megabyte of random bytes, in one send. */
    size_t big = 1u << 20;
    uint8_t *blob = malloc(big), *back = malloc(big);
    assert_non_null(blob);
    assert_non_null(back);
    assert_int_equal(getrandom(blob, big, 0), (ssize_t)big);
    snprintf(path, sizeof(path), "/sockets/%s/send", id);
    pid_t pid = fork(); /* the peer reads while the gateway sends */
    assert_true(pid >= 0);
    if (pid == 0) {
        /* No cmocka in the child: a failed assertion would run the rest of the tests. */
        size_t have = 0;
        while (have < big) {
            ssize_t n = read(peer, back + have, big - have);
            if (n <= 0)
                _exit(2);
            have += (size_t)n;
        }
        _exit(memcmp(back, blob, big) == 0 ? 0 : 1);
    }
    raw_post(path, OCTETS, blob, big, &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(blob);
    free(back);
    close(peer);
}

static void test_sendto_and_recvfrom_raw(void **state)
{
    (void)state;
    uint16_t uport;
    int u = hx_udp_socket(false, &uport);
    char a[64], b[64], path[160];
    hx_socket(&srv, "[\"DGRAM\"]", a);
    hx_socket(&srv, "[\"DGRAM\"]", b);
    cu_ok(&srv, b, "bind", "[\"localhost\",0]");
    char baddr[64];
    unsigned bport;
    cu_name(&srv, b, false, baddr, sizeof(baddr), &bport);
    /* sendto: address and port from the query, the datagram is the body. */
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s/sendto?address=127.0.0.1&port=%u", a, uport);
    raw_post(path, OCTETS, "dg\0ram", 6, &r);
    hx_expect(&r, 200, "sendto", "ok");
    hx_response_free(&r);
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    char buf[64];
    struct pollfd p = {.fd = u, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 6);
    assert_memory_equal(buf, "dg\0ram", 6);
    /* recvfrom: the datagram as the body, the sender in the headers. */
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bport),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(u, "\x00\xff\x01", 3, 0, (struct sockaddr *)&to, sizeof(to)), 3);
    snprintf(path, sizeof(path), "/sockets/%s/recvfrom?n=100", b);
    raw_post(path, "Accept: text/html, application/octet-stream\r\n", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 3);
    assert_memory_equal(r.body, "\x00\xff\x01", 3);
    char want[64];
    assert_non_null(strstr(r.headers, "X-Sockgate-Address: 127.0.0.1"));
    snprintf(want, sizeof(want), "X-Sockgate-Port: %u", uport);
    assert_non_null(strstr(r.headers, want));
    hx_response_free(&r);
    close(u);
}

/* What is not ok stays a JSON list; a background recv is an event as ever; q=0 declines. */
static void test_what_stays_json(void **state)
{
    (void)state;
    char id[64], path[160];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10&timeout=0.1", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    hx_expect(&r, 200, "recv", "TIMEDOUT");
    hx_response_free(&r);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=0", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    hx_expect(&r, 400, "recv", "INVAL");
    hx_response_free(&r);
    /* Data given twice: in the body and as an argument. */
    snprintf(path, sizeof(path), "/sockets/%s/send?stream=x", id);
    raw_post(path, OCTETS, "y", 1, &r);
    hx_expect(&r, 400, "send", "INVAL");
    hx_response_free(&r);
    /* Accept with q=0 does not want octets. */
    hx_write_all(peer, "abc", 3);
    cu_wait_fionread(&srv, id, 3);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10", id);
    raw_post(path, "Accept: application/octet-stream;q=0, application/json\r\n", NULL, 0, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "abc");
    hx_response_free(&r);
    /* A background recv answers 202 JSON, and its event is JSON. */
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10&callback=onRaw", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    hx_expect(&r, 202, "recv", "ok");
    hx_response_free(&r);
    /* The peer closes: a raw recv answers CLOSED as JSON. */
    cu_ok(&srv, id, "close", NULL);
    close(peer);
    cu_connected_pair(&srv, false, id, &peer);
    close(peer);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=10", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    hx_expect(&r, 200, "recv", "CLOSED");
    hx_response_free(&r);
}

/* A raw recv whose client leaves while it waits reads nothing: the bytes that come after
 * go to the next recv. */
static void test_left_wait_reads_nothing(void **state)
{
    (void)state;
    char id[64], path[160], req[256];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=100&timeout=5", id);
    int n = snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                     "Content-Length: 0\r\n\r\n", path, ACCEPT_OCTETS);
    int fd = hx_tcp_connect(false, srv.port);
    assert_true(fd >= 0);
    hx_write_all(fd, req, (size_t)n);
    usleep(100000);
    close(fd);
    usleep(100000);
    hx_write_all(peer, "late\0bytes", 10);
    cu_wait_fionread(&srv, id, 10);
    struct hx_response r;
    snprintf(path, sizeof(path), "/sockets/%s/recv?n=100", id);
    raw_post(path, ACCEPT_OCTETS, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 10);
    assert_memory_equal(r.body, "late\0bytes", 10);
    hx_response_free(&r);
    close(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_and_recv_raw),
        cmocka_unit_test(test_sendto_and_recvfrom_raw),
        cmocka_unit_test(test_what_stays_json),
        cmocka_unit_test(test_left_wait_reads_nothing),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("raw_bytes", tests, group_setup, group_teardown);
}
