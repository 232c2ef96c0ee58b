/*
 * libFuzzer harness for cfg_parse_listen (server/config.c), the --listen HOST:PORT parser
 * ("127.0.0.1:8080", "[::1]:80", ":8080", "localhost:80", "*:80"). It aborts when an
 * accepted text does not round-trip: the address it gave, written back in the canonical
 * form, must parse to the same address and port, and that port must be the text's own.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_listen: %s ('%s')\n", what, text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct sockaddr_storage ss, again;
    if (cfg_parse_listen(text, &ss) == 0) {
        char host[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN + 16];
        unsigned port;
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
            port = ntohs(in4->sin_port);
            snprintf(canon, sizeof(canon), "%s:%u", host, port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
            snprintf(canon, sizeof(canon), "[%s]:%u", host, port);
        } else {
            fail("an address of no family", text);
        }
        const char *colon = strrchr(text, ':');
        if (!colon || strtoul(colon + 1, NULL, 10) != port)
            fail("the port is not the text's", text);
        if (cfg_parse_listen(canon, &again) != 0 || memcmp(&ss, &again, sizeof(ss)) != 0)
            fail("the canonical form does not parse back to the same address", text);
    }
    free(text);
    return 0;
}
