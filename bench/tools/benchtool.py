#!/usr/bin/env python3
"""Helpers for scripts/bench.sh and scripts/plot-timing.sh (issue 8).

Standard library only. Subcommands:

  trace-stats DEVICE.jsonl [--host HOST.jsonl] [--busid 1-1] [--per-busid]
      Timing statistics from the JSON Lines traces (docs/emulator.md, "Trace").
      Device side: late_ns = release - deadline, p50/p99/max, and the drift at
      the end (late_ns of the last band released). Host side (joined to the
      device records by page/side/band): arrival jitter = the error of each
      inter-arrival interval against the interval between the same two
      deadlines, p50/p99/max of its absolute value, and host drift = (last
      arrival - first arrival) - (last deadline - first deadline).
      Prints key=value lines (times in microseconds).

  plot-data TRACE.jsonl OUTDIR [--host HOST.jsonl] [--bin-us N]
      Writes gnuplot data files for scripts/plot-timing.sh: points.dat
      (deadline_ms release_ms late_us), hist.dat (bin_us count), and
      host.dat (deadline_ms arrival_err_us) when host records are given.

  rss-watch --out CSV --progress FILE [--pid N]... [--interval-ms 20]
      Samples VmRSS and VmHWM (kB) of every pid and the line count of the
      progress file (a trace being written) until the last pid exits.

  rss-at CSV --lines N [--pid P]
      From an rss-watch CSV: VmRSS of each pid at the first sample whose
      progress is >= N lines, and at the last sample. key=value lines.

  table RESULTS.env
      The Markdown table of scripts/bench.sh from its key=value results.

  percentiles [--scale S] < numbers
      p50/p99/max/mean of whitespace-separated numbers on stdin.

Percentiles are nearest-rank: the smallest value with at least p% of the
samples at or below it.
"""
import argparse
import json
import math
import os
import sys
import time


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def load_jsonl(path):
    recs = []
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                # A trace cut off by a killed process ends in a partial line.
                print(f"benchtool: {path}:{lineno}: not JSON ({e}); skipped", file=sys.stderr)
    return recs


def device_bands(recs, busid=None):
    """Device records that describe a released band (with deadline and release)."""
    out = []
    for r in recs:
        if r.get("src") != "device" or r.get("kind") is not None:
            continue  # job_end / device_end reports are not bands
        if busid is not None and r.get("busid") != busid:
            continue
        if r.get("deadline_ns") is None or r.get("release_ns") is None:
            continue
        if r.get("fault") not in (None, "", "null"):
            continue
        if int(r.get("bytes", 1)) == 0:
            continue  # the END_OF_JOB header: not a band
        out.append(r)
    return out


def host_bands(recs):
    return [r for r in recs if r.get("src") == "host" and r.get("arrival_ns") is not None
            and r.get("status", "OK") == "OK" and int(r.get("bytes", 1)) != 0]


def key(r):
    return (int(r.get("page", 0)), int(r.get("side", 0)), int(r.get("band", 0)))


def fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.1f}"
    return str(v)


