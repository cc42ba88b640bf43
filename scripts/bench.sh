#!/usr/bin/env bash
# scanemu benchmarks (issue 8). Builds a Release tree, runs every measurement
# once on this machine and prints one Markdown table: each figure next to the
# baseline measured in the same run, the ratio and the target. Nothing here is
# a test: it never gates CI on a time, and CTest never runs it.
#
#   scripts/bench.sh                 full run (about 1.5 minutes on 2 quiet cores, more when loaded)
#   BENCH_QUICK=1 scripts/bench.sh   scaled down (about a minute): fewer pages,
#                                    bands and devices; same table
#
# Environment:
#   BENCH_QUICK=1        scale everything down
#   BENCH_TP_RUNS=N      timed runs per throughput figure (1a, 1b, 1d), median
#                        reported (default 9), after one warm-up run
#   BENCH_BUILD=DIR      build tree (default build/bench, Release, no tests)
#   BENCH_SKIP_BUILD=1   use BENCH_BUILD as it is
#   BENCH_OUT=DIR        working directory for TIFFs, traces and logs; must be
#                        on tmpfs for the throughput figures (default
#                        /dev/shm/scanemu-bench); kept after the run
#   BENCH_ONLY="..."     run only these sections: throughput timing scale long ratios loaded
#   BENCH_LOAD_CPUS=N    stress-ng CPU hogs of the loaded pass (default: one per CPU)
#   BENCH_LOADED=0       skip the loaded pass (the timing and scale passes again
#                        with stress-ng CPU hogs at normal priority on every core)
#   BENCH_PERF="sc32tm ldsc32tm"  perf stat of scanemu during those scale passes
#   BENCH_RT=0           skip the second timing pass at SCHED_FIFO (chrt -f 10)
#   BENCH_SC_RT="1 8"    device counts whose scale timing pass is repeated with
#                        scanemu --slice-us 0 and with --realtime ("" = none)
#   BENCH_DOCS=1         write the plots into docs/img/ (for docs/performance.md)
#                        instead of $BENCH_OUT
#   BENCH_TIMEOUT=S      bound on every external command that could hang
#                        (wiascan, scanimage, bench_*, trace statistics, plots;
#                        default 120 s). A command that runs out is killed
#                        (TERM, KILL 5 s later), its rows read "n/a (timed
#                        out)" and the run goes on. scanemu itself gets 10 s
#                        to exit after SIGTERM, then SIGKILL.
#   BENCH_ESCL=0         skip the eSCL rows (section 6: BENCH_ESCL_RUNS,
#                        BENCH_ESCL_LEVELS; "escl" in BENCH_ONLY)
# The table goes to stdout and to $BENCH_OUT/table.md; raw key=value results
# to $BENCH_OUT/results.env.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL="$ROOT/bench/tools/benchtool.py"
# Debian's interpreter (the tool needs only its standard library), not
# whatever python3 is first on PATH: a wrapper there (pyenv's shim) would
# stand between this script and the process it starts and signals.
PY=/usr/bin/python3
BFIX="$ROOT/bench/fixtures"
BUILD="${BENCH_BUILD:-$ROOT/build/bench}"
OUT="${BENCH_OUT:-/dev/shm/scanemu-bench}"
QUICK="${BENCH_QUICK:-0}"
TP_RUNS="${BENCH_TP_RUNS:-9}"
case "$TP_RUNS" in *[!0-9]* | "" | 0) echo "bench: BENCH_TP_RUNS must be 1..31" >&2; exit 2 ;; esac
[ "$TP_RUNS" -le 31 ] || { echo "bench: BENCH_TP_RUNS must be 1..31" >&2; exit 2; }
ONLY="${BENCH_ONLY:-throughput timing scale long ratios loaded}"
JOBS="${SCANEMU_JOBS:-2}"
RES="$OUT/results.env"
SEED=42
TMO="${BENCH_TIMEOUT:-120}"

# Sizes of each measurement (issue 8), and their quick variants.
if [ "$QUICK" = "1" ]; then
  TP_PAGES=5        # A4 300 dpi colour pages through scanemu -> wiascan
  SANE_PAGES=5      # 200x200 mm 300 dpi colour pages through scanimage
  TM_BANDS=1000     # 2 ms bands on the real clock
  SC_DEVICES="1 8"  # devices in one scanemu
  SC_PAGES=1        # A4 pages per device (throughput pass)
  SC_TM_BANDS=250   # 2 ms bands per device (timing pass)
  LJ_PAGES=100      # long-job pages
else
  TP_PAGES=20
  SANE_PAGES=20
  TM_BANDS=5000
  SC_DEVICES="1 8 32"
  SC_PAGES=3
  SC_TM_BANDS=1000
  LJ_PAGES=1000
fi
# Device counts also timed with scanemu --slice-us 0 and --realtime (1 for
# their baseline; in the quick run only the counts it scales to).
SC_RT_DEVICES="${BENCH_SC_RT:-1 8 32}"
# Each timed scale pass (and its floor) runs this many times; the pass with
# the median worst-device p99 is the one reported, with every pass's value
# beside it: one stall of the machine (a vCPU taken by the hypervisor for
# 100 ms) puts every device of a pass over its p99, and a verdict should not
# be one draw of that (docs/performance.md, session 7).
SC_REPEAT="${BENCH_SC_REPEAT:-3}"
[ "$QUICK" = "1" ] && SC_REPEAT="${BENCH_SC_REPEAT:-1}"
TM_BANDS_PER_PAGE=10 # bands per page in the timing profile (bench/fixtures)

