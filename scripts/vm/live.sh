#!/bin/sh
# shellcheck shell=dash
# The live-control pass of the guest (issue 15; busybox ash), sourced by
# /e2e/run.sh with its helpers (attach, detach, usb_dev, wait_enum,
# wait_gone, report, fail) and /e2e/conf loaded. Results are E2E- lines for
# the host (scripts/vme2e/live.py, checks.py).
#
# 1. unplug: a scan from a device with the profile's timing and 50 sheets;
#    once page 2 is arriving, the host is asked to `scanemu ctl unplug` it,
#    and the guest records how the kernel, usbip and wiascan see that; then
#    the host `scanemu ctl plug`s a new export, which the guest attaches and
#    scans.
# 2. twins: two exports of one profile (same VID:PID, distinct serials and
#    seeds) attached at once; wiascan must refuse libusb:VID:PID, and
#    libusb:BUS.DEV and libusb:VID:PID,serial=S must each scan one of them;
#    then the host unplugs one, and libusb:VID:PID scans the other.
#
# The host acts when asked through 10.0.2.2:$LIVE_CTL_PORT (unplug, plug,
# unplug-twin): one word in, one line out once the action is done.

# live_req WORD: the host's answer (one line, or nothing).
live_req() {
  echo "$1" | timeout 60 nc "$HOST" "$LIVE_CTL_PORT" 2>/dev/null | head -n 1
}

# serial_dev VID:PID SERIAL: the guest's USB device name (1-1, ...) of the
# device with that ID and serial string.
serial_dev() {
  for d in /sys/bus/usb/devices/*; do
    [ -f "$d/idVendor" ] || continue
    [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1" ] || continue
    if [ "$(cat "$d/serial" 2>/dev/null)" = "$2" ]; then
      echo "${d##*/}"
      return 0
    fi
  done
  return 1
}

# count_dev VID:PID: how many configured devices have that ID.
count_dev() {
  n=0
  for d in /sys/bus/usb/devices/*; do
    [ -f "$d/idVendor" ] || continue
    [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1" ] || continue
    [ "$(cat "$d/bConfigurationValue" 2>/dev/null)" = 1 ] && n=$((n + 1))
  done
  echo "$n"
}

# wait_count VID:PID N: poll (bounded, 30 s) until N such devices are
# configured.
wait_count() {
  i=0
  while [ "$i" -lt 300 ]; do
    [ "$(count_dev "$1")" = "$2" ] && return 0
    usleep 100000
    i=$((i + 1))
  done
  return 1
}

# live_t LABEL: the guest's uptime at a point of the pass (for docs/vm-e2e.md's
# durations; nothing is gated on it).
live_t() {
  echo "E2E-LIVE-T $1 t=$(cut -d' ' -f1 /proc/uptime)"
}

# scan_uri NAME URI ARGS...: wiascan --transport URI, bounded, reported.
scan_uri() {
  name="$1" uri="$2"
  shift 2
  echo "E2E-RUN-SCAN name=$name: wiascan --transport $uri $* -o /tmp/$name.tiff"
  t0="$(cut -d' ' -f1 /proc/uptime)"
  timeout "$SCAN_TIMEOUT" wiascan --transport "$uri" "$@" -o "/tmp/$name.tiff" >"/tmp/$name.log" 2>&1
  r=$?
  echo "E2E-TIME name=$name start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  report "$name" "$r" "/tmp/$name.tiff" "/tmp/$name.log"
}

# ---- 1. scanemu ctl unplug during a scan, then scanemu ctl plug -----------
echo "E2E-STEP live-unplug"
t_live="$(cut -d' ' -f1 /proc/uptime)"
if attach "$LIVE_U_PORT" "$LIVE_U_BUSID" && wait_enum "$LIVE_U_VIDPID"; then
  d="$(usb_dev "$LIVE_U_VIDPID")"
  udev="${d##*/}"
  live_t attached
  echo "E2E-UNPLUG-DEV sysfs=$udev busnum=$(cat "$d/busnum") devnum=$(cat "$d/devnum")"
  rm -f /tmp/unplug.trace /tmp/unplug.tiff
  echo "E2E-RUN-SCAN name=unplug: wiascan --transport libusb:$LIVE_U_VIDPID $LIVE_U_ARGS --trace /tmp/unplug.trace -o /tmp/unplug.tiff"
  # shellcheck disable=SC2086
  timeout "$SCAN_TIMEOUT" wiascan --transport "libusb:$LIVE_U_VIDPID" $LIVE_U_ARGS \
    --trace /tmp/unplug.trace -o /tmp/unplug.tiff >/tmp/unplug.log 2>&1 &
  wpid=$!
  # Ask for the unplug once a data band of page 2 (0-based page 1 in the
  # trace) has arrived here: page 1 is complete in the guest.
  echo "E2E-UNPLUG-POINT $(wait_second_page /tmp/unplug.trace "$wpid")"
  live_t page2
  n0="$(dmesg | wc -l)"
  t0="$(cut -d' ' -f1 /proc/uptime)"
  reply="$(live_req unplug)"
  echo "E2E-LIVE-REPLY req=unplug ${reply:-none}"
  wait "$wpid"
  r=$?
  echo "E2E-TIME name=unplug-end start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  report unplug "$r" /tmp/unplug.tiff /tmp/unplug.log
  g=1
  wait_gone "$LIVE_U_VIDPID" && g=0
  echo "E2E-UNPLUG-GONE rc=$g sysfs=$udev present=$([ -e "/sys/bus/usb/devices/$udev" ] && echo 1 || echo 0)"
  dmesg | sed -n "$((n0 + 1)),\$p" | sed 's/^/E2E-UNPLUG-DMESG | /'
  lsusb 2>&1 | sed 's/^/E2E-UNPLUG-LSUSB | /'
  usbip --tcp-port "$LIVE_U_PORT" list -r "$HOST" >/tmp/ulist.txt 2>&1
  r=$?
  sed 's/^/E2E-UNPLUG-LIST | /' /tmp/ulist.txt
  echo "E2E-UNPLUG-LIST-RC rc=$r"
  live_t unplug-recorded

  reply="$(live_req plug)"
  echo "E2E-LIVE-REPLY req=plug ${reply:-none}"
  live_t plugged
  busid="$(echo "$reply" | sed -n 's/.*busid=\(1-[0-9]*\).*/\1/p')"
  if [ -n "$busid" ] && attach "$LIVE_U_PORT" "$busid" && wait_enum "$LIVE_U_VIDPID"; then
    # shellcheck disable=SC2086
    scan replug "$LIVE_U_VIDPID" $SCAN_ARGS
    detach "$LIVE_U_PORT" "$busid"
    wait_gone "$LIVE_U_VIDPID"
  else
    echo "E2E-SCAN name=replug rc=255 pages=0 tiff_valid=0 sha256=none (plug or attach failed)"
    fail
  fi
