#!/usr/bin/env bash
# Installs sockbox: the binary, its man pages and its bash, zsh and fish completions, in the
# standard places under PREFIX (default /usr/local). No network: the binary is
# target/release/sockbox (built with `cargo build --release --offline` when missing), or
# SOCKBOX=path. DESTDIR=dir stages the tree under dir, as packagers expect.
#
#   scripts/install.sh                    /usr/local/bin/sockbox, /usr/local/share/man/...
#   scripts/install.sh ~/.local           a user's own tree (add ~/.local/bin to PATH)
#   scripts/install.sh --uninstall [PREFIX]   removes exactly what it installs
#
# Where things go (PREFIX-relative):
#   bin/sockbox
#   share/man/man1/sockbox*.1, share/man/man7/sockbox-*.7
#   share/bash-completion/completions/sockbox   (bash-completion's lazy loader)
#   share/zsh/site-functions/_sockbox           (in zsh's default fpath for /usr/local and /usr)
#   share/fish/vendor_completions.d/sockbox.fish
set -euo pipefail
uninstall=0
if [ "${1:-}" = "--uninstall" ]; then
  uninstall=1
  shift
fi
case "${1:-}" in
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
prefix=${1:-/usr/local}
root="${DESTDIR:-}$prefix"
cd "$(dirname "$0")/.."
bin=${SOCKBOX:-target/release/sockbox}
if [ ! -x "$bin" ]; then
  cargo build --release --offline --bin sockbox
fi

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
"$bin" man --out "$gen/man" 2>/dev/null
"$bin" completions --out "$gen/completions" 2>/dev/null

# source -> destination, one per line
plan() {
  echo "$bin $root/bin/sockbox"
  for f in "$gen"/man/man1/*.1; do echo "$f $root/share/man/man1/$(basename "$f")"; done
  for f in "$gen"/man/man7/*.7; do echo "$f $root/share/man/man7/$(basename "$f")"; done
  echo "$gen/completions/bash-completion/completions/sockbox $root/share/bash-completion/completions/sockbox"
  echo "$gen/completions/zsh/vendor-completions/_sockbox $root/share/zsh/site-functions/_sockbox"
  echo "$gen/completions/fish/vendor_completions.d/sockbox.fish $root/share/fish/vendor_completions.d/sockbox.fish"
}

plan | while read -r src dst; do
  if [ $uninstall -eq 1 ]; then
    if [ -e "$dst" ]; then rm -f "$dst" && echo "removed $dst"; fi
  else
    mode=644
    [ "$dst" = "$root/bin/sockbox" ] && mode=755
    install -D -m "$mode" "$src" "$dst"
    echo "installed $dst"
  fi
done
# The man index of the system trees (a prefix of one's own needs none: man -M or MANPATH).
case "$prefix" in
  /usr|/usr/local)
    if [ -z "${DESTDIR:-}" ] && command -v mandb >/dev/null; then
      mandb -q "$root/share/man" 2>/dev/null || true
    fi ;;
esac
