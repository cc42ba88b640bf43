#!/usr/bin/env bash
# End-to-end test through the real Linux USB stack (issue 7).
#
# Boots a throwaway QEMU guest (Debian's own kernel, busybox initramfs, no KVM,
# user-mode networking) that loads usb-common, usbcore, usbip-core and vhci-hcd,
# `usbip attach`es scanners exported by scanemu on this host's loopback (seen
# from the guest as 10.0.2.2), and scans from them with
# `wiascan --transport libusb:VID:PID` through the guest kernel's usbcore.
# Every guest result is compared with the same scan done here on the host
# through wiascan's userspace usbip transport: same exit status, same WIA
# status, byte-identical TIFF (sha256).
#
# Needs no root on the test machine, no USB in the host kernel and no modules
# loaded on the host. Fails (never skips) when something is missing; run
# scripts/bootstrap.sh to install it.
#
# usage: scripts/vm-e2e.sh --build-dir DIR [--smoke] [--keep] [--mem MiB]
#                          [--timeout SECONDS] [--verbose]
#   --build-dir DIR  a configured and built CMake build tree (wiascan, scanemu)
#   --smoke          only boot the guest, load the modules and reach a TCP
#                    listener on the host: no scanemu/wiascan needed
#   --keep           keep the work directory (DIR/vm-e2e) even on success
#   --mem MiB        guest memory (default 512; 1024 for sanitizer builds)
#   --timeout S      wall-clock limit for the guest (default 420)
#   --verbose        print the whole guest console even on success
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=""
MODE=full
KEEP=0
MEM=""
VM_TIMEOUT=420
VERBOSE=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD="$2"; shift 2 ;;
    --build-dir=*) BUILD="${1#*=}"; shift ;;
    --smoke) MODE=smoke; shift ;;
    --keep) KEEP=1; shift ;;
    --mem) MEM="$2"; shift 2 ;;
    --timeout) VM_TIMEOUT="$2"; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "vm-e2e: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$BUILD" ] || { echo "vm-e2e: --build-dir is required" >&2; exit 2; }
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"

CACHE="$BUILD/vm-cache"          # downloaded .debs and the unpacked guest files
WORK="$BUILD/vm-e2e"             # this run: initramfs, logs, host-side scans
CONSOLE="$WORK/console.log"
T0=$(date +%s)

log() { printf 'vm-e2e: %s\n' "$*"; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

print_console() {
  if [ -s "$CONSOLE" ]; then
    echo "----- guest console ($CONSOLE) -----"
    tr -d '\r' <"$CONSOLE"
    echo "----- end of guest console -----"
  else
    echo "(no guest console output in $CONSOLE)"
  fi
}

# die MESSAGE: fail now, with the guest console if there is one.
die() {
  echo "vm-e2e: FAIL: $*" >&2
  print_console >&2
  echo "vm-e2e: RESULT: FAIL ($(($(date +%s) - T0)) s)" >&2
  exit 1
}

# need CMD PACKAGE: a missing tool is a failure, never a skip.
need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found: install the Debian package '$2' (scripts/bootstrap.sh does)"
}

need qemu-system-x86_64 qemu-system-x86
need apt-get apt
need apt-cache apt
need dpkg dpkg
need dpkg-deb dpkg
need cpio cpio
need ldd libc-bin
need sha256sum coreutils
need timeout coreutils
need modinfo kmod
need python3 python3

rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/debs"

# ---------------------------------------------------------------------------
# 1. Debian packages: apt-get download into the cache, keyed by version.
# ---------------------------------------------------------------------------
APT_UPDATED=0
candidate_version() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# fetch_deb PACKAGE -> prints the path of the cached .deb
fetch_deb() {
  local pkg="$1" ver fver hit
  ver="$(candidate_version "$pkg")"
  if { [ -z "$ver" ] || [ "$ver" = "(none)" ]; } && [ "$APT_UPDATED" = 0 ] &&
    [ "$(id -u)" = 0 ]; then
    # apt-get download needs the package lists; bootstrap.sh normally ran
    # apt-get update already.
    log "no package lists for $pkg; running apt-get update once" >&2
    apt-get update -q >/dev/null 2>&1 || true
    APT_UPDATED=1
    ver="$(candidate_version "$pkg")"
  fi
  if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
    fver="${ver//:/%3a}"
    hit="$(ls "$CACHE/debs/${pkg}_${fver}_"*.deb 2>/dev/null | head -n1 || true)"
    if [ -z "$hit" ]; then
      (cd "$CACHE/debs" && apt-get download -q "$pkg=$ver" >"$WORK/apt-$pkg.log" 2>&1) ||
        log "apt-get download $pkg=$ver failed (see $WORK/apt-$pkg.log)" >&2
      hit="$(ls "$CACHE/debs/${pkg}_${fver}_"*.deb 2>/dev/null | head -n1 || true)"
    fi
  fi
  if [ -z "${hit:-}" ]; then
    # Offline and the archive moved on: any cached version will do.
    hit="$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)"
    [ -n "$hit" ] && log "using cached $(basename "$hit") (candidate ${ver:-unknown} not downloadable)" >&2
  fi
  [ -n "$hit" ] || return 1
  printf '%s\n' "$hit"
}

