#!/usr/bin/env bash
# Builds a Debian package of sockbox from this tree with dpkg-deb (no network, no cargo-deb):
#   scripts/deb.sh [OUTDIR]        -> OUTDIR/sockbox_VERSION_ARCH.deb (default target/debian)
# SOCKBOX=path picks the binary (default target/release/sockbox, built when missing); it is
# stripped into the package. Contents, in Debian's standard places:
#   /usr/bin/sockbox
#   /usr/share/man/man1/sockbox*.1.gz, /usr/share/man/man7/sockbox-*.7.gz
#   /usr/share/bash-completion/completions/sockbox
#   /usr/share/zsh/vendor-completions/_sockbox
#   /usr/share/fish/vendor_completions.d/sockbox.fish
#   /usr/share/doc/sockbox/copyright
# Prints the path of the package on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/debian}
bin=${SOCKBOX:-target/release/sockbox}
if [ ! -x "$bin" ]; then
  cargo build --release --offline --bin sockbox >&2
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/sockbox"
install -D -m 755 "$bin" "$pkg/usr/bin/sockbox"
if command -v objcopy >/dev/null; then
  objcopy --strip-all "$pkg/usr/bin/sockbox"
fi
gen="$stage/gen"
"$bin" man --out "$gen/man" 2>/dev/null
"$bin" completions --out "$gen/completions" 2>/dev/null
for s in 1 7; do
  install -d "$pkg/usr/share/man/man$s"
  for f in "$gen"/man/man$s/*.$s; do
    gzip -9n < "$f" > "$pkg/usr/share/man/man$s/$(basename "$f").gz"
  done
done
install -D -m 644 "$gen/completions/bash-completion/completions/sockbox" \
  "$pkg/usr/share/bash-completion/completions/sockbox"
install -D -m 644 "$gen/completions/zsh/vendor-completions/_sockbox" \
  "$pkg/usr/share/zsh/vendor-completions/_sockbox"
install -D -m 644 "$gen/completions/fish/vendor_completions.d/sockbox.fish" \
  "$pkg/usr/share/fish/vendor_completions.d/sockbox.fish"
install -d "$pkg/usr/share/doc/sockbox"
cat > "$pkg/usr/share/doc/sockbox/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sockbox

Files: *
License: MIT or Apache-2.0
COPYRIGHT
chmod 644 "$pkg/usr/share/doc/sockbox/copyright"

# The newest glibc symbol version the binary uses is the libc6 it needs.
libc=""
if command -v objdump >/dev/null; then
  libc=$(objdump -T "$pkg/usr/bin/sockbox" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
fi
depends="libc6${libc:+ (>= $libc)}, libgcc-s1"
size=$(du -sk "$pkg/usr" | cut -f1)
install -d "$pkg/DEBIAN"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: sockbox
Version: $version
Architecture: $arch
Maintainer: sockbox developers <sockbox@example.invalid>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Homepage: https://example.invalid/sockbox
Description: one tool for everything you do with sockets on Linux
 Connect, listen, relay, send and receive over TCP, UDP, Unix stream, datagram
 and seqpacket sockets, FIFOs, files and programs; list every socket (ss, lsof),
 find who owns a port, ping and scan, pass file descriptors, benchmark
 transports, and run socat's and nc's command lines. Man pages and bash, zsh and
 fish completions included.
CONTROL
mkdir -p "$out"
deb="$out/sockbox_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
echo "$deb"
