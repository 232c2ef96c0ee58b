/*
 * The HTTP client and small helpers every bench_client mode shares: a keep-alive
 * HTTP/1.1 connection to 127.0.0.1 (struct hconn) that can be driven blocking or from an
 * epoll loop, reading elements of sockgate's JSON list answers, and number arguments.
 * Every failure ends the process with a message (bench_die): a benchmark has nothing to
 * recover.
 */
#ifndef SOCKGATE_BENCH_HTTP_H
#define SOCKGATE_BENCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH_LOOPBACK 0x7f000001u   /* every connection goes to 127.0.0.1 */

/* Prints "bench_client: what: <errno text>" and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));
/* Monotonic time in seconds. */
double bench_now_s(void);
/* The decimal number s, which must lie in [lo, hi]; exits 2 otherwise. */
long bench_arg_long(const char *s, long lo, long hi);
/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY. */
int bench_tcp_connect(int port);
void bench_set_nonblocking(int fd);
/* Writes all of buf, waiting for room on a non-blocking socket. */
void bench_write_all(int fd, const char *buf, size_t len);

/* One keep-alive connection and its buffers, owned by the caller: hconn_open fills it,
 * hconn_close frees what it holds. */
struct hconn {
    int fd;                     /* keep-alive connection to the server */
    void *tls;                  /* its GnuTLS session with BENCH_TLS=1 (HTTPS), or NULL */
    char *tls_in;               /* ciphertext read ahead for it, as a browser's TLS does */
    size_t tls_len, tls_off;
    char *in;                   /* bytes read and not yet consumed */
    size_t inlen, incap;        /* their number, the buffer's size */
    int status;                 /* the parsed response's status */
    size_t hdrlen, bodylen;     /* its header and body sizes */
    char *out;                  /* request being built */
    size_t outcap;              /* its buffer's size */
    const char *extra;          /* header lines added to every request, or NULL */
};

/* Connects; with BENCH_TLS=1 in the environment, over HTTPS (blocking handshake, the
 * server's certificate not checked: a benchmark on loopback measures, it trusts). */
void hconn_open(struct hconn *h, int port);
void hconn_close(struct hconn *h);
/* Sends one request (body NULL: none; a body is sent as application/json). */
void hconn_send(struct hconn *h, const char *method, const char *path, const char *body);
/* 1 when a whole response is in h->in (status, hdrlen, bodylen set), 0 when more is
 * needed. Responses without Content-Length are not expected here. */
int hconn_parse(struct hconn *h);
/* Reads what is there; returns bytes read, 0 on EAGAIN. Dies on end of stream. */
ssize_t hconn_fill(struct hconn *h);
/* Reads until a whole response is in (hconn_parse). */
void hconn_wait(struct hconn *h);
/* Drops the parsed response from the input buffer. */
void hconn_consume(struct hconn *h);
/* The parsed response's body (bodylen bytes, not NUL-terminated). */
char *hconn_body(struct hconn *h);
/* A blocking call; the response stays in h until the next call. Returns the status. */
int hconn_call(struct hconn *h, const char *method, const char *path, const char *body);

/* Finds element `index` of a JSON list of strings (no escapes inside the ones we read):
 * its start and length, without the quotes. */
bool bench_list_item(const char *s, size_t len, int index, const char **start, size_t *n);
/* The parsed answer is ["cmd","ok",...]. */
bool bench_answer_ok(struct hconn *h);
/* Exits with the answer printed unless it is ["cmd","ok",...]. */
void bench_expect_ok(struct hconn *h, const char *what);
/* Creates a gateway socket connected to 127.0.0.1:port; writes its id (idlen bytes at
 * most, NUL included). */
void bench_gw_socket_connect(struct hconn *h, int port, char *id, size_t idlen);

#endif
