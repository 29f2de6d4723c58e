#!/usr/bin/env bash
# `make install` and `make uninstall` (Debian's layout under $PREFIX, default /usr/local;
# $DESTDIR is prepended for packaging):
#   bin/blastview                                   the release binary
#   share/blastview/Models/*.safetensors            the shipped models (init --schema all4|wbc5)
#   share/blastview/Themes/*.json                   the themes
#   share/man/man1/blastview.1                      the manual page
#   share/bash-completion/completions/blastview     bash completion
#   share/zsh/vendor-completions/_blastview         zsh completion
#   share/fish/vendor_completions.d/blastview.fish  fish completion
# The binary finds share/blastview from its own path (../share/blastview), see ShippedFiles.
# Install builds the release binary (tools/build-release.sh) unless BLASTVIEW_REUSE_RELEASE=1
# and .build/release/blastview exists (CI reuses the one it built); BLASTVIEW_INSTALL_BINARY
# installs that binary instead (a packager's own build, or a debug build in a quick check).
# Usage: bash tools/install.sh install|uninstall
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?install or uninstall}
prefix=${PREFIX:-/usr/local}
root="${DESTDIR:-}$prefix"
bin="$root/bin/blastview"
share="$root/share/blastview"
man="$root/share/man/man1/blastview.1"
bash_completion="$root/share/bash-completion/completions/blastview"
zsh_completion="$root/share/zsh/vendor-completions/_blastview"
fish_completion="$root/share/fish/vendor_completions.d/blastview.fish"

case "$action" in
install)
  built=${BLASTVIEW_INSTALL_BINARY:-.build/release/blastview}
  if [[ -z "${BLASTVIEW_INSTALL_BINARY:-}" ]] && [[ "${BLASTVIEW_REUSE_RELEASE:-}" != 1 || ! -x "$built" ]]; then
    bash tools/build-release.sh
  fi
  [[ -x "$built" ]] || { echo "install: no binary at $built" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$built" --generate-completion-script bash > "$tmp/bash"
  "$built" --generate-completion-script zsh > "$tmp/zsh"
  "$built" --generate-completion-script fish > "$tmp/fish"
  bash tools/man-page.sh "$built" > "$tmp/man"
  install -d "$root/bin" "$share/Models" "$share/Themes" "$(dirname "$man")" \
    "$(dirname "$bash_completion")" "$(dirname "$zsh_completion")" "$(dirname "$fish_completion")"
  install -m 755 "$built" "$bin"
  install -m 644 Models/*.safetensors "$share/Models/"
  install -m 644 Themes/*.json "$share/Themes/"
  install -m 644 "$tmp/man" "$man"
  install -m 644 "$tmp/bash" "$bash_completion"
  install -m 644 "$tmp/zsh" "$zsh_completion"
  install -m 644 "$tmp/fish" "$fish_completion"
  echo "installed $("$bin" --version) in $root"
  ;;
uninstall)
  rm -f "$bin" "$man" "$bash_completion" "$zsh_completion" "$fish_completion"
  rm -rf "$share"
  echo "removed blastview from $root"
  ;;
*)
  echo "usage: $0 install|uninstall" >&2
  exit 2
  ;;
esac
