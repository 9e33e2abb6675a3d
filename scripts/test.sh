#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages, as root) when missing,
# then formatting, lints, the library docs, and every test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers the integration tests drive: socat, OpenBSD nc, ncat, Python 3, prlimit and setpriv
# (util-linux), ip and ss (iproute2), ping (iputils), systemd-socket-activate (systemd), nginx
# and curl (sockbox http).
need=()
command -v socat >/dev/null || need+=(socat)
command -v nc >/dev/null || need+=(netcat-openbsd)
# sockbox nc is tested side by side with ncat (--sh-exec, -lk) as well as OpenBSD nc.
command -v ncat >/dev/null || need+=(ncat)
command -v python3 >/dev/null || need+=(python3)
command -v prlimit >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v ss >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v setpriv >/dev/null || need+=(util-linux)
# Access-control tests run the system Python as another user; activation tests drive
# systemd-socket-activate.
[ -x /usr/bin/python3 ] || need+=(python3)
command -v systemd-socket-activate >/dev/null || need+=(systemd)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
# Proxies the proxy kinds are tested through: SOCKS 5 and HTTP CONNECT.
command -v microsocks >/dev/null || need+=(microsocks)
command -v tinyproxy >/dev/null || need+=(tinyproxy)
# A serial terminal program on one end of a virtual null-modem cable (tests/pty.rs).
command -v picocom >/dev/null || need+=(picocom)
# TLS tests and bench/tls.sh: openssl s_server/s_client/req/x509; haproxy for the bench.
command -v openssl >/dev/null || need+=(openssl)
# The package test (tests/install.rs): man -w, and bash-completion's loader for `complete -p`.
command -v man >/dev/null || need+=(man-db)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
# The pcapng the traffic dump writes is read back by Wireshark's dissectors (tests/traffic.rs).
command -v tshark >/dev/null || need+=(tshark)
# The exporter's test (tests/observe.rs): a real Prometheus server scrapes it, and promtool
# checks the exposition text; full-screen top is driven under tmux.
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${need[*]}; run as root (or install them) so the tests can use them" >&2
    exit 1
  fi
  echo "test.sh: installing ${need[*]}" >&2
  # Another apt-get running (a CI image's unattended upgrade, a parallel job) is waited for,
  # at most 10 minutes, rather than failing at once on its lock.
  lock=(-o DPkg::Lock::Timeout=600)
  apt-get "${lock[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq "${need[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc (library crates, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p sockbox-net -p sockbox-sys
echo "== cargo test"
cargo test --workspace 2>&1
