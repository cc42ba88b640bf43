#!/usr/bin/env python3
"""check_timing_report.py TRACE.jsonl SCANEMU.log [--jobs N] [--fronts usb,escl]

Checks scanemu's timing report against its own trace, on the real clock,
without judging any absolute time: every job_end record agrees with the
band records of its job (count, maxima and tolerance counts exactly; p50/p99
within the histogram's documented resolution of the exact nearest-rank
values), each has exactly one log line with the same numbers, and every
device that ran a job has a device_end record whose totals add up.
Exits 0, or 1 with the first disagreement.
"""
import argparse
import json
import math
import re
import sys


def fail(msg):
    print(f"check_timing_report: {msg}", file=sys.stderr)
    sys.exit(1)


def pct(vals, p):
    v = sorted(vals)
    k = max(1, math.ceil(len(v) * p / 100))
    return v[k - 1]


def near(got, exact, mx, what):
    """Histogram percentile: >= exact, < exact + max(1 us, exact/16), <= max."""
    slack = max(1000, exact // 16)
    if not (exact <= got < exact + slack and got <= mx):
        fail(f"{what}: {got} is not within the histogram resolution of the exact {exact}")


LINE = re.compile(
    r"scanemu\[(?P<busid>[0-9-]+)\]: (?:info|warning): timing: (?P<bands>\d+) bands?, "
    r"p50/p99/max lateness (?P<l50>[0-9.]+)/(?P<l99>[0-9.]+)/(?P<lmax>[0-9.]+) us "
    r"\(emulator's share (?P<e50>[0-9.]+)/(?P<e99>[0-9.]+)/(?P<emax>[0-9.]+) us\), "
    r"(?P<beyond>\d+) beyond tolerance (?P<tol>[0-9.]+) us \((?P<bemu>\d+) emulator, "
    r"(?P<bhost>\d+) host-starved\), (?P<starved>\d+) starved.*; (?P<front>usb|escl) job "
    r"(?P<result>[a-z_]+) after (?P<pages>\d+) pages?(?:; (?P<verdict>faithful|NOT FAITHFUL))?$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("log")
    ap.add_argument("--jobs", type=int, default=None, help="job_end records expected")
    ap.add_argument("--fronts", default=None, help="fronts of the jobs, in order, e.g. usb,escl")
    a = ap.parse_args()

    bands = {}  # busid -> band records of the job in progress
    jobs, devs = [], []
    with open(a.trace, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            if r.get("src") != "device":
                continue
            b = r["busid"]
            kind = r.get("kind")
            if kind == "job_end":
                jobs.append((r, bands.pop(b, [])))
            elif kind == "device_end":
                devs.append(r)
            elif kind is None:
                if r.get("bytes", 0) > 0 and r.get("release_ns") is not None:
                    bands.setdefault(b, []).append(r)
            else:
                fail(f"{a.trace}:{n}: unknown record kind {kind!r}")
    if a.jobs is not None and len(jobs) != a.jobs:
        fail(f"{len(jobs)} job_end records, expected {a.jobs}")
    if a.fronts is not None and [j["front"] for j, _ in jobs] != a.fronts.split(","):
        fail(f"fronts {[j['front'] for j, _ in jobs]}, expected {a.fronts}")

    lines = [m for m in (LINE.search(l.rstrip("\n")) for l in open(a.log, encoding="utf-8")) if m]
    if len(lines) != len(jobs):
        fail(f"{len(lines)} timing lines in {a.log}, {len(jobs)} job_end records")

    for (j, recs), m in zip(jobs, lines):
        tol = j["tolerance_ns"]
        late = [r["release_ns"] - r["deadline_ns"] for r in recs]
        emu = [r["emu_late_ns"] for r in recs]
        if j["bands"] != len(recs):
            fail(f"job_end says {j['bands']} bands, the trace has {len(recs)}: {j}")
        if recs:
            if j["late_max_ns"] != max(late) or j["emu_max_ns"] != max(emu):
                fail(f"maxima disagree with the trace: {j}")
            near(j["late_p50_ns"], pct(late, 50), j["late_max_ns"], "late p50")
            near(j["late_p99_ns"], pct(late, 99), j["late_max_ns"], "late p99")
            near(j["emu_p50_ns"], pct(emu, 50), j["emu_max_ns"], "emulator p50")
            near(j["emu_p99_ns"], pct(emu, 99), j["emu_max_ns"], "emulator p99")
        starved = sum(1 for r in recs if r["urb_ns"] > r["deadline_ns"])
        beyond = sum(1 for v in late if v > tol)
        bemu = sum(1 for v in emu if v > tol)
        want = {"starved": starved, "beyond": beyond, "beyond_emu": bemu,
                "beyond_host": beyond - bemu, "unattributed": 0}
        for k, v in want.items():
            if j[k] != v:
                fail(f"{k} = {j[k]}, the trace gives {v}: {j}")
        # The log line says the same.
        us = lambda ns: f"{ns / 1000:.1f}"  # noqa: E731
        pairs = [("bands", str(j["bands"])), ("l50", us(j["late_p50_ns"])),
                 ("l99", us(j["late_p99_ns"])), ("lmax", us(j["late_max_ns"])),
                 ("e50", us(j["emu_p50_ns"])), ("e99", us(j["emu_p99_ns"])),
                 ("emax", us(j["emu_max_ns"])), ("beyond", str(j["beyond"])),
                 ("tol", f"{tol / 1000:.0f}"), ("bemu", str(j["beyond_emu"])),
                 ("bhost", str(j["beyond_host"])), ("starved", str(j["starved"])),
                 ("front", j["front"]), ("result", j["result"]), ("pages", str(j["pages"])),
                 ("busid", j["busid"])]
        for k, v in pairs:
            if m.group(k) != v:
                fail(f"log line {k} = {m.group(k)}, record {v}: {m.group(0)}")
        verdict = {"faithful": "faithful", "not_faithful": "NOT FAITHFUL", None: None}[j["verdict"]]
        if m.group("verdict") != verdict:
            fail(f"log line verdict {m.group('verdict')}, record {j['verdict']}")

    # Device totals: one per device that ran a job, adding up.
    for d in devs:
        mine = [j for j, _ in jobs if j["busid"] == d["busid"]]
        if d["jobs"] != len(mine) or d["bands"] != sum(j["bands"] for j in mine):
            fail(f"device_end does not add up over {len(mine)} jobs: {d}")
        for k in ("beyond", "beyond_emu", "beyond_host", "starved"):
            if d[k] != sum(j[k] for j in mine):
                fail(f"device_end {k} = {d[k]}, the jobs add up to {sum(j[k] for j in mine)}")
        if mine and d["late_max_ns"] != max(j["late_max_ns"] for j in mine):
            fail(f"device_end late_max_ns is not the jobs' maximum: {d}")
    if sorted(d["busid"] for d in devs) != sorted({j["busid"] for j, _ in jobs}):
        fail("a device_end record is missing or extra")
    print(f"check_timing_report: {len(jobs)} job(s), {sum(len(r) for _, r in jobs)} bands: "
          "report agrees with the trace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
