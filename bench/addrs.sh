# Sourced by bench/proxies.sh and bench/switches.sh: fresh loopback or temp-dir addresses, and
# bounded waits for a server to be ready. Needs $tmp (a temp dir) set by the caller; every wait
# gives up after 5 s with one line on stderr and exit 1.

n=0
# fresh VAR KIND: a new address, "tcp:PORT" (127.0.0.1, below the ephemeral range) or
# "unix:PATH". Runs in the caller's shell, so the counter advances.
fresh() {
  n=$((n + 1))
  if [ "$2" = tcp ]; then
    printf -v "$1" 'tcp:%d' $((10000 + (RANDOM * 7 + n) % 20000))
  else
    printf -v "$1" 'unix:%s/s%d.sock' "$tmp" "$n"
  fi
}

# wait_ready FILE: until a C server (bench/c) has printed "ready" into FILE.
wait_ready() {
  for _ in $(seq 500); do grep -q ready "$1" 2>/dev/null && return; sleep 0.01; done
  echo "server did not start" >&2
  exit 1
}

# wait_front ADDR [LOG]: until something listens on ADDR ("tcp:PORT" or "unix:PATH"); on
# failure LOG (the proxy's output), if given, goes to stderr.
wait_front() {
  for _ in $(seq 500); do
    case $1 in
      unix:*) [ -S "${1#unix:}" ] && return ;;
      tcp:*) ss -ltnH "sport = :${1#tcp:}" | grep -q . && return ;;
    esac
    sleep 0.01
  done
  echo "nothing listens on $1" >&2
  if [ -n "${2:-}" ]; then cat "$2" >&2; fi
  exit 1
}
