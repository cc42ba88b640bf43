#!/usr/bin/env bash
# The README's first command: install what is needed, build, start the
# emulator's built-in scanner on a free loopback port, scan 3 pages into
# demo.tiff (in the directory you ran this from), print what was scanned,
# stop the emulator and say how to open the file.
#
#   DEMO_OUT=FILE      write somewhere else than ./demo.tiff
#   SCANEMU_JOBS=N     parallel build jobs (default: nproc)
#   SCANEMU_SKIP_BOOTSTRAP=1  do not run scripts/bootstrap.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${DEMO_OUT:-$PWD/demo.tiff}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
JOBS="${SCANEMU_JOBS:-$(nproc 2>/dev/null || echo 2)}"
cd "$ROOT"

say() { printf 'demo: %s\n' "$*"; }

if [ "${SCANEMU_SKIP_BOOTSTRAP:-0}" != "1" ]; then
  say "installing packages (scripts/bootstrap.sh)"
  bash "$ROOT/scripts/bootstrap.sh"
fi

say "building (cmake --preset release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS" --target scanemu wiascan >/dev/null
SCANEMU="$ROOT/build/release/emulator/scanemu"
WIASCAN="$ROOT/build/release/driver/wiascan"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scanemu-demo.XXXXXX")"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
    kill "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say "starting scanemu (built-in scanner, busid 1-1) on a free port of 127.0.0.1"
"$SCANEMU" --listen 127.0.0.1:0 --port-file "$WORK/port" -q 2>"$WORK/scanemu.log" &
EMU_PID=$!
for _ in $(seq 100); do
  [ -s "$WORK/port" ] && break
  kill -0 "$EMU_PID" 2>/dev/null || { cat "$WORK/scanemu.log" >&2; echo "demo: scanemu exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$WORK/port" ] || { echo "demo: scanemu did not report its port within 10 s" >&2; exit 1; }
PORT="$(cat "$WORK/port")"

say "scanning 3 pages (A4, colour, 300 dpi, LZW) from usbip://127.0.0.1:$PORT/1-1"
rm -f "$OUT"
start="$(date +%s%N)"
"$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --source adf --pages 3 \
  --mode color --dpi 300 --compression lzw -o "$OUT"
end="$(date +%s%N)"

kill "$EMU_PID" 2>/dev/null || true
wait "$EMU_PID" 2>/dev/null || true
EMU_PID=""

pages="$(tiffinfo "$OUT" 2>/dev/null | grep -c '^TIFF Directory')"
size="$(stat -c %s "$OUT")"
geom="$(tiffinfo "$OUT" 2>/dev/null | sed -n 's/^ *Image Width: \([0-9]*\) Image Length: \([0-9]*\).*/\1 \2/p' | head -n1)"
awk -v p="$pages" -v s="$size" -v g="$geom" -v ns="$((end - start))" -v f="$OUT" 'BEGIN {
  split(g, wh, " ")
  secs = ns / 1e9
  raw = p * wh[1] * wh[2] * 3
  printf "demo: %s: %d pages of %dx%d px (colour, 300 dpi), %.1f MB on disk\n", f, p, wh[1], wh[2], s / 1e6
  printf "demo: scanned in %.1f s: %.1f MB/s of pixels (%.1f pages/min; the virtual scanner runs at its profile speed)\n", secs, raw / 1e6 / secs, p * 60 / secs
}'
say "open it with:  xdg-open $OUT   (or: gimp $OUT, display $OUT, tiffinfo $OUT)"