# linux-image-amd64 is a metapackage; the image is its linux-image-* dependency.
KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null |
  awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [ -z "$KPKG" ]; then
  KPKG="$(ls "$CACHE/debs/" 2>/dev/null | sed -n 's/^\(linux-image-[0-9][^_]*-amd64\)_.*/\1/p' |
    sort -V | tail -n1)"
fi
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 (no apt package lists and nothing cached): run 'apt-get update' (scripts/bootstrap.sh)"

DEBS=()
# hwdata's usb.ids is a symlink into the usb.ids package, which has the data.
for pkg in "$KPKG" busybox-static usbip usbutils hwdata usb.ids; do
  deb="$(fetch_deb "$pkg")" ||
    die "cannot apt-get download '$pkg' and no cached copy in $CACHE/debs (is the Debian archive reachable? did apt-get update run?)"
  DEBS+=("$deb")
done
log "packages: $(for d in "${DEBS[@]}"; do basename "$d"; done | tr '\n' ' ')"

# ---------------------------------------------------------------------------
# 2. Unpack with dpkg -x and keep only what the guest needs (cached per set).
# ---------------------------------------------------------------------------
KEY="$(for d in "${DEBS[@]}"; do basename "$d"; done | sha256sum | cut -c1-16)"
GUEST="$CACHE/guest-$KEY"
GUEST_MODULES="usb-common usbcore usbip-core vhci-hcd e1000"
if [ ! -f "$GUEST/.complete" ]; then
  log "unpacking packages into $GUEST"
  rm -rf "$GUEST" "$GUEST.tmp"
  mkdir -p "$GUEST.tmp/x"
  for d in "${DEBS[@]}"; do
    dpkg -x "$d" "$GUEST.tmp/x" || die "dpkg -x $(basename "$d") failed"
  done
  x="$GUEST.tmp/x"
  kver="$(ls "$x/lib/modules" | head -n1)"
  [ -n "$kver" ] && [ -f "$x/boot/vmlinuz-$kver" ] || die "no kernel image in $KPKG"
  mkdir -p "$GUEST.tmp/g/modules" "$GUEST.tmp/g/bin"
  cp "$x/boot/vmlinuz-$kver" "$GUEST.tmp/g/vmlinuz"
  echo "$kver" >"$GUEST.tmp/g/kernel-version"
  # Resolve module dependencies from each module's own modinfo "depends"
  # (the package ships no modules.dep: depmod runs in its postinst).
  order=()
  add_module() {
    local name="$1" path dep
    for dep in "${order[@]:-}"; do [ "$dep" = "$name" ] && return 0; done
    path="$(find "$x/lib/modules/$kver/kernel" \( -name "$name.ko*" -o -name "${name//-/_}.ko*" \) | head -n1)"
    [ -n "$path" ] || die "module $name not found in $KPKG"
    for dep in $(modinfo -F depends "$path" | tr ',' ' '); do add_module "$dep"; done
    case "$path" in
      *.ko) cp "$path" "$GUEST.tmp/g/modules/$name.ko" ;;
      *.ko.xz) xz -dc "$path" >"$GUEST.tmp/g/modules/$name.ko" ;;
      *.ko.zst) zstd -qdc "$path" >"$GUEST.tmp/g/modules/$name.ko" ;;
      *.ko.gz) gzip -dc "$path" >"$GUEST.tmp/g/modules/$name.ko" ;;
      *) die "unknown module format: $path" ;;
    esac
    order+=("$name")
  }
  for m in $GUEST_MODULES; do add_module "$m"; done
  printf '%s\n' "${order[@]}" >"$GUEST.tmp/g/modules/order"
  cp "$x/bin/busybox" "$GUEST.tmp/g/bin/busybox"
  cp "$x/usr/sbin/usbip" "$GUEST.tmp/g/bin/usbip"
  cp "$x/usr/bin/lsusb" "$GUEST.tmp/g/bin/lsusb"
  ids="$(find "$x" -type f -name usb.ids | head -n1)"
  [ -n "$ids" ] || die "no usb.ids in the hwdata/usb.ids packages"
  cp "$ids" "$GUEST.tmp/g/usb.ids"
  for d in "${DEBS[@]}"; do basename "$d"; done >"$GUEST.tmp/g/packages"
  rm -rf "$GUEST.tmp/x"
  mv "$GUEST.tmp/g" "$GUEST"
  rmdir "$GUEST.tmp"
  touch "$GUEST/.complete"
  # Older unpacked sets are useless once the archive moved on.
  for old in "$CACHE"/guest-*; do
    [ "$old" = "$GUEST" ] || rm -rf "$old"
  done
