#!/usr/bin/env bash
# Install every Debian package scanemu needs to build, test, run the demo,
# the VM end-to-end test and the benchmarks. Idempotent: packages already
# present are left alone, so a second run changes nothing.
set -euo pipefail

PACKAGES=(
  build-essential gcc make cmake pkg-config git libisal-dev
  libusb-1.0-0-dev libtiff-dev libtiff-tools check libcyaml-dev libyaml-dev
  libxml2-dev libhttp-parser-dev libjansson-dev
  usbip usbutils hwdata
  qemu-system-x86 cpio busybox-static kmod zstd xz-utils
  tshark
  sane-utils sane-airscan libsane1 ipp-usb gnuplot-nox stress-ng
  python3 python3-pil libimage-exiftool-perl procps iproute2 netcat-openbsd
  pandoc man-db groff-base
  clang-format clang-tidy shellcheck
  dpkg-dev debhelper fakeroot lintian debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, no prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
