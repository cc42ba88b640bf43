#!/usr/bin/env bash
# test_release_install: cmake --install of every component into a temporary
# prefix, then the installed tree as a user has it: --version of both tools,
# a scan with the installed scanemu and wiascan and shipped fixtures given by
# name, and the emulator library built into a consumer with pkg-config and
# with find_package(scanemu COMPONENTS emulator tools).
#
# test_install.sh BUILD_DIR SRC_DIR WORK_DIR CC CMAKE GENERATOR PKG_CONFIG VERSION [SANITIZE]
set -euo pipefail

build=$1 src=$2 work=$3 cc=$4 cmake=$5 generator=$6 pkgconfig=$7 version=$8
sanitize=${9:-}
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
# Nothing from the build or source tree may be reached from here on.
unset SCANEMU_DATADIR SCANEMU_SOURCE_DIR SCANEMU_BINARY_DIR

echo "== --version"
got=$("$prefix/bin/scanemu" --version)
[ "$got" = "scanemu $version" ] || fail "scanemu --version: '$got', want 'scanemu $version'"
got=$("$prefix/bin/wiascan" --version)
[ "$got" = "wiascan (scanemu) $version" ] || fail "wiascan --version: '$got'"

for f in scanemu/profiles/default.yaml scanemu/scenarios/jam-page3-band5.yaml \
  scanemu/scenarios/clean.yaml man/man1/scanemu.1 man/man1/wiascan.1 \
  man/man5/scanemu-profile.5 man/man5/scanemu-scenario.5; do
  [ -f "$prefix/share/$f" ] || fail "share/$f not installed"
done
for f in etc/scanemu/scanemu.conf lib/systemd/system/scanemu.service; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
grep -q "^ExecStart=$prefix/bin/scanemu \|^ExecStart=/.*/bin/scanemu " \
  "$prefix/lib/systemd/system/scanemu.service" || fail "scanemu.service: no ExecStart"

echo "== a scan by fixture name with the installed binaries"
"$prefix/bin/scanemu" --listen 127.0.0.1:0 --port-file "$work/port" \
  --device default --scenario jam-page3-band5 --device fast-duplex 2>"$work/scanemu.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  [ -s "$work/port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/scanemu.log"; fail "scanemu did not start"; }
  sleep 0.05
done
[ -s "$work/port" ] || fail "scanemu wrote no port file"
port=$(cat "$work/port")
set +e
"$prefix/bin/wiascan" --transport "usbip://127.0.0.1:$port/1-1" --pages 5 \
  -o "$work/jam.tiff" 2>"$work/wiascan-jam.log"
rc=$?
set -e
cat "$work/wiascan-jam.log"
[ "$rc" -ne 0 ] || fail "the jam scenario scanned without an error"
grep -q "WIA_ERROR_PAPER_JAM" "$work/wiascan-jam.log" || fail "no WIA_ERROR_PAPER_JAM"
pages=$(tiffinfo "$work/jam.tiff" 2>/dev/null | grep -c "^TIFF Directory")
[ "$pages" -eq 2 ] || fail "jam.tiff has $pages pages, want 2"
"$prefix/bin/wiascan" -q --transport "usbip://127.0.0.1:$port/1-2" --device-id any \
  --source duplex --pages 2 -o "$work/duplex.tiff"
pages=$(tiffinfo "$work/duplex.tiff" 2>/dev/null | grep -c "^TIFF Directory")
[ "$pages" -eq 2 ] || fail "duplex.tiff has $pages pages, want 2"
kill -TERM "$pid"
wait "$pid" || { cat "$work/scanemu.log"; fail "scanemu did not stop cleanly"; }
trap - EXIT
grep -q "no profile named" "$work/scanemu.log" && fail "a name was not found"
if "$prefix/bin/scanemu" --device no-such-profile 2>"$work/noname.log"; then
  fail "an unknown profile name started"
fi
grep -q 'no profile named "no-such-profile".*shipped: .*default' "$work/noname.log" ||
  { cat "$work/noname.log"; fail "the unknown-name message does not list the shipped names"; }

echo "== the service's configuration and unit"
# The shipped scanemu.conf, expanded as systemd does ($VAR split at white
# space, empty adds nothing), starts the installed scanemu (on a free port
# rather than 3240); systemd-analyze checks the unit where it exists.
(
  # shellcheck source=/dev/null
  . "$prefix/etc/scanemu/scanemu.conf"
  SCANEMU_LISTEN="--listen 127.0.0.1:0 --port-file $work/service-port"
  # shellcheck disable=SC2086
  SCANEMU_DATADIR=$prefix/etc/scanemu exec "$prefix/bin/scanemu" $SCANEMU_LISTEN \
    $SCANEMU_ESCL_LISTEN $SCANEMU_DEVICES $SCANEMU_CONTROL $SCANEMU_TRACE $SCANEMU_OPTIONS
) 2>"$work/service.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  [ -s "$work/service-port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/service.log"; fail "scanemu.conf: scanemu did not start"; }
  sleep 0.05
done
"$prefix/bin/wiascan" -q --transport "usbip://127.0.0.1:$(cat "$work/service-port")/1-1" \
  --pages 1 --dpi 75 -o /dev/null || fail "scanemu.conf: scan failed"
kill -TERM "$pid"
wait "$pid" || fail "scanemu.conf: scanemu did not stop cleanly"
trap - EXIT
if command -v systemd-analyze >/dev/null; then
  unit=$prefix/lib/systemd/system/scanemu.service
  MANPATH=$prefix/share/man systemd-analyze verify "$unit" 2>&1 |
    grep -v "^$" | tee "$work/verify.log" || true
  # Only the absent configured prefix (not the temporary one) may be named.
  if grep -v "scanemu.conf\|/bin/scanemu" "$work/verify.log" | grep -q .; then
    fail "systemd-analyze verify"
  fi
fi

# The emulator library is built sanitized like its objects.
flags=(-Wall -Wextra -Werror)
if [ -n "$sanitize" ]; then
  flags+=(-fsanitize="$sanitize" -fno-omit-frame-pointer -fno-sanitize-recover=all)
fi

echo "== pkg-config scanemu"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name scanemu.pc -print -quit)")
got=$("$pkgconfig" --modversion scanemu)
[ "$got" = "$version" ] || fail "scanemu.pc version $got, want $version"
[ -x "$("$pkgconfig" --variable=scanemu scanemu)" ] || fail "scanemu.pc: scanemu variable"
[ -f "$("$pkgconfig" --variable=profilesdir scanemu)/default.yaml" ] ||
  fail "scanemu.pc: profilesdir variable"
read -r -a pc_flags <<<"$("$pkgconfig" --cflags --libs scanemu)"
"$cc" -std=c11 "${flags[@]}" "$src/consumer/embed.c" "${pc_flags[@]}" -o "$work/embed_pc"
"$work/embed_pc" "$prefix/bin/wiascan" "$work/embed_pc.tiff"

echo "== find_package(scanemu COMPONENTS emulator tools)"
"$cmake" -S "$src/consumer" -B "$work/cmake-build" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DPKG_CONFIG_EXECUTABLE="$pkgconfig" -DSCANEMU_EXPECT_VERSION="$version" \
  -DCONSUMER_FLAGS="${flags[*]}" >"$work/consumer-configure.log"
"$cmake" --build "$work/cmake-build" >"$work/consumer-build.log"
"$work/cmake-build/embed" "$(cat "$work/cmake-build/wiascan-path")" "$work/embed_cmake.tiff"
echo "test_release_install: ok"
