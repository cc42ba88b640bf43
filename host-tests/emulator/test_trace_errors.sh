#!/bin/sh
# A trace that cannot be written (--trace /dev/full: every write fails with
# ENOSPC): scanemu keeps serving, logs the first write error once naming the
# file, a summary at the end, and exits 3 after SIGTERM.
set -eu
SCANEMU=$1
SRC=$2
SESSION=$3
TMP=$(mktemp -d)
trap 'kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() { echo "FAIL: $*"; cat "$TMP/scanemu.log"; exit 1; }

[ -c /dev/full ] || fail "/dev/full is missing"
"$SCANEMU" --help | grep -q "3 stopped, but the trace could not be written" ||
    fail "--help does not list exit status 3"
start_scanemu --trace /dev/full
"$SESSION" "$PORT" 1-1 4 || fail "first session"
"$SESSION" "$PORT" 1-1 2 || fail "second session (the server must keep serving)"
kill -TERM "$SCANEMU_PID"
st=0
wait "$SCANEMU_PID" || st=$?
SCANEMU_PID=
cat "$TMP/scanemu.log"
[ "$st" -eq 3 ] || fail "exit status $st, expected 3"
n=$(grep -c 'trace /dev/full: write failed: No space left on device' "$TMP/scanemu.log" || true)
[ "$n" -eq 1 ] || fail "expected the write error once, saw it $n times"
grep -q 'trace /dev/full is incomplete: No space left on device; [0-9]* records* dropped' \
    "$TMP/scanemu.log" || fail "no summary line at exit"
echo "PASS"
