/*
 * Unit tests of server/services.c, the service-name table read once at start in place of
 * getservbyname on the loop: names and aliases per protocol, comments, malformed lines,
 * the cap on entries, and the machine's own /etc/services agreeing with getservbyname.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "services.h"

static int port_of(const char *name, int socktype)
{
    uint16_t port;
    return services_port(name, strlen(name), socktype, &port) == 0 ? port : -1;
}

static void test_names_aliases_and_protocols(void **state)
{
    (void)state;
    static const char text[] =
        "# comment line\n"
        "\n"
        "http\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\n"
        "domain\t\t53/tcp\n"
        "domain\t\t53/udp\n"
        "syslog\t\t514/udp\n"
        "kerberos\t88/tcp\t\tkerberos5 krb5 kerberos-sec\n"
        "broken\t\t80\n"
        "bad-port\t70000/tcp\n"
        "bad-proto\t12/sctp\n"
        "   indented   7/tcp   echo-alias  \n"
        "last\t9999/udp";
    assert_int_equal(services_parse(text, strlen(text)), 12); /* names and aliases */
    assert_int_equal(port_of("http", SOCK_STREAM), 80);
    assert_int_equal(port_of("www", SOCK_STREAM), 80);
    assert_int_equal(port_of("http", SOCK_DGRAM), -1);
    assert_int_equal(port_of("domain", SOCK_DGRAM), 53);
    assert_int_equal(port_of("syslog", SOCK_DGRAM), 514);
    assert_int_equal(port_of("syslog", SOCK_STREAM), -1);
    assert_int_equal(port_of("krb5", SOCK_STREAM), 88);
    assert_int_equal(port_of("kerberos-sec", SOCK_STREAM), 88);
    assert_int_equal(port_of("indented", SOCK_STREAM), 7);
    assert_int_equal(port_of("echo-alias", SOCK_STREAM), 7);
    assert_int_equal(port_of("last", SOCK_DGRAM), 9999);
    /* Exact names only, as getservbyname: no case folding, no prefixes, no comments. */
    assert_int_equal(port_of("HTTP", SOCK_STREAM), -1);
    assert_int_equal(port_of("htt", SOCK_STREAM), -1);
    assert_int_equal(port_of("https", SOCK_STREAM), -1);
    assert_int_equal(port_of("WorldWideWeb", SOCK_STREAM), -1);
    assert_int_equal(port_of("broken", SOCK_STREAM), -1);
    assert_int_equal(port_of("bad-port", SOCK_STREAM), -1);
    assert_int_equal(port_of("bad-proto", SOCK_STREAM), -1);
    /* A name given with its length, not NUL-terminated. */
    uint16_t port;
    assert_int_equal(services_port("httpXYZ", 4, SOCK_STREAM, &port), 0);
    assert_int_equal(port, 80);
    services_free();
    assert_int_equal(port_of("http", SOCK_STREAM), -1);
}

static void test_entries_are_capped(void **state)
{
    (void)state;
    size_t lines = SERVICES_MAX + 100;
    char *text = malloc(lines * 24);
    assert_non_null(text);
    size_t len = 0;
    for (size_t i = 0; i < lines; i++)
        len += (size_t)sprintf(text + len, "svc%zu %zu/tcp\n", i, i % 65536);
    assert_int_equal(services_parse(text, len), SERVICES_MAX);
    assert_int_equal(port_of("svc0", SOCK_STREAM), 0);
    assert_int_equal(port_of("svc8191", SOCK_STREAM), 8191);
    assert_int_equal(port_of("svc8192", SOCK_STREAM), -1);
    free(text);
    services_free();
}

/* The machine's own file says what getservbyname says (when the machine has one). */
static void test_system_file_agrees_with_getservbyname(void **state)
{
    (void)state;
    int n = services_load(SERVICES_PATH);
    assert_true(n >= 0);
    if (n == 0) {
        print_message("no %s here: nothing to compare\n", SERVICES_PATH);
        return;
    }
    const char *names[] = {"http", "https", "ssh", "smtp", "domain", "ntp", "imap2", "ldap"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (int udp = 0; udp < 2; udp++) {
            struct servent *se = getservbyname(names[i], udp ? "udp" : "tcp");
            int want = se ? ntohs((uint16_t)se->s_port) : -1;
            assert_int_equal(port_of(names[i], udp ? SOCK_DGRAM : SOCK_STREAM), want);
        }
    }
    services_free();
    assert_int_equal(services_load("/nonexistent/services"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_aliases_and_protocols),
        cmocka_unit_test(test_entries_are_capped),
        cmocka_unit_test(test_system_file_agrees_with_getservbyname),
    };
    return cmocka_run_group_tests_name("services", tests, NULL, NULL);
}
