/*
 * The echo peer of the benchmark: one thread, epoll, every connection's bytes written
 * straight back. It holds thousands of idle connections as well (the footprint run), so
 * it takes the hard open-file limit and keeps no per-connection state but a small output
 * buffer for the rare write that does not fit.
 *
 *   echo_server PORT      listens on 127.0.0.1:PORT, prints "ready", stops on SIGTERM
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BUF 65536

struct pending {
    size_t len, off;            /* bytes held and bytes already written */
    char data[];                /* what the socket did not take */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Connections are watched with their fd in the event data; a pending buffer, if any, is
 * kept in a table by fd. */
static struct pending **held;
static size_t nheld;

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    if ((size_t)fd < nheld) {
        free(held[fd]);
        held[fd] = NULL;
    }
    close(fd);
}

/* Writes what is pending; returns 1 when all of it went out. */
static int flush_pending(int ep, int fd)
{
    struct pending *p = held[fd];
    while (p && p->off < p->len) {
        ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w <= 0) {
            drop(ep, fd);
            return 0;
        }
        p->off += (size_t)w;
    }
    free(p);
    held[fd] = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    return 1;
}

static void echo(int ep, int fd, char *buf)
{
    if (held[fd] && !flush_pending(ep, fd))
        return;
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t r = recv(fd, buf, ECHO_BUF, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            drop(ep, fd);
            return;
        }
        ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN)
            w = 0;
        if (w < 0) {
            drop(ep, fd);
            return;
        }
        if (w < r) {
            struct pending *p = malloc(sizeof(*p) + (size_t)(r - w));
            if (!p) {
                drop(ep, fd);
                return;
            }
            p->len = (size_t)(r - w);
            p->off = 0;
            memcpy(p->data, buf + w, p->len);
            held[fd] = p;
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    char *end;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: echo_server PORT\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    nheld = rl.rlim_cur > 1000000 ? 1000000 : rl.rlim_cur;
    held = calloc(nheld, sizeof(*held));
    char *buf = malloc(ECHO_BUF);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(0x7f000001u)};
    if (!held || !buf || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(ls, 4096) < 0) {
        perror("echo_server");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    if ((size_t)c >= nheld) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                flush_pending(ep, fd);
            else
                echo(ep, fd, buf);
        }
    }
    return 0;
}