def device_stats(dev, prefix=""):
    out = {}
    late = sorted(int(r["release_ns"]) - int(r["deadline_ns"]) for r in dev)
    out[prefix + "bands"] = len(dev)
    out[prefix + "bytes"] = sum(int(r.get("bytes", 0)) for r in dev)
    if not dev:
        return out
    out[prefix + "late_p50_us"] = pct(late, 50) / 1e3
    out[prefix + "late_p99_us"] = pct(late, 99) / 1e3
    out[prefix + "late_max_us"] = late[-1] / 1e3
    out[prefix + "late_min_us"] = late[0] / 1e3
    out[prefix + "early_bands"] = sum(1 for v in late if v < 0)
    last = max(dev, key=lambda r: int(r["release_ns"]))
    out[prefix + "drift_us"] = (int(last["release_ns"]) - int(last["deadline_ns"])) / 1e3
    out[prefix + "span_s"] = (int(last["release_ns"])) / 1e9
    # Accumulated drift as a trend, robust to one late sample: median lateness
    # of the last 100 bands (by deadline) minus that of the first 100.
    byd = sorted(dev, key=lambda r: int(r["deadline_ns"]))
    w = max(1, min(100, len(byd) // 10))
    head = sorted(int(r["release_ns"]) - int(r["deadline_ns"]) for r in byd[:w])
    tail = sorted(int(r["release_ns"]) - int(r["deadline_ns"]) for r in byd[-w:])
    out[prefix + "drift_trend_us"] = (tail[len(tail) // 2] - head[len(head) // 2]) / 1e3
    # Attribution (scanemu traces with urb_ns / emu_late_ns): the lateness the
    # emulator is responsible for, release - max(deadline, arrival of the URB
    # that carried the band), and how many bands had no URB queued at their
    # deadline (host starvation).
    att = [r for r in dev if r.get("emu_late_ns") is not None and r.get("urb_ns") is not None]
    if att:
        el = sorted(int(r["emu_late_ns"]) for r in att)
        out[prefix + "emu_late_p50_us"] = pct(el, 50) / 1e3
        out[prefix + "emu_late_p99_us"] = pct(el, 99) / 1e3
        out[prefix + "emu_late_max_us"] = el[-1] / 1e3
        out[prefix + "starved_bands"] = sum(1 for r in att
                                            if int(r["urb_ns"]) > int(r["deadline_ns"]))
    return out


def host_stats(host, dev):
    out = {"host_bands": len(host)}
    if len(host) < 2:
        return out
    host = sorted(host, key=lambda r: int(r["arrival_ns"]))
    dl = {key(r): int(r["deadline_ns"]) for r in dev}
    joined = [(int(r["arrival_ns"]), dl.get(key(r))) for r in host]
    joined = [j for j in joined if j[1] is not None]
    out["host_joined"] = len(joined)
    if len(joined) >= 2:
        errs = []
        for (a0, d0), (a1, d1) in zip(joined, joined[1:]):
            errs.append(abs((a1 - a0) - (d1 - d0)))
        errs.sort()
        out["host_jitter_p50_us"] = pct(errs, 50) / 1e3
        out["host_jitter_p99_us"] = pct(errs, 99) / 1e3
        out["host_jitter_max_us"] = errs[-1] / 1e3
        out["host_drift_us"] = ((joined[-1][0] - joined[0][0]) - (joined[-1][1] - joined[0][1])) / 1e3
        # Arrival minus deadline, relative to the smallest such offset (the
        # two clocks' origins differ by the START_JOB round trip).
        base = min(a - d for a, d in joined)
        off = sorted((a - d) - base for a, d in joined)
        out["host_lag_p50_us"] = pct(off, 50) / 1e3
        out["host_lag_p99_us"] = pct(off, 99) / 1e3
        out["host_lag_max_us"] = off[-1] / 1e3
    else:
        # No device trace to join: jitter against the median interval.
        iv = [int(b["arrival_ns"]) - int(a["arrival_ns"]) for a, b in zip(host, host[1:])]
        med = sorted(iv)[len(iv) // 2]
        errs = sorted(abs(v - med) for v in iv)
        out["host_jitter_p50_us"] = pct(errs, 50) / 1e3
        out["host_jitter_p99_us"] = pct(errs, 99) / 1e3
        out["host_jitter_max_us"] = errs[-1] / 1e3
    return out


def cmd_trace_stats(a):
    recs = load_jsonl(a.device)
    out = {}
    if a.per_busid:
        busids = sorted({r.get("busid") for r in recs if r.get("src") == "device"},
                        key=lambda b: [int(x) if x.isdigit() else x for x in str(b).split("-")])
        p99s, ep99s = [], []
        for b in busids:
            st = device_stats(device_bands(recs, b), prefix=f"dev[{b}]_")
            out.update(st)
            if f"dev[{b}]_late_p99_us" in st:
                p99s.append(st[f"dev[{b}]_late_p99_us"])
            if f"dev[{b}]_emu_late_p99_us" in st:
                ep99s.append(st[f"dev[{b}]_emu_late_p99_us"])
        out["devices"] = len(busids)
        if p99s:
            p99s.sort()
            out["per_device_p99_median_us"] = p99s[len(p99s) // 2]
            out["per_device_p99_worst_us"] = p99s[-1]
        if ep99s:
            ep99s.sort()
            out["per_device_emu_p99_median_us"] = ep99s[len(ep99s) // 2]
            out["per_device_emu_p99_worst_us"] = ep99s[-1]
        out.update(device_stats(device_bands(recs, None)))
    else:
        dev = device_bands(recs, a.busid)
        out.update(device_stats(dev))
    if a.host:
        out.update(host_stats(host_bands(load_jsonl(a.host)), device_bands(recs, a.busid)))
    for k, v in out.items():
        print(f"{k}={fmt(v)}")
    return 0


def cmd_plot_data(a):
    recs = load_jsonl(a.trace)
    dev = sorted(device_bands(recs, a.busid), key=lambda r: int(r["deadline_ns"]))
    if not dev:
        print(f"benchtool: {a.trace}: no device band records", file=sys.stderr)
        return 1
    os.makedirs(a.outdir, exist_ok=True)
    late_us = []
    with open(os.path.join(a.outdir, "points.dat"), "w") as f:
        f.write("# deadline_ms release_ms late_us\n")
        for r in dev:
            d, rel = int(r["deadline_ns"]), int(r["release_ns"])
            late_us.append((rel - d) / 1e3)
            f.write(f"{d / 1e6:.6f} {rel / 1e6:.6f} {(rel - d) / 1e3:.3f}\n")
    # Log-spaced bins, 20 per decade from 1 us: timing errors span from tens
    # of microseconds to milliseconds. Values below 1 us (early or exact) go
    # into the first bin.
    per_decade = 20
    hist = {}
    for v in late_us:
        k = 0 if v < 1.0 else int(math.floor(math.log10(v) * per_decade))
        hist[k] = hist.get(k, 0) + 1
    with open(os.path.join(a.outdir, "hist.dat"), "w") as f:
        f.write("# bin_center_us count bin_width_us (log-spaced, 20 per decade)\n")
        for k in sorted(hist):
            lo, hi = 10 ** (k / per_decade), 10 ** ((k + 1) / per_decade)
            f.write(f"{math.sqrt(lo * hi):.3f} {hist[k]} {hi - lo:.3f}\n")
    b = 0
    s = sorted(late_us)
    with open(os.path.join(a.outdir, "stats.gp"), "w") as f:
        f.write(f"binw = {b}\n")
        f.write(f"nbands = {len(s)}\n")
        f.write(f"p50 = {pct(s, 50):.3f}\np99 = {pct(s, 99):.3f}\npmax = {s[-1]:.3f}\n")
        f.write(f"drift = {late_us[-1]:.3f}\n" if late_us else "drift = 0\n")
        f.write(f"have_host = 0\n")
    hosts = host_bands(recs) + (host_bands(load_jsonl(a.host)) if a.host else [])
    if hosts:
        dl = {key(r): int(r["deadline_ns"]) for r in dev}
        joined = sorted((dl[key(r)], int(r["arrival_ns"])) for r in hosts if key(r) in dl)
        if joined:
            off0 = min(arr - d for d, arr in joined)
            with open(os.path.join(a.outdir, "host.dat"), "w") as f:
                f.write("# deadline_ms arrival_minus_deadline_us (minus the smallest offset)\n")
                for d, arr in joined:
                    f.write(f"{d / 1e6:.6f} {((arr - d) - off0) / 1e3:.3f}\n")
            with open(os.path.join(a.outdir, "stats.gp"), "a") as f:
                f.write("have_host = 1\n")
    return 0


def read_status(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "State:")):
                    k, v = line.split(":", 1)
                    vals[k] = v.split()[0]
    except OSError:
        return None
    if "VmRSS" not in vals or vals.get("State") == "Z":
        return None
    return vals


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


class LineCounter:
    """Counts newlines in a growing file incrementally."""

    def __init__(self, path):
        self.path, self.pos, self.n = path, 0, 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return self.n
        self.pos += len(data)
        self.n += data.count(b"\n")
        return self.n


def cmd_rss_watch(a):
    lc = LineCounter(a.progress) if a.progress else None
    live = list(a.pid)
    with open(a.out, "w") as f:
        f.write("t_s,lines,pid,rss_kb,hwm_kb\n")
        t0 = time.monotonic()
        while live:
            n = lc.poll() if lc else 0
            t = time.monotonic() - t0
            still = []
            for pid in live:
                st = read_status(pid)
                if st is None:
                    if pid in a.stop_on:
                        still = []
                        break
                    continue
                still.append(pid)
                f.write(f"{t:.3f},{n},{pid},{st['VmRSS']},{st['VmHWM']}\n")
            live = still
            f.flush()
            time.sleep(a.interval_ms / 1000.0)
    return 0


def cmd_rss_at(a):
    rows = []
    with open(a.csv) as f:
        next(f, None)
        for line in f:
            t, n, pid, rss, hwm = line.strip().split(",")
            rows.append((float(t), int(n), int(pid), int(rss), int(hwm)))
    pids = sorted({r[2] for r in rows}) if not a.pid else a.pid
    for pid in pids:
        mine = [r for r in rows if r[2] == pid]
        if not mine:
            continue
        at = next((r for r in mine if r[1] >= a.lines), None)
        last = mine[-1]
        name = a.name.get(pid, str(pid)) if a.name else str(pid)
        if at:
            print(f"{name}_rss_at_kb={at[3]}")
            print(f"{name}_rss_at_lines={at[1]}")
        print(f"{name}_rss_last_kb={last[3]}")
        print(f"{name}_rss_last_lines={last[1]}")
        print(f"{name}_hwm_last_kb={last[4]}")
    return 0


def cmd_percentiles(a):
    vals = sorted(float(x) * a.scale for x in sys.stdin.read().split())
    if not vals:
        print("n=0")
        return 1
    print(f"n={len(vals)} p50={pct(vals, 50):.3f} p99={pct(vals, 99):.3f} "
          f"max={vals[-1]:.3f} mean={sum(vals) / len(vals):.3f}")
    return 0


USB2_HS_MBPS = 53.2  # 13 x 512 B per 125 us microframe (DESIGN.md section 3)


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def num(env, k):
    try:
        v = float(env[k])
        return None if math.isnan(v) else v
    except (KeyError, ValueError):
        return None


def f1(v, unit="", digits=1):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(ok):
    if ok is None:
        return "n/a"
    return "**met**" if ok else "**missed**"


def side_by_side(env):
    """Quiet and loaded passes (bench.sh bench_loaded: stress-ng CPU hogs at
    normal priority on every core, the bare timer measured under the same
    load), row by row, each against its own state's baseline."""
    if not any(k.startswith("ldtm_") or k.startswith("ldsc") for k in env):
        return
    rows = []

    def cell(v, base, unit=" µs"):
        r = ratio(v, base)
        return f1(v, unit), f1(base, unit), "n/a" if r is None else f"{r:,.2f}×", r

    def add(n, what, q, qb, ld, ldb, target, limit, qextra="", lextra=""):
        qv, qbv, qr, qrat = cell(q, qb)
        lv, lbv, lr, lrat = cell(ld, ldb)
        if limit is None:
            verd = "(reported)"
        else:
            verd = " / ".join("n/a" if x is None else ("**met**" if x <= limit else "**missed**")
                              for x in (qrat, lrat))
        rows.append((n, what, qv + qextra, qbv, qr, lv + lextra, lbv, lr, target, verd))

    for key, tag, how in (("tm", "", "default scheduling"), ("tmrt", "-rt", "all at SCHED_FIFO 10")):
        t, lt = num(env, f"{key}_timer_p99_us"), num(env, f"ld{key}_timer_p99_us")
        add(f"2a{tag}", f"1 device, 2 ms bands, {how}: device p99 (release − deadline) against "
            "the bare timerfd p99 of the same state", num(env, f"{key}_late_p99_us"), t,
            num(env, f"ld{key}_late_p99_us"), lt, "≤ 1.5× bare timer", 1.5)
        add(f"2a{tag}-emu", f"same job: the emulator's share p99 against the bare timer p99",
            num(env, f"{key}_emu_late_p99_us"), t, num(env, f"ld{key}_emu_late_p99_us"), lt,
            "(reported)", None)
        add(f"T{tag}", f"the bare timerfd wake-up itself ({how}), p99 against the quiet one", t,
            t, lt, t, "(reported)", None)
    qt, lt = num(env, "tm_timer_p99_us"), num(env, "ldtm_timer_p99_us")
    q1, l1 = num(env, "sc1_tm_per_device_p99_worst_us"), num(env, "ldsc1_tm_per_device_p99_worst_us")
    q1e = num(env, "sc1_tm_per_device_emu_p99_worst_us")
    l1e = num(env, "ldsc1_tm_per_device_emu_p99_worst_us")
    for n in env.get("sc_devices", "").split():
        for kind, tag, how in (("tm", "", "default scheduling (100 µs slice)"),
                               ("tmns", "-noslice", "scanemu --slice-us 0"),
                               ("tmrt", "-rt", "scanemu --realtime")):
            if f"sc{n}_{kind}_bands" not in env and f"ldsc{n}_{kind}_bands" not in env:
                continue
            p, lp = (num(env, f"sc{n}_{kind}_per_device_p99_worst_us"),
                     num(env, f"ldsc{n}_{kind}_per_device_p99_worst_us"))
            ep, lep = (num(env, f"sc{n}_{kind}_per_device_emu_p99_worst_us"),
                       num(env, f"ldsc{n}_{kind}_per_device_emu_p99_worst_us"))
            nf = lambda pfx: (f"; {env.get(f'{pfx}sc{n}_{kind}_starved_bands', '?')} starved, "  # noqa: E731
                              f"{env.get(f'{pfx}sc{n}_{kind}_jobs_emu_beyond', '?')} of {n} jobs "
                              "beyond the tolerance by the emulator")
            if n == "1" and kind == "tm":
                continue
            if n in ("1", "8"):
                add(f"3-{n}{tag}", f"{n} devices, {how}: worst device p99 against the bare timer "
                    "p99 of the same state", p, qt, lp, lt,
                    "≤ 1.5× bare timer" if kind == "tm" else "(reported)",
                    1.5 if kind == "tm" else None)
                add(f"3-{n}{tag}-emu", f"same pass: worst device's emulator-share p99 against the "
                    "bare timer p99", ep, qt, lep, lt, "(reported)", None, nf(""), nf("ld"))
            else:
                add(f"3-{n}{tag}", f"{n} devices, {how}: worst device p99 against 1 device of the "
                    "same state", p, q1, lp, l1, "≤ 2× of 1 device (quiet)" if kind == "tm"
                    else "(reported)", None)
                if kind == "tm":
                    r = ratio(p, q1)
                    rows[-1] = rows[-1][:-1] + (("n/a" if r is None else
                                                 "**met**" if r <= 2.0 else "**missed**")
                                                + " / (reported)",)
                add(f"3-{n}{tag}-emu", "same pass: worst device's emulator-share p99 against 1 "
                    "device's", ep, q1e, lep, l1e, "(reported: what is ours)", None, nf(""),
                    nf("ld"))

    print()
    print(f"Quiet and loaded side by side — loaded: {env.get('ld_stress', '?')} at normal "
          f"priority on every core for the whole pass (CPUs {env.get('ld_busy_pct', '?')}% busy "
          "under it); each ratio against the baseline of its own state, measured in the same "
          "pass.")
    print()
    print("| # | measurement | quiet | baseline | ratio | loaded | baseline | ratio | target | "
          "verdict (quiet / loaded) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rw in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in rw) + " |")


def cmd_table(a):
    env = load_env(a.results)
    rows = []
    TIMED_OUT = "n/a (timed out)"

    def row(n, what, result, base, r, target, ok, tres=(), tbase=()):
        # tres / tbase: results.env timeout_* keys (bench.sh `bounded`) of the
        # commands the result / baseline cell comes from. A command that ran
        # out of time turns its cell into "n/a (timed out)" and the verdict
        # into n/a, whatever partial figures it left behind.
        if any(f"timeout_{k}" in env for k in tres):
            result, r, ok = TIMED_OUT, None, None
        if any(f"timeout_{k}" in env for k in tbase):
            base, r, ok = f"{base.split(':')[0]}: {TIMED_OUT}", None, None
        rows.append((n, what, result, base, "n/a" if r is None else f"{r:,.2f}×", target,
                     verdict(ok)))

    tp = num(env, "tp_MBps")
    ppm = num(env, "tp_ppm")
    tpres = f"{f1(tp, ' MB/s')}, {f1(ppm, ' pages/min')}" if tp is not None else "n/a"
    what = (f"1 throughput: scanemu → wiascan, usbip on loopback, timing off, "
            f"{env.get('tp_pages', '?')} A4 300-dpi 24-bit pages → TIFF on tmpfs "
            f"({f1(num(env, 'tp_bytes') and num(env, 'tp_bytes') / 1e6, ' MB')})")
    r = ratio(tp, num(env, "tcp_MBps"))
    row("1a", what, tpres, f"raw TCP loopback, same bytes: {f1(num(env, 'tcp_MBps'), ' MB/s')}",
        r, "≥ 0.5×", None if r is None else r >= 0.5, ("tp",), ("tcp",))
    r = ratio(tp, num(env, "sane_MBps"))
    row("1b", "1 throughput, per MB", tpres,
        f"SANE test backend (scanimage -d test, {env.get('sane_pages', '?')} × 200×200 mm "
        f"colour 300 dpi TIFF): {f1(num(env, 'sane_MBps'), ' MB/s')}"
        + (f"; {int(num(env, 'sane_hung_runs'))} scanimage run(s) hung, killed and left out"
           if (num(env, 'sane_hung_runs') or 0) > 0 else ""),
        r, "≥ 1.0×", None if r is None else r >= 1.0, ("tp",), ("sane",))
    r = ratio(tp, USB2_HS_MBPS)
    row("1c", "1 throughput", tpres, "USB 2.0 high-speed bulk ceiling: 53.2 MB/s", r, "≥ 10×",
        None if r is None else r >= 10, ("tp",))
    if "tmpfsw_MBps" in env or "timeout_tmpfsw" in env:
        r = ratio(tp, num(env, "tmpfsw_MBps"))
        row("1d", "1 throughput, against its floor", tpres,
            "write() of the same bytes into a new file on the same tmpfs (dd, 4 MiB writes): "
            f"{f1(num(env, 'tmpfsw_MBps'), ' MB/s')}",
            r, "(reported)", None, ("tp",), ("tmpfsw",))
    tcpu, wcpu = num(env, "tcp_cpu_s_per_run"), num(env, "tmpfsw_cpu_s_per_run")
    ncpu = int(num(env, "ncpu") or os.cpu_count() or 1)
    if tcpu is not None and wcpu is not None and tcpu + wcpu > 0 and num(env, "tp_bytes"):
        # Any program that moves these bytes over loopback TCP and writes
        # them into tmpfs pays at least both CPU costs; spread perfectly over
        # every CPU, that is the fastest it can go.
        bound = num(env, "tp_bytes") / 1e6 / ((tcpu + wcpu) / ncpu)
        tcp = num(env, "tcp_MBps")
        r = ratio(tp, bound)
        row("1e", "1 throughput, against the CPU bound", tpres,
            f"(TCP loopback CPU {tcpu:.3f} s + tmpfs write CPU {wcpu:.3f} s) / {ncpu} CPUs "
            f"= {f1(bound, ' MB/s')} at best, "
            f"{'n/a' if tcp is None else f'{bound / tcp:.2f}'}× raw TCP",
            r, "(reported)", None, ("tp",), ("tcp", "tmpfsw"))

    for key, tag, how in (("tm", "", "default scheduling"),
                          ("tmrt", "-rt", "scanemu, wiascan and the bare timer at SCHED_FIFO (chrt -f 10)")):
        if key == "tmrt" and f"{key}_bands" not in env and f"timeout_{key}" not in env \
                and f"timeout_{key}_timer" not in env:
            continue
        tk, tt = (key,), (f"{key}_timer",)
        p99 = num(env, f"{key}_late_p99_us")
        tp99 = num(env, f"{key}_timer_p99_us")
        row("2a" + tag, f"2 timing, real clock, 2 ms bands × {env.get(key + '_bands', '?')}, {how}: "
            "device release − deadline p50 / p99 / max",
            f"{f1(num(env, key + '_late_p50_us'))} / {f1(p99)} / "
            f"{f1(num(env, key + '_late_max_us'))} µs ({env.get(key + '_early_bands', '?')} early)",
            f"bare timerfd wake-up at the same deadlines (bench_timer): "
            f"{f1(num(env, key + '_timer_p50_us'))} / {f1(tp99)} / "
            f"{f1(num(env, key + '_timer_max_us'))} µs",
            ratio(p99, tp99), "p99 ≤ 250 µs", None if p99 is None else p99 <= 250, tk, tt)
        ep99 = num(env, f"{key}_emu_late_p99_us")
        if ep99 is not None:
            row("2a" + tag + "-emu", "2 timing, same job: the emulator's own lateness, release − "
                "max(deadline, arrival of the URB that carried the band) p50 / p99 / max; bands "
                "with no URB queued at their deadline (host starvation)",
                f"{f1(num(env, key + '_emu_late_p50_us'))} / {f1(ep99)} / "
                f"{f1(num(env, key + '_emu_late_max_us'))} µs; "
                f"{env.get(key + '_starved_bands', '?')} of {env.get(key + '_bands', '?')} starved",
                f"bare timerfd wake-up p99: {f1(tp99, ' µs')}", ratio(ep99, tp99), "(reported)",
                None, tk, tt)
        d = num(env, f"{key}_drift_us")
        dt = num(env, f"{key}_drift_trend_us")
        span = num(env, f"{key}_span_s")
        row("2b" + tag, "2 timing: drift at the end — last band's release − deadline; trend = "
            "median error of the last 100 bands − of the first 100",
            f"{f1(d, ' µs')}; trend {f1(dt, ' µs')}",
            f"job length {f1(span, ' s', 2)}; bare timer, last wake-up "
            f"{f1(num(env, key + '_timer_drift_us'), ' µs')}",
            None if dt is None or not span else dt / (span * 1e6),
            "≤ 1 ms", None if d is None or dt is None else abs(dt) <= 1000 and abs(d) <= 1000, tk, tt)
        row("2c" + tag, "2 timing: host arrival jitter p50 / p99 / max (error of each "
            "inter-arrival interval against the device's deadlines)",
            f"{f1(num(env, key + '_host_jitter_p50_us'))} / "
            f"{f1(num(env, key + '_host_jitter_p99_us'))} / "
            f"{f1(num(env, key + '_host_jitter_max_us'))} µs; host drift "
            f"{f1(num(env, key + '_host_drift_us'), ' µs')}",
            "band interval 2,000 µs", ratio(num(env, f"{key}_host_jitter_p99_us"), 2000.0),
            "(reported)", None, tk)

    devs = env.get("sc_devices", "").split()
    base_mb = num(env, "sc1_MBps")
    base_p99 = num(env, "sc1_tm_per_device_p99_worst_us")
    base_ep99 = num(env, "sc1_tm_per_device_emu_p99_worst_us")
    base_rss = num(env, "sc1_emu_hwm_kb")
    for n in devs:
        mb = num(env, f"sc{n}_MBps")
        row(f"3-{n}", f"3 scale: {n} device(s) in one scanemu, all scanning: aggregate MB/s "
            "(timing off, A4 colour)", f1(mb, " MB/s"), f"1 device: {f1(base_mb, ' MB/s')}",
            ratio(mb, base_mb), "(reported)", None, (f"sc{n}tp",), ("sc1tp",))
        for kind, tag, how in (("tm", "", "default scheduling (device threads ask for a "
                                "100 µs slice)"),
                               ("tmns", "-noslice", "scanemu --slice-us 0 (the kernel's default "
                                "slice)"),
                               ("tmrt", "-rt", "scanemu --realtime (device threads SCHED_FIFO 10; "
                                "wiascan at normal priority)")):
            if kind != "tm" and f"sc{n}_{kind}_bands" not in env \
                    and f"timeout_sc{n}{kind}" not in env:
                continue
            p = num(env, f"sc{n}_{kind}_per_device_p99_worst_us")
            pm = num(env, f"sc{n}_{kind}_per_device_p99_median_us")
            ok = None
            tgt = "(reported)"
            if n == "8":
                tgt = "≤ 2× of 1 device"
                r8 = ratio(p, base_p99)
                ok = None if r8 is None else r8 <= 2.0
            row(f"3-{n}{tag}", f"3 scale: {n} device(s), 2 ms bands, {how}: per-device total "
                "lateness release − deadline p99 (worst device; median device)",
                f"{f1(p, ' µs')}; {f1(pm, ' µs')}", f"1 device, default scheduling: "
                f"{f1(base_p99, ' µs')}", ratio(p, base_p99), tgt, ok, (f"sc{n}{kind}",),
                ("sc1tm",))
            ep = num(env, f"sc{n}_{kind}_per_device_emu_p99_worst_us")
            epm = num(env, f"sc{n}_{kind}_per_device_emu_p99_median_us")
            if ep is not None or epm is not None:
                ok = None
                tgt = "(reported)"
                if n == "8":
                    tgt = "≤ 2× of 1 device (emulator's share)"
                    r8 = ratio(ep, base_ep99)
                    ok = None if r8 is None else r8 <= 2.0
                row(f"3-{n}{tag}-emu", f"3 scale: {n} device(s), same pass: per-device emulator "
                    "lateness release − max(deadline, URB arrival) p99 (worst device; median "
                    "device); bands starved by the host (no URB queued at the deadline)",
                    f"{f1(ep, ' µs')}; {f1(epm, ' µs')}; "
                    f"{env.get(f'sc{n}_{kind}_starved_bands', '?')} of "
                    f"{env.get(f'sc{n}_{kind}_bands', '?')} starved",
                    f"1 device, default scheduling: {f1(base_ep99, ' µs')}", ratio(ep, base_ep99),
                    tgt, ok, (f"sc{n}{kind}",), ("sc1tm",))

        rss = num(env, f"sc{n}_emu_hwm_kb")
        per = None
        if rss is not None and base_rss is not None and n != "1":
            per = (rss - base_rss) / (int(n) - 1) / 1024.0
        row(f"3-{n}", f"3 scale: {n} device(s): scanemu peak RSS (VmHWM) in the A4 pass",
            f"{f1(rss and rss / 1024.0, ' MiB')}"
            + (f" (+{f1(per, ' MiB')} per extra device)" if per is not None else ""),
            f"1 device: {f1(base_rss and base_rss / 1024.0, ' MiB')}"
            + (f"; one A4 colour page is {26.1:.1f} MB" if n != "1" else ""),
            ratio(rss, base_rss), "bounded by band buffers, not pages" if n != "1" else "(reported)",
            None if per is None else per < 26.1 / 2, (f"sc{n}tp",), ("sc1tp",))

    bpp = int(num(env, "lj_bands_per_page") or 1)
    for who, label in (("lj_emu", "scanemu"), ("lj_wiascan", "wiascan")):
        at = num(env, f"{who}_rss_at_kb")
        last = num(env, f"{who}_rss_last_kb")
        hwm = num(env, f"{who}_hwm_last_kb")
        at_page = int(num(env, f"{who}_rss_at_lines") or 0) // bpp
        last_page = int(num(env, f"{who}_rss_last_lines") or 0) // bpp
        r = ratio(last, at)
        row("4", f"4 long job: {env.get('lj_pages', '?')} pages (75 dpi gray, timing off), "
            f"{label} RSS at the first sample after page 10 (page {at_page}) and at the last "
            f"sample (page {last_page}); peak (VmHWM) at the end",
            f"{f1(last and last / 1024.0, ' MiB', 2)} (peak {f1(hwm and hwm / 1024.0, ' MiB', 2)})",
            f"page {at_page}: {f1(at and at / 1024.0, ' MiB', 2)}",
            r, "flat (≤ 1.10×)", None if r is None else r <= 1.10, ("lj",), ("lj",))

    r = num(env, "wias_file_ratio")
    tgt = env.get("wias_target") or ">= 0.9"
    try:
        tv = float(tgt.replace(">=", "").strip())
    except ValueError:
        tv = None
    row("5a", "5 wias writer: A4 300-dpi 24-bit pages through wiasWritePageBufToStream into a "
        "file on tmpfs (bench_wias)", f1(num(env, "wias_file_MBps"), " MB/s"),
        f"write() of the raw page bytes: {f1(num(env, 'wias_file_base_MBps'), ' MB/s')}", r,
        tgt.replace(">=", "≥") + "× (its issue)", None if r is None or tv is None else r >= tv,
        ("wias",), ("wias",))
    r = num(env, "wias_mem_ratio")
    row("5b", "5 wias writer into a memory IStream", f1(num(env, "wias_mem_MBps"), " MB/s"),
        f"memcpy() into one buffer: {f1(num(env, 'wias_mem_base_MBps'), ' MB/s')}", r,
        tgt.replace(">=", "≥") + "× (its issue)", None if r is None or tv is None else r >= tv,
        ("wias",), ("wias",))
    sm = num(env, "synth_MBps")
    row("5c", "5 page synthesis: dm_synth_band, A4 colour 300 dpi (bench_synth)",
        f1(sm, " MB/s"), f"memset(): {f1(num(env, 'synth_memset_MBps'), ' MB/s')}",
        num(env, "synth_ratio"), "(reported; its issue)", None, ("synth",), ("synth",))
    row("5c", "5 page synthesis against USB 2.0", f1(sm, " MB/s"), "USB 2.0 HS: 53.2 MB/s",
        ratio(sm, USB2_HS_MBPS), "(reported)", None, ("synth",))

    print(f"scanemu benchmarks — {env.get('date', '?')}, commit {env.get('commit', '?')}, "
          f"{env.get('host', '?')}{' (BENCH_QUICK=1)' if env.get('quick') == '1' else ''}")
    print(f"Machine load from other work: CPUs {env.get('busy_before_pct', '?')}% busy before the run, "
          f"{env.get('busy_after_pct', '?')}% after; load average {env.get('load_before', '?')}.")
    print()
    print("| # | measurement | result | baseline (same run) | ratio | target | |")
    print("|---|---|---|---|---|---|---|")
    for rw in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in rw) + " |")
    side_by_side(env)
    notes = [f"{k[len('timeout_'):]}: {v}" for k, v in env.items() if k.startswith("timeout_")]
    notes += [v for k, v in env.items() if k.startswith("emu_killed_")]
    if notes:
        print()
        print("Timed out (bounded by BENCH_TIMEOUT, killed; the run went on): " + "; ".join(notes) + ".")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("trace-stats")
    p.add_argument("device")
    p.add_argument("--host")
    p.add_argument("--busid")
    p.add_argument("--per-busid", action="store_true")
    p.set_defaults(fn=cmd_trace_stats)
    p = sub.add_parser("plot-data")
    p.add_argument("trace")
    p.add_argument("outdir")
    p.add_argument("--host")
    p.add_argument("--busid")
    p.add_argument("--bin-us", type=float, default=0.0)
    p.set_defaults(fn=cmd_plot_data)
    p = sub.add_parser("rss-watch")
    p.add_argument("--out", required=True)
    p.add_argument("--progress")
    p.add_argument("--pid", type=int, action="append", default=[])
    p.add_argument("--stop-on", type=int, action="append", default=[],
                   help="stop sampling everything when this pid exits")
    p.add_argument("--interval-ms", type=float, default=20.0)
    p.set_defaults(fn=cmd_rss_watch)
    p = sub.add_parser("rss-at")
    p.add_argument("csv")
    p.add_argument("--lines", type=int, required=True)
    p.add_argument("--pid", type=int, action="append", default=[])
    p.add_argument("--name", type=lambda s: s.split("=", 1), action="append", default=[],
                   help="PID=NAME label for the output keys")
    p.set_defaults(fn=cmd_rss_at)
    p = sub.add_parser("percentiles")
    p.add_argument("--scale", type=float, default=1.0)
    p.set_defaults(fn=cmd_percentiles)
    p = sub.add_parser("table")
    p.add_argument("results")
    p.set_defaults(fn=cmd_table)
    a = ap.parse_args()
    if getattr(a, "name", None) is not None and isinstance(a.name, list):
        a.name = {int(k): v for k, v in a.name}
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
