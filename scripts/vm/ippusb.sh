#!/bin/sh
# shellcheck shell=dash
# The IPP-USB pass of the guest (busybox ash), sourced by /e2e/run.sh after
# its own steps, with its helpers (attach, detach, wait_enum, wait_gone,
# scan, report, fail) and /e2e/conf loaded. For each case: usbip attach a
# device with IPP-USB interfaces, start Debian's ipp-usb on it (DNS-SD off,
# loopback only), and scan with Debian's scanimage through sane-airscan at
# http://localhost:PORT/eSCL. Results are E2E- lines for the host.
#
# ipp-usb learns of devices from udev's hotplug events; this guest runs no
# udevd, so ipp-usb is started after the device is enumerated and stopped
# before it is detached (each case has its own ipp-usb run).

IPP_PID=""
IPP_HTTP=""

# http_ok PORT PATH: a GET through ipp-usb answers 200 (busybox nc; Host:
# localhost, as ipp-usb wants).
http_ok() {
  printf 'GET %s HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n' "$2" "$1" |
    timeout 10 nc 127.0.0.1 "$1" 2>/dev/null | head -n1 | grep -q '^HTTP/1.1 200'
}

# ipp_start NAME: ipp-usb for the one attached device; sets IPP_HTTP to the
# localhost port it serves once ScannerStatus answers through it (bounded,
# 60 s).
ipp_start() {
  rm -rf /var/ipp-usb /var/log/ipp-usb
  mkdir -p /var/ipp-usb/lock /var/ipp-usb/dev /var/log/ipp-usb
  t0="$(cut -d' ' -f1 /proc/uptime)"
  ipp-usb debug >"/tmp/ippusb-$1.log" 2>&1 &
  IPP_PID=$!
  IPP_HTTP=""
  i=0
  while [ "$i" -lt 300 ]; do
    kill -0 "$IPP_PID" 2>/dev/null || break
    # The port of its start-up eSCL probe (ipp-usb logs the request).
    p="$(sed -n 's|.*http://localhost:\([0-9]*\)/eSCL/ScannerCapabilities.*|\1|p' "/tmp/ippusb-$1.log" | head -n1)"
    if [ -n "$p" ] && http_ok "$p" /eSCL/ScannerStatus; then
      IPP_HTTP="$p"
      break
    fi
    usleep 200000
    i=$((i + 1))
  done
  r=1
  [ -n "$IPP_HTTP" ] && r=0
  echo "E2E-IPPUSB-UP name=$1 rc=$r port=${IPP_HTTP:-none} start=$t0 ready=$(cut -d' ' -f1 /proc/uptime)"
  [ "$r" = 0 ] || fail
  return "$r"
}

# ipp_stop NAME: SIGTERM, bounded wait; its log to the console.
ipp_stop() {
  [ -n "$IPP_PID" ] || return 0
  kill "$IPP_PID" 2>/dev/null
  i=0
  while kill -0 "$IPP_PID" 2>/dev/null && [ "$i" -lt 100 ]; do
    usleep 100000
    i=$((i + 1))
  done
  kill -9 "$IPP_PID" 2>/dev/null
  wait "$IPP_PID" 2>/dev/null
  IPP_PID=""
  grep -v '^ *$' "/tmp/ippusb-$1.log" | tail -n 120 | sed "s/^/E2E-IPPLOG $1 | /"
}

# sane_conf NAME: sane-airscan sees one device, NAME, at ipp-usb's port.
sane_conf() {
  mkdir -p /tmp/sane
  cat >/tmp/sane/airscan.conf <<CONF
[devices]
"$1" = http://localhost:$IPP_HTTP/eSCL, eSCL
[options]
discovery = disable
ws-discovery = off
CONF
  echo airscan >/tmp/sane/dll.conf
}

