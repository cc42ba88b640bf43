#!/bin/sh
# scanemu with the real device model, on the real clock: a client session
# (enumeration, GET_CAPS, START_JOB, CRC-checked bands, unlink), then the
# device-side trace: one record per band, none released before its deadline.
set -eu
SCANEMU=$1
SRC=$2
SESSION=$3
TMP=$(mktemp -d)
trap 'kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"

start_scanemu --trace "$TMP/trace.jsonl" --seed 7
"$SESSION" "$PORT" 1-1 8 || { echo "FAIL: session"; cat "$TMP/scanemu.log"; exit 1; }
# A second session on the same device after the first detached.
"$SESSION" "$PORT" 1-1 2 || { echo "FAIL: second session"; cat "$TMP/scanemu.log"; exit 1; }
stop_scanemu
n=$(grep -c '"src":"device","busid":"1-1"' "$TMP/trace.jsonl" || true)
[ "$n" -ge 10 ] || { echo "FAIL: expected >= 10 trace records, got $n"; cat "$TMP/trace.jsonl"; exit 1; }
if grep -q '"late_ns":-' "$TMP/trace.jsonl"; then
    echo "FAIL: a band was released before its deadline"; grep '"late_ns":-' "$TMP/trace.jsonl"; exit 1
fi
head -2 "$TMP/trace.jsonl"
echo "PASS ($n records)"
