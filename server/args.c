/*
 * Argument parsing (see args.h). Every argument first lands in a slot by name, whatever
 * form it came in; then each command's slots are checked and converted in one place, so
 * the three forms cannot disagree.
 */
#include "args.h"

#include "commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "services.h"

enum val_kind { V_NONE, V_STR, V_NUM, V_BOOL, V_NULL };

struct val {
    enum val_kind kind;
    const char *str;                 /* V_STR: borrowed from the JSON tree or the query */
    size_t len;                      /* V_STR: its length */
    double num;                      /* V_NUM */
    bool b;                          /* V_BOOL */
};

static int fail(struct args_result *out, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct args_result *out, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->err, sizeof(out->err), fmt, ap);
    va_end(ap);
    out->status = status;
    out->code = code;
    return -1;
}

static int val_from_json(const cJSON *item, struct val *v)
{
    if (cJSON_IsString(item)) {
        *v = (struct val){.kind = V_STR, .str = item->valuestring, .len = strlen(item->valuestring)};
    } else if (cJSON_IsNumber(item)) {
        *v = (struct val){.kind = V_NUM, .num = item->valuedouble};
    } else if (cJSON_IsBool(item)) {
        *v = (struct val){.kind = V_BOOL, .b = cJSON_IsTrue(item)};
    } else if (cJSON_IsNull(item)) {
        *v = (struct val){.kind = V_NULL};
    } else {
        return -1;
    }
    return 0;
}

/* Places the body's arguments into slots. */
static int collect_json(enum eng_cmd cmd, const cJSON *root, struct val *slots,
                        struct args_result *out)
{
    const char *name = eng_cmd_name(cmd);
    const struct srv_command *c = cmd_info(cmd);
    if (cJSON_IsObject(root)) {
        for (const cJSON *it = root->child; it; it = it->next) {
            int s = cmd_slot_find(it->string ? it->string : "");
            if (c->strings_only && (s < 0 || !cmd_takes(cmd, s) || !cJSON_IsString(it)))
                return fail(out, 400, ENG_EINVAL, "%s", c->object_form);
            if (s < 0 || !cmd_takes(cmd, s))
                return fail(out, 400, ENG_EINVAL, "unknown argument '%.40s' for %s", it->string, name);
            if (val_from_json(it, &slots[s]) < 0)
                return fail(out, 400, ENG_EINVAL, "argument '%s' must be a string, number or boolean",
                            cmd_slot_name(s));
        }
        return 0;
    }
    if (!cJSON_IsArray(root)) {
        if (c->strings_only)
            return fail(out, 400, ENG_EINVAL, "%s", c->list_form);
        return fail(out, 400, ENG_EINVAL, "the body must be a JSON object or array");
    }
    int n = cJSON_GetArraySize(root);
    if (cmd == ENG_CMD_IOCTL) {
        /* ["FIONBIO", 1] or ["FIONREAD"] */
        const cJSON *what = cJSON_GetArrayItem(root, 0);
        if (n < 1 || n > 2 || !cJSON_IsString(what))
            return fail(out, 400, ENG_EINVAL, "%s", c->list_form);
        int s = cmd_slot_find(what->valuestring);
        if (s != A_FIONBIO && s != A_FIONREAD)
            return fail(out, 400, ENG_EINVAL, "unknown ioctl '%.40s'; use FIONBIO or FIONREAD",
                        what->valuestring);
        if (s == A_FIONBIO && n != 2)
            return fail(out, 400, ENG_EINVAL, "FIONBIO needs a value, 0 or 1");
        if (n == 2) {
            if (val_from_json(cJSON_GetArrayItem(root, 1), &slots[s]) < 0)
                return fail(out, 400, ENG_EINVAL, "the ioctl value must be 0 or 1");
        } else {
            slots[s] = (struct val){.kind = V_BOOL, .b = true};
        }
        return 0;
    }
    const signed char *pos = c->positional;
    int npos = 0;
    while (npos < CMD_MAX_POSITIONAL && pos[npos] != A_NONE)
        npos++;
    if (n > npos) {
        if (c->strings_only)
            return fail(out, 400, ENG_EINVAL, "%s", c->list_form);
        return fail(out, 400, ENG_EINVAL, "%s takes at most %d arguments, not %d", name, npos, n);
    }
    /* sendto on a connected datagram socket may give the datagram alone. */
    int first = (cmd == ENG_CMD_SENDTO && n == 1) ? 2 : 0;
    int i = 0;
    for (const cJSON *it = root->child; it; it = it->next, i++) {
        int s = pos[first + i];
        if (c->strings_only && !cJSON_IsString(it))
            return fail(out, 400, ENG_EINVAL, "%s", c->list_form);
        if (val_from_json(it, &slots[s]) < 0)
            return fail(out, 400, ENG_EINVAL, "argument %d (%s) must be a string, number or boolean",
                        i + 1, cmd_slot_name(s));
    }
    return 0;
}

