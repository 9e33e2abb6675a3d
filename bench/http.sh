#!/usr/bin/env bash
# HTTP over a Unix socket: `sockbox http` vs `curl --unix-socket`, against one nginx, in one run.
#
#   bench/http.sh                    # ROUNDS=7, SMALL=200 requests, BIG=1 GiB body
#   ROUNDS=5 SMALL=500 BIG_MIB=4096 SOCKBOX=/path/to/sockbox bench/http.sh
#
# nginx (single process, its own configuration, logs, pid file and temp paths in a temporary
# directory) serves a 200-byte page and a sparse BIG_MIB file (read as zeros, sent with
# sendfile(2)) on a Unix socket in that directory. Each round times, wall clock:
#   small: SMALL sequential requests for the page, one process per request (what a script
#          polling a daemon's socket does: startup, connect, one exchange, exit);
#   big:   one request for the big file, body to /dev/null (throughput through the client).
# The order alternates each round (sockbox first, then curl first). Before timing, both
# clients' bodies are checked to be the same bytes. Medians and sockbox/curl ratios at the
# end (below 1: sockbox faster). Installs nginx and curl with apt-get when missing. Uses only
# its temporary directory; stops nginx and removes the directory at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-7}
SMALL=${SMALL:-200}
BIG_MIB=${BIG_MIB:-1024}
# Bound on any single command.
LIMIT=${LIMIT:-120}

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${SOCKBOX:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  SOCKBOX=$target_dir/release/sockbox
fi

tmp=$(mktemp -d)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/www"
head -c 200 /dev/urandom | base64 -w0 | head -c 200 >"$tmp/www/small.html"
truncate -s "${BIG_MIB}M" "$tmp/www/big.bin"
sock=$tmp/nginx.sock
cat >"$tmp/nginx.conf" <<EOF
master_process off;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    sendfile on;
    default_type application/octet-stream;
    server { listen unix:$sock; root $tmp/www; }
}
EOF
"$NGINX" -e "$tmp/error.log" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "nginx did not start: $(cat "$tmp/error.log")" >&2; exit 1; }

sockbox_small() { timeout "$LIMIT" "$SOCKBOX" http "unix:$sock" /small.html; }
curl_small() { timeout "$LIMIT" curl -sS --unix-socket "$sock" http://localhost/small.html; }
sockbox_big() { timeout "$LIMIT" "$SOCKBOX" http "unix:$sock" /big.bin; }
curl_big() { timeout "$LIMIT" curl -sS --unix-socket "$sock" http://localhost/big.bin; }

echo "== machine"
echo "nproc $(nproc), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sockbox $SOCKBOX"
echo "$(curl --version | head -1)"
echo "$("$NGINX" -v 2>&1), single process, Unix socket, sendfile on"

echo "== same bytes"
cmp <(sockbox_small) <(curl_small)
cmp <(sockbox_big) <(curl_big)
echo "small.html and big.bin ($BIG_MIB MiB): sockbox and curl bodies identical"

now() { date +%s.%N; }
# time_small CLIENT: SMALL sequential requests; prints seconds.
time_small() {
  local t0 i
  t0=$(now)
  for ((i = 0; i < SMALL; i++)); do "$1" >/dev/null; done
  echo "$(now) - $t0" | bc -l
}
time_big() {
  local t0
  t0=$(now)
  "$1" >/dev/null
  echo "$(now) - $t0" | bc -l
}

echo "== rounds ($SMALL small requests; one $BIG_MIB MiB body)"
: >"$tmp/results"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order="sockbox curl"; else order="curl sockbox"; fi
  line="round $r:"
  for tool in $order; do
    s=$(time_small "${tool}_small")
    b=$(time_big "${tool}_big")
    echo "$tool $s $b" >>"$tmp/results"
    line="$line $tool small $(printf '%.3f' "$s") s, big $(printf '%.3f' "$b") s;"
  done
  echo "$line"
done

echo "== medians"
python3 - "$tmp/results" "$SMALL" "$BIG_MIB" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
small_n, big_mib = int(sys.argv[2]), int(sys.argv[3])
med = {}
for tool in ("sockbox", "curl"):
    s = statistics.median(float(r[1]) for r in rows if r[0] == tool)
    b = statistics.median(float(r[2]) for r in rows if r[0] == tool)
    med[tool] = (s, b)
    print(f"{tool:8} small: {s:.3f} s ({s / small_n * 1e3:.2f} ms per request)   "
          f"big: {b:.3f} s ({big_mib / b:.0f} MiB/s)")
print(f"ratio sockbox/curl: small {med['sockbox'][0] / med['curl'][0]:.2f}, "
      f"big {med['sockbox'][1] / med['curl'][1]:.2f} (time; below 1 = sockbox faster)")
EOF
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
