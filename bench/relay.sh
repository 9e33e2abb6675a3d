#!/usr/bin/env bash
# Relay benchmark: sockbox relay side by side with socat (default and -b 262144) and two
# minimal C relays (poll + read/write with 256 KiB, poll + splice), in one run.
#
#   bench/relay.sh                       # everything: throughput, latency, idle memory
#   ROUNDS=3 BYTES=1073741824 bench/relay.sh --no-memory
#   SOCKBOX=/tmp/old SOCKBOX_B=target/release/sockbox TOOLS="direct sockbox sockbox-b" \
#     bench/relay.sh --no-memory     # two builds side by side (docs/benchmarks.md)
#
# Throughput: one stream of BYTES (default 4 GiB) from a C sender to a C receiver that checks
# every byte against a pattern (any lost or reordered byte fails the run), for the pairs
# tcp->tcp, unix->unix and unix->tcp, direct (no relay, over the receiving side's transport)
# and through each relay. Tools alternate within a round and the order rotates between rounds;
# medians over ROUNDS (default 5) are printed as a ratio of the direct median.
# Latency: 64-byte round trips (ping-pong, 20,000) through each relay to a C echo server.
# Memory: resident memory of the relay with IDLE (default "1000 9900") idle relayed
# connections, summing every process of the relay (socat forks one per connection), RSS and PSS.
#
# Runs as root (it raises the open-file limit) or as a user whose hard limit suffices; installs
# socat and gcc with apt-get when missing. Uses only 127.0.0.1 and a temp dir; cleans up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-4294967296}
ROUNDS=${ROUNDS:-5}
# 9,900 rather than 10,000: a relay holds 2 fds per connection, and this kind of sandbox caps
# every process at a hard RLIMIT_NOFILE of 20,000 that not even root may raise.
IDLE=${IDLE:-"1000 9900"}
PINGS=${PINGS:-20000}
memory=1
for arg in "$@"; do
  case $arg in
    --no-memory) memory=0 ;;
    *) echo "usage: bench/relay.sh [--no-memory]  (env: BYTES ROUNDS IDLE PINGS)" >&2; exit 2 ;;
  esac
done

need=()
command -v socat >/dev/null || need+=(socat)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SOCKBOX=path runs that binary instead of building; SOCKBOX_B=path adds it as tool sockbox-b.
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
SB_B=${SOCKBOX_B:-}
tmp=$(mktemp -d)
declare -a bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for p in sink source relay_rw relay_splice echo pingpong holder; do
  gcc -O2 -Wall -o "$tmp/$p" "$root/bench/c/$p.c"
done

echo "# sockbox relay benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# stream ${BYTES} bytes, ${ROUNDS} rounds, pings ${PINGS}"

# fresh, wait_ready, wait_front
. "$root/bench/addrs.sh"
sb_addr() { case $1 in tcp:*) echo "tcp:127.0.0.1:${1#tcp:}" ;; *) echo "$1" ;; esac; }
socat_listen() { case $1 in tcp:*) echo "TCP-LISTEN:${1#tcp:},reuseaddr,fork" ;; *) echo "UNIX-LISTEN:${1#unix:},fork" ;; esac; }
socat_connect() { case $1 in tcp:*) echo "TCP:127.0.0.1:${1#tcp:}" ;; *) echo "UNIX-CONNECT:${1#unix:}" ;; esac; }

