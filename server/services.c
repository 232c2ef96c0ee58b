/*
 * The service table (see services.h): one array of (name, protocol, port) sorted by name
 * and protocol, names held in one block of memory. The table is a process-wide one, set
 * at start and read by the argument parser; one thread uses it.
 */
#include "services.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct service {
    const char *name;                /* into names */
    uint16_t port;                   /* host order */
    bool udp;                        /* the udp entry, else tcp */
};

static struct service *table;
static size_t nentries;
static char *names;                  /* every name, NUL-terminated, one after another */

void services_free(void)
{
    free(table);
    free(names);
    table = NULL;
    names = NULL;
    nentries = 0;
}

static int compare(const char *a, size_t alen, bool audp, const struct service *b)
{
    size_t blen = strlen(b->name);
    int c = memcmp(a, b->name, alen < blen ? alen : blen);
    if (c == 0 && alen != blen)
        c = alen < blen ? -1 : 1;
    if (c == 0 && audp != b->udp)
        c = audp ? 1 : -1;
    return c;
}

static int by_name(const void *a, const void *b)
{
    const struct service *x = a;
    return compare(x->name, strlen(x->name), x->udp, b);
}

/* The next blank-separated word of line [*p, end), or NULL. */
static const char *word(const char **p, const char *end, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    const char *start = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    *len = (size_t)(*p - start);
    return *len ? start : NULL;
}

/* "80/tcp": the port and protocol, or false. */
static bool port_proto(const char *w, size_t len, uint16_t *port, bool *udp)
{
    unsigned long v = 0;
    size_t i = 0;
    while (i < len && w[i] >= '0' && w[i] <= '9' && v <= 65535)
        v = v * 10 + (unsigned long)(w[i++] - '0');
    if (i == 0 || v > 65535 || i >= len || w[i] != '/')
        return false;
    const char *proto = w + i + 1;
    size_t plen = len - i - 1;
    if (plen != 3 || (memcmp(proto, "tcp", 3) != 0 && memcmp(proto, "udp", 3) != 0))
        return false;
    *port = (uint16_t)v;
    *udp = proto[0] == 'u';
    return true;
}

int services_parse(const char *text, size_t len)
{
    services_free();
    /* Every name is at most the whole text, NUL-terminated: one block of len + entries. */
    names = malloc(len + SERVICES_MAX + 1);
    table = calloc(SERVICES_MAX, sizeof(*table));
    if (!names || !table) {
        services_free();
        return -ENOMEM;
    }
    size_t used = 0;
    const char *p = text, *end = text + len;
    while (p < end && nentries < SERVICES_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *hash = memchr(p, '#', (size_t)(line_end - p));
        const char *stop = hash ? hash : line_end;
        size_t nlen, plen;
        const char *name = word(&p, stop, &nlen);
        const char *pp = name ? word(&p, stop, &plen) : NULL;
        uint16_t port;
        bool udp;
        if (pp && port_proto(pp, plen, &port, &udp)) {
            /* The name, then each alias. */
            for (const char *w = name; w && nentries < SERVICES_MAX; w = word(&p, stop, &nlen)) {
                if (memchr(w, '\0', nlen))
                    continue;
                memcpy(names + used, w, nlen);
                names[used + nlen] = '\0';
                table[nentries++] = (struct service){.name = names + used, .port = port,
                                                     .udp = udp};
                used += nlen + 1;
            }
        }
        p = nl ? nl + 1 : end;
    }
    qsort(table, nentries, sizeof(*table), by_name);
    return (int)nentries;
}

int services_load(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        services_free();
        return err == -ENOENT ? 0 : err;
    }
    char *buf = malloc(SERVICES_MAX_FILE);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    ssize_t k;
    while (got < SERVICES_MAX_FILE && (k = read(fd, buf + got, SERVICES_MAX_FILE - got)) > 0)
        got += (size_t)k;
    close(fd);
    int n = services_parse(buf, got);
    free(buf);
    return n;
}

int services_port(const char *name, size_t len, int socktype, uint16_t *port)
{
    bool udp = socktype == SOCK_DGRAM;
    size_t lo = 0, hi = nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare(name, len, udp, &table[mid]);
        if (c == 0) {
            *port = table[mid].port;
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -ENOENT;
}
