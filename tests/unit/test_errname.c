/*
 * Unit tests of engine/errname.c: the JMP names of errors (SPEC.md section 5), the
 * default texts, and eng_err_format's "NAME: text." form, including truncation into
 * small buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errname.h"

static const struct {
    int code;
    const char *name;
} spec_names[] = {
    {-EAGAIN, "WOULDBLOCK"},
    {-EWOULDBLOCK, "WOULDBLOCK"},
    {ENG_ECLOSED, "CLOSED"},
    {-ETIMEDOUT, "TIMEDOUT"},
    {-ECONNREFUSED, "CONNREFUSED"},
    {-ECONNRESET, "CONNRESET"},
    {-ENETUNREACH, "NETUNREACH"},
    {-EHOSTUNREACH, "HOSTUNREACH"},
    {-EADDRINUSE, "ADDRINUSE"},
    {-EADDRNOTAVAIL, "ADDRNOTAVAIL"},
    {-ENOTCONN, "NOTCONN"},
    {-EISCONN, "ISCONN"},
    {-EMSGSIZE, "MSGSIZE"},
    {-EOPNOTSUPP, "OPNOTSUPP"},
    {ENG_EHOSTNOTFOUND, "HOSTNOTFOUND"},
    {ENG_EINVAL, "INVAL"},
    {-EINVAL, "INVAL"},
    {ENG_ENOTSOCK, "NOTSOCK"},
    {-ENOTSOCK, "NOTSOCK"},
    {ENG_EDENIED, "DENIED"},
    {ENG_EAUTH, "AUTH"},
    {ENG_ELIMIT, "LIMIT"},
    {-EPIPE, "PIPE"},
    {-EACCES, "ACCES"},
    {-ECONNABORTED, "CONNABORTED"},
    {-EINPROGRESS, "INPROGRESS"},
};

static void test_spec_names(void **state)
{
    (void)state;
    char buf[32];
    for (size_t i = 0; i < sizeof(spec_names) / sizeof(spec_names[0]); i++) {
        const char *name = eng_err_name(spec_names[i].code, buf, sizeof(buf));
        assert_non_null(name);
        if (strcmp(name, spec_names[i].name) != 0)
            fail_msg("code %d: expected %s, got %s", spec_names[i].code, spec_names[i].name,
                     name);
    }
}

/* Every name is upper-case letters only, without the leading E of the errno name. */
static void test_names_are_jmp_form(void **state)
{
    (void)state;
    char buf[32];
    for (int err = 1; err < 134; err++) {
        const char *name = eng_err_name(-err, buf, sizeof(buf));
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (const char *p = name; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                fail_msg("errno %d: name '%s' is not upper-case", err, name);
        const char *text = eng_err_text(-err);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        /* The text is joined with a period: it must not bring its own. */
        assert_int_not_equal(text[strlen(text) - 1], '.');
    }
}

static void test_unknown_code_gets_number(void **state)
{
    (void)state;
    char buf[32];
    const char *name = eng_err_name(-9999, buf, sizeof(buf));
    assert_string_equal(name, "ERRNO9999");
    assert_ptr_equal(name, buf);
    name = eng_err_name(-12345678, buf, sizeof(buf));
    assert_string_equal(name, "ERRNO12345678");
    assert_string_equal(eng_err_text(-9999), "unexpected error");
    /* A small buffer truncates the number, never overflows. */
    char small[16];
    memset(small, 'x', sizeof(small));
    name = eng_err_name(-2147483647, small, sizeof(small));
    assert_true(strlen(name) < sizeof(small));
    assert_int_equal(strncmp(name, "ERRNO", 5), 0);
}

/* An errno outside the table is still named as SPEC section 5 says: its name without
 * the E ("ERRNO112" is no name a JMP script can test for). */
static void test_every_errno_has_its_name(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(eng_err_name(-EHOSTDOWN, buf, sizeof(buf)), "HOSTDOWN");
    assert_string_equal(eng_err_name(-ENETRESET, buf, sizeof(buf)), "NETRESET");
    assert_string_equal(eng_err_name(-ESHUTDOWN, buf, sizeof(buf)), "SHUTDOWN");
    assert_string_equal(eng_err_name(-ENOPROTOOPT, buf, sizeof(buf)), "NOPROTOOPT");
    char text[128];
    eng_err_format(text, sizeof(text), -EHOSTDOWN, NULL);
    assert_string_equal(text, "HOSTDOWN: Host is down.");
    for (int err = 1; err < 134; err++) {
        const char *name = eng_err_name(-err, buf, sizeof(buf));
        /* 41 and 58 are unused numbers on Linux: those keep the made-up name. */
        if (strncmp(name, "ERRNO", 5) == 0 && strerrorname_np(err))
            fail_msg("errno %d has no name", err);
    }
}

static void test_known_names_do_not_use_buf(void **state)
{
    (void)state;
    char buf[32] = "untouched";
    assert_string_equal(eng_err_name(-ECONNREFUSED, buf, sizeof(buf)), "CONNREFUSED");
    assert_string_equal(buf, "untouched");
}

static void test_format_default_text(void **state)
{
    (void)state;
    char buf[128];
    size_t n = eng_err_format(buf, sizeof(buf), -ECONNREFUSED, NULL);
    assert_string_equal(buf, "CONNREFUSED: connection refused.");
    assert_int_equal(n, strlen(buf));
    n = eng_err_format(buf, sizeof(buf), -EAGAIN, NULL);
    assert_string_equal(buf, "WOULDBLOCK: the operation would block.");
    assert_int_equal(n, strlen(buf));
    eng_err_format(buf, sizeof(buf), -ETIMEDOUT, NULL);
    assert_string_equal(buf, "TIMEDOUT: the wait ran out.");
    eng_err_format(buf, sizeof(buf), ENG_ECLOSED, NULL);
    assert_string_equal(buf, "CLOSED: the connection is closed.");
    eng_err_format(buf, sizeof(buf), -777, NULL);
    assert_string_equal(buf, "ERRNO777: unexpected error.");
}

static void test_format_detail(void **state)
{
    (void)state;
    char buf[128];
    size_t n = eng_err_format(buf, sizeof(buf), ENG_ECLOSED, "the peer closed the connection");
    assert_string_equal(buf, "CLOSED: the peer closed the connection.");
    assert_int_equal(n, strlen(buf));
    eng_err_format(buf, sizeof(buf), ENG_EINVAL, "bad ascii~hex escape at offset 3");
    assert_string_equal(buf, "INVAL: bad ascii~hex escape at offset 3.");
    /* An empty detail is still the form, with nothing between. */
    eng_err_format(buf, sizeof(buf), ENG_EDENIED, "");
    assert_string_equal(buf, "DENIED: .");
    /* A detail with a percent sign is text, not a format. */
    eng_err_format(buf, sizeof(buf), ENG_ELIMIT, "100%s full %n");
    assert_string_equal(buf, "LIMIT: 100%s full %n.");
}

static void test_format_truncates(void **state)
{
    (void)state;
    const char *full = "CONNREFUSED: connection refused.";
    size_t flen = strlen(full);
    for (size_t cap = 1; cap <= flen + 2; cap++) {
        char buf[64];
        memset(buf, '#', sizeof(buf));
        size_t n = eng_err_format(buf, cap, -ECONNREFUSED, NULL);
        size_t expect = flen < cap ? flen : cap - 1;
        assert_int_equal(n, expect);
        assert_int_equal(strlen(buf), expect);
        assert_memory_equal(buf, full, expect);
        /* Nothing past the buffer is written. */
        assert_int_equal(buf[cap], '#');
    }
    /* A long detail is cut, and the result stays NUL-terminated. */
    char detail[600];
    memset(detail, 'd', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    char buf[256];
    size_t n = eng_err_format(buf, sizeof(buf), ENG_EINVAL, detail);
    assert_int_equal(n, sizeof(buf) - 1);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_int_equal(strncmp(buf, "INVAL: ddd", 10), 0);
}

static void test_format_zero_buffer(void **state)
{
    (void)state;
    char buf[4] = "abc";
    /* No room at all: nothing is written and the length written is 0. */
    size_t n = eng_err_format(buf, 0, -ECONNREFUSED, NULL);
    assert_int_equal(n, 0);
    assert_string_equal(buf, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_names),
        cmocka_unit_test(test_names_are_jmp_form),
        cmocka_unit_test(test_unknown_code_gets_number),
        cmocka_unit_test(test_every_errno_has_its_name),
        cmocka_unit_test(test_known_names_do_not_use_buf),
        cmocka_unit_test(test_format_default_text),
        cmocka_unit_test(test_format_detail),
        cmocka_unit_test(test_format_truncates),
        cmocka_unit_test(test_format_zero_buffer),
    };
    return cmocka_run_group_tests_name("errname", tests, NULL, NULL);
}
