/*
 * Service names as ports ("http" is 80, "domain" 53), read once at start from
 * /etc/services. A request that names a service then costs a look-up in a sorted table
 * on the loop, where getservbyname would go through NSS, which may read files or ask a
 * directory server, and block.
 */
#ifndef SOCKGATE_SERVICES_H
#define SOCKGATE_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#define SERVICES_PATH "/etc/services"
#define SERVICES_MAX 8192            /* names (aliases included) kept at most */
#define SERVICES_MAX_FILE (1u << 20) /* bytes of the file read at most */

/* Parses text in the /etc/services format ("name port/proto alias... # comment") into
 * the table that services_port consults, replacing any earlier one. Entries beyond
 * SERVICES_MAX and malformed lines are skipped. Returns the number of names kept or
 * -ENOMEM. */
int services_parse(const char *text, size_t len);
/* Reads `path` (SERVICES_PATH) and parses it. Returns the number of names or -errno; a
 * missing file leaves an empty table: ports must then be numbers. */
int services_load(const char *path);
/* The port of service `name` (len bytes, spelled as in the file, as getservbyname wants
 * it) for SOCK_STREAM (tcp) or SOCK_DGRAM (udp). Returns 0 or -ENOENT. */
int services_port(const char *name, size_t len, int socktype, uint16_t *port);
/* Frees the table. */
void services_free(void);

#endif
