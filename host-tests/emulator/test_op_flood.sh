#!/bin/bash
# Connection slots against Debian's own USB/IP client: with 2 operation-phase
# slots (scanemu's internal --x-op-slots) held by 20 silent connections and
# 2 slowloris ones, `usbip list` still lists the devices (the oldest silent
# connection makes room), and scanemu logs why it dropped each. bash: the
# idle connections are /dev/tcp redirections. Fails (does not skip) without
# usbip.
set -eu
SCANEMU=$1
SRC=$2
command -v usbip >/dev/null || { echo "FAIL: usbip is not installed (apt-get install usbip)"; exit 1; }
TMP=$(mktemp -d)
trap 'kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"

start_scanemu --x-op-slots 2 --x-op-deadline-ms 600000
fds=()
for i in $(seq 1 20); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    fds+=("$fd")
done
for i in 1 2; do # two that trickle a DEVLIST header, one byte at a time
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf '\001' >&"$fd"
    printf '\021' >&"$fd"
    fds+=("$fd")
done
usbip --tcp-port "$PORT" list -r 127.0.0.1 >"$TMP/list.txt" 2>&1 || {
    echo "FAIL: usbip list with the slots flooded"; cat "$TMP/list.txt"; cat "$TMP/scanemu.log"; exit 1; }
grep -Eq '^ +1-1: .*\(1209:0001\)' "$TMP/list.txt" || { echo "FAIL: 1-1 not listed"; cat "$TMP/list.txt"; exit 1; }
usbip --tcp-port "$PORT" list -r 127.0.0.1 >/dev/null 2>&1 || { echo "FAIL: second list"; exit 1; }
for fd in "${fds[@]}"; do exec {fd}>&-; done
stop_scanemu
grep -q 'evicted for 127.0.0.1:[0-9]*: all 2 operation-phase slots are taken' "$TMP/scanemu.log" || {
    echo "FAIL: no eviction line in the log"; cat "$TMP/scanemu.log"; exit 1; }
grep 'evicted' "$TMP/scanemu.log" | head -2
echo "PASS"