# Progress goes to fd 3, the script's own stderr, even from inside a command
# whose stderr is redirected into a log file (bounded's timeout message).
exec 3>&2
log() { printf 'bench: %s\n' "$*" >&3; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
now_ns() { date +%s%N; }
# The helpers live in benchtool.py (its docstring says what each does):
# median X... (the lower middle for an even count), calc 'EXPR' (+ - * / on
# numbers), proc PID cpu|rss|hwm, busy SECONDS, and run (bounded, timed).
median() { "$PY" "$TOOL" median "$@"; }
calc() { "$PY" "$TOOL" calc "$1"; }
# tval TIMES KEY: one value of a `timed` command's times file (wall_s,
# user_s, sys_s, cpu_s, maxrss_kb).
tval() { sed -n "s/^$2=//p" "$1"; }

# Command prefix for the next start_emu (e.g. chrt -f 10); empty by default.
SCANEMU_PREFIX=()
# Prefix of the scale passes' keys and files: "" quiet, "ld" in the loaded pass.
LD=""
# Processes this script started; only these are ever signalled.
OUR_PIDS=()
cleanup() {
  local p i alive
  for p in "${OUR_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  # Bounded: whatever ignores SIGTERM for 5 s gets SIGKILL.
  for i in $(seq 1 50); do
    alive=0
    for p in "${OUR_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${OUR_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# bounded KEY LABEL CMD...: runs CMD under `benchtool.py run`: in a process
# group of its own, SIGTERM to the group after $TMO s and SIGKILL 5 s later,
# so a wrapper (chrt) and its child both go. Returns CMD's status; when the
# bound is hit, records timeout_KEY=LABEL in results.env (the table then
# reads "n/a (timed out)" in the cells that depend on it), logs it on fd 3
# and returns 124.
bounded() {
  local key="$1" label="$2"
  shift 2
  "$PY" "$TOOL" run --timeout "$TMO" --kill-after 5 --results "$RES" --key "$key" \
    --label "$label" --log-fd 3 -- "$@"
}

# timed KEY LABEL TIMES CMD...: bounded, and CMD's wall time, CPU time
# (user + system, with its children) and peak RSS into the file TIMES (tval).
timed() {
  local key="$1" label="$2" times="$3"
  shift 3
  rm -f "$times"
  "$PY" "$TOOL" run --timeout "$TMO" --kill-after 5 --results "$RES" --key "$key" \
    --label "$label" --log-fd 3 --times "$times" -- "$@"
}

# ---- build --------------------------------------------------------------------

build() {
  if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    log "configure Release tree in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >"$OUT/cmake.log" 2>&1 ||
      die "cmake configure failed (see $OUT/cmake.log)"
    local t
    for t in scanemu wiascan bench_tcp bench_timer bench_stream bench_wias bench_synth; do
      log "build $t"
      cmake --build "$BUILD" -j "$JOBS" --target "$t" >>"$OUT/build.log" 2>&1 ||
        log "target $t did not build (see $OUT/build.log); its rows will say n/a"
    done
  fi
  SCANEMU="$(find "$BUILD" -type f -name scanemu -perm -u+x | head -n1)"
  WIASCAN="$(find "$BUILD" -type f -name wiascan -perm -u+x | head -n1)"
  BENCH_TCP="$(find "$BUILD" -type f -name bench_tcp -perm -u+x | head -n1)"
  BENCH_TIMER="$(find "$BUILD" -type f -name bench_timer -perm -u+x | head -n1)"
  BENCH_STREAM="$(find "$BUILD" -type f -name bench_stream -perm -u+x | head -n1)"
  BENCH_WIAS="$(find "$BUILD" -type f -name bench_wias -perm -u+x | head -n1)"
  BENCH_SYNTH="$(find "$BUILD" -type f -name bench_synth -perm -u+x | head -n1)"
}

# ---- emulator ------------------------------------------------------------------

# start_emu LOGNAME ARGS... : starts scanemu on 127.0.0.1:0, sets EMU_PID and EMU_PORT.
start_emu() {
  local name="$1"
  shift
  local pf="$OUT/$name.port"
  rm -f "$pf"
  "${SCANEMU_PREFIX[@]}" "$SCANEMU" --listen 127.0.0.1:0 --port-file "$pf" "$@" >"$OUT/$name.emu.log" 2>&1 &
  EMU_PID=$!
  OUR_PIDS+=("$EMU_PID")
  local i
  for i in $(seq 1 500); do
    if [ -s "$pf" ]; then
      EMU_PORT="$(tr -dc '0-9' <"$pf")"
      [ -n "$EMU_PORT" ] && return 0
    fi
    kill -0 "$EMU_PID" 2>/dev/null || die "scanemu exited at start (see $OUT/$name.emu.log)"
    sleep 0.02
  done
  die "scanemu wrote no port file within 10 s (see $OUT/$name.emu.log)"
}

# alive PID: the process runs (an exited child not yet waited for is a zombie,
# which still answers kill -0).
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

# stop_emu: SIGTERM, up to 10 s to exit, then SIGKILL (recorded) so a wedged
# emulator cannot hang the run.
stop_emu() {
  local i
  kill -TERM "$EMU_PID" 2>/dev/null || true
  for i in $(seq 1 500); do
    alive "$EMU_PID" || break
    sleep 0.02
  done
  if alive "$EMU_PID"; then
    log "scanemu (pid $EMU_PID) did not exit 10 s after SIGTERM; SIGKILL"
    put "emu_killed_$EMU_PID" "scanemu did not exit 10 s after SIGTERM"
    kill -KILL "$EMU_PID" 2>/dev/null || true
  fi
  wait "$EMU_PID" 2>/dev/null || true
}

# hwm_kb / rss_kb PID: peak / current resident set (VmHWM, VmRSS) of a live
# process, in kB (0 when it is gone).
hwm_kb() { "$PY" "$TOOL" proc "$1" hwm; }
rss_kb() { "$PY" "$TOOL" proc "$1" rss; }

file_bytes() { stat -c %s "$1"; }
# steal_ms: CPU time the hypervisor has taken from this VM's CPUs so far
# (/proc/stat "steal", all CPUs). On a shared host a pass during which it
# grew had its threads stopped for that long, whatever they were doing.
steal_ms() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%d\n", $9 * 1000 / hz }' /proc/stat; }

# cpu_s PID: user + system CPU seconds a live process has used so far.
cpu_s() { "$PY" "$TOOL" proc "$1" cpu; }

# ---- 1. throughput ------------------------------------------------------------------

bench_throughput() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "throughput: scanemu/wiascan missing"; return 0; }
  log "throughput: $TP_PAGES A4 300 dpi colour pages, timing off, $TP_RUNS runs"
  start_emu tp --device "$BFIX/profiles/bench-a4.yaml" --scenario "$BFIX/scenarios/bench-sheets.yaml" \
    --seed "$SEED" --no-timing
  local tiff="$OUT/tp.tiff" tt="$OUT/tp.wiascan.times" rc=0 run secs=() wcpu=() ecpu=() e0 e1 bytes=0
  # Run 0 is a warm-up, recorded but not in the median: on this kind of
  # guest, memory the kernel has not touched for a few seconds (free pages
  # handed back to the hypervisor) costs 2-5x more to fill the first time,
  # and the first run of every command here fills 0.5 GB of it. The same
  # warm-up precedes the tmpfs-write and SANE runs.
  for run in $(seq 0 "$TP_RUNS"); do
    rm -f "$tiff"
    e0=$(cpu_s "$EMU_PID")
    timed tp "wiascan (throughput run $run)" "$tt" \
      "$WIASCAN" --transport "usbip://127.0.0.1:$EMU_PORT/1-1" --source adf --pages "$TP_PAGES" \
      --mode color --dpi 300 --seed "$SEED" -o "$tiff" >"$OUT/tp.wiascan.log" 2>&1 || rc=$?
    e1=$(cpu_s "$EMU_PID")
    if [ "$rc" -ne 0 ]; then
      stop_emu
      log "throughput: wiascan failed ($rc), see $OUT/tp.wiascan.log"
      return 0
    fi
    bytes=$(file_bytes "$tiff")
    if [ "$run" -eq 0 ]; then
      put tp_warmup_seconds "$(tval "$tt" wall_s)"
      continue
    fi
    secs+=("$(tval "$tt" wall_s)")
    wcpu+=("$(tval "$tt" cpu_s)")
    ecpu+=("$(calc "$e1 - $e0")")
  done
  put tp_emu_hwm_kb "$(hwm_kb "$EMU_PID")"
  stop_emu
  local med
  med=$(median "${secs[@]}")
  put tp_pages "$TP_PAGES"
  put tp_bytes "$bytes"
  put tp_seconds "$med"
  put tp_runs_seconds "${secs[*]}"
  put tp_wiascan_cpu_s "${wcpu[*]}"
  put tp_emu_cpu_s "${ecpu[*]}"
  put tp_MBps "$(calc "$bytes / 1e6 / $med")"
  put tp_ppm "$(calc "$TP_PAGES * 60 / $med")"
  put tp_wiascan_maxrss_kb "$(tval "$tt" maxrss_kb)"
  rm -f "$tiff"

  # (a) raw TCP loopback, same byte count, same run.
  if [ -n "$BENCH_TCP" ]; then
    log "throughput: raw TCP loopback, $bytes bytes, $TP_RUNS runs"
    if timed tcp bench_tcp "$OUT/tcp.times" "$BENCH_TCP" --bytes "$bytes" \
      --runs "$TP_RUNS" >"$OUT/tcp.log" 2>&1; then
      put tcp_MBps "$(sed -n 's/.*median_MBps=\([0-9.]*\).*/\1/p' "$OUT/tcp.log")"
      # CPU (sender + receiver, user + system) per run: what moving these
      # bytes over loopback costs the machine, whoever does it.
      put tcp_cpu_s_per_run "$(calc "$(tval "$OUT/tcp.times" cpu_s) / $TP_RUNS")"
    else
      log "throughput: bench_tcp failed (see $OUT/tcp.log)"
    fi
  fi

  # (d) what writing the same bytes into a new file on the same tmpfs costs
  # on its own: dd from /dev/zero in 4 MiB write()s, the old file removed
  # first as before each wiascan run. Not a target: the floor under 1a, since
  # wiascan must write every byte of the TIFF there.
  log "throughput: write() of $bytes bytes into a new tmpfs file, $TP_RUNS runs"
  local wsecs=() wcpus=() wf="$OUT/tmpfs-write.bin"
  for run in $(seq 0 "$TP_RUNS"); do
    rm -f "$wf"
    timed tmpfsw "dd (tmpfs write run $run)" "$OUT/tmpfsw.times" \
      dd if=/dev/zero of="$wf" bs=4M count="$bytes" iflag=count_bytes status=none ||
      { log "throughput: dd failed"; rm -f "$wf"; return 0; }
    [ "$run" -eq 0 ] && { put tmpfsw_warmup_seconds "$(tval "$OUT/tmpfsw.times" wall_s)"; continue; }
    wsecs+=("$(tval "$OUT/tmpfsw.times" wall_s)")
    wcpus+=("$(tval "$OUT/tmpfsw.times" cpu_s)")
  done
  rm -f "$wf"
  put tmpfsw_runs_seconds "${wsecs[*]}"
  put tmpfsw_MBps "$(calc "$bytes / 1e6 / $(median "${wsecs[@]}")")"
  # dd's CPU includes reading /dev/zero (a clear of each 4 MiB buffer),
  # which is small against the tmpfs write.
  put tmpfsw_cpu_s_per_run "$(median "${wcpus[@]}")"
}

