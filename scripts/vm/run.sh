#!/bin/sh
# The guest half of scripts/vm-e2e.sh (busybox ash), started by /init once
# the modules are loaded and eth0 is up. /e2e/conf (written by the host)
# says which scanemu ports to attach and which scans to run. Every result is
# a line starting with "E2E-" that the host parses; everything else on the
# console is there for a person reading a failure.
. /e2e/conf

HOST=10.0.2.2
rc_all=0
fail() { rc_all=1; }

# attach PORT BUSID: usbip attach, reported as E2E-ATTACH.
attach() {
  usbip --tcp-port "$1" attach -r "$HOST" -b "$2"
  r=$?
  echo "E2E-ATTACH port=$1 busid=$2 rc=$r"
  [ "$r" = 0 ] || fail
  return "$r"
}

# vhci_port PORT BUSID: the vhci port number `usbip port` shows for it.
vhci_port() {
  usbip port 2>/dev/null | awk -v want="usbip://$HOST:$1/$2" '
    /^Port [0-9]+:/ { p = $2; sub(":", "", p) }
    index($0, want) { print p + 0; exit }'
}

# detach PORT BUSID: usbip detach of the vhci port that imported it.
detach() {
  p="$(vhci_port "$1" "$2")"
  if [ -z "$p" ]; then
    echo "E2E-DETACH port=$1 busid=$2 rc=1 (not imported)"
    fail
    return 1
  fi
  usbip detach -p "$p"
  r=$?
  echo "E2E-DETACH port=$1 busid=$2 vhci=$p rc=$r"
  [ "$r" = 0 ] || fail
  return "$r"
}

# usb_dev VID:PID: the sysfs directory of that device, if enumerated.
usb_dev() {
  for d in /sys/bus/usb/devices/*; do
    [ -f "$d/idVendor" ] || continue
    if [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# wait_enum VID:PID: poll (bounded, 30 s) until usbcore has configured it and
# devtmpfs has made its /dev/bus/usb node.
wait_enum() {
  i=0
  while [ "$i" -lt 300 ]; do
    d="$(usb_dev "$1")"
    if [ -n "$d" ] && [ "$(cat "$d/bConfigurationValue" 2>/dev/null)" = 1 ]; then
      node="$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")"
      if [ -c "$node" ]; then
        echo "E2E-ENUM vidpid=$1 rc=0 sysfs=${d##*/} node=$node speed=$(cat "$d/speed")"
        return 0
      fi
    fi
    usleep 100000
    i=$((i + 1))
  done
  echo "E2E-ENUM vidpid=$1 rc=1"
  fail
  return 1
}

# wait_gone VID:PID: poll (bounded, 30 s) until the device left usbcore.
wait_gone() {
  i=0
  while [ "$i" -lt 300 ]; do
    usb_dev "$1" >/dev/null || return 0
    usleep 100000
    i=$((i + 1))
  done
  echo "E2E-GONE vidpid=$1 rc=1 (still enumerated)"
  fail
  return 1
}

# report NAME RC OUT.tiff LOG: one E2E-SCAN line plus wiascan's own output.
report() {
  sed "s/^/E2E-OUT $1 | /" "$4"
  pages=0
  valid=0
  sum=none
  if [ -s "$3" ]; then
    sum="$(sha256sum "$3" | cut -d' ' -f1)"
    if tiffinfo "$3" >"/tmp/$1.tiffinfo" 2>&1; then valid=1; fi
    pages="$(grep -c '^TIFF Directory' "/tmp/$1.tiffinfo")"
    sed "s/^/E2E-TIFFINFO $1 | /" "/tmp/$1.tiffinfo" | grep -v 'StripOffsets\|StripByteCounts' | head -n 40
  fi
  echo "E2E-SCAN name=$1 rc=$2 pages=$pages tiff_valid=$valid sha256=$sum"
}

# scan NAME VID:PID ARGS...: wiascan through libusb, bounded.
scan() {
  name="$1" vp="$2"
  shift 2
  echo "E2E-RUN-SCAN name=$name: wiascan --transport libusb:$vp $* -o /tmp/$name.tiff"
  t0="$(cut -d' ' -f1 /proc/uptime)"
  timeout "$SCAN_TIMEOUT" wiascan --transport "libusb:$vp" "$@" -o "/tmp/$name.tiff" >"/tmp/$name.log" 2>&1
  r=$?
  echo "E2E-TIME name=$name start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  report "$name" "$r" "/tmp/$name.tiff" "/tmp/$name.log"
}

