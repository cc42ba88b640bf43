#!/usr/bin/env bash
# How late does the emulator itself release bands, job by job, on this
# machine: the measurement behind the default --late-tolerance-us
# (docs/performance.md, "Choosing the lateness tolerance"). Not a test.
#
#   bench/tools/tolerance.sh BUILD_DIR [JOBS] [BANDS]
#
# Runs JOBS (default 20) jobs of BANDS (default 500) 2 ms bands
# (bench-2ms.yaml) through wiascan, first on the machine as it is, then with
# stress-ng CPU hogs at normal priority on every core, and prints, per pass,
# the distribution of each job's largest emulator share of lateness
# (emu_late_ns) and how many jobs a tolerance T would call NOT FAITHFUL.
set -euo pipefail
BUILD=${1:?usage: tolerance.sh BUILD_DIR [JOBS] [BANDS]}
JOBS=${2:-20}
BANDS=${3:-500}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCANEMU="$BUILD/emulator/scanemu"
WIASCAN="$BUILD/driver/wiascan"
OUT=$(mktemp -d /dev/shm/scanemu-tol.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

pass() { # NAME
  local name=$1 pid port
  rm -f "$OUT/port"
  "$SCANEMU" --listen 127.0.0.1:0 --port-file "$OUT/port" -q \
    --device "$ROOT/bench/fixtures/profiles/bench-2ms.yaml" \
    --scenario "$ROOT/bench/fixtures/scenarios/bench-sheets.yaml" --trace "$OUT/$name.jsonl" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.05; done
  port=$(cat "$OUT/port")
  for _ in $(seq "$JOBS"); do
    timeout 120 "$WIASCAN" --transport "usbip://127.0.0.1:$port/1-1" --source adf \
      --pages $((BANDS / 10)) --mode gray --dpi 75 -q -o "$OUT/x.tiff"
  done
  kill -TERM "$pid"
  wait "$pid" || true
}

echo "tolerance: $JOBS jobs of $BANDS bands of 2 ms, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
pass quiet
command -v stress-ng >/dev/null || { echo "tolerance: stress-ng missing (scripts/bootstrap.sh)"; exit 1; }
stress-ng --cpu "$(nproc)" --cpu-method matrixprod --timeout 600 --quiet &
PIDS+=("$!")
sleep 1
pass loaded
python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
for name in ("quiet", "loaded"):
    jobs, cur = [], []
    for line in open(f"{out}/{name}.jsonl"):
        r = json.loads(line)
        if r.get("kind") == "job_end":
            jobs.append(cur); cur = []
        elif r.get("kind") is None and r.get("emu_late_ns") is not None and r["bytes"] > 0:
            cur.append(r["emu_late_ns"])
    mx = sorted(max(j) / 1e3 for j in jobs if j)
    allv = sorted(v / 1e3 for j in jobs for v in j)
    p = lambda v, q: v[max(0, -(-len(v) * q // 100) - 1)]
    print(f"{name}: {len(jobs)} jobs, {len(allv)} bands; emulator share p50/p99/p99.9 over all "
          f"bands {p(allv, 50):.0f}/{p(allv, 99):.0f}/{allv[int(len(allv) * 0.999)]:.0f} us; "
          f"per-job maximum min/median/max {mx[0]:.0f}/{mx[len(mx) // 2]:.0f}/{mx[-1]:.0f} us")
    print(f"  per-job maxima (us): {' '.join(f'{v:.0f}' for v in mx)}")
    for t in (250, 500, 1000, 2000, 5000):
        print(f"  T = {t:5d} us: {sum(1 for v in mx if v > t):2d} of {len(mx)} jobs NOT FAITHFUL")
EOF
