/*
 * The TLS state of one socket, shared by tls.c (sessions, handshakes, verdicts) and
 * transport.c (reads and writes through the session). GnuTLS's types stay in these
 * files: nothing else in the engine includes this header.
 */
#ifndef SOCKGATE_ENGINE_TLS_INT_H
#define SOCKGATE_ENGINE_TLS_INT_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGI_TLS_RECORD 16384u       /* the most plaintext one record carries */

enum engi_tls_state {
    ENGI_TLS_HANDSHAKING,            /* reads and writes wait */
    ENGI_TLS_OPEN,                   /* records flow */
    ENGI_TLS_FAILED,                 /* every data command answers TLS: why */
};

struct engi_tls {
    gnutls_session_t session;        /* the GnuTLS client session on the socket's fd */
    gnutls_certificate_credentials_t own_cred; /* credentials of this session, or NULL */
    enum engi_tls_state state;       /* see above */
    bool verify;                     /* the chain and the name are checked */
    bool gave_cert;                  /* a client certificate was configured */
    bool own_verify;                 /* checked by our callback against system_cred */
    gnutls_certificate_credentials_t system_cred; /* the engine's system trust (borrowed) */
    unsigned verify_status;          /* our callback's verdict, GNUTLS_CERT_* flags */
    bool read_wants_write;           /* the last read stopped until the fd is writable */
    bool eof;                        /* the peer ended the stream (close_notify or FIN) */
    char name[256];                  /* the name sent (SNI) and checked */
    char why[240];                   /* the reason of a failure, for "TLS: why." */
    uint8_t *out;                    /* plaintext of a record GnuTLS took but could not
                                        send yet: it must be offered again, the same */
    size_t out_len;                  /* its length, 0 for none */
};

/* Marks the session failed with words for GnuTLS error `err`. */
void engi_tls_fail(struct engi_tls *t, int err);

#endif
