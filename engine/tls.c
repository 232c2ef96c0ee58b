/*
 * Client TLS sessions with GnuTLS (see tls.h): credentials from the arguments of connect
 * and starttls, a non-blocking handshake the loop drives, and GnuTLS's verdicts turned
 * into words a person can act on ("certificate signed by an unknown authority"). The
 * system's trusted CAs are parsed once per engine, when it is made, never per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "tls_int.h"

#define TLS_DEFAULT_HANDSHAKE_S 10.0

struct engi_tls_shared {
    gnutls_certificate_credentials_t system; /* the system's CAs, no client certificate */
};

struct engi_tls_opts {
    char *servername;                /* SNI and the name checked; owned, may be NULL */
    bool verify;                     /* check the chain and the name */
    char *ca, *cert, *key;           /* owned PEM texts, or NULL */
    gnutls_certificate_credentials_t cred; /* built for these options, or NULL: shared */
    bool system_trust;               /* cred has a client certificate and no CAs: the chain
                                        is checked against the engine's system trust */
    bool prepared;                   /* engi_tls_opts_prepare succeeded */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int engi_tls_opts_new(const struct eng_tls_args *args, const char *host,
                      struct engi_tls_opts **out)
{
    struct engi_tls_opts *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->verify = !args->no_verify;
    o->servername = dup_or_null(args->servername ? args->servername : host);
    o->ca = dup_or_null(args->ca);
    o->cert = dup_or_null(args->cert);
    o->key = dup_or_null(args->key);
    if ((!o->servername && (args->servername || host)) || (!o->ca && args->ca) ||
        (!o->cert && args->cert) || (!o->key && args->key)) {
        engi_tls_opts_free(o);
        return -ENOMEM;
    }
    *out = o;
    return 0;
}

void engi_tls_opts_free(struct engi_tls_opts *o)
{
    if (!o)
        return;
    if (o->cred)
        gnutls_certificate_free_credentials(o->cred);
    free(o->servername);
    free(o->ca);
    free(o->cert);
    free(o->key);
    free(o);
}

/* The engine's credentials with the system's CAs: parsing a few hundred certificates
 * takes tens of milliseconds, so it happens once, when the engine is made (and, should
 * that have failed, at first use), never per connect. */
static gnutls_certificate_credentials_t shared_system(struct eng *e)
{
    if (!e->tls_shared) {
        struct engi_tls_shared *sh = calloc(1, sizeof(*sh));
        if (!sh)
            return NULL;
        if (gnutls_certificate_allocate_credentials(&sh->system) < 0) {
            free(sh);
            return NULL;
        }
        /* A machine without a CA bundle still runs: verification then fails with
         * "unknown authority", which is what the user needs to know. */
        gnutls_certificate_set_x509_system_trust(sh->system);
        e->tls_shared = sh;
    }
    return e->tls_shared->system;
}

void engi_tls_engine_init(struct eng *e)
{
    shared_system(e);
}

void engi_tls_engine_free(struct eng *e)
{
    if (!e->tls_shared)
        return;
    gnutls_certificate_free_credentials(e->tls_shared->system);
    free(e->tls_shared);
    e->tls_shared = NULL;
}

uint64_t engi_tls_handshake_ms(const struct eng *e)
{
    double s = e->cfg.tls_handshake_timeout > 0 ? e->cfg.tls_handshake_timeout
                                                : TLS_DEFAULT_HANDSHAKE_S;
    return (uint64_t)(s * 1000.0 + 0.5);
}

static gnutls_datum_t datum_of(const char *text)
{
    return (gnutls_datum_t){.data = (unsigned char *)text, .size = (unsigned)strlen(text)};
}

/* GnuTLS calls this, in the handshake, for a session whose credentials carry a client
 * certificate and no CAs of their own: the chain and the name are checked against the
 * engine's system trust, and the verdict kept for the words of the error. */
static int verify_with_system_trust(gnutls_session_t session)
{
    struct engi_tls *t = gnutls_session_get_ptr(session);
    unsigned npeers = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &npeers);
    gnutls_x509_crt_t chain[16];
    unsigned n = 0;
    t->verify_status = GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND;
    for (unsigned i = 0; peers && i < npeers && i < 16; i++) {
        if (gnutls_x509_crt_init(&chain[n]) < 0)
            break;
        if (gnutls_x509_crt_import(chain[n], &peers[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(chain[n]);
            break;
        }
        n++;
    }
    gnutls_typed_vdata_st data[2] = {
        {.type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)t->name},
        {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER},
    };
    gnutls_x509_trust_list_t trust;
    gnutls_certificate_get_trust_list(t->system_cred, &trust);
    unsigned status = 0;
    if (n > 0 && gnutls_x509_trust_list_verify_crt2(trust, chain, n, data, 2, 0, &status,
                                                    NULL) >= 0)
        t->verify_status = status;
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(chain[i]);
    return t->verify_status ? GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR : 0;
}

int engi_tls_opts_prepare(struct eng *e, struct engi_tls_opts *o, char *why, size_t whylen)
{
    if (o->prepared)
        return 0;
    if ((o->cert != NULL) != (o->key != NULL)) {
        snprintf(why, whylen, "cert and key go together: give both or neither");
        return ENG_EINVAL;
    }
    if (!o->ca && !o->cert) {
        /* The common case shares the engine's credentials. */
        if (!shared_system(e)) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        o->prepared = true;
        return 0;
    }
    if (gnutls_certificate_allocate_credentials(&o->cred) < 0) {
        o->cred = NULL;
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    int rc;
    if (o->ca) {
        gnutls_datum_t ca = datum_of(o->ca);
        rc = gnutls_certificate_set_x509_trust_mem(o->cred, &ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            snprintf(why, whylen, "ca holds no PEM certificate%s%s", rc < 0 ? ": " : "",
                     rc < 0 ? gnutls_strerror(rc) : "");
            return ENG_EINVAL;
        }
    } else if (o->verify) {
        /* Parsing the system's CAs again for this one connection would hold the loop for
         * tens of milliseconds: the engine's parsed copy checks the chain instead. */
        if (!shared_system(e)) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        o->system_trust = true;
        gnutls_certificate_set_verify_function(o->cred, verify_with_system_trust);
    }
    if (o->cert) {
        gnutls_datum_t cert = datum_of(o->cert), key = datum_of(o->key);
        rc = gnutls_certificate_set_x509_key_mem(o->cred, &cert, &key, GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            snprintf(why, whylen, "cert and key are not a PEM certificate and its key: %s",
                     gnutls_strerror(rc));
            return ENG_EINVAL;
        }
    }
    o->prepared = true;
    return 0;
}

/* SNI carries host names only (RFC 6066): an address literal is checked, not sent. */
static bool is_address_literal(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int engi_tls_begin(struct eng_socket *s, struct engi_tls_opts *o, char *why, size_t whylen)
{
    struct engi_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    snprintf(t->name, sizeof(t->name), "%s", o->servername ? o->servername : "");
    t->verify = o->verify;
    t->gave_cert = o->cert != NULL;
    if (gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        free(t);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    gnutls_certificate_credentials_t cred = o->cred ? o->cred : s->e->tls_shared->system;
    int rc = gnutls_set_default_priority(t->session);
    if (rc >= 0)
        rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, cred);
    if (rc >= 0 && t->name[0] && !is_address_literal(t->name))
        rc = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, t->name, strlen(t->name));
    if (rc >= 0 && t->verify) {
        if (!t->name[0]) {
            gnutls_deinit(t->session);
            free(t);
            snprintf(why, whylen, "no name to check the certificate against: give servername, "
                     "or verify=false");
            return ENG_EINVAL;
        }
        if (o->system_trust) {
            /* Checked by verify_with_system_trust, from the credentials. */
            t->own_verify = true;
            t->system_cred = s->e->tls_shared->system;
            gnutls_session_set_ptr(t->session, t);
        } else {
            gnutls_session_set_verify_cert(t->session, t->name, 0);
        }
    }
    if (rc < 0) {
        gnutls_deinit(t->session);
        free(t);
        snprintf(why, whylen, "%s", gnutls_strerror(rc));
        return ENG_ETLS;
    }
    /* The loop keeps the deadline (engi_tls_handshake_ms); GnuTLS's own would count
     * from the first call and fail a slow but live peer on its own terms. */
    gnutls_handshake_set_timeout(t->session, 0);
    gnutls_transport_set_int(t->session, s->fd);
    /* The credentials live as long as the session that uses them. */
    t->own_cred = o->cred;
    o->cred = NULL;
    t->state = ENGI_TLS_HANDSHAKING;
    s->tls = t;
    return 0;
}

/* Copies a GnuTLS text without its final period: ours adds one. */
static void put_text(char *buf, size_t len, const char *prefix, const char *text)
{
    int n = snprintf(buf, len, "%s%s", prefix, text);
    if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
        buf[n - 1] = '\0';
}

/* The one reason a certificate was refused that a person should hear first. */
static void describe_status(const struct engi_tls *t, unsigned status, char *buf, size_t len)
{
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
        snprintf(buf, len, "certificate signed by an unknown authority");
    else if (status & GNUTLS_CERT_EXPIRED)
        snprintf(buf, len, "the certificate has expired");
    else if (status & GNUTLS_CERT_NOT_ACTIVATED)
        snprintf(buf, len, "the certificate is not valid yet");
    else if (status & GNUTLS_CERT_REVOKED)
        snprintf(buf, len, "the certificate has been revoked");
    else if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
        snprintf(buf, len, "name mismatch: the certificate is not valid for %.120s", t->name);
    else if (status & GNUTLS_CERT_SIGNER_NOT_CA)
        snprintf(buf, len, "the certificate's signer is not a certificate authority");
    else if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        snprintf(buf, len, "the certificate is signed with an insecure algorithm");
    else
        snprintf(buf, len, "the certificate is not trusted (status 0x%x)", status);
}

/* Words for a fatal alert from the server. */
static void describe_alert(const struct engi_tls *t, char *buf, size_t len)
{
    gnutls_alert_description_t a = gnutls_alert_get(t->session);
    bool asked = gnutls_certificate_client_get_request_status(t->session) != 0;
    const char *name = gnutls_alert_get_name(a);
    if (a == GNUTLS_A_CERTIFICATE_REQUIRED ||
        (asked && !t->gave_cert &&
         (a == GNUTLS_A_HANDSHAKE_FAILURE || a == GNUTLS_A_BAD_CERTIFICATE)))
        snprintf(buf, len, "client certificate required: the server refused the connection "
                 "without one");
    else if (t->gave_cert && (a == GNUTLS_A_BAD_CERTIFICATE || a == GNUTLS_A_UNKNOWN_CA ||
                              a == GNUTLS_A_CERTIFICATE_UNKNOWN ||
                              a == GNUTLS_A_UNSUPPORTED_CERTIFICATE ||
                              a == GNUTLS_A_CERTIFICATE_EXPIRED || a == GNUTLS_A_DECRYPT_ERROR ||
                              /* OpenSSL's answer to a certificate it cannot verify */
                              (asked && a == GNUTLS_A_HANDSHAKE_FAILURE)))
        snprintf(buf, len, "the server rejected the client certificate (%s)",
                 name ? name : "alert");
    else if (a == GNUTLS_A_UNRECOGNIZED_NAME)
        snprintf(buf, len, "the server does not serve the name %.120s", t->name);
    else if (a == GNUTLS_A_PROTOCOL_VERSION)
        snprintf(buf, len, "handshake failure: no TLS version in common with the server");
    else if (a == GNUTLS_A_HANDSHAKE_FAILURE)
        snprintf(buf, len, "handshake failure: the server refused the handshake");
    else
        snprintf(buf, len, "the server sent a fatal alert: %s", name ? name : "unknown");
}

void engi_tls_fail(struct engi_tls *t, int err)
{
    char *buf = t->why;
    size_t len = sizeof(t->why);
    switch (err) {
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    case GNUTLS_E_CERTIFICATE_ERROR:
        describe_status(t, t->own_verify ? t->verify_status
                                         : gnutls_session_get_verify_cert_status(t->session),
                        buf, len);
        break;
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        describe_alert(t, buf, len);
        break;
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PUSH_ERROR:
        snprintf(buf, len, "handshake failure: the peer closed the connection");
        break;
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_RECORD_OVERFLOW:
        snprintf(buf, len, "handshake failure: the peer does not speak TLS here");
        break;
    default:
        put_text(buf, len, t->state == ENGI_TLS_HANDSHAKING ? "handshake failure: " : "",
                 gnutls_strerror(err));
        break;
    }
    if (t->state == ENGI_TLS_OPEN && err != GNUTLS_E_FATAL_ALERT_RECEIVED &&
        strncmp(buf, "handshake failure: ", 19) == 0) {
        /* After the handshake the same errors mean a broken record stream. */
        memmove(buf, buf + 19, strlen(buf + 19) + 1);
    }
    t->state = ENGI_TLS_FAILED;
}

int engi_tls_handshake(struct eng_socket *s)
{
    struct engi_tls *t = s->tls;
    if (t->state == ENGI_TLS_OPEN)
        return 1;
    if (t->state == ENGI_TLS_FAILED)
        return ENG_ETLS;
    for (;;) {
        int rc = gnutls_handshake(t->session);
        if (rc == GNUTLS_E_SUCCESS) {
            t->state = ENGI_TLS_OPEN;
            return 1;
        }
        if (rc == GNUTLS_E_AGAIN)
            return 0;
        /* Interruptions and warning alerts are not the end of a handshake. */
        if (rc == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(rc))
            continue;
        engi_tls_fail(t, rc);
        return ENG_ETLS;
    }
}

void engi_tls_abandon(struct eng_socket *s, const char *why)
{
    struct engi_tls *t = s->tls;
    if (!t || t->state != ENGI_TLS_HANDSHAKING)
        return;
    snprintf(t->why, sizeof(t->why), "%s", why);
    t->state = ENGI_TLS_FAILED;
}

bool engi_tls_handshaking(const struct eng_socket *s)
{
    return s->tls && s->tls->state == ENGI_TLS_HANDSHAKING;
}

const char *engi_tls_why(const struct eng_socket *s)
{
    return s->tls && s->tls->why[0] ? s->tls->why : "the TLS session failed";
}

const char *engi_tls_state_name(const struct eng_socket *s)
{
    if (!s->tls)
        return "";
    switch (s->tls->state) {
    case ENGI_TLS_HANDSHAKING: return "handshake";
    case ENGI_TLS_OPEN: return "on";
    case ENGI_TLS_FAILED: return "failed";
    }
    return "";
}

void engi_tls_close(struct eng_socket *s)
{
    struct engi_tls *t = s->tls;
    if (!t)
        return;
    if (t->state == ENGI_TLS_OPEN) {
        /* One try each, never a wait: a record still held goes out if the socket takes
         * it, and the peer learns that the end is not a truncation. */
        engi_tx_flush(s);
        gnutls_bye(t->session, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(t->session);
    if (t->own_cred)
        gnutls_certificate_free_credentials(t->own_cred);
    free(t->out);
    free(t);
    s->tls = NULL;
}
