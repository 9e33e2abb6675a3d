/* pingpong ADDR COUNT: COUNT round trips of 64 bytes; prints "p50 p99" in microseconds. */
#include "common.h"
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    int c = connect_to(argv[1]), one = 1, count = atoi(argv[2]);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double *rtt = malloc(count * sizeof *rtt);
    char msg[64] = {0};
    for (int i = 0; i < count; i++) {
        double t = now();
        if (write(c, msg, 64) != 64) die("write");
        for (int got = 0; got < 64;) { ssize_t n = read(c, msg + got, 64 - got); if (n <= 0) die("read"); got += n; }
        rtt[i] = (now() - t) * 1e6;
    }
    qsort(rtt, count, sizeof *rtt, cmp);
    printf("%.1f %.1f\n", rtt[count / 2], rtt[count * 99 / 100]);
    return 0;
}
