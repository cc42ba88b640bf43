#!/bin/sh
# scanemu --realtime[=PRIO]: the option parses (valid and invalid values), and
# a session works with it. Whether SCHED_FIFO is permitted depends on who runs
# the test (root / CAP_SYS_NICE / RLIMIT_RTPRIO): either the info line or the
# one warning must be in the log, and the session must work either way. When
# setpriv(1) can drop to an unprivileged user, the refused path is run too.
set -eu
SCANEMU=$1
SRC=$2
SESSION=$3
TMP=$(mktemp -d)
SCANEMU_PID=
trap '[ -z "$SCANEMU_PID" ] || kill "$SCANEMU_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
. "$SRC/host-tests/emulator/run_scanemu.sh"

# Invalid values: exit 2 with one line naming the option.
for bad in 0 100 -1 abc 10x ""; do
    rc=0
    "$SCANEMU" --listen 127.0.0.1:0 --realtime="$bad" 2>"$TMP/err" || rc=$?
    [ "$rc" -eq 2 ] || { echo "FAIL: --realtime=$bad: exit $rc, expected 2"; exit 1; }
    grep -q -- '--realtime: expected a priority 1-99' "$TMP/err" ||
        { echo "FAIL: --realtime=$bad: message"; cat "$TMP/err"; exit 1; }
done
"$SCANEMU" --help | grep -q -- '--realtime\[=PRIO\]' || { echo "FAIL: --help lacks --realtime"; exit 1; }

# One line, either path; returns which one in $RT_PATH.
check_log() { # PRIO NDEV
    ok=$(grep -c "info: --realtime: $2 device threads\{0,1\} at SCHED_FIFO priority $1, timer slack 1 ns" "$TMP/scanemu.log" || true)
    warn=$(grep -c "warning: --realtime: cannot put the device threads at SCHED_FIFO priority $1 (.*); running at normal priority" "$TMP/scanemu.log" || true)
    if [ "$ok" -eq 1 ] && [ "$warn" -eq 0 ]; then
        RT_PATH=fifo
    elif [ "$ok" -eq 0 ] && [ "$warn" -eq 1 ]; then
        RT_PATH=refused
    else
        echo "FAIL: expected exactly one realtime log line (ok=$ok warn=$warn)"; cat "$TMP/scanemu.log"; exit 1
    fi
}

# Default priority (10), two devices, a session on each.
start_scanemu --realtime --device "$SRC/fixtures/profiles/default.yaml" --device "$SRC/fixtures/profiles/default.yaml"
"$SESSION" "$PORT" 1-1 3 || { echo "FAIL: session 1-1"; cat "$TMP/scanemu.log"; exit 1; }
"$SESSION" "$PORT" 1-2 3 || { echo "FAIL: session 1-2"; cat "$TMP/scanemu.log"; exit 1; }
stop_scanemu
check_log 10 2
echo "--realtime: $RT_PATH"
first=$RT_PATH

# Explicit priority.
rm -f "$TMP/port"
start_scanemu --realtime=20
"$SESSION" "$PORT" 1-1 2 || { echo "FAIL: session with --realtime=20"; cat "$TMP/scanemu.log"; exit 1; }
stop_scanemu
check_log 20 1
echo "--realtime=20: $RT_PATH"

# The refused path, as an unprivileged user with RLIMIT_RTPRIO 0 (needs root
# to drop to it; skipped otherwise, the run above covered this user's path).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    chmod 0777 "$TMP"
    rm -f "$TMP/port"
    SCANEMU_REAL=$SCANEMU
    SCANEMU="$TMP/as-nobody"
    printf '#!/bin/sh\nulimit -r 0 2>/dev/null\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all "%s" "$@"\n' "$SCANEMU_REAL" >"$SCANEMU"
    chmod 0755 "$SCANEMU"
    start_scanemu --realtime=15
    "$SESSION" "$PORT" 1-1 2 || { echo "FAIL: session while refused"; cat "$TMP/scanemu.log"; exit 1; }
    stop_scanemu
    check_log 15 1
    [ "$RT_PATH" = refused ] || { echo "FAIL: unprivileged run was not refused"; cat "$TMP/scanemu.log"; exit 1; }
    grep -q "Operation not permitted: needs CAP_SYS_NICE or RLIMIT_RTPRIO" "$TMP/scanemu.log" ||
        { echo "FAIL: refusal does not say why"; cat "$TMP/scanemu.log"; exit 1; }
    echo "unprivileged --realtime=15: refused, one warning"
fi
echo "PASS (privileged run: $first)"
