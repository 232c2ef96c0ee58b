/*
 * Logging to stderr: start-up lines (listen address, policy, console URL) and one access
 * line per request, as text or JSON. Tokens never appear: the path is logged without its
 * query string.
 */
#ifndef SOCKGATE_LOG_H
#define SOCKGATE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "server.h"

/* Makes stderr fully buffered: a write per line, let alone per loop turn, cost a tenth
 * of a small command's time. Call first thing in main. */
void log_buffer_stderr(void);
/* Plugs the log into the loop: lines go out at most 50 ms after they were written (or
 * when the buffer fills), as nginx's access_log buffer=/flush= does. _stop flushes. */
void log_flush_start(struct srv *s);
void log_flush_stop(struct srv *s);

void log_line(const struct cfg *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list, for libmicrohttpd's messages (MHD_OPTION_EXTERNAL_LOGGER). */
void log_vline(const struct cfg *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* port: the one listened on, which the kernel chose when --listen gave port 0. */
void log_startup(const struct srv *s, bool token_generated, unsigned port);
/* The access line of r, with its method and path as copied when it began. */
void log_access(const struct srv_req *r);

#endif