# escl_report NAME RC: one E2E-ESCL line: pages written and their digests.
escl_report() {
  sed "s/^/E2E-ESCL-OUT $1 | /" "/tmp/$1.err"
  pages=0
  sums=""
  n=1
  while [ -s "/tmp/$1-p$n.png" ]; do
    s="$(sha256sum "/tmp/$1-p$n.png" | cut -d' ' -f1)"
    sums="$sums${sums:+,}$s"
    pages=$n
    n=$((n + 1))
  done
  echo "E2E-ESCL name=$1 rc=$2 pages=$pages sha256=${sums:-none}"
}

# escl_scan NAME: scanimage's ADF batch through ipp-usb, bounded.
escl_scan() {
  sane_conf "$1"
  rm -f "/tmp/$1"-p*.png
  echo "E2E-RUN-ESCL name=$1: scanimage -d airscan:e0:$1 $ESCL_ARGS --format=png --batch=/tmp/$1-p%d.png"
  t0="$(cut -d' ' -f1 /proc/uptime)"
  # shellcheck disable=SC2086
  SANE_CONFIG_DIR=/tmp/sane timeout "$SCAN_TIMEOUT" scanimage -d "airscan:e0:$1" $ESCL_ARGS \
    --format=png --batch="/tmp/$1-p%d.png" >"/tmp/$1.out" 2>"/tmp/$1.err"
  r=$?
  echo "E2E-TIME name=$1 start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  escl_report "$1" "$r"
}

# ---- wiascan's own IPP-USB client (escl+usb), before ipp-usb holds the
# interfaces. WUSB_CASES names the cases, WUSB_ARGS the scan; each result
# is an E2E-SCAN line (name wusb-NAME, and wusb-NAME-bd for the scan by
# BUS.DEV) that the host compares with wiascan escl+http through
# --escl-listen.

# wusb_scan NAME SELECTOR: wiascan --transport escl+usbSELECTOR, bounded.
wusb_scan() {
  echo "E2E-RUN-SCAN name=$1: wiascan --transport escl+usb$2 $WUSB_ARGS -o /tmp/$1.tiff"
  t0="$(cut -d' ' -f1 /proc/uptime)"
  # shellcheck disable=SC2086
  timeout "$SCAN_TIMEOUT" wiascan --transport "escl+usb$2" $WUSB_ARGS -o "/tmp/$1.tiff" \
    >"/tmp/$1.log" 2>&1
  r=$?
  echo "E2E-TIME name=$1 start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  report "$1" "$r" "/tmp/$1.tiff" "/tmp/$1.log"
  wusb_pages "$1"
}

# wusb_pages NAME: each page of /tmp/NAME.tiff as its own file (tiffsplit),
# digested: the host compares pages.
wusb_pages() {
  rm -rf "/tmp/$1.split"
  mkdir -p "/tmp/$1.split"
  sums=""
  if [ -s "/tmp/$1.tiff" ] && tiffsplit "/tmp/$1.tiff" "/tmp/$1.split/p" >/dev/null 2>&1; then
    for f in /tmp/"$1".split/p*; do
      [ -f "$f" ] || continue
      sums="$sums${sums:+,}$(sha256sum "$f" | cut -d' ' -f1)"
    done
  fi
  echo "E2E-WUSB-PAGES name=$1 sha256=${sums:-none}"
}

# wusb_case NAME VIDPID: by VID:PID; for the first case also by BUS.DEV.
wusb_case() {
  case " ${WUSB_CASES:-} " in
    *" $1 "*) ;;
    *) return 0 ;;
  esac
  wusb_scan "wusb-$1" ":$2"
  if [ "$1" = "${WUSB_CASES%% *}" ]; then
    # no selector: the one device with IPP-USB interfaces
    wusb_scan "wusb-$1-any" ""
    d="$(usb_dev "$2")"
    if [ -n "$d" ]; then
      wusb_scan "wusb-$1-bd" ":$(cat "$d/busnum").$(cat "$d/devnum")"
    else
      echo "E2E-SCAN name=wusb-$1-bd rc=255 pages=0 tiff_valid=0 sha256=none (no sysfs device)"
    fi
  fi
}

