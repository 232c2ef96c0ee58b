/*
 * Test harness for integration tests: starts the real build/sockgate (or $SOCKGATE_BIN)
 * on a free loopback port, talks real HTTP/1.1 to it over a plain socket, and provides
 * real loopback peers (TCP listeners, UDP sockets). Every wait is bounded.
 */
#ifndef SOCKGATE_HARNESS_H
#define SOCKGATE_HARNESS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hx_server {
    pid_t pid;                       /* the server process */
    uint16_t port;                   /* its HTTP port on 127.0.0.1 */
    char log_path[128];              /* its stderr */
};

/* Starts the server with extra flags (NULL-terminated list, may be empty) and waits for
 * /healthz. Fails the test when it does not come up within 10 s. */
void hx_start(struct hx_server *s, const char *const *extra_args);
/* Same, with "NAME=value" strings (NULL-terminated list, may be NULL) added to the
 * server's environment (SOCKGATE_TOKEN=...), on `port` (0: a free one). A test that
 * passes its own later "--listen 0.0.0.0:<port>" takes the port from hx_free_port(). */
void hx_start_env(struct hx_server *s, const char *const *extra_args, const char *const *env,
                  uint16_t port);
/* Same as hx_start_env, with the server's open-file limit (soft and hard) set to nofile:
 * for tests of what happens when descriptors run short. */
void hx_start_nofile(struct hx_server *s, const char *const *extra_args, unsigned nofile);
/* Sends SIGTERM and returns the exit status (or -1 when it did not exit in 10 s, after
 * which it is killed). */
int hx_stop(struct hx_server *s);

struct hx_response {
    int status;                      /* HTTP status */
    char headers[4096];              /* raw header block */
    char *body;                      /* NUL-terminated, malloc'd */
    size_t body_len;
    cJSON *json;                     /* parsed body, or NULL */
};

/* One request on a new connection; body may be NULL. Fails the test on a transport error.
 * Free the response with hx_response_free. */
void hx_request(const struct hx_server *s, const char *method, const char *path,
                const char *body, struct hx_response *out);
/* Same, with extra header lines ("Name: value\r\n" each); a Host line among them
 * replaces the default "Host: 127.0.0.1". */
void hx_request_h(const struct hx_server *s, const char *method, const char *path,
                  const char *headers, const char *body, struct hx_response *out);
void hx_response_free(struct hx_response *r);

/* Element i (0-based) of a JSON list answer as a string, or NULL. */
const char *hx_elem(const struct hx_response *r, int i);
/* Number of elements in a JSON list answer, or -1 when the body is not a list. */
int hx_len(const struct hx_response *r);
/* Asserts the body is a list of strings whose first two are `cmd` and one starting with
 * `outcome` ("ok" must match whole), and that the status is `status`. */
void hx_expect(const struct hx_response *r, int status, const char *cmd, const char *outcome);

/* POST /sockets with body, expects 201; returns the new id in id (64 bytes). */
void hx_socket(const struct hx_server *s, const char *body, char *id);
/* POST /sockets/<id>/<cmd> with body; convenience for the common case. */
void hx_cmd(const struct hx_server *s, const char *id, const char *cmd, const char *body,
            struct hx_response *out);

/* A real TCP listener on 127.0.0.1 (or ::1 when v6) with an OS-chosen port. */
int hx_tcp_listener(bool v6, uint16_t *port);
/* Accepts one connection within 5 s, or fails the test. */
int hx_accept(int listen_fd);
/* A UDP socket bound to 127.0.0.1 (or ::1) with an OS-chosen port. */
int hx_udp_socket(bool v6, uint16_t *port);
/* Connects a TCP client to 127.0.0.1:port (or ::1). */
int hx_tcp_connect(bool v6, uint16_t port);
/* Reads exactly n bytes within 5 s into buf, or fails the test. */
void hx_read_exact(int fd, void *buf, size_t n);
/* Writes all of buf, or fails the test. */
void hx_write_all(int fd, const void *buf, size_t n);
/* A free TCP port on 127.0.0.1 (bound and released). */
uint16_t hx_free_port(void);
/* CLOCK_MONOTONIC in milliseconds, for deadlines and elapsed times. */
long long hx_now_ms(void);

/* Opens a raw connection to the server and sends a request without reading the answer;
 * returns the fd. For tests of waits whose client goes away. */
int hx_send_only(const struct hx_server *s, const char *method, const char *path,
                 const char *body);
/* Reads one response from fd (after hx_send_only) within `timeout_ms`. */
void hx_read_response(int fd, int timeout_ms, struct hx_response *out);

#endif