else
  echo "E2E-SCAN name=unplug rc=255 pages=0 tiff_valid=0 sha256=none (attach failed)"
fi
echo "E2E-TIME name=live-unplug start=$t_live end=$(cut -d' ' -f1 /proc/uptime)"

# ---- 2. two exports of one profile: which device does each URI select? ----
echo "E2E-STEP live-twins"
t_live="$(cut -d' ' -f1 /proc/uptime)"
ok=1
for b in $LIVE_T_BUSIDS; do
  attach "$LIVE_T_PORT" "$b" || ok=0
done
if [ "$ok" = 1 ] && wait_count "$LIVE_T_VIDPID" 2; then
  echo "E2E-TWIN-ENUM vidpid=$LIVE_T_VIDPID count=2 rc=0"
  live_t twins-attached
  # Each busid's device by the serial the host's scanemu ctl list gave it
  # (usbip port would say the same, but reads usb.ids: seconds under TCG).
  for b in $LIVE_T_BUSIDS; do
    want=""
    eval "want=\${LIVE_T_SERIAL_$(echo "$b" | tr - _):-}"
    ld="$(serial_dev "$LIVE_T_VIDPID" "$want")"
    s="/sys/bus/usb/devices/$ld"
    if [ -n "$ld" ] && [ -f "$s/busnum" ]; then
      bd="$(cat "$s/busnum").$(cat "$s/devnum")"
      echo "E2E-TWIN-DEV busid=$b sysfs=$ld busdev=$bd serial=$(cat "$s/serial" 2>/dev/null)"
      eval "BD_$(echo "$b" | tr - _)=\$bd LD_$(echo "$b" | tr - _)=\$ld"
    else
      echo "E2E-TWIN-DEV busid=$b sysfs=none busdev=none serial=none"
      fail
    fi
  done
  # VID:PID alone names two devices: wiascan refuses, listing both.
  # shellcheck disable=SC2086
  scan_uri twin-any "libusb:$LIVE_T_VIDPID" $LIVE_T_ARGS
  for b in $LIVE_T_BUSIDS; do
    bd=""
    eval "bd=\${BD_$(echo "$b" | tr - _):-}"
    # shellcheck disable=SC2086
    [ -n "$bd" ] && scan_uri "twin-$b" "libusb:$bd" $LIVE_T_ARGS
  done
  # shellcheck disable=SC2086
  scan_uri twin-serial "libusb:$LIVE_T_VIDPID,serial=$LIVE_T_SERIAL" $LIVE_T_ARGS
  live_t twins-scanned
  # The host unplugs one twin while both are attached and idle: the other
  # stays, and VID:PID alone now names it.
  gone=""
  eval "gone=\${LD_$(echo "$LIVE_T_UNPLUG" | tr - _):-}"
  n0="$(dmesg | wc -l)"
  reply="$(live_req unplug-twin)"
  echo "E2E-LIVE-REPLY req=unplug-twin ${reply:-none}"
  r=1
  wait_count "$LIVE_T_VIDPID" 1 && r=0
  echo "E2E-TWIN-UNPLUG rc=$r busid=$LIVE_T_UNPLUG sysfs=${gone:-none} present=$([ -n "$gone" ] && [ -e "/sys/bus/usb/devices/$gone" ] && echo 1 || echo 0) left=$(count_dev "$LIVE_T_VIDPID")"
  dmesg | sed -n "$((n0 + 1)),\$p" | sed 's/^/E2E-TWIN-DMESG | /'
  # shellcheck disable=SC2086
  scan_uri twin-after "libusb:$LIVE_T_VIDPID" $LIVE_T_ARGS
  twin_left="$LIVE_T_BUSIDS"
  [ "$r" = 0 ] && twin_left="$(echo "$LIVE_T_BUSIDS" | tr ' ' '\n' | grep -vx "$LIVE_T_UNPLUG")"
else
  echo "E2E-TWIN-ENUM vidpid=$LIVE_T_VIDPID count=$(count_dev "$LIVE_T_VIDPID") rc=1"
  fail
fi
for b in ${twin_left-$LIVE_T_BUSIDS}; do
  detach "$LIVE_T_PORT" "$b"
done
wait_gone "$LIVE_T_VIDPID"
echo "E2E-TIME name=live-twins start=$t_live end=$(cut -d' ' -f1 /proc/uptime)"
