/* proxy_epoll A B [THREADS]: the least a proxy of short connections can do on Linux, as a floor
 * for bench/proxies.sh. THREADS (default: the number of CPUs) threads, each with its own epoll
 * holding the shared listening socket with EPOLLEXCLUSIVE (one thread woken per client, as
 * sockbox's shards do). A client is accepted with accept4(SOCK_NONBLOCK), the server side is
 * socket(SOCK_NONBLOCK) + connect; both are registered once, edge-triggered, for
 * in/out/rdhup, and never deregistered (close drops them from the epoll). Each direction has a
 * 16 KiB buffer inside the connection's one allocation; end of stream is passed on with
 * shutdown(SHUT_WR), and the connection is closed when both directions have ended. No
 * timeouts, logs, limits or statistics: everything a real proxy adds is left out, so what it
 * costs is the kernel's part of a relayed connection plus the smallest user part. */
#include "common.h"
#include <pthread.h>
#include <sys/epoll.h>

#define BUF 16384

struct side;
struct conn {
    int fd[2];                 /* 0: client, 1: server */
    char buf[2][BUF];          /* buf[i]: read from fd[i], to be written to fd[1 - i] */
    size_t len[2], off[2];
    int eof[2];                /* fd[i] has given its end of stream */
    int shut[2];               /* shutdown(fd[1 - i], SHUT_WR) done: direction i is over */
    int rdhup[2];              /* the kernel has said fd[i]'s peer has shut its writing */
    int connecting, dead;
    struct conn *next_dead;
    struct side { struct conn *c; int i; } side[2];
};

static struct sockaddr_storage back;
static socklen_t back_len;
static int lfd;

/* Connections closed in this epoll batch: freed once the batch is done, since a later event
 * of the same batch may still point at them. */
static __thread struct conn *dead;

static void finish(struct conn *c) {
    close(c->fd[0]);
    close(c->fd[1]);
    c->dead = 1;
    c->next_dead = dead;
    dead = c;
}

/* Move what can move in direction i (fd[i] -> fd[1 - i]). Returns 1 when the connection was
 * closed (it is freed at the end of the batch). */
static int pump(struct conn *c, int i) {
    int o = 1 - i;
    int short_read = 0;
    if (c->connecting || c->shut[i]) return 0;
    for (;;) {
        while (c->off[i] < c->len[i]) {
            ssize_t w = write(c->fd[o], c->buf[i] + c->off[i], c->len[i] - c->off[i]);
            if (w < 0) {
                if (errno == EAGAIN) return 0;  /* EPOLLOUT on fd[o] calls again */
                if (errno == EINTR) continue;
                finish(c);                      /* reset or broken: drop the connection */
                return 1;
            }
            c->off[i] += (size_t)w;
        }
        c->off[i] = c->len[i] = 0;
        if (c->eof[i]) break;
        if (short_read && !c->rdhup[i]) return 0;
        ssize_t n = read(c->fd[i], c->buf[i], BUF);
        /* A read shorter than the buffer emptied the socket: the next edge says when there is
         * more, so no read is spent on EAGAIN (unless the peer's end is already announced). */
        if (n > 0) { c->len[i] = (size_t)n; short_read = n < BUF; continue; }
        if (n == 0) { c->eof[i] = 1; break; }
        if (errno == EAGAIN) return 0;
        if (errno == EINTR) continue;
        finish(c);
        return 1;
    }
    c->shut[i] = 1;
    if (c->shut[o]) { finish(c); return 1; }
    shutdown(c->fd[o], SHUT_WR);
    return 0;
}

static void take(int ep) {
    for (int k = 0; k < 8; k++) {
        int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a < 0) return;
        int b = socket(back.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (b < 0) { close(a); return; }
        struct conn *c = malloc(sizeof *c);
        if (!c) { close(a); close(b); return; }
        c->fd[0] = a; c->fd[1] = b;
        c->len[0] = c->len[1] = c->off[0] = c->off[1] = 0;
        c->eof[0] = c->eof[1] = c->shut[0] = c->shut[1] = 0;
        c->connecting = c->dead = 0;
        c->rdhup[0] = c->rdhup[1] = 0;
        if (connect(b, (struct sockaddr *)&back, back_len) < 0) {
            if (errno != EINPROGRESS) { finish(c); continue; }
            c->connecting = 1;
        }
        for (int i = 0; i < 2; i++) {
            c->side[i].c = c; c->side[i].i = i;
            struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.ptr = &c->side[i]}};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev);
        }
    }
}

static void *serve(void *arg) {
    (void)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLIN | EPOLLEXCLUSIVE, {.ptr = NULL}};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int k = 0; k < n; k++) {
            struct side *s = evs[k].data.ptr;
            if (!s) { take(ep); continue; }
            struct conn *c = s->c;
            if (c->dead) continue;
            if (evs[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->rdhup[s->i] = 1;
            if (c->connecting) {
                if (s->i == 0 || !(evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                int err = 0; socklen_t l = sizeof err;
                if (evs[k].events & (EPOLLERR | EPOLLHUP)) getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &l);
                if (err || (evs[k].events & EPOLLHUP)) { finish(c); continue; }
                c->connecting = 0;
                if (pump(c, 0)) continue;
                pump(c, 1);
                continue;
            }
            /* Readable fd[i] feeds direction i; writable fd[i] drains direction 1 - i. */
            if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                if (pump(c, s->i)) continue;
            if (evs[k].events & EPOLLOUT) pump(c, 1 - s->i);
        }
        while (dead) { struct conn *c = dead; dead = c->next_dead; free(c); }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: proxy_epoll LISTEN CONNECT [THREADS]\n"); return 2; }
    lfd = listen_on(argv[1]);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    back_len = parse(argv[2], &back);
    long threads = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    pthread_t t;
    for (long i = 1; i < threads; i++)
        if (pthread_create(&t, NULL, serve, NULL)) die("pthread_create");
    printf("ready\n");
    fflush(stdout);
    serve(NULL);
    return 0;
}
