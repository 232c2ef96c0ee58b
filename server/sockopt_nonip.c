/*
 * setsockopt as libmicrohttpd 0.9.75 needs it behind the HTTPS listener. Every connection
 * there is a socketpair (tls_listener.c), which has no TCP options. libmicrohttpd learns
 * that a socket is not TCP only from EINVAL, ENOPROTOOPT or ENOTSOCK, but Linux answers
 * EOPNOTSUPP for a Unix socket, so it tried TCP_NODELAY and TCP_CORK again on every
 * answer: two system calls and two formatted log messages per request, a tenth of what
 * HTTPS cost. This definition, which the executable gives its libraries in place of
 * libc's, reports that EOPNOTSUPP as ENOPROTOOPT, the same fact in the word
 * libmicrohttpd knows; it then never asks that connection again. Every other result is
 * the kernel's own, untouched.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    long rc = syscall(SYS_setsockopt, fd, level, name, value, len);
    if (rc < 0 && errno == EOPNOTSUPP && level == IPPROTO_TCP)
        errno = ENOPROTOOPT;
    return (int)rc;
}
