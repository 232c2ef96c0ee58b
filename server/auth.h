/*
 * Credentials: which token a request carries, and so which owner its sockets belong to.
 * With no token configured every request is owner 0. Tokens are compared in constant
 * time and never logged.
 */
#ifndef SOCKGATE_AUTH_H
#define SOCKGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "server.h"

/* The owner number of the request's credential (Authorization: Bearer, or ?token=), or -1
 * when tokens are configured and it carries none that matches. */
int auth_owner(struct srv *s, struct MHD_Connection *conn, const struct args_kv *q, size_t nq);

/* Makes a random token (32 hex digits) into buf (at least 33 bytes). Returns 0 or -errno. */
int auth_generate_token(char *buf, size_t len);

/* Compares two byte strings in time that depends only on their lengths. */
bool auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
