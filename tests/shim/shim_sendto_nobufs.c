/*
 * LD_PRELOAD shim for the fault tests: sendto on a datagram socket fails with ENOBUFS,
 * as Linux answers when a device queue is full, while a datagram socket still polls
 * writable. Every call is counted, and the count is written to the file named by
 * SOCKGATE_SHIM_COUNT_FILE, so a test can tell one attempt from a busy loop of them
 * without measuring time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long calls;

static void write_count(void)
{
    const char *path = getenv("SOCKGATE_SHIM_COUNT_FILE");
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char text[32];
    int n = snprintf(text, sizeof(text), "%lu\n", calls);
    ssize_t w = write(fd, text, (size_t)n);
    (void)w;
    close(fd);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *,
                            socklen_t))dlsym(RTLD_NEXT, "sendto");
    int type = 0;
    socklen_t tl = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM) {
        calls++;
        write_count();
        errno = ENOBUFS;
        return -1;
    }
    return real(fd, buf, len, flags, to, tolen);
}
