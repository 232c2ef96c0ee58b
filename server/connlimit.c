/*
 * Connection counting (see connlimit.h): a small chained hash from client address to
 * the number of its open connections; each connection keeps its entry (http_conn.c), so
 * closing finds it without a lookup.
 */
#include "connlimit.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONNLIMIT_BUCKETS 4096u

struct connlimit_entry {
    uint8_t addr[16];                /* client address, IPv4 as v4-mapped */
    unsigned count;                  /* its open connections */
    struct connlimit_entry *next;           /* bucket chain */
};

struct connlimit {
    unsigned max_total, max_per_ip;  /* limits; 0 means none */
    unsigned total;                  /* open connections */
    struct connlimit_entry *buckets[CONNLIMIT_BUCKETS];
};

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_ip)
{
    struct connlimit *cl = calloc(1, sizeof(*cl));
    if (cl) {
        cl->max_total = max_total;
        cl->max_per_ip = max_per_ip;
    }
    return cl;
}

void connlimit_free(struct connlimit *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; i < CONNLIMIT_BUCKETS; i++)
        while (cl->buckets[i]) {
            struct connlimit_entry *e = cl->buckets[i];
            cl->buckets[i] = e->next;
            free(e);
        }
    free(cl);
}

static void addr_key(const struct sockaddr *sa, uint8_t out[16])
{
    memset(out, 0, 16);
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa && sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static size_t bucket_of(const uint8_t key[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h % CONNLIMIT_BUCKETS;
}

struct connlimit_entry *connlimit_open(struct connlimit *cl, const struct sockaddr *client)
{
    uint8_t key[16];
    addr_key(client, key);
    size_t b = bucket_of(key);
    struct connlimit_entry *e = cl->buckets[b];
    while (e && memcmp(e->addr, key, 16) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e)
            return NULL;
        memcpy(e->addr, key, 16);
        e->next = cl->buckets[b];
        cl->buckets[b] = e;
    }
    e->count++;
    cl->total++;
    return e;
}

void connlimit_close(struct connlimit *cl, struct connlimit_entry *e)
{
    if (!e)
        return;
    cl->total--;
    if (--e->count > 0)
        return;
    struct connlimit_entry **pp = &cl->buckets[bucket_of(e->addr)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    free(e);
}

bool connlimit_exceeded(const struct connlimit *cl, const struct connlimit_entry *e,
                        const char **why)
{
    if (cl->max_total && cl->total > cl->max_total) {
        *why = "too many HTTP connections; try again later";
        return true;
    }
    if (cl->max_per_ip && e && e->count > cl->max_per_ip) {
        *why = "too many HTTP connections from this address; try again later";
        return true;
    }
    return false;
}
