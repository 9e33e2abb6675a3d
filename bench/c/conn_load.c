/* conn_load ADDR SECONDS THREADS: the short-connection load of the proxy benchmark.
 *
 * THREADS client threads, each in a loop for SECONDS: connect (no retry), write 64 bytes, read
 * the 64 bytes echoed back through the proxy, close. Prints
 * "COUNT SECONDS PER_SECOND p50_us p99_us max_us FAILED", the latencies being whole cycles
 * (connect to close). A cycle that fails (refused, reset, short echo) is counted in FAILED and
 * not in COUNT; the run goes on. */
#include "common.h"
#include <pthread.h>
#include <signal.h>

struct worker { const char *addr; double until; long count, failed; double *lat; long cap; };

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cycle(const struct sockaddr_storage *ss, socklen_t len) {
    char msg[64], back[64];
    memset(msg, 'x', sizeof msg);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ok = 0;
    if (fd < 0) return 0;
    if (connect(fd, (const struct sockaddr *)ss, len) < 0) goto out;
    if (ss->ss_family == AF_INET) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (write(fd, msg, sizeof msg) != sizeof msg) goto out;
    size_t got = 0;
    while (got < sizeof back) {
        ssize_t n = read(fd, back + got, sizeof back - got);
        if (n <= 0) goto out;
        got += n;
    }
    ok = !memcmp(msg, back, sizeof msg);
out:
    close(fd);
    return ok;
}

static void *loop(void *arg) {
    struct worker *w = arg;
    struct sockaddr_storage ss;
    socklen_t len = parse(w->addr, &ss);
    while (now() < w->until) {
        double t0 = now();
        if (!cycle(&ss, len)) { w->failed++; continue; }
        if (w->count < w->cap) w->lat[w->count] = (now() - t0) * 1e6;
        w->count++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: conn_load ADDR SECONDS THREADS\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    double seconds = atof(argv[2]);
    int threads = atoi(argv[3]);
    if (threads < 1 || threads > 256) { fprintf(stderr, "1-256 threads\n"); return 2; }
    pthread_t t[256];
    struct worker w[256];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    double start = now();
    for (int i = 0; i < threads; i++) {
        long cap = 4000000 / threads;
        w[i] = (struct worker){argv[1], start + seconds, 0, 0, malloc(sizeof(double) * cap), cap};
        if (pthread_create(&t[i], &attr, loop, &w[i])) die("pthread_create");
    }
    long total = 0, failed = 0, kept = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += w[i].count; failed += w[i].failed; }
    double elapsed = now() - start;
    double *all = malloc(sizeof(double) * (total + 1));
    for (int i = 0; i < threads; i++)
        for (long j = 0; j < w[i].count && j < w[i].cap; j++) all[kept++] = w[i].lat[j];
    qsort(all, kept, sizeof *all, cmp);
    printf("%ld %.3f %.1f %.0f %.0f %.0f %ld\n", total, elapsed, total / elapsed,
           kept ? all[kept / 2] : 0, kept ? all[kept * 99 / 100] : 0, kept ? all[kept - 1] : 0, failed);
    return 0;
}
