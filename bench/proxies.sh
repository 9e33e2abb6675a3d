#!/usr/bin/env bash
# Proxy benchmark: sockbox relay side by side with haproxy (mode tcp), nginx (stream module) and
# socat (fork), each in front of the same threaded C echo server, over TCP and over Unix sockets.
#
#   bench/proxies.sh                                  # everything
#   ROUNDS=3 SECONDS_CONN=5 CLIENTS="1 4 64" BULK=1073741824 bench/proxies.sh
#   SOCKBOX=/tmp/old SOCKBOX_B=target/release/sockbox bench/proxies.sh   # two builds side by side
#   TOOLS="sockbox haproxy" FAMILIES=tcp bench/proxies.sh
#
# Short connections: CLIENTS client threads (each of 1, 4, 64 by default), each in a loop for
# SECONDS_CONN (default 5): connect + 64-byte echo through the proxy + close
# (bench/c/conn_load.c); the echo server behind is bench/c/tls_load.c's threaded `echo`.
# Reported: connections/s and whole-cycle p50/p99/max (us). Bulk: one verified stream of BULK
# bytes (default 1 GiB) from bench/c/source.c through the proxy to bench/c/sink.c.
# Tools alternate within a round and their order rotates between rounds; medians over ROUNDS
# (default 3), then sockbox's ratio to each other tool.
#
# The settings each proxy gets (the best of what was tried here, for 2 cores):
# - haproxy: nbthread 2 (one per core), maxconn 9000 (the most the 20,000 fd hard limit lets
#   it start with), mode tcp, default buffers;
# - nginx: 2 worker processes, worker_connections 9000, reuseport on TCP listeners (an accept
#   queue per worker), proxy_buffer_size 64k;
# - socat: -b 262144, fork (a process per connection; its best bulk setting);
# - sockbox: relay -q (no peer lines), release build, default settings;
# - c-floor: bench/c/proxy_epoll.c, the least a proxy can do here (one epoll per core, no
#   timeouts, logs or limits): not a tool anyone would run, but the ceiling of what any proxy
#   can reach on this machine, since the kernel's share of a relayed connection is the same for
#   every proxy (docs/benchmarks.md, issue 15).
#
# Installs haproxy, nginx + libnginx-mod-stream, socat, gcc and libssl-dev with apt-get when
# missing. Uses only 127.0.0.1 and a temp dir; cleans up every process and file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
SECONDS_CONN=${SECONDS_CONN:-5}
CLIENTS=${CLIENTS:-"1 4 64"}
BULK=${BULK:-1073741824}
read -r -a families <<<"${FAMILIES:-tcp unix}"

