#!/usr/bin/env bash
# Is `sockbox bench` an honest harness? Its figures side by side with the reference tools, in
# one run, under the same placement (taskset / sched_setaffinity), alternating the order:
#
#   throughput, 64 KiB writes:  sockbox tcp4  vs a minimal C sender/receiver  vs iperf3 -l 64K
#                               sockbox unix  vs the same C pair over a Unix stream socket
#                               sockbox pipe  vs the C pair over a pipe       vs dd | dd
#   round trip, 64 B:           sockbox udp4 / tcp4  vs a minimal C ping-pong
#                                                    vs sockperf ping-pong (--full-rtt)
#
# The C programs run twice: with the second end on a thread of the first's process, as sockbox
# runs its two ends ("c-threads": the like-for-like check of the harness), and as two
# processes ("c-procs", like iperf3, dd and sockperf), which shows what a process switch
# adds on this machine.
#
#   bench/harness.sh                          # 6 rounds, 2 s per measurement, both placements
#   ROUNDS=3 SECONDS_EACH=1 PLACEMENTS=cross bench/harness.sh
#
# PLACEMENTS: "cross" puts the sending (pinging) end on CPU 0 and the receiving (echoing) end
# on CPU 1, as `sockbox bench --pin cross` does; "same" puts both on CPU 0. The C pair
# measures exactly as sockbox does: the sender writes SIZE bytes per write(2) until the end of
# the warm-up plus the duration, the receiver reads up to max(SIZE, 256 KiB) per read(2) and
# counts from its first read after the warm-up to end of stream. Targets: sockbox within 10% of
# the C pair, at or above iperf3, within 10% of sockperf's percentiles.
#
# Installs iperf3, sockperf and gcc with apt-get when missing (as root). Uses 127.0.0.1 and a
# temp dir only; every process is bounded by `timeout` and killed at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-6}
SECONDS_EACH=${SECONDS_EACH:-2}
PLACEMENTS=${PLACEMENTS:-"cross same"}
SIZE=65536
MSG=64
WARMUP_MS=200

need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v sockperf >/dev/null || need+=(sockperf)
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "# installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "harness.sh: needs two CPUs (cross-CPU placement)" >&2
  exit 1
fi

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release --quiet)
SB=$target/release/sockbox
tmp=$(mktemp -d)
declare -a bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The minimal C pair: a forked child sends, the parent receives and prints MiB/s.
cat >"$tmp/cpair.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cpair tcp|unix|pipe SIZE SECONDS WARMUP_MS SEND_CPU RECV_CPU DIR threads|procs:
   MiB/s at the receiver. The sender is a thread (as in sockbox) or a forked process. */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(const char *what) { perror(what); exit(1); }
static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}
static int wfd, scpu, sock = 1;
static size_t size;
static char *sbuf;
static double deadline;
static void *sender(void *unused) {
  (void)unused;
  pin(scpu);
  while (now() < deadline) {
    for (size_t off = 0; off < size;) {
      ssize_t n = write(wfd, sbuf + off, size - off);
      if (n < 0) die("write");
      off += n;
    }
  }
  if (sock) shutdown(wfd, SHUT_WR);
  close(wfd);
  return 0;
}
int main(int argc, char **argv) {
  if (argc != 9) { fprintf(stderr, "usage: cpair MODE SIZE SECONDS WARMUP_MS SEND_CPU RECV_CPU DIR threads|procs\n"); return 2; }
  const char *mode = argv[1];
  size = strtoul(argv[2], 0, 10);
  double secs = atof(argv[3]), warm = atof(argv[4]) / 1000;
  scpu = atoi(argv[5]);
  int rcpu = atoi(argv[6]), threads = !strcmp(argv[8], "threads");
  int rfd;
  if (!strcmp(mode, "pipe")) {
    int p[2];
    if (pipe(p)) die("pipe");
    rfd = p[0], wfd = p[1], sock = 0;
  } else if (!strcmp(mode, "tcp")) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len)) die("listen");
    wfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(wfd, (void *)&a, sizeof a)) die("connect");
    if ((rfd = accept(l, 0, 0)) < 0) die("accept");
    close(l);
  } else {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/c.sock", argv[7]);
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1)) die("listen");
    wfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(wfd, (void *)&a, sizeof a)) die("connect");
    if ((rfd = accept(l, 0, 0)) < 0) die("accept");
    close(l);
  }
  size_t rlen = size > 262144 ? size : 262144;
  char *rbuf = malloc(rlen);
  sbuf = malloc(size);
  memset(sbuf, 7, size);
  memset(rbuf, 7, rlen);
  double start = now(), counting = start + warm;
  deadline = counting + secs;
  pthread_t thread;
  pid_t child = -1;
  if (threads) {
    if (pthread_create(&thread, 0, sender, 0)) die("pthread_create");
  } else {
    child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
      close(rfd);
      sender(0);
      _exit(0);
    }
    close(wfd);
  }
  pin(rcpu);
  long long bytes = 0;
  double t0 = 0;
  for (;;) {
    ssize_t n = read(rfd, rbuf, rlen);
    if (n < 0) die("read");
    if (n == 0) break;
    if (t0 == 0) {
      if (now() < counting) continue;
      t0 = now();
    }
    bytes += n;
  }
  double t1 = now();
  if (threads) pthread_join(thread, 0);
  else waitpid(child, 0, 0);
  printf("%.1f\n", bytes / (t1 - t0) / 1048576.0);
  return 0;
}
EOF
gcc -O2 -Wall -pthread -o "$tmp/cpair" "$tmp/cpair.c"

