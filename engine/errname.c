/*
 * The names of errors as JMP writes them. The table lists the errno values a socket call
 * usually returns; any other errno is named by the C library, and a number that is no
 * errno gets a stable name from its number.
 */
#include "errname.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct err_entry {
    int code;          /* -errno or ENG_E* */
    const char *name;  /* without the leading E */
    const char *text;  /* default description */
};

static const struct err_entry err_table[] = {
    {ENG_ECLOSED, "CLOSED", "the connection is closed"},
    {ENG_EHOSTNOTFOUND, "HOSTNOTFOUND", "the host name did not resolve"},
    {ENG_EINVAL, "INVAL", "invalid argument"},
    {ENG_ENOTSOCK, "NOTSOCK", "no such socket"},
    {ENG_EDENIED, "DENIED", "refused by policy"},
    {ENG_EAUTH, "AUTH", "missing or wrong credential"},
    {ENG_ELIMIT, "LIMIT", "a configured limit was reached"},
    {ENG_ESHUTDOWN, "SHUTDOWN", "the server is shutting down"},
    {ENG_ETLS, "TLS", "the TLS handshake failed"},
    {ENG_EMISDIRECTED, "MISDIRECTED", "the request is for another node"},
    {-EAGAIN, "WOULDBLOCK", "the operation would block"},
    {-EINPROGRESS, "INPROGRESS", "operation now in progress"},
    {-EALREADY, "ALREADY", "operation already in progress"},
    {-ETIMEDOUT, "TIMEDOUT", "the wait ran out"},
    {-ECONNREFUSED, "CONNREFUSED", "connection refused"},
    {-ECONNRESET, "CONNRESET", "connection reset by peer"},
    {-ECONNABORTED, "CONNABORTED", "connection aborted"},
    {-ENETUNREACH, "NETUNREACH", "network is unreachable"},
    {-ENETDOWN, "NETDOWN", "network is down"},
    {-EHOSTUNREACH, "HOSTUNREACH", "no route to host"},
    {-EADDRINUSE, "ADDRINUSE", "address already in use"},
    {-EADDRNOTAVAIL, "ADDRNOTAVAIL", "cannot assign requested address"},
    {-EAFNOSUPPORT, "AFNOSUPPORT", "address family not supported"},
    {-ENOTCONN, "NOTCONN", "the socket is not connected"},
    {-EISCONN, "ISCONN", "the socket is already connected"},
    {-EMSGSIZE, "MSGSIZE", "message too long"},
    {-EOPNOTSUPP, "OPNOTSUPP", "operation not supported on this socket"},
    {-EPIPE, "PIPE", "broken pipe"},
    {-EACCES, "ACCES", "permission denied"},
    {-EPERM, "PERM", "operation not permitted"},
    {-EINVAL, "INVAL", "invalid argument"},
    {-ENOTSOCK, "NOTSOCK", "no such socket"},
    {-EDESTADDRREQ, "DESTADDRREQ", "destination address required"},
    {-ENOBUFS, "NOBUFS", "no buffer space available"},
    {-ENOMEM, "NOMEM", "out of memory"},
    {-EMFILE, "MFILE", "too many open files"},
    {-ENFILE, "NFILE", "too many open files in system"},
    {-EPROTONOSUPPORT, "PROTONOSUPPORT", "protocol not supported"},
    {-ECANCELED, "CANCELED", "the operation was cancelled"},
};

static const struct err_entry *err_find(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == code)
            return &err_table[i];
    return NULL;
}

const char *eng_err_name(int code, char *buf, size_t buflen)
{
    const struct err_entry *e = err_find(code);
    if (e)
        return e->name;
    /* Any other errno still answers with its own name ("HOSTDOWN" for EHOSTDOWN), as
     * SPEC section 5 asks; only a number that is no errno gets a made-up one. */
    const char *sys = code < 0 ? strerrorname_np(-code) : NULL;
    if (sys && sys[0] == 'E' && sys[1])
        return sys + 1;
    snprintf(buf, buflen, "ERRNO%d", code < 0 ? -code : code);
    return buf;
}

const char *eng_err_text(int code)
{
    const struct err_entry *e = err_find(code);
    if (e)
        return e->text;
    const char *sys = code < 0 ? strerrordesc_np(-code) : NULL;
    return sys && sys[0] ? sys : "unexpected error";
}

size_t eng_err_format(char *buf, size_t buflen, int code, const char *detail)
{
    char numbuf[24];
    const char *name = eng_err_name(code, numbuf, sizeof(numbuf));
    int n = snprintf(buf, buflen, "%s: %s.", name, detail ? detail : eng_err_text(code));
    /* With no room at all nothing was written; buflen - 1 would wrap around. */
    if (n < 0 || buflen == 0)
        return 0;
    return (size_t)n < buflen ? (size_t)n : buflen - 1;
}
