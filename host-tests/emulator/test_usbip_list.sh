#!/bin/sh
# Debian's own USB/IP client lists every device of a two-device emulator with
# the right VID:PID and interface class. Fails (does not skip) without usbip.
set -eu
SCANEMU=$1
SRC=$2
command -v usbip >/dev/null || { echo "FAIL: usbip is not installed (apt-get install usbip)"; exit 1; }
TMP=$(mktemp -d)
trap 'kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"

sed 's/^\( *pid:\).*/\1 0x0002/' "$SRC/fixtures/profiles/default.yaml" >"$TMP/second.yaml"
start_scanemu --device "$SRC/fixtures/profiles/default.yaml" --device "$TMP/second.yaml"
usbip --tcp-port "$PORT" list -r 127.0.0.1 >"$TMP/list.txt" 2>&1 || {
    echo "FAIL: usbip list exited non-zero"; cat "$TMP/list.txt"; exit 1; }
cat "$TMP/list.txt"
grep -Eq '^ +1-1: .*\(1209:0001\)' "$TMP/list.txt" || { echo "FAIL: 1-1 1209:0001 not listed"; exit 1; }
grep -Eq '^ +1-2: .*\(1209:0002\)' "$TMP/list.txt" || { echo "FAIL: 1-2 1209:0002 not listed"; exit 1; }
n=$(grep -c '(ff/00/00)' "$TMP/list.txt" || true)
[ "$n" -eq 2 ] || { echo "FAIL: expected 2 vendor-specific (ff/00/00) interfaces, saw $n"; exit 1; }
# A second listing works too (every usbip list is a new connection).
usbip --tcp-port "$PORT" list -r 127.0.0.1 >/dev/null 2>&1 || { echo "FAIL: second list"; exit 1; }
stop_scanemu
echo "PASS"
