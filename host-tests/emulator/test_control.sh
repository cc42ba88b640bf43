#!/bin/sh
# Live control (docs/control.md) over loopback, with scans running: the
# socket's safety rules, a jam armed mid-scan ending the job at the page
# asked, unplug mid-scan (DEVICE_COMMUNICATION, a valid TIFF, gone from
# `usbip list` and from eSCL), plug then scan the new busid while another
# scans, feed then rescan, watch events against the device trace, and bad
# requests (unknown command or busid, malformed JSON, a 10 MB line, a client
# that never reads) that never stall the emulator. Every wait is on an
# event (`scanemu ctl ... watch --until`) or a process; no sleeps decide
# anything.
set -eu
SCANEMU=$1
SRC=$2
WIASCAN=$3
TMP=$(mktemp -d)
SCANEMU_PID=
trap 'if [ -n "$SCANEMU_PID" ]; then kill "$SCANEMU_PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() {
    echo "FAIL: $*"
    for f in "$TMP"/*.err "$TMP/scanemu.log"; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}
P="$SRC/fixtures/profiles/default.yaml"
DX="$SRC/fixtures/profiles/fast-duplex.yaml"
EMPTY="$SRC/fixtures/scenarios/feeder-empty.yaml"
SOCK="$TMP/ctl.sock"
ctl() { "$SCANEMU" ctl "$SOCK" "$@"; }
scan() { # BUSID OUT ARGS...; prints wiascan's exit status
    b=$1
    o=$2
    shift 2
    st=0
    "$WIASCAN" --transport "usbip://127.0.0.1:$PORT/$b" --mode gray --dpi 75 -q -o "$o" "$@" \
        2>>"$TMP/wiascan.err" || st=$?
    echo "$st"
}
# watch_start NAME ARGS...: `ctl watch ARGS` in the background, once its
# reply says it watches (so no event is missed); watch_wait NAME waits for it.
watch_start() {
    n=$1
    shift
    ctl watch "$@" >"$TMP/$n.watch" 2>"$TMP/$n.watcherr" &
    eval "WATCH_$n=\$!"
    i=0
    until grep -q '"watching":true' "$TMP/$n.watch" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 1200 ] || fail "watch $* did not start"
        sleep 0.05
    done
}
watch_wait() {
    wp=""
    eval "wp=\$WATCH_$1"
    wait "$wp" || fail "watch $1 ended without its event"
}
tiff_pages() { tiffinfo "$1" 2>/dev/null | grep -c "Image Width" || true; }
listed() { usbip --tcp-port "$PORT" list -r 127.0.0.1 2>/dev/null | grep -E "^ +$1: " || true; }
http_status() { # PATH: the eSCL listener's HTTP status, or "closed"
    python3 - "$EPORT" "$1" <<'EOF'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    c.request("GET", sys.argv[2])
    print(c.getresponse().status)
except Exception:
    print("closed")
EOF
}

# ---- the socket file ------------------------------------------------------------------
echo "not a socket" >"$TMP/plain"
st=0
"$SCANEMU" --listen 127.0.0.1:0 --control "$TMP/plain" 2>"$TMP/refuse.err" || st=$?
[ "$st" -eq 1 ] || fail "a regular file at the control path: exit $st, expected 1"
grep -q "not a socket" "$TMP/refuse.err" || fail "no 'not a socket' message"
[ "$(cat "$TMP/plain")" = "not a socket" ] || fail "the regular file was touched"
rm -f "$TMP/refuse.err"

start_scanemu --trace "$TMP/trace.jsonl" --control "$SOCK" --escl-listen 127.0.0.1:0 \
    --escl-port-file "$TMP/eport" --device "$P" --device "$P" --device "$P" --scenario "$EMPTY" \
    --device "$P" --usb-id 1209:0007 --serial CLI-SERIAL
EPORT=$(cat "$TMP/eport")
[ -S "$SOCK" ] || fail "no control socket"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "control socket mode $(stat -c %a "$SOCK"), expected 600"
listed 1-4 | grep -q "1209:0007" || fail "--usb-id: 1-4 is not listed as 1209:0007"
st=0
"$SCANEMU" --listen 127.0.0.1:0 --control "$SOCK" 2>"$TMP/twice.err" || st=$?
[ "$st" -eq 1 ] && grep -q "another server answers there" "$TMP/twice.err" || fail "a second scanemu took over a live control socket"
rm -f "$TMP/twice.err"
ctl list >"$TMP/list.json" || fail "list"
python3 - "$TMP/list.json" <<'EOF' || fail "list reply"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and [d["busid"] for d in r["devices"]] == ["1-1", "1-2", "1-3", "1-4"], r
s = [d["usb"]["serial"] for d in r["devices"]]
assert s == ["SCANEMU-0001", "SCANEMU-0001-1-2", "SCANEMU-0001-1-3", "CLI-SERIAL"], s
assert r["devices"][3]["usb"]["pid"] == "0007" and r["devices"][0]["usb"]["pid"] == "0001"
assert r["devices"][0]["protocols"] == ["native"] and r["devices"][0]["escl"].endswith("/1-1/eSCL")
assert r["devices"][2]["feeder"]["sheets"] == 0 and r["devices"][0]["state"] in ("idle", "warming_up")
EOF

# ---- watch against the trace: one whole job on 1-1 -------------------------------------
watch_start job 1-1 --until job_ended
[ "$(scan 1-1 "$TMP/w.tiff" --pages 2)" -eq 0 ] || fail "scan for watch"
watch_wait job
kill -TERM "$SCANEMU_PID"
wait "$SCANEMU_PID" || fail "scanemu did not stop cleanly"
SCANEMU_PID=
[ ! -e "$SOCK" ] || fail "control socket left behind at exit"
python3 - "$TMP/job.watch" "$TMP/trace.jsonl" <<'EOF' || fail "watch events do not match the trace"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])][1:]
kinds = [e["event"] for e in ev]
assert kinds[0] == "attached" and kinds[1] == "job_started" and kinds[-1] == "job_ended", kinds
assert ev[-1]["status"] == "ok" and ev[-1]["pages_done"] == 2, ev[-1]
bands = [e for e in ev if e["event"] == "band"]
trace = [json.loads(l) for l in open(sys.argv[2])]
trace = [t for t in trace if t.get("busid") == "1-1" and t.get("bytes")]
assert len(bands) == len(trace) and bands, (len(bands), len(trace))
# job_ended carries the timing report; no verdict without --strict-timing
assert ev[-1]["bands"] == len(bands) and ev[-1]["timing"] is True, ev[-1]
assert ev[-1]["strict"] is False and ev[-1]["verdict"] is None, ev[-1]
for b, t in zip(bands, trace):
    assert (b["page"] - 1, b["band"] - 1) == (t["page"], t["band"]), (b, t)
    assert (b["deadline_ns"], b["release_ns"], b["bytes"]) == (t["deadline_ns"], t["release_ns"], t["bytes"]), (b, t)
    assert b["late_ns"] == t["late_ns"], (b, t)
# page_started comes right before the page's first band
for i, e in enumerate(ev):
    if e["event"] == "page_started":
        n = ev[i + 1]
        assert n["event"] == "band" and n["page"] == e["page"] and n["band"] == 1, (e, n)
EOF
rm -f "$TMP/port"

start_scanemu --control "$SOCK" --escl-listen 127.0.0.1:0 --escl-port-file "$TMP/eport" \
    --device "$P" --device "$P" --device "$P" --scenario "$EMPTY"
EPORT=$(cat "$TMP/eport")

# ---- a jam armed while the scan runs ends the job at the page asked ------------------------
watch_start p1 1-1 --until page_started --page 1
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --mode gray --dpi 75 --pages 6 -o "$TMP/jam.tiff" \
    2>"$TMP/jam.err" &
SCAN=$!
watch_wait p1
ctl fault 1-1 paper_jam --page 3 --band 2 >"$TMP/fault.json" || fail "fault"
grep -q '"job":"current_job","page":3,"band":2' "$TMP/fault.json" || fail "fault not armed in the running job: $(cat "$TMP/fault.json")"
st=0
wait $SCAN || st=$?
[ "$st" -eq 4 ] || fail "jammed scan: wiascan exit $st, expected 4"
grep -q "WIA_ERROR_PAPER_JAM" "$TMP/jam.err" || fail "no WIA_ERROR_PAPER_JAM"
grep -q "page 3 band 2" "$TMP/jam.err" || fail "jam not at page 3 band 2"
[ "$(tiff_pages "$TMP/jam.tiff")" -eq 2 ] || fail "jammed scan kept $(tiff_pages "$TMP/jam.tiff") pages, expected 2"
ctl status 1-1 | grep -q '"live":\[\]' || fail "the fired fault is still listed"

# ---- clear disarms; timing scales ------------------------------------------------------------
ctl fault 1-1 multi_feed --page 2 >/dev/null || fail "fault for clear"
ctl status 1-1 | grep -q '"kind":"multi_feed","job":"next_job","page":2' || fail "armed fault not listed"
ctl clear 1-1 | grep -q '"disarmed":1' || fail "clear"
ctl timing 1-1 --scale 0.5 >/dev/null || fail "timing"
ctl status 1-1 | grep -q '"time_scale":0.5' || fail "time scale not shown"
st=0
ctl timing 1-1 --scale 0 >"$TMP/t0.json" || st=$?
[ "$st" -eq 1 ] && grep -q out_of_range "$TMP/t0.json" || fail "scale 0 accepted"
[ "$(scan 1-1 "$TMP/clean.tiff" --pages 2)" -eq 0 ] || fail "scan after clear (half time)"
ctl timing 1-1 --scale 1 >/dev/null

# ---- unplug mid-scan ---------------------------------------------------------------------------
watch_start p2 1-2 --until page_started --page 2
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-2" --mode gray --dpi 75 --pages 8 -o "$TMP/unplug.tiff" \
    2>"$TMP/unplug.err" &
SCAN=$!
watch_wait p2
ctl unplug 1-2 >/dev/null || fail "unplug"
st=0
wait $SCAN || st=$?
[ "$st" -eq 5 ] || fail "unplugged scan: wiascan exit $st, expected 5"
grep -q "WIA_ERROR_DEVICE_COMMUNICATION" "$TMP/unplug.err" || fail "no DEVICE_COMMUNICATION"
n=$(tiff_pages "$TMP/unplug.tiff")
[ "$n" -ge 1 ] || fail "no page kept after the unplug"
tiffinfo -D "$TMP/unplug.tiff" >/dev/null 2>&1 || fail "the TIFF after the unplug is not valid"
[ -z "$(listed 1-2)" ] || fail "usbip list still shows 1-2"
[ -n "$(listed 1-1)" ] || fail "usbip list lost 1-1"
[ "$(http_status /1-2/eSCL/ScannerStatus)" = 404 ] || fail "eSCL of the unplugged 1-2 answers"
[ "$(http_status /1-1/eSCL/ScannerStatus)" = 200 ] || fail "eSCL of 1-1 broken"
st=0
ctl status 1-2 >"$TMP/gone.json" || st=$?
[ "$st" -eq 1 ] && grep -q unknown_busid "$TMP/gone.json" || fail "status of an unplugged busid"

# ---- plug while another device scans, then scan the new busid ---------------------------------------
watch_start b1 1-1 --until page_started --page 1
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --mode gray --dpi 75 --pages 4 -o "$TMP/busy.tiff" \
    2>"$TMP/busy.err" &
SCAN=$!
watch_wait b1
ctl plug "$DX" >"$TMP/plug.json" || fail "plug: $(cat "$TMP/plug.json")"
grep -q '"busid":"1-2"' "$TMP/plug.json" || fail "plug did not take the free busid 1-2"
listed 1-2 | grep -q "1209:0002" || fail "usbip list does not show the plugged 1-2 (1209:0002)"
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-2" --mode gray --dpi 150 --pages 2 --source duplex \
    -q -o "$TMP/new.tiff" 2>>"$TMP/wiascan.err" || fail "scan of the plugged 1-2"
[ "$(tiff_pages "$TMP/new.tiff")" -eq 2 ] || fail "plugged device: wrong page count"
wait $SCAN || fail "1-1 did not keep scanning through the plug"
[ "$(tiff_pages "$TMP/busy.tiff")" -eq 4 ] || fail "1-1 lost pages during the plug"
[ "$(http_status /1-2/eSCL/ScannerStatus)" = 200 ] || fail "eSCL of the plugged 1-2"
ctl plug "$P" --busid 1-9 --usb-id 1209:000a --serial MINE >/dev/null || fail "plug --busid"
listed 1-9 | grep -q "1209:000a" || fail "1-9 not listed with 1209:000a"
ctl status 1-9 | grep -q '"serial":"MINE"' || fail "serial override"
st=0
ctl plug "$P" --busid 1-9 >"$TMP/taken.json" || st=$?
[ "$st" -eq 1 ] && grep -q busid_taken "$TMP/taken.json" || fail "plug on a taken busid"
st=0
ctl plug "$TMP/nonexistent.yaml" >"$TMP/nofile.json" || st=$?
[ "$st" -eq 1 ] && grep -q fixture "$TMP/nofile.json" || fail "plug of a missing profile"

# ---- feed then rescan -------------------------------------------------------------------------------
[ "$(scan 1-3 "$TMP/empty.tiff" --pages 0)" -eq 4 ] || fail "1-3 (no sheets) did not answer PAPER_EMPTY"
ctl feed 1-3 3 | grep -q '"sheets":3' || fail "feed"
[ "$(scan 1-3 "$TMP/fed.tiff" --pages 0)" -eq 0 ] || fail "scan after feed"
[ "$(tiff_pages "$TMP/fed.tiff")" -eq 3 ] || fail "fed 3 sheets, got $(tiff_pages "$TMP/fed.tiff") pages"
ctl status 1-3 | grep -q '"sheets":0,"manual":true' || fail "feeder not used up"

# ---- bad requests never stall --------------------------------------------------------------------------
st=0; ctl send '{"cmd":"nope"}' >"$TMP/r.json" || st=$?
[ "$st" -eq 1 ] && grep -q unknown_command "$TMP/r.json" || fail "unknown command"
st=0; ctl fault 1-7 paper_jam >"$TMP/r.json" || st=$?
[ "$st" -eq 1 ] && grep -q unknown_busid "$TMP/r.json" || fail "unknown busid"
st=0; ctl send 'not json {' >"$TMP/r.json" || st=$?
[ "$st" -eq 1 ] && grep -q bad_json "$TMP/r.json" || fail "malformed JSON"
st=0; ctl fault 1-1 lightning >"$TMP/r.json" || st=$?
[ "$st" -eq 1 ] && grep -q bad_request "$TMP/r.json" || fail "unknown fault kind"
st=0; "$SCANEMU" ctl "$SOCK" frobnicate 2>/dev/null || st=$?
[ "$st" -eq 2 ] || fail "client: unknown command exit $st, expected 2"
python3 - "$SOCK" <<'EOF' || fail "10 MB line"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(60)
got = b""
try:
    s.sendall(b"x" * (10 << 20))
except OSError:
    pass  # the server closed its side: fine
try:
    while b"\n" not in got:
        d = s.recv(4096)
        if not d:
            break
        got += d
except OSError:
    pass
assert got == b"" or b"line_too_long" in got, got[:200]
EOF
# A watcher that never reads its events, while scans run; and a client that
# floods requests without reading a reply, which is cut off. Scans and other
# clients go on.
python3 - "$SOCK" <<'EOF' &
import socket, sys, time
w = socket.socket(socket.AF_UNIX)
w.connect(sys.argv[1])
w.sendall(b'{"cmd":"watch"}\n')
time.sleep(3600)  # never reads; killed by the test
EOF
LAZY=$!
python3 - "$SOCK" <<'EOF' || fail "a client that never reads its replies was not cut off"
import socket, sys
f = socket.socket(socket.AF_UNIX)
f.connect(sys.argv[1])
f.settimeout(120)
try:
    for _ in range(1000000):
        f.sendall(b'{"cmd":"list"}\n' * 64)
except (BrokenPipeError, ConnectionResetError):
    sys.exit(0)
sys.exit(1)
EOF
grep -q "did not read its replies" "$TMP/scanemu.log" || fail "no log line for the dropped client"
[ "$(scan 1-1 "$TMP/lazy.tiff" --pages 3)" -eq 0 ] || fail "scan with a watcher that never reads"
ctl list >/dev/null || fail "list with a watcher that never reads"
kill $LAZY 2>/dev/null || true
wait $LAZY 2>/dev/null || true
stop_scanemu
[ ! -e "$SOCK" ] || fail "control socket left behind"
echo "PASS"
