#!/usr/bin/env python3
"""Helpers for scripts/bench.sh and scripts/plot-timing.sh.

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
      The Markdown tables of scripts/bench.sh from its key=value results:
      the rows are data (benchrows.py), rendered by render_table().

  percentiles [--scale S] < numbers
      p50/p99/max/mean of whitespace-separated numbers on stdin.

  run [--timeout S] [--kill-after K] [--times FILE]
      [--results RESULTS.env --key KEY --label LABEL] [--log-fd N] -- CMD...
      Runs CMD in a process group of its own; after S seconds SIGTERM to the
      group, SIGKILL K (default 5) seconds later, status 124, a line
      timeout_KEY=LABEL (killed after S s) appended to RESULTS.env and a
      message on fd N. Otherwise CMD's status. --times writes CMD's wall
      time, user/system CPU (its own and its waited-for children's) and peak
      RSS as key=value lines (wall_s, user_s, sys_s, cpu_s, maxrss_kb).

  run-all --count N --log LOG [--timeout S] [--kill-after K] [--times FILE]
      [--results RESULTS.env --key KEY --label LABEL] [--log-fd N] -- CMD...
      N copies of CMD at once, {i} in CMD's words and in LOG replaced by
      1..N; each in a process group of its own, stdout and stderr to its LOG.
      Timeouts as `run`, for every copy still running (a line per copy that
      was killed). Status 0 when every copy exited 0, else the first
      failing copy's (124 when it was killed). --times writes cpu_s, the
      copies' user + system CPU together.

  pick-median --into RESULTS.env KEY PASS.env...
      Of the passes (key=value files, one per run of the same measurement),
      the one whose KEY is the median (the lower middle for an even count):
      its lines are appended to RESULTS.env with KEY_passes (every pass's
      KEY in pass order, n/a where it has none), and its number (1-based)
      printed. A pass without a numeric KEY (it failed) is chosen before
      any median, the first such one, so a failure is never hidden.

  median X...          the middle value as given (the lower middle for an even count)
  calc EXPR            + - * / ( ) on numbers; an integer as one, else 4 decimals
  proc PID cpu|rss|hwm CPU seconds, VmRSS or VmHWM (kB) of a live process (0 when gone)
  busy SECONDS         % of all CPUs busy (not idle or iowait) over SECONDS

Percentiles are nearest-rank: the smallest value with at least p% of the
samples at or below it.
"""
import argparse
import ast
import json
import math
import os
import re
import signal
import string
import sys
import threading
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
        f.write("have_host = 0\n")
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


# ---- the results tables (data: benchrows.py) ------------------------------------------


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def num_or_none(text):
    try:
        v = float(text)
    except ValueError:
        return None
    return None if math.isnan(v) else v


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


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:,.2f}×"


class Values:
    """results.env (text) and what derive() adds to it (numbers and text)."""

    def __init__(self, env):
        self.env = env
        self.derived = {}

    def raw(self, k):
        if k in self.derived:
            return str(self.derived[k])
        return self.env.get(k)

    def num(self, k):
        if k in self.derived:
            v = self.derived[k]
        elif k in self.env:
            v = self.env[k]
        else:
            return None
        try:
            v = float(v)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(v) else v

    def present(self, k):
        return k in self.derived or k in self.env

    def put(self, k, v):
        if v is not None:
            self.derived[k] = v


