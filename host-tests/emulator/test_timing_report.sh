#!/bin/sh
# The timing report on the real clock (docs/emulator.md, "Timing report"):
# a job through the native front (wiascan) and one through the eSCL front
# each end with one log line and one job_end record that agree with the
# trace's band records (check_timing_report.py), and a device_end record
# when scanemu stops. Then --strict-timing: with a tolerance of 0 every job
# is NOT FAITHFUL and scanemu exits 4; with one of 60 s it is faithful and
# exits 0. No absolute time is judged anywhere. About 3 s.
set -eu
SCANEMU=$1
SRC=$2
WIASCAN=$3
TMP=$(mktemp -d)
SCANEMU_PID=
trap 'if [ -n "$SCANEMU_PID" ]; then kill "$SCANEMU_PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() { echo "FAIL: $*"; cat "$TMP/scanemu.log"; exit 1; }
PROF="$SRC/bench/fixtures/profiles/bench-2ms.yaml"
CHECK="$SRC/host-tests/emulator/check_timing_report.py"

# stop_status: SIGTERM, the exit status in ST.
stop_status() {
    kill -TERM "$SCANEMU_PID"
    ST=0
    wait "$SCANEMU_PID" || ST=$?
    SCANEMU_PID=
}

# Options refused.
for bad in -1 abc 60000001 ""; do
    st=0
    "$SCANEMU" --late-tolerance-us "$bad" 2>"$TMP/err" || st=$?
    [ "$st" -eq 2 ] || fail "--late-tolerance-us '$bad': exit $st, expected 2"
    grep -q -- "--late-tolerance-us" "$TMP/err" || fail "--late-tolerance-us '$bad': no message"
done
st=0
"$SCANEMU" --late-tolerance-us 5 --late-tolerance-us 6 2>"$TMP/err" || st=$?
[ "$st" -eq 2 ] && grep -q 'given twice' "$TMP/err" || fail "--late-tolerance-us twice accepted"
"$SCANEMU" --help | grep -q -- '--strict-timing' || fail "--help does not list --strict-timing"

# 1. One native job and one eSCL job, then the device's totals.
rm -f "$TMP/escl.port"
rm -f "$TMP/port"
start_scanemu --device "$PROF" --trace "$TMP/t1.jsonl" --escl-listen 127.0.0.1:0 \
    --escl-port-file "$TMP/escl.port"
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 5 --mode gray --dpi 75 \
    -q -o "$TMP/a.tiff" || fail "wiascan"
EPORT=$(cat "$TMP/escl.port")
python3 "$SRC/host-tests/emulator/escl_scan.py" "http://127.0.0.1:$EPORT/eSCL" --pages 2 \
    >"$TMP/escl.out" || fail "eSCL scan"
stop_status
[ "$ST" -eq 0 ] || fail "exit status $ST without --strict-timing, expected 0"
grep -c 'timing: ' "$TMP/scanemu.log" | grep -qx 3 || fail "expected 2 job lines and 1 device line"
grep -q 'scanemu\[1-1\]: info: timing: device total over 2 jobs: 77 bands' "$TMP/scanemu.log" ||
    fail "no device total line for 77 bands"
python3 "$CHECK" "$TMP/t1.jsonl" "$TMP/scanemu.log" --jobs 2 --fronts usb,escl ||
    fail "report disagrees with the trace"

# 2. --strict-timing with a tolerance of 0: every band is later than 0 ns
# by the emulator's own doing (the URBs wait), so the job is NOT FAITHFUL.
rm -f "$TMP/port"
start_scanemu --device "$PROF" --trace "$TMP/t2.jsonl" --strict-timing --late-tolerance-us 0
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 2 --mode gray --dpi 75 \
    -q -o "$TMP/b.tiff" || fail "wiascan (strict)"
stop_status
[ "$ST" -eq 4 ] || fail "exit status $ST with a NOT FAITHFUL job, expected 4"
grep -q 'scanemu\[1-1\]: warning: timing: 22 bands, .*; usb job ok after 2 pages; NOT FAITHFUL$' \
    "$TMP/scanemu.log" || fail "no NOT FAITHFUL warning"
grep -q '"kind":"job_end".*"strict":true,"verdict":"not_faithful"' "$TMP/t2.jsonl" ||
    fail "job_end record without the verdict"
python3 "$CHECK" "$TMP/t2.jsonl" "$TMP/scanemu.log" --jobs 1 || fail "strict report disagrees"

# 3. --strict-timing with a 60 s tolerance: faithful, exit 0.
rm -f "$TMP/port"
start_scanemu --device "$PROF" --trace "$TMP/t3.jsonl" --strict-timing --late-tolerance-us 60000000
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 2 --mode gray --dpi 75 \
    -q -o "$TMP/c.tiff" || fail "wiascan (strict, 60 s)"
stop_status
[ "$ST" -eq 0 ] || fail "exit status $ST with a faithful job, expected 0"
grep -q 'info: timing: 22 bands, .*; usb job ok after 2 pages; faithful$' "$TMP/scanemu.log" ||
    fail "no faithful line"
python3 "$CHECK" "$TMP/t3.jsonl" "$TMP/scanemu.log" --jobs 1 || fail "faithful report disagrees"

# 4. --no-timing: the line says there is no schedule to judge.
rm -f "$TMP/port"
start_scanemu --device "$PROF" --no-timing --strict-timing --late-tolerance-us 0
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 2 --mode gray --dpi 75 \
    -q -o "$TMP/d.tiff" || fail "wiascan (no timing)"
stop_status
[ "$ST" -eq 0 ] || fail "exit status $ST with --no-timing, expected 0"
grep -q "timing: 22 bands released without the profile's schedule (--no-timing)" \
    "$TMP/scanemu.log" || fail "no --no-timing line"
echo "PASS"