# start_relay TOOL FRONT BACK: run the relay in its own process group; sets relay_pid.
start_relay() {
  local tool=$1 front=$2 back=$3
  case $tool in
    sockbox) setsid "$SB" -q relay "$(sb_addr "$front")" "$(sb_addr "$back")" >>"$tmp/relay.log" 2>&1 & ;;
    sockbox-b) setsid "$SB_B" -q relay "$(sb_addr "$front")" "$(sb_addr "$back")" >>"$tmp/relay.log" 2>&1 & ;;
    socat) setsid socat "$(socat_listen "$front")" "$(socat_connect "$back")" >>"$tmp/relay.log" 2>&1 & ;;
    socat-b256k) setsid socat -b 262144 "$(socat_listen "$front")" "$(socat_connect "$back")" >>"$tmp/relay.log" 2>&1 & ;;
    c-rw) setsid "$tmp/relay_rw" "$front" "$back" >>"$tmp/relay.log" 2>&1 & ;;
    c-splice) setsid "$tmp/relay_splice" "$front" "$back" >>"$tmp/relay.log" 2>&1 & ;;
  esac
  relay_pid=$!
  bg+=("$relay_pid")
  # Ready when the front accepts (the C sender also retries for 5 s).
  for _ in $(seq 500); do
    case $front in
      unix:*) [ -S "${front#unix:}" ] && break ;;
      tcp:*) ss -ltnH "sport = :${front#tcp:}" | grep -q . && break ;;
    esac
    sleep 0.01
  done
}
stop() { kill -TERM -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wait_ready FILE: until the C server prints "ready".

# throughput TOOL FROM TO: sets gib to the GiB/s of one verified stream.
throughput() {
  local tool=$1 from=$2 to=$3 back front out=$tmp/sink.out
  fresh back "$to"
  setsid "$tmp/sink" "$back" >"$out" & local sink=$!
  bg+=("$sink")
  wait_ready "$out"
  if [ "$tool" = direct ]; then
    timeout 120 "$tmp/source" "$back" "$BYTES"
  else
    fresh front "$from"
    start_relay "$tool" "$front" "$back"
    timeout 120 "$tmp/source" "$front" "$BYTES"
  fi
  wait "$sink" || true
  [ "$tool" = direct ] || stop "$relay_pid"
  local line
  line=$(tail -1 "$out")
  case $line in
    *" ok") gib=$(echo "$line" | cut -d' ' -f3) ;;
    *) echo "FAILED: $tool $from->$to: $line" >&2; exit 1 ;;
  esac
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

read -r -a tools <<<"${TOOLS:-direct sockbox socat socat-b256k c-rw c-splice}"
pairs=("tcp tcp" "unix unix" "unix tcp")
res=$tmp/results
mkdir -p "$res"

echo
echo "## throughput (GiB/s per round)"
for round in $(seq "$ROUNDS"); do
  # Rotate the tool order each round so no tool always runs first or last.
  order=("${tools[@]:$((round % ${#tools[@]}))}" "${tools[@]:0:$((round % ${#tools[@]}))}")
  for pair in "${pairs[@]}"; do
    set -- $pair
    line="round $round $1->$2:"
    for tool in "${order[@]}"; do
      throughput "$tool" "$1" "$2"
      echo "$gib" >>"$res/$1-$2.$tool"
      line+=" $tool=$gib"
    done
    echo "$line"
  done
done

has() { local t; for t in "${tools[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

echo
# Ratios of direct only when direct ran (TOOLS may leave it out); the spread either way.
if has direct; then
  echo "## throughput medians, ratio of direct (min-max over rounds)"
else
  echo "## throughput medians, GiB/s (min-max over rounds; no direct run to compare with)"
fi
printf "%-12s" "relay"; for pair in "${pairs[@]}"; do set -- $pair; printf "%-34s" "$1->$2"; done; echo
for tool in "${tools[@]}"; do
  printf "%-12s" "$tool"
  for pair in "${pairs[@]}"; do
    set -- $pair
    m=$(median <"$res/$1-$2.$tool")
    r=$(spread <"$res/$1-$2.$tool")
    if has direct; then
      d=$(median <"$res/$1-$2.direct")
      printf "%-34s" "$(awk -v m="$m" -v d="$d" -v r="$r" 'BEGIN{printf "%.2f (%.2f GiB/s, %s)", m/d, m, r}') "
    else
      printf "%-34s" "$m ($r) "
    fi
  done
  echo
done
echo
if has sockbox; then
echo "sockbox vs the others (median GiB/s ratios):"
for pair in "${pairs[@]}"; do
  set -- $pair
  s=$(median <"$res/$1-$2.sockbox")
  line="  $1->$2:"
  for tool in "${tools[@]}"; do
    case $tool in direct|sockbox) continue ;; esac
    line+=" $(awk -v s="$s" -v o="$(median <"$res/$1-$2.$tool")" -v t="$tool" 'BEGIN{printf "%.2fx %s,", s/o, t}')"
  done
  echo "${line%,}"
