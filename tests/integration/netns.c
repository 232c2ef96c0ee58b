/*
 * The network namespace of a test (see netns.h). The namespace is made with unshare(2)
 * in the test process itself, so the gateway and the peers it starts inherit it and no
 * wrapper command is needed; lo is brought up with the same ioctl `ip link set lo up`
 * uses.
 */
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

bool hx_netns_isolated(void)
{
    /* if_nameindex asks the kernel over netlink, so it sees this namespace's interfaces
     * (/sys/class/net may still show the host's). */
    struct if_nameindex *ifs = if_nameindex();
    if (!ifs)
        return false;
    bool only_lo = true;
    for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
        if (strcmp(i->if_name, "lo") != 0)
            only_lo = false;
    if_freenameindex(ifs);
    return only_lo;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n == (ssize_t)strlen(text) ? 0 : -errno;
    close(fd);
    return err;
}

/* Without root, a user namespace in which this user is root gives the right to make a
 * network namespace, as `unshare --net --map-root-user` does. */
static int unshare_as_user(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
        return -errno;
    char map[64];
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) < 0)
        return -errno;
    write_file("/proc/self/setgroups", "deny\n");
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
    return write_file("/proc/self/gid_map", map);
}

static int lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int err = rc < 0 ? -errno : 0;
    close(fd);
    return err;
}

void hx_netns_enter(void)
{
    int rc = 0;
    if (unshare(CLONE_NEWNET) < 0)
        rc = unshare_as_user();
    if (rc == 0)
        rc = lo_up();
    if (rc < 0 || !hx_netns_isolated()) {
        /* A container's build stage may not make namespaces: there (and only where the
         * caller says so) the test is skipped, visibly, rather than run outside one. */
        bool optional = getenv("SOCKGATE_NETNS_OPTIONAL") != NULL;
        fprintf(stderr, "%sthis test names addresses beyond loopback and runs only in a network "
                        "namespace of its own (unshare --net), which could not be made here: "
                        "%s\n", optional ? "SKIPPED: " : "",
                rc < 0 ? strerror(-rc) : "interfaces besides lo are visible");
        exit(optional ? 77 : 1);
    }
}

static bool v4_is_local(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return (h >> 24) == 127 || h == 0;
}

static bool v6_is_local(const struct in6_addr *a)
{
    if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
        return true;
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
        struct in_addr v4;
        memcpy(&v4, &a->s6_addr[12], 4);
        return v4_is_local(v4);
    }
    return false;
}

/* A dotted quad read as four decimal numbers, leading zeros ignored, as some parsers
 * do: 0177.0.0.1 is 127.0.0.1 to inet_aton but 177.0.0.1 to them. */
static bool decimal_quad(const char *run, struct in_addr *out)
{
    unsigned b[4];
    char tail;
    if (sscanf(run, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
        strspn(run, "0123456789.") != strlen(run))
        return false;
    for (int i = 0; i < 4; i++)
        if (b[i] > 255)
            return false;
    out->s_addr = htonl(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    return true;
}

/* One candidate run of address characters: an IPv4 address needs three dots (so that a
 * timeout such as "0.5" is not read as 0.0.0.5), an IPv6 one two colons. A run is remote
 * when any reading of it is. */
static bool run_is_remote(const char *run)
{
    size_t dots = 0, colons = 0;
    for (const char *p = run; *p; p++) {
        dots += *p == '.';
        colons += *p == ':';
    }
    if (colons >= 2) {
        struct in6_addr a6;
        return inet_pton(AF_INET6, run, &a6) == 1 && !v6_is_local(&a6);
    }
    struct in_addr a4;
    if (dots != 3)
        return false;
    return (inet_aton(run, &a4) != 0 && !v4_is_local(a4)) ||
           (decimal_quad(run, &a4) && !v4_is_local(a4));
}

bool hx_names_remote_address(const char *text, size_t len, char *out, size_t size)
{
    static const char addr_chars[] = "0123456789abcdefABCDEFxX.:";
    size_t i = 0;
    while (i < len) {
        size_t n = 0;
        while (i + n < len && text[i + n] && strchr(addr_chars, text[i + n]))
            n++;
        if (n > 0 && n < 64) {
            char run[64];
            memcpy(run, text + i, n);
            run[n] = '\0';
            if (run_is_remote(run)) {
                snprintf(out, size, "%s", run);
                return true;
            }
        }
        i += n ? n : 1;
    }
    return false;
}
