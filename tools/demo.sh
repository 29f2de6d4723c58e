#!/usr/bin/env bash
# The README's main job (`make demo`, which builds the release binary first): checks the
# machine with `blastview doctor`, then summarises SampleData from the files themselves.
# Later issues turn this into opening the review screen on a demo workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/blastview
if [ ! -x "$bin" ]; then
  echo "no release build at $bin: run 'make demo' (it builds first)" >&2
  exit 1
fi
status=0
"$bin" doctor || status=$?
echo
"$bin" sampledata --path SampleData || status=$?
if [ "$status" -ne 0 ]; then
  echo >&2
  echo "make demo: a check above failed (exit $status); its 'fix:' line says what to do." >&2
fi
exit "$status"
