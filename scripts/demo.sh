#!/usr/bin/env bash
# Build sockbox and show its main job on this host, with nothing else set up: a Unix-socket
# echo server, a TCP relay in front of it, and a client going through both, with -v narrating
# every socket call. Everything lives in a temp dir and is cleaned up.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
sb=$PWD/target/release/sockbox
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

echo "# 1. an echo server on a Unix socket (mode 0600)"
"$sb" listen "unix:$dir/echo.sock,mode=0600" --keep --echo 2>"$dir/server.log" &
pids+=($!)
echo "# 2. a TCP relay in front of it, on a port the kernel picks"
"$sb" relay tcp:127.0.0.1:0 "unix:$dir/echo.sock" 2>"$dir/relay.log" &
pids+=($!)
for _ in $(seq 100); do
  port=$(sed -n 's/.*relaying tcp:127.0.0.1:\([0-9]*\) .*/\1/p' "$dir/relay.log")
  [ -n "$port" ] && [ -S "$dir/echo.sock" ] && break
  sleep 0.05
done
echo "# 3. a client: stdin -> tcp:127.0.0.1:$port -> relay -> unix:$dir/echo.sock -> back"
echo "hello through a relay" | "$sb" -v connect "tcp:127.0.0.1:$port" 2>&1
sleep 0.2
echo "# what the relay and the server reported:"
sed 's/^/  relay  | /' "$dir/relay.log"
sed 's/^/  server | /' "$dir/server.log"
