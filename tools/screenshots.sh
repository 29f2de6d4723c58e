#!/usr/bin/env bash
# The README's and docs/review.md's screenshots (issue 18): `blastview review` in
# `xterm -ti vt340` (sixel) under Xvfb, on a white and on a black background, of the browser,
# a case, the mask editor and a session's agreement dashboard. SampleData only: 30 wbc-seg
# crops (6 per class) with the shipped wbc5 model's predictions, and a session in which two
# raters labelled the first 12. Writes docs/screenshots/<screen>-<light|dark>.png.
#
#   tools/screenshots.sh [BINARY]     (default .build/debug/blastview; needs Xvfb, xterm,
#                                      xdotool, xwd and ImageMagick's convert)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.build/debug/blastview}")
out=docs/screenshots
tmp=$(mktemp -d /tmp/blastview-shots.XXXXXX)
display=:87
cleanup() {
  [ -n "${xterm_pid:-}" ] && kill "$xterm_pid" 2>/dev/null || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The workspace: 6 crops of each wbc-seg class, their masks, the wbc5 model's predictions.
for class in basophil eosinophil lymphocyte monocyte neutrophil; do
  mkdir -p "$tmp/images/$class"
  ls SampleData/wbc-seg/images/$class | head -6 | while read -r f; do
    cp "SampleData/wbc-seg/images/$class/$f" "$tmp/images/$class/"
  done
done
ws=$tmp/ws
"$bin" init --workspace "$ws" --schema wbc5 >/dev/null
"$bin" import --workspace "$ws" "$tmp/images" --labels-from-folders --masks SampleData/wbc-seg/masks >/dev/null
"$bin" predict --all-cases --workspace "$ws" >/dev/null
# A session: alice and bob label cases 1-12 (bob differs on three); alice drew case 1's mask.
printf '%s\n' 1 2 3 4 5 6 7 8 9 10 11 12 > "$tmp/cases.txt"
"$bin" session create --workspace "$ws" study --raters alice,bob --cases "$tmp/cases.txt" --blind \
  --created-by lead >/dev/null
labels=(basophil basophil eosinophil eosinophil lymphocyte lymphocyte monocyte monocyte neutrophil neutrophil basophil eosinophil)
for i in $(seq 1 12); do
  a=${labels[$((i - 1))]}
  b=$a
  case $i in 3) b=basophil ;; 7) b=lymphocyte ;; 11) b=monocyte ;; esac
  "$bin" annotate --workspace "$ws" --rater alice --session study "$i" --label "$a" >/dev/null
  "$bin" annotate --workspace "$ws" --rater bob --session study "$i" --label "$b" >/dev/null
done

Xvfb "$display" -screen 0 1100x700x24 -nolisten tcp &
xvfb_pid=$!
sleep 2
export DISPLAY=$display
unset TMUX
shot() { # name: the xterm window (100 × 30 cells of 9 × 19 pixels), at 3/4 size, 64 colours
  sleep "${2:-3}"
  xwd -root -silent | convert xwd:- -crop 900x570+0+0 +repage -resize 75% -colors 64 "$out/$1.png"
}
key() { xdotool key --delay 150 "$@"; }

for theme in light dark; do
  if [ $theme = light ]; then colours=(-bg white -fg black); else colours=(-bg black -fg white); fi
  xterm -ti vt340 -xrm 'XTerm*numColorRegisters: 256' -b 0 -geometry 100x30+0+0 \
    -fa 'DejaVu Sans Mono' -fs 11 "${colours[@]}" \
    -e sh -c "BLASTVIEW_PROBE_TIMEOUT_MS=3000 '$bin' review --workspace '$ws' --rater alice" &
  xterm_pid=$!
  sleep 4
  xdotool mousemove 450 300
  shot browser-$theme 4
  key Return
  shot case-$theme
  key m
  key space l l l l l l space
  shot mask-editor-$theme
  key Escape Escape A Return
  shot dashboard-$theme 4
  key q q
  sleep 1
  kill "$xterm_pid" 2>/dev/null || true
  xterm_pid=
done
ls -la "$out"
