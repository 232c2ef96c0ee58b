/*
 * Unit tests of server/args.c, the argument forms of SPEC.md section 3: for every
 * command, a JSON object of named arguments, a JSON array in JSL's positional order and
 * query parameters give the same request; defaults; every rejection with its HTTP status,
 * error code and text; and args_parse_socket for POST /sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "services.h"

#define MAX_RECV 1000000

static const struct args_limits limits = {.max_recv = MAX_RECV};

/* Splits "a=1&b&c=x" in place into kv pairs (no URL decoding: the HTTP layer does it). */
static size_t split_query(char *q, struct args_kv *kv, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *tok = q ? strtok_r(q, "&", &save) : NULL; tok && n < max;
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        kv[n++] = (struct args_kv){.key = tok, .value = eq ? eq + 1 : NULL};
    }
    return n;
}

/* Parses the arguments of cmd given as body (may be NULL) and query (may be NULL). */
static int parse(enum eng_cmd cmd, const char *body, const char *query, struct args_result *out)
{
    char qbuf[512] = "";
    struct args_kv kv[16];
    if (query)
        snprintf(qbuf, sizeof(qbuf), "%s", query);
    size_t nkv = split_query(query ? qbuf : NULL, kv, 16);
    return args_parse(cmd, body, body ? strlen(body) : 0, kv, nkv, &limits, out);
}

/* The last results of each form, freed when the slot is parsed into again and by the
 * group's teardown, so that the tests need no free calls of their own. */
static struct args_result R[3];

static int free_results(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        args_result_free(&R[i]);
    return 0;
}

/* Parses into R[slot] and fails the test when the request is rejected. */
static struct args_result *ok_in(int slot, enum eng_cmd cmd, const char *body, const char *query)
{
    struct args_result *out = &R[slot];
    args_result_free(out);
    if (parse(cmd, body, query, out) != 0)
        fail_msg("%s body=%s query=%s: rejected %d: %s", eng_cmd_name(cmd), body ? body : "-",
                 query ? query : "-", out->status, out->err);
    assert_int_equal(out->status, 0);
    assert_int_equal(out->req.cmd, cmd);
    return out;
}

