#!/usr/bin/env bash
# Port scan benchmark: all 65535 TCP ports of 127.0.0.1 with 20 listeners, sockbox scan vs
# `nmap -sT -p- -T5 -n -Pn` vs `nc -z`, in one run.
#
#   bench/scan.sh                  # ROUNDS=7 timed rounds, then SWEEPS=20 correctness sweeps
#   ROUNDS=5 SWEEPS=20 SOCKBOX=/path/to/sockbox bench/scan.sh
#
# Everything runs inside a network namespace the script creates (its own loopback, nothing
# else listening, the default ephemeral port range), so other programs on the machine opening
# and closing ports cannot blur "exactly the same open ports". The script opens 20 TCP
# listeners on 127.0.0.1 there (Python, kernel-chosen ports). Each round
# runs the three tools one after the other, rotating which goes first; times are wall clock
# of the whole command. Every round checks that sockbox's open ports are exactly nmap's of
# the same round (the 20 listeners plus whatever else listens on this host). Then SWEEPS
# more sockbox sweeps must each report exactly that set (no false "open"), and NC_SWEEPS
# `nc -z -v` sweeps count the ports nc reports open that are not (TCP self-connects).
# Medians and ratios at the end. Installs nmap and netcat-openbsd with apt-get when missing.
# Needs root (ip netns). Uses only 127.0.0.1 in its namespace; removes the namespace, its
# listeners and temp files at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-7}
SWEEPS=${SWEEPS:-20}
NC_SWEEPS=${NC_SWEEPS:-5}
LISTENERS=${LISTENERS:-20}
# Bound on any single scan (nc -z -v on a loaded machine is the slowest).
LIMIT=${LIMIT:-120}

need=()
command -v nmap >/dev/null || need+=(nmap)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v python3 >/dev/null || need+=(python3)
command -v bc >/dev/null || need+=(bc)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -z "${SOCKBOX:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  SOCKBOX=$target_dir/release/sockbox
fi

tmp=$(mktemp -d)
ns=sbx-scanbench-$$
listener_pid=
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# 20 listeners; the process lives until killed (and at most an hour).
in_ns python3 -c '
import socket, sys, time
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
time.sleep(3600)
' "$LISTENERS" >"$tmp/listeners" &
listener_pid=$!
for _ in $(seq 100); do [ -s "$tmp/listeners" ] && break; sleep 0.05; done
[ -s "$tmp/listeners" ] || { echo "the listeners did not start" >&2; exit 1; }
tr ' ' '\n' <"$tmp/listeners" | sort -n >"$tmp/ours"
cp "$tmp/ours" "$tmp/expected"

echo "== machine"
echo "nproc $(nproc), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sockbox $SOCKBOX"
echo "$(nmap --version | head -1); nc: $(dpkg-query -W -f='${Package} ${Version}' netcat-openbsd 2>/dev/null || echo unknown)"
echo "network namespace $ns; listeners on its 127.0.0.1: $(tr '\n' ' ' <"$tmp/ours")"
echo "RLIMIT_NOFILE $(ulimit -Sn)/$(ulimit -Hn), ip_local_port_range $(in_ns cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' ' ')"
echo

now() { date +%s.%N; }

# Each runner prints the open ports, one per line, sorted; its time goes to $tmp/t.
run_sockbox() {
  local t0 t1
  t0=$(now)
  in_ns timeout "$LIMIT" "$SOCKBOX" scan 127.0.0.1 -p - >"$tmp/sb.out"
  t1=$(now)
  echo "$t1 - $t0" | bc >"$tmp/t"
  awk '$2 == "open" { split($1, a, "/"); print a[1] }' "$tmp/sb.out" | sort -n
}
run_nmap() {
  local t0 t1
  t0=$(now)
  in_ns timeout "$LIMIT" nmap -sT -p- -T5 -n -Pn 127.0.0.1 -oG "$tmp/nmap.out" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc >"$tmp/t"
  grep -o '[0-9]*/open/' "$tmp/nmap.out" | cut -d/ -f1 | sort -n
}
run_nc() {
  local t0 t1
  t0=$(now)
  in_ns timeout "$LIMIT" nc -z 127.0.0.1 1-65535 >/dev/null 2>&1 || true
  t1=$(now)
  echo "$t1 - $t0" | bc >"$tmp/t"
}

