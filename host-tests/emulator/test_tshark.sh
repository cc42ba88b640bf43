#!/bin/sh
# Captures a whole session on loopback (devlist, import, enumeration, commands,
# bands, an unlink) and has Wireshark's USB/IP dissector decode it: zero
# malformed packets, and the dissector must actually have seen USB/IP.
# Fails (does not skip) without tshark or usbip.
set -eu
SCANEMU=$1
SRC=$2
SESSION=$3
command -v tshark >/dev/null || { echo "FAIL: tshark is not installed"; exit 1; }
command -v usbip >/dev/null || { echo "FAIL: usbip is not installed"; exit 1; }
TMP=$(mktemp -d)
chmod 755 "$TMP"
trap 'kill "$SCANEMU_PID" "$TSHARK_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
TSHARK_PID=
. "$SRC/host-tests/emulator/run_scanemu.sh"

start_scanemu --no-timing --device "$SRC/fixtures/profiles/default.yaml"
tshark -i lo -B 64 -f "tcp port $PORT" -w "$TMP/cap.pcapng" >"$TMP/tshark.log" 2>&1 &
TSHARK_PID=$!
i=0
until grep -q "Capturing on" "$TMP/tshark.log"; do
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 "$TSHARK_PID" 2>/dev/null; then
        echo "FAIL: tshark did not start capturing"; cat "$TMP/tshark.log"; exit 1
    fi
    sleep 0.05
done

usbip --tcp-port "$PORT" list -r 127.0.0.1 >/dev/null
"$SESSION" "$PORT" 1-1 6
sleep 1   # let the capture flush the last segments (not a condition wait)
kill -INT "$TSHARK_PID"
wait "$TSHARK_PID" || true
stop_scanemu

D="tcp.port==$PORT,usbip"
total=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y usbip 2>/dev/null | wc -l)
malformed=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y _ws.malformed 2>/dev/null | wc -l)
devlist=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y "usbip.operation == 0x0005" 2>/dev/null | wc -l)
import=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y "usbip.operation == 0x0003" 2>/dev/null | wc -l)
ret=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y "usbip.urb == 3" 2>/dev/null | wc -l)
unlink=$(tshark -r "$TMP/cap.pcapng" -d "$D" -Y "usbip.urb == 4" 2>/dev/null | wc -l)
echo "usbip frames: $total, malformed: $malformed, devlist replies: $devlist, import replies: $import, RET_SUBMIT frames: $ret, RET_UNLINK frames: $unlink"
[ "$total" -gt 0 ] || { echo "FAIL: the dissector saw no USB/IP"; exit 1; }
[ "$malformed" -eq 0 ] || {
    echo "FAIL: $malformed malformed packets"
    # A capture that dropped packets misframes the TCP stream: say so.
    grep -i "dropped" "$TMP/tshark.log" || true
    tshark -r "$TMP/cap.pcapng" -Y "tcp.analysis.lost_segment" 2>/dev/null | head -5
    tshark -r "$TMP/cap.pcapng" -d "$D" -Y _ws.malformed -V 2>/dev/null | head -80
    exit 1; }
[ "$devlist" -gt 0 ] && [ "$import" -gt 0 ] && [ "$ret" -gt 0 ] && [ "$unlink" -gt 0 ] || {
    echo "FAIL: expected devlist, import, RET_SUBMIT and RET_UNLINK in the capture"; exit 1; }
echo "PASS"
