/*
 * Client TLS through the gateway (SPEC section 11) against real TLS peers the test
 * starts: openssl s_server with certificates made at test time by a test CA. It covers a
 * whole HTTPS exchange (FIONREAD counting plaintext), every verification failure in
 * words (unknown authority, name mismatch, expired, not valid yet), SNI and servername,
 * verify=false, client certificates (TLS 1.2 and 1.3), peers that do not speak TLS or
 * never finish the handshake (its own deadline, and the loop serving others meanwhile),
 * and malformed TLS arguments. A failed socket stays open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "harness.h"
#include "tls_util.h"

static struct hx_server server;
static struct tu_certs certs;

static int group_setup(void **state)
{
    (void)state;
    tu_certs_make(&certs);
    const char *args[] = {"--tls-handshake-timeout", "1", NULL};
    hx_start(&server, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_certs_free(&certs);
    return cu_teardown(&server);
}

/* connect with TLS to 127.0.0.1:port as `name`, with `extra` JSON members (may be "");
 * the answer is left in r. */
static void tls_connect(const char *id, const char *name, uint16_t port, const char *extra,
                        struct hx_response *r)
{
    cu_cmdf(&server, id, "connect", r, "{\"socketname\":\"%s\",\"port\":%u,\"tls\":true%s%s}",
            name, port, extra[0] ? "," : "", extra);
}

/* ,"ca":"<the test CA>" for tls_connect. */
static const char *with_ca(void)
{
    static char buf[8192];
    char json[7000];
    snprintf(buf, sizeof(buf), "\"ca\":%s", tu_json_str(certs.ca_pem, json, sizeof(json)));
    return buf;
}

/* The socket's "tls" field in GET /sockets/<id>. */
static void expect_tls_state(const char *id, const char *want)
{
    struct hx_response r;
    cu_reqf(&server, "GET", NULL, &r, "/sockets/%s", id);
    assert_int_equal(r.status, 200);
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(r.json, "tls");
    assert_true(cJSON_IsString(tls));
    assert_string_equal(tls->valuestring, want);
    hx_response_free(&r);
}

/* Sends an HTTP/1.0 GET for / and expects the first recv to begin with the status. */
static void expect_http_answer_on(const struct hx_server *srv, const char *id)
{
    cu_ok(srv, id, "send", "[\"GET / HTTP/1.0~0D~0A~0D~0A\"]");
    struct hx_response r;
    hx_cmd(srv, id, "recv", "{\"n\":15,\"timeout\":5}", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "HTTP/1.0 200 ok");
    hx_response_free(&r);
}

static void expect_http_answer(const char *id)
{
    expect_http_answer_on(&server, id);
}

/* A failed handshake answers TLS: why. and leaves the socket open: its peer name is
 * still there, reads answer the same TLS error, and close works. */
static void expect_tls_failure(const char *id, struct hx_response *r, const char *why)
{
    char want[300];
    snprintf(want, sizeof(want), "TLS: %s", why);
    cu_expect_err(r, 200, "connect", "TLS");
    if (strncmp(hx_elem(r, 1), want, strlen(want)) != 0)
        fail_msg("want '%s...', got '%s'", want, hx_elem(r, 1));
    char addr[64];
    unsigned port;
    cu_name(&server, id, true, addr, sizeof(addr), &port);
    struct hx_response rr;
    hx_cmd(&server, id, "recv", "[10]", &rr);
    assert_string_equal(hx_elem(&rr, 1), hx_elem(r, 1));
    hx_response_free(&rr);
    expect_tls_state(id, "failed");
    cu_ok(&server, id, "close", NULL);
}

/* A fresh socket whose TLS connect must fail with TLS: why (it is closed afterwards). */
static void expect_refused(const char *name, uint16_t port, const char *extra, const char *why)
{
    char id[64];
    hx_socket(&server, NULL, id);
    struct hx_response r;
    tls_connect(id, name, port, extra, &r);
    expect_tls_failure(id, &r, why);
    hx_response_free(&r);
}