static int collect_query(enum eng_cmd cmd, const struct args_kv *q, size_t nq, struct val *slots,
                         struct args_result *out)
{
    for (size_t i = 0; i < nq; i++) {
        /* The credential (?token=) is auth.c's, read before any command. */
        if (strcmp(q[i].key, "token") == 0)
            continue;
        int s = cmd_slot_find(q[i].key);
        if (s < 0 || !cmd_takes(cmd, s))
            return fail(out, 400, ENG_EINVAL, "unknown argument '%.40s' for %s", q[i].key,
                        eng_cmd_name(cmd));
        if (q[i].value)
            slots[s] = (struct val){.kind = V_STR, .str = q[i].value, .len = strlen(q[i].value)};
        else
            slots[s] = (struct val){.kind = V_BOOL, .b = true};
    }
    return 0;
}

/* Reads an integer from a number or a numeric string. */
static int val_integer(const struct val *v, long long *out)
{
    if (v->kind == V_NUM) {
        if (!isfinite(v->num) || v->num != floor(v->num) || fabs(v->num) > 9e15)
            return -1;
        *out = (long long)v->num;
        return 0;
    }
    if (v->kind == V_STR && v->len > 0 && v->len < 24) {
        char *end;
        errno = 0;
        long long x = strtoll(v->str, &end, 10);
        if (errno || end != v->str + v->len)
            return -1;
        *out = x;
        return 0;
    }
    return -1;
}

static int val_seconds(const struct val *v, double *out)
{
    if (v->kind == V_NUM) {
        *out = v->num;
    } else if (v->kind == V_STR && v->len > 0 && v->len < 32) {
        char *end;
        errno = 0;
        *out = strtod(v->str, &end);
        if (errno || end != v->str + v->len)
            return -1;
    } else {
        return -1;
    }
    return isfinite(*out) && *out >= 0 && *out <= 1e9 ? 0 : -1;
}

static int val_bool(const struct val *v, bool *out)
{
    long long x;
    if (v->kind == V_BOOL) {
        *out = v->b;
        return 0;
    }
    if (v->kind == V_STR && (strcasecmp(v->str, "true") == 0 || strcasecmp(v->str, "false") == 0)) {
        *out = strcasecmp(v->str, "true") == 0;
        return 0;
    }
    if (val_integer(v, &x) == 0 && (x == 0 || x == 1)) {
        *out = x == 1;
        return 0;
    }
    return -1;
}

/* A port is a number, a numeric string, or a service name from /etc/services (read at
 * start: services.h). */
static int val_port(const struct val *v, int socktype, uint16_t *out)
{
    long long x;
    if (val_integer(v, &x) == 0) {
        if (x < 0 || x > 65535)
            return -1;
        *out = (uint16_t)x;
        return 0;
    }
    if (v->kind != V_STR || v->len == 0 || v->len > 32)
        return -1;
    return services_port(v->str, v->len, socktype, out) == 0 ? 0 : -1;
}