need=()
command -v socat >/dev/null || need+=(socat)
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SOCKBOX=path runs that binary instead of building; SOCKBOX_B=path adds it as tool sockbox-b.
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
SB_B=${SOCKBOX_B:-}
tmp=$(mktemp -d)
declare -a bg=()
# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
# reap PID SECS: wait at most SECS seconds for PID to exit; 1 if it is still running.
reap() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    alive "$1" || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  return 1
}
# stop PID: TERM its process group, then KILL it if it is not gone within 5 s. Every wait in
# this script is bounded: a proxy that does not exit on TERM cannot hang the run.
stop() {
  kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
  if ! reap "$1" 5; then
    echo "note: pid $1 did not exit on TERM within 5 s; killed" >&2
    kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || true
    reap "$1" 5 || true
  fi
}
cleanup() {
  for p in "${bg[@]}"; do stop "$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for p in sink source conn_load proxy_epoll; do
  gcc -O2 -Wall -o "$tmp/$p" "$root/bench/c/$p.c" -lpthread
done
gcc -O2 -Wall -o "$tmp/tls_load" "$root/bench/c/tls_load.c" -lssl -lcrypto -lpthread

default_tools="sockbox haproxy nginx socat c-floor"
[ -n "$SB_B" ] && default_tools="sockbox sockbox-b haproxy nginx socat c-floor"
read -r -a tools <<<"${TOOLS:-$default_tools}"

echo "# sockbox proxy benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')${SB_B:+ (sockbox-b: $SB_B)}  $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)  $(nginx -v 2>&1 | cut -d' ' -f3)  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# ${ROUNDS} rounds; short connections ${SECONDS_CONN} s at clients: ${CLIENTS}; bulk ${BULK} bytes; families: ${families[*]}"

# fresh, wait_ready, wait_front
. "$root/bench/addrs.sh"

# start_front TOOL FRONT BACK: the proxy accepting on FRONT and connecting to BACK (each
# "tcp:PORT" or "unix:PATH"), in its own process group; sets front_pid.
start_front() {
  local tool=$1 front=$2 back=$3 sb_f sb_b so_f so_b hp_f hp_b ng_f ng_b
  case $front in
    tcp:*) sb_f="tcp:127.0.0.1:${front#tcp:}"; so_f="TCP-LISTEN:${front#tcp:},bind=127.0.0.1,reuseaddr,fork"
           hp_f="127.0.0.1:${front#tcp:}"; ng_f="127.0.0.1:${front#tcp:} reuseport backlog=4096" ;;
    unix:*) sb_f=$front; so_f="UNIX-LISTEN:${front#unix:},fork"; hp_f="unix@${front#unix:}"
            ng_f="unix:${front#unix:} backlog=4096" ;;
  esac
  case $back in
    tcp:*) sb_b="tcp:127.0.0.1:${back#tcp:}"; so_b="TCP:127.0.0.1:${back#tcp:}"
           hp_b="127.0.0.1:${back#tcp:}"; ng_b="127.0.0.1:${back#tcp:}" ;;
    unix:*) sb_b=$back; so_b="UNIX-CONNECT:${back#unix:}"; hp_b="${back#unix:}"; ng_b="unix:${back#unix:}" ;;
  esac
  case $tool in
    sockbox) setsid "$SB" -q relay "$sb_f" "$sb_b" >>"$tmp/front.log" 2>&1 & ;;
    sockbox-b) setsid "$SB_B" -q relay "$sb_f" "$sb_b" >>"$tmp/front.log" 2>&1 & ;;
    socat) setsid socat -b 262144 "$so_f" "$so_b" >>"$tmp/front.log" 2>&1 & ;;
    c-floor) setsid "$tmp/proxy_epoll" "$front" "$back" "$(nproc)" >>"$tmp/front.log" 2>&1 & ;;
    haproxy)
      cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend front
    bind $hp_f
    default_backend back
backend back
    server b $hp_b
EOF
      setsid haproxy -db -f "$tmp/haproxy.cfg" >>"$tmp/front.log" 2>&1 & ;;
    nginx)
      cat >"$tmp/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
user root;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log error;
events {
    worker_connections 9000;
}
stream {
    server {
        listen $ng_f;
        proxy_pass $ng_b;
        proxy_buffer_size 64k;
    }
}
EOF
      setsid nginx -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" -p "$tmp" >>"$tmp/front.log" 2>&1 & ;;
  esac
  front_pid=$!
  bg+=("$front_pid")
  wait_front "$front" "$tmp/front.log"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

# conns TOOL FAMILY CLIENTS: sets rate p50 p99 max failed.
conns() {
  local tool=$1 fam=$2 c=$3 back front
  fresh back "$fam"
  setsid "$tmp/tls_load" echo "$back" >"$tmp/echo.out" 2>&1 & local e=$!
  bg+=("$e")
  wait_ready "$tmp/echo.out"
  fresh front "$fam"
  start_front "$tool" "$front" "$back"
  local line
  line=$(timeout -k 5 $((SECONDS_CONN + 60)) "$tmp/conn_load" "$front" "$SECONDS_CONN" "$c") || {
    # Not a sample: left out of the medians (and said on stderr).
    echo "note: $tool $fam c=$c: the load did not finish in time; round left out" >&2
    line="- - - - - - 1"
  }
  read -r _ _ rate p50 p99 max failed <<<"$line"
  stop "$front_pid"
  stop "$e"
  if [ "${failed:-1}" != 0 ]; then echo "note: $tool $fam c=$c: $failed failed cycles" >&2; fi
}