/* A fresh socket whose TLS connect must succeed and carry an HTTP exchange; then closed. */
static void expect_https_works(const char *name, uint16_t port, const char *extra)
{
    char id[64];
    hx_socket(&server, NULL, id);
    struct hx_response r;
    tls_connect(id, name, port, extra, &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    expect_http_answer(id);
    cu_ok(&server, id, "close", NULL);
}

/* ,"servername":"<name>" and the CA, for tls_connect. */
static const char *with_servername(const char *name)
{
    static char buf[8400];
    snprintf(buf, sizeof(buf), "\"servername\":\"%s\",%s", name, with_ca());
    return buf;
}

static void test_https_exchange_counts_plaintext(void **state)
{
    (void)state;
    struct tu_proc peer;
    const char *www[] = {"-www", NULL};
    tu_s_server(&peer, &certs, "localhost", www);
    char id[64];
    hx_socket(&server, NULL, id);
    struct hx_response r;
    tls_connect(id, "localhost", peer.port, with_ca(), &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    expect_tls_state(id, "on");
    cu_ok(&server, id, "send", "[\"GET / HTTP/1.0~0D~0A~0D~0A\"]");
    /* s_server answers and closes: once FIONREAD stops growing the whole page is in, and
     * it must count the plaintext a recv returns, not the ciphertext the kernel holds. */
    cu_wait_fionread(&server, id, 1);
    long last = -1, now = 0;
    for (int i = 0; i < 50 && now != last; i++) {
        usleep(50000);
        last = now;
        hx_cmd(&server, id, "ioctl", "[\"FIONREAD\"]", &r);
        now = strtol(hx_elem(&r, 2), NULL, 10);
        hx_response_free(&r);
    }
    assert_true(now > 100);
    cu_ok(&server, id, "ioctl", "[\"FIONBIO\",1]");
    char body[64];
    snprintf(body, sizeof(body), "{\"n\":%ld,\"encoding\":\"hex\"}", now + 1000);
    hx_cmd(&server, id, "recv", body, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_int_equal((long)strlen(hx_elem(&r, 2)), 2 * now);
    /* "HTTP/1.0 200 ok" in hex. */
    assert_memory_equal(hx_elem(&r, 2), "485454502F312E3020323030206F6B", 30);
    hx_response_free(&r);
    hx_cmd(&server, id, "recv", "[100]", &r);
    cu_expect_err(&r, 200, "recv", "CLOSED");
    hx_response_free(&r);
    cu_ok(&server, id, "close", NULL);
    tu_proc_stop(&peer);
}

static void test_unknown_authority(void **state)
{
    (void)state;
    struct tu_proc peer;
    tu_s_server(&peer, &certs, "localhost", NULL);
    /* No ca: the system's CAs, which never signed the test CA. */
    expect_refused("localhost", peer.port, "", "certificate signed by an unknown authority.");
    tu_proc_stop(&peer);
}

static void test_name_mismatch_and_servername(void **state)
{
    (void)state;
    struct tu_proc peer;
    const char *www[] = {"-www", NULL};
    tu_s_server(&peer, &certs, "wrong", www);
    expect_refused("localhost", peer.port, with_ca(),
                   "name mismatch: the certificate is not valid for localhost.");
    /* servername names what is checked: the same certificate passes as wrong.example. */
    expect_https_works("127.0.0.1", peer.port, with_servername("wrong.example"));
    tu_proc_stop(&peer);
}

/* A certificate outside its dates (`cert` of tls_util) is refused in words of its own,
 * and verify=false accepts it, the bytes flowing. */
static void expect_dates_refused(const char *cert, const char *why)
{
    struct tu_proc peer;
    const char *www[] = {"-www", NULL};
    tu_s_server(&peer, &certs, cert, www);
    expect_refused("localhost", peer.port, with_ca(), why);
    expect_https_works("localhost", peer.port, "\"verify\":false");
    tu_proc_stop(&peer);
}

static void test_expired(void **state)
{
    (void)state;
    expect_dates_refused("expired", "the certificate has expired.");
}

/* The other end of the dates: valid only in 2099 (a CA, or a server's clock, far ahead). */
static void test_not_valid_yet(void **state)
{
    (void)state;
    expect_dates_refused("future", "the certificate is not valid yet.");
}

static void test_sni_picks_the_certificate(void **state)
{
    (void)state;
    /* The default certificate is the wrong one; SNI "localhost" selects the right one. */
    char cert2[256], key2[256];
    const char *args[] = {"-www", "-servername", "localhost", "-cert2",
                          tu_path(&certs, "localhost.pem", cert2), "-key2",
                          tu_path(&certs, "localhost.key", key2), NULL};
    struct tu_proc peer;
    tu_s_server(&peer, &certs, "wrong", args);
    expect_https_works("127.0.0.1", peer.port, with_servername("localhost"));
    /* An address sends no SNI (RFC 6066) and is itself the name checked. */
    expect_refused("127.0.0.1", peer.port, with_ca(),
                   "name mismatch: the certificate is not valid for 127.0.0.1.");
    tu_proc_stop(&peer);
}

/* "cert":...,"key":... with the test client's credentials, after the CA when with_ca. */
static const char *client_cert_args(bool ca)
{
    static char buf[24000];
    char c[7000], k[7000];
    snprintf(buf, sizeof(buf), "%s%s\"cert\":%s,\"key\":%s", ca ? with_ca() : "",
             ca ? "," : "", tu_json_str(certs.client_pem, c, sizeof(c)),
             tu_json_str(certs.client_key, k, sizeof(k)));
    return buf;
}

static const char *with_client_cert(void)
{
    return client_cert_args(true);
}

static void test_client_certificate_tls12(void **state)
{
    (void)state;
    char ca[256];
    const char *args[] = {"-www", "-tls1_2", "-Verify", "1", "-CAfile",
                          tu_path(&certs, "ca.pem", ca), NULL};
    struct tu_proc peer;
    tu_s_server(&peer, &certs, "localhost", args);
    expect_refused("localhost", peer.port, with_ca(), "client certificate required");
    expect_https_works("localhost", peer.port, with_client_cert());
    /* A client certificate without ca: the system's CAs check the server, and none of
     * them signed the test CA. */
    expect_refused("localhost", peer.port, client_cert_args(false),
                   "certificate signed by an unknown authority.");
    tu_proc_stop(&peer);
}

static void test_client_certificate_tls13(void **state)
{
    (void)state;
    char ca[256];
    const char *args[] = {"-www", "-Verify", "1", "-CAfile", tu_path(&certs, "ca.pem", ca), NULL};
    struct tu_proc peer;
    tu_s_server(&peer, &certs, "localhost", args);
    char id[64];
    hx_socket(&server, NULL, id);
    struct hx_response r;
    /* TLS 1.3 ends the client's handshake before the server judges it: the refusal comes
     * as an alert, which the next read reports, in the same words. */
    tls_connect(id, "localhost", peer.port, with_ca(), &r);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    hx_cmd(&server, id, "recv", "{\"n\":10,\"timeout\":5}", &r);
    cu_expect_err(&r, 200, "recv", "TLS");
    assert_non_null(strstr(hx_elem(&r, 1), "client certificate required"));
    hx_response_free(&r);
    cu_ok(&server, id, "close", NULL);
    expect_https_works("localhost", peer.port, with_client_cert());
    tu_proc_stop(&peer);
}

static void test_peer_that_does_not_speak_tls(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&server, NULL, id);
    /* The answer comes once the peer has read the ClientHello and replied in plaintext. */
    char path[128], body[128];
    snprintf(path, sizeof(path), "/sockets/%s/connect", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"localhost\",\"port\":%u,\"tls\":true}", port);
    int fd = hx_send_only(&server, "POST", path, body);
    int peer = hx_accept(lfd);
    char hello[5];
    hx_read_exact(peer, hello, sizeof(hello));
    assert_int_equal(hello[0], 0x16); /* a TLS handshake record */
    hx_write_all(peer, "500 what?\r\n", 11);
    struct hx_response r;
    hx_read_response(fd, 5000, &r);
    close(fd);
    expect_tls_failure(id, &r, "handshake failure: the peer does not speak TLS here.");
    hx_response_free(&r);
    close(peer);
    close(lfd);
}

static void test_handshake_has_its_own_deadline(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&server, NULL, id);
    long long start = hx_now_ms();
    struct hx_response r;
    /* The peer accepts (in the kernel's backlog) and never answers the ClientHello. */
    cu_cmdf(&server, id, "connect", &r, "{\"socketname\":\"127.0.0.1\",\"port\":%u,"
            "\"tls\":true,\"verify\":false,\"timeout\":20}", port);
    long long took = hx_now_ms() - start;
    expect_tls_failure(id, &r, "handshake failure: the server did not finish the handshake "
                               "within 1 s.");
    hx_response_free(&r);
    /* --tls-handshake-timeout 1, not the 20 s of the connect. */
    assert_true(took < 10000);
    close(lfd);
}

static void test_bad_tls_arguments(void **state)
{
    (void)state;
    char id[64], body[9000], json[7000];
    hx_socket(&server, NULL, id);
    struct hx_response r;
    cu_cmdf(&server, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":1,"
            "\"servername\":\"x\"}");
    cu_expect_err(&r, 400, "connect", "INVAL");
    hx_response_free(&r);
    cu_cmdf(&server, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":1,"
            "\"tls\":\"maybe\"}");
    cu_expect_err(&r, 400, "connect", "INVAL");
    hx_response_free(&r);
    snprintf(body, sizeof(body), "{\"socketname\":\"localhost\",\"port\":1,\"tls\":true,"
             "\"cert\":%s}", tu_json_str(certs.client_pem, json, sizeof(json)));
    hx_cmd(&server, id, "connect", body, &r);
    cu_expect_err(&r, 400, "connect", "INVAL");
    hx_response_free(&r);
    /* Not PEM: told before any connection is tried (port 1 would refuse). */
    cu_cmdf(&server, id, "connect", &r, "{\"socketname\":\"localhost\",\"port\":1,"
            "\"tls\":true,\"ca\":\"not a certificate\"}");
    cu_expect_err(&r, 400, "connect", "INVAL");
    assert_non_null(strstr(hx_elem(&r, 1), "ca holds no PEM certificate"));
    hx_response_free(&r);
    char dg[64];
    hx_socket(&server, "[\"DGRAM\"]", dg);
    cu_cmdf(&server, dg, "connect", &r, "{\"socketname\":\"localhost\",\"port\":1,\"tls\":true}");
    cu_expect_err(&r, 400, "connect", "INVAL");
    hx_response_free(&r);
    cu_ok(&server, dg, "close", NULL);
    cu_ok(&server, id, "close", NULL);
    cu_healthz(&server);
}

static void test_rejected_client_certificate(void **state)
{
    (void)state;
    /* A client certificate the server's CA never signed: self-signed, made here. */
    char cmd[1024], ca[256], pem[256], key[256];
    snprintf(cmd, sizeof(cmd), "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout "
             "rogue.key -out rogue.pem -days 2 -subj /CN=rogue >/dev/null 2>&1", certs.dir);
    assert_int_equal(system(cmd), 0);
    const char *args[] = {"-www", "-tls1_2", "-Verify", "1", "-CAfile",
                          tu_path(&certs, "ca.pem", ca), NULL};
    struct tu_proc peer;
    tu_s_server(&peer, &certs, "localhost", args);
    FILE *f = fopen(tu_path(&certs, "rogue.pem", pem), "r");
    FILE *k = fopen(tu_path(&certs, "rogue.key", key), "r");
    assert_true(f && k);
    char p[4096] = "", kk[4096] = "";
    assert_true(fread(p, 1, sizeof(p) - 1, f) > 0 && fread(kk, 1, sizeof(kk) - 1, k) > 0);
    fclose(f);
    fclose(k);
    static char extra[20000];
    char jp[6000], jk[6000];
    snprintf(extra, sizeof(extra), "%s,\"cert\":%s,\"key\":%s", with_ca(),
             tu_json_str(p, jp, sizeof(jp)), tu_json_str(kk, jk, sizeof(jk)));
    expect_refused("localhost", peer.port, extra, "the server rejected the client certificate");
    tu_proc_stop(&peer);
}

/* Sends a TLS connect of socket `id` to the listener lfd (on port) without waiting for its
 * answer, accepts it there (*peer) and reads the start of the ClientHello: the handshake
 * has begun and waits for a peer that will say nothing. Returns the request's connection. */
static int connect_to_silent_peer(const struct hx_server *srv, const char *id, int lfd,
                                  uint16_t port, int *peer)
{
    char path[128], body[160];
    snprintf(path, sizeof(path), "/sockets/%s/connect", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"localhost\",\"port\":%u,\"tls\":true,"
             "\"verify\":false}", port);
    int fd = hx_send_only(srv, "POST", path, body);
    *peer = hx_accept(lfd);
    char hello[5];
    hx_read_exact(*peer, hello, sizeof(hello));
    return fd;
}

/* A handshake that hangs holds no one else up: while one connect waits for a ServerHello
 * that does not come, a second socket makes a whole HTTPS exchange through the same loop,
 * and the stuck socket is seen in its handshake. Its own server, so that the handshake
 * deadline (10 s by default) cannot end the stuck handshake while the other runs. */
static void test_hanging_handshake_blocks_no_one(void **state)
{
    (void)state;
    struct hx_server own;
    hx_start(&own, NULL);
    struct tu_proc peer;
    const char *www[] = {"-www", NULL};
    tu_s_server(&peer, &certs, "localhost", www);
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char stuck[64], other[64];
    hx_socket(&own, NULL, stuck);
    int silent;
    int fd = connect_to_silent_peer(&own, stuck, lfd, port, &silent);
    hx_socket(&own, NULL, other);
    struct hx_response r;
    cu_cmdf(&own, other, "connect", &r, "{\"socketname\":\"localhost\",\"port\":%u,"
            "\"tls\":true,%s}", peer.port, with_ca());
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    expect_http_answer_on(&own, other);
    cu_reqf(&own, "GET", NULL, &r, "/sockets/%s", stuck);
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(r.json, "tls");
    assert_true(cJSON_IsString(tls));
    assert_string_equal(tls->valuestring, "handshake");
    hx_response_free(&r);
    /* The silent peer goes: the stuck connect answers, as a failed handshake. */
    close(silent);
    hx_read_response(fd, 10000, &r);
    cu_expect_err(&r, 200, "connect", "TLS");
    hx_response_free(&r);
    close(fd);
    close(lfd);
    tu_proc_stop(&peer);
    assert_int_equal(hx_stop(&own), 0);
}

static void test_request_gone_during_handshake(void **state)
{
    (void)state;
    /* The peer accepts and never answers; the request that started the handshake leaves:
     * the wait is withdrawn and the socket stays, its TLS failed with a reason. */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64];
    hx_socket(&server, NULL, id);
    int peer;
    close(connect_to_silent_peer(&server, id, lfd, port, &peer));
    struct hx_response r;
    for (int i = 0; i < 100; i++) {
        usleep(20000);
        cu_reqf(&server, "GET", NULL, &r, "/sockets/%s", id);
        const cJSON *tls = cJSON_GetObjectItemCaseSensitive(r.json, "tls");
        bool failed = cJSON_IsString(tls) && strcmp(tls->valuestring, "failed") == 0;
        hx_response_free(&r);
        if (failed)
            break;
    }
    expect_tls_state(id, "failed");
    hx_cmd(&server, id, "recv", "[10]", &r);
    cu_expect_err(&r, 200, "recv", "TLS");
    assert_non_null(strstr(hx_elem(&r, 1), "went away"));
    hx_response_free(&r);
    cu_ok(&server, id, "close", NULL);
    close(peer);
    close(lfd);
}

