#!/usr/bin/env bash
# CI (after the tests): `make install` into a temporary prefix, then check the layout, that
# `blastview --version` carries the commit, that completions and the manual page are real,
# that the installed binary finds its models and themes under the prefix when run from
# elsewhere, and that `make uninstall` removes every file it installed.
# Reuses .build/release/blastview when present (BLASTVIEW_REUSE_RELEASE=0 to rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
prefix=$(mktemp -d /tmp/blastview-prefix.XXXXXX)
work=$(mktemp -d /tmp/blastview-install-test.XXXXXX)
trap 'rm -rf "$prefix" "$work"' EXIT
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }

BLASTVIEW_REUSE_RELEASE=${BLASTVIEW_REUSE_RELEASE:-1} make --no-print-directory install PREFIX="$prefix"

for f in bin/blastview share/blastview/Models/all4.safetensors share/blastview/Models/wbc5.safetensors \
  share/blastview/Themes/dark.json share/blastview/Themes/light.json share/man/man1/blastview.1 \
  share/bash-completion/completions/blastview share/zsh/vendor-completions/_blastview \
  share/fish/vendor_completions.d/blastview.fish; do
  [[ -s "$prefix/$f" ]] || fail "$f missing or empty"
done
[[ -x "$prefix/bin/blastview" ]] || fail "bin/blastview is not executable"
cmp -s Models/all4.safetensors "$prefix/share/blastview/Models/all4.safetensors" || fail "all4 model differs"

version=$("$prefix/bin/blastview" --version)
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [^\)]+\)$ ]] || fail "--version says '$version'"
if git rev-parse --git-dir >/dev/null 2>&1 && [[ "${BLASTVIEW_REUSE_RELEASE:-1}" == 0 ]]; then
  [[ "$version" == *"$(git rev-parse --short=12 HEAD)"* ]] || fail "--version lacks the commit: $version"
fi
grep -q '^\.TH BLASTVIEW 1' "$prefix/share/man/man1/blastview.1" || fail "man page has no .TH"
grep -q '^\.SS review' "$prefix/share/man/man1/blastview.1" || fail "man page lacks the review command"
grep -q 'complete' "$prefix/share/bash-completion/completions/blastview" || fail "bash completion"
grep -q '#compdef blastview' "$prefix/share/zsh/vendor-completions/_blastview" || fail "zsh completion"
grep -q "complete -c 'blastview'" "$prefix/share/fish/vendor_completions.d/blastview.fish" || fail "fish completion"
if command -v man >/dev/null; then
  MANPATH="$prefix/share/man" man -P cat blastview 2>/dev/null | grep -q 'blastview' || fail "man cannot read it"
fi

# Run from elsewhere with PATH only: the shipped model comes from the prefix, not the checkout.
cd "$work"
out=$(PATH="$prefix/bin:$PATH" blastview init --workspace "$work/ws" --schema all4)
echo "$out"
[[ "$out" == *"$prefix/share/blastview/Models/all4.safetensors"* ]] || fail "init did not use the prefix's model"
[[ "$out" != *"$repo"* ]] || fail "the installed binary used the source tree"
doctor=$(PATH="$prefix/bin:$PATH" blastview doctor --json 2>/dev/null || true)
[[ "$doctor" == *"$prefix/share/blastview/Themes"* ]] || fail "doctor does not report the prefix's themes"
cd "$repo"

make --no-print-directory uninstall PREFIX="$prefix"
left=$(find "$prefix" -type f | head -5)
[[ -z "$left" ]] || fail "uninstall left: $left"
echo "test-install: OK ($version)"