static struct args_result *ok(enum eng_cmd cmd, const char *body, const char *query)
{
    return ok_in(0, cmd, body, query);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void expect_same(const struct args_result *a, const struct args_result *b, const char *what)
{
    const struct eng_request *x = &a->req, *y = &b->req;
    if (x->cmd != y->cmd || !str_eq(x->host, y->host) || x->port != y->port ||
        x->has_port != y->has_port || x->backlog != y->backlog || x->n != y->n ||
        x->data_len != y->data_len || (x->data_len && memcmp(x->data, y->data, x->data_len)) ||
        x->timeout != y->timeout || x->ioctl_op != y->ioctl_op ||
        x->ioctl_value != y->ioctl_value || x->background != y->background ||
        x->repeat != y->repeat || !str_eq(a->callback, b->callback) || a->enc != b->enc)
        fail_msg("%s: the forms disagree", what);
}

/* One request in its three forms, which must parse to the same thing; returns the
 * first. A NULL positional form is skipped. */
static const struct args_result *forms(enum eng_cmd cmd, const char *named,
                                       const char *positional, const char *query)
{
    ok_in(0, cmd, named, NULL);
    ok_in(2, cmd, NULL, query);
    expect_same(&R[0], &R[2], query);
    if (positional) {
        ok_in(1, cmd, positional, NULL);
        expect_same(&R[0], &R[1], positional);
    }
    return &R[0];
}

static void test_bind_forms(void **state)
{
    (void)state;
    const struct args_result *r =
        forms(ENG_CMD_BIND, "{\"localhost\":\"127.0.0.1\",\"port\":8080}",
              "[\"127.0.0.1\",\"8080\"]", "localhost=127.0.0.1&port=8080");
    assert_string_equal(r->req.host, "127.0.0.1");
    assert_int_equal(r->req.port, 8080);
    assert_true(r->req.has_port);
    assert_false(r->req.background);
    assert_true(r->req.timeout < 0);
    /* The local name defaults to localhost. */
    r = ok(ENG_CMD_BIND, "{\"port\":0}", NULL);
    assert_string_equal(r->req.host, "localhost");
    assert_int_equal(r->req.port, 0);
}

static void test_listen_forms(void **state)
{
    (void)state;
    assert_int_equal(forms(ENG_CMD_LISTEN, "{\"backlog\":5}", "[5]", "backlog=5")->req.backlog, 5);
    /* No backlog: the default, as no body, an empty list or an empty object. */
    const char *none[] = {NULL, "", "  \r\n", "[]", "{}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        assert_true(ok(ENG_CMD_LISTEN, none[i], NULL)->req.backlog < 0);
}

static void test_accept_forms(void **state)
{
    (void)state;
    for (int c = 0; c < 2; c++) {
        enum eng_cmd cmd = c ? ENG_CMD_ACCEPTFAST : ENG_CMD_ACCEPT;
        const struct args_result *r =
            forms(cmd, "{\"callback\":\"onAccept\",\"timeout\":2.5}", "[\"onAccept\",\"2.5\"]",
                  "callback=onAccept&timeout=2.5");
        assert_true(r->req.background);
        assert_string_equal(r->callback, "onAccept");
        assert_true(r->req.timeout == 2.5);
        assert_false(r->req.repeat);
        /* Without a callback it is a blocking accept with no timeout of its own. */
        r = ok(cmd, NULL, NULL);
        assert_false(r->req.background);
        assert_null(r->callback);
        assert_true(r->req.timeout < 0);
        /* A null callback is no callback; the timeout still counts. */
        r = ok(cmd, "[null, 0.25]", NULL);
        assert_false(r->req.background);
        assert_true(r->req.timeout == 0.25);
    }
}

static void test_connect_forms(void **state)
{
    (void)state;
    const struct args_result *r =
        forms(ENG_CMD_CONNECT, "{\"socketname\":\"localhost\",\"port\":6379}",
              "[\"localhost\",\"6379\"]", "socketname=localhost&port=6379");
    assert_string_equal(r->req.host, "localhost");
    assert_int_equal(r->req.port, 6379);
    /* connect waits too, so it takes a timeout by name. */
    r = ok(ENG_CMD_CONNECT, "{\"socketname\":\"::1\",\"port\":1,\"timeout\":3}", NULL);
    assert_true(r->req.timeout == 3);
}

static void test_port_forms(void **state)
{
    (void)state;
    const struct {
        const char *body;
        uint16_t port;
    } good[] = {
        {"[\"h\",0]", 0}, {"[\"h\",65535]", 65535}, {"[\"h\",\"65535\"]", 65535},
        {"[\"h\",80.0]", 80}, {"[\"h\",\"http\"]", 80}, {"[\"h\",\"https\"]", 443},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ok(ENG_CMD_CONNECT, good[i].body, NULL)->req.port, good[i].port);
    assert_int_equal(ok(ENG_CMD_CONNECT, NULL, "socketname=h&port=http")->req.port, 80);
}

static void test_send_forms(void **state)
{
    (void)state;
    const struct args_result *r = forms(ENG_CMD_SEND, "{\"stream\":\"PING~0d~0A\"}",
                                        "[\"PING~0d~0A\"]", "stream=PING~0d~0A");
    assert_int_equal(r->req.data_len, 6);
    assert_memory_equal(r->req.data, "PING\r\n", 6);
    assert_int_equal(r->enc, CODEC_ASCIIHEX);
    /* Every byte, NUL and 0xFF included, by escape; UTF-8 stands for itself. */
    r = ok(ENG_CMD_SEND, "[\"a~00~ff~7E\xc3\xa9\"]", NULL);
    assert_int_equal(r->req.data_len, 6);
    assert_memory_equal(r->req.data, "a\x00\xff~\xc3\xa9", 6);
    /* An escaped backslash before "u0000" is text, not a NUL. */
    r = ok(ENG_CMD_SEND, "[\"a\\\\u0000\"]", NULL);
    assert_int_equal(r->req.data_len, 7);
    assert_memory_equal(r->req.data, "a\\u0000", 7);
    /* An empty stream is a send of nothing. */
    assert_int_equal(ok(ENG_CMD_SEND, "[\"\"]", NULL)->req.data_len, 0);
}

static void test_encodings(void **state)
{
    (void)state;
    /* The positional form has no place for the encoding: the query gives it. */
    const struct args_result *r =
        forms(ENG_CMD_SEND, "{\"stream\":\"UElORw0K\",\"encoding\":\"base64\"}", NULL,
              "stream=UElORw0K&encoding=base64");
    ok_in(1, ENG_CMD_SEND, "[\"UElORw0K\"]", "encoding=base64");
    expect_same(&R[0], &R[1], "base64 positional");
    assert_int_equal(r->enc, CODEC_BASE64);
    assert_int_equal(r->req.data_len, 6);
    assert_memory_equal(r->req.data, "PING\r\n", 6);
    r = ok(ENG_CMD_SENDTO, "{\"dgram\":\"00ff41\",\"encoding\":\"HEX\"}", NULL);
    assert_int_equal(r->enc, CODEC_HEX);
    assert_int_equal(r->req.data_len, 3);
    assert_memory_equal(r->req.data, "\x00\xff\x41", 3);
    /* recv and recvfrom take the encoding of their answer. */
    r = ok(ENG_CMD_RECV, "{\"n\":4,\"encoding\":\"base64\"}", NULL);
    assert_int_equal(r->enc, CODEC_BASE64);
    assert_int_equal(ok(ENG_CMD_RECVFROM, "[4]", "encoding=ascii~hex")->enc, CODEC_ASCIIHEX);
}

static void test_sendto_forms(void **state)
{
    (void)state;
    const struct args_result *r =
        forms(ENG_CMD_SENDTO, "{\"address\":\"127.0.0.1\",\"port\":\"53\",\"dgram\":\"q~3F\"}",
              "[\"127.0.0.1\",53,\"q~3F\"]", "address=127.0.0.1&port=53&dgram=q~3F");
    assert_string_equal(r->req.host, "127.0.0.1");
    assert_int_equal(r->req.port, 53);
    assert_true(r->req.has_port);
    assert_int_equal(r->req.data_len, 2);
    assert_memory_equal(r->req.data, "q?", 2);
    /* On a connected socket the datagram alone is enough. */
    r = forms(ENG_CMD_SENDTO, "{\"dgram\":\"hi\"}", "[\"hi\"]", "dgram=hi");
    assert_null(r->req.host);
    assert_false(r->req.has_port);
    assert_int_equal(r->req.data_len, 2);
}

static void test_recv_forms(void **state)
{
    (void)state;
    for (int c = 0; c < 2; c++) {
        enum eng_cmd cmd = c ? ENG_CMD_RECVFROM : ENG_CMD_RECV;
        const struct args_result *r =
            forms(cmd, "{\"n\":100,\"callback\":\"onData\",\"timeout\":0.5}",
                  "[\"100\",\"onData\",0.5]", "n=100&callback=onData&timeout=0.5");
        assert_int_equal(r->req.n, 100);
        assert_true(r->req.background);
        assert_string_equal(r->callback, "onData");
        assert_true(r->req.timeout == 0.5);
        r = forms(cmd, "{\"n\":1}", "[1]", "n=1");
        assert_int_equal(r->req.n, 1);
        assert_false(r->req.background);
        assert_true(r->req.timeout < 0);
        /* repeat has no place in the list: by name or in the query. */
        r = forms(cmd, "{\"n\":8,\"callback\":\"cb\",\"repeat\":true}", NULL,
                  "n=8&callback=cb&repeat=true");
        ok_in(1, cmd, "[8,\"cb\"]", "repeat=1");
        expect_same(&R[0], &R[1], "repeat positional");
        assert_true(r->req.repeat);
        /* n at the configured limit is accepted. */
        assert_int_equal(ok(cmd, "[1000000]", NULL)->req.n, MAX_RECV);
    }
}

static void test_no_argument_commands(void **state)
{
    (void)state;
    const enum eng_cmd cmds[] = {ENG_CMD_GETPEERNAME, ENG_CMD_GETSOCKNAME, ENG_CMD_CLOSE};
    const char *bodies[] = {NULL, "", "[]", "{}", " \n"};
    for (size_t c = 0; c < 3; c++)
        for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++)
            ok(cmds[c], bodies[b], NULL);
    /* The credential may ride along as a query parameter on any command. */
    ok(ENG_CMD_CLOSE, NULL, "token=abc");
}

static void test_ioctl_forms(void **state)
{
    (void)state;
    const struct args_result *r =
        forms(ENG_CMD_IOCTL, "{\"FIONBIO\":1}", "[\"FIONBIO\",1]", "FIONBIO=1");
    assert_int_equal(r->req.ioctl_op, ENG_IOCTL_FIONBIO);
    assert_true(r->req.ioctl_value);
    r = forms(ENG_CMD_IOCTL, "{\"fionbio\":false}", "[\"FIONBIO\",\"0\"]", "FIONBIO=0");
    assert_int_equal(r->req.ioctl_op, ENG_IOCTL_FIONBIO);
    assert_false(r->req.ioctl_value);
    r = forms(ENG_CMD_IOCTL, "{\"FIONREAD\":true}", "[\"FIONREAD\"]", "FIONREAD");
    assert_int_equal(r->req.ioctl_op, ENG_IOCTL_FIONREAD);
    assert_int_equal(ok(ENG_CMD_IOCTL, NULL, "FIONREAD=true")->req.ioctl_op, ENG_IOCTL_FIONREAD);
    assert_true(ok(ENG_CMD_IOCTL, "[\"fionbio\",true]", NULL)->req.ioctl_value);
}

static void test_names_case_insensitive_and_query_merge(void **state)
{
    (void)state;
    ok_in(0, ENG_CMD_CONNECT, "{\"SocketName\":\"localhost\",\"PORT\":\"80\"}", NULL);
    ok_in(1, ENG_CMD_CONNECT, NULL, "SOCKETNAME=localhost&Port=80");
    expect_same(&R[0], &R[1], "case");
    /* Query and body together: each gives its own arguments. */
    const struct args_result *r = ok(ENG_CMD_RECV, "[10]", "timeout=1.5");
    assert_int_equal(r->req.n, 10);
    assert_true(r->req.timeout == 1.5);
}

/* One rejected request and what must come back. */
struct reject {
    enum eng_cmd cmd;
    const char *body, *query;
    int status, code;
    const char *err;                 /* exact, or a prefix when ending in '*' */
};

/* Rejections with status 400 and INVAL, the common case. Repeated texts are named. */
#define BAD(cmd, body, query, err) {ENG_CMD_##cmd, body, query, 400, ENG_EINVAL, err}
#define E_JSON "the body must be a JSON object or array"
#define E_PORT "port must be 0 to 65535 or a service name"
#define E_TIMEOUT "timeout must be a number of seconds, 0 or more"
#define E_CALLBACK "callback must be a name of 1 to 128 characters"
#define E_N "n must be a whole number of bytes, 1 or more"
#define E_N_LIMIT "n is larger than the 1000000 bytes allowed"
#define E_BACKLOG "backlog must be 0 to 65535"
#define E_ENC "encoding must be ascii~hex, base64 or hex"
#define E_IOCTL "ioctl takes [\"FIONBIO\", 0|1] or [\"FIONREAD\"]"

static const struct reject rejects[] = {
    /* the body itself */
    BAD(RECV, "{\"n\":", NULL, "the body is not valid JSON (near offset *"),
    BAD(RECV, "[1] x", NULL, "the body is not valid JSON*"),
    BAD(RECV, "42", NULL, E_JSON),
    BAD(RECV, "\"n\"", NULL, E_JSON),
    BAD(RECV, "null", NULL, E_JSON),
    /* unknown or misplaced arguments */
    BAD(RECV, "{\"n\":1,\"bogus\":1}", NULL, "unknown argument 'bogus' for recv"),
    BAD(RECV, NULL, "n=1&bogus=2", "unknown argument 'bogus' for recv"),
    BAD(RECV, "{\"n\":1,\"port\":1}", NULL, "unknown argument 'port' for recv"),
    BAD(CONNECT, "{\"socketname\":\"h\",\"port\":1,\"callback\":\"x\"}", NULL,
        "unknown argument 'callback' for connect"),
    BAD(GETPEERNAME, "{\"timeout\":1}", NULL, "unknown argument 'timeout' for getpeername"),
    BAD(LISTEN, "{\"repeat\":true}", NULL, "unknown argument 'repeat' for listen"),
    BAD(BIND, "{\"encoding\":\"hex\",\"port\":1}", NULL, "unknown argument 'encoding' for bind"),
    BAD(CLOSE, "[1]", NULL, "close takes at most 0 arguments, not 1"),
    BAD(RECV, "[1,\"cb\",1,4]", NULL, "recv takes at most 3 arguments, not 4"),
    BAD(BIND, "[\"localhost\",1,2]", NULL, "bind takes at most 2 arguments, not 3"),
    BAD(RECV, "[[1]]", NULL, "argument 1 (n) must be a string, number or boolean"),
    BAD(RECV, "{\"n\":{}}", NULL, "argument 'n' must be a string, number or boolean"),
    /* missing arguments */
    BAD(CONNECT, "{\"port\":1}", NULL, "missing argument 'socketname'"),
    BAD(CONNECT, "[\"localhost\"]", NULL, "missing argument 'port'"),
    BAD(BIND, NULL, NULL, "missing argument 'port'"),
    BAD(SEND, NULL, NULL, "missing argument 'stream'"),
    BAD(SENDTO, "{\"address\":\"h\",\"port\":1}", NULL, "missing argument 'dgram'"),
    BAD(SENDTO, "{\"address\":\"h\",\"dgram\":\"x\"}", NULL, "missing argument 'port'"),
    BAD(SENDTO, "{\"port\":1,\"dgram\":\"x\"}", NULL, "missing argument 'address'"),
    BAD(RECV, NULL, NULL, "missing argument 'n'"),
    BAD(RECVFROM, "{}", NULL, "missing argument 'n'"),
    /* ill-typed values */
    BAD(CONNECT, "{\"socketname\":5,\"port\":1}", NULL, "argument 'socketname' must be a string"),
    BAD(SEND, "[1]", NULL, "argument 'stream' must be a string"),
    BAD(CONNECT, "[\"h\",65536]", NULL, E_PORT),
    BAD(CONNECT, "[\"h\",-1]", NULL, E_PORT),
    BAD(CONNECT, "[\"h\",1.5]", NULL, E_PORT),
    BAD(CONNECT, "[\"h\",\"nosuchservice\"]", NULL, E_PORT),
    BAD(CONNECT, "[\"h\",true]", NULL, E_PORT),
    BAD(CONNECT, NULL, "socketname=h&port=", E_PORT),
    BAD(BIND, "[\"\",\"1e3\"]", NULL, E_PORT),
    /* data */
    BAD(SEND, "[\"ab~zz\"]", NULL, "bad ascii~hex escape at offset 2"),
    BAD(SEND, "[\"~\"]", NULL, "bad ascii~hex escape at offset 0"),
    BAD(SEND, "[\"abc~4\"]", NULL, "bad ascii~hex escape at offset 3"),
    BAD(SENDTO, "{\"dgram\":\"a!b\",\"encoding\":\"base64\"}", NULL,
        "bad base64 character at offset *"),
    BAD(SEND, "{\"stream\":\"0g\",\"encoding\":\"hex\"}", NULL, "bad hex character at offset *"),
    BAD(SEND, "{\"stream\":\"a\",\"encoding\":\"rot13\"}", NULL, E_ENC),
    BAD(RECV, "{\"n\":1,\"encoding\":7}", NULL, E_ENC),
    /* a NUL inside a JSON string cannot be passed on: it would cut the string short */
    BAD(SEND, "[\"a\\u0000b\"]", NULL, "*~00*"),
    BAD(CONNECT, "[\"localhost\\u0000.example\",80]", NULL, "*~00*"),
    /* timeouts and callbacks */
    BAD(RECV, "{\"n\":1,\"timeout\":-1}", NULL, E_TIMEOUT),
    BAD(RECV, "[1,null,\"soon\"]", NULL, E_TIMEOUT),
    BAD(RECV, NULL, "n=1&timeout=nan", E_TIMEOUT),
    BAD(RECV, NULL, "n=1&timeout=inf", E_TIMEOUT),
    BAD(ACCEPT, "{\"timeout\":true}", NULL, E_TIMEOUT),
    BAD(ACCEPT, "{\"timeout\":1e12}", NULL, E_TIMEOUT),
    BAD(RECV, "[1,\"\"]", NULL, E_CALLBACK),
    BAD(RECV, "[1,5]", NULL, E_CALLBACK),
    BAD(RECV, "[1,\"a\\nb\"]", NULL, E_CALLBACK),
    BAD(ACCEPT, "{\"callback\":\"a\\r\"}", NULL, E_CALLBACK),
    BAD(RECV, "{\"n\":1,\"callback\":\"cb\",\"repeat\":\"often\"}", NULL,
        "repeat must be true or false"),
    BAD(RECV, "{\"n\":1,\"repeat\":true}", NULL, "repeat needs a callback"),
    /* n and backlog */
    BAD(RECV, "[0]", NULL, E_N),
    BAD(RECV, "[-5]", NULL, E_N),
    BAD(RECV, "[1.5]", NULL, E_N),
    BAD(RECV, NULL, "n=ten", E_N),
    BAD(RECVFROM, "[true]", NULL, E_N),
    BAD(RECV, "[1e300]", NULL, E_N),
    {ENG_CMD_RECV, "[1000001]", NULL, 413, ENG_ELIMIT, E_N_LIMIT},
    {ENG_CMD_RECVFROM, NULL, "n=99999999", 413, ENG_ELIMIT, E_N_LIMIT},
    BAD(LISTEN, "[-1]", NULL, E_BACKLOG),
    BAD(LISTEN, "[65536]", NULL, E_BACKLOG),
    BAD(LISTEN, NULL, "backlog=many", E_BACKLOG),
    /* ioctl */
    BAD(IOCTL, NULL, NULL, "ioctl needs FIONBIO or FIONREAD"),
    BAD(IOCTL, "{}", NULL, "ioctl needs FIONBIO or FIONREAD"),
    BAD(IOCTL, "[]", NULL, E_IOCTL),
    BAD(IOCTL, "[1,1]", NULL, E_IOCTL),
    BAD(IOCTL, "[\"FIONBIO\",1,2]", NULL, E_IOCTL),
    BAD(IOCTL, "[\"SIOCGIFADDR\"]", NULL, "unknown ioctl 'SIOCGIFADDR'; use FIONBIO or FIONREAD"),
    BAD(IOCTL, "[\"FIONBIO\"]", NULL, "FIONBIO needs a value, 0 or 1"),
    BAD(IOCTL, "[\"FIONBIO\",2]", NULL, "FIONBIO takes 0 or 1"),
    BAD(IOCTL, "{\"FIONBIO\":\"yes\"}", NULL, "FIONBIO takes 0 or 1"),
    BAD(IOCTL, "[\"FIONBIO\",[1]]", NULL, "the ioctl value must be 0 or 1"),
    BAD(IOCTL, "{\"FIONBIO\":1,\"FIONREAD\":true}", NULL,
        "ioctl takes FIONBIO or FIONREAD, not both"),
    BAD(IOCTL, "{\"FIONREAD\":false}", NULL, "FIONREAD takes true"),
    BAD(IOCTL, "{\"FIONREAD\":1,\"n\":1}", NULL, "unknown argument 'n' for ioctl"),
};

/* "text" matches exactly, "text*" as a prefix, "*text*" anywhere. */
static bool err_matches(const char *got, const char *pattern)
{
    size_t plen = strlen(pattern);
    if (plen >= 2 && pattern[0] == '*' && pattern[plen - 1] == '*') {
        char inner[128];
        snprintf(inner, sizeof(inner), "%.*s", (int)(plen - 2), pattern + 1);
        return strstr(got, inner) != NULL;
    }
    if (plen >= 1 && pattern[plen - 1] == '*')
        return strncmp(got, pattern, plen - 1) == 0;
    return strcmp(got, pattern) == 0;
}

static void test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        const struct reject *t = &rejects[i];
        struct args_result r;
        int rc = parse(t->cmd, t->body, t->query, &r);
        const char *what = t->body ? t->body : t->query ? t->query : "(nothing)";
        if (rc != -1)
            fail_msg("%s %s: accepted", eng_cmd_name(t->cmd), what);
        if (r.status != t->status || r.code != t->code)
            fail_msg("%s %s: status %d code %d, expected %d %d (%s)", eng_cmd_name(t->cmd), what,
                     r.status, r.code, t->status, t->code, r.err);
        bool match = err_matches(r.err, t->err);
        if (!match)
            fail_msg("%s %s: error '%s', expected '%s'", eng_cmd_name(t->cmd), what, r.err, t->err);
        /* The text becomes element 2 as "NAME: text.": it must not end in a period. */
        assert_true(r.err[0] != '\0' && r.err[strlen(r.err) - 1] != '.');
        args_result_free(&r);
    }
}

