#!/bin/sh
# wiascan --transport escl+http against the scanemu binary (--escl-listen):
# the same seed gives the same pages as usbip:// (tiffcmp; the gray and
# colour files are byte-identical), a jam mid-job exits 4 keeping the pages
# before it, an unsupported resolution exits 8 before any job, the second
# device is reached at /BUSID/eSCL, and a duplex job equals the native one.
set -eu
SCANEMU=$1 # used by run_scanemu.sh
export SCANEMU
WIASCAN=$2
SRC=$3
TMP=$(mktemp -d)
trap 'kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
# shellcheck source=host-tests/emulator/run_scanemu.sh
. "$SRC/host-tests/emulator/run_scanemu.sh"

wait_escl_port() {
    i=0
    while [ ! -s "$TMP/escl.port" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || { echo "FAIL: no eSCL port"; cat "$TMP/scanemu.log"; exit 1; }
        sleep 0.05
    done
    EPORT=$(cat "$TMP/escl.port")
}

fail() { echo "FAIL: $*"; cat "$TMP/scanemu.log"; exit 1; }

start_scanemu --escl-listen 127.0.0.1:0 --escl-port-file "$TMP/escl.port" --seed 21 \
    --device "$SRC/fixtures/profiles/default.yaml" --device "$SRC/fixtures/profiles/default.yaml"
wait_escl_port
# PORT (the USB/IP port) is set by start_scanemu.
# shellcheck disable=SC2153
for mode in bw gray color; do
    "$WIASCAN" -q --transport "escl+http://127.0.0.1:$EPORT/eSCL" --mode "$mode" --dpi 75 \
        --pages 2 -o "$TMP/escl-$mode.tiff" || fail "escl $mode exit $?"
    "$WIASCAN" -q --transport "usbip://127.0.0.1:$PORT/1-1" --mode "$mode" --dpi 75 \
        --pages 2 -o "$TMP/native-$mode.tiff" || fail "native $mode exit $?"
    tiffcmp "$TMP/escl-$mode.tiff" "$TMP/native-$mode.tiff" >"$TMP/cmp.txt" 2>&1 ||
        { cat "$TMP/cmp.txt"; fail "$mode: pixels differ"; }
    if [ "$mode" != bw ]; then
        cmp -s "$TMP/escl-$mode.tiff" "$TMP/native-$mode.tiff" || fail "$mode: files differ"
    fi
done
# The second device, by its busid.
"$WIASCAN" -q --transport "escl+http://127.0.0.1:$EPORT/1-2/eSCL" --mode gray --dpi 75 \
    --pages 1 -o "$TMP/dev2.tiff" || fail "second device exit $?"
# Refused before a job: exit 8, one line naming the resolutions.
set +e
"$WIASCAN" -q --transport "escl+http://127.0.0.1:$EPORT/eSCL" --dpi 123 -o "$TMP/r.tiff" \
    2>"$TMP/r.err"
rc=$?
set -e
[ $rc -eq 8 ] || fail "--dpi 123: exit $rc, expected 8"
grep -q "does not scan at 123 dpi" "$TMP/r.err" || { cat "$TMP/r.err"; fail "--dpi 123 message"; }
[ ! -e "$TMP/r.tiff" ] || fail "--dpi 123 wrote a file"
stop_scanemu

# Duplex: both sides of each sheet, the same as natively.
rm -f "$TMP/port" "$TMP/escl.port"
start_scanemu --escl-listen 127.0.0.1:0 --escl-port-file "$TMP/escl.port" --seed 4 \
    --device "$SRC/fixtures/profiles/fast-duplex.yaml"
wait_escl_port
"$WIASCAN" -q --transport "escl+http://127.0.0.1:$EPORT/eSCL" --source duplex --mode gray \
    --dpi 150 --pages 4 -o "$TMP/dx-escl.tiff" || fail "duplex escl exit $?"
"$WIASCAN" -q --device-id any --transport "usbip://127.0.0.1:$PORT/1-1" --source duplex \
    --mode gray --dpi 150 --pages 4 -o "$TMP/dx-native.tiff" || fail "duplex native exit $?"
cmp -s "$TMP/dx-escl.tiff" "$TMP/dx-native.tiff" || fail "duplex: files differ"
stop_scanemu

rm -f "$TMP/port" "$TMP/escl.port"
start_scanemu --escl-listen 127.0.0.1:0 --escl-port-file "$TMP/escl.port" --seed 21 \
    --scenario "$SRC/fixtures/scenarios/jam-page3-band5.yaml"
wait_escl_port
set +e
"$WIASCAN" -q --transport "escl+http://127.0.0.1:$EPORT/eSCL" --mode gray --dpi 75 \
    -o "$TMP/jam.tiff" 2>"$TMP/jam.err"
rc=$?
set -e
[ $rc -eq 4 ] || { cat "$TMP/jam.err"; fail "jam: exit $rc, expected 4"; }
grep -q "WIA_ERROR_PAPER_JAM" "$TMP/jam.err" || { cat "$TMP/jam.err"; fail "jam message"; }
grep -q "2 pages kept" "$TMP/jam.err" || { cat "$TMP/jam.err"; fail "jam pages"; }
n=$(tiffinfo "$TMP/jam.tiff" 2>/dev/null | grep -c "Image Width" || true)
[ "$n" -eq 2 ] || fail "jam.tiff has $n pages, expected 2"
stop_scanemu
echo PASS