static int need_string(const struct val *v, const char *name, struct args_result *out)
{
    if (v->kind == V_NONE)
        return fail(out, 400, ENG_EINVAL, "missing argument '%s'", name);
    if (v->kind != V_STR)
        return fail(out, 400, ENG_EINVAL, "argument '%s' must be a string", name);
    return 0;
}

static int take_host(const struct val *v, const char *name, struct args_result *out)
{
    if (need_string(v, name, out) < 0)
        return -1;
    if (v->len > 253 || memchr(v->str, '\0', v->len))
        return fail(out, 400, ENG_EINVAL, "argument '%s' is not a host name", name);
    out->host = strndup(v->str, v->len);
    if (!out->host)
        return fail(out, 500, -ENOMEM, "out of memory");
    out->req.host = out->host;
    return 0;
}

static int take_port(const struct val *v, struct args_result *out)
{
    if (v->kind == V_NONE)
        return fail(out, 400, ENG_EINVAL, "missing argument 'port'");
    /* Service names are looked up for TCP; the numbers are the same for UDP. */
    if (val_port(v, SOCK_STREAM, &out->req.port) < 0)
        return fail(out, 400, ENG_EINVAL, "port must be 0 to 65535 or a service name");
    out->req.has_port = true;
    return 0;
}

static int take_data(const struct val *v, const char *name, const struct args_limits *lim,
                     struct args_result *out)
{
    if (lim->raw_data) {
        /* The body is the data, unencoded; it lives as long as the request. */
        if (v->kind != V_NONE)
            return fail(out, 400, ENG_EINVAL, "the application/octet-stream body is the data: "
                        "give no '%s' argument", name);
        out->req.data = lim->raw_data;
        out->req.data_len = lim->raw_len;
        return 0;
    }
    if (need_string(v, name, out) < 0)
        return -1;
    out->data = malloc(codec_decoded_max(out->enc, v->len) + 1);
    if (!out->data)
        return fail(out, 500, -ENOMEM, "out of memory");
    size_t off = 0;
    long n = codec_decode(out->enc, v->str, v->len, out->data, &off);
    if (n < 0)
        return fail(out, 400, ENG_EINVAL, "bad %s %s at offset %zu", codec_encoding_name(out->enc),
                    out->enc == CODEC_ASCIIHEX ? "escape" : "character", off);
    out->req.data = out->data;
    out->req.data_len = (size_t)n;
    return 0;
}

/* An optional string argument, copied: name, PEM text. NUL bytes are refused. */
static int take_text(const struct val *v, const char *name, size_t max, char **dst,
                     struct args_result *out)
{
    if (v->kind == V_NONE || v->kind == V_NULL)
        return 0;
    if (v->kind != V_STR || v->len == 0 || v->len > max || memchr(v->str, '\0', v->len))
        return fail(out, 400, ENG_EINVAL, "argument '%s' must be a string of 1 to %zu bytes",
                    name, max);
    *dst = strndup(v->str, v->len);
    if (!*dst)
        return fail(out, 500, -ENOMEM, "out of memory");
    return 0;
}

/* tls, servername, verify, ca, cert, key of connect and starttls. */
static int take_tls(enum eng_cmd cmd, struct val *slots, struct args_result *out)
{
    struct eng_tls_args *t = &out->req.tls;
    bool b;
    if (slots[A_TLS].kind != V_NONE) {
        if (val_bool(&slots[A_TLS], &b) < 0)
            return fail(out, 400, ENG_EINVAL, "tls must be true or false");
        t->on = b;
    }
    if (slots[A_VERIFY].kind != V_NONE) {
        if (val_bool(&slots[A_VERIFY], &b) < 0)
            return fail(out, 400, ENG_EINVAL, "verify must be true or false");
        t->no_verify = !b;
    }
    /* PEM texts: a CA bundle of a few hundred certificates still fits the body cap. */
    if (take_text(&slots[A_SERVERNAME], "servername", 253, &out->servername, out) < 0 ||
        take_text(&slots[A_CA], "ca", 1u << 20, &out->ca, out) < 0 ||
        take_text(&slots[A_CERT], "cert", 1u << 16, &out->cert, out) < 0 ||
        take_text(&slots[A_KEY], "key", 1u << 16, &out->key, out) < 0)
        return -1;
    bool any = out->servername || out->ca || out->cert || out->key ||
               slots[A_VERIFY].kind != V_NONE;
    if (cmd == ENG_CMD_CONNECT && any && !t->on)
        return fail(out, 400, ENG_EINVAL, "servername, verify, ca, cert and key need tls=true");
    if ((out->cert != NULL) != (out->key != NULL))
        return fail(out, 400, ENG_EINVAL, "cert and key go together: give both or neither");
    t->servername = out->servername;
    t->ca = out->ca;
    t->cert = out->cert;
    t->key = out->key;
    return 0;
}

