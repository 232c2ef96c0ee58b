/*
 * libFuzzer harness for the destination rules of engine/policy.c (--allow/--deny
 * CIDR[:PORTS]), the parser that stands between a gateway and the networks it must not
 * reach. The input's first line is a rule; the rest are probe addresses. It aborts when:
 *   - the same text is accepted once and refused another time;
 *   - a --deny rule lets through what the defaults alone refuse (a deny only adds);
 *   - an address the --allow rule refuses is let through by the --deny one (a rule that
 *     matches decides both ways; one that does not leaves both to the same defaults);
 *   - the policy's description is not one line of printable text.
 * ASan catches any read or write beyond the parser's buffers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errname.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *rule)
{
    fprintf(stderr, "fuzz_policy: %s (rule '%s')\n", what, rule);
    abort();
}

/* A probe address from a text line, IPv4 or IPv6, with a port from its last bytes. */
static int probe(const char *line, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, line, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, line, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return 0;
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *rule = text, *rest = strchr(text, '\n');
    if (rest)
        *rest++ = '\0';
    bool exposed = size > 0 && (data[size - 1] & 1);
    struct eng_policy *none = eng_policy_new(exposed);
    struct eng_policy *deny = eng_policy_new(exposed);
    struct eng_policy *allow = eng_policy_new(exposed);
    if (!none || !deny || !allow)
        goto out;
    int a = eng_policy_add(deny, false, rule);
    int b = eng_policy_add(allow, true, rule);
    if (a != b || (a != 0 && a != -EINVAL))
        fail("the same rule parsed two ways", rule);
    char desc[2048];
    eng_policy_describe(deny, desc, sizeof(desc));
    for (const char *p = desc; *p; p++)
        if ((unsigned char)*p < 0x20 && a == 0)
            fail("the description is not one printable line", rule);
    uint16_t port = 0;
    for (char *line = rest; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        port = (uint16_t)(port * 31 + 7);
        struct sockaddr_storage ss;
        if (probe(line, port, &ss) == 0) {
            const struct sockaddr *sa = (const struct sockaddr *)&ss;
            int by_none = eng_policy_check(none, sa);
            int by_deny = eng_policy_check(deny, sa);
            int by_allow = eng_policy_check(allow, sa);
            if (by_none == ENG_EDENIED && by_deny == 0)
                fail("a deny rule let through what the defaults refuse", rule);
            if (by_allow == ENG_EDENIED && by_deny == 0)
                fail("the allow rule refused what the deny rule let through", rule);
        }
        line = next;
    }
out:
    eng_policy_free(none);
    eng_policy_free(deny);
    eng_policy_free(allow);
    free(text);
    return 0;
}
