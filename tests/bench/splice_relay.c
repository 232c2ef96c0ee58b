/*
 * The reference of the streaming benchmark (part h): the fastest a hop between two TCP
 * connections can be on this machine. For each client it connects to the target, passes
 * the client's request on, and splices the answer back through a pipe of the same size
 * as the bridge's, blocking, without framing or a loop to share. The bridge adds
 * WebSocket framing and its event loop to this; the gap between the two is what they cost.
 *
 *   splice_relay PORT TARGET_PORT    listens on 127.0.0.1:PORT, prints "ready", serves one
 *                                    client at a time until SIGTERM
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PIPE (1 << 20)         /* as the bridge's WS_PIPE_CAP */

static int loopback_socket(int port, bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (fd < 0)
        return -1;
    if (listening) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0)
            return -1;
    } else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One client: its request to the target, the target's answer back, until the target
 * closes. */
static void relay(int client, int target_port)
{
    char req[4096];
    int target = loopback_socket(target_port, false);
    ssize_t n = target >= 0 ? read(client, req, sizeof(req)) : -1;
    int p[2];
    if (n <= 0 || write(target, req, (size_t)n) != n || pipe2(p, O_CLOEXEC) < 0)
        goto out;
    fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE);
    for (;;) {
        ssize_t in = splice(target, NULL, p[1], NULL, RELAY_PIPE, SPLICE_F_MOVE);
        if (in <= 0)
            break;
        while (in > 0) {
            ssize_t w = splice(p[0], NULL, client, NULL, (size_t)in, SPLICE_F_MOVE);
            if (w <= 0)
                goto done;
            in -= w;
        }
    }
done:
    close(p[0]);
    close(p[1]);
out:
    if (target >= 0)
        close(target);
    shutdown(client, SHUT_WR);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: splice_relay PORT TARGET_PORT\n");
        return 2;
    }
    int l = loopback_socket(atoi(argv[1]), true);
    if (l < 0) {
        perror("splice_relay: listen");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0 && errno == EINTR)
            continue;
        if (c < 0)
            return 1;
        relay(c, atoi(argv[2]));
        /* The client reads to our FIN; its own FIN ends the connection cleanly. */
        char sink[4096];
        while (read(c, sink, sizeof(sink)) > 0)
            ;
        close(c);
    }
}