fi
log "kernel $(cat "$GUEST/kernel-version"), modules: $(tr '\n' ' ' <"$GUEST/modules/order")"

# ---------------------------------------------------------------------------
# 3. The initramfs: busybox, modules, usbip, lsusb, usb.ids, and (full mode)
#    wiascan and tiffinfo. Shared libraries come from this host (Debian 12,
#    the same release as the guest's packages), found with ldd.
# ---------------------------------------------------------------------------
STAGE="$WORK/initramfs"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,usr/share/hwdata,usr/share/misc,lib/modules,e2e,etc,proc,sys,dev,tmp,run,var}

# install_elf SRC DEST: copy a dynamic executable and every library ldd finds.
install_elf() {
  local src="$1" dest="$2" lib out
  [ -x "$src" ] || die "$src is missing or not executable"
  cp "$src" "$STAGE$dest"
  out="$(ldd "$src" 2>&1)" || die "ldd $src failed: $out"
  if grep -q 'not found' <<<"$out"; then
    die "ldd $src: a shared library is missing on this host:
$out"
  fi
  for lib in $(awk '/=> \// {print $3} $1 ~ /^\// {print $1}' <<<"$out"); do
    if [ ! -e "$STAGE$lib" ]; then
      mkdir -p "$STAGE$(dirname "$lib")"
      cp -L "$lib" "$STAGE$lib"
    fi
  done
}

