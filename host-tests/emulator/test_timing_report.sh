#!/bin/sh
# The timing report on the real clock (docs/emulator.md, "Timing report"):
# a job through the native front (wiascan) and one through the eSCL front
# each end with one log line and one job_end record that agree with the
# trace's band records (check_timing_report.py), and a device_end record
# when scanemu stops. Then --strict-timing: with a tolerance of 0 every job
# is NOT FAITHFUL and scanemu exits 4; with one of 60 s it is faithful and
# exits 0; either way the control socket's job_ended event carries the
# job_end record's numbers and verdict. No absolute time is judged anywhere.
# About 3 s.
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

# watch_start NAME: `scanemu ctl watch 1-1 --until job_ended` on $TMP/ctl.sock
# in the background, once it watches (so the event cannot be missed);
# watch_wait NAME waits for it to see job_ended.
watch_start() {
    "$SCANEMU" ctl "$TMP/ctl.sock" watch 1-1 --until job_ended >"$TMP/$1.watch" 2>&1 &
    WATCH_PID=$!
    i=0
    until grep -q '"watching":true' "$TMP/$1.watch" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 1200 ] || fail "watch $1 did not start"
        sleep 0.05
    done
}
watch_wait() {
    wait "$WATCH_PID" || { cat "$TMP/$1.watch"; fail "watch $1 ended without job_ended"; }
}
# job_ended_is NAME TRACE VERDICT: the watch's last event is job_ended, with
# the --strict-timing verdict VERDICT (JSON: "faithful", "not_faithful",
# null) and the same numbers as the trace's job_end record.
job_ended_is() {
    python3 - "$TMP/$1.watch" "$2" "$3" <<'EOF' || fail "$1: job_ended event: no timing report or the wrong verdict"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])][1:]
je = [e for e in ev if e["event"] == "job_ended"]
assert len(je) == 1 and ev[-1] is je[0], [e["event"] for e in ev]
e = je[0]
assert e["status"] == "ok" and e["pages_done"] == 2, e
assert e["verdict"] == json.loads(sys.argv[3]), e
rec = [json.loads(l) for l in open(sys.argv[2])]
rec = [r for r in rec if r.get("kind") == "job_end"]
assert len(rec) == 1, rec
for k in ("bands", "late_p50_ns", "late_p99_ns", "late_max_ns", "emu_p50_ns", "emu_p99_ns",
          "emu_max_ns", "tolerance_ns", "beyond", "beyond_emu", "beyond_host", "starved",
          "unattributed", "timing", "strict", "verdict"):
    assert e[k] == rec[0][k], (k, e, rec[0])
assert (e["verdict"] == "not_faithful") == (e["strict"] and e["beyond_emu"] > 0), e
EOF
}

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
start_scanemu --device "$PROF" --trace "$TMP/t2.jsonl" --strict-timing --late-tolerance-us 0 \
    --control "$TMP/ctl.sock"
watch_start w2
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 2 --mode gray --dpi 75 \
    -q -o "$TMP/b.tiff" || fail "wiascan (strict)"
watch_wait w2
stop_status
[ "$ST" -eq 4 ] || fail "exit status $ST with a NOT FAITHFUL job, expected 4"
grep -q 'scanemu\[1-1\]: warning: timing: 22 bands, .*; usb job ok after 2 pages; NOT FAITHFUL$' \
    "$TMP/scanemu.log" || fail "no NOT FAITHFUL warning"
grep -q '"kind":"job_end".*"strict":true,"verdict":"not_faithful"' "$TMP/t2.jsonl" ||
    fail "job_end record without the verdict"
job_ended_is w2 "$TMP/t2.jsonl" '"not_faithful"'
python3 "$CHECK" "$TMP/t2.jsonl" "$TMP/scanemu.log" --jobs 1 || fail "strict report disagrees"

# 3. --strict-timing with a 60 s tolerance: faithful, exit 0.
rm -f "$TMP/port"
start_scanemu --device "$PROF" --trace "$TMP/t3.jsonl" --strict-timing --late-tolerance-us 60000000 \
    --control "$TMP/ctl.sock"
watch_start w3
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 2 --mode gray --dpi 75 \
    -q -o "$TMP/c.tiff" || fail "wiascan (strict, 60 s)"
watch_wait w3
stop_status
[ "$ST" -eq 0 ] || fail "exit status $ST with a faithful job, expected 0"
grep -q 'info: timing: 22 bands, .*; usb job ok after 2 pages; faithful$' "$TMP/scanemu.log" ||
    fail "no faithful line"
job_ended_is w3 "$TMP/t3.jsonl" '"faithful"'
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