def derive(vals):
    """Numbers the tables show that results.env holds only in parts."""
    num, put = vals.num, vals.put
    tb = num("tp_bytes")
    if tb:
        put("tp_MB", tb / 1e6)
    ncpu = int(num("ncpu") or os.cpu_count() or 1)
    put("ncpu_int", str(ncpu))
    tcpu, wcpu = num("tcp_cpu_s_per_run"), num("tmpfsw_cpu_s_per_run")
    if tcpu is not None and wcpu is not None and tcpu + wcpu > 0 and tb:
        bound = tb / 1e6 / ((tcpu + wcpu) / ncpu)
        put("tp_bound_MBps", bound)
        put("tp_bound_vs_tcp", ratio(bound, num("tcp_MBps")))
    for key in ("tm", "tmrt"):
        d, dt, span = num(f"{key}_drift_us"), num(f"{key}_drift_trend_us"), num(f"{key}_span_s")
        if dt is not None and span:
            put(f"{key}_drift_rate", dt / (span * 1e6))
        if d is not None and dt is not None:
            put(f"{key}_drift_worst_us", max(abs(d), abs(dt)))
    base_rss = num("sc1_emu_hwm_kb")
    for n in vals.env.get("sc_devices", "").split():
        rss = num(f"sc{n}_emu_hwm_kb")
        if rss is not None:
            put(f"sc{n}_emu_hwm_MiB", rss / 1024.0)
        if rss is not None and base_rss is not None and n != "1":
            put(f"sc{n}_per_extra_MiB", (rss - base_rss) / (int(n) - 1) / 1024.0)
    bpp = int(num("lj_bands_per_page") or 1)
    for who in ("lj_emu", "lj_wiascan"):
        for k in ("rss_at", "rss_last", "hwm_last"):
            v = num(f"{who}_{k}_kb")
            if v is not None:
                put(f"{who}_{k}_MiB", v / 1024.0)
        put(f"{who}_at_page", str(int(num(f"{who}_rss_at_lines") or 0) // bpp))
        put(f"{who}_last_page", str(int(num(f"{who}_rss_last_lines") or 0) // bpp))
    tgt = vals.env.get("wias_target") or ">= 0.9"
    put("wias_target_text", tgt.replace(">=", "≥"))
    try:
        put("wias_target_num", float(tgt.replace(">=", "").strip()))
    except ValueError:
        pass
    for k in [k[3:-6] for k in vals.env if k.startswith("es_") and k.endswith("_bytes")]:
        png, raw, ccpu = num(f"es_{k}_png_bytes"), num(f"es_{k}_bytes"), num(f"es_{k}_client_cpu_s")
        if png and raw:
            put(f"es_{k}_png_MB", png / 1e6)
            put(f"es_{k}_px_per_png", raw / png)
        if ccpu and raw:
            ceil = raw / 1e6 / ccpu
            put(f"es_{k}_ceil_MBps", ceil)
            put(f"es_{k}_ceil_vs_native", ratio(ceil, num("es_native_MBps")))
            put(f"es_{k}_ceil_vs_sane", ratio(ceil, num("es_sane_MBps")))


def loop_bindings(name, env):
    """The bindings of a group's `for` that come from results.env."""
    if name == "sc_devices":
        return [{"n": n} for n in env.get("sc_devices", "").split()]
    if name == "escl_levels":
        levels = env.get("es_levels", "1").split()
        return [{"lv": lv, "tag": "" if i == 0 else f"-L{lv}", "main": "1" if i == 0 else "0"}
                for i, lv in enumerate(levels)]
    raise ValueError(f"benchtool: unknown loop {name!r}")


PLACE = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")


def subst(x, b):
    """Loop variables ($name, ${name}) into every string of a row spec."""
    if isinstance(x, str):
        return string.Template(x).safe_substitute(b)
    if isinstance(x, tuple):
        return tuple(subst(y, b) for y in x)
    if isinstance(x, list):
        return [subst(y, b) for y in x]
    if isinstance(x, dict):
        return {k: subst(v, b) for k, v in x.items()}
    return x


def test(cond, vals):
    """Condition language of benchrows.py. A list: all of them. A string:
    alternatives split by ||, each a conjunction split by &&, of atoms:
    KEY (in results.env or derived), #KEY (a number there), KEY>N, KEY<N,
    A==B / A!=B (A: KEY's text when present, else the literal), ^PREFIX (a
    results.env key starts with it), !ATOM."""
    if cond is None:
        return True
    if isinstance(cond, list):
        return all(test(c, vals) for c in cond)

    def atom(a):
        a = a.strip()
        if a.startswith("!"):
            return not atom(a[1:])
        if a.startswith("^"):
            return any(k.startswith(a[1:]) for k in vals.env)
        if a.startswith("#"):
            return vals.num(a[1:]) is not None
        for op in ("==", "!="):
            if op in a:
                left, right = (s.strip() for s in a.split(op, 1))
                lv = vals.raw(left) if vals.present(left) else left
                return (lv == right) == (op == "==")
        for op in (">", "<"):
            if op in a:
                k, lim = a.split(op, 1)
                v = vals.num(k.strip())
                return v is not None and (v > float(lim) if op == ">" else v < float(lim))
        return vals.present(a)

    return any(all(atom(c) for c in alt.split("&&")) for alt in cond.split("||"))


def fill(spec, vals):
    """A cell: a template string, a list of parts (strings and when()
    parts), or a need() cell. In a template {KEY} is the key's text ("?"
    when absent), {KEY:D} or {KEY:D|UNIT} its number with D decimals and
    thousands separators, then UNIT ("n/a" when absent, without the unit);
    a value of several words (KEY_passes) is each word so, comma-separated,
    then UNIT once."""
    if isinstance(spec, str):
        def one(m):
            k, fmt = m.group(1), m.group(2)
            if fmt is None:
                v = vals.raw(k)
                return "?" if v is None else v
            digits, _, unit = fmt.partition("|")
            words = (vals.raw(k) or "").split()
            if len(words) > 1:
                return ", ".join(f1(num_or_none(w), "", int(digits)) for w in words) + unit
            return f1(vals.num(k), unit, int(digits))
        return PLACE.sub(one, spec)
    if isinstance(spec, tuple) and spec[0] == "when":
        return fill(spec[2], vals) if test(spec[1], vals) else ""
    if isinstance(spec, tuple) and spec[0] == "need":
        return fill(spec[2], vals) if test(spec[1], vals) else spec[3]
    if isinstance(spec, list):
        return "".join(fill(p, vals) for p in spec)
    raise ValueError(f"benchtool: bad cell {spec!r}")


def expand(rows, env, b=None):
    """Rows with their loops unrolled and loop variables substituted, in
    order, with the group conditions they sit under."""
    b = b or {}
    for r in rows:
        if "rows" not in r:
            yield subst(r, b), []
            continue
        fors = r.get("for")
        binds = [{}] if fors is None else \
            loop_bindings(fors, env) if isinstance(fors, str) else fors
        for one in binds:
            nb = dict(b)
            nb.update(one)
            nb.update({k: string.Template(v).safe_substitute(nb) for k, v in one.items()})
            cond = subst(r.get("when"), nb)
            for row, conds in expand(r["rows"], env, nb):
                yield row, ([cond] if cond is not None else []) + conds


def check(op_limit, v, vals):
    if op_limit is None or v is None:
        return None
    op, lim = op_limit
    if isinstance(lim, str):
        lim = vals.num(lim)
        if lim is None:
            return None
    return {">=": v >= lim, "<=": v <= lim, "<": v < lim}[op]


def row_ratio(spec, vals):
    if spec is None:
        return None
    if isinstance(spec, str):
        return vals.num(spec)
    a, b = spec
    return ratio(vals.num(a), b if isinstance(b, (int, float)) else vals.num(b))


TIMED_OUT = "n/a (timed out)"


def render_ratio_row(r, vals):
    res, base = fill(r["result"], vals), fill(r["base"], vals)
    rt = row_ratio(r.get("ratio"), vals)
    on = rt if "check_on" not in r else vals.num(r["check_on"])
    ok = check(r.get("check"), on, vals)
    # A command that ran out of time (bench.sh `bounded`) turns the cell
    # it fed into "n/a (timed out)" and the verdict into n/a, whatever
    # partial figures it left behind.
    if any(f"timeout_{k}" in vals.env for k in r.get("tres", ())):
        res, rt, ok = TIMED_OUT, None, None
    if any(f"timeout_{k}" in vals.env for k in r.get("tbase", ())):
        base, rt, ok = f"{base.split(':')[0]}: {TIMED_OUT}", None, None
    return [r["id"], fill(r["what"], vals), res, base, fmt_ratio(rt), fill(r["target"], vals),
            verdict(ok)]


def render_pair_row(r, vals):
    cells, verds = [], []
    for state, limit in zip(("quiet", "loaded"), r.get("limits", (None, None))):
        v, b = (vals.num(k) for k in r[state])
        rt = ratio(v, b)
        cells += [f1(v, " µs") + fill(r.get(state + "_extra", ""), vals), f1(b, " µs"),
                  fmt_ratio(rt)]
        verd = ("(reported)" if limit is None else
                "n/a" if rt is None else "**met**" if rt <= limit else "**missed**")
        if limit is not None and rt is not None and "floor" in r:
            fr = ratio(*(vals.num(k) for k in r["floor"][state]))
            if fr is not None:  # the same ratio for the floor, same state and run
                verd += f" (floor {fmt_ratio(fr)}{', missed too' if fr > limit else ''})"
        verds.append(verd)
    verd = "(reported)" if verds == ["(reported)"] * 2 else " / ".join(verds)
    return [r["id"], fill(r["what"], vals)] + cells + [fill(r["target"], vals), verd]


def render_table(table, vals, out):
    """One table of benchrows.py: nothing when its `when` fails; else its
    title lines, the header of its columns, then a row per row spec whose
    conditions hold (`when` of the row and of the groups it sits in; a
    group repeats its rows for each binding of its `for`). A row's `cases`
    [(condition, fields)] override its fields when the first one holds.
    Ratio tables (7 columns): id, what, result, baseline, ratio, target,
    verdict. Pair tables (`pairs`): id, what, then value, baseline, ratio
    for the quiet and the loaded state, target, and a verdict per state
    from `limits` (None: reported); a pair row's `floor` {state: (value
    key, baseline key)} adds the same ratio for the floor (what the machine
    allows, measured in the same state) to each verdict, so a miss the
    floor shares reads as one."""
    if not test(table.get("when"), vals):
        return
    for line in table["title"]:
        out.append(fill(line, vals))
    cols = table["columns"]
    out.append("| " + " | ".join(cols) + " |" if cols[-1] else "| " + " | ".join(cols[:-1]) + " | |")
    out.append("|" + "---|" * len(cols))
    for row, conds in expand(table["rows"], vals.env):
        if not all(test(c, vals) for c in conds + [row.get("when")]):
            continue
        for cond, over in row.get("cases", ()):
            if test(cond, vals):
                row = dict(row, **over)
                break
        cells = render_pair_row(row, vals) if table.get("pairs") else render_ratio_row(row, vals)
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")


def render_notes(spec, vals, out):
    if not test(spec.get("when"), vals):
        return
    notes = []
    env = vals.env
    for p in spec["prefixes"]:
        notes += [f"{k[len('timeout_'):]}: {v}" if k.startswith("timeout_") else v
                  for k, v in env.items() if k.startswith(p)]
    if notes:
        out.append("")
        out.append("Timed out (bounded by BENCH_TIMEOUT, killed; the run went on): "
                   + "; ".join(notes) + ".")


def render(document, env):
    """The lines of a document (benchrows.DOCUMENT) for results.env env."""
    vals = Values(env)
    derive(vals)
    out = []
    for kind, what in document:
        if kind == "table":
            render_table(what, vals, out)
        else:
            render_notes(what, vals, out)
    return out


def cmd_table(a):
    import benchrows

    for line in render(benchrows.DOCUMENT, load_env(a.results)):
        print(line)
    return 0


# ---- helpers of scripts/bench.sh ------------------------------------------------------


def median(vals):
    """The middle value as given (the lower middle for an even count)."""
    s = sorted(vals, key=float)
    return s[(len(s) + 1) // 2 - 1]


def cmd_median(a):
    if not a.values:
        return 1
    print(median(a.values))
    return 0


def calc(expr):
    """Arithmetic on numbers (+ - * / and parentheses), nothing else."""
    ops = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y,
           ast.Mult: lambda x, y: x * y, ast.Div: lambda x, y: x / y}

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return n.value
        if isinstance(n, ast.BinOp) and type(n.op) in ops:
            return ops[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            return -ev(n.operand) if isinstance(n.op, ast.USub) else ev(n.operand)
        raise ValueError(f"not arithmetic: {ast.dump(n)}")

    return ev(ast.parse(expr.strip(), mode="eval"))


def fmt_calc(v):
    """An integer as one, anything else with 4 decimals."""
    return str(int(v)) if v == int(v) else f"{v:.4f}"


def pick_median(key, envs):
    """Index of the pass reported for key among envs (dicts): the first
    without a number for key, else the median's (the lower middle)."""
    nums = []
    for i, e in enumerate(envs):
        v = num_or_none(e.get(key, ""))
        if v is None:
            return i
        nums.append((v, i))
    nums.sort()
    return nums[(len(nums) - 1) // 2][1]


def cmd_pick_median(a):
    if not a.passes:
        print("benchtool: pick-median: no pass files", file=sys.stderr)
        return 2
    envs = [load_env(p) for p in a.passes]
    m = pick_median(a.key, envs)
    with open(a.passes[m], encoding="utf-8") as f:
        chosen = f.read()
    if chosen and not chosen.endswith("\n"):
        chosen += "\n"
    vals = " ".join(e.get(a.key, "n/a") or "n/a" for e in envs)
    with open(a.into, "a", encoding="utf-8") as f:
        f.write(chosen + f"{a.key}_passes={vals}\n")
    print(m + 1)
    return 0


def cmd_calc(a):
    try:
        print(fmt_calc(calc(a.expr)))
    except (ValueError, SyntaxError, ZeroDivisionError, OverflowError) as e:
        print(f"benchtool: calc {a.expr!r}: {e}", file=sys.stderr)
        return 2
    return 0


def proc_value(pid, what):
    """cpu: user + system CPU seconds a live process has used; rss, hwm:
    its resident set and peak (VmRSS, VmHWM) in kB. None when it is gone."""
    try:
        if what == "cpu":
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        tag = {"rss": "VmRSS:", "hwm": "VmHWM:"}[what]
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(tag):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def cmd_proc(a):
    v = proc_value(a.pid, a.what)
    if a.what == "cpu":
        print("0" if v is None else f"{v:.3f}")
    else:
        print(0 if v is None else v)
    return 0


def cpu_times():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def busy_pct(a, b):
    """Share of all CPUs busy (not idle or iowait) between two /proc/stat
    samples, in percent."""
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d)
    idle = d[3] + d[4]
    return 100.0 * (tot - idle) / tot if tot > 0 else 0.0


def cmd_busy(a):
    s0 = cpu_times()
    time.sleep(a.seconds)
    print(f"{busy_pct(s0, cpu_times()):.0f}")
    return 0


def run_groups(cmds, logs, timeout=None, kill_after=5.0):
    """Runs every command of cmds at once, each in a process group of its
    own (so wrappers such as chrt and their children go together), with
    stdout and stderr to its entry of logs (None: this process's), and
    waits for all of them. After `timeout` seconds: SIGTERM to every group
    still running, SIGKILL kill_after seconds later. A SIGTERM or SIGINT to
    this process goes to the groups too, with the same SIGKILL after it.
    Returns a list, in cmds' order, of (status, timed_out, rusage): status
    as a shell reports it (128 + signal when killed; 127 and no rusage when
    the command cannot be started), rusage that of the command and its
    waited-for descendants."""
    pids = {}
    out = [(127, False, None)] * len(cmds)
    state = {"timed_out": False, "armed": False}
    lock = threading.Lock()

    def kill(sig):
        # only groups whose leader is not reaped yet: a reaped pid may be reused
        with lock:
            for pid in pids:
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    pass

    def stop(sig):
        # sig now, SIGKILL kill_after seconds later if a group is still there
        kill(sig)
        with lock:
            if state["armed"]:
                return
            state["armed"] = True
        later.start()

    def expire():
        state["timed_out"] = True
        stop(signal.SIGTERM)

    later = threading.Timer(kill_after, kill, (signal.SIGKILL,))
    later.daemon = True
    timer = None
    old = {s: signal.signal(s, lambda sig, _f: stop(sig)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for i, (cmd, log) in enumerate(zip(cmds, logs)):
            fa = []
            if log is not None:
                fa = [(os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                      (os.POSIX_SPAWN_DUP2, 1, 2)]
            try:
                pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=fa, setpgroup=0,
                                      setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT,
                                                 signal.SIGTERM))
            except OSError as e:
                print(f"benchtool: {cmd[0]}: {e.strerror}", file=sys.stderr)
                continue
            with lock:
                pids[pid] = i
        if timeout:
            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
        while True:
            with lock:
                if not pids:
                    break
            try:
                pid, st, ru = os.wait4(-1, 0)
            except ChildProcessError:
                break
            with lock:
                i = pids.pop(pid, None)
            if i is None:
                continue
            status = os.waitstatus_to_exitcode(st)
            out[i] = (128 - status if status < 0 else status, state["timed_out"], ru)
    finally:
        if timer:
            timer.cancel()
        later.cancel()
        for s, h in old.items():
            signal.signal(s, h)
    return out


def run_bounded(cmd, timeout=None, kill_after=5.0):
    """run_groups for one command with this process's output. Returns
    (status, timed_out, times): times a dict of wall_s, user_s, sys_s (cmd
    and its waited-for descendants) and maxrss_kb, or None when cmd could
    not be started (status 127)."""
    t0 = time.monotonic()
    [(status, timed_out, ru)] = run_groups([cmd], [None], timeout, kill_after)
    if ru is None:
        return status, timed_out, None
    return status, timed_out, {"wall_s": time.monotonic() - t0, "user_s": ru.ru_utime,
                               "sys_s": ru.ru_stime, "maxrss_kb": ru.ru_maxrss}


def cmd_run_all(a):
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd or a.count < 1 or "{i}" not in a.log:
        print("benchtool: run-all: needs a command, --count >= 1 and a --log with {i}",
              file=sys.stderr)
        return 2
    cmds = [[w.replace("{i}", str(i)) for w in cmd] for i in range(1, a.count + 1)]
    logs = [a.log.replace("{i}", str(i)) for i in range(1, a.count + 1)]
    res = run_groups(cmds, logs, a.timeout, a.kill_after)
    if a.times:
        cpu = sum(ru.ru_utime + ru.ru_stime for _s, _t, ru in res if ru is not None)
        with open(a.times, "w") as f:
            f.write(f"cpu_s={cpu:.3f}\n")
    rc = 0
    for i, (status, timed_out, _ru) in enumerate(res, 1):
        if timed_out and status != 0:
            msg = (f"bench: {a.key or cmd[0]}: {a.label or cmd[0]} {i} of {a.count} timed out "
                   f"after {a.timeout:g} s, killed\n")
            try:
                os.write(a.log_fd, msg.encode())
            except OSError:
                sys.stderr.write(msg)
            if a.results and a.key:
                with open(a.results, "a") as f:
                    f.write(f"timeout_{a.key}={a.label or cmd[0]} {i} of {a.count} "
                            f"(killed after {a.timeout:g} s)\n")
            status = 124
        if status != 0 and rc == 0:
            rc = status
    return rc


def cmd_run(a):
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        print("benchtool: run: no command", file=sys.stderr)
        return 2
    status, timed_out, times = run_bounded(cmd, a.timeout, a.kill_after)
    if a.times and times is not None:
        with open(a.times, "w") as f:
            f.write(f"wall_s={times['wall_s']:.6f}\nuser_s={times['user_s']:.3f}\n"
                    f"sys_s={times['sys_s']:.3f}\ncpu_s={times['user_s'] + times['sys_s']:.3f}\n"
                    f"maxrss_kb={times['maxrss_kb']}\n")
    if not timed_out:
        return status
    if a.results and a.key:
        with open(a.results, "a") as f:
            f.write(f"timeout_{a.key}={a.label or cmd[0]} (killed after {a.timeout:g} s)\n")
    msg = (f"bench: {a.key or cmd[0]}: {a.label or cmd[0]} timed out after {a.timeout:g} s, "
           "killed; its rows say n/a (timed out)\n")
    try:
        os.write(a.log_fd, msg.encode())
    except OSError:
        sys.stderr.write(msg)
    return 124


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
    p = sub.add_parser("median")
    p.add_argument("values", nargs="*")
    p.set_defaults(fn=cmd_median)
    p = sub.add_parser("pick-median")
    p.add_argument("key")
    p.add_argument("--into", required=True)
    p.add_argument("passes", nargs="*")
    p.set_defaults(fn=cmd_pick_median)
    p = sub.add_parser("calc")
    p.add_argument("expr")
    p.set_defaults(fn=cmd_calc)
    p = sub.add_parser("proc")
    p.add_argument("pid", type=int)
    p.add_argument("what", choices=("cpu", "rss", "hwm"))
    p.set_defaults(fn=cmd_proc)
    p = sub.add_parser("busy")
    p.add_argument("seconds", type=float)
    p.set_defaults(fn=cmd_busy)
    for name, fn in (("run", cmd_run), ("run-all", cmd_run_all)):
        p = sub.add_parser(name)
        if name == "run-all":
            p.add_argument("--count", type=int, required=True)
            p.add_argument("--log", required=True)
        p.add_argument("--timeout", type=float, default=None)
        p.add_argument("--kill-after", type=float, default=5.0)
        p.add_argument("--results")
        p.add_argument("--key")
        p.add_argument("--label")
        p.add_argument("--times")
        p.add_argument("--log-fd", type=int, default=2)
        p.add_argument("cmd", nargs=argparse.REMAINDER)
        p.set_defaults(fn=fn)
    a = ap.parse_args()
    if getattr(a, "name", None) is not None and isinstance(a.name, list):
        a.name = {int(k): v for k, v in a.name}
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
