#!/usr/bin/env bash
# Builds the release binary with the git commit in `blastview --version`: writes the commit
# into Sources/blastview/BuildInfo.swift for the build and puts "unknown" back afterwards (on
# every exit), so the repository and a `swift build` from a tarball never depend on git.
# A commit with uncommitted changes to the sources is marked "-modified".
# Usage: bash tools/build-release.sh   (SWIFT=... to use another toolchain)
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
file=Sources/blastview/BuildInfo.swift
commit=unknown
if git rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD)
  git diff --quiet HEAD -- Sources Package.swift Models Themes 2>/dev/null || commit="$commit-modified"
fi
original=$(cat "$file")
trap 'printf "%s\n" "$original" > "$file"' EXIT
sed -i "s/static let commit = \"unknown\"/static let commit = \"$commit\"/" "$file"
grep -q "\"$commit\"" "$file" || { echo "build-release: could not stamp $file" >&2; exit 1; }
"$swift" build -c release --product blastview
