/* relay_rw A B: the minimal poll + read/write relay (256 KiB buffer), one client at a time. */
#include "common.h"
int main(int argc, char **argv) {
    int l = listen_on(argv[1]);
    static char buf[262144];
    for (;;) {
        int a = accept(l, NULL, NULL), b = connect_to(argv[2]);
        int fd[2] = {a, b}, open_[2] = {1, 1};
        while (open_[0] || open_[1]) {
            struct pollfd p[2] = {{a, open_[0] ? POLLIN : 0, 0}, {b, open_[1] ? POLLIN : 0, 0}};
            if (poll(p, 2, -1) < 0) die("poll");
            for (int i = 0; i < 2; i++) {
                if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t n = read(fd[i], buf, sizeof buf);
                if (n <= 0) { open_[i] = 0; shutdown(fd[1 - i], SHUT_WR); continue; }
                for (ssize_t w = 0; w < n;) { ssize_t m = write(fd[1 - i], buf + w, n - w); if (m < 0) die("write"); w += m; }
            }
        }
        close(a); close(b);
    }
}
