#!/usr/bin/env bash
# What a relayed short connection costs the proxy process, sockbox against haproxy and the C
# floor (bench/c/proxy_epoll.c), measured without slowing any (no strace): CPU time, user and
# system apart (utime and stime from /proc/PID/stat), context
# switches per thread (voluntary: the thread slept, in epoll_wait; involuntary: it was
# preempted, from /proc/PID/task/*/status) and system calls (`perf stat -e
# raw_syscalls:sys_enter`, when perf is installed), each divided by the connections made.
# The load is bench/proxies.sh's: CLIENTS threads (bench/c/conn_load.c) each looping connect +
# 64-byte echo + close for SECONDS_CONN, through the proxy to a threaded C echo server.
#
#   bench/switches.sh                                   # unix and tcp, 4 and 64 clients, 3 rounds
#   FAMILIES=unix CLIENTS=64 ROUNDS=5 SOCKBOX=target/release/sockbox bench/switches.sh
#   SOCKBOX=/tmp/new SOCKBOX_B=/tmp/old TOOLS="sockbox sockbox-b" bench/switches.sh
#
# Issue 15 measured this way that the system time per connection is the same for sockbox,
# haproxy and the C floor, and that the difference is user time (docs/benchmarks.md, "Where the
# rest of the gap is").
# Uses only 127.0.0.1 and a temp dir; every wait is bounded; cleans up what it starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
SECONDS_CONN=${SECONDS_CONN:-4}
CLIENTS=${CLIENTS:-"4 64"}
read -r -a families <<<"${FAMILIES:-unix tcp}"
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v perf >/dev/null || need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
    echo "note: could not install ${need[*]}" >&2
fi
# perf from Debian may not match a custom kernel: system calls are then left out.
perf_ok=false
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
  perf_ok=true
fi
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
tmp=$(mktemp -d)
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${bg[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
gcc -O2 -Wall -o "$tmp/conn_load" "$root/bench/c/conn_load.c" -lpthread
gcc -O2 -Wall -o "$tmp/tls_load" "$root/bench/c/tls_load.c" -lssl -lcrypto -lpthread
gcc -O2 -Wall -o "$tmp/proxy_epoll" "$root/bench/c/proxy_epoll.c" -lpthread
SB_B=${SOCKBOX_B:-}
default_tools="sockbox haproxy c-floor"
[ -n "$SB_B" ] && default_tools="sockbox sockbox-b haproxy c-floor"
read -r -a tools <<<"${TOOLS:-$default_tools}"

# fresh, wait_ready, wait_front
. "$root/bench/addrs.sh"

# start TOOL FRONT BACK: sets pid (the proxy, in its own session). Settings as bench/proxies.sh.
start() {
  local front=$2 back=$3 sb_f sb_b hp_f hp_b
  case $front in
    tcp:*) sb_f="tcp:127.0.0.1:${front#tcp:}"; hp_f="127.0.0.1:${front#tcp:}" ;;
    unix:*) sb_f=$front; hp_f="unix@${front#unix:}" ;;
  esac
  case $back in
    tcp:*) sb_b="tcp:127.0.0.1:${back#tcp:}"; hp_b="127.0.0.1:${back#tcp:}" ;;
    unix:*) sb_b=$back; hp_b="${back#unix:}" ;;
  esac
  case $1 in
    sockbox) setsid "$SB" -q relay "$sb_f" "$sb_b" >>"$tmp/front.log" 2>&1 & ;;
    sockbox-b) setsid "$SB_B" -q relay "$sb_f" "$sb_b" >>"$tmp/front.log" 2>&1 & ;;
    c-floor) setsid "$tmp/proxy_epoll" "$front" "$back" "$(nproc)" >>"$tmp/front.log" 2>&1 & ;;
    haproxy)
      printf 'global\n    nbthread 2\n    maxconn 9000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\nfrontend front\n    bind %s\n    default_backend back\nbackend back\n    server b %s\n' \
        "$hp_f" "$hp_b" >"$tmp/haproxy.cfg"
      setsid haproxy -db -f "$tmp/haproxy.cfg" >>"$tmp/front.log" 2>&1 & ;;
  esac
  pid=$!
  bg+=("$pid")
  wait_front "$front" "$tmp/front.log"
}

