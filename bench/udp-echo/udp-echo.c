/*
 * udp-echo: the floor for a UDP echo server, for scripts/bench.sh to
 * measure sockd -u against. One thread, one socket, blocking
 * recvfrom/sendto: each datagram goes back to its sender as it came, and
 * nothing else is done (no transcript, no counting, no poll).
 *
 *   udp-echo IP PORT [PORT_FILE]
 *
 * Binds IP:PORT (port 0: the kernel chooses), writes the bound port to
 * PORT_FILE once it is serving (through a temporary file and rename, so a
 * reader never sees it half-written), and echoes until killed. Built by
 * scripts/bench.sh with `cc -O2`, not by cargo.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (fprintf(f, "%u\n", port) < 0 || fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: udp-echo IP PORT [PORT_FILE]\n");
        return 64;
    }
    struct addrinfo hints = {0}, *addr;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &addr);
    if (rc != 0) {
        fprintf(stderr, "udp-echo: %s %s: %s\n", argv[1], argv[2], gai_strerror(rc));
        return 64;
    }
    int fd = socket(addr->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, addr->ai_addr, addr->ai_addrlen) != 0) {
        fprintf(stderr, "udp-echo: bind %s %s: %s\n", argv[1], argv[2], strerror(errno));
        return 71;
    }
    freeaddrinfo(addr);
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) {
        perror("udp-echo: getsockname");
        return 71;
    }
    char service[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&local, local_len, NULL, 0, service, sizeof service,
                    NI_NUMERICSERV) != 0) {
        fprintf(stderr, "udp-echo: getnameinfo failed\n");
        return 71;
    }
    unsigned port = 0;
    sscanf(service, "%u", &port);
    if (argc == 4 && write_port_file(argv[3], port) != 0) {
        fprintf(stderr, "udp-echo: %s: %s\n", argv[3], strerror(errno));
        return 71;
    }
    /* The largest datagram IPv6 can carry fits; nothing is cut. */
    static char buf[65536];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("udp-echo: recvfrom");
            return 71;
        }
        /* A sender gone away (an ICMP error) is no reason to stop. */
        (void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peer_len);
    }
}
