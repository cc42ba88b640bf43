#!/bin/sh
# Timing bug 2 of docs/timing-bugs.md on the real clock: with
# timing-lamp-warmup.yaml (START_JOB answers WARMING_UP for 3 s after
# power-on), a driver whose warm-up budget is its 1 s response timeout
# fails with WIA_ERROR_WARMING_UP (exit 7) and writes nothing; one with a
# warm-up budget of its own scans all 3 pages. The margins are seconds.
set -eu
SCANEMU=$1
SRC=$2
WIASCAN=$3
TMP=$(mktemp -d)
SCANEMU_PID=
trap 'if [ -n "$SCANEMU_PID" ]; then kill "$SCANEMU_PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() { echo "FAIL: $*"; cat "$TMP/scanemu.log"; exit 1; }

start_scanemu --scenario "$SRC/fixtures/scenarios/timing-lamp-warmup.yaml"
U="usbip://127.0.0.1:$PORT/1-1"
st=0
"$WIASCAN" --transport "$U" --pages 3 --mode gray --dpi 75 --timeout 1000 --warmup-max 1000 \
    -o "$TMP/buggy.tiff" 2>"$TMP/buggy.err" || st=$?
cat "$TMP/buggy.err"
[ "$st" -eq 7 ] || fail "buggy driver: exit $st, expected 7"
grep -q 'WIA_ERROR_WARMING_UP' "$TMP/buggy.err" || fail "buggy driver: no WIA_ERROR_WARMING_UP"
[ ! -e "$TMP/buggy.tiff" ] || fail "buggy driver wrote a TIFF"
# The buggy client's detach power-cycled the device: the warm-up starts over.
"$WIASCAN" --transport "$U" --pages 3 --mode gray --dpi 75 --timeout 1000 --warmup-max 10000 \
    -q -o "$TMP/fixed.tiff" || fail "fixed driver failed"
[ -s "$TMP/fixed.tiff" ] || fail "fixed driver wrote no TIFF"
stop_scanemu
grep -q 'timing: 42 bands, .*; usb job ok after 3 pages' "$TMP/scanemu.log" ||
    fail "no timing line for the fixed driver's job"
echo "PASS"