# bulk TOOL FAMILY: sets gib.
bulk() {
  local tool=$1 fam=$2 back front out=$tmp/sink.out
  fresh back "$fam"
  setsid "$tmp/sink" "$back" >"$out" & local sink=$!
  bg+=("$sink")
  wait_ready "$out"
  fresh front "$fam"
  start_front "$tool" "$front" "$back"
  timeout -k 5 300 "$tmp/source" "$front" "$BULK" || echo "note: $tool bulk $fam: the source failed or timed out" >&2
  # The sink ends at end of stream; a proxy that never passes the end on does not hang the run.
  reap "$sink" 30 || { echo "note: $tool bulk $fam: no end of stream at the sink in 30 s" >&2; stop "$sink"; }
  stop "$front_pid"
  local line
  line=$(tail -1 "$out")
  case $line in
    *" ok") gib=$(echo "$line" | cut -d' ' -f3) ;;
    *) echo "FAILED: $tool bulk $fam: $line" >&2; exit 1 ;;
  esac
}

res=$tmp/results
mkdir -p "$res"
echo
echo "## per round: connections/s (p50/p99/max us); bulk GiB/s"
for round in $(seq "$ROUNDS"); do
  order=("${tools[@]:$((round % ${#tools[@]}))}" "${tools[@]:0:$((round % ${#tools[@]}))}")
  for fam in "${families[@]}"; do
    for c in $CLIENTS; do
      line="round $round $fam c=$c:"
      for tool in "${order[@]}"; do
        conns "$tool" "$fam" "$c"
        k="$fam-$c.$tool"
        if [ "$rate" != - ]; then
          echo "$rate" >>"$res/rate-$k"; echo "$p50" >>"$res/p50-$k"; echo "$p99" >>"$res/p99-$k"; echo "$max" >>"$res/max-$k"
        fi
        touch "$res/rate-$k" "$res/p50-$k" "$res/p99-$k" "$res/max-$k"
        line+=" $tool=$rate ($p50/$p99/$max)"
      done
      echo "$line"
    done
    line="round $round $fam bulk:"
    for tool in "${order[@]}"; do
      bulk "$tool" "$fam"
      echo "$gib" >>"$res/bulk-$fam.$tool"
      line+=" $tool=$gib"
    done
    echo "$line"
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "## medians (min-max of conn/s over rounds)"
printf "%-6s %-8s %-10s %-22s %-22s %-12s\n" family clients tool "conn/s" "p50/p99/max us" "bulk GiB/s"
for fam in "${families[@]}"; do
  for tool in "${tools[@]}"; do
    for c in $CLIENTS; do
      k="$fam-$c.$tool"
      printf "%-6s %-8s %-10s %-22s %-22s %-12s\n" "$fam" "$c" "$tool" \
        "$(median <"$res/rate-$k") ($(spread <"$res/rate-$k"))" \
        "$(median <"$res/p50-$k")/$(median <"$res/p99-$k")/$(median <"$res/max-$k")" ""
    done
    printf "%-6s %-8s %-10s %-22s %-22s %-12s\n" "$fam" bulk "$tool" "" "" \
      "$(median <"$res/bulk-$fam.$tool") ($(spread <"$res/bulk-$fam.$tool"))"
  done
done

echo
echo "## sockbox / other (medians): conn/s ratio, p50 and p99 ratio (below 1 is shorter), bulk ratio"
for fam in "${families[@]}"; do
  for tool in "${tools[@]}"; do
    [ "$tool" = sockbox ] && continue
    line="$fam vs $tool:"
    for c in $CLIENTS; do
      line+=$(awk -v c="$c" \
        -v r="$(median <"$res/rate-$fam-$c.sockbox")" -v o="$(median <"$res/rate-$fam-$c.$tool")" \
        -v p="$(median <"$res/p50-$fam-$c.sockbox")" -v op="$(median <"$res/p50-$fam-$c.$tool")" \
        -v q="$(median <"$res/p99-$fam-$c.sockbox")" -v oq="$(median <"$res/p99-$fam-$c.$tool")" \
        'BEGIN{if (o > 0 && op > 0 && oq > 0) printf "  c=%s %.2fx (p50 %.2f, p99 %.2f)", c, r/o, p/op, q/oq; else printf "  c=%s -", c}')
    done
    line+=$(awk -v b="$(median <"$res/bulk-$fam.sockbox")" -v o="$(median <"$res/bulk-$fam.$tool")" \
      'BEGIN{printf "  bulk %.2fx", b/o}')
    echo "$line"
  done
done
