#!/usr/bin/env bash
# TLS termination benchmark: sockbox relay with a tls: listening side, side by side with socat
# OPENSSL-LISTEN (fork) and haproxy (mode tcp, bind ... ssl crt, nbthread 2), in one run, each in
# front of the same plain backend, on the same certificate (ECDSA P-256, made here) and cipher
# (TLS 1.3 TLS_AES_128_GCM_SHA256: the only one the client offers).
#
#   bench/tls.sh                              # bulk over TCP and Unix backends, handshakes
#   ROUNDS=3 BYTES=1073741824 HS_SECONDS=5 bench/tls.sh
#   SOCKBOX=/tmp/old SOCKBOX_B=target/release/sockbox TOOLS="sockbox sockbox-b haproxy" bench/tls.sh
#
# Bulk: one TLS stream of BYTES (default 2 GiB) from an OpenSSL C client (bench/c/tls_load.c) to
# the terminator, which relays the plaintext to a C sink checking every byte (bench/c/sink.c),
# over TCP and over a Unix socket. Handshakes: THREADS (default 2) client threads, each
# connect + full handshake (no resumption) + a 64-byte echo through to a threaded C echo
# backend + close, for HS_SECONDS (default 10). Tools alternate within a round and the order rotates
# between rounds; medians over ROUNDS (default 5) are printed, with sockbox's ratio to each.
#
# Installs socat, haproxy, openssl, gcc and libssl-dev with apt-get when missing. Uses only
# 127.0.0.1 and a temp dir; cleans up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-2147483648}
ROUNDS=${ROUNDS:-5}
SECONDS_HS=${HS_SECONDS:-10}
THREADS=${THREADS:-2}

need=()
command -v socat >/dev/null || need+=(socat)
command -v haproxy >/dev/null || need+=(haproxy)
command -v openssl >/dev/null || need+=(openssl)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
# A second build side by side (SOCKBOX_B), as bench/relay.sh and bench/proxies.sh take.
SB_B=${SOCKBOX_B:-}
tmp=$(mktemp -d)
declare -a bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
gcc -O2 -Wall -o "$tmp/sink" "$root/bench/c/sink.c"
gcc -O2 -Wall -o "$tmp/tls_load" "$root/bench/c/tls_load.c" -lssl -lcrypto -lpthread

# One certificate for all three: ECDSA P-256, self-signed for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/both.pem"

echo "# sockbox TLS termination benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') ($SB)${SB_B:+ (sockbox-b: $SB_B)}  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')  $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)  $(openssl version | cut -d' ' -f1-2)"
echo "# bulk ${BYTES} bytes, ${ROUNDS} rounds; handshakes ${SECONDS_HS} s x ${THREADS} client threads"
echo "# certificate ECDSA P-256; TLS 1.3 TLS_AES_128_GCM_SHA256"

n=0
fresh_port() { n=$((n + 1)); port=$((10000 + (RANDOM * 7 + n) % 20000)); }
wait_ready() { for _ in $(seq 500); do grep -q ready "$1" 2>/dev/null && return; sleep 0.01; done; echo "server did not start" >&2; exit 1; }
wait_port() { for _ in $(seq 500); do ss -ltnH "sport = :$1" | grep -q . && return; sleep 0.01; done; echo "nothing listens on $1" >&2; exit 1; }
stop() { kill -TERM -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# start_front TOOL PORT BACK: the TLS terminator on 127.0.0.1:PORT relaying to BACK
# ("tcp:PORT" or "unix:PATH"); sets front_pid.
start_front() {
  local tool=$1 port=$2 back=$3 sb_back socat_back hap_back
  case $back in
    tcp:*) sb_back="tcp:127.0.0.1:${back#tcp:}"; socat_back="TCP:127.0.0.1:${back#tcp:}"; hap_back="127.0.0.1:${back#tcp:}" ;;
    unix:*) sb_back=$back; socat_back="UNIX-CONNECT:${back#unix:}"; hap_back="${back#unix:}" ;;
  esac
  case $tool in
    sockbox-b)
      setsid "$SB_B" -q relay "tls:127.0.0.1:$port,cert=$tmp/cert.pem,key=$tmp/key.pem" "$sb_back" \
        >>"$tmp/front.log" 2>&1 & ;;
    sockbox)
      setsid "$SB" -q relay "tls:127.0.0.1:$port,cert=$tmp/cert.pem,key=$tmp/key.pem" "$sb_back" \
        >>"$tmp/front.log" 2>&1 & ;;
    socat)
      setsid socat -b 262144 "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0" \
        "$socat_back" >>"$tmp/front.log" 2>&1 & ;;
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
frontend tls
    bind 127.0.0.1:$port ssl crt $tmp/both.pem
    default_backend plain