/* One converter per command: its slots, checked, into out->req. */
typedef int (*converter)(struct val *slots, const struct args_limits *lim, struct args_result *out);

static int convert_bind(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    if (slots[A_LOCALHOST].kind == V_NONE)
        slots[A_LOCALHOST] = (struct val){.kind = V_STR, .str = "localhost", .len = 9};
    if (take_host(&slots[A_LOCALHOST], "localhost", out) < 0 || take_port(&slots[A_PORT], out) < 0)
        return -1;
    return 0;
}

static int convert_listen(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    long long x;
    if (slots[A_BACKLOG].kind != V_NONE) {
        if (val_integer(&slots[A_BACKLOG], &x) < 0 || x < 0 || x > 65535)
            return fail(out, 400, ENG_EINVAL, "backlog must be 0 to 65535");
        out->req.backlog = (int)x;
    }
    return 0;
}

static int convert_connect(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    if (take_host(&slots[A_SOCKETNAME], "socketname", out) < 0 ||
        take_port(&slots[A_PORT], out) < 0 || take_tls(ENG_CMD_CONNECT, slots, out) < 0)
        return -1;
    return 0;
}

static int convert_starttls(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    return take_tls(ENG_CMD_STARTTLS, slots, out);
}

static int convert_send(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    return take_data(&slots[A_STREAM], "stream", lim, out);
}

static int convert_sendto(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    if (slots[A_ADDRESS].kind != V_NONE || slots[A_PORT].kind != V_NONE) {
        if (take_host(&slots[A_ADDRESS], "address", out) < 0 || take_port(&slots[A_PORT], out) < 0)
            return -1;
    }
    return take_data(&slots[A_DGRAM], "dgram", lim, out);
}

static int convert_recv(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    long long x;
    if (slots[A_N].kind == V_NONE)
        return fail(out, 400, ENG_EINVAL, "missing argument 'n'");
    if (val_integer(&slots[A_N], &x) < 0 || x < 1)
        return fail(out, 400, ENG_EINVAL, "n must be a whole number of bytes, 1 or more");
    if ((unsigned long long)x > lim->max_recv)
        return fail(out, 413, ENG_ELIMIT, "n is larger than the %zu bytes allowed", lim->max_recv);
    out->req.n = (size_t)x;
    return 0;
}

static int convert_ioctl(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    struct eng_request *r = &out->req;
    if (slots[A_FIONBIO].kind != V_NONE && slots[A_FIONREAD].kind != V_NONE)
        return fail(out, 400, ENG_EINVAL, "ioctl takes FIONBIO or FIONREAD, not both");
    if (slots[A_FIONBIO].kind != V_NONE) {
        r->ioctl_op = ENG_IOCTL_FIONBIO;
        if (val_bool(&slots[A_FIONBIO], &r->ioctl_value) < 0)
            return fail(out, 400, ENG_EINVAL, "FIONBIO takes 0 or 1");
    } else if (slots[A_FIONREAD].kind != V_NONE) {
        bool on;
        if (val_bool(&slots[A_FIONREAD], &on) < 0 || !on)
            return fail(out, 400, ENG_EINVAL, "FIONREAD takes true");
        r->ioctl_op = ENG_IOCTL_FIONREAD;
    } else {
        return fail(out, 400, ENG_EINVAL, "ioctl needs FIONBIO or FIONREAD");
    }
    return 0;
}

