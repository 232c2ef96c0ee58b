/*
 * SPEC §3 argument forms and §4 encodings through the real server: named, positional
 * and query arguments give the same answers; command names are case-insensitive; ports
 * are numbers, numeric strings or service names; base64 and hex switch both directions;
 * every byte value round-trips through send and recv in ascii~hex.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "cmd_util.h"

CU_SERVER_GROUP(srv)

/* Runs cmd with a body or a query string; returns the whole answer body (malloc'd). */
static char *answer_of(const char *id, const char *cmd, const char *query, const char *body,
                       int status)
{
    struct hx_response r;
    cu_reqf(&srv, "POST", body, &r, "/sockets/%s/%s%s", id, cmd, query ? query : "");
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    char *copy = strdup(r.body);
    hx_response_free(&r);
    return copy;
}

static void test_bind_forms(void **state)
{
    (void)state;
    static const struct {
        const char *query, *body;
    } forms[] = {
        {NULL, "{\"localhost\":\"localhost\",\"port\":0}"},
        {NULL, "[\"localhost\",0]"},
        {"?localhost=localhost&port=0", NULL},
        {NULL, "{\"port\":\"0\"}"}, /* localhost is the default */
        {"?port=0", NULL},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char id[64], addr[64];
        unsigned port;
        hx_socket(&srv, NULL, id);
        char *a = answer_of(id, "bind", forms[i].query, forms[i].body, 200);
        assert_string_equal(a, "[\"bind\",\"ok\"]");
        free(a);
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_string_equal(addr, "127.0.0.1");
        assert_true(port > 0);
        cu_ok(&srv, id, "close", NULL);
    }
    /* A chosen port, in each form: getsockname tells the same port. */
    for (int form = 0; form < 3; form++) {
        char id[64], addr[64], query[80], body[80];
        unsigned port, want = hx_free_port();
        hx_socket(&srv, NULL, id);
        snprintf(query, sizeof(query), "?localhost=127.0.0.1&port=%u", want);
        snprintf(body, sizeof(body), form == 0 ? "{\"localhost\":\"127.0.0.1\",\"port\":%u}"
                                               : "[\"127.0.0.1\",\"%u\"]", want);
        char *a = answer_of(id, "bind", form == 2 ? query : NULL, form == 2 ? NULL : body, 200);
        assert_string_equal(a, "[\"bind\",\"ok\"]");
        free(a);
        cu_name(&srv, id, false, addr, sizeof(addr), &port);
        assert_int_equal(port, want);
        cu_ok(&srv, id, "close", NULL);
    }
    cu_healthz(&srv);
}

static void test_connect_send_recv_forms(void **state)
{
    (void)state;
    char *answers[3][3];
    for (int form = 0; form < 3; form++) {
        uint16_t port;
        int lfd = hx_tcp_listener(false, &port);
        char id[64], body[96], query[96];
        hx_socket(&srv, NULL, id);
        if (form == 0)
            snprintf(body, sizeof(body), "{\"socketname\":\"127.0.0.1\",\"port\":%u}", port);
        else
            snprintf(body, sizeof(body), "[\"127.0.0.1\",\"%u\"]", port);
        snprintf(query, sizeof(query), "?socketname=127.0.0.1&port=%u", port);
        answers[form][0] = answer_of(id, "connect", form == 2 ? query : NULL,
                                     form == 2 ? NULL : body, 200);
        int peer = hx_accept(lfd);

        static const char *const sbody[] = {"{\"stream\":\"a b~0A\"}", "[\"a b~0A\"]", NULL};
        answers[form][1] = answer_of(id, "send", form == 2 ? "?stream=a%20b%7E0A" : NULL,
                                     sbody[form], 200);
        char got[4];
        hx_read_exact(peer, got, 4);
        assert_memory_equal(got, "a b\n", 4);

        hx_write_all(peer, "z\r\n", 3);
        cu_wait_fionread(&srv, id, 3);
        static const char *const rbody[] = {"{\"n\":100}", "[100]", NULL};
        answers[form][2] = answer_of(id, "recv", form == 2 ? "?n=100" : NULL, rbody[form], 200);
        cu_ok(&srv, id, "close", NULL);
        close(peer);
        close(lfd);
    }
    assert_string_equal(answers[0][0], "[\"connect\",\"ok\"]");
    assert_string_equal(answers[0][1], "[\"send\",\"ok\",\"\"]");
    assert_string_equal(answers[0][2], "[\"recv\",\"ok\",\"z~0D~0A\"]");
    for (int form = 1; form < 3; form++)
        for (int c = 0; c < 3; c++)
            assert_string_equal(answers[form][c], answers[0][c]);
    for (int form = 0; form < 3; form++)
        for (int c = 0; c < 3; c++)
            free(answers[form][c]);
}