backend plain
    server b $hap_back
EOF
      setsid haproxy -db -f "$tmp/haproxy.cfg" >>"$tmp/front.log" 2>&1 & ;;
  esac
  front_pid=$!
  bg+=("$front_pid")
  wait_port "$port"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

# bulk TOOL BACKEND_KIND: sets gib.
bulk() {
  local tool=$1 kind=$2 back out=$tmp/sink.out
  if [ "$kind" = tcp ]; then fresh_port; back="tcp:$port"; else n=$((n + 1)); back="unix:$tmp/sink$n.sock"; fi
  setsid "$tmp/sink" "$back" >"$out" & local sink=$!
  bg+=("$sink")
  wait_ready "$out"
  fresh_port
  start_front "$tool" "$port" "$back"
  timeout 300 "$tmp/tls_load" bulk "tcp:$port" "$BYTES"
  wait "$sink" || true
  stop "$front_pid"
  local line
  line=$(tail -1 "$out")
  case $line in
    *" ok") gib=$(echo "$line" | cut -d' ' -f3) ;;
    *) echo "FAILED: $tool bulk -> $kind: $line" >&2; exit 1 ;;
  esac
}

# handshakes TOOL: sets rate, p50, p99.
handshakes() {
  local tool=$1
  fresh_port
  local back="tcp:$port"
  setsid "$tmp/tls_load" echo "$back" >"$tmp/echo.out" 2>&1 & local e=$!
  bg+=("$e")
  wait_ready "$tmp/echo.out"
  fresh_port
  start_front "$tool" "$port" "$back"
  local line
  line=$(timeout $((SECONDS_HS + 60)) "$tmp/tls_load" handshakes "tcp:$port" "$SECONDS_HS" "$THREADS")
  read -r _ _ rate p50 p99 <<<"$line"
  stop "$front_pid"
  stop "$e"
}

default_tools="sockbox haproxy socat"
[ -n "$SB_B" ] && default_tools="sockbox sockbox-b haproxy socat"
read -r -a tools <<<"${TOOLS:-$default_tools}"
res=$tmp/results
mkdir -p "$res"
echo
echo "## per round: bulk GiB/s (TLS client -> terminator -> sink), handshakes/s"
for round in $(seq "$ROUNDS"); do
  order=("${tools[@]:$((round % ${#tools[@]}))}" "${tools[@]:0:$((round % ${#tools[@]}))}")
  for kind in tcp unix; do
    line="round $round bulk ->$kind:"
    for tool in "${order[@]}"; do
      bulk "$tool" "$kind"
      echo "$gib" >>"$res/bulk-$kind.$tool"
      line+=" $tool=$gib"
    done
    echo "$line"
  done
  line="round $round handshakes:"
  for tool in "${order[@]}"; do
    handshakes "$tool"
    echo "$rate" >>"$res/hs.$tool"; echo "$p50" >>"$res/p50.$tool"; echo "$p99" >>"$res/p99.$tool"
    line+=" $tool=$rate/s (p50 ${p50} us)"
  done
  echo "$line"
done

echo
echo "## medians (min-max over rounds)"
printf "%-10s %-24s %-24s %-30s\n" tool "bulk ->tcp GiB/s" "bulk ->unix GiB/s" "handshakes/s (p50/p99 us)"
for tool in "${tools[@]}"; do
  printf "%-10s %-24s %-24s %-30s\n" "$tool" \
    "$(median <"$res/bulk-tcp.$tool") ($(spread <"$res/bulk-tcp.$tool"))" \
    "$(median <"$res/bulk-unix.$tool") ($(spread <"$res/bulk-unix.$tool"))" \
    "$(median <"$res/hs.$tool") ($(spread <"$res/hs.$tool")) $(median <"$res/p50.$tool")/$(median <"$res/p99.$tool")"
done
echo
echo "sockbox / other (medians):"
for tool in "${tools[@]}"; do
  [ "$tool" = sockbox ] && continue
  awk -v t="$tool" \
    -v bt="$(median <"$res/bulk-tcp.sockbox")" -v ot="$(median <"$res/bulk-tcp.$tool")" \
    -v bu="$(median <"$res/bulk-unix.sockbox")" -v ou="$(median <"$res/bulk-unix.$tool")" \
    -v hs="$(median <"$res/hs.sockbox")" -v oh="$(median <"$res/hs.$tool")" \
    'BEGIN{printf "  vs %-8s bulk ->tcp %.2fx, bulk ->unix %.2fx, handshakes %.2fx\n", t, bt/ot, bu/ou, hs/oh}'
done