# wusb_busy NAME VIDPID: while ipp-usb holds the interfaces, escl+usb must
# say so (WIA_ERROR_BUSY) and leave ipp-usb's scan alone (first case only).
wusb_busy() {
  [ "$1" = "${WUSB_CASES%% *}" ] || return 0
  wusb_scan wusb-busy ":$2"
}

# ippusb_case NAME BUSID VIDPID [native]: attach, (wiascan through the
# vendor interface,) (wiascan escl+usb,) ipp-usb, scanimage, stop, detach.
ippusb_case() {
  echo "E2E-STEP ippusb-$1"
  if ! attach "$IPP_PORT" "$2" || ! wait_enum "$3"; then
    echo "E2E-ESCL name=$1 rc=255 pages=0 sha256=none (attach failed)"
    return
  fi
  lsusb -v -d "$3" >/tmp/lsusbv.txt 2>&1
  sed "s/^/E2E-LSUSBV $3 | /" /tmp/lsusbv.txt
  if [ "${4:-}" = native ]; then
    # The vendor interface of the same device, through libusb, before
    # ipp-usb claims the others.
    # shellcheck disable=SC2086
    scan "native-$1" "$3" $SCAN_ARGS
  fi
  wusb_case "$1" "$3"
  if ipp_start "$1"; then
    wusb_busy "$1" "$3"
    escl_scan "$1"
  else
    echo "E2E-ESCL name=$1 rc=255 pages=0 sha256=none (ipp-usb did not serve the device)"
  fi
  ipp_stop "$1"
  detach "$IPP_PORT" "$2"
  wait_gone "$3"
}

for c in $IPP_CASES; do
  busid="" vp="" mode=""
  eval "busid=\$IPP_BUSID_$c vp=\$IPP_VIDPID_$c mode=\${IPP_MODE_$c:-}"
  ippusb_case "$c" "$busid" "$vp" "$mode"
done

