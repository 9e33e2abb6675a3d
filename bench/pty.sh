#!/usr/bin/env bash
# pty benchmark: a virtual null-modem cable (two ptys, raw, echo=0) made by sockbox relay and
# by socat (default buffer and -b 262144), side by side in one run. A Python pump writes BYTES
# (default 64 MiB) into one slave and reads them back from the other, checking a sha256; tools
# alternate within a round and the order rotates between rounds; medians over ROUNDS (default
# 5) in MiB/s, and sockbox's as a ratio of each socat's.
#
#   bench/pty.sh
#   ROUNDS=3 BYTES=16777216 bench/pty.sh
#
# Installs socat with apt-get when missing. Uses only a temp dir; cleans up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BYTES=${BYTES:-67108864}
ROUNDS=${ROUNDS:-5}
command -v socat >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null; }
(cd "$root" && cargo build --release --quiet)
SB=$root/target/release/sockbox
tmp=$(mktemp -d)
relay=""
cleanup() {
  [ -n "$relay" ] && kill "$relay" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "# pty null-modem benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "# ${BYTES} bytes A -> B, ${ROUNDS} rounds"

tools=(sockbox socat socat-b262144)
start() {
  local a=$tmp/a b=$tmp/b
  rm -f "$a" "$b"
  case $1 in
    sockbox) "$SB" -q relay "pty,link=$a,raw,echo=0" "pty,link=$b,raw,echo=0" & ;;
    socat) socat "PTY,link=$a,raw,echo=0" "PTY,link=$b,raw,echo=0" & ;;
    socat-b262144) socat -b 262144 "PTY,link=$a,raw,echo=0" "PTY,link=$b,raw,echo=0" & ;;
  esac
  relay=$!
  for _ in $(seq 100); do [ -L "$a" ] && [ -L "$b" ] && return; sleep 0.05; done
  echo "bench/pty.sh: $1 made no ptys" >&2; exit 1
}
declare -A results
for round in $(seq "$ROUNDS"); do
  n=${#tools[@]}
  for i in $(seq 0 $((n - 1))); do
    tool=${tools[$(( (i + round) % n ))]}
    start "$tool"
    secs=$(python3 "$root/bench/pty_pump.py" "$tmp/a" "$tmp/b" "$BYTES")
    kill "$relay"; wait "$relay" 2>/dev/null || true; relay=""
    mibs=$(python3 -c "print(f'{$BYTES / 1048576 / $secs:.1f}')")
    echo "round $round  $tool  ${secs}s  ${mibs} MiB/s"
    results[$tool]+="$mibs "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# medians (MiB/s)"
for tool in "${tools[@]}"; do
  m=$(echo "${results[$tool]}" | median)
  echo "$tool $m  (all: ${results[$tool]})"
  declare "med_${tool//-/_}=$m"
done
python3 -c "print(f'sockbox / socat: {$med_sockbox / $med_socat:.2f}   sockbox / socat -b 262144: {$med_sockbox / $med_socat_b262144:.2f}')"
