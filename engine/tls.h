/*
 * Client TLS for engine sockets (GnuTLS) and the transport every read and write of a
 * stream goes through, plain or TLS. Internal to engine/: the names carry the engi_
 * prefix, and only engine_int.h includes this header.
 *
 * A socket's TLS state (struct engi_tls) is created by a handshake that a connect with
 * `tls` or a starttls drives from the loop, and it is freed when the socket closes. After
 * a failed handshake or a fatal alert the state stays, failed, so that every later data
 * command answers `TLS: <why>.` until the socket is closed.
 */
#ifndef SOCKGATE_ENGINE_TLS_H
#define SOCKGATE_ENGINE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct eng;
struct eng_op;
struct eng_socket;
struct eng_tls_args;

/* An operation's owned copy of its TLS arguments and the credentials built from them. */
struct engi_tls_opts;

/* Copies the TLS arguments of a connect or starttls for an operation that may outlive
 * its request. Returns 0 (and NULL for a connect without tls) or -ENOMEM. */
int engi_tls_opts_new(const struct eng_tls_args *args, const char *host,
                      struct engi_tls_opts **out);
void engi_tls_opts_free(struct engi_tls_opts *o);
/* Builds the credentials the arguments ask for (PEM parsing happens here, before any
 * connection is made). Returns 0, or ENG_EINVAL with why filled in. */
int engi_tls_opts_prepare(struct eng *e, struct engi_tls_opts *o, char *why, size_t whylen);

/* Starts a client handshake on s (connected, plain) with the operation's options, which
 * hand their credentials over. Returns 0 or a negative code with why filled in. */
int engi_tls_begin(struct eng_socket *s, struct engi_tls_opts *o, char *why, size_t whylen);
/* Advances the handshake. Returns 1 when it is done, 0 when it must wait for the events
 * engi_tx_events tells, or ENG_ETLS when it failed (engi_tls_why says why). */
int engi_tls_handshake(struct eng_socket *s);
/* Marks a handshake that will not finish (its wait ran out or was withdrawn) failed. */
void engi_tls_abandon(struct eng_socket *s, const char *why);
/* True while a handshake is in progress: reads and writes must wait for it. */
bool engi_tls_handshaking(const struct eng_socket *s);
/* The text after "TLS: " for a failed socket. */
const char *engi_tls_why(const struct eng_socket *s);
/* "" (plain), "handshake", "on" or "failed", for listings. */
const char *engi_tls_state_name(const struct eng_socket *s);
/* Sends close_notify (best effort, without waiting) and frees the TLS state. */
void engi_tls_close(struct eng_socket *s);
/* The engine's shared state: the system's trusted CAs, parsed when the engine is made
 * (tens of milliseconds that must not fall on the loop at a first connect). A failure
 * there is retried at first use. */
void engi_tls_engine_init(struct eng *e);
void engi_tls_engine_free(struct eng *e);
/* A handshake's deadline of its own, in ms. */
uint64_t engi_tls_handshake_ms(const struct eng *e);

/* ---- the transport (transport.c): what commands and streams read and write ---- */

/* Reads up to cap bytes of the stream: from the kernel, or decrypted. Returns the count,
 * 0 at the end of the stream, -EAGAIN when nothing is there now, ENG_ETLS, or -errno.
 * from/fromlen as for recvfrom (plain datagram sockets fill them; may be NULL). */
ssize_t engi_tx_recv(struct eng_socket *s, void *buf, size_t cap, struct sockaddr *from,
                     socklen_t *fromlen);
/* Writes up to len bytes. Returns how many were taken (TLS may hold a record until the
 * socket is writable: those count as taken), -EAGAIN, ENG_ETLS or -errno. */
ssize_t engi_tx_send(struct eng_socket *s, const void *buf, size_t len,
                     const struct sockaddr *dest, socklen_t destlen);
/* Bytes a read would return now without the kernel: given back and held by TLS. The
 * kernel's count is added for a plain socket; a TLS socket first decrypts what the kernel
 * holds (up to a cap) so that the count is of plaintext. Returns the count or a code. */
long engi_tx_readable(struct eng_socket *s);
/* An upper bound on what one read may return, for sizing its buffer. */
size_t engi_tx_read_hint(struct eng_socket *s, size_t cap);
/* Decrypted bytes that TLS holds already, which epoll will never report. */
size_t engi_tx_held(const struct eng_socket *s);
/* The epoll events the transport needs for its own sake: EPOLLOUT while a TLS record
 * waits to go out, EPOLLIN/EPOLLOUT for a handshake. */
uint32_t engi_tx_events(const struct eng_socket *s);
/* Pushes out a held TLS record if the socket takes it. Returns 0, -EAGAIN or a code. */
int engi_tx_flush(struct eng_socket *s);
/* Ends the writing half once everything is written: TLS close_notify, then a FIN.
 * Returns 0, -EAGAIN (call again when writable) or a code. */
int engi_tx_shutdown_write(struct eng_socket *s);

#endif