done
fi

echo
echo "## round trip of 64 bytes through the relay, p50/p99 us (median of $ROUNDS runs of $PINGS)"
for pair in "${pairs[@]}"; do
  set -- $pair
  line="$1->$2:"
  for tool in "${tools[@]}"; do
    : >"$tmp/p50"; : >"$tmp/p99"
    for _ in $(seq "$ROUNDS"); do
      fresh back "$2"
      setsid "$tmp/echo" "$back" >"$tmp/echo.out" 2>&1 & e=$!; bg+=("$e")
      wait_ready "$tmp/echo.out"
      target=$back
      if [ "$tool" != direct ]; then fresh front "$1"; start_relay "$tool" "$front" "$back"; target=$front; fi
      timeout 60 "$tmp/pingpong" "$target" "$PINGS" >"$tmp/pp.out"
      read -r p50 p99 <"$tmp/pp.out"
      echo "$p50" >>"$tmp/p50"; echo "$p99" >>"$tmp/p99"
      [ "$tool" = direct ] || stop "$relay_pid"
      stop "$e"
    done
    line+=" $tool=$(median <"$tmp/p50")/$(median <"$tmp/p99")"
  done
  echo "$line"
done

[ "$memory" = 1 ] || exit 0
echo
echo "## resident memory with idle relayed connections (tcp->unix; all processes of the relay)"
# kib_of PID FIELD FILE: sum FIELD over PID and all its descendants.
descendants() { local p=$1; echo "$p"; for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done; }
mem_of() {
  local rss=0 pss=0 procs=0 p v
  for p in $(descendants "$1"); do
    v=$(awk '/^VmRSS/{print $2}' /proc/"$p"/status 2>/dev/null || echo 0); rss=$((rss + ${v:-0}))
    v=$(awk '/^Pss:/{print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0); pss=$((pss + ${v:-0}))
    procs=$((procs + 1))
  done
  echo "$procs $rss $pss"
}
for count in $IDLE; do
  for tool in sockbox socat-b256k; do
    # socat forks a process per connection: past SOCAT_IDLE_MAX (1,000) that is thousands of
    # processes whose summed RSS (shared pages counted in each) says nothing; PSS is reported.
    if [ "$tool" != sockbox ] && [ "$count" -gt "${SOCAT_IDLE_MAX:-1000}" ]; then continue; fi
    fresh back unix
    setsid "$tmp/holder" accept "$back" >"$tmp/h.out" & h=$!; bg+=("$h")
    wait_ready "$tmp/h.out"
    fresh front tcp
    start_relay "$tool" "$front" "$back"
    sleep 0.3
    read -r procs0 rss0 pss0 < <(mem_of "$relay_pid")
    mkfifo "$tmp/hold.in"
    setsid "$tmp/holder" connect "$front" "$count" <"$tmp/hold.in" >"$tmp/c.out" & c=$!; bg+=("$c")
    exec 9>"$tmp/hold.in"
    for _ in $(seq 1200); do grep -q held "$tmp/c.out" 2>/dev/null && break; sleep 0.05; done
    # Until every client has its upstream connection (2 fds each, or one process each).
    for _ in $(seq 600); do
      if [ "$tool" = sockbox ]; then
        [ "$(ls /proc/"$relay_pid"/fd | wc -l)" -ge $((2 * count)) ] && break
      else
        [ "$(descendants "$relay_pid" | wc -l)" -gt "$count" ] && break
      fi
      sleep 0.1
    done
    sleep 0.5
    read -r procs rss pss < <(mem_of "$relay_pid")
    awk -v t="$tool" -v n="$count" -v p="$procs" -v r="$rss" -v s="$pss" -v r0="$rss0" \
      'BEGIN{printf "%-12s %6d conns: %6d processes, RSS %8.1f MiB, PSS %8.1f MiB (idle relay alone: RSS %.1f MiB)\n", t, n, p, r/1024, s/1024, r0/1024}'
    exec 9>&-
    rm -f "$tmp/hold.in"
    stop "$c"; stop "$relay_pid"; stop "$h"
  done
done