# (b) Debian's SANE test backend through scanimage, per MB: median of
# BENCH_TP_RUNS (default 9) runs after a warm-up (a run is a fraction of a
# second).
bench_sane() {
  command -v scanimage >/dev/null || { log "sane: scanimage missing (apt-get install sane-utils)"; return 0; }
  log "sane: $SANE_PAGES pages 200x200 mm 300 dpi colour through scanimage -d test, $TP_RUNS runs"
  # scanimage -d test sometimes never exits (seen: once in ~30 runs, after
  # writing its pages). A run takes 0.3 s: one that has not ended after
  # 30 s (or BENCH_TIMEOUT if shorter) is killed and left out (counted in sane_hung_runs, shown in
  # row 1b); only if every run hangs is the row n/a.
  local dir="$OUT/sane" st="$OUT/sane.times" run rc bytes=0 secs=() hung=0
  local tmo=$((TMO < 30 ? TMO : 30))
  for run in $(seq 0 "$TP_RUNS"); do
    rm -rf "$dir"
    mkdir -p "$dir"
    rc=0
    (cd "$dir" && "$PY" "$TOOL" run --timeout "$tmo" --times "$st" -- scanimage -d test --mode Color --resolution 300 --format=tiff -x 200 -y 200 \
      --test-picture "Color pattern" --batch=p%04d.tif --batch-count="$SANE_PAGES") >"$OUT/sane.log" 2>&1 || rc=$?
    if [ "$rc" -eq 124 ]; then
      hung=$((hung + 1))
      log "sane: scanimage run $run did not end within $tmo s; killed, run left out"
      continue
    fi
    [ "$rc" -eq 0 ] || { log "sane: scanimage failed ($rc, see $OUT/sane.log)"; return 0; }
    bytes=$(cat "$dir"/p*.tif | wc -c)
    [ "$run" -eq 0 ] && { put sane_warmup_seconds "$(tval "$st" wall_s)"; continue; }
    secs+=("$(tval "$st" wall_s)")
  done
  rm -rf "$dir"
  put sane_hung_runs "$hung"
  if [ "${#secs[@]}" -eq 0 ]; then
    put timeout_sane "scanimage -d test: every run hung (killed after $tmo s)"
    return 0
  fi
  local med
  med=$(median "${secs[@]}")
  put sane_pages "$SANE_PAGES"
  put sane_bytes "$bytes"
  put sane_seconds "$med"
  put sane_runs_seconds "${secs[*]}"
  put sane_MBps "$(calc "$bytes / 1e6 / $med")"
}

# ---- 2. timing fidelity ----------------------------------------------------------------

# timing_pass KEY PNGNAME [PREFIX...]: the bare-timer baseline and the 2 ms
# job, both run under PREFIX (empty, or chrt -f N for SCHED_FIFO).
timing_pass() {
  local key="$1" pngname="$2"
  shift 2
  local pre=("$@")
  local pages=$((TM_BANDS / TM_BANDS_PER_PAGE))
  # Baseline: how precisely this machine, right now, wakes a thread at the
  # same 2 ms absolute deadlines with the emulator's mechanism (timerfd+epoll).
  local s0
  if [ -n "$BENCH_TIMER" ]; then
    log "timing[$key]: bare timerfd baseline, $TM_BANDS x 2 ms ${pre[*]}"
    s0=$(steal_ms)
    bounded "${key}_timer" "bench_timer" "${pre[@]}" "$BENCH_TIMER" --interval-us 2000 --count "$TM_BANDS" >"$OUT/$key.timer.log" 2>&1 ||
      log "bench_timer failed (see $OUT/$key.timer.log)"
    tr ' ' '\n' <"$OUT/$key.timer.log" | grep -E '^(p50_us|p99_us|max_us|drift_us)=' |
      sed "s/^/${key}_timer_/" >>"$RES"
    put "${key}_timer_steal_ms" "$(($(steal_ms) - s0))"
  fi
  log "timing[$key]: $TM_BANDS bands of 2 ms ($pages pages) on the real clock ${pre[*]}"
  rm -f "$OUT/$key.dev.jsonl" "$OUT/$key.host.jsonl"
  s0=$(steal_ms)
  SCANEMU_PREFIX=("${pre[@]}")
  start_emu "$key" --device "$BFIX/profiles/bench-2ms.yaml" \
    --scenario "$BFIX/scenarios/bench-sheets.yaml" --seed "$SEED" --trace "$OUT/$key.dev.jsonl"
  SCANEMU_PREFIX=()
  local rc=0
  # A band leaves the device only into a bulk IN transfer the host has queued
  # (USB has no device-initiated sends), so the host runs under the same
  # prefix: otherwise a descheduled wiascan shows up as device lateness.
  bounded "$key" "wiascan (timing pass $key)" "${pre[@]}" "$WIASCAN" \
    --transport "usbip://127.0.0.1:$EMU_PORT/1-1" --source adf --pages "$pages" \
    --mode gray --dpi 75 --seed "$SEED" --trace "$OUT/$key.host.jsonl" -o "$OUT/$key.tiff" \
    >"$OUT/$key.wiascan.log" 2>&1 || rc=$?
  stop_emu
  put "${key}_steal_ms" "$(($(steal_ms) - s0))"
  rm -f "$OUT/$key.tiff"
  [ "$rc" -eq 0 ] || { log "timing[$key]: wiascan failed ($rc), see $OUT/$key.wiascan.log"; return 0; }
  bounded "$key" "trace statistics ($key)" "$PY" "$TOOL" trace-stats "$OUT/$key.dev.jsonl" \
    --host "$OUT/$key.host.jsonl" >"$OUT/$key.stats" || { log "timing[$key]: trace-stats failed"; return 0; }
  sed "s/^/${key}_/" "$OUT/$key.stats" >>"$RES"
  local png="$OUT/$pngname"
  [ "${BENCH_DOCS:-0}" = "1" ] && png="$ROOT/docs/img/$pngname"
  mkdir -p "$(dirname "$png")"
  bounded "${key}_plot" "plot-timing.sh ($key)" "$ROOT/scripts/plot-timing.sh" "$OUT/$key.dev.jsonl" "$png" \
    "$OUT/$key.host.jsonl" >&2 || log "timing[$key]: plot failed"
  put "${key}_plot" "$png"
}

