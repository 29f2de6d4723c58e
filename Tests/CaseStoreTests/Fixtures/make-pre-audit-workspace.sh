#!/bin/sh
# Builds Fixtures/pre-audit-workspace.db: a workspace written by BlastView before the audit
# chain (main at 11fffef), with annotations (labels, a mask, notes, revisions), a blinded
# session (created, labelled, closed), a role change and an adjudication. The migration test
# opens a copy and checks that nothing is lost and that the back-filled chain verifies.
# Usage: make-pre-audit-workspace.sh BLASTVIEW_BINARY_OF_THAT_COMMIT
set -eu
B=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
S=$repo/SampleData/wbc-seg
for c in neutrophil lymphocyte; do
  mkdir -p "$tmp/img/$c"
  for f in $(ls "$S/images/$c" | head -3); do cp "$S/images/$c/$f" "$tmp/img/$c/"; done
done
W=$tmp/ws
$B init --workspace "$W" --schema wbc5 --image-root "$tmp/img"
$B import --workspace "$W" "$tmp/img"
$B annotate --workspace "$W" --rater ana 1 --label lymphocyte --note first
$B annotate --workspace "$W" --rater ana 1 --label neutrophil --note "changed my mind"
$B annotate --workspace "$W" --rater ben 1 --label neutrophil
m=$(ls "$tmp/img/lymphocyte" | head -1)
$B annotate --workspace "$W" --rater ben "lymphocyte/$m" --mask "$S/masks/$m"
$B session create --workspace "$W" blind1 --raters ana,ben --cases all --blind --hide-model --created-by lead
$B annotate --workspace "$W" --rater ana 3 --label lymphocyte --session blind1
$B annotate --workspace "$W" --rater ben 3 --label neutrophil --session blind1
$B annotate --workspace "$W" --rater ben 3 --label lymphocyte --session blind1 --note "peeked"
$B rater set-role --workspace "$W" carla adjudicator
$B adjudicate --workspace "$W" --rater carla 3 --label lymphocyte --reason "nuclear shape"
$B session close --workspace "$W" --rater lead blind1
sqlite3 "$W/blastview.db" "PRAGMA journal_mode = DELETE; VACUUM;"
cp "$W/blastview.db" "$here/pre-audit-workspace.db"
