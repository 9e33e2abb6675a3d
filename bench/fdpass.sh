#!/usr/bin/env bash
# Descriptor-passing benchmark: what `relay --pass-fds` costs, in one run, alternating.
#
#   bench/fdpass.sh                      # 5 rounds, 1 GiB streams, 20,000 messages
#   ROUNDS=3 BYTES=268435456 MSGS=5000 bench/fdpass.sh
#
# 1. Byte throughput unix -> unix: one verified stream of BYTES from the C source to the C sink
#    (bench/c, every byte checked against a pattern), direct and through `sockbox relay`
#    (splice), `sockbox relay --pass-fds` (recvmsg/sendmsg with control buffers) and socat
#    (which cannot pass descriptors at all: the byte-copy reference). Ratios of the direct
#    median.
# 2. Descriptor rate: MSGS messages of 1 byte, each carrying FDS descriptors (1 and 64), from a
#    C sender to a C receiver that closes every descriptor it gets, direct and through
#    `sockbox relay --pass-fds`. No reference tool relays descriptors (socat, nc and the C
#    relays lose them), so the reference is the kernel alone (direct).
#
# Tools alternate within a round and the order rotates between rounds; medians over ROUNDS.
# Installs socat and gcc with apt-get when missing (as root). Uses only a temp dir; every
# process is bounded by `timeout` and killed at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-1073741824}
ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-20000}

need=()
command -v socat >/dev/null || need+=(socat)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Descriptors in flight count against the sender's RLIMIT_NOFILE.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release --quiet)
SB=$target/release/sockbox
tmp=$(mktemp -d)
declare -a bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# fdsource ADDR MSGS FDS: connect, send MSGS messages of one byte with FDS copies of one
# descriptor (/dev/null) each, then shut down writing and wait for the end.
cat >"$tmp/fdsource.c" <<'EOF'
#include "common.h"
int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: fdsource ADDR MSGS FDS\n"); return 2; }
    int c = connect_to(argv[1]);
    long msgs = atol(argv[2]); int k = atoi(argv[3]);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0) die("open");
    size_t len = CMSG_SPACE(sizeof(int) * k);
    char *ctl = calloc(1, len);
    struct cmsghdr *h = (struct cmsghdr *)ctl;
    h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_RIGHTS; h->cmsg_len = CMSG_LEN(sizeof(int) * k);
    for (int i = 0; i < k; i++) ((int *)CMSG_DATA(h))[i] = null;
    char byte = 'x';
    for (long i = 0; i < msgs; i++) {
        struct iovec io = { &byte, 1 };
        struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = len };
        if (sendmsg(c, &m, 0) != 1) { if (errno == EINTR) { i--; continue; } die("sendmsg"); }
    }
    shutdown(c, SHUT_WR);
    char b; while (read(c, &b, 1) > 0) {}
    return 0;
}
EOF
# fdsink ADDR: accept one connection, recvmsg to the end closing every descriptor, print
# "MSGS FDS SECONDS MSGS/S ok" from the first message to the end (FAIL on MSG_CTRUNC).
cat >"$tmp/fdsink.c" <<'EOF'
#include "common.h"
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: fdsink ADDR\n"); return 2; }
    int l = listen_on(argv[1]);
    printf("ready\n"); fflush(stdout);
    int c = accept(l, NULL, NULL);
    if (c < 0) die("accept");
    size_t len = CMSG_SPACE(sizeof(int) * 253);
    char *ctl = malloc(len), buf[65536];
    long msgs = 0, fds = 0; double t0 = 0;
    for (;;) {
        struct iovec io = { buf, sizeof buf };
        struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = len };
        ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
        if (n < 0) { if (errno == EINTR) continue; die("recvmsg"); }
        if (m.msg_flags & MSG_CTRUNC) { printf("0 0 0 0 FAIL ctrunc\n"); return 1; }
        int got = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (int i = 0; i < k; i++) close(((int *)CMSG_DATA(h))[i]);
                got += k;
            }
        if (n == 0 && !got) break;
        if (!msgs) t0 = now();
        msgs++; fds += got;
    }
    double s = now() - t0;
    printf("%ld %ld %.4f %.0f ok\n", msgs, fds, s, msgs / s);
    return 0;
}
EOF
cp "$root"/bench/c/{common.h,sink.c,source.c} "$tmp/"
for p in sink source fdsource fdsink; do
  gcc -O2 -Wall -include fcntl.h -o "$tmp/$p" "$tmp/$p.c"
done

echo "# sockbox descriptor-passing benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# stream ${BYTES} bytes, ${MSGS} messages, ${ROUNDS} rounds"

n=0
# fresh VAR: a new Unix socket path (set in this shell, so the counter advances).
fresh() { n=$((n + 1)); printf -v "$1" '%s/s%d.sock' "$tmp" "$n"; }