# The minimal C ping-pong: one message in flight, echoed whole; exact percentiles.
cat >"$tmp/cping.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cping udp|tcp MSG SECONDS WARMUP_MS CLIENT_CPU ECHO_CPU threads|procs:
   p50 p90 p99 p99.9 max of the round trip, microseconds */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(const char *what) { perror(what); exit(1); }
static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}
static int efd, ecpu;
static size_t msg;
static void *echo(void *unused) {
  (void)unused;
  pin(ecpu);
  char *buf = malloc(msg);
  for (;;) {
    ssize_t n = read(efd, buf, msg);
    if (n <= 0) break;
    if (write(efd, buf, n) != n) break;
  }
  return 0;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char **argv) {
  if (argc != 8) { fprintf(stderr, "usage: cping udp|tcp MSG SECONDS WARMUP_MS CLIENT_CPU ECHO_CPU threads|procs\n"); return 2; }
  int udp = !strcmp(argv[1], "udp"), threads = !strcmp(argv[7], "threads");
  msg = strtoul(argv[2], 0, 10);
  double secs = atof(argv[3]), warm = atof(argv[4]) / 1000;
  int ccpu = atoi(argv[5]), one = 1, cfd;
  ecpu = atoi(argv[6]);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, b = a;
  socklen_t len = sizeof a;
  if (udp) {
    cfd = socket(AF_INET, SOCK_DGRAM, 0);
    efd = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(cfd, (void *)&a, sizeof a) || bind(efd, (void *)&b, sizeof b)) die("bind");
    getsockname(cfd, (void *)&a, &len);
    len = sizeof b;
    getsockname(efd, (void *)&b, &len);
    if (connect(cfd, (void *)&b, sizeof b) || connect(efd, (void *)&a, sizeof a)) die("connect");
  } else {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len)) die("listen");
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(cfd, (void *)&a, sizeof a)) die("connect");
    if ((efd = accept(l, 0, 0)) < 0) die("accept");
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(efd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(l);
  }
  pthread_t thread;
  pid_t child = -1;
  if (threads) {
    if (pthread_create(&thread, 0, echo, 0)) die("pthread_create");
  } else {
    child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
      close(cfd);
      echo(0);
      _exit(0);
    }
  }
  pin(ccpu);
  size_t cap = 20000000, n = 0;
  double *rtt = malloc(cap * sizeof *rtt);
  char *out = malloc(msg), *back = malloc(msg);
  memset(out, 7, msg);
  double start = now(), counting = start + warm, deadline = counting + secs;
  for (double t0 = now(); t0 < deadline && n < cap; t0 = now()) {
    if (write(cfd, out, msg) != (ssize_t)msg) die("write");
    for (size_t got = 0; got < msg;) {
      ssize_t r = read(cfd, back + got, msg - got);
      if (r <= 0) die("read");
      got += r;
    }
    double t1 = now();
    if (t0 >= counting) rtt[n++] = (t1 - t0) * 1e6;
  }
  if (udp) send(cfd, out, 0, 0); else shutdown(cfd, SHUT_WR);
  if (threads) pthread_join(thread, 0); else waitpid(child, 0, 0);
  if (n == 0) { fprintf(stderr, "cping: no round trip counted\n"); return 1; }
  qsort(rtt, n, sizeof *rtt, cmp);
  double q[] = {0.5, 0.9, 0.99, 0.999};
  for (int i = 0; i < 4; i++) {
    size_t k = (size_t)(q[i] * n + 0.999999);
    printf("%.2f ", rtt[k ? k - 1 : 0]);
  }
  printf("%.2f\n", rtt[n - 1]);
  return 0;
}
EOF
gcc -O2 -Wall -pthread -o "$tmp/cping" "$tmp/cping.c"

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
port() { echo $((30000 + (RANDOM % 20000))); }
bound() { timeout -k 2 $((SECONDS_EACH + 30)) "$@"; }

