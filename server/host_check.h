/*
 * The Host header check against DNS rebinding (cors.c): does a Host header ("name",
 * "name:port", "[v6]:port") name this machine's loopback? Pure but for a one-entry cache,
 * so it is fuzzed on its own (tests/fuzz/fuzz_host.c).
 */
#ifndef SOCKGATE_HOST_CHECK_H
#define SOCKGATE_HOST_CHECK_H

#include <stdbool.h>

/* True when `host` names localhost or a name under it (RFC 6761), 127.0.0.0/8 or ::1,
 * with or without a port. */
bool host_is_loopback(const char *host);

#endif
