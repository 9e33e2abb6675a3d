#!/usr/bin/env bash
# Fault layer benchmark: what the fault path costs when no fault fires, side by side in one
# run with the plain relay and socat. toxiproxy is not packaged in Debian (apt-cache search
# toxiproxy finds nothing), so it is not in the run; docs/faults.md compares features instead.
#
#   bench/faults.sh                          # 5 rounds of a 1 GiB stream per tool and pair
#   ROUNDS=3 BYTES=536870912 bench/faults.sh
#   BASELINE=/tmp/sockbox-old bench/faults.sh  # also that binary's fault rows: before/after
#
# One stream of BYTES from a C sender to a C receiver that checks every byte (bench/c), for
# tcp->tcp and unix->unix, direct and through:
#   sockbox          relay with no fault flag (its own path: splice into unix, buffered into tcp)
#   sockbox-buf      relay --copy buffered (the read/write path the fault layer replaces)
#   fault-rate       relay --rate 10GiB/s: the fault layer with a pacer that never waits
#   fault-latency    relay --latency 1ms: every chunk queued and released 1 ms later
#   socat-b256k      socat -b 262144
#   base-rate, base-latency   with BASELINE=BIN: fault-rate and fault-latency run by BIN
# Tools alternate within a round and the order rotates between rounds; medians over ROUNDS,
# as GiB/s and as ratios (of direct, and of the buffered relay the fault layer is built on).
#
# Installs socat and gcc with apt-get when missing. Uses only 127.0.0.1 and a temp dir;
# cleans up every process and file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-1073741824}
ROUNDS=${ROUNDS:-5}

need=()
command -v socat >/dev/null || need+=(socat)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# SOCKBOX=path runs that binary instead of building.
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-$root/target/release/sockbox}
tmp=$(mktemp -d)
declare -a bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for p in sink source; do
  gcc -O2 -Wall -o "$tmp/$p" "$root/bench/c/$p.c"
done

echo "# sockbox fault layer benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${BASELINE:-}" ] || echo "# baseline (base-*): $BASELINE"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# toxiproxy: $(apt-cache policy toxiproxy 2>/dev/null | grep -q Candidate && echo packaged || echo 'not packaged in Debian: not in the run')"
echo "# stream ${BYTES} bytes, ${ROUNDS} rounds"

# fresh, wait_ready, wait_front
. "$root/bench/addrs.sh"
sb_addr() { case $1 in tcp:*) echo "tcp:127.0.0.1:${1#tcp:}" ;; *) echo "$1" ;; esac; }
socat_listen() { case $1 in tcp:*) echo "TCP-LISTEN:${1#tcp:},reuseaddr,fork" ;; *) echo "UNIX-LISTEN:${1#unix:},fork" ;; esac; }
socat_connect() { case $1 in tcp:*) echo "TCP:127.0.0.1:${1#tcp:}" ;; *) echo "UNIX-CONNECT:${1#unix:}" ;; esac; }

# start_relay TOOL FRONT BACK: the relay in its own process group; sets relay_pid.
start_relay() {
  local tool=$1 front=$2 back=$3
  local f b
  f=$(sb_addr "$front"); b=$(sb_addr "$back")
  case $tool in
    sockbox) setsid "$SB" -q relay "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    sockbox-buf) setsid "$SB" -q relay "$f" "$b" --copy buffered >>"$tmp/relay.log" 2>&1 & ;;
    fault-rate) setsid "$SB" -q relay "$f" "$b" --rate 10GiB/s --seed 1 >>"$tmp/relay.log" 2>&1 & ;;
    fault-latency) setsid "$SB" -q relay "$f" "$b" --latency 1ms --seed 1 >>"$tmp/relay.log" 2>&1 & ;;
    base-rate) setsid "$BASELINE" -q relay "$f" "$b" --rate 10GiB/s --seed 1 >>"$tmp/relay.log" 2>&1 & ;;
    base-latency) setsid "$BASELINE" -q relay "$f" "$b" --latency 1ms --seed 1 >>"$tmp/relay.log" 2>&1 & ;;
    socat-b256k) setsid socat -b 262144 "$(socat_listen "$front")" "$(socat_connect "$back")" >>"$tmp/relay.log" 2>&1 & ;;
  esac
  relay_pid=$!
  bg+=("$relay_pid")
  for _ in $(seq 500); do
    case $front in
      unix:*) [ -S "${front#unix:}" ] && break ;;
      tcp:*) ss -ltnH "sport = :${front#tcp:}" | grep -q . && break ;;
    esac
    sleep 0.01
  done
}
stop() { kill -TERM -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

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

default_tools="direct sockbox sockbox-buf fault-rate fault-latency socat-b256k"
[ -n "${BASELINE:-}" ] && default_tools+=" base-rate base-latency"
read -r -a tools <<<"${TOOLS:-$default_tools}"
pairs=("tcp tcp" "unix unix")
res=$tmp/results
mkdir -p "$res"

echo
echo "## throughput (GiB/s per round)"
for round in $(seq "$ROUNDS"); do
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

echo
echo "## medians (min-max): GiB/s, ratio of direct, ratio of sockbox-buf"
for pair in "${pairs[@]}"; do
  set -- $pair
  d=$(median <"$res/$1-$2.direct")
  b=$(median <"$res/$1-$2.sockbox-buf")
  echo "$1->$2:"
  for tool in "${tools[@]}"; do
    m=$(median <"$res/$1-$2.$tool")
    printf "  %-14s %6s GiB/s (%s)  %5s of direct  %5s of sockbox-buf\n" "$tool" "$m" \
      "$(spread <"$res/$1-$2.$tool")" \
      "$(awk -v m="$m" -v d="$d" 'BEGIN{printf "%.2f", m/d}')" \
      "$(awk -v m="$m" -v b="$b" 'BEGIN{printf "%.2f", m/b}')"
  done
done
