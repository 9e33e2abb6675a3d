/* holder connect ADDR N: open N connections and hold them until stdin closes.
 * holder accept ADDR: accept and hold every connection until killed. */
#include "common.h"
#include <sys/resource.h>
int main(int argc, char **argv) {
    struct rlimit r; getrlimit(RLIMIT_NOFILE, &r); r.rlim_cur = r.rlim_max; setrlimit(RLIMIT_NOFILE, &r);
    if (!strcmp(argv[1], "accept")) {
        int l = listen_on(argv[2]);
        printf("ready\n"); fflush(stdout);
        for (;;) if (accept(l, NULL, NULL) < 0 && errno != EINTR) die("accept");
    }
    int n = atoi(argv[3]);
    for (int i = 0; i < n; i++) connect_to(argv[2]);
    printf("held %d\n", n); fflush(stdout);
    char b; while (read(0, &b, 1) > 0) {}
    return 0;
}
