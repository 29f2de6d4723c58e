#!/usr/bin/env bash
# The README's main job (see README.md). Expects a release build in .build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/blastview
"$bin" doctor || true
