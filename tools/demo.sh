#!/usr/bin/env bash
# The README's main job (`make demo`, which builds the release binary first): checks the
# machine with `blastview doctor`, makes the demo workspace from SampleData (the 300 wbc-seg
# crops with their reference labels and expert masks, the shipped wbc5 model's predictions),
# and opens the review screen on it.
#
# The workspace is ./demo-workspace (git-ignored). It is made once; a changed
# Models/wbc5.safetensors is registered and its predictions recomputed on the next run.
# BLASTVIEW_DEMO_WORKSPACE overrides the place. Without a terminal (a script, CI) it stops
# after preparing the workspace and prints the command that opens it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/blastview
model=Models/wbc5.safetensors
ws=${BLASTVIEW_DEMO_WORKSPACE:-demo-workspace}
if [ ! -x "$bin" ]; then
  echo "no release build at $bin: run 'make demo' (it builds first)" >&2
  exit 1
fi

if ! doctor_out=$("$bin" doctor 2>&1); then
  echo "$doctor_out"
  echo >&2
  echo "make demo: a check above failed; its 'fix:' line says what to do." >&2
  exit 1
fi

if [ ! -f "$ws/blastview.db" ]; then
  echo "Making the demo workspace $ws from SampleData/wbc-seg ..."
  "$bin" init --workspace "$ws" --schema wbc5
  "$bin" import SampleData/wbc-seg/images --labels-from-folders \
    --masks SampleData/wbc-seg/masks --workspace "$ws"
fi
stamp="$ws/.demo-model.sha256"
sum=$(sha256sum "$model" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "Predicting every case with $model ..."
  "$bin" predict --model "$model" --all-cases --promote --workspace "$ws"
  echo "$sum" > "$stamp"
fi

if [ -t 0 ] && [ -t 1 ]; then
  exec "$bin" review --workspace "$ws"
fi
echo "Demo workspace ready. Open it in a terminal with:"
echo "  $bin review --workspace $ws"