# counts PID: "user_ticks system_ticks voluntary involuntary" summed over its threads.
counts() {
  local v=0 i=0 t
  for t in /proc/"$1"/task/*/status; do
    read -r a b < <(awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' "$t" 2>/dev/null || echo "0 0")
    v=$((v + a)); i=$((i + b))
  done
  echo "$(awk '{print $14, $15}' /proc/"$1"/stat) $v $i"
}

hz=$(getconf CLK_TCK)
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox: $SB${SB_B:+; sockbox-b: $SB_B}; haproxy: $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}'), nbthread 2; tools: ${tools[*]}"
echo "# $ROUNDS rounds of ${SECONDS_CONN} s; clients: $CLIENTS; families: ${families[*]}; syscalls: $perf_ok"
echo "## per round: conn/s, then per connection: user and system CPU us, voluntary/involuntary switches, syscalls"
res=$tmp/res
mkdir -p "$res"
for round in $(seq "$ROUNDS"); do
  for fam in "${families[@]}"; do
    for c in $CLIENTS; do
      k=$((round % ${#tools[@]}))
      order=("${tools[@]:$k}" "${tools[@]:0:$k}")
      line="round $round $fam c=$c:"
      for tool in "${order[@]}"; do
        fresh back "$fam"
        setsid "$tmp/tls_load" echo "$back" >"$tmp/echo.out" 2>&1 &
        e=$!; bg+=("$e")
        wait_ready "$tmp/echo.out"
        fresh front "$fam"
        start "$tool" "$front" "$back"
        timeout 30 "$tmp/conn_load" "$front" 1 "$c" >/dev/null # warm-up, not counted
        read -r u0 s0 v0 i0 < <(counts "$pid")
        if $perf_ok; then
          perf stat -e raw_syscalls:sys_enter -p "$pid" -x, -o "$tmp/perf.out" -- sleep $((SECONDS_CONN + 1)) &
          ps_pid=$!
          sleep 0.3
        fi
        out=$(timeout -k 5 $((SECONDS_CONN + 60)) "$tmp/conn_load" "$front" "$SECONDS_CONN" "$c")
        read -r u1 s1 v1 i1 < <(counts "$pid")
        sys=-
        if $perf_ok; then
          timeout 30 tail --pid="$ps_pid" -f /dev/null || true
          sys=$(awk -F, '/raw_syscalls/{print $1}' "$tmp/perf.out")
        fi
        read -r conns _ rate _ _ _ failed <<<"$out"
        [ "${failed:-1}" = 0 ] || { echo "FAILED: $tool $fam c=$c: $out" >&2; exit 1; }
        vals=$(awk -v n="$conns" -v u=$((u1 - u0)) -v st=$((s1 - s0)) -v hz="$hz" -v v=$((v1 - v0)) -v i=$((i1 - i0)) -v s="$sys" -v r="$rate" \
          'BEGIN{printf "%s %.1f %.1f %.2f %.2f %s", r, u * 1e6 / hz / n, st * 1e6 / hz / n, v / n, i / n, (s == "-" ? "-" : sprintf("%.2f", s / n))}')
        echo "$vals" >>"$res/$fam-$c.$tool"
        line+=" $tool=$vals"
        kill -TERM -- "-$pid" "-$e" 2>/dev/null || true
        timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
        timeout 10 tail --pid="$e" -f /dev/null || kill -KILL "$e" 2>/dev/null || true
      done
      echo "$line"
    done
  done
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
col() { if [ "$2" = 6 ] && ! $perf_ok; then echo -; else awk -v k="$2" '{print $k}' "$1" | median; fi; }
echo
echo "## medians per connection"
printf "%-6s %-4s %-9s %9s %8s %8s %10s %12s %9s\n" family c tool conn/s user_us sys_us voluntary involuntary syscalls
for fam in "${families[@]}"; do
  for c in $CLIENTS; do
    for tool in "${tools[@]}"; do
      f=$res/$fam-$c.$tool
      printf "%-6s %-4s %-9s %9s %8s %8s %10s %12s %9s\n" "$fam" "$c" "$tool" "$(col "$f" 1)" "$(col "$f" 2)" "$(col "$f" 3)" "$(col "$f" 4)" "$(col "$f" 5)" "$(col "$f" 6)"
    done
  done
done