bench_timing() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "timing: scanemu/wiascan missing"; return 0; }
  timing_pass tm timing.png
  # The same with scanemu, wiascan and the bare timer at SCHED_FIFO priority, which
  # shows how much of the error is the shared machine's CPU scheduler.
  if [ "${BENCH_RT:-1}" = "1" ] && chrt -f 10 true 2>/dev/null; then
    timing_pass tmrt timing-fifo.png chrt -f 10
  fi
}

# ---- 3. scale -------------------------------------------------------------------------------

# scale_pass N KIND: N devices in one scanemu, N wiascan at once.
# KIND=tp: A4 colour, timing off (aggregate MB/s, RSS); KIND=tm: 2 ms bands on
# the real clock, traced (per-device p99 of late_ns and of emu_late_ns);
# KIND=tmns: the same with scanemu --slice-us 0 (the kernel's default slice
# instead of the 100 us the device threads ask for: what the slice buys).
# KIND=tmrt: the same with scanemu --realtime (its device threads at
# SCHED_FIFO 10; the wiascan processes stay at normal priority).
# median_of_passes STEM KEY FN ARGS...: FN ARGS run SC_REPEAT times, each
# writing its keys to a file of its own (RES points there meanwhile) and
# its files with the stem suffix PASS_SFX (.p1, .p2, ...); then the keys of
# the pass whose KEY is the median (lower middle) go into the results, with
# KEY_passes (every pass's KEY), and that pass's files STEM.p<m>.* are
# renamed to STEM.* (the other passes' stay, STEM.p<r>.*). A pass without KEY (it failed or timed out) is the one
# reported instead, so no failure hides behind a median.
median_of_passes() {
  local stem="$1" key="$2" main="$RES" r m files=() g
  shift 2
  if [ "$SC_REPEAT" -le 1 ]; then
    PASS_SFX="" "$@"
    return 0
  fi
  for r in $(seq 1 "$SC_REPEAT"); do
    RES="$OUT/$stem.p$r.env"
    : >"$RES"
    PASS_SFX=".p$r" "$@"
    RES="$main"
    files+=("$OUT/$stem.p$r.env")
  done
  m=$("$PY" "$TOOL" pick-median --into "$RES" "$key" "${files[@]}") || die "pick-median $key failed"
  for g in "$OUT/$stem.p$m".*; do
    [ -e "$g" ] && mv -f "$g" "$OUT/$stem${g#"$OUT/$stem.p$m"}"
  done
  return 0
}

scale_pass() {
  if [ "$2" = tp ]; then
    PASS_SFX="" scale_once "$@"
  else
    median_of_passes "$LD""sc$1$2" "${LD}sc$1_$2_per_device_p99_worst_us" scale_once "$@"
  fi
}

scale_once() {
  local n="$1" kind="$2" devs=() i pids=() rc=0 t0 t1 prof pages mode dpi
  if [ "$kind" = tp ]; then
    prof="$BFIX/profiles/bench-a4.yaml"; pages=$SC_PAGES; mode=color; dpi=300
  else
    prof="$BFIX/profiles/bench-2ms.yaml"; pages=$((SC_TM_BANDS / TM_BANDS_PER_PAGE)); mode=gray; dpi=75
  fi
  for i in $(seq 1 "$n"); do devs+=(--device "$prof"); done
  local f="$LD""sc$n$kind$PASS_SFX" key="$LD""sc$n$kind" # file stem; timeout key
  # The timed passes' hosts discard their pages (-o /dev/null: received,
  # checked, encoded, dropped, as the floor's hosts drop theirs): the tmpfs
  # page allocation of 32 TIFFs was a fifth of the hosts' CPU and none of it
  # the device's doing (docs/performance.md, session 7). The throughput
  # pass counts the bytes of its files, so it keeps them.
  local out="/dev/null"
  [ "$kind" = tp ] && out="$OUT/sc$n.{i}.tiff"
  local extra=(--no-timing)
  [ "$kind" = tm ] && extra=(--trace "$OUT/$f.dev.jsonl")
  [ "$kind" = tmrt ] && extra=(--trace "$OUT/$f.dev.jsonl" --realtime=10)
  [ "$kind" = tmns ] && extra=(--trace "$OUT/$f.dev.jsonl" --slice-us 0)
  rm -f "$OUT/$f.dev.jsonl"
  # --scenario and --seed before the first --device: every device's (after
  # one they would be that device's only, docs/emulator.md "Command line").
  start_emu "$f" --scenario "$BFIX/scenarios/bench-sheets.yaml" --seed "$SEED" "${devs[@]}" "${extra[@]}"
  case " ${BENCH_PERF:-} " in *" $key "*) perf_start "$f" "$EMU_PID" ;; esac
  local base_rss e0 e1 s0
  base_rss=$(rss_kb "$EMU_PID")
  e0=$(cpu_s "$EMU_PID")
  s0=$(steal_ms)
  t0=$(now_ns)
  # One benchtool for all the hosts: one Python interpreter per wiascan
  # cost the machine more CPU than the 32 wiascans' own start, while the
  # first devices were already scanning (docs/performance.md, issue 16).
  "$PY" "$TOOL" run-all --count "$n" --log "$OUT/$f.{i}.log" --timeout "$TMO" --results "$RES" \
    --key "$key" --label "a wiascan of $n ($LD$kind pass)" --log-fd 3 --times "$OUT/$f.hosts.times" \
    -- "$WIASCAN" --transport "usbip://127.0.0.1:$EMU_PORT/1-{i}" --source adf --pages "$pages" \
    --mode "$mode" --dpi "$dpi" --seed "$SEED" -o "$out" &
  pids+=($!)
  OUR_PIDS+=("${pids[@]}")
  wait "${pids[0]}" || rc=$?
  t1=$(now_ns)
  put "${LD}sc${n}_${kind}_steal_ms" "$(($(steal_ms) - s0))"
  e1=$(cpu_s "$EMU_PID")
  local hwm
  hwm=$(hwm_kb "$EMU_PID")
  perf_stop
  stop_emu
  if [ "$rc" -ne 0 ]; then
    log "scale: a wiascan failed with $n devices ($LD$kind), see $OUT/$f.*.log"
    return 0
  fi
  if [ "$kind" = tp ]; then
    local bytes=0 f
    for f in "$OUT/sc$n".*.tiff; do bytes=$((bytes + $(file_bytes "$f"))); done
    local secs
    secs=$(calc "($t1 - $t0) / 1e9")
    put "sc${n}_bytes" "$bytes"
    put "sc${n}_seconds" "$secs"
    put "sc${n}_MBps" "$(calc "$bytes / 1e6 / $secs")"
    put "sc${n}_emu_idle_rss_kb" "$base_rss"
    put "sc${n}_emu_hwm_kb" "$hwm"
  else
    bounded "$key" "trace statistics ($n devices, $LD$kind)" "$PY" "$TOOL" trace-stats \
      "$OUT/$f.dev.jsonl" --per-busid >"$OUT/$f.stats" ||
      { log "scale: trace-stats failed ($n devices, $LD$kind)"; return 0; }
    grep -E '^(devices|per_device_(emu_)?p99_(median|worst)_us|(emu_)?late_p99_us|starved_bands|bands)=' \
      "$OUT/$f.stats" | sed "s/^/${LD}sc${n}_${kind}_/" >>"$RES"
    put "${LD}sc${n}_${kind}_emu_hwm_kb" "$hwm"
    # CPU per band: scanemu's, and its hosts' (start and exit included)
    local nb
    nb=$(sed -n 's/^bands=//p' "$OUT/$f.stats")
    if [ -n "$nb" ] && [ "$nb" -gt 0 ]; then
      put "${LD}sc${n}_${kind}_emu_cpu_us_per_band" "$(calc "($e1 - $e0) * 1e6 / $nb")"
      put "${LD}sc${n}_${kind}_hosts_cpu_us_per_band" "$(calc "$(tval "$OUT/$f.hosts.times" cpu_s) * 1e6 / $nb")"
    fi
    # scanemu's own timing report (job_end records): jobs it would call NOT FAITHFUL.
    put "${LD}sc${n}_${kind}_jobs_emu_beyond" "$(grep -c '"kind":"job_end".*"beyond_emu":[1-9]' "$OUT/$f.dev.jsonl" || true)"
    [ "$kind" = tmrt ] && put "${LD}sc${n}_tmrt_log" "$(grep -- '--realtime' "$OUT/$f.emu.log" | head -n1)"
  fi
  rm -f "$OUT/sc$n".*.tiff
}

