/*
 * starttls through the gateway against a real STARTTLS line server (starttls_server.js,
 * node's tls module): an SMTP-like conversation that turns to TLS midway, background
 * receives whose events carry the decrypted bytes, the STARTTLS injection refused (a
 * plaintext line behind the server's 220 is still unread), verification failure on the
 * upgrade, starttls where it makes no sense, and a peer that answers a ClientHello in
 * plaintext.
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
#include "event_util.h"
#include "harness.h"
#include "tls_util.h"

static struct hx_server server;
static struct tu_certs certs;
static struct tu_proc smtp;

static int group_setup(void **state)
{
    (void)state;
    tu_certs_make(&certs);
    tu_starttls_server(&smtp, &certs);
    const char *args[] = {"--tls-handshake-timeout", "2", NULL};
    hx_start(&server, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_proc_stop(&smtp);
    tu_certs_free(&certs);
    return cu_teardown(&server);
}

/* recv that must answer ok with exactly `want`. */
static void expect_recv(const char *id, const char *body, const char *want)
{
    struct hx_response r;
    hx_cmd(&server, id, "recv", body, &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), want);
    hx_response_free(&r);
}

/* A command that must answer `status` with error `name` whose text holds `text` (NULL:
 * any text). */
static void expect_err(const char *id, const char *cmd, const char *body, int status,
                       const char *name, const char *text)
{
    struct hx_response r;
    hx_cmd(&server, id, cmd, body, &r);
    cu_expect_err(&r, status, cmd, name);
    if (text && !strstr(hx_elem(&r, 1), text))
        fail_msg("%s: want '%s' in %s", cmd, text, hx_elem(&r, 1));
    hx_response_free(&r);
}

/* A socket connected (in plaintext) to the line server, past its banner and EHLO, with
 * `command` sent; returns nothing read of the server's answer to it. */
static void smtp_until(const char *id, const char *command)
{
    struct hx_response r;
    cu_cmdf(&server, id, "connect", &r, "[\"localhost\",%u]", smtp.port);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    expect_recv(id, "{\"n\":35,\"timeout\":5}", "220 localhost ESMTP sockgate test~0D~0A");
    cu_ok(&server, id, "send", "[\"EHLO me~0D~0A\"]");
    cu_wait_fionread(&server, id, 29);
    expect_recv(id, "[100]", "250-localhost~0D~0A250 STARTTLS~0D~0A");
    char body[128];
    snprintf(body, sizeof(body), "[\"%s~0D~0A\"]", command);
    cu_ok(&server, id, "send", body);
}

/* {"ca": the test CA} for starttls. */
static const char *ca_args(void)
{
    static char buf[8192];
    char json[7000];
    snprintf(buf, sizeof(buf), "{\"ca\":%s}", tu_json_str(certs.ca_pem, json, sizeof(json)));
    return buf;
}

static void test_smtp_starttls_conversation(void **state)
{
    (void)state;
    char id[64];
    hx_socket(&server, NULL, id);
    smtp_until(id, "STARTTLS");
    expect_recv(id, "{\"n\":100,\"timeout\":5}", "220 Ready to start TLS~0D~0A");
    /* servername defaults to the name connect was given: localhost. */
    struct hx_response r;
    hx_cmd(&server, id, "starttls", ca_args(), &r);
    hx_expect(&r, 200, "starttls", "ok");
    hx_response_free(&r);
    cu_ok(&server, id, "send", "[\"EHLO me~0D~0A\"]");
    expect_recv(id, "{\"n\":100,\"timeout\":5}", "250 secure TLSv1.3~0D~0A");

    /* Events carry the decrypted bytes too. */
    struct sse_stream es;
    sse_open(&es, server.port, NULL);
    eu_bg(&server, id, "recv", "{\"n\":100,\"callback\":\"onMail\"}");
    cu_ok(&server, id, "send", "[\"ECHO hello over TLS~0D~0A\"]");
    EU_EXPECT_EVENT(&es, "onMail", 4, "recv", "ok", "hello over TLS~0D~0A", id);

    /* One record of 44 bytes read a byte at a time by a repeating receive: after the
     * first, the rest sits decrypted inside GnuTLS, where epoll never sees it, and more
     * than one loop turn's worth of deliveries must still all come. */
    eu_bg(&server, id, "recv", "{\"n\":1,\"callback\":\"onByte\",\"repeat\":true}");
    const char *line = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP\r\n";
    char send[128];
    snprintf(send, sizeof(send), "[\"ECHO %.42s~0D~0A\"]", line);
    cu_ok(&server, id, "send", send);
    for (size_t i = 0; i < strlen(line); i++) {
        char want[4];
        cu_asciihex((const uint8_t *)line + i, 1, want);
        EU_EXPECT_EVENT(&es, "onByte", 4, "recv", "ok", want, id);
    }
    sse_close(&es);
    cu_ok(&server, id, "close", NULL);
    hx_socket(&server, NULL, id);
    smtp_until(id, "STARTTLS");
    expect_recv(id, "{\"n\":100,\"timeout\":5}", "220 Ready to start TLS~0D~0A");
    hx_cmd(&server, id, "starttls", ca_args(), &r);
    hx_expect(&r, 200, "starttls", "ok");
    hx_response_free(&r);

    /* Starting twice is refused; the session goes on. */
    expect_err(id, "starttls", ca_args(), 200, "TLS", "already");
    cu_ok(&server, id, "send", "[\"QUIT~0D~0A\"]");
    expect_recv(id, "{\"n\":100,\"timeout\":5}", "221 bye~0D~0A");
    expect_err(id, "recv", "{\"n\":100,\"timeout\":5}", 200, "CLOSED", NULL);
    cu_ok(&server, id, "close", NULL);
}

