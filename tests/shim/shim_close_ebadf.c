/*
 * LD_PRELOAD shim for the fault tests: after the process receives SIGUSR2, the next
 * close() of a TCP connection closes it and then reports EBADF, which
 * libmicrohttpd 0.9.75 takes for a corrupted descriptor table and answers with its panic
 * (MHD_socket_close_chk_ -> MHD_PANIC). It proves that the gateway's panic handler
 * (server/http.c) logs the reason, flushed, before the process aborts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t armed;

static void arm(int sig)
{
    (void)sig;
    armed = 1;
}

__attribute__((constructor)) static void shim_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = arm;
    sigaction(SIGUSR2, &sa, NULL);
}

/* A TCP socket that is not a listener: an HTTP connection (the test makes no gateway
 * socket). Its peer may be gone already, so getpeername cannot tell. */
static int tcp_connection(int fd)
{
    int type = 0, domain = 0, listening = 1;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        return 0;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        (domain != AF_INET && domain != AF_INET6))
        return 0;
    len = sizeof(int);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && !listening;
}

int close(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (armed && tcp_connection(fd)) {
        armed = 0;
        real(fd);
        errno = EBADF;
        return -1;
    }
    return real(fd);
}