# ---- 1. two devices from one scanemu: list, attach, enumerate, lsusb -------
echo "E2E-STEP list"
usbip --tcp-port "$A_PORT" list -r "$HOST" >/tmp/list.txt 2>&1
r=$?
sed 's/^/E2E-LIST | /' /tmp/list.txt
echo "E2E-LIST-RC rc=$r"
[ "$r" = 0 ] || fail

for busid in $A_BUSIDS; do
  attach "$A_PORT" "$busid"
done
for vp in $A_VIDPIDS; do
  wait_enum "$vp"
done

echo "E2E-STEP lsusb"
lsusb 2>&1 | sed 's/^/E2E-LSUSB | /'
for vp in $A_VIDPIDS; do
  lsusb -v -d "$vp" >/tmp/lsusbv.txt 2>&1
  r=$?
  sed "s/^/E2E-LSUSBV $vp | /" /tmp/lsusbv.txt
  echo "E2E-LSUSBV-RC vidpid=$vp rc=$r"
done
usbip port 2>&1 | sed 's/^/E2E-PORT | /'

# ---- 2. scans through libusb, compared with the host's usbip transport ----
echo "E2E-STEP scans"
set -- $A_VIDPIDS
for busid in $A_BUSIDS; do
  vp="$1"
  shift
  scan "a-$busid" "$vp" $SCAN_ARGS
done
for busid in $A_BUSIDS; do
  detach "$A_PORT" "$busid"
done
for vp in $A_VIDPIDS; do
  wait_gone "$vp"
done

# wait_second_page TRACE PID: wait (60 s at most) until wiascan's trace
# TRACE shows a data band of its second page (0-based page 1; an END_OF_JOB
# header also names page 1 but carries no bytes), so the first page is
# complete here, or until PID ends. Prints "page1_seen=0|1 waited_ms=N
# still_running=0|1" for the console marker.
wait_second_page() {
  i=0
  seen=0
  while [ "$i" -lt 1200 ]; do
    if grep -Eq '"page": *[1-9][0-9]*,.*"bytes": *[1-9]' "$1" 2>/dev/null; then
      seen=1
      break
    fi
    kill -0 "$2" 2>/dev/null || break
    usleep 50000
    i=$((i + 1))
  done
  echo "page1_seen=$seen waited_ms=$((i * 50)) still_running=$(kill -0 "$2" 2>/dev/null && echo 1 || echo 0)"
}

# ---- 3. usbip detach during a scan ------------------------------------------
echo "E2E-STEP detach-during-scan"
if attach "$D_PORT" 1-1 && wait_enum "$D_VIDPID"; then
  rm -f /tmp/detach.trace
  echo "E2E-RUN-SCAN name=detach: wiascan --transport libusb:$D_VIDPID $D_ARGS --trace /tmp/detach.trace -o /tmp/detach.tiff"
  timeout "$SCAN_TIMEOUT" wiascan --transport "libusb:$D_VIDPID" $D_ARGS \
    --trace /tmp/detach.trace -o /tmp/detach.tiff >/tmp/detach.log 2>&1 &
  wpid=$!
  # Detach once a data band of page 1 (0-based) has arrived: page 0 is
  # complete. (The END_OF_JOB header of a 1-page job also says page 1, but
  # carries no bytes.)
  echo "E2E-DETACH-POINT $(wait_second_page /tmp/detach.trace "$wpid")"
  detach "$D_PORT" 1-1
  wait "$wpid"
  r=$?
  report detach "$r" /tmp/detach.tiff /tmp/detach.log
  wait_gone "$D_VIDPID"
else
  echo "E2E-SCAN name=detach rc=255 pages=0 tiff_valid=0 sha256=none (attach failed)"
fi

# ---- 4. fault scenarios: same results as over the usbip transport ---------
for c in $SCENARIO_CASES; do
  echo "E2E-STEP scenario-$c"
  port="" vp="" args=""
  eval "port=\$PORT_$c vp=\$VIDPID_$c args=\$ARGS_$c"
  if attach "$port" 1-1 && wait_enum "$vp"; then
    scan "$c" "$vp" $args
    detach "$port" 1-1
    wait_gone "$vp"
  else
    echo "E2E-SCAN name=$c rc=255 pages=0 tiff_valid=0 sha256=none (attach failed)"
  fi
done

# ---- 5. IPP-USB: ipp-usb and sane-airscan (scripts/vm/ippusb.sh) -----------
if [ -n "${IPP_CASES:-}${IPP_D_PORT:-}" ]; then
  . /e2e/ippusb.sh
fi

# ---- 6. live control (issue 15): scripts/vm/live.sh ----------------------
if [ -n "${LIVE_CTL_PORT:-}" ]; then
  . /e2e/live.sh
fi

dmesg | grep -iE 'usb|vhci' | tail -n 60 | sed 's/^/E2E-DMESG | /'
exit "$rc_all"
