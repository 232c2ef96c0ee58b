/*
 * JSON out: answer lists with their data encoded, and the socket listings. The returned
 * strings are malloc'd and belong to the caller.
 */
#ifndef SOCKGATE_RENDER_H
#define SOCKGATE_RENDER_H

#include <stddef.h>

#include "codec.h"
#include "engine.h"

/* ["recv","ok","..."]: text elements JSON-escaped, data elements in `enc`. NULL on
 * allocation failure. */
char *render_list(const struct eng_list *l, enum codec_encoding enc, size_t *len);
/* The same in two steps, for a caller with room of its own: the bytes render_list_into
 * may write (its NUL included), then the writing; returns the length without the NUL. */
size_t render_list_max(const struct eng_list *l, enum codec_encoding enc);
size_t render_list_into(const struct eng_list *l, enum codec_encoding enc, char *buf);

/* A two-element error list for a request that did not reach a socket:
 * [name, "NAME: detail."]. */
char *render_error(const char *name, int code, const char *detail, size_t *len);

/* One socket as a JSON object. */
char *render_socket_info(const struct eng_socket_info *info, size_t *len);

/* {"sockets":[...]} for every socket of `owner`. */
char *render_socket_list(struct eng *e, int owner, size_t *len);

/* Writes s as the inside of a JSON string (quote, backslash and control bytes escaped);
 * returns the bytes written. `out` holds 6 * len. The one JSON escaper: lists and log
 * lines alike. */
size_t render_json_escape(const char *s, size_t len, char *out);

#endif