/* A JSON body: before, `len` copies of c, after. */
static const char *long_body(const char *before, char c, size_t len, const char *after)
{
    static char body[1024];
    char name[512];
    memset(name, c, len);
    name[len] = '\0';
    snprintf(body, sizeof(body), "%s%s%s", before, name, after);
    return body;
}

/* Expects cmd with body to be rejected with 400 and an error text `err` (NULL: any). */
static void expect_400(enum eng_cmd cmd, const char *body, const char *err)
{
    struct args_result *r = &R[0];
    args_result_free(r);
    assert_int_equal(parse(cmd, body, NULL, r), -1);
    assert_int_equal(r->status, 400);
    assert_true(strlen(r->err) < sizeof(r->err));
    if (err)
        assert_string_equal(r->err, err);
}

static void test_long_values(void **state)
{
    (void)state;
    /* A host name of 253 characters is fine, 254 is not. */
    const char *body = long_body("[\"", 'a', 253, "\",80]");
    assert_int_equal(strlen(ok(ENG_CMD_CONNECT, body, NULL)->req.host), 253);
    expect_400(ENG_CMD_CONNECT, long_body("[\"", 'a', 254, "\",80]"),
               "argument 'socketname' is not a host name");
    /* A callback of 128 characters is fine, 129 is not. */
    body = long_body("[1,\"", 'c', 128, "\"]");
    assert_int_equal(strlen(ok(ENG_CMD_RECV, body, NULL)->callback), 128);
    expect_400(ENG_CMD_RECV, long_body("[1,\"", 'c', 129, "\"]"), E_CALLBACK);
    /* An unknown argument's name is cut in the message, never overflowing it. */
    expect_400(ENG_CMD_RECV, long_body("{\"", 'k', 299, "\":1}"), NULL);
    assert_non_null(strstr(R[0].err, "unknown argument 'kkkk"));
    assert_true(strlen(R[0].err) < 100);
}

