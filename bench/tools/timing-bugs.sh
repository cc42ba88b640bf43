#!/usr/bin/env bash
# The three timing bugs of docs/timing-bugs.md, each run RUNS times (default
# 20) with the buggy and with the fixed driver against scanemu
# --strict-timing, on the real clock. Prints one table: how many runs
# reproduced the bug (or, for the fixed driver, did not), and the fidelity
# verdict of every run's job. Not a test (the tests are test_dm_timing_bugs,
# test_emu_timing_bug_warmup and test_emu_timing_bug_event).
#
#   bench/tools/timing-bugs.sh BUILD_DIR EVENT_RACE_HOST [RUNS] [OUTDIR]
#
# BUILD_DIR has emulator/scanemu and driver/wiascan; EVENT_RACE_HOST is the
# test client of bug 3 (host-tests/emulator/event_race_host in a tree built
# with tests). OUTDIR (default a new directory under /dev/shm) keeps the
# traces and logs; BUG1_PLOT=1 also draws case 1's traces with
# scripts/plot-timing.sh into OUTDIR.
set -euo pipefail
BUILD=${1:?usage: timing-bugs.sh BUILD_DIR EVENT_RACE_HOST [RUNS] [OUTDIR]}
RACE=${2:?usage: timing-bugs.sh BUILD_DIR EVENT_RACE_HOST [RUNS] [OUTDIR]}
RUNS=${3:-20}
OUT=${4:-$(mktemp -d /dev/shm/scanemu-bugs.XXXXXX)}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCANEMU="$BUILD/emulator/scanemu"
WIASCAN="$BUILD/driver/wiascan"
SC="$ROOT/fixtures/scenarios"
mkdir -p "$OUT"
EMU_PID=
trap 'if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait 2>/dev/null || true; fi' EXIT

start_emu() { # NAME SCENARIO
  rm -f "$OUT/$1.port"
  "$SCANEMU" --listen 127.0.0.1:0 --port-file "$OUT/$1.port" --strict-timing \
    --scenario "$2" --trace "$OUT/$1.jsonl" 2>"$OUT/$1.log" &
  EMU_PID=$!
  for _ in $(seq 200); do [ -s "$OUT/$1.port" ] && break; sleep 0.05; done
  PORT=$(cat "$OUT/$1.port")
}
stop_emu() {
  kill -TERM "$EMU_PID"
  wait "$EMU_PID" || true
  EMU_PID=
}
# verdicts NAME: the verdict of each job_end record, one per line.
verdicts() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("kind") == "job_end":
        print(r["verdict"], r["starved"], r["beyond_emu"], r["late_max_ns"], r["emu_max_ns"])
' "$OUT/$1.jsonl"; }

echo "timing-bugs: $RUNS runs per driver, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# 1. One bulk IN transfer in flight at a fast band rate. Reproduced when the
# device trace shows starved bands (the host had no transfer queued).
for drv in buggy fixed; do
  start_emu "bug1-$drv" "$SC/timing-in-flight.yaml"
  flight=4
  [ "$drv" = buggy ] && flight=1
  for i in $(seq "$RUNS"); do
    timeout 60 "$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --mode bw --dpi 75 \
      --size 620x256 --pages 20 --in-flight "$flight" --trace "$OUT/bug1-$drv.host$i.jsonl" -q \
      -o "$OUT/bug1.tiff" || echo "bug1 $drv run $i: wiascan exit $?"
  done
  stop_emu
done

# 2. A response timeout shorter than the lamp warm-up. Reproduced when
# wiascan fails with WIA_ERROR_WARMING_UP (exit 7).
for drv in buggy fixed; do
  start_emu "bug2-$drv" "$SC/timing-lamp-warmup.yaml"
  wmax=10000
  [ "$drv" = buggy ] && wmax=1000
  : >"$OUT/bug2-$drv.exits"
  for i in $(seq "$RUNS"); do
    st=0
    timeout 60 "$WIASCAN" --transport "usbip://127.0.0.1:$PORT/1-1" --pages 3 --mode gray \
      --dpi 75 --timeout 1000 --warmup-max "$wmax" -q -o "$OUT/bug2.tiff" 2>>"$OUT/bug2-$drv.err" ||
      st=$?
    echo "$st" >>"$OUT/bug2-$drv.exits"
  done
  stop_emu
