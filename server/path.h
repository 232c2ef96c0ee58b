/*
 * Splitting a request path into its segments ("/sockets/s1/recv" is "sockets", "s1",
 * "recv"), the first step of routing (routes.c). Pure: no HTTP, no allocation, so it is
 * fuzzed on its own (tests/fuzz/fuzz_path.c).
 */
#ifndef SOCKGATE_PATH_H
#define SOCKGATE_PATH_H

#define PATH_SEG_SIZE 72             /* a segment's bytes, its NUL included */

/* Splits url into at most max_segs segments, NUL-terminated, into segs. Slashes separate
 * segments; leading, trailing and repeated ones are ignored. Returns the number of
 * segments, or -1 when there are more than max_segs or one is PATH_SEG_SIZE or longer. */
int path_split(const char *url, char segs[][PATH_SEG_SIZE], int max_segs);

#endif