/* ---- POST /sockets ---- */

static int sock_parse(const char *body, const char *query, int *type, int *family, char *err)
{
    char qbuf[256] = "";
    struct args_kv kv[8];
    if (query)
        snprintf(qbuf, sizeof(qbuf), "%s", query);
    size_t n = split_query(query ? qbuf : NULL, kv, 8);
    return args_parse_socket(body, body ? strlen(body) : 0, kv, n, type, family, err, 160);
}

static void test_socket_forms(void **state)
{
    (void)state;
    const struct {
        const char *body, *query;
        int type, family;
    } ok[] = {
        {NULL, NULL, SOCK_STREAM, AF_INET},
        {"", NULL, SOCK_STREAM, AF_INET},
        {"{}", NULL, SOCK_STREAM, AF_INET},
        {"[]", NULL, SOCK_STREAM, AF_INET},
        {"[\"DGRAM\"]", NULL, SOCK_DGRAM, AF_INET},
        {"{\"type\":\"DGRAM\"}", NULL, SOCK_DGRAM, AF_INET},
        {NULL, "type=DGRAM", SOCK_DGRAM, AF_INET},
        {"[\"STREAM\",\"IPV6\"]", NULL, SOCK_STREAM, AF_INET6},
        {"{\"family\":\"IPV6\",\"type\":\"STREAM\"}", NULL, SOCK_STREAM, AF_INET6},
        {NULL, "type=stream&family=ipv6", SOCK_STREAM, AF_INET6},
        {"{\"Type\":\"dgram\",\"FAMILY\":\"ipv6\"}", NULL, SOCK_DGRAM, AF_INET6},
        {"[\"dgram\",\"IPv4\"]", "token=secret", SOCK_DGRAM, AF_INET},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int type = -1, family = -1;
        char err[160] = "";
        if (sock_parse(ok[i].body, ok[i].query, &type, &family, err) != 0)
            fail_msg("socket %s %s: rejected: %s", ok[i].body ? ok[i].body : "-",
                     ok[i].query ? ok[i].query : "-", err);
        assert_int_equal(type, ok[i].type);
        assert_int_equal(family, ok[i].family);
    }
}

