/* The TLS benchmark's client side (OpenSSL) and its plain backend:
 *
 *   tls_load bulk ADDR BYTES            one TLS stream of BYTES of the pattern (256 KiB writes),
 *                                       then close_notify; the sink behind checks every byte
 *   tls_load handshakes ADDR SECONDS N  N threads, each: connect, a full TLS handshake (no
 *                                       resumption), a 64-byte echo through to the backend,
 *                                       close; prints "COUNT SECONDS PER_SECOND p50_us p99_us"
 *   tls_load echo ADDR                  threaded plain echo server (the handshake backend)
 *
 * The client offers TLS 1.3 with TLS_AES_128_GCM_SHA256 only, so every server under test runs
 * the same protocol and cipher; it does not verify the certificate (the servers are ours). */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *client_ctx(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

static SSL *tls_connect(SSL_CTX *ctx, const char *addr, int *fd) {
    *fd = connect_to(addr);
    int one = 1;
    setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, *fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); exit(2); }
    return ssl;
}

static int bulk(const char *addr, unsigned long long left) {
    SSL_CTX *ctx = client_ctx();
    int fd;
    SSL *ssl = tls_connect(ctx, addr, &fd);
    unsigned char *pat = pattern();
    unsigned long long off = 0;
    while (left) {
        int k = left < 262144 ? (int)left : 262144;
        int n = SSL_write(ssl, pat + off % PERIOD, k);
        if (n <= 0) { ERR_print_errors_fp(stderr); die("SSL_write"); }
        left -= n; off += n;
    }
    SSL_shutdown(ssl);
    shutdown(fd, SHUT_WR);
    char b[256];
    while (SSL_read(ssl, b, sizeof b) > 0) {}
    return 0;
}

struct worker { const char *addr; double until; long count; double *lat; long cap; };

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *hs_loop(void *arg) {
    struct worker *w = arg;
    SSL_CTX *ctx = client_ctx();
    char msg[64], back[64];
    memset(msg, 'x', sizeof msg);
    while (now() < w->until) {
        double t0 = now();
        int fd;
        SSL *ssl = tls_connect(ctx, w->addr, &fd);
        if (SSL_write(ssl, msg, sizeof msg) != sizeof msg) die("SSL_write");
        int got = 0;
        while (got < (int)sizeof back) {
            int n = SSL_read(ssl, back + got, sizeof back - got);
            if (n <= 0) { ERR_print_errors_fp(stderr); die("SSL_read"); }
            got += n;
        }
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(fd);
        if (w->count < w->cap) w->lat[w->count] = (now() - t0) * 1e6;
        w->count++;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

static int handshakes(const char *addr, double seconds, int threads) {
    pthread_t t[64];
    struct worker w[64];
    if (threads < 1 || threads > 64) { fprintf(stderr, "1-64 threads\n"); return 2; }
    double start = now();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){addr, start + seconds, 0, malloc(sizeof(double) * 1000000), 1000000};
        pthread_create(&t[i], NULL, hs_loop, &w[i]);
    }
    long total = 0, kept = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += w[i].count; }
    double elapsed = now() - start;
    double *all = malloc(sizeof(double) * (total + 1));
    for (int i = 0; i < threads; i++)
        for (long j = 0; j < w[i].count && j < w[i].cap; j++) all[kept++] = w[i].lat[j];
    qsort(all, kept, sizeof *all, cmp);
    printf("%ld %.3f %.1f %.0f %.0f\n", total, elapsed, total / elapsed,
           kept ? all[kept / 2] : 0, kept ? all[kept * 99 / 100] : 0);
    return 0;
}

static void *echo_one(void *arg) {
    int c = (int)(long)arg, one = 1;
    char buf[65536];
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        for (ssize_t w = 0; w < n;) { ssize_t m = write(c, buf + w, n - w); if (m < 0) goto out; w += m; }
out:
    close(c);
    return NULL;
}

static _Noreturn void echo(const char *addr) {
    int l = listen_on(addr);
    printf("ready\n"); fflush(stdout);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; usleep(1000); continue; }
        pthread_t t;
        if (pthread_create(&t, &attr, echo_one, (void *)(long)c)) close(c);
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && !strcmp(argv[1], "bulk")) return bulk(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 5 && !strcmp(argv[1], "handshakes")) return handshakes(argv[2], atof(argv[3]), atoi(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "echo")) echo(argv[2]);
    fprintf(stderr, "usage: tls_load bulk ADDR BYTES | handshakes ADDR SECONDS THREADS | echo ADDR\n");
    return 2;
}
