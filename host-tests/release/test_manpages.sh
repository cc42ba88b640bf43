#!/usr/bin/env bash
# test_release_manpages: every built man page renders without a warning
# (man -l --warnings, as lintian runs it, and groff -ww), and every long
# option the executables' --help lists is in their man page.
#
# test_manpages.sh MAN_BUILD_DIR SCANEMU WIASCAN
set -euo pipefail

mandir=$1 scanemu=$2 wiascan=$3
fail=0
for page in scanemu.1 wiascan.1 scanemu-profile.5 scanemu-scenario.5; do
  f=$mandir/$page
  [ -s "$f" ] || { echo "FAIL: $page was not built"; fail=1; continue; }
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l --warnings -E UTF-8 "$f" 2>&1 >/dev/null || true)
  warnings+=$(groff -ww -z -man -Tutf8 "$f" 2>&1 || true)
  if [ -n "$warnings" ]; then
    echo "FAIL: $page: $warnings"
    fail=1
  fi
  lines=$(MANWIDTH=80 man -l "$f" 2>/dev/null | wc -l)
  echo "$page: $lines lines, no warnings"
done

# The --help of each executable against its page.
check_options() {
  local exe=$1 page=$2 opt
  for opt in $("$exe" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
    # Internal options for tests (--x-*) are not documented.
    case $opt in --x-*) continue ;; esac
    if ! MANWIDTH=200 man -l "$mandir/$page" 2>/dev/null | grep -qe "$opt"; then
      echo "FAIL: $page does not mention $opt ($(basename "$exe") --help does)"
      fail=1
    fi
  done
}
check_options "$scanemu" scanemu.1
check_options "$wiascan" wiascan.1
[ "$fail" -eq 0 ] && echo "test_release_manpages: ok"
exit "$fail"