# escl+usb with two IPP-USB devices of one profile attached (1-1, 1-3):
# without a selector it must refuse and list both; serial=S picks one.
# wusb_wait_n VID:PID N: bounded (30 s) until N such devices are configured
# and have their device nodes.
wusb_wait_n() {
  i=0
  while [ "$i" -lt 300 ]; do
    k=0
    for d in /sys/bus/usb/devices/*; do
      [ -f "$d/idVendor" ] || continue
      [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1" ] || continue
      [ "$(cat "$d/bConfigurationValue" 2>/dev/null)" = 1 ] || continue
      [ -c "$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")" ] &&
        k=$((k + 1))
    done
    if [ "$k" = "$2" ]; then
      echo "E2E-WUSB-TWO rc=0 n=$k"
      return 0
    fi
    usleep 100000
    i=$((i + 1))
  done
  echo "E2E-WUSB-TWO rc=1 n=$k"
  fail
  return 1
}

if [ -n "${WUSB_CASES:-}" ]; then
  echo "E2E-STEP wusb-two"
  if attach "$IPP_PORT" 1-1 && attach "$IPP_PORT" 1-3 && wusb_wait_n "$WUSB_VIDPID" 2; then
    wusb_scan wusb-ambiguous ""
    wusb_scan wusb-serial ":$WUSB_VIDPID,serial=$WUSB_SERIAL"
  else
    echo "E2E-SCAN name=wusb-ambiguous rc=255 pages=0 tiff_valid=0 sha256=none (attach failed)"
  fi
  for b in 1-1 1-3; do
    [ -n "$(vhci_port "$IPP_PORT" "$b")" ] && detach "$IPP_PORT" "$b"
  done
  wait_gone "$WUSB_VIDPID"
fi

# usbip detach in the middle of an ADF job that ipp-usb is carrying.
if [ -n "${IPP_D_PORT:-}" ]; then
  echo "E2E-STEP ippusb-detach"
  if attach "$IPP_D_PORT" 1-1 && wait_enum "$IPP_D_VIDPID" && ipp_start detach; then
    sane_conf detach
    rm -f /tmp/detach-p*.png
    echo "E2E-RUN-ESCL name=detach: scanimage -d airscan:e0:detach $ESCL_ARGS --format=png --batch=/tmp/detach-p%d.png"
    # shellcheck disable=SC2086
    SANE_CONFIG_DIR=/tmp/sane timeout "$SCAN_TIMEOUT" scanimage -d airscan:e0:detach $ESCL_ARGS \
      --format=png --batch=/tmp/detach-p%d.png >/tmp/detach.out 2>/tmp/detach.err &
    spid=$!
    # Detach once page 1 is written and page 2 has begun.
    i=0
    seen=0
    while [ "$i" -lt 1200 ]; do
      if [ -s /tmp/detach-p1.png ] && grep -q 'Scanning page 2' /tmp/detach.err 2>/dev/null; then
        seen=1
        break
      fi
      kill -0 "$spid" 2>/dev/null || break
      usleep 50000
      i=$((i + 1))
    done
    echo "E2E-IPP-DETACH-POINT page1_seen=$seen waited_ms=$((i * 50)) still_running=$(kill -0 "$spid" 2>/dev/null && echo 1 || echo 0)"
    t0="$(cut -d' ' -f1 /proc/uptime)"
    detach "$IPP_D_PORT" 1-1
    wait "$spid"
    r=$?
    echo "E2E-TIME name=ipp-detach start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
    escl_report detach "$r"
    ipp_stop detach
    wait_gone "$IPP_D_VIDPID"
  else
    echo "E2E-ESCL name=detach rc=255 pages=0 sha256=none (attach or ipp-usb failed)"
    ipp_stop detach
  fi
fi

# wiascan escl+usb while usbip detach unplugs the device in the middle of
# its ADF job (its own scanemu, profile timing, 50 sheets).
if [ -n "${WUSB_D_PORT:-}" ]; then
  echo "E2E-STEP wusb-detach"
  n=wusb-detach
  if attach "$WUSB_D_PORT" 1-1 && wait_enum "$IPP_D_VIDPID"; then
    rm -f "/tmp/$n.tiff"
    echo "E2E-RUN-SCAN name=$n: wiascan --transport escl+usb:$IPP_D_VIDPID $WUSB_D_ARGS -o /tmp/$n.tiff"
    # shellcheck disable=SC2086
    timeout "$SCAN_TIMEOUT" wiascan --transport "escl+usb:$IPP_D_VIDPID" $WUSB_D_ARGS \
      -o "/tmp/$n.tiff" >"/tmp/$n.log" 2>&1 &
    spid=$!
    # Detach once page 1 is in the TIFF.
    i=0
    seen=0
    while [ "$i" -lt 1200 ]; do
      if grep -q 'page 1 written' "/tmp/$n.log" 2>/dev/null; then
        seen=1
        break
      fi
      kill -0 "$spid" 2>/dev/null || break
      usleep 50000
      i=$((i + 1))
    done
    echo "E2E-WUSB-DETACH-POINT page1_seen=$seen waited_ms=$((i * 50)) still_running=$(kill -0 "$spid" 2>/dev/null && echo 1 || echo 0)"
    t0="$(cut -d' ' -f1 /proc/uptime)"
    detach "$WUSB_D_PORT" 1-1
    wait "$spid"
    r=$?
    echo "E2E-TIME name=$n start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
    report "$n" "$r" "/tmp/$n.tiff" "/tmp/$n.log"
    wusb_pages "$n"
    wait_gone "$IPP_D_VIDPID"
  else
    echo "E2E-SCAN name=$n rc=255 pages=0 tiff_valid=0 sha256=none (attach failed)"
  fi
fi