static void test_close_sends_close_notify(void **state)
{
    (void)state;
    /* The peer is a GnuTLS server session in this test: it can tell close_notify (a read
     * of 0) from a connection that merely ended (GNUTLS_E_PREMATURE_TERMINATION). */
    uint16_t port;
    int lfd = hx_tcp_listener(false, &port);
    char id[64], path[128], body[160];
    hx_socket(&server, NULL, id);
    snprintf(path, sizeof(path), "/sockets/%s/connect", id);
    snprintf(body, sizeof(body), "{\"socketname\":\"localhost\",\"port\":%u,\"tls\":true,"
             "\"verify\":false}", port);
    int fd = hx_send_only(&server, "POST", path, body);
    int peer = hx_accept(lfd);
    gnutls_certificate_credentials_t cred;
    gnutls_session_t session;
    char cert[256], key[256];
    assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
    assert_int_equal(gnutls_certificate_set_x509_key_file(cred, tu_path(&certs, "localhost.pem",
                     cert), tu_path(&certs, "localhost.key", key), GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_init(&session, GNUTLS_SERVER), 0);
    gnutls_set_default_priority(session);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_transport_set_int(session, peer);
    gnutls_record_set_timeout(session, 5000);
    gnutls_handshake_set_timeout(session, 5000);
    int rc;
    do
        rc = gnutls_handshake(session);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    assert_int_equal(rc, 0);
    struct hx_response r;
    hx_read_response(fd, 5000, &r);
    close(fd);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    cu_ok(&server, id, "send", "[\"bye soon\"]");
    char buf[32];
    assert_int_equal(gnutls_record_recv(session, buf, sizeof(buf)), 8);
    cu_ok(&server, id, "close", NULL);
    assert_int_equal(gnutls_record_recv(session, buf, sizeof(buf)), 0); /* close_notify */
    gnutls_deinit(session);
    gnutls_certificate_free_credentials(cred);
    close(peer);
    close(lfd);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_exchange_counts_plaintext),
        cmocka_unit_test(test_unknown_authority),
        cmocka_unit_test(test_name_mismatch_and_servername),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_valid_yet),
        cmocka_unit_test(test_sni_picks_the_certificate),
        cmocka_unit_test(test_client_certificate_tls12),
        cmocka_unit_test(test_client_certificate_tls13),
        cmocka_unit_test(test_peer_that_does_not_speak_tls),
        cmocka_unit_test(test_handshake_has_its_own_deadline),
        cmocka_unit_test(test_bad_tls_arguments),
        cmocka_unit_test(test_rejected_client_certificate),
        cmocka_unit_test(test_hanging_handshake_blocks_no_one),
        cmocka_unit_test(test_request_gone_during_handshake),
        cmocka_unit_test(test_close_sends_close_notify),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
