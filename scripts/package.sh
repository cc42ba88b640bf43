#!/usr/bin/env bash
# Build the Debian packages into build/deb/ and check them:
#   1. the source tree (tracked and new files, no build/) copied to
#      build/deb/src/scanemu-VERSION, dpkg-buildpackage -us -uc -b there;
#   2. lintian on the .changes: any error fails, warnings are listed
#      (docs/ci.md, "The Debian package", says which are kept and why);
#   3. with --install-test: a clean Debian 12 made with debootstrap
#      (cached as build/deb/bookworm-base.tar after the first run, from the
#      host's own apt sources), the .debs installed with apt, then
#      scanemu --version, wiascan --version, man -w, and a scan with the
#      installed binaries and fixtures by name.
# Needs root for the install test (chroot). Usage:
#   scripts/package.sh [--install-test]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INSTALL_TEST=0
for arg in "$@"; do
  case $arg in
    --install-test) INSTALL_TEST=1 ;;
    *) echo "usage: scripts/package.sh [--install-test]" >&2; exit 2 ;;
  esac
done

OUT="$ROOT/build/deb"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
cmake_version=$(sed -n 's/^project(scanemu VERSION \([0-9.]*\) .*/\1/p' CMakeLists.txt)
if [ "$version" != "$cmake_version" ]; then
  echo "package.sh: debian/changelog says $version, CMakeLists.txt $cmake_version" >&2
  exit 1
fi

echo "==> source tree -> $OUT/src/scanemu-$version"
rm -rf "$OUT/src"
mkdir -p "$OUT/src/scanemu-$version"
git ls-files --cached --others --exclude-standard -z |
  grep -zv '^build/' |
  tar --null -T - -cf - | tar -xf - -C "$OUT/src/scanemu-$version"

echo "==> dpkg-buildpackage -us -uc -b"
(cd "$OUT/src/scanemu-$version" &&
  dpkg-buildpackage -us -uc -b -j"${SCANEMU_JOBS:-$(nproc)}") >"$OUT/build.log" 2>&1 ||
  { tail -n 40 "$OUT/build.log"; echo "package.sh: dpkg-buildpackage failed ($OUT/build.log)" >&2; exit 1; }
rm -f "$OUT"/*.deb "$OUT"/*.changes "$OUT"/*.buildinfo
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT"/
ls -l "$OUT"/*.deb

echo "==> lintian"
changes=$(ls "$OUT"/scanemu_"${version}"_*.changes)
set +e
lintian --fail-on error --info --display-level '>=warning' "$changes" | tee "$OUT/lintian.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "package.sh: lintian reported errors ($OUT/lintian.log)" >&2
  exit 1
fi
echo "lintian: $(grep -c '^E:' "$OUT/lintian.log" || true) errors, $(grep -c '^W:' "$OUT/lintian.log" || true) warnings"

[ "$INSTALL_TEST" -eq 1 ] || exit 0

echo "==> install test in a clean Debian 12 chroot"
[ "$(id -u)" -eq 0 ] || { echo "package.sh: --install-test needs root (chroot)" >&2; exit 1; }
base="$OUT/bookworm-base.tar"
root="$OUT/chroot"
umount_all() {
  for m in proc dev/pts dev; do
    mountpoint -q "$root/$m" && umount -l "$root/$m"
  done
  return 0
}
trap umount_all EXIT
umount_all
rm -rf "$root"
mkdir -p "$root"
# The mirror the host's apt uses (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "package.sh: no Debian mirror in the host's apt sources" >&2; exit 1; }
if [ ! -s "$base" ]; then
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$OUT/debootstrap.log" 2>&1 ||
    { tail -n 20 "$OUT/debootstrap.log"; exit 1; }
  tar -C "$root" -cf "$base" .
else
  tar -C "$root" -xf "$base"
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$root/tmp/debs"
cp "$OUT"/*.deb "$root/tmp/debs/"
cat >"$root/tmp/install-test.sh" <<'INNER'
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends /tmp/debs/*.deb libtiff-tools man-db >/tmp/apt.log 2>&1 ||
  { tail -n 30 /tmp/apt.log; exit 1; }
scanemu --version
wiascan --version
man -w scanemu wiascan scanemu-profile scanemu-scenario
test -f /etc/scanemu/scanemu.conf
test -f /lib/systemd/system/scanemu.service
scanemu --listen 127.0.0.1:0 --port-file /tmp/port --device default \
  --scenario jam-page3-band5 2>/tmp/scanemu.log &
pid=$!
i=0
while [ ! -s /tmp/port ]; do
  i=$((i + 1)); [ $i -lt 200 ] || { cat /tmp/scanemu.log; exit 1; }; sleep 0.05
done
rc=0
wiascan --transport "usbip://127.0.0.1:$(cat /tmp/port)/1-1" --pages 5 -o /tmp/jam.tiff || rc=$?
kill -TERM $pid; wait $pid
test "$rc" -eq 4
pages=$(tiffinfo /tmp/jam.tiff 2>/dev/null | grep -c '^TIFF Directory')
test "$pages" -eq 2
echo "install test: installed, --version, man pages, a jam scan by fixture name (exit 4, $pages pages): ok"
INNER
chroot "$root" /bin/sh /tmp/install-test.sh
