#!/usr/bin/env bash
# Writes blastview(1) to stdout from the binary's own help: the main command's --help, then a
# section per subcommand with its --help, so the page always matches the binary it ships with.
# (swift-argument-parser's generate-manual plugin needs a second full release build of the
# package through `swift package`; the help text is the same source.)
# Usage: bash tools/man-page.sh path/to/blastview > blastview.1
set -euo pipefail
bin=${1:?path to the blastview binary}
# roff: backslashes are written \e, and a line starting with . or ' is protected with \&.
escape() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
version=$("$bin" --version)
main_help=$("$bin" --help)
echo ".TH BLASTVIEW 1 \"\" \"blastview $version\" \"User Commands\""
echo ".SH NAME"
echo "blastview \\- review acute lymphoblastic leukemia blood-smear images in the terminal"
echo ".SH SYNOPSIS"
echo ".B blastview"
echo ".I subcommand"
echo "[\\fIoptions\\fR]"
echo ".SH DESCRIPTION"
echo ".nf"
printf '%s\n' "$main_help" | escape
echo ".fi"
echo ".SH COMMANDS"
# Subcommands are the indented first words of the SUBCOMMANDS section.
printf '%s\n' "$main_help" | awk '/^SUBCOMMANDS:/{s=1;next} s&&/^[^ ]/{s=0} s&&/^  [a-z]/{print $1}' |
  while read -r sub; do
    echo ".SS $sub"
    echo ".nf"
    "$bin" "$sub" --help 2>&1 | escape
    echo ".fi"
  done
echo ".SH FILES"
echo ".TP"
echo ".I ../share/blastview/Models, ../share/blastview/Themes"
echo "Shipped models and themes, found beside the executable (\$BLASTVIEW_SHARE overrides)."
echo ".SH SEE ALSO"
echo "The README and docs/ in the source distribution."
