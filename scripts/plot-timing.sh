#!/usr/bin/env bash
# Plot timing fidelity from a scanemu trace (docs/emulator.md, "Trace"):
#   scripts/plot-timing.sh TRACE.jsonl OUT.png [HOST_TRACE.jsonl] [BUSID]
# TRACE is scanemu's --trace output (device records; host records in the same
# file are used too). An optional wiascan --trace file adds the host's
# arrival error. Draws three panels with gnuplot into one PNG:
#   1. distribution of (release - deadline), log count
#   2. release time against deadline, with the ideal line release = deadline
#   3. (release - deadline) against deadline, and the host's arrival error
# Needs python3 and gnuplot (gnuplot-nox), both in scripts/bootstrap.sh.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: $0 TRACE.jsonl OUT.png [HOST_TRACE.jsonl] [BUSID]" >&2
  exit 2
fi
trace="$1"
out="$2"
host="${3:-}"
busid="${4:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool="$here/../bench/tools/benchtool.py"

[ -r "$trace" ] || { echo "plot-timing: cannot read trace '$trace'" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot-timing: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

args=("$trace" "$tmp")
[ -n "$host" ] && args+=(--host "$host")
[ -n "$busid" ] && args+=(--busid "$busid")
python3 "$tool" plot-data "${args[@]}"

title="$(basename "$trace")"
gnuplot <<GP
load '$tmp/stats.gp'
set terminal pngcairo size 1200,1100 font "DejaVu Sans,10"
set output '$out'
set multiplot layout 3,1 title sprintf("scanemu timing: %s — %d bands; release − deadline p50 %.1f µs, p99 %.1f µs, max %.1f µs, drift at end %.1f µs", '$title', nbands, p50, p99, pmax, drift)

set title "Distribution of release − deadline (device side)"
set xlabel "release − deadline (µs, log scale; below 1 µs counted at 1 µs)"
set ylabel "bands"
set logscale xy
set xrange [1:*]
set yrange [0.8:*]
set style fill solid 0.6 border -1
set grid
set arrow 1 from p99, graph 0 to p99, graph 1 nohead dt 2 lc rgb "red"
set label 1 sprintf(" p99 %.1f µs", p99) at p99, graph 0.9 tc rgb "red" front
set arrow 2 from p50, graph 0 to p50, graph 1 nohead dt 3 lc rgb "#228833"
set label 2 sprintf(" p50 %.1f µs", p50) at p50, graph 0.8 tc rgb "#228833" front
plot '$tmp/hist.dat' using 1:2:(\$3*0.9) with boxes lc rgb "#4477aa" notitle
unset logscale xy
set xrange [*:*]
set yrange [*:*]
unset arrow 1
unset label 1
unset arrow 2
unset label 2

set title "Release time against deadline"
set xlabel "deadline since job start (ms)"
set ylabel "release since job start (ms)"
set key top left
plot '$tmp/points.dat' using 1:2 with points pt 7 ps 0.3 lc rgb "#4477aa" title "band released", \
     x with lines lc rgb "red" dt 2 title "release = deadline"

set title "Timing error over the job"
set xlabel "deadline since job start (ms)"
set ylabel "error (µs, log scale; below 1 µs drawn at 1 µs)"
set logscale y
set yrange [1:*]
set key top right opaque
if (have_host) {
  plot '$tmp/points.dat' using 1:(\$3 < 1 ? 1 : \$3) with points pt 7 ps 0.3 lc rgb "#4477aa" title "device: release − deadline", \
       '$tmp/host.dat' using 1:(\$2 < 1 ? 1 : \$2) with points pt 7 ps 0.3 lc rgb "#ee7733" title "host: arrival − deadline (minus smallest offset)"
} else {
  plot '$tmp/points.dat' using 1:(\$3 < 1 ? 1 : \$3) with points pt 7 ps 0.3 lc rgb "#4477aa" title "device: release − deadline"
}
unset multiplot
GP
echo "plot-timing: wrote $out"
