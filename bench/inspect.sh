#!/usr/bin/env bash
# Inspect benchmark: `sockbox ls` side by side with ss and lsof, with ~22,000 sockets open.
#
#   bench/inspect.sh                  # 15 rounds
#   ROUNDS=5 TCP_PAIRS=1000 bench/inspect.sh
#
# Opens TCP_PAIRS loopback TCP connections (default 5000, so 10,000 sockets), UNIX_PAIRS
# socketpairs (5000), NAMED Unix connections to a listener in a temp dir (500) and UDP bound
# sockets on 127.0.0.1 (1000): 22,002 sockets, held by Python processes that each stay under
# the open-file limit. Then times, alternating A B / B A each round, one pair at a time:
#
#   sockbox ls                 vs  ss -a               target: ratio <= 1
#   sockbox ls -p              vs  ss -ap              target: ratio <= 0.5
#   sockbox ls --unix --peers  vs  lsof -nP -U +E      target: ratio <= 0.25
#   sockbox ls --json          vs  ss -a               target: ratio <= 1
#
# Output goes to /dev/null; each run is one process start to exit, timed by the driver.
# Prints the machine (nproc, kernel, load average), every round, and per pair the median
# times, the median of the per-round ratios and their spread (min-max).
# Installs iproute2 (ss) and lsof with apt-get when missing (as root). Uses only 127.0.0.1 and
# a temp dir; every process it starts is killed and the temp dir removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-15}
TCP_PAIRS=${TCP_PAIRS:-5000}
UNIX_PAIRS=${UNIX_PAIRS:-5000}
NAMED=${NAMED:-500}
UDP=${UDP:-1000}

need=()
command -v ss >/dev/null || need+=(iproute2)
command -v lsof >/dev/null || need+=(lsof)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

(cd "$root" && cargo build --release --quiet)
SB=${CARGO_TARGET_DIR:-$root/target}/release/sockbox
tmp=$(mktemp -d)
holders=()
cleanup() {
  for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Each holder opens its share, prints "ready N", and holds the sockets until stdin closes
# (or it is killed).
cat >"$tmp/hold.py" <<'EOF'
import resource, socket, sys
tcp, pairs, named, udp = map(int, sys.argv[1:5])
path = sys.argv[5]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
keep = []
if tcp:
    lis = socket.socket()
    lis.bind(("127.0.0.1", 0))
    lis.listen(4096)
    keep.append(lis)
    for _ in range(tcp):
        keep.append(socket.create_connection(("127.0.0.1", lis.getsockname()[1])))
        keep.append(lis.accept()[0])
for _ in range(pairs):
    keep += socket.socketpair()
if named:
    ul = socket.socket(socket.AF_UNIX)
    ul.bind(path)
    ul.listen(4096)
    keep.append(ul)
    for _ in range(named):
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        keep += [c, ul.accept()[0]]
for _ in range(udp):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    keep.append(u)
print("ready", len(keep), flush=True)
sys.stdin.read()
EOF

# Share the sockets out so no holder needs more descriptors than the hard limit allows.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
per=$(( (hard - 256) / 2 ))
[ "$per" -gt 5000 ] && per=5000
if [ "$per" -lt 100 ]; then
  echo "inspect.sh: the open-file limit ($hard) is too low to hold the sockets" >&2
  exit 1
fi
start_holder() { # tcp pairs named udp tag
  mkfifo "$tmp/in.$5"
  python3 "$tmp/hold.py" "$1" "$2" "$3" "$4" "$tmp/named.$5.sock" <"$tmp/in.$5" >"$tmp/out.$5" 2>&1 &
  holders+=($!)
  exec {fd}>"$tmp/in.$5" # keeps the holder's stdin open until this script exits
}
n=0
left=$TCP_PAIRS; while [ "$left" -gt 0 ]; do k=$(( left < per ? left : per )); start_holder "$k" 0 0 0 $((n++)); left=$((left - k)); done
left=$UNIX_PAIRS; while [ "$left" -gt 0 ]; do k=$(( left < per ? left : per )); start_holder 0 "$k" 0 0 $((n++)); left=$((left - k)); done
[ "$NAMED" -gt 0 ] && start_holder 0 0 "$NAMED" 0 $((n++))
[ "$UDP" -gt 0 ] && start_holder 0 0 0 "$UDP" $((n++))
for i in $(seq 0 $((n - 1))); do
  for _ in $(seq 1 1200); do grep -q '^ready' "$tmp/out.$i" 2>/dev/null && break; sleep 0.1; done
  grep -q '^ready' "$tmp/out.$i" || { echo "holder $i did not start:"; cat "$tmp/out.$i"; exit 1; } >&2
done

echo "# sockbox inspect benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# sockbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')  $(ss -V)  lsof $(lsof -v 2>&1 | sed -n 's/^ *revision: *//p')"
echo "# sockets held: $(cat "$tmp"/out.* | awk '{s += $2} END {print s}') in $n processes; on the host: ss -a $(ss -a -H 2>/dev/null | wc -l), sockbox ls $("$SB" ls 2>/dev/null | tail -n +2 | wc -l)"
echo "# rounds $ROUNDS; each run: process start to exit, output to /dev/null"

python3 - "$ROUNDS" "$SB" <<'EOF'
import shlex, statistics, subprocess, sys, time
rounds, sb = int(sys.argv[1]), sys.argv[2]
pairs = [
    (f"{sb} ls", "ss -a", 1.0),
    (f"{sb} ls -p", "ss -ap", 0.5),
    (f"{sb} ls --unix --peers", "lsof -nP -U +E", 0.25),
    (f"{sb} ls --json", "ss -a", 1.0),
]
def run(cmd):
    t = time.perf_counter()
    subprocess.run(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t
times = {i: ([], []) for i in range(len(pairs))}
for a, b, _ in pairs:  # warm-up: caches, dentries
    run(a), run(b)
for r in range(rounds):
    cells = []
    for i, (a, b, _) in enumerate(pairs):
        if r % 2 == 0:
            ta = run(a); tb = run(b)
        else:
            tb = run(b); ta = run(a)
        times[i][0].append(ta); times[i][1].append(tb)
        cells.append(f"{ta*1000:6.1f}/{tb*1000:6.1f}")
    print(f"round {r+1:2d}  " + "  ".join(cells), flush=True)
print()
print(f"{'sockbox':28s} {'median':>8s}   {'reference':18s} {'median':>8s}   ratio (min-max)    target")
for i, (a, b, target) in enumerate(pairs):
    ta, tb = times[i]
    ratios = [x / y for x, y in zip(ta, tb)]
    r = statistics.median(ratios)
    name = a.replace(sb, "sockbox")
    verdict = "met" if r <= target else "MISSED"
    print(f"{name:28s} {statistics.median(ta)*1000:6.1f}ms   {b:18s} {statistics.median(tb)*1000:6.1f}ms   "
          f"{r:.2f} ({min(ratios):.2f}-{max(ratios):.2f})   <= {target} {verdict}")
EOF
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