static void test_injection_is_refused(void **state)
{
    (void)state;
    char id[64];
    hx_socket(&server, NULL, id);
    smtp_until(id, "STARTTLS INJECT");
    /* The 220 and, right behind it, a plaintext line an attacker slipped in. */
    const char *ready = "220 Ready to start TLS\r\n", *injected = "250 INJECTED\r\n";
    cu_wait_fionread(&server, id, (unsigned)(strlen(ready) + strlen(injected)));
    char body[64];
    snprintf(body, sizeof(body), "[%zu]", strlen(ready));
    expect_recv(id, body, "220 Ready to start TLS~0D~0A");
    expect_err(id, "starttls", ca_args(), 200, "TLS", "14 received bytes are still unread");
    /* Nothing was read or sent for it: the plaintext is still there, for a person to see. */
    expect_recv(id, "[100]", "250 INJECTED~0D~0A");
    struct hx_response info;
    cu_reqf(&server, "GET", NULL, &info, "/sockets/%s", id);
    assert_null(cJSON_GetObjectItemCaseSensitive(info.json, "tls"));
    hx_response_free(&info);
    cu_ok(&server, id, "close", NULL);
}

static void test_upgrade_with_an_untrusted_certificate(void **state)
{
    (void)state;
    char id[64];
    hx_socket(&server, NULL, id);
    smtp_until(id, "STARTTLS");
    expect_recv(id, "{\"n\":100,\"timeout\":5}", "220 Ready to start TLS~0D~0A");
    expect_err(id, "starttls", NULL, 200, "TLS", "TLS: certificate signed by an unknown authority.");
    expect_err(id, "send", "[\"EHLO me~0D~0A\"]", 200, "TLS", NULL);
    cu_ok(&server, id, "close", NULL);
}

static void test_starttls_where_it_cannot_run(void **state)
{
    (void)state;
    char id[64];
    hx_socket(&server, NULL, id);
    expect_err(id, "starttls", NULL, 200, "NOTCONN", NULL);
    expect_err(id, "starttls", "{\"tls\":true}", 400, "INVAL", NULL);
    char dg[64];
    hx_socket(&server, "[\"DGRAM\"]", dg);
    expect_err(dg, "starttls", NULL, 400, "INVAL", NULL);
    cu_ok(&server, dg, "close", NULL);
    cu_ok(&server, id, "close", NULL);
}

static void test_peer_answers_in_plaintext(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&server, false, id, &peer);
    char path[128];
    snprintf(path, sizeof(path), "/sockets/%s/starttls", id);
    int fd = hx_send_only(&server, "POST", path, "{\"verify\":false}");
    char hello[5];
    hx_read_exact(peer, hello, sizeof(hello));
    assert_int_equal(hello[0], 0x16);
    hx_write_all(peer, "454 TLS not available\r\n", 23);
    struct hx_response r;
    hx_read_response(fd, 5000, &r);
    close(fd);
    cu_expect_err(&r, 200, "starttls", "TLS");
    assert_string_equal(hx_elem(&r, 1), "TLS: handshake failure: the peer does not speak TLS here.");
    hx_response_free(&r);
    cu_ok(&server, id, "close", NULL);
    close(peer);
}

static void test_clean_exit(void **state)
{
    (void)state;
    cu_test_clean_exit(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_starttls_conversation),
        cmocka_unit_test(test_injection_is_refused),
        cmocka_unit_test(test_upgrade_with_an_untrusted_certificate),
        cmocka_unit_test(test_starttls_where_it_cannot_run),
        cmocka_unit_test(test_peer_answers_in_plaintext),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