/* POST /sockets: STREAM (the default) or DGRAM, IPV4 (the default) or IPV6. */
static int convert_socket(struct val *slots, const struct args_limits *lim, struct args_result *out)
{
    (void)lim;
    const struct val *t = &slots[A_TYPE], *f = &slots[A_FAMILY];
    out->sock_type = SOCK_STREAM;
    out->sock_family = AF_INET;
    /* A bare ?type in the query is no type either. */
    if ((t->kind != V_NONE && t->kind != V_STR) || (f->kind != V_NONE && f->kind != V_STR))
        return fail(out, 400, ENG_EINVAL, "%s", cmd_info(ENG_CMD_SOCKET)->object_form);
    if (t->kind == V_STR && strcasecmp(t->str, "DGRAM") == 0)
        out->sock_type = SOCK_DGRAM;
    else if (t->kind == V_STR && strcasecmp(t->str, "STREAM") != 0)
        return fail(out, 400, ENG_EINVAL, "type must be STREAM or DGRAM, not '%.40s'", t->str);
    if (f->kind == V_STR && strcasecmp(f->str, "IPV6") == 0)
        out->sock_family = AF_INET6;
    else if (f->kind == V_STR && strcasecmp(f->str, "IPV4") != 0)
        return fail(out, 400, ENG_EINVAL, "family must be IPV4 or IPV6, not '%.40s'", f->str);
    return 0;
}

/* GET /getaddrinfo?name=N&port=P and /getnameinfo?address=A&port=P (SPEC §13); the
 * port may be left out (0). */
static int convert_lookup(const char *what, struct val *slots, struct args_result *out)
{
    int slot = what[0] == 'n' ? A_NAME : A_ADDRESS;
    if (take_host(&slots[slot], what, out) < 0)
        return -1;
    if (slots[A_PORT].kind != V_NONE)
        return take_port(&slots[A_PORT], out);
    return 0;
}

static int convert_getaddrinfo(struct val *slots, const struct args_limits *lim,
                               struct args_result *out)
{
    (void)lim;
    return convert_lookup("name", slots, out);
}

static int convert_getnameinfo(struct val *slots, const struct args_limits *lim,
                               struct args_result *out)
{
    (void)lim;
    return convert_lookup("address", slots, out);
}

static const converter converters[ENG_CMD_COUNT] = {
    [ENG_CMD_GETADDRINFO] = convert_getaddrinfo, [ENG_CMD_GETNAMEINFO] = convert_getnameinfo,
    [ENG_CMD_BIND] = convert_bind,       [ENG_CMD_LISTEN] = convert_listen,
    [ENG_CMD_CONNECT] = convert_connect, [ENG_CMD_SEND] = convert_send,
    [ENG_CMD_SENDTO] = convert_sendto,   [ENG_CMD_RECV] = convert_recv,
    [ENG_CMD_RECVFROM] = convert_recv,   [ENG_CMD_IOCTL] = convert_ioctl,
    [ENG_CMD_STARTTLS] = convert_starttls,
    [ENG_CMD_SOCKET] = convert_socket,
};