# Each measurement prints one number. $1: placement (cross|same); CS/CR: CPUs of the ends.
sockbox_tp() { # TRANSPORT
  local pin=$PLACEMENT
  bound "$SB" bench "$1" --measure throughput --sizes $SIZE --duration "${SECONDS_EACH}s" \
    --pin "$pin" --json | json "round(d['runs'][0]['transports'][0]['throughput'][0]['mib_per_s'], 1)"
}
cpair_tp() { # tcp|unix|pipe threads|procs
  bound "$tmp/cpair" "$1" $SIZE "$SECONDS_EACH" $WARMUP_MS "$CS" "$CR" "$tmp" "$2"
}
iperf3_tp() {
  local p
  p=$(port)
  taskset -c "$CR" iperf3 -s -1 -B 127.0.0.1 -p "$p" >/dev/null 2>&1 &
  local srv=$!
  bg+=("$srv")
  # The server may not listen yet: a few tries, 0.2 s apart.
  local out=""
  for _ in 1 2 3 4 5; do
    sleep 0.2
    out=$(bound taskset -c "$CS" iperf3 -c 127.0.0.1 -p "$p" -l 64K -t "$SECONDS_EACH" -J || true)
    grep -q sum_received <<<"$out" && break
    json "'iperf3: ' + d.get('error', '?')" <<<"$out" >&2 || true
  done
  json "round(d['end']['sum_received']['bytes'] / d['end']['sum_received']['seconds'] / 1048576, 1)" <<<"$out"
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
}
dd_tp() {
  # The writer is stopped with SIGINT after the duration; the reader's statistics count.
  local out
  out=$( { timeout -s INT "$SECONDS_EACH" taskset -c "$CS" dd if=/dev/zero bs=64k 2>/dev/null \
      | taskset -c "$CR" dd of=/dev/null bs=64k; } 2>&1 | grep copied)
  python3 -c "
import re,sys
m = re.match(r'(\d+) bytes.*copied, ([0-9.]+) s', sys.argv[1])
print(round(int(m.group(1)) / float(m.group(2)) / 1048576, 1))" "$out"
}
sockbox_rtt() { # TRANSPORT: p50 p90 p99 p99.9 max (us)
  bound "$SB" bench "$1" --measure latency --latency-size $MSG --duration "${SECONDS_EACH}s" \
    --pin "$PLACEMENT" --json \
    | json "' '.join('%.2f' % d['runs'][0]['transports'][0]['latency'][k] for k in ('p50_us','p90_us','p99_us','p999_us','max_us'))"
}
cping_rtt() { # udp|tcp threads|procs
  bound "$tmp/cping" "$1" $MSG "$SECONDS_EACH" $WARMUP_MS "$CS" "$CR" "$2"
}
sockperf_rtt() { # udp|tcp
  local p flag=""
  p=$(port)
  [ "$1" = tcp ] && flag=--tcp
  taskset -c "$CR" sockperf server -i 127.0.0.1 -p "$p" $flag >/dev/null 2>&1 &
  local srv=$!
  bg+=("$srv")
  # The server may not listen yet: a few tries.
  local out=""
  for _ in 1 2 3 4 5; do
    sleep 0.3
    out=$(bound taskset -c "$CS" sockperf ping-pong -i 127.0.0.1 -p "$p" $flag -m $MSG \
      -t "$SECONDS_EACH" --full-rtt 2>&1 || true)
    grep -q "percentile 50.000" <<<"$out" && break
    grep -i error <<<"$out" | head -2 >&2 || true
  done
  python3 -c "
import re,sys
t = sys.stdin.read()
def v(label):
    m = re.search(r'---> ' + re.escape(label) + r'\s*(?:observation)?\s*=\s*([0-9.]+)', t)
    return float(m.group(1))
print(' '.join('%.2f' % v(k) for k in ('percentile 50.000', 'percentile 90.000', 'percentile 99.000', 'percentile 99.900', '<MAX>')))" <<<"$out"
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
}