# stream_pass N: the floor under scale_pass N tm (bench/stream/bench_stream.c):
# N bare loopback streams at the same band rate and size, with the cheapest
# host, each host a process of its own as each wiascan is, in the same state
# (quiet, or loaded when LD=ld).
stream_pass() {
  median_of_passes "${LD}sc$1bare" "${LD}sc$1_bare_per_stream_p99_worst_us" stream_once "$@"
}

stream_once() {
  local n="$1" f="${LD}sc$1bare$PASS_SFX" key="${LD}sc$1bare"
  [ -n "$BENCH_STREAM" ] || return 0
  # as many messages as a device's bands: TM_BANDS_PER_PAGE full bands and
  # one short one a page; 5,900-byte band + 48-byte RET_SUBMIT header
  local s0
  s0=$(steal_ms)
  bounded "$key" "bench_stream ($n streams)" "$BENCH_STREAM" --streams "$n" --host-procs \
    --count $((SC_TM_BANDS / TM_BANDS_PER_PAGE * (TM_BANDS_PER_PAGE + 1))) --bytes 5948 \
    >"$OUT/$f.log" 2>&1 || { log "bench_stream failed (see $OUT/$f.log)"; return 0; }
  put "${LD}sc${n}_bare_steal_ms" "$(($(steal_ms) - s0))"
  local k v msgs
  for k in per_stream_p99_worst_us per_stream_p99_median_us starved device_cpu_s host_cpu_s count; do
    v=$(tr ' ' '\n' <"$OUT/$f.log" | sed -n "s/^$k=//p")
    [ -n "$v" ] || { log "bench_stream printed no $k (see $OUT/$f.log)"; return 0; }
    put "${LD}sc${n}_bare_$k" "$v"
  done
  msgs=$((n * $(tr ' ' '\n' <"$OUT/$f.log" | sed -n 's/^count=//p')))
  for k in device host; do
    v=$(tr ' ' '\n' <"$OUT/$f.log" | sed -n "s/^${k}_cpu_s=//p")
    put "${LD}sc${n}_bare_${k}_cpu_us_per_msg" "$(calc "$v * 1e6 / $msgs")"
  done
}

# The timed passes first, the A4 passes after them: 32 devices of A4 pages
# churn ~4 GB of memory (page buffers, TIFFs in tmpfs), and for about a
# minute after it the hypervisor steals the VM's CPUs (30-90 ms in a 2 s
# pass, against 0-10 ms before; docs/performance.md, session 7), which
# decided the 32-device verdict.
bench_scale() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "scale: scanemu/wiascan missing"; return 0; }
  local n
  for n in $SC_DEVICES; do
    log "scale: $n devices, 2 ms bands on the real clock ($SC_TM_BANDS bands each)"
    scale_pass "$n" tm
    log "scale: $n bare streams, the floor (bench_stream)"
    stream_pass "$n"
    case " $SC_RT_DEVICES " in
    *" $n "*)
      log "scale: $n devices, 2 ms bands, scanemu --slice-us 0 ($SC_TM_BANDS bands each)"
      scale_pass "$n" tmns
      log "scale: $n devices, 2 ms bands, scanemu --realtime ($SC_TM_BANDS bands each)"
      scale_pass "$n" tmrt
      ;;
    esac
  done
  for n in $SC_DEVICES; do
    log "scale: $n devices, timing off ($SC_PAGES A4 colour pages each)"
    scale_pass "$n" tp
  done
  put sc_devices "$SC_DEVICES"
}

# ---- loaded: the timing and scale passes again under CPU hogs --------------------------------

# perf_start NAME PID / perf_stop: `perf stat` of scanemu (PID) during the
# scale pass NAME when BENCH_PERF names it (e.g. BENCH_PERF="sc32tm ldsc32tm"):
# its CPU time, context switches and migrations, into $OUT/NAME.perf.
PERF_PID=
perf_start() {
  command -v perf >/dev/null || return 0
  perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$2" \
    -o "$OUT/$1.perf" 2>/dev/null &
  PERF_PID=$!
  OUR_PIDS+=("$PERF_PID")
}
perf_stop() {
  [ -n "$PERF_PID" ] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=
}

# The machine under a standard background load: stress-ng CPU hogs at normal
# priority (nice 0, SCHED_OTHER), one per CPU, for the whole pass; the bare
# timer baseline is measured under the same load (timing_pass runs it).
bench_loaded() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "loaded: scanemu/wiascan missing"; return 0; }
  command -v stress-ng >/dev/null || { log "loaded: stress-ng missing (scripts/bootstrap.sh); no loaded pass"; return 0; }
  local ncpu="${BENCH_LOAD_CPUS:-$(nproc)}" hog
  log "loaded: stress-ng --cpu $ncpu (normal priority) for the timing and scale passes"
  stress-ng --cpu "$ncpu" --cpu-method matrixprod --timeout 3600 --quiet &
  hog=$!
  OUR_PIDS+=("$hog")
  sleep 1
  put ld_stress "stress-ng --cpu $ncpu --cpu-method matrixprod"
  put ld_busy_pct "$(busy_pct 1)"
  timing_pass ldtm timing-loaded.png
  if [ "${BENCH_RT:-1}" = "1" ] && chrt -f 10 true 2>/dev/null; then
    timing_pass ldtmrt timing-fifo-loaded.png chrt -f 10
  fi
  LD=ld
  local n
  for n in $SC_DEVICES; do
    log "loaded scale: $n devices, 2 ms bands ($SC_TM_BANDS bands each)"
    scale_pass "$n" tm
    stream_pass "$n"
    case " $SC_RT_DEVICES " in
    *" $n "*)
      scale_pass "$n" tmns
      scale_pass "$n" tmrt
      ;;
    esac
  done
  LD=""
  kill "$hog" 2>/dev/null || true
  wait "$hog" 2>/dev/null || true
}

# ---- 4. long job ------------------------------------------------------------------------------

