#!/usr/bin/env bash
# Cost of watching: `sockbox top` and `sockbox exporter` with ~20,000 sockets open, side by side
# with `ss -tinp` (the snapshot tool that reads the same counters, with owners).
#
#   bench/top.sh                      # 5 rounds
#   ROUNDS=3 REFRESHES=3 bench/top.sh
#   SOCKBOX=target/release/sockbox bench/top.sh    # a binary already built
#
# Opens TCP_PAIRS loopback TCP connections (default 5000: 10,000 sockets) and UNIX_PAIRS
# socketpairs (5000: 10,000 sockets), held by Python processes under the open-file limit.
# Each round, in alternating order:
#
#   ss -tinp, run once                  wall and CPU time (user + system), max RSS
#   sockbox top -n 1 --jsonl -d 1       start, first dump and full /proc walk, one refresh
#   sockbox top -n R+1 --jsonl -d 1     the same plus R more refreshes: the CPU difference / R
#                                       is what one steady 1 s refresh costs (every row of
#                                       every view serialized, each refresh)
#   sockbox top -d 1 (the live view)    on a pseudo-terminal of 160x50 (Python's pty), once in
#                                       the processes view and once in the connections view
#                                       (key 2: 10,000 rows, a screenful drawn); after the
#                                       first report and a second more, its CPU over W = max(R,
#                                       10) seconds (/proc/PID/stat, in ticks of 10 ms) / W: one
#                                       steady refresh with the key polling in between; VmHWM
#   sockbox exporter                    R scrapes of /metrics one second apart after a first
#                                       one: wall time of each, the exporter's CPU over them
#                                       (/proc/PID/stat), its VmHWM
#
# Targets (issue 17): a 1 s refresh under 5% of one core; a scrape faster than ss -tinp run
# once. Prints the machine, every round, medians and the per-round ratios' median and spread.
# The sockets stand still while measured (no churn): the incremental /proc walk then reads
# nothing; a host opening sockets pays a directory listing per process whose descriptors
# changed. TIME-WAIT entries on the host are printed at the start and the end: the kernel
# walks past every one in each TCP dump (top asks for none, ss -tinp for none either), so
# 100,000 of them left by another program cost more than the 20,000 sockets measured.
# Installs iproute2 and python3 with apt-get when missing (as root). Uses only 127.0.0.1 and
# a temp dir; every process it starts is killed and the temp dir removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
REFRESHES=${REFRESHES:-5}
TCP_PAIRS=${TCP_PAIRS:-5000}
UNIX_PAIRS=${UNIX_PAIRS:-5000}
NAMED=0
UDP=0

need=()
command -v ss >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# SOCKBOX=path runs that binary instead of building the release one.
if [ -z "${SOCKBOX:-}" ]; then (cd "$root" && cargo build --release --quiet); fi
SB=${SOCKBOX:-${CARGO_TARGET_DIR:-$root/target}/release/sockbox}
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
  echo "top.sh: the open-file limit ($hard) is too low to hold the sockets" >&2
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

echo "# sockbox top / exporter cost benchmark"
echo "# $(date -u +%FT%TZ)  nproc $(nproc)  kernel $(uname -r)  load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${SOCKBOX:-}" ]; then what="$SB (given)"; else what="$SB, built from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"; fi
echo "# sockbox: $what  $(ss -V)"
tw() { awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "tw") print $(i + 1) }' /proc/net/sockstat; }
echo "# sockets held: $(cat "$tmp"/out.* | awk '{s += $2} END {print s}') in $n processes; on the host: ss -a $(ss -a -H 2>/dev/null | wc -l), TIME-WAIT $(tw)"
echo "# rounds $ROUNDS, refreshes/scrapes per run $REFRESHES"

python3 - "$ROUNDS" "$REFRESHES" "$SB" <<'PY'
import fcntl, os, pty, shlex, signal, socket, statistics, struct, subprocess, sys, termios
import threading, time
rounds, R, sb = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
TICK = os.sysconf("SC_CLK_TCK")

def run(cmd):
    """(wall s, cpu s, max rss KiB) of one run, output to /dev/null."""
    t = time.perf_counter()
    p = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss

