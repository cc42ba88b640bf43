#!/bin/sh
# Start-up paths that block or are the wrong kind of file:
# - a fixture path that is a FIFO nobody writes (scanemu waits in open() or
#   read(), or the loader refuses it at once): SIGTERM, and SIGINT even when
#   the shell started scanemu with SIGINT ignored (as `cmd &` does), end it;
# - --trace: a FIFO without a reader, a directory, a block device node (root
#   only) are refused at once with one line naming the path; a FIFO with a
#   reader and /dev/null work.
# Every wait is bounded; nothing is timed.
set -eu
SCANEMU=$1
SRC=$2
SESSION=$3
TMP=$(mktemp -d)
SCANEMU_PID=
CAT_PID=
# shellcheck disable=SC2154 # p is the trap's own loop variable
trap 'for p in $SCANEMU_PID $CAT_PID; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"

fail() { echo "FAIL: $*"; [ -f "$TMP/log" ] && cat "$TMP/log"; exit 1; }

# Waits up to 10 s for $SCANEMU_PID to exit; returns 0 if it did.
gone_within_10s() {
    i=0
    while kill -0 "$SCANEMU_PID" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && return 1
        # a zombie has exited already
        [ "$(cut -d' ' -f3 /proc/"$SCANEMU_PID"/stat 2>/dev/null)" = Z ] && return 0
        sleep 0.05
    done
    return 0
}

# Waits (bounded) until scanemu sleeps on the FIFO or has exited already.
# Where /proc does not say (wchan hidden), goes on after 2 s: the signal must
# end scanemu wherever it is in its start-up.
blocked_on_fifo_or_gone() {
    i=0
    while kill -0 "$SCANEMU_PID" 2>/dev/null; do
        case "$(cat /proc/"$SCANEMU_PID"/wchan 2>/dev/null)" in
        *fifo* | *partner* | pipe_read | pipe_wait*) return 0 ;;
        esac
        i=$((i + 1))
        [ $i -gt 40 ] && return 0
        sleep 0.05
    done
}

stop_during_load() { # SIGNAL OPTION
    mkfifo "$TMP/fixture.yaml"
    "$SCANEMU" --listen 127.0.0.1:0 "$2" "$TMP/fixture.yaml" 2>"$TMP/log" &
    SCANEMU_PID=$!
    blocked_on_fifo_or_gone
    kill -"$1" "$SCANEMU_PID" 2>/dev/null || true
    gone_within_10s || fail "$2 FIFO: scanemu still running 10 s after SIG$1"
    st=0
    wait "$SCANEMU_PID" || st=$?
    SCANEMU_PID=
    rm -f "$TMP/fixture.yaml"
    echo "$2 FIFO, SIG$1: exit status $st"
    [ "$st" -ne 0 ] || fail "$2 FIFO: exit status 0"
}
stop_during_load TERM --device
stop_during_load INT --scenario

refused_trace() { # PATH EXPECTED-TEXT
    "$SCANEMU" --listen 127.0.0.1:0 --trace "$1" 2>"$TMP/log" &
    SCANEMU_PID=$!
    gone_within_10s || fail "--trace $1: scanemu still running after 10 s (blocked?)"
    st=0
    wait "$SCANEMU_PID" || st=$?
    SCANEMU_PID=
    [ "$st" -eq 1 ] || fail "--trace $1: exit status $st, expected 1"
    [ "$(wc -l <"$TMP/log")" -eq 1 ] || fail "--trace $1: expected one line"
    grep -q "trace file $1.*$2" "$TMP/log" || fail "--trace $1: message does not say \"$2\""
    cat "$TMP/log"
}
mkfifo "$TMP/trace.fifo"
refused_trace "$TMP/trace.fifo" "FIFO with no reader"
mkdir "$TMP/dir"
refused_trace "$TMP/dir" "is a directory"
if [ "$(id -u)" = 0 ] && mknod "$TMP/blk" b 0 0 2>/dev/null; then
    refused_trace "$TMP/blk" "is a block device"
else
    echo "block device node: not root (or no mknod), not checked"
fi

# A FIFO with a reader gets the records; /dev/null is accepted.
cat "$TMP/trace.fifo" >"$TMP/trace.out" &
CAT_PID=$!
i=0 # until the reader waits in open() for a writer (it then counts as a reader)
until grep -q partner /proc/"$CAT_PID"/wchan 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 200 ] && fail "the FIFO's reader did not start"
    sleep 0.05
done
start_scanemu --trace "$TMP/trace.fifo"
"$SESSION" "$PORT" 1-1 2 || fail "session with a FIFO trace"
stop_scanemu
wait "$CAT_PID"
CAT_PID=
grep -q '"src":"device"' "$TMP/trace.out" || fail "nothing arrived through the FIFO"
rm -f "$TMP/port"
start_scanemu --trace /dev/null
"$SESSION" "$PORT" 1-1 1 || fail "session with --trace /dev/null"
stop_scanemu
echo "PASS"
