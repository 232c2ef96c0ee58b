/*
 * The destination policy: which addresses connect and sendto may reach. An open socket
 * gateway is a request-forgery tool, so the defaults refuse what a stranger should never
 * reach through it (cloud metadata on link-local, and, when the gateway listens beyond
 * loopback, the private networks behind it). Explicit --allow/--deny rules come first.
 */
#ifndef SOCKGATE_POLICY_H
#define SOCKGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct eng_policy;

/* Creates a policy. `exposed` is true when the server listens on a non-loopback address,
 * which adds loopback, private, CGNAT and unique-local networks to the refused ones. */
struct eng_policy *eng_policy_new(bool exposed);
void eng_policy_free(struct eng_policy *p);

/* Adds a rule "CIDR" or "CIDR:PORTS" (PORTS: "80", "8000-8100", "80,443"). Rules are
 * checked in the order added; the first that matches decides. Returns 0 or -EINVAL. */
int eng_policy_add(struct eng_policy *p, bool allow, const char *rule);

/* 0 when `sa` (address and port) may be reached, ENG_EDENIED when not. A NULL policy
 * allows everything. IPv6 forms that embed an IPv4 address are judged by that address,
 * and must also pass as the IPv6 address they are. */
int eng_policy_check(const struct eng_policy *p, const struct sockaddr *sa);

/* Writes a one-line description of the effective policy into buf. */
void eng_policy_describe(const struct eng_policy *p, char *buf, size_t len);

#endif
