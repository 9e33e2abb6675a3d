#!/usr/bin/env bash
# Traffic-dump benchmark: relay throughput while showing or capturing the traffic, side by
# side with socat's own dump, in one run.
#
#   bench/dump.sh
#   ROUNDS=5 BYTES=1073741824 SOCAT_BYTES=134217728 bench/dump.sh
#
# One stream of BYTES (default 512 MiB; SOCAT_BYTES, default 64 MiB, through socat -v and -x,
# which move about 3 MiB/s here) from a C sender to a C receiver that checks every byte
# against a pattern (bench/c/source.c, sink.c), for tcp->tcp and unix->unix, through:
#   plain      sockbox relay --copy buffered (the plain buffered relay: what a tap builds on)
#   splice     sockbox relay (default path, zero-copy between Unix sockets)
#   dump-hex   sockbox relay --dump=hex --dump-to /dev/null
#   dump-text  sockbox relay --dump --dump-to /dev/null
#   pcap       sockbox relay --pcap FILE (a file in the temp dir, removed after each run)
#   socat-v    socat -v (text dump) 2>/dev/null
#   socat-x    socat -x (hex dump) 2>/dev/null
#   file       no relay: dd writing BYTES into a new file in the same temp dir (removed after
#              each run), the machine's own price of the bytes --pcap writes. On this kind of
#              VM, memory the guest freed goes back to the host within seconds (virtio-balloon
#              free page reporting), and the page cache of a new file then costs a host fault
#              per page: 1 GiB written by dd took 3.6 s (295 MB/s) with cold pages, 0.32 s
#              (3.3 GB/s) right after a 1 GiB file was removed.
# Tools alternate within a round and the order rotates between rounds; medians over ROUNDS
# (default 3) are printed, with the two target ratios: --dump=hex / socat -x (>= 3) and
# --pcap / plain (>= 0.5), and --pcap / file.
#
# Installs socat and gcc with apt-get when missing. Uses only 127.0.0.1 and a temp dir;
# cleans up every process and file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-536870912}
SOCAT_BYTES=${SOCAT_BYTES:-67108864}
ROUNDS=${ROUNDS:-3}

need=()
command -v socat >/dev/null || need+=(socat)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

(cd "$root" && cargo build --release --quiet)
SB=$root/target/release/sockbox
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

echo "# sockbox traffic-dump benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# stream ${BYTES} bytes (socat -v/-x: ${SOCAT_BYTES}), ${ROUNDS} rounds"

# fresh, wait_ready, wait_front
. "$root/bench/addrs.sh"
sb_addr() { case $1 in tcp:*) echo "tcp:127.0.0.1:${1#tcp:}" ;; *) echo "$1" ;; esac; }
socat_listen() { case $1 in tcp:*) echo "TCP-LISTEN:${1#tcp:},reuseaddr,fork" ;; *) echo "UNIX-LISTEN:${1#unix:},fork" ;; esac; }
socat_connect() { case $1 in tcp:*) echo "TCP:127.0.0.1:${1#tcp:}" ;; *) echo "UNIX-CONNECT:${1#unix:}" ;; esac; }

# start_relay TOOL FRONT BACK: the relay in its own process group; sets relay_pid.
start_relay() {
  local tool=$1 front=$2 back=$3 f b
  f=$(sb_addr "$front"); b=$(sb_addr "$back")
  case $tool in
    plain) setsid "$SB" -q relay --copy buffered "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    splice) setsid "$SB" -q relay "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    dump-hex) setsid "$SB" -q relay --dump=hex --dump-to /dev/null "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    dump-text) setsid "$SB" -q relay --dump --dump-to /dev/null "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    pcap) setsid "$SB" -q relay --pcap "$tmp/cap.pcapng" "$f" "$b" >>"$tmp/relay.log" 2>&1 & ;;
    socat-v) setsid socat -v "$(socat_listen "$front")" "$(socat_connect "$back")" 2>/dev/null & ;;
    socat-x) setsid socat -x "$(socat_listen "$front")" "$(socat_connect "$back")" 2>/dev/null & ;;
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
  if [ "$tool" = file ]; then
    local t0 t1
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$tmp/file.bin" bs=1M count=$((BYTES / 1048576)) status=none
    t1=$(date +%s.%N)
    rm -f "$tmp/file.bin"
    gib=$(awk -v b="$BYTES" -v a="$t0" -v z="$t1" 'BEGIN{printf "%.3f", b / (z - a) / 1073741824}')
    return
  fi
  fresh back "$to"
  setsid "$tmp/sink" "$back" >"$out" & local sink=$!
  bg+=("$sink")
  wait_ready "$out"
  fresh front "$from"
  start_relay "$tool" "$front" "$back"
  # sockbox's views run behind a queue of at most 16 MiB: its streams are long enough that
  # the queue cannot hide the dump's cost (socat writes its dump before it forwards).
  local bytes=$BYTES
  case $tool in socat-*) bytes=$SOCAT_BYTES ;; esac
  timeout 300 "$tmp/source" "$front" "$bytes"
  wait "$sink" || true
  stop "$relay_pid"
  rm -f "$tmp/cap.pcapng"
  local line
  line=$(tail -1 "$out")
  case $line in
    *" ok") gib=$(echo "$line" | cut -d' ' -f3) ;;
    *) echo "FAILED: $tool $from->$to: $line" >&2; exit 1 ;;
  esac
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

tools=(plain splice dump-hex dump-text pcap socat-v socat-x file)
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
echo "## medians, GiB/s (min-max over rounds)"
printf "%-10s" "relay"; for pair in "${pairs[@]}"; do set -- $pair; printf "%-24s" "$1->$2"; done; echo
for tool in "${tools[@]}"; do
  printf "%-10s" "$tool"
  for pair in "${pairs[@]}"; do
    set -- $pair
    printf "%-24s" "$(median <"$res/$1-$2.$tool") ($(spread <"$res/$1-$2.$tool"))"
  done
  echo
done
echo
echo "## targets (ratios of medians)"
for pair in "${pairs[@]}"; do
  set -- $pair
  r() { awk -v a="$(median <"$res/$1-$2.$3")" -v b="$(median <"$res/$1-$2.$4")" 'BEGIN{printf "%.2f", a/b}'; }
  echo "$1->$2: dump-hex/socat-x $(r "$1" "$2" dump-hex socat-x) (target >= 3)  dump-text/socat-v $(r "$1" "$2" dump-text socat-v)  pcap/plain $(r "$1" "$2" pcap plain) (target >= 0.5)  pcap/file $(r "$1" "$2" pcap file)"
done
