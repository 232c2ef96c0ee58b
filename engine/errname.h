/*
 * Error codes and JMP-style error strings: "NAME: description." where NAME is the errno
 * name without its leading E ("CONNREFUSED: Connection refused.").
 *
 * Codes are negative: -errno for the socket calls' own errors, and the ENG_E* values
 * below for sockgate's own conditions, which have no errno.
 */
#ifndef SOCKGATE_ERRNAME_H
#define SOCKGATE_ERRNAME_H

#include <stddef.h>

enum {
    ENG_ECLOSED = -20001,      /* the peer closed, or the socket closed during a wait */
    ENG_EHOSTNOTFOUND = -20002, /* the name did not resolve */
    ENG_EINVAL = -20003,       /* a missing, unknown or malformed argument */
    ENG_ENOTSOCK = -20004,     /* no such socket for this credential */
    ENG_EDENIED = -20005,      /* refused by policy */
    ENG_EAUTH = -20006,        /* missing or wrong credential */
    ENG_ELIMIT = -20007,       /* a configured limit was reached */
    ENG_ESHUTDOWN = -20008,    /* the server is shutting down */
    ENG_ETLS = -20009,         /* a TLS handshake or certificate check failed */
    ENG_EMISDIRECTED = -20020, /* the request is for another node (SPEC §12) */
};

/* The NAME part for a code: "CONNREFUSED", "WOULDBLOCK" (for EAGAIN), "CLOSED", ...
 * Never NULL: an errno without a known name is named "ERRNO<n>". `buf` (at least 16
 * bytes) is used only for that last case. */
const char *eng_err_name(int code, char *buf, size_t buflen);

/* The default description of a code, without the trailing period. */
const char *eng_err_text(int code);

/* Writes "NAME: detail." into buf; detail NULL means the default description. Returns
 * the length written (truncated to fit, always NUL-terminated). */
size_t eng_err_format(char *buf, size_t buflen, int code, const char *detail);

#endif
