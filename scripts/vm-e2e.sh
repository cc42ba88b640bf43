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
# PORT_<name> variables are set by start_emu through printf -v.
# shellcheck disable=SC2154

# The whole script is one brace group: bash parses it completely before
# running it, so editing this file during a run cannot derail that run.
{
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

# Downloaded .debs and unpacked guest files. Build trees under SOURCE/build/
# (the presets' ci, asan-ubsan, ...) share SOURCE/build/vm-cache, so the
# suite's two runs download and unpack once; other build trees keep their own.
if [ -n "${VM_E2E_CACHE:-}" ]; then
  CACHE="$VM_E2E_CACHE"
elif [ "$(dirname "$BUILD")" = "$SRC/build" ]; then
  CACHE="$SRC/build/vm-cache"
else
  CACHE="$BUILD/vm-cache"
fi
WORK="$BUILD/vm-e2e"             # this run: initramfs, logs, host-side scans
CONSOLE="$WORK/console.log"
T0=$(date +%s)

log() { printf 'vm-e2e: [+%3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }

PIDS=()
# stop_all: SIGTERM every helper this run started, wait (bounded), then
# SIGKILL what is left. Sets STOP_FAILED to the helpers that did not exit 0.
STOP_FAILED=""
stop_all() {
  local p rc
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    rc=0
    wait "$p" 2>/dev/null || rc=$?
    [ "$rc" = 0 ] || STOP_FAILED="$STOP_FAILED $p:$rc"
  done
  PIDS=()
}
# On exit: stop what we started; and if the script ends before finish()
# printed its verdict (an unexpected error, a signal), say where, so a
# failed CTest run never ends without a reason.
FAILS=()
FINISHED=0
cleanup() {
  local rc=$? cmd=$BASH_COMMAND line=${BASH_LINENO[0]:-?}
  stop_all
  if [ "$FINISHED" != 1 ] && [ "$rc" -ne 0 ]; then
    echo "vm-e2e: stopped before its verdict: exit status $rc near line $line ($cmd); checks so far failed: ${#FAILS[@]}" >&2
  fi
}
trap cleanup EXIT
trap 'echo "vm-e2e: SIGTERM" >&2; exit 143' TERM
trap 'echo "vm-e2e: SIGINT" >&2; exit 130' INT

VM_BOOTED=0
print_console() {
  [ "$VM_BOOTED" = 1 ] || return 0
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
need flock util-linux
[ "$MODE" = smoke ] && need python3 python3

rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/debs"
# One run at a time fills the cache.
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"

# ---------------------------------------------------------------------------
# 1. Debian packages: apt-get download into the cache, keyed by version.
# ---------------------------------------------------------------------------
# candidate_versions PKG...: "PKG VERSION" lines, one apt-cache call (each
# call parses the whole package lists).
declare -A CANDIDATE=()
candidate_versions() {
  local pkg ver
  while read -r pkg ver; do
    CANDIDATE["$pkg"]="$ver"
  done < <(apt-cache policy "$@" 2>/dev/null |
    awk '/^[^ ].*:$/ {p = substr($0, 1, length($0) - 1)} /Candidate:/ {print p, $2}')
}
candidate_version() { printf '%s\n' "${CANDIDATE[$1]:-}"; }

# fetch_deb PACKAGE: sets FETCHED to the cached .deb of the candidate version,
# downloading it if needed; falls back to any cached version when offline.
fetch_deb() {
  local pkg="$1" ver fver hit=""
  ver="$(candidate_version "$pkg")"
  if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
    fver="${ver//:/%3a}"
    hit="$(ls "$CACHE/debs/${pkg}_${fver}_"*.deb 2>/dev/null | head -n1 || true)"
    if [ -z "$hit" ]; then
      (cd "$CACHE/debs" && apt-get download -q "$pkg=$ver" >"$WORK/apt-$pkg.log" 2>&1) ||
        log "apt-get download $pkg=$ver failed (see $WORK/apt-$pkg.log)"
      hit="$(ls "$CACHE/debs/${pkg}_${fver}_"*.deb 2>/dev/null | head -n1 || true)"
    fi
  fi
  if [ -z "$hit" ] && [ "${ALLOW_STALE:-0}" = 1 ]; then
    # Offline and the archive moved on: any cached version will do.
    hit="$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)"
    [ -n "$hit" ] && log "using cached $(basename "$hit") (candidate ${ver:-unknown} not downloadable)"
  fi
  FETCHED="$hit"
  [ -n "$hit" ]
}

# fetch_all: resolve the kernel image and fetch every package into DEBS.
fetch_all() {
  local pkg
  # linux-image-amd64 is a metapackage; the image is its linux-image-* dependency.
  KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  if [ -z "$KPKG" ] && [ "${ALLOW_STALE:-0}" = 1 ]; then
    KPKG="$(ls "$CACHE/debs/" 2>/dev/null | sed -n 's/^\(linux-image-[0-9][^_]*-amd64\)_.*/\1/p' |
      sort -V | tail -n1)"
  fi
  [ -n "$KPKG" ] || { MISSING="linux-image-amd64 (cannot resolve the metapackage)"; return 1; }
  DEBS=()
  # hwdata's usb.ids is a symlink into the usb.ids package, which has the data.
  candidate_versions "$KPKG" busybox-static usbip usbutils hwdata usb.ids
  for pkg in "$KPKG" busybox-static usbip usbutils hwdata usb.ids; do
    fetch_deb "$pkg" || { MISSING="$pkg"; return 1; }
    DEBS+=("$FETCHED")
  done
}

MISSING=""
if ! fetch_all; then
  # No or stale package lists (bootstrap.sh normally ran apt-get update):
  # refresh them once, then accept a cached older version as a last resort.
  if [ "$(id -u)" = 0 ]; then
    log "cannot fetch $MISSING; running apt-get update once and retrying"
    apt-get update -q >"$WORK/apt-update.log" 2>&1 || log "apt-get update failed (see $WORK/apt-update.log)"
  fi
  ALLOW_STALE=1
  fetch_all ||
    die "cannot apt-get download '$MISSING' and no cached copy in $CACHE/debs (is Debian's archive reachable? run 'apt-get update', as scripts/bootstrap.sh does)"
fi
log "packages: $(for d in "${DEBS[@]}"; do basename "$d"; done | tr '\n' ' ')"
if [ "${ALLOW_STALE:-0}" = 0 ]; then
  # Drop superseded versions; the current set is what the archive has now.
  for f in "$CACHE"/debs/*.deb; do
    keep=0
    for d in "${DEBS[@]}"; do [ "$f" = "$d" ] && keep=1; done
    [ "$keep" = 1 ] || rm -f "$f"
  done
fi

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
exec 9>&- # the cache is complete: release the lock

# ---------------------------------------------------------------------------
# 3. The initramfs: busybox, modules, usbip, lsusb, usb.ids, and (full mode)
#    wiascan and tiffinfo. Shared libraries come from this host (Debian 12,
#    the same release as the guest's packages), found with ldd.
# ---------------------------------------------------------------------------
STAGE="$WORK/initramfs"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,usr/share/hwdata,usr/share/misc,lib/modules,e2e,etc,proc,sys,dev,tmp,run,var}

# install_elf SRC DEST: copy a dynamic executable (or shared library) and
# every library ldd finds.
install_elf() {
  local src="$1" dest="$2" lib out
  [ -f "$src" ] && [ -r "$src" ] || die "$src is missing or not readable"
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
  VM_BOOTED=1
  local errexit=0
  case $- in *e*) errexit=1 ;; esac
  set +e
  timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 \
    -accel tcg -nodefaults -no-user-config -nographic -monitor none \
    -machine pc -cpu max -m "$mem" -smp 1 -no-reboot \
    -kernel "$GUEST/vmlinuz" -initrd "$WORK/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off" \
    -netdev user,id=n0 -device e1000,netdev=n0,romfile= \
    -serial "file:$CONSOLE" </dev/null >"$WORK/qemu.log" 2>&1
  QEMU_RC=$?
  # as the caller had it: the checks after the boot run without -e, so a
  # failed condition is recorded by check() instead of ending the script
  [ "$errexit" = 0 ] || set -e
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
  FINISHED=1
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
  set +e # checks record failures, they do not stop the script
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

# ---------------------------------------------------------------------------
# Full mode: scanemu on this host, wiascan in the guest and on the host.
# ---------------------------------------------------------------------------
SCANEMU="${SCANEMU:-$BUILD/emulator/scanemu}"
WIASCAN="${WIASCAN:-$BUILD/driver/wiascan}"
PROFILES="$SRC/fixtures/profiles"
SCENARIOS="$SRC/fixtures/scenarios"
SEED="${VM_E2E_SEED:-20240607}"
# Small scans keep the single TCG CPU quick; both profiles must support them.
# -v makes wiascan print its WIA status and pages on success too.
SCAN_ARGS="${VM_E2E_SCAN_ARGS:--v --pages 2 --mode gray --dpi 100 --seed $SEED}"
DETACH_ARGS="${VM_E2E_DETACH_ARGS:--v --pages 40 --mode gray --dpi 100 --seed $SEED}"
STALL_ARGS="${VM_E2E_STALL_ARGS:--v --pages 3 --mode gray --dpi 100 --seed $SEED}"
JAM_ARGS="${VM_E2E_JAM_ARGS:--v --pages 5 --mode gray --dpi 100 --seed $SEED}"

need usbip usbip
need tiffinfo libtiff-tools
# The IPP-USB pass (issue 13): Debian's own ipp-usb, scanimage and
# sane-airscan, copied from this host into the guest with their libraries.
need scanimage sane-utils
IPPUSB_BIN="$(command -v ipp-usb || true)"
[ -n "$IPPUSB_BIN" ] || IPPUSB_BIN=/usr/sbin/ipp-usb
[ -x "$IPPUSB_BIN" ] || die "ipp-usb not found: install the Debian package 'ipp-usb' (scripts/bootstrap.sh does)"
AIRSCAN_SO="$(dpkg -L sane-airscan 2>/dev/null | grep '/libsane-airscan\.so\.1$' | head -n1 || true)"
[ -n "$AIRSCAN_SO" ] && [ -f "$AIRSCAN_SO" ] ||
  die "sane-airscan's libsane-airscan.so.1 not found: install the Debian package 'sane-airscan' (scripts/bootstrap.sh does)"
[ -d /usr/share/ipp-usb/quirks ] || die "/usr/share/ipp-usb/quirks missing: reinstall the Debian package 'ipp-usb'"
[ -x "$SCANEMU" ] || die "scanemu not built at $SCANEMU (build the 'scanemu' target first)"
[ -x "$WIASCAN" ] || die "wiascan not built at $WIASCAN (build the 'wiascan' target first)"
[ -f "$PROFILES/default.yaml" ] || die "missing fixture $PROFILES/default.yaml"
for s in clean stall-mid-page jam-page3-band5; do
  [ -f "$SCENARIOS/$s.yaml" ] || die "missing fixture $SCENARIOS/$s.yaml"
done
for p in airscan-usb mfp; do
  [ -f "$PROFILES/$p.yaml" ] || die "missing fixture $PROFILES/$p.yaml"
done

SANITIZED=0
if ldd "$WIASCAN" | grep -q 'libasan\|libubsan'; then SANITIZED=1; fi
# An ASan wiascan plus its runtime needs more room than the plain one.
[ -n "$MEM" ] || { [ "$SANITIZED" = 1 ] && MEM=1024 || MEM=512; }

# start_emu NAME ARGS...: scanemu on a free loopback port; sets PORT_<NAME>.
start_emu() {
  local name="$1"
  shift
  rm -f "$WORK/emu-$name.port"
  "$SCANEMU" --listen 127.0.0.1:0 --port-file "$WORK/emu-$name.port" --seed "$SEED" "$@" \
    >"$WORK/emu-$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    [ -s "$WORK/emu-$name.port" ] && break
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$WORK/emu-$name.port" ] ||
    die "scanemu ($name: $*) did not start: $(cat "$WORK/emu-$name.log")"
  printf -v "PORT_$name" '%s' "$(tr -dc 0-9 <"$WORK/emu-$name.port")"
}

# exports PORT: "BUSID VID:PID" per device, as Debian's usbip client sees it.
exports() {
  usbip --tcp-port "$1" list -r 127.0.0.1 2>&1 |
    sed -n 's/^ *\([0-9][0-9.-]*\): .*(\([0-9a-f]\{4\}:[0-9a-f]\{4\}\))$/\1 \2/p'
}

# tiff_status LOG: the last WIA status name wiascan printed (or "none").
tiff_status() {
  grep -oE '(S_OK|WIA_(ERROR|STATUS)_[A-Z_]+)' "$1" | tail -n1 || true
}

# host_scan NAME PORT BUSID VID:PID ARGS...: the reference scan through wiascan's
# userspace usbip transport; writes $WORK/ref/NAME.result like E2E-SCAN.
host_scan() {
  local name="$1" port="$2" busid="$3" vidpid="$4" rc pages valid sum
  shift 4
  mkdir -p "$WORK/ref"
  local errexit=0
  case $- in *e*) errexit=1 ;; esac
  set +e
  timeout 300 "$WIASCAN" --transport "usbip://127.0.0.1:$port/$busid" --device-id "$vidpid" "$@" \
    -o "$WORK/ref/$name.tiff" >"$WORK/ref/$name.log" 2>&1
  rc=$?
  [ "$errexit" = 0 ] || set -e
  pages=0 valid=0 sum=none
  if [ -s "$WORK/ref/$name.tiff" ]; then
    sum="$(sha256sum "$WORK/ref/$name.tiff" | cut -d' ' -f1)"
    tiffinfo "$WORK/ref/$name.tiff" >"$WORK/ref/$name.tiffinfo" 2>&1 && valid=1
    pages="$(grep -c '^TIFF Directory' "$WORK/ref/$name.tiffinfo" || true)"
  fi
  echo "name=$name rc=$rc pages=$pages tiff_valid=$valid sha256=$sum status=$(tiff_status "$WORK/ref/$name.log")" \
    >"$WORK/ref/$name.result"
}

field() { # field KEY LINE
  sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"
}

log "scanemu $SCANEMU, wiascan $WIASCAN$([ "$SANITIZED" = 1 ] && echo ' (ASan/UBSan build)')"

# The second device comes from another profile (fast-duplex.yaml unless
# VM_E2E_PROFILE2 names one). libusb:VID:PID must name each attached device
# unambiguously, and the shipped profiles all use the pid.codes test ID, so
# when the IDs collide the test scans from a copy whose only change is the PID.
start_emu probe --device "$PROFILES/default.yaml"
DEFAULT_VIDPID="$(exports "$PORT_probe" | awk '$1 == "1-1" {print $2}')"
[ -n "$DEFAULT_VIDPID" ] || die "usbip list -r 127.0.0.1 --tcp-port $PORT_probe shows no 1-1: $(usbip --tcp-port "$PORT_probe" list -r 127.0.0.1 2>&1)"
PROFILE2_SRC="${VM_E2E_PROFILE2:-$PROFILES/fast-duplex.yaml}"
if [ ! -f "$PROFILE2_SRC" ]; then
  for p in "$PROFILES"/*.yaml; do
    [ "$p" = "$PROFILES/default.yaml" ] || { PROFILE2_SRC="$p"; break; }
  done
fi
[ -f "$PROFILE2_SRC" ] || die "no second profile in $PROFILES"
PROFILE2="$PROFILE2_SRC"
start_emu probe2 --device "$PROFILE2"
vp2="$(exports "$PORT_probe2" | awk '$1 == "1-1" {print $2}')"
if [ "$vp2" = "$DEFAULT_VIDPID" ]; then
  PROFILE2="$WORK/$(basename "$PROFILE2_SRC" .yaml)-pid2.yaml"
  newpid="$(printf '0x%04x' $(((0x${DEFAULT_VIDPID##*:} + 1) & 0xffff)))"
  sed "0,/^\( *pid: *\)0x[0-9a-fA-F]*/s//\1$newpid/" "$PROFILE2_SRC" >"$PROFILE2"
  start_emu probe3 --device "$PROFILE2"
  vp2="$(exports "$PORT_probe3" | awk '$1 == "1-1" {print $2}')"
  [ -n "$vp2" ] && [ "$vp2" != "$DEFAULT_VIDPID" ] ||
    die "could not give $(basename "$PROFILE2_SRC") a PID other than default.yaml's ($DEFAULT_VIDPID)"
fi
log "devices: default.yaml ($DEFAULT_VIDPID) and $(basename "$PROFILE2") ($vp2)"

# Host references, each on a fresh scanemu with the same arguments as the
# guest's, so scenario state starts from the same point.
EMU_A=(--scenario "$SCENARIOS/clean.yaml" --device "$PROFILES/default.yaml" --device "$PROFILE2" --no-timing)
EMU_STALL=(--device "$PROFILES/default.yaml" --scenario "$SCENARIOS/stall-mid-page.yaml" --no-timing)
EMU_JAM=(--device "$PROFILES/default.yaml" --scenario "$SCENARIOS/jam-page3-band5.yaml" --no-timing)
# The detach scan keeps the profile's timing (about 0.8 s a page at 100 dpi
# gray), and its feeder holds 50 sheets instead of clean.yaml's 10, so the
# job is still far from its end when the guest detaches after page 1.
cat >"$WORK/vm-detach.yaml" <<'YAML'
name: vm-detach
description: No faults, 50 sheets - a long job for the VM test to unplug
sheets: 50
YAML
EMU_DETACH=(--device "$PROFILES/default.yaml" --scenario "$WORK/vm-detach.yaml")

start_emu refa "${EMU_A[@]}"
mapfile -t A_EXPORTS < <(exports "$PORT_refa")
[ "${#A_EXPORTS[@]}" -eq 2 ] || die "scanemu with two --device exports ${#A_EXPORTS[@]} devices: $(usbip --tcp-port "$PORT_refa" list -r 127.0.0.1 2>&1)"
A_BUSIDS="$(printf '%s\n' "${A_EXPORTS[@]}" | awk '{print $1}' | tr '\n' ' ')"
A_VIDPIDS="$(printf '%s\n' "${A_EXPORTS[@]}" | awk '{print $2}' | tr '\n' ' ')"
declare -A PROFILE_OF=(["$DEFAULT_VIDPID"]="$PROFILES/default.yaml" ["$vp2"]="$PROFILE2")
log "host reference scans (usbip transport)"
for e in "${A_EXPORTS[@]}"; do
  set -- $e
  # shellcheck disable=SC2086
  host_scan "a-$1" "$PORT_refa" "$1" "$2" $SCAN_ARGS
done
start_emu refstall "${EMU_STALL[@]}"
# shellcheck disable=SC2086
host_scan stall "$PORT_refstall" 1-1 "$DEFAULT_VIDPID" $STALL_ARGS
start_emu refjam "${EMU_JAM[@]}"
# shellcheck disable=SC2086
host_scan jam "$PORT_refjam" 1-1 "$DEFAULT_VIDPID" $JAM_ARGS
for f in "$WORK"/ref/*.result; do log "  ref $(cat "$f")"; done

# IPP-USB: an [escl] device (airscan-usb.yaml), an [native, escl] one
# (mfp.yaml) and the [escl] one with a paper jam as page 3 starts, each
# scanned from the ADF by scanimage through sane-airscan: in the guest
# through ipp-usb, here through --escl-listen, the same seed.
ESCL_ARGS="${VM_E2E_ESCL_ARGS:---source ADF --mode Gray --resolution 75}"
ESCL_VIDPID=1209:0004
MFP_VIDPID=1209:0003
cat >"$WORK/vm-3sheets.yaml" <<'YAML'
name: vm-3sheets
description: No faults, 3 sheets - a 3-page ADF job
sheets: 3
YAML
cat >"$WORK/vm-jam3.yaml" <<'YAML'
name: vm-jam3
description: Paper jam as page 3 starts - NextDocument 404, ScannerAdfJam
sheets: 10
faults:
  - kind: paper_jam
    at: {page: 3, band: 1}
YAML
EMU_IPP=(--device "$PROFILES/airscan-usb.yaml" --scenario "$WORK/vm-3sheets.yaml"
  --device "$PROFILES/mfp.yaml" --scenario "$WORK/vm-3sheets.yaml"
  --device "$PROFILES/airscan-usb.yaml" --scenario "$WORK/vm-jam3.yaml"
  --device "$PROFILES/airscan-usb.yaml" --scenario "$WORK/vm-detach.yaml" --no-timing)
EMU_IPPD=(--device "$PROFILES/airscan-usb.yaml" --scenario "$WORK/vm-detach.yaml")

# host_escl NAME ESCL_PORT PATH: scanimage here, through sane-airscan and
# --escl-listen; writes $WORK/ref/escl-NAME.result like E2E-ESCL.
host_escl() {
  local name="$1" eport="$2" path="$3" rc n sums="" pages=0
  local conf="$WORK/sane-$name"
  mkdir -p "$conf" "$WORK/ref"
  printf '[devices]\n"%s" = http://127.0.0.1:%s%s/eSCL, eSCL\n[options]\ndiscovery = disable\nws-discovery = off\n' \
    "$name" "$eport" "$path" >"$conf/airscan.conf"
  echo airscan >"$conf/dll.conf"
  local errexit=0
  case $- in *e*) errexit=1 ;; esac
  set +e
  # shellcheck disable=SC2086
  SANE_CONFIG_DIR="$conf" timeout 120 scanimage -d "airscan:e0:$name" $ESCL_ARGS --format=png \
    --batch="$WORK/ref/$name-p%d.png" >"$WORK/ref/escl-$name.out" 2>"$WORK/ref/escl-$name.err"
  rc=$?
  [ "$errexit" = 0 ] || set -e
  n=1
  while [ -s "$WORK/ref/$name-p$n.png" ]; do
    sums="$sums${sums:+,}$(sha256sum "$WORK/ref/$name-p$n.png" | cut -d' ' -f1)"
    pages=$n
    n=$((n + 1))
  done
  echo "name=$name rc=$rc pages=$pages sha256=${sums:-none}" >"$WORK/ref/escl-$name.result"
}

log "host reference scans (scanimage, sane-airscan, --escl-listen)"
start_emu refipp "${EMU_IPP[@]}" --escl-listen 127.0.0.1:0 --escl-port-file "$WORK/emu-refipp.escl-port"
for _ in $(seq 50); do [ -s "$WORK/emu-refipp.escl-port" ] && break; sleep 0.1; done
EPORT="$(tr -dc 0-9 <"$WORK/emu-refipp.escl-port" 2>/dev/null || true)"
[ -n "$EPORT" ] || die "scanemu --escl-listen wrote no port: $(cat "$WORK/emu-refipp.log")"
host_escl escl "$EPORT" ""
host_escl mfp "$EPORT" /1-2
host_escl jam3 "$EPORT" /1-3
host_escl detach "$EPORT" /1-4 # the whole 50-sheet job, to compare the pages before the unplug
start_emu refmfp --device "$PROFILES/mfp.yaml" --scenario "$WORK/vm-3sheets.yaml" --no-timing
# shellcheck disable=SC2086
host_scan native-mfp "$PORT_refmfp" 1-1 "$MFP_VIDPID" $SCAN_ARGS
for f in "$WORK"/ref/escl-*.result "$WORK/ref/native-mfp.result"; do log "  ref $(cut -c1-200 "$f")"; done

# The guest's own scanemu instances, all started before the boot.
start_emu a "${EMU_A[@]}"
start_emu detach "${EMU_DETACH[@]}"
start_emu stall "${EMU_STALL[@]}"
start_emu jam "${EMU_JAM[@]}"
start_emu ipp "${EMU_IPP[@]}"
start_emu ippd "${EMU_IPPD[@]}"

install_elf "$WIASCAN" /usr/bin/wiascan
install_elf "$(command -v tiffinfo)" /usr/bin/tiffinfo
cp "$SRC/scripts/vm/run.sh" "$STAGE/e2e/run.sh"
# IPP-USB: ipp-usb, scanimage, sane-airscan (dlopen()ed by libsane, so its
# libraries are found with ldd on it), their configuration.
install_elf "$IPPUSB_BIN" /usr/sbin/ipp-usb
install_elf "$(command -v scanimage)" /usr/bin/scanimage
mkdir -p "$STAGE$(dirname "$AIRSCAN_SO")"
install_elf "$AIRSCAN_SO" "$AIRSCAN_SO"
cp "$SRC/scripts/vm/ippusb.sh" "$STAGE/e2e/ippusb.sh"
mkdir -p "$STAGE/etc/ipp-usb" "$STAGE/usr/share/ipp-usb"
cp -r /usr/share/ipp-usb/quirks "$STAGE/usr/share/ipp-usb/"
cat >"$STAGE/etc/ipp-usb/ipp-usb.conf" <<'CONF'
# The guest's ipp-usb: no Avahi, localhost only (DESIGN.md section 8).
[network]
  http-min-port = 60000
  http-max-port = 65535
  dns-sd = disable
  interface = loopback
  ipv6 = disable
[logging]
  device-log = debug
  main-log = debug
  console-log = debug
  console-color = disable
CONF
printf '127.0.0.1 localhost\n' >"$STAGE/etc/hosts"
printf 'hosts: files\n' >"$STAGE/etc/nsswitch.conf"
cat >"$STAGE/e2e/conf" <<CONF
SCAN_TIMEOUT=180
A_PORT=$PORT_a
A_BUSIDS="$A_BUSIDS"
A_VIDPIDS="$A_VIDPIDS"
SCAN_ARGS="$SCAN_ARGS"
D_PORT=$PORT_detach
D_VIDPID=$DEFAULT_VIDPID
D_ARGS="$DETACH_ARGS"
SCENARIO_CASES="stall jam"
PORT_stall=$PORT_stall
VIDPID_stall=$DEFAULT_VIDPID
ARGS_stall="$STALL_ARGS"
PORT_jam=$PORT_jam
VIDPID_jam=$DEFAULT_VIDPID
ARGS_jam="$JAM_ARGS"
IPP_PORT=$PORT_ipp
IPP_CASES="escl mfp jam3"
IPP_BUSID_escl=1-1
IPP_VIDPID_escl=$ESCL_VIDPID
IPP_BUSID_mfp=1-2
IPP_VIDPID_mfp=$MFP_VIDPID
IPP_MODE_mfp=native
IPP_BUSID_jam3=1-3
IPP_VIDPID_jam3=$ESCL_VIDPID
IPP_D_PORT=$PORT_ippd
IPP_D_VIDPID=$ESCL_VIDPID
ESCL_ARGS="$ESCL_ARGS"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
CONF
pack_initramfs
run_vm

# ---------------------------------------------------------------------------
# Checks.
# ---------------------------------------------------------------------------
set +e # checks record failures, they do not stop the script
echo "vm-e2e: checks"
check_setup
C="$WORK/console.txt"

marker E2E-LIST-RC | grep -q 'rc=0'
check "guest: usbip --tcp-port $PORT_a list -r 10.0.2.2" $?
for e in "${A_EXPORTS[@]}"; do
  set -- $e
  grep -q "^E2E-LIST | *$1: .*($2)\$" "$C"
  check "guest: usbip list shows $1 ($2)" $?
  grep -q "^E2E-ATTACH port=$PORT_a busid=$1 rc=0" "$C"
  check "guest: usbip attach -b $1" $?
  grep -q "^E2E-ENUM vidpid=$2 rc=0" "$C"
  check "guest: usbcore enumerated $2 and configured it" $?
  grep -q "^E2E-LSUSB | Bus [0-9]* Device [0-9]*: ID $2" "$C"
  check "guest: lsusb lists $2" $?
  v="$(grep "^E2E-LSUSBV $2 | " "$C" | sed "s/^E2E-LSUSBV $2 | //")"
  ok=0
  for pat in "idVendor +0x${2%%:*}" "idProduct +0x${2##*:}" "bInterfaceClass +255" \
    "bEndpointAddress +0x01 +EP 1 OUT" "bEndpointAddress +0x81 +EP 1 IN" \
    "bEndpointAddress +0x82 +EP 2 IN" "Transfer Type +Bulk" "Transfer Type +Interrupt" \
    "wMaxPacketSize +0x0200" "wMaxPacketSize +0x0010"; do
    grep -Eq "$pat" <<<"$v" || { echo "        lsusb -v $2: no line matching /$pat/"; ok=1; }
  done
  check "guest: lsusb -v $2 shows our descriptors (class 255, bulk 0x01/0x81, interrupt 0x82)" $ok
  # The string descriptors, read by the guest kernel over USB/IP, are the
  # profile's.
  ok=0
  for key in manufacturer:iManufacturer product:iProduct serial:iSerial; do
    want="$(sed -n "s/^ *${key%%:*}: *//p" "${PROFILE_OF[$2]}" | head -n1 | sed 's/ *#.*//; s/^"\(.*\)"$/\1/')"
    [ -n "$want" ] || continue
    grep -Eq "${key##*:} +[0-9]+ $want\$" <<<"$v" ||
      { echo "        lsusb -v $2: ${key##*:} is not '$want'"; ok=1; }
  done
  check "guest: lsusb -v $2 strings are $(basename "${PROFILE_OF[$2]}")'s" $ok
done

# compare NAME: guest result against the host reference.
compare() {
  local name="$1" g r gs rs key ok=0
  g="$(marker E2E-SCAN | grep "name=$name " | tail -n1)"
  r="$(cat "$WORK/ref/$name.result" 2>/dev/null || true)"
  gs="$(grep "^E2E-OUT $name | " "$C" | grep -oE '(S_OK|WIA_(ERROR|STATUS)_[A-Z_]+)' | tail -n1 || true)"
  rs="$(field status "$r")"
  if [ -z "$g" ]; then
    echo "        no E2E-SCAN line for $name"
    check "$name: guest scan ran" 1
    return
  fi
  for key in rc pages tiff_valid sha256; do
    if [ "$(field "$key" "$g")" != "$(field "$key" "$r")" ]; then
      echo "        $name: $key guest=$(field "$key" "$g") host=$(field "$key" "$r")"
      ok=1
    fi
  done
  [ "$gs" = "$rs" ] || { echo "        $name: status guest=${gs:-none} host=${rs:-none}"; ok=1; }
  check "$name: libusb in the guest = usbip transport on the host (rc $(field rc "$r"), ${rs:-no status}, $(field pages "$r") pages, sha256 $(field sha256 "$r" | cut -c1-12)…)" $ok
}

for busid in $A_BUSIDS; do
  r="$WORK/ref/a-$busid.result"
  [ "$(field rc "$(cat "$r")")" = 0 ] && [ "$(field pages "$(cat "$r")")" = 2 ]
  check "a-$busid: host reference scanned 2 pages successfully" $?
  compare "a-$busid"
done

# usbip detach during a scan: WIA_ERROR_DEVICE_COMMUNICATION and a valid TIFF
# of the pages completed before the unplug.
d="$(marker E2E-SCAN | grep 'name=detach ' | tail -n1)"
dp="$(marker E2E-DETACH-POINT | tail -n1)"
grep -q 'page1_seen=1' <<<"$dp" && grep -q 'still_running=1' <<<"$dp"
check "detach: usbip detach issued while the scan was running, after page 1 completed ($dp)" $?
grep -q "^E2E-DETACH port=$PORT_detach busid=1-1 .*rc=0" "$C"
check "detach: usbip detach -p succeeded" $?
grep "^E2E-OUT detach | " "$C" | grep -q WIA_ERROR_DEVICE_COMMUNICATION
check "detach: wiascan reported WIA_ERROR_DEVICE_COMMUNICATION" $?
[ -n "$d" ] && [ "$(field rc "$d")" != 0 ] && [ "$(field rc "$d")" != 124 ]
check "detach: wiascan exited non-zero on its own (rc $(field rc "$d"))" $?
[ "$(field tiff_valid "$d")" = 1 ] && [ "$(field pages "$d")" -ge 1 ]
check "detach: the TIFF is valid (tiffinfo) with $(field pages "$d") completed page(s)" $?
# The pages written before the unplug are the same bytes a clean scan of
# that many pages gives over the usbip transport.
DPAGES="$(field pages "$d")"
if [ "${DPAGES:-0}" -ge 1 ]; then
  start_emu refdetach "${EMU_DETACH[@]}" --no-timing
  # shellcheck disable=SC2086
  # shellcheck disable=SC2046 # the arguments are meant to be split
  host_scan detach "$PORT_refdetach" 1-1 "$DEFAULT_VIDPID" $(sed "s/--pages [0-9]*/--pages $DPAGES/" <<<"$DETACH_ARGS")
  [ "$(field sha256 "$d")" = "$(field sha256 "$(cat "$WORK/ref/detach.result")")" ]
  check "detach: its $DPAGES page(s) are byte-identical to a $DPAGES-page scan over the usbip transport" $?
fi

# Fault scenarios: the same result as over the usbip transport.
r="$(cat "$WORK/ref/stall.result")"
[ "$(field rc "$r")" != 3 ] && [ "$(field pages "$r")" -ge 1 ]
check "stall: host reference scan reached the device and wrote pages ($r)" $?
compare stall
grep "^E2E-OUT stall | " "$C" | grep -qi 'stall'
check "stall: the guest's wiascan met the STALL and cleared the halt through usbcore" $?
r="$(cat "$WORK/ref/jam.result")"
[ "$(field status "$r")" = WIA_ERROR_PAPER_JAM ]
check "jam: host reference ends with WIA_ERROR_PAPER_JAM ($r)" $?
compare jam
# The jam's PAPER_JAM event travels on interrupt IN 0x82: through vhci-hcd
# and usbcore in the guest, as through the usbip transport on the host.
gev="$(grep "^E2E-OUT jam | " "$C" | grep -oE 'event [0-9]+ \(page [0-9]+, arg [0-9]+\)' || true)"
rev="$(grep -oE 'event [0-9]+ \(page [0-9]+, arg [0-9]+\)' "$WORK/ref/jam.log" || true)"
[ -n "$gev" ] && [ "$gev" = "$rev" ]
check "jam: the interrupt IN event reached the guest's wiascan as on the host (${gev:-none} / ${rev:-none})" $?
# The jam keeps pages 1-2: the same bytes as the clean 2-page scan of the
# same profile and seed.
[ "$(field sha256 "$(marker E2E-SCAN | grep 'name=jam ')")" = "$(field sha256 "$(cat "$WORK/ref/a-1-1.result")")" ]
check "jam: the 2 pages kept are byte-identical to the clean 2-page scan" $?

# IPP-USB: ipp-usb and sane-airscan in the guest = sane-airscan through
# --escl-listen here.
escl_compare() { # escl_compare NAME: guest E2E-ESCL line against the host reference
  local name="$1" g r key ok=0
  g="$(marker E2E-ESCL | grep "name=$name " | tail -n1)"
  r="$(cat "$WORK/ref/escl-$name.result" 2>/dev/null || true)"
  if [ -z "$g" ]; then
    check "ipp-usb $name: guest scan ran" 1
    return
  fi
  for key in rc pages sha256; do
    if [ "$(field "$key" "$g")" != "$(field "$key" "$r")" ]; then
      echo "        $name: $key guest=$(field "$key" "$g") host=$(field "$key" "$r")"
      ok=1
    fi
  done
  check "ipp-usb $name: scanimage through ipp-usb in the guest = through --escl-listen here (rc $(field rc "$r"), $(field pages "$r") pages, page digests equal)" $ok
}
for c in escl mfp jam3; do
  grep -q "^E2E-IPPUSB-UP name=$c rc=0 " "$C"
  check "ipp-usb $c: ipp-usb claimed the IPP-USB interfaces and served eSCL on localhost ($(marker E2E-IPPUSB-UP | grep "name=$c " | sed 's/.*\(port=[^ ]*\).*/\1/'))" $?
done
for vp in $ESCL_VIDPID $MFP_VIDPID; do
  v="$(grep "^E2E-LSUSBV $vp | " "$C" | sed "s/^E2E-LSUSBV $vp | //")"
  ok=0
  for pat in "bInterfaceClass +7( |$)" "bInterfaceSubClass +1( |$)" "bInterfaceProtocol +4( |$)" \
    "IPP Printer Descriptor" "wBasicCapabilities +0x0002 +Scan" "iManufacturer +[0-9]+ scanemu" \
    "iSerial +[0-9]+ SCANEMU-"; do
    grep -Eq "$pat" <<<"$v" || { echo "        lsusb -v $vp: no line matching /$pat/"; ok=1; }
  done
  if [ "$vp" = "$MFP_VIDPID" ]; then
    grep -Eq "bInterfaceClass +255" <<<"$v" || { echo "        lsusb -v $vp: no vendor interface"; ok=1; }
    [ "$(grep -cE 'bInterfaceProtocol +4' <<<"$v")" = 2 ] || { echo "        lsusb -v $vp: not 2 IPP-USB interfaces"; ok=1; }
  fi
  check "ipp-usb: lsusb -v $vp shows the IPP-USB interfaces (7/1/4, IPP Printer Descriptor, Scan) and strings" $ok
done
r="$(cat "$WORK/ref/escl-escl.result")"
[ "$(field rc "$r")" = 0 ] && [ "$(field pages "$r")" = 3 ]
check "ipp-usb escl: host reference scanned the 3-page ADF job ($r)" $?
escl_compare escl
escl_compare mfp
compare native-mfp
r="$(cat "$WORK/ref/escl-jam3.result")"
[ "$(field pages "$r")" = 2 ] && grep -q 'Document feeder jammed' "$WORK/ref/escl-jam3.err"
check "ipp-usb jam3: host reference ends with 'Document feeder jammed' after 2 pages ($r)" $?
escl_compare jam3
grep "^E2E-ESCL-OUT jam3 | " "$C" | grep -q 'Document feeder jammed'
check "ipp-usb jam3: scanimage in the guest says 'Document feeder jammed'" $?
[ "$(field sha256 "$(marker E2E-ESCL | grep 'name=jam3 ')")" = "$(field sha256 "$(cat "$WORK/ref/escl-escl.result")" | cut -d, -f1-2)" ]
check "ipp-usb jam3: the 2 pages before the jam are the clean job's first 2" $?
d="$(marker E2E-ESCL | grep 'name=detach ' | tail -n1)"
dp="$(marker E2E-IPP-DETACH-POINT | tail -n1)"
grep -q 'page1_seen=1' <<<"$dp" && grep -q 'still_running=1' <<<"$dp"
check "ipp-usb detach: usbip detach while scanimage ran, after page 1 ($dp)" $?
[ -n "$d" ] && [ "$(field rc "$d")" != 0 ] && [ "$(field rc "$d")" != 124 ] && [ "$(field rc "$d")" != 143 ]
check "ipp-usb detach: scanimage ended with an error on its own (rc $(field rc "$d"))" $?
dn="$(field pages "$d")"
[ "${dn:-0}" -ge 1 ] && [ "$(field sha256 "$d")" = "$(field sha256 "$(cat "$WORK/ref/escl-detach.result")" | cut -d, -f1-"$dn")" ]
check "ipp-usb detach: the ${dn:-0} page(s) written before it are the clean job's" $?
grep "^E2E-IPPLOG detach | " "$C" | grep -Eqi 'LIBUSB_ERROR|no such device|device .*(gone|removed)'
check "ipp-usb detach: ipp-usb logged the device gone" $?

# Stop the scanemu instances first, so their exit-time leak check has run.
stop_all
[ -z "$STOP_FAILED" ]
check "every scanemu instance exited 0 on SIGTERM${STOP_FAILED:+ (pid:status$STOP_FAILED)}" $?
# No sanitizer report anywhere: guest console, host scans, scanemu logs.
! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$C" "$WORK"/ref/*.log "$WORK"/emu-*.log
check "no sanitizer report in the guest or on the host" $?
! grep -q 'Kernel panic\|BUG:\|WARNING: CPU' "$C"
check "no kernel panic, BUG or WARNING in the guest" $?

finish

exit 0
}