#define E_SOCK_LIST "socket takes [\"STREAM\"|\"DGRAM\", \"IPV4\"|\"IPV6\"]"

static void test_socket_rejections(void **state)
{
    (void)state;
    const struct {
        const char *body, *query, *err;
    } bad[] = {
        {"{", NULL, "the body is not valid JSON (near offset 1)"},
        {"[\"STREAM\"] junk", NULL, "the body is not valid JSON (near offset 11)"},
        {"{\"type\":\"RAW\"}", NULL, "type must be STREAM or DGRAM, not 'RAW'"},
        {"[\"SEQPACKET\"]", NULL, "type must be STREAM or DGRAM, not 'SEQPACKET'"},
        {NULL, "type=RAW", "type must be STREAM or DGRAM, not 'RAW'"},
        {"{\"family\":\"UNIX\"}", NULL, "family must be IPV4 or IPV6, not 'UNIX'"},
        {"[\"STREAM\",\"IPV5\"]", NULL, "family must be IPV4 or IPV6, not 'IPV5'"},
        {"{\"type\":1}", NULL, "socket takes \"type\" and \"family\" strings"},
        {"{\"proto\":\"tcp\"}", NULL, "socket takes \"type\" and \"family\" strings"},
        {"[1]", NULL, E_SOCK_LIST},
        {"[\"STREAM\",\"IPV4\",\"x\"]", NULL, E_SOCK_LIST},
        {"\"STREAM\"", NULL, E_SOCK_LIST},
        {NULL, "kind=STREAM", "unknown argument 'kind' for socket"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int type, family;
        char err[160] = "";
        if (sock_parse(bad[i].body, bad[i].query, &type, &family, err) != -1)
            fail_msg("socket %s %s: accepted", bad[i].body ? bad[i].body : "-",
                     bad[i].query ? bad[i].query : "-");
        if (strcmp(err, bad[i].err) != 0)
            fail_msg("socket %s: error '%s', expected '%s'",
                     bad[i].body ? bad[i].body : bad[i].query,
                     err, bad[i].err);
    }
    /* A long bad value is cut in the message and the buffer's size is kept. */
    char body[400], err[40];
    memset(body, 0, sizeof(body));
    snprintf(body, sizeof(body), "{\"type\":\"%0300d\"}", 0);
    int type, family;
    assert_int_equal(args_parse_socket(body, strlen(body), NULL, 0, &type, &family, err,
                                       sizeof(err)), -1);
    assert_true(strlen(err) < sizeof(err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_forms),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_accept_forms),
        cmocka_unit_test(test_connect_forms),
        cmocka_unit_test(test_port_forms),
        cmocka_unit_test(test_send_forms),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_sendto_forms),
        cmocka_unit_test(test_recv_forms),
        cmocka_unit_test(test_no_argument_commands),
        cmocka_unit_test(test_ioctl_forms),
        cmocka_unit_test(test_names_case_insensitive_and_query_merge),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_socket_forms),
        cmocka_unit_test(test_socket_rejections),
    };
    /* Service names come from /etc/services, read at start by the server. */
    services_load(SERVICES_PATH);
    int rc = cmocka_run_group_tests_name("args", tests, NULL, free_results);
    services_free();
    return rc;
}
