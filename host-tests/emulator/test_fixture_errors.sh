#!/bin/sh
# scanemu refuses a bad fixture with the device model's own message (file,
# key path, problem) and a non-zero exit, and never blocks on a fixture path
# that is not a regular file (a FIFO used to hang it in open()). A hang fails
# through CTest's timeout; nothing here measures time.
set -eu
SCANEMU=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# expect_refusal NAME EXPECTED-SUBSTRING... -- SCANEMU-ARGS...
expect_refusal() {
    name=$1
    shift
    : >"$TMP/want"
    while [ "$1" != "--" ]; do
        printf '%s\n' "$1" >>"$TMP/want"
        shift
    done
    shift
    if "$SCANEMU" --listen 127.0.0.1:0 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"; then
        echo "FAIL: $name: scanemu exited 0"
        fails=$((fails + 1))
        return
    fi
    while IFS= read -r want; do
        if ! grep -qF -- "$want" "$TMP/err"; then
            echo "FAIL: $name: '$want' not in: $(cat "$TMP/err")"
            fails=$((fails + 1))
            return
        fi
    done <"$TMP/want"
    echo "ok: $name: $(cat "$TMP/err")"
}

cat >"$TMP/band-past.yaml" <<'YAML'
name: band-past
sheets: 3
faults:
  - kind: paper_jam
    at: {page: 1, band: 2}
  - kind: paper_jam
    at: {page: 2, band: 56}
YAML
expect_refusal "fault past the last band, built-in profile" \
    "$TMP/band-past.yaml: key 'faults[1].at.band': band 56 is past the last band (55) of page 2" \
    "profile <built-in default.yaml>" -- --scenario "$TMP/band-past.yaml"
expect_refusal "fault past the last band, profile file" \
    "$TMP/band-past.yaml: key 'faults[1].at.band'" "profile $SRC/fixtures/profiles/default.yaml" \
    -- --device "$SRC/fixtures/profiles/default.yaml" --scenario "$TMP/band-past.yaml"

printf 'sheets: 3\n' >"$TMP/no-name.yaml"
expect_refusal "scenario without name" "$TMP/no-name.yaml: key 'name': missing" \
    -- --scenario "$TMP/no-name.yaml"

printf 'name: a\nsheets: 3\n---\nname: b\nsheets: 1\n' >"$TMP/two-docs.yaml"
expect_refusal "second YAML document" "$TMP/two-docs.yaml: a second YAML document" \
    -- --scenario "$TMP/two-docs.yaml"

mkfifo "$TMP/fifo.yaml"
expect_refusal "FIFO as profile" "$TMP/fifo.yaml: is a FIFO" -- --device "$TMP/fifo.yaml"
expect_refusal "FIFO as scenario" "$TMP/fifo.yaml: is a FIFO" -- --scenario "$TMP/fifo.yaml"
mkdir "$TMP/dir.yaml"
expect_refusal "directory as scenario" "$TMP/dir.yaml: is a directory" \
    -- --scenario "$TMP/dir.yaml"
expect_refusal "device node as profile" "/dev/null: is a character device" \
    -- --device /dev/null

[ "$fails" -eq 0 ] || { echo "FAIL: $fails case(s)"; exit 1; }
echo "PASS"