bench_long() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "long: scanemu/wiascan missing"; return 0; }
  log "long job: $LJ_PAGES pages 75 dpi gray through one device, timing off"
  rm -f "$OUT/lj.host.jsonl"
  start_emu lj --device "$BFIX/profiles/bench-a4.yaml" --scenario "$BFIX/scenarios/bench-sheets.yaml" \
    --seed "$SEED" --no-timing
  local rc=0 wpid go="$OUT/lj.go"
  rm -f "$OUT/lj.rss.csv"
  # wiascan waits on a FIFO until the RSS sampler runs, so page 10 is never missed.
  rm -f "$go"
  mkfifo "$go"
  (read -r _ <"$go"; exec "$WIASCAN" --transport "usbip://127.0.0.1:$EMU_PORT/1-1" --source adf \
    --pages "$LJ_PAGES" --mode gray --dpi 75 --seed "$SEED" --trace "$OUT/lj.host.jsonl" \
    -o "$OUT/lj.tiff") >"$OUT/lj.wiascan.log" 2>&1 &
  wpid=$!
  OUR_PIDS+=("$wpid")
  "$PY" "$TOOL" rss-watch --out "$OUT/lj.rss.csv" --progress "$OUT/lj.host.jsonl" \
    --pid "$wpid" --pid "$EMU_PID" --stop-on "$wpid" --interval-ms 10 &
  local watcher=$!
  OUR_PIDS+=("$watcher")
  local i
  for i in $(seq 1 500); do [ -s "$OUT/lj.rss.csv" ] && break; sleep 0.02; done
  # shellcheck disable=SC2016 # $1 is expanded by that sh
  timeout 10 sh -c 'echo go >"$1"' sh "$go" || log "long: could not release wiascan through $go"
  rm -f "$go"
  # wiascan is not started under timeout(1) here because rss-watch must sample
  # wiascan's own pid; the same bound is kept by polling.
  local start tmo_ns
  start=$(now_ns)
  tmo_ns=$(awk -v t="$TMO" 'BEGIN { printf "%d\n", t * 1e9 }')
  while alive "$wpid"; do
    if [ $(($(now_ns) - start)) -ge "$tmo_ns" ]; then
      put timeout_lj "wiascan (long job, killed after $TMO s)"
      log "long: wiascan timed out after $TMO s, killed; its rows say n/a (timed out)"
      kill -TERM "$wpid" 2>/dev/null || true
      for i in $(seq 1 50); do alive "$wpid" || break; sleep 0.1; done
      kill -KILL "$wpid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$wpid" || rc=$?
  # rss-watch stops by itself once wiascan is gone (--stop-on).
  timeout -k 5 30 tail --pid="$watcher" -f /dev/null || kill "$watcher" 2>/dev/null || true
  wait "$watcher" || true
  stop_emu
  [ "$rc" -eq 0 ] || { log "long: wiascan failed ($rc), see $OUT/lj.wiascan.log"; return 0; }
  # Bands per page from the host trace (page 0's bands).
  local bpp
  bpp=$(grep -c '"page":0,' "$OUT/lj.host.jsonl" || true)
  [ "$bpp" -gt 0 ] || bpp=1
  put lj_pages "$LJ_PAGES"
  put lj_bands_per_page "$bpp"
  bounded lj "rss-at" "$PY" "$TOOL" rss-at "$OUT/lj.rss.csv" --lines $((10 * bpp)) \
    --name "$wpid=lj_wiascan" --name "$EMU_PID=lj_emu" >>"$RES" || log "long: rss-at failed"
  put lj_tiff_bytes "$(file_bytes "$OUT/lj.tiff")"
  rm -f "$OUT/lj.tiff"
}

# ---- 5. writer and synthesis ratios -----------------------------------------------------------------

bench_ratios() {
  if [ -n "$BENCH_WIAS" ]; then
    local wp=10
    [ "$QUICK" = "1" ] && wp=3
    log "ratios: bench_wias ($wp pages)"
    if bounded wias bench_wias "$BENCH_WIAS" "$wp" "$OUT" >"$OUT/wias.log" 2>&1; then
      # rows: target TIFF-bytes baseline-MB/s wias-MB/s wall-ratio CPU-ratio
      awk '$1 == "file" { print "wias_file_MBps=" $4; print "wias_file_base_MBps=" $3;
                          print "wias_file_ratio=" $5; print "wias_file_cpu_ratio=" $6 }
           $1 == "memory" { print "wias_mem_MBps=" $4; print "wias_mem_base_MBps=" $3;
                            print "wias_mem_ratio=" $5 }' "$OUT/wias.log" >>"$RES"
      put wias_target "$(sed -n 's/.*target \(>= *[0-9.]*\).*/\1/p' "$OUT/wias.log" | head -n1)"
    else
      log "bench_wias failed (see $OUT/wias.log)"
    fi
  fi
  if [ -n "$BENCH_SYNTH" ]; then
    log "ratios: bench_synth"
    if bounded synth bench_synth "$BENCH_SYNTH" >"$OUT/synth.log" 2>&1; then
      put synth_MBps "$(sed -n 's/^dm_synth_band: *\([0-9.]*\) MB\/s.*/\1/p' "$OUT/synth.log")"
      put synth_memset_MBps "$(sed -n 's/^memset: *\([0-9.]*\) MB\/s.*/\1/p' "$OUT/synth.log")"
      put synth_ratio "$(sed -n 's/^ratio synth\/memset: *\([0-9.]*\).*/\1/p' "$OUT/synth.log")"
    else
      log "bench_synth failed (see $OUT/synth.log)"
    fi
  fi
}

# busy_pct SECONDS: share of all CPUs busy (not idle/iowait) over a window in
# which this script runs nothing: how loaded the shared machine is.
busy_pct() { "$PY" "$TOOL" busy "$1"; }

# ---- 6. eSCL (issue 12, section 4) -------------------------------------------------------------------
#
# The eSCL front against the native path and the SANE test backend, measured
# in the same rounds, and its band release lateness against the bare timer.
# Runs whenever BENCH_ONLY is unset or names "escl". Its own environment:
#   BENCH_ESCL=0              skip this section
#   BENCH_ESCL_RUNS=N         timed rounds (default 5; quick 3), after one
#                             warm-up round; medians reported
#   BENCH_ESCL_LEVELS="1 0"   scanemu --png-level of the eSCL passes, one
#                             scanemu each; the first (1, scanemu's default)
#                             carries the targets, the others are reported
# Each round runs, one after the other and against the same scanemu (both
# fronts): wiascan over usbip (native), scanimage -d test (SANE test
# backend), and per level scanimage through sane-airscan and
# bench_escl_client. Rows E1-E3 of the eSCL table (bench/tools/benchrows.py).

escl_wanted() {
  [ "${BENCH_ESCL:-1}" = "1" ] || return 1
  case " ${BENCH_ONLY:-escl} " in *" escl "*) return 0 ;; *) return 1 ;; esac
}

ESCL_CLIENT=""

escl_build() {
  if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    log "build bench_escl_client"
    cmake --build "$BUILD" -j "$JOBS" --target bench_escl_client >>"$OUT/build.log" 2>&1 ||
      log "target bench_escl_client did not build (see $OUT/build.log); its rows will say n/a"
  fi
  ESCL_CLIENT="$(find "$BUILD" -type f -name bench_escl_client -perm -u+x | head -n1)"
}

# escl_start NAME ARGS...: start_emu with an eSCL listener too; sets EMU_PID,
# EMU_PORT and ESCL_PORT.
escl_start() {
  local name="$1" pf="$OUT/$1.escl.port" i
  shift
  rm -f "$pf"
  start_emu "$name" --escl-listen 127.0.0.1:0 --escl-port-file "$pf" "$@"
  for i in $(seq 1 500); do
    if [ -s "$pf" ]; then
      ESCL_PORT="$(tr -dc '0-9' <"$pf")"
      [ -n "$ESCL_PORT" ] && return 0
    fi
    sleep 0.02
  done
  die "scanemu wrote no eSCL port file within 10 s (see $OUT/$name.emu.log)"
}

# escl_idle PORT: wait (up to 5 s) until the scanner says Idle, so that the
# next command of a round does not find it busy with the last one's job.
escl_idle() {
  "$ESCL_CLIENT" --port "$1" --wait-idle 5 >/dev/null 2>&1 || log "escl: scanner on port $1 not Idle after 5 s"
}

