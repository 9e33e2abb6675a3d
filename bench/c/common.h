/* Shared by the relay benchmark's tiny C endpoints: address parsing ("tcp:PORT" on 127.0.0.1,
 * "unix:PATH"), listening, connecting, and the verification pattern. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static inline void die(const char *what) { perror(what); exit(2); }

static inline socklen_t parse(const char *a, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (!strncmp(a, "tcp:", 4)) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(atoi(a + 4));
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *in;
    }
    if (!strncmp(a, "unix:", 5)) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        un->sun_family = AF_UNIX;
        strncpy(un->sun_path, a + 5, sizeof un->sun_path - 1);
        return sizeof *un;
    }
    fprintf(stderr, "bad address %s\n", a);
    exit(2);
}

static inline int listen_on(const char *a) {
    struct sockaddr_storage ss;
    socklen_t len = parse(a, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_UNIX) unlink(((struct sockaddr_un *)&ss)->sun_path);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

/* Connect, retrying for up to 5 s while the far side starts. */
static inline int connect_to(const char *a) {
    struct sockaddr_storage ss;
    socklen_t len = parse(a, &ss);
    for (int i = 0; i < 500; i++) {
        int fd = socket(ss.ss_family, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&ss, len) == 0) return fd;
        close(fd);
        usleep(10000);
    }
    die("connect");
    return -1;
}

/* The byte at offset o is pattern[o % PERIOD]; PERIOD is prime so no power-of-two chunking
 * can hide a lost, repeated or reordered block. pat holds the pattern twice, so any window of
 * up to PERIOD bytes is contiguous. */
#define PERIOD 1048573
static inline unsigned char *pattern(void) {
    unsigned char *p = malloc(2 * PERIOD);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < PERIOD; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = p[i + PERIOD] = (unsigned char)x;
    }
    return p;
}

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
