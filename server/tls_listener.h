/*
 * The gateway's own HTTPS listener (--tls-cert/--tls-key). TLS ends here, on the loop,
 * before libmicrohttpd: each client's handshake runs as a GnuTLS server session, and the
 * plaintext is relayed through a socketpair whose other end libmicrohttpd serves as an
 * ordinary connection (MHD_add_connection, with the client's real address so limits and
 * logs stay right). libmicrohttpd 0.9.75's own TLS moves an upgraded (WebSocket)
 * connection a few bytes per MHD_run, so REST, events, the console and wss:// all take
 * this path instead; see the README's "Exposing the gateway with TLS".
 */
#ifndef SOCKGATE_TLS_LISTENER_H
#define SOCKGATE_TLS_LISTENER_H

struct srv;

/* Loads the certificate and key and starts listening on cfg->listen. Returns 0, or -1
 * after printing why. */
int tlsl_start(struct srv *s);
/* The port it listens on (the kernel's choice when --listen gave port 0), or 0. */
unsigned tlsl_port(const struct srv *s);
/* Closes the listener and every connection. Accepts a server without one. */
void tlsl_stop(struct srv *s);
/* Reads the certificate and key files again (SIGHUP): new connections use them, open
 * ones keep theirs. Logs the outcome; a bad pair leaves the old one in use. */
void tlsl_reload(struct srv *s);

#endif