# escl_sane_conf DIR PORT: a SANE_CONFIG_DIR with one static sane-airscan
# device, discovery off (docs/escl.md, host-tests/escl/escl_clients.py).
escl_sane_conf() {
  mkdir -p "$1"
  printf '[devices]\n"scanemu" = http://127.0.0.1:%s/eSCL, eSCL\n\n[options]\ndiscovery = disable\nws-discovery = off\n' \
    "$2" >"$1/airscan.conf"
  printf 'airscan\nescl\n' >"$1/dll.conf"
  # libsane1's escl backend dereferences a missing escl.conf (docs/escl.md).
  if [ -f /etc/sane.d/escl.conf ]; then cp /etc/sane.d/escl.conf "$1/"; else : >"$1/escl.conf"; fi
}

# escl_timed KEY RUN EMUPID CMD...: runs CMD under timed; on success appends
# wall seconds, client CPU and scanemu CPU to the arrays named KEY_secs,
# KEY_ccpu, KEY_ecpu (run 0 is the warm-up: not appended). Returns CMD's
# status.
escl_timed() {
  local key="$1" run="$2" epid="$3" e0 e1 rc=0 tt
  shift 3
  tt="$OUT/es.$key.times"
  e0=$(cpu_s "$epid")
  timed "es_$key" "$key (eSCL round $run)" "$tt" "$@" >"$OUT/es.$key.log" 2>&1 || rc=$?
  e1=$(cpu_s "$epid")
  [ "$rc" -eq 0 ] || return "$rc"
  [ "$run" -eq 0 ] && return 0
  eval "${key}_secs+=(\"\$(tval \"\$tt\" wall_s)\")"
  eval "${key}_ccpu+=(\"\$(tval \"\$tt\" cpu_s)\")"
  eval "${key}_ecpu+=(\"\$(calc \"\$e1 - \$e0\")\")"
  return 0
}

# escl_put KEY BYTES: medians of KEY's arrays into results.env as es_KEY_*.
escl_put() {
  local key="$1" bytes="$2" n med
  eval "n=\${#${key}_secs[@]}"
  [ "$n" -gt 0 ] || return 0
  eval "med=\$(median \"\${${key}_secs[@]}\")"
  put "es_${key}_seconds" "$med"
  eval "put es_${key}_runs_seconds \"\${${key}_secs[*]}\""
  eval "put es_${key}_client_cpu_s \"\$(median \"\${${key}_ccpu[@]}\")\""
  eval "put es_${key}_emu_cpu_s \"\$(median \"\${${key}_ecpu[@]}\")\""
  put "es_${key}_bytes" "$bytes"
  put "es_${key}_MBps" "$(calc "$bytes / 1e6 / $med")"
}

bench_escl_throughput() {
  local pages="$TP_PAGES" runs="${BENCH_ESCL_RUNS:-5}" levels="${BENCH_ESCL_LEVELS:-1 0}"
  [ "$QUICK" = "1" ] && runs="${BENCH_ESCL_RUNS:-3}"
  case "$runs" in *[!0-9]* | "" | 0) die "BENCH_ESCL_RUNS must be a positive number" ;; esac
  command -v scanimage >/dev/null || log "escl: scanimage missing (apt-get install sane-utils): SANE rows n/a"
  log "escl: $pages A4 300-dpi colour pages, timing off, PNG levels $levels, $runs rounds after a warm-up"
  # The feeder holds exactly the job's sheets, so the plain client ends at
  # the 404 after the last page, as a client that scans "everything" does.
  local scen="$OUT/escl-sheets.yaml" lv pids=() ports=() natport=""
  printf 'name: escl-bench\ndescription: %s sheets, no faults (bench.sh eSCL rows)\nsheets: %s\n' \
    "$pages" "$pages" >"$scen"
  for lv in $levels; do
    escl_start "es$lv" --device "$BFIX/profiles/bench-a4.yaml" --scenario "$scen" --seed "$SEED" \
      --no-timing --png-level "$lv"
    pids+=("$EMU_PID")
    ports+=("$ESCL_PORT")
    [ -n "$natport" ] || natport="$EMU_PORT"
    escl_sane_conf "$OUT/es$lv.sane" "$ESCL_PORT"
  done
  local natpid="${pids[0]}" run i rc bytes_nat=0 bytes_sane=0 sane_hung=0
  # shellcheck disable=SC2034  # filled by escl_timed through their names
  local -a native_secs=() native_ccpu=() native_ecpu=() sane_secs=() sane_ccpu=() sane_ecpu=()
  for lv in $levels; do
    eval "local -a air$lv""_secs=() air$lv""_ccpu=() air$lv""_ecpu=() http$lv""_secs=() http$lv""_ccpu=() http$lv""_ecpu=()"
  done
  local -A bytes_air=() bytes_http=() png_http=() failed=()
  for run in $(seq 0 "$runs"); do
    log "escl: round $run of $runs$([ "$run" -eq 0 ] && echo ' (warm-up)')"
    # Native: wiascan over usbip, TIFF on tmpfs (as row 1a).
    escl_idle "${ports[0]}"
    rm -f "$OUT/es.native.tiff"
    if [ -z "${failed[native]:-}" ]; then
      escl_timed native "$run" "$natpid" "$WIASCAN" --transport "usbip://127.0.0.1:$natport/1-1" \
        --source adf --pages "$pages" --mode color --dpi 300 --seed "$SEED" -o "$OUT/es.native.tiff" ||
        { failed[native]=1; log "escl: wiascan failed (see $OUT/es.native.log)"; }
      [ -f "$OUT/es.native.tiff" ] && bytes_nat=$(file_bytes "$OUT/es.native.tiff")
      rm -f "$OUT/es.native.tiff"
    fi
    # SANE test backend, per MB of TIFF (as row 1b). scanimage -d test now
    # and then never exits (row 1b): a run not over in 30 s is killed and
    # left out.
    if command -v scanimage >/dev/null && [ -z "${failed[sane]:-}" ]; then
      rm -rf "$OUT/es-sane" && mkdir -p "$OUT/es-sane"
      rc=0
      TMO=$((TMO < 30 ? TMO : 30)) escl_timed sane "$run" "$natpid" scanimage -d test --mode Color \
        --resolution 300 --format=tiff -x 200 -y 200 --test-picture "Color pattern" \
        --batch="$OUT/es-sane/p%04d.tif" --batch-count="$pages" || rc=$?
      if [ "$rc" -eq 0 ]; then
        bytes_sane=$(cat "$OUT/es-sane"/p*.tif | wc -c)
      elif [ "$rc" -eq 124 ]; then
        sane_hung=$((sane_hung + 1))
        sed -i '/^timeout_es_sane=/d' "$RES"
      else
        failed[sane]=1
        log "escl: scanimage -d test failed ($rc, see $OUT/es.sane.log)"
      fi
      rm -rf "$OUT/es-sane"
    fi
    local k=0
    for lv in $levels; do
      local port="${ports[$k]}" epid="${pids[$k]}"
      k=$((k + 1))
      # sane-airscan through Debian's scanimage, TIFF on tmpfs.
      if command -v scanimage >/dev/null && [ -z "${failed[air$lv]:-}" ]; then
        escl_idle "$port"
        rm -rf "$OUT/es-air" && mkdir -p "$OUT/es-air"
        SANE_CONFIG_DIR="$OUT/es$lv.sane" LC_ALL=C escl_timed "air$lv" "$run" "$epid" scanimage \
          -d airscan:e0:scanemu --source ADF --mode Color --resolution 300 --format=tiff \
          --batch="$OUT/es-air/p%04d.tif" --batch-count="$pages" ||
          { failed[air$lv]=1; log "escl: scanimage (airscan, level $lv) failed (see $OUT/es.air$lv.log)"; }
        if [ "$(find "$OUT/es-air" -name 'p*.tif' | wc -l)" -ne "$pages" ] && [ -z "${failed[air$lv]:-}" ]; then
          failed[air$lv]=1
          log "escl: scanimage (airscan, level $lv) wrote $(find "$OUT/es-air" -name 'p*.tif' | wc -l) pages, not $pages"
        fi
        bytes_air[$lv]=$(cat "$OUT/es-air"/p*.tif 2>/dev/null | wc -c)
        rm -rf "$OUT/es-air"
      fi
      # The plain HTTP client: PNG pages into files on tmpfs, no decoding.
      if [ -n "$ESCL_CLIENT" ] && [ -z "${failed[http$lv]:-}" ]; then
        escl_idle "$port"
        rm -rf "$OUT/es-http" && mkdir -p "$OUT/es-http"
        escl_timed "http$lv" "$run" "$epid" "$ESCL_CLIENT" --port "$port" --source Feeder --mode RGB24 \
          --dpi 300 --width 0 --height 0 --out "$OUT/es-http" ||
          { failed[http$lv]=1; log "escl: bench_escl_client (level $lv) failed (see $OUT/es.http$lv.log)"; }
        if [ -z "${failed[http$lv]:-}" ]; then
          bytes_http[$lv]=$(sed -n 's/^bench_escl_client .*raw_bytes=\([0-9]*\).*/\1/p' "$OUT/es.http$lv.log")
          png_http[$lv]=$(sed -n 's/^bench_escl_client .*body_bytes=\([0-9]*\).*/\1/p' "$OUT/es.http$lv.log")
          [ "$(sed -n 's/^bench_escl_client pages=\([0-9]*\).*/\1/p' "$OUT/es.http$lv.log")" = "$pages" ] ||
            { failed[http$lv]=1; log "escl: bench_escl_client (level $lv) got fewer than $pages pages"; }
        fi
        rm -rf "$OUT/es-http"
      fi
    done
  done
  put es_emu_hwm_kb "$(hwm_kb "$natpid")"
  for i in "${pids[@]}"; do EMU_PID="$i"; stop_emu; done
  put es_pages "$pages"
  put es_runs "$runs"
  put es_levels "$levels"
  put es_sane_hung_runs "$sane_hung"
  [ -z "${failed[native]:-}" ] && escl_put native "$bytes_nat"
  [ -z "${failed[sane]:-}" ] && escl_put sane "$bytes_sane"
  for lv in $levels; do
    [ -z "${failed[air$lv]:-}" ] && escl_put "air$lv" "${bytes_air[$lv]:-0}"
    if [ -z "${failed[http$lv]:-}" ]; then
      escl_put "http$lv" "${bytes_http[$lv]:-0}"
      put "es_http${lv}_png_bytes" "${png_http[$lv]:-0}"
    fi
  done
}

