/* source ADDR BYTES: connect and write BYTES of the pattern in 256 KiB writes, then close. */
#include "common.h"
int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: source ADDR BYTES\n"); return 2; }
    int c = connect_to(argv[1]);
    unsigned long long left = strtoull(argv[2], NULL, 10), off = 0;
    unsigned char *pat = pattern();
    while (left) {
        size_t k = left < 262144 ? left : 262144;
        ssize_t n = write(c, pat + off % PERIOD, k);
        if (n < 0) { if (errno == EINTR) continue; die("write"); }
        left -= n; off += n;
    }
    shutdown(c, SHUT_WR);
    char b; while (read(c, &b, 1) > 0) {}
    return 0;
}
