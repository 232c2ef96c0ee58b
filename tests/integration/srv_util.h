/*
 * Helpers shared by the tests that start a server of their own per test (test_auth,
 * test_policy_net, test_cors, test_limits), on top of harness.h: servers tracked so a
 * failed test's teardown still stops them, requests with a credential, the refusal
 * check, the server log, and a server listening beyond loopback.
 */
#ifndef SOCKGATE_SRV_UTIL_H
#define SOCKGATE_SRV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* hx_start and hx_start_env, remembering the server for su_stop_leftovers. */
void su_start(struct hx_server *s, const char *const *args);
void su_start_env(struct hx_server *s, const char *const *args, const char *const *env,
                  uint16_t port);
void su_start_nofile(struct hx_server *s, const char *const *args, unsigned nofile);
/* Starts the server with the LD_PRELOAD shim tests/shim/shim_<name>.c (built into
 * $SOCKGATE_SHIM_DIR) and `extra_env` ("NAME=value", may be NULL) in its environment. */
void su_start_shim(struct hx_server *s, const char *name, const char *const *args,
                   const char *extra_env);
/* The number a shim wrote to `path` (SOCKGATE_SHIM_COUNT_FILE), 0 when there is none. */
unsigned long su_read_count(const char *path);
/* A test's teardown: kills every server started since the last call that still runs. A
 * failed assertion jumps past the test's own hx_stop, and a leftover server would also
 * hold the test's stdout open for whoever reads it. Always returns 0. */
int su_stop_leftovers(void **state);

/* A refusal given before the command runs (AUTH, a cross-origin DENIED, a connection
 * LIMIT): the status, ["<name>", "NAME: description."], JSON. Element 1 names the
 * endpoint or command, which is not what these tests are about, so it is not pinned. */
void su_expect_refused(const struct hx_response *r, int status, const char *name);

/* A request with `Authorization: Bearer token` (token NULL: none) and extra header lines
 * (headers NULL: none); free r with hx_response_free. */
void su_req_auth(const struct hx_server *s, const char *method, const char *path,
                 const char *token, const char *headers, const char *body,
                 struct hx_response *r);
/* POST /sockets with a token (may be NULL) and body; expects 201 and writes the id (64
 * bytes). */
void su_socket_auth(const struct hx_server *s, const char *token, const char *body, char *id);
/* POST /sockets/<id>/<cmd> with a token and a printf-formatted body (fmt NULL: none). */
void su_cmd_auth(const struct hx_server *s, const char *token, const char *id,
                 const char *cmd, struct hx_response *r, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A gateway socket (made with token, may be NULL) connected to a fresh loopback
 * listener; writes its id and returns the test's accepted peer. */
int su_connect_pair(const struct hx_server *s, const char *token, char *id);

/* Reads the server log (at most cap - 1 bytes) into buf; returns its length. */
size_t su_read_log(const struct hx_server *s, char *buf, size_t cap);
/* Waits (at most 3 s) until the server log holds `needle`; returns a pointer into buf,
 * or fails the test. */
const char *su_wait_log(const struct hx_server *s, const char *needle, char *buf, size_t cap);

/* Starts with a later "--listen 0.0.0.0:<port>" so the server listens beyond loopback;
 * the test still talks to it on 127.0.0.1:<port>. extra: NULL-terminated, at most 8. */
void su_start_exposed(struct hx_server *s, const char *const *extra);

/* Reads from fd until end of stream or timeout_ms; returns the bytes (NUL-terminated,
 * at most cap - 1). */
size_t su_read_all(int fd, char *buf, size_t cap, int timeout_ms);
/* Runs the server binary ($SOCKGATE_BIN) with args (NULL-terminated, at most 14) and one
 * NAME=value in its environment (or NULL); its stdout and stderr go to out. Returns its
 * exit status, or -1 when it was still running after about 2.5 s (it took the settings
 * and ran on) or died of a signal. */
int su_run_binary(const char *const *args, const char *env, char *out, size_t outlen);

#endif