static void test_command_names_case_insensitive(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    static const char *const spellings[] = {"getpeername", "getPeerName", "GetPeerName",
                                            "GETPEERNAME"};
    char *first = NULL;
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        struct hx_response r;
        hx_cmd(&srv, id, spellings[i], NULL, &r);
        hx_expect(&r, 200, "getpeername", "ok");
        if (!first)
            first = strdup(r.body);
        assert_string_equal(r.body, first);
        hx_response_free(&r);
        cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/%s", id, spellings[i]);
        hx_expect(&r, 200, "getpeername", "ok");
        assert_string_equal(r.body, first);
        hx_response_free(&r);
    }
    free(first);
    struct hx_response r;
    cu_reqf(&srv, "GET", NULL, &r, "/sockets/%s/GetSockName", id);
    hx_expect(&r, 200, "getsockname", "ok");
    hx_response_free(&r);
    hx_cmd(&srv, id, "Send", "[\"hi\"]", &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    char got[2];
    hx_read_exact(peer, got, 2);
    hx_write_all(peer, "yo", 2);
    cu_wait_fionread(&srv, id, 2);
    hx_cmd(&srv, id, "RECV", "[10]", &r);
    hx_expect(&r, 200, "recv", "ok");
    assert_string_equal(hx_elem(&r, 2), "yo");
    hx_response_free(&r);
    hx_cmd(&srv, id, "IoCtl", "[\"FIONBIO\",1]", &r);
    hx_expect(&r, 200, "ioctl", "ok");
    hx_response_free(&r);
    hx_cmd(&srv, id, "Close", NULL, &r);
    hx_expect(&r, 200, "close", "ok");
    hx_response_free(&r);
    close(peer);

    /* Listening side: Bind, Listen, AcceptFast. */
    char lid[64], addr[64];
    unsigned port;
    hx_socket(&srv, NULL, lid);
    hx_cmd(&srv, lid, "BIND", "[\"localhost\",0]", &r);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    hx_cmd(&srv, lid, "Listen", NULL, &r);
    hx_expect(&r, 200, "listen", "ok");
    hx_response_free(&r);
    cu_name(&srv, lid, false, addr, sizeof(addr), &port);
    int c = hx_tcp_connect(false, (uint16_t)port);
    assert_true(c >= 0);
    hx_cmd(&srv, lid, "AcceptFast", "[null,3]", &r);
    hx_expect(&r, 200, "acceptfast", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    cu_ok(&srv, lid, "close", NULL);
    close(c);
}

/* A well-known service whose port (>= 1024, so bind may use it) is free here. */
static const char *free_service(unsigned *port)
{
    static const struct {
        const char *name;
        unsigned port;
    } services[] = {{"postgresql", 5432}, {"mysql", 3306}, {"redis", 6379}};
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(services[i].port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok) {
            *port = services[i].port;
            return services[i].name;
        }
    }
    return NULL;
}

