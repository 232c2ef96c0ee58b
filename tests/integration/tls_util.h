/*
 * Real TLS peers for the TLS tests, made at test time: a test CA and certificates signed
 * by it (localhost, a wrong name, an expired one, a client's) written by openssl into a
 * fresh folder, `openssl s_server` on a free loopback port, and the node STARTTLS line
 * server (starttls_server.js). Every process dies with its test; every wait is bounded.
 */
#ifndef SOCKGATE_TLS_UTIL_H
#define SOCKGATE_TLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tu_certs {
    char dir[128];                   /* the folder holding every file below */
    char *ca_pem;                    /* the test CA's certificate, PEM text */
    char *client_pem, *client_key;   /* a client certificate the CA signed, and its key */
};

/* Makes the CA and ca.pem, localhost.{pem,key} (DNS:localhost, IP:127.0.0.1),
 * wrong.{pem,key} (wrong.example), expired.{pem,key} (localhost, ended in 2020),
 * future.{pem,key} (localhost, valid only in 2099) and client.{pem,key}, then reads the PEM texts. Fails the test when openssl fails. */
void tu_certs_make(struct tu_certs *c);
void tu_certs_free(struct tu_certs *c);
/* The path of file `name` in the folder (static buffer of the caller: out, 256 bytes). */
const char *tu_path(const struct tu_certs *c, const char *name, char *out);

struct tu_proc {
    pid_t pid;                       /* the peer process */
    uint16_t port;                   /* its port on 127.0.0.1 */
};

/* Starts `openssl s_server -accept 127.0.0.1:<free port> -cert <cert> -key <key>` plus
 * extra arguments (NULL-terminated), and waits until it accepts connections. */
void tu_s_server(struct tu_proc *p, const struct tu_certs *c, const char *cert_name,
                 const char *const *extra);
/* Starts the node STARTTLS line server with the localhost certificate. */
void tu_starttls_server(struct tu_proc *p, const struct tu_certs *c);
void tu_proc_stop(struct tu_proc *p);

/* Writes s as a JSON string literal (quotes included) into out; fails the test when it
 * does not fit. Returns out. */
char *tu_json_str(const char *s, char *out, size_t cap);

#endif
