#!/bin/sh
# scanemu --realtime[=PRIO] and --slice-us N. --realtime: the option parses
# (valid and invalid values), and a session works with it. Whether SCHED_FIFO is permitted depends on who runs
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
# --slice-us: bad values are refused with one line naming the option.
for bad in 1 99 100001 -1 abc ""; do
    rc=0
    "$SCANEMU" --listen 127.0.0.1:0 --slice-us="$bad" 2>"$TMP/err" || rc=$?
    [ "$rc" -eq 2 ] || { echo "FAIL: --slice-us=$bad: exit $rc, expected 2"; exit 1; }
    grep -q -- '--slice-us: expected 0 or 100-100000 microseconds' "$TMP/err" ||
        { echo "FAIL: --slice-us=$bad: message"; cat "$TMP/err"; exit 1; }
done
"$SCANEMU" --help | grep -q -- '--slice-us N' || { echo "FAIL: --help lacks --slice-us"; exit 1; }

# Custom slices for SCHED_OTHER exist from Linux 6.12 (EEVDF's
# sched_attr.sched_runtime); only there are the values below checked. On an
# older kernel scanemu's request is accepted and ignored, and only that the
# option is taken and sessions work is checked (SLICE_PATH says which).
kver=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
# shellcheck disable=SC2086
set -- $kver
if [ "${1:-0}" -gt 6 ] || { [ "${1:-0}" -eq 6 ] && [ "${2:-0}" -ge 12 ]; }; then
    SLICE_KERNEL=1
else
    SLICE_KERNEL=0
fi

# The device threads (named scanemu/BUSID) of the running scanemu: waits
# until NDEV of them exist; their /proc task directories, one per line.
device_tasks() { # NDEV
    i=0
    while :; do
        found=""
        for t in /proc/"$SCANEMU_PID"/task/*; do
            case "$(cat "$t/comm" 2>/dev/null)" in
            scanemu/1-*) found="$found$t
" ;;
            esac
        done
        [ "$(printf '%s' "$found" | grep -c .)" -ge "$1" ] && break
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "FAIL: $1 device threads named scanemu/1-N not found" >&2
            ls /proc/"$SCANEMU_PID"/task >&2
            return 1
        fi
        sleep 0.02
    done
    printf '%s' "$found"
}
# check_slices NDEV WANT_NS: every device thread's se.slice is WANT_NS
# (WANT_NS "!100000": anything but 100 us). SLICE_PATH records what was done.
check_slices() {
    tasks=$(device_tasks "$1") || { cat "$TMP/scanemu.log"; exit 1; }
    if [ "$SLICE_KERNEL" -eq 0 ]; then
        SLICE_PATH="not checked: Linux $(uname -r) has no custom slices (6.12+)"
        return 0
    fi
    for t in $tasks; do
        v=$(awk '$1 == "se.slice" { print $3 }' "$t/sched" 2>/dev/null)
        [ -n "$v" ] || { echo "FAIL: Linux $(uname -r) reports no se.slice for $t"; exit 1; }
        case "$2" in
        !*) [ "$v" != "${2#!}" ] || { echo "FAIL: a device thread has slice $v ns, want anything else"; exit 1; } ;;
        *) [ "$v" = "$2" ] || { echo "FAIL: a device thread has slice $v ns, want $2"; cat "$TMP/scanemu.log"; exit 1; } ;;
        esac
    done
    SLICE_PATH=checked
}

# Default: 100 us on every device thread, without privilege. 0: the kernel's
# default (whatever it is, not 100 us). 2000: 2 ms.
SCANEMU=${SCANEMU_REAL:-$SCANEMU}
rm -f "$TMP/port"
start_scanemu --device "$SRC/fixtures/profiles/default.yaml" --device "$SRC/fixtures/profiles/default.yaml"
check_slices 2 100000
"$SESSION" "$PORT" 1-2 2 || { echo "FAIL: session with the default slice"; cat "$TMP/scanemu.log"; exit 1; }
stop_scanemu
echo "default slice: $SLICE_PATH"
rm -f "$TMP/port"
start_scanemu --slice-us 2000
check_slices 1 2000000
stop_scanemu
rm -f "$TMP/port"
start_scanemu --slice-us 0
check_slices 1 '!100000'
"$SESSION" "$PORT" 1-1 2 || { echo "FAIL: session with --slice-us 0"; cat "$TMP/scanemu.log"; exit 1; }
stop_scanemu
if [ -x "$TMP/as-nobody" ]; then
    SCANEMU="$TMP/as-nobody"
    rm -f "$TMP/port"
    start_scanemu
    check_slices 1 100000
    "$SESSION" "$PORT" 1-1 2 || { echo "FAIL: unprivileged session with the default slice"; cat "$TMP/scanemu.log"; exit 1; }
    stop_scanemu
    echo "unprivileged default slice: $SLICE_PATH"
fi
echo "PASS (privileged run: $first)"