static void test_port_forms(void **state)
{
    (void)state;
    /* connect: a number, a numeric string, a whole float, each named and positional. */
    static const char *const fmts[] = {
        "{\"socketname\":\"localhost\",\"port\":%u}", "{\"socketname\":\"localhost\",\"port\":\"%u\"}",
        "[\"localhost\",%u]", "[\"localhost\",\"%u\"]", "[\"localhost\",%u.0]",
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        uint16_t port;
        int lfd = hx_tcp_listener(false, &port);
        char id[64], body[96], num[8];
        hx_socket(&srv, NULL, id);
        snprintf(num, sizeof(num), "%u", port);
        const char *at = strstr(fmts[i], "%u");
        snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - fmts[i]), fmts[i], num, at + 2);
        struct hx_response r;
        hx_cmd(&srv, id, "connect", body, &r);
        hx_expect(&r, 200, "connect", "ok");
        hx_response_free(&r);
        int peer = hx_accept(lfd);
        cu_ok(&srv, id, "close", NULL);
        close(peer);
        close(lfd);
    }

    /* A service name, for bind and for connect. */
    unsigned sport;
    const char *service = free_service(&sport);
    if (!service) {
        print_message("no well-known service port is free here; service names not tested\n");
        return;
    }
    char lid[64], cid[64], addr[64];
    unsigned port;
    hx_socket(&srv, NULL, lid);
    struct hx_response r;
    cu_cmdf(&srv, lid, "bind", &r, "{\"localhost\":\"localhost\",\"port\":\"%s\"}", service);
    hx_expect(&r, 200, "bind", "ok");
    hx_response_free(&r);
    cu_name(&srv, lid, false, addr, sizeof(addr), &port);
    assert_int_equal(port, sport);
    cu_ok(&srv, lid, "listen", NULL);
    hx_socket(&srv, NULL, cid);
    cu_cmdf(&srv, cid, "connect", &r, "[\"localhost\",\"%s\"]", service);
    hx_expect(&r, 200, "connect", "ok");
    hx_response_free(&r);
    cu_name(&srv, cid, true, addr, sizeof(addr), &port);
    assert_int_equal(port, sport);
    hx_cmd(&srv, lid, "acceptfast", "{\"timeout\":3}", &r);
    hx_expect(&r, 200, "acceptfast", "ok");
    char aid[64];
    snprintf(aid, sizeof(aid), "%s", hx_elem(&r, 3));
    hx_response_free(&r);
    cu_ok(&srv, aid, "close", NULL);
    cu_ok(&srv, cid, "close", NULL);
    cu_ok(&srv, lid, "close", NULL);
}

static void test_encodings(void **state)
{
    (void)state;
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    struct hx_response r;
    char got[16];

    /* send: base64 and hex, as an argument and as a query parameter. */
    hx_cmd(&srv, id, "send", "{\"stream\":\"aGVsbG8=\",\"encoding\":\"base64\"}", &r);
    hx_expect(&r, 200, "send", "ok");
    assert_string_equal(hx_elem(&r, 2), "");
    hx_response_free(&r);
    hx_read_exact(peer, got, 5);
    assert_memory_equal(got, "hello", 5);
    hx_cmd(&srv, id, "send", "{\"stream\":\"776F726c64\",\"encoding\":\"hex\"}", &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, 5);
    assert_memory_equal(got, "world", 5);
    cu_reqf(&srv, "POST", "[\"7e21\"]", &r, "/sockets/%s/send?encoding=hex", id);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, 2);
    assert_memory_equal(got, "~!", 2);
    cu_reqf(&srv, "POST", NULL, &r, "/sockets/%s/send?stream=AP8%%3D&encoding=base64", id);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, 2);
    assert_memory_equal(got, "\x00\xff", 2);
    hx_cmd(&srv, id, "send", "{\"stream\":\"~7E\",\"encoding\":\"ascii~hex\"}", &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, 1);
    assert_memory_equal(got, "~", 1);

    /* recv: the answer's data comes back in the encoding asked for. */
    static const struct {
        const char *query, *body, *want;
    } recvs[] = {
        {"", "{\"n\":100,\"encoding\":\"base64\"}", "AP9BQg=="},
        {"?encoding=base64", "[100]", "AP9BQg=="},
        {"", "{\"n\":100,\"encoding\":\"hex\"}", "00ff4142"},
        {"?encoding=hex&n=100", NULL, "00ff4142"},
        {"", "[100]", "~00~FFAB"},
    };
    for (size_t i = 0; i < sizeof(recvs) / sizeof(recvs[0]); i++) {
        hx_write_all(peer, "\x00\xff" "AB", 4);
        cu_wait_fionread(&srv, id, 4);
        cu_reqf(&srv, "POST", recvs[i].body, &r, "/sockets/%s/recv%s", id, recvs[i].query);
        hx_expect(&r, 200, "recv", "ok");
        if (strcasecmp(hx_elem(&r, 2), recvs[i].want) != 0)
            fail_msg("recv %s%s: want %s, got %s", recvs[i].query,
                     recvs[i].body ? recvs[i].body : "", recvs[i].want, r.body);
        hx_response_free(&r);
    }
    cu_ok(&srv, id, "close", NULL);
    close(peer);
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Reads `len` bytes through recv in `enc`, joining answers (encodings of bytes join). */
static void recv_all(const char *id, const char *enc, size_t len, char *joined, size_t cap)
{
    cu_wait_fionread(&srv, id, (unsigned)len);
    joined[0] = '\0';
    struct hx_response r;
    cu_cmdf(&srv, id, "recv", &r, "{\"n\":%zu,\"encoding\":\"%s\"}", len, enc);
    hx_expect(&r, 200, "recv", "ok");
    assert_true(strlen(hx_elem(&r, 2)) < cap);
    snprintf(joined, cap, "%s", hx_elem(&r, 2));
    hx_response_free(&r);
}