# measure WHAT TOOL=COMMAND...: one measurement by each tool, back to back, starting with a
# different tool each round (A B C, B C A, ...), so slow drifts of the machine's load hit
# every tool alike.
measure() {
  local what=$1
  shift
  local tools=("$@") n=$# i k
  for ((i = 0; i < n; i++)); do
    k=$(((i + r - 1) % n))
    # shellcheck disable=SC2086 # the command is a function name and its words
    record "$what" "${tools[$k]%%=*}" "$(${tools[$k]#*=})"
  done
}

results=$tmp/results
: >"$results"
record() {
  echo "  $1 $2: ${3:-FAILED}"
  if [ -n "$3" ]; then echo "$PLACEMENT $1 $2 $3" >>"$results"; fi
}

echo "# sockbox bench harness: sockbox bench side by side with the reference tools"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(iperf3 --version | head -1 | cut -d' ' -f1-2), sockperf $(sockperf --version 2>&1 | sed -n 's/.*version \([^ ,]*\).*/\1/p' | head -1)"
echo "# ${ROUNDS} rounds, ${SECONDS_EACH} s per measurement, throughput at ${SIZE}-byte writes, round trips of ${MSG} B"

for PLACEMENT in $PLACEMENTS; do
  # As `sockbox bench --pin cross|same`: the sender (or pinging client) on the first CPU, the
  # receiver (or echo) on the second, or both on the first.
  if [ "$PLACEMENT" = cross ]; then CS=0 CR=1; else CS=0 CR=0; fi
  for r in $(seq 1 "$ROUNDS"); do
    echo "## placement $PLACEMENT, round $r  (load $(cut -d' ' -f1-3 /proc/loadavg))"
    measure tcp "sockbox=sockbox_tp tcp4" "c-threads=cpair_tp tcp threads" \
      "c-procs=cpair_tp tcp procs" "iperf3=iperf3_tp"
    measure unix "sockbox=sockbox_tp unix" "c-threads=cpair_tp unix threads" \
      "c-procs=cpair_tp unix procs"
    measure pipe "sockbox=sockbox_tp pipe" "c-threads=cpair_tp pipe threads" \
      "c-procs=cpair_tp pipe procs" "dd=dd_tp"
    measure udp-rtt "sockbox=sockbox_rtt udp4" "c-threads=cping_rtt udp threads" \
      "c-procs=cping_rtt udp procs" "sockperf=sockperf_rtt udp"
    measure tcp-rtt "sockbox=sockbox_rtt tcp4" "c-threads=cping_rtt tcp threads" \
      "c-procs=cping_rtt tcp procs" "sockperf=sockperf_rtt tcp"
  done
done

echo "# medians (MiB/s; round trips p50/p90/p99/p99.9/max in us) and sockbox's ratio to each"
python3 - "$results" <<'EOF'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    placement, what, tool, *vals = line.split()
    rows[(placement, what, tool)].append([float(v) for v in vals])
def med(key):
    runs = rows[key]
    return [statistics.median(col) for col in zip(*runs)], [min(c) for c in zip(*runs)], [max(c) for c in zip(*runs)]
print("| placement | measurement | tool | median | spread (min-max) | sockbox / tool |")
print("|---|---|---|---|---|---|")
for (placement, what, tool) in sorted(rows, key=lambda k: (k[0], k[1], k[2] != 'sockbox', k[2])):
    m, lo, hi = med((placement, what, tool))
    if (placement, what, 'sockbox') not in rows:
        continue
    sb, _, _ = med((placement, what, 'sockbox'))
    if len(m) == 1:
        shown = f"{m[0]:.0f} MiB/s"
        spread = f"{lo[0]:.0f}-{hi[0]:.0f}"
        ratio = "" if tool == 'sockbox' else f"{sb[0] / m[0]:.2f}"
    else:
        shown = " / ".join(f"{v:.1f}" for v in m)
        spread = "p50 " + f"{lo[0]:.1f}-{hi[0]:.1f}"
        ratio = "" if tool == 'sockbox' else " / ".join(f"{a / b:.2f}" for a, b in zip(sb, m))
    print(f"| {placement} | {what} | {tool} | {shown} | {spread} | {ratio} |")
EOF
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