cp "$GUEST/bin/busybox" "$STAGE/bin/busybox"
cp "$SRC/scripts/vm/init" "$STAGE/init"
chmod 755 "$STAGE/init" "$STAGE/bin/busybox"
cp "$GUEST"/modules/*.ko "$STAGE/lib/modules/"
cp "$GUEST/modules/order" "$STAGE/e2e/modules"
cp "$GUEST/usb.ids" "$STAGE/usr/share/hwdata/usb.ids"
ln -s ../hwdata/usb.ids "$STAGE/usr/share/misc/usb.ids"
install_elf "$GUEST/bin/usbip" /usr/sbin/usbip
install_elf "$GUEST/bin/lsusb" /usr/bin/lsusb

# pack_initramfs: newc cpio, uncompressed (nothing to decompress under TCG).
pack_initramfs() {
  (cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --quiet) >"$WORK/initramfs.cpio" ||
    die "cpio failed"
  log "initramfs: $(($(stat -c %s "$WORK/initramfs.cpio") / 1024)) KiB"
}

# run_vm: boot the guest and wait for it to power off (bounded).
QEMU_RC=0
run_vm() {
  local mem="${MEM:-512}" t1
  t1=$(date +%s)
  log "booting the guest (TCG, 1 CPU, ${mem} MiB, limit ${VM_TIMEOUT} s)"
  set +e
  timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 \
    -accel tcg -nodefaults -no-user-config -nographic -monitor none \
    -machine pc -cpu max -m "$mem" -smp 1 -no-reboot \
    -kernel "$GUEST/vmlinuz" -initrd "$WORK/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off" \
    -netdev user,id=n0 -device e1000,netdev=n0,romfile= \
    -serial "file:$CONSOLE" </dev/null >"$WORK/qemu.log" 2>&1
  QEMU_RC=$?
  set -e
  VM_SECONDS=$(($(date +%s) - t1))
  log "guest ran ${VM_SECONDS} s (qemu exit ${QEMU_RC})"
  [ "$QEMU_RC" -ne 124 ] && [ "$QEMU_RC" -ne 137 ] ||
    die "the guest did not power off within ${VM_TIMEOUT} s"
  [ "$QEMU_RC" -eq 0 ] || die "qemu-system-x86_64 exited with $QEMU_RC: $(cat "$WORK/qemu.log")"
  tr -d '\r' <"$CONSOLE" >"$WORK/console.txt"
  grep -q '^E2E-END' "$WORK/console.txt" || die "the guest never reached E2E-END"
}

# marker NAME: the guest's marker lines of one kind.
marker() { grep "^$1 " "$WORK/console.txt" || true; }

FAILS=()
check() { # check DESCRIPTION CONDITION-EXIT-STATUS
  if [ "$2" -eq 0 ]; then
    echo "  ok    $1"
  else
    echo "  FAIL  $1"
    FAILS+=("$1")
  fi
}

check_setup() {
  local m
  for m in $(cat "$GUEST/modules/order"); do
    marker E2E-MODULE | grep -q "name=$m rc=0"
    check "guest loaded module $m" $?
  done
  marker E2E-NET | grep -q 'rc=0 10.0.2.15/24'
  check "guest network up (10.0.2.15/24 on e1000)" $?
}

finish() {
  local secs=$(($(date +%s) - T0))
  if [ "${#FAILS[@]}" -ne 0 ] || [ "$VERBOSE" = 1 ]; then
    print_console
  fi
  if [ "${#FAILS[@]}" -ne 0 ]; then
    echo "vm-e2e: ${#FAILS[@]} check(s) failed:"
    printf '  - %s\n' "${FAILS[@]}"
    echo "vm-e2e: RESULT: FAIL (${secs} s, guest ${VM_SECONDS:-?} s; work dir $WORK)"
    exit 1
  fi
  echo "vm-e2e: RESULT: PASS (${secs} s, guest ${VM_SECONDS:-?} s)"
  [ "$KEEP" = 1 ] || rm -rf "$STAGE" "$WORK/initramfs.cpio"
  exit 0
}

# ---------------------------------------------------------------------------
# Smoke mode: boot, modules, network to a listener on the host's loopback.
# ---------------------------------------------------------------------------
if [ "$MODE" = smoke ]; then
  TOKEN="pong-$$-$RANDOM"
  python3 - "$WORK/listener.port" "$TOKEN" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
s.settimeout(600)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.recv(64)
    c.sendall((sys.argv[2] + "\n").encode())
    c.close()
PY
  PIDS+=($!)
  for _ in $(seq 50); do [ -s "$WORK/listener.port" ] && break; sleep 0.1; done
  [ -s "$WORK/listener.port" ] || die "the host listener did not start"
  LPORT="$(cat "$WORK/listener.port")"
  cat >"$STAGE/e2e/run.sh" <<GUEST
#!/bin/sh
rc=0
reply="\$(echo ping | timeout 20 nc 10.0.2.2 $LPORT)"
echo "E2E-PING reply=\$reply"
[ "\$reply" = "$TOKEN" ] || rc=1
if [ -d /sys/devices/platform/vhci_hcd.0 ]; then echo "E2E-VHCI rc=0"; else echo "E2E-VHCI rc=1"; fi
lsusb; echo "E2E-LSUSB rc=\$?"
usbip port; echo "E2E-USBIP-PORT rc=\$?"
exit \$rc
GUEST
  pack_initramfs
  run_vm
  echo "vm-e2e: checks"
  check_setup
  marker E2E-PING | grep -qx "E2E-PING reply=$TOKEN"
  check "guest reached the host loopback listener at 10.0.2.2:$LPORT" $?
  marker E2E-VHCI | grep -q 'rc=0'
  check "vhci_hcd.0 platform device present" $?
  marker E2E-LSUSB | grep -q 'rc=0'
  check "lsusb runs in the guest" $?
  marker E2E-USBIP-PORT | grep -q 'rc=0'
  check "usbip port runs in the guest" $?
  finish
fi
