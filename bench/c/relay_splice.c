/* relay_splice A B: the minimal poll + splice relay (a pipe per direction), one client at a time. */
#include "common.h"
int main(int argc, char **argv) {
    int l = listen_on(argv[1]);
    for (;;) {
        int a = accept(l, NULL, NULL), b = connect_to(argv[2]);
        int fd[2] = {a, b}, open_[2] = {1, 1}, pp[2][2];
        for (int i = 0; i < 2; i++) { if (pipe(pp[i])) die("pipe"); fcntl(pp[i][1], F_SETPIPE_SZ, 1 << 20); }
        while (open_[0] || open_[1]) {
            struct pollfd p[2] = {{a, open_[0] ? POLLIN : 0, 0}, {b, open_[1] ? POLLIN : 0, 0}};
            if (poll(p, 2, -1) < 0) die("poll");
            for (int i = 0; i < 2; i++) {
                if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t n = splice(fd[i], NULL, pp[i][1], NULL, 1 << 20, SPLICE_F_MOVE);
                if (n <= 0) { open_[i] = 0; shutdown(fd[1 - i], SHUT_WR); continue; }
                while (n > 0) { ssize_t m = splice(pp[i][0], NULL, fd[1 - i], NULL, n, SPLICE_F_MOVE); if (m < 0) die("splice"); n -= m; }
            }
        }
        close(a); close(b); for (int i = 0; i < 2; i++) { close(pp[i][0]); close(pp[i][1]); }
    }
}