# eSCL band release lateness: the 2 ms profile of the timing rows (timing on,
# --trace), pages pulled by bench_escl_client as fast as they come, against
# the bare timerfd baseline measured just before, as timing_pass does. A band
# counts as released when its chunk is queued to leave; the front encodes it
# before its deadline when it can (dm_escl_config.encode_ahead), else then.
bench_escl_timing() {
  local pages=$((TM_BANDS / TM_BANDS_PER_PAGE)) rc=0
  [ -n "$ESCL_CLIENT" ] || { log "escl timing: bench_escl_client missing"; return 0; }
  if [ -n "$BENCH_TIMER" ]; then
    log "escl timing: bare timerfd baseline, $TM_BANDS x 2 ms"
    bounded estm_timer "bench_timer (eSCL timing)" "$BENCH_TIMER" --interval-us 2000 --count "$TM_BANDS" \
      >"$OUT/estm.timer.log" 2>&1 || log "bench_timer failed (see $OUT/estm.timer.log)"
    tr ' ' '\n' <"$OUT/estm.timer.log" | grep -E '^(p50_us|p99_us|max_us|drift_us)=' |
      sed "s/^/estm_timer_/" >>"$RES"
  fi
  log "escl timing: $pages pages of 2 ms bands through eSCL (PNG level ${BENCH_ESCL_TM_LEVEL:-1}) on the real clock"
  rm -f "$OUT/estm.dev.jsonl"
  escl_start estm --device "$BFIX/profiles/bench-2ms.yaml" --scenario "$BFIX/scenarios/bench-sheets.yaml" \
    --seed "$SEED" --trace "$OUT/estm.dev.jsonl" --png-level "${BENCH_ESCL_TM_LEVEL:-1}"
  bounded estm "bench_escl_client (eSCL timing)" "$ESCL_CLIENT" --port "$ESCL_PORT" --source Feeder \
    --mode Grayscale8 --dpi 75 --width 0 --height 0 --pages "$pages" --discard >"$OUT/estm.client.log" 2>&1 || rc=$?
  stop_emu
  [ "$rc" -eq 0 ] || { log "escl timing: bench_escl_client failed ($rc), see $OUT/estm.client.log"; return 0; }
  bounded estm "trace statistics (eSCL timing)" "$PY" "$TOOL" trace-stats "$OUT/estm.dev.jsonl" \
    >"$OUT/estm.stats" || { log "escl timing: trace-stats failed"; return 0; }
  sed "s/^/estm_/" "$OUT/estm.stats" >>"$RES"
  put estm_pages "$pages"
  put estm_png_level "${BENCH_ESCL_TM_LEVEL:-1}"
  # The native path in the same minutes (row 2a's pass, without the host
  # trace): the eSCL figure against what the USB front does right now.
  log "escl timing: the same pages through the native front (wiascan), same minutes"
  rm -f "$OUT/estmn.dev.jsonl"
  start_emu estmn --device "$BFIX/profiles/bench-2ms.yaml" --scenario "$BFIX/scenarios/bench-sheets.yaml" \
    --seed "$SEED" --trace "$OUT/estmn.dev.jsonl"
  rc=0
  bounded estmn "wiascan (eSCL timing, native)" "$WIASCAN" --transport "usbip://127.0.0.1:$EMU_PORT/1-1" \
    --source adf --pages "$pages" --mode gray --dpi 75 --seed "$SEED" -o "$OUT/estmn.tiff" \
    >"$OUT/estmn.wiascan.log" 2>&1 || rc=$?
  stop_emu
  rm -f "$OUT/estmn.tiff"
  [ "$rc" -eq 0 ] || { log "escl timing: wiascan failed ($rc), see $OUT/estmn.wiascan.log"; return 0; }
  bounded estmn "trace statistics (eSCL timing, native)" "$PY" "$TOOL" trace-stats "$OUT/estmn.dev.jsonl" \
    >"$OUT/estmn.stats" || { log "escl timing: trace-stats (native) failed"; return 0; }
  sed "s/^/estmn_/" "$OUT/estmn.stats" >>"$RES"
}

bench_escl() {
  [ -n "$SCANEMU" ] && [ -n "$WIASCAN" ] || { log "escl: scanemu/wiascan missing"; return 0; }
  escl_build
  [ -n "$ESCL_CLIENT" ] || log "escl: bench_escl_client missing: plain-client and timing rows n/a"
  bench_escl_throughput
  bench_escl_timing
}

# ---- main --------------------------------------------------------------------------------------------

mkdir -p "$OUT"
: >"$RES"
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put host "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
put quick "$QUICK"
put ncpu "$(nproc)"
put commit "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
build
put busy_before_pct "$(busy_pct 2)"
put load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
# The real-clock passes come before the ones that move gigabytes (see
# bench_scale): timing and the scale section's timed passes, then the
# throughput passes.
want timing && bench_timing
want scale && bench_scale
want throughput && { bench_throughput; bench_sane; }
escl_wanted && bench_escl
want long && bench_long
want ratios && bench_ratios
[ "${BENCH_LOADED:-1}" = "1" ] && want loaded && bench_loaded
put busy_after_pct "$(busy_pct 2)"
"$PY" "$TOOL" table "$RES" | tee "$OUT/table.md"
