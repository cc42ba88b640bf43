#!/bin/sh
# Timing bug 3 of docs/timing-bugs.md on the real clock: with
# timing-event-last-band.yaml the BUTTON event is due with the last band of
# page 3, and the emulator sends it right after that band and END_OF_JOB. A
# driver that closes at END_OF_JOB (event_race_host, drain 0) never sees
# it, every time; one that drains the interrupt transfer it has queued
# (event_race_host 200, and wiascan) does.
set -eu
SCANEMU=$1
SRC=$2
WIASCAN=$3
HOST=$4
TMP=$(mktemp -d)
SCANEMU_PID=
trap 'if [ -n "$SCANEMU_PID" ]; then kill "$SCANEMU_PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() { echo "FAIL: $*"; cat "$TMP/scanemu.log"; exit 1; }

start_scanemu --scenario "$SRC/fixtures/scenarios/timing-event-last-band.yaml"
for i in 1 2 3; do
    "$HOST" "$PORT" 1-1 3 >"$TMP/buggy.out" || fail "event_race_host (buggy) failed"
    cat "$TMP/buggy.out"
    grep -qx 'event_race_host: 3 pages, END_OF_JOB status 0, 0 events seen' "$TMP/buggy.out" ||
        fail "the buggy driver saw the event (run $i)"
    "$HOST" "$PORT" 1-1 3 200 >"$TMP/fixed.out" || fail "event_race_host (fixed) failed"
    cat "$TMP/fixed.out"
    grep -qx 'event_race_host: event 5 (page 3, arg 13)' "$TMP/fixed.out" &&
        grep -qx 'event_race_host: 3 pages, END_OF_JOB status 0, 1 event seen' "$TMP/fixed.out" ||
        fail "the draining driver missed the event (run $i)"
done
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --pages 3 --mode gray --dpi 75 -v \
    -o "$TMP/w.tiff" 2>"$TMP/wiascan.err" || fail "wiascan failed"
grep -q 'wiascan: event 5 (page 3, arg 13)' "$TMP/wiascan.err" || fail "wiascan missed the event"
stop_scanemu
echo "PASS"
