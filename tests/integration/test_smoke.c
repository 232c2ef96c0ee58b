/*
 * The shortest whole conversation through the real server: create a socket, connect to
 * a real loopback listener, send, receive, close. If this fails, start here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static void test_tcp_conversation(void **state)
{
    (void)state;
    struct hx_server srv;
    hx_start(&srv, NULL);
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64], body[128];
    hx_socket(&srv, NULL, id);

    struct hx_response r;
    snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%u}", port);
    hx_cmd(&srv, id, "connect", body, &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    int peer = hx_accept(lfd);

    hx_cmd(&srv, id, "send", "[\"PING~0d~0a\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    char got[6];
    hx_read_exact(peer, got, 6);
    assert_memory_equal(got, "PING\r\n", 6);

    hx_write_all(peer, "+PONG\r\n", 7);
    hx_cmd(&srv, id, "recv", "[100]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "+PONG~0D~0A");
    hx_response_free(&r);

    hx_cmd(&srv, id, "close", NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    close(peer);
    close(lfd);
    assert_int_equal(hx_stop(&srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_conversation),
    };
    return cmocka_run_group_tests_name("smoke", tests, NULL, NULL);
}
