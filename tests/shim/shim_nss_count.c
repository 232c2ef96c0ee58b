/*
 * LD_PRELOAD shim for the tests that nothing blocks the loop: counts calls into NSS, the
 * name-service switch behind getservbyname, getaddrinfo, gethostbyname and getpwnam,
 * which may read files or ask a directory server and so block. The count is written to
 * the file named by SOCKGATE_SHIM_COUNT_FILE after each call, and each call is named on
 * stderr, so a test can tell that serving its requests made none.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long calls;

static void note(const char *what)
{
    calls++;
    char line[96];
    int n = snprintf(line, sizeof(line), "shim: NSS call %s\n", what);
    ssize_t w = write(2, line, (size_t)n);
    const char *path = getenv("SOCKGATE_SHIM_COUNT_FILE");
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd >= 0) {
        n = snprintf(line, sizeof(line), "%lu\n", calls);
        w = write(fd, line, (size_t)n);
        close(fd);
    }
    (void)w;
}

/* The next definition of `fn` (libc's), looked up once. */
#define REAL(fn)                                                                            \
    static __typeof__(&fn) real;                                                            \
    if (!real)                                                                              \
    real = (__typeof__(&fn))dlsym(RTLD_NEXT, #fn)

struct servent *getservbyname(const char *name, const char *proto)
{
    REAL(getservbyname);
    note("getservbyname");
    return real(name, proto);
}

int getservbyname_r(const char *name, const char *proto, struct servent *se, char *buf,
                    size_t len, struct servent **res)
{
    REAL(getservbyname_r);
    note("getservbyname_r");
    return real(name, proto, se, buf, len, res);
}

struct servent *getservbyport(int port, const char *proto)
{
    REAL(getservbyport);
    note("getservbyport");
    return real(port, proto);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    REAL(getaddrinfo);
    note("getaddrinfo");
    return real(node, service, hints, res);
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                char *serv, socklen_t servlen, int flags)
{
    REAL(getnameinfo);
    note("getnameinfo");
    return real(sa, salen, host, hostlen, serv, servlen, flags);
}

struct hostent *gethostbyname(const char *name)
{
    REAL(gethostbyname);
    note("gethostbyname");
    return real(name);
}

struct passwd *getpwnam(const char *name)
{
    REAL(getpwnam);
    note("getpwnam");
    return real(name);
}
