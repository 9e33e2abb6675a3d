#!/usr/bin/env bash
# System calls per relayed short connection: `strace -c -f` on `sockbox -q relay FRONT BACK`
# while one client thread (bench/c/conn_load.c) loops connect + 64-byte echo + close for
# SECONDS, through to a threaded C echo server (bench/c/tls_load.c's `echo`). Prints strace's
# table and each call's count divided by the connections made (issue 15 aims at 14 or fewer
# per connection, futex and epoll_wait aside).
#
#   bench/syscalls.sh                       # tcp -> tcp, 2 s
#   FAMILY=unix SECONDS_CONN=3 SOCKBOX=target/release/sockbox bench/syscalls.sh
#
# Uses only 127.0.0.1 and a temp dir; every wait is bounded; cleans up what it starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
FAMILY=${FAMILY:-tcp}
SECONDS_CONN=${SECONDS_CONN:-2}
command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
gcc -O2 -Wall -o "$tmp/conn_load" "$root/bench/c/conn_load.c" -lpthread
gcc -O2 -Wall -o "$tmp/tls_load" "$root/bench/c/tls_load.c" -lssl -lcrypto -lpthread

if [ "$FAMILY" = tcp ]; then
  port=$((20000 + RANDOM % 10000))
  back="tcp:$port" front="tcp:$((port + 1))" sb_back="tcp:127.0.0.1:$port" sb_front="tcp:127.0.0.1:$((port + 1))"
else
  back="unix:$tmp/back.sock" front="unix:$tmp/front.sock" sb_back=$back sb_front=$front
fi
"$tmp/tls_load" echo "$back" >"$tmp/echo.out" 2>&1 &
pids+=($!)
for _ in $(seq 500); do grep -q ready "$tmp/echo.out" && break; sleep 0.01; done
strace -c -f -o "$tmp/strace.out" "$SB" -q relay "$sb_front" "$sb_back" >"$tmp/relay.out" 2>&1 &
strace_pid=$!
pids+=("$strace_pid")
relay_pid=
for _ in $(seq 500); do relay_pid=$(pgrep -P "$strace_pid" || true); [ -n "$relay_pid" ] && break; sleep 0.01; done
[ -n "$relay_pid" ] || { echo "the relay did not start under strace" >&2; exit 1; }
pids+=("$relay_pid")
for _ in $(seq 1000); do
  case $front in
    unix:*) [ -S "${front#unix:}" ] && break ;;
    tcp:*) ss -ltnH "sport = :${front#tcp:}" | grep -q . && break ;;
  esac
  sleep 0.01
done
sleep 0.5 # the relay's start-up calls, counted too, are spread over the connections below
line=$(timeout -k 5 $((SECONDS_CONN + 30)) "$tmp/conn_load" "$front" "$SECONDS_CONN" 1)
read -r count _ rate _ _ _ failed <<<"$line"
# Stop the relay itself (a SIGTERM to strace would only detach it and leave the relay
# running): strace writes its summary when its tracee has exited.
kill -TERM "$relay_pid"
timeout 30 tail --pid="$strace_pid" -f /dev/null || { echo "strace did not finish" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) sockbox $(git -C "$root" rev-parse --short HEAD) -q relay $sb_front $sb_back"
echo "# $count connections in ${SECONDS_CONN} s ($rate/s, $failed failed) under strace -c -f"
cat "$tmp/strace.out"
echo
echo "## per connection"
awk -v n="$count" '
  $1 ~ /^[0-9.]+$/ && NF >= 5 {
    name = $NF; calls = $4; errs = (NF == 6) ? $5 : 0
    if (name == "total") next
    printf "%-16s %6.2f", name, calls / n
    if (errs > 0) printf "  (%.2f failed)", errs / n
    printf "\n"
    all += calls
    if (name != "futex" && name != "epoll_wait" && name != "epoll_pwait") lean += calls
  }
  END { printf "total %.1f per connection; %.1f without futex and epoll_wait\n", all / n, lean / n }
' "$tmp/strace.out"