def cpu_of(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK

def hwm_of(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM:"):
            return int(l.split()[1])
    return 0

def get(port):
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    n = 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        n += len(b)
    s.close()
    assert n > 0
    return time.perf_counter() - t

def exporter():
    """(median scrape wall s, exporter CPU s per scrape, VmHWM KiB) over R scrapes 1 s apart."""
    l = socket.socket(); l.bind(("127.0.0.1", 0)); port = l.getsockname()[1]; l.close()
    p = subprocess.Popen([sb, "exporter", "--listen", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "exporter did not start"
                time.sleep(0.05)
        get(port)  # the first scrape: the full walk
        c0 = cpu_of(p.pid)
        walls = []
        for _ in range(R):
            time.sleep(1)
            walls.append(get(port))
        c1 = cpu_of(p.pid)
        return statistics.median(walls), (c1 - c0) / R, hwm_of(p.pid)
    finally:
        p.kill()
        p.wait()

def live(key):
    """(CPU s per steady 1 s refresh, VmHWM KiB) of the full-screen view on a 160x50
    pseudo-terminal, after pressing `key` (None: the processes view)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty; give it a size before top starts
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
            os.execv(sb, [sb, "top", "-d", "1"])
        finally:
            os._exit(127)
    seen = bytearray()
    def drain():  # the view blocks if nobody reads the terminal
        while True:
            try:
                b = os.read(fd, 1 << 16)
            except OSError:
                return
            if not b:
                return
            seen.extend(b[-4096:])
            del seen[:-8192]
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 60
        # The header's totals once the first report is in (ratatui writes only the cells
        # that change, so look for a word that was not on the screen before).
        while b"opened" not in seen:
            assert time.monotonic() < deadline, "the live view did not draw a report"
            time.sleep(0.05)
        if key:
            os.write(fd, key)
        time.sleep(1.5)
        window = max(R, 10)  # the CPU time is counted in ticks of 10 ms
        c0 = cpu_of(pid)
        time.sleep(window)
        c1 = cpu_of(pid)
        return (c1 - c0) / window, hwm_of(pid)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
        t.join(5)

ss = "ss -tinp"
one = f"{sb} top -n 1 --jsonl -d 1"
many = f"{sb} top -n {R + 1} --jsonl -d 1"
run(ss); run(one)  # warm-up: caches, dentries
rows = []
steps = {0: lambda: run(ss), 1: lambda: run(one), 2: lambda: run(many), 3: exporter,
         4: lambda: live(None), 5: lambda: live(b"2")}
for r in range(rounds):
    order = sorted(steps) if r % 2 == 0 else sorted(steps, reverse=True)
    got = {i: steps[i]() for i in order}
    ss_w, ss_c, ss_m = got[0]
    one_w, one_c, one_m = got[1]
    many_w, many_c, many_m = got[2]
    sc_w, sc_c, ex_m = got[3]
    lp_c, lp_m = got[4]
    lc_c, lc_m = got[5]
    refresh = max(many_c - one_c, 0.0) / R
    rows.append(dict(ss_w=ss_w, ss_c=ss_c, ss_m=ss_m, one_c=one_c, refresh=refresh, top_m=many_m,
                     sc_w=sc_w, sc_c=sc_c, ex_m=ex_m, lp_c=lp_c, lp_m=lp_m, lc_c=lc_c, lc_m=lc_m))
    print(f"round {r+1}: ss -tinp {ss_w*1000:.0f}ms wall {ss_c*1000:.0f}ms cpu {ss_m/1024:.0f}MiB | "
          f"top start+1 {one_c*1000:.0f}ms cpu, --jsonl per refresh {refresh*1000:.1f}ms cpu, {many_m/1024:.0f}MiB | "
          f"live view per refresh: processes {lp_c*1000:.1f}ms, connections {lc_c*1000:.1f}ms cpu, {lc_m/1024:.0f}MiB | "
          f"exporter scrape {sc_w*1000:.0f}ms wall {sc_c*1000:.1f}ms cpu, {ex_m/1024:.0f}MiB", flush=True)

def med(k):
    return statistics.median(x[k] for x in rows)

def ratio(a, b):
    v = [x[a] / x[b] for x in rows if x[b] > 0]
    return statistics.median(v), min(v), max(v)

print()
print(f"ss -tinp once:             wall {med('ss_w')*1000:.0f} ms, cpu {med('ss_c')*1000:.0f} ms, max RSS {med('ss_m')/1024:.1f} MiB")
print(f"top, start + first report: cpu {med('one_c')*1000:.0f} ms")
print(f"top --jsonl, one 1 s refresh: cpu {med('refresh')*1000:.1f} ms = {med('refresh')*100:.1f}% of one core (target < 5%), max RSS {med('top_m')/1024:.1f} MiB")
print(f"top live view, processes:  cpu {med('lp_c')*1000:.1f} ms per 1 s refresh = {med('lp_c')*100:.1f}% of one core (target < 5%), VmHWM {med('lp_m')/1024:.1f} MiB")
print(f"top live view, connections: cpu {med('lc_c')*1000:.1f} ms per 1 s refresh = {med('lc_c')*100:.1f}% of one core (target < 5%), VmHWM {med('lc_m')/1024:.1f} MiB")
print(f"exporter, one scrape:      wall {med('sc_w')*1000:.0f} ms, cpu {med('sc_c')*1000:.1f} ms, VmHWM {med('ex_m')/1024:.1f} MiB")
r = ratio('refresh', 'ss_c'); print(f"top --jsonl refresh cpu / ss -tinp cpu:   {r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})")
r = ratio('lp_c', 'ss_c');    print(f"live processes refresh cpu / ss -tinp cpu: {r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})")
r = ratio('lc_c', 'ss_c');    print(f"live connections refresh / ss -tinp cpu:  {r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})")
r = ratio('sc_c', 'ss_c');    print(f"scrape cpu / ss -tinp cpu:        {r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})")
r = ratio('sc_w', 'ss_w');    print(f"scrape wall / ss -tinp wall:      {r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})  (target < 1)")
PY
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg), TIME-WAIT on the host $(tw)"