static void test_binary_all_bytes(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char enc[3 * 256 + 1], lower[3 * 256 + 1], body[4096], joined[4096];
    cu_asciihex(all, sizeof(all), enc);
    /* lower: only escape digits are lowered ("~0a"), plain letters stay as they are. */
    memcpy(lower, enc, sizeof(lower));
    for (size_t i = 0; enc[i]; i++)
        if (enc[i] == '~') {
            for (int k = 1; k <= 2; k++)
                if (enc[i + k] >= 'A' && enc[i + k] <= 'F')
                    lower[i + k] = (char)(enc[i + k] + 32);
            i += 2;
        }
    char id[64];
    int peer;
    cu_connected_pair(&srv, false, id, &peer);
    uint8_t got[256];
    struct hx_response r;

    /* Gateway to peer: upper- and lower-case escapes decode alike. */
    const char *const forms[] = {enc, lower};
    for (int f = 0; f < 2; f++) {
        snprintf(body, sizeof(body), "[\"%s\"]", forms[f]);
        hx_cmd(&srv, id, "send", body, &r);
        hx_expect(&r, 200, "send", "ok");
        assert_string_equal(hx_elem(&r, 2), "");
        hx_response_free(&r);
        hx_read_exact(peer, got, sizeof(got));
        assert_memory_equal(got, all, sizeof(all));
    }

    /* Peer to gateway: the answer is exactly the canonical encoding. */
    hx_write_all(peer, all, sizeof(all));
    recv_all(id, "ascii~hex", sizeof(all), joined, sizeof(joined));
    assert_string_equal(joined, enc);

    /* The same bytes in base64 and hex, both ways. */
    char b[400], h[520];
    b64(all, sizeof(all), b);
    for (int i = 0; i < 256; i++)
        snprintf(h + 2 * i, 3, "%02x", i);
    snprintf(body, sizeof(body), "{\"stream\":\"%s\",\"encoding\":\"base64\"}", b);
    hx_cmd(&srv, id, "send", body, &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, sizeof(got));
    assert_memory_equal(got, all, sizeof(all));
    snprintf(body, sizeof(body), "{\"stream\":\"%s\",\"encoding\":\"hex\"}", h);
    hx_cmd(&srv, id, "send", body, &r);
    hx_expect(&r, 200, "send", "ok");
    hx_response_free(&r);
    hx_read_exact(peer, got, sizeof(got));
    assert_memory_equal(got, all, sizeof(all));
    hx_write_all(peer, all, sizeof(all));
    recv_all(id, "base64", sizeof(all), joined, sizeof(joined));
    assert_string_equal(joined, b);
    hx_write_all(peer, all, sizeof(all));
    recv_all(id, "hex", sizeof(all), joined, sizeof(joined));
    if (strcasecmp(joined, h) != 0)
        fail_msg("hex answer %s", joined);

    cu_ok(&srv, id, "close", NULL);
    close(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_forms),
        cmocka_unit_test(test_connect_send_recv_forms),
        cmocka_unit_test(test_command_names_case_insensitive),
        cmocka_unit_test(test_port_forms),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_binary_all_bytes),
        cmocka_unit_test(test_clean_exit),
    };
    return cmocka_run_group_tests_name("commands_args", tests, group_setup, group_teardown);
}
