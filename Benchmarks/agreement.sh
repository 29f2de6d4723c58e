#!/usr/bin/env bash
# The agreement benchmark of docs/benchmarks.md: the Swift statistics and, in the same
# session on the same ratings, the Python reference libraries.
#   Benchmarks/agreement.sh            (needs a release build and /work/venv or $PYTHON)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/blastview
[ -x "$bin" ] || swift build -c release --product blastview
python=${PYTHON:-/work/venv/bin/python}
codes=$(mktemp --suffix=.csv)
trap 'rm -f "$codes"' EXIT
uptime
"$bin" bench agreement --write-codes "$codes" "$@"
if [ -x "$python" ]; then
  "$python" Benchmarks/agreement_baseline.py "$codes"
else
  echo "(no Python at $python: skipping the reference-library baseline)"
fi
