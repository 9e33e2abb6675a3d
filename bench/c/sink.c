/* sink ADDR: accept one connection, read to EOF, verify every byte against the pattern,
 * print "BYTES SECONDS GIB/S ok" (or MISMATCH) measured from the first byte to EOF. */
#include "common.h"
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: sink ADDR\n"); return 2; }
    int l = listen_on(argv[1]);
    printf("ready\n"); fflush(stdout);
    int c = accept(l, NULL, NULL);
    if (c < 0) die("accept");
    unsigned char *pat = pattern(), *buf = malloc(1 << 20);
    uint64_t total = 0; double t0 = 0;
    for (;;) {
        ssize_t n = read(c, buf, 1 << 20);
        if (n < 0) { if (errno == EINTR) continue; die("read"); }
        if (n == 0) break;
        if (!total) t0 = now();
        size_t off = total % PERIOD, done = 0;
        while (done < (size_t)n) {   /* compare in windows that stay inside the doubled pattern */
            size_t k = (size_t)n - done; if (k > PERIOD) k = PERIOD;
            if (memcmp(buf + done, pat + off, k)) { printf("%llu 0 0 MISMATCH\n", (unsigned long long)(total + done)); return 1; }
            done += k; off = (off + k) % PERIOD;
        }
        total += n;
    }
    double s = now() - t0;
    printf("%llu %.4f %.3f ok\n", (unsigned long long)total, s, total / s / (1 << 30));
    return 0;
}