echo "== timed rounds (all 65535 TCP ports of 127.0.0.1), seconds"
printf '%-6s %9s %9s %9s   %s\n' round sockbox nmap-T5 nc-z "open ports: sockbox = nmap = the listeners?"
: >"$tmp/times"
failed=0
for r in $(seq "$ROUNDS"); do
  declare -A t=()
  order=(sockbox nmap nc)
  # Rotate the order each round so no tool always runs first (or right after another).
  shift_by=$(( (r - 1) % 3 ))
  order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
  for tool in "${order[@]}"; do
    case $tool in
      sockbox) run_sockbox >"$tmp/sb.open"; t[sockbox]=$(cat "$tmp/t") ;;
      nmap) run_nmap >"$tmp/nmap.open"; t[nmap]=$(cat "$tmp/t") ;;
      nc) run_nc; t[nc]=$(cat "$tmp/t") ;;
    esac
  done
  if cmp -s "$tmp/sb.open" "$tmp/nmap.open" && cmp -s "$tmp/sb.open" "$tmp/ours"; then
    same="yes ($(wc -l <"$tmp/sb.open") ports)"
  else
    same="NO: sockbox $(tr '\n' ' ' <"$tmp/sb.open") / nmap $(tr '\n' ' ' <"$tmp/nmap.open")"
    failed=1
  fi
  printf '%-6s %9.3f %9.3f %9.3f   %s\n' "$r" "${t[sockbox]}" "${t[nmap]}" "${t[nc]}" "$same"
  echo "${t[sockbox]} ${t[nmap]} ${t[nc]}" >>"$tmp/times"
  unset t
done
echo

echo "== medians"
python3 - "$tmp/times" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
sb, nm, nc = (statistics.median(c) for c in zip(*rows))
spread = lambda i: f"{min(r[i] for r in rows):.3f}-{max(r[i] for r in rows):.3f}"
print(f"sockbox {sb:.3f} s (range {spread(0)}), nmap -T5 {nm:.3f} s ({spread(1)}), nc -z {nc:.3f} s ({spread(2)})")
print(f"nmap/sockbox {nm/sb:.2f}x, nc/sockbox {nc/sb:.2f}x (median of per-round ratios: "
      f"{statistics.median(r[1]/r[0] for r in rows):.2f}x, {statistics.median(r[2]/r[0] for r in rows):.2f}x)")
EOF
echo

echo "== $SWEEPS sockbox sweeps: open ports must be exactly the $(wc -l <"$tmp/expected") listeners"
false_open=0
for s in $(seq "$SWEEPS"); do
  run_sockbox >"$tmp/sweep"
  extra=$(comm -13 "$tmp/expected" "$tmp/sweep" | tr '\n' ' ')
  missing=$(comm -23 "$tmp/expected" "$tmp/sweep" | tr '\n' ' ')
  if [ -n "$extra$missing" ]; then
    echo "sweep $s: false open: ${extra:-none}; missed: ${missing:-none}"
    false_open=$((false_open + 1))
  fi
done
echo "sockbox: $false_open of $SWEEPS sweeps differed"
echo

echo "== $NC_SWEEPS nc -z -v sweeps: ports nc reports open where nothing listens"
for s in $(seq "$NC_SWEEPS"); do
  in_ns timeout "$LIMIT" nc -z -v 127.0.0.1 1-65535 2>&1 | grep succeeded |
    sed -E 's/.* ([0-9]+) port .*/\1/' | sort -n >"$tmp/ncv" || true
  extra=$(comm -13 "$tmp/expected" "$tmp/ncv" | tr '\n' ' ')
  echo "nc sweep $s: $(wc -l <"$tmp/ncv") reported open, not open: ${extra:-none}"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$failed" -eq 0 ] && [ "$false_open" -eq 0 ]
