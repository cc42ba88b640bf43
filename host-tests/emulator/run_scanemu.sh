# shellcheck shell=sh
# Sourced by the loopback tests: start_scanemu ARGS... starts scanemu on a free
# loopback port (--listen 127.0.0.1:0 --port-file), sets SCANEMU_PID and PORT,
# and arranges for it to be stopped. Needs SCANEMU and TMP set.
start_scanemu() {
    "$SCANEMU" --listen 127.0.0.1:0 --port-file "$TMP/port" "$@" 2>"$TMP/scanemu.log" &
    SCANEMU_PID=$!
    i=0
    while [ ! -s "$TMP/port" ]; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$SCANEMU_PID" 2>/dev/null; then
            echo "FAIL: scanemu did not start"; cat "$TMP/scanemu.log"; exit 1
        fi
        sleep 0.05
    done
    # shellcheck disable=SC2034 # PORT is for the script that sources this
    PORT=$(cat "$TMP/port")
}

stop_scanemu() {
    kill -TERM "$SCANEMU_PID"
    if ! wait "$SCANEMU_PID"; then
        echo "FAIL: scanemu did not exit cleanly on SIGTERM"; cat "$TMP/scanemu.log"; exit 1
    fi
}
