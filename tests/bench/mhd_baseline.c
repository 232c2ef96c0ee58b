/*
 * The command-rate baseline: the smallest libmicrohttpd server a user would write to
 * answer one fixed JSON list, built against the same libmicrohttpd as sockgate. It runs
 * MHD's own epoll thread (MHD_USE_EPOLL_INTERNAL_THREAD), the mode the library's
 * examples lead to; `--external` instead drives MHD_run from a one-thread epoll loop, as
 * sockgate does, to separate the cost of the threading mode from the cost of our code.
 *
 *   mhd_baseline PORT [--external] [--tls CERT KEY] [--upgrade BYTES]
 *                                     prints "ready" once listening; SIGTERM stops it
 *
 * --upgrade answers every request with a 101 upgrade and then writes BYTES into the
 * upgraded connection (from a thread, blocking): what libmicrohttpd's own TLS carries
 * through an upgrade is what decides whether sockgate's WebSocket bridge can use it.
 */
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char body[] = "[\"getsockname\",\"ok\",\"127.0.0.1\",\"40000\"]";
static volatile sig_atomic_t stop;
static long upgrade_bytes;           /* --upgrade: bytes written into each upgrade */

/* Writes upgrade_bytes into the upgraded socket and leaves it open. */
static void *upgrade_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    for (long left = upgrade_bytes; left > 0;) {
        ssize_t w = write(fd, chunk, left < (long)sizeof(chunk) ? (size_t)left : sizeof(chunk));
        if (w <= 0)
            break;
        left -= w;
    }
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    (void)cls;
    (void)conn;
    (void)con_cls;
    (void)extra_in;
    (void)extra_in_size;
    (void)urh;
    pthread_t t;
    if (pthread_create(&t, NULL, upgrade_writer, (void *)(intptr_t)sock) == 0)
        pthread_detach(t);
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* SIGTERM and SIGINT are blocked before MHD starts its thread, so that the thread
 * inherits the mask and only the main thread's sigwait receives them. */
static void wait_for_stop(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    sigwait(&set, &sig);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    /* Answer on the second call: answering on the first closes keep-alive connections. */
    if (*con_cls == NULL) {
        *con_cls = conn;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (upgrade_bytes > 0) {
        struct MHD_Response *up = MHD_create_response_for_upgrade(on_upgrade, NULL);
        if (!up)
            return MHD_NO;
        MHD_add_response_header(up, MHD_HTTP_HEADER_UPGRADE, "sockgate-bench");
        enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, up);
        MHD_destroy_response(up);
        return r;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The whole of a small file (a PEM certificate or key), NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    if (buf && fread(buf, 1, 65535, f) == 0) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    char *end;
    long port = argc >= 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc < 2 || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: mhd_baseline PORT [--external] [--tls CERT KEY] [--upgrade BYTES]\n");
        return 2;
    }
    int external = argc > 2 && strcmp(argv[2], "--external") == 0;
    signal(SIGPIPE, SIG_IGN);
    if (!external) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    } else {
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
    }
    unsigned flags = external ? MHD_USE_EPOLL : MHD_USE_EPOLL_INTERNAL_THREAD;
    /* --tls CERT KEY: libmicrohttpd's own TLS (MHD_USE_TLS), the figure sockgate's HTTPS
     * listener is compared with. */
    int opt = 2 + external;
    char *cert = NULL, *key = NULL;
    if (argc > opt + 2 && strcmp(argv[opt], "--tls") == 0) {
        cert = slurp(argv[opt + 1]);
        key = slurp(argv[opt + 2]);
        if (!cert || !key) {
            fprintf(stderr, "mhd_baseline: cannot read %s or %s\n", argv[opt + 1], argv[opt + 2]);
            return 1;
        }
        opt += 3;
    }
    if (argc > opt + 1 && strcmp(argv[opt], "--upgrade") == 0) {
        upgrade_bytes = strtol(argv[opt + 1], &end, 10);
        flags |= MHD_ALLOW_UPGRADE;
    }
    struct MHD_Daemon *d =
        cert ? MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, handler, NULL,
                                MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_END)
             : MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_baseline: cannot listen on %s\n", argv[1]);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    if (!external) {
        wait_for_stop();
    } else {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, di->epoll_fd, &ev);
        while (!stop) {
            MHD_UNSIGNED_LONG_LONG t;
            int timeout = MHD_get_timeout(d, &t) == MHD_YES ? (int)(t > 1000 ? 1000 : t) : 1000;
            struct epoll_event out;
            epoll_wait(ep, &out, 1, timeout);
            MHD_run(d);
        }
        close(ep);
    }
    MHD_stop_daemon(d);
    free(cert);
    free(key);
    return 0;
}