/* The arguments every command that takes them reads the same way, then the command's own. */
static int convert(enum eng_cmd cmd, struct val *slots, const struct args_limits *lim,
                   struct args_result *out)
{
    struct eng_request *r = &out->req;
    r->cmd = cmd;
    r->backlog = -1;
    r->timeout = -1;
    if (slots[A_ENCODING].kind != V_NONE) {
        if (slots[A_ENCODING].kind != V_STR ||
            codec_encoding_from_name(slots[A_ENCODING].str, &out->enc) < 0)
            return fail(out, 400, ENG_EINVAL, "encoding must be ascii~hex, base64 or hex");
    }
    if (slots[A_TIMEOUT].kind != V_NONE && val_seconds(&slots[A_TIMEOUT], &r->timeout) < 0)
        return fail(out, 400, ENG_EINVAL, "timeout must be a number of seconds, 0 or more");
    if (slots[A_CALLBACK].kind != V_NONE && slots[A_CALLBACK].kind != V_NULL) {
        const struct val *v = &slots[A_CALLBACK];
        if (v->kind != V_STR || v->len == 0 || v->len > 128 || strpbrk(v->str, "\r\n"))
            return fail(out, 400, ENG_EINVAL, "callback must be a name of 1 to 128 characters");
        out->callback = strndup(v->str, v->len);
        if (!out->callback)
            return fail(out, 500, -ENOMEM, "out of memory");
        r->background = true;
    }
    if (slots[A_REPEAT].kind != V_NONE) {
        if (val_bool(&slots[A_REPEAT], &r->repeat) < 0)
            return fail(out, 400, ENG_EINVAL, "repeat must be true or false");
        if (r->repeat && !r->background)
            return fail(out, 400, ENG_EINVAL, "repeat needs a callback");
    }
    converter fn = (unsigned)cmd < ENG_CMD_COUNT ? converters[cmd] : NULL;
    return fn ? fn(slots, lim, out) : 0;
}

/* cJSON ends its strings at the first NUL, so a "\u0000" escape would silently cut a
 * value short (data, or a host name). Backslashes occur only inside strings in valid
 * JSON, and each escapes the next character, which is skipped so "\\u0000" is text. */
static bool json_has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++;
    }
    return false;
}

int args_parse(enum eng_cmd cmd, const char *body, size_t len, const struct args_kv *query,
               size_t nquery, const struct args_limits *lim, struct args_result *out)
{
    /* The error text is written only on failure: clearing its 256 bytes for every request
     * would cost more than parsing a command without arguments. */
    memset(out, 0, offsetof(struct args_result, err));
    out->err[0] = '\0';
    out->enc = CODEC_ASCIIHEX;
    /* Only the kinds are set: a slot is written whole when an argument fills it, and its
     * other fields are read only when its kind says so. Clearing all of its 960 bytes
     * cost more than the rest of parsing a command without arguments. */
    struct val slots[A_COUNT];
#pragma GCC unroll 32 /* a store a slot, no loop */
    for (int i = 0; i < A_COUNT; i++)
        slots[i].kind = V_NONE;
    cJSON *root = NULL;
    int rc = collect_query(cmd, query, nquery, slots, out);
    size_t skip = 0;
    while (rc == 0 && body && skip < len && strchr(" \t\r\n", body[skip]))
        skip++;
    if (rc == 0 && body && skip < len) {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1);
        if (!root)
            rc = fail(out, 400, ENG_EINVAL, "the body is not valid JSON (near offset %zu)",
                      end && end >= body ? (size_t)(end - body) : 0);
        else if (json_has_nul_escape(body, len))
            rc = fail(out, 400, ENG_EINVAL, "a JSON string cannot carry \\u0000 here; write "
                      "a NUL byte as ~00");
        else
            rc = collect_json(cmd, root, slots, out);
    }
    if (rc == 0)
        rc = convert(cmd, slots, lim, out);
    cJSON_Delete(root);
    return rc;
}

void args_result_free(struct args_result *out)
{
    /* Most commands own nothing: one test, not seven calls of free. */
    if (!out->host && !out->data && !out->callback && !out->servername && !out->ca &&
        !out->cert && !out->key)
        return;
    free(out->host);
    free(out->data);
    free(out->callback);
    free(out->servername);
    free(out->ca);
    free(out->cert);
    free(out->key);
    out->servername = out->ca = out->cert = out->key = NULL;
    out->host = out->callback = NULL;
    out->data = NULL;
}

int args_parse_socket(const char *body, size_t len, const struct args_kv *query, size_t nquery,
                      int *type, int *family, char *err, size_t errlen)
{
    struct args_result a;
    const struct args_limits lim = {0};
    int rc = args_parse(ENG_CMD_SOCKET, body, len, query, nquery, &lim, &a);
    if (rc < 0)
        snprintf(err, errlen, "%s", a.err);
    *type = a.sock_type;
    *family = a.sock_family;
    args_result_free(&a);
    return rc;
}