done

# 3. An interrupt IN event racing the last band. Reproduced when the driver
# never saw the BUTTON event.
for drv in buggy fixed; do
  start_emu "bug3-$drv" "$SC/timing-event-last-band.yaml"
  drain=0
  [ "$drv" = fixed ] && drain=200
  : >"$OUT/bug3-$drv.out"
  for i in $(seq "$RUNS"); do
    timeout 60 "$RACE" "$PORT" 1-1 3 "$drain" >>"$OUT/bug3-$drv.out" || echo "bug3 $drv run $i failed"
  done
  stop_emu
done

python3 - "$OUT" "$RUNS" <<'EOF'
import json, sys
out, runs = sys.argv[1], int(sys.argv[2])

def jobs(name):
    res = []
    for l in open(f"{out}/{name}.jsonl"):
        r = json.loads(l)
        if r.get("kind") == "job_end":
            res.append(r)
    return res

def verdicts(js):
    f = sum(1 for j in js if j["verdict"] == "faithful")
    n = sum(1 for j in js if j["verdict"] == "not_faithful")
    worst = max((j["emu_max_ns"] for j in js), default=0) / 1e3
    return f"{f} faithful, {n} NOT FAITHFUL (worst emulator share {worst:,.0f} us)"

print()
print("| bug | driver | command | reproduced | fidelity verdicts of the runs' jobs |")
print("|---|---|---|---|---|")
for drv, flight in (("buggy", 1), ("fixed", 4)):
    js = jobs(f"bug1-{drv}")
    starved = [j["starved"] for j in js]
    rep = sum(1 for s in starved if s > 0)
    what = (f"{rep}/{len(js)} runs with starved bands (starved per run: "
            f"{min(starved)}-{max(starved)} of {js[0]['bands']})") if js else "no job"
    print(f"| 1 in flight | {drv} | `wiascan --in-flight {flight}` | {what} | {verdicts(js)} |")
for drv, wmax in (("buggy", 1000), ("fixed", 10000)):
    ex = [int(x) for x in open(f"{out}/bug2-{drv}.exits").read().split()]
    js = jobs(f"bug2-{drv}")
    rep = sum(1 for e in ex if e == 7)
    ok = sum(1 for e in ex if e == 0)
    v = verdicts(js) if js else "no job started (START_JOB refused with WARMING_UP each time)"
    print(f"| 2 warm-up | {drv} | `wiascan --timeout 1000 --warmup-max {wmax}` | "
          f"{rep}/{len(ex)} WIA_ERROR_WARMING_UP, {ok}/{len(ex)} scanned | {v} |")
for drv, drain in (("buggy", 0), ("fixed", 200)):
    lines = [l for l in open(f"{out}/bug3-{drv}.out") if "END_OF_JOB" in l]
    missed = sum(1 for l in lines if l.rstrip().endswith("0 events seen"))
    js = jobs(f"bug3-{drv}")
    print(f"| 3 event race | {drv} | `event_race_host PORT 1-1 3 {drain}` | {missed}/{len(lines)} "
          f"runs never saw the BUTTON event | {verdicts(js)} |")
EOF
if [ "${BUG1_PLOT:-0}" = 1 ]; then
  python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
# The first run of each driver: its band records only (the trace holds all runs).
for drv in ("buggy", "fixed"):
    cur, first = [], None
    for l in open(f"{out}/bug1-{drv}.jsonl"):
        r = json.loads(l)
        if r.get("kind") == "job_end":
            first = cur
            break
        cur.append(l)
    open(f"{out}/bug1-{drv}.run1.jsonl", "w").writelines(first or [])
EOF
  for drv in buggy fixed; do
    "$ROOT/scripts/plot-timing.sh" "$OUT/bug1-$drv.run1.jsonl" "$OUT/bug1-$drv.png" \
      "$OUT/bug1-$drv.host1.jsonl" >/dev/null 2>&1 || echo "plot of bug 1 ($drv) failed"
  done
fi
echo
echo "timing-bugs: traces and logs in $OUT"