# start_relay TOOL FRONT BACK: the relay in its own process group; sets relay_pid.
start_relay() {
  local tool=$1 front=$2 back=$3
  case $tool in
    sockbox) setsid "$SB" -q relay "unix:$front" "unix:$back" >>"$tmp/relay.log" 2>&1 & ;;
    pass-fds) setsid "$SB" -q relay --pass-fds "unix:$front" "unix:$back" >>"$tmp/relay.log" 2>&1 & ;;
    socat) setsid socat "UNIX-LISTEN:$front,fork" "UNIX-CONNECT:$back" >>"$tmp/relay.log" 2>&1 & ;;
  esac
  relay_pid=$!
  bg+=("$relay_pid")
  for _ in $(seq 500); do [ -S "$front" ] && break; sleep 0.01; done
}
stop() { kill -TERM -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_ready() { for _ in $(seq 500); do grep -q ready "$1" 2>/dev/null && return; sleep 0.01; done; echo "server did not start" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# run TOOL SERVER CLIENT-ARGS...: start SERVER on a fresh path, the relay in front unless
# TOOL is direct, the client; sets result to the server's third-from-last field... see callers.
run() {
  local tool=$1 server=$2; shift 2
  local back front out=$tmp/server.out
  fresh back
  setsid "$tmp/$server" "unix:$back" >"$out" & local srv=$!
  bg+=("$srv")
  wait_ready "$out"
  local to=$back
  if [ "$tool" != direct ]; then fresh front; start_relay "$tool" "$front" "$back"; to=$front; fi
  timeout 120 "$tmp/$1" "unix:$to" "${@:2}"
  wait "$srv" || true
  [ "$tool" = direct ] || stop "$relay_pid"
  result=$(tail -1 "$out")
  case $result in
    *" ok") ;;
    *) echo "FAILED: $tool $server: $result" >&2; exit 1 ;;
  esac
}

res=$tmp/results
mkdir -p "$res"

echo
echo "## byte throughput unix->unix (GiB/s per round)"
tools=(direct sockbox pass-fds socat)
for round in $(seq "$ROUNDS"); do
  order=("${tools[@]:$((round % ${#tools[@]}))}" "${tools[@]:0:$((round % ${#tools[@]}))}")
  line="round $round:"
  for tool in "${order[@]}"; do
    run "$tool" sink source "$BYTES"
    gib=$(echo "$result" | cut -d' ' -f3)
    echo "$gib" >>"$res/bytes.$tool"
    line+=" $tool=$gib"
  done
  echo "$line"
done

echo
echo "## descriptor rate: $MSGS messages of 1 byte, K descriptors each (messages/s per round)"
ftools=(direct pass-fds)
for round in $(seq "$ROUNDS"); do
  order=("${ftools[@]:$((round % ${#ftools[@]}))}" "${ftools[@]:0:$((round % ${#ftools[@]}))}")
  for k in 1 64; do
    line="round $round K=$k:"
    for tool in "${order[@]}"; do
      run "$tool" fdsink fdsource "$MSGS" "$k"
      read -r msgs fds _ rate _ <<<"$result"
      if [ "$msgs" != "$MSGS" ] || [ "$fds" != $((MSGS * k)) ]; then
        echo "FAILED: $tool K=$k: $msgs messages, $fds descriptors" >&2; exit 1
      fi
      echo "$rate" >>"$res/fds$k.$tool"
      line+=" $tool=$rate"
    done
    echo "$line"
  done
done

echo
echo "## medians (load now $(cut -d' ' -f1-3 /proc/loadavg))"
d=$(median <"$res/bytes.direct")
for tool in "${tools[@]}"; do
  m=$(median <"$res/bytes.$tool")
  awk -v t="$tool" -v m="$m" -v d="$d" 'BEGIN{printf "bytes  %-9s %6.2f GiB/s  %.2f of direct\n", t, m, m/d}'
done
for k in 1 64; do
  d=$(median <"$res/fds$k.direct")
  m=$(median <"$res/fds$k.pass-fds")
  awk -v k="$k" -v m="$m" -v d="$d" 'BEGIN{printf "fds K=%-3s direct %8.0f msg/s (%.0f fds/s)  pass-fds %8.0f msg/s (%.0f fds/s)  %.2f of direct\n", k, d, d*k, m, m*k, m/d}'
done
s=$(median <"$res/bytes.pass-fds")
awk -v s="$s" -v o="$(median <"$res/bytes.socat")" -v p="$(median <"$res/bytes.sockbox")" \
  'BEGIN{printf "relay --pass-fds bytes: %.2fx socat, %.2fx sockbox relay (splice)\n", s/o, s/p}'
