/*
 * Network isolation for tests that name destinations beyond loopback (10.x, 169.254.x,
 * ...) to prove the gateway refuses them. Such a test moves itself, and so every gateway
 * and peer it starts, into a network namespace of its own (unshare --net) where only lo
 * exists: if the policy ever regresses, the wrong answer fails the test and no packet
 * leaves the machine. The harness checks every request it sends and refuses to send one
 * that names a non-loopback address from outside such a namespace.
 */
#ifndef SOCKGATE_NETNS_H
#define SOCKGATE_NETNS_H

#include <stdbool.h>
#include <stddef.h>

/* Moves this process into a new network namespace (unshare(CLONE_NEWNET), in a new user
 * namespace when not root), brings lo up and checks that lo is the only interface. Call
 * first in main(), before any thread or child exists. Exits 1 with a message when that
 * is impossible: such a test must not run where it could reach a network. With
 * SOCKGATE_NETNS_OPTIONAL set (a container's build stage) it exits 77 instead, which
 * scripts/run-tests.sh counts as skipped. */
void hx_netns_enter(void);

/* True when this process sees no network interface but lo. */
bool hx_netns_isolated(void);

/* Finds, in text (len bytes), a literal address that is neither loopback nor unspecified:
 * a dotted IPv4 address in any numeric form (0177.0.0.1 is 127.0.0.1 to inet_aton and
 * 177.0.0.1 to a decimal reader: remote, then) or an IPv6 address. Copies the first one
 * into out (size bytes) and returns true. */
bool hx_names_remote_address(const char *text, size_t len, char *out, size_t size);

#endif
