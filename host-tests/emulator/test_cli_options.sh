#!/bin/sh
# scanemu's command line: a single-value option given twice is refused (exit
# 2, one line naming it) instead of silently last-wins; -q with -v likewise.
# Per-device scenarios and seeds (docs/emulator.md): a --scenario or
# --seed before any --device is every device's default, one after a --device
# is that device's; checked end to end with wiascan (a jam on one device, a
# clean scan on the other; pixels from the per-device seed).
set -eu
SCANEMU=$1
SRC=$2
WIASCAN=$3
TMP=$(mktemp -d)
SCANEMU_PID=
trap 'if [ -n "$SCANEMU_PID" ]; then kill "$SCANEMU_PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"
fail() { echo "FAIL: $*"; [ -f "$TMP/err" ] && cat "$TMP/err"; [ -f "$TMP/scanemu.log" ] && cat "$TMP/scanemu.log"; exit 1; }

P="$SRC/fixtures/profiles/default.yaml"
CLEAN="$SRC/fixtures/scenarios/clean.yaml"
JAM="$SRC/fixtures/scenarios/jam-page3-band5.yaml"

refused() { # EXPECTED-TEXT ARGS...
    want=$1
    shift
    st=0
    "$SCANEMU" --listen 127.0.0.1:0 "$@" >/dev/null 2>"$TMP/err" || st=$?
    [ "$st" -eq 2 ] || fail "scanemu $*: exit status $st, expected 2"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "scanemu $*: expected one line"
    grep -qF -- "$want" "$TMP/err" || fail "scanemu $*: message lacks \"$want\""
}
refused '--seed given twice before the first --device ("1", then "2")' --seed 1 --seed 2
refused '--listen given twice' --listen 127.0.0.1:0
refused '--trace given twice ("a", then "b")' --trace a --trace b
refused '--port-file given twice' --port-file a --port-file b
refused '--slice-us given twice' --slice-us 200 --slice-us 300
refused '--realtime given twice' --realtime --realtime=5
refused '--x-op-slots given twice' --x-op-slots 1 --x-op-slots 2
refused '--scenario given twice before the first --device' --scenario "$CLEAN" --scenario "$JAM"
refused '--scenario given twice for --device 1 (busid 1-1)' --device "$P" --scenario "$CLEAN" \
    --scenario "$JAM"
refused '--seed given twice for --device 2 (busid 1-2) ("3", then "4")' --seed 1 --device "$P" \
    --device "$P" --seed 3 --seed 4
refused '--usb-id belongs after a --device' --usb-id 1209:0002
refused '--usb-id: expected VID:PID' --device "$P" --usb-id 1209
refused '--usb-id given twice for --device 1 (busid 1-1)' --device "$P" --usb-id 1209:0002 \
    --usb-id 1209:0003
refused '--serial given twice for --device 1' --device "$P" --serial a --serial b
refused '--control given twice' --control a --control b
refused '-q and -v contradict each other' -v -q
refused '-q and -v contradict each other' -q -v
refused '-q and -v contradict each other' -q --verbose
"$SCANEMU" --help | grep -q "once after each --device" || fail "--help does not explain repeats"

scan() { # BUSID OUT [WIASCAN-ARGS...]; prints wiascan's exit status
    b=$1
    o=$2
    shift 2
    st=0
    "$WIASCAN" --transport "usbip://127.0.0.1:$PORT/$b" --pages 4 --mode gray --dpi 75 -q \
        -o "$o" "$@" 2>>"$TMP/wiascan.err" || st=$?
    echo "$st"
}

# A scenario after a --device is that device's only; the other gets the
# default (here none: the built-in clean one). -v -v is fine.
start_scanemu --no-timing -v -v --device "$P" --scenario "$JAM" --device "$P"
[ "$(scan 1-1 "$TMP/a.tiff")" -eq 4 ] || fail "1-1 (jam scenario) did not jam"
[ "$(scan 1-2 "$TMP/b.tiff")" -eq 0 ] || fail "1-2 (default scenario) did not scan cleanly"
grep -q 'PAPER_JAM' "$TMP/wiascan.err" || fail "no paper jam reported"
stop_scanemu
rm -f "$TMP/port"

# A scenario before any --device is every device's default; a device's own
# overrides it. Seeds likewise.
start_scanemu --no-timing --scenario "$JAM" --seed 5 --device "$P" --device "$P" --scenario "$CLEAN" \
    --seed 9 --device "$P"
[ "$(scan 1-1 "$TMP/s5.tiff")" -eq 4 ] || fail "1-1 (default: jam) did not jam"
[ "$(scan 1-2 "$TMP/s9.tiff")" -eq 0 ] || fail "1-2 (own: clean) did not scan cleanly"
[ "$(scan 1-3 "$TMP/s5b.tiff")" -eq 4 ] || fail "1-3 (default: jam) did not jam"
stop_scanemu
rm -f "$TMP/port"

# Pixels: 1-2's own seed 9 gives the pages of a lone device with --seed 9,
# not those of the default seed 5.
start_scanemu --no-timing --seed 9
[ "$(scan 1-1 "$TMP/ref9.tiff")" -eq 0 ] || fail "reference scan, seed 9"
stop_scanemu
rm -f "$TMP/port"
start_scanemu --no-timing --seed 5
[ "$(scan 1-1 "$TMP/ref5.tiff")" -eq 0 ] || fail "reference scan, seed 5"
stop_scanemu
cmp -s "$TMP/s9.tiff" "$TMP/ref9.tiff" || fail "1-2 did not scan with its own seed 9"
cmp -s "$TMP/ref9.tiff" "$TMP/ref5.tiff" && fail "seeds 5 and 9 gave the same pages"
echo "PASS"
