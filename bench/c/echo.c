/* echo ADDR: accept clients one at a time and echo what they send (for round-trip latency). */
#include "common.h"
int main(int argc, char **argv) {
    int l = listen_on(argv[1]), one = 1;
    static char buf[65536];
    printf("ready\n"); fflush(stdout);
    for (;;) {
        int c = accept(l, NULL, NULL);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0)
            for (ssize_t w = 0; w < n;) { ssize_t m = write(c, buf + w, n - w); if (m < 0) break; w += m; }
        close(c);
    }
}
