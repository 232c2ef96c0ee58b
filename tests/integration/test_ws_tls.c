/*
 * The WebSocket bridge over a TLS socket (SPEC §10 and §11): the bridge carries the
 * decrypted bytes both ways, without splicing (TLS records must be decrypted on their
 * way), through the engine's transport. The peer is `openssl s_server -rev`, which
 * answers each line reversed, with certificates made at test time.
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

#include "cmd_util.h"
#include "harness.h"
#include "tls_util.h"
#include "ws_util.h"

static struct hx_server srv;
static struct tu_certs certs;

static int group_setup(void **state)
{
    (void)state;
    tu_certs_make(&certs);
    hx_start(&srv, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_certs_free(&certs);
    return cu_teardown(&srv);
}

/* A socket connected with TLS to a fresh `s_server -rev`; writes its id. */
static void tls_rev_socket(struct tu_proc *peer, char *id)
{
    const char *args[] = {"-rev", "-quiet", NULL};
    tu_s_server(peer, &certs, "localhost", args);
    hx_socket(&srv, NULL, id);
    char ca[7000];
    struct hx_response r;
    cu_cmdf(&srv, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":%u,\"tls\":true,\"ca\":%s}",
            peer->port, tu_json_str(certs.ca_pem, ca, sizeof(ca)));
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
}

/* Reads messages until `len` bytes have come. */
static void expect_bytes(struct wsc *c, const char *want, size_t len)
{
    char *got = malloc(len + 1);
    assert_non_null(got);
    size_t n = 0;
    while (n < len) {
        int op;
        long r = wsc_read_message(c, &op, (uint8_t *)got + n, len - n + 1);
        if (r < 0 || op != WSC_OP_BINARY)
            fail_msg("after %zu of %zu bytes: %ld (opcode %d)", n, len, r, op);
        n += (size_t)r;
    }
    assert_int_equal(n, len);
    assert_memory_equal(got, want, len);
    free(got);
}

static void test_bridge_carries_plaintext(void **state)
{
    (void)state;
    struct tu_proc peer;
    char id[64];
    tls_rev_socket(&peer, id);
    struct wsc c;
    wu_open(&c, &srv, id, NULL);
    wu_send(&c, "hello over tls\n", 15);
    expect_bytes(&c, "slt revo olleh\n", 15);
    /* A line longer than one TLS record, sent in pieces: records held by GnuTLS must be
     * delivered without the descriptor becoming readable again. */
    size_t len = 12000;
    char *line = malloc(len + 1), *rev = malloc(len + 1);
    assert_non_null(line);
    assert_non_null(rev);
    for (size_t i = 0; i < len; i++)
        line[i] = (char)('a' + i % 26);
    line[len] = '\n';
    for (size_t i = 0; i < len; i++)
        rev[i] = line[len - 1 - i];
    rev[len] = '\n';
    for (size_t off = 0; off <= len; off += 3000)
        wu_send(&c, line + off, len + 1 - off < 3000 ? len + 1 - off : 3000);
    expect_bytes(&c, rev, len + 1);
    free(line);
    free(rev);
    /* The listing counts plaintext. */
    char st[32];
    uint64_t in, out;
    wu_socket_state(&srv, id, st, sizeof(st), &in, &out);
    assert_string_equal(st, "streaming");
    assert_int_equal(in, 15 + len + 1);
    assert_int_equal(out, 15 + len + 1);
    /* The peer goes away: Close 1000 after everything. */
    tu_proc_stop(&peer);
    wu_expect_close(&c, 1000, NULL);
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
}

static void test_client_close_over_tls(void **state)
{
    (void)state;
    struct tu_proc peer;
    char id[64];
    tls_rev_socket(&peer, id);
    struct wsc c;
    wu_open(&c, &srv, id, NULL);
    wu_send(&c, "one\n", 4);
    expect_bytes(&c, "eno\n", 4);
    assert_int_equal(wsc_send_close(&c, 1000, NULL), 0);
    unsigned code;
    wu_read_to_close(&c, NULL, 0, &code, NULL, 0);
    assert_int_equal(code, 1000);
    wsc_close(&c);
    wu_wait_state(&srv, id, "gone");
    tu_proc_stop(&peer);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridge_carries_plaintext),
        cmocka_unit_test(test_client_close_over_tls),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("ws_tls", tests, group_setup, group_teardown);
}
