/*
 * LD_PRELOAD shim for the fault tests: after the process receives SIGUSR2, epoll_wait on
 * the first epoll instance the process made (sockgate's event loop; libmicrohttpd makes
 * its own later) fails with EINVAL, as it would on a corrupted descriptor, while every
 * other call keeps working. It proves that a failing loop is loud and still answers
 * what is in flight. Set SOCKGATE_SHIM_EPOLL_ERRNO to a number to fail with another errno.
 * With SOCKGATE_SHIM_EPOLL_CTL=1 it is epoll_ctl adding or changing a watch on that
 * instance that fails instead, with ENOSPC as when max_user_watches is reached.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static volatile sig_atomic_t armed;
static int loop_epfd = -1;
static int fail_errno = EINVAL;
static int fail_ctl;                 /* fail epoll_ctl instead of epoll_wait */

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
    const char *e = getenv("SOCKGATE_SHIM_EPOLL_ERRNO");
    if (e && atoi(e) > 0)
        fail_errno = atoi(e);
    fail_ctl = getenv("SOCKGATE_SHIM_EPOLL_CTL") != NULL;
    if (fail_ctl && !(e && atoi(e) > 0))
        fail_errno = ENOSPC;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    if (!real)
        real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
    if (fail_ctl && armed && epfd == loop_epfd && op != EPOLL_CTL_DEL) {
        errno = fail_errno;
        return -1;
    }
    return real(epfd, op, fd, ev);
}

static int note_first(int fd)
{
    if (fd >= 0 && loop_epfd < 0)
        loop_epfd = fd;
    return fd;
}

int epoll_create1(int flags)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "epoll_create1");
    return note_first(real(flags));
}

int epoll_create(int size)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "epoll_create");
    return note_first(real(size));
}

static int failing(int epfd)
{
    if (armed && !fail_ctl && epfd == loop_epfd) {
        errno = fail_errno;
        return 1;
    }
    return 0;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    static int (*real)(int, struct epoll_event *, int, int);
    if (!real)
        real = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
    if (failing(epfd))
        return -1;
    int n = real(epfd, events, maxevents, timeout);
    /* The signal that arms the shim interrupts the wait in progress. */
    if (n < 0 && errno == EINTR && failing(epfd))
        return -1;
    return n;
}

int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
                const sigset_t *mask)
{
    static int (*real)(int, struct epoll_event *, int, int, const sigset_t *);
    if (!real)
        real = (int (*)(int, struct epoll_event *, int, int, const sigset_t *))dlsym(
            RTLD_NEXT, "epoll_pwait");
    if (failing(epfd))
        return -1;
    int n = real(epfd, events, maxevents, timeout, mask);
    if (n < 0 && errno == EINTR && failing(epfd))
        return -1;
    return n;
}
